"""GridMaze: reach the goal square of a procedurally generated maze, one square per move."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import single_env_class
from rewardgym.core.rendering import AGENT_COLOUR, GOAL_COLOUR
from rewardgym.core.validation import check_choice, check_int
from rewardgym.envs.maze.base import MazeVectorEnv

OBSERVATIONS = ("top_down", "egocentric")
#: The actions in order (0 up, 1 right, 2 down, 3 left), as (row, column) steps on the grid.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


class GridMazeVector(MazeVectorEnv):
    """Find the goal in a maze of ``size × size`` cells, drawn on a ``(2 size + 1)²`` grid.

    ## Action space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left. A move into a wall leaves the agent in place.

    ## Observation space
    - ``observation="top_down"`` (default): ``Box(0, 1, (3, G, G), uint8)`` with channels
      wall, agent, goal over the whole grid (``G = 2 size + 1``).
    - ``observation="egocentric"``: ``Box(-1, 1, (2 k² + 2,), float32)``: the walls and the goal
      in the ``k × k`` squares around the agent (``k = view_size``; outside the grid counts as
      wall), then the goal's offset (rows, columns) divided by ``G``.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 on reaching the goal, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = −(BFS moves to the goal) / (optimal length) |
    | ``euclidean`` | sparse + shaping with Φ = −(straight-line distance) / (optimal length): it has local optima at dead ends that point at the goal |

    ``info["reward_terms"]`` holds ``sparse``, ``shaping_geodesic`` and ``shaping_euclidean``.

    ## Episode end
    Terminates on reaching the goal; truncates after ``max_episode_steps`` (default ``4 size²``).

    ## Arguments
    The maze arguments of ``MazeVectorEnv`` (``size`` default 9), ``observation``, ``view_size``
    (odd, default 5), and the common ones of ``TorchVectorEnv``.
    """

    steps_per_size_squared = 4
    potentials = ("geodesic", "euclidean")
    state_fields = ("level", "position", "goal")
    keys_to_action = {(ord("w"),): 0, (ord("d"),): 1, (ord("s"),): 2, (ord("a"),): 3}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        size: int = 9,
        observation: str = "top_down",
        view_size: int = 5,
        **kwargs: Any,
    ):
        self.observation_kind = check_choice("observation", observation, OBSERVATIONS)
        self.view_size = check_int("view_size", view_size, 1, 15)
        if self.view_size % 2 == 0:
            raise ValueError(f"view_size must be odd, got {view_size}")
        super().__init__(num_envs, size=size, **kwargs)
        grid = self.grid
        self._moves = torch.tensor([d_row * grid + d_column for d_row, d_column in MOVES], device=self.device)
        self.position = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.goal = torch.zeros_like(self.position)

        if self.observation_kind == "top_down":
            self._squares = torch.arange(grid * grid, device=self.device)
            observation_space = spaces.Box(0, 1, (3, grid, grid), np.uint8)
        else:
            half = self.view_size // 2
            rows, cols = torch.meshgrid(torch.arange(-half, half + 1), torch.arange(-half, half + 1), indexing="ij")
            self._view_rows = rows.reshape(1, -1).to(self.device)
            self._view_cols = cols.reshape(1, -1).to(self.device)
            observation_space = spaces.Box(-1, 1, (2 * self.view_size**2 + 2,), np.float32)
        self._set_spaces(observation_space, spaces.Discrete(4))

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: torch.Tensor) -> None:
        self._new_levels(rows)
        self.position = torch.where(rows, self._level_value("start"), self.position)
        self.goal = torch.where(rows, self._level_value("goal"), self.goal)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        target = self.position + self._moves[action]
        blocked = self._at("walls", target)
        self.position = torch.where(blocked, self.position, target)
        return {}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.position == self.goal

    def _prepare_level(self, level: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Adds ``potential``: Φ of every square, ``(squares, 2)`` float32 columns geodesic and euclidean.

        Both are divided by the level's optimal length (at least 1). Reading Φ is then one lookup
        per step; the values are the same float32 numbers the formulas give at run time.
        """
        squares = np.arange(self.grid * self.grid)
        goal_row, goal_column = divmod(int(level["goal"]), self.grid)
        offset_squared = (squares // self.grid - goal_row) ** 2 + (squares % self.grid - goal_column) ** 2
        euclidean = np.sqrt(offset_squared.astype(np.float32))
        scale = np.float32(max(int(level["optimal_length"]), 1))
        potential = np.stack([-level["distance"].astype(np.float32), -euclidean], axis=1) / scale
        return {**level, "potential": potential}

    def _potentials(self) -> dict[str, torch.Tensor]:
        phi = self._at("potential", self.position)
        return {"geodesic": phi[:, 0], "euclidean": phi[:, 1]}

    def _observe(self) -> torch.Tensor:
        if self.observation_kind == "top_down":
            return self._observe_top_down()
        return self._observe_egocentric()

    def _observe_top_down(self) -> torch.Tensor:
        walls = self.levels["walls"].index_select(0, self.level)
        agent, goal = self._squares == self.position.unsqueeze(1), self._squares == self.goal.unsqueeze(1)
        return torch.stack([walls, agent, goal], dim=1).to(torch.uint8).view(self.num_envs, 3, self.grid, self.grid)

    def _observe_egocentric(self) -> torch.Tensor:
        row_col = self._row_col(self.position)
        goal = self._row_col(self.goal)
        rows = row_col[:, :1] + self._view_rows
        cols = row_col[:, 1:] + self._view_cols
        inside = (rows >= 0) & (rows < self.grid) & (cols >= 0) & (cols < self.grid)
        squares = (rows.clamp(0, self.grid - 1) * self.grid + cols.clamp(0, self.grid - 1))
        walls = self._at("walls", squares) | ~inside
        goal_seen = (rows == goal[:, :1]) & (cols == goal[:, 1:])
        direction = (goal - row_col).float() / self.grid
        return torch.cat([walls.float(), goal_seen.float(), direction], dim=1)

    def _row_col(self, square: torch.Tensor) -> torch.Tensor:
        return torch.stack([square // self.grid, square % self.grid], dim=-1)

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        self._draw_maze(surface, row)
        self._draw_square(surface, int(self.goal[row]), GOAL_COLOUR)
        r, c = divmod(int(self.position[row]), self.grid)
        self._draw_disc(surface, c + 0.5, r + 0.5, 0.35, AGENT_COLOUR)


GridMaze = single_env_class(GridMazeVector, "GridMaze")
