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

    Two convex boxes are disjoint iff their projections on one of the four edge normals are
    (the separating axis theorem); a bounding-circle test rules out far pairs.
    """
    dx, dy = x2 - x1, y2 - y1
    near = dx * dx + dy * dy < length * length + width * width  # circumscribed circles touch
    half_l, half_w = length / 2, width / 2
    relative = heading2 - heading1
    cos_r, sin_r = torch.cos(relative).abs(), torch.sin(relative).abs()
    # Either box's half-extent along the other's long axis and across it (equal boxes: symmetric).
    reach_along = half_l + half_l * cos_r + half_w * sin_r
    reach_across = half_w + half_l * sin_r + half_w * cos_r
    separated = torch.zeros_like(near)
    for heading in (heading1, heading2):
        cos, sin = torch.cos(heading), torch.sin(heading)
        separated = separated | ((dx * cos + dy * sin).abs() > reach_along) | ((dy * cos - dx * sin).abs() > reach_across)
    return near & ~separated
