"""Goal-conditioned envs (Gymnasium-Robotics' ``Dict`` layout): the ``compute_reward`` HER relabels with."""

from __future__ import annotations

from typing import Any

import torch


#: The rewards ``compute_reward`` can recompute for relabelled goals (they depend on the goals alone).
RELABELLED_REWARDS = ("sparse", "dense")

class GoalConditioned:
    """Mixin for a ``TorchVectorEnv`` observing ``{observation, achieved_goal, desired_goal}``.

    The env defines ``_sparse_goal_reward(distance)``, its ``sparse`` reward as a function of the
    distance between achieved and desired goals; ``dense`` is −distance. ``compute_reward`` gives
    either for any batch of goals, as hindsight relabelling asks.
    """

    name: str
    reward_name: str

    def _sparse_goal_reward(self, distance: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def compute_reward(self, achieved_goal: torch.Tensor, desired_goal: torch.Tensor, info: Any = None) -> torch.Tensor:
        """The goal reward of any (batched) goals: the env's sparse reward or dense −distance.

        Only the goal-only rewards can be relabelled; other reward choices raise ValueError.
        """
        distance = torch.linalg.vector_norm(achieved_goal - desired_goal, dim=-1)
        if self.reward_name == "sparse":
            return self._sparse_goal_reward(distance)
        if self.reward_name == "dense":
            return -distance
        raise ValueError(
            f"{self.name}: compute_reward needs reward in {RELABELLED_REWARDS}, this env uses {self.reward_name!r}"
        )
