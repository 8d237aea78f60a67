"""fast-ppo runs: one run directory per seed, checkpoints, resume, TensorBoard, evaluation.

``train_seeds(config, seeds, out)`` trains the seeds together in one ``FastPPO`` and gives each
seed the run directory an SB3 run has (``training.py``), so ``rewardgym eval``, ``render`` and
``--resume`` work per seed:

    config.yaml          the resolved ``RunConfig`` of this seed (algo ``fast-ppo``)
    checkpoints/         state_<steps>.pt: the seed's whole learner state (policy, optimiser, random
                         stream, bonus model and optimiser, normalisers), every checkpoint_every steps
    tensorboard/         the seed's training curves
    eval.json            what ``evaluate_run`` measured

Ctrl-C stops training after the current update, writes a checkpoint and raises KeyboardInterrupt;
a resumed run restarts its envs' episodes (on fresh env seeds) and continues the learner exactly.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig, env_seeds
from rewardgym.agents.training import RUN_KEYS, RunConfig, write_atomically, write_json
from rewardgym.core.validation import check_int
from rewardgym.evaluation import EVAL_RESTART, EVAL_ROWS, held_out_kwargs, success_per_row
from rewardgym.policies import BatchPolicy, PolicyFactory


def seed_directories(out: Path, seeds: Sequence[int]) -> list[Path]:
    """One run directory per seed: ``out`` itself for a single seed, else ``out/seed_<k>``."""
    return [Path(out)] if len(seeds) == 1 else [Path(out) / f"seed_{seed}" for seed in seeds]


def build(config: RunConfig, seeds: Sequence[int], restart: int = 0, device: str = "cpu") -> FastPPO:
    """The ``FastPPO`` of a resolved fast-ppo ``RunConfig`` for ``seeds``."""
    check_int("steps", config.steps, 1)
    check_int("checkpoint_every", config.checkpoint_every, 1)
    hyper = {key: value for key, value in config.hyperparameters.items() if key not in RUN_KEYS}
    ppo_config = FastPPOConfig.from_dict({**hyper, "num_envs": config.num_envs})
    return FastPPO(config.env_id, seeds, ppo_config, reward=config.reward, bonus=config.bonus,
                   bonus_coef=config.bonus_coef, env_kwargs=config.env_kwargs, device=device, restart=restart)


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """The run's checkpoints as (steps, path), oldest first."""
    found = [(int(m.group(1)), p) for p in (Path(run_dir) / "checkpoints").glob("state_*.pt")
             if (m := re.fullmatch(r"state_(\d+)\.pt", p.name))]
    return sorted(found)


def save_checkpoint(algo: FastPPO, run_dirs: Sequence[Path], restart: int, keep: int = 2) -> None:
    """Write each seed's learner state; a file appears only once whole, and the oldest beyond ``keep`` go."""
    for k, run_dir in enumerate(run_dirs):
        folder = run_dir / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        state = {**algo.state_dict(k), "restart": restart}
        write_atomically(folder / f"state_{algo.env_steps}.pt", lambda partial: torch.save(state, partial))
        for _, old in checkpoints(run_dir)[:-keep]:
            old.unlink()


@contextmanager
def stop_on_ctrl_c() -> Iterator[dict[str, bool]]:
    """Within the block, the first Ctrl-C only sets ``flag["stop"]``; a second one interrupts at once."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: Any) -> None:
        flag["stop"] = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class TensorBoardLog:
    """One TensorBoard writer per seed; ``write`` logs an update's per-seed metrics."""

    def __init__(self, run_dirs: Sequence[Path]):
        from torch.utils.tensorboard import SummaryWriter

        self.writers = [SummaryWriter(str(run_dir / "tensorboard")) for run_dir in run_dirs]

    def write(self, algo: FastPPO, metrics: dict[str, torch.Tensor], steps_per_second: float) -> None:
        episodes = algo.episode_statistics()
        scalars = {f"train/{name}": value for name, value in metrics.items()}
        scalars.update({"rollout/ep_rew_mean": episodes["return"], "rollout/success_rate": episodes["success"],
                        "rollout/episodes": episodes["episodes"]})
        for k, writer in enumerate(self.writers):
            for name, values in scalars.items():
                value = float(values[k])
                if np.isfinite(value):
                    writer.add_scalar(name, value, algo.env_steps)
            writer.add_scalar("time/steps_per_second", steps_per_second, algo.env_steps)

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def train_seeds(config: RunConfig, seeds: Sequence[int], out: Path, resume: bool = False,
                progress_bar: bool = True, device: str = "cpu", resolved: bool = False,
                on_checkpoint: Callable[[int], None] | None = None) -> FastPPO:
    """Train (or, with ``resume``, continue) ``seeds`` of a fast-ppo run together; returns the algorithm.

    ``config.steps`` and ``config.num_envs`` are per seed. Each seed's directory gets its config,
    checkpoints, TensorBoard log; evaluate them with ``evaluate_run``. A new run fills ``config`` in
    from ``hyperparams/fast-ppo.yaml`` unless ``resolved`` says it already was (a report's pinned
    configuration). ``on_checkpoint(env_steps)`` is called after every checkpoint is written (a
    sweep on Ray hands the run directory to Tune there).
    """
    run_dirs = seed_directories(out, seeds)
    if resume:
        configs = [RunConfig.load(run_dir) for run_dir in run_dirs]
        config = configs[0]
        if any(replace(c, seed=0) != replace(config, seed=0) for c in configs):
            raise ValueError(f"the runs under {out} differ in more than their seed; resume them separately")
        states = [torch.load(checkpoints(run_dir)[-1][1], weights_only=False) for run_dir in run_dirs]
        restart = states[0]["restart"] + 1
        algo = build(config, seeds, restart, device)
        algo.load_state_dict(states)
    else:
        config = replace(config, algo="fast-ppo")
        config = config if resolved else config.resolved()
        restart = 0
        algo = build(config, seeds, restart, device)  # a bad configuration fails here, before anything is written
        for seed, run_dir in zip(seeds, run_dirs):
            run_dir.mkdir(parents=True, exist_ok=True)
            replace(config, seed=int(seed)).save(run_dir)

    log = TensorBoardLog(run_dirs)
    next_checkpoint = (algo.env_steps // config.checkpoint_every + 1) * config.checkpoint_every
    started, steps_at_start = time.perf_counter(), algo.env_steps
    columns = [TextColumn(f"fast-ppo {config.env_id} × {len(seeds)} seeds"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[speed]}"), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress_bar) as progress, stop_on_ctrl_c() as ctrl_c:
        task = progress.add_task("train", total=config.steps, completed=algo.env_steps, speed="")
        while algo.env_steps < config.steps and not ctrl_c["stop"]:
            metrics = algo.update(algo.collect())
            speed = (algo.env_steps - steps_at_start) * len(seeds) / (time.perf_counter() - started)
            log.write(algo, metrics, speed)
            progress.update(task, completed=algo.env_steps, speed=f"{speed:,.0f} steps/s")
            if algo.env_steps >= next_checkpoint:
                save_checkpoint(algo, run_dirs, restart)
                log.flush()
                if on_checkpoint is not None:
                    on_checkpoint(algo.env_steps)
                next_checkpoint += config.checkpoint_every
    save_checkpoint(algo, run_dirs, restart)
    log.close()
    if on_checkpoint is not None:
        on_checkpoint(algo.env_steps)
    if ctrl_c["stop"]:
        raise KeyboardInterrupt
    return algo


def load_run(run_dir: Path, device: str = "cpu") -> tuple[RunConfig, FastPPO]:
    """A fast-ppo run's config and its learner (one seed) as of its newest checkpoint."""
    config = RunConfig.load(run_dir)
    found = checkpoints(run_dir)
    if not found:
        raise ValueError(f"{run_dir} has no fast-ppo checkpoint (checkpoints/state_*.pt)")
    algo = build(config, [config.seed], device=device)
    algo.load_state_dict([torch.load(found[-1][1], weights_only=False)])
    return config, algo


def greedy_policy(algo: FastPPO) -> PolicyFactory:
    """The greedy policies of all ``algo``'s seeds as one batch policy: seed k acts in the k-th block of rows."""
    S = len(algo.seeds)

    def make(env: Any) -> BatchPolicy:
        rows = env.num_envs // S
        stack = torch.zeros(S, rows, *algo.stacked_shape(), dtype=algo.dtype, device=algo.device)

        def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
            nonlocal stack
            stack = algo.push(stack, algo.frames(observation, S), started.reshape(S, rows))
            return algo.act(stack, info.get("action_mask"))

        return act

    return make


def greedy_success(algo: FastPPO, env_id: str, env_kwargs: dict[str, Any], rows: int = EVAL_ROWS,
                   held_out: bool = True) -> torch.Tensor:
    """Per seed, the success rate of its greedy policy: one episode in each of ``rows`` fresh envs.

    As ``evaluation.evaluate_policy`` for every seed at once: rows play the seed's evaluation env
    seeds, on held-out levels unless ``held_out`` is False.
    """
    kwargs = held_out_kwargs(env_id, env_kwargs) if held_out else env_kwargs
    seeds = [s for run_seed in algo.seeds for s in env_seeds(run_seed, rows, EVAL_RESTART)]
    success = success_per_row(env_id, kwargs, seeds, greedy_policy(algo), device=algo.device)
    return success.reshape(len(algo.seeds), rows).float().mean(1)


def evaluate_seeds(algo: FastPPO, config: RunConfig, run_dirs: Sequence[Path], rows: int = EVAL_ROWS) -> list[dict[str, Any]]:
    """Each seed's greedy success rate (``greedy_success``), written to its run directory's ``eval.json``."""
    rates = greedy_success(algo, config.env_id, config.env_kwargs, rows).tolist()
    results = []
    for seed, run_dir, rate in zip(algo.seeds, run_dirs, rates):
        result = {"run": str(run_dir), "env_id": config.env_id, "algo": "fast-ppo", "reward": config.reward,
                  "bonus": config.bonus, "seed": int(seed), "steps": algo.env_steps, "episodes": rows,
                  "success_rate": rate}
        write_json(Path(run_dir) / "eval.json", result, indent=2)
        results.append(result)
    return results


def evaluate_run(run_dir: Path, rows: int = EVAL_ROWS) -> dict[str, Any]:
    """The greedy success rate of a fast-ppo run's newest checkpoint: one episode in each of ``rows`` fresh envs."""
    config, algo = load_run(run_dir)
    return evaluate_seeds(algo, config, [run_dir], rows)[0]


def single_env_policy(algo: FastPPO) -> Any:
    """A greedy policy for one gymnasium env's numpy observations (one episode: the frame stack starts empty)."""
    stack = torch.zeros(1, 1, *algo.stacked_shape(), dtype=algo.dtype, device=algo.device)
    started = torch.ones(1, 1, dtype=torch.bool, device=algo.device)

    def policy(observation: Any) -> Any:
        nonlocal stack, started
        batch = (({key: torch.as_tensor(value).unsqueeze(0) for key, value in observation.items()})
                 if isinstance(observation, dict) else torch.as_tensor(observation).unsqueeze(0))
        stack = algo.push(stack, algo.frames(batch, 1), started)
        started = torch.zeros_like(started)
        return algo.act(stack)[0].cpu().numpy()

    return policy

