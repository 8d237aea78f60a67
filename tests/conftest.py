"""Shared test set-up: headless rendering, and helpers every env's tests use."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rewardgym  # noqa: E402,F401

ENV_IDS = rewardgym.registered_ids()

#: Per env, arguments under which random actions sometimes succeed, so that tests can cover
#: terminated episodes without a scripted policy. Every registered id needs an entry.
EASY_KWARGS: dict[str, dict] = {
    "rewardgym/GridMaze-v0": {"size": 2, "min_distance": 2},
    "rewardgym/PointMaze-v0": {"size": 2, "min_distance": 0},
}


def row_of(value, index: int):
    """Row ``index`` of a batched tensor or dict of them, as numpy."""
    if isinstance(value, dict):
        return {key: row_of(item, index) for key, item in value.items()}
    return np.asarray(value[index].cpu())


def assert_same(a, b, what: str = "") -> None:
    """Nested numpy/dict equality, exact."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for key in a:
            assert_same(a[key], b[key], f"{what}[{key}]")
        return
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=what)


def random_actions(space, count: int, seed: int) -> list:
    """``count`` actions from ``space``, reproducibly."""
    space.seed(seed)
    return [space.sample() for _ in range(count)]


@pytest.fixture(params=ENV_IDS)
def env_id(request) -> str:
    return request.param


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
