"""How every result in rewardgym is measured: the same episodes in every row, the seed as the unit.

Playing: a fresh batch in which row ``i`` is seeded ``seeds[i]`` and every row plays the same
number of episodes (rows that finished their quota keep stepping, unrecorded), so short episodes
cannot crowd out long ones and bias the rate. The reward is ``"sparse"`` whatever the run trained
on: runs with different rewards are compared on the task itself. A run seed's evaluation rows
play env seeds that no training row of any run seed plays (``env_seeds(seed, n, EVAL_RESTART)``),
and procedural envs are evaluated on levels the run never trained on (``held_out_kwargs``).

Aggregating: one number per run seed (its success rate) is the unit of replication. Across seeds,
and across tasks, the statistics are rliable's: the interquartile mean with a 95% stratified-
bootstrap interval, performance profiles, and the probability of improvement. Repeated episodes
of one deterministic policy on one level are one trial, not many: no interval is computed over
episodes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator
from rliable import library, metrics

from rewardgym.agents.fast_ppo import env_seeds
from rewardgym.core import TorchVectorEnv
from rewardgym.core.levels import MAX_LEVELS
from rewardgym.policies import BatchPolicy, PolicyFactory, constant_actions, constant_policy, oracle, random_policy

#: The ``restart`` index of evaluation rows in ``env_seeds``: training rows never play it.
EVAL_RESTART = 255
#: Evaluation rows per run seed (one episode each).
EVAL_ROWS = 256
#: How many held-out levels a procedural env is evaluated on (levels are made on demand).
HELD_OUT_LEVELS = 10_000
#: The most rows ``floor_success`` plays in one batch (envs with many constant actions take several).
FLOOR_BATCH_ROWS = 8192
#: Beyond this many constant actions, each is tried on ``FEW_CONSTANT_ROWS`` rows only.
MANY_CONSTANTS, FEW_CONSTANT_ROWS = 64, 32
#: Bootstrap resamples behind every interval.
BOOTSTRAP_REPS = 5_000


@torch.no_grad()
def play(env: TorchVectorEnv, policy: BatchPolicy, seeds: Sequence[int], episodes_per_row: int = 1) -> torch.Tensor:
    """Success ``(len(seeds), episodes_per_row)`` (bool) of ``policy`` in ``env`` (SAME_STEP autoreset).

    Resets row ``i`` with ``seeds[i]``; every row plays exactly ``episodes_per_row`` episodes.
    """
    if episodes_per_row < 1:
        raise ValueError(f"episodes_per_row must be at least 1, got {episodes_per_row}")
    if env.num_envs != len(seeds):
        raise ValueError(f"one seed per row: the env has {env.num_envs} rows, got {len(seeds)} seeds")
    observation, info = env.reset(seed=list(seeds))
    rows = torch.arange(env.num_envs, device=env.device)
    done_count = torch.zeros(env.num_envs, dtype=torch.int64, device=env.device)
    success = torch.zeros(env.num_envs, episodes_per_row, dtype=torch.bool, device=env.device)
    started = torch.ones(env.num_envs, dtype=torch.bool, device=env.device)
    while bool((done_count < episodes_per_row).any()):
        observation, _, terminated, truncated, info = env.step(policy(observation, info, started))
        started = terminated | truncated
        record = started & (done_count < episodes_per_row)
        success[rows[record], done_count[record]] = info["success"][record]
        done_count += record.long()
    return success.cpu()


def success_per_row(
    env_id: str,
    env_kwargs: dict[str, Any],
    seeds: Sequence[int],
    make_policy: PolicyFactory,
    episodes_per_row: int = 1,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``play`` the policy ``make_policy(env)`` builds in a fresh batch of ``env_id``, one row per seed.

    The batch has ``env_kwargs``, sparse reward and SAME_STEP autoreset.
    """
    env = gym.make_vec(env_id, num_envs=len(seeds), vectorization_mode="vector_entry_point",
                       autoreset_mode="SameStep", device=device, **{**env_kwargs, "reward": "sparse"})
    try:
        return play(env.unwrapped, make_policy(env.unwrapped), seeds, episodes_per_row)
    finally:
        env.close()


def floor_success(env_id: str, env_kwargs: dict[str, Any], seeds: Sequence[int],
                  device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Success of one episode per seed of each trivial policy, by name.

    ``"random"`` is the uniform random policy, over all ``seeds``; ``"constant <action>"`` each
    constant action of ``constant_actions``, played in batches of at most ``FLOOR_BATCH_ROWS`` rows
    (a block of rows per action). An env with more than ``MANY_CONSTANTS`` constant actions
    (Construct's 1,984) tries each on the first ``FEW_CONSTANT_ROWS`` seeds only, so that its floors
    cost minutes, not hours: each rate then has fewer rows than ``seeds``.
    """
    seeds = list(seeds)
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **env_kwargs)
    constants = constant_actions(probe.single_action_space)
    probe.close()
    floors = {"random": success_per_row(env_id, env_kwargs, seeds, random_policy, device=device)[:, 0]}
    if len(constants) > MANY_CONSTANTS:
        seeds = seeds[:FEW_CONSTANT_ROWS]
    names = list(constants)
    per_batch = max(1, FLOOR_BATCH_ROWS // len(seeds))
    for first in range(0, len(names), per_batch):
        batch = names[first:first + per_batch]
        per_row = np.repeat(np.stack([constants[name] for name in batch]), len(seeds), axis=0)
        success = success_per_row(env_id, env_kwargs, seeds * len(batch),
                                  lambda env, per_row=per_row: constant_policy(env, per_row), device=device)[:, 0]
        for block, name in enumerate(batch):
            floors[f"constant {name}"] = success[block * len(seeds):(block + 1) * len(seeds)]
    return floors


def oracle_success(env_id: str, env_kwargs: dict[str, Any], seeds: Sequence[int],
                   device: str | torch.device = "cpu") -> torch.Tensor | None:
    """Success ``(len(seeds),)`` of one episode per seed of the env's oracle; None if it has none."""
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **env_kwargs)
    has_oracle = oracle(probe.unwrapped) is not None
    probe.close()
    return success_per_row(env_id, env_kwargs, seeds, oracle, device=device)[:, 0] if has_oracle else None


# -- evaluating a policy ------------------------------------------------------------------------


def held_out_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` moved to levels the run never trained on, where the env is procedural.

    An env with ``num_levels`` > 1 trains on ``[start_level, start_level + num_levels)``; it is
    evaluated on the next ``HELD_OUT_LEVELS`` levels. An env with one level, or with ``levels``
    an experiment chose, is evaluated on those levels; other envs are unchanged.
    """
    spec = gym.spec(env_id)
    entry = spec.vector_entry_point
    env_class = load_env_creator(entry) if isinstance(entry, str) else entry
    arguments = {**env_class.argument_defaults(), **spec.kwargs, **env_kwargs}
    if "num_levels" not in arguments or arguments["num_levels"] == 1 or arguments.get("levels") is not None:
        return dict(env_kwargs)
    num_levels, start = arguments["num_levels"], arguments.get("start_level", 0)
    held_out_start = start + num_levels
    return {**env_kwargs, "start_level": held_out_start,
            "num_levels": min(HELD_OUT_LEVELS, MAX_LEVELS - held_out_start)}


def evaluate_policy(env_id: str, env_kwargs: dict[str, Any], run_seed: int, make_policy: PolicyFactory,
                    rows: int = EVAL_ROWS, held_out: bool = True, device: str | torch.device = "cpu") -> float:
    """The success rate of one run seed's policy: one episode in each of ``rows`` fresh envs.

    The rows play the run seed's evaluation env seeds, on held-out levels unless ``held_out`` is False.
    """
    kwargs = held_out_kwargs(env_id, env_kwargs) if held_out else env_kwargs
    seeds = env_seeds(run_seed, rows, EVAL_RESTART)
    return float(success_per_row(env_id, kwargs, seeds, make_policy, device=device).float().mean())


# -- aggregating across seeds and tasks ---------------------------------------------------------


def normalised_score(success: np.ndarray | float, floor: float, ceiling: float | None) -> np.ndarray | float:
    """``(success − floor) / (ceiling − floor)``: 0 at the best trivial policy, 1 at the oracle.

    Without an oracle (``ceiling`` None) there is nothing to normalise by: the success is returned.
    """
    if ceiling is None:
        return success
    if ceiling <= floor:
        raise ValueError(f"the oracle's success ({ceiling}) must exceed the best floor ({floor}) to normalise by it")
    return (np.asarray(success) - floor) / (ceiling - floor)


def iqm(scores: np.ndarray) -> float:
    """The interquartile mean of ``scores`` (runs × tasks): the mean of the middle 50% of all values."""
    return float(metrics.aggregate_iqm(np.asarray(scores, dtype=float)))


def _as_runs_by_tasks(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        return scores[:, None]
    if scores.ndim != 2:
        raise ValueError(f"scores must be runs × tasks (2-D) or one task's runs (1-D), got shape {scores.shape}")
    return scores


@contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the block, then put its state back.

    rliable's stratified bootstrap draws its resamples from ``np.random`` itself (the
    ``random_state`` it accepts is only handed to arch), so a fixed seed has to go there.
    """
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _interval_estimates(scores: dict[str, Any], func: Any, reps: int, seed: int) -> Any:
    with _global_numpy_seed(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arch deprecates the random_state rliable hands it
        return library.get_interval_estimates(scores, func, reps=reps, random_state=np.random.RandomState(seed))


def iqm_interval(scores: np.ndarray, reps: int = BOOTSTRAP_REPS, seed: int = 0) -> tuple[float, float, float]:
    """IQM of ``scores`` (runs × tasks, or runs) and its 95% stratified-bootstrap interval (rliable)."""
    scores = _as_runs_by_tasks(scores)
    point, interval = _interval_estimates(
        {"x": scores}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps, seed=seed)
    return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int = BOOTSTRAP_REPS,
                               seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y): the chance that a run of X beats a run of Y on a random task, with its 95% interval.

    ``x`` and ``y`` are runs × tasks (or runs) with the same tasks; ties count a half (rliable).
    """
    x, y = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must score the same tasks, got {x.shape[1]} and {y.shape[1]} columns")
    point, interval = _interval_estimates(
        {"x,y": [x, y]}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=reps, seed=seed)
    return float(point["x,y"][0]), float(interval["x,y"][0, 0]), float(interval["x,y"][1, 0])


def performance_profiles(scores: Mapping[str, np.ndarray], taus: np.ndarray, reps: int = BOOTSTRAP_REPS,
                         seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per method, the fraction of runs scoring above each τ, and its 95% interval (rliable)."""
    with _global_numpy_seed(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return library.create_performance_profile({name: _as_runs_by_tasks(s) for name, s in scores.items()},
                                                  taus, reps=reps)
