"""Collision between vehicles as oriented boxes (separating axis test), batched by broadcasting."""

from __future__ import annotations

import torch

from rewardgym.envs.driving.vehicles import LENGTH, WIDTH

Tensor = torch.Tensor


def boxes_overlap(
    x1: Tensor, y1: Tensor, heading1: Tensor, x2: Tensor, y2: Tensor, heading2: Tensor,
    length: float = LENGTH, width: float = WIDTH,
) -> Tensor:
    """Whether two oriented rectangles of the same size intersect (arguments broadcast).

    Two convex boxes are disjoint iff their projections on one of the four edge normals are (the
    separating axis theorem). Everything is written in the first box's frame.
    """
    dx, dy = x2 - x1, y2 - y1
    cos1, sin1 = torch.cos(heading1), torch.sin(heading1)
    along, across = dx * cos1 + dy * sin1, dy * cos1 - dx * sin1  # the offset on the first box's axes
    relative = heading2 - heading1
    cos_r, sin_r = torch.cos(relative), torch.sin(relative)
    along2, across2 = along * cos_r + across * sin_r, across * cos_r - along * sin_r  # on the second's
    # Both boxes' half-extents along either box's long axis, and across it (equal boxes: symmetric).
    straight, turned = 1 + cos_r.abs(), sin_r.abs()
    reach_along = length / 2 * straight + width / 2 * turned
    reach_across = width / 2 * straight + length / 2 * turned
    separated = (along.abs() > reach_along) | (across.abs() > reach_across)
    return ~(separated | (along2.abs() > reach_along) | (across2.abs() > reach_across))
