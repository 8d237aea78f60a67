"""Highway: drive a route along a straight multi-lane highway (with an on-ramp: Merge) through
IDM/MOBIL traffic. The scene's parts: a ``LaneRoad``, ``LaneTraffic`` and a ``LaneRoute``."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.random import BatchRandom
from rewardgym.core.rendering import pygame_module
from rewardgym.core.validation import check_float, check_int
from rewardgym.envs.driving.base import DrivingVectorEnv
from rewardgym.envs.driving.behavior import (
    MOBIL,
    Neighbours,
    desired_gap,
    idm_acceleration,
    lane_neighbours,
    mobil_lanes,
    neighbour_accelerations,
)
from rewardgym.envs.driving.road import MARKING_COLOUR, LaneRoad
from rewardgym.envs.driving.scene import Plan, ToScreen
from rewardgym.envs.driving.vehicles import Vehicles, path_steering

Tensor = torch.Tensor

SPAWN_SPACING = 17.0  # m, the mean extra gap between consecutive vehicles of a lane at vehicles_density 1
#: Traffic speeds, as fractions of the limit: between the ego's slowest and middle target speeds,
#: so that an ego keeping its lane at the middle one runs into traffic, and one can follow it.
TRAFFIC_SPEED = (0.5, 0.6)
#: The default route is this many times the distance the slowest target speed covers in ``duration``.
ROUTE_MARGIN = 1.1


class LaneTraffic:
    """IDM/MOBIL traffic on the main lanes of a ``LaneRoad``, and where every vehicle starts.

    The ego starts at x = 0 at ``ego_speed`` on a random main lane, or on the ramp where there is
    one; the traffic keeps to the main lanes at ``TRAFFIC_SPEED`` of ``speed_limit`` (its
    desired speed is its starting speed, as in highway-env). Traffic weighs a lane change once
    per ``MOBIL.decision_period`` (counted in policy steps of ``policy_frequency``), every vehicle
    of a scene on the same step.
    """

    def __init__(self, road: LaneRoad, *, speed_limit: float, ego_speed: float, density: float, policy_frequency: int):
        self.road = road
        self.speed_limit = speed_limit
        self.ego_speed = ego_speed
        self.density = density
        self.decision_interval = max(1, round(MOBIL.decision_period * policy_frequency))  # policy steps
        # Vehicles of a lane start at least the IDM desired gap at the ego's starting speed (the
        # fastest) apart, so that nobody starts out braking hard.
        self.minimum_gap = float(desired_gap(torch.tensor(ego_speed), torch.zeros(())))

    def spawn(self, vehicles: Vehicles, random: BatchRandom, rows: Tensor) -> None:
        # Only the restarting rows draw (the same values as a full draw's rows) and are rebuilt.
        index = rows.nonzero().squeeze(1)
        count, capacity, road = len(index), vehicles.x.shape[1], self.road
        draws = random.uniform(4 * capacity + 2, index)  # one draw: each call costs a hash of the stream
        lane_draw, gap_draw, speed_draw, exponent_draw = draws[:, 2:].view(count, 4, capacity).unbind(1)
        ego_draw = draws[:, :2]
        lane = (lane_draw * road.lanes_count).long()
        lane[:, 0] = road.lanes_count if road.ramp_end is not None else (ego_draw[:, 0] * road.lanes_count).long()

        slowest, fastest = TRAFFIC_SPEED
        speed = self.speed_limit * (slowest + (fastest - slowest) * speed_draw)
        speed[:, 0] = self.ego_speed
        # Vehicles take places in one sequence along the road, the ego one of the first. In each
        # lane they stand in the order of their places, each a random distance ahead of the
        # previous one.
        ego_place = (ego_draw[:, 1:] * (1 + (capacity - 1) // 4)).long()
        traffic = torch.arange(capacity - 1, device=index.device).expand(count, -1)
        place = torch.cat([ego_place, traffic + (traffic >= ego_place).long()], dim=1)
        gap = self.minimum_gap + 2 * gap_draw * SPAWN_SPACING / self.density
        at_or_behind = (lane.unsqueeze(2) == lane.unsqueeze(1)) & (place.unsqueeze(2) >= place.unsqueeze(1))  # [i, j]
        x = (at_or_behind * gap.unsqueeze(1)).sum(dim=2)
        x = x - x[:, :1]
        new = Vehicles(
            x=x, y=road.centre(lane), heading=torch.zeros_like(x), speed=speed,
            alive=torch.ones_like(lane, dtype=torch.bool), desired_speed=speed.clone(), exponent=3.5 + exponent_draw, lane=lane,
        )
        vehicles.replace_index(index, new)

    def plan(self, vehicles: Vehicles, elapsed: Tensor) -> Plan:
        """MOBIL lane-change decisions for traffic, then each vehicle's leader for IDM: the nearer of
        those in its current and its target lane (they differ while it changes lane). The plan:
        ``leader`` (index), ``no_leader`` (0 where there is a leader, inf where not) and
        ``lane_centre`` (the y of the lane each vehicle steers to).

        Every row is computed, deciding or not, and masked: static shapes, no host synchronisation.
        """
        v = vehicles
        current = self.road.nearest_lane(v.y)
        found = lane_neighbours(v.x, current, v.alive, self.road.total_lanes)
        v.lane = self._lane_decisions(v, found, elapsed % self.decision_interval == 0, current)

        lanes = torch.stack([current, v.lane], dim=1)  # the leaders in the lane a vehicle is in and the one it steers to
        leader, other = found.leader.gather(1, lanes).unbind(1)
        gap, other_gap = found.leader_gap.gather(1, lanes).unbind(1)
        nearer = (v.lane != current) & v.alive & (other_gap < gap)
        leader, gap = torch.where(nearer, other, leader), torch.where(nearer, other_gap, gap)
        # 0 where there is a leader, inf where not: added to the gap, cheaper than a where per substep.
        no_leader = torch.where(torch.isfinite(gap), 0.0, torch.inf)
        return {"leader": leader, "no_leader": no_leader, "lane_centre": self.road.centre(v.lane)}

    def _lane_decisions(self, v: Vehicles, found: Neighbours, deciding_rows: Tensor, current: Tensor) -> Tensor:
        """Every vehicle's lane after MOBIL's decisions, from its lane neighbours ``found``
        (``current``: the lanes vehicles are in now); only traffic of ``deciding_rows`` decides,
        and only into main lanes.

        Traffic is as selfish as highway-env's (politeness 0): the followers' gains do not count,
        and of their accelerations only the new follower's braking (the safety criterion) is needed.
        """
        own, follower = neighbour_accelerations(found, v.speed, v.desired_speed, v.exponent)
        deciding = deciding_rows.unsqueeze(1) & v.alive & (v.lane == current) & (v.speed >= MOBIL.min_speed)
        deciding[:, 0] = False  # the ego changes lane only when told to
        return torch.where(deciding, mobil_lanes(own, follower, current, self.road.main_lane), v.lane)

    def controls(self, vehicles: Vehicles, plan: Plan) -> tuple[Tensor, Tensor]:
        v, leader = vehicles, plan["leader"]
        gap = v.x.gather(1, leader) - v.x + plan["no_leader"]
        acceleration = idm_acceleration(v.speed, v.desired_speed, v.exponent, gap, v.speed.gather(1, leader))
        steering = path_steering(v.speed, v.heading, v.y - plan["lane_centre"], 0.0)
        return acceleration, steering


class LaneRoute:
    """Drive ``length`` metres along a ``LaneRoad`` from x = 0, ending on a main lane."""

    def __init__(self, road: LaneRoad, length: float):
        self.road = road
        self.length = length

    def progress(self, vehicles: Vehicles) -> Tensor:
        return (vehicles.x[:, 0] / self.length).clamp(0.0, 1.0)

    def completed(self, vehicles: Vehicles, progress: Tensor) -> Tensor:
        return (progress >= 1.0) & self.road.main_lane(self.road.nearest_lane(vehicles.y[:, 0]))

    def centre_offset(self, vehicles: Vehicles) -> Tensor:
        y = vehicles.y[:, 0]
        return y - self.road.centre(self.road.nearest_lane(y))

    def right_lane(self, vehicles: Vehicles) -> Tensor:
        """The main lane index / (main lanes − 1): the ramp counts as the rightmost main lane."""
        lane = self.road.nearest_lane(vehicles.y[:, 0]).clamp(max=self.road.lanes_count - 1)
        return lane.float() / max(self.road.lanes_count - 1, 1)

    def change_lane(self, vehicles: Vehicles, direction: Tensor) -> Tensor:
        v = vehicles
        wanted = v.lane[:, 0] + direction
        changed = (direction != 0) & self.road.lane_exists(wanted, v.x[:, 0])
        v.lane = torch.cat([torch.where(changed, wanted, v.lane[:, 0]).unsqueeze(1), v.lane[:, 1:]], dim=1)
        return changed

    def draw(self, surface: Any, to_screen: ToScreen, vehicles: Vehicles, row: int) -> None:
        """The finish line across the road."""
        width = self.road.lane_width
        finish = (to_screen(self.length, -0.5 * width), to_screen(self.length, (self.road.total_lanes - 0.5) * width))
        pygame_module().draw.line(surface, MARKING_COLOUR, *finish, 3)


class HighwayVector(DrivingVectorEnv):
    """Drive ``route_length`` metres along a straight highway without crashing, through slower
    traffic (highway-env's highway-v0 with a route).

    ## Description
    A ``lanes_count``-lane highway (lane 0 the leftmost; y grows to the right) with
    ``vehicles_count`` IDM/MOBIL vehicles. As in highway-env, traffic keeps its starting speed as
    its desired speed, here 50–60 % of the limit (15–18 m/s), with randomised IDM exponents
    (3.5–4.5). The task needs progress: the route is ``1.1 ×`` what the slowest target speed
    covers in ``duration`` (440 m by default), so driving at 10 m/s cannot finish it in time;
    keeping a lane at 20 or 30 m/s runs into the traffic ahead. Braking behind it gets through;
    in traffic this dense, passing it gains little. With ``ramp_length`` set, the ego starts on an
    on-ramp instead (``MergeVector``'s task).

    ## Action space
    | ``action_type`` | space | meaning |
    |---|---|---|
    | ``"discrete"`` (default) | ``Discrete(5)`` | 0 lane left, 1 idle, 2 lane right, 3 faster, 4 slower (target speeds ``linspace(limit − 20, limit, 3)``: 10, 20, 30 m/s) |
    | ``"continuous"`` | ``Box(-1, 1, (2,))`` | acceleration × 5 m/s², steering × π/4 |

    ## Observation space
    ``Box(-1, 1, (vehicles_observed, 7))``: rows (presence, x, y, vx, vy, cos ψ, sin ψ) for the
    ego (absolute) and its nearest vehicles within 200 m (relative to the ego; absent rows are 0),
    divided by (200 m, 4 m × lanes, 80 m/s) and clipped, as highway-env's normalised Kinematics.

    ## Rewards (all in ``info["reward_terms"]``)
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when the route is completed without collision or leaving the road |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = route completion in [0, 1] |
    | ``carl`` | route-completion increment × speeding factor × lane-centre factor; 0 on a hard infraction |
    | ``summed`` | highway-env: lmap(−1·collision + 0.1·right_lane + 0.4·high_speed + 0·lane_change, [−1, 0.5], [0, 1]) · on_road, high_speed over (20, 30) m/s (the weights and range are arguments) |

    ## Starting state
    The ego (green) starts at x = 0 at its middle target speed (20 m/s) on a random lane; the
    traffic, mostly ahead and up to a quarter behind, starts on lane centres, in each lane at
    least the IDM desired gap at 20 m/s (40 m) apart.

    ## Episode end
    Terminates on success (the route completed on a main lane), collision or leaving the road;
    truncates after ``duration`` seconds. Info: ``collision``, ``off_road`` (this step's
    infractions) and ``route_completion``.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.01 success; the best constant action (faster): 0.08; the IDM/MOBIL ego of
    ``rewardgym.policies.driving``: 1.00, in 2/3 of the time limit on average.

    ## Arguments
    | argument | default | meaning |
    |---|---|---|
    | ``lanes_count`` | 3 | main lanes |
    | ``ramp_length`` | None | None, or the length (m) of an on-ramp to the right of the main lanes that the ego starts on |
    | ``vehicles_count`` | 20 | traffic vehicles |
    | ``vehicles_density`` | 1 | traffic density (divides the random part of the spacing) |
    | ``duration`` | 40 s | the time limit |
    | ``policy_frequency``, ``simulation_frequency`` | 5 Hz, 15 Hz | actions and simulation steps per second |
    | ``vehicles_observed`` | 5 | observation rows |
    | ``route_length`` | None | m; None: 1.1 × slowest target speed × duration |
    | ``speed_limit`` | 30 m/s | the top target speed and CaRL's limit |
    | ``action_type`` | ``"discrete"`` | or ``"continuous"`` |
    | ``collision_reward``, ``right_lane_reward``, ``high_speed_reward``, ``lane_change_reward`` | −1, 0.1, 0.4, 0 | the ``summed`` reward's weights |
    | ``reward_speed_range`` | (20, 30) | m/s: forward speeds over which ``high_speed`` rises from 0 to 1 |

    and the common ones (``TorchVectorEnv``).
    """

    # Target speeds 10, 20 and 30 m/s (highway-env's are 20, 25, 30): the slowest below the
    # traffic, so that an ego can follow it, and the middle one above it.
    target_speed_span = 20.0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        lanes_count: int = 3,
        ramp_length: float | None = None,
        action_type: str = "discrete",
        vehicles_count: int = 20,
        vehicles_density: float = 1.0,
        duration: float = 40.0,
        policy_frequency: int = 5,
        simulation_frequency: int = 15,
        vehicles_observed: int = 5,
        route_length: float | None = None,
        speed_limit: float = 30.0,
        collision_reward: float = -1.0,
        right_lane_reward: float = 0.1,
        high_speed_reward: float = 0.4,
        lane_change_reward: float = 0.0,
        reward_speed_range: tuple[float, float] = (20.0, 30.0),
        **kwargs: Any,
    ):
        lanes_count = check_int("lanes_count", lanes_count, 1, 8)
        if ramp_length is not None:
            ramp_length = check_float("ramp_length", ramp_length, 10.0, 10_000.0)
        if route_length is not None:
            route_length = check_float("route_length", route_length, 1.0, 10_000.0)
        super().__init__(
            num_envs, action_type=action_type, vehicles_count=vehicles_count, vehicles_density=vehicles_density,
            duration=duration, policy_frequency=policy_frequency, simulation_frequency=simulation_frequency,
            vehicles_observed=vehicles_observed, speed_limit=speed_limit, collision_reward=collision_reward,
            right_lane_reward=right_lane_reward, high_speed_reward=high_speed_reward,
            lane_change_reward=lane_change_reward, reward_speed_range=reward_speed_range, **kwargs,
        )
        if route_length is None:
            route_length = ROUTE_MARGIN * float(self.target_speeds[0]) * self.duration
            if route_length < 1.0:
                raise ValueError(
                    f"route_length must be given when the slowest target speed is 0 (speed_limit={speed_limit} "
                    f"is at most the {self.target_speed_span} m/s span of the target speeds)"
                )
        self.route_length = route_length
        self.road = LaneRoad(lanes_count, ramp_end=ramp_length)
        self.traffic = LaneTraffic(self.road, speed_limit=self.speed_limit, ego_speed=float(self.target_speeds[1]),
                                   density=self.vehicles_density, policy_frequency=self.policy_frequency)
        self.route = LaneRoute(self.road, route_length)
        scale_x, _, scale_v = self.observation_scale
        self.observation_scale = (scale_x, self.road.lane_width * self.road.total_lanes, scale_v)


Highway = single_env_class(HighwayVector, "Highway")
