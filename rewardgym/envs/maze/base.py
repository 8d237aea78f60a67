"""What the maze envs share: maze arguments, the level pool, per-row level lookups and drawing."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch

from rewardgym.core import TorchVectorEnv, rendering
from rewardgym.core.levels import LevelPool
from rewardgym.core.rendering import FLOOR_COLOUR, WALL_COLOUR
from rewardgym.core.validation import check_bool, check_choice, check_float, check_int
from rewardgym.envs.maze.generation import GENERATORS, make_maze_level

FAR_COLOUR = np.array((68, 1, 84))  # heat map: far from the goal ...
NEAR_COLOUR = np.array((253, 231, 37))  # ... and near it


class MazeVectorEnv(TorchVectorEnv):
    """A batched maze task: each row plays one level from a pool of procedurally generated mazes.

    Maze arguments:
        size: cells per side (2–64); the grid has ``2 * size + 1`` squares per side.
        generator: ``"dfs"``, ``"kruskal"`` or ``"wilson"`` (see ``generation``).
        braid: probability of opening each dead end, adding loops (0 keeps the maze perfect).
        min_distance: the least number of moves from start to goal (default: ``2 * size``).
        num_levels: how many distinct levels the pool holds; each episode plays a level
            drawn from a hash of (seed, episode), made on first use (as Procgen's ``num_levels``).
        start_level: the first level id (default 0): episodes play levels
            ``[start_level, start_level + num_levels)``, so ``start_level=num_levels`` gives
            held-out levels (``start_level + num_levels`` at most ``MAX_LEVELS``, 2²⁰).
        levels: instead of a range, the level ids to play (distinct, e.g. levels an experiment
            chose for a property), drawn uniformly; ``num_levels`` and ``start_level`` stay at
            their defaults. Evaluation then plays the same levels.
        render_potential: draw the task potential as a heat map under the maze.
        max_episode_steps: by default ``steps_per_size_squared * size²``.
    """

    steps_per_size_squared: ClassVar[int]
    level_slots = {"level": "levels"}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        size: int,
        generator: str = "dfs",
        braid: float = 0.0,
        min_distance: int | None = None,
        num_levels: int = 1024,
        start_level: int = 0,
        levels: Sequence[int] | None = None,
        max_episode_steps: int | None = None,
        render_potential: bool = False,
        **core: Any,
    ):
        size = check_int("size", size, 2, 64)
        check_choice("generator", generator, GENERATORS)
        braid = check_float("braid", braid, 0.0, 1.0)
        min_distance = check_int("min_distance", 2 * size if min_distance is None else min_distance, 0)
        render_potential = check_bool("render_potential", render_potential)
        if max_episode_steps is None:
            max_episode_steps = self.steps_per_size_squared * size**2
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)
        self.size = size
        self.grid = 2 * size + 1
        self.generator = generator
        self.render_potential = render_potential
        make_level = partial(make_maze_level, size, generator, braid, min_distance)
        if levels is not None and (num_levels != 1024 or start_level != 0):
            raise ValueError(f"give levels or num_levels/start_level, not both: got levels={levels}, "
                             f"num_levels={num_levels}, start_level={start_level}")
        self.levels = LevelPool(lambda level_id: self._prepare_level(make_level(level_id)), num_levels, self.device,
                                start_level, levels)
        self.level = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)  # slot in the pool
        self.square_pixels = max(4, 480 // self.grid)
        self.frame_size = (self.grid * self.square_pixels, self.grid * self.square_pixels)

    def _prepare_level(self, level: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A generated level with any per-square tables the task precomputes (none by default)."""
        return level

    def _new_levels(self, rows: torch.Tensor) -> None:
        """Give the masked rows the level their random stream picks."""
        self.level[rows] = self.levels.draw_slots(self.random, rows)

    def _at(self, field: str, square: torch.Tensor) -> torch.Tensor:
        """``field`` of each row's level at that row's flat square index (``square``: shape (num_envs, ...))."""
        return self.levels.gather(field, self.level, square)

    def _level_value(self, field: str) -> torch.Tensor:
        """A per-level scalar ``field`` for each row."""
        return self.levels.values(field, self.level)

    # -- drawing ------------------------------------------------------------------------------

    def _square_potentials(self, row: int) -> np.ndarray:
        """The geodesic potential −distance / optimal length at every square of a row's maze; NaN on walls."""
        distance = self.levels["distance"][self.level[row]].view(self.grid, self.grid).float().cpu().numpy()
        scale = max(float(self._level_value("optimal_length")[row]), 1.0)
        return np.where(distance >= 0, -distance / scale, np.nan)

    def _draw_maze(self, surface: Any, row: int) -> None:
        """Walls and floor of row ``row``'s maze; the floor shows the potential if ``render_potential``."""
        pygame = rendering.pygame_module()
        walls = self.levels["walls"][self.level[row]].view(self.grid, self.grid).cpu().numpy()
        surface.fill(WALL_COLOUR)
        heat = None
        if self.render_potential:
            heat = self._square_potentials(row)
            low, high = np.nanmin(heat), np.nanmax(heat)
            heat = (heat - low) / max(high - low, 1e-9)
        px = self.square_pixels
        for r, c in zip(*np.nonzero(~walls)):
            colour = FLOOR_COLOUR if heat is None else tuple(int(v) for v in FAR_COLOUR + heat[r, c] * (NEAR_COLOUR - FAR_COLOUR))
            pygame.draw.rect(surface, colour, (c * px, r * px, px, px))

    def _draw_square(self, surface: Any, square: int, colour: tuple[int, int, int]) -> None:
        """Fill one grid square (a flat index)."""
        r, c = divmod(square, self.grid)
        px = self.square_pixels
        rendering.pygame_module().draw.rect(surface, colour, (c * px, r * px, px, px))

    def _draw_disc(self, surface: Any, x: float, y: float, radius: float, colour: tuple[int, int, int]) -> None:
        """A disc centred at grid coordinates (x along columns, y along rows), radius in squares."""
        px = self.square_pixels
        rendering.pygame_module().draw.circle(surface, colour, (int(x * px), int(y * px)), max(2, int(radius * px)))
