"""GridMaze and PointMaze dynamics, observations and rewards."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardgym.evaluation import held_out_kwargs
from rewardgym.envs.maze.generation import make_maze_level
from rewardgym.envs.maze.point_maze import AGENT_HALF_SIZE


def greedy_move(envs) -> torch.Tensor:
    """The move that lowers each row's BFS distance to the goal (an optimal GridMaze policy)."""
    distance_after = torch.stack([envs._at("distance", envs.position + move) for move in envs._moves], dim=1)
    distance_after = torch.where(distance_after < 0, torch.iinfo(torch.int32).max, distance_after)
    return distance_after.argmin(dim=1)


# -- GridMaze ------------------------------------------------------------------------------------


def test_grid_maze_optimal_policy_earns_one_in_exactly_the_optimal_length():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=32, autoreset_mode="Disabled", reward="shaped", gamma=1.0)
    envs.reset(seed=0)
    optimal = envs._level_value("optimal_length").clone()
    steps = torch.zeros(32, dtype=torch.long)
    sparse = torch.zeros(32)
    shaped = torch.zeros(32)
    running = torch.ones(32, dtype=torch.bool)
    while running.any():
        _, reward, terminated, truncated, info = envs.step(greedy_move(envs))
        assert not truncated[running].any()
        steps += running
        sparse += running * info["reward_terms"]["sparse"]
        shaped += running * reward
        running &= ~terminated
    assert torch.equal(steps, optimal)
    assert torch.equal(sparse, torch.ones(32))
    # γ = 1: the shaping telescopes to −Φ(s₀) = 1, so shaped return = sparse + 1
    torch.testing.assert_close(shaped, torch.full((32,), 2.0))


def test_grid_maze_walls_block_moves_and_top_down_shows_agent_and_goal():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=64)
    observation, _ = envs.reset(seed=1)
    grid = envs.grid
    for _ in range(30):
        before = envs.position.clone()
        action = torch.randint(0, 4, (64,))
        observation, *_ = envs.step(action)
        target = before + envs._moves[action]
        into_wall = envs._at("walls", target)
        moved = envs.position != before
        restarted = envs.elapsed == 0
        assert torch.equal(moved[~restarted], ~into_wall[~restarted])
        assert torch.equal(observation[:, 1].reshape(64, -1).argmax(1), envs.position)
        assert torch.equal(observation[:, 2].reshape(64, -1).argmax(1), envs.goal)
        assert torch.equal(observation[:, 0].reshape(64, -1).bool(), envs.levels["walls"][envs.level])
        assert observation.shape == (64, 3, grid, grid)


def test_grid_maze_egocentric_view():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=8, observation="egocentric", view_size=3)
    observation, _ = envs.reset(seed=2)
    assert observation.shape == (8, 2 * 9 + 2)
    walls = envs.levels["walls"][envs.level].view(8, envs.grid, envs.grid)
    rows, cols = envs.position // envs.grid, envs.position % envs.grid
    for i in range(8):
        view = walls[i, rows[i] - 1 : rows[i] + 2, cols[i] - 1 : cols[i] + 2].reshape(-1).float()
        assert torch.equal(observation[i, :9], view)
        goal_r, goal_c = divmod(int(envs.goal[i]), envs.grid)
        expected = torch.tensor([goal_r - int(rows[i]), goal_c - int(cols[i])]) / envs.grid
        torch.testing.assert_close(observation[i, -2:], expected)


def test_euclidean_potential_can_mislead_where_geodesic_does_not():
    """Somewhere in a DFS maze a move lowers straight-line distance while raising path length."""
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=256)
    envs.reset(seed=0)
    misleading = 0
    for move in range(4):
        target = envs.position + envs._moves[move]
        free = ~envs._at("walls", target)
        before = envs.current_potentials()
        saved = envs.position
        envs.position = torch.where(free, target, saved)
        after = envs.current_potentials()
        envs.position = saved
        misleading += int((free & (after["euclidean"] > before["euclidean"]) & (after["geodesic"] < before["geodesic"])).sum())
    assert misleading > 0


def test_num_levels_bounds_the_distinct_mazes():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=200, num_levels=3)
    envs.reset(seed=0)
    assert len({tuple(w.tolist()) for w in envs.levels["walls"][envs.level]}) <= 3
    assert envs.levels._count <= 3


def played_level_ids(envs, make_level, candidates: range) -> set[int]:
    """Which of the ``candidates`` level ids the rows of a reset maze env play, recognised by layout."""
    def layout(level) -> tuple:
        return (bytes(np.asarray(level["walls"], dtype=bool)), int(level["start"]), int(level["goal"]))

    id_of = {layout(make_level(level_id)): level_id for level_id in candidates}
    assert len(id_of) == len(candidates), "every candidate level has a layout of its own"
    played = [layout({field: envs.levels[field][slot].cpu().numpy() for field in ("walls", "start", "goal")})
              for slot in envs.level.tolist()]
    return {id_of[level] for level in played}


@pytest.mark.parametrize("env_id", ["rewardgym/GridMaze-v0", "rewardgym/PointMaze-v1"])
def test_start_level_plays_a_disjoint_range_of_levels(env_id):
    num_levels = 8
    maze = {"size": 5, "generator": "kruskal", "braid": 0.2, "min_distance": 6}
    make_level = partial(make_maze_level, *maze.values())
    for start_level in (0, num_levels):
        envs = gym.make_vec(env_id, num_envs=64, num_levels=num_levels, start_level=start_level, **maze)
        envs.reset(seed=0)
        played = played_level_ids(envs.unwrapped, make_level, range(2 * num_levels))
        assert played == set(range(start_level, start_level + num_levels))


@pytest.mark.parametrize("env_id", ["rewardgym/GridMaze-v0", "rewardgym/PointMaze-v1"])
def test_levels_plays_exactly_the_levels_it_names(env_id):
    maze = {"size": 5, "generator": "kruskal", "braid": 0.2, "min_distance": 6}
    make_level = partial(make_maze_level, *maze.values())
    chosen = [3, 11, 40]
    envs = gym.make_vec(env_id, num_envs=64, levels=chosen, **maze)
    envs.reset(seed=0)
    assert played_level_ids(envs.unwrapped, make_level, range(48)) == set(chosen)
    assert held_out_kwargs(env_id, {"levels": chosen}) == {"levels": chosen}  # evaluated on the same levels


@pytest.mark.parametrize("kwargs, match", [({"levels": [1, 1]}, "distinct"), ({"levels": []}, "distinct"),
                                           ({"levels": [-1]}, "distinct"), ({"levels": [2**20]}, "distinct"),
                                           ({"levels": [1], "num_levels": 4}, "not both"),
                                           ({"levels": [1], "start_level": 3}, "not both")])
def test_bad_levels_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make_vec("rewardgym/GridMaze-v0", num_envs=1, **kwargs)


@pytest.mark.parametrize("kwargs", [{"start_level": -1}, {"start_level": 2**20}, {"start_level": 1.5},
                                    {"num_levels": 1024, "start_level": 2**20 - 1023}])
def test_a_bad_start_level_is_refused(kwargs):
    with pytest.raises(ValueError, match="start_level"):
        gym.make_vec("rewardgym/GridMaze-v0", num_envs=1, **kwargs)


# -- PointMaze -----------------------------------------------------------------------------------


def test_point_maze_never_enters_a_wall():
    envs = gym.make_vec("rewardgym/PointMaze-v1", num_envs=128, size=5)
    envs.reset(seed=0)
    corners = torch.tensor([[-1, -1], [-1, 1], [1, -1], [1, 1]]) * (AGENT_HALF_SIZE - 1e-3)
    for _ in range(200):
        envs.step(torch.rand(128, 2) * 2 - 1)
        for corner in corners:
            point = (envs.position + corner).floor().long()
            assert not envs._at("walls", point[:, 1] * envs.grid + point[:, 0]).any()


def test_point_maze_moves_as_a_double_integrator_in_open_space():
    envs = gym.make_vec("rewardgym/PointMaze-v1", num_envs=1, size=3, acceleration=2.0, dt=0.1)
    envs.reset(seed=0)
    envs.position = torch.tensor([[1.5, 1.5]])  # a cell centre: free in every direction for a short push
    envs.velocity = torch.zeros(1, 2)
    envs.step(np.array([[0.5, 0.0]], dtype=np.float32))
    torch.testing.assert_close(envs.velocity, torch.tensor([[0.1, 0.0]]))
    torch.testing.assert_close(envs.position, torch.tensor([[1.51, 1.5]]))


def test_point_maze_compute_reward_matches_the_step_reward():
    for reward in ("sparse", "dense"):
        env = gym.make("rewardgym/PointMaze-v1", reward=reward, size=2, min_distance=0)
        observation, _ = env.reset(seed=0)
        for action in [env.action_space.sample() for _ in range(40)]:
            observation, value, terminated, truncated, info = env.step(action)
            recomputed = env.unwrapped.compute_reward(observation["achieved_goal"], observation["desired_goal"], info)
            assert recomputed == pytest.approx(value, abs=1e-6)
            if terminated or truncated:
                observation, _ = env.reset()
        batch = env.unwrapped.compute_reward(np.zeros((5, 2)), np.array([[0.3, 0.0]] * 5), [{}] * 5)
        assert batch.shape == (5,)
        assert batch == pytest.approx(np.ones(5) if reward == "sparse" else -0.3 * np.ones(5))


def test_point_maze_compute_reward_refuses_rewards_it_cannot_relabel():
    env = gym.make("rewardgym/PointMaze-v1", reward="shaped")
    with pytest.raises(ValueError, match="compute_reward"):
        env.unwrapped.compute_reward(np.zeros(2), np.zeros(2), {})


def test_point_maze_success_within_the_goal_radius_terminates():
    envs = gym.make_vec("rewardgym/PointMaze-v1", num_envs=1, autoreset_mode="Disabled")
    envs.reset(seed=0)
    off_centre = envs.goal[:, 0] - (envs.goal_square % envs.grid + 0.5)
    toward_centre = torch.where(off_centre > 0, -0.3, 0.3)  # stays in the goal's square, clear of walls
    envs.position = envs.goal + torch.stack([toward_centre, torch.zeros(1)], dim=1)
    envs.velocity = torch.zeros(1, 2)
    _, reward, terminated, _, info = envs.step(np.zeros((1, 2), np.float32))
    assert bool(terminated[0]) and bool(info["success"][0]) and reward[0] == 1.0
