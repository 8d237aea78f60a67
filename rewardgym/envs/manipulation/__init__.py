"""Manipulation family: Reach, Push and PickPlace with a Franka Panda, on MuJoCo or PyBullet.

The engines are imported only when an env is built, so registering the ids stays light.
"""

from rewardgym.core import register_env
from rewardgym.envs.manipulation.envs import PickPlace, PickPlaceVector, Push, PushVector, Reach, ReachVector

register_env("Reach-v0", Reach, ReachVector)
register_env("Push-v0", Push, PushVector)
register_env("PickPlace-v0", PickPlace, PickPlaceVector)

__all__ = ["PickPlace", "PickPlaceVector", "Push", "PushVector", "Reach", "ReachVector"]
