"""Soak test: every registered id stepped for millions of transitions with random actions.

    python benchmarks/soak.py [--transitions 10000000] [--manipulation-transitions 1000000]
                              [--ids ID ...] [--csv results/soak.csv] [--out results/soak.md]

For each id with default arguments and each autoreset mode (NEXT_STEP, SAME_STEP, DISABLED, the
last resetting ended rows with ``reset_mask``), a batch of ``--rows`` envs takes uniformly random
valid actions (``rewardgym.policies.random_policy``) until it has made the transitions asked for.
Every step checks that observations, rewards and every float info value (``final_obs`` and
``final_info`` included) are finite; any exception is recorded. Resident memory is read after a
warm-up tenth of the steps and at the end: it should stay flat (growth < 5%). Finished
(id, mode) pairs are kept in the CSV and not redone, so a killed soak resumes.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from gymnasium.vector import AutoresetMode

import rewardgym
from rewardgym.policies import random_policy
from rewardgym.throughput import machine_line

MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)
MANIPULATION = ("Reach", "Push", "PickPlace")
FIELDS = ["id", "mode", "rows", "transitions", "seconds", "non_finite", "error", "rss_warm_mib", "rss_end_mib",
          "rss_growth"]
GROWTH_LIMIT = 0.05


def resident_mib() -> float:
    """This process's resident memory (Linux ``/proc/self/statm``), MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def non_finite(value: Any, name: str) -> list[str]:
    """The names of the float tensors in ``value`` (a tensor or nested dict) holding NaN or inf."""
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in non_finite(item, f"{name}.{key}")]
    if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        return [name]
    return []


def soak(env_id: str, mode: AutoresetMode, rows: int, transitions: int) -> dict[str, Any]:
    """Step one id in one autoreset mode; what went wrong, and the memory before and after."""
    result: dict[str, Any] = {"id": env_id, "mode": mode.value, "rows": rows, "non_finite": "", "error": ""}
    steps = -(-transitions // rows)
    started = time.perf_counter()
    made = 0
    try:
        envs = gym.make_vec(env_id, num_envs=rows, autoreset_mode=mode, vectorization_mode="vector_entry_point")
        policy = random_policy(envs, seed=0)
        observation, info = envs.reset(seed=0)
        started_rows = torch.ones(rows, dtype=torch.bool)
        bad: list[str] = []
        for step in range(steps):
            if step == max(steps // 10, 1):
                result["rss_warm_mib"] = resident_mib()
            action = policy(observation, info, started_rows)
            observation, reward, terminated, truncated, info = envs.step(action)
            made += rows
            bad = non_finite(observation, "obs") + non_finite(reward, "reward") + non_finite(info, "info")
            if bad:
                result["non_finite"] = f"step {step}: {', '.join(sorted(set(bad)))}"
                break
            ended = terminated | truncated
            if mode == AutoresetMode.DISABLED and bool(ended.any()):
                observation, info = envs.reset(options={"reset_mask": ended})
            started_rows = ended.cpu()
        envs.close()
    except Exception:  # noqa: BLE001 -- the soak records any failure instead of stopping
        result["error"] = traceback.format_exc(limit=3).strip().splitlines()[-1]
    result["transitions"] = made
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["rss_end_mib"] = resident_mib()
    result.setdefault("rss_warm_mib", result["rss_end_mib"])
    result["rss_growth"] = result["rss_end_mib"] / result["rss_warm_mib"] - 1
    return result


def finished(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


def write_markdown(rows: list[dict[str, str]], out: Path, command: str) -> None:
    lines = [
        "# Soak: every id under random actions, in every autoreset mode",
        "",
        machine_line(),
        "",
        "| id | mode | rows | transitions | minutes | non-finite values | error | RSS after warm-up → end (MiB) | growth |",
        "|---|---|---:|---:|---:|---|---|---|---:|",
    ]
    for r in rows:
        growth = float(r["rss_growth"])
        flag = "" if growth < GROWTH_LIMIT else " ⚠"
        lines.append(f"| `{r['id']}` | {r['mode']} | {int(r['rows']):,} | {int(r['transitions']):,} | "
                     f"{float(r['seconds']) / 60:.1f} | {r['non_finite'] or 'none'} | {r['error'] or 'none'} | "
                     f"{float(r['rss_warm_mib']):.0f} → {float(r['rss_end_mib']):.0f} | {growth:+.1%}{flag} |")
    clean = sum(not r["non_finite"] and not r["error"] and float(r["rss_growth"]) < GROWTH_LIMIT for r in rows)
    lines += ["", f"{clean} of {len(rows)} (id, mode) runs clean: no non-finite value, no error, resident memory "
              f"grew less than {GROWTH_LIMIT:.0%} after warm-up. Each (id, mode) runs in one process after the "
              "ones before it, so the RSS columns include what earlier runs left allocated; the growth is within "
              f"one run. Produced by `{command}`.", ""]
    out.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=10_000_000)
    parser.add_argument("--manipulation-transitions", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--manipulation-rows", type=int, default=64)
    parser.add_argument("--ids", nargs="*", default=rewardgym.registered_ids())
    parser.add_argument("--csv", type=Path, default=Path("results/soak.csv"))
    parser.add_argument("--out", type=Path, default=Path("results/soak.md"))
    args = parser.parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    rows = finished(args.csv)
    done = {(r["id"], r["mode"]) for r in rows}
    for env_id in args.ids:
        manipulation = any(task in env_id for task in MANIPULATION)
        for mode in MODES:
            if (env_id, mode.value) in done:
                continue
            result = soak(env_id, mode, args.manipulation_rows if manipulation else args.rows,
                          args.manipulation_transitions if manipulation else args.transitions)
            print(result, flush=True)
            new_file = not args.csv.exists()
            with args.csv.open("a", newline="") as file:
                writer = csv.DictWriter(file, FIELDS)
                if new_file:
                    writer.writeheader()
                writer.writerow(result)
            rows.append({key: str(value) for key, value in result.items()})
            write_markdown(rows, args.out, command)


if __name__ == "__main__":
    main()
