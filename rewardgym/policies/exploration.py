"""Oracles of the exploration family.

- DeepSea: "right" in every row, reading the env's per-cell action mapping.
- KeyDoor (and NoisyTV, which never watches its TV): the optimal action of a BFS over
  (stage, square, heading), computed once per level and cached by pool slot.
- HiddenGoal: a boustrophedon sweep of the arena from the observation alone; it never reads the
  hidden goal, so it is the ceiling of an agent that cannot see the goal either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rewardgym.envs.exploration.deep_sea import DeepSeaVector
from rewardgym.envs.exploration.hidden_goal import HiddenGoalVector
from rewardgym.envs.exploration.key_door import (
    DOOR,
    FLOOR,
    FORWARD,
    GOAL,
    HEADINGS,
    LEFT,
    PICKUP,
    RIGHT,
    STAGES,
    TOGGLE,
    KeyDoorVector,
)
from rewardgym.policies import BatchPolicy, register_oracle
from rewardgym.policies.maze import steer_point_mass

#: HiddenGoal sweep: lanes at most this many goal radii apart (below 2, the goal's diameter, so
#: every goal centre lies within 0.8 radii of a lane: the slack absorbs steering error) ...
LANE_SPACING = 1.6
#: ... and the sweep moves on to the next corner of its path within this many goal radii of it.
CORNER_TOLERANCE = 0.25


@register_oracle(DeepSeaVector)
def deep_sea_oracle(env: DeepSeaVector) -> BatchPolicy:
    """The action that moves right in the diver's cell, through the env's per-cell action mapping."""

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        return env.optimal_actions()

    return act


# -- KeyDoor --------------------------------------------------------------------------------------


def key_door_successors(cells: np.ndarray, key: int, door: int, padded_width: int) -> np.ndarray:
    """``(STAGES × squares × 4, 5)``: the state each of KeyDoor's five actions leads to from each state.

    A state is ``(stage × squares + square) × 4 + heading`` (``stage`` as ``KeyDoorVector.stage``)
    and ``cells`` a level's flat padded layout. This is KeyDoor's transition written as a table:
    ``forward`` enters floor and goal squares (not the key's while it lies there, the door's once
    it is open), ``pickup`` faces the key in stage 0, ``toggle`` the door in stage 1.
    """
    squares = cells.size
    stage, square, heading = np.unravel_index(np.arange(STAGES * squares * 4), (STAGES, squares, 4))
    moves = np.array([dr * padded_width + dc for dr, dc in HEADINGS])
    ahead = np.clip(square + moves[heading], 0, squares - 1)  # only wall squares step off the grid
    ground = cells[ahead]
    free = (((ground == FLOOR) & ((ahead != key) | (stage >= 1))) | (ground == GOAL)
            | ((ground == DOOR) & (stage == 2)))

    def state(s: np.ndarray, q: np.ndarray, h: np.ndarray) -> np.ndarray:
        return (s * squares + q) * 4 + h

    successors = np.empty((stage.size, 5), dtype=np.int64)
    successors[:, LEFT] = state(stage, square, (heading + 3) % 4)
    successors[:, RIGHT] = state(stage, square, (heading + 1) % 4)
    successors[:, FORWARD] = state(stage, np.where(free, ahead, square), heading)
    successors[:, PICKUP] = state(stage + ((stage == 0) & (ahead == key)), square, heading)
    successors[:, TOGGLE] = state(stage + ((stage == 1) & (ahead == door)), square, heading)
    return successors


def actions_to_go(successors: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Fewest actions from each state of a deterministic graph to one where ``done``; -1 if none.

    Bellman relaxation ``d(s) = 1 + min_a d(successor(s, a))``, repeated until nothing changes:
    a BFS backwards from the ``done`` states, one layer per sweep.
    """
    unreachable = np.iinfo(np.int64).max // 2
    distance = np.where(done, 0, unreachable)
    while True:
        relaxed = np.minimum(distance, 1 + distance[successors].min(axis=1))
        if np.array_equal(relaxed, distance):
            return np.where(distance == unreachable, -1, distance)
        distance = relaxed


def key_door_action_table(cells: np.ndarray, key: int, door: int, goal: int, padded_width: int) -> np.ndarray:
    """The optimal action (int8) in every state of a KeyDoor level (see ``key_door_successors``)."""
    successors = key_door_successors(cells, key, door, padded_width)
    at_goal = np.unravel_index(np.arange(len(successors)), (STAGES, cells.size, 4))[1] == goal
    distance = actions_to_go(successors, at_goal)
    distance = np.where(distance < 0, np.iinfo(np.int64).max, distance)
    return distance[successors].argmin(axis=1).astype(np.int8)


class PerLevelTable:
    """A table per level (e.g. the best action in every state), built by ``build(slot)`` the first
    time a row plays the level stored in that pool slot, and looked up for a whole batch at once."""

    def __init__(self, build: Callable[[int], np.ndarray], device: torch.device):
        self._build = build
        self._device = device
        self._tables: dict[int, np.ndarray] = {}
        self._stacked = torch.empty(0)

    def lookup(self, slots: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Entry ``index[row]`` of the table of pool slot ``slots[row]``, for every row."""
        new = set(torch.unique(slots).tolist()) - self._tables.keys()
        if new:
            self._tables.update((slot, self._build(slot)) for slot in new)
            first = next(iter(self._tables.values()))
            stacked = np.zeros((max(self._tables) + 1, *first.shape), first.dtype)
            for slot, table in self._tables.items():
                stacked[slot] = table
            self._stacked = torch.as_tensor(stacked, device=self._device)
        return self._stacked[slots, index]


@register_oracle(KeyDoorVector)
def key_door_oracle(env: KeyDoorVector) -> BatchPolicy:
    """The first action of a shortest solve (key, then door, then goal) from each row's state.

    Turns count as actions, so the path is shortest in actions, not squares. Each level's action
    table (``key_door_action_table``) is built the first time a row plays it.
    """
    levels = env.levels

    def build(slot: int) -> np.ndarray:
        return key_door_action_table(levels["cells"][slot].cpu().numpy(), int(levels["key"][slot]),
                                     int(levels["door"][slot]), int(levels["goal"][slot]), env.padded_width)

    tables = PerLevelTable(build, env.device)

    def act(observation: Any, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        state = (env.stage() * levels["cells"].shape[1] + env.position) * 4 + env.heading
        return tables.lookup(env.level, state).long()

    return act


# -- HiddenGoal -----------------------------------------------------------------------------------


def sweep_corners(arena_size: float, goal_radius: float) -> torch.Tensor:
    """``(2 × lanes, 2)``: the corners of a boustrophedon path over every possible goal centre.

    Goal centres lie in ``[r, size − r]²``; lanes run along x at evenly spaced heights from ``r``
    to ``size − r``, at most ``LANE_SPACING × r`` apart, alternating direction.
    """
    low, high = goal_radius, arena_size - goal_radius
    lanes = int(np.ceil((high - low) / (LANE_SPACING * goal_radius))) + 1
    heights = torch.linspace(low, high, lanes)
    ends = torch.tensor([[low, high], [high, low]])[torch.arange(lanes) % 2]  # (lanes, 2): x from, x to
    return torch.stack([ends, heights.view(-1, 1).expand(lanes, 2)], dim=-1).reshape(-1, 2)


@register_oracle(HiddenGoalVector)
def hidden_goal_oracle(env: HiddenGoalVector) -> BatchPolicy:
    """Sweeps the arena lane by lane (``sweep_corners``), mirrored so that it starts at the corner
    nearest the start, reading only the observation ``(x, y, vx, vy)``: never the goal."""
    size, point_mass = env.arena_size, env.point_mass
    corners = sweep_corners(size, env.goal_radius).to(env.device)
    tolerance = CORNER_TOLERANCE * env.goal_radius
    mirror = torch.zeros(env.num_envs, 2, dtype=torch.bool, device=env.device)
    corner = torch.zeros(env.num_envs, dtype=torch.int64, device=env.device)

    def act(observation: torch.Tensor, info: dict[str, Any], started: torch.Tensor) -> torch.Tensor:
        nonlocal mirror, corner
        position, velocity = observation[:, :2], observation[:, 2:]
        mirror = torch.where(started.unsqueeze(1), position > size / 2, mirror)
        corner = torch.where(started, 0, corner)
        target = torch.where(mirror, size - corners[corner], corners[corner])
        arrived = torch.linalg.vector_norm(target - position, dim=-1) < tolerance
        corner = (corner + arrived.long()).clamp(max=len(corners) - 1)
        target = torch.where(mirror, size - corners[corner], corners[corner])
        return steer_point_mass(point_mass, position, velocity, target)

    return act
