"""Every task needs a policy, and has one: trivial policies fail, the oracle succeeds.

Over every registered id with default arguments, one episode in each of ``ROWS`` envs: no
constant action and not the uniform random policy exceeds the env's ``trivial_success`` (0.10
unless its docstring states a higher figure and why), and the env's oracle reaches 0.90, so no task
passes by becoming unsolvable. (An env with more than 64 constant actions, Construct's 1,984,
tries each on 32 envs: ``evaluation.floor_success``.)
"""

import gymnasium as gym
import pytest

import rewardgym  # noqa: F401
from rewardgym.core.registration import registered_ids
from rewardgym.evaluation import floor_success, oracle_success

ROWS = 128
ORACLE_LEVEL = 0.90


def env_class(env_id):
    env = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
    cls = type(env.unwrapped)
    env.close()
    return cls


@pytest.mark.parametrize("env_id", registered_ids())
def test_no_trivial_policy_solves_the_task(env_id):
    cls = env_class(env_id)
    if cls.trivial_success > 0.10:
        assert f"{cls.trivial_success:.2f}" in cls.__doc__, "a higher floor must be stated in the docstring"
    floors = floor_success(env_id, {}, range(ROWS))
    too_high = {name: round(float(s.float().mean()), 3) for name, s in floors.items()
                if float(s.float().mean()) > cls.trivial_success}
    assert not too_high, f"{env_id}: trivial policies above {cls.trivial_success}: {too_high}"


@pytest.mark.parametrize("env_id", registered_ids())
def test_the_oracle_solves_the_task(env_id):
    success = oracle_success(env_id, {}, range(ROWS))
    assert success is not None, f"{env_id} has no oracle"
    assert float(success.float().mean()) >= ORACLE_LEVEL
