"""Reward wrappers: potential shaping, reward transforms and intrinsic bonuses."""
