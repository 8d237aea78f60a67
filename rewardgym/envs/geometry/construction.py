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

    def take(self, rows: Tensor) -> Construction:
        """The rows of index tensor ``rows``, as a new batch."""
        return Construction(**{f.name: getattr(self, f.name).index_select(0, rows) for f in fields(self)})

    def with_curve_capacity(self, max_curves: int) -> Construction:
        """The same rows with room for ``max_curves`` curves (at least the current capacity)."""
        extra = max_curves - self.max_curves
        pad = lambda t, value: torch.cat([t, t.new_full((*t.shape[:-1], extra), value)], dim=-1)
        curves = torch.cat([self.curves, self.curves.new_full((*self.curves.shape[:2], extra, 3), float("nan"))], dim=2)
        return replace(self, curves=curves, kinds=pad(self.kinds, NO_CURVE), curve_given=pad(self.curve_given, False))

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
        """
        slots = torch.arange(self.max_curves, device=self.kinds.device)
        existing = slots < self.num_curves.unsqueeze(1)
        residual = curve_residual(curve[:, :1], self.curves[:, 0], kind.unsqueeze(1), self.kinds)
        redundant = ((residual <= TOLERANCE) & existing).any(1)
        finite = ~torch.isnan(curve[:, 0]).any(-1)
        added = add & ~redundant & finite & (kind != NO_CURVE) & (self.num_curves < self.max_curves)

        used = max(1, int(self.num_curves.max()))  # only slots some row has filled can meet the new curve
        old_kinds = torch.where(existing, self.kinds, NO_CURVE)[:, :used]
        candidates, exists = intersections(curve, kind.unsqueeze(1), self.curves[:, :, :used], old_kinds.unsqueeze(1))
        candidates = torch.where(exists.unsqueeze(-1), candidates, float("nan"))  # (R, I, C, 2 roots, 2)
        rows, instances, curves = exists.shape[:3]

        # On instance 0, a root is new unless a point is already there (or it is a tangency's twin).
        # Only points on the new curve can be there: the few of them are compared with every root.
        primary = candidates[:, 0]
        on_new = distance_to_curve(curve[:, 0], kind, self.points[:, 0]) <= TOLERANCE
        on_new, nearby = torch.topk(on_new.to(torch.float32), NEARBY_POINTS, dim=1)
        nearby_points = self.points[:, 0].gather(1, nearby.unsqueeze(-1).expand(-1, -1, 2))
        near = point_residual(primary.reshape(rows, -1, 1, 2), nearby_points.unsqueeze(1)) <= TOLERANCE
        near &= on_new.bool().unsqueeze(1)
        duplicate = near.any(-1).view(rows, curves, 2)
        on_point = nearby.gather(1, torch.argmax(near.to(torch.int8), -1)).view(rows, curves, 2)  # which point
        twin = torch.zeros_like(duplicate)
        twin[..., 1] = point_residual(primary[..., 1, :], primary[..., 0, :]) <= TOLERANCE
        fresh = exists[:, 0] & ~duplicate & ~twin & added.view(rows, 1, 1)

        # On the shadows, the root that lies on that existing point may be the other one: swap.
        one_duplicate = duplicate[..., 0] ^ duplicate[..., 1]
        anchor = torch.where(duplicate[..., 0], on_point[..., 0], on_point[..., 1])
        anchor = self.points.gather(2, anchor.view(rows, 1, curves, 1).expand(rows, instances, curves, 2))
        distance = point_residual(candidates, anchor.unsqueeze(3))
        swap = one_duplicate.unsqueeze(1) & ((distance[..., 1] < distance[..., 0]) != duplicate[:, None, :, 1])
        candidates = torch.where(swap[..., None, None], candidates.flip(-2), candidates)
        exists = torch.where(swap.unsqueeze(-1), exists.flip(-1), exists)

        # A shadow where a root that repeats a point on instance 0 is elsewhere has diverged: the
        # program went through a coincidence. (Where a shadow lacks an intersection, its slot is
        # NaN, and so is anything built on it.)
        duplicate_points = self.points.gather(2, on_point.view(rows, 1, -1, 1).expand(rows, instances, -1, 2))
        apart = point_residual(candidates, duplicate_points.view(candidates.shape)) > TOLERANCE
        off_point = duplicate.unsqueeze(1) & exists & apart
        self.diverged = self.diverged | (off_point.flatten(2).any(-1) & added.unsqueeze(1))

        candidates = candidates.reshape(rows, instances, -1, 2)
        fresh = fresh.reshape(rows, -1)
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

