"""Wall time of one 16-trial GridMaze sweep: the local runner vs Ray Tune on this machine vs trials one by one.

    python benchmarks/sweep_overhead.py [--repeats 3] [--steps 50000] [--out results/sweep_overhead.md]

The sweep is ``examples/sweep.yaml`` (GridMaze size 6: sparse and shaped rewards × no bonus and
a count bonus × 4 seeds = 16 trials) with ``--steps`` env steps per trial. Three ways to run it,
each from an empty directory, training and evaluating every trial:

- **one by one**: each trial trained alone in this process, one after another (the loop a
  researcher writes without a sweep tool);
- **local runner**: ``rewardgym sweep`` (``--runner local``): each configuration's 4 seeds in one
  fast-ppo batch;
- **Ray Tune**: ``--runner ray`` on a Ray started here, one trial per CPU, startup and shutdown
  included.

The rounds interleave the three ways and every figure is the median over ``--repeats`` rounds
(the machine's speed drifts between minutes; compare figures of one run only).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from rewardgym.agents.runs import train_and_evaluate
from rewardgym.sweep import load_sweep, run_local
from rewardgym.sweep.ray_runner import run_ray
from rewardgym.sweep.runner import start, trials
from rewardgym.sweep.spec import Sweep
from rewardgym.throughput import machine_line

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sweep.yaml"


def one_by_one(sweep: Sweep, out: Path) -> None:
    configs = start(sweep, out)
    for trial in trials(sweep):
        train_and_evaluate(replace(configs[trial.configuration], seed=trial.seed), [trial.seed], trial.run_dir(out),
                           sweep.eval_rows)


def local_runner(sweep: Sweep, out: Path) -> None:
    run_local(sweep, out, progress_bar=False)


def ray_runner(sweep: Sweep, out: Path) -> None:
    run_ray(sweep, out, init_kwargs={"num_cpus": os.cpu_count(), "log_to_driver": False})


WAYS = {"one by one": one_by_one, "local runner (seeds batched)": local_runner, "Ray Tune (local, 1 CPU per trial)": ray_runner}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("results/sweep_overhead.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread per trial, as Ray gives each trial one CPU
    raw = {**yaml.safe_load(EXAMPLE.read_text()), "steps": args.steps, "name": "sweep-overhead"}
    work = Path(tempfile.mkdtemp(prefix="sweep-overhead-"))
    sweep_file = work / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump(raw))
    sweep = load_sweep(sweep_file)
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    for round_ in range(args.repeats):
        for way, run in WAYS.items():
            out = work / f"{round_}-{len(seconds[way])}-{way.split()[0]}"
            started = time.perf_counter()
            run(sweep, out)
            seconds[way].append(time.perf_counter() - started)
            shutil.rmtree(out)
            print(f"round {round_ + 1}: {way}: {seconds[way][-1]:.1f} s", flush=True)
    shutil.rmtree(work)
    baseline = statistics.median(seconds["one by one"])
    lines = [
        "# Sweep overhead: one 16-trial GridMaze sweep three ways", "",
        f"Command: `{shlex.join(['python', *sys.argv])}`", "",
        f"Machine: {machine_line()}", "",
        f"The sweep: `examples/sweep.yaml` (GridMaze size 6, 64 training levels; sparse and shaped × no bonus and "
        f"count × 4 seeds) at {args.steps:,} env steps per trial, 64 envs per seed, each trial evaluated on "
        f"{sweep.eval_rows} fresh envs. Wall time from an empty directory to every trial evaluated; median of "
        f"{args.repeats} interleaved rounds.", "",
        "| way | wall time (s, median) | rounds (s) | time / one by one |", "|---|---|---|---|",
    ]
    for way, values in seconds.items():
        lines.append(f"| {way} | {statistics.median(values):.1f} | {', '.join(f'{v:.1f}' for v in values)} | "
                     f"{statistics.median(values) / baseline:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
