"""Reward wrappers: potential shaping, reward transforms and intrinsic bonuses.

Everything a user wraps an env with is importable from here::

    from rewardgym.wrappers import BONUSES, RND, IntrinsicReward, PotentialShaping

- ``PotentialShaping`` (one env) and ``VectorPotentialShaping`` (a torch vector env): shaping with
  a potential of the user's;
- ``SaturatingSum``, ``GatedReward``, ``CappedReward``: transforms that need the reward channels or
  the episode boundaries (clipping and scaling are gymnasium's own vector wrappers);
- ``IntrinsicReward(envs, bonus, coef)`` and the bonuses (``BONUSES`` names a default-configured
  factory ``env -> Bonus`` for each); ``EpisodeRewardWrapper`` and ``VectorStep`` to write a new one.

Importing this package loads torch modules only (no SB3, no engines), like ``import rewardgym``.
"""

from rewardgym.wrappers.episodes import EpisodeRewardWrapper, VectorStep
from rewardgym.wrappers.intrinsic import (
    BONUSES,
    E3B,
    ICM,
    RDD,
    RND,
    Bonus,
    CountBonus,
    GlobalEpisodicProduct,
    IntrinsicReward,
    IntrinsicStream,
    NGUEpisodic,
    NovelD,
    Transitions,
)
from rewardgym.wrappers.shaping import PotentialShaping, VectorPotentialShaping
from rewardgym.wrappers.transforms import CappedReward, GatedReward, SaturatingSum

__all__ = [
    "BONUSES",
    "E3B",
    "ICM",
    "RDD",
    "RND",
    "Bonus",
    "CappedReward",
    "CountBonus",
    "EpisodeRewardWrapper",
    "GatedReward",
    "GlobalEpisodicProduct",
    "IntrinsicReward",
    "IntrinsicStream",
    "NGUEpisodic",
    "NovelD",
    "PotentialShaping",
    "SaturatingSum",
    "Transitions",
    "VectorPotentialShaping",
    "VectorStep",
]
