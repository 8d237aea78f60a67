"""What makes the driving tasks need a policy: routes too long for slow constant speeds, traffic
a lane-keeping ego runs into, the intersection's challenger, and the fixes they rest on."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.envs.driving.base import FASTER, IDLE, SLOWER
from rewardgym.envs.driving.behavior import MOBIL, desired_gap, mobil_lanes
from rewardgym.envs.driving.highway import ROUTE_MARGIN, TRAFFIC_SPEED, HighwayVector
from rewardgym.envs.driving.intersection import IntersectionVector
from rewardgym.envs.driving.road import IntersectionRoutes
from rewardgym.envs.driving.vehicles import MAX_STEERING, SPEED_GAIN, bicycle_step, path_steering


def play(env, action: int, steps: int | None = None) -> dict[str, torch.Tensor]:
    """Play ``action`` in every row until every episode has ended; how each ended."""
    env.reset(seed=list(range(env.num_envs)))
    ended = {key: torch.zeros(env.num_envs, dtype=torch.bool) for key in ("success", "collision", "truncated", "done")}
    for _ in range(steps or env.max_episode_steps):
        _, _, terminated, truncated, info = env.step(torch.full((env.num_envs,), action))
        new = (terminated | truncated) & ~ended["done"]
        for key, value in (("success", info["success"]), ("collision", info["collision"]), ("truncated", truncated)):
            ended[key] |= new & value
        ended["done"] |= new
    return ended


def test_the_highway_route_is_out_of_reach_at_the_slowest_target_speed():
    env = HighwayVector(32, autoreset_mode="Disabled")
    slowest, start = float(env.target_speeds[0]), float(env.target_speeds[1])
    # The farthest an ego reaches slowing from its start speed: its speed controller lags by 1/SPEED_GAIN.
    reach = slowest * env.duration + (start - slowest) / SPEED_GAIN
    assert env.route_length == pytest.approx(ROUTE_MARGIN * slowest * env.duration)
    assert env.route_length > reach
    ended = play(env, SLOWER)
    assert ended["truncated"].all() and not ended["success"].any()


def test_the_default_route_follows_the_duration_and_needs_a_slowest_speed():
    assert HighwayVector(1, duration=20.0).route_length == pytest.approx(ROUTE_MARGIN * 10.0 * 20.0)
    assert HighwayVector(1, duration=20.0, route_length=123.0).route_length == 123.0
    with pytest.raises(ValueError, match="route_length must be given"):
        HighwayVector(1, speed_limit=15.0)  # target speeds 0, 7.5, 15


def test_a_lane_keeping_ego_runs_into_slower_traffic():
    """Traffic keeps 50–60 % of the limit, below the middle target speed: idling in lane crashes."""
    env = HighwayVector(32, autoreset_mode="Disabled")
    env.reset(seed=0)
    traffic = env.vehicles.desired_speed[:, 1:]
    assert (traffic >= TRAFFIC_SPEED[0] * env.speed_limit).all() and (traffic < env.target_speeds[1]).all()
    torch.testing.assert_close(env.vehicles.desired_speed, env.vehicles.speed)
    assert play(env, IDLE)["collision"].float().mean() > 0.9


def test_every_lane_starts_with_its_vehicles_at_least_the_desired_gap_apart():
    env = HighwayVector(256, vehicles_density=10.0)
    env.reset(seed=0)
    v = env.vehicles
    ahead = (v.lane.unsqueeze(2) == v.lane.unsqueeze(1)) & (v.x.unsqueeze(1) > v.x.unsqueeze(2))  # [i, j]: j ahead of i
    gap = torch.where(ahead, v.x.unsqueeze(1) - v.x.unsqueeze(2), torch.inf).amin(dim=2)
    minimum = float(desired_gap(env.target_speeds[1], torch.zeros(())))
    assert gap.min() >= minimum - 1e-3
    assert (gap < minimum + 5).any()  # and some are that close


def test_a_saturated_steering_command_steers_toward_the_path():
    """In float32 asin(1) exceeds π/2, whose tangent is negative: the steering must not flip."""
    speed, heading = torch.full((2,), 3.0), torch.tensor([-0.6, 0.6])
    offset = torch.tensor([-4.0, 4.0])  # left of the path (it lies to the right), and right of it
    steering = path_steering(speed, heading, offset, 0.0)
    torch.testing.assert_close(steering, torch.tensor([MAX_STEERING, -MAX_STEERING]))
    x, y = torch.zeros(2), offset
    for _ in range(15 * 8):  # 8 s at 15 Hz: the vehicle comes back to its path, never turns around
        x, y, heading, speed = bicycle_step(x, y, heading, speed, torch.zeros(2), path_steering(speed, heading, y, 0.0), 1 / 15)
        assert heading.abs().max() < math.pi / 2
    assert y.abs().max() < 0.5


def test_mobil_lanes_prefers_left_and_respects_the_lanes_that_may_be_entered():
    # One vehicle in lane 1 of 3, gaining 1 m/s² in either neighbouring lane, whose new followers are safe.
    own = torch.tensor([[[1.0], [0.0], [1.0]]])
    follower = torch.zeros(1, 3, 1)
    current = torch.tensor([[1]])
    everywhere = mobil_lanes(own, follower, current, lambda lane: torch.ones_like(lane, dtype=torch.bool))
    assert int(everywhere) == 0
    not_left = mobil_lanes(own, follower, current, lambda lane: lane != 0)
    assert int(not_left) == 2
    unsafe = mobil_lanes(own, torch.full((1, 3, 1), -MOBIL.max_braking_imposed - 1), current, lambda lane: lane >= 0)
    assert int(unsafe) == 1


def test_two_routes_cross_where_their_paths_meet():
    routes = IntersectionRoutes(100.0, torch.device("cpu"), spacing=2.0)
    along_a, along_b, apart = routes.crossings(2.5)
    # Straight on from the bottom (route 1, x = 2) crosses straight on from the right (route 4, y = -2).
    assert float(apart[1, 4]) == 0.0
    a = routes.pose_at(torch.tensor(1), along_a[1, 4])[:2]
    b = routes.pose_at(torch.tensor(4), along_b[1, 4])[:2]
    torch.testing.assert_close(torch.stack(a), torch.tensor([2.0, -2.0]))
    torch.testing.assert_close(torch.stack(b), torch.tensor([2.0, -2.0]))
    ends = routes.conflict_ends(3.0, 2.5)
    assert float(ends[1, 4]) > float(along_b[1, 4])  # past the crossing point, the conflict ends
    assert float(ends[0, 4]) == -math.inf  # a right turn from the bottom never meets it


@pytest.mark.parametrize("route", ["right", "straight", "left"])
def test_the_challenger_meets_an_ego_driving_at_top_speed(route):
    env = IntersectionVector(16, ego_route=route, autoreset_mode="Disabled")
    env.reset(seed=0)
    assert bool(env.on_priority_road(env.vehicles.lane[:, 1]).all())
    ended = play(env, FASTER)
    assert ended["collision"].all()


def test_no_intersection_route_is_finished_in_time_below_the_top_speed():
    env = IntersectionVector(8, ego_route="right", vehicles_count=0, autoreset_mode="Disabled")
    middle = float(env.target_speeds[1])
    shortest = float(env.routes.turn_length.min()) + env.approach_distance + env.exit_distance
    assert shortest / middle > env.duration
    ended = play(env, IDLE)
    assert ended["truncated"].all() and not ended["success"].any()


def test_priority_road_traffic_does_not_wait_for_the_ego():
    env = gym.make_vec("rewardgym/Intersection-v1", num_envs=1, vehicles_count=2, ego_route="straight").unwrapped
    env.reset(seed=0)
    v = env.vehicles
    minor, priority = 3 * 2 + 1, 3 * 1 + 1  # straight on from the top, and from the right
    ego_at = env.routes.entry + 5.0  # inside the square
    s = torch.tensor([[ego_at, env.routes.entry - 4.0, env.routes.entry - 4.0]])
    v.lane = torch.tensor([[1, priority, minor]])
    v.x, v.y, v.heading = env.routes.pose_at(v.lane, s)
    v.alive = torch.ones_like(v.alive)
    assert env.traffic.plan(v, env.elapsed)["yielding"][0].tolist() == [False, False, True]
