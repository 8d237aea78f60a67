"""Merge: join a highway from an on-ramp that ends, through IDM/MOBIL traffic."""

from __future__ import annotations

from typing import Any

from rewardgym.core import single_env_class
from rewardgym.envs.driving.highway import HighwayVector


class MergeVector(HighwayVector):
    """Merge from an on-ramp into highway traffic and drive ``route_length`` metres: a
    ``HighwayVector`` with an on-ramp (``ramp_length``), fewer lanes and vehicles, and a shorter
    time limit.

    ## Description
    The road has ``lanes_count`` main lanes and, to their right, an on-ramp lane that ends at
    ``x = ramp_length``; still being on it past its end is leaving the road. Traffic (IDM/MOBIL,
    15–18 m/s) keeps to the main lanes, some of it starting beside or behind the ego, so the ego
    must find a gap: merging at once, or keeping any speed on the ramp, fails. The default route
    is 1.1 × what the slowest target speed covers in ``duration``: 330 m.

    ## Action space, observation space
    As ``HighwayVector``'s (the observation's y is divided by 4 m × (lanes + 1)).

    ## Rewards
    As ``HighwayVector``'s, with the same arguments and defaults; the ramp counts as the rightmost
    main lane in the right-lane term.

    ## Starting state
    The ego starts on the ramp at x = 0 at 20 m/s; traffic as in ``HighwayVector``, on the main lanes.

    ## Episode end
    Terminates on success (the route completed on a main lane: never on the ramp), collision or
    leaving the road; truncates after ``duration`` seconds. Info as ``HighwayVector``'s.

    ## Reference policies (default arguments, one episode in each of 128 seeds)
    Uniform random: 0.02 success; every constant action: 0.00; the IDM/MOBIL ego of
    ``rewardgym.policies.driving`` (merging as soon as the gap is safe): 1.00, in 4/5 of the
    time limit on average.

    ## Arguments
    ``ramp_length`` (200 m), ``lanes_count`` (2), ``vehicles_count`` (12), ``route_length``
    (None: as Highway's), ``duration`` (30 s), and the other arguments of ``HighwayVector``,
    with its defaults.
    """

    def __init__(
        self,
        num_envs: int = 1,
        *,
        ramp_length: float | None = 200.0,
        lanes_count: int = 2,
        vehicles_count: int = 12,
        route_length: float | None = None,
        duration: float = 30.0,
        **kwargs: Any,
    ):
        super().__init__(
            num_envs, ramp_length=ramp_length, lanes_count=lanes_count, vehicles_count=vehicles_count,
            route_length=route_length, duration=duration, **kwargs,
        )


Merge = single_env_class(MergeVector, "Merge")
