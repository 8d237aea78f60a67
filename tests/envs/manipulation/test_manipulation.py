"""Reach, Push and PickPlace: the two engines agree, scripted skills work, HER relabels exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import SAC, HerReplayBuffer

from rewardgym.agents import SB3VecEnv
from rewardgym.envs.manipulation.task import STEP_SIZE

BACKENDS = ["mujoco", "pybullet"]


def toward(envs, waypoint, gripper: float = -1.0, speed: float = 1.0) -> np.ndarray:
    """The action that moves row 0's gripper target to ``waypoint`` (at most ``speed`` per axis)."""
    delta = np.clip((np.asarray(waypoint) - envs.grip_target[0]) / STEP_SIZE, -speed, speed)
    return np.append(delta, gripper).astype(np.float32)[None]


def test_the_same_end_effector_trajectory_ends_in_the_same_place_in_both_engines():
    actions = np.zeros((16, 1, 4), np.float32)
    actions[:6, 0] = [0.5, -0.6, -0.4, 0.0]  # a diagonal move down and sideways (inside the workspace), then hold
    ends = {}
    for backend in BACKENDS:
        envs = gym.make_vec("rewardgym/Reach-v0", num_envs=1, backend=backend)
        start = envs.reset(seed=0)[0]["achieved_goal"][0].numpy()
        for action in actions:
            observation = envs.step(action)[0]
        ends[backend] = observation["achieved_goal"][0].numpy()
    planned = start + STEP_SIZE * actions[:, 0, :3].sum(axis=0)
    for backend, end in ends.items():
        assert np.linalg.norm(end - planned) < 0.01, backend
    assert np.linalg.norm(ends["mujoco"] - ends["pybullet"]) < 0.01


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scripted_push_moves_the_cube_toward_the_goal(backend):
    for seed in (0, 3):  # goals 16 and 14 cm from the cube
        envs = gym.make_vec("rewardgym/Push-v0", num_envs=1, backend=backend, object_range=0.0)
        observation, _ = envs.reset(seed=seed)
        cube, goal = observation["achieved_goal"][0].numpy(), observation["desired_goal"][0].numpy()
        direction = (goal - cube)[:2] / np.linalg.norm((goal - cube)[:2])
        behind = cube[:2] - 0.07 * direction
        plan = ([(np.append(behind, 0.1), 1.0)] * 8 + [(np.append(behind, 0.02), 1.0)] * 5
                + [(np.append(goal[:2] - 0.045 * direction, 0.02), 0.3)] * 30)  # push slowly, or the cube slides on
        for waypoint, speed in plan:
            observation, _, _, _, info = envs.step(toward(envs, waypoint, speed=speed))
        start_distance = np.linalg.norm(cube - goal)
        end_distance = -info["reward_terms"]["dense"][0].item()
        assert end_distance == pytest.approx(np.linalg.norm(observation["achieved_goal"][0].numpy() - goal), abs=1e-6)
        assert end_distance < 0.6 * start_distance, (seed, start_distance, end_distance)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scripted_grasp_lifts_the_cube(backend):
    envs = gym.make_vec("rewardgym/PickPlace-v0", num_envs=1, backend=backend, object_range=0.0)
    cube = envs.reset(seed=0)[0]["achieved_goal"][0].numpy()
    plan = ([(cube + [0, 0, 0.1], 1.0)] * 6 + [(cube, 1.0)] * 6 + [(cube, -1.0)] * 5
            + [(cube + [0, 0, 0.15], -1.0)] * 10)
    for waypoint, gripper in plan:
        observation = envs.step(toward(envs, waypoint, gripper))[0]
    assert observation["achieved_goal"][0, 2] > cube[2] + 0.1


def test_reach_ignores_the_gripper_and_pickplace_opens_it():
    for env_id, opens in (("rewardgym/Reach-v0", False), ("rewardgym/PickPlace-v0", True)):
        envs = gym.make_vec(env_id, num_envs=1)
        envs.reset(seed=0)
        for _ in range(5):
            observation = envs.step(np.array([[0, 0, 0, 1]], np.float32))[0]
        fingers = observation["observation"][0, 3:5] if env_id.endswith("Reach-v0") else observation["observation"][0, 9:11]
        assert bool((fingers > 0.03).all()) == opens, env_id


@pytest.mark.parametrize("env_id", ["rewardgym/Reach-v0", "rewardgym/Push-v0"])
def test_reward_channels_follow_the_goal_distance(env_id):
    envs = gym.make_vec(env_id, num_envs=16, goal_range=0.05, object_range=0.0) if "Push" in env_id else \
        gym.make_vec(env_id, num_envs=16, goal_range=0.05)
    envs.reset(seed=1)
    successes = []
    for action in np.random.default_rng(1).uniform(-1, 1, (10, 16, 4)).astype(np.float32):
        observation, reward, terminated, _, info = envs.step(action)
        successes.append(info["success"])
        distance = torch.linalg.vector_norm(observation["achieved_goal"] - observation["desired_goal"], dim=1)
        torch.testing.assert_close(info["reward_terms"]["dense"], -distance)
        assert torch.equal(info["success"], distance <= 0.05)
        assert torch.equal(reward, -(distance > 0.05).float())  # sparse: -1 until within 5 cm
        assert torch.equal(reward, envs.compute_reward(observation["achieved_goal"], observation["desired_goal"], {}))
        assert not terminated.any()  # Fetch's convention: success does not end the episode
    assert torch.stack(successes).any() and not torch.stack(successes).all()


def test_terminate_on_success_ends_the_episode_on_success():
    envs = gym.make_vec("rewardgym/Reach-v0", num_envs=16, goal_range=0.05, terminate_on_success=True)
    envs.reset(seed=1)
    ended = False
    for action in np.random.default_rng(1).uniform(-1, 1, (10, 16, 4)).astype(np.float32):
        _, _, terminated, _, info = envs.step(action)
        assert torch.equal(terminated, info["success"])
        ended |= bool(terminated.any())
    assert ended


def test_single_env_compute_reward_is_vectorised_for_her():
    env = gym.make("rewardgym/Push-v0", reward="dense")
    achieved = np.random.default_rng(0).uniform(-0.2, 0.2, (32, 3)).astype(np.float32)
    desired = np.random.default_rng(1).uniform(-0.2, 0.2, (32, 3)).astype(np.float32)
    reward = env.unwrapped.compute_reward(achieved, desired, [{}] * 32)
    np.testing.assert_allclose(reward, -np.linalg.norm(achieved - desired, axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="compute_reward"):
        gym.make("rewardgym/Push-v0", reward="shaped").unwrapped.compute_reward(achieved, desired, {})


@pytest.mark.parametrize("backend", BACKENDS)
def test_her_relabelled_rewards_equal_compute_reward(backend):
    envs = gym.make_vec("rewardgym/Reach-v0", num_envs=2, backend=backend, autoreset_mode="SameStep", max_episode_steps=10)
    bridge = SB3VecEnv(envs)
    model = SAC("MultiInputPolicy", bridge, replay_buffer_class=HerReplayBuffer, learning_starts=1000, seed=0,
                replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"})
    model.learn(60)  # collection only: nothing is trained before learning_starts
    samples = model.replay_buffer.sample(256)
    achieved = samples.next_observations["achieved_goal"]
    desired = samples.observations["desired_goal"]
    relabelled = envs.compute_reward(achieved.cpu(), desired.cpu(), {})
    np.testing.assert_array_equal(samples.rewards.flatten().cpu().numpy(), relabelled.numpy())
    assert (relabelled == 0).any() and (relabelled == -1).any()  # the sample holds reached and missed goals


def test_the_mujoco_requirement_has_no_upper_pin_below_the_installed_release():
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement

    [requirement] = [Requirement(r) for r in requires("rewardgym") if r.startswith("mujoco")]
    assert requirement.specifier.contains(version("mujoco"))
    assert not any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)
