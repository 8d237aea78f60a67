"""Traffic behaviour as the equations: IDM car following and MOBIL lane changes (highway-env's
``IDMVehicle``), batched over any tensor shape.

Distances are centre to centre, as in highway-env: the desired minimum gap ``s0`` includes one
vehicle length.
"""

from __future__ import annotations

import math
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
    return 1.0 - (speed.clamp(min=0.0) / desired_speed.clamp(min=1e-3)) ** exponent


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
    """For each queried vehicle, the nearest vehicle ahead and behind in a given lane."""

    leader: Tensor  # index of the vehicle ahead (any index where there is none)
    leader_gap: Tensor  # centre-to-centre distance (inf when there is none)
    follower: Tensor
    follower_gap: Tensor

    @property
    def has_leader(self) -> Tensor:
        return torch.isfinite(self.leader_gap)

    @property
    def has_follower(self) -> Tensor:
        return torch.isfinite(self.follower_gap)


class LaneOrder:
    """Vehicles sorted along the road, with, for every lane, the next and previous slot in that
    lane: every vehicle's neighbours in any lane then cost a few gathers.

    Built from ``(num_envs, V)`` tensors with one sort and a cumulative min/max per lane, O(V)
    per lane rather than the O(V²) of comparing every pair.
    """

    def __init__(self, position: Tensor, lane: Tensor, alive: Tensor, lanes_count: int):
        rows, count = position.shape
        self.position = position
        self.lanes_count = lanes_count
        self.order = torch.argsort(torch.where(alive, position, torch.inf), dim=1)
        sorted_lane = torch.where(alive, lane, -1).gather(1, self.order)
        slot = torch.arange(count, device=position.device).expand(rows, count)
        self.rank = torch.empty_like(self.order).scatter_(1, self.order, slot)  # each vehicle's slot
        none_after, none_before = torch.full_like(slot[:, :1], count), torch.full_like(slot[:, :1], -1)
        after, before = [], []
        for each in range(lanes_count):
            in_lane = sorted_lane == each
            first_from = torch.where(in_lane, slot, count).flip(1).cummin(1).values.flip(1)
            last_until = torch.where(in_lane, slot, -1).cummax(1).values
            after.append(torch.cat([first_from[:, 1:], none_after], dim=1))  # first slot > p in the lane
            before.append(torch.cat([none_before, last_until[:, :-1]], dim=1))  # last slot < p in the lane
        self.after = torch.cat(after, dim=1)  # (rows, lanes · V), lane-major
        self.before = torch.cat(before, dim=1)

    def query(self, lane: Tensor) -> Neighbours:
        """Each vehicle's nearest neighbours ahead and behind in ``lane`` (shape ``(num_envs, V)``)."""
        count = self.order.shape[1]
        valid = (lane >= 0) & (lane < self.lanes_count)
        index = lane.clamp(0, self.lanes_count - 1) * count + self.rank
        ahead, behind = self.after.gather(1, index), self.before.gather(1, index)
        leader, leader_gap = self._neighbour(ahead, valid & (ahead < count), 1.0)
        follower, follower_gap = self._neighbour(behind, valid & (behind >= 0), -1.0)
        return Neighbours(leader, leader_gap, follower, follower_gap)

    def _neighbour(self, slot: Tensor, exists: Tensor, direction: float) -> tuple[Tensor, Tensor]:
        index = self.order.gather(1, slot.clamp(0, self.order.shape[1] - 1))
        gap = torch.where(exists, direction * (self.position.gather(1, index) - self.position), torch.inf)
        return index, gap
