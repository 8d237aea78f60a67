"""Running a sweep: its directory, which trials are finished, and the local runner.

A sweep directory holds:

    sweep.json                         the sweep file as given, the command that first ran it, and each
                                       configuration's resolved run configuration, pinned then
    trials/<configuration>/seed_<k>/   one ordinary run directory per trial (config.yaml, checkpoints/,
                                       tensorboard/); its eval.json marks the trial finished
    trials.csv, sweep.md               the results (``table.py``)
    ray/                               Ray Tune's experiment, under ``--runner ray`` without ``--storage``

A killed sweep rerun with the same command continues: finished trials are not redone, unfinished
ones resume from their checkpoints. A different sweep file in the same directory is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rewardgym.agents import fast_ppo_run
from rewardgym.agents.runs import train_and_evaluate
from rewardgym.agents.training import RunConfig, write_json
from rewardgym.sweep.spec import Sweep


@dataclass(frozen=True)
class Trial:
    """One configuration (by its directory name) and one seed."""

    configuration: str
    seed: int

    def run_dir(self, out: Path) -> Path:
        return Path(out) / "trials" / self.configuration / f"seed_{self.seed}"

    @property
    def key(self) -> str:
        """The trial's name: ``<configuration>/seed_<k>``."""
        return f"{self.configuration}/seed_{self.seed}"


def trials(sweep: Sweep) -> list[Trial]:
    """Every trial of the sweep: configurations in order, seeds within each."""
    return [Trial(configuration.slug, seed) for configuration in sweep.configurations for seed in sweep.seeds]


def finished(run_dir: Path) -> bool:
    """A trial is finished once its run is evaluated (``eval.json``, written last and whole)."""
    return (Path(run_dir) / "eval.json").exists()


def start(sweep: Sweep, out: Path, command: str = "") -> dict[str, RunConfig]:
    """Create or reopen the sweep directory; each configuration's resolved run configuration (seed 0).

    The configurations are resolved against ``agents/hyperparams/<algo>.yaml`` when the sweep
    first starts and kept in ``sweep.json``, so a file edited while a sweep is unfinished changes
    none of its trials. A directory holding another sweep (or an edited sweep file) is a ``ValueError``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "sweep.json"
    pinned: dict[str, Any] = {}
    if saved.exists():
        previous = json.loads(saved.read_text())
        if previous["sweep"] != sweep.raw:
            raise ValueError(f"{out} holds another sweep ({previous['sweep'].get('name')!r}, or an edited sweep "
                             "file); choose another --out")
        pinned, command = previous["run_configs"], previous.get("command") or command
    run_configs = {c.slug: pinned.get(c.slug) or asdict(sweep.run_config(c)) for c in sweep.configurations}
    write_json(saved, {"sweep": sweep.raw, "command": command, "run_configs": run_configs})
    return {slug: RunConfig(**config) for slug, config in run_configs.items()}


def pending(sweep: Sweep, out: Path) -> list[Trial]:
    """The trials not yet finished."""
    return [trial for trial in trials(sweep) if not finished(trial.run_dir(out))]


def batches(sweep: Sweep, out: Path) -> Iterator[tuple[str, list[int]]]:
    """The pending trials as (configuration, seeds) batches that train together.

    fast-ppo batches a configuration's seeds that stand at the same point (all new, or all with
    their newest checkpoint at the same step), since it resumes seeds together; SB3 trains one
    seed after another anyway.
    """
    groups: dict[tuple[str, int | None], list[int]] = {}
    for trial in pending(sweep, out):
        found = fast_ppo_run.checkpoints(trial.run_dir(out)) if sweep.algo == "fast-ppo" else []
        groups.setdefault((trial.configuration, found[-1][0] if found else None), []).append(trial.seed)
    for (configuration, _), seeds in groups.items():
        yield configuration, seeds


def run_local(sweep: Sweep, out: Path, progress_bar: bool = True, device: str = "cpu", command: str = "") -> None:
    """Run (or resume) every pending trial in this process; fast-ppo trains each configuration's seeds together."""
    out = Path(out)
    run_configs = start(sweep, out, command)
    total = len(trials(sweep))
    columns = [TextColumn(f"sweep {sweep.name} (local)"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, disable=not progress_bar) as progress:
        task = progress.add_task("", total=total, completed=total - len(pending(sweep, out)))
        for configuration, seeds in list(batches(sweep, out)):
            progress.update(task, description=f"{configuration} × {len(seeds)} seeds")
            folder = out / "trials" / configuration
            train_and_evaluate(run_configs[configuration], seeds, folder if len(seeds) > 1 else folder / f"seed_{seeds[0]}",
                               sweep.eval_rows, device)
            progress.advance(task, len(seeds))
