"""``results/findings.md``: each claim of the reproduced papers, our numbers, and the verdict.

The experiments of issue 15 are report cards (``rewardgym report``) of one protocol per finding,
one report per configuration. A claims file (``benchmarks/findings/claims.yaml``) states, per
claim, which configuration should beat which on which entries — or that two should not differ:

    - finding: 1
      paper: Ng, Harada and Russell 1999
      claim: a geodesic potential beats a Euclidean one on levels where the Euclidean one traps
      better: results/findings/maze/shaped      # report directories of one protocol
      worse: results/findings/maze/euclidean
      entries: [GridMaze 6 trap, GridMaze 9 trap]
    - finding: 1
      claim: ... no difference on trap-free levels
      same: [results/findings/maze/shaped, results/findings/maze/euclidean]
      entries: [GridMaze 6 trap-free, GridMaze 9 trap-free]
    - finding: 3
      claim: RND loses KeyDoor success once the TV is on   # two entries of one report
      better: {report: results/findings/noisy_tv/rnd, entry: TV off}
      worse: {report: results/findings/noisy_tv/rnd, entry: TV on}

Per claim and entry: the success IQM of each side with its 95% interval, the best floor and the
oracle, and P(first > second) with its 95% interval (rliable's probability of improvement over
the seeds, ties counting a half). Verdict (the issue's rule): **reproduced** if the interval of
P(claimed better > other) lies above 0.5, **reversed** if below, otherwise **not reproduced**; for
a claim of no difference, **reproduced** if the interval contains 0.5 (no difference detected at
10 seeds, which is not proof of none) and **not reproduced** otherwise. Entries a report has not
finished are listed as pending.

    python benchmarks/findings/verdicts.py --claims benchmarks/findings/claims.yaml --out results/findings.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rewardgym.evaluation import iqm_interval, probability_of_improvement
from rewardgym.report.protocol import Entry


def entry_result(report: Path, entry_name: str) -> dict[str, Any] | None:
    """The finished result of ``entry_name`` in ``report``, or None while it is not finished."""
    slug = Entry(name=entry_name, family="maze", env_id="", steps=1).slug
    path = report / slug / "result.json"
    return json.loads(path.read_text()) if path.exists() else None


def method_label(report: Path) -> str:
    method = json.loads((report / "report.json").read_text())["method"]
    return method["reward"] if method["bonus"] is None else f"{method['reward']} + {method['bonus']}"


def verdict(low: float, high: float, same: bool) -> str:
    if same:
        return "reproduced" if low <= 0.5 <= high else "not reproduced"
    return "reproduced" if low > 0.5 else "reversed" if high < 0.5 else "not reproduced"


def comparisons(claim: dict[str, Any]) -> list[tuple[tuple[Path, str], tuple[Path, str]]]:
    """The claim's ((report, entry), (report, entry)) pairs: two reports on each of its ``entries``, or
    two entries named by ``{report, entry}`` sides (one configuration with and without a change to its env)."""
    first, second = claim["same"] if "same" in claim else (claim["better"], claim["worse"])
    if isinstance(first, dict):
        return [((Path(first["report"]), first["entry"]), (Path(second["report"]), second["entry"]))]
    return [((Path(first), name), (Path(second), name)) for name in claim["entries"]]


def side_label(report: Path, entry: str) -> str:
    method = method_label(report) if (report / "report.json").exists() else report.name
    return f"{entry} ({method})"


def claim_rows(claim: dict[str, Any]) -> list[str]:
    same = "same" in claim
    rows = []
    for (first, name_a), (second, name_b) in comparisons(claim):
        a, b = entry_result(first, name_a), entry_result(second, name_b)
        labels = f"{side_label(first, name_a)} vs {side_label(second, name_b)}"
        if a is None or b is None:
            rows.append(f"| {claim['finding']} | {claim['claim']} | {labels} | pending | | | | pending |")
            continue
        x, y = np.array(a["success"]), np.array(b["success"])
        p, low, high = probability_of_improvement(x, y)
        (ia, la, ha), (ib, lb, hb) = iqm_interval(x), iqm_interval(y)
        rows.append(
            f"| {claim['finding']} | {claim['claim']} | {labels}, {len(x)} seeds, {a['steps']:,} steps | "
            f"{ia:.2f} ({la:.2f}–{ha:.2f}) vs {ib:.2f} ({lb:.2f}–{hb:.2f}) | {a['best_floor']:.2f} | "
            f"{a['oracle'] if a['oracle'] is None else format(a['oracle'], '.2f')} | {p:.2f} ({low:.2f}–{high:.2f}) | "
            f"**{verdict(low, high, same)}** |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=Path, default=Path("benchmarks/findings/claims.yaml"))
    parser.add_argument("--out", type=Path, default=Path("results/findings.md"))
    args = parser.parse_args(argv)
    claims = yaml.safe_load(args.claims.read_text())
    command = "python benchmarks/findings/verdicts.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = ["# Reward-design findings, reproduced or not", "",
             "| finding | claim | setup | success IQM (95% CI) | best floor | oracle | P(first > second) | verdict |",
             "|---|---|---|---|---:|---:|---|---|"]
    for claim in claims:
        lines += claim_rows(claim)
    papers = {claim["finding"]: claim["paper"] for claim in claims if "paper" in claim}
    lines += ["", *[f"- Finding {finding}: {paper}" for finding, paper in papers.items()], "",
              f"Produced by `{command}`; the rule: see the script's docstring."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
