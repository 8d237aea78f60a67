"""Oracles of the driving family: scripted egos that read the true state of the traffic.

On the lane scenes (Highway, Merge) the ego is driven as the traffic is, by IDM and MOBIL
(``rewardgym.envs.driving.behavior``), toward the fastest target speed, and what they ask for is
mapped onto highway-env's meta-actions, one per step: change lane when MOBIL accepts and the new
lane needs no braking, else slow down when IDM brakes, speed up when it accelerates. On the ramp
the ego merges at the first gap that is safe for it and for its new follower.

At the intersection the ego follows its route by IDM and gives way to whoever would meet it
where the paths cross, coming on at the speed that brings it to the square as they leave.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.envs.driving.base import FASTER, IDLE, LANE_LEFT, LANE_RIGHT, SLOWER, DrivingVectorEnv
from rewardgym.envs.driving.behavior import (
    IDM,
    MOBIL,
    corridor_leaders,
    idm_acceleration,
    lane_accelerations,
    mobil_lanes,
)
from rewardgym.envs.driving.highway import HighwayVector
from rewardgym.envs.driving.intersection import LEADER_CORRIDOR, IntersectionVector
from rewardgym.envs.driving.vehicles import LENGTH, SPEED_GAIN
from rewardgym.policies import BatchPolicy, register_oracle

Tensor = torch.Tensor

EGO_EXPONENT = 4.0  # IDM's δ for the ego
BRAKE_BELOW = -2.0  # m/s²: IDM accelerations below this step the target speed down
SPEED_UP_ABOVE = 0.0  # m/s²: IDM accelerations above this step it up
SETTLED = 0.5  # m from its lane centre: the ego decides lane changes only this near it
COMMIT_BRAKING = 4.0  # m/s²: a vehicle nearer the crossing than it stops at this rate cannot yield
STOP_BEFORE = 1.0  # m: a waiting ego stops this far before the traffic would count it as inside the square
CONFLICT_DISTANCE = 3.0  # m: paths nearer than this cross


def longitudinal_action(env: DrivingVectorEnv, acceleration: Tensor, desired_speed: Tensor | float) -> Tensor:
    """The meta-action for an IDM acceleration: slower when IDM brakes or the ego's target speed is
    above the one nearest ``desired_speed``, faster when IDM accelerates and it is below, else idle."""
    desired_speed = torch.as_tensor(desired_speed, device=acceleration.device).expand(acceleration.shape)
    wanted = (env.target_speeds - desired_speed.unsqueeze(1)).abs().argmin(dim=1)
    action = torch.where((acceleration > SPEED_UP_ABOVE) & (env.speed_index < wanted), FASTER, IDLE)
    return torch.where((acceleration < BRAKE_BELOW) | (env.speed_index > wanted), SLOWER, action)


@register_oracle(HighwayVector)
def idm_mobil_ego(env: HighwayVector) -> BatchPolicy:
    """The ego driven by IDM (toward the fastest target speed) and MOBIL, on Highway and Merge."""
    if env.action_type != "discrete":
        raise ValueError(f"the IDM/MOBIL ego plays discrete meta-actions, got action_type={env.action_type!r}")
    road = env.road
    rows = torch.arange(env.num_envs, device=env.device)

    def act(observation: Any, info: dict[str, Any], started: Tensor) -> Tensor:
        v = env.vehicles
        current = road.nearest_lane(v.y)
        desired = torch.cat([env.target_speeds[-1].expand(env.num_envs, 1), v.desired_speed[:, 1:]], dim=1)
        exponent = torch.cat([torch.full_like(v.exponent[:, :1], EGO_EXPONENT), v.exponent[:, 1:]], dim=1)
        # A vehicle changing lane already counts in the lane it moves to, so that cut-ins are seen.
        own, follower = (
            torch.minimum(*pair) for pair in zip(*(
                lane_accelerations(v.x, v.speed, desired, exponent, v.alive, lane, road.total_lanes)
                for lane in (current, torch.cat([current[:, :1], v.lane[:, 1:]], dim=1))
            ))
        )
        ego_lane, ego_target = current[:, 0], v.lane[:, 0]
        acceleration = torch.minimum(own[rows, ego_lane, 0], own[rows, ego_target, 0])
        main_lanes = road.lanes_count  # the ego never moves onto a ramp

        def may_enter(candidate: Tensor) -> Tensor:
            return (candidate >= 0) & (candidate < main_lanes)

        lane = mobil_lanes(own[..., :1], follower[..., :1], ego_lane.unsqueeze(1), may_enter)[:, 0]
        if road.ramp_end is not None:
            # Leaving the ramp is mandatory: the ego merges as soon as it is safe for itself and
            # for its new follower, whatever the gain. Until then it keeps behind the vehicle
            # ahead in the lane it merges into and before the ramp's end (a stopped vehicle), and
            # drops back while the vehicle behind there is too close.
            on_ramp = ego_lane == main_lanes
            ramp_end = idm_acceleration(v.speed[:, 0], desired[:, 0], exponent[:, 0], road.ramp_end - v.x[:, 0],
                                        torch.zeros_like(v.speed[:, 0]))
            ahead_safe = own[:, main_lanes - 1, 0] >= -MOBIL.max_braking_imposed
            behind_safe = follower[:, main_lanes - 1, 0] >= -MOBIL.max_braking_imposed
            on_ramp_acceleration = torch.minimum(torch.minimum(acceleration, ramp_end), own[:, main_lanes - 1, 0])
            on_ramp_acceleration = torch.where(behind_safe, on_ramp_acceleration, -torch.inf)
            acceleration = torch.where(on_ramp, on_ramp_acceleration, acceleration)
            merge = torch.where(ahead_safe & behind_safe, main_lanes - 1, ego_lane)
            lane = torch.where(on_ramp, merge, lane)
        settled = (ego_target == ego_lane) & ((v.y[:, 0] - road.centre(ego_lane)).abs() < SETTLED)
        # A lane change comes first where the ego need not brake in the lane it moves to.
        change = settled & (lane != ego_lane) & (own[rows, lane, 0] >= BRAKE_BELOW)
        action = torch.where(lane > ego_lane, LANE_RIGHT, LANE_LEFT)
        return torch.where(change, action, longitudinal_action(env, acceleration, env.target_speeds[-1]))

    return act


@register_oracle(IntersectionVector)
def yielding_ego(env: IntersectionVector) -> BatchPolicy:
    """The ego follows its route by IDM and gives way at the crossing: it waits before the square
    while a vehicle whose path crosses its own, and has not passed the crossing yet, is inside the
    square, or would be there before the ego: on the priority road, before the ego has passed
    the crossing; elsewhere, before the ego enters the square (after that it waits for the ego)."""
    if env.action_type != "discrete":
        raise ValueError(f"the yielding ego plays discrete meta-actions, got action_type={env.action_type!r}")
    routes = env.routes
    zone = routes.entry - LENGTH / 2  # where the traffic starts counting a vehicle as inside the square
    ends = routes.conflict_ends(CONFLICT_DISTANCE, LENGTH / 2)
    fastest = float(env.target_speeds[-1])
    step = 1 / env.policy_frequency

    def act(observation: Any, info: dict[str, Any], started: Tensor) -> Tensor:
        v = env.vehicles
        s, _, _ = routes.project(v.lane, v.x, v.y)
        ego_route, ego_s, ego_speed = v.lane[:, :1], s[:, :1], v.speed[:, :1]
        inside = routes.in_crossing(v.x, v.y, LENGTH / 2) & v.alive

        def arrival(distance: Tensor) -> Tensor:
            """When the ego, speeding up to its fastest target speed now, has driven ``distance``."""
            return (distance.clamp(min=0) + (fastest - ego_speed) / SPEED_GAIN) / fastest + step

        ego_enters = arrival(zone - ego_s)
        ego_clears = arrival(ends[v.lane, ego_route] + LENGTH - ego_s)  # past where each path crosses its own
        to_zone = zone - s
        reaches = to_zone / v.speed.clamp(min=1e-3)
        stopping = v.speed * v.speed / (2 * COMMIT_BRAKING) + v.speed * step
        priority = env.on_priority_road(v.lane)
        approaching = v.alive & ~inside & (to_zone > 0)
        first = approaching & torch.where(priority, reaches < ego_clears, (reaches < ego_enters) | (to_zone < stopping))
        crossing_ahead = s < ends[ego_route, v.lane] + LENGTH
        threat = (inside | first) & crossing_ahead
        threat[:, 0] = False
        ego_goes = inside[:, 0] | (zone - ego_s[:, 0] < ego_speed[:, 0] / SPEED_GAIN)  # it cannot stop before the zone
        waiting = ~ego_goes & threat.any(dim=1)

        leader, distance = corridor_leaders(v.x, v.y, v.heading, v.alive, LEADER_CORRIDOR)
        gap, leader_speed = distance[:, 0], v.speed.gather(1, leader[:, :1])[:, 0]
        stop_gap = zone - STOP_BEFORE - ego_s[:, 0] + IDM.minimum_gap  # a stopped vehicle just before the zone
        stop = waiting & (stop_gap < gap)
        gap, leader_speed = torch.where(stop, stop_gap, gap), torch.where(stop, 0.0, leader_speed)
        speed = ego_speed[:, 0]
        # While it waits, the ego comes on at the speed that brings it to the square when the
        # last of those it waits for has passed, so as not to stop where it need not.
        passed = (ends[ego_route, v.lane] + LENGTH - s) / v.speed.clamp(min=1e-3)
        free = torch.where(threat, passed, 0.0).amax(dim=1)
        desired = torch.where(waiting, ((zone - ego_s[:, 0]) / free).clamp(max=fastest), fastest)
        acceleration = idm_acceleration(speed, desired, torch.full_like(speed, EGO_EXPONENT), gap, leader_speed)
        return longitudinal_action(env, acceleration, desired)

    return act
