"""The intrinsic-bonus callback for PPO: the bonus reaches the advantages, exactly as GAE would."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from rewardgym.agents import SB3VecEnv
from rewardgym.agents.intrinsic_callback import IntrinsicBonusCallback
from rewardgym.wrappers.intrinsic.base import Bonus


class AgentRowBonus(Bonus):
    """A deterministic test bonus: the agent's row in the top-down observation, plus one."""

    episodic = False

    def __init__(self, env):
        super().__init__(env)
        self.seen: list = []

    def compute(self, transitions):
        self.seen.append(transitions)
        grid = int(round((self.obs_size / 3) ** 0.5))
        agent = transitions.next_obs.reshape(*transitions.next_obs.shape[:2], 3, grid * grid)[:, :, 1]
        return (agent.argmax(-1) // grid).float() + 1.0


class BufferSnapshot(BaseCallback):
    """Copies the rollout buffer when the rollout ends (training later reshapes it)."""

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        self.rewards, self.advantages = buffer.rewards.copy(), buffer.advantages.copy()
        self.values, self.returns, self.episode_starts = buffer.values.copy(), buffer.returns.copy(), buffer.episode_starts.copy()


def gae(rewards, values, episode_starts, last_values, last_dones, gamma, lam):
    """Generalised advantage estimation, written out independently of SB3."""
    advantages = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        if t == len(rewards) - 1:
            not_done, next_values = 1.0 - last_dones, last_values
        else:
            not_done, next_values = 1.0 - episode_starts[t + 1], values[t + 1]
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        running = delta + gamma * lam * not_done * running
        advantages[t] = running
    return advantages


def test_callback_changes_advantages_exactly_as_gae_on_rewards_plus_bonus():
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4, size=3, autoreset_mode="SameStep", max_episode_steps=9)
    env = SB3VecEnv(envs)
    bonus = AgentRowBonus(envs)
    before, after = BufferSnapshot(), BufferSnapshot()
    intrinsic = IntrinsicBonusCallback(bonus, coef=0.5, normalize="none")
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=32, n_epochs=1, gamma=0.9, gae_lambda=0.8, seed=0)
    model.learn(64, callback=CallbackList([before, intrinsic, after]))

    expected_bonus = torch.stack([b for b in intrinsic._bonuses]).numpy()
    np.testing.assert_allclose(after.rewards, before.rewards + 0.5 * expected_bonus, rtol=1e-6)
    last_values = intrinsic.locals["values"].cpu().numpy().flatten()
    expected = gae(after.rewards, after.values, after.episode_starts, last_values,
                   np.asarray(intrinsic.locals["dones"], dtype=np.float32), 0.9, 0.8)
    np.testing.assert_allclose(after.advantages, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(after.advantages, before.advantages)
    np.testing.assert_allclose(after.returns, after.advantages + after.values, rtol=1e-6)


def test_callback_hands_the_bonus_true_last_observations():
    """Every transition the bonus sees moves the agent at most one square (never to a reset position)."""
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4, size=3, autoreset_mode="SameStep", max_episode_steps=5)
    bonus = AgentRowBonus(envs)
    model = PPO("MlpPolicy", SB3VecEnv(envs), n_steps=20, batch_size=40, n_epochs=1, seed=0)
    model.learn(80, callback=IntrinsicBonusCallback(bonus))
    grid = 7
    for step in bonus.seen:
        before = step.obs.reshape(4, 3, grid * grid)[:, 1].argmax(-1)
        after = step.next_obs.reshape(4, 3, grid * grid)[:, 1].argmax(-1)
        moved = (before // grid - after // grid).abs() + (before % grid - after % grid).abs()
        assert (moved <= 1).all()
    assert any(bool(step.truncated.any()) for step in bonus.seen)


def test_two_head_callback_combines_extrinsic_and_nonepisodic_intrinsic_advantages():
    from rewardgym.agents.intrinsic_callback import TwoHeadIntrinsicCallback

    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4, size=3, autoreset_mode="SameStep", max_episode_steps=9)
    bonus = AgentRowBonus(envs)
    before, after = BufferSnapshot(), BufferSnapshot()
    two_head = TwoHeadIntrinsicCallback(bonus, ext_coef=2.0, int_coef=0.5, gamma_intrinsic=0.95, critic_epochs=0)
    model = PPO("MlpPolicy", SB3VecEnv(envs), n_steps=16, batch_size=32, n_epochs=1, gamma=0.9, gae_lambda=0.8, seed=0)
    model.learn(64, callback=CallbackList([before, two_head, after]))

    raw = torch.stack(two_head._bonuses)
    rewards = 0.5 * raw / torch.sqrt(two_head.stream.scale_statistics.var + 1e-8)
    states = torch.cat([step.obs for step in two_head._steps])
    with torch.no_grad():
        values = two_head.critic(states).squeeze(-1).numpy()
        last = two_head.critic(torch.as_tensor(two_head.locals["new_obs"]).reshape(4, -1).float()).squeeze(-1).numpy()
    intrinsic = gae(rewards.numpy(), values, np.zeros_like(values), last, np.zeros(4, dtype=np.float32), 0.95, 0.8)
    np.testing.assert_allclose(after.advantages, 2.0 * before.advantages + intrinsic, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(after.returns, before.returns)  # PPO's own value head keeps the extrinsic target
    np.testing.assert_array_equal(after.rewards, before.rewards)


def test_two_head_critic_learns_the_intrinsic_return():
    from rewardgym.agents.intrinsic_callback import TwoHeadIntrinsicCallback

    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4, size=3, autoreset_mode="SameStep")
    two_head = TwoHeadIntrinsicCallback(AgentRowBonus(envs), critic_epochs=8)
    losses = []

    class Loss(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            losses.append(self.logger.name_to_value.get("intrinsic/critic_loss"))

    PPO("MlpPolicy", SB3VecEnv(envs), n_steps=32, batch_size=64, n_epochs=1, seed=0).learn(
        32 * 4 * 12, callback=CallbackList([two_head, Loss()]))
    assert losses[-1] < losses[1]


class UpdateRecorder(AgentRowBonus):
    """``AgentRowBonus`` that records how many transitions each of its updates is given."""

    def __init__(self, env):
        super().__init__(env)
        self.update_sizes: list[int] = []

    def update(self, transitions):
        assert bool(transitions.valid.all())
        self.update_sizes.append(transitions.valid.shape[1])
        return {}


def test_two_head_callback_trains_the_bonus_on_each_minibatch_with_the_update_proportion():
    from rewardgym.agents.intrinsic_callback import TwoHeadIntrinsicCallback

    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4, size=3, autoreset_mode="SameStep")
    bonus = UpdateRecorder(envs)
    two_head = TwoHeadIntrinsicCallback(bonus, critic_epochs=2, update_proportion=0.25)
    rollouts, rows, batch = 3, 64 * 4, 64
    PPO("MlpPolicy", SB3VecEnv(envs), n_steps=64, batch_size=batch, n_epochs=1, seed=0).learn(
        rollouts * rows, callback=two_head)

    assert len(bonus.update_sizes) == rollouts * 2 * (rows // batch)  # one update per minibatch of each epoch
    assert max(bonus.update_sizes) < batch
    expected = 0.25 * rollouts * 2 * rows  # 384; the binomial's std is 17
    assert abs(sum(bonus.update_sizes) - expected) < 5 * 17
