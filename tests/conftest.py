"""Shared test set-up: headless rendering, and helpers every env's tests use."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rewardgym  # noqa: E402,F401
from gymnasium.envs.registration import load_env_creator  # noqa: E402

ENV_IDS = rewardgym.registered_ids()

#: Per env, arguments under which random actions sometimes succeed, so that tests can cover
#: terminated episodes without a scripted policy. Every registered id needs an entry.
EASY_KWARGS: dict[str, dict] = {
    "rewardgym/GridMaze-v0": {"size": 2, "min_distance": 2},
    "rewardgym/PointMaze-v1": {"size": 2, "min_distance": 0},
    # Short routes through dense traffic: within 25 steps some episodes end (route done or crash), others run out.
    "rewardgym/Highway-v1": {"route_length": 120.0},
    "rewardgym/Merge-v1": {"route_length": 120.0, "ramp_length": 130.0},
    "rewardgym/Intersection-v1": {"approach_distance": 8.0, "exit_distance": 4.0},
    "rewardgym/DeepSea-v0": {"size": 3},
    "rewardgym/HiddenGoal-v1": {"size": 1.0, "goal_radius": 0.2, "min_distance": 0.0},
    # Unlocking by chance within a few steps is too rare; start with the door open (curriculum stage 2).
    "rewardgym/KeyDoor-v0": {"num_rooms": 2, "room_size": 2, "start_stage": 2},
    "rewardgym/NoisyTV-v0": {"num_rooms": 2, "room_size": 2, "start_stage": 2},
    # Episodes end at the first bad vector (terminated) or survive to the time limit (truncated);
    # reaching the target needs 29 steps, so success and a truncation within 25 steps exclude each other.
    "rewardgym/SphericalCode-v0": {"dim": 3, "theta": 5.0, "target": 30},
    # A one-move level with four point slots: 24 actions, of which the perpendicular bisector of AB wins.
    "rewardgym/Construct-v0": {"level": "perp_bisector", "max_points": 4},
    # Goals near the start: some are met at once or within a step or two, others drift out of reach.
    "rewardgym/Reach-v0": {"goal_range": 0.05, "terminate_on_success": True},
    "rewardgym/Push-v0": {"goal_range": 0.05, "object_range": 0.0, "terminate_on_success": True},
    "rewardgym/PickPlace-v0": {"goal_range": 0.05, "object_range": 0.0, "terminate_on_success": True},
}

#: Per env, further constructor arguments under which the shared contract tests run again
#: (e.g. another physics backend): each is a case of its own.
VARIANTS: dict[str, list[dict]] = {
    **{f"rewardgym/{task}-v0": [{"backend": "pybullet"}] for task in ("Reach", "Push", "PickPlace")},
    "rewardgym/SphericalCode-v0": [{"action_kind": "alphabet"}],
    "rewardgym/Construct-v0": [{"level": ["perp_bisector", "midpoint"], "max_points": 4}],  # levels mixed in a batch
}


@dataclass(frozen=True)
class EnvCase:
    """One registered id under some constructor arguments: what the shared contract tests run on."""

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, **kwargs: Any) -> gym.Env:
        return gym.make(self.id, **{**self.kwargs, **kwargs})

    def make_vec(self, **kwargs: Any) -> Any:
        return gym.make_vec(self.id, **{**self.kwargs, **kwargs})

    def make_single(self, **kwargs: Any) -> gym.Env:
        """The registered single env class itself (no gym.make wrappers), so its own time limit is tested."""
        return load_env_creator(gym.spec(self.id).entry_point)(**{**self.kwargs, **kwargs})

    @property
    def easy_kwargs(self) -> dict:
        return {**EASY_KWARGS[self.id], **self.kwargs}

    def __str__(self) -> str:
        arguments = ",".join(f"{key}={value}" for key, value in self.kwargs.items())
        return f"{self.id}[{arguments}]" if arguments else self.id


ENV_CASES = [EnvCase(env_id, kwargs) for env_id in ENV_IDS for kwargs in [{}, *VARIANTS.get(env_id, [])]]


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


@pytest.fixture(params=ENV_CASES, ids=str)
def case(request) -> EnvCase:
    return request.param


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
