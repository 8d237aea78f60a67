"""``IntrinsicReward``: add a bonus to a vector env's reward, training the bonus online."""

from __future__ import annotations

from typing import Any

import torch
from gymnasium.vector import VectorEnv

from rewardgym.core.validation import check_int
from rewardgym.wrappers.episodes import EpisodeRewardWrapper, VectorStep
from rewardgym.wrappers.intrinsic.base import Bonus, Transitions, flatten_observation
from rewardgym.wrappers.intrinsic.stream import IntrinsicStream


class IntrinsicReward(EpisodeRewardWrapper):
    """reward = extrinsic + coef · normalised bonus, for a vector env of torch tensors.

    Each step the bonus sees the transition (s, a, s') of every row that made one — with s' the
    true last observation where a row ended, never a reset observation — and its model is
    trained on the last ``update_every`` steps of transitions. Rating, normalising and training
    are the ``IntrinsicStream``'s (``wrapper.stream``, whose ``state_dict`` holds all of it).

    Args:
        env: a vector env returning torch tensors (any rewardgym env from ``gym.make_vec``).
        bonus: the bonus, built for this env (e.g. ``RND(env)``).
        coef: the weight of the intrinsic reward.
        normalize: ``"return"`` divides the bonus by the running std of its discounted sum
            (as RND does, per env along time), ``"reward"`` by the running std of the bonus
            itself, ``"none"`` leaves it raw.
        gamma: the discount of that running sum (the intrinsic stream's γ).
        update_every: how many steps of transitions to collect per ``bonus.update``.
        update_proportion: the chance of each collected transition entering that update.
        seed: seeds the stream's and the bonus's random generators.

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
        update_proportion: float = 1.0,
        seed: int = 0,
    ):
        super().__init__(env)
        self.stream = IntrinsicStream(bonus, coef=coef, normalize=normalize, gamma=gamma,
                                      update_proportion=update_proportion, seed=seed)
        self.update_every = check_int("update_every", update_every, 1)
        self._previous: torch.Tensor | None = None
        self._pending: list[Transitions] = []

    @property
    def bonus(self) -> Bonus:
        return self.stream.bonus

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics of the bonus's last update."""
        return self.stream.metrics

    def episode_started(self, rows: torch.Tensor, observation: Any) -> None:
        features = flatten_observation(observation).to(self.bonus.device)
        self._previous = features if self._previous is None else torch.where(rows.unsqueeze(1), features, self._previous)
        self.bonus.episode_started(rows.to(self.bonus.device))

    def reward(self, step: VectorStep) -> torch.Tensor:
        device = self.bonus.device
        transitions = Transitions(
            obs=self._previous.unsqueeze(0),
            action=torch.as_tensor(step.action, device=device).unsqueeze(0),
            next_obs=flatten_observation(step.next_obs).to(device).unsqueeze(0),
            terminated=step.terminated.to(device).unsqueeze(0),
            truncated=step.truncated.to(device).unsqueeze(0),
            valid=step.valid.to(device).unsqueeze(0),
        )
        bonus = self.stream.bonus_of(transitions)
        intrinsic = self.stream.scale(bonus, transitions.done, transitions.valid)[0].to(step.reward.device)
        self._previous = flatten_observation(step.observation).to(device)

        self._pending.append(transitions)
        if len(self._pending) == self.update_every:
            self.stream.train(Transitions.cat(self._pending))
            self._pending = []

        step.info = {**step.info, "reward_extrinsic": step.reward, "reward_intrinsic": intrinsic,
                     "bonus": bonus[0].to(step.reward.device)}
        return step.reward + intrinsic
