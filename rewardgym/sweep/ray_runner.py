"""Running a sweep on Ray Tune: one trial per resource bundle, on this machine or a cluster.

The pending trials are the points of one ``tune.grid_search``. A trial trains its seed alone, in a
run directory on its node's disk, with one torch thread per CPU of its bundle, and hands that
directory to Tune at every checkpoint (``tune.report(..., checkpoint=...)``); Tune keeps it under
``storage``, which every node must reach (a shared filesystem or an object store: multi-node Ray
keeps results and checkpoints only there). A killed sweep rerun with the same command restores
Tune's experiment (``Tuner.restore``): finished trials stay finished, unfinished ones resume from
their last checkpoint. When Tune is done, each finished trial's run directory is copied from its
last checkpoint to ``out/trials/<configuration>/seed_<k>``, where it is an ordinary run.

Ray is an optional extra: ``pip install "rewardgym[sweep]"``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from rewardgym.agents.runs import train_and_evaluate
from rewardgym.agents.training import RunConfig, write_json
from rewardgym.sweep.runner import pending, start, trials
from rewardgym.sweep.spec import Sweep

INSTALL_HINT = 'the Ray runner needs Ray Tune, an optional extra: pip install "rewardgym[sweep]"'


def import_tune() -> Any:
    """``ray.tune``, or an ImportError that says how to install it."""
    try:
        from ray import tune
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return tune


def train_trial(params: dict[str, Any], run_configs: dict[str, dict[str, Any]], eval_rows: int, cpus: int) -> None:
    """Tune's function trainable: train and evaluate one trial, reporting its run directory at each checkpoint."""
    import ray
    from ray import tune

    torch.set_num_threads(cpus)
    config = RunConfig(**run_configs[params["trial"]])
    node = ray.get_runtime_context().get_node_id()
    work = Path(tempfile.mkdtemp(prefix="rewardgym-trial-"))
    run_dir = work / "run"
    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            checkpoint.to_directory(str(run_dir))

        def report(env_steps: int, **metrics: Any) -> None:
            tune.report({"env_steps": env_steps, "node": node, **metrics},
                        checkpoint=tune.Checkpoint.from_directory(str(run_dir)))

        success = train_and_evaluate(config, [config.seed], run_dir, eval_rows, on_checkpoint=report)[0]
        report(config.steps, success_rate=success)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def trial_dirname(trial: Any) -> str:
    """Tune's folder of a trial: its id (the default, built from the parameters, is long)."""
    return trial.trial_id


def run_ray(sweep: Sweep, out: Path, address: str | None = None, storage: str | None = None,
            cpus_per_trial: int = 1, command: str = "",
            init_kwargs: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Run (or resume) the sweep's pending trials on Ray Tune; each trial's last reported metrics, by trial key.

    ``address``: an existing cluster's (``HEAD:6379``); None starts Ray on this machine unless it
    is already running in this process. ``storage``: where Tune keeps results and checkpoints
    (default ``out/ray``); on a cluster, a path every node can reach.
    """
    tune = import_tune()
    import ray

    out = Path(out)
    run_configs = start(sweep, out, command)
    if not pending(sweep, out):
        return {}
    storage = storage or str(out / "ray")
    storage = storage if "://" in storage else str(Path(storage).resolve())  # Tune wants an absolute path or a URI
    experiment = f"{storage.rstrip('/')}/{sweep.name}"
    trial_configs = {trial.key: asdict(replace(run_configs[trial.configuration], seed=trial.seed))
                     for trial in trials(sweep)}
    started = not ray.is_initialized()
    if started:
        if address is None:  # Ray runs its workers at niceness 15, behind any other process; trials are the work here
            os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(address=address or "local", include_dashboard=False, **(init_kwargs or {}))
    try:
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, run_configs=trial_configs, eval_rows=sweep.eval_rows, cpus=cpus_per_trial),
            {"cpu": cpus_per_trial})
        if tune.Tuner.can_restore(experiment):
            tuner = tune.Tuner.restore(experiment, trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space={"trial": tune.grid_search([trial.key for trial in pending(sweep, out)])},
                tune_config=tune.TuneConfig(trial_dirname_creator=trial_dirname, reuse_actors=True),
                run_config=tune.RunConfig(name=sweep.name, storage_path=storage, verbose=1,
                                          checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
        metrics = {}
        for result in tuner.fit():
            key = result.config["trial"]
            metrics[key] = dict(result.metrics or {})
            if result.error is None and result.checkpoint is not None and "success_rate" in metrics[key]:
                copy_run(result.checkpoint, out / "trials" / key)
        return metrics
    finally:
        if started:
            ray.shutdown()


def copy_run(checkpoint: Any, run_dir: Path) -> None:
    """Copy a trial's last checkpoint into its run directory, which appears only once whole."""
    partial = run_dir.with_name(run_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    checkpoint.to_directory(str(partial))
    evaluation = json.loads((partial / "eval.json").read_text())
    write_json(partial / "eval.json", {**evaluation, "run": str(run_dir)}, indent=2)  # it named the node's copy
    shutil.rmtree(run_dir, ignore_errors=True)
    partial.replace(run_dir)
