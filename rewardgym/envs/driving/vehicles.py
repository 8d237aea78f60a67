"""Vehicles as fixed-capacity tensors, the kinematic bicycle model and highway-env's low-level
controllers (speed and lane/path following), batched over ``(num_envs, capacity)``.

Row ``v = 0`` of every scene is the ego vehicle; the others are traffic, present where ``alive``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

Tensor = torch.Tensor

LENGTH = 5.0  # m
WIDTH = 2.0  # m
MAX_SPEED = 40.0  # m/s
MAX_STEERING = math.pi / 3  # the controllers' steering limit
MAX_SLIP = math.atan(0.5 * math.tan(MAX_STEERING))  # the slip angle of the steering limit
SPEED_GAIN = 1 / 0.6  # 1 / TAU_ACC
HEADING_GAIN = 1 / 0.2  # 1 / TAU_HEADING
LATERAL_GAIN = 1 / 0.6  # 1 / TAU_LATERAL
PURSUIT_TIME = 0.1  # TAU_PURSUIT: the path heading is read this far ahead


@dataclass
class Vehicles:
    """The state of every vehicle of every scene: each field has shape ``(num_envs, capacity)``."""

    x: Tensor
    y: Tensor
    heading: Tensor
    speed: Tensor
    alive: Tensor  # bool
    desired_speed: Tensor  # IDM's v0 (traffic) or the target speed (ego)
    exponent: Tensor  # IDM's δ, randomised per vehicle
    lane: Tensor  # int: the lane or route a vehicle follows

    @classmethod
    def empty(cls, num_envs: int, capacity: int, device: torch.device) -> Vehicles:
        def zeros(dtype: torch.dtype = torch.float32) -> Tensor:
            return torch.zeros(num_envs, capacity, dtype=dtype, device=device)

        return cls(zeros(), zeros(), zeros(), zeros(), zeros(torch.bool), zeros(), zeros() + 4.0, zeros(torch.int64))

    def tensors(self) -> dict[str, Tensor]:
        """Every field, by name."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def replace_rows(self, rows: Tensor, new: Vehicles) -> None:
        """Take ``new``'s values in the masked rows (a partial reset)."""
        column = rows.unsqueeze(1)
        for field in fields(self):
            setattr(self, field.name, torch.where(column, getattr(new, field.name), getattr(self, field.name)))

    def load_rows(self, rows: Tensor, tensors: dict[str, Tensor]) -> None:
        """Take the fields ``tensors`` gives (as ``tensors()`` names them) as rows ``rows``."""
        self.replace_index(rows, Vehicles(**tensors))

    def replace_index(self, index: Tensor, new: Vehicles) -> None:
        """Take ``new``'s rows as rows ``index`` (a partial reset; ``new`` has one row per index)."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name).index_put((index,), getattr(new, field.name)))


def bicycle_step(
    x: Tensor, y: Tensor, heading: Tensor, speed: Tensor, acceleration: Tensor, steering: Tensor, dt: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One Euler step of highway-env's kinematic bicycle model (centre of gravity mid-axle).

    β = arctan(½ tan δ); ẋ = v cos(ψ + β); ẏ = v sin(ψ + β); ψ̇ = v sin β / (L/2); v̇ = a.
    Speeds stay in [0, MAX_SPEED] (no reversing).
    """
    slip = torch.atan(0.5 * torch.tan(steering))
    direction = heading + slip
    travel = speed * dt
    x = torch.addcmul(x, travel, torch.cos(direction))  # x + travel · cos(direction), in one op
    y = torch.addcmul(y, travel, torch.sin(direction))
    heading = torch.addcmul(heading, travel, torch.sin(slip), value=1 / (LENGTH / 2))
    speed = torch.add(speed, acceleration, alpha=dt).clamp(0.0, MAX_SPEED)
    return x, y, heading, speed


def steady_turn_radius(steering: float) -> float:
    """The radius the bicycle model's centre of gravity turns on at constant steering: (L/2) / sin β."""
    return (LENGTH / 2) / math.sin(math.atan(0.5 * math.tan(steering)))


def speed_control(speed: Tensor, target_speed: Tensor) -> Tensor:
    """Proportional speed controller: a = (v* − v) / τ_acc."""
    return SPEED_GAIN * (target_speed - speed)


def wrap_angle(angle: Tensor) -> Tensor:
    """The same angle in [−π, π] (rounding rather than ``remainder``, which is slow on CPU)."""
    return angle - 2 * math.pi * torch.round(angle / (2 * math.pi))


def path_steering(speed: Tensor, heading: Tensor, lateral_offset: Tensor, path_heading: Tensor | float) -> Tensor:
    """highway-env's cascaded lateral controller toward a path.

    ``lateral_offset`` is the signed distance to the right of the path, ``path_heading`` its heading a
    pursuit time ahead. Lateral position → lateral speed → heading reference → heading rate →
    slip angle → steering angle.
    """
    moving = speed.clamp(min=1e-2)
    lateral_speed = -LATERAL_GAIN * lateral_offset
    heading_reference = path_heading + torch.asin((lateral_speed / moving).clamp(-1, 1)).clamp(-math.pi / 4, math.pi / 4)
    heading_rate = HEADING_GAIN * wrap_angle(heading_reference - heading)
    # The slip is limited before its tangent is taken: in float32, asin(1) is just above π/2,
    # where tan is hugely negative, and a saturated command would steer full lock the wrong way.
    slip = torch.asin((LENGTH / 2 / moving * heading_rate).clamp(-1, 1)).clamp(-MAX_SLIP, MAX_SLIP)
    return torch.atan(2 * torch.tan(slip))
