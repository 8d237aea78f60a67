"""The driving reward channels: CaRL's route completion × soft penalty factors, and highway-env's
normalised weighted sum."""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor

OVERSPEED_TOLERANCE = 2.23  # m/s above the limit at which CaRL's speeding factor reaches 0 (nuPlan)
CENTRE_GRACE = 0.5  # m from the lane centre that cost nothing (CaRL's lane_distance_violation_threshold)
MIN_CENTRE_FACTOR = 0.5  # the lane-centre factor half a lane width off the centre


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
    """highway-env's reward weights and speed range for one scene."""

    collision: float = -1.0
    right_lane: float = 0.1
    high_speed: float = 0.4
    lane_change: float = 0.0
    speed_range: tuple[float, float] = (20.0, 30.0)


def high_speed_term(forward_speed: Tensor, speed_range: tuple[float, float]) -> Tensor:
    low, high = speed_range
    return ((forward_speed - low) / (high - low)).clamp(0.0, 1.0)


def summed_reward(terms: dict[str, Tensor], weights: SummedWeights) -> Tensor:
    """highway-env: Σ wᵢ·termᵢ mapped from [collision, high_speed + right_lane] to [0, 1], times on_road."""
    raw = (
        weights.collision * terms["collision"]
        + weights.right_lane * terms["right_lane"]
        + weights.high_speed * terms["high_speed"]
        + weights.lane_change * terms["lane_change"]
    )
    low, high = weights.collision, weights.high_speed + weights.right_lane
    return (raw - low) / (high - low) * terms["on_road"]
