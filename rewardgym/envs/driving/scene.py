"""The parts a driving scene is made of: a road, a traffic model and the ego's route.

``DrivingVectorEnv`` simulates any scene from these three parts; Highway (and Merge, a highway with
an on-ramp) and Intersection are compositions of them:

| part | Highway, Merge | Intersection |
|---|---|---|
| ``Road``: geometry and picture | ``road.LaneRoad`` (lanes, optional on-ramp) | ``road.IntersectionRoutes`` (arms, crossing square, 12 routes) |
| ``Traffic``: spawning and behaviour | ``highway.LaneTraffic`` (IDM + MOBIL) | ``intersection.CrossingTraffic`` (IDM along routes, priority, challenger) |
| ``Route``: the ego's task | ``highway.LaneRoute`` (``route_length`` along the lanes) | ``intersection.CrossingRoute`` (through the square and out) |

Every method works on every row of the batch at once, with static shapes (``spawn`` aside, which
runs on resets only), so the per-step core compiles to one graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from rewardgym.core.random import BatchRandom
from rewardgym.envs.driving.vehicles import Vehicles

Tensor = torch.Tensor
#: What the traffic decides once per policy step for the substeps that follow (e.g. each
#: vehicle's leader), by name: worked out from the state, never kept in it.
Plan = dict[str, Tensor]
#: World coordinates (m) to screen coordinates (pixels) of the picture being drawn.
ToScreen = Callable[[float, float], tuple[float, float]]


class Road(Protocol):
    """Where the paved surface is, and its picture."""

    def on_road(self, x: Tensor, y: Tensor) -> Tensor:
        """Whether the points ``(x, y)`` lie on the road."""
        ...

    def camera(self, x: float, y: float) -> tuple[float, float]:
        """The world point at the centre of the picture of an ego at ``(x, y)``."""
        ...

    def draw(self, surface: Any, to_screen: ToScreen, x_range: tuple[float, float]) -> None:
        """Draw the road on a pygame surface, at least over ``x_range`` (m) of the picture."""
        ...


class Traffic(Protocol):
    """Where every vehicle starts (the ego's place among the traffic included) and how traffic drives."""

    def spawn(self, vehicles: Vehicles, random: BatchRandom, rows: Tensor) -> None:
        """Place the ego and the traffic of the rows of the bool mask ``rows`` (in place)."""
        ...

    def plan(self, vehicles: Vehicles, elapsed: Tensor) -> Plan:
        """Decisions taken once per policy step (``elapsed``: each row's step count): those that
        change the state (e.g. MOBIL's lane changes) are made on ``vehicles``, the others (e.g.
        leaders) are returned for ``controls``."""
        ...

    def controls(self, vehicles: Vehicles, plan: Plan) -> tuple[Tensor, Tensor]:
        """Acceleration and steering of every vehicle, ``(num_envs, capacity)`` each, as new tensors;
        the ego's column steers along its own lane or route (the env sets its acceleration)."""
        ...


class Route(Protocol):
    """The ego's route: how far along it the ego is, how well it keeps to it, and its picture."""

    def progress(self, vehicles: Vehicles) -> Tensor:
        """The ego's completed fraction of its route, in [0, 1]."""
        ...

    def completed(self, vehicles: Vehicles, progress: Tensor) -> Tensor:
        """Whether the ego has completed its route (``progress`` 1, and where the route ends)."""
        ...

    def centre_offset(self, vehicles: Vehicles) -> Tensor:
        """The ego's distance from the centre of the nearest lane of its route."""
        ...

    def right_lane(self, vehicles: Vehicles) -> Tensor:
        """highway-env's right-lane term: the ego's lane index / (lanes − 1); 0 without lanes."""
        ...

    def change_lane(self, vehicles: Vehicles, direction: Tensor) -> Tensor:
        """Retarget the ego one lane left (−1) or right (+1) where possible (in place); which rows changed."""
        ...

    def draw(self, surface: Any, to_screen: ToScreen, vehicles: Vehicles, row: int) -> None:
        """Draw the route of row ``row`` over the road (e.g. its finish line)."""
        ...
