"""Property-based tests: random actions, reset options and constructor arguments either work or
raise a clear ValueError — never another exception, a hang, or a corrupted batch."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import ENV_CASES, ENV_IDS, EnvCase, assert_same, row_of

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUM_ENVS = 3

dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64,
                          np.bool_, np.complex64])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
arrays = dtypes.flatmap(lambda dtype: hnp.arrays(dtype, shapes))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5))
anything = st.one_of(scalars, arrays, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=5), scalars, max_size=2))


def plausible_actions(space) -> st.SearchStrategy:
    """Batches with the right shape but random dtype and values (the hard cases for validation)."""
    shape = (NUM_ENVS, *space.shape)
    return dtypes.flatmap(lambda dtype: hnp.arrays(dtype, shape))


def actions_for(case: EnvCase) -> st.SearchStrategy:
    space = case.make_vec(num_envs=NUM_ENVS).single_action_space
    return st.one_of(anything, plausible_actions(space), st.just(np.stack([space.sample() for _ in range(NUM_ENVS)])))


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_step_takes_any_input_or_raises_value_error_and_keeps_the_batch_intact(case):
    envs, reference = case.make_vec(num_envs=NUM_ENVS), case.make_vec(num_envs=NUM_ENVS)
    envs.reset(seed=0)
    reference.reset(seed=0)
    valid = np.stack([envs.single_action_space.sample() for _ in range(NUM_ENVS)])

    @PROPERTY_SETTINGS
    @given(actions=actions_for(case))
    def check(actions):
        try:
            result = envs.step(actions)
        except ValueError:
            result = None
        if result is not None:  # accepted: the reference takes the same step
            assert_same(row_of(result[0], slice(None)), row_of(reference.step(actions)[0], slice(None)))
        # rejected or not, both batches are still in the same state
        assert_same(row_of(envs.step(valid)[0], slice(None)), row_of(reference.step(valid)[0], slice(None)))

    check()


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_reset_takes_any_seed_and_options_or_raises_value_error(case):
    envs = case.make_vec(num_envs=NUM_ENVS, autoreset_mode="Disabled")
    masks = hnp.arrays(st.sampled_from([np.bool_, np.int64]), st.sampled_from([(NUM_ENVS,), (NUM_ENVS + 1,), ()]))
    options = st.one_of(st.none(), st.dictionaries(st.sampled_from(["reset_mask", "other"]), st.one_of(masks, anything), max_size=2))
    seeds = st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70), anything,
                      st.lists(st.integers(min_value=-5, max_value=2**64), min_size=NUM_ENVS, max_size=NUM_ENVS))

    @PROPERTY_SETTINGS
    @given(seed=seeds, options=options)
    def check(seed, options):
        try:
            observation, info = envs.reset(seed=seed, options=options)
        except ValueError:
            return
        assert isinstance(info, dict)
        envs.step(envs.action_space.sample())

    check()


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_constructor_takes_any_arguments_or_raises_value_error(case):
    vector_class = gym.envs.registration.load_env_creator(gym.spec(case.id).vector_entry_point)
    names = [*vector_class.argument_names(), "no_such_argument"]
    values = st.one_of(scalars, st.integers(min_value=-3, max_value=70), st.floats(min_value=-2, max_value=2),
                       st.sampled_from(["sparse", "shaped", "dense", "dfs", "wilson", "top_down", "egocentric",
                                        "rgb_array", "cpu", "NextStep", "SameStep", "Disabled"]))
    arguments = st.dictionaries(st.sampled_from(names), values, max_size=4)
    # Non-integers and small integers: a valid huge batch is legal and would only test the machine's memory.
    num_envs = st.one_of(st.integers(min_value=-2, max_value=5), st.none(), st.booleans(), st.floats(), st.text(max_size=3))

    @PROPERTY_SETTINGS
    @given(num_envs=num_envs, kwargs=arguments)
    def check(num_envs, kwargs):
        try:
            envs = vector_class(num_envs=num_envs, **{**case.kwargs, **kwargs})
        except ValueError:
            return
        observation, _ = envs.reset(seed=0)
        envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(
            {k: v.numpy() for k, v in observation.items()} if isinstance(observation, dict) else observation.numpy()
        )

    check()


def test_num_envs_has_an_upper_bound():
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(ENV_IDS[0], num_envs=2**40)


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_observations_stay_in_their_space(case):
    envs = case.make_vec(num_envs=16)
    observation, _ = envs.reset(seed=0)
    for _ in range(50):
        as_numpy = {k: v.numpy() for k, v in observation.items()} if isinstance(observation, dict) else observation.numpy()
        assert envs.observation_space.contains(as_numpy)
        observation = envs.step(envs.action_space.sample())[0]
    assert torch.is_tensor(observation) or isinstance(observation, dict)
