"""Training speed of skrl's PPO on a rewardgym env, set up the way a user of skrl would.

    from skrl_ppo import skrl_ppo
    measure = skrl_ppo("rewardgym/GridMaze-v0", {"observation": "egocentric"}, 64, 32, 4, 4)
    measure(2)  # env steps per second over 2 timed PPO updates

What is measured: the env is ``gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point",
**kwargs)`` (a rewardgym ``TorchVectorEnv``) wrapped with skrl's own
``wrap_env(env, wrapper="gymnasium")``; the agent is ``skrl.agents.torch.ppo.PPO`` (configured with its
``PPO_CFG`` dataclass) with a ``RandomMemory`` of ``num_steps`` rows per env, and skrl's
``SequentialTrainer`` drives it (pre_interaction / act / env.step / record_transition /
post_interaction; PPO updates itself inside post_interaction every ``num_steps`` vector steps).
A measurement builds all of it, trains one untimed update (warm-up: ``num_steps`` vector steps and
the update they trigger), then times ``updates`` more; the rate is env steps / seconds, so env
stepping, skrl's wrapper conversions, inference, memory writes, GAE and the PPO epochs all count.

Models follow SB3's ``MlpPolicy``: separate policy and value networks, each an MLP with two Tanh
hidden layers of 128 (policy: ``CategoricalMixin`` over logits; value: ``DeterministicMixin``).
PPO: rollouts = ``num_steps``, learning_epochs = ``update_epochs``, mini_batches =
``num_minibatches``, discount 0.99, GAE lambda 0.95, Adam at 3e-4 with no scheduler, entropy loss
scale 0.01, value loss scale 0.5, grad-norm clip 0.5, ratio clip 0.2, value clip 0.2 (skrl's
default, as fast-ppo's clipped value loss), no preprocessors. Nothing is written to disk:
TensorBoard writing and checkpoints are off (``experiment.write_interval = 0``,
``experiment.checkpoint_interval = 0``).

Only Box observations and Discrete actions are supported (other spaces raise ``ValueError``).
Notes on skrl 2.1.1's gymnasium wrapper with a torch vector env: observations are passed through
as tensors, but actions go torch -> numpy each step (the env converts them back), rewards /
terminated / truncated are copied with ``torch.tensor(...)``, and the wrapper knows nothing of
gymnasium's autoreset modes: with the env's default NEXT_STEP autoreset, the step after an
episode ends is a reset step that skrl records as an ordinary transition (pass
``{"autoreset_mode": "SameStep"}`` in ``kwargs`` to avoid that; it changes nothing about speed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import torch
from torch import nn

import rewardgym  # noqa: F401  (registers the envs)

HIDDEN = 128
SEED = 0


def mlp(inputs: int, outputs: int) -> nn.Sequential:
    """Two Tanh hidden layers of ``HIDDEN`` units, as SB3's ``MlpPolicy`` uses for each network."""
    return nn.Sequential(
        nn.Linear(inputs, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, outputs)
    )


def build_models(observation_space: gym.Space, action_space: gym.Space, device: Any) -> dict[str, Any]:
    """skrl models for PPO: a categorical policy and a deterministic value function, separate networks."""
    from skrl.models.torch import CategoricalMixin, DeterministicMixin, Model

    class Policy(CategoricalMixin, Model):
        def __init__(self) -> None:
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            CategoricalMixin.__init__(self, unnormalized_log_prob=True)
            self.net = mlp(self.num_observations, self.num_actions)

        def compute(self, inputs: dict[str, Any], role: str = "") -> tuple[torch.Tensor, dict[str, Any]]:
            return self.net(inputs["observations"]), {}

    class Value(DeterministicMixin, Model):
        def __init__(self) -> None:
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            DeterministicMixin.__init__(self, clip_actions=False)
            self.net = mlp(self.num_observations, 1)

        def compute(self, inputs: dict[str, Any], role: str = "") -> tuple[torch.Tensor, dict[str, Any]]:
            return self.net(inputs["observations"]), {}

    return {"policy": Policy(), "value": Value()}


def build(env_id: str, kwargs: dict, num_envs: int, num_steps: int, num_minibatches: int,
          update_epochs: int) -> Any:
    """The env, PPO agent and memory, wired into a ``SequentialTrainer`` set for one update."""
    from skrl.agents.torch.ppo import PPO, PPO_CFG
    from skrl.envs.wrappers.torch import wrap_env
    from skrl.memories.torch import RandomMemory
    from skrl.trainers.torch import SequentialTrainer, SequentialTrainerCfg

    env = wrap_env(
        gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs),
        wrapper="gymnasium",
    )
    if not isinstance(env.observation_space, gym.spaces.Box) or not isinstance(env.action_space, gym.spaces.Discrete):
        env.close()
        raise ValueError(
            f"skrl_ppo supports Box observations and Discrete actions only, "
            f"got {env.observation_space} and {env.action_space}"
        )

    cfg = PPO_CFG(
        rollouts=num_steps,
        learning_epochs=update_epochs,
        mini_batches=num_minibatches,
        discount_factor=0.99,
        gae_lambda=0.95,
        learning_rate=3e-4,
        learning_rate_scheduler=None,
        entropy_loss_scale=0.01,
        value_loss_scale=0.5,
        grad_norm_clip=0.5,
        ratio_clip=0.2,
        value_clip=0.2,
    )
    cfg.experiment.write_interval = 0  # no TensorBoard writer (and no experiment directory)
    cfg.experiment.checkpoint_interval = 0  # no checkpoints

    agent = PPO(
        models=build_models(env.observation_space, env.action_space, env.device),
        memory=RandomMemory(memory_size=num_steps, num_envs=num_envs, device=env.device),
        observation_space=env.observation_space,
        action_space=env.action_space,
        device=env.device,
        cfg=cfg,
    )
    trainer_cfg = SequentialTrainerCfg(
        timesteps=num_steps, headless=True, disable_progressbar=True, close_environment_at_exit=False
    )
    return SequentialTrainer(env=env, agents=agent, cfg=trainer_cfg)  # calls agent.init()


def train(trainer: Any, updates: int, num_steps: int) -> None:
    """Run ``updates`` PPO updates' worth of vector steps (the env continues where it stopped)."""
    trainer.cfg.timesteps = updates * num_steps
    trainer.train()


def skrl_ppo(env_id: str, kwargs: dict, num_envs: int, num_steps: int, num_minibatches: int,
             update_epochs: int) -> Callable[[int], float]:
    """A measurement of skrl PPO: ``measure(updates)`` returns env steps per second over ``updates`` updates.

    Each call builds a fresh env and agent (torch and skrl seeded with 0), trains one untimed update,
    then times ``updates`` more. Raises ``ValueError`` unless the env has Box observations and
    Discrete actions.
    """

    def measure(updates: int) -> float:
        from skrl.utils import set_seed

        set_seed(SEED)  # random, numpy, torch and skrl's key (the wrapper seeds env.reset with it)
        torch.manual_seed(SEED)
        trainer = build(env_id, kwargs, num_envs, num_steps, num_minibatches, update_epochs)
        try:
            train(trainer, 1, num_steps)
            start = time.perf_counter()
            train(trainer, updates, num_steps)
            seconds = time.perf_counter() - start
        finally:
            trainer.env.close()
        return num_envs * num_steps * updates / seconds

    return measure


if __name__ == "__main__":
    cases = [("rewardgym/GridMaze-v0", {"observation": "egocentric"}), ("rewardgym/DeepSea-v0", {"size": 10})]
    for env_id, kwargs in cases:
        rate = skrl_ppo(env_id, kwargs, num_envs=64, num_steps=32, num_minibatches=4, update_epochs=4)(2)
        print(f"{env_id} {kwargs}: {rate:,.0f} env steps/s")
