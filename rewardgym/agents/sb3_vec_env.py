"""``SB3VecEnv``: a Stable-Baselines3 ``VecEnv`` over a batch of torch envs.

SB3 takes no gymnasium vector env, so this adapter speaks its contract: numpy out, same-step
autoreset with ``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]`` (a time
limit that did not also terminate), ``infos[i]["is_success"]`` and ``infos[i]["episode"]``
(``{"r", "l", "t"}``, plus ``"r_intrinsic"`` under an intrinsic bonus) only on the step an
episode ends, and a vectorised ``env_method("compute_reward", ...)`` for hindsight relabelling (HER).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn


def to_numpy(value: Any) -> Any:
    """Tensors (or dicts of them) as numpy arrays."""
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def row(value: Any, index: int) -> Any:
    """One env's entry of a batched numpy observation (or dict of them), copied."""
    if isinstance(value, dict):
        return {key: row(item, index) for key, item in value.items()}
    return value[index].copy()


class SB3VecEnv(VecEnv):
    """Stable-Baselines3's view of a torch vector env that autoresets in SAME_STEP mode.

    Build the env with ``gym.make_vec(id, num_envs=N, autoreset_mode="SameStep")``. ``episode``
    reports the return of the reward the agent trains on (as SB3's ``Monitor`` does), except that
    an intrinsic bonus is not the task's: where the env's info splits the reward into
    ``reward_extrinsic`` and ``reward_intrinsic`` (as ``IntrinsicReward`` does), ``episode["r"]`` is
    the extrinsic return (what SB3 logs as ``rollout/ep_rew_mean``) and ``episode["r_intrinsic"]``
    the intrinsic one. The task's own success is ``is_success``.
    """

    def __init__(self, env: VectorEnv):
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"SB3VecEnv needs an env in SAME_STEP autoreset mode (autoreset_mode='SameStep'), got {mode}")
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: Any = None
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._intrinsic_returns = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._started = time.time()

    def reset(self) -> VecEnvObs:
        seeds = None if all(seed is None for seed in self._seeds) else [s if s is not None else 0 for s in self._seeds]
        observation, _ = self.env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0
        self._intrinsic_returns[:] = 0
        self._lengths[:] = 0
        return to_numpy(observation)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        observation, reward, terminated, truncated, info = self.env.step(self._actions)
        observation, reward = to_numpy(observation), to_numpy(reward).astype(np.float32)
        terminated, truncated = to_numpy(terminated), to_numpy(truncated)
        dones = terminated | truncated
        intrinsic = "reward_intrinsic" in info
        if intrinsic:  # a bonus is not the task's reward: its return is counted apart
            self._returns += to_numpy(info["reward_extrinsic"])
            self._intrinsic_returns += to_numpy(info["reward_intrinsic"])
        else:
            self._returns += reward
        self._lengths += 1
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        ended = np.flatnonzero(dones)
        if len(ended):
            final_obs = to_numpy(info["final_obs"])
            success = to_numpy(info["final_info"]["success"])
            elapsed = round(time.time() - self._started, 6)
            for i in ended:
                infos[i] = {
                    "terminal_observation": row(final_obs, i),
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                    "is_success": bool(success[i]),
                    "episode": {"r": float(self._returns[i]), "l": int(self._lengths[i]), "t": elapsed},
                }
                if intrinsic:
                    infos[i]["episode"]["r_intrinsic"] = float(self._intrinsic_returns[i])
            self._returns[ended] = 0
            self._intrinsic_returns[ended] = 0
            self._lengths[ended] = 0
        return observation, reward, dones, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The batch's attribute, once per requested env (every env of the batch shares it)."""
        return [getattr(self.env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the whole batch (the envs of one batch cannot differ)."""
        if len(self._get_indices(indices)) != self.num_envs:
            raise ValueError("the envs of one batch share their attributes: set_attr applies to all of them")
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        """Call a method of the batch once and hand its result to each requested env.

        ``compute_reward(achieved_goal, desired_goal, infos)`` is vectorised over its leading axis
        (numpy in, numpy out), as HER calls it with ``indices=[0]``.
        """
        count = len(self._get_indices(indices))
        if method_name == "compute_reward":
            achieved, desired, infos = method_args
            reward = self.env.compute_reward(torch.as_tensor(achieved), torch.as_tensor(desired), infos)
            return [to_numpy(reward)] * count
        return [getattr(self.env, method_name)(*method_args, **method_kwargs)] * count

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.env.render()
        return [frames[i] for i in range(self.num_envs)] if frames is not None else [None] * self.num_envs

    def _get_indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
