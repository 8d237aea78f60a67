"""Exploration family: sparse-reward tasks of controlled difficulty for intrinsic bonuses and shaping."""

from rewardgym.core import register_env
from rewardgym.envs.exploration.deep_sea import DeepSea, DeepSeaVector
from rewardgym.envs.exploration.hidden_goal import HiddenGoal, HiddenGoalVector
from rewardgym.envs.exploration.key_door import KeyDoor, KeyDoorVector
from rewardgym.envs.exploration.noisy_tv import NoisyTV, NoisyTVVector

register_env("DeepSea-v0", DeepSea, DeepSeaVector)
register_env("HiddenGoal-v1", HiddenGoal, HiddenGoalVector)
register_env("KeyDoor-v0", KeyDoor, KeyDoorVector)
register_env("NoisyTV-v0", NoisyTV, NoisyTVVector)

__all__ = ["DeepSea", "DeepSeaVector", "HiddenGoal", "HiddenGoalVector", "KeyDoor", "KeyDoorVector", "NoisyTV", "NoisyTVVector"]
