"""Imports every family's oracle module, so that each registers its oracles."""

from rewardgym.policies import driving, exploration, geometry, manipulation, maze  # noqa: F401
