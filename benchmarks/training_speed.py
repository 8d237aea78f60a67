"""Training speed of fast-ppo against SB3 PPO, seeds batched against seeds in sequence, and bonus costs.

    python benchmarks/training_speed.py [--repeats 3] [--updates 4] [--out results/training_speed.md]

Everything is measured in this one run, and every figure is the median of ``--repeats``
measurements taken in interleaved rounds (the machine's speed drifts between minutes; ratios of
figures from the same round are what to trust). A measurement builds the learner, trains one
untimed update (warm-up), then times ``--updates`` updates: env steps per second = steps taken /
seconds, env stepping, rollout, GAE and the PPO epochs included.

Sections:
1. **fast-ppo vs SB3 PPO** per env, with the same network (two tanh hidden layers of 128;
   fast-ppo with a shared trunk, its default, with separate actor and critic trunks, SB3's
   layout, and with ReLU), the same batch (1,024 envs × 32 steps, 4 minibatches of 8,192) and 4
   epochs; plus SB3 PPO with the defaults the earlier experiments used (``hyperparams/ppo.yaml``:
   16 envs × 128 steps, minibatches of 512); and skrl's PPO (``benchmarks/skrl_ppo.py``: skrl's
   gymnasium wrapper on the torch env, separate tanh networks of 2 × 128, the same batch and
   epochs; Box observations only, so not Construct). Construct times a third of ``--updates``
   (at least one).
2. **16 seeds in one process vs one after another**: GridMaze (egocentric), 64 envs per seed.
3. **Bonus cost**: fast-ppo on GridMaze (egocentric), 1,024 envs, without a bonus and with count,
   RND and E3B, trained inside the PPO epochs.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from rewardgym.throughput import machine_line

import rewardgym  # noqa: F401  (registers the envs)
from rewardgym.agents.fast_ppo import FastPPO, FastPPOConfig
from rewardgym.agents.sb3_vec_env import SB3VecEnv

try:
    from skrl_ppo import skrl_ppo  # benchmarks/skrl_ppo.py; needs `pip install skrl`
except ImportError:
    print("skrl is not installed (pip install skrl): its column is left out", flush=True)
    skrl_ppo = None

#: (label, env id, env arguments, share of --updates timed: Construct's 1,984-way masked policy makes an update slow)
ENVS = [
    ("GridMaze (egocentric)", "rewardgym/GridMaze-v0", {"observation": "egocentric"}, 1.0),
    ("DeepSea (N = 20)", "rewardgym/DeepSea-v0", {"size": 20}, 1.0),
    ("KeyDoor", "rewardgym/KeyDoor-v0", {}, 1.0),
    ("Highway", "rewardgym/Highway-v1", {}, 1.0),
    ("Construct", "rewardgym/Construct-v0", {}, 0.34),
]
GRIDMAZE = ENVS[0]
SAME = {"num_envs": 1024, "num_steps": 32, "num_minibatches": 4, "update_epochs": 4, "hidden": [128, 128]}
SB3_DEFAULTS = {"num_envs": 16, "num_steps": 128, "batch_size": 512, "update_epochs": 4}
BONUSES = [None, "count", "rnd", "e3b"]


def timed(build: Callable[[], Any], train: Callable[[Any, int], None], updates: int) -> float:
    """Seconds to train ``updates`` updates of a freshly built learner, after one untimed update."""
    torch.manual_seed(0)
    learner = build()
    train(learner, 1)
    start = time.perf_counter()
    train(learner, updates)
    return time.perf_counter() - start


def fast_ppo(env_id: str, kwargs: dict, seeds: int = 1, bonus: str | None = None, **config: Any) -> Callable:
    """A measurement of fast-ppo: returns env steps per second over ``updates`` updates."""
    settings = {**SAME, **config}

    def measure(updates: int) -> float:
        def build() -> FastPPO:
            return FastPPO(env_id, list(range(seeds)), FastPPOConfig(**settings), env_kwargs=kwargs, bonus=bonus)

        def train(algo: FastPPO, count: int) -> None:
            for _ in range(count):
                algo.update(algo.collect())

        seconds = timed(build, train, updates)
        return seeds * settings["num_envs"] * settings["num_steps"] * updates / seconds

    return measure


def sb3_ppo(env_id: str, kwargs: dict, num_envs: int, num_steps: int, batch_size: int, update_epochs: int) -> Callable:
    """A measurement of SB3 PPO through ``SB3VecEnv``: env steps per second over ``updates`` updates."""
    from stable_baselines3 import PPO

    def measure(updates: int) -> float:
        def build() -> PPO:
            env = SB3VecEnv(gym.make_vec(env_id, num_envs=num_envs, autoreset_mode="SameStep", **kwargs))
            policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
            return PPO(policy, env, n_steps=num_steps, batch_size=batch_size, n_epochs=update_epochs, seed=0,
                       policy_kwargs={"net_arch": [128, 128]}, device="cpu")

        def train(model: PPO, count: int) -> None:
            model.learn(count * num_envs * num_steps, reset_num_timesteps=False)

        seconds = timed(build, train, updates)
        return num_envs * num_steps * updates / seconds

    return measure


def seeds_in_sequence(env_id: str, kwargs: dict, seeds: int, num_envs: int) -> Callable:
    """``seeds`` single-seed fast-ppo runs one after another: their total env steps per second."""
    def measure(updates: int) -> float:
        seconds = 0.0
        for seed in range(seeds):
            settings = {**SAME, "num_envs": num_envs}

            def build(seed: int = seed) -> FastPPO:
                return FastPPO(env_id, [seed], FastPPOConfig(**settings), env_kwargs=kwargs)

            seconds += timed(build, lambda algo, count: [algo.update(algo.collect()) for _ in range(count)], updates)
        return seeds * num_envs * SAME["num_steps"] * updates / seconds

    return measure


def median_rates(cells: dict[str, Callable], repeats: int, updates: int,
                 shares: dict[str, float] | None = None) -> dict[str, float]:
    """The median steps/s of each measurement over ``repeats`` interleaved rounds.

    ``shares``: per cell, the share of ``updates`` it times (at least one update)."""
    samples: dict[str, list[float]] = {name: [] for name in cells}
    for round_index in range(repeats):
        for name, measure in cells.items():
            samples[name].append(measure(max(1, round(updates * (shares or {}).get(name, 1.0)))))
            print(f"round {round_index + 1}: {name}: {samples[name][-1]:,.0f} steps/s", flush=True)
    return {name: statistics.median(values) for name, values in samples.items()}


KINDS = ("fast", "fast-separate", "fast-relu", "sb3", "sb3-defaults", "skrl")


def compare_section(repeats: int, updates: int) -> str:
    cells, shares = {}, {}
    for label, env_id, kwargs, share in ENVS:
        cells[f"{label}|fast"] = fast_ppo(env_id, kwargs)
        cells[f"{label}|fast-separate"] = fast_ppo(env_id, kwargs, shared_trunk=False)
        cells[f"{label}|fast-relu"] = fast_ppo(env_id, kwargs, activation="relu")
        cells[f"{label}|sb3"] = sb3_ppo(env_id, kwargs, SAME["num_envs"], SAME["num_steps"], 8192, 4)
        cells[f"{label}|sb3-defaults"] = sb3_ppo(env_id, kwargs, **SB3_DEFAULTS)
        if skrl_ppo is not None and label != "Construct":  # skrl's models here take Box observations only
            cells[f"{label}|skrl"] = skrl_ppo(env_id, {**kwargs, "autoreset_mode": "SameStep"}, SAME["num_envs"],
                                              SAME["num_steps"], SAME["num_minibatches"], SAME["update_epochs"])
        shares.update({f"{label}|{kind}": share for kind in KINDS})
    rates = median_rates(cells, repeats, updates, shares)
    lines = ["| env | fast-ppo | fast-ppo, separate trunks | fast-ppo, ReLU | SB3 PPO, same batch | skrl PPO, same "
             "batch | SB3 PPO, experiments' defaults | fast-ppo separate / SB3 same batch | fast-ppo / SB3 same batch "
             "| fast-ppo / SB3 defaults |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, *_ in ENVS:
        fast, separate, relu, sb3, defaults = (rates[f"{label}|{kind}"] for kind in KINDS[:-1])
        skrl = f"{rates[f'{label}|skrl']:,.0f}" if f"{label}|skrl" in rates else "–"
        lines.append(f"| {label} | {fast:,.0f} | {separate:,.0f} | {relu:,.0f} | {sb3:,.0f} | {skrl} | "
                     f"{defaults:,.0f} | "
                     f"{separate / sb3:.2f}× | {fast / sb3:.2f}× | {fast / defaults:.1f}× |")
    return "\n".join(lines)


def seeds_section(repeats: int, updates: int) -> str:
    label, env_id, kwargs, _ = GRIDMAZE
    cells = {"together": fast_ppo(env_id, kwargs, seeds=16, num_envs=64),
             "sequence": seeds_in_sequence(env_id, kwargs, 16, 64)}
    rates = median_rates(cells, repeats, updates)
    return "\n".join([
        "| env | 16 seeds × 64 envs in one process | the same 16 runs one after another | ratio |",
        "|---|---:|---:|---:|",
        f"| {label} | {rates['together']:,.0f} | {rates['sequence']:,.0f} | "
        f"{rates['together'] / rates['sequence']:.2f}× |",
    ])


def bonus_section(repeats: int, updates: int) -> str:
    label, env_id, kwargs, _ = GRIDMAZE
    cells = {str(bonus): fast_ppo(env_id, kwargs, bonus=bonus) for bonus in BONUSES}
    cells.update({f"{bonus}|16": fast_ppo(env_id, kwargs, seeds=16, num_envs=64, bonus=bonus) for bonus in BONUSES})
    rates = median_rates(cells, repeats, updates)
    lines = ["| bonus | 1 seed × 1,024 envs (steps/s) | time / no bonus | 16 seeds × 64 envs (steps/s) "
             "| time / no bonus |",
             "|---|---:|---:|---:|---:|"]
    for bonus in BONUSES:
        one, sixteen = rates[str(bonus)], rates[f"{bonus}|16"]
        lines.append(f"| {bonus or 'none'} | {one:,.0f} | {rates['None'] / one:.2f}× | {sixteen:,.0f} | "
                     f"{rates['None|16'] / sixteen:.2f}× |")
    return "\n".join(lines)


SECTIONS = {"compare": compare_section, "seeds": seeds_section, "bonus": bonus_section}
TITLES = {
    "compare": "fast-ppo vs SB3 PPO (env steps/s while training, 1 seed)",
    "seeds": "Seeds batched in one process vs one after another (env steps/s, all seeds together)",
    "bonus": f"Cost of a bonus in fast-ppo ({GRIDMAZE[0]})",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--updates", type=int, default=4, help="timed updates per measurement")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=Path("results/training_speed.md"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    parts = ["# Training speed", "", machine_line(), ""]
    for name in args.sections:
        table = SECTIONS[name](args.repeats, args.updates)
        parts += [f"## {TITLES[name]}", "", table, ""]
        print(table, flush=True)
    command = shlex.join(["python", "benchmarks/training_speed.py", *(argv if argv is not None else sys.argv[1:])])
    parts.append(f"Each figure: the median of {args.repeats} measurements in interleaved rounds, each "
                 f"{args.updates} timed updates after one untimed one. Produced by `{command}`.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
