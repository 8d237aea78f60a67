"""The Stable-Baselines3 bridge: exact round trip against the torch batch, and SB3's algorithms on it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO, SAC, HerReplayBuffer

from rewardgym.agents import SB3VecEnv
from rewardgym.wrappers.intrinsic import CountBonus, IntrinsicReward
from tests.conftest import ENV_CASES, ENV_IDS, EASY_KWARGS, assert_same, random_actions, row_of


def make(env_id: str, num_envs: int = 4, **kwargs):
    kwargs = {"max_episode_steps": 7, **EASY_KWARGS[env_id], **kwargs}
    return gym.make_vec(env_id, num_envs=num_envs, autoreset_mode="SameStep", **kwargs)


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_bridge_round_trips_episodes_exactly(case):
    bridge, reference = SB3VecEnv(make(case.id, **case.kwargs)), make(case.id, **case.kwargs)
    bridge.seed(5)
    observation = bridge.reset()
    expected, _ = reference.reset(seed=5)
    assert_same(observation, row_of(expected, slice(None)))
    returns, lengths, episodes = np.zeros(4), np.zeros(4, int), 0
    for action in random_actions(reference.action_space, 40, 5):
        observation, reward, dones, infos = bridge.step(action)
        ref_obs, ref_reward, terminated, truncated, info = reference.step(action)
        assert_same(observation, row_of(ref_obs, slice(None)))
        np.testing.assert_array_equal(reward, ref_reward.numpy())
        np.testing.assert_array_equal(dones, (terminated | truncated).numpy())
        returns += reward
        lengths += 1
        for i in range(4):
            if not dones[i]:
                assert infos[i] == {}, "nothing but on the step an episode ends"
                continue
            episodes += 1
            assert_same(infos[i]["terminal_observation"], row_of(info["final_obs"], i))
            assert infos[i]["TimeLimit.truncated"] == bool(truncated[i] and not terminated[i])
            assert infos[i]["is_success"] == bool(info["final_info"]["success"][i])
            assert infos[i]["episode"]["r"] == pytest.approx(returns[i]) and infos[i]["episode"]["l"] == lengths[i]
            returns[i], lengths[i] = 0, 0
    assert episodes >= 8


def test_bridge_refuses_other_autoreset_modes():
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(gym.make_vec(ENV_IDS[0], num_envs=2))


def test_her_relabelled_rewards_equal_compute_reward():
    env = make("rewardgym/PointMaze-v1")
    bridge = SB3VecEnv(env)
    achieved = np.random.default_rng(0).uniform(0, 5, (32, 2)).astype(np.float32)
    desired = achieved + np.random.default_rng(1).normal(0, 0.5, (32, 2)).astype(np.float32)
    [relabelled] = bridge.env_method("compute_reward", achieved, desired, [{}] * 32, indices=[0])
    distance = np.linalg.norm(achieved - desired, axis=1)
    np.testing.assert_array_equal(relabelled, (distance <= env.goal_radius).astype(np.float32))


@pytest.mark.parametrize("algorithm", ["ppo", "dqn", "her-sac"])
def test_sb3_algorithms_train_on_the_bridge(algorithm):
    torch.manual_seed(0)
    if algorithm == "her-sac":
        env = SB3VecEnv(make("rewardgym/PointMaze-v1", max_episode_steps=10))
        model = SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer, learning_starts=60, batch_size=32, seed=0)
    elif algorithm == "dqn":
        model = DQN("MlpPolicy", SB3VecEnv(make("rewardgym/GridMaze-v0")), learning_starts=50, seed=0)
    else:
        model = PPO("MlpPolicy", SB3VecEnv(make("rewardgym/GridMaze-v0")), n_steps=32, batch_size=64, seed=0)
    model.learn(300)
    assert model.num_timesteps >= 300
    assert len(model.ep_info_buffer) > 0


def test_episode_return_is_extrinsic_and_the_bonus_return_is_reported_apart():
    reference = make("rewardgym/GridMaze-v0")
    wrapped = make("rewardgym/GridMaze-v0")
    bridge = SB3VecEnv(IntrinsicReward(wrapped, CountBonus(wrapped), coef=1.0))
    bridge.seed(5)
    bridge.reset()
    reference.reset(seed=5)
    extrinsic, total, episodes = np.zeros(4), np.zeros(4), 0
    for action in random_actions(reference.action_space, 40, 5):
        _, reward, dones, infos = bridge.step(action)
        extrinsic += reference.step(action)[1].numpy()
        total += reward
        for i in np.flatnonzero(dones):
            episodes += 1
            episode = infos[i]["episode"]
            assert episode["r"] == pytest.approx(extrinsic[i])
            assert episode["r_intrinsic"] > 0 and episode["r"] + episode["r_intrinsic"] == pytest.approx(total[i], rel=1e-5)
            extrinsic[i], total[i] = 0, 0
    assert episodes >= 8
