"""fast-ppo runs: per-seed run directories, checkpoints that hold everything, resume, the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from rewardgym.agents import fast_ppo_run
from rewardgym.agents.training import RunConfig

SMALL = {"num_steps": 8, "num_minibatches": 2, "update_epochs": 2, "hidden": [16]}


def config(**changes) -> RunConfig:
    base = RunConfig("rewardgym/DeepSea-v0", algo="fast-ppo", bonus="rnd", bonus_coef=0.5, steps=16 * 8 * 3,
                     num_envs=16, checkpoint_every=16 * 8, env_kwargs={"size": 4}, hyperparameters=SMALL)
    return replace(base, **changes)


def assert_same(a, b, path: str = "") -> None:
    """Nested dicts/lists of tensors and plain values are equal, tensor by tensor."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{index}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def test_each_seed_gets_a_run_directory_and_a_resumed_run_holds_the_checkpoint_state(tmp_path):
    algo = fast_ppo_run.train_seeds(config(), [3, 4], tmp_path, progress_bar=False)
    for seed in (3, 4):
        run_dir = tmp_path / f"seed_{seed}"
        assert RunConfig.load(run_dir).seed == seed
        assert [steps for steps, _ in fast_ppo_run.checkpoints(run_dir)] == [256, 384]
        assert any((run_dir / "tensorboard").iterdir())
    saved = [torch.load(fast_ppo_run.checkpoints(tmp_path / f"seed_{s}")[-1][1], weights_only=False) for s in (3, 4)]
    assert_same({k: v for k, v in saved[1].items() if k != "restart"}, algo.state_dict(1))

    resumed = fast_ppo_run.train_seeds(config(), [3, 4], tmp_path, resume=True, progress_bar=False)
    for k in range(2):  # the budget was reached: nothing trained, the learner is the checkpoint's
        assert_same(resumed.state_dict(k), {key: v for key, v in saved[k].items() if key != "restart"})


def test_resume_continues_with_fresh_env_seeds(tmp_path):
    fast_ppo_run.train_seeds(config(steps=128), [0], tmp_path, progress_bar=False)
    run_config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    run_config["steps"] = 384
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(run_config))
    resumed = fast_ppo_run.train_seeds(config(), [0], tmp_path, resume=True, progress_bar=False)
    assert resumed.env_steps == 384 and resumed.updates == 3
    assert torch.load(fast_ppo_run.checkpoints(tmp_path)[-1][1], weights_only=False)["restart"] == 1


def test_greedy_evaluation_plays_one_episode_per_row_on_unseen_env_seeds(tmp_path):
    algo = fast_ppo_run.train_seeds(config(bonus=None), [0, 1], tmp_path, progress_bar=False)
    rates = fast_ppo_run.greedy_success(algo, "rewardgym/DeepSea-v0", {"size": 4}, rows=32)
    assert rates.shape == (2,) and bool(((rates >= 0) & (rates <= 1)).all())
    result = fast_ppo_run.evaluate_run(tmp_path / "seed_1", rows=32)
    assert result["episodes"] == 32 and result["seed"] == 1
    assert (tmp_path / "seed_1" / "eval.json").exists()


def test_ctrl_c_checkpoints_and_the_command_resumes(tmp_path):
    command = [sys.executable, "-m", "rewardgym", "train", "DeepSea-v0", "--algo", "fast-ppo", "--seeds", "2",
               "--steps", "10000000", "--num-envs", "16", "--checkpoint-every", "100000000",
               "--env-kwargs", "size=4", "--eval-episodes", "8", "--out", str(tmp_path)]
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not list(tmp_path.glob("seed_1/tensorboard/*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 130, output
    steps = [fast_ppo_run.checkpoints(tmp_path / f"seed_{s}")[-1][0] for s in (0, 1)]
    assert steps[0] == steps[1] > 0

    for seed in (0, 1):  # a smaller budget, so that the resumed run finishes at once
        run_config = yaml.safe_load((tmp_path / f"seed_{seed}" / "config.yaml").read_text())
        run_config["steps"] = steps[0] + 16 * 32
        (tmp_path / f"seed_{seed}" / "config.yaml").write_text(yaml.safe_dump(run_config))
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert fast_ppo_run.checkpoints(tmp_path / "seed_1")[-1][0] == steps[0] + 16 * 32
    assert (tmp_path / "seed_1" / "eval.json").exists()


def test_render_a_fast_ppo_run(tmp_path):
    fast_ppo_run.train_seeds(config(bonus=None, steps=128), [0], tmp_path, progress_bar=False)
    from rewardgym.cli import main

    assert main(["render", str(tmp_path), "--out", str(tmp_path / "episode.gif")]) == 0
    assert (tmp_path / "episode.gif").stat().st_size > 0


def test_unknown_hyperparameters_fail_before_training(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown fast-ppo hyperparameters"):
        fast_ppo_run.train_seeds(config(hyperparameters={**SMALL, "lr": 1.0}), [0], tmp_path, progress_bar=False)
    with pytest.raises(ValueError, match="steps"):
        fast_ppo_run.train_seeds(config(steps=-5), [0], tmp_path, progress_bar=False)
    with pytest.raises(ValueError, match="num_envs"):
        fast_ppo_run.train_seeds(config(num_envs=0), [0], tmp_path, progress_bar=False)
    assert not Path(tmp_path / "checkpoints").exists()
