"""SAC+HER on the sparse reward vs SAC on the dense reward, on Reach and Push, in MuJoCo and PyBullet.

    python benchmarks/learning/manipulation.py [--reach-steps 6000] [--push-steps 15000] [--seeds 0] [--out results]
    python benchmarks/learning/manipulation.py --quick --out /tmp/manip

Writes ``manipulation.csv`` (one row per run), ``manipulation.png`` (training success-rate curves,
one panel per task and engine) and ``manipulation.md`` (the table) to ``--out``; the runs go to
``--out/runs``. Every run is evaluated on the sparse task (final-step success, one episode in each of 256 fresh envs).
``--quick``: Reach only, 2,000 steps per run, both engines (a smoke test of the whole pipeline).
``--do-nothing``: the success of a policy that never moves, the floor to beat (about a minute).
The full run takes under 30 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import rewardgym  # noqa: E402, F401  (registers the ids)
from rewardgym.agents.experiment import Experiment, plot_success_curves, run_one  # noqa: E402
from rewardgym.agents.training import RunConfig  # noqa: E402

#: (label, algorithm, reward)
CONFIGURATIONS = [("SAC+HER sparse", "her-sac", "sparse"), ("SAC dense", "sac", "dense")]
TASKS = ["Reach", "Push"]
BACKENDS = ["mujoco", "pybullet"]
#: On top of hyperparams/{her-sac,sac}.yaml: start learning early and take two updates per vector step.
HYPERPARAMETERS = {"learning_starts": 500, "train_freq": 1, "gradient_steps": 2}


def plot(curves: dict[tuple[str, str], dict[str, list]], steps: dict[str, int], path: Path) -> None:
    """One panel per (task, engine): training success rate against env steps, mean over seeds."""
    panels = list(curves)
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for axis, (task, backend) in zip(axes[0], panels):
        plot_success_curves(axis, curves[task, backend], steps[task])
        axis.set_title(f"{task} ({backend})", fontsize=10)
    axes[0][0].set_ylabel("training success rate")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(rows: list[dict]) -> str:
    """A markdown table: success rate per task, engine and configuration (mean over seeds)."""
    lines = ["| task | engine | configuration | steps | success rate per seed | minutes |",
             "|---|---|---|---:|---|---:|"]
    keys = dict.fromkeys((row["task"], row["backend"], row["configuration"]) for row in rows)
    for task, backend, label in keys:
        mine = [r for r in rows if (r["task"], r["backend"], r["configuration"]) == (task, backend, label)]
        seeds = ", ".join(f"{float(r['success_rate']):.2f}" for r in mine)
        minutes = [float(r["minutes"]) for r in mine if r["minutes"] != ""]
        lines.append(f"| {task} | {backend} | {label} | {int(mine[0]['steps']):,} | {seeds} | "
                     f"{f'{np.mean(minutes):.1f}' if minutes else '–'} |")
    return "\n".join(lines)


def collected_rows(out: Path) -> list[dict]:
    """The rows of every finished run under ``out/runs`` (its config.yaml and eval.json), for a stopped experiment.

    Their training times were not recorded, so ``minutes`` is empty.
    """
    rows = []
    for evaluation in sorted((out / "runs").glob("manipulation_*/eval.json")):
        config, result = RunConfig.load(evaluation.parent), json.loads(evaluation.read_text())
        label = next(label for label, algo, _ in CONFIGURATIONS if algo == config.algo)
        rows.append({"task": config.env_id.split("/")[1].removesuffix("-v0"), "backend": config.env_kwargs["backend"],
                     "algo": config.algo, "configuration": label, "reward": config.reward, "seed": config.seed,
                     "steps": config.steps, "success_rate": result["success_rate"], "minutes": ""})
    return rows


def write_table(rows: list[dict], out: Path, command: str, note: str = "") -> None:
    """``manipulation.csv`` and ``manipulation.md`` of ``rows``."""
    with open(out / "manipulation.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "manipulation.md").write_text(
        "# SAC+HER (sparse) vs SAC (dense) on the manipulation tasks\n\n"
        f"Hyperparameters: `hyperparams/her-sac.yaml` and `sac.yaml` with {HYPERPARAMETERS}; success is the "
        f"final-step success, one episode in each of 256 fresh envs. {note}Produced by `{command}`.\n\n{markdown(rows)}\n"
    )


def do_nothing_success(task: str, backend: str, episodes: int = 100, seed: int = 10_000) -> float:
    """Final-step success of a policy that never moves, over ``episodes`` episodes from the evaluation seed:
    the floor a learned policy has to beat (some goals start within reach)."""
    envs = gym.make_vec(f"rewardgym/{task}-v0", num_envs=episodes, backend=backend, autoreset_mode="Disabled")
    envs.reset(seed=seed)
    still = torch.zeros(episodes, *envs.single_action_space.shape)
    for _ in range(envs.max_episode_steps):
        info = envs.step(still)[4]
    envs.close()
    return float(info["success"].float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reach-steps", type=int, default=6_000)
    parser.add_argument("--push-steps", type=int, default=15_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backends", nargs="+", default=BACKENDS, choices=BACKENDS)
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="Reach only, 2,000 steps per run")
    parser.add_argument("--collect", action="store_true",
                        help="train nothing: tabulate the finished runs under --out/runs (after a stopped run)")
    parser.add_argument("--do-nothing", action="store_true",
                        help="train nothing: print each task's success for a policy that never moves")
    args = parser.parse_args()
    command = shlex.join(["python", "benchmarks/learning/manipulation.py", *sys.argv[1:]])
    if args.do_nothing:
        for task in TASKS:
            for backend in args.backends:
                print(f"{task} ({backend}): do-nothing success {do_nothing_success(task, backend):.2f} over 100 episodes")
        return
    if args.collect:
        rows = collected_rows(args.out)
        write_table(rows, args.out, command, "Collected from the finished runs' eval.json files (no curves). ")
        print(markdown(rows))
        return

    tasks = ["Reach"] if args.quick else TASKS
    steps = {"Reach": 2_000 if args.quick else args.reach_steps, "Push": args.push_steps}
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows, curves = [], {}
    for task in tasks:
        for backend in args.backends:
            for label, algo, reward in CONFIGURATIONS:
                experiment = Experiment(f"rewardgym/{task}-v0", {"backend": backend}, name=f"manipulation_{task}_{backend}",
                                        algo=algo, hyperparameters=HYPERPARAMETERS)
                for seed in args.seeds:
                    row, points = run_one(experiment, label, reward, None, seed, steps[task], args.out)
                    rows.append({"task": task, "backend": backend, "algo": algo, **row})
                    curves.setdefault((task, backend), {}).setdefault(label, []).append(points)

    plot(curves, steps, args.out / "manipulation.png")
    write_table(rows, args.out, command, f"Total {(time.time() - started) / 60:.1f} minutes. ")
    print(markdown(rows))
    print(f"wrote {args.out / 'manipulation'}.csv, .png and .md")


if __name__ == "__main__":
    main()
