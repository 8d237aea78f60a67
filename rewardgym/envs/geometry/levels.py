"""The level pack of ``Construct-v0``, as data.

A level is: its free points (drawn at random in the unit disc, rejecting degenerate layouts),
the given curves built on them, the enabled tools, the goal objects as a function of the free
points (with alternatives, e.g. either apex of an equilateral triangle), the proven minimal
lengths and a stored reference construction of that length.

Lengths follow Euclidea's scoring: **L** counts tool uses with the level's tools, **E** counts
uses of ``line`` and ``circle`` only (intersections are free; lines are infinite; only the listed
points are given). The L and E of the first eleven levels were proven optimal by exhaustive
iterative-deepening search (``reference/domains.md`` §1.7, with tools line, circle,
perp_bisector); the tests re-prove every L and E up to 4 by breadth-first search over programs.
``E=None`` where no optimum is known (square: at least 7; the levels with other advanced tools).

References are programs of steps ``(tool, operands...)`` (operand order as in ``tools``). Curves
are named by their slot (given curves first, then one per move); a point operand is a free point
``0 .. n−1`` (in the order listed) or ``(curve, earlier curve, k)``: the k-th new point (0 or 1)
where that curve met the earlier one.
``ConstructVector.actions_of`` turns a step into each row's action. Instances of three free points
all turn anticlockwise (mirrored otherwise), so a root means the same point on all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rewardgym.envs.geometry.objects import LINE, length, line_through, rot90, unit

Tensor = torch.Tensor
POINT = 3  # goal kind of a point (curves use LINE and CIRCLE)
SQRT3_2 = 0.8660254037844386
MAX_FREE_POINTS = 3
MAX_GIVEN_CURVES = 3
MAX_ALTERNATIVES = 2

Step = tuple  # (tool name, operands in the tool's operand order); see the module docstring


def rotate(v: Tensor, cos: float, sin: float) -> Tensor:
    return torch.stack([cos * v[..., 0] - sin * v[..., 1], sin * v[..., 0] + cos * v[..., 1]], dim=-1)


def point_goal(p: Tensor) -> Tensor:
    return torch.cat([p, torch.zeros_like(p[..., :1])], dim=-1)


@dataclass(frozen=True)
class Level:
    """One construction problem."""

    name: str
    description: str
    free_points: tuple[str, ...]
    given: tuple[Step, ...]  # curves built on the free points before the agent's first move
    tools: tuple[str, ...]
    goal_kinds: tuple[int, ...]  # per goal object of one alternative: LINE, CIRCLE or POINT
    goals: Callable[[Tensor], list[list[Tensor]]]  # free points (N, F, 2) -> alternatives of goal params (N, 3)
    L: int
    E: int | None
    reference_L: tuple[Step, ...]
    reference_E: tuple[Step, ...] | None = None


def _equilateral(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    apexes = [a + rotate(b - a, 0.5, s * SQRT3_2) for s in (1, -1)]
    return [[line_through(a, c - a), line_through(b, c - b)] for c in apexes]


def _angle60(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    return [[line_through(a, rotate(b - a, 0.5, s * SQRT3_2))] for s in (1, -1)]


def _perp_bisector(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    return [[line_through((a + b) / 2, rot90(b - a))]]


def _midpoint(p: Tensor) -> list[list[Tensor]]:
    return [[point_goal((p[:, 0] + p[:, 1]) / 2)]]


def _drop_perpendicular(p: Tensor) -> list[list[Tensor]]:
    x, a, b = p[:, 0], p[:, 1], p[:, 2]
    return [[line_through(x, rot90(b - a))]]


def _erect_perpendicular(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    return [[line_through(a, rot90(b - a))]]


def _parallel(p: Tensor) -> list[list[Tensor]]:
    x, a, b = p[:, 0], p[:, 1], p[:, 2]
    return [[line_through(x, b - a)]]


def _angle_bisector(p: Tensor) -> list[list[Tensor]]:
    vertex, x, y = p[:, 0], p[:, 1], p[:, 2]
    return [[line_through(vertex, unit(x - vertex) + unit(y - vertex))]]


def _circumcentre(p: Tensor) -> list[list[Tensor]]:
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    ab, ac = b - a, c - a
    d = 2 * (ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
    ab2, ac2 = (ab * ab).sum(-1), (ac * ac).sum(-1)
    offset = torch.stack([ac[:, 1] * ab2 - ab[:, 1] * ac2, ab[:, 0] * ac2 - ac[:, 0] * ab2], dim=-1) / d.unsqueeze(-1)
    return [[point_goal(a + offset)]]


def _hexagon(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    alternatives = []
    for s in (1, -1):
        centre = a + rotate(b - a, 0.5, s * SQRT3_2)
        vertices = [b + centre - a, 2 * centre - a, 2 * centre - b, a + centre - b]
        alternatives.append([point_goal(v) for v in vertices])
    return alternatives


def _square(p: Tensor) -> list[list[Tensor]]:
    a, b = p[:, 0], p[:, 1]
    alternatives = []
    for s in (1, -1):
        side = s * rot90(b - a)
        alternatives.append([line_through(a, side), line_through(b, side), line_through(a + side, b - a)])
    return alternatives


def _incentre(p: Tensor) -> list[list[Tensor]]:
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    wa, wb, wc = length(b - c).unsqueeze(-1), length(a - c).unsqueeze(-1), length(a - b).unsqueeze(-1)
    return [[point_goal((wa * a + wb * b + wc * c) / (wa + wb + wc))]]


def _parallelogram(p: Tensor) -> list[list[Tensor]]:
    return [[point_goal(p[:, 1] + p[:, 2] - p[:, 0])]]


def _tangent(p: Tensor) -> list[list[Tensor]]:
    centre, a = p[:, 0], p[:, 1]
    return [[line_through(a, rot90(a - centre))]]


CLASSIC = ("line", "circle", "perp_bisector")
HEXAGON = (("circle", 0, 1), ("circle", 1, 0), ("circle", (2, 1, 0), 0), ("circle", (3, 2, 0), (2, 1, 0)),
           ("circle", (3, 1, 0), (2, 1, 0)))

LEVELS: tuple[Level, ...] = (
    Level("perp_bisector", "the perpendicular bisector of AB", ("A", "B"), (("line", 0, 1),), CLASSIC,
          (LINE,), _perp_bisector, L=1, E=3,
          reference_L=(("perp_bisector", 0, 1),),
          reference_E=(("circle", 0, 1), ("circle", 1, 0), ("line", (2, 1, 0), (2, 1, 1)))),
    Level("midpoint", "the midpoint of A and B", ("A", "B"), (), CLASSIC, (POINT,), _midpoint, L=2, E=4,
          reference_L=(("line", 0, 1), ("perp_bisector", 0, 1)),
          reference_E=(("line", 0, 1), ("circle", 0, 1), ("circle", 1, 0), ("line", (2, 1, 0), (2, 1, 1)))),
    Level("drop_perpendicular", "the perpendicular to line PQ through X", ("X", "P", "Q"), (("line", 1, 2),),
          CLASSIC, (LINE,), _drop_perpendicular, L=2, E=3,
          reference_L=(("circle", 0, 1), ("perp_bisector", 1, (1, 0, 0))),
          reference_E=(("circle", 1, 0), ("circle", 2, 0), ("line", 0, (2, 1, 0)))),
    Level("erect_perpendicular", "the perpendicular to line PQ at P", ("P", "Q"), (("line", 0, 1),), CLASSIC,
          (LINE,), _erect_perpendicular, L=2, E=4,
          reference_L=(("circle", 0, 1), ("perp_bisector", 1, (1, 0, 0))),
          reference_E=(("circle", 0, 1), ("circle", 1, (1, 0, 0)), ("circle", (1, 0, 0), 1), ("line", 0, (3, 2, 0)))),
    Level("angle_bisector", "the bisector of angle XAY", ("A", "X", "Y"), (("line", 0, 1), ("line", 0, 2)),
          CLASSIC, (LINE,), _angle_bisector, L=2, E=4,
          reference_L=(("circle", 0, 1), ("perp_bisector", 1, (2, 1, 1))),
          reference_E=(("circle", 0, 1), ("circle", 1, 0), ("circle", (2, 1, 1), 0), ("line", 0, (4, 3, 0)))),
    Level("circumcentre", "the centre of the circle through A, B, C", ("A", "B", "C"), (), CLASSIC, (POINT,),
          _circumcentre, L=2, E=6,
          reference_L=(("perp_bisector", 0, 1), ("perp_bisector", 0, 2)),
          reference_E=(("circle", 0, 1), ("circle", 1, 0), ("line", (1, 0, 0), (1, 0, 1)), ("circle", 0, 2),
                       ("circle", 2, 0), ("line", (4, 3, 0), (4, 3, 1)))),
    Level("angle60", "a line through A at 60° to line AB", ("A", "B"), (("line", 0, 1),), CLASSIC, (LINE,),
          _angle60, L=3, E=3,
          reference_L=(("circle", 0, 1), ("circle", 1, 0), ("line", 0, (2, 1, 0))),
          reference_E=(("circle", 0, 1), ("circle", 1, 0), ("line", 0, (2, 1, 0)))),
    Level("parallel", "the parallel to line PQ through X", ("X", "P", "Q"), (("line", 1, 2),), CLASSIC, (LINE,),
          _parallel, L=3, E=4,
          reference_L=(("line", 0, 1), ("circle", 0, 1), ("perp_bisector", (2, 0, 0), (2, 1, 0))),
          reference_E=(("circle", 1, 0), ("circle", 0, 1), ("circle", (1, 0, 0), 1), ("line", 0, (3, 2, 0)))),
    Level("equilateral", "the sides AC, BC of an equilateral triangle on AB", ("A", "B"), (("line", 0, 1),),
          CLASSIC, (LINE, LINE), _equilateral, L=4, E=4,
          reference_L=(("circle", 0, 1), ("circle", 1, 0), ("line", 0, (2, 1, 0)), ("line", 1, (2, 1, 0))),
          reference_E=(("circle", 0, 1), ("circle", 1, 0), ("line", 0, (2, 1, 0)), ("line", 1, (2, 1, 0)))),
    Level("hexagon", "the other four vertices of a regular hexagon with side AB", ("A", "B"), (("line", 0, 1),),
          CLASSIC, (POINT,) * 4, _hexagon, L=5, E=5,
          reference_L=HEXAGON, reference_E=HEXAGON),
    Level("square", "the other three sides of a square on AB", ("A", "B"), (("line", 0, 1),), CLASSIC,
          (LINE,) * 3, _square, L=5, E=None,
          reference_L=(("circle", 0, 1), ("perp_bisector", 1, (1, 0, 0)), ("circle", 1, 0),
                       ("perp_bisector", 0, (3, 0, 0)), ("line", (2, 1, 0), (4, 3, 1)))),
    Level("incentre", "the centre of the circle inscribed in triangle ABC", ("A", "B", "C"),
          (("line", 0, 1), ("line", 1, 2), ("line", 0, 2)), (*CLASSIC, "angle_bisector"), (POINT,), _incentre,
          L=2, E=None, reference_L=(("angle_bisector", 1, 2, 0), ("angle_bisector", 0, 2, 1))),
    Level("parallelogram", "the fourth vertex D of parallelogram ABDC", ("A", "B", "C"),
          (("line", 0, 1), ("line", 0, 2)), ("line", "circle", "parallel", "compass"), (POINT,), _parallelogram,
          L=2, E=None, reference_L=(("parallel", 0, 2), ("parallel", 1, 1))),
    Level("tangent", "the tangent at A to the circle centred at O", ("O", "A"), (("circle", 0, 1),),
          ("line", "circle", "perpendicular"), (LINE,), _tangent, L=2, E=None,
          reference_L=(("line", 0, 1), ("perpendicular", 1, 1))),
)
LEVEL_NAMES = tuple(level.name for level in LEVELS)
