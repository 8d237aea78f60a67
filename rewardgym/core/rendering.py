"""Rendering helpers shared by every env: a pygame surface becomes an ``HxWx3 uint8`` frame, frames
tile into one image, and a ``human`` window shows them.

pygame is imported on first use, so importing rewardgym stays light and headless machines that
never render need no display.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


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
    """

    def __init__(self, title: str, fps: int):
        self.title = title
        self.fps = fps
        self._screen = None
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        pygame = pygame_module()
        height, width = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (width, height):
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((width, height))
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        pygame.surfarray.blit_array(self._screen, np.transpose(frame, (1, 0, 2)))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._screen is not None:
            pygame_module().display.quit()
            self._screen = None
