"""Procedural mazes: perfect mazes from three generators, optional loops, and BFS distances.

A maze of ``size × size`` cells is drawn on a square grid of ``2 * size + 1`` squares: cell
``(r, c)`` is square ``(2r + 1, 2c + 1)``, the square between two neighbouring cells is open when
they are connected, and everything else is wall. Agents move square by square, so walking from
one cell to the next takes two moves.

Generators (all give a spanning tree of the cell graph, a "perfect" maze):
- ``dfs``: recursive backtracker; long winding corridors, few branches.
- ``kruskal``: randomised Kruskal; many short dead ends (Procgen's maze).
- ``wilson``: loop-erased random walks; a uniformly random spanning tree, no bias.
``braid`` then opens a wall at each dead end with that probability, adding loops.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

import numpy as np

GENERATORS = ("dfs", "kruskal", "wilson")
_STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1))


def _cell_neighbours(cell: tuple[int, int], size: int) -> list[tuple[int, int]]:
    r, c = cell
    return [(r + dr, c + dc) for dr, dc in _STEPS if 0 <= r + dr < size and 0 <= c + dc < size]


def _open(walls: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> None:
    """Carve the two cells and the square between them."""
    walls[2 * a[0] + 1, 2 * a[1] + 1] = False
    walls[2 * b[0] + 1, 2 * b[1] + 1] = False
    walls[a[0] + b[0] + 1, a[1] + b[1] + 1] = False


def _is_open(walls: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    return not walls[a[0] + b[0] + 1, a[1] + b[1] + 1]


def _dfs(walls: np.ndarray, size: int, rng: np.random.Generator) -> None:
    start = (int(rng.integers(size)), int(rng.integers(size)))
    visited = {start}
    stack = [start]
    while stack:
        cell = stack[-1]
        fresh = [n for n in _cell_neighbours(cell, size) if n not in visited]
        if not fresh:
            stack.pop()
            continue
        nxt = fresh[int(rng.integers(len(fresh)))]
        _open(walls, cell, nxt)
        visited.add(nxt)
        stack.append(nxt)


def _kruskal(walls: np.ndarray, size: int, rng: np.random.Generator) -> None:
    parent = list(range(size * size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = [((r, c), (r + dr, c + dc)) for r in range(size) for c in range(size) for dr, dc in ((0, 1), (1, 0))
             if r + dr < size and c + dc < size]
    for index in rng.permutation(len(edges)):
        a, b = edges[index]
        root_a, root_b = find(a[0] * size + a[1]), find(b[0] * size + b[1])
        if root_a != root_b:
            parent[root_a] = root_b
            _open(walls, a, b)


def _wilson(walls: np.ndarray, size: int, rng: np.random.Generator) -> None:
    cells = [(r, c) for r in range(size) for c in range(size)]
    in_tree = {cells[int(rng.integers(len(cells)))]}
    for index in rng.permutation(len(cells)):
        cell = cells[index]
        if cell in in_tree:
            continue
        exit_to: dict[tuple[int, int], tuple[int, int]] = {}
        walker = cell
        while walker not in in_tree:  # the last exit from each cell erases the walk's loops
            options = _cell_neighbours(walker, size)
            exit_to[walker] = options[int(rng.integers(len(options)))]
            walker = exit_to[walker]
        walker = cell
        while walker not in in_tree:
            _open(walls, walker, exit_to[walker])
            in_tree.add(walker)
            walker = exit_to[walker]


def _braid(walls: np.ndarray, size: int, braid: float, rng: np.random.Generator) -> None:
    cells = [(r, c) for r in range(size) for c in range(size)]
    for index in rng.permutation(len(cells)):
        cell = cells[index]
        neighbours = _cell_neighbours(cell, size)
        closed = [n for n in neighbours if not _is_open(walls, cell, n)]
        is_dead_end = len(neighbours) - len(closed) == 1
        if is_dead_end and closed and rng.random() < braid:
            _open(walls, cell, closed[int(rng.integers(len(closed)))])


def generate_walls(size: int, generator: str, braid: float, rng: np.random.Generator) -> np.ndarray:
    """A ``(2 size + 1)²`` bool grid, True where a square is wall."""
    walls = np.ones((2 * size + 1, 2 * size + 1), dtype=bool)
    {"dfs": _dfs, "kruskal": _kruskal, "wilson": _wilson}[generator](walls, size, rng)
    if braid > 0:
        _braid(walls, size, braid, rng)
    return walls


def bfs_distances(walls: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Moves from ``source`` to every square (4-connected); -1 for walls and unreachable squares."""
    distance = np.full(walls.shape, -1, dtype=np.int32)
    distance[source] = 0
    queue = deque([source])
    height, width = walls.shape
    while queue:
        r, c = queue.popleft()
        for dr, dc in _STEPS:
            nr, nc = r + dr, c + dc
            if 0 <= nr < height and 0 <= nc < width and not walls[nr, nc] and distance[nr, nc] < 0:
                distance[nr, nc] = distance[r, c] + 1
                queue.append((nr, nc))
    return distance


def next_square_towards(distance: np.ndarray) -> np.ndarray:
    """For every open square, the flat index of a neighbour one move closer to the source."""
    height, width = distance.shape
    toward = np.arange(height * width, dtype=np.int64).reshape(height, width)
    for r, c in zip(*np.nonzero(distance > 0)):
        for dr, dc in _STEPS:
            if distance[r + dr, c + dc] == distance[r, c] - 1:
                toward[r, c] = (r + dr) * width + (c + dc)
                break
    return toward


@lru_cache(maxsize=8192)
def make_maze_level(size: int, generator: str, braid: float, min_distance: int, level_id: int) -> dict[str, np.ndarray]:
    """Level ``level_id`` of a maze family: walls, start and goal squares, distances to the goal.

    The start is a uniformly random cell; the goal is a uniformly random cell at least
    ``min_distance`` moves away (the farthest cells if none is that far). Squares are flat indices
    into the grid. ``optimal_length`` is the BFS length of the shortest start-to-goal path.
    """
    rng = np.random.default_rng([level_id, size, GENERATORS.index(generator), int(braid * 1e6)])
    walls = generate_walls(size, generator, braid, rng)
    width = walls.shape[1]
    start = (2 * int(rng.integers(size)) + 1, 2 * int(rng.integers(size)) + 1)
    from_start = bfs_distances(walls, start)
    cell_distances = from_start[1::2, 1::2]
    far_enough = np.argwhere(cell_distances >= min(min_distance, cell_distances.max()))
    goal_cell = far_enough[int(rng.integers(len(far_enough)))]
    goal = (2 * int(goal_cell[0]) + 1, 2 * int(goal_cell[1]) + 1)
    to_goal = bfs_distances(walls, goal)
    return {
        "walls": walls.reshape(-1),
        "start": np.int64(start[0] * width + start[1]),
        "goal": np.int64(goal[0] * width + goal[1]),
        "distance": to_goal.reshape(-1),
        "toward": next_square_towards(to_goal).reshape(-1),
        "optimal_length": np.int64(to_goal[start]),
    }
