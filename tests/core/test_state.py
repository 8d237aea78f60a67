"""Explicit env state: ``get_state()`` / ``set_state(state, rows)`` on every registered env.

A state put into other rows (of the same batch, another batch, another batch size, a single env)
and stepped with the same actions gives exactly the observations, rewards, ends and infos the
rows it came from give; bad input is a ``ValueError``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardgym.core import EnvState
from tests.conftest import EnvCase, assert_same, random_actions, row_of

SHORT = 6  # a time limit that makes the replays below cross episode boundaries


def is_manipulation(case: EnvCase) -> bool:
    return any(task in case.id for task in ("Reach", "Push", "PickPlace"))


def batch_actions(space, rows: int, steps: int, seed: int) -> list[np.ndarray]:
    """``steps`` batched actions (numpy, ``rows`` each), reproducibly."""
    per_row = [random_actions(space, steps, seed + row) for row in range(rows)]
    return [np.stack([per_row[row][t] for row in range(rows)]) for t in range(steps)]


def step_outputs(envs, actions: np.ndarray) -> tuple:
    observation, reward, terminated, truncated, info = envs.step(actions)
    return observation, reward, terminated, truncated, info


def assert_rows_replay(source, source_rows: list[int], target, target_rows: list[int], steps: int, seed: int) -> None:
    """Step both envs ``steps`` times, the target's rows taking the source rows' actions; compare those rows."""
    source_actions = batch_actions(source.single_action_space, source.num_envs, steps, seed)
    for t, actions in enumerate(source_actions):
        target_actions = batch_actions(target.single_action_space, target.num_envs, 1, 10_000 + t)[0]
        target_actions[target_rows] = actions[source_rows]
        expected = step_outputs(source, actions)
        got = step_outputs(target, target_actions)
        for i, j in zip(source_rows, target_rows):
            for name, a, b in zip(("observation", "reward", "terminated", "truncated", "info"), expected, got):
                assert_same(row_of(b, j), row_of(a, i), f"step {t}, source row {i} -> target row {j}: {name}")


def replay_steps(case: EnvCase) -> int:
    return 8 if is_manipulation(case) else 3 * SHORT


def test_state_set_into_other_rows_replays_the_same_steps(case):
    rows = 4 if is_manipulation(case) else 8
    source = case.make_vec(num_envs=rows, max_episode_steps=SHORT)
    source.reset(seed=1)
    for actions in batch_actions(source.single_action_space, rows, SHORT + 2, seed=3):
        observation, *_, info = source.step(actions)  # mid-episode in some rows, just restarted in others
    state = source.get_state()
    target = case.make_vec(num_envs=rows, max_episode_steps=SHORT)
    target.reset(seed=500)
    order = list(reversed(range(rows)))
    restored_observation, restored_info = target.set_state(state, rows=order)  # target row order[i] takes row i
    for i, j in enumerate(order):
        assert_same(row_of(restored_observation, j), row_of(observation, i), f"observation of row {i} restored")
        for name, value in restored_info.items():
            assert_same(row_of(value, j), row_of(info[name], i), f"info {name} of row {i} restored")
    assert_rows_replay(source, list(range(rows)), target, order, replay_steps(case), seed=7)


def test_state_from_a_large_batch_restores_into_a_small_one(case):
    large, small = (8, 2) if is_manipulation(case) else (64, 8)
    source = case.make_vec(num_envs=large, max_episode_steps=SHORT)
    source.reset(seed=2)
    for actions in batch_actions(source.single_action_space, large, 3, seed=5):
        source.step(actions)
    first = large - small
    target = case.make_vec(num_envs=small, max_episode_steps=SHORT)
    target.set_state(source.get_state()[first:])  # a never-reset env takes a state too
    assert_rows_replay(source, list(range(first, large)), target, list(range(small)), replay_steps(case), seed=9)


def test_a_single_env_takes_a_row_of_a_batch_state(case):
    batch = case.make_vec(num_envs=3)
    batch.reset(seed=4)
    for actions in batch_actions(batch.single_action_space, 3, 2, seed=6):
        batch.step(actions)
    single = case.make_single()
    single.reset(seed=99)
    single.set_state(batch.get_state()[1])
    assert len(single.get_state()) == 1
    actions = batch_actions(batch.single_action_space, 3, 4, seed=8)
    for t, action in enumerate(actions):
        _, reward, terminated, truncated, info = batch.step(action)
        _, single_reward, single_terminated, single_truncated, single_info = single.step(action[1])
        assert (single_reward, single_terminated, single_truncated) == (
            float(reward[1]), bool(terminated[1]), bool(truncated[1])), f"step {t}"
        assert_same(single_info, row_of(info, 1), f"step {t}: info")
        if terminated[1] or truncated[1]:
            break


def test_a_saved_state_is_a_copy(case):
    envs = case.make_vec(num_envs=2)
    envs.reset(seed=0)
    state = envs.get_state()
    before = {name: value.clone() for name, value in state.tensors.items()}
    for actions in batch_actions(envs.single_action_space, 2, 3, seed=1):
        envs.step(actions)
    for name, value in state.tensors.items():
        assert torch.equal(value, before[name]), name


def test_bad_states_and_rows_are_rejected(case):
    envs = case.make_vec(num_envs=4)
    envs.reset(seed=0)
    state = envs.get_state()
    with pytest.raises(ValueError, match="rows"):
        envs.set_state(state[:2], rows=[0, 4])
    with pytest.raises(ValueError, match="repeat"):
        envs.set_state(state[:2], rows=[1, 1])
    with pytest.raises(ValueError, match="2 rows"):
        envs.set_state(state[:3], rows=[0, 1])
    with pytest.raises(ValueError, match="EnvState"):
        envs.set_state({"position": torch.zeros(4)})
    name = next(n for n in state.tensors if n.startswith("task."))
    wrong_shape = {**state.tensors, name: torch.zeros((4, 123), dtype=state.tensors[name].dtype)}
    with pytest.raises(ValueError, match=name):
        envs.set_state(EnvState(state.env, state.signature, wrong_shape))
    missing = {key: value for key, value in state.tensors.items() if key != name}
    with pytest.raises(ValueError, match="entries"):
        envs.set_state(EnvState(state.env, state.signature, missing))
    with pytest.raises(ValueError, match="belongs to"):
        envs.set_state(EnvState("SomeOtherEnv", state.signature, state.tensors))


def test_a_state_does_not_restore_into_another_configuration():
    import gymnasium as gym

    small = gym.make_vec("rewardgym/GridMaze-v0", num_envs=2, size=5)
    small.reset(seed=0)
    large = gym.make_vec("rewardgym/GridMaze-v0", num_envs=2, size=9)
    with pytest.raises(ValueError, match="size"):
        large.set_state(small.get_state())
    other_task = gym.make_vec("rewardgym/DeepSea-v0", num_envs=2)
    with pytest.raises(ValueError, match="belongs to"):
        other_task.set_state(small.get_state())


@pytest.mark.parametrize("backend", ["mujoco", pytest.param("pybullet", marks=pytest.mark.xfail(
    strict=True, reason="Bullet keeps per-pair contact points and their solver order, which its API can "
                        "neither read nor write: a restored state in contact replays to ~1e-3 after one step"))])
@pytest.mark.parametrize("task", ["Push", "PickPlace"])
def test_contact_rich_states_restore_exactly(task, backend):
    """States in contact (the scripted policy pushing or grasping the cube), restored into an env with
    another history and replayed under the same scripted actions, give the same observations."""
    import gymnasium as gym

    from rewardgym.policies import oracle

    make = lambda: gym.make_vec(f"rewardgym/{task}-v0", num_envs=4, backend=backend)  # noqa: E731
    source, target = make(), make()
    observation, info = source.reset(seed=0)
    target.reset(seed=50)
    for actions in batch_actions(target.single_action_space, 4, 7, seed=2):
        target.step(actions)  # a different history: contacts, resets and engine caches of its own
    act = oracle(source)
    started = torch.ones(4, dtype=torch.bool)
    for _ in range(20):  # far enough that the gripper is at or on the cube
        observation, _, terminated, truncated, info = source.step(act(observation, info, started))
        started = terminated | truncated
    target_observation, target_info = target.set_state(source.get_state())
    for t in range(6):
        action = act(observation, info, started)
        observation, reward, terminated, truncated, info = source.step(action)
        target_observation, target_reward, *_ = target.step(action)
        assert_same(row_of(target_observation, slice(None)), row_of(observation, slice(None)), f"step {t}")
        assert torch.equal(target_reward, reward), f"step {t}"
        started = terminated | truncated
