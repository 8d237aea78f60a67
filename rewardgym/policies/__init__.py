"""Reference policies for every task: the trivial floors and an oracle (or scripted policy) per env.

A *batch policy* is a callable ``policy(observation, info, started) -> actions`` over a whole
``TorchVectorEnv`` batch: ``observation`` and ``info`` are what the env returned last, and
``started`` is a bool tensor ``(num_envs,)`` that is True on rows whose episode has just begun
(every row after ``reset``; in SAME_STEP mode, the rows that were reset on the last step), so
a policy with memory knows when to forget. Actions are returned as a batch the env accepts.

A policy is built from the env it acts in (``make(env) -> policy``), since oracles read the
task's true state (the maze layout, the hidden goal, the cars around the ego): they are ceilings
for learners, not learners.

- ``random_policy(env)``: uniform random actions (valid ones, where the env masks actions).
- ``constant_actions(space)``: every constant action (for a Box space: the zero action and each
  axis at either bound), by name; ``constant_policy(env, actions)`` plays one per row.
- ``oracle(env)``: the oracle of the env's task, registered with ``@register_oracle(EnvClass)``
  in this package's family modules; ``None`` where the task has none.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv

BatchPolicy = Callable[[Any, dict[str, Any], torch.Tensor], Any]
PolicyFactory = Callable[[TorchVectorEnv], BatchPolicy]
#: Builds an env's oracle, or returns None where this configuration of the task has none.
OracleFactory = Callable[[TorchVectorEnv], BatchPolicy | None]

#: More constant actions than this are not enumerated: ``constant_actions`` says so.
MAX_CONSTANT_ACTIONS = 4096

_ORACLES: dict[type[TorchVectorEnv], OracleFactory] = {}


def register_oracle(env_class: type[TorchVectorEnv]) -> Callable[[OracleFactory], OracleFactory]:
    """Decorator: ``make`` builds the oracle of ``env_class`` (and of its subclasses without one of their own)."""

    def register(make: OracleFactory) -> OracleFactory:
        _ORACLES[env_class] = make
        return make

    return register


def oracle(env: TorchVectorEnv) -> BatchPolicy | None:
    """The oracle or scripted policy of ``env``'s task, or None if it has none."""
    from rewardgym.policies import families  # noqa: F401  (registers the oracles)

    for cls in type(env).__mro__:
        if cls in _ORACLES:
            return _ORACLES[cls](env)
    return None


def random_policy(env: TorchVectorEnv, seed: int = 0) -> BatchPolicy:
    """Uniform random actions (over the valid ones where the env gives an ``action_mask``), from its own generator."""
    generator = torch.Generator().manual_seed(seed)
    space = env.single_action_space

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        n = env.num_envs
        mask = info.get("action_mask")
        if mask is not None and isinstance(space, spaces.Discrete):
            weights = mask.reshape(n, -1).float().cpu()
            return torch.multinomial(weights, 1, generator=generator)[:, 0] + int(space.start)
        if isinstance(space, spaces.Discrete):
            return torch.randint(int(space.n), (n,), generator=generator) + int(space.start)
        if isinstance(space, spaces.MultiDiscrete):
            nvec = torch.as_tensor(space.nvec).reshape(-1)
            draws = (torch.rand(n, nvec.numel(), generator=generator) * nvec).long()
            return draws.reshape(n, *space.nvec.shape)
        if isinstance(space, spaces.Box):
            low, high = torch.as_tensor(space.low), torch.as_tensor(space.high)
            return low + (high - low) * torch.rand(n, *space.shape, generator=generator, dtype=low.dtype)
        raise ValueError(f"random_policy supports Discrete, MultiDiscrete and Box action spaces, got {space}")

    return act


def constant_actions(space: spaces.Space) -> dict[str, np.ndarray]:
    """Every constant action of a discrete space; for a Box, the zero action and each axis at its low and high bound.

    Raises ``ValueError`` for a discrete space with more than ``MAX_CONSTANT_ACTIONS`` actions.
    """
    if isinstance(space, spaces.Discrete):
        return {str(a): np.array(a, dtype=space.dtype) for a in range(int(space.start), int(space.start + space.n))}
    if isinstance(space, spaces.MultiDiscrete):
        count = int(np.prod(space.nvec))
        if count > MAX_CONSTANT_ACTIONS:
            raise ValueError(f"{space} has {count} constant actions, more than the {MAX_CONSTANT_ACTIONS} enumerated")
        return {" ".join(map(str, a)): np.array(a, dtype=space.dtype).reshape(space.nvec.shape)
                for a in itertools.product(*(range(n) for n in space.nvec.reshape(-1)))}
    if isinstance(space, spaces.Box):
        zero = np.clip(np.zeros(space.shape, dtype=space.dtype), space.low, space.high)
        actions = {"zero": zero}
        for axis in range(int(np.prod(space.shape))):
            for name, bound in (("low", space.low), ("high", space.high)):
                action = zero.copy().reshape(-1)
                action[axis] = bound.reshape(-1)[axis]
                actions[f"axis {axis} {name}"] = action.reshape(space.shape)
        return actions
    raise ValueError(f"constant_actions supports Discrete, MultiDiscrete and Box action spaces, got {space}")


def constant_policy(env: TorchVectorEnv, actions: np.ndarray) -> BatchPolicy:
    """Row ``i`` always plays ``actions[i]`` (shape ``(num_envs, *action_shape)``)."""
    batch = torch.as_tensor(np.asarray(actions))
    if batch.shape[0] != env.num_envs:
        raise ValueError(f"constant_policy needs one action per row ({env.num_envs}), got {batch.shape[0]}")

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        return batch

    return act
