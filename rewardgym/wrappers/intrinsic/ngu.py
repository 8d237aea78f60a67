"""NGU's episodic novelty bonus (Badia et al. 2020, "Never Give Up")."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rewardgym.core.validation import check_float, check_int
from rewardgym.wrappers.intrinsic.base import RunningMeanStd
from rewardgym.wrappers.intrinsic.embedding import EmbeddingMemoryBonus


class KernelMemory(nn.Module):
    """Per-env episodic memories of embeddings ``(N, capacity, d)`` and NGU's k-NN kernel reward.

    Each env's memory is a ring buffer: once ``capacity`` embeddings are stored, a new one
    overwrites the oldest. ``visit(f, rows)`` returns NGU's reward of f against the memory as it
    was, then stores f; ``forget(rows)`` empties those envs' memories. d²_m, the running mean of
    the k-NN squared distances, is shared by all envs and kept for the whole of training.
    """

    def __init__(
        self,
        num_envs: int,
        capacity: int,
        dim: int,
        k: int,
        epsilon: float,
        cluster_distance: float,
        c: float,
        max_similarity: float,
    ):
        super().__init__()
        capacity = check_int("capacity", capacity, 1)
        self.k = min(check_int("k", k, 1), capacity)
        self.epsilon = check_float("epsilon", epsilon, 1e-12, 1e6)
        self.cluster_distance = check_float("cluster_distance", cluster_distance, 0.0, 1e6)
        self.c = check_float("c", c, 1e-12, 1e6)
        self.max_similarity = check_float("max_similarity", max_similarity, 0.0, 1e6)
        self.register_buffer("embeddings", torch.zeros(num_envs, capacity, dim))
        self.register_buffer("written", torch.zeros(num_envs, dtype=torch.int64))  # since the episode began
        self.distance_mean = RunningMeanStd()  # d²_m

    @property
    def sizes(self) -> torch.Tensor:
        """How many embeddings each env's memory holds ``(N,)``."""
        return self.written.clamp(max=self.embeddings.shape[1])

    def visit(self, f: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        distances = torch.cdist(f.unsqueeze(1), self.embeddings, compute_mode="donot_use_mm_for_euclid_dist")
        stored = torch.arange(self.embeddings.shape[1], device=f.device) < self.sizes.unsqueeze(1)
        squared = distances.squeeze(1).square().masked_fill(~stored, torch.inf)
        nearest = squared.topk(self.k, largest=False).values  # (N, k), inf past a memory's size
        self.distance_mean.update(nearest[rows.unsqueeze(1) & nearest.isfinite()])
        normalised = nearest / (self.distance_mean.mean + 1e-8)
        clustered = (normalised - self.cluster_distance).clamp(min=0.0)
        kernel = self.epsilon / (clustered + self.epsilon)  # 0 where inf: no neighbour
        similarity = kernel.sum(-1).sqrt() + self.c
        self.add(f, rows)
        return torch.where(similarity > self.max_similarity, 0.0, 1.0 / similarity)

    def add(self, f: torch.Tensor, rows: torch.Tensor) -> None:
        envs = rows.nonzero().squeeze(1)
        slots = self.written[envs] % self.embeddings.shape[1]
        self.embeddings[envs, slots] = f[envs]
        self.written = self.written + rows

    def forget(self, rows: torch.Tensor) -> None:
        self.written = torch.where(rows, 0, self.written)


class NGUEpisodic(EmbeddingMemoryBonus):
    """NGU's episodic bonus r = 1 / (√(Σ_{f_i ∈ kNN(f)} K(f, f_i)) + c), 0 when that exceeds s_m.

    f = φ(s_{t+1}) is an ``InverseDynamicsEmbedding`` (NGU's controllable-state embedding,
    trained in ``update``); its k nearest neighbours are taken among the embeddings of the
    current episode's earlier states s_0 … s_t (at most ``capacity``, the oldest overwritten
    first), by squared Euclidean distance d². NGU's algorithm (Badia et al. 2020, appendix [M]):

        d²_m ← running mean of the k-NN squared distances (updated first, over all envs)
        d_n = max(d² / d²_m − ξ, 0)            (distances below ξ are clustered to 0)
        K   = ε / (d_n + ε)
        s   = √(Σ K) + c;   r = 0 if s > s_m else 1 / s

    An embedding stored n times has K = 1 with each copy, so r falls as it recurs (to about
    1/(√min(n, k) + c)); a novel one, far from its neighbours, has K ≈ 0 and a large r (at most
    1/c). As K ≤ 1, s ≤ √k + c: with k = 10 the cut-off s_m = 8 never applies, as in NGU.
    Memories are cleared right after a step where the env terminated or truncated. (rllte's
    ``PseudoCounts`` keeps one memory across episodes, normalises by the mean of the current k
    distances rather than a running mean, and uses distances rather than squared distances:
    not done here.)

    Episodic: yes.

    Defaults: ``k=10``, ``epsilon=1e-4`` (ε), ``cluster_distance=0.008`` (ξ), ``c=1e-3``,
    ``max_similarity=8`` (s_m): NGU's values, also rllte's; ``capacity=1000`` and ``latent=32``
    are rllte's (NGU's memory holds 30000 [M]; here one per env, so smaller); ``lr=1e-3`` and
    ``hidden=256`` as ``InverseDynamicsEmbedding``; ``update`` is one Adam step of φ on the batch given.
    """

    episodic = True

    def __init__(
        self,
        env: Any,
        k: int = 10,
        epsilon: float = 1e-4,
        cluster_distance: float = 0.008,
        c: float = 1e-3,
        max_similarity: float = 8.0,
        capacity: int = 1000,
        latent: int = 32,
        hidden: int = 256,
        lr: float = 1e-3,
    ):
        memory = KernelMemory(env.num_envs, capacity, latent, k, epsilon, cluster_distance, c, max_similarity)
        super().__init__(env, memory, latent, hidden, lr)
        self.to(self.device)
