"""A batch of constructions, each carried on ``1 + K`` instances of its level at once.

Row ``r`` holds one program of tool applications; its instances are the same level with
different random free points: instance 0 is the one the agent sees, instances ``1..K`` are the
shadow instances that replay the program as it is built. Object indices are decided on
instance 0: a curve takes the next curve slot; each point where it meets an earlier curve (in
the order of that curve's slot, then root 0, root 1) takes the next point slot unless a point is
already there. The shadows put their own coordinates in the same slots (NaN where their curves do
not meet), so a program means the same thing on every instance, and a point that coincides on
instance 0 only is a different point on the shadows. Where an intersection has one root on an
existing point, each shadow takes as the new point the root that is not on that point; a shadow
where that point is not on the new curve has diverged (the program went through a coincidence)
and can never confirm a success.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from rewardgym.envs.geometry.objects import (
    DTYPE,
    NO_CURVE,
    TOLERANCE,
    curve_residual,
    distance_to_curve,
    intersections,
    point_residual,
)

Tensor = torch.Tensor
#: How many existing points on a new curve are looked at for repeats of its intersections; more
#: than this many (a curve through five known points) may leave a repeated point in the table.
NEARBY_POINTS = 4


@dataclass
class Construction:
    """Object tables of ``R`` rows on ``I`` instances, capacity ``P`` points and ``C`` curves."""

    points: Tensor  # (R, I, P, 2), NaN where absent
    num_points: Tensor  # (R,)
    point_given: Tensor  # (R, P) bool
    point_origin: Tensor  # (R, P, 3): (curve, earlier curve, rank) a point was first made as; −1 for free points
    curves: Tensor  # (R, I, C, 3)
    kinds: Tensor  # (R, C): NO_CURVE, LINE or CIRCLE
    num_curves: Tensor  # (R,)
    curve_given: Tensor  # (R, C) bool
    diverged: Tensor  # (R, I) bool: the program does not mean the same on this instance as on instance 0

    @classmethod
    def empty(cls, rows: int, instances: int, max_points: int, max_curves: int, device: torch.device) -> Construction:
        nan = float("nan")
        return cls(
            points=torch.full((rows, instances, max_points, 2), nan, dtype=DTYPE, device=device),
            num_points=torch.zeros(rows, dtype=torch.int64, device=device),
            point_given=torch.zeros((rows, max_points), dtype=torch.bool, device=device),
            point_origin=torch.full((rows, max_points, 3), -1, dtype=torch.int64, device=device),
            curves=torch.full((rows, instances, max_curves, 3), nan, dtype=DTYPE, device=device),
            kinds=torch.zeros((rows, max_curves), dtype=torch.int64, device=device),
            num_curves=torch.zeros(rows, dtype=torch.int64, device=device),
            curve_given=torch.zeros((rows, max_curves), dtype=torch.bool, device=device),
            diverged=torch.zeros((rows, instances), dtype=torch.bool, device=device),
        )

    @property
    def max_points(self) -> int:
        return self.points.shape[2]

    @property
    def max_curves(self) -> int:
        return self.curves.shape[2]

    def tensors(self) -> dict[str, Tensor]:
        """Every table by field name, free of NaN so that equal constructions compare equal: the
        NaNs of a float table (absent objects) are zeros there, and flagged in ``<field>_nan``."""
        tables = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value.is_floating_point():
                missing = torch.isnan(value)
                tables[f"{f.name}_nan"] = missing
                value = value.masked_fill(missing, 0.0)
            tables[f.name] = value
        return tables

    @classmethod
    def from_tensors(cls, tables: dict[str, Tensor]) -> Construction:
        """The construction ``tensors()`` describes."""
        return cls(**{f.name: tables[f.name].masked_fill(tables[f"{f.name}_nan"], float("nan"))
                      if f"{f.name}_nan" in tables else tables[f.name] for f in fields(cls)})

    def with_curve_capacity(self, max_curves: int) -> Construction:
        """The same rows with room for ``max_curves`` curves (at least the current capacity)."""
        extra = max_curves - self.max_curves
        pad = lambda t, value: torch.cat([t, t.new_full((*t.shape[:-1], extra), value)], dim=-1)
        curves = torch.cat([self.curves, self.curves.new_full((*self.curves.shape[:2], extra, 3), float("nan"))], dim=2)
        return replace(self, curves=curves, kinds=pad(self.kinds, NO_CURVE), curve_given=pad(self.curve_given, False))

    def load_rows(self, rows: Tensor, tables: dict[str, Tensor]) -> None:
        """Take the tables ``tensors()`` describes as rows ``rows``."""
        self.put(rows, Construction.from_tensors(tables))

    def take(self, rows: Tensor) -> Construction:
        """A copy of the rows of index tensor ``rows``."""
        return Construction(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def put(self, rows: Tensor, other: Construction) -> None:
        """Replace the rows of index tensor ``rows`` by ``other``."""
        for field in fields(self):
            getattr(self, field.name).index_copy_(0, rows, getattr(other, field.name))

    def add_free_points(self, points: Tensor, count: Tensor) -> None:
        """Put the first ``count`` ``(R,)`` of ``points`` ``(R, I, F, 2)`` in the first point slots, as givens."""
        present = torch.arange(points.shape[2], device=points.device) < count.unsqueeze(1)
        self.points[:, :, : points.shape[2]] = torch.where(present[:, None, :, None], points, float("nan"))
        self.num_points = count.clone()
        self.point_given[:, : points.shape[2]] = present

    def add_curve(self, curve: Tensor, kind: Tensor, add: Tensor, given: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Add curve ``(R, I, 3)`` of ``kind`` ``(R,)`` to the rows of ``add`` where it is new on instance 0.

        Its intersections with the earlier curves become points. Returns ``added`` ``(R,)``, and
        the candidate points ``(R, I, 2C, 2)`` with the mask ``(R, 2C)`` of those that became new
        points, so that a caller can update what depends on new objects only.

        Every row and every curve slot is computed, whatever ``add`` and the slots filled: the rows
        not added and the empty slots are masked out, so shapes are static and nothing waits on
        the values (the env's step compiles to one graph).
        """
        slots = torch.arange(self.max_curves, device=self.kinds.device)
        existing = slots < self.num_curves.unsqueeze(1)
        residual = curve_residual(curve[:, :1], self.curves[:, 0], kind.unsqueeze(1), self.kinds)
        redundant = ((residual <= TOLERANCE) & existing).any(1)
        finite = ~torch.isnan(curve[:, 0]).any(-1)
        added = add & ~redundant & finite & (kind != NO_CURVE) & (self.num_curves < self.max_curves)

        # Coordinates first from here: (2 roots, x or y, R, I, C) and the like (see ``intersections``).
        old_kinds = torch.where(existing, self.kinds, NO_CURVE)  # an empty slot meets nothing
        candidates, exists = intersections(curve.movedim(-1, 0).unsqueeze(-1), kind.view(-1, 1, 1),
                                           self.curves.movedim(-1, 0).contiguous(), old_kinds.unsqueeze(1))
        rows, instances, curves = exists.shape[1:]
        points = self.points.movedim(-1, 0).contiguous()  # (2, R, I, P)

        def points_at(slots: Tensor) -> Tensor:
            """The points of point slots ``(R, C)`` on every instance: ``(2, R, I, C)``."""
            return points.gather(3, slots.view(1, rows, 1, curves).expand(2, -1, instances, -1))

        # On instance 0, a root is new unless a point is already there (or it is a tangency's twin).
        # Only points on the new curve can be there: the few of them are compared with every root.
        primary = candidates[:, :, :, 0]  # (2 roots, 2, R, C)
        on_new = distance_to_curve(curve[:, 0], kind, self.points[:, 0]) <= TOLERANCE
        on_new, nearby = torch.topk(on_new.to(torch.float32), NEARBY_POINTS, dim=1)  # (R, N)
        nearby_points = points[:, :, 0].gather(2, nearby.unsqueeze(0).expand(2, -1, -1))  # (2, R, N)
        nearby_points = nearby_points.permute(2, 0, 1).reshape(NEARBY_POINTS, 1, 2, rows, 1)
        near = point_residual(primary, nearby_points, dim=2) <= TOLERANCE  # (N, 2 roots, R, C)
        near &= on_new.bool().T.reshape(NEARBY_POINTS, 1, rows, 1)
        duplicate = near.any(0)  # (2 roots, R, C)
        on_point = nearby[:, :1].expand(2, -1, curves)  # the point a root repeats: the first one near
        for n in reversed(range(NEARBY_POINTS)):
            on_point = torch.where(near[n], nearby[:, n : n + 1], on_point)
        twin = point_residual(primary[1], primary[0], dim=0) <= TOLERANCE
        twin = torch.stack([torch.zeros_like(twin), twin])
        fresh = exists[:, :, 0] & ~duplicate & ~twin & added.view(1, rows, 1)

        # On the shadows, the root that lies on that existing point may be the other one: swap.
        one_duplicate = duplicate[0] ^ duplicate[1]
        anchor = torch.where(duplicate[0], on_point[0], on_point[1])
        distance = point_residual(candidates, points_at(anchor), dim=1)  # (2 roots, R, I, C)
        swap = one_duplicate.unsqueeze(1) & ((distance[1] < distance[0]) != duplicate[1].unsqueeze(1))
        candidates = torch.where(swap, candidates.flip(0), candidates)
        exists = torch.where(swap, exists.flip(0), exists)

        # A shadow where a root that repeats a point on instance 0 is elsewhere has diverged: the
        # program went through a coincidence. (Where a shadow lacks an intersection, its slot is
        # NaN, and so is anything built on it.)
        duplicate_points = torch.stack([points_at(on_point[0]), points_at(on_point[1])])
        apart = point_residual(candidates, duplicate_points, dim=1) > TOLERANCE
        off_point = duplicate.unsqueeze(2) & exists & apart
        self.diverged = self.diverged | (off_point.any(0).any(-1) & added.unsqueeze(1))

        # Back to coordinates last, in the order of the points' slots: curve slot, then root.
        candidates = candidates.permute(2, 3, 4, 0, 1).reshape(rows, instances, -1, 2)
        fresh = fresh.permute(1, 2, 0).reshape(rows, -1)
        position = self.num_points.unsqueeze(1) + torch.cumsum(fresh, 1) - 1
        fresh = fresh & (position < self.max_points)  # beyond capacity: dropped

        target = torch.where(fresh, position, self.max_points)  # slot P is a scratch slot
        padded = torch.cat([self.points, self.points[:, :, :1]], dim=2)
        index = target.view(rows, 1, -1, 1).expand(rows, instances, -1, 2)
        self.points = padded.scatter(2, index, candidates)[:, :, : self.max_points]
        # A point's origin: (new curve, earlier curve, rank among the pair's new points): rank, not
        # root, since which root repeats a known point can differ from instance to instance.
        pair_fresh = fresh.view(rows, curves, 2)
        rank = torch.stack([torch.zeros_like(pair_fresh[..., 0]), pair_fresh[..., 0]], dim=-1).long()
        new_curve = self.num_curves.view(rows, 1, 1)
        earlier = torch.arange(curves, device=fresh.device).view(1, curves, 1)
        origin = torch.stack(torch.broadcast_tensors(new_curve, earlier, rank), dim=-1).view(rows, -1, 3)
        padded_origin = torch.cat([self.point_origin, self.point_origin[:, :1]], dim=1)
        padded_origin = padded_origin.scatter(1, target.unsqueeze(-1).expand(-1, -1, 3), origin)
        self.point_origin = padded_origin[:, : self.max_points]
        self.num_points = self.num_points + fresh.sum(1)
        if given:
            self.point_given = torch.arange(self.max_points, device=self.kinds.device) < self.num_points.unsqueeze(1)

        new_slot = (slots == self.num_curves.unsqueeze(1)) & added.unsqueeze(1)
        self.curves = torch.where(new_slot.unsqueeze(1).unsqueeze(-1), curve.unsqueeze(2), self.curves)
        self.kinds = torch.where(new_slot, kind.unsqueeze(1), self.kinds)
        self.curve_given = self.curve_given | (new_slot & given)
        self.num_curves = self.num_curves + added
        return added, candidates, fresh

