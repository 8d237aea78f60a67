"""KeyDoor: solvable layouts, pickup and toggle, the stage potential and the egocentric view."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardgym.envs.exploration.key_door import (
    CHANNELS,
    DOOR,
    FLOOR,
    FORWARD,
    GOAL,
    LEFT,
    PICKUP,
    RIGHT,
    TOGGLE,
    WALL,
    make_key_door_level,
)

STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # east, south, west, north: the headings 0..3


def reachable(blocked: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Squares a walker reaches from ``source`` without entering ``blocked`` ones."""
    seen = np.zeros_like(blocked)
    seen[source] = True
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in STEPS:
            nxt = (r + dr, c + dc)
            if 0 <= nxt[0] < blocked.shape[0] and 0 <= nxt[1] < blocked.shape[1] and not blocked[nxt] and not seen[nxt]:
                seen[nxt] = True
                queue.append(nxt)
    return seen


def touches(region: np.ndarray, square: tuple[int, int]) -> bool:
    """Whether some square of ``region`` is next to ``square`` (so an agent there can face it)."""
    return any(region[square[0] + dr, square[1] + dc] for dr, dc in STEPS)


def unpadded(level: dict, num_rooms: int, room_size: int) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """A level made with padding 0: its grid and where start, key, door and goal are."""
    width = num_rooms * (room_size + 1) + 1
    grid = level["cells"].reshape(room_size + 2, width)
    return grid, {name: divmod(int(level[name]), width) for name in ("start", "key", "door", "goal")}


@pytest.mark.parametrize("num_rooms, room_size", [(2, 2), (2, 4), (3, 3), (5, 2), (8, 6)])
def test_every_layout_is_solvable_through_key_then_door_then_goal(num_rooms, room_size):
    for level_id in range(150):
        grid, at = unpadded(make_key_door_level(num_rooms, room_size, 0, level_id), num_rooms, room_size)
        walls = grid == WALL
        assert grid[at["door"]] == DOOR and (grid == DOOR).sum() == 1 and grid[at["goal"]] == GOAL
        assert grid[at["start"]] == FLOOR and grid[at["key"]] == FLOOR and at["start"] != at["key"]
        assert at["start"][1] <= room_size and at["goal"][1] > at["door"][1]  # first room; behind the door

        key_on_floor = walls | (grid == DOOR)
        key_on_floor[at["key"]] = True
        before_key = reachable(key_on_floor, at["start"])
        assert touches(before_key, at["key"]), f"level {level_id}: the key cannot be reached"
        before_door = reachable(walls | (grid == DOOR), at["start"])  # the key is carried: its square is free
        assert touches(before_door, at["door"]), f"level {level_id}: the door cannot be reached with the key"
        assert not before_door[at["goal"]], f"level {level_id}: the goal is reachable without the door"
        assert reachable(walls, at["start"])[at["goal"]], f"level {level_id}: the goal is not behind the door"


def test_the_layout_does_not_depend_on_the_padding():
    plain, _ = unpadded(make_key_door_level(3, 3, 0, 7), 3, 3)
    padded = make_key_door_level(3, 3, 4, 7)["cells"].reshape(5 + 8, -1)
    np.testing.assert_array_equal(padded[4:-4, 4:-4], plain)
    assert (padded[:4] == WALL).all() and (padded[:, -4:] == WALL).all()


# -- a scripted agent built on its own BFS ---------------------------------------------------------


def distances_to(blocked: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """BFS moves to ``target`` from every square (-1 where unreachable); ``target`` may be blocked itself."""
    distance = np.full(blocked.shape, -1)
    distance[target] = 0
    queue = deque([target])
    while queue:
        r, c = queue.popleft()
        for dr, dc in STEPS:
            nxt = (r + dr, c + dc)
            if not blocked[nxt] and distance[nxt] < 0:
                distance[nxt] = distance[r, c] + 1
                queue.append(nxt)
    return distance


def scripted_action(envs, row: int) -> int:
    """Walk a shortest path to the key, pick it up, walk to the door, unlock it, walk to the goal."""
    width = envs.padded_width
    grid = envs.levels["cells"][envs.level[row]].view(-1, width).numpy()
    where = lambda square: divmod(int(square), width)  # noqa: E731
    position, heading = where(envs.position[row]), int(envs.heading[row])
    carrying, door_open = bool(envs.carrying[row]), bool(envs.door_open[row])
    target = where(envs.goal[row]) if door_open else where(envs.door[row]) if carrying else where(envs.key[row])
    blocked = (grid == WALL) | ((grid == DOOR) & ~door_open)
    if not carrying:
        blocked[where(envs.key[row])] = True
    ahead = (position[0] + STEPS[heading][0], position[1] + STEPS[heading][1])
    if ahead == target and not door_open:
        return TOGGLE if carrying else PICKUP
    distance = distances_to(blocked, target)
    closer = [distance[position[0] + dr, position[1] + dc] == distance[position] - 1 for dr, dc in STEPS]
    step = closer.index(True)
    if step == heading:
        return FORWARD
    return RIGHT if step == (heading + 1) % 4 else LEFT


def test_a_scripted_solve_reaches_the_goal_and_the_potential_rises_through_the_stages():
    num_envs = 12
    envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=num_envs, num_rooms=3, autoreset_mode="Disabled",
                        reward="shaped", gamma=1.0)
    envs.reset(seed=4)
    start_phi = envs.current_potentials()["progress"].clone()
    assert ((start_phi >= -1) & (start_phi < -2 / 3)).all()
    running = torch.ones(num_envs, dtype=torch.bool)
    sparse, shaping = torch.zeros(num_envs), torch.zeros(num_envs)
    stages_seen = [[0] for _ in range(num_envs)]
    while running.any():
        stage_before = envs.stage().clone()
        phi_before = envs.current_potentials()["progress"].clone()
        action = torch.tensor([scripted_action(envs, i) if running[i] else LEFT for i in range(num_envs)])
        _, _, terminated, truncated, info = envs.step(action)
        assert not truncated[running].any()
        shaping += running * info["reward_terms"]["shaping_progress"]
        sparse += running * info["reward_terms"]["sparse"]
        alive = running & ~terminated
        phi = envs.current_potentials()["progress"]
        assert (phi[alive] >= phi_before[alive] - 1e-6).all(), "Φ never falls along a shortest solve"
        unlocked_or_picked = alive & (envs.stage() > stage_before)
        assert (phi[unlocked_or_picked] > phi_before[unlocked_or_picked]).all()
        for i in torch.nonzero(unlocked_or_picked).flatten().tolist():
            stages_seen[i].append(int(envs.stage()[i]))
        running = alive
    assert all(seen == [0, 1, 2] for seen in stages_seen)
    torch.testing.assert_close(sparse, torch.ones(num_envs))
    torch.testing.assert_close(shaping, -start_phi)  # γ = 1: the shaping telescopes to −Φ(s₀)


# -- pickup, toggle and walking --------------------------------------------------------------------


def face(envs, row: int, square: int, heading: int) -> None:
    """Put the agent of ``row`` on ``square`` (a flat padded index) facing ``heading``."""
    envs.position[row] = square
    envs.heading[row] = heading


def step_row(envs, row: int, action: int):
    actions = torch.full((envs.num_envs,), LEFT)
    actions[row] = action
    return envs.step(actions)


def image_of(envs, observation: torch.Tensor, row: int, channel: str) -> torch.Tensor:
    k = envs.view_size
    return observation[row, : 5 * k * k].view(k, k, 5)[:, :, CHANNELS.index(channel)]


def test_the_door_opens_only_with_the_key_and_the_key_only_when_faced():
    envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=16, autoreset_mode="Disabled")
    envs.reset(seed=0)
    rows = torch.nonzero((envs.key != envs.door - 1)).flatten()
    row = int(rows[0])
    west_of_door = int(envs.door[row]) - 1

    face(envs, row, west_of_door, 0)  # facing the locked door, no key
    for action in (TOGGLE, FORWARD, PICKUP):
        observation, *_ = step_row(envs, row, action)
        assert not envs.door_open[row] and not envs.carrying[row] and envs.position[row] == west_of_door
    k = envs.view_size
    assert image_of(envs, observation, row, "door")[k - 2, k // 2] == 1  # just ahead, still locked

    width = envs.padded_width
    key = int(envs.key[row])
    grid = envs.levels["cells"][envs.level[row]]
    moves = (1, width, -1, -width)  # the flat steps of the headings
    heading, beside = next((h, key - move) for h, move in enumerate(moves) if grid[key - move] == FLOOR)
    face(envs, row, beside, (heading + 1) % 4)  # next to the key, looking elsewhere
    step_row(envs, row, PICKUP)
    assert not envs.carrying[row]
    observation, *_ = step_row(envs, row, LEFT)  # turn back to face the key
    assert int(envs.heading[row]) == heading
    assert image_of(envs, observation, row, "key")[k - 2, k // 2] == 1
    step_row(envs, row, FORWARD)
    assert envs.position[row] == beside, "the key on the floor blocks the way"
    observation, *_ = step_row(envs, row, PICKUP)
    assert envs.carrying[row] and image_of(envs, observation, row, "key").sum() == 0 and observation[row, -1] == 1

    face(envs, row, west_of_door, 0)
    for _ in range(2):  # toggling an open door leaves it open
        observation, *_ = step_row(envs, row, TOGGLE)
        assert envs.door_open[row]
    assert image_of(envs, observation, row, "open_door")[k - 2, k // 2] == 1
    assert image_of(envs, observation, row, "door").sum() == 0
    step_row(envs, row, FORWARD)
    assert envs.position[row] == envs.door[row]
    others = torch.arange(16) != row
    assert not envs.door_open[others].any() and not envs.carrying[others].any()


def test_start_stage_starts_with_the_key_or_the_door_open():
    for stage in range(3):
        envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=8, start_stage=stage)
        observation, _ = envs.reset(seed=1)
        assert (envs.stage() == stage).all()
        assert (observation[:, -1] == float(stage >= 1)).all()
        phi = envs.current_potentials()["progress"]
        assert ((phi >= stage / 3 - 1) & (phi < (stage + 1) / 3 - 1)).all()


def test_num_levels_bounds_the_distinct_layouts():
    envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=64, num_levels=3)
    envs.reset(seed=0)
    assert len({tuple(cells.tolist()) for cells in envs.levels["cells"][envs.level]}) <= 3
    assert envs.levels._count <= 3


def test_start_level_plays_a_disjoint_range_of_levels():
    num_levels = 8
    layouts = {}
    for level_id in range(2 * num_levels):
        level = make_key_door_level(2, 4, 4, level_id)
        layouts[tuple(level["cells"].tolist()) + (int(level["start"]), int(level["key"]))] = level_id
    assert len(layouts) == 2 * num_levels, "every candidate level has a layout of its own"
    for start_level in (0, num_levels):
        envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=64, num_levels=num_levels, start_level=start_level)
        envs.reset(seed=0)
        played = {layouts[tuple(envs.levels["cells"][slot].tolist()) + (int(envs.levels["start"][slot]),
                                                                         int(envs.levels["key"][slot]))]
                  for slot in envs.level.tolist()}
        assert played == set(range(start_level, start_level + num_levels))


@pytest.mark.parametrize("start_level", [-1, 2**20, "1"])
def test_a_bad_start_level_is_refused(start_level):
    with pytest.raises(ValueError, match="start_level"):
        gym.make_vec("rewardgym/KeyDoor-v0", num_envs=1, start_level=start_level)


def test_default_time_limit_grows_with_the_layout():
    small = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=1)
    large = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=1, num_rooms=4, room_size=6)
    assert small.max_episode_steps == 4 * 6 * 11
    assert large.max_episode_steps == 4 * 8 * 29


# -- the egocentric view ---------------------------------------------------------------------------

RIGHT_HAND = {0: (1, 0), 1: (0, -1), 2: (-1, 0), 3: (0, 1)}  # facing east the right hand points south, ...


def expected_view(grid: np.ndarray, position: tuple[int, int], heading: int, k: int) -> np.ndarray:
    """Square codes of a ``k × k`` window with the agent at the bottom centre looking up."""
    forward, right = STEPS[heading], RIGHT_HAND[heading]
    view = np.empty((k, k), dtype=grid.dtype)
    for i in range(k):
        for j in range(k):
            ahead, aside = k - 1 - i, j - k // 2
            r = position[0] + ahead * forward[0] + aside * right[0]
            c = position[1] + ahead * forward[1] + aside * right[1]
            view[i, j] = grid[r, c]
    return view


@pytest.mark.parametrize("view_size", [3, 7])
def test_the_view_turns_with_the_agent(view_size):
    k = view_size
    envs = gym.make_vec("rewardgym/KeyDoor-v0", num_envs=6, view_size=k, start_stage=1)  # no key on the floor
    observation, _ = envs.reset(seed=2)
    width = envs.padded_width
    for turn in range(4):
        for row in range(6):
            grid = envs.levels["cells"][envs.level[row]].view(-1, width).numpy()
            position, heading = divmod(int(envs.position[row]), width), int(envs.heading[row])
            view = expected_view(grid, position, heading, k)
            assert torch.equal(image_of(envs, observation, row, "wall"), torch.from_numpy(view == WALL).float())
            assert torch.equal(image_of(envs, observation, row, "goal"), torch.from_numpy(view == GOAL).float())
            assert torch.equal(observation[row, 5 * k * k : 5 * k * k + 4], torch.eye(4)[heading])
        before = observation
        observation, *_ = envs.step(torch.full((6,), RIGHT))
        # after a right turn, what lay on the right hand at the agent's side is straight ahead
        for channel in range(5):
            after = observation[:, : 5 * k * k].view(6, k, k, 5)[..., channel]
            was = before[:, : 5 * k * k].view(6, k, k, 5)[..., channel]
            assert torch.equal(after[:, k - 2, k // 2], was[:, k - 1, k // 2 + 1])
