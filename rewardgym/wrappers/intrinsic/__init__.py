"""Intrinsic bonuses (one module each) and the wrapper that adds one to an env's reward.

``BONUSES`` names a default-configured factory ``env -> Bonus`` for each, as the ``rewardgym``
command and the experiments refer to them.
"""

from collections.abc import Callable
from typing import Any

from rewardgym.wrappers.intrinsic.base import Bonus, Transitions
from rewardgym.wrappers.intrinsic.counts import CountBonus
from rewardgym.wrappers.intrinsic.e3b import E3B
from rewardgym.wrappers.intrinsic.icm import ICM
from rewardgym.wrappers.intrinsic.ngu import NGUEpisodic
from rewardgym.wrappers.intrinsic.noveld import NovelD
from rewardgym.wrappers.intrinsic.product import GlobalEpisodicProduct
from rewardgym.wrappers.intrinsic.rdd import RDD
from rewardgym.wrappers.intrinsic.rnd import RND
from rewardgym.wrappers.intrinsic.stream import IntrinsicStream
from rewardgym.wrappers.intrinsic.wrapper import IntrinsicReward

BONUSES: dict[str, Callable[[Any], Bonus]] = {
    "count": CountBonus,
    "simhash": lambda env: CountBonus(env, hashing="simhash"),
    "episodic-count": lambda env: CountBonus(env, episodic=True),
    "rnd": RND,
    "rdd": RDD,
    "icm": ICM,
    "ngu": NGUEpisodic,
    "noveld": lambda env: NovelD(env, novelty=RND(env)),
    "e3b": E3B,
    "rnd-x-e3b": lambda env: GlobalEpisodicProduct(RND(env), E3B(env)),
}

__all__ = [
    "BONUSES", "Bonus", "CountBonus", "E3B", "GlobalEpisodicProduct", "ICM", "IntrinsicReward", "IntrinsicStream", "NGUEpisodic",
    "NovelD", "RDD", "RND", "Transitions",
]
