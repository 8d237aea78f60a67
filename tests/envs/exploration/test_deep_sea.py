"""DeepSea against bsuite's dynamics: action mapping, random and optimal returns, wind, bad episodes."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

ID = "rewardgym/DeepSea-v0"


def make(num_envs: int, **kwargs):
    return gym.make_vec(ID, num_envs=num_envs, autoreset_mode="Disabled", **kwargs)


def run_episode(envs, policy) -> dict[str, torch.Tensor]:
    """One episode of every row from a fresh reset under ``policy(envs) -> actions``; summed rewards and what ended it."""
    total = {"reward": torch.zeros(envs.num_envs), "success": torch.zeros(envs.num_envs)}
    for step in range(envs.size):
        _, reward, terminated, truncated, info = envs.step(policy(envs))
        assert not truncated.any()
        assert bool(terminated.all()) == (step == envs.size - 1)  # exactly N steps
        total["reward"] += reward
        total["success"] += info["success"].float()
        for name, term in info["reward_terms"].items():
            total[name] = total.get(name, 0) + term
    total["bad_episode"] = info["bad_episode"]
    return total


def uniform_policy(seed: int):
    generator = torch.Generator().manual_seed(seed)
    return lambda envs: torch.randint(0, 2, (envs.num_envs,), generator=generator)


def always_right(envs) -> torch.Tensor:
    return envs.optimal_actions()


def binomial_bound(p: float, n: int, sds: float = 4.5) -> float:
    return sds * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("size", [4, 5, 6])
def test_a_random_policy_finds_the_treasure_with_probability_two_to_the_minus_n(size):
    episodes = 2**16
    envs = make(episodes, size=size)
    envs.reset(seed=size)
    found = run_episode(envs, uniform_policy(size))["success"].mean().item()
    assert abs(found - 2.0**-size) <= binomial_bound(2.0**-size, episodes)


@pytest.mark.parametrize("size", [1, 5, 10, 30])
def test_going_right_everywhere_returns_0_99(size):
    envs = make(64, size=size)
    envs.reset(seed=7)
    total = run_episode(envs, always_right)
    torch.testing.assert_close(total["reward"], torch.full((64,), 0.99))
    assert torch.equal(total["success"], torch.ones(64))
    torch.testing.assert_close(total["move_cost"], torch.full((64,), 0.01))
    assert not total["bad_episode"].any()


def test_without_randomised_actions_action_1_is_right_everywhere():
    envs = make(8, size=6, randomize_actions=False)
    envs.reset(seed=0)
    total = run_episode(envs, lambda envs: torch.ones(envs.num_envs, dtype=torch.long))
    torch.testing.assert_close(total["reward"], torch.full((8,), 0.99))


def test_the_action_mapping_is_fixed_within_a_seed_and_differs_across_seeds():
    envs = make(32, size=8)
    envs.reset(seed=0)
    first_mapping = envs.action_mapping.clone()
    first_episode_actions = []  # the right moves of the first episode, replayed blind in later ones
    run_episode(envs, lambda envs: first_episode_actions.append(envs.optimal_actions()) or first_episode_actions[-1])
    for _ in range(3):  # later episodes without a new seed: the same mapping
        envs.reset()
        replay = iter(first_episode_actions)
        assert torch.equal(run_episode(envs, lambda envs: next(replay))["success"], torch.ones(32))
    assert torch.equal(envs.action_mapping, first_mapping)

    envs.reset(seed=0)  # the same seed again: the same mapping
    assert torch.equal(envs.action_mapping, first_mapping)
    cells = 8 * 8
    envs.reset(seed=1000)
    differing = (envs.action_mapping[:, :cells] != first_mapping[:, :cells]).float().mean().item()
    assert 0.4 < differing < 0.6  # independent fair coins per cell
    rows_alike = (envs.action_mapping[:, :cells] == first_mapping[:, :cells]).all(dim=1)
    assert not rows_alike.any()
    # within one batch, rows (seeds s + i) have different mappings too
    assert len({tuple(row.tolist()) for row in envs.action_mapping}) == 32


def test_sub_env_mapping_equals_the_single_env_seeded_s_plus_i():
    envs = make(4, size=5)
    envs.reset(seed=20)
    for i in range(4):
        single = gym.make(ID, size=5).unwrapped
        single.reset(seed=20 + i)
        assert torch.equal(single.vector.action_mapping[0], envs.action_mapping[i])


def test_a_mapping_seed_gives_every_sub_env_the_mapping_of_that_seed():
    reference = make(1, size=6)
    reference.reset(seed=42)
    envs = make(8, size=6, mapping_seed=42)
    for seed in (0, 1000):  # whatever the reset seeds
        envs.reset(seed=seed)
        assert torch.equal(envs.action_mapping, reference.action_mapping.expand(8, -1))
    assert run_episode(envs, lambda envs: reference.action_mapping[0, envs.row * 6 + envs.column].long())["success"].all()


def test_windy_optimal_return_matches_bsuite_in_expectation():
    size, episodes = 5, 2**15
    envs = make(episodes, size=size, deterministic=False)
    envs.reset(seed=1)
    total = run_episode(envs, always_right)
    reach = (1 - 1 / size) ** (size - 1)
    assert abs(total["success"].mean().item() - reach) <= binomial_bound(reach, episodes)
    # bsuite's optimal return; the corner noise adds variance at most 1
    sd = math.sqrt((reach * (1 - reach) + 1) / episodes)
    assert abs(total["reward"].mean().item() - (reach - 0.01)) <= 4.5 * sd
    torch.testing.assert_close(total["move_cost"], torch.full((episodes,), 0.01))  # "right" costs, blown or not
    noisy = total["noise"] != 0
    assert noisy.float().mean().item() >= reach - binomial_bound(reach, episodes)  # every treasure row is a corner
    assert abs(total["noise"][noisy].std().item() - 1.0) < 0.05
    assert not total["bad_episode"].any()  # the wind pushing the diver off is not a bad episode


def test_windy_right_fails_with_probability_one_over_n():
    size, num_envs = 8, 2**14
    envs = make(num_envs, size=size, deterministic=False)
    envs.reset(seed=2)
    envs.step(envs.optimal_actions())
    stayed = (envs.column == 0).float().mean().item()
    assert abs(stayed - 1 / size) <= binomial_bound(1 / size, num_envs)


def test_bad_episode_marks_leaving_the_diagonal_by_choice():
    size = 6
    envs = make(3, size=size)
    envs.reset(seed=4)
    left_at = torch.tensor([0, 3, size])  # row where each env first goes left (row N: never)

    def policy(envs):
        right = envs.optimal_actions()
        return torch.where(envs.row >= left_at, 1 - right, right)

    seen = []
    for _ in range(size):
        info = envs.step(policy(envs))[4]
        seen.append(info["bad_episode"].clone())
    seen = torch.stack(seen)  # (step, env)
    steps = torch.arange(size).unsqueeze(1)
    assert torch.equal(seen, steps >= left_at)  # from the step that left the diagonal to the episode's end
    envs.reset()
    assert not envs.step(envs.optimal_actions())[4]["bad_episode"].any()  # a new episode starts clean


def test_observation_is_one_hot_then_the_null_observation():
    size = 4
    envs = gym.make_vec(ID, num_envs=16, size=size, autoreset_mode="SameStep")
    observation, _ = envs.reset(seed=3)
    generator = torch.Generator().manual_seed(0)
    for step in range(size):
        assert torch.equal(observation.sum(dim=(1, 2)), torch.ones(16))
        assert observation[torch.arange(16), envs.row, envs.column].eq(1).all()
        observation, _, terminated, _, info = envs.step(torch.randint(0, 2, (16,), generator=generator))
    assert terminated.all()
    assert torch.equal(info["final_obs"], torch.zeros(16, size, size))  # bsuite's end-of-episode observation
    assert torch.equal(observation[:, 0, 0], torch.ones(16))  # already reset


def test_diagonal_potential_rewards_staying_on_the_diagonal():
    size = 5
    envs = make(2, size=size, reward="shaped", gamma=1.0)
    envs.reset(seed=0)
    assert torch.allclose(envs.current_potentials()["diagonal"], torch.full((2,), 1 / size))
    shaped = torch.zeros(2)
    for _ in range(size):
        right = envs.optimal_actions()
        action = torch.stack([right[0], 1 - right[1]])  # row 0 optimal, row 1 leaves at once
        _, reward, _, _, info = envs.step(action)
        shaped += info["reward_terms"]["shaping_diagonal"]
        if envs.row[0] < size:
            assert envs.current_potentials()["diagonal"][0] == pytest.approx((envs.row[0].item() + 1) / size)
        assert envs.current_potentials()["diagonal"][1] == 0
    torch.testing.assert_close(shaped, torch.full((2,), -1 / size))  # telescopes to −Φ(s₀)


def test_stepping_past_the_end_without_reset_changes_nothing():
    envs = make(4, size=3)
    envs.reset(seed=0)
    for _ in range(3):
        envs.step(envs.optimal_actions())
    observation, reward, terminated, _, info = envs.step(torch.ones(4, dtype=torch.long))
    assert terminated.all() and (reward == 0).all() and not info["success"].any()
    assert torch.equal(observation, torch.zeros(4, 3, 3))


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 2.5}, {"deterministic": "no"}, {"randomize_actions": 1},
                                    {"unscaled_move_cost": -1.0}, {"mapping_seed": -1}])
def test_bad_arguments_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        gym.make_vec(ID, num_envs=2, **kwargs)
