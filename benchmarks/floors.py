"""Floors and ceilings of every registered id: the trivial policies' success beside the oracle's.

    python benchmarks/floors.py [--rows 1024] [--ids ID ...] [--out results/floors.md]

For each id with default arguments, one episode in each of ``--rows`` fresh envs (env seeds of
``evaluation.EVAL_RESTART``, as evaluation plays): the uniform random policy, every constant action
(for a Box space: zero and each axis at either bound), and the env's oracle or scripted policy
(``rewardgym.policies``). A learner's normalised score is ``(success − best floor) / (oracle −
best floor)``. The episodes of one policy here are independent trials (every row has its own
seed, start and level), so each rate has a binomial standard error of at most 0.5/√rows.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import gymnasium as gym

import rewardgym
from rewardgym.agents.fast_ppo import env_seeds
from rewardgym.evaluation import EVAL_RESTART, floor_success, oracle_success
from rewardgym.throughput import machine_line


def measure(env_id: str, rows: int) -> dict:
    """One id's floors and oracle on ``rows`` fresh envs."""
    started = time.perf_counter()
    seeds = env_seeds(0, rows, EVAL_RESTART)
    floors = {name: float(s.float().mean()) for name, s in floor_success(env_id, {}, seeds).items()}
    oracle = oracle_success(env_id, {}, seeds)
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
    bound = type(probe.unwrapped).trivial_success
    probe.close()
    constants = {name: rate for name, rate in floors.items() if name != "random"}
    best_constant = max(constants, key=constants.get)
    return {"id": env_id, "random": floors["random"], "best_constant": best_constant.removeprefix("constant "),
            "best_constant_rate": constants[best_constant], "constants": len(constants),
            "above_bound": sum(rate > bound for rate in floors.values()), "bound": bound,
            "oracle": None if oracle is None else float(oracle.float().mean()), "seconds": time.perf_counter() - started}


def markdown(results: list[dict], rows: int, command: str) -> str:
    lines = ["# Floors and ceilings of every id", "", machine_line(), "",
             f"One episode in each of {rows:,} fresh envs per policy, default arguments (an env with more than 64 "
             "constant actions tries each on 32 envs: `evaluation.floor_success`). `bound`: the highest trivial "
             "success the env's docstring allows (0.10 unless it states a figure and why).", "",
             "| id | uniform random | best constant action (rate) | constant actions | policies above the bound | bound "
             "| oracle | oracle − best floor | seconds |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        best_floor = max(r["random"], r["best_constant_rate"])
        oracle = "none" if r["oracle"] is None else f"{r['oracle']:.3f}"
        gap = "–" if r["oracle"] is None else f"{r['oracle'] - best_floor:.3f}"
        lines.append(f"| {r['id']} | {r['random']:.3f} | {r['best_constant']} ({r['best_constant_rate']:.3f}) | "
                     f"{r['constants']} | {r['above_bound']} | {r['bound']:.2f} | {oracle} | {gap} | {r['seconds']:.0f} |")
    lines += ["", f"Produced by `{command}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--ids", nargs="+", choices=rewardgym.registered_ids(), default=rewardgym.registered_ids())
    parser.add_argument("--out", type=Path, default=Path("results/floors.md"))
    args = parser.parse_args()
    results = []
    for env_id in args.ids:
        results.append(measure(env_id, args.rows))
        print(results[-1], flush=True)
    command = shlex.join(["python", "benchmarks/floors.py", *sys.argv[1:]])
    args.out.write_text(markdown(results, args.rows, command))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
