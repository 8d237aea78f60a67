"""The three scenes: spawning, infractions, route completion and the reward channels."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.envs.driving.base import FASTER, IDLE, LANE_LEFT
from rewardgym.envs.driving.collision import boxes_overlap
from rewardgym.envs.driving.highway import HighwayVector

SCENES = ["rewardgym/Highway-v1", "rewardgym/Merge-v1", "rewardgym/Intersection-v1"]


@pytest.mark.parametrize("env_id", SCENES)
def test_no_two_spawned_vehicles_overlap(env_id):
    envs = gym.make_vec(env_id, num_envs=512, vehicles_density=3.0, vehicles_count=10)
    envs.reset(seed=0)
    v = envs.vehicles
    a, b = (lambda t: t.unsqueeze(2)), (lambda t: t.unsqueeze(1))
    overlap = boxes_overlap(a(v.x), a(v.y), a(v.heading), b(v.x), b(v.y), b(v.heading))
    pairs = overlap & a(v.alive) & b(v.alive) & ~torch.eye(envs.capacity, dtype=torch.bool)
    assert not pairs.any()
    assert v.alive[:, 1:].sum() > envs.num_envs  # and there was traffic to overlap


def test_a_collision_terminates_and_is_reported():
    env = HighwayVector(1, vehicles_count=1, reward="summed")
    env.reset(seed=0)
    v = env.vehicles
    v.x, v.lane = torch.tensor([[0.0, 8.0]]), torch.tensor([[0, 0]])
    v.y, v.speed = torch.zeros(1, 2), torch.tensor([[25.0, 0.0]])
    _, reward, terminated, truncated, info = env.step(torch.tensor([IDLE]))
    assert bool(terminated[0]) and not bool(truncated[0])
    assert bool(info["collision"][0]) and not bool(info["success"][0])
    terms = info["reward_terms"]
    assert terms["collision"][0] == 1 and terms["carl"][0] == 0 and terms["sparse"][0] == 0
    # highway-env's normalisation: (−1 + 0.1·right_lane + 0.4·high_speed + 1) / 1.5, on the road
    expected = (0.1 * terms["right_lane"] + 0.4 * terms["high_speed"]) / 1.5
    torch.testing.assert_close(reward, expected)


def test_leaving_the_road_terminates_and_is_reported():
    env = HighwayVector(1, vehicles_count=0, action_type="continuous", lanes_count=1)
    env.reset(seed=0)
    for _ in range(20):
        _, _, terminated, _, info = env.step(torch.tensor([[0.0, 1.0]]))
        if terminated[0]:
            break
    assert bool(info["off_road"][0]) and not bool(info["collision"][0])


@pytest.mark.parametrize("env_id", ["rewardgym/Highway-v1", "rewardgym/Intersection-v1"])
def test_carl_summed_over_a_clean_episode_equals_the_route_completion(env_id):
    highway = "Highway" in env_id
    kwargs = {"route_length": 150.0} if highway else {"ego_route": "straight"}
    env = gym.make_vec(env_id, num_envs=4, vehicles_count=0, reward="carl", **kwargs)
    env.reset(seed=1)
    total, done = torch.zeros(4), torch.zeros(4, dtype=torch.bool)
    while not done.all():  # at the speed limit, keeping to the lane or route centre
        _, reward, terminated, truncated, info = env.step(torch.full((4,), IDLE if highway else FASTER))
        total += reward * ~done
        done |= terminated | truncated
    assert info["success"].all()
    torch.testing.assert_close(total, torch.ones(4), atol=1e-5, rtol=0)


def test_carl_discounts_progress_made_between_lanes_and_above_the_limit():
    env = HighwayVector(2, vehicles_count=0, lanes_count=2, route_length=400.0, reward="carl")
    env.reset(seed=0)
    env.vehicles.lane = torch.ones_like(env.vehicles.lane)
    env.vehicles.y = env.road.centre(env.vehicles.lane)
    lane_change = torch.tensor([LANE_LEFT, IDLE])
    _, reward, _, _, info = env.step(lane_change)
    for _ in range(3):
        _, reward, _, _, info = env.step(torch.tensor([IDLE, IDLE]))
    terms = info["reward_terms"]
    assert terms["centre_factor"][0] < 1 and terms["centre_factor"][1] == 1
    assert reward[0] < terms["route_increment"][0] and reward[1] == terms["route_increment"][1]
    env.vehicles.speed = torch.full_like(env.vehicles.speed, 40.0)  # well above the 30 m/s limit
    _, reward, _, _, info = env.step(torch.tensor([FASTER, FASTER]))
    assert (info["reward_terms"]["speeding_factor"] < 1).all()


@pytest.mark.parametrize("route", ["right", "straight", "left"])
def test_the_ego_follows_each_intersection_route_to_its_end(route):
    env = gym.make_vec("rewardgym/Intersection-v1", num_envs=2, vehicles_count=0, ego_route=route)
    env.reset(seed=0)
    for _ in range(env.max_episode_steps):
        _, _, terminated, _truncated, info = env.step(torch.full((2,), FASTER))
        assert not info["off_road"].any()
        if terminated.all():
            break
    assert info["success"].all()


def test_merge_fails_when_the_ego_stays_on_the_ramp():
    env = gym.make_vec("rewardgym/Merge-v1", num_envs=2, vehicles_count=0, ramp_length=60.0)
    env.reset(seed=0)
    for _ in range(env.max_episode_steps):
        _, _, terminated, _, info = env.step(torch.full((2,), IDLE))
        if terminated.any():
            break
    assert info["off_road"].all() and not info["success"].any()


def test_the_observation_lists_the_nearest_vehicles_relative_to_the_ego():
    env = HighwayVector(1, vehicles_count=3, vehicles_observed=3, lanes_count=2)
    env.reset(seed=0)
    v = env.vehicles
    v.x, v.lane = torch.tensor([[10.0, 60.0, 20.0, -5.0]]), torch.tensor([[0, 1, 1, 0]])
    v.y = env.road.centre(v.lane)
    observation = env._observe()[0]
    scale_x, scale_y, _ = env.observation_scale
    assert observation[:, 0].tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(observation[1:, 1] * scale_x, torch.tensor([10.0, -15.0]))  # nearest first
    torch.testing.assert_close(observation[1:, 2] * scale_y, torch.tensor([4.0, 0.0]))


def test_the_summed_reward_takes_its_weights_as_arguments():
    weights = {"collision_reward": -2.0, "right_lane_reward": 0.5, "high_speed_reward": 1.0, "lane_change_reward": -0.3,
               "reward_speed_range": (10.0, 20.0)}
    env = HighwayVector(2, vehicles_count=0, lanes_count=2, reward="summed", **weights)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(torch.tensor([LANE_LEFT, IDLE]))
    terms = info["reward_terms"]
    torch.testing.assert_close(terms["high_speed"], ((env.vehicles.speed[:, 0] * torch.cos(env.vehicles.heading[:, 0]) - 10.0) / 10.0).clamp(0, 1))
    raw = 0.5 * terms["right_lane"] + 1.0 * terms["high_speed"] - 0.3 * terms["lane_change"]
    torch.testing.assert_close(reward, (raw + 2.0) / 3.5)


@pytest.mark.parametrize("env_id", SCENES)
@pytest.mark.parametrize("weights, message", [
    ({"collision_reward": "-1"}, "collision_reward must be a number"),
    ({"high_speed_reward": float("nan")}, "high_speed_reward must be in"),
    ({"reward_speed_range": 20.0}, "reward_speed_range must be a pair"),
    ({"reward_speed_range": (30.0, 20.0)}, "reward_speed_range must be increasing"),
    ({"collision_reward": 1.0}, "collision_reward .* must be below"),
])
def test_bad_reward_weights_are_value_errors(env_id, weights, message):
    with pytest.raises(ValueError, match=message):
        gym.make_vec(env_id, num_envs=1, **weights)


def test_merge_is_a_highway_with_an_on_ramp():
    merge = gym.make_vec("rewardgym/Merge-v1", num_envs=4)
    highway = HighwayVector(4, ramp_length=200.0, lanes_count=2, vehicles_count=12, duration=30.0)
    for env in (merge, highway):
        env.reset(seed=5)
    assert (merge.vehicles.lane[:, 0] == merge.road.lanes_count).all()  # the ego starts on the ramp
    for action in (IDLE, LANE_LEFT, FASTER, IDLE):
        expected, got = merge.step(torch.full((4,), action)), highway.step(torch.full((4,), action))
        torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
        torch.testing.assert_close(got[1], expected[1], rtol=0, atol=0)
