"""``InverseDynamicsEmbedding``: a state embedding φ trained to tell which action links two states.

An encoder φ maps observation features to a latent vector; an inverse head g predicts the action
from the pair ``(φ(s_t), φ(s_{t+1}))``. Training both on

    L = CE(g(φ(s_t), φ(s_{t+1})), a_t)       for Discrete actions (cross-entropy over logits),
    L = ‖g(φ(s_t), φ(s_{t+1})) − a_t‖² / A   for Box actions (mean squared error),

makes φ keep what the agent controls and drop what it cannot affect (Pathak et al. 2017). ICM
builds on it; E3B and NGU keep an episodic memory of its embeddings (``EmbeddingMemoryBonus``).

The bonus that owns φ trains it: each ``update`` is one Adam step on the batch it is given, as
the e3b repository trains its encoder and inverse model (one step per learner batch, beside the
policy's), and as RND trains its predictor here; the learner chooses the batches (a PPO
minibatch, an env step's rows).

Defaults: ``latent=128`` and ``lr=1e-3`` are rllte's (``E3B``, ``RND``); ``hidden=256`` is this
suite's choice for the two hidden layers of the encoder's MLP.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from torch import nn

from rewardgym.core.validation import check_float, check_int
from rewardgym.wrappers.intrinsic.base import RunningMeanStd, Transitions, action_size, masked_mean, mlp
from rewardgym.wrappers.intrinsic.counts import Memory, MemoryBonus


class InverseDynamicsEmbedding(nn.Module):
    """φ(features) = encoder(normalised features), trained with an inverse-dynamics loss.

    Args:
        obs_size: the length of the observation features (``Bonus.obs_size``).
        action_space: the env's single action space, Discrete or Box.
        latent: the embedding's size.
        hidden: the width of the hidden layers (two in the encoder, one in the inverse head).

    API:
        ``forward(features) -> (..., latent)``: the embedding of observation features ``(..., obs_size)``.
        ``prepare_training(transitions)``: fold the valid next observations into the normalisation statistics.
        ``loss(transitions) -> scalar``: the inverse-dynamics loss, a mean over the valid transitions,
            differentiable, for the bonus that trains φ (alone or with a loss of its own).

    φ changes only when its owner trains it (its normalisation statistics included), so it is a
    fixed function between two updates: episodic memories built from it stay consistent in between.
    """

    def __init__(
        self,
        obs_size: int,
        action_space: spaces.Space,
        latent: int = 128,
        hidden: int = 256,
    ):
        super().__init__()
        latent, hidden = check_int("latent", latent, 1), check_int("hidden", hidden, 1)
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.obs_rms = RunningMeanStd((obs_size,))
        self.encoder = mlp([obs_size, hidden, hidden, latent])
        self.inverse = mlp([2 * latent, hidden, action_size(action_space)])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.obs_rms.normalize(features))

    def prepare_training(self, transitions: Transitions) -> None:
        self.obs_rms.update(transitions.next_obs[transitions.valid])

    def loss(self, transitions: Transitions) -> torch.Tensor:
        predicted = self.inverse(torch.cat([self(transitions.obs), self(transitions.next_obs)], dim=-1))
        if self.discrete:
            errors = nn.functional.cross_entropy(predicted.flatten(0, -2), transitions.action.long().flatten(),
                                                 reduction="none").view(transitions.valid.shape)
        else:
            errors = (predicted - transitions.action.reshape(predicted.shape).float()).pow(2).mean(-1)
        return masked_mean(errors, transitions.valid)


class EmbeddingMemoryBonus(MemoryBonus):
    """A ``MemoryBonus`` over embeddings φ(s) from an ``InverseDynamicsEmbedding`` trained in ``update``.

    ``compute`` embeds every s_t and s_{t+1} of the batch with the current φ (no gradient) and
    scans them through the memory; ``update`` takes one Adam step of φ (``lr``) on the batch's
    valid transitions. The embeddings already in memory stay as φ was when they were stored, as in
    the e3b repository.
    """

    def __init__(self, env: Any, memory: Memory, latent: int, hidden: int, lr: float):
        super().__init__(env, memory)
        self.embedding = InverseDynamicsEmbedding(self.obs_size, self.action_space, latent, hidden)
        self.optimizer = torch.optim.Adam(self.embedding.parameters(), lr=check_float("lr", lr, 0.0, 1.0))

    def compute(self, transitions: Transitions) -> torch.Tensor:
        with torch.no_grad():
            return self.scan(transitions, self.embedding(transitions.obs), self.embedding(transitions.next_obs))

    def prepare_training(self, transitions: Transitions) -> None:
        self.embedding.prepare_training(transitions)

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = self.embedding.loss(transitions)
        return loss, {"inverse_loss": loss.detach()}
