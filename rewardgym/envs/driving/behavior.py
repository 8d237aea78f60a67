"""Traffic behaviour as the equations: IDM car following and MOBIL lane changes (highway-env's
``IDMVehicle``), batched over any tensor shape.

Distances are centre to centre, as in highway-env: the desired minimum gap ``s0`` includes one
vehicle length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class IDMParameters:
    """IDM constants (highway-env's defaults)."""

    comfort_acceleration: float = 3.0  # a: maximum comfortable acceleration, m/s²
    comfort_deceleration: float = 5.0  # b: comfortable braking, m/s² (positive)
    minimum_gap: float = 10.0  # s0: jam distance, centre to centre (5 m + one vehicle length)
    time_headway: float = 1.5  # T, s
    max_acceleration: float = 6.0  # the output is clipped to ±this


@dataclass(frozen=True)
class MOBILParameters:
    """MOBIL constants (highway-env's defaults)."""

    politeness: float = 0.0  # p (the batched traffic assumes 0, as highway-env)
    min_acceleration_gain: float = 0.2  # a_th, m/s²
    max_braking_imposed: float = 2.0  # b_safe, m/s²
    decision_period: float = 1.0  # s between a vehicle's decisions (LANE_CHANGE_DELAY)
    min_speed: float = 1.0  # m/s: slower vehicles do not decide


IDM = IDMParameters()
MOBIL = MOBILParameters()


def desired_gap(speed: Tensor, approach_speed: Tensor, idm: IDMParameters = IDM) -> Tensor:
    """s*(v, Δv) = s0 + v·T + v·Δv / (2√(a·b)), with Δv = v − v_leader (positive when closing in)."""
    root = 2.0 * math.sqrt(idm.comfort_acceleration * idm.comfort_deceleration)
    return idm.minimum_gap + speed * idm.time_headway + speed * approach_speed / root


def idm_acceleration(
    speed: Tensor, desired_speed: Tensor, exponent: Tensor, gap: Tensor, leader_speed: Tensor, idm: IDMParameters = IDM
) -> Tensor:
    """a = a_max·[1 − (v/v0)^δ − (s*(v, Δv)/s)²], clipped to ±``max_acceleration``.

    ``gap`` is the centre-to-centre distance to the leader (``inf`` when there is none).
    """
    return idm_acceleration_from(idm_free_road(speed, desired_speed, exponent), speed, gap, leader_speed, idm)


def idm_free_road(speed: Tensor, desired_speed: Tensor, exponent: Tensor) -> Tensor:
    """IDM's free-road term 1 − (v/v0)^δ, which depends on the vehicle alone."""
    ratio = speed.clamp(min=0.0) / desired_speed.clamp(min=1e-3)
    return 1.0 - torch.exp(exponent * torch.log(ratio))  # = ratio ** exponent; torch's pow is slower on CPU


def idm_acceleration_from(
    free_road: Tensor, speed: Tensor, gap: Tensor, leader_speed: Tensor, idm: IDMParameters = IDM
) -> Tensor:
    """``idm_acceleration`` given the vehicle's free-road term (shared by the several gaps MOBIL weighs)."""
    ratio = desired_gap(speed, speed - leader_speed, idm).clamp(min=0.0) / gap.clamp(min=1e-2)
    acceleration = idm.comfort_acceleration * (free_road - ratio * ratio)
    return acceleration.clamp(-idm.max_acceleration, idm.max_acceleration)


def equilibrium_gap(speed: Tensor, desired_speed: Tensor, exponent: Tensor, idm: IDMParameters = IDM) -> Tensor:
    """s_e(v) = s*(v, 0) / √(1 − (v/v0)^δ): the gap at which IDM holds speed v behind a leader at v."""
    return desired_gap(speed, torch.zeros_like(speed), idm) / torch.sqrt(1.0 - (speed / desired_speed) ** exponent)


def mobil_accepts(
    own_now: Tensor,
    own_after: Tensor,
    new_follower_now: Tensor,
    new_follower_after: Tensor,
    old_follower_now: Tensor,
    old_follower_after: Tensor,
    mobil: MOBILParameters = MOBIL,
) -> Tensor:
    """MOBIL's decision for a candidate lane, from IDM accelerations before and after the change.

    Safety: the new follower brakes no harder than ``b_safe`` (ã_n ≥ −b_safe). Incentive:
    (ã_c − a_c) + p·[(ã_n − a_n) + (ã_o − a_o)] ≥ a_th.
    """
    safe = new_follower_after >= -mobil.max_braking_imposed
    others = (new_follower_after - new_follower_now) + (old_follower_after - old_follower_now)
    gain = (own_after - own_now) + mobil.politeness * others
    return safe & (gain >= mobil.min_acceleration_gain)


@dataclass
class Neighbours:
    """For each vehicle and each lane, the nearest vehicle ahead and behind in that lane.

    Every field has shape ``(num_envs, lanes, V)``: entry ``[row, lane, i]`` is about vehicle ``i``.
    """

    leader: Tensor  # index of the vehicle ahead (any index where there is none)
    leader_gap: Tensor  # centre-to-centre distance (inf when there is none)
    follower: Tensor
    follower_gap: Tensor

    @property
    def has_follower(self) -> Tensor:
        return torch.isfinite(self.follower_gap)


def lane_neighbours(position: Tensor, lane: Tensor, alive: Tensor, lanes_count: int) -> Neighbours:
    """Every vehicle's nearest neighbours ahead and behind in every lane, from ``(num_envs, V)`` tensors.

    One sort along the road, then, per lane, a cumulative min (max) over the sorted slots finds the
    next (previous) slot in that lane: O(V) per lane rather than the O(V²) of comparing every pair.
    The sorted positions are padded with −inf before and +inf after, so that a missing neighbour
    lands on a pad and its gap comes out infinite without a mask.
    """
    rows, count = position.shape
    sorted_position, order = torch.sort(torch.where(alive, position, torch.inf), dim=1)
    sorted_lane = torch.where(alive, lane, -1).gather(1, order)

    def padded(values: Tensor, before: float, after: float) -> Tensor:
        column = values[:, :1]
        return torch.cat([torch.full_like(column, before), values, torch.full_like(column, after)], dim=1)

    padded_lane = padded(sorted_lane, -1, -1)  # padded slot s holds sorted slot s − 1
    padded_position = padded(sorted_position, -torch.inf, torch.inf)
    padded_order = padded(order, 0, 0)
    slot = torch.arange(count + 2, device=position.device)
    in_lane = padded_lane.unsqueeze(1) == torch.arange(lanes_count, device=position.device).view(1, -1, 1)
    first_from = torch.where(in_lane, slot, count + 1).flip(2).cummin(2).values.flip(2)  # first slot ≥ s in the lane
    last_until = torch.where(in_lane, slot, 0).cummax(2).values  # last slot ≤ s in the lane
    # The vehicle at padded slot s (1..V) has its leader at first_from[s + 1], its follower at
    # last_until[s − 1]; scattering by ``order`` puts them in vehicle order.
    by_vehicle = order.unsqueeze(1).expand(rows, 2 * lanes_count, count)
    slots = torch.cat([first_from[..., 2:], last_until[..., :-2]], dim=1)
    slots = torch.empty_like(slots).scatter_(2, by_vehicle, slots).view(rows, -1)
    neighbour = padded_order.gather(1, slots).view(rows, 2, lanes_count, count)
    # |neighbour − own position|: the distance ahead of a leader, behind of a follower, inf for a pad.
    gap = (padded_position.gather(1, slots).view(rows, 2, lanes_count, count) - position.view(rows, 1, 1, count)).abs()
    return Neighbours(neighbour[:, 0], gap[:, 0], neighbour[:, 1], gap[:, 1])


def lane_accelerations(
    position: Tensor, speed: Tensor, desired_speed: Tensor, exponent: Tensor, alive: Tensor, lane: Tensor,
    lanes_count: int, idm: IDMParameters = IDM,
) -> tuple[Tensor, Tensor]:
    """What MOBIL weighs, for every vehicle and every lane, from ``(num_envs, V)`` tensors: the
    vehicle's IDM acceleration behind its leader in that lane (ã_c), and the acceleration of its
    follower in that lane behind it (ã_n; 0 where there is none). Two ``(num_envs, lanes, V)`` tensors.
    """
    return neighbour_accelerations(lane_neighbours(position, lane, alive, lanes_count), speed, desired_speed, exponent, idm)


def neighbour_accelerations(
    found: Neighbours, speed: Tensor, desired_speed: Tensor, exponent: Tensor, idm: IDMParameters = IDM
) -> tuple[Tensor, Tensor]:
    """``lane_accelerations`` from the lane neighbours already ``found``."""
    rows = speed.shape[0]

    def of(value: Tensor, index: Tensor) -> Tensor:
        """``value`` (per vehicle) of the vehicles ``index`` (rows, lanes, V)."""
        return value.gather(1, index.view(rows, -1)).view(index.shape)

    free_road = idm_free_road(speed, desired_speed, exponent)
    own = idm_acceleration_from(free_road.unsqueeze(1), speed.unsqueeze(1), found.leader_gap, of(speed, found.leader), idm)
    follower = idm_acceleration_from(
        of(free_road, found.follower), of(speed, found.follower), found.follower_gap, speed.unsqueeze(1), idm
    )
    return own, torch.where(found.has_follower, follower, 0.0)


def mobil_lanes(
    own: Tensor, follower: Tensor, current: Tensor, may_enter: Callable[[Tensor], Tensor],
    mobil: MOBILParameters = MOBIL,
) -> Tensor:
    """MOBIL's lane for every vehicle: one lane left, one lane right, or ``current`` (the lane it is in).

    ``own`` and ``follower`` are ``lane_accelerations``' (num_envs, lanes, V); ``may_enter(lane)``
    says whether each of the candidate lanes (num_envs, 2, V) may be entered. Left wins when both
    sides are accepted, as in highway-env. The followers' gains are left out: politeness is 0.
    """
    candidate = current.unsqueeze(1) + torch.tensor([1, -1], device=current.device).view(1, 2, 1)
    index = candidate.clamp(0, own.shape[1] - 1)  # lanes off the road are rejected by may_enter
    own_now, own_after = own.gather(1, current.unsqueeze(1)), own.gather(1, index)
    accepted = mobil_accepts(own_now, own_after, 0.0, follower.gather(1, index), 0.0, 0.0, mobil) & may_enter(candidate)
    return torch.where(accepted[:, 1], candidate[:, 1], torch.where(accepted[:, 0], candidate[:, 0], current))


def corridor_leaders(x: Tensor, y: Tensor, heading: Tensor, alive: Tensor, corridor: float) -> tuple[Tensor, Tensor]:
    """Each vehicle's leader off the lanes: the nearest vehicle ahead along its heading within
    ``corridor`` metres to either side. Index (any where there is none) and distance along the
    heading (inf where there is none), from ``(num_envs, V)`` tensors, comparing every pair.
    """
    dx, dy = x.unsqueeze(1) - x.unsqueeze(2), y.unsqueeze(1) - y.unsqueeze(2)  # [i, j]: j − i
    cos, sin = torch.cos(heading).unsqueeze(2), torch.sin(heading).unsqueeze(2)
    ahead, across = dx * cos + dy * sin, -dx * sin + dy * cos
    candidate = alive.unsqueeze(1) & (ahead > 0) & (across.abs() < corridor)
    distance, leader = torch.where(candidate, ahead, torch.inf).min(dim=2)
    return leader, distance
