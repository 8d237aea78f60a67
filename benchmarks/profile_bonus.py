"""Where a bonus's time goes in fast-ppo: a cProfile of a few updates, split into the bonus's phases.

GridMaze (egocentric), the training-speed benchmark's batch shape, 16 seeds × 64 envs (or
``--seeds``/``--num-envs``): for no bonus and each bonus named, seconds per update of the whole
update (collect + learn) and of the bonus's parts — computing it over the rollout (of which the
episodic memory's step-by-step scan) and training its model inside the PPO epochs.

    python benchmarks/profile_bonus.py --bonuses count rnd e3b --out results/bonus_profile.md
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shlex
import sys
from pathlib import Path

import torch
from rewardgym.throughput import machine_line

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig
from rewardgym.wrappers.intrinsic.counts import MemoryBonus
from rewardgym.wrappers.intrinsic.stream import IntrinsicStream

SETTINGS = {"num_steps": 32, "num_minibatches": 4, "update_epochs": 4, "hidden": [128, 128]}
#: Profiled functions: (column, the function's code object).
PHASES = [
    ("bonus over the rollout", IntrinsicStream.bonus_of),
    ("of which the memory scan", MemoryBonus.scan),
    ("training the bonus model", FastPPO._train_bonuses),
]


def seconds_per_update(bonus: str | None, seeds: int, num_envs: int, updates: int) -> dict[str, float]:
    torch.manual_seed(0)
    algo = FastPPO("rewardgym/GridMaze-v0", list(range(seeds)), FastPPOConfig(num_envs=num_envs, **SETTINGS),
                   env_kwargs={"observation": "egocentric"}, bonus=bonus)
    algo.update(algo.collect())  # untimed warm-up
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(updates):
        algo.update(algo.collect())
    profile.disable()
    stats = pstats.Stats(profile).stats  # {(file, line, name): (calls, primitive, tottime, cumtime, callers)}

    def cumulative(function) -> float:
        code = function.__code__
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        return stats[key][3] / updates if key in stats else 0.0

    return {"whole update": cumulative(FastPPO.update) + cumulative(FastPPO.collect),
            **{label: cumulative(function) for label, function in PHASES}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonuses", nargs="+", default=["count", "rnd", "e3b"])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/bonus_profile.md"))
    args = parser.parse_args(argv)

    rows = {"none": seconds_per_update(None, args.seeds, args.num_envs, args.updates)}
    for bonus in args.bonuses:
        rows[bonus] = seconds_per_update(bonus, args.seeds, args.num_envs, args.updates)
        print(bonus, rows[bonus], flush=True)
    columns = list(rows["none"])
    lines = [f"| bonus | {' | '.join(columns)} |", "|---|" + "---:|" * len(columns)]
    for bonus, row in rows.items():
        lines.append(f"| {bonus} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    command = "python benchmarks/profile_bonus.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.out.write_text(
        f"# Where a bonus's time goes in fast-ppo\n\n{machine_line()}\n\n"
        f"GridMaze (egocentric), {args.seeds} seeds × {args.num_envs} envs × {SETTINGS['num_steps']} steps, "
        f"{SETTINGS['num_minibatches']} minibatches, {SETTINGS['update_epochs']} epochs, hidden "
        f"{SETTINGS['hidden']}. Seconds per update (collect + learn), the mean of {args.updates} profiled "
        "updates after one untimed one; cProfile's own overhead is in every cell.\n\n"
        + "\n".join(lines) + f"\n\nProduced by `{command}`.\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
