"""fast-ppo's update on Construct with the action head eager and compiled (``compile_head``), back to back.

    python benchmarks/compile_head.py [--seeds 10] [--num-envs 64] [--rounds 2]

Each round builds a learner of each kind, runs one collect + update untimed (compilation, warm-up),
then times the next update; prints every round and the median per kind.
"""

from __future__ import annotations

import argparse
import statistics
import time

from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig


def update_seconds(compile_head: bool, seeds: int, num_envs: int) -> float:
    config = FastPPOConfig(num_envs=num_envs, ent_coef=0.001, compile_head=compile_head)
    ppo = FastPPO("rewardgym/Construct-v0", seeds=list(range(seeds)), config=config)
    ppo.update(ppo.collect())
    rollout = ppo.collect()
    started = time.perf_counter()
    ppo.update(rollout)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    for round_index in range(args.rounds):
        for compile_head in (False, True):
            seconds = update_seconds(compile_head, args.seeds, args.num_envs)
            times[compile_head].append(seconds)
            print(f"round {round_index}: compile_head={compile_head}: {seconds:.2f} s per update", flush=True)
    eager, compiled = statistics.median(times[False]), statistics.median(times[True])
    print(f"median: eager {eager:.2f} s, compiled {compiled:.2f} s, eager / compiled {eager / compiled:.2f}x")


if __name__ == "__main__":
    main()
