"""Constructor flags: ``check_bool`` takes Python's and numpy's bools and nothing else, in every env that has one;
actions numpy reads as unsigned 64-bit integers (which torch cannot) are checked like any others."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from gymnasium import spaces

from rewardgym.core.validation import as_action_tensor, check_bool

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


def test_unsigned_64_bit_actions_are_checked_not_crashed_on():
    check = lambda actions, space: as_action_tensor(actions, space, 2, torch.device("cpu"), "Env")
    with pytest.raises(ValueError, match="values outside int64"):
        check(np.array([2**63, 0], dtype=np.uint64), spaces.Discrete(4))
    assert check(np.array([3, 1], dtype=np.uint64), spaces.Discrete(4)).tolist() == [3, 1]
    with pytest.raises(ValueError, match="outside the bounds"):
        check(np.array([[2**63], [0]], dtype=np.uint64), spaces.Box(-1.0, 1.0, (1,)))
