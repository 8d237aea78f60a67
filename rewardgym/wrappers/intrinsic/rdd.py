"""Random Distribution Distillation: RND whose random target is a distribution, giving an implicit pseudo-count."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core.validation import check_float
from rewardgym.wrappers.intrinsic.base import Transitions
from rewardgym.wrappers.intrinsic.rnd import RND


class RDD(RND):
    """RDD, our reading of Fang et al. 2025 (arXiv 2505.11044): a reimplementation, not a reproduction.

    Our only source is the paper's abstract (we found no public code): the target network's
    output for a state is sampled from a normal distribution, and the bonus is the
    predictor–target discrepancy, bounded by "a pseudo-count term ensuring proper exploration
    decay and a discrepancy term". We build that idea as follows, on top of ``RND`` (same
    observation normalisation, predictor and optimiser):

    - A frozen random MLP gives, for a normalised state ``x``, a mean ``μ(x)`` and a spread
      ``σ(x) = sigma · exp(tanh(ρ(x)))`` (so ``σ ∈ [sigma/e, sigma·e]``) over ``latent`` features.
    - Each time the predictor ``f̂`` is trained on a state, its target is a fresh sample
      ``t ~ N(μ(x), diag σ(x)²)``, and the loss is the MSE to that sample.
    - Had ``f̂(x)`` fitted the ``n(x)`` samples of a state exactly, it would be their mean, so
      ``z_j = (f̂_j(x) − μ_j(x)) / σ_j(x) ~ N(0, 1/n(x))``: the mean of ``z_j²`` over features
      estimates ``1 / n(x)``, an implicit pseudo-count ``n̂(x) = 1 / mean_j z_j²``.
    - The bonus (deterministic: no sample is drawn to compute it) is

          r = α · mean_j (f̂_j(x') − μ_j(x'))²  +  (1 − α) · sqrt(mean_j z_j(x')²)
            = α · discrepancy                  +  (1 − α) · 1 / sqrt(n̂(x'))

      the discrepancy to the target distribution's mean, plus the MBIE-EB count bonus of the
      implicit pseudo-count, which decays as ``1 / sqrt(n)`` like a count-based bonus.

    This is the structure of DRND (Yang et al. 2024), whose target is a uniform choice among
    ``K`` random networks and whose pseudo-count term estimates the same ``1/n`` from the
    predictor's second moment; here the target distribution is a normal with analytic ``μ`` and
    ``σ``, as the abstract says, so the term is computed in closed form and no ensemble is needed.
    We have not seen the paper's exact bound, σ parameterisation or α, and do not claim to
    match them. A network trained with a constant learning rate weighs recent samples more than
    old ones and shares its errors between similar states, so ``n̂`` grows more slowly than the
    true count (about as ``n^0.6`` over the first hundreds of visits in our tests) but keeps
    growing, and the bonus keeps decaying with visits.

    Global, not episodic: nothing is reset at an episode's end.

    Args: those of ``RND`` (``latent``, ``hidden``, ``lr``,
    ``obs_clip``, with the same defaults), and
        alpha: the weight ``α`` of the discrepancy term (0.9, DRND's value as its reimplementations cite it).
        sigma: the scale of the target's standard deviation (0.1, our choice: about the size
            of a freshly initialised predictor's error to ``μ``, so an unvisited state has
            ``n̂`` of order 1, 0.5 in our tests; with a much larger ``sigma`` every state
            would start out looking visited many times).
    """

    target_heads = 2

    def __init__(self, env: Any, alpha: float = 0.9, sigma: float = 0.1, **rnd: Any):
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)
        self.sigma = check_float("sigma", sigma, 1e-6, 1e6)
        super().__init__(env, **rnd)
        self.register_buffer("training_noise", torch.zeros(0), persistent=False)

    def target_distribution(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean ``μ`` and standard deviation ``σ`` of the target for normalised ``inputs``."""
        mean, spread = self.target(inputs).chunk(2, dim=-1)
        return mean, self.sigma * torch.exp(torch.tanh(spread))

    def prepare_training(self, transitions: Transitions) -> None:
        """Draw the standard normal noise of this batch's target samples, for each valid row's features in order."""
        valid = transitions.valid
        self.training_noise = torch.zeros(*valid.shape, self.latent, device=self.device)
        self.training_noise[valid] = torch.randn(int(valid.sum()), self.latent, device=self.device,
                                                 generator=self.generator)

    def training_buffers(self) -> list[str]:
        return [*super().training_buffers(), "training_noise"]

    def training_target(self, inputs: torch.Tensor) -> torch.Tensor:
        """A fresh sample ``t ~ N(μ, σ²)`` per state, from the noise ``prepare_training`` drew."""
        mean, std = self.target_distribution(inputs)
        return mean + std * self.training_noise

    @torch.no_grad()
    def novelty(self, features: torch.Tensor) -> torch.Tensor:
        """The bonus ``α·discrepancy + (1 − α)/sqrt(n̂)`` of raw state features ``(..., D)``: shape ``(...)``."""
        discrepancy, inverse_count = self._error_terms(features)
        return self.alpha * discrepancy + (1.0 - self.alpha) * inverse_count.sqrt()

    @torch.no_grad()
    def pseudo_count(self, features: torch.Tensor) -> torch.Tensor:
        """The implicit pseudo-count ``n̂ = 1 / mean_j z_j²`` of raw state features ``(..., D)``."""
        return 1.0 / self._error_terms(features)[1]

    def _error_terms(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mean_j (f̂_j − μ_j)²`` and ``mean_j ((f̂_j − μ_j)/σ_j)²`` per state."""
        inputs = self.normalize(features)
        mean, std = self.target_distribution(inputs)
        error = self.predictor(inputs) - mean
        return error.pow(2).mean(-1), (error / std).pow(2).mean(-1)
