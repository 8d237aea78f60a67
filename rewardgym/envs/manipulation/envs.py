"""Reach, Push and PickPlace: the three tasks, each a goal sampler over the shared task layer."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.validation import check_float
from rewardgym.envs.manipulation.simulator import OBJECT_HALF_SIZE
from rewardgym.envs.manipulation.task import AIR_HEIGHT, ManipulationVectorEnv

TASK_DOC = """{summary}

    Both engines run the same task: ``backend="mujoco"`` (default; ``mujoco.rollout`` steps the
    batch on a thread pool) or ``"pybullet"`` (one client per env). The robot is the Franka Panda of
    ``pybullet_data`` in both; the table top is ``z = 0`` and goals lie around the origin.

    ## Action space
    ``Box(-1, 1, (4,), float32)``: the gripper target moves by ``0.05 · action[:3]`` metres (kept in
    the workspace box x, y ∈ [-0.25, 0.25], z ∈ [0.01, 0.35]), the gripper points down;
    ``action[3]`` sets the finger opening from closed (-1) to 8 cm (+1){gripper}. 25 Hz control
    (MuJoCo: 10 physics steps of 4 ms; PyBullet: 20 of 2 ms).

    ## Observation space
    ``Dict`` (the Gymnasium-Robotics goal-env layout):
    - ``observation``: {observation};
    - ``achieved_goal``: {achieved} (3);
    - ``desired_goal``: the goal (3).

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | -1 while ``d > distance_threshold``, 0 once within it (Fetch's, panda-gym's) |
    | ``dense`` | -d |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = −d (policy-invariant) |

    ``d = ‖achieved_goal − desired_goal‖``; success is ``d ≤ distance_threshold`` (5 cm).
    ``compute_reward(achieved, desired, info)`` gives the sparse or dense reward of any goals,
    batched, for hindsight relabelling (HER).

    ## Episode end
    Truncates after ``max_episode_steps`` (50). By default success does not end the episode
    (Fetch's convention, which keeps HER's relabelled transitions exact); with
    ``terminate_on_success=True`` it does (panda-gym's).

    ## State
    ``get_state()``/``set_state()`` cover each row's goal, cube start and gripper target and its
    engine state: on MuJoCo the physics state and last sensor readings, so a restored row
    continues exactly; on PyBullet the joint and cube states but not the contact state, which
    PyBullet cannot hand over, so a restored row whose cube is in contact (as a cube lying on the
    table is) may drift from the original (see ``PybulletSimulator.get_state``).

    ## Arguments
    ``backend``, ``goal_range`` (half-width of the goal box, 0.15){arguments},
    ``distance_threshold`` (0.05), ``terminate_on_success`` (False), and the common ones.
    """

ROBOT_OBSERVATION = "gripper position (3), finger openings (2), gripper velocity (3), finger velocities (2)"
OBJECT_OBSERVATION = ("gripper position (3), cube position (3), cube relative to the gripper (3), finger "
                      "openings (2), cube roll/pitch/yaw (3), cube velocity (3), cube angular velocity (3), gripper "
                      "velocity (3), finger velocities (2)")


class ReachVector(ManipulationVectorEnv):
    __doc__ = TASK_DOC.format(
        summary="Reach: move the gripper to a goal in the air (Fetch's FetchReach, panda-gym's PandaReach).",
        gripper=" — ignored here, the fingers stay closed",
        observation=ROBOT_OBSERVATION + " (10 values)",
        achieved="the gripper position",
        arguments="; the goal is uniform in a cube of that half-width around (0, 0, 0.15)",
    )
    with_object = False
    block_gripper = True

    def _sample_goal(self, uniform: torch.Tensor) -> torch.Tensor:
        centre = torch.tensor([0.0, 0.0, 0.15], device=self.device)
        return centre + (2 * uniform[:, :3] - 1) * self.goal_range


class ObjectTaskVectorEnv(ManipulationVectorEnv):
    """A task with a 4 cm cube that starts on the table, uniform in a square of half-width ``object_range``."""

    with_object = True

    def __init__(self, num_envs: int = 1, *, object_range: float = 0.15, **kwargs: Any):
        self.object_range = check_float("object_range", object_range, 0.0, 0.15)
        super().__init__(num_envs, **kwargs)

    def _goal_on_table(self, uniform: torch.Tensor) -> torch.Tensor:
        xy = (2 * uniform[:, :2] - 1) * self.goal_range
        return torch.cat([xy, torch.full_like(xy[:, :1], OBJECT_HALF_SIZE)], dim=1)


class PushVector(ObjectTaskVectorEnv):
    __doc__ = TASK_DOC.format(
        summary="Push: push a cube across the table to a goal on the table (FetchPush, PandaPush).",
        gripper=" — ignored here, the fingers stay closed",
        observation=OBJECT_OBSERVATION + " (25 values)",
        achieved="the cube's position",
        arguments=", ``object_range`` (half-width of the cube's start square, 0.15)",
    )
    block_gripper = True

    def _sample_goal(self, uniform: torch.Tensor) -> torch.Tensor:
        return self._goal_on_table(uniform)


class PickPlaceVector(ObjectTaskVectorEnv):
    __doc__ = TASK_DOC.format(
        summary="PickPlace: grasp a cube and carry it to a goal, in the air half of the time (FetchPickAndPlace).",
        gripper="",
        observation=OBJECT_OBSERVATION + " (25 values)",
        achieved="the cube's position",
        arguments=", ``object_range`` (half-width of the cube's start square, 0.15); half of the goals are "
                  "lifted uniformly up to 0.2 m above the table",
    )
    block_gripper = False

    def _sample_goal(self, uniform: torch.Tensor) -> torch.Tensor:
        goal = self._goal_on_table(uniform)
        lift = torch.where(uniform[:, 2] < 0.5, uniform[:, 3] * AIR_HEIGHT, 0.0)
        return goal + torch.stack([torch.zeros_like(lift), torch.zeros_like(lift), lift], dim=1)


Reach = single_env_class(ReachVector, "Reach")
Push = single_env_class(PushVector, "Push")
PickPlace = single_env_class(PickPlaceVector, "PickPlace")
