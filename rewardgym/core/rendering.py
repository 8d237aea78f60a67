"""Rendering helpers shared by every env: a pygame surface becomes an ``HxWx3 uint8`` frame, frames
tile into one image, and a ``human`` window shows them.

pygame is imported on first use, so importing rewardgym stays light and headless machines that
never render need no display.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

# The colours the grid and arena envs share, so that walls, floors, goals and agents look alike in every family.
WALL_COLOUR = (40, 44, 52)
FLOOR_COLOUR = (235, 235, 230)
GOAL_COLOUR = (60, 180, 75)
AGENT_COLOUR = (220, 50, 47)


def pygame_module() -> Any:
    import pygame

    return pygame


def new_surface(width: int, height: int) -> Any:
    """An off-screen pygame surface to draw a frame on."""
    return pygame_module().Surface((width, height))


def surface_to_frame(surface: Any) -> np.ndarray:
    """Copy a pygame surface into an ``HxWx3 uint8`` array."""
    width, height = surface.get_size()
    pixels = pygame_module().image.tobytes(surface, "RGB")
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3).copy()


def tile_frames(frames: Sequence[np.ndarray], columns: int | None = None) -> np.ndarray:
    """Arrange equally sized frames row by row in one image (black where the grid is not full)."""
    count = len(frames)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    height, width, channels = frames[0].shape
    grid = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)
    for index, frame in enumerate(frames):
        row, column = divmod(index, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = frame
    return grid


class LazyFrames(Sequence):
    """The frames of a batch, drawn only when indexed.

    Gymnasium's vector ``render()`` returns one frame per sub-env; drawing thousands of them when a
    video recorder reads only the first would be wasted work.
    """

    def __init__(self, count: int, draw: Callable[[int], np.ndarray]):
        self._count = count
        self._draw = draw

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._draw(i) for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._draw(index % self._count)


class HumanWindow:
    """A pygame window that shows frames at a fixed rate and stays responsive to the OS.

    Nothing opens until the first ``show``, so envs that never render in ``human`` mode pay nothing.
    Each env has a window of its own (``pygame.Window``), so several can be open, and closed in any
    order; the display is shut when the last window rewardgym opened closes, if rewardgym started it.
    On a Linux machine with no display (neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``) and no
    ``SDL_VIDEODRIVER`` chosen, SDL's ``dummy`` driver is used: SDL's own pick there, ``offscreen``,
    opens the process's EGL display and terminates it on quit, under MuJoCo's renderers.
    """

    _open = 0  # windows of this process that rewardgym opened and has not closed
    _started_display = False  # whether rewardgym initialised pygame's display (and so shuts it)

    def __init__(self, title: str, fps: int):
        self.title = title
        self.fps = fps
        self._window = None
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        pygame = pygame_module()
        height, width = frame.shape[:2]
        if self._window is None:
            _start_display(pygame)
            self._window = pygame.Window(self.title, (width, height))
            self._clock = pygame.time.Clock()
            HumanWindow._open += 1
        elif tuple(self._window.size) != (width, height):
            self._window.size = (width, height)
        pygame.event.pump()
        pygame.surfarray.blit_array(self._window.get_surface(), np.transpose(frame, (1, 0, 2)))
        self._window.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._window is None:
            return
        self._window.destroy()
        self._window = None
        HumanWindow._open -= 1
        if HumanWindow._open == 0 and HumanWindow._started_display:
            pygame_module().display.quit()
            HumanWindow._started_display = False


def _headless() -> bool:
    return sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def _start_display(pygame: Any) -> None:
    """Initialise pygame's display unless it is up (headless Linux: SDL's ``dummy`` video driver)."""
    if pygame.display.get_init():
        return
    chosen = os.environ.get("SDL_VIDEODRIVER")
    if _headless() and not chosen:
        os.environ["SDL_VIDEODRIVER"] = "dummy"  # read by SDL when the display starts, then put back
    try:
        pygame.display.init()
    finally:
        if chosen is None:
            os.environ.pop("SDL_VIDEODRIVER", None)
        else:
            os.environ["SDL_VIDEODRIVER"] = chosen
    HumanWindow._started_display = True
