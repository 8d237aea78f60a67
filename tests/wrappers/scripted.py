"""A scripted vector env for testing reward wrappers on exact episode-boundary patterns.

Each row's observation is ``(episode, t)``: which episode of that row it is and how many steps
into it. Which rows terminate or truncate at each step is given by a script, so a test can throw
any boundary pattern at a wrapper and know exactly which observations are reset observations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

NONE, TERMINATE, TRUNCATE = 0, 1, 2


class ScriptedVectorEnv(VectorEnv):
    """``script[t, i]`` says how row ``i``'s step ``t`` ends; ``dense[t, i]`` is its ``"dense"`` channel."""

    def __init__(self, script: np.ndarray, dense: np.ndarray, autoreset_mode: AutoresetMode):
        self.script = torch.as_tensor(script)
        self.dense = torch.as_tensor(dense, dtype=torch.float32)
        self.num_envs = self.script.shape[1]
        self.metadata = {"autoreset_mode": AutoresetMode(autoreset_mode)}
        self.single_observation_space = spaces.Box(0, np.inf, (2,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.device = torch.device("cpu")
        self.state = torch.zeros(self.num_envs, 2)
        self._t = 0
        self._ended = torch.zeros(self.num_envs, dtype=torch.bool)

    def _restart(self, rows: torch.Tensor) -> None:
        self.state = torch.where(rows.unsqueeze(1), torch.stack([self.state[:, 0] + 1, 0 * self.state[:, 1]], 1), self.state)

    def reset(self, *, seed: Any = None, options: dict | None = None):
        mask = (options or {}).get("reset_mask")
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else torch.as_tensor(mask)
        if self._t == 0:
            self.state = torch.zeros(self.num_envs, 2)
        else:
            self._restart(rows)
        self._ended &= ~rows
        return self.state.clone(), {}

    def step(self, actions: Any):
        mode = self.metadata["autoreset_mode"]
        script, dense = self.script[self._t], self.dense[self._t]
        self._t += 1
        self.state = self.state + torch.tensor([0.0, 1.0])
        terminated, truncated = script == TERMINATE, script == TRUNCATE
        terms = {"sparse": terminated.float(), "dense": dense.clone()}
        if mode == AutoresetMode.NEXT_STEP:
            restarting = self._ended
            self._restart(restarting)
            keep = ~restarting
            terminated, truncated = terminated & keep, truncated & keep
            terms = {name: value * keep for name, value in terms.items()}
            self._ended = terminated | truncated
        info: dict[str, Any] = {"reward_terms": terms}
        observation = self.state.clone()
        if mode == AutoresetMode.SAME_STEP and bool((terminated | truncated).any()):
            done = terminated | truncated
            info.update(final_obs=observation, _final_obs=done)
            self._restart(done)
            observation = self.state.clone()
        return observation, terms["sparse"].clone(), terminated, truncated, info

    @staticmethod
    def is_reset_observation(observation: torch.Tensor) -> torch.Tensor:
        """Rows whose observation is the first of an episode."""
        return observation[:, 1] == 0


def boundary_scripts(draw, max_steps: int = 30, max_envs: int = 4):
    """A hypothesis helper: a random (script, dense) pair."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    steps = draw(st.integers(1, max_steps))
    envs = draw(st.integers(1, max_envs))
    script = draw(hnp.arrays(np.int8, (steps, envs), elements=st.sampled_from([NONE] * 4 + [TERMINATE, TRUNCATE])))
    dense = draw(hnp.arrays(np.float32, (steps, envs), elements=st.floats(-3, 3, width=32)))
    return script, dense
