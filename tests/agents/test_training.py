"""Training runs: checkpoints, resuming a killed run, Ctrl-C, evaluation, rendering and play."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from rewardgym.agents.training import RunConfig, latest_checkpoint, train, wilson_interval
from rewardgym.cli import main

TINY = ["--num-envs", "4", "--env-kwargs", "size=2", "num_levels=1", "--eval-episodes", "8"]


def start_training(out: Path, steps: int, every: int, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "rewardgym", "train", "GridMaze-v0", "--steps", str(steps),
               "--checkpoint-every", str(every), "--out", str(out), *TINY, *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_checkpoint(out: Path, process: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = latest_checkpoint(out) if (out / "checkpoints").exists() else None
        if found is not None:
            return found[1]
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_resume_continues_an_interrupted_run_from_its_last_checkpoint(tmp_path, how):
    out = tmp_path / "run"
    process = start_training(out, steps=100_000, every=256)
    wait_for_checkpoint(out, process)
    process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    if how == "ctrl-c":
        assert process.returncode == 130, output
        assert "continue with --resume" in output
    _, saved_steps = latest_checkpoint(out)
    assert saved_steps > 0

    config = RunConfig.load(out)
    config.steps = saved_steps + 512
    config.save(out)  # a shorter target, so the resumed run ends soon
    model = train(config, out, resume=True, progress_bar=False)
    assert model.num_timesteps >= config.steps
    assert model.num_timesteps < config.steps + 4 * 128 + 1  # it went on from the checkpoint, not from zero
    assert PPO.load(out / "model.zip").num_timesteps == model.num_timesteps


def test_train_writes_config_checkpoints_tensorboard_and_evaluation(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "GridMaze-v0", "--steps", "1024", "--checkpoint-every", "512", "--reward", "shaped",
                 "--bonus", "count", "--out", str(out), *TINY]) == 0
    config = RunConfig.load(out)
    assert config.reward == "shaped" and config.bonus == "count" and config.hyperparameters["n_steps"] == 128
    assert latest_checkpoint(out)[1] >= 1024 and list((out / "checkpoints").glob("model_bonus_*.pt"))
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    result = json.loads((out / "eval.json").read_text())
    assert result["episodes"] == 8 and 0 <= result["success_rate"] <= 1
    assert "success rate" in capsys.readouterr().out

    assert main(["eval", str(out), "--episodes", "6"]) == 0
    assert json.loads((out / "eval.json").read_text())["episodes"] == 6
    assert main(["render", str(out), "--out", str(tmp_path / "policy.mp4")]) == 0
    assert (tmp_path / "policy.mp4").stat().st_size > 0


def test_render_an_env_with_random_actions(tmp_path):
    assert main(["render", "PointMaze-v0", "--out", str(tmp_path / "random.gif"), "--env-kwargs", "size=2"]) == 0
    assert (tmp_path / "random.gif").stat().st_size > 0


def test_play_hands_the_keyboard_bindings_to_gymnasium(monkeypatch):
    calls = {}
    monkeypatch.setattr("gymnasium.utils.play.play", lambda env, **kwargs: calls.update(env=env, **kwargs))
    assert main(["play", "GridMaze-v0", "--seed", "3"]) == 0
    assert set(calls["keys_to_action"].values()) == {0, 1, 2, 3}
    assert calls["env"].render_mode == "rgb_array" and calls["seed"] == 3


def test_unknown_algorithm_or_bonus_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="bonus"):
        train(RunConfig("rewardgym/GridMaze-v0", bonus="telepathy"), tmp_path)
    with pytest.raises(ValueError, match="algo"):
        train(RunConfig("rewardgym/GridMaze-v0", algo="a3c"), tmp_path)


def test_wilson_interval():
    low, high = wilson_interval(45, 50)
    assert 0.78 < low < 0.8 and 0.95 < high < 0.97
    assert wilson_interval(0, 10)[0] == 0.0


def test_a_her_run_evaluates_and_renders(tmp_path):
    """HER's replay buffer needs the env when a model is loaded: evaluation and rendering pass it."""
    out = tmp_path / "her"
    assert main(["train", "PointMaze-v0", "--algo", "her-sac", "--steps", "300", "--checkpoint-every", "300",
                 "--out", str(out), "--num-envs", "2", "--env-kwargs", "size=2", "--eval-episodes", "4"]) == 0
    assert json.loads((out / "eval.json").read_text())["episodes"] == 4
    assert main(["render", str(out), "--out", str(tmp_path / "her.gif")]) == 0
    assert (tmp_path / "her.gif").stat().st_size > 0
