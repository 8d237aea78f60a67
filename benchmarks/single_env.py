"""One env through ``gym.make``: rewardgym beside the env users compare it with, in one run.

    python benchmarks/single_env.py [--rounds 3] [--seconds 3] [--out results/single_env.md]

Each peer is installed into a virtualenv of its own under ``--peers`` (made on first use, so its
gymnasium version cannot clash with ours). Every measurement runs in a fresh process: ``gym.make``,
``reset(seed=0)``, 5 untimed steps, then uniformly random actions (a pool of 64 drawn beforehand)
for at least ``--seconds``, resetting whenever an episode ends; steps per second. Rounds
alternate rewardgym and peer measurements of each pair, and the table gives each one's median.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve()


@dataclass(frozen=True)
class Peer:
    """A peer env: what to install, what to import so its ids register, and its id and arguments."""

    name: str
    packages: tuple[str, ...]
    module: str
    env_id: str
    kwargs: dict | None = None


@dataclass(frozen=True)
class Pair:
    ours: str
    our_kwargs: dict
    peer: Peer


# gymnasium-robotics 1.4.2's Fetch envs fail an assertion on a joint type (set_joint_qpos) under MuJoCo 3.17 and 4;
# they run under 3.1.6.
ROBOTICS = ("gymnasium-robotics", "mujoco<3.2")
PAIRS = [
    Pair("rewardgym/GridMaze-v0", {}, Peer("minigrid", ("minigrid",), "minigrid", "MiniGrid-FourRooms-v0")),
    Pair("rewardgym/PointMaze-v1", {}, Peer("gymnasium-robotics", ROBOTICS, "gymnasium_robotics",
                                             "PointMaze_UMaze-v3")),
    Pair("rewardgym/Push-v0", {"backend": "pybullet"}, Peer("panda-gym", ("panda-gym",), "panda_gym", "PandaPush-v3")),
    Pair("rewardgym/Push-v0", {}, Peer("gymnasium-robotics", ROBOTICS, "gymnasium_robotics",
                                       "FetchPush-v4")),
    Pair("rewardgym/Highway-v1", {}, Peer("highway-env", ("highway-env",), "highway_env", "highway-fast-v0")),
]


def peer_python(peers: Path, peer: Peer) -> str:
    """The Python of the peer's own virtualenv, made on first use and filled whenever its packages change."""
    venv = peers / peer.name
    python = venv / "bin" / "python"
    installed = venv / "requirements.txt"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wanted = "\n".join(peer.packages) + "\n"
    if not installed.exists() or installed.read_text() != wanted:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *peer.packages], check=True)
        installed.write_text(wanted)
    return str(python)


def measure_here(env_id: str, kwargs: dict, module: str, seconds: float) -> dict:
    """Steps per second of one env in this process (see the module docstring)."""
    import importlib

    import gymnasium as gym

    importlib.import_module(module)
    if hasattr(gym, "register_envs"):
        gym.register_envs(sys.modules[module])
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    pool = [env.action_space.sample() for _ in range(64)]

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % len(pool)])
        if terminated or truncated:
            env.reset()

    for i in range(5):
        step(i)
    steps, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or steps < 20:
        step(steps)
        steps += 1
    env.close()
    return {"steps_per_second": steps / elapsed}


def measure(python: str, env_id: str, kwargs: dict, module: str, seconds: float) -> float | str:
    """Steps per second of one env, measured in a fresh process of ``python``; the error's last line if it failed."""
    command = [python, str(HERE), "--measure", json.dumps([env_id, kwargs, module, seconds])]
    environment = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    run = subprocess.run(command, capture_output=True, text=True, env=environment)
    if run.returncode != 0:
        return run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit status {run.returncode}"
    return json.loads(run.stdout.strip().splitlines()[-1])["steps_per_second"]


def median_or_failure(values: list[float | str]) -> float | str:
    failures = [v for v in values if isinstance(v, str)]
    return failures[0] if failures else statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--peers", type=Path, default=Path("outputs/peers"))
    parser.add_argument("--out", type=Path, default=Path("results/single_env.md"))
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        env_id, kwargs, module, seconds = json.loads(args.measure)
        print(json.dumps(measure_here(env_id, kwargs, module, seconds)))
        return

    from rewardgym.throughput import machine_line

    pythons = {pair.peer.name: peer_python(args.peers, pair.peer) for pair in PAIRS}
    ours: dict[int, list[float | str]] = {i: [] for i in range(len(PAIRS))}
    theirs: dict[int, list[float | str]] = {i: [] for i in range(len(PAIRS))}
    for _ in range(args.rounds):
        for i, pair in enumerate(PAIRS):
            ours[i].append(measure(sys.executable, pair.ours, pair.our_kwargs, "rewardgym", args.seconds))
            theirs[i].append(measure(pythons[pair.peer.name], pair.peer.env_id, pair.peer.kwargs or {},
                                     pair.peer.module, args.seconds))
    versions = {name: subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True,
                                     text=True, check=True).stdout for name, python in pythons.items()}
    lines = ["# One env through gym.make: rewardgym beside its peers", "", machine_line(), "",
             "| rewardgym env | steps/s | peer env | steps/s | rewardgym / peer |", "|---|---:|---|---:|---:|"]
    for i, pair in enumerate(PAIRS):
        mine, peer = median_or_failure(ours[i]), median_or_failure(theirs[i])
        arguments = "".join(f", {k}={v}" for k, v in pair.our_kwargs.items())
        ratio = f"{mine / peer:.2f}×" if not isinstance(mine, str) and not isinstance(peer, str) else "–"
        show = lambda rate: f"failed: {rate}" if isinstance(rate, str) else f"{rate:,.0f}"  # noqa: E731
        lines.append(f"| `{pair.ours}`{arguments} | {show(mine)} | `{pair.peer.env_id}` ({pair.peer.name}) | "
                     f"{show(peer)} | {ratio} |")
    installed = []
    for name, listing in versions.items():
        packages = {p["name"].lower(): p["version"] for p in json.loads(listing)}
        wanted = [p for p in ("gymnasium", name, "mujoco", "pybullet", "numpy") if p in packages]
        installed.append(f"{name}'s virtualenv: " + ", ".join(f"{p} {packages[p]}" for p in wanted))
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines += ["", f"Median of {args.rounds} alternating rounds of at least {args.seconds:g} s each, every "
              "measurement in a fresh process (see the script's docstring). " + "; ".join(installed) +
              f". Produced by `{command}`.", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
