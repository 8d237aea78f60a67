"""The oracles of the maze and exploration families: optimal where they claim to be, blind where they must be."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.envs.exploration.noisy_tv import WATCH
from rewardgym.policies import oracle
from rewardgym.policies.exploration import LANE_SPACING, sweep_corners


def play_one_episode(env, policy) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Steps ``(rows,)`` until each row's first episode ended, whether it succeeded, and every batch of actions."""
    observation, info = env.reset(seed=list(range(env.num_envs)))
    started = torch.ones(env.num_envs, dtype=torch.bool)
    steps = torch.zeros(env.num_envs, dtype=torch.int64)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    running = torch.ones(env.num_envs, dtype=torch.bool)
    actions = []
    while running.any():
        action = policy(observation, info, started)
        actions.append(action)
        observation, _, terminated, truncated, info = env.step(action)
        started = torch.zeros_like(started)
        steps += running
        success |= running & info["success"]
        running &= ~(terminated | truncated)
    return steps, success, actions


def make(env_id: str, num_envs: int, **kwargs):
    return gym.make_vec(env_id, num_envs=num_envs, autoreset_mode="Disabled", **kwargs).unwrapped


def test_grid_maze_oracle_takes_exactly_the_bfs_distance():
    env = make("rewardgym/GridMaze-v0", 64, generator="wilson", braid=0.3)
    steps, success, _ = play_one_episode(env, oracle(env))
    assert success.all()
    assert torch.equal(steps, env.levels["optimal_length"][env.level])


def test_point_maze_oracle_solves_larger_braided_mazes():
    env = make("rewardgym/PointMaze-v1", 32, size=8, generator="kruskal", braid=0.5)
    _, success, _ = play_one_episode(env, oracle(env))
    assert success.all()


def test_deep_sea_oracle_undoes_each_rows_action_mapping():
    env = make("rewardgym/DeepSea-v0", 16, size=12)
    steps, success, actions = play_one_episode(env, oracle(env))
    assert success.all() and (steps == 12).all()
    assert 0 < int(actions[0].sum()) < 16  # "right" is action 1 in some rows' first cell, 0 in others


def fewest_actions_by_search(env_id: str, **kwargs) -> int:
    """Fewest actions to the goal of a one-level KeyDoor, by BFS over (square, heading, key, door),
    stepping every frontier state with every action through the env's state API and ``step``."""
    env = make(env_id, 4096, num_levels=1, **kwargs)
    env.reset(seed=0)
    start = env.get_state()
    names = ("task.position", "task.heading", "task.carrying", "task.door_open")
    frontier = {tuple(int(start.tensors[name][0]) for name in names)}
    seen = set(frontier)
    for depth in itertools.count(1):
        pairs = [(state, action) for state in sorted(frontier) for action in range(5)]
        assert len(pairs) <= env.num_envs
        pairs += [pairs[0]] * (env.num_envs - len(pairs))
        states = torch.tensor([state for state, _ in pairs])
        placed = start[[0] * env.num_envs]
        for column, name in enumerate(names):
            placed.tensors[name].copy_(states[:, column])
        env.set_state(placed)
        *_, info = env.step(torch.tensor([action for _, action in pairs]))
        if bool(info["success"].any()):
            return depth
        after = env.get_state()
        frontier = set(zip(*(after.tensors[name].tolist() for name in names))) - seen
        frontier = {(p, h, bool(c), bool(d)) for p, h, c, d in frontier}
        seen |= frontier
        assert frontier, "the goal is unreachable"


@pytest.mark.parametrize("env_id, layout", [("rewardgym/KeyDoor-v0", {}),
                                            ("rewardgym/KeyDoor-v0", {"num_rooms": 3, "room_size": 3}),
                                            ("rewardgym/NoisyTV-v0", {})])
@pytest.mark.parametrize("level", [0, 1, 2])
def test_key_door_oracle_solves_in_the_fewest_actions(env_id, layout, level):
    env = make(env_id, 1, num_levels=1, start_level=level, **layout)
    steps, success, actions = play_one_episode(env, oracle(env))
    assert bool(success[0])
    assert int(steps[0]) == fewest_actions_by_search(env_id, start_level=level, **layout)
    assert all(int(action[0]) != WATCH for action in actions)


def test_hidden_goal_oracle_acts_the_same_whatever_the_hidden_goal():
    """From the same start, two batches with different goals get the same actions until an episode ends."""
    a, b = make("rewardgym/HiddenGoal-v1", 32, start="centre"), make("rewardgym/HiddenGoal-v1", 32, start="centre")
    policy_a, policy_b = oracle(a), oracle(b)
    observation_a, info_a = a.reset(seed=0)
    observation_b, info_b = b.reset(seed=1000)
    assert (torch.linalg.vector_norm(a.goal - b.goal, dim=-1) > 0.1).all()
    started = torch.ones(32, dtype=torch.bool)
    running = torch.ones(32, dtype=torch.bool)
    for _ in range(a.max_episode_steps):
        action_a, action_b = policy_a(observation_a, info_a, started), policy_b(observation_b, info_b, started)
        assert torch.equal(action_a[running], action_b[running])
        observation_a, _, terminated_a, _, info_a = a.step(action_a)
        observation_b, _, terminated_b, _, info_b = b.step(action_b)
        started = torch.zeros_like(started)
        running &= ~(terminated_a | terminated_b)
        if not running.any():
            break
    assert not running.any(), "every row finds one of its two goals"


@pytest.mark.parametrize("size, radius", [(4.0, 0.4), (6.0, 0.3), (1.0, 0.5), (5.0, 0.45)])
def test_the_sweep_passes_within_reach_of_every_possible_goal_centre(size, radius):
    corners = sweep_corners(size, radius).double().numpy()
    grid = np.linspace(radius, size - radius, 101)
    points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 1, 2)
    start, end = corners[:-1], corners[1:]
    along = np.clip(((points - start) * (end - start)).sum(-1) / ((end - start) ** 2).sum(-1).clip(1e-12), 0, 1)
    nearest = np.linalg.norm(points - (start + along[..., None] * (end - start)), axis=-1).min(axis=1)
    assert nearest.max() <= LANE_SPACING / 2 * radius + 1e-6  # corners are float32
