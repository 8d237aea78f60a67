"""A report's protocol: which env configurations, with what budget, how many seeds: fixed and versioned.

A protocol file (``protocols/<name>.yaml``) reads:

    name: full
    version: 1
    seeds: 10                 # run seeds 0 … seeds − 1, the unit of every statistic
    first_seed: 0             # optional: run seeds first_seed … first_seed + seeds − 1 (pilots use ≥ 100)
    eval_rows: 256            # evaluation: one greedy episode in each of this many fresh envs per seed
    entries:
      - name: DeepSea N=20    # how the report names this configuration
        family: exploration
        env_id: rewardgym/DeepSea-v0
        env_kwargs: {size: 20}
        algo: fast-ppo        # or her-sac (manipulation)
        steps: 1000000        # env steps per seed
        hyperparameters: {}   # overrides of agents/hyperparams/<algo>.yaml

A ``Method`` is what the report evaluates: a reward variant and/or an intrinsic bonus. Every
entry, key, env, argument and method is checked when the protocol loads, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from gymnasium.envs.registration import load_env_creator

from rewardgym.agents.fast_ppo import FastPPOConfig
from rewardgym.core import TorchVectorEnv
from rewardgym.core.goals import RELABELLED_REWARDS
from rewardgym.core.registration import registered_ids
from rewardgym.core.validation import check_keys
from rewardgym.wrappers.intrinsic import BONUSES

FAMILIES = ("exploration", "maze", "geometry", "driving", "manipulation")
ALGORITHMS = ("fast-ppo", "her-sac")
PROTOCOL_KEYS = {"name", "version", "seeds", "eval_rows", "entries"}
OPTIONAL_PROTOCOL_KEYS = {"first_seed"}
ENTRY_KEYS = {"name", "family", "env_id", "env_kwargs", "algo", "steps", "hyperparameters"}


@dataclass(frozen=True)
class Method:
    """What a report evaluates: the reward the agent trains on, and an intrinsic bonus (or none)."""

    reward: str = "sparse"
    bonus: str | None = None
    bonus_coef: float = 0.01

    def __post_init__(self) -> None:
        if self.bonus is not None and self.bonus not in BONUSES:
            raise ValueError(f"bonus must be one of {sorted(BONUSES)}, got {self.bonus!r}")
        if not self.bonus_coef > 0:
            raise ValueError(f"bonus_coef must be positive, got {self.bonus_coef}")

    @property
    def label(self) -> str:
        """``sparse``, ``shaped``, ``sparse + count``, …"""
        return self.reward if self.bonus is None else f"{self.reward} + {self.bonus}"

    def skip_reason(self, entry: Entry) -> str | None:
        """Why the method does not apply to ``entry`` (it is skipped there), or None."""
        if self.reward not in entry.env_class.reward_names():
            return f"{entry.env_id} has no reward {self.reward!r} (it has {entry.env_class.reward_names()})"
        if self.bonus is not None and entry.algo == "her-sac":
            return "an intrinsic bonus is not defined under HER's goal relabelling"
        if entry.algo == "her-sac" and self.reward not in RELABELLED_REWARDS:
            return f"HER relabels goals with compute_reward, which recomputes only {RELABELLED_REWARDS}"
        return None


@dataclass(frozen=True)
class Entry:
    """One env configuration of a protocol, with its training budget."""

    name: str
    family: str
    env_id: str
    steps: int
    algo: str = "fast-ppo"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    @property
    def env_class(self) -> type[TorchVectorEnv]:
        return env_class(self.env_id)

    @property
    def slug(self) -> str:
        """The entry's directory name in a report."""
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)


def env_class(env_id: str) -> type[TorchVectorEnv]:
    """The batched env class registered under ``env_id``."""
    entry_point = gym.spec(env_id).vector_entry_point
    return load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point


def family_of(env_id: str) -> str:
    """The family of a registered env: the ``rewardgym.envs`` subpackage that defines it."""
    return env_class(env_id).__module__.split(".")[2]


def check_env_configuration(what: str, env_id: Any, env_kwargs: Any) -> None:
    """A ``ValueError`` naming ``what`` unless ``env_id`` is registered and accepts ``env_kwargs``, each in range."""
    if env_id not in registered_ids():
        raise ValueError(f"{what}: unknown env id {env_id!r}; known ids: {registered_ids()}")
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"{what}: env_kwargs must be a mapping, got {env_kwargs!r}")
    accepted = set(env_class(env_id).argument_names()) - {"reward", "autoreset_mode", "render_mode", "device"}
    if unknown := set(env_kwargs) - accepted:
        raise ValueError(f"{what}: {env_id} has no arguments {sorted(unknown)}; it accepts {sorted(accepted)}")
    probe = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **env_kwargs)
    probe.close()  # an argument out of its range raises here, naming it


@dataclass(frozen=True)
class Protocol:
    name: str
    version: int
    seeds: int
    eval_rows: int
    entries: tuple[Entry, ...]
    first_seed: int = 0

    @property
    def run_seeds(self) -> list[int]:
        """The run seeds every entry trains: ``first_seed … first_seed + seeds − 1``."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @property
    def families(self) -> list[str]:
        return [family for family in FAMILIES if any(entry.family == family for entry in self.entries)]


def _entry(raw: dict[str, Any], index: int) -> Entry:
    what = f"entry {index} ({raw.get('name', '?') if isinstance(raw, dict) else raw!r})"
    check_keys(what, raw, ENTRY_KEYS, {"name", "family", "env_id", "steps"})
    entry = Entry(**raw)
    if entry.family not in FAMILIES:
        raise ValueError(f"{what}: family must be one of {FAMILIES}, got {entry.family!r}")
    if entry.algo not in ALGORITHMS:
        raise ValueError(f"{what}: algo must be one of {ALGORITHMS}, got {entry.algo!r}")
    if not isinstance(entry.steps, int) or entry.steps < 1:
        raise ValueError(f"{what}: steps must be a positive int, got {entry.steps!r}")
    check_env_configuration(what, entry.env_id, entry.env_kwargs)
    if entry.algo == "fast-ppo":
        FastPPOConfig.from_dict({k: v for k, v in entry.hyperparameters.items() if k != "n_envs"})
    return entry


def load_protocol(name_or_path: str | Path) -> Protocol:
    """The protocol ``smoke`` or ``full`` (shipped with rewardgym), or one from a YAML file.

    Raises ``ValueError`` naming the first problem: an unknown key, family, env id, env argument,
    algorithm or hyperparameter, or a value out of range.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        shipped = resources.files("rewardgym.report").joinpath(f"protocols/{name_or_path}.yaml")
        if not shipped.is_file():
            raise ValueError(f"unknown protocol {str(name_or_path)!r}: use 'smoke', 'full' or a .yaml file")
        text = shipped.read_text()
    else:
        text = path.read_text()
    raw = yaml.safe_load(text)
    check_keys("protocol", raw, PROTOCOL_KEYS | OPTIONAL_PROTOCOL_KEYS, PROTOCOL_KEYS)
    for key in ("version", "seeds", "eval_rows"):
        if not isinstance(raw[key], int) or raw[key] < 1:
            raise ValueError(f"protocol: {key} must be a positive int, got {raw[key]!r}")
    first_seed = raw.get("first_seed", 0)
    if not isinstance(first_seed, int) or not 0 <= first_seed <= 2**31 - 1 - raw["seeds"]:
        raise ValueError(f"protocol: first_seed must be an int in [0, 2**31 − 1 − seeds], got {first_seed!r}")
    if not raw["entries"]:
        raise ValueError("protocol: entries must list at least one env configuration")
    entries = tuple(_entry(item, i) for i, item in enumerate(raw["entries"]))
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"protocol: entry names must be unique, got {names}")
    return Protocol(raw["name"], raw["version"], raw["seeds"], raw["eval_rows"], entries, first_seed)
