"""What every driving scene shares: arguments, the ego's actions, the simulation loop, collisions,
observations, reward channels, infractions and drawing.

A scene (``highway``, ``merge``, ``intersection``) subclasses ``DrivingVectorEnv`` and writes its
road, where vehicles spawn, how traffic drives, and the ego's route progress.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv
from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.envs.driving.collision import boxes_overlap
from rewardgym.envs.driving.rewards import (
    SummedWeights,
    carl_reward,
    centre_factor,
    high_speed_term,
    speeding_factor,
    summed_reward,
)
from rewardgym.envs.driving.road import LANE_WIDTH
from rewardgym.envs.driving.vehicles import LENGTH, MAX_SPEED, WIDTH, Vehicles, bicycle_step, speed_control

Tensor = torch.Tensor

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)  # highway-env's DiscreteMetaAction order
MAX_ACCELERATION = 5.0  # m/s², the continuous action's range
MAX_ACTION_STEERING = math.pi / 4  # rad, the continuous action's range
PERCEPTION_DISTANCE = 5 * MAX_SPEED  # m: vehicles farther than this are not observed
FEATURES = ("presence", "x", "y", "vx", "vy", "cos_h", "sin_h")

ROAD_COLOUR = (100, 100, 100)
GRASS_COLOUR = (70, 130, 70)
MARKING_COLOUR = (240, 240, 240)
EGO_COLOUR = (50, 200, 0)
CRASHED_COLOUR = (220, 50, 47)
TRAFFIC_COLOUR = (100, 200, 255)


class DrivingVectorEnv(TorchVectorEnv):
    """A batch of traffic scenes, each with one ego vehicle to drive along a route.

    Every vehicle moves by the kinematic bicycle model, ``simulation_frequency / policy_frequency``
    substeps per action. Collisions are checked between the ego and the traffic at every substep
    (as highway-fast-v0, traffic does not collide with itself). Vehicle 0 of each row is the ego.

    Driving arguments (the scene's defaults are in its own docstring):
        action_type: ``"discrete"`` (highway-env's meta-actions) or ``"continuous"``.
        vehicles_count: traffic vehicles per scene (besides the ego).
        vehicles_density: traffic density (1 is the scene's default spacing).
        duration: episode length in seconds; the time limit is ``duration · policy_frequency`` steps.
        policy_frequency: actions per second.
        simulation_frequency: simulation steps per second (a multiple of ``policy_frequency``).
        vehicles_observed: rows of the observation (the ego and its nearest vehicles).
        speed_limit: m/s; the discrete target speeds and CaRL's speeding factor use it.
    """

    metadata: ClassVar[dict[str, Any]] = {**TorchVectorEnv.metadata, "render_fps": 5}
    potentials = ("progress",)
    extra_rewards: ClassVar[dict[str, Any]] = {"carl": lambda terms: terms["carl"], "summed": lambda terms: terms["summed"]}
    frame_size = (600, 240)
    pixels_per_metre = 5.0
    summed_weights: ClassVar[SummedWeights] = SummedWeights()
    #: Half-ranges (x, y, velocity) that observations are divided by before clipping to [-1, 1].
    observation_scale: ClassVar[tuple[float, float, float]] = (PERCEPTION_DISTANCE, 3 * LANE_WIDTH, 2 * MAX_SPEED)
    #: How far below the limit the slowest discrete target speed is, and their number.
    target_speed_span: ClassVar[float] = 10.0

    def __init__(
        self,
        num_envs: int = 1,
        *,
        action_type: str,
        vehicles_count: int,
        vehicles_density: float,
        duration: float,
        policy_frequency: int,
        simulation_frequency: int,
        vehicles_observed: int,
        speed_limit: float,
        max_episode_steps: int | None = None,
        **core: Any,
    ):
        self.action_type = check_choice("action_type", action_type, ("discrete", "continuous"))
        self.vehicles_count = check_int("vehicles_count", vehicles_count, 0, 256)
        self.vehicles_density = check_float("vehicles_density", vehicles_density, 0.1, 10.0)
        self.duration = check_float("duration", duration, 0.1, 3600.0)
        self.policy_frequency = check_int("policy_frequency", policy_frequency, 1, 60)
        self.simulation_frequency = check_int("simulation_frequency", simulation_frequency, 1, 600)
        if self.simulation_frequency % self.policy_frequency:
            raise ValueError(
                "simulation_frequency must be a multiple of policy_frequency, "
                f"got {simulation_frequency} and {policy_frequency}"
            )
        self.vehicles_observed = check_int("vehicles_observed", vehicles_observed, 1, 64)
        self.speed_limit = check_float("speed_limit", speed_limit, 1.0, MAX_SPEED)
        if max_episode_steps is None:
            max_episode_steps = max(1, round(self.duration * self.policy_frequency))
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)

        self.substeps = self.simulation_frequency // self.policy_frequency
        self.dt = 1.0 / self.simulation_frequency
        self.capacity = self.vehicles_count + 1
        rows = (self.num_envs,)
        self.vehicles = Vehicles.empty(self.num_envs, self.capacity, self.device)
        lowest = max(0.0, self.speed_limit - self.target_speed_span)
        self.target_speeds = torch.linspace(lowest, self.speed_limit, 3, device=self.device)
        self.speed_index = torch.ones(rows, dtype=torch.int64, device=self.device)
        self.crashed = torch.zeros(rows, dtype=torch.bool, device=self.device)
        self.off_road = torch.zeros(rows, dtype=torch.bool, device=self.device)
        self.lane_changed = torch.zeros(rows, dtype=torch.bool, device=self.device)
        self.progress = torch.zeros(rows, device=self.device)
        self._progress_before = torch.zeros(rows, device=self.device)
        self._continuous_control = torch.zeros(self.num_envs, 2, device=self.device)

        observation_space = spaces.Box(-1.0, 1.0, (self.vehicles_observed, len(FEATURES)), np.float32)
        if self.action_type == "discrete":
            action_space = spaces.Discrete(5)
            self.keys_to_action = {(ord("a"),): LANE_LEFT, (ord("d"),): LANE_RIGHT, (ord("w"),): FASTER, (ord("s"),): SLOWER}
        else:
            action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
            self.keys_to_action = {}
        self._set_spaces(observation_space, action_space)

    # -- what a scene defines -------------------------------------------------------------------

    def _spawn(self, rows: Tensor) -> None:
        """Place the ego and the traffic of the masked rows (drawing for every row)."""
        raise NotImplementedError

    def _plan(self) -> None:
        """Decisions taken once per policy step (e.g. MOBIL lane changes, leaders)."""

    def _controls(self) -> tuple[Tensor, Tensor]:
        """Acceleration and steering of every vehicle, ``(num_envs, capacity)`` each, as new tensors
        (the base class overwrites the ego's column); the ego's steering follows its own lane or route."""
        raise NotImplementedError

    def _change_lane(self, direction: Tensor) -> Tensor:
        """Retarget the ego one lane left (−1) or right (+1) where possible; which rows changed."""
        return torch.zeros_like(direction, dtype=torch.bool)

    def _route_progress(self) -> Tensor:
        """The ego's completed fraction of its route, in [0, 1]."""
        raise NotImplementedError

    def _on_road(self) -> Tensor:
        """Whether the ego's centre is on the road."""
        raise NotImplementedError

    def _centre_offset(self) -> Tensor:
        """The ego's distance from the centre of the nearest lane of its route."""
        raise NotImplementedError

    def _right_lane_term(self) -> Tensor:
        """highway-env's right-lane term: lane index / (lanes − 1)."""
        return torch.zeros(self.num_envs, device=self.device)

    def _draw_road(self, surface: Any, to_screen: Any, row: int) -> None:
        raise NotImplementedError

    def _camera(self, row: int) -> tuple[float, float]:
        """The world point at the centre of the picture of ``row``."""
        return float(self.vehicles.x[row, 0]), float(self.vehicles.y[row, 0])

    # -- the task ---------------------------------------------------------------------------------

    def _reset(self, rows: Tensor) -> None:
        self._spawn(rows)
        self.speed_index = torch.where(rows, 1, self.speed_index)
        self.crashed = self.crashed & ~rows
        self.off_road = self.off_road & ~rows
        self.lane_changed = self.lane_changed & ~rows
        self.progress = torch.where(rows, self._route_progress(), self.progress)

    def _transition(self, action: Tensor) -> None:
        self._progress_before = self.progress
        if self.action_type == "discrete":
            self.lane_changed = self._change_lane((action == LANE_RIGHT).long() - (action == LANE_LEFT).long())
            step = (action == FASTER).long() - (action == SLOWER).long()
            self.speed_index = (self.speed_index + step).clamp(0, len(self.target_speeds) - 1)
        else:
            self._continuous_control = action * torch.tensor([MAX_ACCELERATION, MAX_ACTION_STEERING], device=self.device)
        self._plan()
        poses = []
        for _ in range(self.substeps):
            acceleration, steering = self._controls()
            acceleration[:, 0], steering[:, 0] = self._ego_controls(steering[:, 0])
            v = self.vehicles
            v.x, v.y, v.heading, v.speed = bicycle_step(v.x, v.y, v.heading, v.speed, acceleration, steering, self.dt)
            poses.append((v.x, v.y, v.heading))
        self.crashed = self._ego_collides(*(torch.stack(pose) for pose in zip(*poses)))
        self.off_road = ~self._on_road()
        self.progress = self._route_progress()

    def _ego_controls(self, lane_steering: Tensor) -> tuple[Tensor, Tensor]:
        if self.action_type == "discrete":
            return speed_control(self.vehicles.speed[:, 0], self.target_speeds[self.speed_index]), lane_steering
        return self._continuous_control[:, 0], self._continuous_control[:, 1]

    def _ego_collides(self, x: Tensor, y: Tensor, heading: Tensor) -> Tensor:
        """Whether the ego overlapped another vehicle at any substep, from the poses of every
        substep, ``(substeps, num_envs, capacity)`` (all substeps at once: fewer, larger ops)."""
        # The boxes are tested only in the few rows where the ego's circumscribed circle touches
        # another's: a cheap broad phase.
        dx, dy = x[..., 1:] - x[..., :1], y[..., 1:] - y[..., :1]
        near = (dx * dx + dy * dy < LENGTH * LENGTH + WIDTH * WIDTH) & self.vehicles.alive[:, 1:]
        rows = near.any(dim=2).any(dim=0).nonzero().squeeze(1)
        x, y, heading = x[:, rows], y[:, rows], heading[:, rows]
        overlap = boxes_overlap(x[..., :1], y[..., :1], heading[..., :1], x[..., 1:], y[..., 1:], heading[..., 1:])
        return torch.zeros_like(self.crashed).index_put((rows,), (overlap & near[:, rows]).any(dim=2).any(dim=0))

    def _success(self) -> Tensor:
        return (self.progress >= 1.0) & ~self.crashed & ~self.off_road

    def _terminated(self, success: Tensor) -> Tensor:
        return success | self.crashed | self.off_road

    def _reward_terms(self, success: Tensor) -> dict[str, Tensor]:
        v = self.vehicles
        increment = self.progress - self._progress_before
        factors = {
            "speeding_factor": speeding_factor(v.speed[:, 0], self.speed_limit),
            "centre_factor": centre_factor(self._centre_offset(), LANE_WIDTH),
        }
        terms = {
            "sparse": success.float(),
            "route_increment": increment,
            **factors,
            "carl": carl_reward(increment, list(factors.values()), self.crashed | self.off_road),
            "collision": self.crashed.float(),
            "right_lane": self._right_lane_term(),
            "high_speed": high_speed_term(v.speed[:, 0] * torch.cos(v.heading[:, 0]), self.summed_weights.speed_range),
            "lane_change": self.lane_changed.float(),
            "on_road": (~self.off_road).float(),
        }
        terms["summed"] = summed_reward(terms, self.summed_weights)
        return terms

    def _potentials(self) -> dict[str, Tensor]:
        return {"progress": self.progress}

    def _step_info(self) -> dict[str, Tensor]:
        return {"collision": self.crashed, "off_road": self.off_road, "route_completion": self.progress}

    def _observe(self) -> Tensor:
        """highway-env's Kinematics: the ego (absolute), then the nearest vehicles relative to it."""
        v = self.vehicles
        scale_x, scale_y, scale_v = self.observation_scale
        scale = torch.tensor([1.0, scale_x, scale_y, scale_v, scale_v, 1.0, 1.0], device=self.device)  # per feature

        def kinematics(x: Tensor, y: Tensor, speed: Tensor, heading: Tensor) -> tuple[Tensor, ...]:
            cos, sin = torch.cos(heading), torch.sin(heading)
            return x, y, speed * cos, speed * sin, cos, sin

        ego = torch.stack(kinematics(v.x[:, 0], v.y[:, 0], v.speed[:, 0], v.heading[:, 0]), dim=1)
        rows = [torch.cat([torch.ones_like(ego[:, :1]), ego], dim=1).unsqueeze(1)]
        shown = min(self.vehicles_observed - 1, self.capacity - 1)
        if shown > 0:
            dx, dy = v.x[:, 1:] - v.x[:, :1], v.y[:, 1:] - v.y[:, :1]
            squared = dx * dx + dy * dy
            visible = v.alive[:, 1:] & (squared < PERCEPTION_DISTANCE**2)
            nearest = torch.topk(torch.where(visible, squared, torch.inf), shown, dim=1, largest=False).indices
            # Only the shown vehicles' features are computed (from their state, gathered first).
            fields = torch.stack([v.x[:, 1:], v.y[:, 1:], v.speed[:, 1:], v.heading[:, 1:]], dim=2)
            picked = fields.gather(1, nearest.unsqueeze(2).expand(-1, -1, 4)).unbind(2)
            relative = torch.stack(kinematics(*picked), dim=2)
            relative[..., :4] -= ego[:, None, :4]  # position and velocity relative to the ego's
            present = visible.gather(1, nearest).unsqueeze(2)
            rows.append(torch.cat([present.float(), relative], dim=2) * present)
        missing = self.vehicles_observed - 1 - shown
        if missing:
            rows.append(torch.zeros(self.num_envs, missing, len(FEATURES), device=self.device))
        return (torch.cat(rows, dim=1) / scale).clamp(-1.0, 1.0)

    # -- drawing ----------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        import pygame

        width, height = self.frame_size
        centre_x, centre_y = self._camera(row)
        scale = self.pixels_per_metre

        def to_screen(x: float, y: float) -> tuple[float, float]:
            return (x - centre_x) * scale + width / 2, (y - centre_y) * scale + height / 2

        surface.fill(GRASS_COLOUR)
        self._draw_road(surface, to_screen, row)
        v = self.vehicles
        state = torch.stack([v.x[row], v.y[row], v.heading[row]], dim=1).tolist()
        for index, (x, y, heading) in enumerate(state):
            if not bool(v.alive[row, index]):
                continue
            c, s = math.cos(heading), math.sin(heading)
            half_l, half_w = LENGTH / 2, WIDTH / 2
            corners = [
                to_screen(x + c * along - s * across, y + s * along + c * across)
                for along, across in ((half_l, half_w), (half_l, -half_w), (-half_l, -half_w), (-half_l, half_w))
            ]
            colour = TRAFFIC_COLOUR if index else (CRASHED_COLOUR if bool(self.crashed[row]) else EGO_COLOUR)
            pygame.draw.polygon(surface, colour, corners)
            pygame.draw.polygon(surface, (30, 30, 30), corners, 1)
