"""The batched env contract shared by every rewardgym env."""

from rewardgym.core.goals import GoalConditioned
from rewardgym.core.random import BatchRandom
from rewardgym.core.registration import register_env, registered_ids
from rewardgym.core.single_env import SingleEnv, single_env_class
from rewardgym.core.state import EnvState
from rewardgym.core.vector_env import RewardTerms, TorchVectorEnv, potential_shaping

__all__ = [
    "BatchRandom",
    "EnvState",
    "GoalConditioned",
    "RewardTerms",
    "SingleEnv",
    "TorchVectorEnv",
    "potential_shaping",
    "register_env",
    "registered_ids",
    "single_env_class",
]
