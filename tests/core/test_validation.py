"""Constructor flags: ``check_bool`` takes Python's and numpy's bools and nothing else, in every env that has one."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rewardgym.core.validation import check_bool

FLAGS = [
    ("rewardgym/DeepSea-v0", "deterministic"),
    ("rewardgym/DeepSea-v0", "randomize_actions"),
    ("rewardgym/NoisyTV-v0", "tv"),
    ("rewardgym/GridMaze-v0", "render_potential"),
    ("rewardgym/PointMaze-v1", "render_potential"),
    ("rewardgym/Reach-v0", "terminate_on_success"),
]


def test_check_bool():
    assert check_bool("flag", True) is True and check_bool("flag", np.bool_(False)) is False
    for bad in (0, 1, 1.0, "yes", None, np.array([True])):
        with pytest.raises(ValueError, match="flag must be a bool, got"):
            check_bool("flag", bad)


@pytest.mark.parametrize(("env_id", "flag"), FLAGS)
def test_env_flags_take_bools_only(env_id, flag):
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=f"{flag} must be a bool"):
            gym.make_vec(env_id, num_envs=1, **{flag: bad})
    gym.make_vec(env_id, num_envs=1, **{flag: np.bool_(False)}).close()
