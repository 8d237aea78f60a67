"""Road geometry as tensors, and its picture: straight multi-lane roads (with an optional on-ramp)
and a four-way intersection whose routes are polylines (the ``Road`` part of a scene).

Coordinates follow highway-env and the screen: x to the right, y downward, headings measured
from +x toward +y. Traffic drives on the right.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rewardgym.core.rendering import pygame_module
from rewardgym.envs.driving.scene import ToScreen

Tensor = torch.Tensor

LANE_WIDTH = 4.0  # m
ROAD_COLOUR = (100, 100, 100)
MARKING_COLOUR = (240, 240, 240)
LOOK_AHEAD = 20.0  # m: the picture of a lane road centres this far ahead of the ego
DASH, DASH_PERIOD = 4.0, 9.0  # m: lane markings


class LaneRoad:
    """Straight lanes along +x: lane ``i`` is centred on ``y = i · lane_width``, lane 0 the leftmost.

    With ``ramp_end`` set, one more lane (index ``lanes_count``, the rightmost) is an on-ramp that
    ends at ``x = ramp_end``: driving on it beyond that point is off the road.
    """

    def __init__(self, lanes_count: int, ramp_end: float | None = None, lane_width: float = LANE_WIDTH):
        self.lanes_count = lanes_count
        self.ramp_end = ramp_end
        self.lane_width = lane_width
        self.total_lanes = lanes_count + (ramp_end is not None)

    def centre(self, lane: Tensor) -> Tensor:
        return lane.to(torch.float32) * self.lane_width

    def nearest_lane(self, y: Tensor) -> Tensor:
        """The lane whose centre is nearest (clamped to the road's lanes)."""
        return torch.round(y / self.lane_width).long().clamp(0, self.total_lanes - 1)

    def main_lane(self, lane: Tensor) -> Tensor:
        """Whether ``lane`` is one of the main lanes (not the ramp, not off the road)."""
        return (lane >= 0) & (lane < self.lanes_count)

    def lane_exists(self, lane: Tensor, x: Tensor) -> Tensor:
        """Whether ``lane`` is a lane of the road at longitudinal position ``x``."""
        exists = (lane >= 0) & (lane < self.total_lanes)
        if self.ramp_end is not None:
            exists = exists & ((lane < self.lanes_count) | (x <= self.ramp_end))
        return exists

    def on_road(self, x: Tensor, y: Tensor) -> Tensor:
        """Whether a vehicle's centre lies on the paved lanes."""
        lane = torch.round(y / self.lane_width).long()
        inside = (y >= -self.lane_width / 2) & (y <= (self.total_lanes - 0.5) * self.lane_width)
        return inside & self.lane_exists(lane.clamp(0, self.total_lanes - 1), x)

    def camera(self, x: float, y: float) -> tuple[float, float]:
        """A little ahead of the ego, across the middle of the road."""
        return x + LOOK_AHEAD, (self.total_lanes - 1) * self.lane_width / 2

    def draw(self, surface: Any, to_screen: ToScreen, x_range: tuple[float, float]) -> None:
        """The lanes (the ramp up to its end) and dashed lane markings."""
        pygame = pygame_module()
        width, (left_edge, right_edge) = self.lane_width, x_range
        for lane in range(self.total_lanes):
            end = right_edge if lane < self.lanes_count else min(right_edge, self.ramp_end)
            if end <= left_edge:
                continue
            top_left = to_screen(left_edge, (lane - 0.5) * width)
            bottom_right = to_screen(end, (lane + 0.5) * width)
            size = (bottom_right[0] - top_left[0], bottom_right[1] - top_left[1])
            pygame.draw.rect(surface, ROAD_COLOUR, pygame.Rect(top_left, size))
        for boundary in range(1, self.total_lanes):
            y = (boundary - 0.5) * width
            dash = left_edge - left_edge % DASH_PERIOD
            while dash < right_edge:
                pygame.draw.line(surface, MARKING_COLOUR, to_screen(dash, y), to_screen(dash + DASH, y), 2)
                dash += DASH_PERIOD


PRIORITY_ARMS = (1, 3)  # the horizontal road (from the right and from the left) has priority


class IntersectionRoutes:
    """A four-way intersection of two two-lane roads, and its 12 routes as resampled polylines.

    The paved crossing square is ``|x|, |y| ≤ lane_width / 2 + right_turn_radius``; each arm
    reaches ``arm_length`` from the centre. Route ``3a + m`` comes in on arm ``a`` (0: from below, then counter-clockwise on
    screen: from the right, from above, from the left) and turns right (m = 0), goes straight
    (1) or turns left (2). A route starts ``arm_length`` out and is sampled every ``spacing``
    metres; it runs on past its exit so that projections near the end stay on it. The horizontal
    road (arms 1 and 3) has priority.
    """

    def __init__(
        self, arm_length: float, device: torch.device, lane_width: float = LANE_WIDTH, spacing: float = 1.0,
        right_turn_radius: float = 7.0,
    ):
        self.arm_length = arm_length
        self.lane_width = lane_width
        self.spacing = spacing
        self.half_size = lane_width / 2 + right_turn_radius  # of the paved crossing square
        self.entry = arm_length - self.half_size  # distance along a route to the crossing square
        self.radii = (right_turn_radius, None, right_turn_radius + lane_width)
        turn_lengths = [math.pi / 2 * self.radii[0], 2 * self.half_size, math.pi / 2 * self.radii[2]]
        self.turn_length = torch.tensor(turn_lengths * 4, device=device)  # per route, inside the square
        count = math.ceil((2 * self.entry + turn_lengths[2] + arm_length) / spacing) + 1
        s = torch.arange(count, dtype=torch.float64) * spacing
        canonical = [self._canonical(s, movement) for movement in range(3)]
        points, headings = [], []
        for arm in range(4):  # rotate the arm-0 routes a quarter turn per arm
            angle = -arm * math.pi / 2
            c, n = math.cos(angle), math.sin(angle)
            for x, y, heading in canonical:
                points.append(torch.stack([c * x - n * y, n * x + c * y], dim=-1))
                headings.append(heading + angle)
        self.points = torch.stack(points).to(device=device, dtype=torch.float32)  # (12, M, 2)
        self.heading = torch.stack(headings).to(device=device, dtype=torch.float32)  # (12, M)

    def _canonical(self, s: torch.Tensor, movement: int) -> tuple[Tensor, Tensor, Tensor]:
        """Route of arm 0 (driving up the screen on x = w/2) as functions of arc length."""
        w, entry, half = self.lane_width, self.entry, self.half_size
        up = -math.pi / 2
        if movement == 1:
            return torch.full_like(s, w / 2), self.arm_length - s, torch.full_like(s, up)
        radius = self.radii[movement]
        turn = 1.0 if movement == 0 else -1.0  # right turn: heading increases (screen y is down)
        centre_x = half if movement == 0 else -half  # the arc turns around a corner of the square
        arc = math.pi / 2 * radius
        phase = ((s - entry) / radius).clamp(0, math.pi / 2)  # angle turned so far
        arc_x = centre_x - turn * radius * torch.cos(phase)
        arc_y = half - radius * torch.sin(phase)
        after = (s - entry - arc).clamp(min=0)
        heading = up + turn * phase
        x = torch.where(s < entry, w / 2, arc_x + after * torch.cos(heading))
        y = torch.where(s < entry, self.arm_length - s, arc_y + after * torch.sin(heading))
        return x, y, heading

    def project(self, route: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Arc length, signed lateral offset and heading of the nearest route sample.

        Returns ``(s, offset, heading)`` for points ``(x, y)`` on routes ``route`` (same shapes):
        ``offset`` is positive to the right of the route's direction of travel.
        """
        points = self.points[route]  # (..., M, 2)
        dx = x.unsqueeze(-1) - points[..., 0]
        dy = y.unsqueeze(-1) - points[..., 1]
        nearest = (dx * dx + dy * dy).argmin(dim=-1, keepdim=True)
        heading = self.heading[route].gather(-1, nearest).squeeze(-1)
        dx, dy = dx.gather(-1, nearest).squeeze(-1), dy.gather(-1, nearest).squeeze(-1)
        along = dx * torch.cos(heading) + dy * torch.sin(heading)
        offset = -dx * torch.sin(heading) + dy * torch.cos(heading)
        return nearest.squeeze(-1) * self.spacing + along, offset, heading

    def pose_at(self, route: Tensor, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Position and heading on routes ``route`` at arc length ``s`` (linear between samples)."""
        index = (s / self.spacing).floor().long().clamp(0, self.points.shape[1] - 2)
        fraction = (s / self.spacing - index).unsqueeze(-1)
        points = self.points[route]
        start = points.gather(-2, index[..., None, None].expand(*index.shape, 1, 2)).squeeze(-2)
        end = points.gather(-2, (index + 1)[..., None, None].expand(*index.shape, 1, 2)).squeeze(-2)
        position = start + fraction * (end - start)
        heading = self.heading[route].gather(-1, index.unsqueeze(-1)).squeeze(-1)
        return position[..., 0], position[..., 1], heading

    def _gaps_inside(self, margin: float) -> Tensor:
        """``[a, b, i, j]``: the distance from sample i of route a to sample j of route b; inf
        where either sample is outside the crossing square widened by ``margin``."""
        inside = self.in_crossing(self.points[..., 0], self.points[..., 1], margin)
        gaps = torch.cdist(self.points.unsqueeze(1), self.points.unsqueeze(0))
        return gaps.masked_fill(~(inside[:, None, :, None] & inside[None, :, None, :]), torch.inf)

    def crossings(self, margin: float) -> tuple[Tensor, Tensor, Tensor]:
        """Where each pair of routes comes nearest inside the crossing square (widened by
        ``margin``): ``(12, 12)`` arc lengths along route a and along route b, and the distance."""
        gaps = self._gaps_inside(margin)
        count = gaps.shape[-1]
        distance, nearest = gaps.flatten(2).min(dim=2)
        return (nearest // count) * self.spacing, (nearest % count) * self.spacing, distance

    def conflict_ends(self, distance: float, margin: float) -> Tensor:
        """``(12, 12)``: entry ``[a, b]`` is the arc length along route b past which it stays
        farther than ``distance`` from route a, inside the crossing square widened by ``margin``;
        −inf where the routes never come that near."""
        near = (self._gaps_inside(margin) < distance).any(dim=2)  # [a, b, j]
        along = torch.arange(self.points.shape[1], device=self.points.device) * self.spacing
        return torch.where(near, along, -torch.inf).amax(dim=2)

    def on_road(self, x: Tensor, y: Tensor) -> Tensor:
        """Whether a point lies on the road: either two-lane strip, or the crossing square."""
        w, reach = self.lane_width, self.arm_length + 2 * self.lane_width
        strips = ((x.abs() <= w) & (y.abs() <= reach)) | ((y.abs() <= w) & (x.abs() <= reach))
        return strips | self.in_crossing(x, y)

    def in_crossing(self, x: Tensor, y: Tensor, margin: float = 0.0) -> Tensor:
        half = self.half_size + margin
        return (x.abs() <= half) & (y.abs() <= half)

    def on_priority_road(self, route: Tensor) -> Tensor:
        """Whether vehicles on ``route`` come from the priority road (and never wait at the square)."""
        return torch.isin(route // 3, torch.tensor(PRIORITY_ARMS, device=route.device))

    def camera(self, x: float, y: float) -> tuple[float, float]:
        """The ego itself."""
        return x, y

    def draw(self, surface: Any, to_screen: ToScreen, x_range: tuple[float, float]) -> None:
        """Both roads in full (``x_range`` aside), the crossing square and the centre lines up to it."""
        pygame = pygame_module()
        w, reach, half = self.lane_width, self.arm_length + 2 * self.lane_width, self.half_size
        for x0, y0, x1, y1 in ((-w, -reach, w, reach), (-reach, -w, reach, w), (-half, -half, half, half)):
            left, top = to_screen(x0, y0)
            right, bottom = to_screen(x1, y1)
            pygame.draw.rect(surface, ROAD_COLOUR, pygame.Rect(left, top, right - left, bottom - top))
        for sign in (-1, 1):  # centre lines on the arms, up to the square
            pygame.draw.line(surface, MARKING_COLOUR, to_screen(0, sign * half), to_screen(0, sign * reach), 1)
            pygame.draw.line(surface, MARKING_COLOUR, to_screen(sign * half, 0), to_screen(sign * reach, 0), 1)
