"""Geometry family: Construct (compass-and-straightedge levels) and SphericalCode (kissing configurations)."""

from rewardgym.core import register_env
from rewardgym.envs.geometry.construct import Construct, ConstructVector
from rewardgym.envs.geometry.spherical_code import SphericalCode, SphericalCodeVector

register_env("Construct-v0", Construct, ConstructVector)
register_env("SphericalCode-v0", SphericalCode, SphericalCodeVector)

__all__ = ["Construct", "ConstructVector", "SphericalCode", "SphericalCodeVector"]
