"""``IntrinsicStream``: what its bonus is trained on, and a restored stream continuing exactly."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rewardgym.wrappers.intrinsic import RND, Bonus, IntrinsicReward, IntrinsicStream, Transitions
from tests.conftest import EASY_KWARGS

FEATURES = 6


class UpdateRecorder(Bonus):
    """A bonus that records the batches its ``update`` gets; its bonus is the sum of the next observation."""

    episodic = False

    def __init__(self, env):
        super().__init__(env)
        self.trained: list[Transitions] = []

    def compute(self, transitions: Transitions) -> torch.Tensor:
        return transitions.next_obs.sum(-1)

    def update(self, transitions: Transitions) -> dict[str, float]:
        self.trained.append(transitions)
        return {"rows": float(transitions.valid.shape[1])}


def fake_env(num_envs: int) -> SimpleNamespace:
    """What a bonus reads from an env."""
    return SimpleNamespace(single_observation_space=spaces.Box(-1.0, 1.0, (FEATURES,), np.float32),
                           single_action_space=spaces.Discrete(3), num_envs=num_envs, device="cpu")


def random_transitions(steps: int, envs: int, seed: int, valid_fraction: float = 0.8) -> Transitions:
    """``(steps, envs)`` transitions with random features and ends; about ``valid_fraction`` of them valid."""
    generator = torch.Generator().manual_seed(seed)
    shape = (steps, envs)
    return Transitions(
        obs=torch.randn(*shape, FEATURES, generator=generator),
        action=torch.randint(0, 3, shape, generator=generator),
        next_obs=torch.randn(*shape, FEATURES, generator=generator),
        terminated=torch.rand(shape, generator=generator) < 0.05,
        truncated=torch.rand(shape, generator=generator) < 0.05,
        valid=torch.rand(shape, generator=generator) < valid_fraction,
    )


@pytest.mark.parametrize("proportion", [0.25, 0.6, 1.0])
def test_train_hands_the_bonus_about_update_proportion_of_the_valid_transitions(proportion):
    bonus = UpdateRecorder(fake_env(64))
    stream = IntrinsicStream(bonus, update_proportion=proportion, seed=3)
    transitions = [random_transitions(32, 64, seed) for seed in range(10)]
    for batch in transitions:
        stream.train(batch)

    valid = sum(int(batch.valid.sum()) for batch in transitions)  # about 16,000
    trained = sum(batch.valid.shape[1] for batch in bonus.trained)
    assert len(bonus.trained) == len(transitions)
    assert all(bool(batch.valid.all()) for batch in bonus.trained)  # only valid transitions are trained on
    assert trained == pytest.approx(proportion * valid, rel=0.03)  # the binomial's std is under 1% here
    first = bonus.trained[0].next_obs[0]
    is_valid_row = (first[:, None] == transitions[0].next_obs[transitions[0].valid][None]).all(-1).any(-1)
    assert bool(is_valid_row.all())
    assert stream.metrics == {"rows": float(bonus.trained[-1].valid.shape[1])}


def test_intrinsic_reward_trains_on_update_proportion_of_its_steps():
    env = gym.make_vec("rewardgym/GridMaze-v0", num_envs=32, autoreset_mode="SameStep", **EASY_KWARGS["rewardgym/GridMaze-v0"])
    bonus = UpdateRecorder(env)
    wrapped = IntrinsicReward(env, bonus, update_every=10, update_proportion=0.5)
    wrapped.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(100):
        wrapped.step(torch.as_tensor(env.action_space.sample()))
    assert len(bonus.trained) == 10
    assert sum(batch.valid.shape[1] for batch in bonus.trained) == pytest.approx(0.5 * 100 * 32, rel=0.05)
    assert wrapped.metrics == {"rows": float(bonus.trained[-1].valid.shape[1])}


@pytest.mark.parametrize("normalize", ["return", "reward"])
def test_a_stream_restored_from_its_state_dict_continues_exactly(normalize):
    torch.manual_seed(0)
    stream = IntrinsicStream(RND(fake_env(16), latent=8, hidden=16), normalize=normalize, update_proportion=0.5, seed=1)

    def advance(stream: IntrinsicStream, seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = random_transitions(8, 16, seed)
        scaled = stream.scale(stream.bonus_of(batch), batch.done, batch.valid)
        return scaled, stream.train(batch)

    advance(stream, 0)
    state = copy.deepcopy(stream.state_dict())  # a state_dict's tensors are the live ones, as in torch
    torch.manual_seed(1)  # a copy with other weights, statistics and generators
    other = IntrinsicStream(RND(fake_env(16), latent=8, hidden=16), normalize=normalize, update_proportion=0.5, seed=2)
    assert not torch.equal(advance(other, 1)[0], advance(stream, 1)[0])
    for restored in (stream, other):  # each its own copy: an optimiser's loaded state aliases the tensors it is given
        restored.load_state_dict(copy.deepcopy(state))
    for seed in range(2, 5):
        (scaled, metrics), (other_scaled, other_metrics) = advance(stream, seed), advance(other, seed)
        torch.testing.assert_close(other_scaled, scaled, rtol=0, atol=0)
        assert other_metrics == metrics
