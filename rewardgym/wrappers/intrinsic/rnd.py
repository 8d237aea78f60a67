"""Random Network Distillation (Burda et al. 2019): novelty as the error of predicting a random network."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rewardgym.core.validation import check_float, check_int
from rewardgym.wrappers.intrinsic.base import Bonus, RunningMeanStd, Transitions, masked_mean, mlp


class RND(Bonus):
    """RND: ``r = mean_j (f̂_j(x') − f_j(x'))²`` with ``x'`` the normalised next observation.

    ``f`` is a frozen, randomly initialised MLP; the predictor ``f̂`` (same shape) is trained by
    MSE to match it on the states the agent visits, so the error stays high only on states
    unlike those seen. The error is the **mean** over the ``latent`` features (rllte's choice;
    CleanRL sums and halves): a constant factor that the reward normalisation of
    ``IntrinsicReward`` removes anyway.

    Observations are normalised by the bonus's own running mean and std of next-observation
    features (updated in ``watch`` from the valid rows only) and clipped to ``[−obs_clip,
    obs_clip]``, as in the paper. Unlike CleanRL, the statistics are not seeded by random-action
    steps before training: the first batch seen sets them.

    Global, not episodic: the predictor and the observation statistics belong to the whole of
    training and nothing is reset at an episode's end.

    Args (``latent`` and ``lr`` default to rllte's RND values; the paper and CleanRL use lr 1e-4
    and 512 features, with CNNs):
        env: the vector env the bonus is for.
        latent: features of ``f`` and ``f̂`` (128).
        hidden: width of their two hidden layers (256, this suite's choice); LeakyReLU between
            layers, as the paper's networks.
        lr: Adam learning rate of ``f̂`` (1e-3).
        obs_clip: the clip of the normalised observations (5.0, the paper's).

    Each ``update`` is one Adam step of the predictor on the batch's valid transitions; the paper's update
    proportion (each transition trains the predictor with probability 0.25) is applied by
    ``IntrinsicStream``, for every bonus alike.

    ``novelty(features)`` gives the error of any batch of states; NovelD builds on it.
    """

    episodic = False
    #: How many ``latent``-sized outputs the frozen network has (RDD's has a mean and a spread).
    target_heads: ClassVar[int] = 1

    def __init__(
        self,
        env: Any,
        latent: int = 128,
        hidden: int = 256,
        lr: float = 1e-3,
        obs_clip: float = 5.0,
    ):
        super().__init__(env)
        self.latent = latent = check_int("latent", latent, 1)
        hidden = check_int("hidden", hidden, 1)
        self.obs_clip = check_float("obs_clip", obs_clip, 0.0, 1e6)
        self.obs_rms = RunningMeanStd((self.obs_size,))
        target = mlp([self.obs_size, hidden, hidden, latent * self.target_heads], nn.LeakyReLU)
        self.target = target.requires_grad_(False)
        self.predictor = mlp([self.obs_size, hidden, hidden, latent], nn.LeakyReLU)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=check_float("lr", lr, 0.0, 1.0))
        self.to(self.device)

    def watch(self, transitions: Transitions) -> None:
        """Fold the valid next observations into the observation statistics."""
        self.obs_rms.update(transitions.next_obs[transitions.valid])

    def compute(self, transitions: Transitions) -> torch.Tensor:
        return torch.where(transitions.valid, self.novelty(transitions.next_obs), 0.0)

    @torch.no_grad()
    def novelty(self, features: torch.Tensor) -> torch.Tensor:
        """The bonus of states given as raw ``flatten_observation`` features ``(..., D)``: shape ``(...)``.

        Uses the current observation statistics and predictor; changes nothing.
        """
        inputs = self.normalize(features)
        return (self.predictor(inputs) - self.target(inputs)).pow(2).mean(-1)

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """Raw observation features as the networks see them: standardised, then clipped."""
        return self.obs_rms.normalize(features, self.obs_clip)

    def training_target(self, inputs: torch.Tensor) -> torch.Tensor:
        """What the predictor is regressed on for normalised ``inputs``: here the frozen network's output."""
        return self.target(inputs)

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The predictor's mean squared error on the valid next observations."""
        inputs = self.normalize(transitions.next_obs)
        loss = masked_mean((self.predictor(inputs) - self.training_target(inputs)).pow(2).mean(-1), transitions.valid)
        return loss, {"predictor_loss": loss.detach()}
