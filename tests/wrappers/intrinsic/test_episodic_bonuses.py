"""Count, E3B, NGU and NovelD bonuses: their formulas, their memories across episode boundaries,
and their runs inside ``IntrinsicReward`` in every autoreset mode."""

from __future__ import annotations

import collections
import copy
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardgym.wrappers.intrinsic import Bonus, IntrinsicReward, Transitions
from rewardgym.wrappers.intrinsic.counts import CountBonus, CountTable, MemoryBonus
from rewardgym.wrappers.intrinsic.e3b import E3B, InverseCovariance
from rewardgym.wrappers.intrinsic.ngu import KernelMemory, NGUEpisodic
from rewardgym.wrappers.intrinsic.noveld import NovelD
from tests.conftest import EASY_KWARGS

NUM_STATES = 5  # test states are one-hot feature vectors of this length
SMALL_NET = {"latent": 8, "hidden": 16}


class ProjectionNovelty(Bonus):
    """A stateless global novelty for NovelD: nov(s') = 1 + ‖W s'‖², always positive."""

    episodic = False

    def __init__(self, env):
        super().__init__(env)
        self.register_buffer("weights", torch.randn(self.obs_size, 3))
        self.to(self.device)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        value = 1.0 + (transitions.next_obs @ self.weights).square().sum(-1)
        return torch.where(transitions.valid, value, 0.0)


def fake_env(num_envs: int) -> SimpleNamespace:
    """What a bonus reads from an env, with one-hot observations of ``NUM_STATES`` states."""
    observation_space = spaces.Box(0.0, 1.0, (NUM_STATES,), np.float32)
    return SimpleNamespace(single_observation_space=observation_space, single_action_space=spaces.Discrete(4),
                           num_envs=num_envs, device="cpu")


def features(states) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(states), NUM_STATES).float()


def batch(obs, next_obs, terminated=None, truncated=None, valid=None) -> Transitions:
    """Transitions between state ids ``(T, N)``; no ends and all valid unless given."""
    obs, next_obs = torch.as_tensor(obs), torch.as_tensor(next_obs)

    def mask(value, default: bool) -> torch.Tensor:
        return torch.full(obs.shape, default) if value is None else torch.as_tensor(value)

    return Transitions(features(obs), torch.zeros(obs.shape, dtype=torch.int64), features(next_obs),
                       mask(terminated, False), mask(truncated, False), mask(valid, True))


def split(transitions: Transitions, size: int) -> list[Transitions]:
    """Consecutive chunks of ``size`` steps, to feed a batch in several ``compute`` calls."""
    steps = transitions.valid.shape[0]
    return [Transitions(*(getattr(transitions, name)[t:t + size] for name in Transitions.__dataclass_fields__))
            for t in range(0, steps, size)]


BONUSES = {
    "counts": lambda env: CountBonus(env),
    "counts-simhash": lambda env: CountBonus(env, hashing="simhash", bits=16),
    "counts-episodic": lambda env: CountBonus(env, episodic=True),
    "counts-simhash-episodic": lambda env: CountBonus(env, hashing="simhash", episodic=True),
    "e3b": lambda env: E3B(env, **SMALL_NET),
    "ngu": lambda env: NGUEpisodic(env, capacity=50, **SMALL_NET),
    "noveld": lambda env: NovelD(env, ProjectionNovelty(env), alpha=0.0),  # pays every first visit
}
EPISODIC = ["counts-episodic", "e3b", "ngu", "noveld"]


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def empty_rows(bonus: MemoryBonus) -> torch.Tensor:
    """Which envs' episodic memories hold nothing ``(N,)``."""
    memory = bonus.memory
    if isinstance(memory, InverseCovariance):
        return (memory.inverse == memory.initial).flatten(1).all(1)
    if isinstance(memory, KernelMemory):
        return memory.written == 0
    return ~torch.isin(torch.arange(bonus.num_envs), memory.owners)


# -- counts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hashing", ["exact", "simhash"])
@pytest.mark.parametrize("episodic", [False, True])
@pytest.mark.parametrize("steps_per_call", [1, 6])
def test_count_bonus_falls_exactly_as_one_over_sqrt_n(hashing, episodic, steps_per_call):
    bonus = CountBonus(fake_env(1), beta=2.0, hashing=hashing, episodic=episodic)
    visits = batch(obs=[[0]] + [[1]] * 5, next_obs=[[1]] * 6)  # start in 0, then stay in 1
    values = torch.cat([bonus.compute(part) for part in split(visits, steps_per_call)])
    torch.testing.assert_close(values[:, 0], 2.0 / torch.arange(1, 7).sqrt(), rtol=1e-6, atol=0)


def test_count_bonus_counts_the_start_state_and_simultaneous_visits():
    bonus = CountBonus(fake_env(2))
    # Both envs start in 0 and reach 1 at the same step: n(1) = 2 for both.
    torch.testing.assert_close(bonus.compute(batch([[0, 0]], [[1, 1]])), torch.full((1, 2), 2**-0.5))
    # Back to 0, their start state: n(0) = 2 start visits + 2 now.
    torch.testing.assert_close(bonus.compute(batch([[1, 1]], [[0, 0]])), torch.full((1, 2), 0.5))


def test_count_table_grows_in_order_and_forgets_only_its_rows():
    table = CountTable(3, per_env=True)
    for codes in ([5, 5, 9], [1, 5, 9], [7, 7, 7]):
        table.visit(torch.tensor(codes), torch.ones(3, dtype=torch.bool))
    assert torch.equal(table.keys, table.keys.sort().values)
    assert torch.equal(table.visit(torch.tensor([5, 5, 9]), torch.tensor([True, True, False])), torch.tensor([2, 3, 0]))
    table.forget(torch.tensor([False, True, False]))
    assert torch.equal(table.visit(torch.tensor([5, 5, 9]), torch.ones(3, dtype=torch.bool)), torch.tensor([3, 1, 3]))


# -- memories across episode ends ----------------------------------------------------------------


@pytest.mark.parametrize("end", ["terminated", "truncated"])
@pytest.mark.parametrize("steps_per_call", [1, 5])
@pytest.mark.parametrize("name", ["counts", *EPISODIC])
def test_episodic_memories_reset_at_each_episode_end_and_global_counts_do_not(name, end, steps_per_call):
    """Env 0: episode 0 → 1 → 1 that ends, then 0 → 1 again. Env 1 never ends: 2 → 3 → 3 → 3 → 3."""
    bonus = BONUSES[name](fake_env(2))
    ends = torch.zeros(5, 2, dtype=torch.bool)
    ends[1, 0] = True
    script = batch(obs=[[0, 2], [1, 3], [0, 3], [1, 3], [0, 3]], next_obs=[[1, 3], [1, 3], [1, 3], [1, 3], [1, 3]],
                   **{end: ends})
    values, empty = [], []
    for part in split(script, steps_per_call):
        values.append(bonus.compute(part))
        empty.append(empty_rows(bonus) if bonus.episodic else None)
    values = torch.cat(values)[:, 0]

    if name == "counts":  # global: n(1) keeps growing across the episode end
        torch.testing.assert_close(values, 1.0 / torch.arange(1, 6).sqrt())
        return
    if name == "ngu":  # env 0 holds 0, 1, 1, 1 of its second episode; env 1 its whole episode
        assert bonus.memory.written.tolist() == [4, 6]
    else:  # the first visit of 1 in the second episode is worth what it was in the first
        torch.testing.assert_close(values[2], values[0])
    if steps_per_call == 1:  # right after the ending step, env 0's memory is empty; env 1's is not
        assert empty[1].tolist() == [True, False]
        assert not empty[2].any()
    if name == "noveld":  # paid on first visits only
        assert (values[[0, 2]] > 0).all() and (values[[1, 3, 4]] == 0).all()


def test_e3b_bonus_is_the_elliptical_formula_over_the_episode_so_far():
    ridge = 0.5
    bonus = E3B(fake_env(2), ridge=ridge, **SMALL_NET)
    rng = np.random.default_rng(0)
    states = rng.integers(0, NUM_STATES, (13, 2))
    ends = torch.zeros(12, 2, dtype=torch.bool)
    ends[4, 0] = ends[8, 1] = True
    script = batch(obs=states[:-1], next_obs=states[1:], terminated=ends)
    values = torch.cat([bonus.compute(part) for part in split(script, 3)])

    with torch.no_grad():
        phi = bonus.embedding(features(states)).double()  # fixed: no update in between
    for env in range(2):
        covariance = ridge * torch.eye(SMALL_NET["latent"], dtype=torch.float64)
        covariance += torch.outer(phi[0, env], phi[0, env])  # the start state
        for t in range(12):
            f = phi[t + 1, env]
            expected = f @ torch.linalg.inv(covariance) @ f
            torch.testing.assert_close(values[t, env].double(), expected, rtol=1e-4, atol=1e-5)
            covariance += torch.outer(f, f)
            if ends[t, env]:  # the next episode starts in s_{t+1}
                covariance = ridge * torch.eye(SMALL_NET["latent"], dtype=torch.float64) + torch.outer(f, f)


def test_ngu_pays_more_for_a_novel_embedding_than_a_repeated_one():
    bonus = NGUEpisodic(fake_env(2), **SMALL_NET)
    # Both envs start in 0; env 0 returns to 0 again and again, env 1 moves to a new state each step.
    values = bonus.compute(batch(obs=[[0, 0], [0, 1], [0, 2]], next_obs=[[0, 1], [0, 2], [0, 3]]))
    assert (values[:, 1] > 10 * values[:, 0]).all()
    assert (values[1:, 0] < values[:-1, 0]).all()  # the repeated one pays less each time
    assert bonus.memory.written.tolist() == [4, 4]


def test_noveld_pays_the_rise_in_novelty_on_first_visits_only():
    bonus = NovelD(fake_env(1), ProjectionNovelty(fake_env(1)), alpha=0.5, beta=0.25)
    states = [0, 1, 2, 1, 3, 0]
    values = bonus.compute(batch(obs=[[s] for s in states[:-1]], next_obs=[[s] for s in states[1:]]))[:, 0]
    novelty = 1.0 + (features(states) @ bonus.novelty.weights).square().sum(-1)
    rise = (novelty[1:] - 0.5 * novelty[:-1]).clamp(min=0.25)
    first_visit = torch.tensor([True, True, False, True, False])  # 1, 2, 1 again, 3, 0 (the start state)
    torch.testing.assert_close(values, torch.where(first_visit, rise, 0.0))


@pytest.mark.parametrize("name", list(BONUSES))
def test_invalid_rows_earn_nothing_and_leave_memory_unchanged(name):
    bonus = BONUSES[name](fake_env(3))
    bonus.compute(batch(obs=[[0, 1, 2], [3, 3, 3]], next_obs=[[3, 3, 3], [4, 0, 1]]))
    before = copy.deepcopy(bonus.state_dict())
    everything_ends = torch.ones(2, 3, dtype=torch.bool)
    values = bonus.compute(batch(obs=[[4, 0, 1], [2, 2, 2]], next_obs=[[2, 2, 2], [3, 4, 0]],
                                 terminated=everything_ends, truncated=everything_ends, valid=~everything_ends))
    assert torch.equal(values, torch.zeros(2, 3))
    after = bonus.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key


# -- random episode boundaries -------------------------------------------------------------------


@st.composite
def boundary_batches(draw):
    """1–3 calls of T ≤ 4 steps for N ≤ 3 envs over few states, with random ends and validity."""
    envs = draw(st.integers(1, 3))
    calls = []
    for _ in range(draw(st.integers(1, 3))):
        steps = draw(st.integers(1, 4))
        states = st.lists(st.lists(st.integers(0, 2), min_size=envs, max_size=envs), min_size=steps, max_size=steps)
        flags = st.lists(st.lists(st.booleans(), min_size=envs, max_size=envs), min_size=steps, max_size=steps)
        calls.append(batch(draw(states), draw(states), draw(flags), draw(flags), draw(flags)))
    return envs, calls


class Episodes:
    """The reference: each env's current episode as a list of states, and global visit counts."""

    def __init__(self, envs: int):
        self.episodes: list[list[int]] = [[] for _ in range(envs)]
        self.starting = [True] * envs
        self.global_counts: collections.Counter = collections.Counter()

    def step(self, step: Transitions) -> None:
        obs, next_obs = step.obs.argmax(-1).tolist(), step.next_obs.argmax(-1).tolist()
        for env in range(len(self.episodes)):
            if step.valid[env]:
                if self.starting[env]:
                    self.episodes[env].append(obs[env])
                    self.global_counts[obs[env]] += 1
                self.episodes[env].append(next_obs[env])
                self.global_counts[next_obs[env]] += 1

    def end(self, step: Transitions) -> None:
        for env in range(len(self.episodes)):
            if step.valid[env]:
                ended = bool(step.terminated[env] | step.truncated[env])
                self.starting[env] = ended
                if ended:
                    self.episodes[env] = []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=boundary_batches())
def test_memories_follow_random_episode_boundaries_exactly(drawn):
    envs, calls = drawn
    counts, episodic_counts = CountBonus(fake_env(envs)), CountBonus(fake_env(envs), episodic=True)
    e3b, ngu = E3B(fake_env(envs), **SMALL_NET), NGUEpisodic(fake_env(envs), capacity=50, **SMALL_NET)
    noveld = NovelD(fake_env(envs), ProjectionNovelty(fake_env(envs)), alpha=0.0)
    reference = Episodes(envs)
    with torch.no_grad():
        phi_e3b, phi_ngu = e3b.embedding(torch.eye(NUM_STATES)), ngu.embedding(torch.eye(NUM_STATES))

    for transitions in calls:
        values = {bonus: bonus.compute(transitions) for bonus in (counts, episodic_counts, e3b, ngu, noveld)}
        for t in range(transitions.valid.shape[0]):
            step = Transitions(*(getattr(transitions, name)[t] for name in Transitions.__dataclass_fields__))
            reference.step(step)
            reached = step.next_obs.argmax(-1).tolist()
            for env in range(envs):
                in_episode = reference.episodes[env].count(reached[env]) if step.valid[env] else 0
                in_training = reference.global_counts[reached[env]] if step.valid[env] else 0
                assert values[episodic_counts][t, env] == pytest.approx(in_episode**-0.5 if in_episode else 0.0)
                assert values[counts][t, env] == pytest.approx(in_training**-0.5 if in_training else 0.0)
                assert bool(values[noveld][t, env] > 0) == (in_episode == 1)
            reference.end(step)

        # After each call, every memory holds exactly the episode so far of each env.
        for env, episode in enumerate(reference.episodes):
            latent = SMALL_NET["latent"]
            gram = sum((torch.outer(phi_e3b[s], phi_e3b[s]) for s in episode), torch.zeros(latent, latent))
            expected = torch.linalg.inv(e3b.ridge * torch.eye(latent) + gram)
            torch.testing.assert_close(e3b.memory.inverse[env], expected, rtol=1e-3, atol=1e-4)
            assert int(ngu.memory.written[env]) == len(episode)
            torch.testing.assert_close(ngu.memory.embeddings[env, :len(episode)], phi_ngu[episode])
            assert bool(empty_rows(noveld)[env]) == (not episode)


# -- training the embedding ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["e3b", "ngu"])
def test_update_is_one_adam_step_on_every_valid_transition(name):
    """As the e3b repository trains φ: one step per batch given, on all its valid transitions."""
    states = np.arange(13) % NUM_STATES
    transitions = batch(states[:-1].reshape(4, 3), states[1:].reshape(4, 3), valid=np.arange(12).reshape(4, 3) % 5 != 0)
    bonus = BONUSES[name](fake_env(3))
    by_hand = copy.deepcopy(bonus.embedding)
    loss = bonus.update(transitions)["inverse_loss"]

    valid = transitions.flat_valid()
    obs, action, next_obs = valid.obs[0], valid.action[0], valid.next_obs[0]
    by_hand.obs_rms.update(next_obs)
    predicted = by_hand.inverse(torch.cat([by_hand(obs), by_hand(next_obs)], dim=-1))
    expected = torch.nn.functional.cross_entropy(predicted, action.long())
    optimizer = torch.optim.Adam(by_hand.parameters(), lr=1e-3)
    expected.backward()
    optimizer.step()
    assert loss == pytest.approx(expected.item())
    assert [state["step"].item() for state in bonus.optimizer.state.values()] == [1.0] * len(
        list(bonus.embedding.parameters()))
    for trained, reference in zip(bonus.embedding.parameters(), by_hand.parameters()):
        torch.testing.assert_close(trained, reference)


# -- saving and loading --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BONUSES))
def test_state_dict_round_trip_gives_a_copy_that_computes_the_same_bonuses(name):
    rng = np.random.default_rng(1)

    def random_batch() -> Transitions:
        states = rng.integers(0, NUM_STATES, (5, 3))
        return batch(states[:-1], states[1:], terminated=rng.random((4, 3)) < 0.3, valid=rng.random((4, 3)) < 0.9)

    original, copy_ = BONUSES[name](fake_env(3)), BONUSES[name](fake_env(3))
    for _ in range(3):
        transitions = random_batch()
        original.compute(transitions)
        original.update(transitions)
    copy_.load_state_dict(original.state_dict())
    for _ in range(2):
        transitions = random_batch()
        torch.testing.assert_close(copy_.compute(transitions), original.compute(transitions), rtol=0, atol=0)


# -- inside IntrinsicReward ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["NextStep", "SameStep", "Disabled"])
@pytest.mark.parametrize("env_id", ["rewardgym/GridMaze-v0", "rewardgym/PointMaze-v1"])
@pytest.mark.parametrize("name", list(BONUSES))
def test_every_bonus_runs_inside_intrinsic_reward_in_every_autoreset_mode(name, env_id, mode):
    env = gym.make_vec(env_id, num_envs=8, autoreset_mode=mode, max_episode_steps=4, **EASY_KWARGS[env_id])
    bonus = BONUSES[name](env)
    wrapped = IntrinsicReward(env, bonus, update_every=4)
    wrapped.reset(seed=0)
    env.action_space.seed(0)
    ended = 0
    for _ in range(20):
        _, reward, terminated, truncated, info = wrapped.step(env.action_space.sample())
        done = terminated | truncated
        assert torch.isfinite(reward).all() and torch.isfinite(info["bonus"]).all()
        if bonus.episodic:  # cleared right at the ending step, through the wrapper
            assert empty_rows(bonus)[done].all()
        ended += int(done.sum())
        if mode == "Disabled" and bool(done.any()):
            wrapped.reset(options={"reset_mask": done.numpy()})
    assert ended >= 8
