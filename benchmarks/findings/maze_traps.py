"""How deep a trap the Euclidean potential sets in each GridMaze level, and the trap / trap-free level sets.

For issue 15's first finding (geodesic vs Euclidean potential shaping): every level id in
``[0, --levels)`` at each size is built as an exact tabular MDP from the env's own code
(``analysis.grid_maze_mdp``), and the Euclidean potential Φ = −(straight-line distance to the
goal) / (optimal path length) is measured:

- ``escape_depth``: greedy ascent on Φ from the start gets stuck at a local maximum; the depth is
  the least fall in Φ any way out needs — how far, as a fraction of the optimal path length, the
  agent must move away from the goal (in straight line) to get out. 0: the ascent reaches the goal.
- ``trapped_fraction``: the share of non-goal squares from which greedy ascent on Φ gets stuck.

The geodesic potential (BFS distance) has no trap anywhere (tested). The trap class is the first 8
level ids in the top quartile of escape depth; the trap-free class the 8 shallowest levels (depth 0
where 8 levels have none). They are the finding's training pools, fixed here before any training.

    python benchmarks/findings/maze_traps.py --sizes 6 9 --levels 1000

Resumable: each level is appended to ``results/findings/maze_traps.csv`` as it is measured, and
levels already there are not measured again.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.analysis import ascent_traps, escape_depth, grid_maze_mdp

COLUMNS = ["size", "level", "squares", "escape_depth", "trapped_fraction"]
POOL = 8


def measure(size: int, level: int) -> dict[str, float]:
    envs = gym.make_vec("rewardgym/GridMaze-v0", size=size, num_levels=1, start_level=level)
    envs.reset(seed=0)
    mdp = grid_maze_mdp(envs)
    euclidean = mdp.potentials["euclidean"]
    trapped = ascent_traps(mdp, euclidean)
    return {"size": size, "level": level, "squares": len(mdp.terminal),
            "escape_depth": round(escape_depth(mdp, euclidean), 6),
            "trapped_fraction": round(float(trapped.sum()) / float((~mdp.terminal).sum()), 6)}


def classes(rows: list[dict[str, float]]) -> dict[str, list[int]]:
    """The trap class: the first ``POOL`` level ids in the top quartile of escape depth (a typical
    deep trap, not the extremes); the trap-free class: the ``POOL`` shallowest levels (ties by id),
    which lie in the bottom quartile — depth 0 wherever ``POOL`` levels have none."""
    depth = np.array([row["escape_depth"] for row in rows])
    low, high = np.quantile(depth, [0.25, 0.75])
    ordered = sorted(rows, key=lambda row: row["level"])
    shallowest = sorted(ordered, key=lambda row: row["escape_depth"])[:POOL]
    return {"trap": [int(r["level"]) for r in ordered if r["escape_depth"] >= high][:POOL],
            "trap-free": sorted(int(r["level"]) for r in shallowest),
            "trap-free depth": float(max(r["escape_depth"] for r in shallowest)),
            "quartiles": [float(low), float(high)]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 9])
    parser.add_argument("--levels", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("results/findings/maze_traps"))
    args = parser.parse_args(argv)
    table = args.out.with_suffix(".csv")
    table.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if table.exists():
        with table.open() as file:
            done = {(int(row["size"]), int(row["level"])) for row in csv.DictReader(file)}
    with table.open("a", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        if not done:
            writer.writeheader()
        for size in args.sizes:
            for level in range(args.levels):
                if (size, level) not in done:
                    writer.writerow(measure(size, level))
                    file.flush()
            print(f"size {size}: {args.levels} levels measured", flush=True)

    with table.open() as file:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]
    command = "python benchmarks/findings/maze_traps.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = ["# Euclidean-potential traps in GridMaze levels", "",
             f"Every level id in [0, {args.levels}) per size, as an exact tabular MDP. Escape depth: the least fall "
             "in Φ = −(straight-line distance) / (optimal length) a way out of the trap greedy ascent from the "
             "start ends in needs (a fraction of the optimal path length); 0 where the ascent reaches the goal.", "",
             "| size | levels | escape depth: median (IQR) | levels with depth 0 | trapped squares: median | "
             "trap class (first 8 of the top quartile) | trap-free class (8 shallowest) |",
             "|---|---:|---|---:|---:|---|---|"]
    for size in args.sizes:
        sized = [row for row in rows if row["size"] == size and row["level"] < args.levels]
        depth = np.array([row["escape_depth"] for row in sized])
        chosen = classes(sized)
        q1, median, q3 = np.quantile(depth, [0.25, 0.5, 0.75])
        lines.append(f"| {size} | {len(sized)} | {median:.3f} ({q1:.3f}–{q3:.3f}) | {int((depth == 0).sum())} | "
                     f"{np.median([row['trapped_fraction'] for row in sized]):.2f} | "
                     f"depth ≥ {chosen['quartiles'][1]:.3f}: levels {chosen['trap']} | "
                     f"depth ≤ {chosen['trap-free depth']:.3f}: levels {chosen['trap-free']} |")
    lines += ["", f"Produced by `{command}`; per level: [maze_traps.csv](maze_traps.csv)."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
