"""The maze experiment: PPO on one GridMaze level under several rewards, trained, evaluated, plotted.

``benchmarks/learning/maze.py`` runs it in full (results in ``results/``); ``rewardgym demo`` runs
its quick version. Each run trains PPO (``hyperparams/ppo.yaml``) with ``training.train`` and is
evaluated on the sparse task (success rate over 100 episodes, Wilson 95% interval).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from rewardgym.agents.training import RunConfig, evaluate, train  # noqa: E402

ENV_ID = "rewardgym/GridMaze-v0"
ENV_KWARGS = {"size": 6, "num_levels": 1, "generator": "dfs"}
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
    label: str, reward: str, bonus: str | None, seed: int, steps: int, out: Path, env_kwargs: dict | None = None
) -> tuple[dict, list]:
    """Train and evaluate one configuration and seed under ``out/runs``; the CSV row and the curve."""
    size = (env_kwargs or ENV_KWARGS)["size"]
    run_dir = out / "runs" / f"size{size}_{label.replace(' ', '_').replace('+', 'plus')}_seed{seed}"
    config = RunConfig(env_id=ENV_ID, algo="ppo", reward=reward, bonus=bonus, steps=steps, seed=seed,
                       checkpoint_every=steps, env_kwargs=env_kwargs or ENV_KWARGS)
    curve = SuccessCurve()
    started = time.time()
    train(config, run_dir, progress_bar=False, callbacks=[curve])
    result = evaluate(run_dir, episodes=100)
    low, high = result["success_rate_95ci"]
    row = {"configuration": label, "reward": reward, "bonus": bonus or "", "seed": seed, "steps": steps,
           "success_rate": result["success_rate"], "success_low": low, "success_high": high,
           "sparse_return": result["return_mean"], "minutes": (time.time() - started) / 60}
    print(f"{label:>20} seed {seed}: success {row['success_rate']:.2f} ({low:.2f}-{high:.2f}) "
          f"in {row['minutes']:.1f} min", flush=True)
    return row, curve.points


def plot(curves: dict[str, list[list[tuple[int, float]]]], path: Path, steps: int, env_kwargs: dict) -> None:
    """Training success rate against env steps, mean over seeds, one line per configuration."""
    figure, axes = plt.subplots(figsize=(7, 4))
    grid = np.linspace(0, steps, 50)
    for label, runs in curves.items():
        interpolated = [np.interp(grid, *zip(*points), left=0.0) for points in runs if points]
        if interpolated:
            axes.plot(grid, np.mean(interpolated, axis=0), label=label)
    axes.set_xlabel("env steps")
    axes.set_ylabel("training success rate")
    axes.set_title(f"PPO on {ENV_ID} {env_kwargs}", fontsize=9)
    axes.set_ylim(-0.02, 1.02)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def markdown(rows: list[dict]) -> str:
    """A markdown table of the runs, one line per configuration."""
    lines = ["| configuration | success rate (mean over seeds) | per seed (95% CI) | sparse return |",
             "|---|---:|---|---:|"]
    for label in dict.fromkeys(row["configuration"] for row in rows):
        mine = [row for row in rows if row["configuration"] == label]
        seeds = ", ".join(f"{r['success_rate']:.2f} ({r['success_low']:.2f}–{r['success_high']:.2f})" for r in mine)
        lines.append(f"| {label} | {np.mean([r['success_rate'] for r in mine]):.2f} | {seeds} | "
                     f"{np.mean([r['sparse_return'] for r in mine]):.2f} |")
    return "\n".join(lines)


def run_experiment(
    configurations: list[tuple[str, str, str | None]],
    seeds: list[int],
    steps: int,
    out: Path,
    env_kwargs: dict | None = None,
    name: str = "maze",
) -> list[dict]:
    """Run every configuration for every seed; write ``<name>.csv`` and ``<name>.png`` to ``out``."""
    env_kwargs = env_kwargs or ENV_KWARGS
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for label, reward, bonus in configurations:
        for seed in seeds:
            row, points = run_one(label, reward, bonus, seed, steps, out, env_kwargs)
            rows.append(row)
            curves.setdefault(label, []).append(points)
    with open(out / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(curves, out / f"{name}.png", steps, env_kwargs)
    return rows
