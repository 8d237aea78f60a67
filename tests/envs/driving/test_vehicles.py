"""The kinematic bicycle model, the lateral controller and the oriented-box collision test."""

from __future__ import annotations

import math

import pytest
import torch

from rewardgym.envs.driving.collision import boxes_overlap
from rewardgym.envs.driving.vehicles import LENGTH, WIDTH, bicycle_step, path_steering, steady_turn_radius


@pytest.mark.parametrize("steering", [0.1, 0.3, 0.6])
def test_constant_steering_drives_a_circle_of_radius_half_length_over_sin_beta(steering):
    """R = (L/2) / sin β with β = arctan(½ tan δ) (the centre of gravity is mid-axle)."""
    dt, speed = 5e-3, torch.tensor([10.0])
    x, y, heading = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    radius = steady_turn_radius(steering)
    points = []
    for _ in range(int(2 * math.pi * radius / 10.0 / dt)):  # one lap
        x, y, heading, speed = bicycle_step(x, y, heading, speed, torch.zeros(1), torch.tensor([steering]), dt)
        points.append((float(x), float(y)))
    xs, ys = zip(*points)
    assert (max(xs) - min(xs)) / 2 == pytest.approx(radius, rel=0.01)
    assert (max(ys) - min(ys)) / 2 == pytest.approx(radius, rel=0.01)
    assert radius == pytest.approx((LENGTH / 2) / math.sin(math.atan(0.5 * math.tan(steering))))


def test_the_lane_controller_brings_a_vehicle_onto_its_lane_centre():
    x, y, heading, speed = torch.zeros(2), torch.tensor([3.0, -4.0]), torch.zeros(2), torch.full((2,), 20.0)
    for _ in range(15 * 6):  # 6 s at 15 Hz
        steering = path_steering(speed, heading, y, torch.zeros(2))
        x, y, heading, speed = bicycle_step(x, y, heading, speed, torch.zeros(2), steering, 1 / 15)
    assert y.abs().max() < 0.1 and heading.abs().max() < 0.02


def test_boxes_overlap_only_when_they_touch():
    zero = torch.tensor(0.0)
    side_by_side = torch.tensor([WIDTH - 0.1, WIDTH + 0.1])
    assert boxes_overlap(zero, zero, zero, torch.zeros(2), side_by_side, torch.zeros(2)).tolist() == [True, False]
    nose_to_tail = torch.tensor([LENGTH - 0.1, LENGTH + 0.1])
    assert boxes_overlap(zero, zero, zero, nose_to_tail, torch.zeros(2), torch.zeros(2)).tolist() == [True, False]
    # Rotated a quarter turn and placed diagonally: the bounding circles meet, the boxes do not.
    quarter = torch.tensor(math.pi / 2)
    assert not bool(boxes_overlap(zero, zero, zero, torch.tensor(3.6), torch.tensor(2.6), quarter))
    assert bool(boxes_overlap(zero, zero, zero, torch.tensor(3.4), torch.tensor(2.4), quarter))


def _corners(x: float, y: float, heading: float) -> list[tuple[float, float]]:
    c, s = math.cos(heading), math.sin(heading)
    return [(x + c * a - s * b, y + s * a + c * b) for a, b in
            ((LENGTH / 2, WIDTH / 2), (-LENGTH / 2, WIDTH / 2), (-LENGTH / 2, -WIDTH / 2), (LENGTH / 2, -WIDTH / 2))]


def _polygons_intersect(p: list[tuple[float, float]], q: list[tuple[float, float]]) -> bool:
    """Convex polygons intersect iff an edge of one crosses an edge of the other, or one holds a vertex of the other."""

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def inside(point, polygon):
        signs = [cross(polygon[i], polygon[(i + 1) % 4], point) for i in range(4)]
        return all(s > 0 for s in signs) or all(s < 0 for s in signs)

    def segments_cross(a, b, c, d):
        return cross(a, b, c) * cross(a, b, d) < 0 and cross(c, d, a) * cross(c, d, b) < 0

    edges = [(polygon[i], polygon[(i + 1) % 4]) for polygon in (p, q) for i in range(4)]
    return (any(segments_cross(*e, *f) for e in edges[:4] for f in edges[4:])
            or any(inside(v, q) for v in p) or any(inside(v, p) for v in q))


def test_boxes_overlap_agrees_with_a_polygon_intersection_test():
    generator = torch.Generator().manual_seed(0)
    first = torch.rand(3, 2000, generator=generator) * torch.tensor([[8.0], [8.0], [2 * math.pi]])
    second = torch.rand(3, 2000, generator=generator) * torch.tensor([[8.0], [8.0], [2 * math.pi]])
    found = boxes_overlap(*first, *second)
    expected = [_polygons_intersect(_corners(*map(float, a)), _corners(*map(float, b))) for a, b in zip(first.T, second.T)]
    assert 300 < sum(expected) < 1700  # both outcomes are well represented
    assert found.tolist() == expected
