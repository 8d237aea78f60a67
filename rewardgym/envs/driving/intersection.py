"""Intersection: cross a four-way intersection along a route (right, straight or left), giving
way to traffic on the priority road."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.validation import check_choice, check_float
from rewardgym.envs.driving.base import MARKING_COLOUR, ROAD_COLOUR, DrivingVectorEnv
from rewardgym.envs.driving.behavior import IDM, corridor_leaders, idm_acceleration
from rewardgym.envs.driving.rewards import SummedWeights
from rewardgym.envs.driving.road import IntersectionRoutes
from rewardgym.envs.driving.vehicles import LENGTH, PURSUIT_TIME, SPEED_GAIN, WIDTH, Vehicles, path_steering

Tensor = torch.Tensor

MOVEMENTS = ("right", "straight", "left")
MIN_SPAWN_GAP = LENGTH + 3.0  # m, centre to centre between consecutive spawned vehicles of an arm
SPAWN_SPACING = 8.0  # m, the mean extra gap between spawned vehicles of an arm at density 1
FIRST_SPAWN_REACH = 25.0  # m: each arm's first vehicle starts up to this far before the square
LEADER_CORRIDOR = WIDTH  # m: vehicles within this lateral distance ahead count as leaders
STOP_MARGIN = 1.0  # m: a yielding vehicle stops about this far before the square
PRIORITY_ARMS = (1, 3)  # the horizontal road (from the right and from the left) has priority
CHALLENGER_ROUTES = (4, 10)  # straight on along the priority road, from the right and from the left
TRAFFIC_SPEED = (0.6, 1.0)  # traffic speeds, as fractions of the limit (the challenger drives at the limit)
CROSSING_DISTANCE = WIDTH  # m: routes that come nearer than this inside the square cross


class IntersectionVector(DrivingVectorEnv):
    """Drive through a four-way intersection (two two-lane roads, right-hand traffic) along a
    route, without crashing (highway-env's intersection-v0, with its challenger).

    The ego (green) starts ``approach_distance`` before the crossing square on the arm at the
    bottom, at 4.5 m/s, and must turn right, go straight or turn left (``ego_route``; random by
    default) and reach ``exit_distance`` past the square. The horizontal road has priority.
    Vehicle 1, the challenger, drives straight on along it at the speed limit, on a route that
    meets the ego's, timed to reach the meeting point just when an ego driving at top speed from
    the start would: the ego must give way. The other ``vehicles_count − 1`` vehicles follow the
    12 routes (3 per arm) at 60–100 % of the limit. Traffic follows its route with the bicycle
    model and a path-following controller and brakes by IDM for whatever is ahead of it; on the
    minor (vertical) road it also waits before the square while another vehicle is inside it.

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
    | ``summed`` | lmap(−1·collision + 0.4·high_speed, [−1, 0.4], [0, 1]) · on_road, speeds (7, 9) m/s |

    ## Episode end
    Terminates on success, collision or leaving the road; truncates after ``duration`` seconds.
    Info: ``collision``, ``off_road`` and ``route_completion``.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.04 success; every constant action: 0.00 (faster meets the challenger, the
    others are too slow); the yielding ego of ``rewardgym.policies.driving``: 1.00, in 85 % of the
    time limit on average. With more traffic the crossing is often blocked for longer than the
    time limit leaves (the scripted ego: 0.85 with ``vehicles_count=2``, 0.69 with 3).

    ## Arguments
    ``ego_route`` (``"random"``, or one of right/straight/left), ``approach_distance`` (25 m),
    ``exit_distance`` (80 m), ``arm_length`` (100 m), ``vehicles_count`` (1: the challenger),
    ``vehicles_density`` (1), ``duration`` (20 s), ``speed_limit`` (9 m/s), ``policy_frequency``
    (5 Hz), ``simulation_frequency`` (15 Hz), ``vehicles_observed`` (5), ``action_type``, and the
    common ones.
    """

    frame_size = (400, 400)
    pixels_per_metre = 4.0
    summed_weights = SummedWeights(collision=-1.0, right_lane=0.0, high_speed=0.4, speed_range=(7.0, 9.0))
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
        **kwargs: Any,
    ):
        self.ego_route = check_choice("ego_route", ego_route, ("random", *MOVEMENTS))
        self.arm_length = check_float("arm_length", arm_length, 20.0, 500.0)
        self.approach_distance = check_float("approach_distance", approach_distance, 0.0, self.arm_length - 10.0)
        self.exit_distance = check_float("exit_distance", exit_distance, 0.0, self.arm_length - 10.0)
        super().__init__(
            num_envs, action_type=action_type, vehicles_count=vehicles_count, vehicles_density=vehicles_density,
            duration=duration, policy_frequency=policy_frequency, simulation_frequency=simulation_frequency,
            vehicles_observed=vehicles_observed, speed_limit=speed_limit, **kwargs,
        )
        self.routes = IntersectionRoutes(self.arm_length, self.device, spacing=2.0)
        self._crossings = self.routes.crossings(LENGTH / 2)
        self.route_start = torch.zeros(self.num_envs, device=self.device)
        self.route_end = torch.ones(self.num_envs, device=self.device)
        self._leader = torch.zeros_like(self.vehicles.lane)
        self._has_leader = torch.zeros_like(self.vehicles.alive)
        self._yielding = torch.zeros_like(self.vehicles.alive)

    # -- spawning ---------------------------------------------------------------------------------

    def _spawn(self, rows: Tensor) -> None:
        capacity, entry = self.capacity, self.routes.entry
        arm = self.random.integers(4, capacity)
        movement = self.random.integers(3, capacity)
        gap = MIN_SPAWN_GAP + 2 * self.random.uniform(capacity) * SPAWN_SPACING / self.vehicles_density
        arm_start = entry - LENGTH - FIRST_SPAWN_REACH * self.random.uniform(4)
        speed_draw, exponent_draw = self.random.uniform(capacity), self.random.uniform(capacity)
        challenger_draw = self.random.uniform(1)[:, 0]
        slowest, fastest = TRAFFIC_SPEED
        speed = self.speed_limit * (slowest + (fastest - slowest) * speed_draw)
        speed[:, 0] = self.target_speeds[1]
        if self.ego_route != "random":
            movement[:, 0] = MOVEMENTS.index(self.ego_route)
        arm[:, 0] = 0
        ego_start = entry - self.approach_distance
        arm_start = torch.cat([torch.full_like(arm_start[:, :1], ego_start), arm_start[:, 1:]], dim=1)
        if capacity > 1:
            self._place_challenger(arm, movement, speed, arm_start, challenger_draw)

        # Each vehicle of an arm sits one gap behind the previous one (the ego first on its arm).
        index = torch.arange(capacity, device=self.device)
        earlier = index.view(1, -1) < index.view(-1, 1)
        same_arm = (arm.unsqueeze(2) == arm.unsqueeze(1)) & earlier
        s = arm_start.gather(1, arm) - (same_arm * gap.unsqueeze(1)).sum(dim=2)
        route = 3 * arm + movement
        x, y, heading = self.routes.pose_at(route, s.clamp(min=0.0))
        new = Vehicles(
            x=x, y=y, heading=heading, speed=speed, alive=s >= 0, desired_speed=speed.clone(),
            exponent=3.5 + exponent_draw, lane=route,
        )
        self.vehicles.replace_rows(rows, new)
        ego_route = route[:, 0]
        self.route_start = torch.where(rows, torch.full_like(self.route_start, ego_start), self.route_start)
        route_end = entry + self.routes.turn_length[ego_route] + self.exit_distance
        self.route_end = torch.where(rows, route_end, self.route_end)

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
        route = torch.tensor(CHALLENGER_ROUTES, device=self.device)[pick[:, 0]]
        fastest, starting = self.target_speeds[-1], self.target_speeds[1]
        ego_distance = along_ego.gather(1, pick)[:, 0] - (self.routes.entry - self.approach_distance)
        meeting = (ego_distance + (fastest - starting) / SPEED_GAIN) / fastest  # s after the start
        arm[:, 1], movement[:, 1], speed[:, 1] = route // 3, route % 3, self.speed_limit
        start = along_challenger.gather(1, pick)[:, 0] - self.speed_limit * meeting
        arm_start.scatter_(1, arm[:, 1:2], start.unsqueeze(1))

    # -- traffic ----------------------------------------------------------------------------------

    def on_priority_road(self, route: Tensor) -> Tensor:
        """Whether vehicles on ``route`` come from the priority road (and never wait at the square)."""
        return torch.isin(route // 3, torch.tensor(PRIORITY_ARMS, device=route.device))

    def _plan(self) -> None:
        """Each vehicle's leader (the nearest vehicle ahead within a lane-wide corridor), and who
        waits before the square because another vehicle is inside it."""
        v = self.vehicles
        self._leader, distance = corridor_leaders(v.x, v.y, v.heading, v.alive, LEADER_CORRIDOR)
        self._has_leader = torch.isfinite(distance)
        inside = self.routes.in_crossing(v.x, v.y, LENGTH / 2) & v.alive
        s, _, _ = self.routes.project(v.lane, v.x, v.y)
        others_inside = inside.sum(dim=1, keepdim=True) - inside.long() > 0
        self._yielding = others_inside & ~inside & (s < self.routes.entry) & ~self.on_priority_road(v.lane)

    def _controls(self) -> tuple[Tensor, Tensor]:
        v = self.vehicles
        s, offset, _ = self.routes.project(v.lane, v.x, v.y)
        _, _, heading_ahead = self.routes.pose_at(v.lane, s + v.speed * PURSUIT_TIME)
        steering = path_steering(v.speed, v.heading, offset, heading_ahead)
        leader_x, leader_y = v.x.gather(1, self._leader), v.y.gather(1, self._leader)
        gap = torch.where(self._has_leader, torch.hypot(leader_x - v.x, leader_y - v.y), torch.inf)
        leader_speed = v.speed.gather(1, self._leader)
        stop_gap = (self.routes.entry - STOP_MARGIN - s + IDM.minimum_gap).clamp(min=1e-2)
        gap = torch.where(self._yielding, torch.minimum(gap, stop_gap), gap)
        leader_speed = torch.where(self._yielding & (stop_gap <= gap), 0.0, leader_speed)
        acceleration = idm_acceleration(v.speed, v.desired_speed, v.exponent, gap, leader_speed)
        return acceleration, steering

    # -- the ego's route --------------------------------------------------------------------------

    def _ego_projection(self) -> tuple[Tensor, Tensor, Tensor]:
        v = self.vehicles
        return self.routes.project(v.lane[:, 0], v.x[:, 0], v.y[:, 0])

    def _route_progress(self) -> Tensor:
        s, _, _ = self._ego_projection()
        return ((s - self.route_start) / (self.route_end - self.route_start)).clamp(0.0, 1.0)

    def _on_road(self) -> Tensor:
        return self.routes.on_road(self.vehicles.x[:, 0], self.vehicles.y[:, 0])

    def _centre_offset(self) -> Tensor:
        return self._ego_projection()[1]

    # -- drawing ----------------------------------------------------------------------------------

    def _draw_road(self, surface: Any, to_screen: Any, row: int) -> None:
        import pygame

        w, reach, half = self.routes.lane_width, self.arm_length + 2 * self.routes.lane_width, self.routes.half_size
        for x0, y0, x1, y1 in ((-w, -reach, w, reach), (-reach, -w, reach, w), (-half, -half, half, half)):
            left, top = to_screen(x0, y0)
            right, bottom = to_screen(x1, y1)
            pygame.draw.rect(surface, ROAD_COLOUR, pygame.Rect(left, top, right - left, bottom - top))
        for sign in (-1, 1):  # centre lines on the arms, up to the square
            pygame.draw.line(surface, MARKING_COLOUR, to_screen(0, sign * half), to_screen(0, sign * reach), 1)
            pygame.draw.line(surface, MARKING_COLOUR, to_screen(sign * half, 0), to_screen(sign * reach, 0), 1)
        route = int(self.vehicles.lane[row, 0])
        points = [to_screen(x, y) for x, y in self.routes.points[route].tolist()]
        pygame.draw.lines(surface, (150, 220, 150), False, points, 1)


Intersection = single_env_class(IntersectionVector, "Intersection")
