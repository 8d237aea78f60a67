"""Evaluation: equal episode quotas per row, held-out levels, and rliable's statistics."""

from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from rliable import library, metrics

import rewardgym  # noqa: F401
from rewardgym.core import TorchVectorEnv
from rewardgym.evaluation import (
    HELD_OUT_LEVELS,
    held_out_kwargs,
    iqm,
    iqm_interval,
    normalised_score,
    play,
    probability_of_improvement,
)

SHORT_CHANCE = 0.3


class ShortWins(TorchVectorEnv):
    """Each episode is short (1 step, success) with chance 0.3, else long (20 steps, truncated, failure)."""

    potentials = ()

    def __init__(self, num_envs: int = 1, **kwargs: Any):
        super().__init__(num_envs, max_episode_steps=20, **kwargs)
        self._set_spaces(spaces.Box(0, 1, (1,), np.float32), spaces.Discrete(1))
        self.short = torch.zeros(num_envs, dtype=torch.bool)

    def _reset(self, rows: torch.Tensor) -> None:
        self.short = torch.where(rows, self.random.uniform(1)[:, 0] < SHORT_CHANCE, self.short)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.short

    def _reward_terms(self, success: torch.Tensor, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sparse": success.float()}

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {}

    def _observe(self) -> torch.Tensor:
        return self.short.float()[:, None]


def wait(observation, info, started):
    return torch.zeros(len(started), dtype=torch.int64)


@pytest.mark.parametrize("episodes_per_row", [1, 3])
def test_equal_quotas_do_not_favour_short_episodes(episodes_per_row):
    rows = 2000
    env = ShortWins(rows, autoreset_mode="SameStep")
    success = play(env, wait, range(rows), episodes_per_row)
    assert success.shape == (rows, episodes_per_row)
    assert abs(float(success.float().mean()) - SHORT_CHANCE) < 0.03
    # The quota matters: the first `rows` episodes to finish, as the old evaluation kept, are mostly short ones.
    env.reset(seed=list(range(rows)))
    finished: list[bool] = []
    while len(finished) < rows:
        _, _, terminated, truncated, info = env.step(torch.zeros(rows, dtype=torch.int64))
        finished += info["success"][terminated | truncated].tolist()
    assert float(np.mean(finished[:rows])) > SHORT_CHANCE + 0.1


def test_play_rejects_a_seed_count_that_is_not_the_row_count():
    with pytest.raises(ValueError, match="one seed per row"):
        play(ShortWins(4, autoreset_mode="SameStep"), wait, range(3))


def test_iqm_is_the_mean_of_the_middle_half_of_a_runs_by_tasks_array():
    scores = np.arange(12, dtype=float).reshape(4, 3) ** 1.5  # 4 runs × 3 tasks, not square
    middle = np.sort(scores.reshape(-1))[3:9]
    assert iqm(scores) == pytest.approx(middle.mean())


def test_iqm_interval_is_rliables_stratified_bootstrap_over_runs_within_tasks():
    scores = np.random.default_rng(0).random((10, 3))
    point, low, high = iqm_interval(scores, reps=500, seed=7)
    np.random.seed(7)  # rliable resamples from numpy's global generator
    expected_point, expected = library.get_interval_estimates(
        {"m": scores}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=500)
    assert (point, low, high) == (expected_point["m"][0], expected["m"][0, 0], expected["m"][1, 0])
    assert low <= point <= high and iqm_interval(scores, reps=500, seed=7) == (point, low, high)
    # Resampling runs within tasks (the right orientation) differs from resampling the transposed array.
    assert iqm_interval(scores.T, reps=500, seed=7)[1:] != (low, high)


def test_probability_of_improvement_counts_wins_and_half_ties_per_task():
    x = np.array([[0.5, 0.2], [0.7, 0.2], [0.1, 0.9]])
    y = np.array([[0.5, 0.1], [0.2, 0.3]])
    per_task = [np.mean([(a > b) + 0.5 * (a == b) for a in x[:, t] for b in y[:, t]]) for t in range(2)]
    point, low, high = probability_of_improvement(x, y, reps=300)
    assert point == pytest.approx(np.mean(per_task))
    assert 0 <= low <= point <= high <= 1
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(x, y[:, :1])


def test_normalised_score_is_zero_at_the_floor_and_one_at_the_oracle():
    assert normalised_score(0.2, floor=0.2, ceiling=0.9) == 0.0
    assert normalised_score(0.9, floor=0.2, ceiling=0.9) == pytest.approx(1.0)
    assert normalised_score(0.4, floor=0.2, ceiling=None) == 0.4
    with pytest.raises(ValueError, match="must exceed"):
        normalised_score(0.4, floor=0.5, ceiling=0.5)


def test_procedural_envs_are_evaluated_on_levels_after_the_training_ones():
    assert held_out_kwargs("rewardgym/GridMaze-v0", {"num_levels": 200, "size": 7}) == {
        "size": 7, "num_levels": HELD_OUT_LEVELS, "start_level": 200}
    assert held_out_kwargs("rewardgym/GridMaze-v0", {"num_levels": 1}) == {"num_levels": 1}
    assert held_out_kwargs("rewardgym/DeepSea-v0", {"size": 8}) == {"size": 8}
