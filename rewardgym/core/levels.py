"""A pool of levels made on demand from their index, as Procgen's level seeds are.

Generating a level (a maze, a room layout) is sequential work that does not batch well. A
``LevelPool`` makes level ``i`` the first time a row asks for it, by calling ``make_level(i)``,
and keeps every made level in tensors on the env's device, so later resets are a gather.
Which level a row gets is drawn from its own random stream, so seeding stays per env.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from rewardgym.core.random import BatchRandom
from rewardgym.core.validation import check_int

MAX_LEVELS = 2**20


class LevelPool:
    """Levels ``start_level .. start_level + num_levels - 1`` (or the ids ``level_ids``), stored in the order they were made.

    ``draw(random)`` picks a level id per row; ``slots(level_ids)`` makes what is missing and
    returns where each level is stored, ``ids(slots)`` the other way; ``draw_slots(random, rows)`` does both for the rows that
    start an episode; ``pool[field]`` is a ``(levels made, ...)`` tensor of one field, indexed by
    slot, and ``values(field, slots)`` its entries for a batch of slots. Disjoint ranges of level
    ids (``start_level``) give disjoint level sets: train on ``[0, n)``, test on ``[n, n + k)``;
    ``level_ids`` names any set of levels instead (an experiment's chosen levels), drawn uniformly.
    Raises ``ValueError`` naming ``num_levels`` or ``start_level`` unless ``1 <= num_levels`` and
    ``start_level + num_levels <= MAX_LEVELS``, or naming ``levels`` unless ``level_ids`` are distinct
    ids in ``[0, MAX_LEVELS)``.
    """

    def __init__(self, make_level: Callable[[int], dict[str, np.ndarray]], num_levels: int, device: torch.device,
                 start_level: int = 0, level_ids: Sequence[int] | None = None):
        if level_ids is None:
            num_levels = check_int("num_levels", num_levels, 1, MAX_LEVELS)
            start_level = check_int("start_level", start_level, 0, MAX_LEVELS - num_levels)
            ids = torch.arange(start_level, start_level + num_levels)
            self.description = f"[{start_level}, {start_level + num_levels})"
        else:
            ids = torch.as_tensor([int(i) for i in level_ids], dtype=torch.int64)
            if len(ids) == 0 or len(torch.unique(ids)) != len(ids) or int(ids.min()) < 0 or int(ids.max()) >= MAX_LEVELS:
                raise ValueError(f"levels must be distinct level ids in [0, {MAX_LEVELS}), got {list(level_ids)}")
            self.description = str(ids.tolist())
        self.num_levels = len(ids)
        self.level_ids = ids  # the pool's levels, in the order ``draw`` indexes them
        self._draw_ids = ids.to(device)
        self._sorted_ids, self._position_of_sorted = torch.sort(ids)
        self.device = device
        self._make_level = make_level
        self._slot_of = torch.full((self.num_levels,), -1, dtype=torch.int64)  # by position in ``level_ids``
        self._id_of = torch.zeros(0, dtype=torch.int64, device=device)  # by slot
        self._count = 0
        self._fields: dict[str, torch.Tensor] = {}

    def draw(self, random: BatchRandom) -> torch.Tensor:
        """A level id per row of ``random``, uniform over the pool's levels."""
        return self._draw_ids[random.integers(self.num_levels, 1)[:, 0]]

    def draw_slots(self, random: BatchRandom, rows: torch.Tensor) -> torch.Tensor:
        """The slots of the levels drawn for the rows of the bool mask ``rows`` (made if new).

        Every row's stream draws, as in ``draw``; only the masked rows' levels are used.
        """
        return self.slots(self.draw(random)[rows])

    def slots(self, level_ids: torch.Tensor) -> torch.Tensor:
        """The storage slot of each level in ``level_ids``, making the levels not made yet.

        Raises ``ValueError`` for an id that is not one of the pool's levels.
        """
        ids = level_ids.cpu()
        where = torch.searchsorted(self._sorted_ids, ids).clamp(max=self.num_levels - 1)
        if len(ids) and not bool((self._sorted_ids[where] == ids).all()):
            raise ValueError(f"level ids must be among the pool's levels {self.description}, got {level_ids.tolist()}")
        index = self._position_of_sorted[where]
        missing = torch.unique(index[self._slot_of[index] < 0])
        for position in missing.tolist():
            self._store(self._make_level(int(self.level_ids[position])))
            self._slot_of[position] = self._count - 1
        if len(missing):
            self._id_of = torch.cat([self._id_of, self.level_ids[missing].to(self.device)])
        return self._slot_of[index].to(self.device)

    def ids(self, slots: torch.Tensor) -> torch.Tensor:
        """The level id stored in each of ``slots``."""
        return self._id_of.index_select(0, slots)

    def _store(self, level: dict[str, np.ndarray]) -> None:
        for key, value in level.items():
            value = torch.as_tensor(np.asarray(value), device=self.device)
            stored = self._fields.get(key)
            if stored is None or stored.shape[0] == self._count:  # full: double the capacity
                grown = torch.zeros((max(1, 2 * self._count), *value.shape), dtype=value.dtype, device=self.device)
                if stored is not None:
                    grown[: self._count] = stored
                self._fields[key] = stored = grown
            stored[self._count] = value
        self._count += 1

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._fields[key]

    def values(self, field: str, slots: torch.Tensor) -> torch.Tensor:
        """``field`` of the level in each of ``slots`` (shape ``(len(slots), ...)``)."""
        return self._fields[field].index_select(0, slots)

    def gather(self, field: str, slots: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Per row, entries ``index[row]`` of level ``slots[row]``'s ``field``, a per-square table ``(squares, ...)``.

        ``index``: ``(rows,)`` or ``(rows, k)`` square indices; the result has shape ``(*index.shape, ...)``.
        """
        values = self._fields[field]
        squares, entry = values.shape[1], values.shape[2:]
        entries = values.view(-1, *entry)  # every level's squares one after another
        if index.dim() == 1:
            return entries.index_select(0, slots * squares + index)
        flat = (slots.view(-1, *([1] * (index.dim() - 1))) * squares + index).view(-1)
        return entries.index_select(0, flat).view(*index.shape, *entry)  # faster than [] with 2-D indices on CPU
