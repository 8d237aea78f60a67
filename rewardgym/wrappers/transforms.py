"""Reward transforms for vector envs of torch tensors.

For clipping and scaling, gymnasium's own vector wrappers already do the job on torch rewards:
``gymnasium.wrappers.vector.ClipReward(envs, -1.0, 1.0)`` and
``gymnasium.wrappers.vector.TransformReward(envs, lambda r: 0.1 * r)``. The transforms here need
the reward channels or the episode boundaries:

- ``SaturatingSum``: each channel bounded by tanh, then weighted and added (the "saturating
  additive" form): no single term can dominate the sum.
- ``GatedReward``: a dense reward paid only once a condition has held in the episode.
- ``CappedReward``: a dense reward whose sum over an episode is held within ±cap.

A dense reward is named by its channel in ``info["reward_terms"]`` or given as a function of the
``VectorStep``; the gated and capped wrappers add it to the env's reward (keep the env sparse).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import torch
from gymnasium.vector import VectorEnv

from rewardgym.core.validation import check_float
from rewardgym.wrappers.episodes import EpisodeRewardWrapper, VectorStep

Dense = str | Callable[[VectorStep], torch.Tensor]
Condition = Callable[[VectorStep], torch.Tensor]


def _channel(step: VectorStep, name: str) -> torch.Tensor:
    terms = step.info.get("reward_terms", {})
    if name not in terms:
        raise ValueError(f"reward channel {name!r} is not in info['reward_terms'] (channels: {sorted(terms)})")
    return terms[name]


def dense_value(step: VectorStep, dense: Dense) -> torch.Tensor:
    """A dense reward: a named channel of ``info["reward_terms"]`` or a function of the step."""
    return _channel(step, dense) if isinstance(dense, str) else dense(step)


class SaturatingSum(EpisodeRewardWrapper):
    """reward = Σ_k w_k · tanh(term_k / s_k) over named channels of ``info["reward_terms"]``.

    Args:
        weights: channel name → weight w_k.
        scales: channel name → scale s_k at which the term is ~76% saturated (one number: all).
    """

    def __init__(self, env: VectorEnv, weights: Mapping[str, float], scales: Mapping[str, float] | float = 1.0):
        gym.utils.RecordConstructorArgs.__init__(self, weights=weights, scales=scales)
        super().__init__(env)
        if not weights:
            raise ValueError("weights must name at least one reward channel")
        self.weights = {name: check_float(f"weights[{name!r}]", w, -1e6, 1e6) for name, w in weights.items()}
        scale_of = scales if isinstance(scales, Mapping) else dict.fromkeys(weights, scales)
        self.scales = {name: check_float(f"scales[{name!r}]", scale_of.get(name, 1.0), 1e-9, 1e9) for name in weights}

    def reward(self, step: VectorStep) -> torch.Tensor:
        total = sum(w * torch.tanh(_channel(step, name) / self.scales[name]) for name, w in self.weights.items())
        return total * step.valid


class GatedReward(EpisodeRewardWrapper):
    """reward + dense, where dense is paid only on rows whose gate is open.

    The gate opens on a step where ``condition(step)`` holds; with ``latch=True`` (default) it
    stays open until the episode ends, otherwise it is open exactly on those steps. Info adds
    ``gate_open``.
    """

    def __init__(self, env: VectorEnv, dense: Dense, condition: Condition, latch: bool = True):
        gym.utils.RecordConstructorArgs.__init__(self, dense=dense, condition=condition, latch=latch)
        super().__init__(env)
        self.dense, self.condition, self.latch = dense, condition, bool(latch)
        self._open = torch.zeros(self.num_envs, dtype=torch.bool)

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        self._open = self._open.to(rows.device) & ~rows

    def reward(self, step: VectorStep) -> torch.Tensor:
        holds = self.condition(step).bool() & step.valid
        self._open = (self._open | holds) if self.latch else holds
        step.info = {**step.info, "gate_open": self._open}
        return step.reward + self._open * dense_value(step, self.dense) * step.valid


class CappedReward(EpisodeRewardWrapper):
    """reward + dense, paying only what keeps the episode's sum of dense reward within ±cap.

    Info adds ``dense_paid`` (this step's paid part).
    """

    def __init__(self, env: VectorEnv, dense: Dense, cap: float):
        gym.utils.RecordConstructorArgs.__init__(self, dense=dense, cap=cap)
        super().__init__(env)
        self.dense = dense
        self.cap = check_float("cap", cap, 0.0, float("inf"))
        self._paid_so_far = torch.zeros(self.num_envs)

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        self._paid_so_far = torch.where(rows, 0.0, self._paid_so_far.to(rows.device))

    def reward(self, step: VectorStep) -> torch.Tensor:
        wanted = self._paid_so_far + dense_value(step, self.dense) * step.valid
        total = wanted.clamp(-self.cap, self.cap)
        paid = total - self._paid_so_far
        self._paid_so_far = total
        step.info = {**step.info, "dense_paid": paid}
        return step.reward + paid
