"""Training, resuming and evaluating Stable-Baselines3 baselines on rewardgym envs.

A run lives in one directory:

    config.yaml          the resolved configuration: the run can be reproduced from it alone
    checkpoints/         every checkpoint_every steps: model_<steps>_steps.zip, the replay buffer (off-policy)
                         and model_learner_<steps>_steps.pt, the learner state outside the model (the
                         intrinsic bonus's stream and critic, with their optimisers, and the random generators)
    tensorboard/         SB3's TensorBoard logs
    model.zip            the final model
    eval.json            what ``evaluate`` measured

Ctrl-C (or any exception) during training saves a checkpoint before leaving, and ``resume``
continues from the newest checkpoint with the same step count and all learner state; the envs
start new episodes, as SB3's do. With the same seed a run repeats bit for bit on CPU, bonus or not.
"""

from __future__ import annotations

import json
import random
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3 import DQN, PPO, SAC, HerReplayBuffer
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

from rewardgym.agents.intrinsic_callback import (
    IntrinsicBonusCallback,
    IntrinsicRewardCallback,
    StreamCallback,
    TwoHeadIntrinsicCallback,
)
from rewardgym.agents.sb3_vec_env import SB3VecEnv
from rewardgym.evaluation import EVAL_ROWS, evaluate_policy
from rewardgym.policies import BatchPolicy, PolicyFactory
from rewardgym.wrappers.intrinsic import BONUSES, IntrinsicReward

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "dqn": DQN, "her-sac": SAC}
#: Every ``--algo``: the SB3 algorithms and fast-ppo (``agents/fast_ppo_run.py``), each with ``hyperparams/<algo>.yaml``.
ALGORITHM_NAMES = (*ALGORITHMS, "fast-ppo")
#: Hyperparameter keys that configure the run rather than the algorithm.
RUN_KEYS = ("n_timesteps", "n_envs")


def load_hyperparameters(algo: str, env_id: str) -> dict[str, Any]:
    """The algorithm's hyperparameters for ``env_id`` from ``hyperparams/<algo>.yaml`` (or its ``default``)."""
    if algo not in ALGORITHM_NAMES:
        raise ValueError(f"algo must be one of {sorted(ALGORITHM_NAMES)}, got {algo!r}")
    table = yaml.safe_load(resources.files("rewardgym.agents").joinpath(f"hyperparams/{algo}.yaml").read_text())
    return dict(table.get(env_id, table["default"]))


@dataclass
class RunConfig:
    """Everything a run needs; saved as ``config.yaml`` in the run directory."""

    env_id: str
    algo: str = "ppo"
    reward: str = "sparse"
    bonus: str | None = None
    bonus_coef: float = 0.01
    steps: int | None = None
    seed: int = 0
    num_envs: int | None = None
    checkpoint_every: int = 50_000
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> RunConfig:
        """A copy with the YAML defaults filled in (steps, num_envs, hyperparameters)."""
        table = load_hyperparameters(self.algo, self.env_id)
        hyper = {key: value for key, value in table.items() if key not in RUN_KEYS}
        if self.bonus is not None and self.bonus not in BONUSES:
            raise ValueError(f"bonus must be one of {sorted(BONUSES)}, got {self.bonus!r}")
        return RunConfig(**{
            **asdict(self),
            "steps": int(table["n_timesteps"] if self.steps is None else self.steps),
            "num_envs": int(table["n_envs"] if self.num_envs is None else self.num_envs),
            "hyperparameters": {**hyper, **self.hyperparameters},
        })

    def save(self, run_dir: Path) -> None:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(asdict(self), sort_keys=False))

    @classmethod
    def load(cls, run_dir: Path) -> RunConfig:
        return cls(**yaml.safe_load((Path(run_dir) / "config.yaml").read_text()))


def make_training_env(config: RunConfig) -> tuple[SB3VecEnv, StreamCallback | None]:
    """The SB3 view of the batch, shaped with the algorithm's γ, and the callback of its bonus (None without one).

    PPO takes a bonus through a callback (``IntrinsicBonusCallback`` for an episodic bonus,
    ``TwoHeadIntrinsicCallback`` for a global one); the off-policy algorithms through the
    ``IntrinsicReward`` wrapper, whose callback logs the intrinsic return apart. The bonus's
    initial weights are drawn after seeding torch with the run's seed, and its stream is seeded
    with it, so that the run repeats.
    """
    gamma = config.hyperparameters.get("gamma", 0.99)
    envs = gym.make_vec(config.env_id, num_envs=config.num_envs, autoreset_mode="SameStep", reward=config.reward,
                        gamma=gamma, **config.env_kwargs)
    if config.bonus is None:
        return SB3VecEnv(envs), None
    torch.manual_seed(config.seed)
    bonus = BONUSES[config.bonus](envs)
    if config.algo != "ppo":
        envs = IntrinsicReward(envs, bonus, coef=config.bonus_coef, seed=config.seed)
        return SB3VecEnv(envs), IntrinsicRewardCallback(envs)
    if bonus.episodic:  # an episodic bonus shares PPO's value head; a global one gets its own
        return SB3VecEnv(envs), IntrinsicBonusCallback(bonus, coef=config.bonus_coef, seed=config.seed)
    return SB3VecEnv(envs), TwoHeadIntrinsicCallback(bonus, ext_coef=1.0, int_coef=config.bonus_coef, seed=config.seed)


def build_model(config: RunConfig, env: SB3VecEnv, run_dir: Path) -> BaseAlgorithm:
    hyper = dict(config.hyperparameters)
    if config.algo == "her-sac":
        hyper["replay_buffer_class"] = HerReplayBuffer
    return ALGORITHMS[config.algo](env=env, seed=config.seed, tensorboard_log=str(run_dir / "tensorboard"), **hyper)


class StopOnCtrlC(BaseCallback):
    """Ends training at the next env step after Ctrl-C, instead of raising inside library code.

    A KeyboardInterrupt raised mid-operation (in a progress bar's lock, a checkpoint write) can
    leave a run hung or half-saved; stopping between steps lets the run save cleanly. A second
    Ctrl-C interrupts at once, as usual.
    """

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def _on_training_start(self) -> None:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._interrupt)

    def _interrupt(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        signal.signal(signal.SIGINT, self._previous)

    def _on_step(self) -> bool:
        return not self.interrupted

    def _on_training_end(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def global_random_state() -> dict[str, Any]:
    """The states of the global random generators SB3 draws from: torch's (CPU, and CUDA once used), numpy's, Python's."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_random_state(state: dict[str, Any]) -> None:
    """Restore what ``global_random_state`` returned."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """``write`` the file under a temporary name, then rename it: ``path`` never holds a partly written file."""
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    write(partial)
    partial.replace(path)


def write_json(path: Path, value: Any, indent: int = 1) -> None:
    """``value`` as JSON in ``path``, written atomically (``write_atomically``)."""
    write_atomically(Path(path), lambda partial: partial.write_text(json.dumps(value, indent=indent)))


class RunCheckpoint(CheckpointCallback):
    """SB3's checkpoints (model and replay buffer), plus the learner state outside the model, plus one on demand.

    The learner state (``model_learner_<steps>_steps.pt``) is the intrinsic callback's
    ``state_dict()`` (bonus, its optimisers and generators, reward-scale statistics, the two-head
    critic and its optimiser) and the global random generators' states.
    """

    def __init__(self, run_dir: Path, every_steps: int, num_envs: int, intrinsic: StreamCallback | None,
                 on_checkpoint: Callable[[int], None] | None = None):
        super().__init__(max(every_steps // num_envs, 1), str(run_dir / "checkpoints"), "model", save_replay_buffer=True)
        self.intrinsic = intrinsic
        self.on_checkpoint = on_checkpoint

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            self.save_now()
        return True

    def save_now(self) -> None:
        """Write the checkpoint, each file whole; the model file last, so a kill mid-write leaves the previous checkpoint."""
        path = Path(self._checkpoint_path(extension="zip"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(self.model, "replay_buffer") and self.model.replay_buffer is not None:
            write_atomically(Path(self._checkpoint_path("replay_buffer_", extension="pkl")), self.model.save_replay_buffer)
        learner = {"intrinsic": None if self.intrinsic is None else self.intrinsic.state_dict(), "random": global_random_state()}
        write_atomically(Path(self._checkpoint_path("learner_", extension="pt")), lambda partial: torch.save(learner, partial))
        write_atomically(path, self.model.save)
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.model.num_timesteps)


def latest_checkpoint(run_dir: Path) -> tuple[Path, int] | None:
    """The newest model checkpoint of a run and its step count."""
    found = [(int(m.group(1)), p) for p in (run_dir / "checkpoints").glob("model_*_steps.zip")
             if (m := re.fullmatch(r"model_(\d+)_steps\.zip", p.name))]
    if not found:
        return None
    steps, path = max(found)
    return path, steps


@dataclass
class Run:
    """A run ready to learn: its resolved configuration, model and intrinsic callback, new or restored."""

    config: RunConfig
    run_dir: Path
    model: BaseAlgorithm
    intrinsic: StreamCallback | None
    resumed: bool


def prepare_run(config: RunConfig, run_dir: Path, resume: bool = False, resolved: bool = False) -> Run:
    """Build the run in ``run_dir``: a new one (its ``config.yaml`` written), or with ``resume`` its newest checkpoint.

    A new run fills ``config`` in from the hyperparameter file, unless ``resolved`` says it already
    was (a report's pinned configuration): then the file is not read.

    Resuming restores the model, its replay buffer and the learner state beside them (the
    intrinsic callback's, then the global random generators', which loading the model reseeds).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        config = RunConfig.load(run_dir)
    else:
        config = config if resolved else config.resolved()
        config.save(run_dir)
    env, intrinsic = make_training_env(config)
    model = build_model(config, env, run_dir)
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        path, steps = checkpoint
        model = ALGORITHMS[config.algo].load(path, env=env, tensorboard_log=str(run_dir / "tensorboard"))
        buffer = path.with_name(f"model_replay_buffer_{steps}_steps.pkl")
        if buffer.exists():
            model.load_replay_buffer(buffer)
        learner = torch.load(path.with_name(f"model_learner_{steps}_steps.pt"), weights_only=False)
        if intrinsic is not None:
            intrinsic.load_state_dict(learner["intrinsic"])
        set_global_random_state(learner["random"])
        print(f"resuming {run_dir} from step {model.num_timesteps}")
    return Run(config, run_dir, model, intrinsic, resumed=checkpoint is not None)


def train(
    config: RunConfig,
    run_dir: Path,
    resume: bool = False,
    progress_bar: bool = True,
    callbacks: list[BaseCallback] | None = None,
    resolved: bool = False,
    on_checkpoint: Callable[[int], None] | None = None,
) -> BaseAlgorithm:
    """Train (or, with ``resume``, continue) the run in ``run_dir``; returns the model.

    ``callbacks`` are added to the run's own (intrinsic bonus, checkpoints); ``resolved``: see
    ``prepare_run``; ``on_checkpoint(env_steps)`` is called after every checkpoint is written.
    """
    run = prepare_run(config, run_dir, resume, resolved)
    model, config = run.model, run.config
    saver = RunCheckpoint(run.run_dir, config.checkpoint_every, config.num_envs, run.intrinsic, on_checkpoint)
    ctrl_c = StopOnCtrlC()
    own: list[BaseCallback] = [saver, ctrl_c] if run.intrinsic is None else [run.intrinsic, saver, ctrl_c]
    try:
        model.learn(config.steps - model.num_timesteps, callback=own + list(callbacks or []), progress_bar=progress_bar,
                    reset_num_timesteps=not run.resumed, tb_log_name="run")
    except BaseException:  # a crash or a second Ctrl-C: keep what was learned
        saver.save_now()
        raise
    if ctrl_c.interrupted:
        saver.save_now()
        raise KeyboardInterrupt
    model.save(run.run_dir / "model.zip")
    saver.save_now()
    return model


def evaluate(run_dir: Path, rows: int = EVAL_ROWS, deterministic: bool = True) -> dict[str, Any]:
    """Success rate of a run's final model: one episode in each of ``rows`` fresh envs (``evaluation.py``).

    The rows play the run seed's evaluation env seeds, on held-out levels for procedural envs,
    with ``reward="sparse"`` whatever the run trained on. Writes ``eval.json``.
    """
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir)
    probe = SB3VecEnv(gym.make_vec(config.env_id, num_envs=1, autoreset_mode="SameStep", **config.env_kwargs))
    model = load_model(run_dir, probe)
    probe.close()
    rate = evaluate_policy(config.env_id, config.env_kwargs, config.seed, sb3_policy(model, deterministic), rows)
    result = {"run": str(run_dir), "env_id": config.env_id, "algo": config.algo, "reward": config.reward,
              "bonus": config.bonus, "seed": config.seed, "steps": config.steps, "episodes": rows,
              "success_rate": rate}
    write_json(run_dir / "eval.json", result, indent=2)
    return result


def sb3_policy(model: BaseAlgorithm, deterministic: bool = True) -> PolicyFactory:
    """An SB3 model as a batch policy: torch observations in, numpy actions out."""

    def make(env: Any) -> BatchPolicy:
        def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> np.ndarray:
            numpy_observation = ({key: value.cpu().numpy() for key, value in observation.items()}
                                 if isinstance(observation, dict) else observation.cpu().numpy())
            return model.predict(numpy_observation, deterministic=deterministic)[0]

        return act

    return make


def load_model(run_dir: Path, env: Any) -> BaseAlgorithm:
    """A run's final model; ``env`` (its task, single or batched) is needed by HER's replay buffer on loading."""
    config = RunConfig.load(run_dir)
    return ALGORITHMS[config.algo].load(Path(run_dir) / "model.zip", env=env)
