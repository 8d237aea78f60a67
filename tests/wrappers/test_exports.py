"""``rewardgym.wrappers`` exports every public wrapper and bonus, and importing it loads no engine or RL library."""

from __future__ import annotations

import subprocess
import sys

import rewardgym.wrappers
from rewardgym.wrappers import BONUSES, RND, IntrinsicReward, PotentialShaping, intrinsic, shaping, transforms


def test_the_package_exports_the_public_wrappers_and_bonuses():
    assert PotentialShaping is shaping.PotentialShaping and IntrinsicReward is intrinsic.IntrinsicReward
    assert RND is intrinsic.RND and BONUSES is intrinsic.BONUSES
    for module in (shaping, transforms, intrinsic):
        public = getattr(module, "__all__", [name for name in vars(module) if name[0].isupper() and
                                             getattr(vars(module)[name], "__module__", "") == module.__name__])
        missing = [name for name in public if name not in rewardgym.wrappers.__all__]
        assert not missing, f"{module.__name__}: {missing} not exported by rewardgym.wrappers"
    assert all(hasattr(rewardgym.wrappers, name) for name in rewardgym.wrappers.__all__)


def test_importing_the_wrappers_stays_light():
    heavy = ("stable_baselines3", "mujoco", "pybullet", "pygame", "matplotlib", "rewardgym.agents")
    code = f"import sys, rewardgym.wrappers; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded
