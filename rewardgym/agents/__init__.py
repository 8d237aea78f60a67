"""Baseline agents through Stable-Baselines3."""

from rewardgym.agents.sb3_vec_env import SB3VecEnv

__all__ = ["SB3VecEnv"]
