"""PPO on a GridMaze: sparse vs geodesic- and Euclidean-shaped rewards vs sparse + intrinsic bonuses.

    python benchmarks/learning/maze.py [--steps 200000] [--seeds 0 1 2] [--out results] [--quick]

Writes ``maze.csv`` (one row per run), ``maze.png`` (training success-rate curves, mean over
seeds) and ``maze.md`` (the table) to ``--out``; the runs themselves go to ``--out/runs``.
``--quick``: sparse and geodesic shaping, first seed only (what ``rewardgym demo`` runs).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from rewardgym.agents.experiment import CONFIGURATIONS, MAZE, QUICK, markdown, run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="sparse and geodesic shaping only, first seed only")
    parser.add_argument("--size", type=int, default=MAZE.env_kwargs["size"], help="maze cells per side")
    parser.add_argument("--configurations", nargs="+", help="labels to run (default: all)")
    parser.add_argument("--name", default="maze", help="file stem of the outputs (default: maze)")
    args = parser.parse_args()

    chosen = QUICK if args.quick else (args.configurations or [c[0] for c in CONFIGURATIONS])
    configurations = [c for c in CONFIGURATIONS if c[0] in chosen]
    experiment = replace(MAZE.with_env_kwargs(size=args.size), name=args.name)
    seeds = args.seeds[:1] if args.quick else args.seeds
    rows = run_experiment(experiment, configurations, seeds, args.steps, args.out)
    command = shlex.join(["python", "benchmarks/learning/maze.py", *sys.argv[1:]])
    table = markdown(rows)
    (args.out / f"{args.name}.md").write_text(
        f"# PPO on a GridMaze\n\n`{experiment.env_id}` with {experiment.env_kwargs}, {args.steps:,} env steps per run, "
        f"evaluated on the sparse task over 100 episodes. Produced by `{command}`.\n\n{table}\n"
    )
    print(table)
    print(f"wrote {args.out / args.name}.csv, .png and .md")


if __name__ == "__main__":
    main()
