"""The MuJoCo simulator: the Panda URDF imported through ``MjSpec``, stepped by ``mujoco.rollout``.

The scene adds to the URDF a table, an optional free cube, a mocap body welded to the grasp
point (Fetch's end-effector control: the arm's joints are passive, gravity-compensated and damped,
and follow the weld), a finger actuator and the sensors the task reads. The URDF's collision
meshes are kept for the picture only; primitive boxes on the hand and fingers are what collide,
which keeps contact-rich steps cheap.

A batch is one array of full physics states. Each control step hands every row to
``mujoco.rollout`` (a thread pool over the rows, each row from its own state with a cold solver
warm-start), so a row's trajectory never depends on the batch it runs in, and that state with the
last sensor readings is all a row carries from one step to the next (see ``get_state``).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

# Before mujoco: importing mujoco_render sets MUJOCO_GL (unless the user did), read when mujoco is first imported.
from rewardgym.envs.manipulation.mujoco_render import SceneRenderer
from rewardgym.envs.manipulation.simulator import (
    CONTROL_PERIOD,
    FINGER_MAX,
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

# isort: split
import mujoco
from mujoco import rollout

#: MuJoCo's implicit integrator is stable at 4 ms (MuJoCo Playground's Panda uses 5 ms): 10 steps per control period.
TIMESTEP = 0.004
SUBSTEPS = round(CONTROL_PERIOD / TIMESTEP)
ARM_JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
FINGER_JOINTS = ["panda_finger_joint1", "panda_finger_joint2"]
ROBOT_BODIES = ["panda_link0", *[f"panda_link{i}" for i in range(1, 9)], "panda_hand", "panda_leftfinger",
                "panda_rightfinger", "panda_grasptarget"]
CONTROL_SPEC = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS  # finger target, then gripper target
FULL_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


def state_layout(model: mujoco.MjModel) -> dict[str, slice]:
    """Where each nonempty part of a ``FULL_STATE`` vector lies, by name: "time", "qpos", "qvel", ...

    ``mj_getState`` lays the parts out in the order of their ``mjtState`` bits.
    """
    layout, start = {}, 0
    for bit in range(int(mujoco.mjtState.mjNSTATE)):
        part = mujoco.mjtState(1 << bit)
        size = mujoco.mj_stateSize(model, part)
        if FULL_STATE & part and size:
            layout[part.name.removeprefix("mjSTATE_").lower()] = slice(start, start + size)
            start += size
    return layout


def _add_box(body: Any, name: str, pos: tuple, half_size: tuple, rgba: tuple) -> Any:
    return body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(pos), size=list(half_size), rgba=list(rgba))


@functools.lru_cache(maxsize=None)
def scene_model(with_object: bool) -> mujoco.MjModel:
    """The compiled scene (cached: every env of a process shares it)."""
    urdf = panda_urdf()
    spec = mujoco.MjSpec.from_string(urdf.read_text().replace("package://", ""))
    spec.meshdir = str(urdf.parent)
    spec.compiler.fusestatic = False  # keep the hand and the grasp-target bodies
    spec.compiler.discardvisual = False  # the meshes are drawn, not collided
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST

    for geom in spec.geoms:  # the URDF's meshes are only drawn
        geom.contype = geom.conaffinity = 0
        geom.rgba = [0.85, 0.85, 0.88, 1.0]
    for name in ROBOT_BODIES:
        spec.body(name).gravcomp = 1.0
    spec.body("panda_link0").pos = list(ROBOT_BASE)

    dark = (0.25, 0.25, 0.28, 0.0)  # invisible collision boxes
    _add_box(spec.body("panda_hand"), "hand_box", (0, 0, 0.03), (0.03, 0.1, 0.028), dark)
    _add_box(spec.body("panda_leftfinger"), "left_pad", (0, 0.01, 0.032), (0.01, 0.008, 0.022), dark)
    _add_box(spec.body("panda_rightfinger"), "right_pad", (0, -0.01, 0.032), (0.01, 0.008, 0.022), dark)
    spec.body("panda_grasptarget").add_site(name="grip", size=[0.005])

    world = spec.worldbody
    _add_box(world, "table", TABLE_CENTRE, TABLE_HALF_SIZE, (0.55, 0.45, 0.35, 1.0))
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, pos=[0, 0, FLOOR_Z], size=[0, 0, 1],
                   rgba=[0.3, 0.35, 0.4, 1.0])
    world.add_light(pos=[0.0, 0.0, 1.5], dir=[0.0, 0.0, -1.0])
    world.add_body(name="gripper_target", mocap=True)
    weld = spec.add_equality(type=mujoco.mjtEq.mjEQ_WELD, objtype=mujoco.mjtObj.mjOBJ_BODY, name1="gripper_target",
                             name2="panda_grasptarget")
    weld_data = np.array(weld.data)  # anchor (3), relative pose (position 3, quaternion 4), torque scale, ...
    weld_data[:10] = [0, 0, 0, 0, 0, 0, *GRIPPER_DOWN]
    weld.data = weld_data
    fingers = spec.add_actuator(name="fingers", target=FINGER_JOINTS[0], trntype=mujoco.mjtTrn.mjTRN_JOINT)
    fingers.set_to_position(kp=500.0, kv=20.0)
    fingers.ctrlrange, fingers.forcerange = [0.0, FINGER_MAX], [-20.0, 20.0]

    sensors = [(mujoco.mjtSensor.mjSENS_FRAMEPOS, mujoco.mjtObj.mjOBJ_SITE, "grip"),
               (mujoco.mjtSensor.mjSENS_FRAMELINVEL, mujoco.mjtObj.mjOBJ_SITE, "grip"),
               *[(mujoco.mjtSensor.mjSENS_JOINTPOS, mujoco.mjtObj.mjOBJ_JOINT, name) for name in FINGER_JOINTS],
               *[(mujoco.mjtSensor.mjSENS_JOINTVEL, mujoco.mjtObj.mjOBJ_JOINT, name) for name in FINGER_JOINTS]]
    if with_object:
        cube = world.add_body(name="object", pos=[0.0, 0.0, OBJECT_HALF_SIZE])
        cube.add_freejoint(name="object")
        box = _add_box(cube, "object", (0, 0, 0), (OBJECT_HALF_SIZE,) * 3, (0.2, 0.6, 0.25, 1.0))
        box.mass = OBJECT_MASS
        sensors += [(kind, mujoco.mjtObj.mjOBJ_XBODY, "object") for kind in (
            mujoco.mjtSensor.mjSENS_FRAMEPOS, mujoco.mjtSensor.mjSENS_FRAMEQUAT,
            mujoco.mjtSensor.mjSENS_FRAMELINVEL, mujoco.mjtSensor.mjSENS_FRAMEANGVEL)]
    for kind, objtype, name in sensors:
        spec.add_sensor(type=kind, objtype=objtype, objname=name)
    model = spec.compile()
    for name in ARM_JOINTS:  # set on the model: the spec's field types differ across mujoco releases
        dof = model.jnt_dofadr[model.joint(name).id]
        model.dof_damping[dof], model.dof_armature[dof] = 10.0, 0.1
    for name in FINGER_JOINTS:
        model.dof_armature[model.jnt_dofadr[model.joint(name).id]] = 0.01
    return model


class MujocoSimulator(Simulator):
    """The scene in MuJoCo: ``num_envs`` full physics states stepped by ``mujoco.rollout``."""

    def __init__(self, num_envs: int, with_object: bool):
        super().__init__(num_envs, with_object)
        self.model = scene_model(with_object)
        nthread = min(num_envs, os.cpu_count() or 1) if num_envs > 1 else 0
        self._rollout = _thread_pool(nthread)
        self._datas = [mujoco.MjData(self.model) for _ in range(max(nthread, 1))]

        start = mujoco.MjData(self.model)
        start.qpos[: len(NEUTRAL_JOINTS)] = NEUTRAL_JOINTS
        mujoco.mj_forward(self.model, start)
        nstate = mujoco.mj_stateSize(self.model, FULL_STATE)
        self._start_state = np.empty(nstate)
        mujoco.mj_getState(self.model, start, self._start_state, FULL_STATE)
        self._start_reading = np.zeros(READING_SIZE)
        self._start_reading[: self.model.nsensordata] = start.sensordata
        object_qpos = self.model.jnt_qposadr[self.model.joint("object").id] if with_object else 0
        self._object_state = slice(1 + object_qpos, 4 + object_qpos)  # the state starts with the time
        self._layout = state_layout(self.model)

        self._state = np.tile(self._start_state, (num_envs, 1))
        self._reading = np.tile(self._start_reading, (num_envs, 1))
        self._models = [self.model] * num_envs
        self._control = np.zeros((num_envs, SUBSTEPS, 4))  # held over the substeps
        self._states_out = np.empty((num_envs, SUBSTEPS, nstate))
        self._sensors_out = np.empty((num_envs, SUBSTEPS, self.model.nsensordata))
        self._renderer = SceneRenderer(self.model)

    def reset(self, rows: np.ndarray, object_position: np.ndarray) -> None:
        self._state[rows] = self._start_state
        self._reading[rows] = self._start_reading
        if self.with_object:
            self._state[rows, self._object_state] = object_position[rows]
            self._reading[rows, READING["object_pos"]] = object_position[rows]

    def step(self, grip_target: np.ndarray, finger_target: np.ndarray) -> None:
        self._control[:, :, 0] = finger_target[:, None]
        self._control[:, :, 1:] = grip_target[:, None]
        # Every array is allocated here with the shapes rollout wants, so its Python-side checks are skipped.
        self._rollout.rollout(self._models, self._datas, self._state, self._control, control_spec=CONTROL_SPEC,
                              nstep=SUBSTEPS, state=self._states_out, sensordata=self._sensors_out, skip_checks=True)
        self._state[:] = self._states_out[:, -1]
        self._reading[:, : self.model.nsensordata] = self._sensors_out[:, -1]

    def read(self) -> np.ndarray:
        return self._reading.copy()

    def get_state(self) -> dict[str, np.ndarray]:
        """Each row's physics state by part (``time``, ``qpos``, ``qvel``, and ``act``, ``history``,
        ``plugin`` or ``plastic`` where the model has them) and its ``reading``.

        The reading is kept as read: MuJoCo computes sensors before it integrates, so the last
        substep's sensor values are not a function of the state it ends in. Nothing else carries
        over between control steps: every substep takes ``ctrl`` and ``mocap_pos`` from the step's
        command, ``mocap_quat`` and the weld are constants of the model, and ``mujoco.rollout``
        starts each row's solver cold.
        """
        parts = {name: self._state[:, where].copy() for name, where in self._layout.items()}
        return {**parts, "reading": self._reading.copy()}

    def set_state(self, values: dict[str, np.ndarray], rows: np.ndarray) -> None:
        for name, where in self._layout.items():
            self._state[rows, where] = values[name]
        self._reading[rows] = values["reading"]

    def render(self, row: int, goal: np.ndarray, width: int, height: int) -> np.ndarray:
        data = self._datas[0]
        mujoco.mj_setState(self.model, data, self._state[row], FULL_STATE)
        mujoco.mj_forward(self.model, data)
        camera = mujoco.MjvCamera()
        camera.lookat[:] = (-0.15, 0.0, 0.1)
        camera.distance, camera.azimuth, camera.elevation = 1.5, 160.0, -30.0

        def draw_goal(scene: mujoco.MjvScene) -> None:
            if scene.ngeom < scene.maxgeom:
                mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.array([0.02, 0.0, 0.0]),
                                    np.asarray(goal, dtype=np.float64), np.eye(3).ravel(),
                                    np.array([0.9, 0.2, 0.2, 0.6], np.float32))
                scene.ngeom += 1

        return self._renderer.render(data, camera, width, height, draw_goal)

    def close(self) -> None:
        self._renderer.close()


@functools.lru_cache(maxsize=None)
def _thread_pool(nthread: int) -> rollout.Rollout:
    """One persistent rollout thread pool per size, shared by every batch of the process."""
    return rollout.Rollout(nthread=nthread)
