"""Human-mode windows: several open at once, closed in any order; headless machines get SDL's dummy driver."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rewardgym.core.rendering import HumanWindow

pygame = pytest.importorskip("pygame")


@pytest.fixture
def headless(monkeypatch):
    """No display, no video driver chosen (tests/conftest.py picks "dummy" for every other test)."""
    if pygame.display.get_init():
        pytest.skip("pygame's display is already open in this process")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")


def frame(value: int, size: int = 24) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


@pytest.mark.parametrize("first_closed", [0, 1])
def test_two_windows_open_together_and_close_in_either_order(headless, first_closed):
    windows = [HumanWindow("a", fps=1000), HumanWindow("b", fps=1000)]
    for index, window in enumerate(windows):
        window.show(frame(40 * index))
    assert pygame.display.get_driver() == "dummy"  # SDL's own headless pick, offscreen, would terminate EGL on quit
    assert "SDL_VIDEODRIVER" not in os.environ  # chosen for the display's start only
    windows[first_closed].close()
    survivor = windows[1 - first_closed]
    survivor.show(frame(200, size=32))  # still drawable, and resizable
    assert pygame.display.get_init()
    survivor.close()
    survivor.close()  # a second close is harmless
    assert not pygame.display.get_init()  # the last window rewardgym opened shuts the display it started


def test_a_display_the_user_started_stays_open(headless):
    pygame.display.init()
    try:
        window = HumanWindow("a", fps=1000)
        window.show(frame(10))
        window.close()
        assert pygame.display.get_init()
    finally:
        pygame.display.quit()


def test_the_users_choice_of_video_driver_is_kept(headless, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")  # not headless: SDL would try X11 unless told otherwise
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    window = HumanWindow("a", fps=1000)
    window.show(frame(10))
    assert pygame.display.get_driver() == "dummy" and os.environ["SDL_VIDEODRIVER"] == "dummy"
    window.close()
