"""``InverseDynamicsEmbedding``: a state embedding φ trained to tell which action links two states.

An encoder φ maps observation features to a latent vector; an inverse head g predicts the action
from the pair ``(φ(s_t), φ(s_{t+1}))``. Training both on

    L = CE(g(φ(s_t), φ(s_{t+1})), a_t)       for Discrete actions (cross-entropy over logits),
    L = ‖g(φ(s_t), φ(s_{t+1})) − a_t‖² / A   for Box actions (mean squared error),

makes φ keep what the agent controls and drop what it cannot affect (Pathak et al. 2017). ICM
builds on it; E3B and NGU keep an episodic memory of its embeddings (``EmbeddingMemoryBonus``).

Each ``update`` is one Adam step on the batch it is given, as the e3b repository trains its
encoder and inverse model (one step per learner batch, beside the policy's), and as RND trains
its predictor here; the learner chooses the batches (a PPO minibatch, an env step's rows).

Defaults: ``latent=128`` and ``lr=1e-3`` are rllte's (``E3B``, ``RND``); ``hidden=256`` is this
suite's choice for the two hidden layers of the encoder's MLP.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from torch import nn

from rewardgym.core.validation import check_float, check_int
from rewardgym.wrappers.intrinsic.base import RunningMeanStd, Transitions, action_size, mlp
from rewardgym.wrappers.intrinsic.counts import Memory, MemoryBonus


class InverseDynamicsEmbedding(nn.Module):
    """φ(features) = encoder(normalised features), trained with an inverse-dynamics loss.

    Args:
        obs_size: the length of the observation features (``Bonus.obs_size``).
        action_space: the env's single action space, Discrete or Box.
        latent: the embedding's size.
        hidden: the width of the hidden layers (two in the encoder, one in the inverse head).
        lr: the Adam learning rate.

    API:
        ``forward(features) -> (..., latent)``: the embedding of observation features ``(..., obs_size)``.
        ``loss(obs, action, next_obs) -> scalar``: the inverse-dynamics loss of ``V`` transitions
            (``obs``, ``next_obs``: ``(V, obs_size)``; ``action``: ``(V,)`` ints or ``(V, A)`` floats),
            differentiable, for a caller that trains φ together with a loss of its own.
        ``train_step(transitions) -> float``: fold the valid transitions' next observations into the
            normalisation statistics, then one Adam step on all of them; returns the loss.

    φ changes only in ``train_step`` (its normalisation statistics included), so it is a fixed
    function between two calls: episodic memories built from it stay consistent in between.
    """

    def __init__(
        self,
        obs_size: int,
        action_space: spaces.Space,
        latent: int = 128,
        hidden: int = 256,
        lr: float = 1e-3,
    ):
        super().__init__()
        latent, hidden = check_int("latent", latent, 1), check_int("hidden", hidden, 1)
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.obs_rms = RunningMeanStd((obs_size,))
        self.encoder = mlp([obs_size, hidden, hidden, latent])
        self.inverse = mlp([2 * latent, hidden, action_size(action_space)])
        self.optimizer = torch.optim.Adam(self.parameters(), lr=check_float("lr", lr, 0.0, 1.0))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.obs_rms.normalize(features))

    def loss(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        predicted = self.inverse(torch.cat([self(obs), self(next_obs)], dim=-1))
        if self.discrete:
            return nn.functional.cross_entropy(predicted, action.long())
        return nn.functional.mse_loss(predicted, action.reshape(predicted.shape).float())

    def train_step(self, transitions: Transitions) -> float:
        batch = transitions.flat_valid()
        obs, action, next_obs = batch.obs[0], batch.action[0], batch.next_obs[0]
        if obs.shape[0] == 0:
            return 0.0
        self.obs_rms.update(next_obs)
        loss = self.loss(obs, action, next_obs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class EmbeddingMemoryBonus(MemoryBonus):
    """A ``MemoryBonus`` over embeddings φ(s) from an ``InverseDynamicsEmbedding`` trained in ``update``.

    ``compute`` embeds every s_t and s_{t+1} of the batch with the current φ (no gradient) and
    scans them through the memory; ``update`` trains φ on the batch's valid transitions. The
    embeddings already in memory stay as φ was when they were stored, as in the e3b repository.
    """

    def __init__(self, env: Any, memory: Memory, latent: int, hidden: int, lr: float):
        super().__init__(env, memory)
        self.embedding = InverseDynamicsEmbedding(self.obs_size, self.action_space, latent, hidden, lr)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        with torch.no_grad():
            return self.scan(transitions, self.embedding(transitions.obs), self.embedding(transitions.next_obs))

    def update(self, transitions: Transitions) -> dict[str, float]:
        return {"inverse_loss": self.embedding.train_step(transitions)}
