"""Count-based bonuses, and the machinery every bonus with a memory of visited states shares.

- ``hash_features``: a 62-bit hash of each observation's exact feature values.
- ``CountTable``: a batched hash → count table in torch, global or one per env.
- ``MemoryBonus``: the base of bonuses that scan a batch's steps in order through a memory of
  visited states (counts, NovelD's first visits, E3B's covariance, NGU's embeddings), adding each
  episode's start state and clearing per-env memories where episodes end.
- ``CountBonus``: β / √n(s'), with exact or SimHash state codes, global or episodic.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import torch
from torch import nn

from rewardgym.core.random import combine
from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.wrappers.intrinsic.base import Bonus, RunningMeanStd, Transitions

HASHINGS = ("exact", "simhash")
_PRIME = (1 << 31) - 1  # each lane hashes modulo this prime
_COEFFICIENT_BITS = 21
_CHUNK = 1 << 15  # halves per matmul: 2**15 terms of 16 + 21 bits sum below 2**53, exact in float64


@functools.lru_cache(maxsize=32)
def _coefficients(length: int, device: torch.device) -> torch.Tensor:
    """Fixed pseudo-random integer coefficients ``(length, 2)`` below 2**21, as float64."""
    index = torch.arange(length, dtype=torch.int64, device=device)
    lanes = [combine(index, lane) & ((1 << _COEFFICIENT_BITS) - 1) for lane in range(2)]
    return torch.stack(lanes, dim=1).double()


def _hash_halves(halves: torch.Tensor) -> torch.Tensor:
    """62-bit hashes of vectors of 16-bit integers given as float64 ``(..., H) -> (...)``.

    Each of two lanes computes Σ_j a_j h_j mod p (p = 2**31 − 1) with fixed pseudo-random
    coefficients a_j < 2**21: two vectors that differ collide in a lane with probability about
    1/p, so in both with about 2**-62 — negligible for any number of states a run can visit. The
    sums are float64 matrix products whose every partial sum is an integer below 2**53, so they
    are exact in any order, on any device, and as fast as a matmul.
    """
    coefficients = _coefficients(halves.shape[-1], halves.device)
    lanes = torch.zeros((*halves.shape[:-1], 2), dtype=torch.int64, device=halves.device)
    for part, weights in zip(halves.split(_CHUNK, dim=-1), coefficients.split(_CHUNK)):
        lanes = (lanes + (part @ weights).long()) % _PRIME
    return (lanes[..., 0] << 31) | lanes[..., 1]


def hash_values(values: torch.Tensor) -> torch.Tensor:
    """62-bit hashes (int64 in ``[0, 2**62)``) of vectors of 32-bit values ``(..., D) -> (...)``."""
    return _hash_halves(values.to(torch.int32).contiguous().view(torch.int16).double())


def hash_features(features: torch.Tensor) -> torch.Tensor:
    """62-bit hashes of float feature vectors ``(..., D) -> (...)``, from their exact float32 bits."""
    canonical = features.float().contiguous() + 0.0  # -0.0 becomes 0.0
    return _hash_halves(canonical.view(torch.int16).double())


class Memory(Protocol):
    """What ``MemoryBonus`` needs of a memory of visited states, batched over ``N`` envs.

    ``x`` is one step of per-env inputs ``(N, ...)`` (state codes or embeddings); ``rows`` a
    boolean mask ``(N,)``. Rows outside ``rows`` are neither recorded nor changed.
    """

    def add(self, x: torch.Tensor, rows: torch.Tensor) -> None:
        """Record a visit of ``x`` in ``rows``."""

    def visit(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Record a visit of ``x`` in ``rows`` and return each row's value of it, ``(N,)``."""

    def forget(self, rows: torch.Tensor) -> None:
        """Clear the memory of ``rows`` (a no-op for a global memory)."""


class CountTable(nn.Module):
    """Visit counts of 62-bit state codes, kept sorted for ``searchsorted``; grows as codes appear.

    ``per_env=False``: one table shared by every env, never cleared. ``per_env=True``: one table
    per env (each code is salted with its env), and ``forget(rows)`` clears those envs' counts.
    Within one call of ``visit``, every visit is recorded before counts are read, so two envs
    reaching the same state in the same step both see a count that includes both visits.
    """

    def __init__(self, num_envs: int, per_env: bool):
        super().__init__()
        self.per_env = per_env
        envs = torch.arange(num_envs, dtype=torch.int64)
        salt = hash_values(envs.unsqueeze(1)) if per_env else torch.zeros_like(envs)
        self.register_buffer("env_index", envs if per_env else torch.zeros_like(envs), persistent=False)
        self.register_buffer("salt", salt, persistent=False)
        self.register_buffer("keys", torch.zeros(0, dtype=torch.int64))  # sorted
        self.register_buffer("counts", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("owners", torch.zeros(0, dtype=torch.int64))  # the env of each key

    def add(self, codes: torch.Tensor, rows: torch.Tensor) -> None:
        keys = codes[rows] ^ self.salt[rows]
        if keys.numel() == 0:
            return
        unique, inverse, repeats = torch.unique(keys, return_inverse=True, return_counts=True)
        position, found = self._find(unique)
        self.counts[position[found]] += repeats[found]
        if not bool(found.all()):
            owners = torch.zeros_like(unique).scatter_(0, inverse, self.env_index[rows])
            self._insert(unique[~found], repeats[~found], owners[~found])

    def visit(self, codes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The count of each row's code after recording this visit; 0 outside ``rows``."""
        self.add(codes, rows)
        position, _ = self._find(codes[rows] ^ self.salt[rows])
        counts = torch.zeros_like(codes)
        counts[rows] = self.counts[position]
        return counts

    def forget(self, rows: torch.Tensor) -> None:
        if not self.per_env or not bool(rows.any()):
            return
        keep = ~rows[self.owners]
        self.keys, self.counts, self.owners = self.keys[keep], self.counts[keep], self.owners[keep]

    def _find(self, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Where each key is or would go in the table, and whether it is there."""
        position = torch.searchsorted(self.keys, keys)
        inside = position < self.keys.numel()
        stored = torch.full_like(keys, -1)  # keys are non-negative, so -1 matches nothing
        stored[inside] = self.keys[position[inside]]
        return position, stored == keys

    def _insert(self, keys: torch.Tensor, counts: torch.Tensor, owners: torch.Tensor) -> None:
        """Merge sorted new keys into the sorted table in one pass."""
        total = self.keys.numel() + keys.numel()
        is_new = torch.zeros(total, dtype=torch.bool, device=keys.device)
        is_new[torch.searchsorted(self.keys, keys) + torch.arange(keys.numel(), device=keys.device)] = True
        merged = []
        for old, new in ((self.keys, keys), (self.counts, counts), (self.owners, owners)):
            column = old.new_empty(total)
            column[is_new], column[~is_new] = new, old
            merged.append(column)
        self.keys, self.counts, self.owners = merged

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # The table's size is data: take the saved size before the default copy-in.
        for name in ("keys", "counts", "owners"):
            if prefix + name in state_dict:
                setattr(self, name, getattr(self, name).new_empty(state_dict[prefix + name].shape))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MemoryBonus(Bonus):
    """Base of bonuses read from a memory of visited states (see ``Memory``), one step at a time.

    ``scan`` walks a batch's steps in order, and for each env that made a transition at step t:

    1. if the transition starts the env's episode (its first since the episode before ended, or
       since the bonus was built), the start state s_t is added to memory, so that the memory of
       an episode holds all its states s_0, s_1, … (as NGU's memory does, and the e3b
       repository's counts and covariance, which take in each episode's first observation);
    2. s_{t+1} is visited: the memory returns the row's value and records the visit;
    3. if the row terminated or truncated at t, its memory is cleared right away (at this step,
       not one step late), so the next episode starts from an empty memory.

    Rows that made no transition (``valid`` False) get value 0, change no memory and end no
    episode: their ``terminated``/``truncated`` flags are ignored.

    Subclasses turn transitions into per-step memory inputs (state codes, embeddings) and the
    values into a bonus.
    """

    def __init__(self, env: Any, memory: Memory):
        super().__init__(env)
        self.memory = memory
        self.register_buffer("starting", torch.ones(self.num_envs, dtype=torch.bool))

    def episode_started(self, rows: torch.Tensor) -> None:
        """A reset the memory was not told of by an ended step: clear the rows and take their next start state."""
        self.memory.forget(rows)
        self.starting = self.starting | rows

    def scan(self, transitions: Transitions, start: torch.Tensor, reached: torch.Tensor) -> torch.Tensor:
        """The ``(T, N)`` values of visiting ``reached[t]`` (inputs for s_{t+1}); ``start[t]``: inputs for s_t."""
        values = []
        for t in range(transitions.valid.shape[0]):
            valid = transitions.valid[t]
            starting = valid & self.starting
            if bool(starting.any()):
                self.memory.add(start[t], starting)
            values.append(torch.where(valid, self.memory.visit(reached[t], valid), 0))
            ended = transitions.done[t] & valid
            self.memory.forget(ended)
            self.starting = (self.starting & ~valid) | ended
        return torch.stack(values)


class CountBonus(MemoryBonus):
    """Count-based bonus b = β / √n(s'), with n(s') the visits of s' including this one.

    The classic MBIE-EB bonus over state codes (#Exploration, Tang et al. 2017):

    - ``hashing="exact"``: the code is a 62-bit hash of s' 's exact feature values
      (``hash_features``); collisions are negligible, so n counts the state itself.
    - ``hashing="simhash"``: the code is SimHash's φ(s') = sgn(A g(s')) ∈ {−1, 1}^k, with
      A ∈ R^{k×D} drawn once from N(0, 1) and g(s) the features normalised by a running mean and
      std (clipped to ±5); similar states share a code, and the k bits are then hashed like an
      exact state. The statistics move only in ``update``, so codes are fixed between updates
      and settle as the statistics converge.

    ``episodic=False`` keeps one table for the whole of training (every episode's start state
    counts as a visit too); ``episodic=True`` keeps one per env, cleared when its episode ends:
    the episodic 1/√N_ep(s) of the e3b repository's ``counts-*`` bonuses.

    Defaults: ``beta=1.0`` (the scale is left to ``IntrinsicReward``'s coef and normalisation;
    #Exploration tuned β per domain, around 0.01 [M]), ``bits=64`` (within the k #Exploration
    explored [M]), ``hashing="exact"``, ``episodic=False``.
    """

    def __init__(self, env: Any, beta: float = 1.0, hashing: str = "exact", bits: int = 64, episodic: bool = False):
        super().__init__(env, CountTable(env.num_envs, per_env=bool(episodic)))
        self.beta = check_float("beta", beta, 0.0, 1e6)
        self.hashing = check_choice("hashing", hashing, HASHINGS)
        self.episodic = bool(episodic)
        if hashing == "simhash":
            self.obs_rms = RunningMeanStd((self.obs_size,))
            self.register_buffer("projection", torch.randn(check_int("bits", bits, 1, 4096), self.obs_size))
        self.to(self.device)

    def codes(self, features: torch.Tensor) -> torch.Tensor:
        """The state code of each feature vector ``(..., D) -> (...)``."""
        if self.hashing == "simhash":
            features = (self.obs_rms.normalize(features) @ self.projection.T > 0).float()
        return hash_features(features)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        counts = self.scan(transitions, self.codes(transitions.obs), self.codes(transitions.next_obs))
        return torch.where(counts > 0, self.beta * counts.clamp(min=1).float().rsqrt(), 0.0)

    @property
    def trains(self) -> bool:
        return self.hashing == "simhash"  # only SimHash's statistics move in ``update``

    def prepare_training(self, transitions: Transitions) -> None:
        if self.hashing == "simhash":
            self.obs_rms.update(transitions.next_obs[transitions.valid])
