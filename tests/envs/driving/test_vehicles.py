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
