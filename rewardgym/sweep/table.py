"""A sweep's results: one row per trial (``trials.csv``), and per configuration the IQM across seeds (``sweep.md``).

Success is each trial's ``eval.json``: the greedy policy's sparse success, one episode in each of
the sweep's ``eval_rows`` fresh envs, on held-out levels for procedural envs (``evaluation.py``).
The seed is the unit: a configuration's figure is the IQM of its seeds' rates with a 95%
stratified-bootstrap interval (rliable).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from rewardgym.evaluation import iqm_interval, normalised_score
from rewardgym.report.protocol import Entry, family_of
from rewardgym.report.runner import reference_levels, training_curve
from rewardgym.sweep.runner import Trial, finished
from rewardgym.sweep.spec import Sweep


def trial_rows(sweep: Sweep, out: Path) -> list[dict[str, Any]]:
    """One row per finished trial: the configuration's values, the seed, the steps trained, the success rate."""
    rows = []
    for configuration in sweep.configurations:
        for seed in sweep.seeds:
            run_dir = Trial(configuration.slug, seed).run_dir(out)
            if finished(run_dir):
                result = json.loads((run_dir / "eval.json").read_text())
                rows.append({"configuration": configuration.slug, **configuration.label, "seed": seed,
                             "steps": result["steps"], "success_rate": result["success_rate"]})
    return rows


def configuration_rows(sweep: Sweep, out: Path) -> list[list[str]]:
    """Per configuration: its values, seeds finished, and the success IQM (95% CI) across them."""
    by_configuration: dict[str, list[float]] = {}
    for row in trial_rows(sweep, out):
        by_configuration.setdefault(row["configuration"], []).append(row["success_rate"])
    table = []
    for configuration in sweep.configurations:
        rates = by_configuration.get(configuration.slug, [])
        if rates:
            middle, low, high = iqm_interval(np.asarray(rates))
            figure = f"{middle:.2f} ({low:.2f}–{high:.2f})"
        else:
            figure = "–"
        table.append([*(str(value) for value in configuration.label.values()), f"{len(rates)}/{len(sweep.seeds)}",
                      figure])
    return table


def write_tables(sweep: Sweep, out: Path) -> Path:
    """Write ``trials.csv`` and ``sweep.md`` for what is finished; returns the Markdown's path."""
    out = Path(out)
    rows = trial_rows(sweep, out)
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["configuration", "seed", "success_rate"]
    with (out / "trials.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    header = [*sweep.configurations[0].label, "seeds", "success IQM (95% CI)"]
    lines = [f"# Sweep {sweep.name}", "",
             f"{sweep.algo}, {sweep.steps:,} env steps per trial, seeds {sweep.seeds[0]}–{sweep.seeds[-1]}; success: "
             f"the greedy policy's sparse success on {sweep.eval_rows} fresh envs per trial (held-out levels for "
             "procedural envs); IQM across seeds with a 95% stratified-bootstrap interval (rliable).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in configuration_rows(sweep, out)]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    return out / "sweep.md"


def sweep_results(sweep: Sweep, out: Path) -> list[dict[str, Any]]:
    """Each configuration with a finished trial as a report entry: its seeds' success beside the env's floors
    and oracle (measured once per env, cached under ``references/``), normalised scores, training curves."""
    out = Path(out)
    rates: dict[str, dict[int, float]] = {}
    for row in trial_rows(sweep, out):
        rates.setdefault(row["configuration"], {})[row["seed"]] = row["success_rate"]
    results = []
    for configuration in sweep.configurations:
        done = rates.get(configuration.slug)
        if not done:
            continue
        env = configuration.env
        entry = Entry(configuration.slug, family_of(env.env_id), env.env_id, sweep.steps, sweep.algo, env.env_kwargs)
        folder = out / "references" / "".join(c if c.isalnum() or c in "-_." else "_" for c in env.name)
        folder.mkdir(parents=True, exist_ok=True)
        reference = reference_levels(entry, folder)
        best_floor, oracle = max(reference["floors"].values()), reference["oracle"]
        success = list(done.values())
        run_dirs = [Trial(configuration.slug, seed).run_dir(out) for seed in done]
        results.append({
            "name": configuration.slug, "family": entry.family, "env_id": env.env_id, "algo": sweep.algo,
            "steps": sweep.steps, "seeds": list(done), "success": success, "floors": reference["floors"],
            "best_floor": best_floor, "oracle": oracle,
            "normalised": ([float(normalised_score(s, best_floor, oracle)) for s in success]
                           if oracle is not None and oracle > best_floor else None),
            "curve": training_curve(run_dirs, sweep.steps),
        })
    return results


def write_sweep_page(sweep_dir: Path, out: Path) -> Path:
    """Render the sweep in ``sweep_dir`` as a report page (``report.html``, ``report.md``) in ``out``."""
    from rewardgym.report.page import write_sweep_report
    from rewardgym.sweep.spec import parse_sweep

    saved = json.loads((Path(sweep_dir) / "sweep.json").read_text())
    sweep = parse_sweep(saved["sweep"])
    facts = [("command", saved.get("command") or "–"),
             ("sweep", f"{sweep.name}: {len(sweep.configurations)} configurations × seeds {sweep.seeds[0]}–"
                       f"{sweep.seeds[-1]}, {sweep.algo}, {sweep.steps:,} env steps per trial, "
                       f"{sweep.eval_rows} evaluation envs per trial"),
             ("trials finished", f"{len(trial_rows(sweep, sweep_dir))} of {len(sweep.configurations) * len(sweep.seeds)}")]
    Path(out).mkdir(parents=True, exist_ok=True)
    return write_sweep_report(out, sweep.name, sweep_results(sweep, sweep_dir), facts)
