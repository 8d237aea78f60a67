"""The per-env counter-based random streams."""

from __future__ import annotations

import torch

from rewardgym.core.random import BatchRandom, seed_keys


def streams(seeds: list[int], episode: int = 0, step: int = 0) -> BatchRandom:
    random = BatchRandom(len(seeds), torch.device("cpu"))
    random.keys = seed_keys(torch.tensor(seeds))
    random.start(torch.full((len(seeds),), episode), torch.full((len(seeds),), step))
    return random


def test_a_row_draws_depend_only_on_its_own_seed_episode_and_step():
    alone = streams([42], episode=3, step=7).uniform(5)
    in_batch = streams([1, 42, 9], episode=3, step=7).uniform(5)
    assert torch.equal(alone[0], in_batch[1])
    assert not torch.equal(streams([42], episode=4, step=7).uniform(5), alone)
    assert not torch.equal(streams([42], episode=3, step=8).uniform(5), alone)


def test_successive_draws_in_one_step_are_different():
    random = streams([5])
    assert not torch.equal(random.uniform(4), random.uniform(4))


def test_uniform_is_uniform_and_independent_across_envs():
    values = streams(list(range(20_000))).uniform(2)
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean().item() - 0.5) < 0.01
    histogram = torch.histc(values[:, 0], bins=10, min=0, max=1) / 20_000
    assert (histogram - 0.1).abs().max() < 0.01
    correlation = torch.corrcoef(values.T)[0, 1].item()
    assert abs(correlation) < 0.03
    neighbours = torch.corrcoef(torch.stack([values[:-1, 0], values[1:, 0]]))[0, 1].item()
    assert abs(neighbours) < 0.03  # consecutive seeds are not correlated


def test_integers_cover_their_range_evenly_with_per_row_bounds():
    random = streams(list(range(30_000)))
    high = torch.tensor([3, 7] * 15_000)
    values = random.integers(high, 1)[:, 0]
    assert (values >= 0).all() and (values < high).all()
    counts = torch.bincount(values[high == 7], minlength=7).float() / 15_000
    assert (counts - 1 / 7).abs().max() < 0.015


def test_normal_has_unit_moments():
    values = streams(list(range(50_000))).normal(1)
    assert abs(values.mean().item()) < 0.02 and abs(values.std().item() - 1) < 0.02


def test_large_seeds_give_distinct_keys():
    keys = seed_keys(torch.tensor([0, 1, 2**32, 2**32 + 1, 2**62]))
    assert len(set(keys.tolist())) == 5


def test_drawing_only_some_rows_gives_those_rows_of_a_full_draw():
    rows = torch.tensor([0, 2])
    full, some = streams([4, 5, 6]), streams([4, 5, 6])
    assert torch.equal(some.uniform(3, rows), full.uniform(3)[rows])
    high = torch.tensor([3, 1000, 7])
    assert torch.equal(some.integers(high, 4, rows), full.integers(high, 4)[rows])
