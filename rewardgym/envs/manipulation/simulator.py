"""The small simulator interface the manipulation tasks run on, and the scene both engines build.

A ``Simulator`` holds ``num_envs`` copies of one scene: a Franka Panda (the URDF that
``pybullet_data`` ships, loaded by both engines) on a table, and optionally a 4 cm cube. It knows
nothing of goals or rewards: the task layer hands it a gripper target and a finger opening each
step and reads back one row of numbers per env (layout ``READING``). ``get_state``/``set_state``
carry every row's engine state as arrays, which any simulator of the same scene and engine takes
back (another batch, another batch size): on MuJoCo the row then continues exactly as it would
have, on PyBullet without the contact state that engine cannot hand over (see its ``get_state``).

World frame (panda-gym's): the table top is the plane ``z = 0``, the robot base stands at
``(-0.6, 0, 0)``, goals and cubes are sampled around the origin.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

CONTROL_PERIOD = 0.04  # s: 25 Hz control, as in Fetch and panda-gym (each engine picks its physics step)
ROBOT_BASE = (-0.6, 0.0, 0.0)
#: Joint angles of the start pose (7 arm joints, 2 finger joints): the gripper points down.
NEUTRAL_JOINTS = (0.0, 0.41, 0.0, -1.85, 0.0, 2.26, math.pi / 4, 0.0, 0.0)
#: The gripper's fixed orientation (w, x, y, z): pointing down, fingers opening along y.
GRIPPER_DOWN = (0.0, 1.0, 0.0, 0.0)
FINGER_MAX = 0.04  # each finger's travel (m)
OBJECT_HALF_SIZE = 0.02  # the cube is 4 cm wide
OBJECT_MASS = 0.1
TABLE_HALF_SIZE = (0.55, 0.4, 0.2)
TABLE_CENTRE = (-0.25, 0.0, -0.2)
FLOOR_Z = -0.4  # what a cube pushed off the table lands on

#: Where each quantity lies in a row of ``Simulator.read()`` (world frame, SI units).
READING = {
    "grip_pos": slice(0, 3),  # the grasp point between the fingertips
    "grip_vel": slice(3, 6),
    "fingers": slice(6, 8),  # each finger's opening
    "finger_vel": slice(8, 10),
    "object_pos": slice(10, 13),
    "object_quat": slice(13, 17),  # (w, x, y, z)
    "object_vel": slice(17, 20),
    "object_angvel": slice(20, 23),
}
READING_SIZE = 23


def panda_urdf() -> Path:
    """The Franka Panda URDF (with meshes and licence) that ships with ``pybullet_data``."""
    import pybullet_data

    return Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"


class Simulator(ABC):
    """``num_envs`` copies of the scene in one engine, stepped together.

    Sub-env rows are independent and deterministic: a row's trajectory depends only on its own
    reset and actions, never on the batch size, so a batch row equals a single env.
    """

    def __init__(self, num_envs: int, with_object: bool):
        self.num_envs = num_envs
        self.with_object = with_object

    @abstractmethod
    def reset(self, rows: np.ndarray, object_position: np.ndarray) -> None:
        """Put the rows of the bool mask ``rows`` back in the start pose, the cube at ``object_position[row]``."""

    @abstractmethod
    def step(self, grip_target: np.ndarray, finger_target: np.ndarray) -> None:
        """One control period of physics toward ``grip_target`` (n, 3) with fingers at ``finger_target`` (n,)."""

    @abstractmethod
    def read(self) -> np.ndarray:
        """``(num_envs, READING_SIZE)`` float64: the current readings of every row (object fields zero without a cube)."""

    @abstractmethod
    def get_state(self) -> dict[str, np.ndarray]:
        """Every row's engine state by name, each entry ``(num_envs, ...)``: what later steps and readings depend on."""

    @abstractmethod
    def set_state(self, values: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Put ``values`` (entries of ``get_state``, one row per index of ``rows``) into those rows."""

    @abstractmethod
    def render(self, row: int, goal: np.ndarray, width: int, height: int) -> np.ndarray:
        """An ``HxWx3 uint8`` picture of ``row`` with the goal drawn as a small sphere."""

    def close(self) -> None:
        """Release engine resources."""
