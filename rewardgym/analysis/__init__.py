"""Reward analysis: small envs as exact tabular MDPs, and reward distances (EPIC, STARC)."""

from rewardgym.analysis.reward_distance import (
    canonicalize_epic,
    canonicalize_value,
    epic_distance,
    epic_distance_sampled,
    starc_distance,
    starc_distance_sampled,
)
from rewardgym.analysis.tabular import TabularMDP, expected_reward, grid_maze_mdp, policy_values, value_iteration

__all__ = [
    "TabularMDP",
    "canonicalize_epic",
    "canonicalize_value",
    "epic_distance",
    "epic_distance_sampled",
    "expected_reward",
    "grid_maze_mdp",
    "policy_values",
    "starc_distance",
    "starc_distance_sampled",
    "value_iteration",
]
