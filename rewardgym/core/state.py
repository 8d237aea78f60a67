"""``EnvState``: the whole state of a batch of envs, as one object of batched tensors.

``env.get_state()`` returns it and ``env.set_state(state, rows)`` puts it back, into the same env,
another env of the same task, or other rows: Go-Explore's return to a saved cell, a planner's
branches, the tabular analysis of a maze. Every tensor has the batch as its first dimension, so
``state[rows]`` selects rows as a tensor would, and a state from a batch of 64 restores into a
batch of 8. It holds values, never references into the env: stepping the env does not change a
saved state.

Entries are named ``"core.<name>"`` for what every env has (random stream keys, episode and step
counters, the pending autoreset, the shaping potentials Φ) and ``"task.<name>"`` for the task's own
tensors (positions, level ids, engine state, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

Tensor = torch.Tensor
RowIndex = int | slice | Sequence[int] | np.ndarray | Tensor


@dataclass(frozen=True)
class EnvState:
    """The state of ``len(state)`` rows of the env class named ``env``.

    Attributes:
        env: the qualified name of the ``TorchVectorEnv`` class the state belongs to.
        signature: the constructor arguments that shape the state (e.g. a maze's size), so a state
            does not restore into an env whose tensors mean something else.
        tensors: every entry, each of shape ``(rows, ...)``.
    """

    env: str
    signature: tuple[tuple[str, str], ...]
    tensors: Mapping[str, Tensor]

    def __post_init__(self) -> None:
        sizes = {name: value.shape[0] if value.dim() else None for name, value in self.tensors.items()}
        if len(set(sizes.values())) > 1 or None in sizes.values():
            raise ValueError(f"an EnvState's tensors must share their first (row) dimension, got {sizes}")

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0] if self.tensors else 0

    def __getitem__(self, rows: RowIndex) -> EnvState:
        """The state of the selected rows (an int keeps its row dimension: ``state[3]`` has one row)."""
        if isinstance(rows, int):
            rows = slice(rows, rows + 1) if rows != -1 else slice(-1, None)
        elif not isinstance(rows, slice):
            rows = torch.as_tensor(np.asarray(rows) if not isinstance(rows, Tensor) else rows)
            if rows.dtype == torch.bool:
                rows = rows.nonzero().squeeze(1)
        return EnvState(self.env, self.signature, {name: value[rows.to(value.device) if isinstance(rows, Tensor)
                                                                 else rows].clone()
                                                   for name, value in self.tensors.items()})

    def to(self, device: str | torch.device) -> EnvState:
        """The same state with every tensor on ``device``."""
        return EnvState(self.env, self.signature, {name: value.to(device) for name, value in self.tensors.items()})

    @staticmethod
    def concatenate(states: Sequence[EnvState]) -> EnvState:
        """The rows of ``states`` one after another (all of one env and signature)."""
        first = states[0]
        if any((s.env, s.signature, set(s.tensors)) != (first.env, first.signature, set(first.tensors)) for s in states):
            raise ValueError("EnvState.concatenate: the states belong to different envs or configurations")
        return EnvState(first.env, first.signature,
                        {name: torch.cat([s.tensors[name] for s in states]) for name in first.tensors})
