"""The ``rewardgym`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rewardgym.cli import main
from tests.conftest import ENV_IDS


def test_help_lists_the_subcommands():
    result = subprocess.run([sys.executable, "-m", "rewardgym", "--help"], capture_output=True, text=True, check=True)
    for command in ("list", "demo", "bench"):
        assert command in result.stdout


def test_list_prints_every_env_with_its_spaces_and_rewards(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for env_id in ENV_IDS:
        assert env_id in out
    assert "Discrete(4)" in out and "euclidean" in out and "dense" in out


def test_unknown_env_id_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--ids", "NoSuchEnv-v0"])
    assert exited.value.code == 2
    assert "unknown env id" in capsys.readouterr().err


def test_demo_writes_its_files(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--seconds", "0.05", "--steps", "1024"]) == 0
    written = {path.name for path in tmp_path.iterdir()}
    assert {"maze.csv", "maze.png", "trained_agent.gif", "GridMaze-v0_potential.png", "throughput.md"} <= written
    assert "reached the goal" in capsys.readouterr().out  # the greedy GridMaze policy always succeeds
