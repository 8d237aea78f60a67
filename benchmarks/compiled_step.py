"""The per-step core of every torch env, eager beside ``torch.compile`` (inductor), on one device.

    python benchmarks/compiled_step.py [--rows 1024] [--repeats 3] [--device cpu] [--out results/compiled_step.md]

The core is what every row runs every step — ``TorchVectorEnv._advance`` (transition, success,
ends, reward channels, potentials) and ``_observe`` — without the step's validation and autoreset
bookkeeping. Each id (default arguments; the manipulation ids step a physics engine and are left
out) is reset with seed 0 and stepped with one pool of 16 uniformly random action batches drawn
beforehand; rows that end keep stepping (there is no reset in the core). Each measurement runs for
at least ``--seconds`` after 3 untimed steps (compilation happens there); the eager and compiled
measurements alternate, ``--repeats`` rounds, and the table gives each one's median.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import torch

import rewardgym
from rewardgym.throughput import machine_line, timed_calls

ENGINE_STEPPED = ("Reach", "Push", "PickPlace")
POOL = 16


def core_steps_per_second(env_id: str, rows: int, device: str, compile_core: bool, seconds: float) -> float:
    envs = gym.make_vec(env_id, num_envs=rows, device=device, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [torch.as_tensor(envs.action_space.sample(), device=envs.device) for _ in range(POOL)]
    advance: Callable = envs._advance
    observe: Callable = envs._observe
    if compile_core:
        advance, observe = torch.compile(advance, fullgraph=True), torch.compile(observe, fullgraph=True)

    def step(i: int) -> None:
        advance(actions[i % POOL])
        observe()

    steps, elapsed = timed_calls(step, seconds, warmup=3, min_calls=10,
                                 synchronize=None if device == "cpu" else torch.cuda.synchronize)
    envs.close()
    return steps * rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ids", nargs="*", default=[i for i in rewardgym.registered_ids()
                                                     if not any(task in i for task in ENGINE_STEPPED)])
    parser.add_argument("--out", type=Path, default=Path("results/compiled_step.md"))
    args = parser.parse_args()
    lines = [f"# The per-step core, eager and compiled ({args.device}, {args.rows:,} rows)", "",
             machine_line() + (f"; {torch.cuda.get_device_name()}" if args.device.startswith("cuda") else ""), "",
             "| env | eager steps/s | compiled steps/s | compiled / eager |", "|---|---:|---:|---:|"]
    for env_id in args.ids:
        torch._dynamo.reset()
        eager, compiled = [], []
        for _ in range(args.repeats):
            eager.append(core_steps_per_second(env_id, args.rows, args.device, False, args.seconds))
            compiled.append(core_steps_per_second(env_id, args.rows, args.device, True, args.seconds))
        e, c = statistics.median(eager), statistics.median(compiled)
        lines.append(f"| `{env_id}` | {e:,.0f} | {c:,.0f} | {c / e:.2f}× |")
        print(lines[-1], flush=True)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines += ["", f"Env steps per second of `_advance` + `_observe` alone (see the module docstring), median of "
              f"{args.repeats} alternating rounds of at least {args.seconds:g} s each; compiled with "
              f"`torch.compile(fullgraph=True)` (inductor). Produced by `{command}`.", ""]
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
