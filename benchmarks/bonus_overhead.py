"""Measure what each intrinsic bonus costs per env step, inside ``IntrinsicReward``, and write it as markdown.

    python benchmarks/bonus_overhead.py [--seconds 3] [--num-envs 1024] [--out results/bonus_overhead.md]

For every bonus in ``rewardgym.wrappers.intrinsic.BONUSES``: the time of one step of GridMaze
alone, then of the same env inside ``IntrinsicReward(env, bonus)`` (which computes the bonus and
updates its model every step), measured back to back in this run, and their ratio.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from rewardgym.throughput import machine_line

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.throughput import ACTION_POOL_SIZE, random_actions
from rewardgym.wrappers.intrinsic import BONUSES, IntrinsicReward

ENV_ID = "rewardgym/GridMaze-v0"
WARMUP_STEPS = 20


def seconds_per_step(env: Any, actions: list[torch.Tensor], seconds: float) -> tuple[float, int]:
    """Mean wall time of ``env.step`` over at least ``seconds``, after ``WARMUP_STEPS``; and the steps timed."""
    env.reset(seed=0)
    pool = cycle(actions)
    for action in islice(pool, WARMUP_STEPS):
        env.step(action)
    calls, start = 0, time.perf_counter()
    for action in pool:
        _, reward, _, _, _ = env.step(action)
        calls += 1
        if time.perf_counter() - start >= seconds:
            break
    float(reward.sum())  # waits for a GPU to finish
    return (time.perf_counter() - start) / calls, calls


def markdown_table(rows: list[tuple[str, float, float, int]]) -> str:
    lines = [
        "| bonus | env alone (ms/step) | with IntrinsicReward (ms/step) | ratio | steps timed |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, alone, wrapped, steps in rows:
        lines.append(f"| {label} | {alone * 1e3:.2f} | {wrapped * 1e3:.2f} | {wrapped / alone:.1f}× | {steps:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time of each measurement (default 3)")
    parser.add_argument("--num-envs", type=int, default=1024, help="batch size (default 1024)")
    parser.add_argument("--device", default="cpu", help="torch device of the env and the bonuses (default cpu)")
    parser.add_argument(
        "--out", type=Path, default=Path("results/bonus_overhead.md"), help="the markdown file to write"
    )
    args = parser.parse_args()

    env = gym.make_vec(ENV_ID, num_envs=args.num_envs, device=args.device)
    actions = random_actions(env.single_action_space, args.num_envs, ACTION_POOL_SIZE, args.device)
    rows = []
    for name, build in BONUSES.items():
        torch.manual_seed(0)
        print(f"measuring {name} ...", flush=True)
        alone, _ = seconds_per_step(env, actions, args.seconds)
        wrapped, steps = seconds_per_step(IntrinsicReward(env, build(env)), actions, args.seconds)
        rows.append((name, alone, wrapped, steps))

    table = markdown_table(rows)
    command = shlex.join(["python", "benchmarks/bonus_overhead.py", *sys.argv[1:]])
    method = (
        f"`{ENV_ID}` (default arguments) at {args.num_envs:,} envs on `{args.device}`, uniformly random actions from a "
        f"pool of {ACTION_POOL_SIZE} batches. For each bonus, the env alone and then the env inside "
        "`IntrinsicReward(env, bonus)` (defaults: return normalisation, `bonus.update` every step) are each reset, "
        f"stepped {WARMUP_STEPS} times untimed, then timed over at least {args.seconds:g} s; the ratio is the second "
        f"time over the first. Bonuses use their default hyperparameters. Produced by `{command}`."
    )
    report = f"# Intrinsic-bonus overhead\n\nMachine: {machine_line()}\n\n{table}\n\n{method}\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report.rstrip("\n") + "\n")
    print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
