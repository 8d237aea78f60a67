"""Several manipulation envs in one process, on both engines: created, rendered, closed and
garbage-collected in any order, while other code opens and closes the EGL display MuJoCo draws on."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rewardgym.envs.manipulation import mujoco_render

# A renderer's close that fails inside __del__ is only reported ("Exception ignored in ..."): make it fail the test.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

BACKENDS = ["mujoco", "pybullet"]
PROBE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("mujoco_render", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)  # picks MUJOCO_GL as rewardgym does
import mujoco
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>")
module.SceneRenderer(model).render(mujoco.MjData(model), mujoco.MjvCamera(), 8, 8)
"""


@cache
def mujoco_rendering_problem() -> str | None:
    """Why MuJoCo cannot render on this machine at all (probed in a fresh process), or None."""
    probe = subprocess.run([sys.executable, "-c", PROBE, mujoco_render.__file__], capture_output=True, text=True,
                           timeout=120, check=False)
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {probe.returncode}"


def needs_renderer(backend: str) -> None:
    """PyBullet draws on the CPU and always can; MuJoCo needs an OpenGL backend (EGL, OSMesa or a display)."""
    if backend == "mujoco" and (problem := mujoco_rendering_problem()):
        pytest.skip(f"MuJoCo cannot render on this machine (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}): {problem}")


def needs_egl() -> None:
    needs_renderer("mujoco")
    from mujoco import gl_context

    backend = getattr(gl_context, "GLContext", None)
    if getattr(backend, "__module__", None) != "mujoco.egl":
        pytest.skip(f"MuJoCo renders with {getattr(backend, '__module__', 'no backend')} in this process, not EGL")


def make(task: str, backend: str) -> gym.Env:
    env = gym.make(f"rewardgym/{task}-v0", backend=backend, render_mode="rgb_array")
    env.reset(seed=3)
    return env


@cache
def reference_frame(task: str, backend: str) -> np.ndarray:
    env = make(task, backend)
    frame = env.render()
    env.close()
    return frame


def assert_renders(env: gym.Env, task: str, backend: str) -> None:
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (400, 400, 3) and frame.std() > 0
    np.testing.assert_array_equal(frame, reference_frame(task, backend), err_msg=f"{task} on {backend}")


def terminate_egl_display() -> None:
    """What SDL's offscreen video driver does on pygame.display.quit(): terminate the process's EGL display."""
    egl = sys.modules["mujoco.egl"]
    egl.EGL.eglTerminate(egl.EGL_DISPLAY)


CHECKS = {
    "mujoco-default-video-driver": ("mujoco", None),
    "mujoco-sdl-offscreen": ("mujoco", "offscreen"),  # SDL's pick on a headless machine: it terminates EGL on quit
    "pybullet-default-video-driver": ("pybullet", None),
}


@pytest.mark.parametrize(("backend", "video_driver"), CHECKS.values(), ids=CHECKS.keys())
def test_env_checker_passes_on_one_env_after_another(backend, video_driver, monkeypatch):
    """The report: check_env with its render checks (rgb_array, then human) on Reach, then on Push."""
    needs_renderer(backend)
    if video_driver is None:
        monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)  # tests/conftest.py chooses "dummy"; users do not
    else:
        monkeypatch.setenv("SDL_VIDEODRIVER", video_driver)
    for task in ("Reach", "Push"):
        env = gym.make(f"rewardgym/{task}-v0", backend=backend, render_mode="rgb_array")
        try:
            check_env(env.unwrapped, skip_render_check=False)
        except Exception as problem:
            if video_driver and video_driver in str(problem).lower():
                pytest.skip(f"SDL has no {video_driver} video driver here: {problem}")
            raise
        env.close()


ORDERS = {
    "in-creation-order": [0, 1, 2, 3],
    "in-reverse-order": [3, 2, 1, 0],
    "interleaved": [1, 2, 0, 3],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_envs_of_both_engines_render_in_any_order_of_making_closing_and_collecting(order):
    for backend in BACKENDS:
        needs_renderer(backend)
    cases = [("Reach", "mujoco"), ("Push", "pybullet"), ("Push", "mujoco"), ("Reach", "pybullet")]
    envs = [make(*case) for case in cases]
    for index in order:  # render while all are open, in this order
        assert_renders(envs[index], *cases[index])
    for position, index in enumerate(order):
        if position % 2:
            envs[index] = None  # dropped without close: the garbage collector frees its renderer
            gc.collect()
        else:
            envs[index].close()
        for later in order[position + 1:]:  # those still open render as before
            assert_renders(envs[later], *cases[later])
        task, backend = cases[index]
        fresh = make(task, backend)  # and a new env of the kind just closed or dropped renders too
        assert_renders(fresh, task, backend)
        fresh.close()
    gc.collect()


def test_an_env_rendered_after_close_and_a_second_close_are_harmless():
    needs_renderer("mujoco")
    env = make("Reach", "mujoco")
    assert_renders(env, "Reach", "mujoco")
    env.close()
    env.close()
    gc.collect()


def test_mujoco_renders_after_another_library_terminates_the_egl_display():
    """Old envs, new envs, closing and collecting all work after the display went away (twice)."""
    needs_egl()
    old = make("Reach", "mujoco")
    assert_renders(old, "Reach", "mujoco")
    doomed = make("Push", "mujoco")
    assert_renders(doomed, "Push", "mujoco")
    unrendered = make("PickPlace", "mujoco")

    terminate_egl_display()
    new = make("Push", "mujoco")
    assert_renders(new, "Push", "mujoco")  # a new context on a display initialised again
    assert_renders(old, "Reach", "mujoco")  # an old context was lost with the display: made again
    doomed.close()  # its context is gone: freed without touching GL
    del unrendered
    gc.collect()

    terminate_egl_display()
    del new  # collected with a lost context
    gc.collect()
    assert_renders(old, "Reach", "mujoco")
    old.close()
    assert_renders(make("PickPlace", "mujoco"), "PickPlace", "mujoco")
    gc.collect()


def test_mujoco_renders_between_pygame_windows_on_sdl_offscreen(monkeypatch):
    """SDL's offscreen driver shares MuJoCo's EGL display and terminates it on ``pygame.display.quit()``."""
    needs_egl()
    import pygame

    env = make("Reach", "mujoco")
    assert_renders(env, "Reach", "mujoco")
    if pygame.display.get_init():
        pytest.skip("pygame's display is already open in this process")
    monkeypatch.setenv("SDL_VIDEODRIVER", "offscreen")
    for _ in range(2):
        try:
            pygame.display.init()
        except pygame.error as problem:
            pytest.skip(f"SDL has no offscreen video driver here: {problem}")
        pygame.display.set_mode((32, 32))
        pygame.display.flip()
        pygame.display.quit()
        assert_renders(env, "Reach", "mujoco")
        assert_renders(make("Push", "mujoco"), "Push", "mujoco")
        gc.collect()
    env.close()


def test_renderer_errors_name_the_backend_and_the_ways_out(tmp_path):
    """Where MuJoCo cannot render (here: GLFW chosen with no display), the error says what to set."""
    script = tmp_path / "render_reach.py"
    script.write_text(
        "import mujoco, sys\n"  # mujoco imported first, MUJOCO_GL=glfw
        "import gymnasium as gym, rewardgym\n"
        "env = gym.make('rewardgym/Reach-v0', render_mode='rgb_array'); env.reset(seed=0)\n"
        "try:\n    env.render()\nexcept RuntimeError as problem:\n    print(problem)\nelse:\n    print('rendered')\n"
    )
    environment = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False,
                         env={**environment, "MUJOCO_GL": "glfw"}, cwd=Path(__file__).parent)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("rendered") or (
        "MUJOCO_GL='glfw'" in run.stdout and "MUJOCO_GL=egl" in run.stdout and "pybullet" in run.stdout
    ), run.stdout
