"""Global bonuses (RND, RDD, ICM) and the global × episodic product, alone and inside ``IntrinsicReward``."""

from __future__ import annotations

import copy
from collections.abc import Callable

import gymnasium as gym
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgym.wrappers.intrinsic import Bonus, IntrinsicReward, Transitions
from rewardgym.wrappers.intrinsic.counts import CountBonus
from rewardgym.wrappers.intrinsic.e3b import E3B
from rewardgym.wrappers.intrinsic.icm import ICM
from rewardgym.wrappers.intrinsic.product import GlobalEpisodicProduct
from rewardgym.wrappers.intrinsic.rdd import RDD
from rewardgym.wrappers.intrinsic.rnd import RND
from tests.conftest import EASY_KWARGS, cuda

GRID, POINT = "rewardgym/GridMaze-v0", "rewardgym/PointMaze-v1"
MODES = ("NextStep", "SameStep", "Disabled")

BONUSES: dict[str, Callable[[gym.vector.VectorEnv], Bonus]] = {
    "RND": RND,
    "RDD": RDD,
    "ICM": ICM,
    "RND×E3B": lambda env: GlobalEpisodicProduct(RND(env), E3B(env)),
}


@pytest.fixture(autouse=True)
def one_thread():
    """The batches here are tiny: one torch thread is faster, and is not slowed by other processes' threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_env(env_id: str = GRID, num_envs: int = 8, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(env_id, num_envs=num_envs, **{**EASY_KWARGS[env_id], **kwargs})


def make_bonus(name: str, env: gym.vector.VectorEnv, seed: int = 0) -> Bonus:
    torch.manual_seed(seed)
    return BONUSES[name](env)


def one_step(obs: torch.Tensor, next_obs: torch.Tensor, action: torch.Tensor, **masks: torch.Tensor) -> Transitions:
    """``N`` transitions as one step, ``(1, N)``; rows valid and not ended unless ``masks`` say otherwise."""
    rows = obs.shape[0]
    names = ("terminated", "truncated", "valid")
    flags = {name: masks.get(name, torch.full((rows,), name == "valid")) for name in names}
    return Transitions(
        obs=obs[None], action=action[None], next_obs=next_obs[None], **{name: flag[None] for name, flag in flags.items()}
    )


def sample_actions(env: gym.vector.VectorEnv, seed: int = 0) -> torch.Tensor:
    """One batch of the env's random actions, reproducibly."""
    env.action_space.seed(seed)
    return torch.as_tensor(env.action_space.sample())


def binary_states(rows: int, size: int, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(rows, size, generator=generator) < 0.3).float()


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in module.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# -- what each bonus learns ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RND", "RDD"])
def test_distillation_error_falls_on_visited_states_and_stays_high_on_novel_ones(name):
    env = make_env()
    bonus = make_bonus(name, env)
    generator = torch.Generator().manual_seed(0)
    seen, novel = binary_states(16, bonus.obs_size, generator), binary_states(16, bonus.obs_size, generator)
    visits = one_step(seen, seen, torch.zeros(16, dtype=torch.int64))
    bonus.watch(one_step(torch.cat([seen, novel]), torch.cat([seen, novel]), torch.zeros(32, dtype=torch.int64)))
    before = bonus.novelty(seen).mean()
    torch.testing.assert_close(bonus.compute(visits)[0], bonus.novelty(seen))
    for _ in range(128):
        bonus.update(visits)
    after_seen, after_novel = bonus.novelty(seen).mean(), bonus.novelty(novel).mean()
    assert after_seen < 0.25 * before
    assert after_novel > 3 * after_seen


def test_rdd_bonus_decays_with_visits_like_a_pseudo_count():
    env = make_env()
    bonus = make_bonus("RDD", env)
    states = binary_states(16, bonus.obs_size, torch.Generator().manual_seed(1))
    visits = one_step(states, states, torch.zeros(16, dtype=torch.int64))
    bonus.watch(visits)
    bonuses, counts = [], []
    for visit in range(1, 129):
        bonus.update(visits)
        if visit & (visit - 1) == 0:  # after 1, 2, 4, …, 128 visits
            bonuses.append(float(bonus.novelty(states).mean()))
            counts.append(float(bonus.pseudo_count(states).mean()))
    assert all(later < earlier for earlier, later in zip(bonuses, bonuses[1:])), bonuses
    assert all(later > earlier for earlier, later in zip(counts, counts[1:])), counts
    growth = torch.tensor(counts[-1] / counts[0]).log() / torch.tensor(128.0).log()  # n̂ ∝ n^growth
    assert 0.3 < growth < 1.5, (growth, counts)


@pytest.mark.parametrize("env_id", [GRID, POINT])
def test_icm_forward_error_falls_on_a_predictable_transition(env_id):
    env = make_env(env_id)
    bonus = make_bonus("ICM", env)
    generator = torch.Generator().manual_seed(2)
    obs, next_obs = torch.randn(2, 8, bonus.obs_size, generator=generator)
    action = sample_actions(env)
    transitions = one_step(obs, next_obs, action)
    before = bonus.compute(transitions).mean()
    for _ in range(100):
        metrics = bonus.update(transitions)
    assert bonus.compute(transitions).mean() < 0.1 * before
    assert set(metrics) == {"inverse_loss", "forward_loss"}


# -- the protocol: invalid rows, episode ends, products, persistence ----------------------------


@pytest.mark.parametrize("name", BONUSES)
def test_invalid_rows_earn_nothing_and_teach_nothing(name):
    env = make_env()
    bonus = make_bonus(name, env)
    generator = torch.Generator().manual_seed(3)
    obs, next_obs = binary_states(8, bonus.obs_size, generator), binary_states(8, bonus.obs_size, generator)
    action = sample_actions(env)
    valid = torch.arange(8) % 2 == 0
    assert (bonus.compute(one_step(obs, next_obs, action, valid=valid))[0][~valid] == 0).all()

    before = snapshot(bonus)
    nothing = one_step(obs, next_obs, action, valid=torch.zeros(8, dtype=torch.bool))
    bonus.watch(nothing)
    bonus.update(nothing)
    assert (bonus.compute(nothing) == 0).all()
    assert_same_state(before, snapshot(bonus))


@pytest.mark.parametrize("name", ["RND", "RDD", "ICM"])
def test_global_bonus_keeps_its_statistics_across_episode_ends(name):
    env = make_env()
    bonus = make_bonus(name, env)
    states = binary_states(8, bonus.obs_size, torch.Generator().manual_seed(4))
    everyone_ends = torch.ones(8, dtype=torch.bool)
    transitions = one_step(states, states, sample_actions(env), terminated=everyone_ends, truncated=everyone_ends)
    first = bonus.compute(transitions)
    for _ in range(30):
        bonus.watch(transitions)
        before = snapshot(bonus)
        bonus.compute(transitions)
        assert_same_state(before, snapshot(bonus))  # compute forgets nothing at the episode ends
        bonus.update(transitions)
    assert bonus.compute(transitions).mean() < 0.5 * first.mean()  # what 30 ended episodes taught stays
    statistics = bonus.embedding.obs_rms if name == "ICM" else bonus.obs_rms
    assert statistics.count > 30 * 8 - 1


def test_product_is_the_product_of_its_parts():
    env = make_env(num_envs=4)
    torch.manual_seed(0)
    product = GlobalEpisodicProduct(RND(env), CountBonus(env, episodic=True))
    parts = copy.deepcopy(product.global_bonus), copy.deepcopy(product.episodic_bonus)
    generator = torch.Generator().manual_seed(5)
    states = binary_states(3, product.obs_size, generator)  # few states, so that episodic counts repeat
    for step in range(12):
        pick = torch.randint(3, (2, 4), generator=generator)
        ended = torch.rand(4, generator=generator) < 0.3
        transitions = one_step(states[pick[0]], states[pick[1]], torch.zeros(4, dtype=torch.int64), terminated=ended)
        for bonus in (product, *parts):
            bonus.watch(transitions)
        expected = parts[0].compute(transitions) * parts[1].compute(transitions)
        torch.testing.assert_close(product.compute(transitions), expected)
        metrics = product.update(transitions)
        parts[0].update(transitions)
        parts[1].update(transitions)
        if step % 4 == 3:  # a reset that no ended step announced clears the episodic part's rows
            reset = torch.rand(4, generator=generator) < 0.5
            for bonus in (product, *parts):
                bonus.episode_started(reset)
    assert "global/predictor_loss" in metrics
    with pytest.raises(ValueError, match="global bonus then an episodic"):
        GlobalEpisodicProduct(CountBonus(env, episodic=True), RND(env))


@pytest.mark.parametrize("name", BONUSES)
def test_state_dict_round_trips(name):
    env = make_env()
    trained, fresh = make_bonus(name, env, seed=0), make_bonus(name, env, seed=1)
    generator = torch.Generator().manual_seed(6)
    obs, next_obs = binary_states(8, trained.obs_size, generator), binary_states(8, trained.obs_size, generator)
    transitions = one_step(obs, next_obs, sample_actions(env))
    for _ in range(3):
        trained.watch(transitions)
        trained.compute(transitions)
        trained.update(transitions)
    fresh.load_state_dict(trained.state_dict())
    assert_same_state(snapshot(trained), snapshot(fresh))
    torch.testing.assert_close(fresh.compute(transitions), trained.compute(transitions))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(BONUSES)),
    steps=st.integers(1, 4),
    masks=st.data(),
)
def test_any_episode_boundaries_give_finite_bonuses_zero_where_invalid(name, steps, masks):
    env = make_env(num_envs=4)
    bonus = make_bonus(name, env)
    flags = {
        key: torch.tensor(masks.draw(st.lists(st.booleans(), min_size=4 * steps, max_size=4 * steps))).view(steps, 4)
        for key in ("terminated", "truncated", "valid")
    }
    features = torch.rand(2, steps, 4, bonus.obs_size)
    action = torch.stack([sample_actions(env, seed) for seed in range(steps)])
    transitions = Transitions(obs=features[0], action=action, next_obs=features[1], **flags)
    for _ in range(2):
        bonus.watch(transitions)
        value = bonus.compute(transitions)
        assert value.shape == (steps, 4)
        assert torch.isfinite(value).all()
        assert (value[~flags["valid"]] == 0).all()
        metrics = bonus.update(transitions)
        assert all(torch.isfinite(torch.tensor(metric)) for metric in metrics.values())


# -- inside IntrinsicReward --------------------------------------------------------------------


def run_wrapped(env: gym.vector.VectorEnv, bonus: Bonus, steps: int) -> IntrinsicReward:
    """Step ``IntrinsicReward(env, bonus)`` with random actions, resetting ended rows by hand in Disabled mode."""
    wrapped = IntrinsicReward(env, bonus)
    wrapped.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(steps):
        _, reward, terminated, truncated, info = wrapped.step(torch.as_tensor(env.action_space.sample()))
        assert torch.isfinite(reward).all() and torch.isfinite(info["bonus"]).all()
        done = terminated | truncated
        if env.metadata["autoreset_mode"].value == "Disabled" and bool(done.any()):
            wrapped.reset(options={"reset_mask": done.cpu().numpy()})
    return wrapped


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", [GRID, POINT])
@pytest.mark.parametrize("name", BONUSES)
def test_every_bonus_runs_inside_intrinsic_reward(name, env_id, mode):
    env = make_env(env_id, autoreset_mode=mode, max_episode_steps=6)
    run_wrapped(env, make_bonus(name, env), steps=30)


class Spy(Bonus):
    """Records every batch it is given; its bonus is 0."""

    episodic = False

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        self.seen: list[Transitions] = []

    def compute(self, transitions: Transitions) -> torch.Tensor:
        self.seen.append(transitions)
        return torch.zeros(transitions.valid.shape)


def agent_square(features: torch.Tensor, grid: int) -> torch.Tensor:
    """(row, column) of the agent in flattened top-down GridMaze observations ``(..., 3 G²)``."""
    square = features.view(*features.shape[:-1], 3, grid * grid)[..., 1, :].argmax(-1)
    return torch.stack([square // grid, square % grid], dim=-1)


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_bonus_never_sees_a_reset_observation_as_next_obs(mode):
    env = make_env(GRID, size=4, min_distance=4, autoreset_mode=mode, max_episode_steps=5)
    spy = Spy(env)
    run_wrapped(env, spy, steps=40)
    seen = Transitions.cat(spy.seen)
    moves = (agent_square(seen.next_obs, 9) - agent_square(seen.obs, 9)).abs().sum(-1)
    walls = [features.view(*seen.valid.shape, 3, -1)[..., 0, :] for features in (seen.obs, seen.next_obs)]
    same_maze = (walls[0] == walls[1]).all(-1)
    assert (moves[seen.valid] <= 1).all()
    assert same_maze[seen.valid].all()
    assert (moves[seen.valid] == 1).any()
    assert int(seen.done.sum()) >= 40  # every env crossed several episode ends


@cuda
@pytest.mark.parametrize("name", BONUSES)
def test_bonuses_keep_tensors_on_the_env_device(name):
    env = make_env(GRID, device="cuda", max_episode_steps=6)
    bonus = make_bonus(name, env)
    wrapped = run_wrapped(env, bonus, steps=10)
    _, reward, _, _, info = wrapped.step(torch.as_tensor(env.action_space.sample(), device="cuda"))
    assert reward.device.type == info["bonus"].device.type == "cuda"
    assert all(tensor.device.type == "cuda" for tensor in bonus.state_dict().values())
