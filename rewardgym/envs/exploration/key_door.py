"""KeyDoor: fetch a key, unlock a door and reach the goal in a chain of rooms, seen egocentrically.

A level is ``num_rooms`` square rooms of ``room_size × room_size`` floor squares in a row, each
separated from the next by a wall with one doorway at a random height. Every doorway is open
except the last: a locked door into the final room, which holds the goal. The key lies on a random
floor square of a random room before the locked door; the agent starts in the first room at a
random square and heading. Levels are made by ``make_key_door_level`` and kept in a ``LevelPool``.

The layout is stored as a flat grid of square codes, padded with wall so that the egocentric
view never leaves it: a step is a few gathers and comparisons per row, the view one gather at
per-heading offsets, and the whole observation one lookup in a table of one-hot rows.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv, rendering, single_env_class
from rewardgym.core.levels import LevelPool
from rewardgym.core.rendering import AGENT_COLOUR, FLOOR_COLOUR, GOAL_COLOUR, WALL_COLOUR
from rewardgym.core.validation import check_int
from rewardgym.envs.maze.generation import bfs_distances

# Square codes of the static layout (the key lies on FLOOR; the door's state is per row).
FLOOR, WALL, DOOR, GOAL = range(4)
#: The observation's one-hot channels per view square, in order.
CHANNELS = ("wall", "key", "door", "open_door", "goal")
# Actions (MiniGrid's numbering, without drop and done).
LEFT, RIGHT, FORWARD, PICKUP, TOGGLE = range(5)
# Headings (MiniGrid's): 0 east, 1 south, 2 west, 3 north, as (row, column) steps.
HEADINGS = ((0, 1), (1, 0), (0, -1), (-1, 0))
STAGES = 3  # fetch the key, open the door, reach the goal
# Entries of the observation table: a view square's is its code, + DOOR_OPEN_ENTRY once the door
# is open, + KEY_ENTRY where the key lies; the heading-and-key entry is STATUS_ENTRY + heading
# + 4 × carrying.
DOOR_OPEN_ENTRY, KEY_ENTRY, STATUS_ENTRY = 4, 8, 16

VIEW_COLOUR = (250, 245, 200)
KEY_COLOUR = (230, 170, 20)


def observation_table() -> torch.Tensor:
    """``(24, 5)``: the observation's five values for each entry (see ``DOOR_OPEN_ENTRY``)."""
    table = torch.zeros(STATUS_ENTRY + 8, len(CHANNELS))
    for code, channel in ((WALL, "wall"), (DOOR, "door"), (GOAL, "goal")):
        table[code, CHANNELS.index(channel)] = 1
        table[code + DOOR_OPEN_ENTRY, CHANNELS.index(channel)] = 1
    table[DOOR + DOOR_OPEN_ENTRY] = 0
    table[DOOR + DOOR_OPEN_ENTRY, CHANNELS.index("open_door")] = 1
    table[KEY_ENTRY:STATUS_ENTRY, CHANNELS.index("key")] = 1
    for heading in range(4):
        table[STATUS_ENTRY + heading, heading] = 1
        table[STATUS_ENTRY + heading + 4, heading] = 1
        table[STATUS_ENTRY + heading + 4, 4] = 1  # carrying the key
    return table


@lru_cache(maxsize=2048)  # shared by every env of one configuration; large layouts take ~50 kB each
def make_key_door_level(num_rooms: int, room_size: int, padding: int, level_id: int) -> dict[str, np.ndarray]:
    """Level ``level_id`` of a room chain, on a grid padded with ``padding`` wall squares per side.

    Squares are flat indices into the padded grid. ``cells`` holds FLOOR, WALL, DOOR (locked)
    and GOAL codes; the key lies on a FLOOR square. ``progress`` stacks, per stage, the potential
    Φ of every square (see ``KeyDoorVector``), from the BFS moves to the stage's target (the key,
    the door, the goal) with the key and the locked door blocking where they still stand.
    The layout does not depend on ``padding``.
    """
    rng = np.random.default_rng([level_id, num_rooms, room_size])
    height, width = room_size + 2, num_rooms * (room_size + 1) + 1
    cells = np.full((height, width), WALL, dtype=np.int8)
    rooms = []
    for room in range(num_rooms):
        left = 1 + room * (room_size + 1)
        cells[1 : 1 + room_size, left : left + room_size] = FLOOR
        rows, cols = np.mgrid[1 : 1 + room_size, left : left + room_size]
        rooms.append(list(zip(rows.ravel().tolist(), cols.ravel().tolist())))
    doorways = [(int(rng.integers(1, room_size + 1)), (wall + 1) * (room_size + 1)) for wall in range(num_rooms - 1)]
    for doorway in doorways:
        cells[doorway] = FLOOR
    door = doorways[-1]
    cells[door] = DOOR

    start = rooms[0][int(rng.integers(room_size**2))]
    key_room = rooms[int(rng.integers(num_rooms - 1))]
    key_choices = [square for square in key_room if square != start]
    key = key_choices[int(rng.integers(len(key_choices)))]
    goal = rooms[-1][int(rng.integers(room_size**2))]
    cells[goal] = GOAL

    padded = np.pad(cells, padding, constant_values=WALL)
    padded_width = padded.shape[1]

    def square(at: tuple[int, int]) -> np.int64:
        return np.int64((at[0] + padding) * padded_width + at[1] + padding)

    def shifted(at: tuple[int, int]) -> tuple[int, int]:
        return at[0] + padding, at[1] + padding

    blocked = padded == WALL
    locked = blocked | (padded == DOOR)
    distance = np.stack([
        bfs_distances(locked, shifted(key)),
        bfs_distances(locked, shifted(door)),
        bfs_distances(blocked, shifted(goal)),
    ]).reshape(STAGES, -1)
    scale = distance.max(axis=1, keepdims=True)
    closeness = 1 - np.where(distance < 0, scale, distance) / scale  # unreachable squares count as farthest
    stage = np.arange(STAGES).reshape(STAGES, 1)
    return {
        "cells": padded.reshape(-1),
        "progress": ((stage + closeness) / STAGES - 1).astype(np.float32).reshape(-1),
        "start": square(start),
        "heading": np.int64(rng.integers(4)),
        "key": square(key),
        "door": square(door),
        "goal": square(goal),
    }


class KeyDoorVector(TorchVectorEnv):
    """Pick up the key, unlock the door, reach the goal: a chain of rooms seen through a k × k window.

    ## Action space
    ``Discrete(5)``: 0 turn left, 1 turn right, 2 forward, 3 pick up (the key, if it is in the
    square ahead), 4 toggle (unlocks and opens the door ahead, if the agent carries the key).
    Walls, the closed door and the key on the floor block ``forward``; an open door stays open and
    the key, once picked up, is carried to the end.

    ## Observation space
    ``Box(0, 1, (5 k² + 5,), float32)`` with ``k = view_size``: the ``k × k`` squares ahead of the
    agent (MiniGrid's view: the agent at the bottom centre, facing up; walls do not hide what is
    behind them; outside the grid counts as wall), rows from the farthest, each square as five
    one-hot channels (channels last, as MiniGrid's image): wall, key, locked door, open door,
    goal (an empty floor square is all zeros); then five more: the heading one-hot (east, south,
    west, north) and whether the agent carries the key.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 on reaching the goal, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s) with the stage potential below |

    Φ = (stage + 1 − d / d_max) / 3 − 1 ∈ [−1, 0) (the ``progress`` potential), where stage is 0 before the key is held,
    1 while the door is still locked and 2 once it is open, d is the BFS moves from the agent to
    that stage's target (key, door, goal) and d_max its largest value in the level. Φ rises at
    each pickup and unlock whatever the distances, and along every shortest path within a stage.
    ``info["reward_terms"]`` holds ``sparse`` and ``shaping_progress``.

    ## Episode end
    Terminates on reaching the goal; truncates after ``max_episode_steps`` (default
    ``4 × height × width`` of the grid, walls included: 264 for the default 2 rooms of 4 × 4,
    where uniformly random actions succeed in about 4 % of episodes).

    ## Arguments
    ``num_rooms`` (2–8, default 2), ``room_size`` (floor squares per side, 2–12, default 4),
    ``view_size`` (odd, 3–11, default 5), ``num_levels`` (distinct levels, default 1024; each
    episode plays one drawn from its random stream, as Procgen's ``num_levels``), ``start_level``
    (the first level id, default 0: episodes play levels ``[start_level, start_level + num_levels)``,
    so ``start_level=num_levels`` gives held-out levels; the sum is at most ``MAX_LEVELS``, 2²⁰),
    ``start_stage`` (a curriculum: 0 by default; 1 starts with the key in hand, 2 with the door
    open too), and the common ones of ``TorchVectorEnv``.
    """

    potentials = ("progress",)
    state_fields = ("level", "position", "heading", "key", "door", "goal", "carrying", "door_open")
    level_slots = {"level": "levels"}
    #: The action names, in order; subclasses may add actions at the end.
    actions: tuple[str, ...] = ("left", "right", "forward", "pickup", "toggle")
    keys_to_action = {
        (ord("a"),): LEFT, (ord("d"),): RIGHT, (ord("w"),): FORWARD, (ord("p"),): PICKUP, (ord("t"),): TOGGLE,
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        num_rooms: int = 2,
        room_size: int = 4,
        view_size: int = 5,
        num_levels: int = 1024,
        start_level: int = 0,
        start_stage: int = 0,
        max_episode_steps: int | None = None,
        **core: Any,
    ):
        self.start_stage = check_int("start_stage", start_stage, 0, STAGES - 1)
        self.num_rooms = check_int("num_rooms", num_rooms, 2, 8)
        self.room_size = check_int("room_size", room_size, 2, 12)
        self.view_size = check_int("view_size", view_size, 3, 11)
        if self.view_size % 2 == 0:
            raise ValueError(f"view_size must be odd, got {view_size}")
        self.height, self.width = room_size + 2, num_rooms * (room_size + 1) + 1
        if max_episode_steps is None:
            max_episode_steps = 4 * self.height * self.width
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)

        self.padding = self.view_size - 1
        self.padded_width = self.width + 2 * self.padding
        self._padded_squares = (self.height + 2 * self.padding) * self.padded_width
        make_level = partial(make_key_door_level, num_rooms, room_size, self.padding)
        self.levels = LevelPool(make_level, num_levels, self.device, start_level)
        rows = self.num_envs
        self.level = torch.zeros(rows, dtype=torch.int64, device=self.device)  # slot in the pool
        self.position = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self.heading = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self.key, self.door, self.goal = (torch.zeros_like(self.position) for _ in range(3))
        self.carrying = torch.zeros(rows, dtype=torch.bool, device=self.device)
        self.door_open = torch.zeros_like(self.carrying)

        steps = torch.tensor(HEADINGS, device=self.device)
        self._moves = steps[:, 0] * self.padded_width + steps[:, 1]
        turns = torch.zeros(len(self.actions), dtype=torch.int64)
        turns[LEFT], turns[RIGHT] = 3, 1
        self._turns = turns.to(self.device)
        self._view_offsets = self._view_offsets_per_heading(steps)
        self._observation_table = observation_table().to(self.device)

        self.square_pixels = max(8, min(64, 640 // self.width))
        self.frame_size = (self.width * self.square_pixels, self.height * self.square_pixels)
        observation_size = len(CHANNELS) * self.view_size**2 + 5
        self._set_spaces(spaces.Box(0, 1, (observation_size,), np.float32), spaces.Discrete(len(self.actions)))

    def _view_offsets_per_heading(self, steps: torch.Tensor) -> torch.Tensor:
        """``(4, k² + 1)`` flat offsets from the agent to each view square, per heading.

        View row 0 is the farthest (k − 1 squares ahead), the last row the agent's own; columns
        run from the agent's left to its right. The extra last offset, 0, is where the
        observation's heading-and-key entry goes.
        """
        k = self.view_size
        ahead = (k - 1 - torch.arange(k, device=self.device)).view(k, 1)
        to_right = (torch.arange(k, device=self.device) - k // 2).view(1, k)
        offsets = []
        for forward in steps:
            right = torch.stack([forward[1], -forward[0]])  # a quarter turn clockwise
            row = ahead * forward[0] + to_right * right[0]
            col = ahead * forward[1] + to_right * right[1]
            offsets.append((row * self.padded_width + col).reshape(-1))
        return torch.nn.functional.pad(torch.stack(offsets), (0, 1))

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: torch.Tensor) -> None:
        self.level[rows] = self.levels.draw_slots(self.random, rows)
        self.position = torch.where(rows, self._level_value("start"), self.position)
        self.heading = torch.where(rows, self._level_value("heading"), self.heading)
        self.key = torch.where(rows, self._level_value("key"), self.key)
        self.door = torch.where(rows, self._level_value("door"), self.door)
        self.goal = torch.where(rows, self._level_value("goal"), self.goal)
        self.carrying = torch.where(rows, self.start_stage >= 1, self.carrying)
        self.door_open = torch.where(rows, self.start_stage >= 2, self.door_open)

    def _level_value(self, field: str) -> torch.Tensor:
        """A per-level scalar ``field`` for each row."""
        return self.levels.values(field, self.level)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        ahead = self.position + self._moves.index_select(0, self.heading)
        ground = self.levels.gather("cells", self.level, ahead)
        key_ahead = (ahead == self.key) & ~self.carrying
        door_ahead = ahead == self.door
        free = ((ground == FLOOR) & ~key_ahead) | (ground == GOAL) | (door_ahead & self.door_open)
        self.position = torch.where((action == FORWARD) & free, ahead, self.position)
        self.carrying = self.carrying | ((action == PICKUP) & key_ahead)
        self.door_open = self.door_open | ((action == TOGGLE) & door_ahead & self.carrying)
        self.heading = (self.heading + self._turns.index_select(0, action)) % 4
        return {}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.position == self.goal

    def stage(self) -> torch.Tensor:
        """Per row: 0 looking for the key, 1 carrying it to the locked door, 2 heading for the goal."""
        return self.carrying.long() + self.door_open.long()

    def _potentials(self) -> dict[str, torch.Tensor]:
        stage = self.stage()
        squares = self._padded_squares * stage + self.position
        return {"progress": self.levels.gather("progress", self.level, squares)}

    def _observe(self) -> torch.Tensor:
        view = self.position.unsqueeze(1) + self._view_offsets.index_select(0, self.heading)
        entry = self.levels.gather("cells", self.level, view).long()
        entry += (self.door_open * DOOR_OPEN_ENTRY).unsqueeze(1)
        key_on_floor = torch.where(self.carrying, -1, self.key).unsqueeze(1)
        entry.masked_fill_(view == key_on_floor, KEY_ENTRY)
        entry[:, -1] = STATUS_ENTRY + self.heading + self.carrying * 4
        return self._observation_table.index_select(0, entry.view(-1)).view(self.num_envs, -1)

    # -- drawing ------------------------------------------------------------------------------

    def _unpadded(self, padded: np.ndarray) -> np.ndarray:
        """The ``height × width`` grid part of a flat padded-grid array."""
        p = self.padding
        return padded.reshape(-1, self.padded_width)[p : p + self.height, p : p + self.width]

    def _draw(self, surface: Any, row: int) -> None:
        pygame = rendering.pygame_module()
        px = self.square_pixels
        grid = self._unpadded(self.levels["cells"][self.level[row]].cpu().numpy())
        marks = np.zeros(self._padded_squares, dtype=np.int8)  # 1 in view, 2 the key on the floor
        marks[(self.position[row] + self._view_offsets[self.heading[row]]).cpu().numpy()] = 1
        if not bool(self.carrying[row]):
            marks[int(self.key[row])] = 2
        marks = self._unpadded(marks)
        surface.fill(WALL_COLOUR)
        for (r, c), code in np.ndenumerate(grid):
            square = pygame.Rect(c * px, r * px, px, px)
            if code != WALL:
                pygame.draw.rect(surface, VIEW_COLOUR if marks[r, c] == 1 else FLOOR_COLOUR, square)
            if code == GOAL:
                pygame.draw.rect(surface, GOAL_COLOUR, square.inflate(-px // 8, -px // 8))
            elif code == DOOR and bool(self.door_open[row]):
                pygame.draw.rect(surface, KEY_COLOUR, square, max(1, px // 10))
            elif code == DOOR:
                pygame.draw.rect(surface, KEY_COLOUR, square)
                pygame.draw.rect(surface, WALL_COLOUR, square.inflate(-px // 2, -px // 2))  # keyhole
            elif marks[r, c] == 2:
                self._draw_key(surface, square)
        r, c = divmod(int(self.position[row]), self.padded_width)
        square = pygame.Rect((c - self.padding) * px, (r - self.padding) * px, px, px)
        self._draw_agent(surface, square, int(self.heading[row]), bool(self.carrying[row]))

    def _draw_key(self, surface: Any, square: Any) -> None:
        pygame = rendering.pygame_module()
        size = square.width
        pygame.draw.circle(surface, KEY_COLOUR, (square.x + size // 2, square.y + size // 3), max(2, size // 6))
        shaft = (square.x + size // 2 - size // 16, square.y + size // 3, max(1, size // 8), size // 2)
        pygame.draw.rect(surface, KEY_COLOUR, shaft)

    def _draw_agent(self, surface: Any, square: Any, heading: int, carrying: bool) -> None:
        pygame = rendering.pygame_module()
        forward, (centre_x, centre_y), half = HEADINGS[heading], square.center, square.width * 0.4
        dx, dy = forward[1], forward[0]
        tip = (centre_x + dx * half, centre_y + dy * half)
        left = (centre_x - dx * half + dy * half * 0.8, centre_y - dy * half - dx * half * 0.8)
        right = (centre_x - dx * half - dy * half * 0.8, centre_y - dy * half + dx * half * 0.8)
        pygame.draw.polygon(surface, AGENT_COLOUR, (tip, left, right))
        if carrying:
            pygame.draw.circle(surface, KEY_COLOUR, square.center, max(2, square.width // 8))


KeyDoor = single_env_class(KeyDoorVector, "KeyDoor")
