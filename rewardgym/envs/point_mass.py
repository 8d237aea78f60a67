"""The point mass that PointMaze and HiddenGoal move: a double integrator pushed by a bounded force."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core.validation import check_float


@dataclass(frozen=True)
class PointMass:
    """Velocity changes by ``force · acceleration · dt`` per step (force in [-1, 1] per axis) and is
    clipped to ``max_speed`` per axis; the position then moves by ``velocity · dt``."""

    dt: float = 0.1
    acceleration: float = 10.0
    max_speed: float = 2.5

    def __post_init__(self) -> None:
        for name, low, high in (("dt", 1e-3, 1.0), ("acceleration", 0.0, 1e3), ("max_speed", 0.0, 1e3)):
            object.__setattr__(self, name, check_float(name, getattr(self, name), low, high))

    @property
    def action_space(self) -> spaces.Box:
        """The force along x and y."""
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def accelerate(self, velocity: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
        """The velocity after one step of ``force`` (both of shape ``(rows, 2)``)."""
        return (velocity + force * (self.acceleration * self.dt)).clamp(-self.max_speed, self.max_speed)
