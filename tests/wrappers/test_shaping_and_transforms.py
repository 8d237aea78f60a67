"""Potential shaping and reward transforms across episode boundaries, in every autoreset mode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgym.wrappers.shaping import PotentialShaping, VectorPotentialShaping
from rewardgym.wrappers.transforms import CappedReward, GatedReward, SaturatingSum
from tests.conftest import EASY_KWARGS, cuda
from tests.wrappers.scripted import ScriptedVectorEnv, boundary_scripts

MODES = st.sampled_from(list(AutoresetMode))
scripts = st.composite(boundary_scripts)()


def potential(observation: torch.Tensor) -> torch.Tensor:
    """An arbitrary potential over the scripted env's (episode, t) observations."""
    return torch.sin(1.7 * observation[:, 0] + 0.3 * observation[:, 1]) + 0.1 * observation[:, 1]


def run(envs, script_length: int):
    """Step a wrapped scripted env through its whole script, resetting ended rows in DISABLED mode.

    Yields (observation, reward, terminated, truncated, info, final_obs, skipped) per step, where
    ``final_obs`` is each row's true last observation and ``skipped`` marks NEXT_STEP's reset steps.
    """
    mode = envs.metadata["autoreset_mode"]
    observation, _ = envs.reset(seed=0)
    yield observation, None, None, None, {}, None, None
    ended = torch.zeros(envs.num_envs, dtype=torch.bool)
    for _ in range(script_length):
        observation, reward, terminated, truncated, info = envs.step(np.zeros(envs.num_envs, dtype=np.int64))
        done = terminated | truncated
        final = torch.where(done.unsqueeze(1), info["final_obs"], observation) if "final_obs" in info else observation
        skipped = ended if mode == AutoresetMode.NEXT_STEP else torch.zeros_like(ended)
        yield observation, reward, terminated, truncated, info, final, skipped
        ended = done
        if mode == AutoresetMode.DISABLED and bool(done.any()):
            observation, _ = envs.reset(options={"reset_mask": done.numpy()})
            yield observation, None, None, None, {}, None, None


# -- potential shaping ---------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(scripted=scripts, mode=MODES, gamma=st.floats(0.5, 1.0))
def test_vector_shaping_telescopes_within_each_episode_and_never_across(scripted, mode, gamma):
    script, dense = scripted
    envs = VectorPotentialShaping(ScriptedVectorEnv(script, dense, mode), potential, gamma)
    n = script.shape[1]
    start_phi, discounted, discount = torch.zeros(n), torch.zeros(n), torch.ones(n)
    for observation, reward, terminated, truncated, info, final, skipped in run(envs, len(script)):
        if reward is not None:
            shaping = info["shaping"]
            assert torch.equal(shaping[skipped], torch.zeros(int(skipped.sum()))), "no shaping on a reset step"
            torch.testing.assert_close(reward, info["reward_unshaped"] + shaping)
            discounted += discount * shaping * ~skipped
            discount = torch.where(skipped, discount, discount * gamma)
            for row in torch.nonzero(terminated | truncated).flatten().tolist():
                end = 0.0 if terminated[row] else discount[row] * potential(final)[row]
                assert discounted[row].item() == pytest.approx(float(end - start_phi[row]), abs=1e-4)
        starting = ScriptedVectorEnv.is_reset_observation(observation)
        start_phi = torch.where(starting, potential(observation), start_phi)
        discounted = torch.where(starting, 0.0, discounted)
        discount = torch.where(starting, 1.0, discount)


def test_single_env_shaping_telescopes_and_matches_the_envs_own_shaping():
    """On GridMaze, a user potential equal to the env's geodesic Φ reproduces the env's shaping term."""
    env = gym.make("rewardgym/GridMaze-v0", max_episode_steps=30, **EASY_KWARGS["rewardgym/GridMaze-v0"])
    vector = env.unwrapped.vector

    def geodesic(observation: np.ndarray) -> np.ndarray:
        # Observations say where the agent is; the env's own level data says how far that is.
        square = observation[:, 1].reshape(len(observation), -1).argmax(1)
        scale = vector._level_value("optimal_length").clamp(min=1).float().numpy()
        return -vector._at("distance", torch.as_tensor(square)).float().numpy() / scale

    shaped = PotentialShaping(env, geodesic, gamma=0.95)
    vector.gamma = 0.95
    for episode in range(5):
        shaped.reset(seed=episode)
        for action in np.random.default_rng(episode).integers(0, 4, 30):
            _, reward, terminated, truncated, info = shaped.step(action)
            assert info["shaping"] == pytest.approx(float(info["reward_terms"]["shaping_geodesic"]), abs=1e-6)
            assert reward == pytest.approx(info["reward_unshaped"] + info["shaping"])
            if terminated or truncated:
                break


# -- transforms ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(scripted=scripts, mode=MODES)
def test_saturating_sum_is_the_weighted_sum_of_bounded_terms(scripted, mode):
    script, dense = scripted
    envs = SaturatingSum(ScriptedVectorEnv(script, dense, mode), {"dense": 2.0, "sparse": 0.5}, scales={"dense": 0.5})
    for observation, reward, terminated, truncated, info, final, skipped in run(envs, len(script)):
        if reward is None:
            continue
        terms = info["reward_terms"]
        expected = 2.0 * torch.tanh(terms["dense"] / 0.5) + 0.5 * torch.tanh(terms["sparse"])
        torch.testing.assert_close(reward, expected * ~skipped)
        assert (reward.abs() <= 2.5).all()


@settings(max_examples=60, deadline=None)
@given(scripted=scripts, mode=MODES, latch=st.booleans())
def test_gated_reward_pays_dense_only_after_the_gate_opens_in_this_episode(scripted, mode, latch):
    script, dense = scripted
    condition = lambda step: step.info["reward_terms"]["dense"] > 1.0  # noqa: E731
    envs = GatedReward(ScriptedVectorEnv(script, dense, mode), "dense", condition, latch=latch)
    n = script.shape[1]
    opened = torch.zeros(n, dtype=torch.bool)
    for observation, reward, terminated, truncated, info, final, skipped in run(envs, len(script)):
        if reward is not None:
            terms = info["reward_terms"]
            holds = (terms["dense"] > 1.0) & ~skipped
            opened = (opened | holds) if latch else holds
            torch.testing.assert_close(reward, terms["sparse"] + opened * terms["dense"] * ~skipped)
            assert torch.equal(info["gate_open"], opened)
        opened &= ~ScriptedVectorEnv.is_reset_observation(observation)


@settings(max_examples=60, deadline=None)
@given(scripted=scripts, mode=MODES, cap=st.floats(0.0, 4.0))
def test_capped_reward_keeps_each_episodes_dense_sum_within_the_cap(scripted, mode, cap):
    script, dense = scripted
    envs = CappedReward(ScriptedVectorEnv(script, dense, mode), "dense", cap)
    n = script.shape[1]
    paid = torch.zeros(n)
    for observation, reward, terminated, truncated, info, final, skipped in run(envs, len(script)):
        if reward is not None:
            total = (paid + info["reward_terms"]["dense"] * ~skipped).clamp(-cap, cap)
            torch.testing.assert_close(info["dense_paid"], total - paid, atol=1e-5, rtol=0)
            torch.testing.assert_close(reward, info["reward_terms"]["sparse"] + info["dense_paid"])
            paid = total
            assert (paid.abs() <= cap + 1e-5).all()
        paid = torch.where(ScriptedVectorEnv.is_reset_observation(observation), 0.0, paid)


def test_capped_reward_pays_dense_in_full_below_the_cap():
    script = np.zeros((5, 1), np.int8)
    dense = np.array([[0.5], [0.5], [0.5], [-2.0], [0.5]], np.float32)
    envs = CappedReward(ScriptedVectorEnv(script, dense, AutoresetMode.NEXT_STEP), "dense", cap=1.2)
    envs.reset()
    paid = [float(envs.step(np.zeros(1, np.int64))[4]["dense_paid"][0]) for _ in range(5)]
    assert paid == pytest.approx([0.5, 0.5, 0.2, -2.0, 0.5])


def test_transforms_name_a_missing_channel():
    envs = SaturatingSum(ScriptedVectorEnv(np.zeros((2, 1), np.int8), np.zeros((2, 1)), "NextStep"), {"speed": 1.0})
    envs.reset()
    with pytest.raises(ValueError, match="speed"):
        envs.step(np.zeros(1, np.int64))


def test_shaping_runs_on_a_rewardgym_batch_in_every_mode():
    for mode in AutoresetMode:
        envs = gym.make_vec("rewardgym/PointMaze-v1", num_envs=4, autoreset_mode=mode, max_episode_steps=4)
        envs = VectorPotentialShaping(envs, lambda obs: -obs["achieved_goal"].sum(1), gamma=0.9)
        envs.reset(seed=0)
        for _ in range(10):
            _, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert torch.isfinite(reward).all()
            if mode == AutoresetMode.DISABLED and bool((terminated | truncated).any()):
                envs.reset(options={"reset_mask": (terminated | truncated).numpy()})


def test_intrinsic_reward_clears_episodic_memory_on_a_reset_mid_episode():
    from rewardgym.wrappers.intrinsic import CountBonus, IntrinsicReward

    def bonuses(wrapper, actions):
        return [wrapper.step(action)[4]["bonus"].clone() for action in actions]

    make = lambda: gym.make_vec("rewardgym/GridMaze-v0", num_envs=3, size=3, num_levels=1, autoreset_mode="Disabled")  # noqa: E731
    actions = [np.array([1, 2, 3]), np.array([3, 0, 1]), np.array([2, 2, 0])] * 3
    fresh = IntrinsicReward(make(), CountBonus(make(), episodic=True), normalize="none")
    fresh.reset(seed=0)
    expected = bonuses(fresh, actions)

    reused_env = make()
    reused = IntrinsicReward(reused_env, CountBonus(reused_env, episodic=True), normalize="none")
    reused.reset(seed=0)
    bonuses(reused, actions[:4])  # part of an episode, then a reset that no ended step announced
    reused.reset(seed=0)
    for got, want in zip(bonuses(reused, actions), expected):
        torch.testing.assert_close(got, want)


@cuda
def test_wrappers_keep_tensors_on_the_envs_device():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=8, device="cuda")
    for wrapper in (
        VectorPotentialShaping(envs, lambda obs: obs.float().sum((1, 2, 3)), gamma=0.9),
        SaturatingSum(envs, {"sparse": 1.0, "shaping_geodesic": 1.0}),
        GatedReward(envs, "shaping_geodesic", lambda step: step.info["reward_terms"]["shaping_euclidean"] > 0),
        CappedReward(envs, "shaping_geodesic", cap=0.5),
    ):
        wrapper.reset(seed=0)
        for _ in range(3):
            _, reward, *_ = wrapper.step(torch.randint(0, 4, (8,), device="cuda"))
            assert reward.device.type == "cuda"
