"""Env-step throughput: rewardgym's batched torch envs against gymnasium's ``SyncVectorEnv``.

Both kinds of vector env are timed by the same loop, which counts steps as
``gymnasium.utils.performance.benchmark_vector_step`` does for NEXT_STEP autoreset: a row that
was done on the previous step spends this step resetting, so it is not counted. Unlike that
function, actions come from a small pool drawn before timing, so that sampling them is not
part of what is measured, on either side of the comparison.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from itertools import cycle, islice
from pathlib import Path
from typing import Any, TypedDict

import gymnasium as gym
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv

ACTION_POOL_SIZE = 16
WARMUP_STEPS = 5
RATIO_BATCH = 1024  # the batched figure the SyncVectorEnv baseline is compared with


class ThroughputRow(TypedDict):
    """One env's figures in steps per second; None where a batch size (or RATIO_BATCH) was not measured."""

    env_id: str
    batched: dict[int, float | None]
    sync_envs: int
    sync: float
    ratio: float | None


def random_actions(
    space: spaces.Space, num_envs: int, count: int, device: str | torch.device = "cpu"
) -> list[torch.Tensor]:
    """``count`` batches of ``num_envs`` uniformly random actions of a (Multi)Discrete or bounded Box ``space``."""
    generator = torch.Generator().manual_seed(0)
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        batches = torch.randint(start, start + int(space.n), (count, num_envs), generator=generator)
    elif isinstance(space, spaces.MultiDiscrete):
        start, size = torch.from_numpy(space.start), torch.from_numpy(space.nvec)
        uniform = torch.rand((count, num_envs, *space.shape), generator=generator, dtype=torch.float64)
        batches = start + (uniform * size).long()
    elif isinstance(space, spaces.Box) and space.is_bounded():
        low, high = torch.from_numpy(space.low), torch.from_numpy(space.high)
        uniform = torch.rand((count, num_envs, *space.shape), generator=generator, dtype=low.dtype)
        batches = (low + (high - low) * uniform).clamp(low, high)  # the clamp absorbs rounding past high
    else:
        raise TypeError(f"random actions need a (Multi)Discrete or bounded Box space, got {space}")
    return list(batches.to(device).unbind(0))


def timed_calls(step: Callable[[int], None], seconds: float, warmup: int, min_calls: int,
                synchronize: Callable[[], None] | None = None) -> tuple[int, float]:
    """Call ``step(i)`` ``warmup`` times untimed, then until ``seconds`` have passed and at least
    ``min_calls`` were made; returns the timed calls and their seconds (``synchronize`` after each, for a GPU)."""
    for i in range(warmup):
        step(i)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls < min_calls:
        step(calls)
        calls += 1
        if synchronize is not None:
            synchronize()
    return calls, elapsed


def _steps_per_second(env: VectorEnv, actions: Sequence[Any], seconds: float) -> float:
    """Step ``env`` (NEXT_STEP autoreset) cycling through ``actions`` for at least ``seconds``."""
    env.reset(seed=0)
    pool = cycle(actions)
    for action in islice(pool, WARMUP_STEPS):
        _, _, terminated, truncated, _ = env.step(action)
    done = terminated | truncated

    calls, resetting = 0, 0
    start = time.perf_counter()
    for action in pool:
        _, _, terminated, truncated, _ = env.step(action)
        # Summed without reading it back, so a GPU env is not synchronised every step.
        resetting = resetting + done.sum()
        done = terminated | truncated
        calls += 1
        if time.perf_counter() - start >= seconds:
            break
    steps = calls * env.num_envs - int(resetting)  # int() waits for the device to finish
    return steps / (time.perf_counter() - start)


def measure_batched(env_id: str, num_envs: int, seconds: float, device: str = "cpu") -> float:
    """Env steps per second of ``gym.make_vec(env_id, num_envs, device=device)`` with random actions."""
    env = gym.make_vec(env_id, num_envs=num_envs, device=device)
    try:
        actions = random_actions(env.single_action_space, num_envs, ACTION_POOL_SIZE, device)
        return _steps_per_second(env, actions, seconds)
    finally:
        env.close()


def measure_sync(env_id: str, num_envs: int, seconds: float) -> float:
    """Env steps per second of gymnasium's ``SyncVectorEnv`` over ``num_envs`` copies of ``gym.make(env_id)``."""
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    try:
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(ACTION_POOL_SIZE)]
        return _steps_per_second(env, actions, seconds)
    finally:
        env.close()


def throughput_table(
    env_ids: list[str],
    batch_sizes: Sequence[int] = (1, 64, 1024, 4096),
    sync_envs: int = 64,
    seconds: float = 2.0,
    repeats: int = 1,
) -> list[ThroughputRow]:
    """Per env id: batched steps/s at each batch size (CPU), SyncVectorEnv steps/s at ``sync_envs``, their ratio.

    Each figure is the median of ``repeats`` measurements, for machines whose speed varies.
    An env class may cap the batches worth timing with ``max_benchmark_envs`` (e.g. one physics engine
    instance per env); larger sizes are left out of its row.
    """

    def median(measure: Any, *args: Any) -> float:
        return statistics.median(measure(*args) for _ in range(repeats))

    rows: list[ThroughputRow] = []
    for env_id in env_ids:
        largest = getattr(gym.envs.registration.load_env_creator(gym.spec(env_id).vector_entry_point),
                          "max_benchmark_envs", None)
        sizes = [n for n in batch_sizes if largest is None or n <= largest]
        # Largest batch first: its untimed reset makes most of a level pool, which the maze envs cache per
        # process, so smaller batches are not timed while making levels on first use.
        measured = {n: median(measure_batched, env_id, n, seconds) for n in sorted(sizes, reverse=True)}
        batched = {n: measured.get(n) for n in batch_sizes}
        sync = median(measure_sync, env_id, sync_envs, seconds)
        ratio = batched[RATIO_BATCH] / sync if batched.get(RATIO_BATCH) else None
        rows.append(ThroughputRow(env_id=env_id, batched=batched, sync_envs=sync_envs, sync=sync, ratio=ratio))
    return rows


def _ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def markdown_table(rows: list[ThroughputRow]) -> str:
    """The rows as a markdown table of steps per second, e.g. ``1,234,567``, and the ratio as ``123×``."""
    batch_sizes = list(rows[0]["batched"]) if rows else []
    sync_envs = rows[0]["sync_envs"] if rows else 0
    header = [
        "env",
        *(f"batched n={n:,}" for n in batch_sizes),
        f"SyncVectorEnv n={sync_envs:,}",
        f"batched {RATIO_BATCH:,} / sync {sync_envs}",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for row in rows:
        cells = [
            f"`{row['env_id']}`",
            *("–" if row["batched"][n] is None else f"{row['batched'][n]:,.0f}" for n in batch_sizes),
            f"{row['sync']:,.0f}",
            _ratio_text(row["ratio"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what ``platform`` knows where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """The CPU, core and thread counts, library versions and date the numbers were taken on."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores (torch uses {torch.get_num_threads()} threads); "
        f"torch {torch.__version__}, gymnasium {gym.__version__}, Python {platform.python_version()}; "
        f"{datetime.date.today().isoformat()}"
    )
