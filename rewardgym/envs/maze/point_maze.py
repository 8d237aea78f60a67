"""PointMaze: push a point mass through a procedurally generated maze to a goal."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import GoalConditioned, single_env_class
from rewardgym.core.rendering import AGENT_COLOUR, GOAL_COLOUR
from rewardgym.core.validation import check_float
from rewardgym.envs.maze.base import MazeVectorEnv
from rewardgym.envs.point_mass import PointMass

AGENT_HALF_SIZE = 0.2  # the point is an axis-aligned box this far from its centre on each side
_EPS = 1e-4


class PointMazeVector(GoalConditioned, MazeVectorEnv):
    """A point mass (double integrator) in a maze of unit wall squares, goal-conditioned.

    Coordinates are in grid squares: ``x`` runs along columns, ``y`` along rows, square
    ``(r, c)`` covers ``[c, c + 1] × [r, r + 1]``. The agent is a box of half-size 0.2 that slides
    along walls; start and goal lie within ±0.25 of their squares' centres.

    ## Action space
    ``Box(-1, 1, (2,), float32)``: a force along x and y; velocity changes by
    ``force · acceleration · dt`` and is clipped to ``max_speed`` per axis.

    ## Observation space
    ``Dict``:
    - ``observation``: ``(x, y, vx, vy)`` and the 3×3 wall squares around the agent (13 values);
    - ``achieved_goal``: the agent's ``(x, y)``;
    - ``desired_goal``: the goal's ``(x, y)``.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when within ``goal_radius`` of the goal, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = −(geodesic distance) / (optimal length) |
    | ``dense`` | −‖achieved − desired‖ (the Gymnasium-Robotics convention) |

    The geodesic distance is the BFS distance of the agent's square plus the straight-line
    distance to the next square on the shortest path. ``compute_reward(achieved, desired, info)``
    gives the sparse or dense reward of any goals, batched, for hindsight relabelling.

    ## Episode end
    Terminates on success; truncates after ``max_episode_steps`` (default ``8 size²``: 200 for
    the default size 5). Steering along the BFS path (``policies.maze``) takes at most about 165
    steps there; uniformly random forces reach the goal in about 4% of episodes (in v0, size 4 with
    ``20 size²`` = 320 steps, in 18%).

    ## Arguments
    The maze arguments of ``MazeVectorEnv`` (``size`` default 5), ``goal_radius`` (0.45),
    ``dt`` (0.1), ``acceleration`` (10), ``max_speed`` (2.5), and the common ones.
    """

    steps_per_size_squared = 8
    potentials = ("geodesic",)
    state_fields = ("level", "position", "velocity", "goal", "goal_square", "potential_scale")
    extra_rewards = {"dense": lambda terms: terms["dense"]}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        size: int = 5,
        goal_radius: float = 0.45,
        dt: float = 0.1,
        acceleration: float = 10.0,
        max_speed: float = 2.5,
        **kwargs: Any,
    ):
        self.goal_radius = check_float("goal_radius", goal_radius, 0.01, 10.0)
        self.point_mass = PointMass(dt, acceleration, max_speed)
        step = self.point_mass.max_speed * self.point_mass.dt
        if step >= 1.0:
            raise ValueError(f"max_speed * dt must be below 1 square per step (no tunnelling), got {step}")
        super().__init__(num_envs, size=size, **kwargs)
        shape = (self.num_envs, 2)
        self.position = torch.zeros(shape, device=self.device)
        self.velocity = torch.zeros(shape, device=self.device)
        self.goal = torch.zeros(shape, device=self.device)
        self.goal_square = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self.potential_scale = torch.ones(self.num_envs, device=self.device)
        offsets = torch.arange(-1, 2, device=self.device)
        self._neighbourhood = (offsets.view(3, 1) * self.grid + offsets.view(1, 3)).reshape(1, 9)

        extent = float(self.grid)
        low = np.array([0, 0, -max_speed, -max_speed] + [0] * 9, dtype=np.float32)
        high = np.array([extent, extent, max_speed, max_speed] + [1] * 9, dtype=np.float32)
        goal_space = spaces.Box(0.0, extent, (2,), np.float32)
        observation_space = spaces.Dict(
            {"observation": spaces.Box(low, high, dtype=np.float32), "achieved_goal": goal_space, "desired_goal": goal_space}
        )
        self._set_spaces(observation_space, self.point_mass.action_space)

    # -- the task -----------------------------------------------------------------------------

    def _centre(self, square: torch.Tensor) -> torch.Tensor:
        """(x, y) of the centre of flat square indices."""
        return torch.stack([square % self.grid, square // self.grid], dim=-1).float() + 0.5

    def _reset(self, rows: torch.Tensor) -> None:
        self._new_levels(rows)
        jitter = (self.random.uniform(4) - 0.5) * 0.5
        start = self._centre(self._level_value("start")) + jitter[:, :2]
        goal = self._centre(self._level_value("goal")) + jitter[:, 2:]
        column = rows.unsqueeze(1)
        self.position = torch.where(column, start, self.position)
        self.velocity = torch.where(column, 0.0, self.velocity)
        self.goal = torch.where(column, goal, self.goal)
        self.goal_square = torch.where(rows, self._level_value("goal"), self.goal_square)
        self.potential_scale = torch.where(rows, self._level_value("optimal_length").clamp(min=1).float(), self.potential_scale)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        self.velocity = self.point_mass.accelerate(self.velocity, action)
        for axis in (0, 1):  # move along x, then along y, stopping at walls
            self._move_along(axis)
        return {}

    def _move_along(self, axis: int) -> None:
        """Move the box along one axis; if its leading edge enters a wall square, stop flush with it."""
        other = 1 - axis
        speed = self.velocity[:, axis]
        moved = self.position[:, axis] + speed * self.point_mass.dt
        forward = speed > 0
        leading = torch.where(forward, moved + AGENT_HALF_SIZE - _EPS, moved - AGENT_HALF_SIZE + _EPS).floor().long()
        across_low = (self.position[:, other] - AGENT_HALF_SIZE + _EPS).floor().long()
        across_high = (self.position[:, other] + AGENT_HALF_SIZE - _EPS).floor().long()
        hit = self._wall(axis, leading, across_low) | self._wall(axis, leading, across_high)
        flush = torch.where(forward, leading - AGENT_HALF_SIZE, leading + 1 + AGENT_HALF_SIZE)
        position, velocity = self.position.clone(), self.velocity.clone()
        position[:, axis] = torch.where(hit, flush, moved)
        velocity[:, axis] = torch.where(hit, 0.0, speed)
        self.position, self.velocity = position, velocity

    def _wall(self, axis: int, along: torch.Tensor, across: torch.Tensor) -> torch.Tensor:
        row, column = (across, along) if axis == 0 else (along, across)
        return self._at("walls", row * self.grid + column)

    def _distance_to_goal(self) -> torch.Tensor:
        return torch.linalg.vector_norm(self.position - self.goal, dim=-1)

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._distance_to_goal() <= self.goal_radius

    def _reward_terms(self, success: torch.Tensor, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sparse": success.float(), "dense": -self._distance_to_goal()}

    def _potentials(self) -> dict[str, torch.Tensor]:
        square = self._square_of(self.position)
        toward = self._at("toward", square)
        via_next = self._at("distance", square).float() - 1 + torch.linalg.vector_norm(self.position - self._centre(toward), dim=-1)
        geodesic = torch.where(square == self.goal_square, self._distance_to_goal(), via_next)
        return {"geodesic": -geodesic / self.potential_scale}

    def _square_of(self, position: torch.Tensor) -> torch.Tensor:
        cell = position.floor().long()
        return cell[:, 1] * self.grid + cell[:, 0]

    def _observe(self) -> dict[str, torch.Tensor]:
        walls = self._at("walls", self._square_of(self.position).unsqueeze(1) + self._neighbourhood)
        observation = torch.cat([self.position, self.velocity, walls.float()], dim=1)
        return {"observation": observation, "achieved_goal": self.position.clone(), "desired_goal": self.goal.clone()}

    def _sparse_goal_reward(self, distance: torch.Tensor) -> torch.Tensor:
        return (distance <= self.goal_radius).float()

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        self._draw_maze(surface, row)
        goal_x, goal_y = self.goal[row].tolist()
        self._draw_disc(surface, goal_x, goal_y, self.goal_radius, GOAL_COLOUR)
        x, y = self.position[row].tolist()
        self._draw_disc(surface, x, y, AGENT_HALF_SIZE, AGENT_COLOUR)


PointMaze = single_env_class(PointMazeVector, "PointMaze")
