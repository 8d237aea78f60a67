"""Maze family: GridMaze (discrete moves) and PointMaze (a continuous point mass)."""

from rewardgym.core import register_env
from rewardgym.envs.maze.grid_maze import GridMaze, GridMazeVector
from rewardgym.envs.maze.point_maze import PointMaze, PointMazeVector

register_env("GridMaze-v0", GridMaze, GridMazeVector)
register_env("PointMaze-v1", PointMaze, PointMazeVector)

__all__ = ["GridMaze", "GridMazeVector", "PointMaze", "PointMazeVector"]
