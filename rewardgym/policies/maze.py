"""Oracles of the maze family: shortest paths read from each level's BFS field.

Every maze level stores ``toward`` (``generation.make_maze_level``): for each open square, a
neighbour one move closer to the goal by BFS. GridMaze's oracle steps along it; PointMaze's steers
the point mass through the same squares. ``steer_point_mass`` is the controller both point-mass
oracles (PointMaze, HiddenGoal) use.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.envs.maze.grid_maze import GridMazeVector
from rewardgym.envs.maze.point_maze import PointMazeVector
from rewardgym.envs.point_mass import PointMass
from rewardgym.policies import BatchPolicy, register_oracle

#: Desired speed per unit of distance to the target (1/s): the point mass slows down as it
#: arrives, early enough to stop without overshooting (its braking distance is v² / 2a).
STEERING_GAIN = 3.0


def steer_point_mass(point_mass: PointMass, position: torch.Tensor, velocity: torch.Tensor,
                     target: torch.Tensor) -> torch.Tensor:
    """The force ``(rows, 2)`` that heads for ``target``: the velocity wanted is ``STEERING_GAIN ×
    (target − position)`` capped at ``max_speed`` per axis, reached as nearly as one step allows."""
    wanted = (STEERING_GAIN * (target - position)).clamp(-point_mass.max_speed, point_mass.max_speed)
    return ((wanted - velocity) / (point_mass.acceleration * point_mass.dt)).clamp(-1.0, 1.0)


@register_oracle(GridMazeVector)
def grid_maze_oracle(env: GridMazeVector) -> BatchPolicy:
    """Moves to the next square of a shortest path: the goal in exactly the level's optimal length."""
    moves = torch.tensor([-env.grid, 1, env.grid, -1], device=env.device)  # actions 0 up, 1 right, 2 down, 3 left

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        step = env.levels.gather("toward", env.level, env.position) - env.position
        return (step.unsqueeze(1) == moves).int().argmax(dim=1)

    return act


@register_oracle(PointMazeVector)
def point_maze_oracle(env: PointMazeVector) -> BatchPolicy:
    """Steers the point mass to the centre of the next square on a shortest path, then onto the goal."""
    width = env.grid

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        cell = env.position.floor().long()
        square = cell[:, 1] * width + cell[:, 0]
        toward = env.levels.gather("toward", env.level, square)
        centre = torch.stack([toward % width, toward // width], dim=-1).float() + 0.5
        target = torch.where((square == env.goal_square).unsqueeze(1), env.goal, centre)
        return steer_point_mass(env.point_mass, env.position, env.velocity, target)

    return act
