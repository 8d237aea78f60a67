"""Measure env-step throughput of every registered rewardgym env and write it as markdown.

    python benchmarks/throughput.py [--seconds 3] [--repeats 1] [--out results/throughput.md] [--ids ID ...]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import rewardgym
from rewardgym.throughput import ACTION_POOL_SIZE, WARMUP_STEPS, machine_line, markdown_table, throughput_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time of each measurement (default 3)")
    parser.add_argument("--repeats", type=int, default=1, help="measurements per figure, of which the median is shown")
    parser.add_argument("--out", type=Path, default=Path("results/throughput.md"), help="the markdown file to write")
    parser.add_argument(
        "--ids", nargs="+", choices=rewardgym.registered_ids(), help="env ids to measure (default: all)"
    )
    args = parser.parse_args()

    rows = []
    for env_id in args.ids or rewardgym.registered_ids():
        print(f"measuring {env_id} ...", flush=True)
        rows.extend(throughput_table([env_id], seconds=args.seconds, repeats=args.repeats))
    table = markdown_table(rows)
    command = shlex.join(["python", "benchmarks/throughput.py", *sys.argv[1:]])
    method = (
        f"Env steps per second on the CPU with uniformly random actions (a pool of {ACTION_POOL_SIZE} batches "
        f"drawn beforehand), after {WARMUP_STEPS} untimed warm-up steps, over at least {args.seconds:g} s each"
        f"{f', the median of {args.repeats} such measurements' if args.repeats > 1 else ''}; "
        "a row resetting under NEXT_STEP autoreset is not counted on that step, as in gymnasium's "
        f"`benchmark_vector_step`. Produced by `{command}`."
    )
    report = f"# rewardgym throughput\n\nMachine: {machine_line()}\n\n{table}\n\n{method}\n"

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
