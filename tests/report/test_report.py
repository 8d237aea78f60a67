"""``rewardgym report``: a tiny protocol run end to end, resumed without redoing anything, and rejected input."""

import json
import re
from types import SimpleNamespace

import pytest
import yaml

from rewardgym.agents import training as training_module
from rewardgym.agents.training import RunConfig
from rewardgym.cli import main
from rewardgym.report import Method, load_protocol, run_report, write_comparison, write_report
from rewardgym.report import runner as runner_module
from rewardgym.report.page import same_protocol

TINY = {
    "name": "tiny", "version": 1, "seeds": 2, "eval_rows": 8,
    "entries": [
        {"name": "DeepSea N=4", "family": "exploration", "env_id": "rewardgym/DeepSea-v0", "env_kwargs": {"size": 4},
         "steps": 512, "hyperparameters": {"n_envs": 8, "num_steps": 16}},
        {"name": "GridMaze size 5", "family": "maze", "env_id": "rewardgym/GridMaze-v0",
         "env_kwargs": {"size": 5, "num_levels": 4}, "steps": 512, "hyperparameters": {"n_envs": 8, "num_steps": 16}},
        {"name": "Reach", "family": "manipulation", "env_id": "rewardgym/Reach-v0", "algo": "her-sac", "steps": 100,
         "env_kwargs": {"max_episode_steps": 20}},  # short episodes: its floors are most of the protocol's time
    ],
}

NAMES = {entry["env_id"]: entry["name"] for entry in TINY["entries"]}  # what the tests see train, by env id


def write_protocol(tmp_path, protocol):
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return path


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """A count-bonus report of the tiny protocol: its Reach entry (HER) is skipped, the others run."""
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "count"
    assert main(["report", "--protocol", str(write_protocol(tmp, TINY)), "--bonus", "count", "--out", str(out)]) == 0
    return tmp, out


def test_the_page_shows_every_env_its_floors_and_intervals_and_needs_no_other_file(tiny_report):
    _, out = tiny_report
    page = (out / "report.html").read_text()
    for name in ("DeepSea N=4", "GridMaze size 5", "Reach"):
        assert name in page
    assert "an intrinsic bonus is not defined under HER" in page  # the skipped entry says why
    assert "best floor" in page and "oracle" in page
    assert re.search(r"\d\.\d\d \(\d\.\d\d–\d\.\d\d\)", page)  # an IQM with its interval
    assert page.count("data:image/png;base64,") >= 4  # a success and a curve chart per family that ran
    references = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)""", page)
    assert references and all(ref.startswith("data:") for ref in references)
    assert "<link" not in page and "<script" not in page
    rows = (out / "report.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2  # header, then one row per seed of each entry that ran
    result = json.loads((out / "GridMaze_size_5" / "result.json").read_text())
    assert len(result["success"]) == 2 and set(result["floors"]) >= {"random", "constant 0"}


def test_a_killed_report_resumes_without_redoing_finished_entries(tmp_path, monkeypatch):
    protocol = load_protocol(write_protocol(tmp_path, {**TINY, "entries": TINY["entries"][:2]}))
    trained = []
    real = runner_module.train_and_evaluate

    def killed_on_the_maze(config, *args, **kwargs):
        trained.append(NAMES[config.env_id])
        if config.env_id == "rewardgym/GridMaze-v0":
            raise KeyboardInterrupt
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_and_evaluate", killed_on_the_maze)
    with pytest.raises(KeyboardInterrupt):
        run_report(Method(), protocol, tmp_path / "out", progress_bar=False)
    finished = (tmp_path / "out" / "DeepSea_N_4" / "result.json").read_text()

    def counting(config, *args, **kwargs):
        trained.append(NAMES[config.env_id])
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_and_evaluate", counting)
    results = run_report(Method(), protocol, tmp_path / "out", progress_bar=False)
    assert trained == ["DeepSea N=4", "GridMaze size 5", "GridMaze size 5"]
    assert (tmp_path / "out" / "DeepSea_N_4" / "result.json").read_text() == finished
    assert [r["name"] for r in results] == ["DeepSea N=4", "GridMaze size 5"]
    with pytest.raises(ValueError, match="another method"):
        run_report(Method(reward="shaped"), protocol, tmp_path / "out", progress_bar=False)


def test_an_unfinished_report_keeps_the_run_configuration_it_started_with(tmp_path, monkeypatch):
    """A hyperparameter file edited (a value changed, a key added) under a killed report changes none of its entries."""
    protocol = load_protocol(write_protocol(tmp_path, {**TINY, "entries": TINY["entries"][:2]}))
    out = tmp_path / "out"
    real = runner_module.train_and_evaluate

    def killed_on_the_maze(config, *args, **kwargs):
        if config.env_id == "rewardgym/GridMaze-v0":
            raise KeyboardInterrupt
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_and_evaluate", killed_on_the_maze)
    with pytest.raises(KeyboardInterrupt):
        run_report(Method(), protocol, out, progress_bar=False)
    pinned = json.loads((out / "report.json").read_text())["run_configs"]["GridMaze_size_5"]
    edited = training_module.load_hyperparameters

    def edited_file(algo, env_id):
        return {**edited(algo, env_id), "learning_rate": 0.123, "no_such_setting": 1}

    monkeypatch.setattr(training_module, "load_hyperparameters", edited_file)
    monkeypatch.setattr(runner_module, "train_and_evaluate", real)
    results = run_report(Method(), protocol, out, progress_bar=False)
    assert results[1]["run_config"] == pinned
    assert pinned["hyperparameters"]["learning_rate"] != 0.123 and "no_such_setting" not in pinned["hyperparameters"]
    assert RunConfig.load(out / "GridMaze_size_5" / "runs" / "seed_0").hyperparameters == pinned["hyperparameters"]


def test_a_new_protocol_version_redoes_only_the_entries_it_changed(tmp_path, monkeypatch):
    two = {**TINY, "entries": TINY["entries"][:2]}
    trained = []
    real = runner_module.train_and_evaluate

    def counting(config, *args, **kwargs):
        trained.append(NAMES[config.env_id])
        return real(config, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_and_evaluate", counting)
    run_report(Method(), load_protocol(write_protocol(tmp_path, two)), tmp_path / "out", progress_bar=False)
    kept = (tmp_path / "out" / "GridMaze_size_5" / "result.json").read_text()
    changed = {**two["entries"][0], "env_kwargs": {"size": 4, "mapping_seed": 0}}
    version_2 = {**two, "version": 2, "entries": [changed, two["entries"][1]]}
    results = run_report(Method(), load_protocol(write_protocol(tmp_path, version_2)), tmp_path / "out",
                         progress_bar=False)
    assert trained == ["DeepSea N=4", "GridMaze size 5", "DeepSea N=4"]
    assert (tmp_path / "out" / "GridMaze_size_5" / "result.json").read_text() == kept
    assert results[0]["env_kwargs"] == {"size": 4, "mapping_seed": 0}
    assert json.loads((tmp_path / "out" / "report.json").read_text())["protocol"]["version"] == 2
    more_seeds = {**version_2, "version": 3, "seeds": 3}
    run_report(Method(), load_protocol(write_protocol(tmp_path, more_seeds)), tmp_path / "out", progress_bar=False)
    assert trained[3:] == ["DeepSea N=4", "GridMaze size 5"]
    pilot = {**more_seeds, "version": 4, "first_seed": 100}  # a pilot's seeds: every entry redone, on seeds 100–102
    results = run_report(Method(), load_protocol(write_protocol(tmp_path, pilot)), tmp_path / "out", progress_bar=False)
    assert trained[5:] == ["DeepSea N=4", "GridMaze size 5"]
    assert [r["seeds"] for r in results] == [[100, 101, 102]] * 2


def test_two_reports_compare_with_the_probability_of_improvement(tiny_report, tmp_path):
    tmp, count_report = tiny_report
    protocol = load_protocol(tmp / "protocol.yaml")
    sparse = tmp_path / "sparse"
    run_report(Method(), protocol, sparse, progress_bar=False)
    write_report(sparse)
    page = write_comparison(count_report, sparse, tmp_path / "compare").read_text()
    assert "P(sparse + count &gt; sparse)" in page and "DeepSea N=4" in page and "GridMaze size 5" in page
    protocol = json.loads((sparse / "report.json").read_text())["protocol"]
    older = {key: value for key, value in protocol.items() if key != "first_seed"}  # written before first_seed
    assert same_protocol(older, protocol)
    assert not same_protocol({**older, "first_seed": 100}, protocol)
    assert not same_protocol({**older, "eval_rows": protocol["eval_rows"] + 1}, protocol)


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "unknown keys"),
    ({"seeds": 0}, "seeds must be a positive int"),
    ({"first_seed": -1}, "first_seed must be an int"),
    ({"entries": [{**TINY["entries"][0], "env_id": "rewardgym/Nowhere-v0"}]}, "unknown env id"),
    ({"entries": [{**TINY["entries"][0], "env_kwargs": {"width": 3}}]}, "has no arguments"),
    ({"entries": [{**TINY["entries"][0], "env_kwargs": {"size": -3}}]}, "size"),
    ({"entries": [{**TINY["entries"][0], "family": "racing"}]}, "family must be one of"),
    ({"entries": [{**TINY["entries"][0], "hyperparameters": {"learning_rat": 1}}]}, "unknown fast-ppo"),
])
def test_bad_protocols_are_rejected_before_anything_runs(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_protocol(write_protocol(tmp_path, {**TINY, **change}))


def test_unknown_methods_and_protocols_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="bonus must be one of"):
        Method(bonus="curiosity")
    with pytest.raises(ValueError, match="unknown protocol"):
        load_protocol("marathon")
    protocol = load_protocol(write_protocol(tmp_path, TINY))
    with pytest.raises(ValueError, match="applies to no entry"):
        run_report(Method(reward="nonsense"), protocol, tmp_path / "out", progress_bar=False)
    assert not (tmp_path / "out").exists()


def test_the_shipped_protocols_load():
    for name in ("smoke", "full"):
        protocol = load_protocol(name)
        assert set(protocol.families) == {"exploration", "maze", "geometry", "driving", "manipulation"}


def test_the_commit_is_read_once_and_says_when_the_code_was_uncommitted(monkeypatch):
    answers = {"rev-parse": "abc1234", "status": " M rewardgym/report/runner.py"}
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args[1])
        return SimpleNamespace(stdout=answers[args[1]] + "\n")

    monkeypatch.setattr(runner_module.subprocess, "run", fake_run)
    runner_module.git_commit.cache_clear()
    try:
        assert runner_module.git_commit() == "abc1234+dirty"
        answers.update({"rev-parse": "fffffff", "status": ""})  # committed later: the loaded code is still the first
        assert runner_module.git_commit() == "abc1234+dirty" and calls == ["rev-parse", "status"]
        runner_module.git_commit.cache_clear()
        assert runner_module.git_commit() == "fffffff"
    finally:
        runner_module.git_commit.cache_clear()


def test_a_reward_her_cannot_relabel_is_skipped_under_her_with_a_note():
    reach = next(entry for entry in load_protocol("full").entries if entry.algo == "her-sac")
    assert "compute_reward" in Method(reward="shaped").skip_reason(reach)
    assert Method(reward="dense").skip_reason(reach) is None and Method().skip_reason(reach) is None
