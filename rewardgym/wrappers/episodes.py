"""Episode boundaries in a vector env, in every gymnasium autoreset mode, for reward wrappers.

A reward wrapper that keeps per-episode state (a previous potential, a gate, an episodic memory)
must know, each step, which rows made a real transition, what their true next observation was
(before any reset), and which rows now begin a new episode:

| autoreset mode | rows that made a transition | true next observation | rows whose observation starts an episode |
|---|---|---|---|
| NEXT_STEP | those that did not end last step | the observation | those that ended last step |
| SAME_STEP | all | ``info["final_obs"]`` where a row ended, else the observation | those that ended this step |
| DISABLED | all | the observation | none (``reset(options={"reset_mask": ...})`` starts them) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper


def select_rows(rows: torch.Tensor, chosen: Any, other: Any) -> Any:
    """Row-wise choice between two batched observations (tensors or dicts of them)."""
    if isinstance(chosen, dict):
        return {key: select_rows(rows, chosen[key], other[key]) for key in chosen}
    return torch.where(rows.view(-1, *([1] * (chosen.dim() - 1))), chosen, other)


@dataclass
class VectorStep:
    """One step of a vector env, with its episode boundaries resolved."""

    action: Any
    observation: Any  # what the env returned (a reset observation in rows that started)
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict[str, Any]
    valid: torch.Tensor  # rows that made a real transition this step
    next_obs: Any  # each row's true next observation, before any reset
    started: torch.Tensor  # rows whose returned observation begins a new episode


class EpisodeRewardWrapper(VectorWrapper, gym.utils.RecordConstructorArgs):
    """A vector wrapper whose reward depends on episode boundaries.

    Subclasses implement ``reward(step) -> Tensor`` (they may add keys to ``step.info``) and,
    if they keep per-episode state, ``episode_started(rows, observation)``, which is called for
    the rows that begin an episode (at reset, and after each step).
    """

    def __init__(self, env: VectorEnv):
        VectorWrapper.__init__(self, env)
        self.autoreset_mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._ended_last_step: torch.Tensor | None = None

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        mask = None if options is None else options.get("reset_mask")
        observation, info = self.env.reset(seed=seed, options=options)
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        rows = rows.to(self._device_of(observation))
        if self._ended_last_step is None:
            self._ended_last_step = torch.zeros_like(rows)
        self._ended_last_step &= ~rows
        self.episode_started(rows, observation)
        return observation, info

    def step(self, actions: Any) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(actions)
        ended = terminated | truncated
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            valid, started, next_obs = ~self._ended_last_step, self._ended_last_step, observation
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            valid, started = torch.ones_like(ended), ended
            next_obs = select_rows(ended, info["final_obs"], observation) if bool(ended.any()) else observation
        else:
            valid, started, next_obs = torch.ones_like(ended), torch.zeros_like(ended), observation
        self._ended_last_step = ended
        step = VectorStep(actions, observation, reward, terminated, truncated, info, valid, next_obs, started)
        reward = self.reward(step)
        if bool(started.any()):
            self.episode_started(started, observation)
        return observation, reward, terminated, truncated, step.info

    def reward(self, step: VectorStep) -> torch.Tensor:
        raise NotImplementedError

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        """Rows ``rows`` of ``observation`` begin a new episode."""

    @staticmethod
    def _device_of(observation: Any) -> torch.device:
        first = next(iter(observation.values())) if isinstance(observation, dict) else observation
        return first.device
