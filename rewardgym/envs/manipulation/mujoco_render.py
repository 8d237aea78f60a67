"""MuJoCo offscreen rendering that shares its process with any number of envs and other GL users.

**Backend.** MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` once, when ``mujoco`` is first
imported. Unless the user set it, importing this module sets ``MUJOCO_GL=egl``: headless, and on
the GPU where a driver offers EGL (Mesa's software EGL otherwise). ``MUJOCO_GL=osmesa`` (needs
libOSMesa) and ``glfw`` (needs a display) are the alternatives; a program that imports ``mujoco``
itself before building a MuJoCo env, without setting ``MUJOCO_GL``, gets MuJoCo's default, GLFW.

**Context lifetime.** MuJoCo's EGL backend initialises one EGL display per process and keeps it.
EGL displays are not reference-counted: another library of the process that opens the same display
and later terminates it (SDL's offscreen video driver does on ``pygame.display.quit()``) destroys
every MuJoCo context with it, and MuJoCo then fails with ``EGL_NOT_INITIALIZED`` at the next
``mujoco.Renderer`` and ``EGL_BAD_DISPLAY`` when an old one is freed or garbage-collected. A
``Renderer`` here checks its context before each frame and when it is closed; a lost context is
dropped without a GL call (its GL objects went with the display), the display is initialised
again, and a new context is made. So renderers can be created, used, closed and collected in any
order, whatever else opens and closes the display in between.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")  # read once, when mujoco is first imported
import mujoco
import numpy as np


def _egl_module(gl_context: Any) -> Any:
    """MuJoCo's EGL module if ``gl_context`` is one of its contexts, else None (no shared display)."""
    egl = sys.modules.get("mujoco.egl")
    return egl if egl is not None and isinstance(gl_context, egl.GLContext) else None


def context_alive(gl_context: Any) -> bool:
    """Whether a renderer's GL context can still be made current (always, for backends other than EGL)."""
    egl = _egl_module(gl_context)
    if egl is None:
        return True
    if egl.EGL_DISPLAY is None or not gl_context._context:
        return False
    from OpenGL.error import GLError

    try:  # EGL_NOT_INITIALIZED once the display was terminated, EGL_BAD_CONTEXT once it was initialised again
        return bool(egl.EGL.eglQueryContext(egl.EGL_DISPLAY, gl_context._context, egl.EGL.EGL_CONFIG_ID,
                                            ctypes.byref(egl.EGL.EGLint())))
    except GLError:
        return False


def _revive_display() -> None:
    """Initialise MuJoCo's EGL display again if another library terminated it (a no-op otherwise)."""
    egl = sys.modules.get("mujoco.egl")
    if egl is None or egl.EGL_DISPLAY is None:
        return  # not made yet: MuJoCo makes and initialises it with the first context
    from OpenGL.error import GLError

    try:
        if egl.EGL.eglQueryString(egl.EGL_DISPLAY, egl.EGL.EGL_VENDOR):
            return
    except GLError:
        pass
    egl.EGL.eglInitialize(egl.EGL_DISPLAY, None, None)


class Renderer(mujoco.Renderer):
    """``mujoco.Renderer`` that tells whether its context is alive, and whose ``close`` (and so its
    garbage collection) survives a lost EGL context."""

    def alive(self) -> bool:
        return context_alive(getattr(self, "_gl_context", None))

    def close(self) -> None:
        gl_context = getattr(self, "_gl_context", None)  # None when __init__ failed early
        if _egl_module(gl_context) is not None and not context_alive(gl_context):
            gl_context._context = None  # gone with its display: nothing to make current or destroy
        super().close()


class SceneRenderer:
    """Pictures of one model at a size asked per frame; ``close`` frees the GL context, if any."""

    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self._renderer: Renderer | None = None

    def renderer(self, width: int, height: int) -> Renderer:
        """A renderer of this size whose context is alive, made (again) if needed."""
        renderer = self._renderer
        if renderer is not None and ((renderer.width, renderer.height) != (width, height) or not renderer.alive()):
            self.close()
            renderer = None
        if renderer is None:
            _revive_display()
            try:
                renderer = Renderer(self.model, height, width)
            except Exception as problem:  # the backends fail with ImportError, RuntimeError, GLError, mujoco.FatalError
                raise RuntimeError(
                    f"MuJoCo cannot render with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {problem}. Headless "
                    "machines need MUJOCO_GL=egl (a GPU driver's or Mesa's EGL) or osmesa (libOSMesa), set before "
                    "mujoco is first imported; backend='pybullet' renders on the CPU without OpenGL."
                ) from problem
            self._renderer = renderer
        return renderer

    def render(self, data: mujoco.MjData, camera: mujoco.MjvCamera, width: int, height: int,
               extra_geoms: Any = None) -> np.ndarray:
        """An ``HxWx3 uint8`` picture of ``data``; ``extra_geoms(scene)`` may add decorations to the scene."""
        renderer = self.renderer(width, height)
        renderer.update_scene(data, camera)
        if extra_geoms is not None:
            extra_geoms(renderer.scene)
        return renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
