"""The Intrinsic Curiosity Module (Pathak et al. 2017): the error of a forward model in a learned embedding."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core.validation import check_float, check_int
from rewardgym.wrappers.intrinsic.base import Bonus, Transitions, action_features, masked_mean, mlp
from rewardgym.wrappers.intrinsic.embedding import InverseDynamicsEmbedding


class ICM(Bonus):
    """ICM: ``r = η · ½ ‖φ̂(s') − φ(s')‖²`` (summed over the ``latent`` features), ``φ̂(s') = g(φ(s), a)``.

    φ is an ``InverseDynamicsEmbedding`` (an MLP over normalised observation features whose
    inverse head predicts ``a`` from ``(φ(s), φ(s'))``: cross-entropy for Discrete actions, MSE
    for Box ones); the forward model ``g`` takes ``φ(s)`` and the action (one-hot for Discrete,
    as is for Box). φ, the inverse head and ``g`` are trained together, as in the paper, by one
    Adam optimiser of this module on

        L = (1 − β) · L_inv + β · L_fwd,   L_fwd = mean over transitions of ½ ‖φ̂(s') − φ(s')‖²,

    with the forward loss's gradient reaching φ too (noreward-rl does not stop it). The squared
    error is summed over features, as the paper's ‖·‖² and noreward-rl's
    ``0.5 · mean · 288`` (its feature count) both are. φ's observation statistics are updated
    from the valid next observations in ``update``, so φ is fixed between updates.

    Global, not episodic: nothing is reset at an episode's end.

    Args:
        env: the vector env the bonus is for.
        eta: ``η``, the bonus scale (0.01, noreward-rl's ``PREDICTION_BETA``).
        beta: ``β``, the forward loss's weight (0.2, noreward-rl's ``FORWARD_LOSS_WT``).
        latent: the size of φ (128, rllte's default; noreward-rl's CNN gives 288).
        hidden: the width of the hidden layers of φ, of the inverse head and of ``g`` (256,
            the width of noreward-rl's inverse and forward heads).
        lr: the Adam learning rate (1e-3, rllte's; noreward-rl uses 1e-4 on a loss scaled by 10).

    Each ``update`` is one Adam step on all the batch's valid transitions; noreward-rl's
    reward clipping to [−1, 1] is left to the caller.
    """

    episodic = False

    def __init__(
        self,
        env: Any,
        eta: float = 0.01,
        beta: float = 0.2,
        latent: int = 128,
        hidden: int = 256,
        lr: float = 1e-3,
    ):
        super().__init__(env)
        self.eta = check_float("eta", eta, 0.0, 1e6)
        self.beta = check_float("beta", beta, 0.0, 1.0)
        latent = check_int("latent", latent, 1)
        hidden = check_int("hidden", hidden, 1)
        self.embedding = InverseDynamicsEmbedding(self.obs_size, self.action_space, latent, hidden)
        self.forward_model = mlp([latent + self.action_size, hidden, latent])
        self.optimizer = torch.optim.Adam(self.parameters(), lr=check_float("lr", lr, 0.0, 1.0))
        self.to(self.device)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        with torch.no_grad():
            error = self.forward_error(transitions.obs, transitions.action, transitions.next_obs)
        return torch.where(transitions.valid, self.eta * error, 0.0)

    def forward_error(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """``½ ‖g(φ(s), a) − φ(s')‖²`` per transition; raw features ``(..., D)``, actions of batch shape ``(...)``."""
        inputs = torch.cat([self.embedding(obs), action_features(action, self.action_space)], dim=-1)
        predicted = self.forward_model(inputs)
        return 0.5 * (predicted - self.embedding(next_obs)).pow(2).sum(-1)

    def prepare_training(self, transitions: Transitions) -> None:
        self.embedding.prepare_training(transitions)

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(1 − β)·`` the inverse loss ``+ β·`` the mean forward error, over the valid transitions."""
        inverse_loss = self.embedding.loss(transitions)
        forward_loss = masked_mean(self.forward_error(transitions.obs, transitions.action, transitions.next_obs),
                                   transitions.valid)
        loss = (1.0 - self.beta) * inverse_loss + self.beta * forward_loss
        return loss, {"inverse_loss": inverse_loss.detach(), "forward_loss": forward_loss.detach()}
