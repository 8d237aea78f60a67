"""Training runs: checkpoints, resuming a killed run, Ctrl-C, evaluation, rendering and play; learner state and determinism."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from rewardgym.agents.intrinsic_callback import TwoHeadIntrinsicCallback
from rewardgym.agents.training import RunConfig, latest_checkpoint, prepare_run, train
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
    assert latest_checkpoint(out)[1] >= 1024 and list((out / "checkpoints").glob("model_learner_*.pt"))
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    result = json.loads((out / "eval.json").read_text())
    assert result["episodes"] == 8 and 0 <= result["success_rate"] <= 1
    assert "success rate" in capsys.readouterr().out

    assert main(["eval", str(out), "--episodes", "6"]) == 0
    assert json.loads((out / "eval.json").read_text())["episodes"] == 6
    assert main(["render", str(out), "--out", str(tmp_path / "policy.mp4")]) == 0
    assert (tmp_path / "policy.mp4").stat().st_size > 0


def test_render_an_env_with_random_actions(tmp_path):
    assert main(["render", "PointMaze-v1", "--out", str(tmp_path / "random.gif"), "--env-kwargs", "size=2"]) == 0
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


def test_a_her_run_evaluates_and_renders(tmp_path):
    """HER's replay buffer needs the env when a model is loaded: evaluation and rendering pass it."""
    out = tmp_path / "her"
    assert main(["train", "PointMaze-v1", "--algo", "her-sac", "--steps", "300", "--checkpoint-every", "300",
                 "--out", str(out), "--num-envs", "2", "--env-kwargs", "size=2", "--eval-episodes", "4"]) == 0
    assert json.loads((out / "eval.json").read_text())["episodes"] == 4
    assert main(["render", str(out), "--out", str(tmp_path / "her.gif")]) == 0
    assert (tmp_path / "her.gif").stat().st_size > 0


# -- learner state: resume and repeat --------------------------------------------------------------

SMALL = {
    "ppo": {"n_steps": 16, "batch_size": 32, "n_epochs": 2, "policy_kwargs": {"net_arch": [32]}},
    "dqn": {"learning_starts": 64, "buffer_size": 1000, "batch_size": 32, "train_freq": 4, "target_update_interval": 64,
            "policy_kwargs": {"net_arch": [32]}},
}


def small_run(algo: str, bonus: str, seed: int = 0, steps: int = 256) -> RunConfig:
    return RunConfig("rewardgym/GridMaze-v0", algo=algo, bonus=bonus, bonus_coef=1.0, steps=steps, seed=seed, num_envs=4,
                     checkpoint_every=10**6, env_kwargs={"size": 2, "num_levels": 1}, hyperparameters=SMALL[algo])


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two nested states (dicts, sequences, tensors, arrays, numbers) differ at all."""
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [found for key in a for found in differences(a[key], b[key], f"{path}/{key}")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} != {len(b)}"]
        return [found for index, (x, y) in enumerate(zip(a, b)) for found in differences(x, y, f"{path}/{index}")]
    if isinstance(a, torch.Tensor):
        return [] if a.shape == b.shape and torch.equal(a, b) else [path]
    if isinstance(a, np.ndarray):
        return [] if np.array_equal(a, b) else [path]
    return [] if a == b else [path]


def learner_file(run_dir: Path) -> dict[str, Any]:
    path, steps = latest_checkpoint(run_dir)
    return torch.load(path.with_name(f"model_learner_{steps}_steps.pt"), weights_only=False)


def test_a_resumed_two_head_run_starts_from_all_the_learner_state_of_its_checkpoint(tmp_path):
    config = small_run("ppo", "rnd")
    train(config, tmp_path / "run", progress_bar=False)
    saved = learner_file(tmp_path / "run")

    resumed = prepare_run(config, tmp_path / "run", resume=True)
    assert torch.equal(torch.get_rng_state(), saved["random"]["torch"])
    assert isinstance(resumed.intrinsic, TwoHeadIntrinsicCallback) and resumed.resumed
    state = resumed.intrinsic.state_dict()
    assert differences(state, saved["intrinsic"]) == []

    fresh = prepare_run(config, tmp_path / "fresh").intrinsic.state_dict()
    pieces = {  # each differs in a run that starts afresh: what a resume that forgot it would hold
        "critic": lambda s: s["critic"],
        "critic optimiser": lambda s: s["critic_optimizer"],
        "scale statistics": lambda s: s["stream"]["scale_statistics"],
        "discounted intrinsic return": lambda s: s["stream"]["discounted"],
        "predictor": lambda s: {k: v for k, v in s["stream"]["bonus"]["module"].items() if k.startswith("predictor.")},
        "predictor's optimiser": lambda s: s["stream"]["bonus"]["optimizers"],
        "generators": lambda s: [s["generator"], s["stream"]["generator"]],
    }
    for name, piece in pieces.items():
        assert differences(piece(fresh), piece(saved["intrinsic"])), name
        assert differences(piece(state), piece(saved["intrinsic"])) == [], name


@pytest.mark.parametrize(("algo", "bonus"), [("ppo", "rdd"), ("ppo", "e3b"), ("dqn", "rnd")])
def test_the_same_seed_repeats_a_run_with_a_bonus_bit_for_bit(tmp_path, algo, bonus):
    runs = {name: small_run(algo, bonus, seed=seed) for name, seed in [("first", 0), ("again", 0), ("other seed", 1)]}
    models = {name: train(config, tmp_path / name, progress_bar=False) for name, config in runs.items()}
    parameters = {name: model.policy.state_dict() for name, model in models.items()}
    learners = {name: learner_file(tmp_path / name)["intrinsic"] for name in runs}
    assert differences(parameters["first"], parameters["again"]) == []
    assert differences(learners["first"], learners["again"]) == []
    assert differences(parameters["first"], parameters["other seed"])


def test_an_off_policy_run_logs_the_extrinsic_return_and_the_intrinsic_one_apart(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = train(small_run("dqn", "count", steps=600), tmp_path, progress_bar=False)
    episodes = list(model.ep_info_buffer)
    assert len(episodes) >= 8
    assert all(episode["r"] in (0.0, 1.0) for episode in episodes)  # the sparse task reward: 1 on success only
    assert all(episode["r_intrinsic"] > 0 for episode in episodes)

    [events] = (tmp_path / "tensorboard").rglob("events.out.tfevents.*")
    logged = EventAccumulator(str(events)).Reload()
    extrinsic = [event.value for event in logged.Scalars("rollout/ep_rew_mean")]
    intrinsic = [event.value for event in logged.Scalars("intrinsic/ep_rew_mean")]
    assert extrinsic and all(0.0 <= value <= 1.0 for value in extrinsic)
    assert len(intrinsic) == len(extrinsic) and all(value > 0 for value in intrinsic)
