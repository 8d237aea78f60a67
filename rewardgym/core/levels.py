"""A pool of levels made on demand from their index, as Procgen's level seeds are.

Generating a level (a maze, a room layout) is sequential work that does not batch well. A
``LevelPool`` makes level ``i`` the first time a row asks for it, by calling ``make_level(i)``,
and keeps every made level in tensors on the env's device, so later resets are a gather.
Which level a row gets is drawn from its own random stream, so seeding stays per env.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


class LevelPool:
    """Levels ``0 .. num_levels - 1``; ``pool[key]`` is a ``(num_levels, ...)`` tensor of one field."""

    def __init__(self, make_level: Callable[[int], dict[str, np.ndarray]], num_levels: int, device: torch.device):
        self.num_levels = num_levels
        self.device = device
        self._make_level = make_level
        self._made = torch.zeros(num_levels, dtype=torch.bool)
        self._fields: dict[str, torch.Tensor] = {}

    def ensure(self, level_ids: torch.Tensor) -> None:
        """Make every level in ``level_ids`` that has not been made yet."""
        ids = level_ids.cpu()
        missing = torch.unique(ids[~self._made[ids]])
        for level_id in missing.tolist():
            for key, value in self._make_level(level_id).items():
                if key not in self._fields:
                    self._fields[key] = torch.zeros(
                        (self.num_levels, *np.shape(value)), dtype=torch.from_numpy(np.asarray(value)).dtype, device=self.device
                    )
                self._fields[key][level_id] = torch.as_tensor(value, device=self.device)
        self._made[missing] = True

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._fields[key]
