"""The construction tools, each a batched function of its operands, and the table of actions.

An action is one row of a fixed table: a tool and the indices of its operands in the object
tables (points ``p1, p2, p3``, a curve ``k``). Operands are enumerated once, without the orders
that give the same object (a line through ``i, j`` is listed for ``i < j`` only).

| tool | operands | builds | E cost |
|---|---|---|---|
| ``line`` | points ``i < j`` | the line through them | 1 |
| ``circle`` | points ``i ≠ j`` | the circle centred at ``i`` through ``j`` | 1 |
| ``perp_bisector`` | points ``i < j`` | the perpendicular bisector of ``ij`` | 3 |
| ``perpendicular`` | line ``k``, point ``i`` | the perpendicular to ``k`` through ``i`` | 3 |
| ``parallel`` | line ``k``, point ``i`` | the parallel to ``k`` through ``i`` | 4 |
| ``compass`` | points ``i < j``, point ``m`` | the circle centred at ``m`` of radius ``|ij|`` | 3 |
| ``angle_bisector`` | points ``i < k``, vertex ``j`` | the bisector of the angle ``i j k`` | 4 |

E costs are Euclidea's elementary-move counts of the advanced tools as used by the level table
(perpendicular: dropped from a point; an erected one costs 4E); they are reported, not enforced.
The bisector of a straight angle is the perpendicular at the vertex.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations, permutations

import torch

from rewardgym.envs.geometry.objects import CIRCLE, LINE, circle_of, length, line_direction, line_through, rot90, unit

Tensor = torch.Tensor


@dataclass(frozen=True)
class Tool:
    """A tool: its operand pattern, what kind of curve it builds, its E cost and how."""

    name: str
    operands: str  # "pair", "ordered_pair", "line_point", "pair_point", "angle"
    kind: int
    elementary_cost: int
    build: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]  # (p1, p2, p3, curve) -> curve params


def _angle_bisector(a: Tensor, vertex: Tensor, b: Tensor) -> Tensor:
    u, v = unit(a - vertex), unit(b - vertex)
    direction = u + v
    straight = (length(direction) < 1e-6).unsqueeze(-1)
    return line_through(vertex, torch.where(straight, rot90(u), direction))


TOOLS: tuple[Tool, ...] = (
    Tool("line", "pair", LINE, 1, lambda p, q, _m, _k: line_through(p, q - p)),
    Tool("circle", "ordered_pair", CIRCLE, 1, lambda p, q, _m, _k: circle_of(p, length(q - p))),
    Tool("perp_bisector", "pair", LINE, 3, lambda p, q, _m, _k: line_through((p + q) / 2, rot90(q - p))),
    Tool("perpendicular", "line_point", LINE, 3, lambda p, _q, _m, k: line_through(p, k[..., :2])),
    Tool("parallel", "line_point", LINE, 4, lambda p, _q, _m, k: line_through(p, line_direction(k))),
    Tool("compass", "pair_point", CIRCLE, 3, lambda p, q, m, _k: circle_of(m, length(q - p))),
    Tool("angle_bisector", "angle", LINE, 4, lambda p, q, m, _k: _angle_bisector(p, m, q)),
)
TOOL_NAMES = tuple(tool.name for tool in TOOLS)
TOOL_INDEX = {tool.name: index for index, tool in enumerate(TOOLS)}
ELEMENTARY_TOOLS = ("line", "circle")


def _operands(pattern: str, max_points: int, max_curves: int) -> list[tuple[int, int, int, int]]:
    """(p1, p2, p3, curve) for every operand choice of a pattern; unused slots are 0."""
    points = range(max_points)
    if pattern == "pair":
        return [(i, j, 0, 0) for i, j in combinations(points, 2)]
    if pattern == "ordered_pair":
        return [(i, j, 0, 0) for i, j in permutations(points, 2)]
    if pattern == "line_point":
        return [(i, 0, 0, k) for k in range(max_curves) for i in points]
    if pattern == "pair_point":
        return [(i, j, m, 0) for i, j in combinations(points, 2) for m in points]
    if pattern == "angle":  # (i, k, vertex j)
        return [(i, k, j, 0) for i, k in combinations(points, 2) for j in points if j not in (i, k)]
    raise ValueError(f"unknown operand pattern {pattern!r}")


@dataclass
class ActionTable:
    """Every action of an env as columns: ``tool`` (index into ``TOOLS``), point operands
    ``p1, p2, p3``, curve operand ``curve``, ``points_needed`` (1 + the largest point index used)
    and ``uses_curve``."""

    tool: Tensor
    p1: Tensor
    p2: Tensor
    p3: Tensor
    curve: Tensor
    points_needed: Tensor
    uses_curve: Tensor

    def __len__(self) -> int:
        return self.tool.shape[0]

    def step(self, action: int) -> tuple:
        """One action as a program step ``(tool name, operands...)``, operands in the tool's order:
        ``(i, j)``, ``(centre, through)``, ``(curve, point)``, ``(i, j, centre)``, ``(i, k, vertex)``."""
        tool = TOOLS[int(self.tool[action])]
        p1, p2, p3, k = (int(v[action]) for v in (self.p1, self.p2, self.p3, self.curve))
        operands = {"pair": (p1, p2), "ordered_pair": (p1, p2), "line_point": (k, p1),
                    "pair_point": (p1, p2, p3), "angle": (p1, p2, p3)}[tool.operands]
        return (tool.name, *operands)


def action_table(tool_names: Sequence[str], max_points: int, max_curves: int, device: torch.device) -> ActionTable:
    """The actions of the given tools (in ``TOOLS`` order) over the object capacities."""
    rows = []
    for index, tool in enumerate(TOOLS):
        if tool.name in tool_names:
            rows += [(index, *operands) for operands in _operands(tool.operands, max_points, max_curves)]
    columns = torch.tensor(rows, dtype=torch.int64, device=device).T
    tool, p1, p2, p3, curve = columns
    points_needed = torch.maximum(torch.maximum(p1, p2), p3) + 1  # unused operands are 0
    uses_curve = torch.tensor([t.operands == "line_point" for t in TOOLS], device=device)[tool]
    return ActionTable(tool, p1, p2, p3, curve, points_needed, uses_curve)


def build_curves(
    tools: Sequence[int], tool: Tensor, p1: Tensor, p2: Tensor, p3: Tensor, curve: Tensor
) -> tuple[Tensor, Tensor]:
    """The curve each row's tool builds: params ``(..., 3)`` and kind ``(...)`` (tool: ``(...)``).

    Only the tools listed in ``tools`` are computed (the ones an env enables)."""
    params = torch.zeros_like(curve)
    kind = torch.zeros_like(tool)
    for index in tools:
        chosen = tool == index
        built = TOOLS[index].build(p1, p2, p3, curve)
        params = torch.where(chosen.unsqueeze(-1), built, params)
        kind = torch.where(chosen, TOOLS[index].kind, kind)
    return params, kind
