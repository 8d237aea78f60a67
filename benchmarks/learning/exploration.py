"""PPO on the exploration family: a bsuite-style DeepSea score (sparse vs +count, +RND, +E3B) and
KeyDoor / NoisyTV success under count vs RND vs E3B.

    python benchmarks/learning/exploration.py [--parts deepsea keydoor noisytv] [--sizes 5 10 15 20 25 30]
        [--episodes 2000] [--steps 100000] [--seeds 0] [--out results] [--quick]

DeepSea (deterministic, bsuite's dynamics, one action mapping per run: ``mapping_seed`` = the run's
seed): each size N trains for ``--episodes`` episodes (``episodes · N`` env steps; bsuite runs 10,000
episodes). bsuite calls a size solved at the first episode k where the running fraction of bad
episodes ``total_bad_episodes / k`` falls below 0.8 (``find_solution``), and its score counts the
sizes solved before episode 2ᴺ + 100. That running fraction still carries the bad episodes before
learning started, so with a budget 5 to 10 times smaller it mostly measures how early learning
started; the score here is therefore adapted to the budget: a size is *solved* when the policy at
the end of the budget finds the treasure, i.e. its greedy (deterministic) success over 100
evaluation episodes is at least 0.9 (regret below 0.1). bsuite's episode k is reported next to it
(in deterministic DeepSea an episode is bad exactly when it misses the treasure, so it is read
from SB3's ``is_success``), with the fraction of training episodes that found the treasure.

KeyDoor and NoisyTV (default arguments) train for ``--steps`` env steps per bonus and are evaluated
on the sparse success rate over 100 episodes.

Writes ``exploration.csv`` (one row per run; a part that is run again replaces its own rows, so
parts can be run separately), ``exploration.png`` and ``exploration.md`` to ``--out``; the runs
themselves go to ``--out/runs``. ``--quick``: sizes 5 and 8, 200 episodes, 4,096 steps, first
seed only — a smoke test of the whole pipeline, not a result.

Budget: about 15 minutes on 2 CPU cores for the default run (DeepSea ≈ 210,000 env steps per
configuration, KeyDoor and NoisyTV 100,000 per bonus).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

import rewardgym  # noqa: E402
from rewardgym.agents.experiment import Experiment, markdown, run_one  # noqa: E402

DEEP_SEA = "rewardgym/DeepSea-v0"
OTHER_ENVS = {"keydoor": "rewardgym/KeyDoor-v0", "noisytv": "rewardgym/NoisyTV-v0"}
PARTS = ["deepsea", *OTHER_ENVS]
#: (label, reward, bonus): DeepSea runs all four, KeyDoor and NoisyTV the three bonuses.
CONFIGURATIONS = [
    ("sparse", "sparse", None),
    ("sparse + count", "sparse", "count"),
    ("sparse + RND", "sparse", "rnd"),
    ("sparse + E3B", "sparse", "e3b"),
]
#: PPO updates every 512 steps on DeepSea (16 envs × 32 steps), not every 2,048: its episodes are short
#: and few, and bsuite's agents learn after every episode.
DEEP_SEA_PPO = {"n_steps": 32, "batch_size": 256}
BAD_THRESHOLD = 0.8  # bsuite deep_sea analysis.find_solution
DITHERING_FORGIVENESS = 100  # bsuite deep_sea analysis.score
SOLVED_SUCCESS = 0.9  # greedy evaluation success that counts a size as solved here


class EpisodeOutcomes(BaseCallback):
    """Whether each training episode succeeded, in the order the episodes ended."""

    def __init__(self) -> None:
        super().__init__()
        self.successes: list[bool] = []

    def _on_step(self) -> bool:
        self.successes += [info["is_success"] for info in self.locals["infos"] if "is_success" in info]
        return True


def solved_at(successes: list[bool], episodes: int) -> int | None:
    """bsuite's solution episode: the first k ≤ ``episodes`` with (bad episodes among the first k) / k < 0.8."""
    found = np.cumsum(np.asarray(successes[:episodes], dtype=float))
    k = np.arange(1, len(found) + 1)
    below = np.flatnonzero((k - found) / k < BAD_THRESHOLD)
    return int(k[below[0]]) if len(below) else None


def run_deep_sea(sizes: list[int], episodes: int, seeds: list[int], out: Path) -> list[dict]:
    rows = []
    for size in sizes:
        for label, reward, bonus in CONFIGURATIONS:
            for seed in seeds:
                # One action mapping per run (bsuite's mapping_seed), shared by the training batch and the evaluation.
                experiment = Experiment(DEEP_SEA, {"size": size, "mapping_seed": seed}, name=f"deepsea{size}",
                                        hyperparameters=DEEP_SEA_PPO)
                outcomes = EpisodeOutcomes()
                row, _ = run_one(experiment, label, reward, bonus, seed, episodes * size, out, callbacks=[outcomes])
                solution = solved_at(outcomes.successes, episodes)
                rows.append({
                    "part": "deepsea", "env": DEEP_SEA, "size": size, **row, "episodes": episodes,
                    "solved": row["success_rate"] >= SOLVED_SUCCESS,
                    "train_success": float(np.mean(outcomes.successes[:episodes])) if outcomes.successes else 0.0,
                    "bsuite_solved_at": solution if solution is not None else "",
                    "bsuite_beats_dithering": solution is not None and solution < 2**size + DITHERING_FORGIVENESS,
                })
    return rows


def run_other(part: str, steps: int, seeds: list[int], out: Path) -> list[dict]:
    env_id = OTHER_ENVS[part]
    if env_id not in rewardgym.registered_ids():
        raise SystemExit(f"{env_id} is not registered: cannot run the {part} part")
    experiment = Experiment(env_id, {}, name=part)
    rows = []
    for label, reward, bonus in CONFIGURATIONS:
        if bonus is None:
            continue
        for seed in seeds:
            row, _ = run_one(experiment, label, reward, bonus, seed, steps, out)
            rows.append({"part": part, "env": env_id, "size": "", **row})
    return rows


def parsed(text: str) -> object:
    """A CSV cell as the value it was written from: bool, int, float or (else) text."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def merged_rows(path: Path, new_rows: list[dict]) -> list[dict]:
    """The rows of ``path`` whose part was not rerun, then the new rows."""
    rerun = {row["part"] for row in new_rows}
    old = []
    if path.exists():
        with open(path, newline="") as handle:
            old = [{key: parsed(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    return [row for row in old if row["part"] not in rerun] + new_rows


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


def deep_sea_table(rows: list[dict]) -> str:
    """Per configuration and size (per seed): solved or not, bsuite's episode and the training success; the score."""
    sizes = sorted({row["size"] for row in rows})
    header = "| configuration | " + " | ".join(f"N={n}" for n in sizes) + " | score (fraction solved) |"
    lines = [header, "|---|" + ":---:|" * len(sizes) + "---:|"]
    for label in dict.fromkeys(row["configuration"] for row in rows):
        mine = [row for row in rows if row["configuration"] == label]
        cells = []
        for n in sizes:
            at_size = [row for row in mine if row["size"] == n]
            cells.append(", ".join(
                f"{'✓' if row['solved'] else '✗'} {row['bsuite_solved_at'] or '–'} ({row['train_success']:.2f})"
                for row in at_size))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.mean([row['solved'] for row in mine]):.2f} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Left: DeepSea greedy eval success against size; right: KeyDoor / NoisyTV eval success per bonus."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    deep = [row for row in rows if row["part"] == "deepsea"]
    for label in dict.fromkeys(row["configuration"] for row in deep):
        sizes = sorted({row["size"] for row in deep if row["configuration"] == label})
        success = [np.mean([r["success_rate"] for r in deep if r["configuration"] == label and r["size"] == n])
                   for n in sizes]
        left.plot(sizes, success, marker="o", label=label)
    left.set_xlabel("DeepSea size N")
    left.set_ylabel("greedy eval success (mean over seeds)")
    left.set_ylim(-0.02, 1.02)
    left.set_title(f"PPO on {DEEP_SEA}", fontsize=9)
    if deep:
        left.legend(fontsize=8)

    other = [row for row in rows if row["part"] != "deepsea"]
    parts = list(dict.fromkeys(row["part"] for row in other))
    labels = list(dict.fromkeys(row["configuration"] for row in other))
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        heights = [np.mean([r["success_rate"] for r in other if r["part"] == part and r["configuration"] == label] or [0])
                   for part in parts]
        right.bar(np.arange(len(parts)) + i * width, heights, width, label=label)
    right.set_xticks(np.arange(len(parts)) + width * (len(labels) - 1) / 2, [OTHER_ENVS[p] for p in parts], fontsize=8)
    right.set_ylabel("sparse eval success (mean over seeds)")
    right.set_ylim(0, 1.02)
    right.set_title("PPO + intrinsic bonus", fontsize=9)
    if other:
        right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def report(rows: list[dict], command: str) -> str:
    sections = [f"# PPO on the exploration family\n\nProduced by `{command}` (parts run separately merge into one CSV)."]
    deep = [row for row in rows if row["part"] == "deepsea"]
    if deep:
        episodes = deep[0]["episodes"]
        sections.append(
            f"## DeepSea (bsuite score, {episodes} training episodes per size)\n\n"
            "Each cell, per seed: ✓ solved (the final greedy policy finds the treasure in ≥ 90% of 100 evaluation "
            "episodes; an untrained greedy policy does so with probability 2⁻ᴺ) or ✗; then bsuite's solution episode (the first training episode at which the running fraction "
            "of bad episodes fell below 0.8; – if never within the budget); in brackets the fraction of training "
            "episodes that found the treasure. Score: the fraction of (size, seed) runs solved.\n\n"
            + deep_sea_table(deep))
    for part, env_id in OTHER_ENVS.items():
        mine = [row for row in rows if row["part"] == part]
        if mine:
            sections.append(f"## {env_id} ({mine[0]['steps']} env steps per run)\n\n" + markdown(mine))
    return "\n\n".join(sections) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 15, 20, 25, 30], help="DeepSea sizes")
    parser.add_argument("--episodes", type=int, default=2000, help="DeepSea training episodes per size")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per KeyDoor / NoisyTV run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="a tiny smoke test of every part")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.episodes, args.steps, args.seeds = [5, 8], 200, 4096, args.seeds[:1]

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for part in args.parts:
        if part == "deepsea":
            rows += run_deep_sea(args.sizes, args.episodes, args.seeds, args.out)
        else:
            rows += run_other(part, args.steps, args.seeds, args.out)

    rows = merged_rows(args.out / "exploration.csv", rows)
    write_csv(args.out / "exploration.csv", rows)
    plot(rows, args.out / "exploration.png")
    command = shlex.join(["python", "benchmarks/learning/exploration.py", *sys.argv[1:]])
    text = report(rows, command)
    (args.out / "exploration.md").write_text(text)
    print(text)
    print(f"wrote {args.out}/exploration.csv, .png and .md")


if __name__ == "__main__":
    main()
