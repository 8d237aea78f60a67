"""Small envs as explicit tabular MDPs, for exact computations: values, optimal policies, reward distances.

A ``TabularMDP`` holds dense ``(S, A, S)`` tensors, so it is meant for small levels (a GridMaze of
size 2–6 has tens to a few hundred states). ``grid_maze_mdp`` builds one from a GridMaze row by
running the env's own code on every state; ``value_iteration`` and ``policy_values`` solve it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rewardgym.core import TorchVectorEnv
from rewardgym.envs.maze.grid_maze import GridMazeVector

Tensor = torch.Tensor


@dataclass
class TabularMDP:
    """An enumerated MDP with ``S`` states and ``A`` actions; its float tensors are float64.

    Attributes:
        transition: ``(S, A, S)``, ``τ(s' | s, a)``; every row sums to 1. Terminal states are
            absorbing (they loop to themselves under every action).
        terminal: ``(S,)`` bool, the states where an episode terminates.
        start: the index of the start state.
        observations: ``(S, ...)``, the env's observation of each state.
        reward: ``(S, A, S)``, the env's sparse reward ``R(s, a, s')`` on every triple, possible
            transition or not; zero out of terminal states (the env never steps from them). None
            if the MDP was built without one.
        potentials: each env potential Φ at every state, ``(S,)`` by name.
    """

    transition: Tensor
    terminal: Tensor
    start: int
    observations: Tensor
    reward: Tensor | None = None
    potentials: dict[str, Tensor] = field(default_factory=dict)

    def shaping(self, potential: Tensor, gamma: float) -> Tensor:
        """Potential shaping of every triple, ``(S, A, S)``: ``F(s, a, s') = γ·Φ̃(s') − Φ̃(s)``.

        Here ``Φ̃ = (1 − terminal)·Φ`` for a potential ``Φ`` of shape ``(S,)``.
        On every transition the env takes (out of a non-terminal state) this is the env's own
        shaping term ``γ·(1 − terminal(s'))·Φ(s') − Φ(s)`` (``core.potential_shaping``); zeroing Φ on
        terminal ``s`` as well makes it exact potential shaping on all of ``S × A × S``.
        """
        phi = potential.to(self.transition) * ~self.terminal
        return (gamma * phi[None, None, :] - phi[:, None, None]).expand_as(self.transition)


def grid_maze_mdp(envs: TorchVectorEnv, row: int = 0) -> TabularMDP:
    """The MDP of the level that row ``row`` of a reset GridMaze vector env is playing.

    States are the free squares of the level (in flat-index order), actions the env's four moves.
    Everything comes from the env itself, through its state API: the agent is placed on each
    square in turn (``set_state``), which gives that square's observation and potentials; each
    action is then stepped from it, which gives the next square (a move into a wall stays) and,
    on arriving, the success signal (the terminal goal) and the ``sparse`` reward term
    ``R(s, a, s') = sparse(s')``. The env's state is saved first and put back afterwards, so the
    env (every row of it) is left as it was.
    """
    env = envs.unwrapped
    if not isinstance(env, GridMazeVector):
        raise TypeError(f"grid_maze_mdp needs a GridMaze vector env, got {type(env).__name__}")
    if not env._was_reset:
        raise ValueError("grid_maze_mdp needs an env that has been reset (it reads the level each row plays)")
    walls = env.levels["walls"][env.level[row]]
    squares = torch.nonzero(~walls).squeeze(1).tolist()
    state_of = {square: state for state, square in enumerate(squares)}
    num_states, num_actions = len(squares), int(env.single_action_space.n)

    saved = env.get_state()
    fresh = saved[row]  # the row's state at the start of an episode, placed on each square below
    fresh.tensors["core.elapsed"].zero_()
    fresh.tensors["core.needs_reset"].zero_()
    observations, potentials = [], {name: [] for name in env.potentials}
    terminal, arrival_reward = [False] * num_states, [0.0] * num_states
    next_state = []
    try:
        for square in squares:
            fresh.tensors["task.position"].fill_(square)
            observation, _ = env.set_state(fresh, rows=[row])
            observations.append(observation[row].clone())
            for name, value in env.current_potentials().items():
                potentials[name].append(value[row])
            for action in range(num_actions):
                env.set_state(fresh, rows=[row])
                _, _, _, _, info = env.step(torch.full((env.num_envs,), action, device=env.device))
                arrived = state_of[int(env.get_state().tensors["task.position"][row])]
                next_state.append(arrived)
                terminal[arrived] = bool(info["success"][row])
                arrival_reward[arrived] = float(info["reward_terms"]["sparse"][row])
    finally:
        env.set_state(saved)

    float64 = {"dtype": torch.float64, "device": env.device}
    terminal_t = torch.tensor(terminal, device=env.device)
    next_t = torch.tensor(next_state, device=env.device).view(num_states, num_actions)
    next_t = torch.where(terminal_t[:, None], torch.arange(num_states, device=env.device)[:, None], next_t)
    transition = torch.nn.functional.one_hot(next_t, num_states).to(**float64)
    reward = torch.tensor(arrival_reward, **float64)[None, None, :] * ~terminal_t[:, None, None]
    return TabularMDP(
        transition=transition,
        terminal=terminal_t,
        start=state_of[int(env.levels["start"][env.level[row]])],
        observations=torch.stack(observations),
        reward=reward.expand(num_states, num_actions, num_states).clone(),
        potentials={name: torch.stack(values).to(**float64) for name, values in potentials.items()},
    )


def expected_reward(transition: Tensor, reward: Tensor) -> Tensor:
    """``r(s, a) = Σ_s' τ(s' | s, a)·R(s, a, s')``, shape ``(S, A)``."""
    return (transition * reward).sum(-1)


def value_iteration(
    mdp: TabularMDP, reward: Tensor, gamma: float, tol: float = 1e-10, max_iterations: int = 100_000
) -> tuple[Tensor, Tensor]:
    """Optimal values and action values of ``reward`` (``(S, A, S)``) in ``mdp``.

    Iterates ``Q(s, a) = Σ_s' τ(s' | s, a)·[R(s, a, s') + γ·V(s')]``, ``V(s) = max_a Q(s, a)``, with
    ``V = Q = 0`` on terminal states, until ``V`` moves by less than ``tol``. Returns ``(V (S,), Q (S, A))``;
    a greedy optimal policy is ``Q.argmax(1)``. Raises ``RuntimeError`` if it has not converged
    after ``max_iterations`` sweeps (with γ = 1, a reward that pays for looping forever).
    """
    reward = reward.to(mdp.transition)
    immediate = expected_reward(mdp.transition, reward)
    live = (~mdp.terminal).to(reward)[:, None]
    values = torch.zeros(mdp.transition.shape[0], dtype=reward.dtype, device=reward.device)
    for _ in range(max_iterations):
        q = (immediate + gamma * mdp.transition @ values) * live
        new_values = q.amax(1)
        if (new_values - values).abs().max() < tol:
            return new_values, q
        values = new_values
    raise RuntimeError(f"value iteration did not converge to {tol} in {max_iterations} sweeps (gamma={gamma})")


def policy_values(
    transition: Tensor, reward: Tensor, policy: Tensor, gamma: float, terminal: Tensor | None = None
) -> Tensor:
    """``V^π`` (``(S,)``) of a stochastic policy ``π`` (``(S, A)`` probabilities), by a linear solve.

    ``V = (I − γ P_π)⁻¹ r_π`` with ``P_π(s, s') = Σ_a π(a|s) τ(s'|s, a)`` and
    ``r_π(s) = Σ_a π(a|s) r(s, a)``. States in ``terminal`` get ``V = 0`` (their rows of ``P_π`` and
    ``r_π`` are zeroed); without ``terminal`` the MDP runs forever and ``γ < 1`` is needed.
    """
    policy = policy.to(transition)
    p_pi = torch.einsum("sa,sat->st", policy, transition)
    r_pi = (policy * expected_reward(transition, reward.to(transition))).sum(1)
    if terminal is not None:
        live = (~terminal).to(transition)
        p_pi, r_pi = p_pi * live[:, None], r_pi * live
    identity = torch.eye(len(r_pi), dtype=transition.dtype, device=transition.device)
    return torch.linalg.solve(identity - gamma * p_pi, r_pi)


def greedy_ascent(mdp: TabularMDP, potential: Tensor) -> Tensor:
    """Where greedy ascent on ``potential`` ends from every state, ``(S,)`` state indices.

    From a state, take the action whose successor has the highest Φ (ties: the lowest action) and
    move there if that raises Φ; stop at a terminal state or where no action raises Φ — a local
    maximum of Φ. An agent that follows a shaping potential Φ greedily is stuck at such a state.
    Needs a deterministic MDP (every ``τ(· | s, a)`` one-hot), as GridMaze's is.
    """
    if not bool((mdp.transition.amax(-1) == 1).all()):
        raise ValueError("greedy_ascent needs a deterministic MDP: every τ(· | s, a) one-hot")
    potential = potential.to(mdp.transition)
    successor = mdp.transition.argmax(-1)  # (S, A)
    best = successor.gather(1, potential[successor].argmax(1, keepdim=True)).squeeze(1)
    moves = (potential[best] > potential) & ~mdp.terminal
    step = torch.where(moves, best, torch.arange(len(potential), device=potential.device))
    state = torch.arange(len(potential), device=potential.device)
    for _ in range(len(potential)):  # Φ rises strictly along a path, so no path is longer than S
        state = step[state]
    return state


def ascent_traps(mdp: TabularMDP, potential: Tensor) -> Tensor:
    """``(S,)`` bool: the non-terminal states from which greedy ascent on ``potential`` ends at a
    non-terminal state (a local maximum that is not a goal) — the traps of Φ."""
    return ~mdp.terminal & ~mdp.terminal[greedy_ascent(mdp, potential)]


def escape_depth(mdp: TabularMDP, potential: Tensor, start: int | None = None) -> float:
    """How far Φ must fall for an agent stuck where greedy ascent from ``start`` ends to reach a terminal state.

    With ``e`` the end of greedy ascent from ``start`` (default: the MDP's start), the depth is
    ``Φ(e) − h*``, ``h*`` the highest level such that some path from ``e`` to a terminal state
    stays on states with ``Φ ≥ h*``: the least descent any way out of the trap needs. 0 when the
    ascent reaches a terminal state; ``inf`` when no terminal state is reachable at all.
    """
    potential = potential.to(mdp.transition)
    end = int(greedy_ascent(mdp, potential)[mdp.start if start is None else start])
    if bool(mdp.terminal[end]):
        return 0.0
    adjacency = mdp.transition.amax(1) > 0  # (S, S): s' is one step from s

    def escapes(level: float) -> bool:
        allowed = potential >= level
        reached = torch.zeros_like(allowed)
        reached[end] = True
        while True:
            grown = reached | ((reached.to(mdp.transition) @ adjacency.to(mdp.transition)) > 0) & allowed
            if bool((grown & mdp.terminal).any()):
                return True
            if bool((grown == reached).all()):
                return False
            reached = grown

    levels = torch.unique(potential[potential <= potential[end]]).flip(0).tolist()  # highest first
    if not escapes(levels[-1]):
        return math.inf
    low, high = 0, len(levels) - 1  # the first index (highest level) from which a way out exists
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if escapes(levels[middle]) else (middle + 1, high)
    return float(potential[end] - levels[low])
