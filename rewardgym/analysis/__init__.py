"""Reward analysis: small envs as exact tabular MDPs, and reward distances (EPIC, STARC)."""

from rewardgym.analysis.reward_distance import (
    canonicalize_epic,
    canonicalize_value,
    epic_distance,
    epic_distance_sampled,
    starc_distance,
    starc_distance_sampled,
)
from rewardgym.analysis.tabular import (
    TabularMDP,
    ascent_traps,
    escape_depth,
    expected_reward,
    greedy_ascent,
    grid_maze_mdp,
    policy_values,
    value_iteration,
)

__all__ = [
    "TabularMDP",
    "ascent_traps",
    "escape_depth",
    "canonicalize_epic",
    "canonicalize_value",
    "epic_distance",
    "epic_distance_sampled",
    "expected_reward",
    "greedy_ascent",
    "grid_maze_mdp",
    "policy_values",
    "starc_distance",
    "starc_distance_sampled",
    "value_iteration",
]
