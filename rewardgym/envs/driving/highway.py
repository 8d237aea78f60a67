"""Highway: drive a route along a straight multi-lane highway through IDM/MOBIL traffic."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.validation import check_float, check_int
from rewardgym.envs.driving.base import MARKING_COLOUR, ROAD_COLOUR, DrivingVectorEnv
from rewardgym.envs.driving.behavior import (
    MOBIL,
    desired_gap,
    idm_acceleration,
    lane_accelerations,
    lane_leaders,
    leaders_in_lane,
    mobil_lanes,
)
from rewardgym.envs.driving.road import LaneRoad
from rewardgym.envs.driving.vehicles import Vehicles, path_steering

Tensor = torch.Tensor

SPAWN_SPACING = 17.0  # m, the mean extra gap between consecutive vehicles of a lane at vehicles_density 1
#: Traffic speeds, as fractions of the limit: between the ego's slowest and middle target speeds,
#: so that an ego keeping its lane at the middle one runs into traffic, and one can follow it.
TRAFFIC_SPEED = (0.5, 0.6)
#: The default route is this many times the distance the slowest target speed covers in ``duration``.
ROUTE_MARGIN = 1.1


class HighwayVector(DrivingVectorEnv):
    """Drive ``route_length`` metres along a straight highway without crashing, through slower
    traffic (highway-env's highway-v0 with a route).

    The ego (green) starts at x = 0 at its middle target speed (20 m/s) on a random lane among
    ``vehicles_count`` IDM/MOBIL vehicles (mostly ahead, up to a quarter behind). As in
    highway-env, traffic keeps its starting speed as its desired speed, here 50–60 % of the limit
    (15–18 m/s), with randomised IDM exponents (3.5–4.5); in each lane vehicles start at least
    the IDM desired gap at 20 m/s (40 m) apart. Lane 0 is the leftmost; y grows to the right.

    The task needs progress: the route is ``1.1 ×`` what the slowest target speed covers in
    ``duration`` (440 m by default), so driving at 10 m/s cannot finish it in time; keeping a
    lane at 20 or 30 m/s runs into the traffic ahead. Braking behind it gets through; in traffic
    this dense, passing it gains little.

    ## Action space
    | ``action_type`` | space | meaning |
    |---|---|---|
    | ``"discrete"`` (default) | ``Discrete(5)`` | 0 lane left, 1 idle, 2 lane right, 3 faster, 4 slower (target speeds ``linspace(limit − 20, limit, 3)``: 10, 20, 30 m/s) |
    | ``"continuous"`` | ``Box(-1, 1, (2,))`` | acceleration × 5 m/s², steering × π/4 |

    ## Observation space
    ``Box(-1, 1, (vehicles_observed, 7))``: rows (presence, x, y, vx, vy, cos ψ, sin ψ) for the
    ego (absolute) and its nearest vehicles within 200 m (relative to the ego; absent rows are 0),
    divided by (200 m, 12 m, 80 m/s) and clipped, as highway-env's normalised Kinematics.

    ## Rewards (all in ``info["reward_terms"]``)
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when the route is completed without collision or leaving the road |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = route completion in [0, 1] |
    | ``carl`` | route-completion increment × speeding factor × lane-centre factor; 0 on a hard infraction |
    | ``summed`` | highway-env: lmap(−1·collision + 0.1·right_lane + 0.4·high_speed, [−1, 0.5], [0, 1]) · on_road |

    ## Episode end
    Terminates on success, collision or leaving the road; truncates after ``duration`` seconds.
    Info: ``collision``, ``off_road`` (this step's infractions) and ``route_completion``.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.01 success; the best constant action (faster): 0.08; the IDM/MOBIL ego of
    ``rewardgym.policies.driving``: 1.00, in 2/3 of the time limit on average.

    ## Arguments
    ``lanes_count`` (3), ``vehicles_count`` (20), ``vehicles_density`` (1), ``duration`` (40 s),
    ``policy_frequency`` (5 Hz), ``simulation_frequency`` (15 Hz), ``vehicles_observed`` (5),
    ``route_length`` (None: 1.1 × slowest target speed × duration), ``speed_limit`` (30 m/s),
    ``action_type``, and the common ones.
    """

    # Target speeds 10, 20 and 30 m/s (highway-env's are 20, 25, 30): the slowest below the
    # traffic, so that an ego can follow it, and the middle one above it.
    target_speed_span = 20.0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        lanes_count: int = 3,
        action_type: str = "discrete",
        vehicles_count: int = 20,
        vehicles_density: float = 1.0,
        duration: float = 40.0,
        policy_frequency: int = 5,
        simulation_frequency: int = 15,
        vehicles_observed: int = 5,
        route_length: float | None = None,
        speed_limit: float = 30.0,
        **kwargs: Any,
    ):
        self.road = self._make_road(check_int("lanes_count", lanes_count, 1, 8))
        if route_length is not None:
            route_length = check_float("route_length", route_length, 1.0, 10_000.0)
        super().__init__(
            num_envs, action_type=action_type, vehicles_count=vehicles_count, vehicles_density=vehicles_density,
            duration=duration, policy_frequency=policy_frequency, simulation_frequency=simulation_frequency,
            vehicles_observed=vehicles_observed, speed_limit=speed_limit, **kwargs,
        )
        if route_length is None:
            route_length = ROUTE_MARGIN * float(self.target_speeds[0]) * self.duration
            if route_length < 1.0:
                raise ValueError(
                    f"route_length must be given when the slowest target speed is 0 (speed_limit={speed_limit} "
                    f"is at most the {self.target_speed_span} m/s span of the target speeds)"
                )
        self.route_length = route_length
        scale_x, _, scale_v = self.observation_scale
        self.observation_scale = (scale_x, self.road.lane_width * self.road.total_lanes, scale_v)
        # Set by _plan for the substeps of a policy step:
        self._leader = torch.zeros_like(self.vehicles.lane)  # the nearest vehicle ahead, in either lane while changing
        self._no_leader = torch.zeros_like(self.vehicles.x)  # 0 where there is a leader, inf where not
        self._order = torch.arange(self.capacity, device=self.device).repeat(self.num_envs, 1)  # by (lane, x): a sort hint
        self._lane_centre = torch.zeros_like(self.vehicles.y)  # the y of the lane each vehicle steers to
        self._decision_interval = max(1, round(MOBIL.decision_period * self.policy_frequency))  # policy steps

    def _make_road(self, lanes_count: int) -> LaneRoad:
        return LaneRoad(lanes_count)

    def _ego_lane(self, drawn: Tensor) -> Tensor:
        """The ego's starting lane, from a uniform draw in [0, 1) per row."""
        return (drawn * self.road.lanes_count).long()

    # -- spawning ---------------------------------------------------------------------------------

    def _spawn(self, rows: Tensor) -> None:
        # Only the restarting rows draw (the same values as a full draw's rows) and are rebuilt.
        index = rows.nonzero().squeeze(1)
        count, capacity, limit = len(index), self.capacity, self.speed_limit
        draws = self.random.uniform(4 * capacity + 2, index)  # one draw: each call costs a hash of the stream
        lane_draw, gap_draw, speed_draw, exponent_draw = draws[:, 2:].view(count, 4, capacity).unbind(1)
        ego_draw = draws[:, :2]
        lane = (lane_draw * self.road.lanes_count).long()
        lane[:, 0] = self._ego_lane(ego_draw[:, 0])

        # As in highway-env, traffic keeps its starting speed as its desired speed.
        slowest, fastest = TRAFFIC_SPEED
        speed = limit * (slowest + (fastest - slowest) * speed_draw)
        speed[:, 0] = self.target_speeds[1]
        # Vehicles take places in one sequence along the road, the ego one of the first. In each
        # lane they stand in the order of their places, each a random distance ahead of the
        # previous one, at least the IDM desired gap at the ego's starting speed (the fastest), so
        # that nobody starts out braking hard.
        ego_place = (ego_draw[:, 1:] * (1 + (capacity - 1) // 4)).long()
        traffic = torch.arange(capacity - 1, device=self.device).expand(count, -1)
        place = torch.cat([ego_place, traffic + (traffic >= ego_place).long()], dim=1)
        minimum_gap = float(desired_gap(self.target_speeds[1], torch.zeros(())))
        gap = minimum_gap + 2 * gap_draw * SPAWN_SPACING / self.vehicles_density
        at_or_behind = (lane.unsqueeze(2) == lane.unsqueeze(1)) & (place.unsqueeze(2) >= place.unsqueeze(1))  # [i, j]
        x = (at_or_behind * gap.unsqueeze(1)).sum(dim=2)
        x = x - x[:, :1]
        new = Vehicles(
            x=x, y=self.road.centre(lane), heading=torch.zeros_like(x), speed=speed,
            alive=torch.ones_like(lane, dtype=torch.bool), desired_speed=speed.clone(), exponent=3.5 + exponent_draw, lane=lane,
        )
        self.vehicles.replace_index(index, new)

    # -- traffic ----------------------------------------------------------------------------------

    def _may_enter(self, lane: Tensor, x: Tensor) -> Tensor:
        """Lanes traffic may change into."""
        return self.road.lane_exists(lane, x)

    def _plan(self) -> None:
        """MOBIL lane-change decisions for traffic (once per ``MOBIL.decision_period``), then each
        vehicle's leader for IDM: the nearer of those in its current and its target lane (they
        differ while it changes lane)."""
        v = self.vehicles
        current = self.road.nearest_lane(v.y)
        deciding = (self.elapsed % self._decision_interval == 0).nonzero().squeeze(1)
        if len(deciding):
            v.lane = v.lane.index_put((deciding,), self._lane_decisions(deciding, current[deciding]))
        leader, gap, self._order = lane_leaders(v.x, current, v.alive, hint=self._order)
        row, vehicle = ((v.lane != current) & v.alive).nonzero(as_tuple=True)
        if len(row):
            other, other_gap = leaders_in_lane(v.x, current, v.alive, row, vehicle, v.lane[row, vehicle])
            nearer = other_gap < gap[row, vehicle]
            row, vehicle = row[nearer], vehicle[nearer]
            leader, gap = leader.index_put((row, vehicle), other[nearer]), gap.index_put((row, vehicle), other_gap[nearer])
        # 0 where there is a leader, inf where not: added to the gap, cheaper than a where per substep.
        self._leader, self._no_leader = leader, torch.where(torch.isfinite(gap), 0.0, torch.inf)
        self._lane_centre = self.road.centre(v.lane)

    def _lane_decisions(self, rows: Tensor, current: Tensor) -> Tensor:
        """The lanes of the vehicles of scenes ``rows`` after MOBIL's decisions (``current``: their lanes now).

        Traffic is as selfish as highway-env's (politeness 0): the followers' gains do not count,
        and of their accelerations only the new follower's braking (the safety criterion) is needed.
        """
        v = self.vehicles
        x, speed, alive, lane = v.x[rows], v.speed[rows], v.alive[rows], v.lane[rows]
        lanes = self.road.total_lanes
        own, follower = lane_accelerations(x, speed, v.desired_speed[rows], v.exponent[rows], alive, current, lanes)

        deciding = alive & (lane == current) & (speed >= MOBIL.min_speed)
        deciding[:, 0] = False  # the ego changes lane only when told to
        chosen = mobil_lanes(own, follower, current, lambda candidate: self._may_enter(candidate, x.unsqueeze(1)))
        return torch.where(deciding, chosen, lane)

    def _controls(self) -> tuple[Tensor, Tensor]:
        v = self.vehicles
        gap = v.x.gather(1, self._leader) - v.x + self._no_leader
        acceleration = idm_acceleration(v.speed, v.desired_speed, v.exponent, gap, v.speed.gather(1, self._leader))
        steering = path_steering(v.speed, v.heading, v.y - self._lane_centre, 0.0)
        return acceleration, steering

    # -- the ego's route --------------------------------------------------------------------------

    def _change_lane(self, direction: Tensor) -> Tensor:
        v = self.vehicles
        wanted = v.lane[:, 0] + direction
        changed = (direction != 0) & self.road.lane_exists(wanted, v.x[:, 0])
        v.lane = torch.cat([torch.where(changed, wanted, v.lane[:, 0]).unsqueeze(1), v.lane[:, 1:]], dim=1)
        return changed

    def _route_progress(self) -> Tensor:
        return (self.vehicles.x[:, 0] / self.route_length).clamp(0.0, 1.0)

    def _on_road(self) -> Tensor:
        return self.road.on_road(self.vehicles.x[:, 0], self.vehicles.y[:, 0])

    def _centre_offset(self) -> Tensor:
        y = self.vehicles.y[:, 0]
        return y - self.road.centre(self.road.nearest_lane(y))

    def _right_lane_term(self) -> Tensor:
        lane = self.road.nearest_lane(self.vehicles.y[:, 0]).clamp(max=self.road.lanes_count - 1)
        return lane.float() / max(self.road.lanes_count - 1, 1)

    # -- drawing ----------------------------------------------------------------------------------

    def _camera(self, row: int) -> tuple[float, float]:
        return float(self.vehicles.x[row, 0]) + 20.0, (self.road.total_lanes - 1) * self.road.lane_width / 2

    def _draw_road(self, surface: Any, to_screen: Any, row: int) -> None:
        import pygame

        width = self.road.lane_width
        left_edge = self._camera(row)[0] - self.frame_size[0] / self.pixels_per_metre
        right_edge = left_edge + 2 * self.frame_size[0] / self.pixels_per_metre
        for lane in range(self.road.total_lanes):
            end = right_edge if lane < self.road.lanes_count else min(right_edge, self.road.ramp_end)
            if end <= left_edge:
                continue
            top_left = to_screen(left_edge, (lane - 0.5) * width)
            bottom_right = to_screen(end, (lane + 0.5) * width)
            size = (bottom_right[0] - top_left[0], bottom_right[1] - top_left[1])
            pygame.draw.rect(surface, ROAD_COLOUR, pygame.Rect(top_left, size))
        for boundary in range(1, self.road.total_lanes):
            y = (boundary - 0.5) * width
            dash = left_edge - left_edge % 9.0
            while dash < right_edge:
                pygame.draw.line(surface, MARKING_COLOUR, to_screen(dash, y), to_screen(dash + 4.0, y), 2)
                dash += 9.0
        far_edge = (self.road.total_lanes - 0.5) * width
        finish = (to_screen(self.route_length, -0.5 * width), to_screen(self.route_length, far_edge))
        pygame.draw.line(surface, MARKING_COLOUR, *finish, 3)


Highway = single_env_class(HighwayVector, "Highway")
