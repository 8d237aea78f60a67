"""``rewardgym sweep --runner ray``: the local runner's trials on Ray Tune, on one node and two, killed and resumed.

Each test starts its own Ray (2 CPUs, as CI has) and skips, saying why, only if Ray is not
installed or cannot start here.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import torch

from rewardgym.agents import fast_ppo_run
from rewardgym.sweep import load_sweep, run_local
from rewardgym.sweep.runner import pending
from tests.sweep.test_sweep import CONFIGURATIONS, TINY, final_state, write_sweep

ray = pytest.importorskip("ray", reason="Ray Tune is not installed here: pip install 'rewardgym[sweep]'")
from rewardgym.sweep.ray_runner import run_ray

OBJECT_STORE_BYTES = 100 * 2**20  # small: CI containers have little shared memory


@pytest.fixture(autouse=True)
def trials_at_normal_priority(monkeypatch):
    """Ray's workers run at niceness 15 by default: behind the other test worker, the trials would crawl."""
    monkeypatch.setenv("RAY_worker_niceness", "0")


@contextmanager
def ray_running(**init_kwargs):
    try:
        ray.init(address="local", include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, **init_kwargs)
    except Exception as error:  # noqa: BLE001 - any failure to start is a reason to skip, reported
        pytest.skip(f"Ray cannot start here: {error!r}")
    try:
        yield
    finally:
        ray.shutdown()


def test_a_sweep_on_ray_gives_the_local_runners_trials(tmp_path):
    """Ray trains each seed alone, the local runner each configuration's seeds together: equal to rounding."""
    sweep = load_sweep(write_sweep(tmp_path))
    run_local(sweep, tmp_path / "local", progress_bar=False)
    with ray_running(num_cpus=2):
        metrics = run_ray(sweep, tmp_path / "ray")
    assert len(metrics) == 4 and not pending(sweep, tmp_path / "ray")
    for configuration in CONFIGURATIONS:
        for seed in (0, 1):
            local, on_ray = (tmp_path / side / "trials" / configuration / f"seed_{seed}" for side in ("local", "ray"))
            a, b = final_state(local), final_state(on_ray)
            for name, value in a["agent"].items():
                torch.testing.assert_close(b["agent"][name], value, rtol=1e-9, atol=1e-12)
            assert (on_ray / "eval.json").read_text().replace(str(on_ray), "") == \
                (local / "eval.json").read_text().replace(str(local), "")
            assert [steps for steps, _ in fast_ppo_run.checkpoints(on_ray)] == [128, 256]  # an ordinary run


def test_a_sweep_on_a_two_node_cluster_uses_both_nodes(tmp_path):
    from ray.cluster_utils import Cluster

    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES,
                                                                "include_dashboard": False})
        cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"a two-node Ray cluster cannot start here: {error!r}")
    try:
        sweep = load_sweep(write_sweep(tmp_path))
        metrics = run_ray(sweep, tmp_path / "out", address=cluster.address, storage=str(tmp_path / "storage"))
        assert not pending(sweep, tmp_path / "out") and len(metrics) == 4
        assert len({m["node"] for m in metrics.values()}) == 2
        assert any((tmp_path / "storage" / "tiny").iterdir())
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_killed_ray_sweep_resumes_from_tunes_checkpoints(tmp_path):
    """Ctrl-C stops Tune; the same command restores the experiment and continues each trial from its checkpoint."""
    long = {**TINY, "name": "killed", "steps": 16_384, "checkpoint_every": 1024, "seeds": 1}
    path, out = write_sweep(tmp_path, long), tmp_path / "out"
    command = [sys.executable, "-m", "rewardgym", "sweep", str(path), "--out", str(out), "--runner", "ray"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not list((out / "ray" / "killed").glob("*/checkpoint_*")):
        if first.poll() is not None or time.monotonic() > deadline:
            first.kill()
            pytest.skip("Ray did not start a trial here within 10 minutes" if first.returncode is None
                        else f"Ray cannot start here (the sweep exited with {first.returncode})")
        time.sleep(0.5)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=300) == 1  # stopped with unfinished trials, which it says
    sweep = load_sweep(path)
    assert pending(sweep, out)
    assert subprocess.run(command, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    assert not pending(sweep, out)
    restarts = [final_state(out / "trials" / c / "seed_0")["restart"] for c in CONFIGURATIONS]
    assert max(restarts) == 1 and all(final_state(out / "trials" / c / "seed_0")["env_steps"] == 16_384
                                      for c in CONFIGURATIONS)
