"""Points, lines and circles as batched tensors, and the intersections of curves.

A curve is three numbers: a line ``(nx, ny, c)`` is the set ``n · x = c`` with ``n`` a unit
normal whose sign is kept from the construction (so a line has a direction ``(ny, −nx)``, and the
order of its intersections along it is the same on every instance of a level); a circle is
``(cx, cy, r)``. A point is ``(x, y)``. Nothing exists as NaN: an intersection that a shadow
instance lacks, and everything built from it, stays NaN and never matches a goal.

Every function works on any leading batch shape, coordinates last, except ``intersections``,
which takes and gives coordinates first: its arithmetic then runs on whole batch-shaped tensors
rather than on pairs of numbers, which is several times faster. Only ``+ − × ÷`` and ``sqrt`` are
used, so a row's numbers do not depend on how many rows are computed together.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

NO_CURVE, LINE, CIRCLE = 0, 1, 2
#: Geometry runs in double precision: a shadow instance may be ill-conditioned for a program
#: (two of its points 1e-3 apart), and single precision would then miss a true construction.
DTYPE = torch.float64
#: Objects whose parameters differ by at most this (scene scale 1) are the same object.
TOLERANCE = 1e-4
#: A curve meets another tangentially (one point) when the half chord they would cut is below
#: TOLERANCE, i.e. its square below this; rounding must not split a true tangency in two.
TANGENCY = TOLERANCE**2


def rot90(v: Tensor) -> Tensor:
    """``v`` turned a quarter turn anticlockwise: ``(x, y) → (−y, x)``."""
    return torch.stack([-v[..., 1], v[..., 0]], dim=-1)


def length(v: Tensor) -> Tensor:
    return torch.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def unit(v: Tensor) -> Tensor:
    return v / length(v).unsqueeze(-1)


def dot(a: Tensor, b: Tensor) -> Tensor:
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]


def line_through(point: Tensor, direction: Tensor) -> Tensor:
    """The line through ``point`` along ``direction`` (not necessarily unit)."""
    normal = rot90(unit(direction))
    return torch.cat([normal, dot(normal, point).unsqueeze(-1)], dim=-1)


def line_direction(line: Tensor) -> Tensor:
    """The unit direction of a line, ``(ny, −nx)``: the normal is its quarter turn anticlockwise."""
    return torch.stack([line[..., 1], -line[..., 0]], dim=-1)


def circle_of(centre: Tensor, radius: Tensor) -> Tensor:
    return torch.cat([centre, radius.unsqueeze(-1)], dim=-1)


def _line_line(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    det = a[0] * b[1] - a[1] * b[0]
    exists = det.abs() > TOLERANCE
    safe = torch.where(exists, det, 1.0)
    x = (a[2] * b[1] - b[2] * a[1]) / safe
    y = (a[0] * b[2] - b[0] * a[2]) / safe
    point = torch.stack([x, y])
    return torch.stack([point, point]), torch.stack([exists, torch.zeros_like(exists)])


def _line_circle(line: Tensor, circle: Tensor) -> tuple[Tensor, Tensor]:
    """Ordered along the line's direction."""
    normal, centre, radius = line[:2], circle[:2], circle[2]
    offset = line[2] - (normal[0] * centre[0] + normal[1] * centre[1])
    chord2 = radius * radius - offset * offset  # (half chord)²
    exists = chord2 >= -TANGENCY
    half_chord = torch.sqrt(torch.where(chord2 <= TANGENCY, 0.0, chord2))
    foot = centre + offset * normal
    along = torch.stack([line[1], -line[0]]) * half_chord  # the line's direction (ny, −nx)
    return torch.stack([foot - along, foot + along]), torch.stack([exists, exists])


def _circle_circle(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Root 0 lies left of the way from ``a``'s centre to ``b``'s."""
    between = b[:2] - a[:2]
    distance = torch.sqrt(between[0] * between[0] + between[1] * between[1])
    ra, rb = a[2], b[2]
    apart = distance > TOLERANCE
    safe = torch.where(apart, distance, 1.0)
    along = (distance * distance + ra * ra - rb * rb) / (2.0 * safe)
    across2 = ra * ra - along * along
    exists = apart & (across2 >= -TANGENCY)
    e = between / safe
    base = a[:2] + along * e
    side = torch.stack([-e[1], e[0]]) * torch.sqrt(torch.where(across2 <= TANGENCY, 0.0, across2))
    return torch.stack([base + side, base - side]), torch.stack([exists, exists])


def intersections(new: Tensor, new_kind: Tensor, curves: Tensor, kinds: Tensor) -> tuple[Tensor, Tensor]:
    """Where curve ``new`` meets each of ``curves``, coordinates first: points ``(2 roots, 2, ...)``
    (root, then x or y; NaN where the root does not exist) and existence ``(2 roots, ...)``.

    ``new`` and ``curves``: parameters first, ``(3, ...)``; they, ``new_kind`` and ``kinds``
    broadcast against each other to the batch shape ``...`` (e.g. one new curve per row against
    the row's curve slots). A line meets a line at most once (root 1 never exists).
    """
    new_line, new_circle = new_kind == LINE, new_kind == CIRCLE
    old_line, old_circle = kinds == LINE, kinds == CIRCLE
    line = torch.where(new_line, new, curves)
    circle = torch.where(new_line, curves, new)
    shape = torch.broadcast_shapes(new.shape[1:], curves.shape[1:], new_kind.shape, kinds.shape)
    # The conditions of ``where`` are made dense (it is faster so). The pairs of no case (an empty
    # slot, say) take the line-circle points, and no root of theirs exists.
    line_line = (new_line & old_line).expand(shape).contiguous()
    line_circle = new_line & old_circle | new_circle & old_line
    circle_circle = (new_circle & old_circle).expand(shape).contiguous()
    line_line_points, line_line_exists = _line_line(new, curves)
    line_circle_points, line_circle_exists = _line_circle(line, circle)
    circle_circle_points, circle_circle_exists = _circle_circle(new, curves)
    points = torch.where(circle_circle, circle_circle_points, line_circle_points)
    points = torch.where(line_line, line_line_points, points)
    exists = line_line & line_line_exists | line_circle & line_circle_exists | circle_circle & circle_circle_exists
    exists = exists & ~torch.isnan(points).any(1)
    return torch.where(exists.unsqueeze(1), points, float("nan")), exists


def distance_to_curve(curve: Tensor, kind: Tensor, points: Tensor) -> Tensor:
    """How far each of ``points`` ``(..., P, 2)`` is from ``curve`` ``(..., 3)`` of ``kind`` ``(...)``:
    ``(..., P)``, NaN-safe (+inf)."""
    curve = curve.unsqueeze(-2)
    to_line = (dot(curve[..., :2], points) - curve[..., 2]).abs()
    to_circle = (length(points - curve[..., :2]) - curve[..., 2]).abs()
    distance = torch.where((kind == LINE).unsqueeze(-1), to_line, to_circle)
    return torch.nan_to_num(distance, nan=float("inf"))


def point_residual(a: Tensor, b: Tensor, dim: int = -1) -> Tensor:
    """The largest coordinate difference of two points, their coordinates along ``dim`` (NaN-safe:
    NaN gives +inf)."""
    return torch.nan_to_num((a - b).abs().amax(dim), nan=float("inf"))


def curve_residual(a: Tensor, b: Tensor, a_kind: Tensor, b_kind: Tensor) -> Tensor:
    """The largest parameter difference of two curves, lines up to the sign of their normal;
    +inf between a line and a circle or with a missing curve."""
    straight = (a - b).abs().amax(-1)
    flipped = (a + b).abs().amax(-1)
    residual = torch.where((a_kind == LINE) & (b_kind == LINE), torch.minimum(straight, flipped), straight)
    same = (a_kind == b_kind) & (a_kind != NO_CURVE)
    return torch.where(same, torch.nan_to_num(residual, nan=float("inf")), float("inf"))
