"""Running a report: every entry of a protocol, trained with the method, evaluated beside its floors and oracle.

A report directory holds:

    report.json                  the method, the protocol (name, version, entries), the command, and
                                 each entry's resolved run configuration, pinned when the entry first runs
    <entry>/runs/                the entry's run directories (one per seed), ordinary runs for eval/render
    <entry>/reference.json       the floors and the oracle's success on the entry's evaluation configuration
    <entry>/result.json          per seed: success, normalised score; the training curve; wall time, commit, machine

An entry with a ``result.json`` is finished and never redone; a killed report rerun with the same
command resumes the unfinished entry from its runs' checkpoints. Every entry trains with the run
configuration the report resolved for it first (the protocol's overrides over
``agents/hyperparams/<algo>.yaml``), kept in ``report.json``: editing a hyperparameter file while a
report is unfinished changes none of its entries, so all of them share one configuration.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import rewardgym
from rewardgym.agents import fast_ppo_run
from rewardgym.agents.fast_ppo import env_seeds
from rewardgym.agents.runs import train_and_evaluate
from rewardgym.agents.training import RunConfig, write_json
from rewardgym.evaluation import EVAL_RESTART, floor_success, held_out_kwargs, normalised_score, oracle_success
from rewardgym.report.protocol import Entry, Method, Protocol
from rewardgym.throughput import machine_line

#: Fresh envs (one episode each) on which an entry's floors and oracle are measured.
REFERENCE_ROWS = 256
#: Checkpoints per run: a killed report loses at most this fraction of an entry's training.
CHECKPOINTS_PER_RUN = 10
#: Points of each seed's training curve kept in result.json.
CURVE_POINTS = 50


def run_report(method: Method, protocol: Protocol, out: Path, command: str = "", progress_bar: bool = True,
               device: str = "cpu") -> list[dict[str, Any]]:
    """Run (or resume) ``method`` over ``protocol`` into ``out``; every entry's result, in protocol order.

    A method that applies to no entry of the protocol (a reward no env has) is a ``ValueError``.
    """
    git_commit()  # the code this process loaded, recorded in every entry it trains
    reasons = [method.skip_reason(entry) for entry in protocol.entries]
    if all(reasons):
        raise ValueError(f"the method {method.label!r} applies to no entry of the protocol: {reasons}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"method": asdict(method), "protocol": {"name": protocol.name, "version": protocol.version,
                                                        "seeds": protocol.seeds, "first_seed": protocol.first_seed,
                                                        "eval_rows": protocol.eval_rows,
                                                        "entries": [asdict(e) for e in protocol.entries]}}
    saved = out / "report.json"
    manifest["command"] = command
    pinned: dict[str, Any] = {}
    if saved.exists():
        previous = json.loads(saved.read_text())
        if previous["method"] != manifest["method"] or previous["protocol"]["name"] != protocol.name:
            raise ValueError(f"{out} holds a report of another method or protocol; choose another --out")
        changed = changed_entries(previous["protocol"], manifest["protocol"])
        for slug in changed:
            shutil.rmtree(out / slug, ignore_errors=True)
        if {"first_seed": 0, **previous["protocol"]} == manifest["protocol"]:
            manifest["command"] = previous.get("command", command)
        pinned = {slug: config for slug, config in previous.get("run_configs", {}).items() if slug not in changed}
    manifest["run_configs"] = {
        entry.slug: pinned.get(entry.slug) or asdict(_run_config(method, entry).resolved())
        for entry in protocol.entries if method.skip_reason(entry) is None
    }
    write_json(saved, manifest)

    results = []
    columns = [TextColumn(f"report {method.label} ({protocol.name})"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, disable=not progress_bar) as progress:
        task = progress.add_task("", total=len(protocol.entries))
        for entry in protocol.entries:
            progress.update(task, description=entry.name)
            config = manifest["run_configs"].get(entry.slug)
            results.append(entry_result(method, protocol, entry, out / entry.slug, device,
                                        None if config is None else RunConfig(**config)))
            progress.advance(task)
    return results


def changed_entries(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The entry folders a report of protocol ``previous`` holds that do not belong to ``current``:
    entries it dropped or changed (every entry, if the seeds or evaluation envs changed).

    A new version of a protocol thus redoes only what it changed: an entry defined exactly as
    before gives exactly the same result (same seeds, same code path), so it is kept.
    """
    def by_slug(protocol: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {Entry(**entry).slug: entry for entry in protocol["entries"]}

    before, after = by_slug(previous), by_slug(current)
    same_evaluation = all(previous.get(key, 0) == current.get(key, 0) for key in ("seeds", "first_seed", "eval_rows"))
    return [slug for slug, entry in before.items() if not same_evaluation or after.get(slug) != entry]


def entry_result(method: Method, protocol: Protocol, entry: Entry, folder: Path, device: str = "cpu",
                 config: RunConfig | None = None) -> dict[str, Any]:
    """The entry's result, from its ``result.json`` if finished, else trained (with the resolved run
    configuration ``config``; by default the entry's, resolved now), evaluated and saved."""
    done = folder / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"name": entry.name, "family": entry.family, "env_id": entry.env_id,
                              "env_kwargs": entry.env_kwargs, "algo": entry.algo, "steps": entry.steps}
    skip = method.skip_reason(entry)
    if skip is not None:
        write_json(done, {**result, "skipped": skip})
        return json.loads(done.read_text())
    seeds = protocol.run_seeds
    config = config or _run_config(method, entry).resolved()
    started = time.perf_counter()
    success = train_and_evaluate(config, seeds, folder / "runs", protocol.eval_rows, device)
    reference = reference_levels(entry, folder, device)
    best_floor = max(reference["floors"].values())
    oracle = reference["oracle"]
    normalisable = oracle is not None and oracle > best_floor
    result.update({
        "seeds": seeds, "success": success, "train_and_eval_seconds": time.perf_counter() - started,
        "floors": reference["floors"], "best_floor": best_floor, "oracle": oracle,
        "normalised": [float(normalised_score(s, best_floor, oracle)) for s in success] if normalisable else None,
        "curve": training_curve(fast_ppo_run.seed_directories(folder / "runs", seeds), entry.steps),
        "commit": git_commit(), "machine": machine_line(), "run_config": asdict(config),
    })
    write_json(done, result)
    return result


@functools.cache
def git_commit() -> str:
    """The short commit of the rewardgym code this process runs, ``+dirty`` if the package had
    uncommitted changes (``"unknown"`` outside a git checkout).

    Read once, at the first call (``run_report`` makes it at its start): the code a process runs
    is the code it loaded then, whatever is committed while a long report trains.
    """
    package = Path(rewardgym.__file__).parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=package, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return (commit + ("+dirty" if git("status", "--porcelain", "--", ".") else "")) if commit else "unknown"
    except OSError:
        return "unknown"


def _run_config(method: Method, entry: Entry) -> RunConfig:
    hyper = dict(entry.hyperparameters)
    return RunConfig(entry.env_id, algo=entry.algo, reward=method.reward, bonus=method.bonus,
                     bonus_coef=method.bonus_coef, steps=entry.steps, seed=0, num_envs=hyper.pop("n_envs", None),
                     checkpoint_every=max(entry.steps // CHECKPOINTS_PER_RUN, 1), env_kwargs=dict(entry.env_kwargs),
                     hyperparameters=hyper)


def reference_levels(entry: Entry, folder: Path, device: str = "cpu") -> dict[str, Any]:
    """The floors (uniform random, every constant action) and the oracle's success on the entry's evaluation
    configuration (held-out levels, ``REFERENCE_ROWS`` fresh envs); cached in ``reference.json``."""
    cached = folder / "reference.json"
    if cached.exists():
        return json.loads(cached.read_text())
    kwargs = held_out_kwargs(entry.env_id, entry.env_kwargs)
    rows = env_seeds(0, REFERENCE_ROWS, EVAL_RESTART)
    floors = {name: float(s.float().mean()) for name, s in floor_success(entry.env_id, kwargs, rows, device).items()}
    oracle = oracle_success(entry.env_id, kwargs, rows, device)
    reference = {"rows": REFERENCE_ROWS, "floors": floors, "oracle": None if oracle is None else float(oracle.float().mean())}
    write_json(cached, reference)
    return reference


def training_curve(run_dirs: Sequence[Path], steps: int) -> dict[str, list]:
    """Each run's training success rate (TensorBoard's ``rollout/success_rate``) on a common grid of env steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    grid = np.linspace(0, steps, CURVE_POINTS)
    curves = []
    for run_dir in run_dirs:
        points: list[tuple[int, float]] = []
        for events in sorted((Path(run_dir) / "tensorboard").rglob("events.out.tfevents.*")):
            accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
            accumulator.Reload()
            if "rollout/success_rate" in accumulator.Tags()["scalars"]:
                points += [(e.step, e.value) for e in accumulator.Scalars("rollout/success_rate")]
        points = sorted(p for p in points if np.isfinite(p[1]))
        curves.append(np.interp(grid, *zip(*points)).tolist() if points else [float("nan")] * CURVE_POINTS)
    return {"steps": grid.tolist(), "success": curves}

