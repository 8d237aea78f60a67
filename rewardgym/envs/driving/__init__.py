"""Driving family: Highway, Merge and Intersection — batched IDM/MOBIL traffic around a
kinematic-bicycle ego, with sparse, shaped, CaRL and highway-env-summed rewards."""

from rewardgym.core import register_env
from rewardgym.envs.driving.highway import Highway, HighwayVector
from rewardgym.envs.driving.intersection import Intersection, IntersectionVector
from rewardgym.envs.driving.merge import Merge, MergeVector

register_env("Highway-v1", Highway, HighwayVector)
register_env("Merge-v1", Merge, MergeVector)
register_env("Intersection-v1", Intersection, IntersectionVector)

__all__ = ["Highway", "HighwayVector", "Intersection", "IntersectionVector", "Merge", "MergeVector"]
