"""E3B: exploration via elliptical episodic bonuses (Henaff et al. 2022)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rewardgym.core.validation import check_float
from rewardgym.wrappers.intrinsic.embedding import EmbeddingMemoryBonus


class InverseCovariance(nn.Module):
    """Per-env C⁻¹ ``(N, d, d)`` for C = λI + Σ φφᵀ over the embeddings an episode has visited.

    ``visit(φ, rows)`` returns b = φᵀC⁻¹φ (with C before this visit), then folds φ in by
    Sherman–Morrison: u = C⁻¹φ, C⁻¹ ← C⁻¹ − uuᵀ / (1 + b). ``forget(rows)`` resets C⁻¹ to I/λ.
    """

    def __init__(self, num_envs: int, dim: int, ridge: float):
        super().__init__()
        identity = torch.eye(dim) / ridge
        self.register_buffer("initial", identity, persistent=False)
        self.register_buffer("inverse", identity.repeat(num_envs, 1, 1))

    def visit(self, phi: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        u = torch.bmm(self.inverse, phi.unsqueeze(-1))
        bonus = (phi * u.squeeze(-1)).sum(-1)
        weight = torch.where(rows, -1.0 / (1.0 + bonus), 0.0)  # 0 leaves a row exactly as it was
        self.inverse.addcmul_(u, u.transpose(1, 2) * weight.view(-1, 1, 1))  # faster than a k = 1 baddbmm
        return bonus

    def add(self, phi: torch.Tensor, rows: torch.Tensor) -> None:
        self.visit(phi, rows)

    def forget(self, rows: torch.Tensor) -> None:
        self.inverse[rows] = self.initial


class E3B(EmbeddingMemoryBonus):
    """Elliptical episodic bonus b_t = φ(s_{t+1})ᵀ C_t⁻¹ φ(s_{t+1}).

    C_t = λI + Σ_{i≤t} φ(s_i)φ(s_i)ᵀ sums over the current episode's states before s_{t+1}
    (s_0 … s_t), so b is large for an embedding unlike the episode's earlier ones and shrinks as
    similar ones recur; for one-hot embeddings it is 1/(λ + n(s)), a count bonus. φ is an
    ``InverseDynamicsEmbedding`` trained in ``update``. Each env keeps its own C⁻¹ ``(N, d, d)``,
    initialised to I/λ, updated by Sherman–Morrison after the bonus is taken, and reset to I/λ
    right after a step where the env terminated or truncated (rllte's CleanRL example resets
    one step late, from ``dones``).

    Episodic: yes.

    Defaults: ``ridge=0.1`` (λ) from the E3B README (``--ridge 0.1``) and rllte; ``latent=128``,
    ``lr=1e-3`` from rllte's E3B; ``hidden=256`` is this suite's. ``update`` is one Adam step of φ
    and the inverse head on the batch given (see ``InverseDynamicsEmbedding``).
    """

    episodic = True

    def __init__(
        self,
        env: Any,
        ridge: float = 0.1,
        latent: int = 128,
        hidden: int = 256,
        lr: float = 1e-3,
    ):
        ridge = check_float("ridge", ridge, 1e-8, 1e8)
        super().__init__(env, InverseCovariance(env.num_envs, latent, ridge), latent, hidden, lr)
        self.ridge = ridge
        self.to(self.device)
