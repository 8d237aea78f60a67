"""Registering a task under ``rewardgym/<Name>-v0`` for both ``gym.make`` and ``gym.make_vec``."""

from __future__ import annotations

import gymnasium as gym

from rewardgym.core.single_env import SingleEnv
from rewardgym.core.vector_env import TorchVectorEnv

NAMESPACE = "rewardgym"


def register_env(name: str, single_class: type[SingleEnv], vector_class: type[TorchVectorEnv]) -> str:
    """Register ``rewardgym/<name>``: ``gym.make`` builds ``single_class``, ``gym.make_vec`` ``vector_class``.

    No ``max_episode_steps`` is registered: each env applies its own time limit (which may depend
    on its arguments, such as a maze's size) and reports it as ``truncated``.
    """
    env_id = f"{NAMESPACE}/{name}"
    gym.register(
        id=env_id,
        entry_point=f"{single_class.__module__}:{single_class.__name__}",
        vector_entry_point=f"{vector_class.__module__}:{vector_class.__name__}",
    )
    return env_id


def registered_ids() -> list[str]:
    """Every rewardgym env id, in registration order."""
    return [env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/")]
