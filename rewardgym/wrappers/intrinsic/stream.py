"""``IntrinsicStream``: one bonus as a reward stream — its transitions, its scale and its training.

Every way of adding a bonus to a learner does the same three things, and they all do them here:
the ``IntrinsicReward`` wrapper (one env step at a time), the SB3 callbacks (one rollout at a
time) and fast-ppo (one rollout, with the bonus trained inside the PPO epochs).

1. ``bonus(transitions)``: the bonus sees the transitions (``watch``) and rates them
   (``compute``, without gradients). Episodic bonuses need the steps in time order.
2. ``scale(raw, done, valid)``: the bonus divided by a running standard deviation — of the
   discounted intrinsic return (``normalize="return"``, RND's choice: the stream's return
   restarts at episode ends only for an episodic bonus) or of the bonus itself (``"reward"``) —
   times ``coef``.
3. ``train(transitions)``: the bonus's model takes one update on a random ``update_proportion``
   of the valid transitions (RND trains its predictor on 25% of each minibatch, so that its error
   does not vanish faster than the policy can use it).

``state_dict()`` holds all of it (the bonus's learner state, the scale statistics, the running
discounted returns and the stream's generator), so a resumed run continues exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core.validation import check_choice, check_float
from rewardgym.wrappers.intrinsic.base import Bonus, RunningMeanStd, Transitions

NORMALIZATIONS = ("return", "reward", "none")


class IntrinsicStream:
    """A bonus, its normalisation and its training, for ``N`` envs.

    Args:
        bonus: the bonus, built for the ``N`` envs whose transitions it will see.
        coef: the weight of the normalised bonus.
        normalize: ``"return"``, ``"reward"`` or ``"none"`` (see the module docstring).
        gamma: the discount of the running intrinsic return that ``"return"`` normalises by.
        update_proportion: the chance of each valid transition entering a ``train`` step.
        seed: seeds the bonus's generators and the stream's own (which picks the trained transitions).
    """

    def __init__(
        self,
        bonus: Bonus,
        coef: float = 1.0,
        normalize: str = "return",
        gamma: float = 0.99,
        update_proportion: float = 1.0,
        seed: int = 0,
    ):
        self.bonus = bonus
        self.coef = check_float("coef", coef, -1e6, 1e6)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        self.update_proportion = check_float("update_proportion", update_proportion, 0.0, 1.0)
        self.device = bonus.device
        self.scale_statistics = RunningMeanStd().to(self.device)
        self.discounted = torch.zeros(bonus.num_envs, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        bonus.seed(seed + 1)
        self.metrics: dict[str, float] = {}

    @property
    def episodic(self) -> bool:
        return self.bonus.episodic

    def bonus_of(self, transitions: Transitions) -> torch.Tensor:
        """The raw bonus ``(T, N)`` of transitions given in time order; 0 where not valid."""
        self.bonus.watch(transitions)
        with torch.no_grad():
            return torch.where(transitions.valid, self.bonus.compute(transitions), 0.0)

    def scale(self, raw: torch.Tensor, done: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``coef ·`` the raw bonus ``(T, N)`` divided by the running std this stream normalises by.

        The statistics take in this block of steps first, then every step is divided by the same std.
        """
        if self.normalize == "none":
            return self.coef * raw
        if self.normalize == "reward":
            self.scale_statistics.update(raw[valid])
        else:
            returns = []
            for t in range(raw.shape[0]):
                self.discounted = torch.where(valid[t], self.discounted * self.gamma + raw[t], self.discounted)
                returns.append(self.discounted)
                if self.episodic:  # an episodic stream's return restarts with the episode
                    self.discounted = torch.where(done[t] & valid[t], 0.0, self.discounted)
            self.scale_statistics.update(torch.stack(returns)[valid])
        return self.coef * raw / torch.sqrt(self.scale_statistics.var + 1e-8)

    def chosen(self, valid: torch.Tensor) -> torch.Tensor:
        """Which transitions a training step takes: each valid one with chance ``update_proportion``."""
        keep = valid.reshape(-1)
        if self.update_proportion < 1.0:  # one draw per valid transition, in order
            size = int(keep.sum())
            picked = torch.rand(size, device=self.device, generator=self.generator) < self.update_proportion
            keep = keep.masked_scatter(keep, picked)
        return keep.view(valid.shape)

    def train(self, transitions: Transitions) -> dict[str, float]:
        """One update of the bonus's model on a random ``update_proportion`` of the valid transitions."""
        batch = transitions.flat_valid(self.chosen(transitions.valid).reshape(-1))
        if batch.valid.shape[1] > 0:
            self.metrics = self.bonus.update(batch) or self.metrics
        return self.metrics

    def state_dict(self) -> dict[str, Any]:
        return {
            "bonus": self.bonus.learner_state(),
            "scale_statistics": self.scale_statistics.state_dict(),
            "discounted": self.discounted.clone(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bonus.load_learner_state(state["bonus"])
        self.scale_statistics.load_state_dict(state["scale_statistics"])
        self.discounted = state["discounted"].to(self.device)
        self.generator.set_state(state["generator"])
