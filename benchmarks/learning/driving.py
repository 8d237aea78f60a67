"""PPO on Highway: CaRL's route-completion reward vs highway-env's summed reward as the PPO
mini-batch grows (CaRL's finding: the summed, additive reward degrades with large mini-batches).

    python benchmarks/learning/driving.py [--steps 40960] [--seeds 0 1 2] [--batch-sizes 64 512 4096]
                                          [--out results] [--quick]

Each run trains PPO (64 envs × 64 steps per rollout) with ``reward="carl"`` or ``"summed"`` and
one mini-batch size, then drives 64 evaluation episodes deterministically and records the mean
route completion, the collision rate and the success rate (route completed without infraction).
Writes ``driving.csv`` (one row per run), ``driving.png`` (route completion and collision rate
against the mini-batch size, mean over seeds) and ``driving.md`` (the table) to ``--out``; the
runs go to ``--out/runs``. ``--quick``: 8,192 steps, first seed, smallest and largest batch.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from stable_baselines3 import PPO

from rewardgym.agents.training import RunConfig, train

ENV_ID = "rewardgym/Highway-v1"
ENV_KWARGS = {"vehicles_count": 20, "route_length": 200.0, "duration": 15.0}
NUM_ENVS, ROLLOUT_STEPS = 64, 64  # 4,096 transitions per rollout: the largest mini-batch is one rollout
REWARDS = ("carl", "summed")


def evaluate(model: PPO, episodes: int = 64, seed: int = 10_000) -> dict[str, float]:
    """Route completion, collision and success rates over ``episodes`` deterministic episodes."""
    env = gym.make_vec(ENV_ID, num_envs=episodes, autoreset_mode="Disabled", **ENV_KWARGS)
    observation, _ = env.reset(seed=seed)
    running = torch.ones(episodes, dtype=torch.bool)
    completion, collision, success = torch.zeros(episodes), torch.zeros(episodes), torch.zeros(episodes)
    while running.any():
        action, _ = model.predict(observation.numpy(), deterministic=True)
        observation, _, terminated, truncated, info = env.step(action)
        ended = running & (terminated | truncated)
        completion = torch.where(ended, info["route_completion"], completion)
        collision = torch.where(ended, info["collision"].float(), collision)
        success = torch.where(ended, info["success"].float(), success)
        running &= ~ended
    return {"route_completion": float(completion.mean()), "collision_rate": float(collision.mean()),
            "success_rate": float(success.mean())}


def run_one(reward: str, batch_size: int, seed: int, steps: int, out: Path) -> dict:
    run_dir = out / "runs" / f"driving_{reward}_batch{batch_size}_seed{seed}"
    config = RunConfig(env_id=ENV_ID, reward=reward, steps=steps, seed=seed, num_envs=NUM_ENVS,
                       checkpoint_every=steps, env_kwargs=ENV_KWARGS,
                       hyperparameters={"batch_size": batch_size, "n_steps": ROLLOUT_STEPS})
    started = time.time()
    model = train(config, run_dir, progress_bar=False)
    row = {"reward": reward, "batch_size": batch_size, "seed": seed, "steps": steps, **evaluate(model),
           "minutes": (time.time() - started) / 60}
    print(f"{reward:>6} batch {batch_size:>5} seed {seed}: route completion {row['route_completion']:.2f}, "
          f"collisions {row['collision_rate']:.2f}, success {row['success_rate']:.2f} in {row['minutes']:.1f} min",
          flush=True)
    return row


def plot(rows: list[dict], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for reward in REWARDS:
        mine = [row for row in rows if row["reward"] == reward]
        sizes = sorted({row["batch_size"] for row in mine})
        for axis, metric in zip(axes, ("route_completion", "collision_rate")):
            means = [np.mean([r[metric] for r in mine if r["batch_size"] == size]) for size in sizes]
            axis.plot(sizes, means, marker="o", label=reward)
            axis.set_xscale("log", base=2)
            axis.set_xlabel("PPO mini-batch size")
            axis.set_ylabel(metric.replace("_", " "))
            axis.set_ylim(-0.02, 1.02)
    axes[0].legend()
    figure.suptitle(f"PPO on {ENV_ID} {ENV_KWARGS}, {rows[0]['steps']:,} steps, mean over seeds", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def markdown(rows: list[dict]) -> str:
    lines = ["| reward | mini-batch | route completion | collision rate | success rate | seeds |",
             "|---|---:|---:|---:|---:|---:|"]
    for reward in REWARDS:
        for size in sorted({row["batch_size"] for row in rows}):
            mine = [row for row in rows if row["reward"] == reward and row["batch_size"] == size]
            if mine:
                mean = {key: np.mean([row[key] for row in mine])
                        for key in ("route_completion", "collision_rate", "success_rate")}
                lines.append(f"| {reward} | {size} | {mean['route_completion']:.2f} | {mean['collision_rate']:.2f} | "
                             f"{mean['success_rate']:.2f} | {len(mine)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_960)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 512, 4096])
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="8,192 steps, first seed, smallest and largest batch")
    args = parser.parse_args()
    steps = 8_192 if args.quick else args.steps
    seeds = args.seeds[:1] if args.quick else args.seeds
    sizes = [min(args.batch_sizes), max(args.batch_sizes)] if args.quick else args.batch_sizes

    args.out.mkdir(parents=True, exist_ok=True)
    rows = [run_one(reward, size, seed, steps, args.out) for reward in REWARDS for size in sizes for seed in seeds]
    with open(args.out / "driving.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out / "driving.png")
    command = shlex.join(["python", "benchmarks/learning/driving.py", *sys.argv[1:]])
    table = markdown(rows)
    (args.out / "driving.md").write_text(
        f"# PPO on Highway: CaRL vs summed reward against the mini-batch size\n\n`{ENV_ID}` with {ENV_KWARGS}, "
        f"{steps:,} env steps per run ({NUM_ENVS} envs × {ROLLOUT_STEPS} steps per rollout), evaluated over 64 "
        f"deterministic episodes. Produced by `{command}`.\n\n{table}\n"
    )
    print(table)
    print(f"wrote {args.out}/driving.csv, .png and .md")


if __name__ == "__main__":
    main()
