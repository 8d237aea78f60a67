"""Intrinsic bonuses (one module each) and the wrapper that adds one to an env's reward."""

from rewardgym.wrappers.intrinsic.base import Bonus, Transitions
from rewardgym.wrappers.intrinsic.wrapper import IntrinsicReward

__all__ = ["Bonus", "IntrinsicReward", "Transitions"]
