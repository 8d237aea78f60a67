"""The task layer shared by Reach, Push and PickPlace: goals, control, success, rewards, observations.

It follows the Fetch / panda-gym goal-env conventions and runs on either engine through the
``Simulator`` interface: everything here is batched torch over the rows, the engine only steps.
A row's state is its goal, cube start and gripper target, and the engine's state of the row
(``Simulator.get_state``); observations and goal distances are read back from the engine.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import GoalConditioned, TorchVectorEnv
from rewardgym.core.validation import check_bool, check_choice, check_float
from rewardgym.envs.manipulation.simulator import FINGER_MAX, OBJECT_HALF_SIZE, READING, Simulator

BACKENDS = ("mujoco", "pybullet")
STEP_SIZE = 0.05  # metres of gripper-target motion per unit action per step (Fetch's)
#: The box the gripper target is kept in (the grasp point stays 1 cm above the table).
WORKSPACE_LOW = (-0.25, -0.25, 0.01)
WORKSPACE_HIGH = (0.25, 0.25, 0.35)
AIR_HEIGHT = 0.2  # PickPlace: half of the goals float up to this far above the resting cube
#: Every observed value is clipped to ±this (metres, m/s, rad): the scene lies well inside it.
OBSERVATION_BOUND = 10.0


def make_simulator(backend: str, num_envs: int, with_object: bool) -> Simulator:
    """The engine's simulator (each engine is imported only when asked for)."""
    if backend == "mujoco":
        from rewardgym.envs.manipulation.mujoco_sim import MujocoSimulator

        return MujocoSimulator(num_envs, with_object)
    from rewardgym.envs.manipulation.pybullet_sim import PybulletSimulator

    return PybulletSimulator(num_envs, with_object)


def euler_from_quaternion(quat: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (x-y-z intrinsic) of ``(w, x, y, z)`` quaternions, batched."""
    w, x, y, z = quat.T
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.stack([roll, pitch, yaw], axis=-1)


def observation_vector(readings: np.ndarray, with_object: bool) -> np.ndarray:
    """The ``observation`` entry from the engine's readings, in Fetch's order (10 or 25 values)."""
    part = {name: readings[:, where] for name, where in READING.items()}
    if not with_object:
        return np.concatenate([part["grip_pos"], part["fingers"], part["grip_vel"], part["finger_vel"]], axis=1)
    return np.concatenate([
        part["grip_pos"], part["object_pos"], part["object_pos"] - part["grip_pos"], part["fingers"],
        euler_from_quaternion(part["object_quat"]), part["object_vel"], part["object_angvel"], part["grip_vel"],
        part["finger_vel"],
    ], axis=1)


class ManipulationVectorEnv(GoalConditioned, TorchVectorEnv):
    """A Franka Panda moves its gripper (and maybe a cube) to a goal; subclasses name the task.

    Subclasses set ``with_object`` and ``block_gripper`` and implement ``_sample_goal``.
    ``get_state()`` covers the goals, cube starts and gripper targets (``task.<name>``) and the
    engine's state of every row (``task.sim.<name>``, see the backend's ``Simulator.get_state``).
    """

    metadata: ClassVar[dict[str, Any]] = {**TorchVectorEnv.metadata, "render_fps": 25}
    potentials = ("distance",)
    extra_rewards = {"dense": lambda terms: terms["dense"]}
    with_object: ClassVar[bool]
    block_gripper: ClassVar[bool]
    object_range = 0.0  # half-width of the square the cube starts in (tasks with a cube take it as an argument)
    state_fields = ("goal", "object_start")  # with the gripper target and the engine's state, see _task_state
    max_benchmark_envs = 1024  # one engine instance per env: larger batches only measure memory

    def __init__(
        self,
        num_envs: int = 1,
        *,
        backend: str = "mujoco",
        goal_range: float = 0.15,
        distance_threshold: float = 0.05,
        terminate_on_success: bool = False,
        max_episode_steps: int = 50,
        **kwargs: Any,
    ):
        self.backend = check_choice("backend", backend, BACKENDS)
        self.goal_range = check_float("goal_range", goal_range, 0.0, 0.15)
        self.distance_threshold = check_float("distance_threshold", distance_threshold, 1e-3, 0.5)
        self.terminate_on_success = check_bool("terminate_on_success", terminate_on_success)
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **kwargs)

        self.sim = make_simulator(self.backend, self.num_envs, self.with_object)
        shape = (self.num_envs, 3)
        self.goal = torch.zeros(shape, device=self.device)
        self.object_start = torch.zeros(shape, device=self.device)
        #: Where the gripper is driven to (an engine command, so kept in numpy float64).
        self.grip_target = self._sense()[:, READING["grip_pos"]].copy()

        observation_size = 25 if self.with_object else 10
        bounded = spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, (observation_size,), np.float32)
        goal_space = spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, (3,), np.float32)
        observation_space = spaces.Dict({"observation": bounded, "achieved_goal": goal_space, "desired_goal": goal_space})
        self._set_spaces(observation_space, spaces.Box(-1.0, 1.0, (4,), np.float32))

    # -- what each task defines ---------------------------------------------------------------

    def _sample_goal(self, uniform: torch.Tensor) -> torch.Tensor:
        """Goals ``(num_envs, 3)`` from 4 uniform [0, 1) numbers per row."""
        raise NotImplementedError

    # -- the task -----------------------------------------------------------------------------

    def _sense(self) -> np.ndarray:
        """Read the engine: observation, achieved goal and goal distance of every row; returns the readings.

        Assembled in numpy, where the engine's readings are, and moved to ``device`` in one copy.
        """
        readings = self.sim.read()
        achieved = readings[:, READING["object_pos" if self.with_object else "grip_pos"]]
        sensed = np.concatenate([observation_vector(readings, self.with_object), achieved], axis=1)
        sensed = torch.from_numpy(np.clip(sensed, -OBSERVATION_BOUND, OBSERVATION_BOUND).astype(np.float32)).to(self.device)
        self.observation, self.achieved_goal = sensed[:, :-3], sensed[:, -3:]
        self.goal_distance = torch.linalg.vector_norm(self.achieved_goal - self.goal, dim=-1)
        return readings

    def _reset(self, rows: torch.Tensor) -> None:
        uniform = self.random.uniform(6)  # the same draws whatever the task, so every task has one stream layout
        goal = self._sample_goal(uniform[:, :4])
        object_xy = (2 * uniform[:, 4:6] - 1) * self.object_range
        object_start = torch.cat([object_xy, torch.full_like(object_xy[:, :1], OBJECT_HALF_SIZE)], dim=1)
        column = rows.unsqueeze(1)
        self.goal = torch.where(column, goal, self.goal)
        self.object_start = torch.where(column, object_start, self.object_start)
        restarting = rows.cpu().numpy()
        self.sim.reset(restarting, self.object_start.cpu().numpy().astype(np.float64))
        readings = self._sense()
        self.grip_target[restarting] = readings[restarting, READING["grip_pos"]]

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        command = action.cpu().numpy().astype(np.float64)
        self.grip_target = np.clip(self.grip_target + STEP_SIZE * command[:, :3], WORKSPACE_LOW, WORKSPACE_HIGH)
        opening = np.zeros(self.num_envs) if self.block_gripper else (command[:, 3] + 1) * (FINGER_MAX / 2)
        self.sim.step(self.grip_target, opening)
        self._sense()
        return {}  # success and rewards depend on the state reached only

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.goal_distance <= self.distance_threshold

    def _terminated(self, success: torch.Tensor) -> torch.Tensor:
        return success & self.terminate_on_success

    def _reward_terms(self, success: torch.Tensor, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sparse": success.float() - 1.0, "dense": -self.goal_distance}

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {"distance": -self.goal_distance}

    def _observe(self) -> dict[str, torch.Tensor]:
        return {"observation": self.observation, "achieved_goal": self.achieved_goal, "desired_goal": self.goal.clone()}

    def _sparse_goal_reward(self, distance: torch.Tensor) -> torch.Tensor:
        return -(distance > self.distance_threshold).float()  # −1 per step until within the threshold

    # -- explicit state -----------------------------------------------------------------------

    def _task_state(self) -> dict[str, torch.Tensor]:
        """``state_fields``, the gripper targets (float64) and the engine's entries, as ``sim.<name>``."""
        engine = {f"sim.{name}": torch.from_numpy(value) for name, value in self.sim.get_state().items()}
        state = {**super()._task_state(), "grip_target": torch.from_numpy(self.grip_target), **engine}
        return {name: value.to(self.device) for name, value in state.items()}

    def _load_task_state(self, values: dict[str, torch.Tensor], rows: torch.Tensor) -> None:
        super()._load_task_state(values, rows)
        index = rows.cpu().numpy()
        self.grip_target[index] = values["grip_target"].cpu().numpy()
        self.sim.set_state({name.removeprefix("sim."): value.cpu().numpy() for name, value in values.items()
                            if name.startswith("sim.")}, index)
        self._sense()

    # -- drawing ------------------------------------------------------------------------------

    def render_frame(self, row: int = 0) -> np.ndarray:
        """The engine's ``HxWx3 uint8`` picture of sub-env ``row``, the goal drawn as a red sphere."""
        width, height = self.frame_size
        return self.sim.render(row, self.goal[row].cpu().numpy().astype(np.float64), width, height)

    def close_extras(self, **kwargs: Any) -> None:
        super().close_extras(**kwargs)
        self.sim.close()
