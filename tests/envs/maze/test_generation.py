"""Maze generation: every level is a solvable maze whose stored distances match a fresh BFS."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from rewardgym.envs.maze.generation import GENERATORS, make_maze_level


def reference_bfs(open_squares: np.ndarray, source: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Shortest move counts from ``source`` over open squares, written independently of the package."""
    distance = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if open_squares[nr, nc] and (nr, nc) not in distance:
                distance[(nr, nc)] = distance[(r, c)] + 1
                queue.append((nr, nc))
    return distance


def unpack(level: dict, size: int):
    grid = 2 * size + 1
    walls = level["walls"].reshape(grid, grid)
    start, goal = divmod(int(level["start"]), grid), divmod(int(level["goal"]), grid)
    return walls, start, goal


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("size", [2, 5, 12])
@pytest.mark.parametrize("braid", [0.0, 0.5])
def test_every_level_is_solvable_and_its_optimal_length_is_the_bfs_length(generator, size, braid):
    for level_id in range(25):
        level = make_maze_level(size, generator, braid, 2 * size, level_id)
        walls, start, goal = unpack(level, size)
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all(), "closed border"
        from_goal = reference_bfs(~walls, goal)
        open_squares = list(zip(*np.nonzero(~walls)))
        assert all(square in from_goal for square in open_squares), "every open square is reachable"
        assert level["optimal_length"] == from_goal[start]
        stored = level["distance"].reshape(walls.shape)
        for square in open_squares:
            assert stored[square] == from_goal[square]


@pytest.mark.parametrize("generator", GENERATORS)
def test_perfect_mazes_are_spanning_trees_and_braiding_adds_loops(generator):
    size = 8
    for level_id in range(10):
        walls, _, _ = unpack(make_maze_level(size, generator, 0.0, 0, level_id), size)
        cells = size * size
        passages = int((~walls).sum()) - cells  # open squares between cells
        assert passages == cells - 1, "a perfect maze is a spanning tree of the cells"
        braided, _, _ = unpack(make_maze_level(size, generator, 1.0, 0, level_id), size)
        assert int((~braided).sum()) - cells > cells - 1


def test_goal_is_at_least_min_distance_away_when_possible():
    for level_id in range(30):
        level = make_maze_level(6, "kruskal", 0.0, 10, level_id)
        assert level["optimal_length"] >= 10


def test_levels_are_deterministic_and_vary_with_their_id():
    a = make_maze_level.__wrapped__(7, "wilson", 0.2, 7, 3)
    b = make_maze_level.__wrapped__(7, "wilson", 0.2, 7, 3)
    c = make_maze_level.__wrapped__(7, "wilson", 0.2, 7, 4)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    assert not np.array_equal(a["walls"], c["walls"])


def test_generators_differ_in_character():
    """DFS mazes have far fewer dead ends than Kruskal's (long corridors vs many short branches)."""

    def dead_ends(generator: str) -> float:
        counts = []
        for level_id in range(20):
            walls, _, _ = unpack(make_maze_level(10, generator, 0.0, 0, level_id), 10)
            cells = [(2 * r + 1, 2 * c + 1) for r in range(10) for c in range(10)]
            counts.append(sum(sum(not walls[r + dr, c + dc] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))) == 1
                              for r, c in cells))
        return float(np.mean(counts))

    assert dead_ends("dfs") < 0.7 * dead_ends("kruskal")
