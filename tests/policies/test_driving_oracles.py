"""The scripted driving egos: IDM/MOBIL on the lane scenes, giving way at the intersection."""

from __future__ import annotations

import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.envs.driving.base import FASTER, LANE_LEFT, SLOWER
from rewardgym.envs.driving.highway import HighwayVector
from rewardgym.envs.driving.intersection import IntersectionVector
from rewardgym.envs.driving.merge import MergeVector
from rewardgym.policies import oracle


def act(env) -> int:
    policy = oracle(env)
    return int(policy(None, {}, torch.ones(env.num_envs, dtype=torch.bool))[0])


def place(env, vehicles: list[tuple[float, int, float]]):
    """Exactly the given (x, lane, speed) vehicles, on their lane centres; the first is the ego."""
    v = env.vehicles
    v.x = torch.tensor([[x for x, _, _ in vehicles]])
    v.lane = torch.tensor([[lane for _, lane, _ in vehicles]])
    v.y = env.road.centre(v.lane)
    v.speed = torch.tensor([[speed for _, _, speed in vehicles]])
    v.desired_speed, v.heading = v.speed.clone(), torch.zeros_like(v.speed)
    v.alive = torch.ones_like(v.alive)
    env.speed_index = torch.tensor([2])  # the ego's target is the top speed
    return env


@pytest.mark.parametrize("make", [HighwayVector, IntersectionVector])
def test_the_scripted_egos_play_meta_actions_only(make):
    with pytest.raises(ValueError, match="discrete meta-actions"):
        oracle(make(1, action_type="continuous"))


def test_the_highway_ego_passes_a_slower_car_when_the_next_lane_is_free():
    env = HighwayVector(1, lanes_count=2, vehicles_count=1)
    env.reset(seed=0)
    assert act(place(env, [(0.0, 1, 30.0), (60.0, 1, 15.0)])) == LANE_LEFT


def test_the_highway_ego_brakes_behind_a_slower_car_when_the_next_lane_is_taken():
    env = HighwayVector(1, lanes_count=2, vehicles_count=2)
    env.reset(seed=0)
    assert act(place(env, [(0.0, 1, 30.0), (40.0, 1, 15.0), (-3.0, 0, 30.0)])) == SLOWER


@pytest.mark.parametrize("beside, merges", [(2.0, False), (-60.0, True)])
def test_the_merging_ego_waits_for_a_safe_gap(beside, merges):
    env = MergeVector(1, vehicles_count=1)
    env.reset(seed=0)
    ramp = env.road.lanes_count
    action = act(place(env, [(20.0, ramp, 20.0), (20.0 + beside, ramp - 1, 16.0)]))
    assert (action == LANE_LEFT) == merges


def test_the_intersection_ego_gives_way_to_the_challenger_and_not_to_an_empty_road():
    alone = IntersectionVector(4, vehicles_count=0)
    alone.reset(seed=0)
    assert (oracle(alone)(None, {}, torch.ones(4, dtype=torch.bool)) == FASTER).all()
    challenged = IntersectionVector(4)
    challenged.reset(seed=0)
    assert (oracle(challenged)(None, {}, torch.ones(4, dtype=torch.bool)) != FASTER).all()
