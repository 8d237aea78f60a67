"""Intersection: cross a four-way intersection along a route (right, straight or left), giving
way to traffic on the priority road. The scene's parts: an ``IntersectionRoutes`` road,
``CrossingTraffic`` and a ``CrossingRoute``."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.random import BatchRandom
from rewardgym.core.rendering import pygame_module
from rewardgym.core.validation import check_choice, check_float
from rewardgym.envs.driving.base import DrivingVectorEnv
from rewardgym.envs.driving.behavior import IDM, corridor_leaders, idm_acceleration
from rewardgym.envs.driving.road import IntersectionRoutes
from rewardgym.envs.driving.scene import Plan, ToScreen
from rewardgym.envs.driving.vehicles import LENGTH, PURSUIT_TIME, SPEED_GAIN, WIDTH, Vehicles, path_steering

Tensor = torch.Tensor

MOVEMENTS = ("right", "straight", "left")
MIN_SPAWN_GAP = LENGTH + 3.0  # m, centre to centre between consecutive spawned vehicles of an arm
SPAWN_SPACING = 8.0  # m, the mean extra gap between spawned vehicles of an arm at density 1
FIRST_SPAWN_REACH = 25.0  # m: each arm's first vehicle starts up to this far before the square
LEADER_CORRIDOR = WIDTH  # m: vehicles within this lateral distance ahead count as leaders
STOP_MARGIN = 1.0  # m: a yielding vehicle stops about this far before the square
CHALLENGER_ROUTES = (4, 10)  # straight on along the priority road, from the right and from the left
TRAFFIC_SPEED = (0.6, 1.0)  # traffic speeds, as fractions of the limit (the challenger drives at the limit)
CROSSING_DISTANCE = WIDTH  # m: routes that come nearer than this inside the square cross
ROUTE_COLOUR = (150, 220, 150)


class CrossingTraffic:
    """Traffic along the intersection's routes, the challenger first, and where every vehicle starts.

    The ego starts on arm 0 at ``ego_start`` (arc length along its route) at the middle of its
    ``target_speeds``, turning by ``ego_movement`` (an index of ``MOVEMENTS``; None: random).
    Traffic follows its route with the path-following controller and brakes by IDM for whatever
    is ahead of it within a lane-wide corridor; off the priority road it also waits before the
    square while another vehicle is inside it.
    """

    def __init__(
        self, routes: IntersectionRoutes, *, speed_limit: float, target_speeds: Tensor, density: float,
        ego_start: float, ego_movement: int | None,
    ):
        self.routes = routes
        self.speed_limit = speed_limit
        self.target_speeds = target_speeds
        self.density = density
        self.ego_start = ego_start
        self.ego_movement = ego_movement
        self._crossings = routes.crossings(LENGTH / 2)

    def spawn(self, vehicles: Vehicles, random: BatchRandom, rows: Tensor) -> None:
        capacity, entry = vehicles.x.shape[1], self.routes.entry
        arm = random.integers(4, capacity)
        movement = random.integers(3, capacity)
        gap = MIN_SPAWN_GAP + 2 * random.uniform(capacity) * SPAWN_SPACING / self.density
        arm_start = entry - LENGTH - FIRST_SPAWN_REACH * random.uniform(4)
        speed_draw, exponent_draw = random.uniform(capacity), random.uniform(capacity)
        challenger_draw = random.uniform(1)[:, 0]
        slowest, fastest = TRAFFIC_SPEED
        speed = self.speed_limit * (slowest + (fastest - slowest) * speed_draw)
        speed[:, 0] = self.target_speeds[1]
        if self.ego_movement is not None:
            movement[:, 0] = self.ego_movement
        arm[:, 0] = 0
        arm_start = torch.cat([torch.full_like(arm_start[:, :1], self.ego_start), arm_start[:, 1:]], dim=1)
        if capacity > 1:
            self._place_challenger(arm, movement, speed, arm_start, challenger_draw)

        # Each vehicle of an arm sits one gap behind the previous one (the ego first on its arm).
        index = torch.arange(capacity, device=arm.device)
        earlier = index.view(1, -1) < index.view(-1, 1)
        same_arm = (arm.unsqueeze(2) == arm.unsqueeze(1)) & earlier
        s = arm_start.gather(1, arm) - (same_arm * gap.unsqueeze(1)).sum(dim=2)
        route = 3 * arm + movement
        x, y, heading = self.routes.pose_at(route, s.clamp(min=0.0))
        new = Vehicles(
            x=x, y=y, heading=heading, speed=speed, alive=s >= 0, desired_speed=speed.clone(),
            exponent=3.5 + exponent_draw, lane=route,
        )
        vehicles.replace_rows(rows, new)

    def _place_challenger(
        self, arm: Tensor, movement: Tensor, speed: Tensor, arm_start: Tensor, drawn: Tensor
    ) -> None:
        """Make vehicle 1 the challenger (in place): it drives straight on along the priority road
        at the speed limit, first on its arm, on a route that meets the ego's (either one, by
        ``drawn``, where both do), and reaches the meeting point just when an ego driving at its
        top speed from the start would (as highway-env's intersection-v0 challenger)."""
        along_ego, along_challenger, apart = (c[movement[:, 0]][:, CHALLENGER_ROUTES] for c in self._crossings)
        meets = apart < CROSSING_DISTANCE  # (num_envs, 2)
        pick = torch.where(meets.all(dim=1), (drawn < 0.5).long(), meets[:, 1].long()).unsqueeze(1)
        route = torch.tensor(CHALLENGER_ROUTES, device=arm.device)[pick[:, 0]]
        fastest, starting = self.target_speeds[-1], self.target_speeds[1]
        ego_distance = along_ego.gather(1, pick)[:, 0] - self.ego_start
        meeting = (ego_distance + (fastest - starting) / SPEED_GAIN) / fastest  # s after the start
        arm[:, 1], movement[:, 1], speed[:, 1] = route // 3, route % 3, self.speed_limit
        start = along_challenger.gather(1, pick)[:, 0] - self.speed_limit * meeting
        arm_start.scatter_(1, arm[:, 1:2], start.unsqueeze(1))

    def plan(self, vehicles: Vehicles, elapsed: Tensor) -> Plan:
        """Each vehicle's ``leader`` (the nearest vehicle ahead within a lane-wide corridor) where it
        ``has_leader``, and who is ``yielding``: waiting before the square because another vehicle
        is inside it."""
        v, routes = vehicles, self.routes
        leader, distance = corridor_leaders(v.x, v.y, v.heading, v.alive, LEADER_CORRIDOR)
        inside = routes.in_crossing(v.x, v.y, LENGTH / 2) & v.alive
        s, _, _ = routes.project(v.lane, v.x, v.y)
        others_inside = inside.sum(dim=1, keepdim=True) - inside.long() > 0
        yielding = others_inside & ~inside & (s < routes.entry) & ~routes.on_priority_road(v.lane)
        return {"leader": leader, "has_leader": torch.isfinite(distance), "yielding": yielding}

    def controls(self, vehicles: Vehicles, plan: Plan) -> tuple[Tensor, Tensor]:
        v, leader, yielding, routes = vehicles, plan["leader"], plan["yielding"], self.routes
        s, offset, _ = routes.project(v.lane, v.x, v.y)
        _, _, heading_ahead = routes.pose_at(v.lane, s + v.speed * PURSUIT_TIME)
        steering = path_steering(v.speed, v.heading, offset, heading_ahead)
        leader_x, leader_y = v.x.gather(1, leader), v.y.gather(1, leader)
        gap = torch.where(plan["has_leader"], torch.hypot(leader_x - v.x, leader_y - v.y), torch.inf)
        leader_speed = v.speed.gather(1, leader)
        stop_gap = (routes.entry - STOP_MARGIN - s + IDM.minimum_gap).clamp(min=1e-2)
        gap = torch.where(yielding, torch.minimum(gap, stop_gap), gap)
        leader_speed = torch.where(yielding & (stop_gap <= gap), 0.0, leader_speed)
        acceleration = idm_acceleration(v.speed, v.desired_speed, v.exponent, gap, leader_speed)
        return acceleration, steering


class CrossingRoute:
    """The ego's route through the intersection, from arc length ``start`` to ``exit_distance``
    past the crossing square (the ego's route is the one its vehicle follows, ``vehicles.lane[:, 0]``)."""

    def __init__(self, routes: IntersectionRoutes, *, start: float, exit_distance: float):
        self.routes = routes
        self.start = start
        self.exit_distance = exit_distance

    def _projection(self, vehicles: Vehicles) -> tuple[Tensor, Tensor, Tensor]:
        v = vehicles
        return self.routes.project(v.lane[:, 0], v.x[:, 0], v.y[:, 0])

    def progress(self, vehicles: Vehicles) -> Tensor:
        s, _, _ = self._projection(vehicles)
        end = self.routes.entry + self.routes.turn_length[vehicles.lane[:, 0]] + self.exit_distance
        return ((s - self.start) / (end - self.start)).clamp(0.0, 1.0)

    def completed(self, vehicles: Vehicles, progress: Tensor) -> Tensor:
        return progress >= 1.0

    def centre_offset(self, vehicles: Vehicles) -> Tensor:
        return self._projection(vehicles)[1]

    def right_lane(self, vehicles: Vehicles) -> Tensor:
        return torch.zeros_like(vehicles.x[:, 0])

    def change_lane(self, vehicles: Vehicles, direction: Tensor) -> Tensor:
        """The ego keeps to its route: lane changes act as idle."""
        return torch.zeros_like(direction, dtype=torch.bool)

    def draw(self, surface: Any, to_screen: ToScreen, vehicles: Vehicles, row: int) -> None:
        """The ego's route, as a thin line."""
        route = int(vehicles.lane[row, 0])
        points = [to_screen(x, y) for x, y in self.routes.points[route].tolist()]
        pygame_module().draw.lines(surface, ROUTE_COLOUR, False, points, 1)


class IntersectionVector(DrivingVectorEnv):
    """Drive through a four-way intersection (two two-lane roads, right-hand traffic) along a
    route, without crashing (highway-env's intersection-v0, with its challenger).

    ## Description
    The ego must turn right, go straight or turn left (``ego_route``; random by default) and
    reach ``exit_distance`` past the crossing square. The horizontal road has priority. Vehicle
    1, the challenger, drives straight on along it at the speed limit, on a route that meets the
    ego's, timed to reach the meeting point just when an ego driving at top speed from the start
    would: the ego must give way. The other ``vehicles_count − 1`` vehicles follow the 12 routes
    (3 per arm) at 60–100 % of the limit. Traffic follows its route with the bicycle model and a
    path-following controller and brakes by IDM for whatever is ahead of it; on the minor
    (vertical) road it also waits before the square while another vehicle is inside it.

    The route is long enough that no target speed below the fastest finishes it in time: the
    shortest (the right turn: 25 + 11 + 80 = 116 m) takes 25.8 s at 4.5 m/s, 1.29 × the 20 s
    limit (beyond what a random policy's speed reaches), so the ego must drive at top speed
    wherever it need not give way.

    ## Action space
    ``Discrete(5)`` in highway-env's order; lane changes act as idle here (the ego follows its
    route), faster/slower step through target speeds (0, 4.5, 9) m/s. ``action_type="continuous"``:
    ``Box(-1, 1, (2,))``, acceleration × 5 m/s² and steering × π/4.

    ## Observation space
    ``Box(-1, 1, (vehicles_observed, 7))``: as Highway's, divided by (100 m, 100 m, 20 m/s).

    ## Rewards (all in ``info["reward_terms"]``)
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when the route is completed without collision or leaving the road |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = route completion in [0, 1] |
    | ``carl`` | route-completion increment × speeding factor × route-centre factor; 0 on a hard infraction |
    | ``summed`` | lmap(−1·collision + 0.4·high_speed, [−1, 0.4], [0, 1]) · on_road, high_speed over (7, 9) m/s (the weights and range are arguments; the right-lane and lane-change terms are always 0 here) |

    ## Starting state
    The ego (green) starts ``approach_distance`` before the crossing square on the arm at the
    bottom, at 4.5 m/s; the challenger on its arm of the priority road, at the speed limit; the
    other vehicles on random routes, each arm's first up to 25 m before the square and the
    others spaced behind it.

    ## Episode end
    Terminates on success, collision or leaving the road; truncates after ``duration`` seconds.
    Info: ``collision``, ``off_road`` and ``route_completion``.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.04 success; every constant action: 0.00 (faster meets the challenger, the
    others are too slow); the yielding ego of ``rewardgym.policies.driving``: 1.00, in 85 % of the
    time limit on average. With more traffic the crossing is often blocked for longer than the
    time limit leaves (the scripted ego: 0.85 with ``vehicles_count=2``, 0.69 with 3).

    ## Arguments
    | argument | default | meaning |
    |---|---|---|
    | ``ego_route`` | ``"random"`` | or one of ``"right"``, ``"straight"``, ``"left"`` |
    | ``approach_distance`` | 25 m | the ego's start before the square |
    | ``exit_distance`` | 80 m | how far past the square the route ends |
    | ``arm_length`` | 100 m | each arm's length from the centre |
    | ``vehicles_count`` | 1 | traffic vehicles, the challenger first |
    | ``vehicles_density`` | 1 | traffic density (divides the random part of the spacing) |
    | ``duration`` | 20 s | the time limit |
    | ``speed_limit`` | 9 m/s | the top target speed, the challenger's speed and CaRL's limit |
    | ``policy_frequency``, ``simulation_frequency`` | 5 Hz, 15 Hz | actions and simulation steps per second |
    | ``vehicles_observed`` | 5 | observation rows |
    | ``action_type`` | ``"discrete"`` | or ``"continuous"`` |
    | ``collision_reward``, ``right_lane_reward``, ``high_speed_reward``, ``lane_change_reward`` | −1, 0, 0.4, 0 | the ``summed`` reward's weights |
    | ``reward_speed_range`` | (7, 9) | m/s: forward speeds over which ``high_speed`` rises from 0 to 1 |

    and the common ones (``TorchVectorEnv``).
    """

    frame_size = (400, 400)
    pixels_per_metre = 4.0
    observation_scale = (100.0, 100.0, 20.0)
    target_speed_span = 9.0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        ego_route: str = "random",
        approach_distance: float = 25.0,
        exit_distance: float = 80.0,
        arm_length: float = 100.0,
        action_type: str = "discrete",
        vehicles_count: int = 1,
        vehicles_density: float = 1.0,
        duration: float = 20.0,
        policy_frequency: int = 5,
        simulation_frequency: int = 15,
        vehicles_observed: int = 5,
        speed_limit: float = 9.0,
        collision_reward: float = -1.0,
        right_lane_reward: float = 0.0,
        high_speed_reward: float = 0.4,
        lane_change_reward: float = 0.0,
        reward_speed_range: tuple[float, float] = (7.0, 9.0),
        **kwargs: Any,
    ):
        self.ego_route = check_choice("ego_route", ego_route, ("random", *MOVEMENTS))
        self.arm_length = check_float("arm_length", arm_length, 20.0, 500.0)
        self.approach_distance = check_float("approach_distance", approach_distance, 0.0, self.arm_length - 10.0)
        self.exit_distance = check_float("exit_distance", exit_distance, 0.0, self.arm_length - 10.0)
        super().__init__(
            num_envs, action_type=action_type, vehicles_count=vehicles_count, vehicles_density=vehicles_density,
            duration=duration, policy_frequency=policy_frequency, simulation_frequency=simulation_frequency,
            vehicles_observed=vehicles_observed, speed_limit=speed_limit, collision_reward=collision_reward,
            right_lane_reward=right_lane_reward, high_speed_reward=high_speed_reward,
            lane_change_reward=lane_change_reward, reward_speed_range=reward_speed_range, **kwargs,
        )
        self.road = IntersectionRoutes(self.arm_length, self.device, spacing=2.0)
        ego_start = self.road.entry - self.approach_distance
        self.traffic = CrossingTraffic(
            self.road, speed_limit=self.speed_limit, target_speeds=self.target_speeds, density=self.vehicles_density,
            ego_start=ego_start, ego_movement=None if self.ego_route == "random" else MOVEMENTS.index(self.ego_route),
        )
        self.route = CrossingRoute(self.road, start=ego_start, exit_distance=self.exit_distance)

    @property
    def routes(self) -> IntersectionRoutes:
        """The road, by the name of what it is made of (its 12 routes)."""
        return self.road

    def on_priority_road(self, route: Tensor) -> Tensor:
        """Whether vehicles on ``route`` come from the priority road (and never wait at the square)."""
        return self.road.on_priority_road(route)


Intersection = single_env_class(IntersectionVector, "Intersection")
