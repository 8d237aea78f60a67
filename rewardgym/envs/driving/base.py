"""The driving env: a scene (a road, a traffic model and the ego's route; ``scene``) simulated as a
batch, with the ego's actions, collisions, observations, reward channels, infractions, explicit
state and drawing, which every scene shares.

A scene class (``HighwayVector``, ``MergeVector``, ``IntersectionVector``) validates its own
arguments, calls ``DrivingVectorEnv.__init__`` and then sets its three parts.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv
from rewardgym.core.rendering import pygame_module
from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.core.vector_env import Transition
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
from rewardgym.envs.driving.scene import Road, Route, Traffic
from rewardgym.envs.driving.vehicles import LENGTH, MAX_SPEED, WIDTH, Vehicles, bicycle_step, speed_control

Tensor = torch.Tensor

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)  # highway-env's DiscreteMetaAction order
MAX_ACCELERATION = 5.0  # m/s², the continuous action's range
MAX_ACTION_STEERING = math.pi / 4  # rad, the continuous action's range
PERCEPTION_DISTANCE = 5 * MAX_SPEED  # m: vehicles farther than this are not observed
FEATURES = ("presence", "x", "y", "vx", "vy", "cos_h", "sin_h")

GRASS_COLOUR = (70, 130, 70)
EGO_COLOUR = (50, 200, 0)
CRASHED_COLOUR = (220, 50, 47)
TRAFFIC_COLOUR = (100, 200, 255)
OUTLINE_COLOUR = (30, 30, 30)


class DrivingVectorEnv(TorchVectorEnv):
    """A batch of traffic scenes, each with one ego vehicle to drive along a route.

    Every vehicle moves by the kinematic bicycle model, ``simulation_frequency / policy_frequency``
    substeps per action. Collisions are checked between the ego and the traffic at every substep
    (as highway-fast-v0, traffic does not collide with itself). Vehicle 0 of each row is the ego.
    What differs between scenes is in their parts (``rewardgym.envs.driving.scene``): the
    ``road``, the ``traffic`` (where vehicles start, how they drive) and the ego's ``route``.

    The state of a row (``get_state``) is its vehicles (``Vehicles``: poses, speeds, traffic
    parameters, the lane or route each follows), the ego's target speed index, its route
    progress and this step's collision and off-road flags (they end the episode).

    Driving arguments (the scene's defaults are in its own docstring):
        action_type: ``"discrete"`` (highway-env's meta-actions) or ``"continuous"``.
        vehicles_count: traffic vehicles per scene (besides the ego).
        vehicles_density: traffic density (1 is the scene's default spacing).
        duration: episode length in seconds; the time limit is ``duration · policy_frequency`` steps.
        policy_frequency: actions per second.
        simulation_frequency: simulation steps per second (a multiple of ``policy_frequency``).
        vehicles_observed: rows of the observation (the ego and its nearest vehicles).
        speed_limit: m/s; the discrete target speeds and CaRL's speeding factor use it.
        collision_reward, right_lane_reward, high_speed_reward, lane_change_reward: the weights of
            the ``summed`` reward's terms (highway-env's names); it maps its raw sum from
            [collision_reward, high_speed_reward + right_lane_reward] to [0, 1].
        reward_speed_range: (low, high) forward speeds, m/s, over which ``high_speed`` rises from 0 to 1.
    """

    metadata: ClassVar[dict[str, Any]] = {**TorchVectorEnv.metadata, "render_fps": 5}
    potentials = ("progress",)
    extra_rewards: ClassVar[dict[str, Any]] = {"carl": lambda terms: terms["carl"], "summed": lambda terms: terms["summed"]}
    frame_size = (600, 240)
    pixels_per_metre = 5.0
    #: Half-ranges (x, y, velocity) that observations are divided by before clipping to [-1, 1].
    observation_scale: tuple[float, float, float] = (PERCEPTION_DISTANCE, 3 * LANE_WIDTH, 2 * MAX_SPEED)
    #: How far below the limit the slowest of the three discrete target speeds is.
    target_speed_span: ClassVar[float] = 10.0
    state_fields: ClassVar[tuple[str, ...]] = ("speed_index", "crashed", "off_road", "progress")
    state_parts: ClassVar[tuple[str, ...]] = ("vehicles",)
    # The scene's parts, set by its constructor after this class's.
    road: Road
    traffic: Traffic
    route: Route

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
        collision_reward: float,
        right_lane_reward: float,
        high_speed_reward: float,
        lane_change_reward: float,
        reward_speed_range: tuple[float, float],
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
        self.summed_weights = SummedWeights(
            collision_reward=collision_reward, right_lane_reward=right_lane_reward, high_speed_reward=high_speed_reward,
            lane_change_reward=lane_change_reward, reward_speed_range=reward_speed_range,
        )
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
        self.progress = torch.zeros(rows, device=self.device)

        observation_space = spaces.Box(-1.0, 1.0, (self.vehicles_observed, len(FEATURES)), np.float32)
        if self.action_type == "discrete":
            action_space = spaces.Discrete(5)
            self.keys_to_action = {(ord("a"),): LANE_LEFT, (ord("d"),): LANE_RIGHT, (ord("w"),): FASTER, (ord("s"),): SLOWER}
        else:
            action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
            self.keys_to_action = {}
        self._set_spaces(observation_space, action_space)

    # -- the task ---------------------------------------------------------------------------------

    def _reset(self, rows: Tensor) -> None:
        self.traffic.spawn(self.vehicles, self.random, rows)
        self.speed_index = torch.where(rows, 1, self.speed_index)
        self.crashed = self.crashed & ~rows
        self.off_road = self.off_road & ~rows
        self.progress = torch.where(rows, self.route.progress(self.vehicles), self.progress)

    def _transition(self, action: Tensor) -> Transition:
        """Simulate one policy step; returns the ego's ``route_increment`` and whether it
        ``lane_changed`` (the reward channels' facts about the step)."""
        v = self.vehicles
        progress_before = self.progress
        lane_changed = torch.zeros_like(self.crashed)
        ego_control = None  # the continuous action's (acceleration, steering)
        if self.action_type == "discrete":
            lane_changed = self.route.change_lane(v, (action == LANE_RIGHT).long() - (action == LANE_LEFT).long())
            step = (action == FASTER).long() - (action == SLOWER).long()
            self.speed_index = (self.speed_index + step).clamp(0, len(self.target_speeds) - 1)
        else:
            ego_control = action * torch.tensor([MAX_ACCELERATION, MAX_ACTION_STEERING], device=self.device)
        plan = self.traffic.plan(v, self.elapsed)
        poses = []
        for _ in range(self.substeps):
            acceleration, steering = self.traffic.controls(v, plan)
            acceleration[:, 0], steering[:, 0] = self._ego_controls(steering[:, 0], ego_control)
            v.x, v.y, v.heading, v.speed = bicycle_step(v.x, v.y, v.heading, v.speed, acceleration, steering, self.dt)
            poses.append((v.x, v.y, v.heading))
        self.crashed = self._ego_collides(*(torch.stack(pose) for pose in zip(*poses)))
        self.off_road = ~self.road.on_road(v.x[:, 0], v.y[:, 0])
        self.progress = self.route.progress(v)
        return {"route_increment": self.progress - progress_before, "lane_changed": lane_changed}

    def _ego_controls(self, lane_steering: Tensor, control: Tensor | None) -> tuple[Tensor, Tensor]:
        """The ego's acceleration and steering: toward its target speed along its lane (discrete
        actions), or ``control``, the continuous action scaled to (m/s², rad)."""
        if control is None:
            return speed_control(self.vehicles.speed[:, 0], self.target_speeds[self.speed_index]), lane_steering
        return control[:, 0], control[:, 1]

    def _ego_collides(self, x: Tensor, y: Tensor, heading: Tensor) -> Tensor:
        """Whether the ego overlapped another vehicle at any substep, from the poses of every
        substep, ``(substeps, num_envs, capacity)`` (all substeps at once: fewer, larger ops)."""
        overlap = boxes_overlap(x[..., :1], y[..., :1], heading[..., :1], x[..., 1:], y[..., 1:], heading[..., 1:])
        return (overlap & self.vehicles.alive[:, 1:]).any(dim=2).any(dim=0)

    def _success(self, transition: Transition) -> Tensor:
        return self.route.completed(self.vehicles, self.progress) & ~self.crashed & ~self.off_road

    def _terminated(self, success: Tensor) -> Tensor:
        return success | self.crashed | self.off_road

    def _reward_terms(self, success: Tensor, transition: Transition) -> dict[str, Tensor]:
        v, weights = self.vehicles, self.summed_weights
        increment = transition["route_increment"]
        factors = {
            "speeding_factor": speeding_factor(v.speed[:, 0], self.speed_limit),
            "centre_factor": centre_factor(self.route.centre_offset(v), LANE_WIDTH),
        }
        terms = {
            "sparse": success.float(),
            "route_increment": increment,
            **factors,
            "carl": carl_reward(increment, list(factors.values()), self.crashed | self.off_road),
            "collision": self.crashed.float(),
            "right_lane": self.route.right_lane(v),
            "high_speed": high_speed_term(v.speed[:, 0] * torch.cos(v.heading[:, 0]), weights.reward_speed_range),
            "lane_change": transition["lane_changed"].float(),
            "on_road": (~self.off_road).float(),
        }
        terms["summed"] = summed_reward(terms, weights)
        return terms

    def _potentials(self) -> dict[str, Tensor]:
        return {"progress": self.progress}

    def _step_info(self, transition: Transition) -> dict[str, Tensor]:
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
        pygame = pygame_module()
        width, height = self.frame_size
        v, scale = self.vehicles, self.pixels_per_metre
        centre_x, centre_y = self.road.camera(float(v.x[row, 0]), float(v.y[row, 0]))

        def to_screen(x: float, y: float) -> tuple[float, float]:
            return (x - centre_x) * scale + width / 2, (y - centre_y) * scale + height / 2

        surface.fill(GRASS_COLOUR)
        self.road.draw(surface, to_screen, (centre_x - width / scale, centre_x + width / scale))
        self.route.draw(surface, to_screen, v, row)
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
            pygame.draw.polygon(surface, OUTLINE_COLOUR, corners, 1)
