"""IDM, MOBIL and the lane neighbour search, against their equations and hand-built scenes."""

from __future__ import annotations

import pytest
import torch

from rewardgym.envs.driving.behavior import (
    IDM,
    MOBIL,
    equilibrium_gap,
    idm_acceleration,
    lane_neighbours,
    mobil_accepts,
)
from rewardgym.envs.driving.highway import HighwayVector


def test_idm_holds_speed_at_the_equilibrium_gap_and_brakes_or_accelerates_around_it():
    speed = torch.tensor([5.0, 15.0, 25.0])
    desired, exponent = torch.full_like(speed, 30.0), torch.full_like(speed, 4.0)
    gap = equilibrium_gap(speed, desired, exponent)
    # s_e(v) = (s0 + vT) / sqrt(1 - (v/v0)^δ)
    expected = (IDM.minimum_gap + speed * IDM.time_headway) / torch.sqrt(1 - (speed / desired) ** 4)
    torch.testing.assert_close(gap, expected)
    torch.testing.assert_close(idm_acceleration(speed, desired, exponent, gap, speed), torch.zeros(3), atol=1e-5, rtol=0)
    assert (idm_acceleration(speed, desired, exponent, gap * 0.9, speed) < 0).all()
    assert (idm_acceleration(speed, desired, exponent, gap * 1.1, speed) > 0).all()


def test_a_follower_settles_at_the_equilibrium_gap_behind_a_steady_leader():
    leader_speed, dt = 20.0, 0.05
    follower_x, follower_v, leader_x = torch.tensor([0.0]), torch.tensor([10.0]), torch.tensor([60.0])
    desired, exponent = torch.tensor([30.0]), torch.tensor([4.0])
    for _ in range(int(120 / dt)):
        a = idm_acceleration(follower_v, desired, exponent, leader_x - follower_x, torch.tensor([leader_speed]))
        follower_x, follower_v = follower_x + follower_v * dt, follower_v + a * dt
        leader_x = leader_x + leader_speed * dt
    expected = equilibrium_gap(torch.tensor([leader_speed]), desired, exponent)
    torch.testing.assert_close(leader_x - follower_x, expected, atol=0.05, rtol=0)
    torch.testing.assert_close(follower_v, torch.tensor([leader_speed]), atol=1e-3, rtol=0)


def test_on_a_free_road_idm_approaches_the_desired_speed_from_below():
    speed, dt = torch.tensor([0.0, 10.0]), 0.05
    desired, exponent, no_leader = torch.tensor([25.0, 25.0]), torch.tensor([4.0, 4.0]), torch.tensor([torch.inf] * 2)
    history = []
    for _ in range(int(60 / dt)):
        speed = speed + idm_acceleration(speed, desired, exponent, no_leader, speed) * dt
        history.append(speed)
    history = torch.stack(history)
    assert (history[1:] >= history[:-1]).all() and (history <= desired).all()
    torch.testing.assert_close(speed, desired, atol=0.05, rtol=0)


def test_mobil_weighs_safety_before_incentive():
    def accepts(own_gain: float, new_follower_after: float) -> bool:
        zero = torch.tensor(0.0)
        return bool(mobil_accepts(zero, torch.tensor(own_gain), zero, torch.tensor(new_follower_after), zero, zero))

    assert accepts(MOBIL.min_acceleration_gain + 0.05, 0.0)
    assert not accepts(MOBIL.min_acceleration_gain - 0.05, 0.0)  # not worth it
    assert not accepts(3.0, -MOBIL.max_braking_imposed - 0.1)  # unsafe for the new follower
    assert accepts(3.0, -MOBIL.max_braking_imposed + 0.1)


def scene(positions: list[tuple[float, int, float]]) -> HighwayVector:
    """A two-lane highway holding exactly the given (x, lane, speed) vehicles; the first is the ego."""
    env = HighwayVector(1, lanes_count=2, vehicles_count=len(positions) - 1)
    env.reset(seed=0)
    v = env.vehicles
    v.x = torch.tensor([[x for x, _, _ in positions]])
    v.lane = torch.tensor([[lane for _, lane, _ in positions]])
    v.y = env.road.centre(v.lane)
    v.speed = torch.tensor([[speed for _, _, speed in positions]])
    v.desired_speed = torch.full_like(v.speed, 30.0)
    v.exponent = torch.full_like(v.speed, 4.0)
    v.heading = torch.zeros_like(v.speed)
    return env


@pytest.mark.parametrize(
    "positions, changes",
    [
        # vehicle 1 is stuck 30 m behind a slow truck (2) in lane 1; lane 0 is free: it moves left
        ([(-200.0, 0, 25.0), (0.0, 1, 25.0), (30.0, 1, 10.0)], True),
        # the same, but a fast car (3) right behind in lane 0 would have to brake hard: it stays
        ([(-200.0, 0, 25.0), (0.0, 1, 25.0), (30.0, 1, 10.0), (-12.0, 0, 30.0)], False),
        # the leader is far and almost as fast: the gain is below the threshold
        ([(-200.0, 0, 25.0), (0.0, 1, 25.0), (200.0, 1, 25.0)], False),
    ],
)
def test_traffic_changes_lane_as_mobil_decides(positions, changes):
    env = scene(positions)
    env.traffic.plan(env.vehicles, env.elapsed)
    assert (int(env.vehicles.lane[0, 1]) == 0) == changes


def random_scenes(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """64 scenes of 12 vehicles on 3 lanes over 200 m: positions, lanes, and which are present."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(64, 12, generator=generator) * 200
    lane = torch.randint(0, 3, (64, 12), generator=generator)
    alive = torch.rand(64, 12, generator=generator) > 0.2
    return x, lane, alive


def test_lane_neighbours_match_a_brute_force_search():
    x, lane, alive = random_scenes()
    found = lane_neighbours(x, lane, alive, lanes_count=3)
    for row in range(64):
        for i in alive[row].nonzero().flatten().tolist():  # (absent vehicles have no neighbours to ask for)
            for query in range(3):
                same = [j for j in range(12) if alive[row, j] and lane[row, j] == query and j != i]
                ahead = [j for j in same if x[row, j] > x[row, i]]
                behind = [j for j in same if x[row, j] < x[row, i]]
                leader = min(ahead, key=lambda j: float(x[row, j]), default=None)
                follower = max(behind, key=lambda j: float(x[row, j]), default=None)
                if leader is None:
                    assert found.leader_gap[row, query, i] == float("inf")
                else:
                    assert int(found.leader[row, query, i]) == leader
                    assert float(found.leader_gap[row, query, i]) == pytest.approx(float(x[row, leader] - x[row, i]))
                if follower is None:
                    assert found.follower_gap[row, query, i] == float("inf")
                else:
                    assert int(found.follower[row, query, i]) == follower
                    assert float(found.follower_gap[row, query, i]) == pytest.approx(float(x[row, i] - x[row, follower]))


def test_a_vehicle_changing_lane_follows_the_nearer_of_its_two_leaders():
    """Between lanes a vehicle brakes for the nearer of the leaders in the lane it leaves and the
    lane it moves to; a vehicle keeping its lane, for its own lane's leader only."""
    env = scene([(-200.0, 0, 25.0), (0.0, 1, 25.0), (50.0, 1, 25.0), (20.0, 0, 25.0)])
    v = env.vehicles
    v.lane = torch.tensor([[0, 0, 1, 0]])  # vehicle 1 moves from lane 1 (where it still is) to lane 0
    env.elapsed = torch.ones_like(env.elapsed)  # not a decision step: the lanes stay as set
    plan = env.traffic.plan(v, env.elapsed)
    assert plan["leader"][0, 1] == 3  # 20 m ahead in lane 0, nearer than vehicle 2, 50 m ahead in lane 1
    assert plan["leader"][0, 0] == 3 and plan["no_leader"][0, 2] == float("inf")
    assert plan["lane_centre"][0].tolist() == [0.0, 0.0, 4.0, 0.0]
