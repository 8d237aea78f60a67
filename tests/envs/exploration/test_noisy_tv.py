"""NoisyTV: the TV's noise is fresh per env and per step, reproducible, and leaves the task alone."""

from __future__ import annotations

import gymnasium as gym
import torch

from rewardgym.envs.exploration.key_door import FORWARD, LEFT
from rewardgym.envs.exploration.noisy_tv import WATCH

NOISE_DIM = 12


def make(num_envs: int = 8, **kwargs):
    return gym.make_vec("rewardgym/NoisyTV-v0", num_envs=num_envs, noise_dim=NOISE_DIM, **kwargs)


def watch_for(envs, steps: int, seed: int = 0) -> torch.Tensor:
    """The TV screens of ``steps`` steps of watching, ``(steps, num_envs, noise_dim)``."""
    envs.reset(seed=seed)
    watching = torch.full((envs.num_envs,), WATCH)
    return torch.stack([envs.step(watching)[0][:, -NOISE_DIM:] for _ in range(steps)])


def test_the_noise_differs_across_envs_and_steps_and_looks_uniform():
    screens = watch_for(make(num_envs=16), steps=10)
    assert ((screens >= 0) & (screens < 1)).all()
    for t in range(10):
        assert len({tuple(row.tolist()) for row in screens[t]}) == 16, "every env sees its own noise"
    assert (screens[1:] != screens[:-1]).all(), "every step shows new noise"
    assert abs(float(screens.mean()) - 0.5) < 0.05
    assert abs(float(screens.var()) - 1 / 12) < 0.01
    values = screens.reshape(-1, NOISE_DIM)
    correlation = torch.corrcoef(values.T) - torch.eye(NOISE_DIM)
    assert correlation.abs().max() < 0.3  # the TV's values are not copies of one another


def test_the_noise_is_reproducible_from_the_seed():
    assert torch.equal(watch_for(make(), 5, seed=3), watch_for(make(), 5, seed=3))
    assert not torch.equal(watch_for(make(), 5, seed=3), watch_for(make(), 5, seed=4))


def test_watching_leaves_the_agent_in_place_and_other_actions_blank_the_screen():
    envs = make(autoreset_mode="Disabled")
    observation, _ = envs.reset(seed=1)
    assert (observation[:, -NOISE_DIM:] == 0).all()
    state = (envs.position.clone(), envs.heading.clone(), envs.carrying.clone(), envs.door_open.clone())
    observation, *_ = envs.step(torch.full((8,), WATCH))
    assert (observation[:, -NOISE_DIM:] != 0).any(dim=1).all()
    for before, after in zip(state, (envs.position, envs.heading, envs.carrying, envs.door_open)):
        assert torch.equal(before, after)
    for action in (FORWARD, LEFT):
        observation, *_ = envs.step(torch.full((8,), action))
        assert (observation[:, -NOISE_DIM:] == 0).all()


def test_with_the_tv_off_the_screen_stays_blank_and_the_task_is_the_same():
    on, off = make(autoreset_mode="Disabled"), make(autoreset_mode="Disabled", tv=False)
    assert on.single_observation_space == off.single_observation_space
    assert on.single_action_space == off.single_action_space
    on.reset(seed=5)
    off.reset(seed=5)
    for action in torch.randint(0, 6, (40, 8), generator=torch.Generator().manual_seed(0)):
        seen_on, reward_on, *_ = on.step(action)
        seen_off, reward_off, *_ = off.step(action)
        assert (seen_off[:, -NOISE_DIM:] == 0).all()
        assert torch.equal((seen_on[:, -NOISE_DIM:] != 0).any(dim=1), action == WATCH)
        assert torch.equal(seen_on[:, :-NOISE_DIM], seen_off[:, :-NOISE_DIM]) and torch.equal(reward_on, reward_off)


def test_without_watching_it_plays_exactly_as_key_door():
    tv, plain = make(), gym.make_vec("rewardgym/KeyDoor-v0", num_envs=8)
    assert torch.equal(tv.reset(seed=6)[0][:, :-NOISE_DIM], plain.reset(seed=6)[0])
    for action in torch.randint(0, 5, (40, 8), generator=torch.Generator().manual_seed(1)):
        seen_tv, reward_tv, terminated_tv, *_ = tv.step(action)
        seen, reward, terminated, *_ = plain.step(action)
        assert torch.equal(seen_tv[:, :-NOISE_DIM], seen) and torch.equal(reward_tv, reward)
        assert torch.equal(terminated_tv, terminated)
