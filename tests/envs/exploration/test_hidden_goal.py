"""HiddenGoal: the goal stays out of the observation, success on entering it, placement and walls."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

ID = "rewardgym/HiddenGoal-v1"


def test_the_goal_is_not_observable():
    """From the same start, episodes with different goals look the same until one ends."""
    a = gym.make_vec(ID, num_envs=8, start="centre", autoreset_mode="Disabled")
    b = gym.make_vec(ID, num_envs=8, start="centre", autoreset_mode="Disabled")
    first_a, _ = a.reset(seed=0)
    first_b, _ = b.reset(seed=100)
    assert torch.equal(first_a, first_b)
    assert (torch.linalg.vector_norm(a.goal - b.goal, dim=-1) > 0.1).all()
    generator = torch.Generator().manual_seed(0)
    running = torch.ones(8, dtype=torch.bool)
    for _ in range(40):
        action = torch.rand((8, 2), generator=generator) * 2 - 1
        observation_a, _, terminated_a, _, _ = a.step(action)
        observation_b, _, terminated_b, _, _ = b.step(action)
        running &= ~(terminated_a | terminated_b)
        assert torch.equal(observation_a[running], observation_b[running])
    assert running.any()


def test_entering_the_goal_radius_succeeds_and_terminates():
    """Steered straight at the hidden goal, each row succeeds exactly when it comes within the radius."""
    num_envs = 32
    envs = gym.make_vec(ID, num_envs=num_envs, autoreset_mode="Disabled", max_episode_steps=200)
    envs.reset(seed=1)
    finished = torch.zeros(num_envs, dtype=torch.bool)
    for _ in range(200):
        toward = envs.goal - envs.position
        action = (toward - 0.3 * envs.velocity).clamp(-1, 1)  # a damped push toward the goal
        _, reward, terminated, truncated, info = envs.step(action)
        inside = torch.linalg.vector_norm(envs.position - envs.goal, dim=-1) <= envs.goal_radius
        live = ~finished
        assert torch.equal(info["success"][live], inside[live])
        assert torch.equal(terminated[live], inside[live])
        assert torch.equal(reward[live], inside[live].float())
        finished |= terminated
        if finished.all():
            break
    assert finished.all()


def test_goals_lie_inside_the_arena_far_enough_from_the_start():
    envs = gym.make_vec(ID, num_envs=2048, size=6.0, goal_radius=0.5, min_distance=2.5)
    observation, _ = envs.reset(seed=2)
    start = observation[:, :2]
    assert ((envs.goal >= 0.5) & (envs.goal <= 5.5)).all()
    assert ((start >= 0) & (start <= 6.0)).all()
    assert (torch.linalg.vector_norm(envs.goal - start, dim=-1) >= 2.5).all()
    assert envs.goal.std(dim=0).min() > 1.0  # spread over the arena, not clustered
    assert torch.equal(observation[:, 2:], torch.zeros(2048, 2))


def test_the_walls_stop_the_point_mass():
    envs = gym.make_vec(ID, num_envs=64)
    envs.reset(seed=3)
    push = torch.tensor([[1.0, -1.0]]).expand(64, 2)
    for _ in range(110):  # 4.4 squares per axis at max_speed 0.4: every start reaches the corner
        observation, *_ = envs.step(push)
    assert envs.observation_space.contains(observation.numpy())
    corner = torch.tensor([envs.arena_size, 0.0])
    at_corner = torch.all(observation[:, :2] == corner, dim=1)
    assert at_corner.sum() > 32  # rows whose goal was not in the way
    assert torch.equal(observation[at_corner, 2:], torch.zeros(int(at_corner.sum()), 2))


def test_distance_potential_is_minus_the_distance_to_the_goal():
    envs = gym.make_vec(ID, num_envs=16)
    envs.reset(seed=4)
    distance = torch.linalg.vector_norm(envs.position - envs.goal, dim=-1)
    torch.testing.assert_close(envs.current_potentials()["distance"], -distance)


@pytest.mark.parametrize("kwargs", [{"size": 0.1}, {"goal_radius": 3.0}, {"min_distance": 2.5}, {"start": "corner"},
                                    {"dt": 0.0}])
def test_bad_arguments_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        gym.make_vec(ID, num_envs=2, **kwargs)
