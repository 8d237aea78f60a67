"""Writing a report: one self-contained HTML page (pictures embedded), a Markdown twin and a CSV.

Per entry: the success rate's IQM across seeds with its 95% interval, the best trivial policy
(floor) and the oracle beside it, and the normalised score ``(success − best floor) / (oracle −
best floor)`` where the oracle beats the floor. Per family: the IQM of the normalised scores over
all its runs and entries, a bar chart, the training curves; over everything: a performance
profile. ``write_comparison`` puts two reports side by side with the probability of improvement.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rewardgym.evaluation import iqm_interval, performance_profiles, probability_of_improvement  # noqa: E402
from rewardgym.report.protocol import FAMILIES  # noqa: E402

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
img { max-width: 100%; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
.note { color: #666; font-size: 13px; }
"""


def load_report(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A report directory's manifest and its entries' results (finished entries only, in protocol order)."""
    out = Path(out)
    manifest = json.loads((out / "report.json").read_text())
    results = []
    for entry in manifest["protocol"]["entries"]:
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in entry["name"])
        done = out / slug / "result.json"
        if done.exists():
            results.append(json.loads(done.read_text()))
    return manifest, results


def scores(result: dict[str, Any]) -> np.ndarray:
    """An entry's per-seed score: normalised where it has an oracle above its floor, else the success rate."""
    return np.array(result["normalised"] if result.get("normalised") is not None else result["success"], dtype=float)


def family_scores(results: Sequence[dict[str, Any]], family: str) -> np.ndarray | None:
    """Runs × entries of a family's normalised scores (entries with one); None if it has none."""
    columns = [np.array(r["normalised"]) for r in results
               if r["family"] == family and "skipped" not in r and r.get("normalised") is not None]
    if not columns or len({len(c) for c in columns}) != 1:
        return None
    return np.stack(columns, axis=1)


def _interval_text(values: Sequence[float]) -> str:
    middle, low, high = iqm_interval(np.asarray(values, dtype=float))
    return f"{middle:.2f} ({low:.2f}–{high:.2f})"


def entry_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The per-entry table: family, env, budget, success IQM (CI), best floor, oracle, normalised IQM (CI), time."""
    rows = []
    for r in results:
        if "skipped" in r:
            rows.append([r["family"], r["name"], r["algo"], f"{r['steps']:,}", "–", "skipped: " + r["skipped"],
                         "", "", "", ""])
            continue
        floor_name = max(r["floors"], key=r["floors"].get)
        rows.append([
            r["family"], r["name"], r["algo"], f"{r['steps']:,}", str(len(r["seeds"])), _interval_text(r["success"]),
            f"{r['best_floor']:.2f} ({floor_name})", "none" if r["oracle"] is None else f"{r['oracle']:.2f}",
            _interval_text(r["normalised"]) if r.get("normalised") is not None else "–",
            f"{r['train_and_eval_seconds'] / 60:.1f}" if "train_and_eval_seconds" in r else "–",
        ])
    return rows


ENTRY_HEADER = ["family", "env", "algo", "steps per seed", "seeds", "success IQM (95% CI)", "best floor",
                "oracle", "normalised IQM (95% CI)", "minutes"]


def family_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Per family: the IQM (95% CI) of its normalised scores over all runs and entries."""
    rows = []
    for family in FAMILIES:
        matrix = family_scores(results, family)
        if matrix is not None:
            rows.append([family, str(matrix.shape[1]), str(matrix.shape[0]), _interval_text(matrix)])
    return rows


FAMILY_HEADER = ["family", "entries", "seeds", "normalised IQM (95% CI)"]


def _figure_png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def family_chart(results: Sequence[dict[str, Any]], family: str) -> str:
    """A base64 PNG: per entry, the success IQM with its interval, the best floor and the oracle."""
    mine = [r for r in results if r["family"] == family and "skipped" not in r]
    figure, axes = plt.subplots(figsize=(max(4, 1.6 * len(mine)), 3.2))
    for i, r in enumerate(mine):
        middle, low, high = iqm_interval(np.array(r["success"]))
        axes.bar(i, middle, color="#4c72b0", width=0.6)
        axes.errorbar(i, middle, yerr=[[middle - low], [high - middle]], color="black", capsize=4)
        axes.hlines(r["best_floor"], i - 0.35, i + 0.35, colors="#c44e52", linestyles="--",
                    label="best floor" if i == 0 else None)
        if r["oracle"] is not None:
            axes.hlines(r["oracle"], i - 0.35, i + 0.35, colors="#55a868", label="oracle" if i == 0 else None)
    axes.set_xticks(range(len(mine)), [r["name"] for r in mine], fontsize=8, rotation=15)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("success (IQM over seeds)")
    axes.set_title(family)
    axes.legend(fontsize=8, loc="upper right")
    return _figure_png(figure)


def curves_chart(results: Sequence[dict[str, Any]], family: str) -> str:
    """A base64 PNG: each entry's training success rate against env steps, median over seeds and its IQR."""
    figure, axes = plt.subplots(figsize=(5, 3.2))
    for r in results:
        if r["family"] != family or "skipped" in r:
            continue
        curves = np.array(r["curve"]["success"], dtype=float)
        steps = np.array(r["curve"]["steps"])
        if np.isnan(curves).all():
            continue
        axes.plot(steps, np.nanmedian(curves, axis=0), label=r["name"])
        axes.fill_between(steps, *np.nanpercentile(curves, [25, 75], axis=0), alpha=0.2)
    axes.set_xlabel("env steps per seed")
    axes.set_ylabel("training success rate")
    axes.set_ylim(-0.02, 1.02)
    if axes.lines:
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no training episode ended", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(f"{family}: training curves")
    return _figure_png(figure)


def profile_chart(methods: dict[str, np.ndarray]) -> str:
    """A base64 PNG: performance profiles (fraction of runs above τ) of normalised scores, with 95% bands."""
    taus = np.linspace(-0.1, 1.1, 61)
    profiles, intervals = performance_profiles(methods, taus, reps=2000)
    figure, axes = plt.subplots(figsize=(5, 3.2))
    for name in methods:
        axes.plot(taus, profiles[name], label=name)
        axes.fill_between(taus, intervals[name][0], intervals[name][1], alpha=0.2)
    axes.set_xlabel("normalised score τ")
    axes.set_ylabel("fraction of runs > τ")
    axes.legend(fontsize=8)
    axes.set_title("performance profile")
    return _figure_png(figure)


def all_normalised(results: Sequence[dict[str, Any]]) -> np.ndarray | None:
    """Runs × entries of every entry's normalised scores; None if no entry has them."""
    columns = [np.array(r["normalised"]) for r in results if "skipped" not in r and r.get("normalised") is not None]
    return np.stack(columns, axis=1) if columns and len({len(c) for c in columns}) == 1 else None


def provenance(manifest: dict[str, Any], results: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Where and how the report was made: command, protocol, machine, versions, commit, wall time.

    The machine and commit are those each entry was trained on (a resumed report may span several).
    """
    trained = [r for r in results if "skipped" not in r]
    minutes = sum(r.get("train_and_eval_seconds", 0.0) for r in trained) / 60
    protocol = manifest["protocol"]
    return [("command", manifest.get("command") or "–"),
            ("protocol", f"{protocol['name']} v{protocol['version']}: {protocol['seeds']} seeds "
                         f"(from seed {protocol.get('first_seed', 0)}), {protocol['eval_rows']} evaluation envs per seed"),
            ("machine", "; ".join(sorted({r.get("machine", "not recorded") for r in trained})) or "–"),
            ("rewardgym commit", ", ".join(sorted({r.get("commit", "not recorded") for r in trained})) or "–"),
            ("wall time", f"{minutes:.1f} minutes of training and evaluation")]


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _write_pages(out: Path, title: str, sections: list[tuple[str, str | None, list[str], list[list[str]]]],
                 images: list[tuple[str, str]], facts: list[tuple[str, str]], notes: str) -> None:
    """``report.html`` and ``report.md`` from (heading, note, header, rows) tables and (caption, png) images."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p class='note'>{html.escape(notes)}</p>"]
    markdown = [f"# {title}", "", notes, ""]
    for heading, note, header, rows in sections:
        parts += [f"<h2>{html.escape(heading)}</h2>", _html_table(header, rows)]
        markdown += [f"## {heading}", "", _markdown_table(header, rows), ""]
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
            markdown += [note, ""]
    parts.append("<h2>Charts</h2><div class='charts'>")
    for caption, png in images:
        parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
                     f"<figcaption class='note'>{html.escape(caption)}</figcaption></figure>")
    parts.append("</div>")
    parts.append("<h2>Provenance</h2>" + _html_table(["", ""], [list(f) for f in facts]))
    markdown += ["## Provenance", "", *[f"- {key}: {value}" for key, value in facts], ""]
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    (out / "report.html").write_text(page)
    (out / "report.md").write_text("\n".join(markdown))


NOTES = ("Every figure is across seeds (the unit of replication): the interquartile mean with a 95% "
         "stratified-bootstrap interval (rliable). Success: the greedy policy's sparse success, one episode in each "
         "of the protocol's fresh evaluation envs per seed, on held-out levels for procedural envs. Floors: the "
         "uniform random policy and every constant action; normalised score = (success − best floor) / (oracle − "
         "best floor), given where the env has an oracle that beats its floors.")


def write_report(out: Path) -> Path:
    """Write ``report.html``, ``report.md`` and ``report.csv`` of the report in ``out``; returns the HTML's path."""
    out = Path(out)
    manifest, results = load_report(out)
    method = manifest["method"]
    label = method["reward"] if method["bonus"] is None else f"{method['reward']} + {method['bonus']}"
    with (out / "report.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["family", "env", "env_id", "algo", "steps", "seed", "success", "normalised", "best_floor",
                         "oracle"])
        for r in results:
            if "skipped" in r:
                continue
            for i, seed in enumerate(r["seeds"]):
                normalised = "" if r.get("normalised") is None else r["normalised"][i]
                writer.writerow([r["family"], r["name"], r["env_id"], r["algo"], r["steps"], seed, r["success"][i],
                                 normalised, r["best_floor"], "" if r["oracle"] is None else r["oracle"]])
    missing = len(manifest["protocol"]["entries"]) - len(results)
    notes = NOTES + (f" Unfinished: {missing} entries." if missing else "")
    _write_results_pages(out, f"rewardgym report: {label}", label, results, provenance(manifest, results), notes)
    return out / "report.html"


def _write_results_pages(out: Path, title: str, label: str, results: Sequence[dict[str, Any]],
                         facts: list[tuple[str, str]], notes: str, what: str = "environment") -> None:
    """The page of a report's (or a sweep's) results: per family and per entry, their charts, the facts."""
    images = []
    for family in FAMILIES:
        if any(r["family"] == family and "skipped" not in r for r in results):
            images.append((f"{family}: success per {what} (bars: IQM, 95% CI), best floor and oracle",
                           family_chart(results, family)))
            images.append((f"{family}: training success rate — the share of the episodes ending in each rollout "
                           "that succeeded, with the stochastic policy (median over seeds, IQR band); early on only "
                           "short episodes have ended, so the first points overstate success",
                           curves_chart(results, family)))
    everything = all_normalised(results)
    if everything is not None:
        images.append((f"performance profile of the normalised scores, every {what}",
                       profile_chart({label: everything})))
    sections = [("Per family", f"The IQM of the normalised scores over every seed and {what} of the family.",
                 FAMILY_HEADER, family_rows(results)),
                (f"Per {what}", None, ENTRY_HEADER, entry_rows(results))]
    _write_pages(out, title, sections, images, facts, notes)


def write_sweep_report(out: Path, name: str, results: Sequence[dict[str, Any]], facts: list[tuple[str, str]]) -> Path:
    """``report.html`` and ``report.md`` of a sweep: each configuration as an entry (``sweep/table.py``)."""
    notes = NOTES.replace("the protocol's", "the sweep's") + " One entry per configuration of the sweep's grid."
    _write_results_pages(Path(out), f"rewardgym sweep: {name}", name, results, facts, notes, what="configuration")
    return Path(out) / "report.html"


def same_protocol(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two reports' protocols are one (a report written before protocols had ``first_seed`` started at 0)."""
    return {"first_seed": 0, **a} == {"first_seed": 0, **b}


def write_comparison(a: Path, b: Path, out: Path) -> Path:
    """A page comparing two reports of the same protocol: per entry and family, P(A > B) with its 95% interval."""
    (manifest_a, results_a), (manifest_b, results_b) = load_report(a), load_report(b)
    if not same_protocol(manifest_a["protocol"], manifest_b["protocol"]):
        raise ValueError("the two reports ran different protocols; only reports of one protocol compare")
    label = {side: (m["method"]["reward"] if m["method"]["bonus"] is None else
                    f"{m['method']['reward']} + {m['method']['bonus']}")
             for side, m in (("a", manifest_a), ("b", manifest_b))}
    by_name = {r["name"]: r for r in results_b}
    rows, shared = [], []
    for r in results_a:
        other = by_name.get(r["name"])
        if other is None or "skipped" in r or "skipped" in other:
            continue
        shared.append((r, other))
        p, low, high = probability_of_improvement(scores(r), scores(other))
        rows.append([r["family"], r["name"], _interval_text(scores(r)), _interval_text(scores(other)),
                     f"{p:.2f} ({low:.2f}–{high:.2f})"])
    family_table = []
    for family in FAMILIES:
        pairs = [(x, y) for x, y in shared if x["family"] == family]
        if pairs:
            p, low, high = probability_of_improvement(np.stack([scores(x) for x, _ in pairs], 1),
                                                      np.stack([scores(y) for _, y in pairs], 1))
            family_table.append([family, str(len(pairs)), f"{p:.2f} ({low:.2f}–{high:.2f})"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header = ["family", "env", f"{label['a']}: score IQM (95% CI)", f"{label['b']}: score IQM (95% CI)",
              f"P({label['a']} > {label['b']}) (95% CI)"]
    images = []
    both = {label["a"]: all_normalised([x for x, _ in shared]), label["b"]: all_normalised([y for _, y in shared])}
    if all(v is not None for v in both.values()):
        images.append(("performance profiles of the normalised scores", profile_chart(both)))
    notes = (NOTES + " Score: the normalised score where the env has an oracle, else the success rate. "
             "P(A > B): the probability that a seed of A scores above a seed of B on the same env (ties count a "
             "half), with its 95% bootstrap interval; an interval that excludes 0.5 is a difference.")
    facts = [(f"{side}: {key}", value) for side, manifest, results in (("A", manifest_a, results_a),
                                                                        ("B", manifest_b, results_b))
             for key, value in provenance(manifest, results) if key in ("command", "wall time")]
    _write_pages(out, f"rewardgym comparison: {label['a']} vs {label['b']}",
                 [("Per family", None, ["family", "entries", f"P({label['a']} > {label['b']}) (95% CI)"], family_table),
                  ("Per environment", None, header, rows)], images, facts + provenance(manifest_a, results_a)[1:4],
                 notes)
    return out / "report.html"
