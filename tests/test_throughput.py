"""The throughput measurement's helpers (the measurements themselves live in benchmarks/)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from rewardgym.throughput import markdown_table, random_actions


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(5, start=-2), spaces.MultiDiscrete([3, 7, 2], start=[0, -3, 1]), spaces.Box(-2, 3, (2, 3))],
    ids=["discrete", "multidiscrete", "box"],
)
def test_random_actions_lie_in_the_space_and_cover_it(space):
    batches = random_actions(space, num_envs=64, count=16)
    assert len(batches) == 16
    values = np.concatenate([batch.numpy() for batch in batches])
    assert all(space.contains(value.astype(space.dtype)) for value in values)
    if not isinstance(space, spaces.Box):  # every choice comes up in 1,024 draws
        low = np.asarray(space.start)
        high = low + np.asarray(getattr(space, "nvec", getattr(space, "n", None))) - 1
        assert (values.min(axis=0) == low).all() and (values.max(axis=0) == high).all()


def test_unmeasured_batch_sizes_show_as_dashes():
    rows = [{"env_id": "a", "batched": {1: 10.0, 4096: None}, "sync_envs": 64, "sync": 5.0, "ratio": None}]
    table = markdown_table(rows)
    assert "| `a` | 10 | – | 5 | – |" in table
