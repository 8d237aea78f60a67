"""``rewardgym sweep`` with the local runner: trials as ordinary runs, seeds batched, resume, tables, bad files."""

import json

import pytest
import torch
import yaml

from rewardgym.agents import fast_ppo_run
from rewardgym.agents.fast_ppo import FastPPO
from rewardgym.agents.training import RunConfig
from rewardgym.cli import main
from rewardgym.sweep import load_sweep, run_local
from rewardgym.sweep import runner as runner_module

#: 2 configurations × 2 seeds of 2 fast-ppo updates each, in float64 so that a seed trained in a batch
#: equals it trained alone to rounding (the Ray tests compare the runners).
TINY = {
    "name": "tiny",
    "envs": [{"name": "DeepSea 4", "env_id": "rewardgym/DeepSea-v0", "env_kwargs": {"size": 4}}],
    "algo": "fast-ppo", "steps": 256, "seeds": 2, "eval_rows": 8, "num_envs": 8, "checkpoint_every": 128,
    "hyperparameters": {"num_steps": 16, "hidden": [16], "dtype": "float64"},
    "grid": {"reward": ["sparse"], "bonus": [None, "count"]},
}
CONFIGURATIONS = ["DeepSea_4-sparse-no-bonus", "DeepSea_4-sparse-count-coef=0.01"]


def write_sweep(tmp_path, sweep=TINY, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(sweep))
    return path


def final_state(run_dir):
    return torch.load(fast_ppo_run.checkpoints(run_dir)[-1][1], weights_only=False)


def test_a_local_sweep_trains_each_configurations_seeds_together_into_ordinary_runs(tmp_path, monkeypatch):
    batches = []
    real = runner_module.train_and_evaluate

    def recording(config, seeds, *args, **kwargs):
        batches.append((config.bonus, list(seeds)))
        return real(config, seeds, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_and_evaluate", recording)
    out = tmp_path / "out"
    assert main(["sweep", str(write_sweep(tmp_path)), "--out", str(out)]) == 0
    assert batches == [(None, [0, 1]), ("count", [0, 1])]
    for configuration, bonus in zip(CONFIGURATIONS, (None, "count")):
        for seed in (0, 1):
            run_dir = out / "trials" / configuration / f"seed_{seed}"
            config = RunConfig.load(run_dir)
            assert (config.seed, config.bonus, config.steps, config.hyperparameters["dtype"]) == (seed, bonus, 256, "float64")
            assert json.loads((run_dir / "eval.json").read_text())["episodes"] == 8
    run_dir = out / "trials" / CONFIGURATIONS[1] / "seed_1"
    assert main(["eval", str(run_dir), "--episodes", "8"]) == 0  # an ordinary run directory
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("configuration,env,env_id,reward,bonus,bonus_coef,seed")
    table = (out / "sweep.md").read_text()
    assert "| DeepSea 4 | rewardgym/DeepSea-v0 | sparse | count | 0.01 | 2/2 |" in table

    assert main(["report", "--sweep", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert all(configuration in page for configuration in CONFIGURATIONS)
    assert "best floor" in page and "data:image/png;base64," in page and "<link" not in page


def test_a_killed_local_sweep_resumes_unfinished_trials_and_redoes_nothing_finished(tmp_path, monkeypatch):
    out, path = tmp_path / "out", write_sweep(tmp_path)
    updates = {"count": 0}
    real_update = FastPPO.update

    def killed_in_the_second_configuration(self, *args, **kwargs):
        updates["count"] += 1
        if updates["count"] == 4:  # the second update of the second configuration, after its first checkpoint
            raise KeyboardInterrupt
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(FastPPO, "update", killed_in_the_second_configuration)
    with pytest.raises(KeyboardInterrupt):
        run_local(load_sweep(path), out, progress_bar=False)
    first = [(out / "trials" / CONFIGURATIONS[0] / f"seed_{s}" / "eval.json").read_text() for s in (0, 1)]
    unfinished = out / "trials" / CONFIGURATIONS[1] / "seed_0"
    assert not (unfinished / "eval.json").exists() and fast_ppo_run.checkpoints(unfinished)[-1][0] == 128

    monkeypatch.setattr(FastPPO, "update", real_update)
    trained = []
    real = runner_module.train_and_evaluate
    monkeypatch.setattr(runner_module, "train_and_evaluate",
                        lambda config, seeds, *a, **k: trained.append(config.bonus) or real(config, seeds, *a, **k))
    run_local(load_sweep(path), out, progress_bar=False)
    assert trained == ["count"]
    assert [(out / "trials" / CONFIGURATIONS[0] / f"seed_{s}" / "eval.json").read_text() for s in (0, 1)] == first
    for seed in (0, 1):
        state = final_state(out / "trials" / CONFIGURATIONS[1] / f"seed_{seed}")
        assert (state["env_steps"], state["restart"]) == (256, 1)  # resumed from the checkpoint, not redone


def test_a_sweep_directory_refuses_another_sweep_file(tmp_path):
    out = tmp_path / "out"
    run_local(load_sweep(write_sweep(tmp_path, {**TINY, "grid": {"bonus": [None]}})), out, progress_bar=False)
    edited = load_sweep(write_sweep(tmp_path, {**TINY, "steps": 384}, "edited.yaml"))
    with pytest.raises(ValueError, match="holds another sweep"):
        run_local(edited, out, progress_bar=False)


def test_configurations_are_the_grid_product_without_meaningless_coefficients(tmp_path):
    grid = {"reward": ["sparse", "shaped"], "bonus": [None, "rnd"], "bonus_coef": [0.01, 0.1],
            "hyperparameters": {"learning_rate": [0.001, 0.0003]}}
    sweep = load_sweep(write_sweep(tmp_path, {**TINY, "grid": grid}))
    slugs = [c.slug for c in sweep.configurations]
    assert len(slugs) == len(set(slugs)) == 2 * (1 + 2) * 2  # no bonus: one coefficient, not two
    config = sweep.run_config(next(c for c in sweep.configurations if c.bonus == "rnd" and c.bonus_coef == 0.1), 3)
    assert (config.bonus, config.bonus_coef, config.seed, config.num_envs) == ("rnd", 0.1, 3, 8)
    assert config.hyperparameters["num_steps"] == 16 and config.hyperparameters["learning_rate"] in (0.001, 0.0003)


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, r"unknown keys \['colour'\]"),
    ({"envs": [{"env_id": "rewardgym/Nope-v0"}]}, "unknown env id"),
    ({"envs": [{"env_id": "rewardgym/DeepSea-v0", "env_kwargs": {"depth": 4}}]}, r"no arguments \['depth'\]"),
    ({"envs": [{"env_id": "rewardgym/DeepSea-v0", "env_kwargs": {"size": -3}}]}, "size"),
    ({"algo": "a2c"}, "algo must be one of"),
    ({"steps": 0}, "steps must be in >= 1"),
    ({"seeds": "ten"}, "seeds must be an int"),
    ({"first_seed": 2**31 - 2}, "first_seed must be in"),  # its 2 seeds would pass the int32 seeds end
    ({"grid": {"reward": ["dense-ish"]}}, "has no reward 'dense-ish'"),
    ({"grid": {"bonus": ["curiosity"]}}, "grid.bonus must hold null or one of"),
    ({"grid": {"bonus_coef": [-1]}}, "bonus_coef must hold positive numbers"),
    ({"grid": {"reward": "sparse"}}, "grid.reward must be a non-empty list"),
    ({"grid": {"temperature": [1]}}, r"grid: unknown keys \['temperature'\]"),
    ({"grid": {"hyperparameters": {"learning_rat": [0.1]}}}, r"unknown fast-ppo hyperparameters \['learning_rat'\]"),
    ({"grid": {"hyperparameters": {"gamma": [0.99, 1.5]}}}, "gamma"),
    ({"algo": "ppo", "hyperparameters": {"n_epochz": 3}}, r"unknown ppo hyperparameters \['n_epochz'\]"),
])
def test_bad_sweep_files_are_rejected_before_any_trial(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        main(["sweep", str(write_sweep(tmp_path, {**TINY, **change})), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_the_example_sweep_loads():
    sweep = load_sweep("examples/sweep.yaml")
    assert len(sweep.configurations) * len(sweep.seeds) == 16


def test_an_sb3_sweep_trains_its_trials_into_ordinary_sb3_runs(tmp_path):
    sb3 = {**TINY, "algo": "ppo", "hyperparameters": {"n_steps": 16, "batch_size": 32}, "grid": {"bonus": [None, "count"]}}
    out = tmp_path / "out"
    assert main(["sweep", str(write_sweep(tmp_path, sb3)), "--out", str(out)]) == 0
    for configuration in CONFIGURATIONS:
        for seed in (0, 1):
            run_dir = out / "trials" / configuration / f"seed_{seed}"
            assert (run_dir / "model.zip").exists() and RunConfig.load(run_dir).algo == "ppo"
            assert json.loads((run_dir / "eval.json").read_text())["seed"] == seed
