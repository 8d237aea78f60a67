"""How every result in rewardgym is measured: the same episodes in every row, the seed as the unit.

Evaluation plays a fresh batch in which row ``i`` is seeded ``seeds[i]`` and every row plays the
same number of episodes (rows that finished their quota keep stepping, unrecorded), so short
episodes cannot crowd out long ones and bias the rate. The reward is ``"sparse"`` whatever the
run trained on: runs with different rewards are compared on the task itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rewardgym.policies import PolicyFactory, constant_actions, constant_policy, oracle, random_policy


@torch.no_grad()
def success_per_row(
    env_id: str,
    env_kwargs: dict[str, Any],
    seeds: Sequence[int],
    make_policy: PolicyFactory,
    episodes_per_row: int = 1,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Success ``(len(seeds), episodes_per_row)`` (bool) of the policy ``make_policy(env)`` builds.

    ``env`` is a fresh batch of ``env_id`` with ``env_kwargs``, sparse reward and SAME_STEP
    autoreset, whose row ``i`` is seeded ``seeds[i]``; each row plays ``episodes_per_row`` episodes.
    """
    if episodes_per_row < 1:
        raise ValueError(f"episodes_per_row must be at least 1, got {episodes_per_row}")
    env = gym.make_vec(env_id, num_envs=len(seeds), vectorization_mode="vector_entry_point",
                       autoreset_mode="SameStep", device=device, **{**env_kwargs, "reward": "sparse"})
    try:
        policy = make_policy(env.unwrapped)
        observation, info = env.reset(seed=list(seeds))
        rows = torch.arange(len(seeds), device=env.device)
        done_count = torch.zeros(len(seeds), dtype=torch.int64, device=env.device)
        success = torch.zeros(len(seeds), episodes_per_row, dtype=torch.bool, device=env.device)
        started = torch.ones(len(seeds), dtype=torch.bool, device=env.device)
        while bool((done_count < episodes_per_row).any()):
            observation, _, terminated, truncated, info = env.step(policy(observation, info, started))
            started = terminated | truncated
            record = started & (done_count < episodes_per_row)
            slot = done_count.clamp(max=episodes_per_row - 1)
            success[rows[record], slot[record]] = info["success"][record]
            done_count += record.long()
    finally:
        env.close()
    return success.cpu()


def floor_success(env_id: str, env_kwargs: dict[str, Any], seeds: Sequence[int],
                  device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Success ``(len(seeds),)`` of one episode per seed of each trivial policy, by name.

    ``"random"`` is the uniform random policy; ``"constant <action>"`` each constant action of
    ``constant_actions``, all played in one batch (a block of rows per action, seeded ``seeds``).
    """
    seeds = list(seeds)
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **env_kwargs)
    constants = constant_actions(probe.single_action_space)
    probe.close()
    floors = {"random": success_per_row(env_id, env_kwargs, seeds, random_policy, device=device)[:, 0]}
    per_row = np.repeat(np.stack(list(constants.values())), len(seeds), axis=0)
    success = success_per_row(env_id, env_kwargs, seeds * len(constants),
                              lambda env: constant_policy(env, per_row), device=device)[:, 0]
    for block, name in enumerate(constants):
        floors[f"constant {name}"] = success[block * len(seeds):(block + 1) * len(seeds)]
    return floors


def oracle_success(env_id: str, env_kwargs: dict[str, Any], seeds: Sequence[int],
                   device: str | torch.device = "cpu") -> torch.Tensor | None:
    """Success ``(len(seeds),)`` of one episode per seed of the env's oracle; None if it has none."""
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **env_kwargs)
    has_oracle = oracle(probe.unwrapped) is not None
    probe.close()
    return success_per_row(env_id, env_kwargs, seeds, oracle, device=device)[:, 0] if has_oracle else None
