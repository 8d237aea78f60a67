"""Intrinsic bonuses for SB3's on-policy algorithms, added where GAE can see them.

SB3 computes returns and advantages at the end of ``collect_rollouts`` and only then calls
``on_rollout_end``; adding a bonus to the rewards after that (as RLeXplore's examples do) never
reaches the advantages. This callback records each step's transition, computes its bonus as the
rollout is collected (so episodic bonuses see steps in order), and at the rollout's end adds
``coef ·`` the normalised bonus to the buffer's rewards, recomputes returns and advantages with
the same last values, then trains the bonus model on the rollout.

The intrinsic reward here shares PPO's one value head and γ, so it is an episodic stream:
suitable for episodic bonuses (E3B, NGU, episodic counts); for a global bonus whose stream should
not stop at episode ends, use a two-value-head agent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from rewardgym.wrappers.intrinsic.base import Bonus, RunningMeanStd, Transitions, flatten_observation, mlp


def _as_tensor(observation: Any, device: torch.device) -> Any:
    if isinstance(observation, dict):
        return {key: _as_tensor(value, device) for key, value in observation.items()}
    return torch.as_tensor(np.asarray(observation), device=device)


class IntrinsicBonusCallback(BaseCallback):
    """Add ``coef ·`` a bonus, divided by the running std of the bonus, to PPO's rollouts.

    Logs ``intrinsic/bonus_mean``, ``intrinsic/reward_mean``, ``intrinsic/ep_bonus_mean`` (the
    raw bonus summed over each episode that ended in the rollout) and the bonus's update
    metrics; SB3 logs the extrinsic return (``rollout/ep_rew_mean``) and the success rate.
    """

    def __init__(self, bonus: Bonus, coef: float = 1.0, normalize: bool = True, verbose: int = 0):
        super().__init__(verbose)
        self.bonus = bonus
        self.coef = coef
        self.normalize = normalize
        self._scale = RunningMeanStd().to(bonus.device)
        self._steps: list[Transitions] = []
        self._bonuses: list[torch.Tensor] = []
        self._episode_bonus = torch.zeros(bonus.num_envs, device=bonus.device)
        self._ended_episodes: list[float] = []

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
        self.bonus.watch(step)
        with torch.no_grad():
            self._bonuses.append(self.bonus.compute(step)[0])
        self._steps.append(step)
        self._episode_bonus += self._bonuses[-1]
        ended = torch.as_tensor(dones, device=device)
        self._ended_episodes += self._episode_bonus[ended].tolist()
        self._episode_bonus = torch.where(ended, 0.0, self._episode_bonus)
        return True

    def _log(self, bonus: torch.Tensor, intrinsic: torch.Tensor, metrics: dict[str, float]) -> None:
        self.logger.record("intrinsic/bonus_mean", float(bonus.mean()))
        self.logger.record("intrinsic/reward_mean", float(intrinsic.mean()))
        if self._ended_episodes:
            self.logger.record("intrinsic/ep_bonus_mean", float(np.mean(self._ended_episodes)))
        for name, value in metrics.items():
            self.logger.record(f"intrinsic/{name}", value)

    def _on_rollout_end(self) -> None:
        raw = torch.stack(self._bonuses)  # (n_steps, n_envs), aligned with the buffer's rows
        bonus = raw
        if self.normalize:
            self._scale.update(bonus.reshape(-1))
            bonus = bonus / torch.sqrt(self._scale.var + 1e-8)
        intrinsic = (self.coef * bonus).cpu().numpy()
        buffer = self.model.rollout_buffer
        buffer.rewards += intrinsic
        buffer.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])

        self._log(raw, torch.as_tensor(intrinsic), self.bonus.update(Transitions.cat(self._steps)))

def _replace_rows(batch: Any, rows: dict[int, Any]) -> Any:
    """A copy of a batched observation (array or dict of arrays) with some rows replaced."""
    if isinstance(batch, dict):
        return {key: _replace_rows(value, {i: row[key] for i, row in rows.items()}) for key, value in batch.items()}
    batch = np.array(batch, copy=True)
    for i, row in rows.items():
        batch[i] = row
    return batch


class TwoHeadIntrinsicCallback(IntrinsicBonusCallback):
    """A non-episodic intrinsic stream with a value head of its own, for global bonuses (RND-style).

    PPO's own value head keeps learning the extrinsic return; this callback adds a second value
    head, a separate critic V_I on the observation, for the intrinsic return with its own
    discount ``gamma_intrinsic``. The intrinsic stream does not stop at episode ends (RND's
    ``int_nextnonterminal = 1``): novelty found after a reset still counts. At each rollout's end:

        A_I = GAE(r_I, V_I; γ_I, λ) with no episode boundaries
        A   = ext_coef · A_E + int_coef · A_I      (what PPO's policy loss uses)

    while PPO's returns (its value target) stay extrinsic; V_I is regressed on A_I + V_I.
    """

    def __init__(
        self,
        bonus: Bonus,
        ext_coef: float = 2.0,
        int_coef: float = 1.0,
        gamma_intrinsic: float = 0.99,
        critic_epochs: int = 4,
        critic_lr: float = 1e-3,
        verbose: int = 0,
    ):
        super().__init__(bonus, coef=int_coef, normalize=True, verbose=verbose)
        self.ext_coef = ext_coef
        self.gamma_intrinsic = gamma_intrinsic
        self.critic_epochs = critic_epochs
        self.critic = mlp([bonus.obs_size, 256, 256, 1]).to(bonus.device)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=critic_lr)
        self._discounted = torch.zeros(bonus.num_envs, device=bonus.device)

    def _on_rollout_end(self) -> None:
        device = self.bonus.device
        bonus = torch.stack(self._bonuses)  # (T, N)
        for step in range(bonus.shape[0]):  # RND's scale: the std of the running discounted intrinsic return
            self._discounted = self._discounted * self.gamma_intrinsic + bonus[step]
            self._scale.update(self._discounted)
        rewards = self.coef * bonus / torch.sqrt(self._scale.var + 1e-8)

        states = torch.cat([step.obs for step in self._steps])  # (T, N, D): the buffer's observations
        # The stream runs on through resets, so what follows the last step is what PPO sees next.
        last = flatten_observation(_as_tensor(self.locals["new_obs"], device))
        with torch.no_grad():
            values = self.critic(states).squeeze(-1)
            last_value = self.critic(last).squeeze(-1)
        advantages = nonepisodic_gae(rewards, values, last_value, self.gamma_intrinsic, self.model.gae_lambda)

        buffer = self.model.rollout_buffer
        extrinsic = torch.as_tensor(buffer.advantages, device=device)
        buffer.advantages = (self.ext_coef * extrinsic + advantages).cpu().numpy()
        self.logger.record("intrinsic/critic_loss", self._train_critic(states, advantages + values))
        self._log(bonus, rewards, self.bonus.update(Transitions.cat(self._steps)))

    def _train_critic(self, states: torch.Tensor, returns: torch.Tensor) -> float:
        """Regress V_I on the intrinsic returns; the loss after training."""
        states, returns = states.flatten(0, 1), returns.flatten()
        batch = self.model.batch_size
        for _ in range(self.critic_epochs):
            for index in torch.randperm(len(returns), device=states.device).split(batch):
                loss = torch.nn.functional.mse_loss(self.critic(states[index]).squeeze(-1), returns[index])
                self.critic_optimizer.zero_grad()
                loss.backward()
                self.critic_optimizer.step()
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(self.critic(states).squeeze(-1), returns))


def nonepisodic_gae(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """GAE over ``(T, N)`` rewards and values with no episode boundaries (every step continues)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = values[t]
    return advantages
