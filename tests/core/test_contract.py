"""The contract every registered env inherits from rewardgym.core (DESIGN §2), checked on each id.

New env families are covered by registering them: every test here runs over ``ENV_CASES``
(each id, and again under each of its ``VARIANTS``).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete, MultiDiscrete
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from rewardgym.core import TorchVectorEnv
from tests.conftest import EnvCase, assert_same, cuda, random_actions, row_of

SHORT = 6  # a time limit short enough that every run below crosses several episode boundaries


def assert_close(a, b, what: str) -> None:
    if isinstance(a, dict):
        for key in a:
            assert_close(a[key], b[key], f"{what}[{key}]")
        return
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-5, atol=1e-6, err_msg=what)


# -- gymnasium's own checks ----------------------------------------------------------------------


def test_check_env_passes_without_warnings(case):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(case.make().unwrapped)
    assert [str(w.message) for w in caught] == []


def test_make_vec_returns_the_torch_batch(case):
    envs = case.make_vec(num_envs=8)
    assert isinstance(envs, TorchVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    observation, _ = envs.reset(seed=0)
    first = next(iter(observation.values())) if isinstance(observation, dict) else observation
    assert isinstance(first, torch.Tensor) and first.shape[0] == 8
    _, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == terminated.shape == truncated.shape == (8,)
    assert info["success"].dtype == torch.bool and "sparse" in info["reward_terms"]


# -- seeding and autoreset: sub-env i under seed s equals the single env under s + i --------------


def run_against_single_envs(case: EnvCase, mode: AutoresetMode, num_envs: int = 3, steps: int = 40, seed: int = 11) -> int:
    """Step a batch and one single env per row with the same actions; compare everything.

    Returns how many episode ends were crossed, so callers can check the run was meaningful.
    """
    envs = case.make_vec(num_envs=num_envs, autoreset_mode=mode, max_episode_steps=SHORT)
    singles = [case.make_single(max_episode_steps=SHORT) for _ in range(num_envs)]
    observation, _ = envs.reset(seed=seed)
    for i, single in enumerate(singles):
        assert_same(row_of(observation, i), single.reset(seed=seed + i)[0], f"reset obs of row {i}")

    actions = random_actions(envs.single_action_space, steps * num_envs, seed)
    ended = [False] * num_envs
    episode_ends = 0
    for t in range(steps):
        batch = np.stack(actions[t * num_envs : (t + 1) * num_envs])
        observation, reward, terminated, truncated, info = envs.step(batch)
        for i, single in enumerate(singles):
            where = f"step {t}, row {i}"
            if mode == AutoresetMode.NEXT_STEP and ended[i]:
                assert_same(row_of(observation, i), single.reset()[0], f"{where}: next-step reset obs")
                assert reward[i] == 0 and not terminated[i] and not truncated[i], where
                assert all(term[i] == 0 for term in info["reward_terms"].values()), where
                ended[i] = False
                continue
            single_obs, single_reward, single_terminated, single_truncated, single_info = single.step(batch[i])
            assert_close(reward[i].item(), single_reward, f"{where}: reward")
            assert (bool(terminated[i]), bool(truncated[i])) == (single_terminated, single_truncated), where
            ended[i] = single_terminated or single_truncated
            # the row's own info; in SAME_STEP a row that ended has it in final_info
            row_info = info["final_info"] if mode == AutoresetMode.SAME_STEP and ended[i] else info
            assert bool(row_info["success"][i]) == bool(single_info["success"]), where
            assert set(single_info) <= set(row_info), where
            for key in single_info:
                assert_close(row_of(row_info[key], i), single_info[key], f"{where}: info[{key!r}]")
            episode_ends += ended[i]
            if mode == AutoresetMode.SAME_STEP and ended[i]:
                assert bool(info["_final_obs"][i]), where
                assert_close(row_of(info["final_obs"], i), single_obs, f"{where}: final_obs is the true last obs")
                single_obs = single.reset()[0]
                ended[i] = False
            assert_close(row_of(observation, i), single_obs, f"{where}: obs")
    return episode_ends


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_sub_env_i_equals_single_env_seeded_s_plus_i(case, mode):
    assert run_against_single_envs(case, mode) >= 3 * (40 // (SHORT + 1)) - 3


def test_disabled_mode_resets_only_the_masked_rows(case):
    num_envs, seed = 4, 5
    envs = case.make_vec(num_envs=num_envs, autoreset_mode="Disabled", max_episode_steps=SHORT)
    singles = [case.make_single(max_episode_steps=SHORT) for _ in range(num_envs)]
    envs.reset(seed=seed)
    for i, single in enumerate(singles):
        single.reset(seed=seed + i)
    actions = random_actions(envs.single_action_space, 30 * num_envs, seed)
    resets = 0
    for t in range(30):
        batch = np.stack(actions[t * num_envs : (t + 1) * num_envs])
        observation, _, terminated, truncated, _ = envs.step(batch)
        for i, single in enumerate(singles):
            assert_close(row_of(observation, i), single.step(batch[i])[0], f"step {t}, row {i}")
        done = (terminated | truncated).numpy()
        if done.any():
            new_observation, _ = envs.reset(options={"reset_mask": done})
            for i, single in enumerate(singles):
                expected = single.reset()[0] if done[i] else row_of(observation, i)
                assert_close(row_of(new_observation, i), expected, f"after reset_mask, row {i}")
            resets += int(done.sum())
    assert resets >= num_envs * 3


def test_reset_with_the_same_seed_repeats_the_trajectory(case):
    envs = case.make_vec(num_envs=4)
    actions = random_actions(envs.single_action_space, 20 * 4, 3)

    def rollout():
        observations = [envs.reset(seed=123)[0]]
        for t in range(20):
            observations.append(envs.step(np.stack(actions[4 * t : 4 * t + 4]))[0])
        return observations

    first, second = rollout(), rollout()
    for a, b in zip(first, second):
        assert_same(row_of(a, slice(None)), row_of(b, slice(None)))


def test_different_seeds_give_different_episodes(case):
    """Over a few steps of the same actions, since some envs hide what the seed drew until the agent acts
    (DeepSea's action mapping)."""
    envs = case.make_vec(num_envs=16)
    actions = random_actions(envs.action_space, 3, 0)
    flat = lambda obs: torch.cat([v.flatten() for v in obs.values()]) if isinstance(obs, dict) else obs.flatten()  # noqa: E731

    def episode(seed: int) -> torch.Tensor:
        observations = [envs.reset(seed=seed)[0]] + [envs.step(action)[0] for action in actions]
        return torch.cat([flat(observation).float() for observation in observations])

    assert not torch.equal(episode(1), episode(1000))


# -- bad input -----------------------------------------------------------------------------------


def bad_actions(space, num_envs: int) -> dict[str, np.ndarray]:
    """One action batch per kind of mistake."""
    good = np.stack([space.sample() for _ in range(num_envs)])
    cases = {"shape": good[:-1], "extra dimension": good[..., None]}
    if isinstance(space, (Discrete, MultiDiscrete)):
        low = space.start
        high = low + (space.n if isinstance(space, Discrete) else space.nvec) - 1
        cases["dtype"] = good.astype(np.float32)
        cases["range"] = np.broadcast_to(high + 1, good.shape).copy()
        cases["negative"] = np.broadcast_to(low - 1, good.shape).copy()
    else:
        cases["dtype"] = good.astype(bool)
        cases["range"] = np.full_like(good, space.high.max() + 1)
        nan = good.copy()
        nan[0] = np.nan
        cases["NaN"] = nan
    return cases


def test_bad_actions_raise_value_error_naming_the_space(case):
    envs = case.make_vec(num_envs=3)
    envs.reset(seed=0)
    for problem, actions in bad_actions(envs.single_action_space, 3).items():
        with pytest.raises(ValueError, match="expected actions from") as raised:
            envs.step(actions)
        assert str(envs.single_action_space) in str(raised.value), problem
        assert case.id in str(raised.value), problem


def test_bad_single_env_action_raises_value_error(case):
    env = case.make()
    env.reset(seed=0)
    space = env.action_space
    wrong = np.float32(0.5) if isinstance(space, Discrete) else np.full(space.shape, np.nan, np.float32)
    with pytest.raises(ValueError, match=str(space).replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        env.step(wrong)


def test_a_rejected_action_leaves_the_batch_unchanged(case):
    envs, reference = case.make_vec(num_envs=3), case.make_vec(num_envs=3)
    envs.reset(seed=2)
    reference.reset(seed=2)
    actions = random_actions(envs.single_action_space, 12, 2)
    for problem, bad in bad_actions(envs.single_action_space, 3).items():
        with pytest.raises(ValueError):
            envs.step(bad)
    for t in range(4):
        batch = np.stack(actions[3 * t : 3 * t + 3])
        assert_same(row_of(envs.step(batch)[0], slice(None)), row_of(reference.step(batch)[0], slice(None)))


def test_bad_constructor_arguments_raise_value_error(case):
    for kwargs in ({"num_envs": 0}, {"reward": "no-such-reward"}, {"gamma": 1.5}, {"max_episode_steps": 0},
                   {"autoreset_mode": "sometimes"}, {"render_mode": "ascii"}, {"device": "nowhere"}):
        with pytest.raises(ValueError):
            case.make_vec(**{"num_envs": 2, **kwargs})


def test_bad_reset_options_raise_value_error(case):
    envs = case.make_vec(num_envs=3, autoreset_mode="Disabled")
    envs.reset(seed=0)
    for options in ({"reset_mask": np.zeros(3, bool)}, {"reset_mask": np.ones(4, bool)},
                    {"reset_mask": np.ones(3, int)}, {"colour": "red"}):
        with pytest.raises(ValueError):
            envs.reset(options=options)
    for seed in (-1, 1.5, "seven", [1, 2]):
        with pytest.raises(ValueError):
            envs.reset(seed=seed)


def test_step_before_reset_is_refused(case):
    envs = case.make_vec(num_envs=2)
    with pytest.raises(gym.error.ResetNeeded):
        envs.step(envs.action_space.sample())


# -- rewards -------------------------------------------------------------------------------------


def test_every_named_reward_trains_on_its_channels(case):
    envs = case.make_vec(num_envs=4)
    for name in type(envs).reward_names():
        envs = case.make_vec(num_envs=4, reward=name)
        envs.reset(seed=0)
        _, reward, _, _, info = envs.step(envs.action_space.sample())
        assert reward.shape == (4,) and reward.dtype == torch.float32
        assert torch.isfinite(reward).all(), name


def test_a_callable_reward_sees_every_channel(case):
    seen = {}

    def reward(terms):
        seen.update(terms)
        return terms["sparse"] * 2

    envs = case.make_vec(num_envs=2, reward=reward)
    envs.reset(seed=0)
    _, value, _, _, info = envs.step(envs.action_space.sample())
    assert set(seen) == set(info["reward_terms"])
    assert torch.equal(value, info["reward_terms"]["sparse"] * 2)


def test_a_callable_reward_of_the_wrong_shape_is_a_value_error(case):
    envs = case.make_vec(num_envs=2, reward=lambda terms: terms["sparse"].sum())
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="must return a tensor of shape"):
        envs.step(envs.action_space.sample())


def telescoping_run(case: EnvCase, gamma: float, horizon: int, num_envs: int = 64) -> torch.Tensor:
    """Random episodes under the easy arguments and time limit ``horizon``: Σ γᵗ Fₜ = γᵀ Φ(s_T) − Φ(s₀)
    when truncated, and −Φ(s₀) when terminated. Returns how each row's episode ended: 1 terminated, 2 truncated."""
    envs = case.make_vec(num_envs=num_envs, autoreset_mode="Disabled", gamma=gamma,
                        max_episode_steps=horizon, **case.easy_kwargs)
    envs.reset(seed=3)
    start = {name: value.clone() for name, value in envs.current_potentials().items()}
    expected = {name: torch.zeros(num_envs) for name in start}
    discounted = {name: torch.zeros(num_envs) for name in start}
    running = torch.ones(num_envs, dtype=torch.bool)
    ended_by = torch.zeros(num_envs, dtype=torch.long)
    for t, action in enumerate(random_actions(envs.action_space, horizon, 3)):
        _, _, terminated, truncated, info = envs.step(action)
        potentials = envs.current_potentials()
        finished = running & (terminated | truncated)
        for name in start:
            discounted[name] += running * gamma**t * info["reward_terms"][f"shaping_{name}"]
            end_value = torch.where(terminated, 0.0, gamma ** (t + 1) * potentials[name]) - start[name]
            expected[name] = torch.where(finished, end_value, expected[name])
        ended_by = torch.where(finished, torch.where(terminated, 1, 2), ended_by)
        running &= ~finished
    assert not running.any()
    for name in start:
        torch.testing.assert_close(discounted[name], expected[name], atol=1e-4, rtol=0)
    return ended_by


@pytest.mark.parametrize("gamma", [0.9, 1.0])
def test_shaping_terms_telescope_over_an_episode(case, gamma):
    """With a time limit of 25 steps, and of 2: episodes of a fixed length (DeepSea's) only a short limit truncates."""
    ended_by = torch.cat([telescoping_run(case, gamma, horizon) for horizon in (25, 2)])
    assert (ended_by == 1).any() and (ended_by == 2).any(), "the runs must cover both ways an episode ends"


# -- rendering -----------------------------------------------------------------------------------


def test_rgb_array_frames(case):
    env = case.make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 0  # something was drawn

    envs = case.make_vec(num_envs=5, render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 5 and frames[4].shape == frame.shape
    np.testing.assert_array_equal(frames[0], frame)  # sub-env 0 under seed 0 is the single env under seed 0


def test_human_rendering_opens_a_window_headless(case):
    env = case.make(render_mode="human")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()


# -- devices -------------------------------------------------------------------------------------


@cuda
def test_cuda_batch_matches_cpu_batch(case):
    cpu, gpu = case.make_vec(num_envs=8), case.make_vec(num_envs=8, device="cuda")
    a, _ = cpu.reset(seed=4)
    b, _ = gpu.reset(seed=4)
    for t, action in enumerate(random_actions(cpu.action_space, 20, 4)):
        a = cpu.step(action)[0]
        b = gpu.step(torch.as_tensor(action, device="cuda"))[0]
        assert_close(row_of(a, slice(None)), row_of(b, slice(None)), f"step {t}")


# -- gymnasium's wrappers compose with the batch -------------------------------------------------


def test_gymnasium_vector_wrappers_compose(case, tmp_path):
    from gymnasium.wrappers.vector import ArrayConversion, RecordEpisodeStatistics, RecordVideo

    envs = case.make_vec(num_envs=4, max_episode_steps=5, render_mode="rgb_array")
    envs = RecordVideo(envs, str(tmp_path / "videos"), episode_trigger=lambda episode: episode == 0, video_length=6)
    envs = RecordEpisodeStatistics(ArrayConversion(envs, env_xp=torch, target_xp=np))
    envs.reset(seed=0)
    lengths, steps, restarting = [], np.zeros(4, int), np.zeros(4, bool)
    for _ in range(12):
        observation, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert isinstance(reward, np.ndarray)
        steps = np.where(restarting, 0, steps + 1)  # NEXT_STEP: the step after an end only resets
        restarting = terminated | truncated
        if "episode" in info:
            lengths += [(info["episode"]["l"][i], steps[i]) for i in np.flatnonzero(info["_episode"])]
    envs.close()
    assert lengths and all(length == expected <= 5 for length, expected in lengths)
    assert list((tmp_path / "videos").glob("*.mp4"))
