"""Potential-based shaping with a potential of the user's, for single and vector envs.

Both add F = γ·(1 − terminated)·Φ(s') − Φ(s) to the reward (Ng, Harada and Russell 1999), with s'
the true next observation: Φ of a terminal state is 0, a truncated state keeps its Φ, and no term
ever spans two episodes. Pass the agent's γ: any other γ changes the optimal policy.

``potential`` maps a batch of observations (leading axis; a dict of such for Dict spaces) to a
batch of values, the same function for both wrappers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv

from rewardgym.core.validation import check_float
from rewardgym.core.vector_env import potential_shaping
from rewardgym.wrappers.episodes import EpisodeRewardWrapper, VectorStep

Potential = Callable[[Any], Any]


def _batch_of_one(observation: Any) -> Any:
    if isinstance(observation, dict):
        return {key: _batch_of_one(value) for key, value in observation.items()}
    return np.expand_dims(np.asarray(observation), 0)


class PotentialShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Single env: reward + γ·(1 − terminated)·Φ(s') − Φ(s). Info adds ``shaping`` and ``reward_unshaped``."""

    def __init__(self, env: gym.Env, potential: Potential, gamma: float):
        gym.utils.RecordConstructorArgs.__init__(self, potential=potential, gamma=gamma)
        gym.Wrapper.__init__(self, env)
        self.potential = potential
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self._phi = 0.0

    def _phi_of(self, observation: Any) -> float:
        return float(np.asarray(self.potential(_batch_of_one(observation))).reshape(-1)[0])

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._phi = self._phi_of(observation)
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        phi_next = self._phi_of(observation)
        shaping = self.gamma * (not terminated) * phi_next - self._phi
        self._phi = phi_next
        return observation, reward + shaping, terminated, truncated, {**info, "shaping": shaping, "reward_unshaped": reward}


class VectorPotentialShaping(EpisodeRewardWrapper):
    """Vector env of torch tensors: the same shaping per row, in every autoreset mode.

    Rows that made no transition this step (NEXT_STEP's reset step) get no shaping. Info adds
    ``shaping`` and ``reward_unshaped``.
    """

    def __init__(self, env: VectorEnv, potential: Potential, gamma: float):
        gym.utils.RecordConstructorArgs.__init__(self, potential=potential, gamma=gamma)
        super().__init__(env)
        self.potential = potential
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self._phi: torch.Tensor | None = None

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        phi = torch.as_tensor(self.potential(observation), dtype=torch.float32, device=rows.device)
        self._phi = phi if self._phi is None else torch.where(rows, phi, self._phi)

    def reward(self, step: VectorStep) -> torch.Tensor:
        phi_next = torch.as_tensor(self.potential(step.next_obs), dtype=torch.float32, device=step.reward.device)
        shaping = potential_shaping(self._phi, phi_next, step.terminated, self.gamma) * step.valid
        self._phi = phi_next
        step.info = {**step.info, "shaping": shaping, "reward_unshaped": step.reward}
        return step.reward + shaping
