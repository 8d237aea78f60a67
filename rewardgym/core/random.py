"""Per-env random streams that do not depend on the batch size or the device.

Every random number an env draws is a hash of (env key, episode index, step index, call index,
element index). The env key is derived from the seed of that sub-env alone, so sub-env ``i`` of a
batch reset with seed ``s`` draws exactly what a single env reset with seed ``s + i`` draws, and a
trajectory is the same whatever ``num_envs`` or device it runs on. Nothing here touches torch's
global generator.

The hash works on 32-bit values held in int64 tensors, so every operation is exact on any device.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
_MULTIPLIER = 0x45D9F3B  # small enough that a 32-bit value times it fits in int64
_GOLDEN = 0x9E3779B9


def mix32(x: torch.Tensor | int) -> torch.Tensor | int:
    """Hash 32-bit values (int64 tensor entries, or an int, in [0, 2**32)) to well-mixed 32-bit values."""
    x = (((x >> 16) ^ x) * _MULTIPLIER) & MASK32
    x = (((x >> 16) ^ x) * _MULTIPLIER) & MASK32
    return (x >> 16) ^ x


def combine(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    """Hash a pair of 32-bit values into one (order matters)."""
    salt = mix32(b & MASK32) if isinstance(b, int) else mix32(torch.as_tensor(b, device=a.device) & MASK32)
    return mix32(a ^ ((salt + _GOLDEN) & MASK32))


def seed_keys(seeds: torch.Tensor) -> torch.Tensor:
    """Turn non-negative int64 seeds into 32-bit stream keys."""
    return combine(mix32(seeds & MASK32), (seeds >> 32) & MASK32)


class BatchRandom:
    """Random draws for a batch of envs, one independent stream per env.

    The env sets ``keys`` (per sub-env, from its seed) and the per-env ``episode`` and ``step``
    counters that address the stream; each call to a draw method within one reset or step takes
    the next call index, so two draws in the same step are independent.
    """

    def __init__(self, num_envs: int, device: torch.device):
        self.keys = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self._address = (torch.zeros_like(self.keys), torch.zeros_like(self.keys))
        self._base: torch.Tensor | None = None
        self._call = 0

    def start(self, episode: torch.Tensor, step: torch.Tensor) -> None:
        """Address the streams at (episode, step) for every env; resets the call index."""
        self._address = (episode, step)
        self._base = None  # hashed on the first draw: most steps of most envs draw nothing
        self._call = 0

    def bits(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(num_envs, n)`` uniformly distributed 32-bit integers (int64 tensor).

        ``rows`` (env indices) draws only those envs' values, ``(len(rows), n)``: the same values
        as the full draw's rows, for the same cost in the call index.
        """
        if self._base is None:
            episode, step = self._address
            self._base = combine(combine(self.keys, episode & MASK32), step & MASK32)
        self._call += 1
        base = self._base if rows is None else self._base[rows]
        call_base = combine(base, self._call).unsqueeze(1)
        index = torch.arange(n, dtype=torch.int64, device=self.keys.device)
        return combine(call_base, index)

    def uniform(self, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(num_envs, n)`` float32 values uniform in [0, 1) (only ``rows``' values if given, as in ``bits``)."""
        return (self.bits(n, rows) >> 8).to(torch.float32) * (1.0 / (1 << 24))

    def integers(self, high: torch.Tensor | int, n: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(num_envs, n)`` int64 values uniform in [0, high); ``high`` may be per env, shape (num_envs,)
        (only ``rows``' values if given, as in ``bits``)."""
        high = torch.as_tensor(high, device=self.keys.device).reshape(-1, 1)
        if rows is not None and high.shape[0] > 1:
            high = high[rows]
        return (self.bits(n, rows) * high) >> 32

    def normal(self, n: int) -> torch.Tensor:
        """``(num_envs, n)`` float32 standard normal values (Box–Muller)."""
        u1 = 1.0 - self.uniform(n)  # in (0, 1], safe for log
        u2 = self.uniform(n)
        return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * torch.pi * u2)
