"""A sweep file: env configurations × a grid of rewards, bonuses, coefficients and hyperparameters × seeds.

A sweep file (``examples/sweep.yaml``) reads:

    name: gridmaze-rewards        # the sweep's name (its Ray Tune experiment's name)
    envs:                         # one or more env configurations
      - name: GridMaze 6          # optional: how tables name it (default: the env id's name)
        env_id: rewardgym/GridMaze-v0
        env_kwargs: {size: 6}
    algo: fast-ppo                # or ppo, sac, dqn, her-sac (SB3)
    steps: 200000                 # env steps per trial
    seeds: 4                      # run seeds first_seed … first_seed + seeds − 1
    first_seed: 0                 # optional (default 0)
    eval_rows: 256                # optional: one greedy episode in each of this many fresh envs per trial
    num_envs: 64                  # optional: envs per seed (default: agents/hyperparams/<algo>.yaml)
    checkpoint_every: 20000       # optional (default: a tenth of the budget)
    hyperparameters: {}           # optional: fixed overrides of agents/hyperparams/<algo>.yaml
    grid:                         # optional; every value is a list and the sweep runs their product
      reward: [sparse, shaped]
      bonus: [null, count]        # null: no bonus
      bonus_coef: [0.01, 0.1]     # only varies the configurations that have a bonus
      hyperparameters:
        learning_rate: [0.0003, 0.001]

A **configuration** is one point of envs × grid; a **trial** is a configuration and a seed, trained
into its own run directory ``trials/<configuration>/seed_<k>`` (an ordinary run: ``rewardgym
eval``, ``render`` work on it). Every key, env, argument, reward, bonus and hyperparameter is
checked when the file loads, so a bad sweep fails before any trial starts.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rewardgym.agents.fast_ppo import FastPPOConfig
from rewardgym.agents.training import ALGORITHM_NAMES, ALGORITHMS, RUN_KEYS, RunConfig, load_hyperparameters
from rewardgym.core.validation import check_int, check_keys
from rewardgym.evaluation import EVAL_ROWS
from rewardgym.report.protocol import check_env_configuration, env_class
from rewardgym.wrappers.intrinsic import BONUSES

SWEEP_KEYS = {"name", "envs", "algo", "steps", "seeds"}
OPTIONAL_SWEEP_KEYS = {"first_seed", "eval_rows", "num_envs", "checkpoint_every", "hyperparameters", "grid"}
ENV_KEYS = {"name", "env_id", "env_kwargs"}
GRID_KEYS = {"reward", "bonus", "bonus_coef", "hyperparameters"}
#: Checkpoints per trial when the sweep does not say: a killed sweep loses at most a tenth of a trial.
CHECKPOINTS_PER_TRIAL = 10


@dataclass(frozen=True)
class SweepEnv:
    """One env configuration of a sweep."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Configuration:
    """One point of the grid: what its trials train (they differ only in their seed)."""

    env: SweepEnv
    reward: str
    bonus: str | None
    bonus_coef: float
    hyperparameters: dict[str, Any]  # the grid's values, over the sweep's fixed ones

    @property
    def slug(self) -> str:
        """The configuration's directory name: its env and every grid value (hyperparameters by name)."""
        parts = [self.env.name, self.reward, self.bonus or "no-bonus"]
        if self.bonus is not None:
            parts.append(f"coef={self.bonus_coef:g}")
        parts += [f"{key}={value}" for key, value in sorted(self.hyperparameters.items())]
        return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in "-".join(parts))

    @property
    def label(self) -> dict[str, Any]:
        """The configuration's values, as columns of the sweep's table."""
        return {"env": self.env.name, "env_id": self.env.env_id, "reward": self.reward, "bonus": self.bonus or "",
                "bonus_coef": self.bonus_coef if self.bonus is not None else "", **self.hyperparameters}


@dataclass(frozen=True)
class Sweep:
    """A loaded, checked sweep file."""

    name: str
    envs: tuple[SweepEnv, ...]
    algo: str
    steps: int
    seeds: tuple[int, ...]
    eval_rows: int
    num_envs: int | None
    checkpoint_every: int
    hyperparameters: dict[str, Any]
    grid: dict[str, Any]
    raw: dict[str, Any]  # the file as read: a resumed sweep must be this one

    @property
    def configurations(self) -> list[Configuration]:
        """Every configuration of envs × grid, in the file's order, without duplicates."""
        rewards = self.grid.get("reward", ["sparse"])
        bonuses = self.grid.get("bonus", [None])
        coefs = self.grid.get("bonus_coef", [RunConfig.bonus_coef])
        hyper_grid = self.grid.get("hyperparameters", {})
        names = list(hyper_grid)
        found: dict[str, Configuration] = {}
        for env, reward, bonus, coef, values in itertools.product(
                self.envs, rewards, bonuses, coefs, itertools.product(*hyper_grid.values())):
            coef = coef if bonus is not None else RunConfig.bonus_coef  # no bonus: the coefficient means nothing
            configuration = Configuration(env, reward, bonus, float(coef), dict(zip(names, values)))
            found.setdefault(configuration.slug, configuration)
        return list(found.values())

    def run_config(self, configuration: Configuration, seed: int = 0) -> RunConfig:
        """The resolved run configuration of a trial (``agents/hyperparams/<algo>.yaml`` filled in)."""
        return RunConfig(configuration.env.env_id, algo=self.algo, reward=configuration.reward,
                         bonus=configuration.bonus, bonus_coef=configuration.bonus_coef, steps=self.steps, seed=seed,
                         num_envs=self.num_envs, checkpoint_every=self.checkpoint_every,
                         env_kwargs=dict(configuration.env.env_kwargs),
                         hyperparameters={**self.hyperparameters, **configuration.hyperparameters}).resolved()


def _list(what: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{what} must be a non-empty list of values, got {value!r}")
    return value


def _env(raw: Any, index: int) -> SweepEnv:
    what = f"envs[{index}]"
    check_keys(what, raw, ENV_KEYS, {"env_id"})
    env = SweepEnv(raw.get("name", str(raw["env_id"]).split("/")[-1]), raw["env_id"], raw.get("env_kwargs") or {})
    check_env_configuration(what, env.env_id, env.env_kwargs)
    return env


def _check_hyperparameters(algo: str, env_id: str, hyperparameters: dict[str, Any], num_envs: int | None) -> None:
    """A ``ValueError`` naming the key unless ``algo`` accepts these hyperparameters (fast-ppo: and their ranges)."""
    merged = {**load_hyperparameters(algo, env_id), **hyperparameters}
    if num_envs is not None:
        merged["n_envs"] = num_envs
    own = {key: value for key, value in merged.items() if key not in RUN_KEYS}
    if algo == "fast-ppo":
        FastPPOConfig.from_dict({**own, "num_envs": merged["n_envs"]})
        return
    parameters = inspect.signature(ALGORITHMS[algo].__init__).parameters
    accepted = {name for name in parameters if not name.startswith("_")} - {"self", "env", "seed", "tensorboard_log"}
    if unknown := sorted(set(own) - accepted):
        raise ValueError(f"unknown {algo} hyperparameters {unknown}; known: {sorted(accepted)}")


def load_sweep(path: str | Path) -> Sweep:
    """The sweep in a YAML file, checked; a ``ValueError`` names the first problem."""
    return parse_sweep(yaml.safe_load(Path(path).read_text()))


def parse_sweep(raw: Any) -> Sweep:
    """The sweep of a sweep file's contents, checked; a ``ValueError`` names the first problem."""
    check_keys("sweep", raw, SWEEP_KEYS | OPTIONAL_SWEEP_KEYS, SWEEP_KEYS)
    if not isinstance(raw["name"], str) or not raw["name"] or any(c in raw["name"] for c in "/\\ "):
        raise ValueError(f"sweep: name must be a non-empty string without '/', '\\\\' or spaces, got {raw['name']!r}")
    if raw["algo"] not in ALGORITHM_NAMES:
        raise ValueError(f"sweep: algo must be one of {sorted(ALGORITHM_NAMES)}, got {raw['algo']!r}")
    envs = tuple(_env(item, i) for i, item in enumerate(_list("sweep: envs", raw["envs"])))
    if len({env.name for env in envs}) != len(envs):
        raise ValueError(f"sweep: env names must be unique, got {[env.name for env in envs]}")
    steps = check_int("sweep: steps", raw["steps"], 1)
    seeds = check_int("sweep: seeds", raw["seeds"], 1)
    first_seed = check_int("sweep: first_seed", raw.get("first_seed", 0), 0, 2**31 - 1 - seeds)  # seeds are int32
    num_envs = raw.get("num_envs")
    if num_envs is not None:
        check_int("sweep: num_envs", num_envs, 1)
    hyperparameters = raw.get("hyperparameters") or {}
    if not isinstance(hyperparameters, dict):
        raise ValueError(f"sweep: hyperparameters must be a mapping, got {hyperparameters!r}")
    grid = raw.get("grid") or {}
    check_keys("sweep: grid", grid, GRID_KEYS, set())
    grid = {key: _list(f"sweep: grid.{key}", value) if key != "hyperparameters" else value
            for key, value in grid.items()}
    if not isinstance(grid.get("hyperparameters", {}), dict):
        raise ValueError(f"sweep: grid.hyperparameters must be a mapping of lists, got {grid['hyperparameters']!r}")
    for name, values in grid.get("hyperparameters", {}).items():
        _list(f"sweep: grid.hyperparameters.{name}", values)
    for reward in grid.get("reward", []):
        for env in envs:
            if reward not in env_class(env.env_id).reward_names():
                raise ValueError(f"sweep: grid.reward: {env.env_id} has no reward {reward!r} "
                                 f"(it has {env_class(env.env_id).reward_names()})")
    for bonus in grid.get("bonus", []):
        if bonus is not None and bonus not in BONUSES:
            raise ValueError(f"sweep: grid.bonus must hold null or one of {sorted(BONUSES)}, got {bonus!r}")
        if bonus is not None and raw["algo"] == "her-sac":
            raise ValueError("sweep: grid.bonus: an intrinsic bonus is not defined under HER's goal relabelling")
    for coef in grid.get("bonus_coef", []):
        if isinstance(coef, bool) or not isinstance(coef, (int, float)) or not coef > 0:
            raise ValueError(f"sweep: grid.bonus_coef must hold positive numbers, got {coef!r}")
    sweep = Sweep(raw["name"], envs, raw["algo"], steps, tuple(range(first_seed, first_seed + seeds)),
                  check_int("sweep: eval_rows", raw.get("eval_rows", EVAL_ROWS), 1), num_envs,
                  check_int("sweep: checkpoint_every", raw.get("checkpoint_every", max(steps // CHECKPOINTS_PER_TRIAL, 1)), 1),
                  hyperparameters, grid, raw)
    for configuration in sweep.configurations:
        hyper = {**hyperparameters, **configuration.hyperparameters}
        try:
            _check_hyperparameters(sweep.algo, configuration.env.env_id, hyper, num_envs)
        except (TypeError, ValueError) as error:
            raise ValueError(f"sweep: configuration {configuration.slug}: {error}") from None
    return sweep

