"""fast-ppo: its pieces against direct computations, exact autoreset, seeds as a batch, learning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from rewardgym.agents.fast_ppo import (
    FastPPO,
    FastPPOConfig,
    SeedRandom,
    clip_grad_norm_per_seed,
    clipped_policy_loss,
    env_seeds,
    gae,
    value_loss,
)
from rewardgym.core import TorchVectorEnv
from rewardgym.core.random import seed_keys

TINY = dict(num_envs=8, num_steps=8, num_minibatches=2, update_epochs=2, hidden=[16])


class ContextualBandit(TorchVectorEnv):
    """One-step episodes: the observation is a one-hot context c of 4; action c pays 1, others 0."""

    potentials = ()

    def __init__(self, num_envs: int = 1, **kwargs: Any):
        super().__init__(num_envs, max_episode_steps=1, **kwargs)
        self._set_spaces(spaces.Box(0, 1, (4,), np.float32), spaces.Discrete(4))
        self.context = torch.zeros(num_envs, dtype=torch.int64)

    def _reset(self, rows: torch.Tensor) -> None:
        self.context = torch.where(rows, self.random.integers(4, 1)[:, 0], self.context)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"correct": action == self.context}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return transition["correct"]

    def _terminated(self, success: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(success)

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {}

    def _observe(self) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.context, 4).float()


class StopOrWait(TorchVectorEnv):
    """Action 1 terminates (reward 1); action 0 waits (reward 0.1); a time limit of 3 truncates.

    The observation is (steps taken, the row's first reset seed's parity): what a truncated
    episode's final observation is, is known exactly.
    """

    potentials = ()

    def __init__(self, num_envs: int = 1, **kwargs: Any):
        super().__init__(num_envs, max_episode_steps=3, **kwargs)
        self._set_spaces(spaces.Box(0, 10, (2,), np.float32), spaces.Discrete(2))
        self.stopped = torch.zeros(num_envs, dtype=torch.bool)
        self.marker = self.random.uniform(1)[:, 0]

    def _reset(self, rows: torch.Tensor) -> None:
        self.stopped = self.stopped & ~rows
        self.marker = torch.where(rows, self.random.uniform(1)[:, 0], self.marker)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        self.stopped = action == 1
        return {}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.stopped

    def _reward_terms(self, success: torch.Tensor, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sparse": torch.where(success, 1.0, 0.1)}

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {}

    def _observe(self) -> torch.Tensor:
        return torch.stack([self.elapsed.float(), self.marker], 1)


def make(env_class: type, seeds: list[int], dtype: str = "float32", **config: Any) -> FastPPO:
    settings = {**TINY, "dtype": dtype, **config}
    env = env_class(len(seeds) * settings["num_envs"], autoreset_mode="SameStep")
    return FastPPO(env, seeds, FastPPOConfig(**settings))


# -- pieces ---------------------------------------------------------------------------------------


def test_gae_matches_a_hand_written_loop():
    generator = torch.Generator().manual_seed(0)
    T, envs, gamma, lam = 7, 5, 0.9, 0.8
    rewards = torch.randn(T, envs, generator=generator, dtype=torch.float64)
    values = torch.randn(T, envs, generator=generator, dtype=torch.float64)
    last = torch.randn(envs, generator=generator, dtype=torch.float64)
    dones = torch.rand(T, envs, generator=generator) < 0.3
    expected = np.zeros((T, envs))
    for i in range(envs):
        advantage = 0.0
        for t in reversed(range(T)):
            next_value = float(last[i]) if t == T - 1 else float(values[t + 1, i])
            if dones[t, i]:
                advantage = float(rewards[t, i]) - float(values[t, i])  # nothing flows across an episode end
            else:
                delta = float(rewards[t, i]) + gamma * next_value - float(values[t, i])
                advantage = delta + gamma * lam * advantage
            expected[t, i] = advantage
    assert np.allclose(gae(rewards, values, dones, last, gamma, lam).numpy(), expected, atol=1e-12)


def test_clipped_policy_loss_matches_a_direct_computation():
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5, 0.5]]))
    new = torch.log(torch.tensor([[0.8, 0.8, 0.3, 0.55]]))  # ratios 1.6, 1.6, 0.6, 1.1
    advantages = torch.tensor([[1.0, -1.0, 2.0, -3.0]])
    # per sample: max(-A r, -A clip(r)) = max(-1.6, -1.2), max(1.6, 1.2), max(-1.2, -1.6), max(3.3, 3.3)
    expected = (-1.2 + 1.6 - 1.2 + 3.3) / 4
    assert clipped_policy_loss(new, old, advantages, 0.2).item() == pytest.approx(expected)


def test_value_loss_sums_the_heads_and_clips_like_cleanrl():
    values = torch.tensor([[[1.0, 0.0], [0.5, 2.0]]])  # (S=1, B=2, heads=2)
    old = torch.tensor([[[0.0, 0.0], [0.5, 1.0]]])
    returns = torch.tensor([[[2.0, 1.0], [0.5, 2.0]]])
    # unclipped: head 0: ½·mean(1, 0) = 0.25; head 1: ½·mean(1, 0) = 0.25
    assert value_loss(values, old, returns, None).tolist() == pytest.approx([0.5])
    # clipped at 0.2: head 0 row 0 is V_old + 0.2 = 0.2 → (0.2 − 2)² = 3.24 > 1; head 1 row 1: 1.2 → 0.64 > 0
    assert value_loss(values, old, returns, 0.2).tolist() == pytest.approx([0.5 * (3.24 / 2 + 1 / 2 + 0.64 / 2)])


def test_gradient_clipping_is_per_seed():
    first, second = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 1, requires_grad=True)
    first.grad = torch.tensor([[3.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    second.grad = torch.tensor([[4.0], [0.0]])
    norms = clip_grad_norm_per_seed([first, second], max_norm=1.0)
    assert norms.tolist() == pytest.approx([5.0, 0.1])
    assert first.grad[0].tolist() == pytest.approx([0.6, 0.0, 0.0], rel=1e-5)  # seed 0 scaled to norm 1
    assert first.grad[1].tolist() == pytest.approx([0.1, 0.0, 0.0])  # seed 1 untouched


def test_seed_random_streams_do_not_depend_on_other_seeds():
    alone, together = SeedRandom([7], torch.device("cpu")), SeedRandom([3, 7, 11], torch.device("cpu"))
    for _ in range(3):
        assert torch.equal(alone.uniform(5, 2)[0], together.uniform(5, 2)[1])
    values = together.uniform(10_000)
    assert 0 < float(values.min()) and float(values.max()) < 1 and abs(float(values.mean()) - 0.5) < 0.01
    assert sorted(together.permutations(6)[2].tolist()) == list(range(6))


def test_run_seeds_play_disjoint_env_seeds():
    rows = {seed: set(env_seeds(seed, 1024)) for seed in range(16)}
    for a in rows:
        for b in rows:
            assert a == b or not rows[a] & rows[b]
    assert not set(env_seeds(3, 1024, restart=1)) & rows[3]
    with pytest.raises(ValueError, match="num_envs"):
        env_seeds(0, 2**24 + 1)


def test_each_run_seed_plays_its_own_env_seeds():
    agent = make(StopOrWait, [3, 4])
    rows = TINY["num_envs"]
    expected = seed_keys(torch.tensor(env_seeds(3, rows) + env_seeds(4, rows)))
    assert torch.equal(agent.env.random.keys, expected)


# -- autoreset ------------------------------------------------------------------------------------


def test_truncated_steps_bootstrap_from_the_final_observation_and_terminated_do_not():
    agent = make(StopOrWait, [0, 1], num_envs=16, num_steps=12)
    rollout = agent.collect()
    terminated, truncated = rollout.terminated, rollout.truncated
    assert bool(terminated.any()) and bool(truncated.any())
    final = rollout.next_features
    assert torch.all(final[truncated][:, 0] == 3)  # a cut episode's true last observation: 3 steps taken
    assert torch.all(final[terminated][:, 0] == rollout.features[terminated][:, 0] + 1)
    with torch.no_grad():
        T, S, n = truncated.shape
        values = agent.agent.value(final.transpose(0, 1).flatten(1, 2))[..., 0].reshape(S, T, n).transpose(0, 1)
    expected = torch.where(truncated, 0.1 + 0.99 * values, torch.where(terminated, 1.0, 0.1))
    assert torch.allclose(rollout.rewards, expected, atol=1e-6)
    # the observation after an ended step is the next episode's first: 0 steps taken
    after = rollout.features[1:][(terminated | truncated)[:-1]]
    assert torch.all(after[:, 0] == 0)


# -- seeds as a batch -----------------------------------------------------------------------------


def parameters_after_updates(seeds: list[int], updates: int, dtype: str, **config: Any) -> dict[int, dict[str, Any]]:
    agent = make(StopOrWait, seeds, dtype=dtype, **config)
    agent.train(updates * TINY["num_envs"] * TINY["num_steps"])
    assert agent.updates == updates
    return {seed: agent.state_dict(k)["agent"] for k, seed in enumerate(seeds)}


def test_seed_k_of_a_batch_equals_seed_k_trained_alone_in_float64():
    together = parameters_after_updates([4, 9, 2], 2, "float64")
    alone = parameters_after_updates([9], 2, "float64")
    for name, value in alone[9].items():
        assert torch.allclose(together[9][name], value, rtol=1e-6, atol=1e-12), name
    assert not torch.allclose(together[4]["values.weight"], together[9]["values.weight"])


def test_same_seeds_give_the_same_run_bit_for_bit():
    first = parameters_after_updates([0, 1], 2, "float32")
    second = parameters_after_updates([0, 1], 2, "float32")
    for seed in first:
        for name in first[seed]:
            assert torch.equal(first[seed][name], second[seed][name])


# -- learning -------------------------------------------------------------------------------------


def test_learns_a_contextual_bandit():
    agent = make(ContextualBandit, [0, 1], num_envs=32, num_steps=4, hidden=[32], learning_rate=3e-3)
    agent.train(32 * 4 * 60)
    observation, _ = agent.env.reset(seed=list(range(10_000, 10_064)))
    actions = agent.act(agent.frames(observation))
    assert torch.equal(actions, observation.argmax(1))


def test_learns_deep_sea_5():
    config = FastPPOConfig(num_envs=32, num_steps=10, num_minibatches=2, update_epochs=4, hidden=[64],
                           learning_rate=1e-3)
    agent = FastPPO("rewardgym/DeepSea-v0", [0], config, env_kwargs={"size": 5, "randomize_actions": False},
                    bonus="count", bonus_coef=1.0)
    agent.train(30_000)
    observation, _ = agent.env.reset(seed=list(range(32)))
    for _ in range(5):
        observation, _, _, _, info = agent.env.step(agent.act(agent.frames(observation)))
    assert bool(info["success"].all())


class PairBandit(ContextualBandit):
    """The contextual bandit with MultiDiscrete([4, 4]) actions: (c, 3 − c) pays 1."""

    def __init__(self, num_envs: int = 1, **kwargs: Any):
        super().__init__(num_envs, **kwargs)
        self._set_spaces(self.single_observation_space, spaces.MultiDiscrete([4, 4]))

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"correct": (action[:, 0] == self.context) & (action[:, 1] == 3 - self.context)}


def test_learns_a_multi_discrete_bandit():
    agent = make(PairBandit, [5], num_envs=64, num_steps=4, hidden=[32], learning_rate=3e-3)
    agent.train(64 * 4 * 80)
    observation, _ = agent.env.reset(seed=list(range(10_000, 10_064)))
    context = observation.argmax(1)
    assert torch.equal(agent.act(agent.frames(observation)), torch.stack([context, 3 - context], 1))


@pytest.mark.parametrize("env_id, kwargs, config", [
    ("rewardgym/Construct-v0", {}, {}),  # Dict observations, 1,984 actions, action masks
    ("rewardgym/PointMaze-v1", {"size": 3}, {}),  # Dict observations, Box actions
    ("rewardgym/GridMaze-v0", {"size": 5}, {"encoder": "cnn"}),  # (C, H, W) images
    ("rewardgym/KeyDoor-v0", {}, {"frame_stack": 3}),
])
def test_every_supported_space_trains(env_id, kwargs, config):
    agent = FastPPO(env_id, [0, 1], FastPPOConfig(**{**TINY, **config}), env_kwargs=kwargs, bonus="rnd")
    before = agent.state_dict(1)["agent"]
    agent.train(2 * TINY["num_envs"] * TINY["num_steps"])
    after = agent.state_dict(1)["agent"]
    assert all(torch.isfinite(value).all() for value in after.values())
    assert not torch.equal(before["policy.weight"], after["policy.weight"])


def test_masked_actions_are_never_chosen():
    agent = FastPPO("rewardgym/Construct-v0", [0], FastPPOConfig(**TINY))
    for _ in range(3):
        rollout = agent.collect()
        chosen = rollout.masks.gather(-1, rollout.actions.unsqueeze(-1))
        assert bool(chosen.all())


def test_a_compiled_head_trains_as_the_eager_one():
    """Construct's 1,984-way masked head, compiled (inductor), takes the same update to float rounding."""
    after = {}
    for compile_head in (False, True):
        agent = FastPPO("rewardgym/Construct-v0", [0, 1], FastPPOConfig(**{**TINY, "compile_head": compile_head}))
        agent.train(TINY["num_envs"] * TINY["num_steps"])
        after[compile_head] = agent.state_dict(1)["agent"]
    for name, value in after[False].items():
        torch.testing.assert_close(after[True][name], value, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("bad, match", [
    ({"num_envs": 0}, "num_envs"),
    ({"compile_head": "yes"}, "compile_head"),
    ({"num_minibatches": 3}, "divisible"),
    ({"encoder": "transformer"}, "encoder"),
    ({"hidden": []}, "hidden"),
    ({"gamma": 1.5}, "gamma"),
])
def test_bad_configuration_is_refused_before_training(bad, match):
    with pytest.raises(ValueError, match=match):
        FastPPOConfig(**{**TINY, **bad})


def test_bad_runs_are_refused_before_training():
    with pytest.raises(ValueError, match="unknown fast-ppo hyperparameters"):
        FastPPOConfig.from_dict({"learning_rat": 1e-3})
    with pytest.raises(ValueError, match="bonus must be one of"):
        FastPPO("rewardgym/DeepSea-v0", [0], FastPPOConfig(**TINY), bonus="curiosity")
    with pytest.raises(ValueError, match="cnn"):
        FastPPO("rewardgym/DeepSea-v0", [0], FastPPOConfig(**{**TINY, "encoder": "cnn"}))
    with pytest.raises(ValueError, match="SAME_STEP"):
        FastPPO(StopOrWait(TINY["num_envs"]), [0], FastPPOConfig(**TINY))


def test_the_bonus_trains_on_a_proportion_of_every_minibatch_in_every_epoch():
    config = FastPPOConfig(**{**TINY, "num_envs": 32, "num_steps": 16, "num_minibatches": 4, "update_epochs": 3,
                              "bonus_update_proportion": 0.25})
    agent = FastPPO("rewardgym/DeepSea-v0", [0, 1], config, bonus="rnd")
    rows_seen: list[int] = []
    for stream in agent.streams:
        original = stream.bonus.prepare_training
        stream.bonus.prepare_training = lambda batch, original=original: (rows_seen.append(int(batch.valid.sum())),
                                                                         original(batch))[1]
    agent.update(agent.collect())
    assert len(rows_seen) == 2 * 3 * 4  # each seed's bonus: one update per minibatch per epoch
    minibatch = 32 * 16 // 4
    assert abs(sum(rows_seen) / (len(rows_seen) * minibatch) - 0.25) < 0.05
