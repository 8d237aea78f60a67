"""``SeedBatchedTraining``: S seeds' bonuses trained together learn what each learns alone."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from gymnasium import spaces

from rewardgym.wrappers.intrinsic import BONUSES, Transitions
from rewardgym.wrappers.intrinsic.seed_batch import SeedBatchedTraining

SEEDS, ROWS, FEATURES = 3, 24, 6
TRAINED = [name for name in BONUSES if name not in ("count", "episodic-count")]


def fake_env(action_space: spaces.Space) -> SimpleNamespace:
    return SimpleNamespace(single_observation_space=spaces.Box(-1.0, 1.0, (FEATURES,), np.float32),
                           single_action_space=action_space, num_envs=ROWS, device="cpu")


def random_batch(generator: torch.Generator, action_space: spaces.Space) -> Transitions:
    """``(SEEDS, ROWS)`` transitions, each seed's own, with about a third of the rows not chosen."""
    shape = (SEEDS, ROWS)
    if isinstance(action_space, spaces.Discrete):
        action = torch.randint(action_space.n, shape, generator=generator)
    else:
        action = torch.rand(*shape, *action_space.shape, generator=generator, dtype=torch.float64) * 2 - 1
    no = torch.zeros(shape, dtype=torch.bool)
    return Transitions(obs=torch.randn(*shape, FEATURES, generator=generator, dtype=torch.float64), action=action,
                       next_obs=torch.randn(*shape, FEATURES, generator=generator, dtype=torch.float64),
                       terminated=no, truncated=no,
                       valid=torch.rand(shape, generator=generator) < 0.66)


def seed_bonuses(name: str, action_space: spaces.Space) -> list:
    bonuses = []
    for seed in range(SEEDS):
        torch.manual_seed(seed)
        bonus = BONUSES[name](fake_env(action_space)).double()  # float64: sums in any order agree
        bonus.seed(seed)
        bonuses.append(bonus)
    return bonuses


@pytest.mark.parametrize("action_space", [spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2,), np.float32)],
                         ids=["discrete", "box"])
@pytest.mark.parametrize("name", TRAINED)
def test_seeds_trained_together_equal_seeds_trained_alone(name, action_space):
    together = seed_bonuses(name, action_space)
    alone = copy.deepcopy(together)
    training = SeedBatchedTraining(together)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        batch = random_batch(generator, action_space)
        metrics = training.step(batch)
        for k, bonus in enumerate(alone):
            seed_metrics = bonus.update(Transitions(*(value[k : k + 1] for value in vars(batch).values())))
            for key, value in seed_metrics.items():
                assert metrics[key][k].item() == pytest.approx(value, rel=1e-9)
    for k in range(SEEDS):
        trained, reference = together[k].state_dict(), alone[k].state_dict()
        for key in reference:
            torch.testing.assert_close(trained[key], reference[key], rtol=1e-9, atol=1e-12, msg=key)
        state = training.optimizer_state(k)
        for key, optimizer in alone[k].optimizers().items():
            expected = optimizer.state_dict()["state"]
            assert state[key]["state"].keys() == expected.keys()
            for index in expected:
                for field, value in expected[index].items():
                    torch.testing.assert_close(state[key]["state"][index][field], value, rtol=1e-9, atol=1e-12)
    if training.optimizers:  # the seeds really learnt apart: their networks differ
        first, second = (dict(b.named_parameters()) for b in together[:2])
        assert any(not torch.equal(first[key], second[key]) for key in first if first[key].requires_grad)


def test_optimizer_states_round_trip_through_per_seed_states():
    space = spaces.Discrete(3)
    training = SeedBatchedTraining(seed_bonuses("rnd", space))
    training.step(random_batch(torch.Generator().manual_seed(2), space))
    restored = SeedBatchedTraining(seed_bonuses("rnd", space))
    restored.load_optimizer_states([training.optimizer_state(k) for k in range(SEEDS)])
    for key, optimizer in training.optimizers.items():
        original, loaded = optimizer.state_dict()["state"], restored.optimizers[key].state_dict()["state"]
        for index in original:
            for field in original[index]:
                assert torch.equal(original[index][field], loaded[index][field])


def test_a_trained_bonus_computes_with_the_stacked_parameters():
    """Each seed's bonus sees the batched updates: its bonus moves as its own parameters do."""
    space = spaces.Discrete(3)
    bonuses = seed_bonuses("rnd", space)
    training = SeedBatchedTraining(bonuses)
    batch = random_batch(torch.Generator().manual_seed(3), space)
    before = [bonus.novelty(batch.next_obs[k]) for k, bonus in enumerate(bonuses)]
    for _ in range(20):
        training.step(batch)
    after = [bonus.novelty(batch.next_obs[k]) for k, bonus in enumerate(bonuses)]
    for k in range(SEEDS):
        assert after[k].mean() < 0.5 * before[k].mean()


def test_bonuses_of_different_kinds_are_refused():
    space = spaces.Discrete(3)
    with pytest.raises(ValueError, match="one kind"):
        SeedBatchedTraining([BONUSES["rnd"](fake_env(space)), BONUSES["e3b"](fake_env(space))])
