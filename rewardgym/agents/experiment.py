"""Learning experiments: one env under several rewards and bonuses, trained, evaluated, plotted.

An ``Experiment`` names the env and algorithm; ``run_experiment`` trains every (configuration, seed)
with ``training.train`` (hyperparameters from ``hyperparams/<algo>.yaml``), evaluates each run on the
sparse task (``training.evaluate``: one episode in each of ``eval_episodes`` fresh envs), and writes a
CSV and a plot of training success curves. The seed is the unit: a table gives, per configuration,
the IQM of the seeds' success rates and its 95% bootstrap interval (``evaluation.iqm_interval``). The maze experiment (``MAZE``) is defined here because
``rewardgym demo`` runs its quick version; ``benchmarks/learning/*.py`` run the full experiments.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rewardgym.agents.training import RunConfig, evaluate, train
from rewardgym.evaluation import iqm_interval


@dataclass(frozen=True)
class Experiment:
    """What every run of an experiment shares: the env, the algorithm, the output file stem."""

    env_id: str
    env_kwargs: dict[str, Any]
    name: str
    algo: str = "ppo"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 256

    def with_env_kwargs(self, **changes: Any) -> Experiment:
        return replace(self, env_kwargs={**self.env_kwargs, **changes})


MAZE = Experiment("rewardgym/GridMaze-v0", {"size": 6, "num_levels": 1, "generator": "dfs"}, name="maze")
#: (label, reward, bonus)
CONFIGURATIONS = [
    ("sparse", "sparse", None),
    ("geodesic shaping", "shaped", None),
    ("euclidean shaping", "euclidean", None),
    ("sparse + count", "sparse", "count"),
    ("sparse + RND", "sparse", "rnd"),
    ("sparse + E3B", "sparse", "e3b"),
]
QUICK = ["sparse", "geodesic shaping"]


class SuccessCurve(BaseCallback):
    """The training success rate (SB3's window of the last 100 episodes) after every rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.model.ep_success_buffer:
            self.points.append((self.num_timesteps, float(np.mean(self.model.ep_success_buffer))))


def run_one(
    experiment: Experiment, label: str, reward: str, bonus: str | None, seed: int, steps: int, out: Path,
    callbacks: list[BaseCallback] | None = None,
) -> tuple[dict, list]:
    """Train and evaluate one configuration and seed under ``out/runs``; the CSV row and the curve.

    ``callbacks`` watch the training too (e.g. to record every episode's outcome).
    """
    run_dir = out / "runs" / f"{experiment.name}_{label.replace(' ', '_').replace('+', 'plus')}_seed{seed}"
    config = RunConfig(env_id=experiment.env_id, algo=experiment.algo, reward=reward, bonus=bonus, steps=steps,
                       seed=seed, checkpoint_every=steps, env_kwargs=experiment.env_kwargs,
                       hyperparameters=experiment.hyperparameters)
    curve = SuccessCurve()
    started = time.time()
    train(config, run_dir, progress_bar=False, callbacks=[curve, *(callbacks or [])])
    result = evaluate(run_dir, rows=experiment.eval_episodes)
    row = {"configuration": label, "reward": reward, "bonus": bonus or "", "seed": seed, "steps": steps,
           "success_rate": result["success_rate"], "minutes": (time.time() - started) / 60}
    print(f"{label:>20} seed {seed}: success {row['success_rate']:.2f} in {row['minutes']:.1f} min", flush=True)
    return row, curve.points


def plot_success_curves(axes: plt.Axes, curves: dict[str, list[list[tuple[int, float]]]], steps: int) -> None:
    """On ``axes``: training success rate against env steps, mean over seeds, one line per configuration."""
    grid = np.linspace(0, steps, 50)
    for label, runs in curves.items():
        interpolated = [np.interp(grid, *zip(*points), left=0.0) for points in runs if points]
        if interpolated:
            axes.plot(grid, np.mean(interpolated, axis=0), label=label)
    axes.set_xlabel("env steps")
    axes.set_ylim(-0.02, 1.02)


def plot(curves: dict[str, list[list[tuple[int, float]]]], path: Path, steps: int, experiment: Experiment) -> None:
    """Training success rate against env steps, mean over seeds, one line per configuration."""
    figure, axes = plt.subplots(figsize=(7, 4))
    plot_success_curves(axes, curves, steps)
    axes.set_ylabel("training success rate")
    axes.set_title(f"{experiment.algo.upper()} on {experiment.env_id} {experiment.env_kwargs}", fontsize=9)
    if axes.lines:  # a run too short to finish an episode has no curve
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def markdown(rows: list[dict]) -> str:
    """A markdown table of the runs, one line per configuration: IQM across seeds (95% CI) and each seed's rate."""
    lines = ["| configuration | seeds | success rate, IQM over seeds (95% CI) | per seed |", "|---|---:|---|---|"]
    for label in dict.fromkeys(row["configuration"] for row in rows):
        rates = np.array([row["success_rate"] for row in rows if row["configuration"] == label])
        middle, low, high = iqm_interval(rates)
        lines.append(f"| {label} | {len(rates)} | {middle:.2f} ({low:.2f}–{high:.2f}) | "
                     f"{' '.join(f'{rate:.2f}' for rate in rates)} |")
    return "\n".join(lines)


def run_experiment(
    experiment: Experiment,
    configurations: list[tuple[str, str, str | None]],
    seeds: list[int],
    steps: int,
    out: Path,
) -> list[dict]:
    """Run every (label, reward, bonus) configuration for every seed; write ``<name>.csv`` and ``.png`` to ``out``."""
    name = experiment.name
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for label, reward, bonus in configurations:
        for seed in seeds:
            row, points = run_one(experiment, label, reward, bonus, seed, steps, out)
            rows.append(row)
            curves.setdefault(label, []).append(points)
    with open(out / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(curves, out / f"{name}.png", steps, experiment)
    return rows
