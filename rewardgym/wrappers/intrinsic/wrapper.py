"""``IntrinsicReward``: add a bonus to a vector env's reward, training the bonus online."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium.vector import VectorEnv

from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.wrappers.episodes import EpisodeRewardWrapper, VectorStep
from rewardgym.wrappers.intrinsic.base import Bonus, RunningMeanStd, Transitions, flatten_observation

NORMALIZATIONS = ("return", "reward", "none")


class IntrinsicReward(EpisodeRewardWrapper):
    """reward = extrinsic + coef · normalised bonus, for a vector env of torch tensors.

    Each step the bonus sees the transition (s, a, s') of every row that made one — with s' the
    true last observation where a row ended, never a reset observation — and its model is
    trained on the last ``update_every`` steps of transitions.

    Args:
        env: a vector env returning torch tensors (any rewardgym env from ``gym.make_vec``).
        bonus: the bonus, built for this env (e.g. ``RND(env)``).
        coef: the weight of the intrinsic reward.
        normalize: ``"return"`` divides the bonus by the running std of its discounted sum
            (as RND does, per env along time), ``"reward"`` by the running std of the bonus
            itself, ``"none"`` leaves it raw.
        gamma: the discount of that running sum (the intrinsic stream's γ).
        update_every: how many steps of transitions to collect per ``bonus.update``.

    Info adds ``reward_extrinsic``, ``reward_intrinsic`` (after ``coef`` and normalisation) and
    ``bonus`` (raw); the last update's metrics are in ``wrapper.metrics``.
    """

    def __init__(
        self,
        env: VectorEnv,
        bonus: Bonus,
        coef: float = 1.0,
        normalize: str = "return",
        gamma: float = 0.99,
        update_every: int = 1,
    ):
        super().__init__(env)
        self.bonus = bonus
        self.coef = check_float("coef", coef, -1e6, 1e6)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self.update_every = check_int("update_every", update_every, 1)
        self.metrics: dict[str, float] = {}
        self._bonus_scale = RunningMeanStd().to(bonus.device)
        self._discounted = torch.zeros(self.num_envs, device=bonus.device)
        self._previous: torch.Tensor | None = None
        self._pending: list[Transitions] = []

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        features = flatten_observation(observation).to(self.bonus.device)
        self._previous = features if self._previous is None else torch.where(rows.unsqueeze(1), features, self._previous)
        self.bonus.episode_started(rows.to(self.bonus.device))

    def reward(self, step: VectorStep) -> torch.Tensor:
        transitions = Transitions(
            obs=self._previous.unsqueeze(0),
            action=torch.as_tensor(step.action, device=self.bonus.device).unsqueeze(0),
            next_obs=flatten_observation(step.next_obs).to(self.bonus.device).unsqueeze(0),
            terminated=step.terminated.to(self.bonus.device).unsqueeze(0),
            truncated=step.truncated.to(self.bonus.device).unsqueeze(0),
            valid=step.valid.to(self.bonus.device).unsqueeze(0),
        )
        self.bonus.watch(transitions)
        with torch.no_grad():
            bonus = self.bonus.compute(transitions)[0] * transitions.valid[0]
        intrinsic = (self.coef * self._normalized(bonus, transitions)).to(step.reward.device)
        self._previous = flatten_observation(step.observation).to(self.bonus.device)

        self._pending.append(transitions)
        if len(self._pending) == self.update_every:
            self.metrics = self.bonus.update(Transitions.cat(self._pending)) or self.metrics  # {}: nothing to learn from
            self._pending = []

        step.info = {**step.info, "reward_extrinsic": step.reward, "reward_intrinsic": intrinsic,
                     "bonus": bonus.to(step.reward.device)}
        return step.reward + intrinsic

    def _normalized(self, bonus: torch.Tensor, transitions: Transitions) -> torch.Tensor:
        if self.normalize == "none":
            return bonus
        valid = transitions.valid[0]
        if self.normalize == "return":
            self._discounted = torch.where(valid, self._discounted * self.gamma + bonus, self._discounted)
            self._bonus_scale.update(self._discounted[valid])
            if self.bonus.episodic:  # an episodic stream's return restarts with the episode
                self._discounted = torch.where(transitions.done[0], 0.0, self._discounted)
        else:
            self._bonus_scale.update(bonus[valid])
        return bonus / torch.sqrt(self._bonus_scale.var + 1e-8)
