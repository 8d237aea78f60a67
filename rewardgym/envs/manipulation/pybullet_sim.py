"""The PyBullet simulator: one physics client per env, panda-gym's end-effector control.

Each control step solves PyBullet's inverse kinematics for the gripper target (the grasp point,
pointing down) and drives the joints there with position control for ``SUBSTEPS`` physics
steps, as panda-gym does. As in the MuJoCo scene, only the hand and fingers collide; the arm
links pass through the table. A reset restores a state saved right after loading, so a client's
trajectory depends only on its own reset and actions.

A row's explicit state (``PybulletSimulator.get_state``) is the robot's joint states and the cube's
base state, which any client takes back. It is not all PyBullet keeps: see ``get_state`` for the
contact state that no client can carry to another, and what that changes.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from rewardgym.envs.manipulation.simulator import (
    CONTROL_PERIOD,
    FLOOR_Z,
    GRIPPER_DOWN,
    NEUTRAL_JOINTS,
    OBJECT_HALF_SIZE,
    OBJECT_MASS,
    READING,
    READING_SIZE,
    ROBOT_BASE,
    TABLE_CENTRE,
    TABLE_HALF_SIZE,
    Simulator,
    panda_urdf,
)

TIMESTEP = 0.002  # panda-gym's (and Fetch's): 20 physics steps per control period
SUBSTEPS = round(CONTROL_PERIOD / TIMESTEP)
ARM_JOINTS = list(range(7))
FINGER_JOINTS = [9, 10]
HAND_LINKS = {8, 9, 10}  # hand and fingers: the links that collide
GRASP_LINK = 11  # panda_grasptarget
JOINT_FORCES = [87.0] * 4 + [12.0] * 3  # the URDF's effort limits
FINGER_FORCE = 20.0
GRIPPER_DOWN_XYZW = (*GRIPPER_DOWN[1:], GRIPPER_DOWN[0])
MOVING_JOINTS = ARM_JOINTS + FINGER_JOINTS


@functools.lru_cache(maxsize=None)
def light_urdf() -> Path:
    """The Panda URDF drawn with its collision meshes (as MuJoCo draws it): loads ~10x faster.

    Written once per process to a temporary directory, since PyBullet loads URDFs from files only.
    """
    original = panda_urdf()
    meshes = original.parent / "meshes" / "collision"
    text = original.read_text()
    for folder in ("visual", "collision"):
        text = text.replace(f"package://meshes/{folder}/", f"{meshes}/")
    directory = Path(tempfile.mkdtemp(prefix="rewardgym-panda-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "panda.urdf"
    path.write_text(text)
    return path


class PandaClient:
    """One PyBullet physics client holding the scene."""

    def __init__(self, with_object: bool):
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        client = self.client
        client.setTimeStep(TIMESTEP)
        client.setGravity(0, 0, -9.81)
        self.robot = client.loadURDF(str(light_urdf()), basePosition=ROBOT_BASE, useFixedBase=True)
        for link in range(-1, client.getNumJoints(self.robot)):
            if link not in HAND_LINKS:
                client.setCollisionFilterGroupMask(self.robot, link, 0, 0)
        for joint, angle in zip(ARM_JOINTS + FINGER_JOINTS, NEUTRAL_JOINTS):
            client.resetJointState(self.robot, joint, angle)
        self._add_box(TABLE_HALF_SIZE, TABLE_CENTRE, 0.0, (0.55, 0.45, 0.35, 1.0))
        floor = client.createCollisionShape(pybullet.GEOM_PLANE)
        client.createMultiBody(0.0, floor, basePosition=(0, 0, FLOOR_Z))
        self.object = (
            self._add_box((OBJECT_HALF_SIZE,) * 3, (0, 0, OBJECT_HALF_SIZE), OBJECT_MASS, (0.2, 0.6, 0.25, 1.0))
            if with_object else None
        )
        goal_shape = client.createVisualShape(pybullet.GEOM_SPHERE, radius=0.02, rgbaColor=(0.9, 0.2, 0.2, 0.6))
        self.goal_marker = client.createMultiBody(baseMass=0.0, baseVisualShapeIndex=goal_shape, basePosition=(0, 0, -1))
        self._colliders = [(self.robot, link) for link in sorted(HAND_LINKS)]
        if self.object is not None:
            self._colliders.append((self.object, -1))
        self._collide(True)
        self.start = client.saveState()

    def _collide(self, enabled: bool) -> None:
        """Let the hand, fingers and cube collide with everything, or with nothing."""
        for body, link in self._colliders:
            self.client.setCollisionFilterGroupMask(body, link, 1 if enabled else 0, -1 if enabled else 0)

    def _add_box(self, half_size: tuple, position: tuple, mass: float, rgba: tuple) -> int:
        shape = self.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half_size)
        look = self.client.createVisualShape(pybullet.GEOM_BOX, halfExtents=half_size, rgbaColor=rgba)
        return self.client.createMultiBody(mass, shape, look, basePosition=position)

    def _forget_contacts(self) -> None:
        """Drop the contact caches (a collision pass without the colliders): ``restoreState`` keeps them."""
        self._collide(False)
        self.client.performCollisionDetection()
        self._collide(True)

    def reset(self, object_position: np.ndarray) -> None:
        self.client.restoreState(self.start)
        self._forget_contacts()  # so that every episode starts alike
        if self.object is not None:
            self.client.resetBasePositionAndOrientation(self.object, object_position.tolist(), (0, 0, 0, 1))

    def get_state(self) -> dict[str, np.ndarray]:
        """The moving joints' positions and velocities, and the cube's base pose (x, y, z, w) and velocities."""
        joints = self.client.getJointStates(self.robot, MOVING_JOINTS)
        state = {"joint_position": np.array([joint[0] for joint in joints]),
                 "joint_velocity": np.array([joint[1] for joint in joints])}
        if self.object is not None:
            position, orientation = self.client.getBasePositionAndOrientation(self.object)
            velocity, angular_velocity = self.client.getBaseVelocity(self.object)
            state.update(object_position=np.array(position), object_orientation=np.array(orientation),
                         object_velocity=np.array(velocity), object_angular_velocity=np.array(angular_velocity))
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Take back a ``get_state`` (of this client or another), starting from no contacts as a reset does."""
        self.client.restoreState(self.start)
        self._forget_contacts()
        for joint, position, velocity in zip(MOVING_JOINTS, state["joint_position"], state["joint_velocity"]):
            self.client.resetJointState(self.robot, joint, float(position), float(velocity))
        if self.object is not None:
            self.client.resetBasePositionAndOrientation(self.object, state["object_position"].tolist(),
                                                        state["object_orientation"].tolist())
            self.client.resetBaseVelocity(self.object, state["object_velocity"].tolist(),
                                          state["object_angular_velocity"].tolist())

    def step(self, grip_target: np.ndarray, finger_target: float) -> None:
        client = self.client
        joints = client.calculateInverseKinematics(self.robot, GRASP_LINK, grip_target.tolist(), GRIPPER_DOWN_XYZW,
                                                  maxNumIterations=100, residualThreshold=1e-5)
        client.setJointMotorControlArray(self.robot, ARM_JOINTS, pybullet.POSITION_CONTROL,
                                         targetPositions=joints[:7], forces=JOINT_FORCES)
        client.setJointMotorControlArray(self.robot, FINGER_JOINTS, pybullet.POSITION_CONTROL,
                                         targetPositions=[finger_target] * 2, forces=[FINGER_FORCE] * 2)
        for _ in range(SUBSTEPS):
            client.stepSimulation()

    def read(self, out: np.ndarray) -> None:
        client = self.client
        grip = client.getLinkState(self.robot, GRASP_LINK, computeLinkVelocity=1, computeForwardKinematics=1)
        out[READING["grip_pos"]] = grip[4]
        out[READING["grip_vel"]] = grip[6]
        fingers = client.getJointStates(self.robot, FINGER_JOINTS)
        out[READING["fingers"]] = [state[0] for state in fingers]
        out[READING["finger_vel"]] = [state[1] for state in fingers]
        if self.object is not None:
            position, (x, y, z, w) = client.getBasePositionAndOrientation(self.object)
            velocity, angular = client.getBaseVelocity(self.object)
            out[READING["object_pos"]] = position
            out[READING["object_quat"]] = (w, x, y, z)
            out[READING["object_vel"]] = velocity
            out[READING["object_angvel"]] = angular

    def render(self, goal: np.ndarray, width: int, height: int) -> np.ndarray:
        client = self.client
        client.resetBasePositionAndOrientation(self.goal_marker, goal.tolist(), (0, 0, 0, 1))
        view = client.computeViewMatrixFromYawPitchRoll((-0.15, 0.0, 0.1), 1.5, yaw=70.0, pitch=-30.0, roll=0.0, upAxisIndex=2)
        projection = client.computeProjectionMatrixFOV(45.0, width / height, 0.05, 5.0)
        image = client.getCameraImage(width, height, view, projection, renderer=pybullet.ER_TINY_RENDERER)[2]
        return np.asarray(image, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()


class PybulletSimulator(Simulator):
    """The scene in PyBullet: one client per row, stepped one after the other."""

    def __init__(self, num_envs: int, with_object: bool):
        super().__init__(num_envs, with_object)
        self.clients = [PandaClient(with_object) for _ in range(num_envs)]
        self._reading = np.zeros((num_envs, READING_SIZE))
        for client, out in zip(self.clients, self._reading):
            client.read(out)

    def reset(self, rows: np.ndarray, object_position: np.ndarray) -> None:
        for row in np.flatnonzero(rows):
            self.clients[row].reset(object_position[row])
            self.clients[row].read(self._reading[row])

    def step(self, grip_target: np.ndarray, finger_target: np.ndarray) -> None:
        for client, target, fingers, out in zip(self.clients, grip_target, finger_target, self._reading):
            client.step(target, float(fingers))
            client.read(out)

    def read(self) -> np.ndarray:
        return self._reading.copy()

    def get_state(self) -> dict[str, np.ndarray]:
        """Every row's ``joint_position`` and ``joint_velocity`` (arm and fingers) and, with a cube,
        ``object_position``, ``object_orientation`` (x, y, z, w), ``object_velocity`` and
        ``object_angular_velocity``; the robot's base and the table never move.

        PyBullet cannot restore a row exactly, in another client or later in the same one, for
        what its API neither reads nor writes:

        - the contact state: the points each touching pair of bodies keeps from step to step, and
          the order of pairs and points, which the solver follows and which depends on the
          client's history. (``restoreState`` from a ``saveBullet`` file fills in points only for
          pairs that already exist under the same internal body ids, which every reset renews.)
        - the cube's exact orientation: ``getBasePositionAndOrientation`` passes the quaternion
          the engine integrates through a rotation matrix, up to one unit in its last place.

        So a restored row starts without contacts, as a reset does, and finds them again at its
        first physics step. Without contacts (Reach, unless a finger meets the table) it replays
        exactly. With the cube, over oracle-driven Push and PickPlace episodes, fewer than one
        restored row in eight replayed ten steps exactly; the others differed from the first step
        on (median 3e-4 on Push, 9e-3 on PickPlace in the observation, once the cube had been
        touched) and then diverged as contact-rich motion does.
        """
        states = [client.get_state() for client in self.clients]
        return {name: np.stack([state[name] for state in states]) for name in states[0]}

    def set_state(self, values: dict[str, np.ndarray], rows: np.ndarray) -> None:
        for i, row in enumerate(rows):
            self.clients[row].set_state({name: value[i] for name, value in values.items()})
            self.clients[row].read(self._reading[row])

    def render(self, row: int, goal: np.ndarray, width: int, height: int) -> np.ndarray:
        return self.clients[row].render(goal, width, height)

    def close(self) -> None:
        for client in self.clients:
            client.client.disconnect()
        self.clients = []
