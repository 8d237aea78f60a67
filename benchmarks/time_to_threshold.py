"""Wall time until fast-ppo's greedy policy first succeeds in 90% of fresh episodes.

    python benchmarks/time_to_threshold.py [--tasks gridmaze9 deepsea40] [--seeds 0 1 … 9] [--budget 300]
        [--csv results/time_to_threshold.csv] [--out results/time_to_threshold.md]

Each (task, seed) is one single-seed fast-ppo run, timed from building the learner (envs and
networks) on. Every ``eval_every`` updates the clock stops, the greedy policy plays one episode
in each of 256 fresh envs (env seeds training never plays, sparse reward), and the clock starts
again; the run's time is the clock at the first evaluation of at least 90% success. A run
that has not reached it when the clock passes ``--budget`` seconds is censored at the budget.
Finished (task, seed) rows are kept in the CSV and not redone, so a stopped run resumes.

The tasks, their bonus and hyperparameters are fixed below, before the reported seeds 0–9 ran:
- ``gridmaze9``: GridMaze size 9, one level (top-down view), sparse reward + episodic count.
- ``deepsea40``: DeepSea N = 40, the run seed's action mapping (one MDP per seed, as bsuite),
  sparse (bsuite) reward + a global exact count.
- ``deepsea20``: the same at N = 20.
Pilots on seed 100 (120 s each): DeepSea N = 40 + count with lr 3e-4 (870k steps) and with lr
1e-3 and no entropy bonus (973k steps) never succeeded; GridMaze size 9 + episodic count did not
(1.39M steps); DeepSea N = 20 + count succeeded after 7 s (64k steps), and without a bonus did not
in 45 s. The configurations below are the pilots' first ones, unchanged.
Later pilots on seed 100 (120 s each, on an otherwise idle machine), none of which reached 90%, so
the configurations were not changed: DeepSea N = 40 + count with 4 minibatches (998k steps, 390
updates) and with 4 minibatches and lr 1e-3 (909k steps); GridMaze size 9 + a global count at
weight 0.5 (1.64M steps, 100 updates). On GridMaze's level 0 the uniform random policy reaches the
goal in 0 of 256 episodes at size 9 and at size 5, so the first success must come from the bonus.
- ``deepsea40-16``: DeepSea N = 40 + count with 16 envs and one minibatch per epoch, so that each
  update is cheaper and more of them fit in the time (learning here is bound by updates, not
  samples). Fixed after one pilot on seed 100, which reached 90% in 42 s (198k steps, 310 updates);
  then seeds 0–9 ran once and none reached 90% within 120 s. ``deepsea40`` keeps its rows beside it.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rewardgym.throughput import machine_line

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig
from rewardgym.agents.fast_ppo_run import greedy_success

THRESHOLD = 0.9
EVAL_ENVS = 256
COLUMNS = ["task", "seed", "bonus", "solved", "seconds", "env_steps", "updates", "last_success"]


@dataclass(frozen=True)
class Task:
    label: str
    env_id: str
    env_kwargs: dict[str, Any]
    bonus: str
    bonus_coef: float
    config: dict[str, Any]
    eval_every: int = 5
    seeded_kwargs: tuple[str, ...] = field(default=())  # env arguments set to the run seed

    def kwargs(self, seed: int) -> dict[str, Any]:
        return {**self.env_kwargs, **{name: seed for name in self.seeded_kwargs}}


TASKS = {
    "gridmaze9": Task("GridMaze size 9, one level, sparse + episodic count", "rewardgym/GridMaze-v0",
                      {"size": 9, "num_levels": 1}, "episodic-count", 0.1,
                      {"num_envs": 256, "num_steps": 64, "num_minibatches": 4, "update_epochs": 4}),
    "deepsea40": Task("DeepSea N = 40, sparse + count", "rewardgym/DeepSea-v0", {"size": 40}, "count", 1.0,
                      {"num_envs": 64, "num_steps": 40, "num_minibatches": 2, "update_epochs": 4},
                      seeded_kwargs=("mapping_seed",)),
    "deepsea40-16": Task("DeepSea N = 40, sparse + count, 16 envs", "rewardgym/DeepSea-v0", {"size": 40}, "count", 1.0,
                         {"num_envs": 16, "num_steps": 40, "num_minibatches": 1, "update_epochs": 4},
                         seeded_kwargs=("mapping_seed",)),
    "deepsea20": Task("DeepSea N = 20, sparse + count", "rewardgym/DeepSea-v0", {"size": 20}, "count", 1.0,
                      {"num_envs": 64, "num_steps": 20, "num_minibatches": 2, "update_epochs": 4},
                      seeded_kwargs=("mapping_seed",)),
}


def run_one(task: Task, seed: int, budget: float) -> dict[str, Any]:
    """Train one seed until the threshold or the budget; its CSV row."""
    clock = time.perf_counter()
    algo = FastPPO(task.env_id, [seed], FastPPOConfig(**task.config), bonus=task.bonus, bonus_coef=task.bonus_coef,
                   env_kwargs=task.kwargs(seed))
    elapsed, success = 0.0, 0.0
    while True:
        for _ in range(task.eval_every):
            algo.update(algo.collect())
        elapsed += time.perf_counter() - clock
        success = float(greedy_success(algo, task.env_id, task.kwargs(seed), EVAL_ENVS)[0])
        clock = time.perf_counter()
        print(f"{task.label} seed {seed}: {elapsed:6.1f} s, {algo.env_steps:,} steps, success {success:.2f}",
              flush=True)
        if success >= THRESHOLD or elapsed >= budget:
            break
    solved = success >= THRESHOLD and elapsed <= budget  # reached after the budget: censored all the same
    return {"seed": seed, "bonus": task.bonus, "solved": solved, "seconds": round(elapsed if solved else budget, 2),
            "env_steps": algo.env_steps, "updates": algo.updates, "last_success": success}


def summary(rows: list[dict[str, str]], budget: float) -> str:
    def show(seconds: float) -> str:
        return f">{budget:.0f}" if seconds >= budget else f"{seconds:.1f}"

    lines = ["| task | seeds | reached 90% | median s (IQR), censored at the budget "
             "| median env steps of those that reached it |",
             "|---|---:|---:|---|---:|"]
    for name, task in TASKS.items():
        mine = [r for r in rows if r["task"] == name]
        if not mine:
            continue
        seconds = np.array([float(r["seconds"]) for r in mine])
        solved = np.array([r["solved"] == "True" and float(r["seconds"]) <= budget for r in mine])
        seconds = np.minimum(seconds, budget)
        q1, median, q3 = np.percentile(seconds, [25, 50, 75])
        steps = np.median([int(r["env_steps"]) for r, ok in zip(mine, solved) if ok]) if solved.any() else float("nan")
        lines.append(f"| {task.label} | {len(mine)} | {solved.sum()} | {show(median)} ({show(q1)}–{show(q3)}) | "
                     f"{steps:,.0f} |")
    late = [r for r in rows if r["solved"] == "True" and float(r["seconds"]) > budget]
    lines += [f"\n{TASKS[r['task']].label}, seed {r['seed']}: reached 90% only at an evaluation after the budget "
              f"({float(r['seconds']):.1f} s, {int(r['env_steps']):,} steps), so it counts as censored." for r in late]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--budget", type=float, default=300.0, help="seconds before a run is censored")
    parser.add_argument("--csv", type=Path, default=Path("results/time_to_threshold.csv"))
    parser.add_argument("--out", type=Path, default=Path("results/time_to_threshold.md"))
    args = parser.parse_args(argv)

    rows = list(csv.DictReader(args.csv.open())) if args.csv.exists() else []
    done = {(r["task"], int(r["seed"])) for r in rows}
    for name in args.tasks:
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            row = {"task": name, **run_one(TASKS[name], seed, args.budget)}
            rows.append({key: str(value) for key, value in row.items()})
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            with args.csv.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
    command = shlex.join(["python", "benchmarks/time_to_threshold.py", *(argv if argv is not None else sys.argv[1:])])
    text = "\n".join(["# Time to 90% greedy success", "", machine_line(), "", summary(rows, args.budget), "",
                      f"Per-seed rows: `{args.csv}`. Produced by `{command}`."])
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
