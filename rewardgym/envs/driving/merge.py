"""Merge: join a highway from an on-ramp that ends, through IDM/MOBIL traffic."""

from __future__ import annotations

from typing import Any

import torch

from rewardgym.core import single_env_class
from rewardgym.core.validation import check_float
from rewardgym.envs.driving.highway import HighwayVector
from rewardgym.envs.driving.road import LaneRoad

Tensor = torch.Tensor


class MergeVector(HighwayVector):
    """Merge from an on-ramp into highway traffic and drive ``route_length`` metres.

    The road has ``lanes_count`` main lanes and, to their right, an on-ramp lane that ends at
    ``x = ramp_length``; the ego starts on the ramp at x = 0, and still being on it past its end
    is leaving the road. Traffic (IDM/MOBIL, 15–18 m/s) keeps to the main lanes, some of it
    starting beside or behind the ego, so the ego must find a gap: merging at once, or keeping
    any speed on the ramp, fails. Everything else — spaces, target speeds, the default route
    (1.1 × what the slowest target speed covers in ``duration``: 330 m), rewards, info, episode
    end — is as in ``HighwayVector``; the right-lane term counts the rightmost main lane as 1.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.02 success; every constant action: 0.00; the IDM/MOBIL ego of
    ``rewardgym.policies.driving`` (merging as soon as the gap is safe): 1.00, in 4/5 of the
    time limit on average.

    ## Arguments
    ``ramp_length`` (200 m), ``lanes_count`` (2), ``vehicles_count`` (12), ``route_length``
    (None: as Highway's), ``duration`` (30 s), and the other arguments of ``HighwayVector``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        *,
        ramp_length: float = 200.0,
        lanes_count: int = 2,
        vehicles_count: int = 12,
        route_length: float | None = None,
        duration: float = 30.0,
        **kwargs: Any,
    ):
        self.ramp_length = check_float("ramp_length", ramp_length, 10.0, 10_000.0)
        super().__init__(
            num_envs, lanes_count=lanes_count, vehicles_count=vehicles_count, route_length=route_length,
            duration=duration, **kwargs,
        )

    def _make_road(self, lanes_count: int) -> LaneRoad:
        return LaneRoad(lanes_count, ramp_end=self.ramp_length)

    def _ego_lane(self, drawn: Tensor) -> Tensor:
        return torch.full_like(drawn, self.road.lanes_count, dtype=torch.int64)

    def _may_enter(self, lane: Tensor, x: Tensor) -> Tensor:
        return (lane >= 0) & (lane < self.road.lanes_count)

    def _success(self) -> Tensor:
        on_main_road = self.road.nearest_lane(self.vehicles.y[:, 0]) < self.road.lanes_count
        return super()._success() & on_main_road


Merge = single_env_class(MergeVector, "Merge")
