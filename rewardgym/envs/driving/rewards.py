"""The driving reward channels: CaRL's route completion × soft penalty factors, and highway-env's
normalised weighted sum."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rewardgym.core.validation import check_float

Tensor = torch.Tensor

OVERSPEED_TOLERANCE = 2.23  # m/s above the limit at which CaRL's speeding factor reaches 0 (nuPlan)
CENTRE_GRACE = 0.5  # m from the lane centre that cost nothing (CaRL's lane_distance_violation_threshold)
MIN_CENTRE_FACTOR = 0.5  # the lane-centre factor half a lane width off the centre
MAX_WEIGHT = 1000.0  # the largest magnitude of a summed-reward weight


def speeding_factor(speed: Tensor, speed_limit: float) -> Tensor:
    """1 up to the limit, falling linearly to 0 at ``OVERSPEED_TOLERANCE`` above it."""
    return 1.0 - ((speed - speed_limit) / OVERSPEED_TOLERANCE).clamp(0.0, 1.0)


def centre_factor(offset: Tensor, lane_width: float) -> Tensor:
    """1 within ``CENTRE_GRACE`` of the lane centre, falling linearly to ``MIN_CENTRE_FACTOR`` at
    half a lane width (between two lanes)."""
    excess = ((offset.abs() - CENTRE_GRACE) / (lane_width / 2 - CENTRE_GRACE)).clamp(0.0, 1.0)
    return 1.0 - (1.0 - MIN_CENTRE_FACTOR) * excess


def carl_reward(progress_increment: Tensor, factors: list[Tensor], hard_infraction: Tensor) -> Tensor:
    """CaRL: r = ΔRC · Π p_i, and nothing on a step with a hard infraction (which ends the episode)."""
    reward = progress_increment
    for factor in factors:
        reward = reward * factor
    return torch.where(hard_infraction, 0.0, reward)


@dataclass(frozen=True)
class SummedWeights:
    """highway-env's reward weights and speed range, named as the scenes' constructor arguments.

    Raises ``ValueError`` for a weight that is not a number in [−1000, 1000], a speed range that is
    not two speeds (m/s, in [0, 100]) in increasing order, or weights whose mapping range
    [``collision_reward``, ``high_speed_reward + right_lane_reward``] is empty.
    """

    collision_reward: float
    right_lane_reward: float
    high_speed_reward: float
    lane_change_reward: float
    reward_speed_range: tuple[float, float]

    def __post_init__(self) -> None:
        for name in ("collision_reward", "right_lane_reward", "high_speed_reward", "lane_change_reward"):
            object.__setattr__(self, name, check_float(name, getattr(self, name), -MAX_WEIGHT, MAX_WEIGHT))
        speeds = self.reward_speed_range
        if not isinstance(speeds, (tuple, list)) or len(speeds) != 2:
            raise ValueError(f"reward_speed_range must be a pair (low, high) of speeds in m/s, got {speeds!r}")
        low, high = (check_float("reward_speed_range", speed, 0.0, 100.0) for speed in speeds)
        if low >= high:
            raise ValueError(f"reward_speed_range must be increasing, got {speeds!r}")
        object.__setattr__(self, "reward_speed_range", (low, high))
        if self.collision_reward >= self.high_speed_reward + self.right_lane_reward:
            raise ValueError(
                f"collision_reward ({self.collision_reward}) must be below high_speed_reward + right_lane_reward "
                f"({self.high_speed_reward + self.right_lane_reward}): the summed reward maps that range to [0, 1]"
            )


def high_speed_term(forward_speed: Tensor, speed_range: tuple[float, float]) -> Tensor:
    """0 at or below the range's low speed, rising linearly to 1 at its high speed and above."""
    low, high = speed_range
    return ((forward_speed - low) / (high - low)).clamp(0.0, 1.0)


def summed_reward(terms: dict[str, Tensor], weights: SummedWeights) -> Tensor:
    """highway-env: Σ wᵢ·termᵢ mapped from [collision, high_speed + right_lane] to [0, 1], times on_road."""
    raw = (
        weights.collision_reward * terms["collision"]
        + weights.right_lane_reward * terms["right_lane"]
        + weights.high_speed_reward * terms["high_speed"]
        + weights.lane_change_reward * terms["lane_change"]
    )
    low, high = weights.collision_reward, weights.high_speed_reward + weights.right_lane_reward
    return (raw - low) / (high - low) * terms["on_road"]
