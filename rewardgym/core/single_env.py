"""``SingleEnv``: one copy of a batched task as a plain ``gymnasium.Env`` with numpy in and out.

It runs the task's ``TorchVectorEnv`` with ``num_envs=1`` on the CPU in DISABLED autoreset mode,
so ``gym.make(id)`` gives an env that composes with every gymnasium wrapper and passes
``gymnasium.utils.env_checker.check_env``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from rewardgym.core import rendering
from rewardgym.core.state import EnvState
from rewardgym.core.validation import as_action_tensor
from rewardgym.core.vector_env import TorchVectorEnv


def first_row(value: Any) -> Any:
    """Row 0 of a batched tensor (or dict of them) as numpy (an array, 0-d for a per-row scalar)."""
    if isinstance(value, dict):
        return {key: first_row(item) for key, item in value.items()}
    return value.cpu().numpy()[0, ...]  # indexing in numpy: a third of the cost of indexing the tensor


class SingleEnv(gym.Env):
    """A single env over the batched simulation of ``vector_class``.

    Constructor keyword arguments are the task's (see its vector class), without ``num_envs``,
    ``device`` and ``autoreset_mode``. Info holds numpy values: ``success`` and ``reward_terms``.

    Every call runs under ``torch.inference_mode`` (no autograd bookkeeping: a third less time per
    step for one row, whose step is a few dozen tiny tensor operations); tensors it hands out,
    such as ``get_state``'s, are inference tensors: read them freely, copy one before changing it
    in place outside inference mode.
    """

    vector_class: ClassVar[type[TorchVectorEnv]]

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        for fixed in ("num_envs", "device", "autoreset_mode"):
            if fixed in kwargs:
                raise ValueError(f"{type(self).__name__} is a single env: {fixed!r} is not an argument (use gym.make_vec)")
        self.vector = self.vector_class(
            num_envs=1, device="cpu", autoreset_mode=AutoresetMode.DISABLED, render_mode=None, **kwargs
        )
        self.render_mode = render_mode
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.observation_space = self.vector.single_observation_space
        self.action_space = self.vector.single_action_space
        self._window = rendering.HumanWindow(type(self).__name__, self.metadata["render_fps"])

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "vector_class" not in cls.__dict__:
            return
        vector_metadata = cls.vector_class.metadata
        cls.metadata = {"render_modes": vector_metadata["render_modes"], "render_fps": vector_metadata["render_fps"]}

    @classmethod
    def reward_names(cls) -> list[str]:
        """Every named reward variant this env accepts."""
        return cls.vector_class.reward_names()

    @property
    def spec(self) -> gym.envs.registration.EnvSpec | None:
        return self.vector.spec

    @spec.setter
    def spec(self, value: gym.envs.registration.EnvSpec | None) -> None:
        self.vector.spec = value  # so that the task's error messages name the registered id

    @torch.inference_mode()
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be None or an int, got {seed!r}")
        if options and "reset_mask" in options:
            raise ValueError("options['reset_mask'] is for vector envs; a single env always resets whole")
        observation, info = self.vector.reset(seed=seed, options=options)
        self._render_human()
        return first_row(observation), first_row(info)

    @torch.inference_mode()
    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        batch = as_action_tensor(action, self.action_space, None, torch.device("cpu"), self.vector.name)
        observation, reward, terminated, truncated, info = self.vector.step_validated(batch.unsqueeze(0))
        self._render_human()
        return first_row(observation), reward.item(), bool(terminated.item()), bool(truncated.item()), first_row(info)

    @torch.inference_mode()
    def get_state(self) -> EnvState:
        """The env's whole state, an ``EnvState`` of one row (see ``TorchVectorEnv.get_state``)."""
        return self.vector.get_state()

    @torch.inference_mode()
    def set_state(self, state: EnvState) -> tuple[Any, dict]:
        """Restore a one-row ``EnvState`` (this env's, or one row of a batch: ``batch_state[i]``);
        returns the observation and info of the restored state, as ``reset`` does."""
        observation, info = self.vector.set_state(state)
        return first_row(observation), first_row(info)

    @torch.inference_mode()
    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.vector.render_frame(0)
        if self.render_mode == "human":
            self._render_human()
        return None

    def _render_human(self) -> None:
        if self.render_mode == "human":
            self._window.show(self.vector.render_frame(0))

    def close(self) -> None:
        self._window.close()

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Keyboard bindings for ``gymnasium.utils.play``, where the task defines them."""
        return dict(getattr(self.vector, "keys_to_action", {}))


class GoalSingleEnv(SingleEnv):
    """A single goal-conditioned env: adds the vectorised ``compute_reward`` HER relabels with."""

    @torch.inference_mode()
    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> np.ndarray:
        """The reward for reaching ``achieved_goal`` when ``desired_goal`` was asked (batched or not)."""
        reward = self.vector.compute_reward(
            torch.as_tensor(np.asarray(achieved_goal, dtype=np.float32)),
            torch.as_tensor(np.asarray(desired_goal, dtype=np.float32)),
            info,
        )
        return reward.numpy()


def single_env_class(vector_class: type[TorchVectorEnv], name: str) -> type[SingleEnv]:
    """The ``gymnasium.Env`` class for a task: ``GridMaze = single_env_class(GridMazeVector, "GridMaze")``."""
    base = GoalSingleEnv if hasattr(vector_class, "compute_reward") else SingleEnv
    namespace = {"vector_class": vector_class, "__doc__": vector_class.__doc__, "__module__": vector_class.__module__}
    return type(name, (base,), namespace)
