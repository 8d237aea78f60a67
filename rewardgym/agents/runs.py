"""Runs of any algorithm: fast-ppo trains its seeds together (``fast_ppo_run``), SB3 one by one (``training``).

The report and the sweep runners train through ``train_and_evaluate``, and ``rewardgym eval``
evaluates through ``evaluate_any``, so that every caller resumes, checkpoints and evaluates a
run the same way whatever its algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rewardgym.agents import fast_ppo_run, training
from rewardgym.agents.training import RunConfig
from rewardgym.evaluation import EVAL_ROWS


def has_checkpoint(run_dir: Path, algo: str) -> bool:
    """Whether the run directory holds a checkpoint to resume from."""
    if not Path(run_dir).exists():
        return False
    if algo == "fast-ppo":
        return bool(fast_ppo_run.checkpoints(run_dir))
    return training.latest_checkpoint(Path(run_dir)) is not None


def train_and_evaluate(config: RunConfig, seeds: Sequence[int], out: Path, eval_rows: int = EVAL_ROWS,
                       device: str = "cpu", on_checkpoint: Callable[[int], None] | None = None) -> list[float]:
    """Train ``seeds`` of the resolved run configuration ``config`` and return each seed's success rate.

    Each seed's run directory is ``fast_ppo_run.seed_directories(out, seeds)``; a seed with a
    checkpoint there resumes from it (fast-ppo resumes only if every seed has one). Every run ends
    evaluated, its ``eval.json`` written (one greedy episode in each of ``eval_rows`` fresh envs).
    ``on_checkpoint(env_steps)`` is called after each checkpoint is written.
    """
    run_dirs = fast_ppo_run.seed_directories(out, seeds)
    if config.algo == "fast-ppo":
        resume = all(has_checkpoint(run_dir, config.algo) for run_dir in run_dirs)
        algo = fast_ppo_run.train_seeds(config, seeds, out, resume=resume, progress_bar=False, device=device,
                                        resolved=True, on_checkpoint=on_checkpoint)
        return [result["success_rate"] for result in fast_ppo_run.evaluate_seeds(algo, config, run_dirs, eval_rows)]
    success = []
    for seed, run_dir in zip(seeds, run_dirs):
        if not (run_dir / "model.zip").exists():
            training.train(replace(config, seed=int(seed)), run_dir, resume=has_checkpoint(run_dir, config.algo),
                           progress_bar=False, resolved=True, on_checkpoint=on_checkpoint)
        success.append(training.evaluate(run_dir, rows=eval_rows)["success_rate"])
    return success


def evaluate_any(run_dir: Path, rows: int = EVAL_ROWS) -> dict[str, Any]:
    """Evaluate a run of any algorithm on the sparse task: one greedy episode in each of ``rows`` fresh envs."""
    if RunConfig.load(run_dir).algo == "fast-ppo":
        return fast_ppo_run.evaluate_run(run_dir, rows=rows)
    return training.evaluate(run_dir, rows=rows)
