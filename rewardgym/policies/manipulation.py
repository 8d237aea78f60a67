"""Oracles of the manipulation family: scripted controllers, as in the Fetch and panda-gym demos.

Each reads the gripper, cube and goal positions from the observation and, every step, picks a
waypoint for the gripper from where things are now (no memory, so a cube that slipped or slid
away is simply approached again); the action moves the env's gripper target toward the waypoint,
at most ``speed`` of a full step per axis.

- Reach: straight to the goal.
- Push: above a point behind the cube (on the far side from the goal), down to the table, then
  push toward the goal while keeping behind the cube, slowly enough that it does not slide on.
- PickPlace: above the cube with the fingers open, down around it, close, carry it to the goal.

The gripper lags its target and, on PyBullet, swings past it: the controllers move at half speed
near the cube and, where the gripper is low beside the cube, wait for the swing to settle rather
than climb again. Both engines' oracles succeed in over 95% of episodes with default arguments.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.envs.manipulation.envs import PickPlaceVector, PushVector, ReachVector
from rewardgym.envs.manipulation.simulator import OBJECT_HALF_SIZE
from rewardgym.envs.manipulation.task import STEP_SIZE, ManipulationVectorEnv
from rewardgym.policies import BatchPolicy, register_oracle

Tensor = torch.Tensor
FINGERS = slice(9, 11)  # the two finger openings in an object task's observation

SAFE_HEIGHT = 0.08  # above the cube's centre: the gripper travels this high when not touching it
POSITION_TOLERANCE = 0.01  # how close the gripper must be to a waypoint to take the next phase
APPROACH_SPEED = 0.5  # of a full step: faster, and the gripper overshoots onto the cube
# Push: distances from the cube's centre along the cube-to-goal direction (the pads are ~1 cm thick).
PUSH_START = 0.045  # where the gripper goes down, behind the cube
PUSH_CONTACT = 0.032  # where a pad touches the cube
PUSH_LEAD = 0.03  # how far ahead of the contact point each waypoint of the push lies
PUSH_SETTLE = 0.02  # within this of the start point, a low gripper settles there instead of climbing
# By engine: faster, and the cube slides on past the goal (further on PyBullet), or, on MuJoCo, a
# cube pushed toward the robot forces the passive arm's elbow past its limit, where the arm jams.
PUSH_SPEED = {"mujoco": 0.3, "pybullet": 0.15}
PUSH_DONE = 0.015  # cube-goal distance at which the push stops
MAX_LATERAL = 0.012  # sideways offset from the cube-goal line beyond which the gripper goes round again
# PickPlace:
GRASP_SETTLE = 0.04  # within this of the cube (sideways), the gripper settles over it instead of climbing
# The finger openings add up to about the cube's width when it is between them (one finger may close
# further than the other: PyBullet drives them separately), and to less when they closed on nothing.
GRASPED = 2.5 * OBJECT_HALF_SIZE
MISSED = OBJECT_HALF_SIZE
CARRY_SPEED = 0.5  # faster, and the cube slips in the fingers


def _target(env: ManipulationVectorEnv, like: Tensor) -> Tensor:
    """Where each row's gripper is being driven to ``(n, 3)``."""
    return torch.as_tensor(env.grip_target, dtype=like.dtype, device=like.device)


def _act(env: ManipulationVectorEnv, waypoint: Tensor, speed: Tensor | float, gripper: Tensor | float = -1.0) -> Tensor:
    """The action that moves each row's gripper target toward ``waypoint`` (at most ``speed`` per axis)."""
    speed = torch.as_tensor(speed, dtype=waypoint.dtype, device=waypoint.device).reshape(-1, 1)
    move = torch.clamp((waypoint - _target(env, waypoint)) / STEP_SIZE, -speed, speed)
    gripper = torch.as_tensor(gripper, dtype=waypoint.dtype, device=waypoint.device).expand(len(move), 1)
    return torch.cat([move, gripper], dim=1)


def _at(xy: Tensor, z: Tensor) -> Tensor:
    """Points ``(n, 3)`` from ``xy`` ``(n, 2)`` and heights ``z`` ``(n,)``."""
    return torch.cat([xy, z.unsqueeze(1)], dim=1)


def _where(condition: Tensor, waypoint: Tensor, otherwise: Tensor) -> Tensor:
    return torch.where(condition.unsqueeze(1), waypoint, otherwise)


@register_oracle(ReachVector)
def reach_oracle(env: ReachVector) -> BatchPolicy:
    """Straight to the goal."""

    def act(observation: dict[str, Tensor], info: dict[str, Any], started: Tensor) -> Tensor:
        return _act(env, observation["desired_goal"], 1.0)

    return act


@register_oracle(PushVector)
def push_oracle(env: PushVector) -> BatchPolicy:
    """Go round behind the cube, down, and push it to the goal along the cube-goal line."""
    push_speed = PUSH_SPEED[env.backend]

    def act(observation: dict[str, Tensor], info: dict[str, Any], started: Tensor) -> Tensor:
        grip, cube, goal = observation["observation"][:, 0:3], observation["achieved_goal"], observation["desired_goal"]
        to_goal = (goal - cube)[:, :2]
        distance = torch.linalg.vector_norm(to_goal, dim=1)
        direction = to_goal / distance.clamp(min=1e-6).unsqueeze(1)
        offset = (grip - cube)[:, :2]
        along = (offset * direction).sum(1)
        lateral = torch.linalg.vector_norm(offset - along.unsqueeze(1) * direction, dim=1)
        low = grip[:, 2] < cube[:, 2] + POSITION_TOLERANCE
        behind = (along < POSITION_TOLERANCE - PUSH_CONTACT) & (along > -PUSH_START - POSITION_TOLERANCE)
        pushing = low & behind & (lateral < MAX_LATERAL)
        start = cube[:, :2] - PUSH_START * direction
        from_start = torch.linalg.vector_norm(grip[:, :2] - start, dim=1)
        clear = grip[:, 2] > cube[:, 2] + SAFE_HEIGHT / 2  # high enough to pass over the cube
        safe = cube[:, 2] + SAFE_HEIGHT

        waypoint = _at(start, safe)
        waypoint = _where(~clear, _at(grip[:, :2], safe), waypoint)  # straight up, not sweeping the cube away
        waypoint = _where(~clear & (from_start < PUSH_SETTLE), _at(start, _target(env, grip)[:, 2]), waypoint)
        waypoint = _where(from_start < POSITION_TOLERANCE, _at(start, cube[:, 2]), waypoint)
        waypoint = _where(pushing, _at(cube[:, :2] + (PUSH_LEAD - PUSH_CONTACT) * direction, cube[:, 2]), waypoint)
        waypoint = _where(distance < PUSH_DONE, grip, waypoint)
        return _act(env, waypoint, torch.where(pushing, push_speed, APPROACH_SPEED))

    return act


@register_oracle(PickPlaceVector)
def pick_place_oracle(env: PickPlaceVector) -> BatchPolicy:
    """Open above the cube, go down around it, close, and carry it to the goal."""

    def act(observation: dict[str, Tensor], info: dict[str, Any], started: Tensor) -> Tensor:
        grip, cube, goal = observation["observation"][:, 0:3], observation["achieved_goal"], observation["desired_goal"]
        fingers = observation["observation"][:, FINGERS].sum(1)
        offset = cube - grip
        sideways = torch.linalg.vector_norm(offset[:, :2], dim=1)
        around = (sideways < POSITION_TOLERANCE) & (offset[:, 2].abs() < POSITION_TOLERANCE)
        # Once held, the cube may slip a little in the fingers: it is held while between them.
        holding = (fingers < GRASPED) & (fingers > MISSED) & (torch.linalg.vector_norm(offset, dim=1) < OBJECT_HALF_SIZE)

        waypoint = _at(cube[:, :2], cube[:, 2] + SAFE_HEIGHT)
        waypoint = _where(sideways < GRASP_SETTLE, _at(cube[:, :2], _target(env, grip)[:, 2]), waypoint)
        waypoint = _where(sideways < POSITION_TOLERANCE, cube, waypoint)
        waypoint = _where(holding, goal, waypoint)
        # Around the cube, close (and open again if they closed on nothing); open wide elsewhere.
        close = holding | (around & (fingers >= MISSED))
        speed = torch.where(holding, CARRY_SPEED, APPROACH_SPEED)
        return _act(env, waypoint, speed, torch.where(close, -1.0, 1.0).unsqueeze(1))

    return act
