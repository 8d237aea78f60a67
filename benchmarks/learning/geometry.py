"""Masked PPO on Construct's level pack under four rewards; PPO on SphericalCode in d = 3 and 4.

    python benchmarks/learning/geometry.py [--steps 80000] [--seeds 0] [--out results] [--quick]

Construct: one MaskablePPO agent (sb3-contrib; the env's ``action_masks``) per reward — sparse,
shaped (matched goal objects), ``sar`` and ``exp_mse`` — trained on the classic levels drawn at
random each episode, then evaluated on the sparse task: the solve rate of every level over
``--episodes`` fresh instances (deterministic policy). SphericalCode: PPO with one reward per valid
placement (``placements``) at θ = 60°, evaluated by the code size reached (κ(3) = 12, κ(4) = 24).

Writes ``geometry.csv`` (one row per level or dimension and run), ``geometry.png`` (training
success rate of the Construct runs) and ``geometry.md`` (the tables) to ``--out``.
``--quick``: two one- and two-move levels, a few thousand steps, to check that it all runs.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.agents.experiment import Experiment, SuccessCurve, plot
from rewardgym.agents.sb3_vec_env import SB3VecEnv, to_numpy
from rewardgym.envs.geometry.levels import CLASSIC, LEVELS

CONSTRUCT = "rewardgym/Construct-v0"
SPHERICAL = "rewardgym/SphericalCode-v0"
REWARDS = ("sparse", "shaped", "sar", "exp_mse")
CLASSIC_LEVELS = [level.name for level in LEVELS if level.tools == CLASSIC]
PPO_SETTINGS = {"n_steps": 64, "batch_size": 512, "n_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01, "gamma": 0.99}


class MaskedVecEnv(SB3VecEnv):
    """SB3's view of a Construct batch that also hands MaskablePPO each row's action mask."""

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        if method_name == "action_masks":
            masks = self.env.action_masks().cpu().numpy()
            return [masks[i] for i in self._get_indices(indices)]
        return super().env_method(method_name, *method_args, indices=indices, **method_kwargs)


def construct_kwargs(levels: list[str]) -> dict[str, Any]:
    return {"level": levels, "max_points": 16, "max_episode_steps": 16}


def train_construct(reward: str, levels: list[str], steps: int, seed: int, num_envs: int) -> tuple[MaskablePPO, list]:
    envs = gym.make_vec(CONSTRUCT, num_envs=num_envs, autoreset_mode="SameStep", reward=reward,
                        gamma=PPO_SETTINGS["gamma"], **construct_kwargs(levels))
    model = MaskablePPO("MultiInputPolicy", MaskedVecEnv(envs), seed=seed, verbose=0, **PPO_SETTINGS)
    curve = SuccessCurve()
    model.learn(steps, callback=curve)
    return model, curve.points


def evaluate_construct(
    model: MaskablePPO, levels: list[str], episodes: int, seed: int = 10_000
) -> dict[str, tuple[int, int]]:
    """(solved, tried) per level: one episode per row, deterministic masked policy, sparse task."""
    envs = gym.make_vec(CONSTRUCT, num_envs=episodes, autoreset_mode="Disabled", **construct_kwargs(levels))
    observation, _ = envs.reset(seed=seed)
    level = envs.level.clone()
    done = torch.zeros(episodes, dtype=torch.bool)
    solved = torch.zeros(episodes, dtype=torch.bool)
    while not done.all():
        action, _ = model.predict(to_numpy(observation), deterministic=True, action_masks=envs.action_masks().numpy())
        observation, _, terminated, truncated, info = envs.step(torch.as_tensor(action))
        solved |= info["success"] & ~done
        done |= terminated | truncated
    names = [lv.name for lv in LEVELS]
    rows_of = {name: level == names.index(name) for name in levels}
    return {name: (int(solved[rows].sum()), int(rows.sum())) for name, rows in rows_of.items()}


def spherical_code_run(dim: int, steps: int, seed: int, num_envs: int, episodes: int) -> float:
    """PPO with the placements reward; the mean code size its deterministic policy reaches."""
    kwargs = {"dim": dim, "theta": 60.0}
    envs = gym.make_vec(SPHERICAL, num_envs=num_envs, autoreset_mode="SameStep", reward="placements", **kwargs)
    model = PPO("MlpPolicy", SB3VecEnv(envs), seed=seed, verbose=0, **PPO_SETTINGS)
    model.learn(steps)
    evaluation = gym.make_vec(SPHERICAL, num_envs=episodes, autoreset_mode="Disabled", **kwargs)
    observation, _ = evaluation.reset(seed=10_000)
    done = torch.zeros(episodes, dtype=torch.bool)
    size = torch.ones(episodes)  # the first vector is placed at reset
    while not done.all():
        action, _ = model.predict(to_numpy(observation), deterministic=True)
        observation, _, terminated, truncated, info = evaluation.step(torch.as_tensor(action))
        size += info["reward_terms"]["placements"] * ~done
        done |= terminated | truncated
    return float(size.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The defaults take about 15 minutes on 2 CPU cores (PPO updates, not the env, dominate).
    parser.add_argument("--steps", type=int, default=80_000, help="env steps per Construct run")
    parser.add_argument("--sphere-steps", type=int, default=50_000, help="env steps per SphericalCode run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--episodes", type=int, default=550, help="evaluation episodes (Construct: spread over levels)")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="two short levels, a few thousand steps")
    args = parser.parse_args()
    levels = ["perp_bisector", "midpoint"] if args.quick else CLASSIC_LEVELS
    steps, sphere_steps = (4096, 2048) if args.quick else (args.steps, args.sphere_steps)
    episodes = 128 if args.quick else args.episodes
    args.out.mkdir(parents=True, exist_ok=True)

    rows, curves = [], {}
    for reward in REWARDS:
        for seed in args.seeds:
            started = time.time()
            model, points = train_construct(reward, levels, steps, seed, args.num_envs)
            curves.setdefault(reward, []).append(points)
            for level, (solved, tried) in evaluate_construct(model, levels, episodes).items():
                rows.append({"env": "Construct", "configuration": reward, "task": level, "seed": seed, "steps": steps,
                             "value": solved / max(tried, 1), "episodes": tried,
                             "minutes": (time.time() - started) / 60})
            rates = [r["value"] for r in rows if r["configuration"] == reward and r["seed"] == seed]
            print(f"Construct {reward:>8} seed {seed}: mean solve rate {np.mean(rates):.2f}", flush=True)
    for dim in (3, 4):
        for seed in args.seeds:
            started = time.time()
            size = spherical_code_run(dim, sphere_steps, seed, args.num_envs, 64)
            rows.append({"env": "SphericalCode", "configuration": "placements", "task": f"d={dim}", "seed": seed,
                         "steps": sphere_steps, "value": size, "episodes": 64,
                         "minutes": (time.time() - started) / 60})
            print(f"SphericalCode d={dim} seed {seed}: code size {size:.1f}", flush=True)

    with open(args.out / "geometry.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    experiment = Experiment(CONSTRUCT, construct_kwargs(["classic levels"]), name="geometry", algo="maskable ppo")
    plot(curves, args.out / "geometry.png", steps, experiment)
    command = shlex.join(["python", "benchmarks/learning/geometry.py", *sys.argv[1:]])
    (args.out / "geometry.md").write_text(report(rows, levels, steps, sphere_steps, command))
    print(f"wrote {args.out / 'geometry'}.csv, .png and .md")


def report(rows: list[dict], levels: list[str], steps: int, sphere_steps: int, command: str) -> str:
    """The markdown tables: solve rate per level and reward; code size per dimension."""
    optimum = {lv.name: lv.L for lv in LEVELS}
    def mean(env: str, configuration: str, task: str) -> float:
        return float(np.mean([r["value"] for r in rows if (r["env"], r["configuration"], r["task"]) == (env, configuration, task)]))

    lines = ["| level (optimal L) | " + " | ".join(REWARDS) + " |", "|---|" + "---:|" * len(REWARDS)]
    for level in levels:
        rates = " | ".join(f"{mean('Construct', reward, level):.2f}" for reward in REWARDS)
        lines.append(f"| {level} ({optimum[level]}) | {rates} |")
    sphere = ["| dimension | code size reached (mean) | kissing number |", "|---|---:|---:|"]
    for dim, kissing in ((3, 12), (4, 24)):
        sphere.append(f"| {dim} | {mean('SphericalCode', 'placements', f'd={dim}'):.1f} | {kissing} |")
    return (
        "# Geometry: masked PPO on Construct, PPO on SphericalCode\n\n"
        f"Construct: sb3-contrib MaskablePPO, one agent per reward trained for {steps:,} env steps on the levels "
        "below drawn at random each episode (line, circle and perpendicular-bisector tools, 16 point slots, "
        "16 moves); solve rate of the sparse task per level on fresh instances, deterministic policy.\n\n"
        + "\n".join(lines)
        + f"\n\nSphericalCode (θ = 60°): PPO, reward +1 per valid placement, {sphere_steps:,} env steps; "
        "code size its deterministic policy reaches.\n\n" + "\n".join(sphere) + f"\n\nProduced by `{command}`.\n"
    )


if __name__ == "__main__":
    main()
