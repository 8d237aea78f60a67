"""Intrinsic bonuses for SB3: callbacks that add a bonus where GAE can see it, and keep its state.

SB3 computes returns and advantages at the end of ``collect_rollouts`` and only then calls
``on_rollout_end``; adding a bonus to the rewards after that (as RLeXplore's examples do) never
reaches the advantages. ``IntrinsicBonusCallback`` rates each step's transition as the rollout is
collected (so episodic bonuses see steps in order), and at the rollout's end adds the normalised
bonus to the buffer's rewards, recomputes returns and advantages with the same last values, then
trains the bonus model on the rollout.

That intrinsic reward shares PPO's one value head and γ, so it is an episodic stream: suitable
for episodic bonuses (E3B, NGU, episodic counts). A global bonus, whose stream should not stop at
episode ends, gets a value head of its own: ``TwoHeadIntrinsicCallback``. Off-policy algorithms
take a bonus through the ``IntrinsicReward`` wrapper; ``IntrinsicRewardCallback`` logs its
intrinsic return and keeps its state.

All three rate, normalise and train the bonus through one ``IntrinsicStream``, and their
``state_dict()`` holds every piece of learner state they own, for checkpoints.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from rewardgym.agents.fast_ppo import gae
from rewardgym.wrappers.intrinsic.base import Bonus, Transitions, flatten_observation, mlp
from rewardgym.wrappers.intrinsic.stream import IntrinsicStream
from rewardgym.wrappers.intrinsic.wrapper import IntrinsicReward


def _as_tensor(observation: Any, device: torch.device) -> Any:
    if isinstance(observation, dict):
        return {key: _as_tensor(value, device) for key, value in observation.items()}
    return torch.as_tensor(np.asarray(observation), device=device)


def _replace_rows(batch: Any, rows: dict[int, Any]) -> Any:
    """A copy of a batched observation (array or dict of arrays) with some rows replaced."""
    if isinstance(batch, dict):
        return {key: _replace_rows(value, {i: row[key] for i, row in rows.items()}) for key, value in batch.items()}
    batch = np.array(batch, copy=True)
    for i, row in rows.items():
        batch[i] = row
    return batch


class StreamCallback(BaseCallback):
    """A callback holding an ``IntrinsicStream``; ``state_dict()`` is the learner state a checkpoint keeps."""

    stream: IntrinsicStream

    def state_dict(self) -> dict[str, Any]:
        return {"stream": self.stream.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state["stream"])


class IntrinsicBonusCallback(StreamCallback):
    """Add ``coef ·`` a normalised bonus to PPO's rollouts, and train the bonus once per rollout.

    Args:
        bonus: the bonus, built for the training env.
        coef: the weight of the normalised bonus.
        normalize: ``"reward"`` divides the bonus by its running std, ``"return"`` by the running
            std of its discounted sum (with ``gamma``), ``"none"`` leaves it raw (as ``IntrinsicReward``).
        gamma: the discount of that sum.
        update_proportion: the chance of each of the rollout's transitions entering the bonus's update.
        seed: seeds the stream's and the bonus's random generators.

    Logs ``intrinsic/bonus_mean``, ``intrinsic/reward_mean``, ``intrinsic/ep_bonus_mean`` (the
    raw bonus summed over each episode that ended in the rollout) and the bonus's update
    metrics; SB3 logs the extrinsic return (``rollout/ep_rew_mean``) and the success rate.
    """

    def __init__(
        self,
        bonus: Bonus,
        coef: float = 1.0,
        normalize: str = "reward",
        gamma: float = 0.99,
        update_proportion: float = 1.0,
        seed: int = 0,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        self.stream = IntrinsicStream(bonus, coef=coef, normalize=normalize, gamma=gamma,
                                      update_proportion=update_proportion, seed=seed)
        self._steps: list[Transitions] = []
        self._bonuses: list[torch.Tensor] = []
        self._episode_bonus = torch.zeros(bonus.num_envs, device=bonus.device)
        self._ended_episodes: list[float] = []

    @property
    def bonus(self) -> Bonus:
        return self.stream.bonus

    def _on_rollout_start(self) -> None:
        self._steps, self._bonuses, self._ended_episodes = [], [], []

    def _on_step(self) -> bool:
        device = self.bonus.device
        dones = np.asarray(self.locals["dones"], dtype=bool)
        infos = self.locals["infos"]
        truncated = np.array([info.get("TimeLimit.truncated", False) for info in infos], dtype=bool)
        next_obs = self.locals["new_obs"]
        if dones.any():  # the true last observation, not the reset one SB3 hands the policy
            next_obs = _replace_rows(next_obs, {i: infos[i]["terminal_observation"] for i in np.flatnonzero(dones)})
        step = Transitions(
            obs=flatten_observation(_as_tensor(self.model._last_obs, device)).unsqueeze(0),
            action=torch.as_tensor(np.asarray(self.locals["actions"]), device=device).unsqueeze(0),
            next_obs=flatten_observation(_as_tensor(next_obs, device)).unsqueeze(0),
            terminated=torch.as_tensor(dones & ~truncated, device=device).unsqueeze(0),
            truncated=torch.as_tensor(truncated, device=device).unsqueeze(0),
            valid=torch.ones((1, len(dones)), dtype=torch.bool, device=device),
        )
        self._bonuses.append(self.stream.bonus_of(step)[0])
        self._steps.append(step)
        self._episode_bonus += self._bonuses[-1]
        ended = torch.as_tensor(dones, device=device)
        self._ended_episodes += self._episode_bonus[ended].tolist()
        self._episode_bonus = torch.where(ended, 0.0, self._episode_bonus)
        return True

    def _scaled_rollout(self) -> tuple[Transitions, torch.Tensor, torch.Tensor]:
        """The rollout's transitions, raw bonuses and intrinsic rewards, each ``(n_steps, n_envs)`` as the buffer's rows."""
        transitions, raw = Transitions.cat(self._steps), torch.stack(self._bonuses)
        return transitions, raw, self.stream.scale(raw, transitions.done, transitions.valid)

    def _log(self, bonus: torch.Tensor, intrinsic: torch.Tensor, metrics: dict[str, float]) -> None:
        self.logger.record("intrinsic/bonus_mean", float(bonus.mean()))
        self.logger.record("intrinsic/reward_mean", float(intrinsic.mean()))
        if self._ended_episodes:
            self.logger.record("intrinsic/ep_bonus_mean", float(np.mean(self._ended_episodes)))
        for name, value in metrics.items():
            self.logger.record(f"intrinsic/{name}", value)

    def _on_rollout_end(self) -> None:
        transitions, raw, intrinsic = self._scaled_rollout()
        buffer = self.model.rollout_buffer
        buffer.rewards += intrinsic.cpu().numpy()
        buffer.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])
        self._log(raw, intrinsic, self.stream.train(transitions))


class TwoHeadIntrinsicCallback(IntrinsicBonusCallback):
    """A non-episodic intrinsic stream with a value head of its own, for global bonuses (RND-style).

    PPO's own value head keeps learning the extrinsic return; this callback adds a second value
    head, a separate critic V_I on the observation, for the intrinsic return with its own
    discount ``gamma_intrinsic``. The intrinsic stream does not stop at episode ends (RND's
    ``int_nextnonterminal = 1``): novelty found after a reset still counts. Its rewards are
    divided by the running std of the discounted intrinsic return (RND's normalisation). At each
    rollout's end:

        A_I = GAE(r_I, V_I; γ_I, λ) with no episode boundaries
        A   = ext_coef · A_E + A_I      (what PPO's policy loss uses; r_I carries int_coef)

    while PPO's returns (its value target) stay extrinsic. Then, as RND trains its predictor
    alongside the value heads, ``critic_epochs`` passes over the rollout in shuffled minibatches
    of PPO's ``batch_size`` each regress V_I on A_I + V_I and give the bonus's model one update
    on a random ``update_proportion`` of the minibatch (RND's 0.25; with RND's 4 epochs each
    transition trains the predictor once on average, in 4× as many optimiser steps as one
    update on the whole rollout).

    Args:
        bonus: a global bonus, built for the training env.
        ext_coef, int_coef: the weights of the extrinsic advantage and of the intrinsic reward.
        gamma_intrinsic: γ_I, the discount of the intrinsic stream (its GAE and its normalisation).
        critic_epochs: the passes over the rollout that train V_I and the bonus's model.
        critic_lr: V_I's Adam learning rate.
        update_proportion: the chance of each minibatch transition entering the bonus's update.
        seed: seeds the stream's, the bonus's and the minibatch shuffle's random generators.
    """

    def __init__(
        self,
        bonus: Bonus,
        ext_coef: float = 2.0,
        int_coef: float = 1.0,
        gamma_intrinsic: float = 0.99,
        critic_epochs: int = 4,
        critic_lr: float = 1e-3,
        update_proportion: float = 0.25,
        seed: int = 0,
        verbose: int = 0,
    ):
        super().__init__(bonus, coef=int_coef, normalize="return", gamma=gamma_intrinsic,
                         update_proportion=update_proportion, seed=seed, verbose=verbose)
        self.ext_coef = ext_coef
        self.gamma_intrinsic = gamma_intrinsic
        self.critic_epochs = critic_epochs
        self.critic = mlp([bonus.obs_size, 256, 256, 1]).to(bonus.device)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=critic_lr)
        self.generator = torch.Generator(device=bonus.device)
        self.generator.manual_seed(seed + 2)  # the stream seeds its own generator with seed, the bonus's with seed + 1

    def _on_rollout_end(self) -> None:
        transitions, raw, rewards = self._scaled_rollout()
        states = transitions.obs  # (T, N, D): the buffer's observations
        # The stream runs on through resets, so what follows the last step is what PPO sees next.
        last = flatten_observation(_as_tensor(self.locals["new_obs"], self.bonus.device))
        with torch.no_grad():
            values = self.critic(states).squeeze(-1)
            last_value = self.critic(last).squeeze(-1)
        no_ends = torch.zeros_like(rewards, dtype=torch.bool)
        advantages = gae(rewards, values, no_ends, last_value, self.gamma_intrinsic, self.model.gae_lambda)

        buffer = self.model.rollout_buffer
        extrinsic = torch.as_tensor(buffer.advantages, device=self.bonus.device)
        buffer.advantages = (self.ext_coef * extrinsic + advantages).cpu().numpy()
        self.logger.record("intrinsic/critic_loss", self._train(transitions, advantages + values))
        self._log(raw, rewards, self.stream.metrics)

    def _train(self, transitions: Transitions, returns: torch.Tensor) -> float:
        """Train V_I on the intrinsic returns and the bonus's model, minibatch by minibatch; V_I's loss after training."""
        flat = transitions.flat_valid()  # every step of a rollout is a transition: all of them, in flatten(0, 1) order
        states, returns = flat.obs[0], returns.flatten()
        for _ in range(self.critic_epochs):
            for rows in torch.randperm(len(returns), device=states.device, generator=self.generator).split(self.model.batch_size):
                loss = torch.nn.functional.mse_loss(self.critic(states[rows]).squeeze(-1), returns[rows])
                self.critic_optimizer.zero_grad()
                loss.backward()
                self.critic_optimizer.step()
                self.stream.train(flat.select(rows))
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(self.critic(states).squeeze(-1), returns))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "critic": self.critic.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.generator.set_state(state["generator"])


class IntrinsicRewardCallback(StreamCallback):
    """The SB3 side of an ``IntrinsicReward`` wrapper (off-policy algorithms): its logs and learner state.

    The wrapper adds and trains the bonus inside the env. ``SB3VecEnv`` reports each episode's
    extrinsic return as ``episode["r"]`` (SB3's ``rollout/ep_rew_mean``) and its intrinsic part as
    ``episode["r_intrinsic"]``; this callback logs the mean of the latter over SB3's window of
    episodes as ``intrinsic/ep_rew_mean``, with the bonus's last update metrics.
    """

    def __init__(self, wrapper: IntrinsicReward, verbose: int = 0):
        super().__init__(verbose)
        self.stream = wrapper.stream
        self._returns: deque[float] = deque()

    def _on_training_start(self) -> None:
        self._returns = deque(maxlen=self.model.ep_info_buffer.maxlen)

    def _on_step(self) -> bool:
        ended = [info["episode"]["r_intrinsic"] for info in self.locals["infos"] if "episode" in info]
        if ended:
            self._returns.extend(ended)
            self.logger.record("intrinsic/ep_rew_mean", float(np.mean(self._returns)))
            for name, value in self.stream.metrics.items():
                self.logger.record(f"intrinsic/{name}", value)
        return True
