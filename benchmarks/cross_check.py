"""Cross-check fast-ppo against SB3 PPO where both reach intermediate success: KeyDoor + count.

    python benchmarks/cross_check.py [--seeds 0 … 9] [--steps 100000] [--csv results/cross_check.csv]
        [--out results/cross_check.md]

Both learners get the same task (KeyDoor, default arguments), bonus (global exact count, weight
0.01, on a value head of its own with γ_I = 0.99, the policy following A_E + 0.01·A_I), budget
(``--steps`` env steps per seed), batch (16 envs × 128 steps, minibatches of 512, 4 epochs), network
(two hidden layers of 128, separate actor and critic) and PPO settings (``hyperparams/ppo.yaml``'s
default; no value-loss clipping, as SB3). What differs is the implementation: SB3's PPO with
``TwoHeadIntrinsicCallback`` (its
intrinsic critic is an MLP of its own), one seed after another, against fast-ppo with the ten
seeds batched (its intrinsic critic is a second value head). Every seed is evaluated the same
way (``rewardgym.evaluation``): the greedy policy plays one episode in each of 256 fresh envs on
env seeds training never played, drawn from the training levels (this check compares two
implementations, not generalisation to held-out levels). The seed is the unit; the table gives
the IQM and a 95% stratified-bootstrap interval across seeds (rliable). Finished seeds are kept in
the CSV and not redone.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig, env_seeds
from rewardgym.agents.fast_ppo_run import greedy_success
from rewardgym.agents.training import RunConfig, sb3_policy, train
from rewardgym.evaluation import (EVAL_RESTART, evaluate_policy, floor_success, iqm_interval, oracle_success,
                                  probability_of_improvement)
from rewardgym.throughput import machine_line

ENV_ID = "rewardgym/KeyDoor-v0"
BONUS, BONUS_COEF = "count", 0.01
EVAL_ENVS = 256
FAST = {"num_envs": 16, "num_steps": 128, "num_minibatches": 4, "update_epochs": 4, "learning_rate": 3e-4,
        "ent_coef": 0.01, "hidden": [128, 128], "shared_trunk": False, "clip_value_loss": False, "frame_stack": 1,
        "ext_coef": 1.0,
        "bonus_update_proportion": 1.0}
COLUMNS = ["learner", "seed", "success", "seconds"]


def sb3_seed(seed: int, steps: int, runs: Path) -> tuple[float, float]:
    """Train SB3 PPO + count for one seed; its greedy success and training seconds."""
    start = time.perf_counter()
    config = RunConfig(ENV_ID, algo="ppo", bonus=BONUS, bonus_coef=BONUS_COEF, steps=steps, seed=seed, num_envs=16,
                       checkpoint_every=10 * steps)
    model = train(config, runs / f"sb3_seed{seed}", progress_bar=False)
    seconds = time.perf_counter() - start

    rate = evaluate_policy(ENV_ID, {}, seed, sb3_policy(model), EVAL_ENVS, held_out=False)
    return rate, seconds


def fast_seeds(seeds: list[int], steps: int) -> tuple[list[float], float]:
    """Train fast-ppo + count for all seeds in one process; each seed's greedy success, and the seconds."""
    start = time.perf_counter()
    algo = FastPPO(ENV_ID, seeds, FastPPOConfig(**FAST), bonus=BONUS, bonus_coef=BONUS_COEF)
    algo.train(steps)
    seconds = time.perf_counter() - start
    return greedy_success(algo, ENV_ID, {}, EVAL_ENVS, held_out=False).tolist(), seconds


def references(seeds: list[int]) -> dict[str, np.ndarray]:
    """Per run seed, the success on its evaluation rows of the trivial policies (uniform random, every
    constant action) and of KeyDoor's oracle (BFS to the key, the door, the goal)."""
    rows = [s for seed in seeds for s in env_seeds(seed, EVAL_ENVS, EVAL_RESTART)]
    rates = {f"floor: {name}": success for name, success in floor_success(ENV_ID, {}, rows).items()}
    rates["oracle"] = oracle_success(ENV_ID, {}, rows)
    return {name: success.float().reshape(len(seeds), -1).mean(1).numpy() for name, success in rates.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--csv", type=Path, default=Path("results/cross_check.csv"))
    parser.add_argument("--out", type=Path, default=Path("results/cross_check.md"))
    parser.add_argument("--runs", type=Path, default=Path("outputs/cross_check"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    rows = list(csv.DictReader(args.csv.open())) if args.csv.exists() else []

    def save() -> None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    if not any(r["learner"] == "fast-ppo" for r in rows):
        successes, seconds = fast_seeds(args.seeds, args.steps)
        rows += [{"learner": "fast-ppo", "seed": s, "success": v, "seconds": seconds}
                 for s, v in zip(args.seeds, successes)]
        save()
    for seed in args.seeds:
        if not any(r["learner"] == "sb3" and int(r["seed"]) == seed for r in rows):
            success, seconds = sb3_seed(seed, args.steps, args.runs)
            rows.append({"learner": "sb3", "seed": seed, "success": success, "seconds": seconds})
            save()
            print(f"sb3 seed {seed}: {success:.2f} in {seconds:.0f} s", flush=True)

    lines = ["| learner | seeds | IQM success (95% CI) | mean | per seed | wall seconds, all seeds |",
             "|---|---:|---|---:|---|---:|"]
    for learner in ("fast-ppo", "sb3"):
        mine = [r for r in rows if r["learner"] == learner]
        values = np.array([float(r["success"]) for r in mine])
        iqm, low, high = iqm_interval(values)
        seconds = float(mine[0]["seconds"]) if learner == "fast-ppo" else sum(float(r["seconds"]) for r in mine)
        lines.append(f"| {learner} | {len(mine)} | {iqm:.2f} ({low:.2f}–{high:.2f}) | {values.mean():.2f} | "
                     f"{' '.join(f'{v:.2f}' for v in values)} | {seconds:.0f} |")
    for name, values in references(args.seeds).items():  # on the same evaluation rows
        iqm, low, high = iqm_interval(values)
        lines.append(f"| {name} | {len(values)} | {iqm:.2f} ({low:.2f}–{high:.2f}) | {values.mean():.2f} | "
                     f"{' '.join(f'{v:.2f}' for v in values)} | – |")
    success = {learner: np.array([float(r["success"]) for r in rows if r["learner"] == learner])
               for learner in ("fast-ppo", "sb3")}
    chance, low, high = probability_of_improvement(success["fast-ppo"], success["sb3"])
    command = shlex.join(["python", "benchmarks/cross_check.py", *(argv if argv is not None else sys.argv[1:])])
    text = "\n".join(["# fast-ppo vs SB3 PPO: KeyDoor + count", "", machine_line(), "", "\n".join(lines), "",
                      f"P(fast-ppo > SB3), the chance that a seed of one beats a seed of the other (rliable): "
                      f"{chance:.2f} (95% CI {low:.2f}–{high:.2f}).", "",
                      f"{args.steps:,} env steps per seed. Floors and oracle: on each seed's evaluation rows. "
                      f"Produced by `{command}`."])
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
