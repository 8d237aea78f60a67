"""Golden trajectories: refactors of the core and the envs leave every id's trajectories as they were.

Each case (every id, and again under each of its variants) plays ``ROWS`` rows for ``STEPS`` steps
from one seed with fixed random actions and a short time limit, so the run crosses several episode
boundaries; observations, rewards, ends and every info value are compared with the recording in
``tests/core/golden/``. Integers and booleans must match exactly, floats to within float32
rounding.

Record anew only when a change is meant to change trajectories (and then the env gets a new
version): ``python -m tests.core.test_golden``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ENV_CASES, EnvCase, random_actions

GOLDEN = Path(__file__).parent / "golden"
ROWS, STEPS, TIME_LIMIT, SEED = 3, 24, 8, 21


def flatten(value, prefix: str) -> dict[str, np.ndarray]:
    """A nested dict of batched tensors as flat ``{"prefix.key": array}``."""
    if isinstance(value, dict):
        return {name: array for key, item in value.items() for name, array in flatten(item, f"{prefix}.{key}").items()}
    return {prefix: np.asarray(value.cpu() if hasattr(value, "cpu") else value)}


def play(case: EnvCase) -> dict[str, np.ndarray]:
    """Every step's outputs of the case's golden run, stacked over steps: ``{name: (STEPS + 1, ROWS, ...)}``."""
    envs = case.make_vec(num_envs=ROWS, max_episode_steps=TIME_LIMIT)
    observation, info = envs.reset(seed=SEED)
    per_row = [random_actions(envs.single_action_space, STEPS, SEED + row) for row in range(ROWS)]
    steps = [{**flatten(observation, "obs"), **flatten(info, "info")}]
    for t in range(STEPS):
        observation, reward, terminated, truncated, info = envs.step(np.stack([per_row[r][t] for r in range(ROWS)]))
        steps.append({**flatten(observation, "obs"), "reward": np.asarray(reward.cpu()),
                      "terminated": np.asarray(terminated.cpu()), "truncated": np.asarray(truncated.cpu()),
                      **flatten(info, "info")})
    envs.close()
    names = sorted({name for step in steps for name in step})
    return {f"{t}/{name}": step[name] for t, step in enumerate(steps) for name in names if name in step}


def golden_file(case: EnvCase) -> Path:
    return GOLDEN / (str(case).replace("rewardgym/", "").replace("/", "_").replace("[", "_").replace("]", "")
                     .replace(",", "_").replace("'", "").replace(" ", "") + ".npz")


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_trajectories_match_the_recording(case: EnvCase):
    recorded = np.load(golden_file(case))
    played = play(case)
    assert sorted(played) == sorted(recorded.files), "the outputs' names changed"
    for name in recorded.files:
        expected, got = recorded[name], played[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        if np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for case in ENV_CASES:
        np.savez_compressed(golden_file(case), **play(case))
        print(golden_file(case))
