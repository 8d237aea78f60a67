"""Tabular GridMaze MDPs, value iteration, and the EPIC and STARC reward distances."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

from rewardgym.analysis import (
    TabularMDP,
    canonicalize_value,
    epic_distance,
    epic_distance_sampled,
    grid_maze_mdp,
    policy_values,
    starc_distance,
    starc_distance_sampled,
    value_iteration,
)

GAMMAS = (0.5, 0.9, 0.99)
DISTANCES = {
    "epic": lambda a, b, gamma, mdp, **kw: epic_distance(a, b, gamma, **kw),
    "starc": lambda a, b, gamma, mdp, **kw: starc_distance(a, b, gamma, **kw),
    "starc_value": lambda a, b, gamma, mdp, **kw: starc_distance(
        a, b, gamma, canonicalization="value", transition=mdp.transition, **kw
    ),
}


@pytest.fixture(scope="module")
def maze_env():
    envs = gym.make_vec("rewardgym/GridMaze-v0", size=3, num_levels=1)
    envs.reset(seed=0)
    return envs


@pytest.fixture(scope="module")
def maze(maze_env) -> TabularMDP:
    return grid_maze_mdp(maze_env)


def random_mdp(seed: int, states: int = 6, actions: int = 3) -> TabularMDP:
    """Random stochastic dynamics and a random reward, no terminal states."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(states, actions, states, generator=generator, dtype=torch.float64) ** 4
    return TabularMDP(
        transition=weights / weights.sum(-1, keepdim=True),
        terminal=torch.zeros(states, dtype=torch.bool),
        start=0,
        observations=torch.arange(states),
        reward=torch.randn(states, actions, states, generator=generator, dtype=torch.float64),
    )


@pytest.fixture(params=["maze", "random"])
def mdp(request, maze) -> TabularMDP:
    return maze if request.param == "maze" else random_mdp(0)


def random_potential(mdp: TabularMDP, seed: int) -> torch.Tensor:
    return torch.randn(len(mdp.terminal), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def arrival_reward(mdp: TabularMDP, state: int) -> torch.Tensor:
    """+1 on arriving at ``state``: a task other than the maze's own."""
    reward = torch.zeros_like(mdp.transition)
    reward[:, :, state] = 1.0
    return reward


# -- the tabular MDP -----------------------------------------------------------------------------


@pytest.mark.parametrize("observation", ["top_down", "egocentric"])
def test_grid_maze_mdp_steps_as_the_env_does_and_leaves_it_as_it_was(observation):
    gamma = 0.9
    envs = gym.make_vec(
        "rewardgym/GridMaze-v0", num_envs=2, size=2, num_levels=1, observation=observation, reward="shaped", gamma=gamma
    )
    obs, _ = envs.reset(seed=3)
    position = envs.position.clone()
    mdp = grid_maze_mdp(envs, row=1)
    assert torch.equal(envs.position, position)
    torch.testing.assert_close(mdp.transition.sum(-1), torch.ones(mdp.transition.shape[:2], dtype=torch.float64))
    goal = int(mdp.terminal.nonzero())
    assert mdp.transition[goal, :, goal].eq(1).all() and mdp.reward[goal].eq(0).all()  # absorbing, pays nothing
    shaped = mdp.reward + mdp.shaping(mdp.potentials["geodesic"], gamma)
    state, episodes_ended = mdp.start, 0
    assert torch.equal(obs[1], mdp.observations[state])
    for action in torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(0)).tolist():
        obs, reward, terminated, _, _ = envs.step(torch.tensor([0, action]))
        if envs.elapsed[1] == 0:  # row 1 ended last step and was reset by this one
            state = mdp.start
        else:
            state_after = int(mdp.transition[state, action].argmax())
            assert float(reward[1]) == pytest.approx(float(shaped[state, action, state_after]), abs=1e-6)
            assert bool(terminated[1]) == bool(mdp.terminal[state_after])
            for name, phi in envs.current_potentials().items():
                assert float(phi[1]) == pytest.approx(float(mdp.potentials[name][state_after]), abs=1e-6)
            episodes_ended += int(terminated[1])
            state = state_after
        assert torch.equal(obs[1], mdp.observations[state])
    assert episodes_ended > 0


def test_value_iteration_values_are_discounted_shortest_paths(maze_env, maze):
    optimal_length = int(maze_env.levels["optimal_length"][maze_env.level[0]])
    moves_to_goal = (-maze.potentials["geodesic"] * optimal_length).round()
    assert moves_to_goal[maze.start] == optimal_length
    for gamma in GAMMAS:
        values, q = value_iteration(maze, maze.reward, gamma)
        expected = torch.where(maze.terminal, 0.0, gamma ** (moves_to_goal - 1))
        torch.testing.assert_close(values, expected)
        torch.testing.assert_close(q.amax(1), values)
        paying_after_the_end = maze.reward + maze.terminal[:, None, None]  # the episode is over there
        torch.testing.assert_close(value_iteration(maze, paying_after_the_end, gamma)[0], values)


def greedy_policy(mdp: TabularMDP, reward: torch.Tensor, gamma: float) -> torch.Tensor:
    """An optimal deterministic policy for ``reward``, as ``(S, A)`` probabilities."""
    _, q = value_iteration(mdp, reward, gamma)
    return torch.nn.functional.one_hot(q.argmax(1), q.shape[1]).double()


@pytest.mark.parametrize("gamma", GAMMAS)
def test_a_policy_optimal_for_the_shaped_reward_is_optimal_for_the_sparse_one(maze, gamma):
    optimal, _ = value_iteration(maze, maze.reward, gamma)
    # A potential of −5 at the goal would make reaching it a loss, were Φ not zeroed on termination.
    goal_heavy = torch.where(maze.terminal, -5.0, random_potential(maze, 0))
    for potential in [*maze.potentials.values(), goal_heavy]:
        shaped = maze.reward + maze.shaping(potential, gamma)
        policy = greedy_policy(maze, shaped, gamma)
        torch.testing.assert_close(policy_values(maze.transition, maze.reward, policy, gamma, maze.terminal), optimal)


def test_a_bonus_that_is_not_potential_shaping_can_change_the_optimal_policy(maze):
    """+0.1 per step on the farthest state from which a move can hit a wall: with γ = 0.9,
    staying there forever earns 0.1 / (1 − γ) = 1, more than the goal's discounted +1."""
    gamma = 0.9
    can_stay = maze.transition.diagonal(dim1=0, dim2=2).amax(0) > 0
    far = int(torch.where(can_stay & ~maze.terminal, maze.potentials["geodesic"], math.inf).argmin())
    bonus = maze.reward.clone()
    bonus[far] += 0.1
    optimal, _ = value_iteration(maze, maze.reward, gamma)
    policy = greedy_policy(maze, bonus, gamma)
    assert policy_values(maze.transition, maze.reward, policy, gamma, maze.terminal)[far] < optimal[far] - 0.1


# -- tabular distances -------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("distance", DISTANCES)
def test_distances_are_zero_for_shaped_and_scaled_copies(mdp, distance, gamma):
    d = DISTANCES[distance]
    potentials = [random_potential(mdp, seed) for seed in range(3)] + list(mdp.potentials.values())
    for potential in potentials:
        shaped = mdp.reward + mdp.shaping(potential, gamma)
        assert d(mdp.reward, shaped, gamma, mdp) < 1e-5
        assert d(mdp.reward, 0.3 * shaped, gamma, mdp) < 1e-5
        assert d(mdp.reward, shaped, gamma, mdp, coverage=mdp.transition) < 1e-5
    assert d(mdp.reward, 7.0 * mdp.reward, gamma, mdp) < 1e-5


@pytest.mark.parametrize("distance", DISTANCES)
def test_distances_are_one_for_the_negation_symmetric_bounded_and_positive_for_another_task(mdp, distance):
    d = DISTANCES[distance]
    gamma = 0.9
    assert d(mdp.reward, -mdp.reward, gamma, mdp) == pytest.approx(1.0, abs=1e-5)
    assert d(mdp.reward, -2.0 * mdp.reward + mdp.shaping(random_potential(mdp, 0), gamma), gamma, mdp) == pytest.approx(
        1.0, abs=1e-5
    )
    others = [arrival_reward(mdp, mdp.start)] + [random_mdp(seed, *mdp.reward.shape[:2]).reward for seed in (1, 2)]
    for other in others:
        forth, back = d(mdp.reward, other, gamma, mdp), d(other, mdp.reward, gamma, mdp)
        assert forth == pytest.approx(back, abs=1e-12)
        assert 0.1 < forth <= 1.0


def test_a_constant_reward_is_undefined_for_epic_and_zero_for_starc(maze):
    constant = torch.full_like(maze.reward, 0.25)
    assert math.isnan(epic_distance(maze.reward, constant, 0.9))
    assert starc_distance(maze.reward, constant, 0.9) == pytest.approx(0.5)
    assert starc_distance(constant, 3 * constant, 0.9, canonicalization="value", transition=maze.transition) == 0.0


def test_misuse_raises(maze):
    with pytest.raises(ValueError, match="transition"):
        starc_distance(maze.reward, maze.reward, 0.9, canonicalization="value")
    with pytest.raises(ValueError, match="gamma"):
        canonicalize_value(maze.reward, maze.transition, 1.0)
    with pytest.raises(TypeError, match="GridMaze"):
        grid_maze_mdp(gym.make_vec("rewardgym/PointMaze-v1", size=2))
    with pytest.raises(ValueError, match="reset"):
        grid_maze_mdp(gym.make_vec("rewardgym/GridMaze-v0", size=2))


# -- sample-based distances --------------------------------------------------------------------


def reward_model(mdp: TabularMDP, table: torch.Tensor):
    """``table`` as a callable on batched top-down observations, as a learned reward would be."""
    agent_squares = mdp.observations[:, 1].flatten(1).argmax(1)
    state_of = torch.full((mdp.observations[0, 1].numel(),), -1)
    state_of[agent_squares] = torch.arange(len(agent_squares))

    def reward(obs, action, next_obs):
        return table[state_of[obs[:, 1].flatten(1).argmax(1)], action, state_of[next_obs[:, 1].flatten(1).argmax(1)]]

    return reward


def transitions_of(mdp: TabularMDP, states, actions, next_states):
    return mdp.observations[states], actions, mdp.observations[next_states]


def test_sampled_distances_equal_the_exact_ones_when_the_samples_enumerate_the_mdp(maze):
    """Every state and action as samples, and each possible transition once: the coverage is τ."""
    gamma = 0.9
    num_states, num_actions = maze.reward.shape[:2]
    states, actions = torch.cartesian_prod(torch.arange(num_states), torch.arange(num_actions)).T
    transitions = transitions_of(maze, states, actions, maze.transition[states, actions].argmax(1))
    other = random_mdp(1, num_states, num_actions).reward
    args = (transitions, maze.observations, torch.arange(num_actions), gamma)
    sparse, random = reward_model(maze, maze.reward), reward_model(maze, other)
    exact_epic = epic_distance(maze.reward, other, gamma, coverage=maze.transition)
    exact_starc = starc_distance(maze.reward, other, gamma, coverage=maze.transition)
    assert epic_distance_sampled(sparse, random, *args) == pytest.approx(exact_epic, abs=1e-9)
    assert epic_distance_sampled(sparse, random, *args, max_evaluations=100) == pytest.approx(exact_epic, abs=1e-9)
    assert starc_distance_sampled(sparse, random, *args) == pytest.approx(exact_starc, abs=1e-9)


def test_sampled_distances_ignore_shaping_for_any_samples_and_estimate_the_exact_one(maze):
    gamma = 0.9
    generator = torch.Generator().manual_seed(0)
    num_states, num_actions = maze.reward.shape[:2]
    picks = [torch.randint(0, n, (1000,), generator=generator) for n in (num_states, num_actions, num_states)]
    transitions = transitions_of(maze, *picks)
    few_states = maze.observations[torch.randperm(num_states, generator=generator)[:5]]
    sparse = reward_model(maze, maze.reward)
    for potential in (random_potential(maze, 0), maze.potentials["euclidean"]):
        shaped = reward_model(maze, 2.0 * (maze.reward + maze.shaping(potential, gamma)))
        args = (transitions, few_states, torch.tensor([1, 3]), gamma)
        assert epic_distance_sampled(sparse, shaped, *args) < 1e-5
        assert starc_distance_sampled(sparse, shaped, *args) < 1e-5

    other = random_mdp(1, num_states, num_actions).reward
    estimate = epic_distance_sampled(
        sparse, reward_model(maze, other), transitions, maze.observations, torch.arange(num_actions), gamma
    )
    assert estimate == pytest.approx(epic_distance(maze.reward, other, gamma), abs=0.03)
