"""HiddenGoal: find an invisible goal region in an open arena by moving a point mass."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv, rendering, single_env_class
from rewardgym.core.rendering import AGENT_COLOUR, FLOOR_COLOUR
from rewardgym.core.validation import check_choice, check_float
from rewardgym.envs.point_mass import PointMass

STARTS = ("random", "centre")
PLACEMENT_TRIES = 32  # candidate (start, goal) pairs drawn per reset; the first far enough apart is used
HIDDEN_GOAL_COLOUR = (160, 215, 165)  # paler than GOAL_COLOUR: drawn for people watching, the agent never sees it


class HiddenGoalVector(TorchVectorEnv):
    """A point mass in a square arena ``[0, size]²`` must find a goal disc it cannot see.

    Each episode places the goal (radius ``goal_radius``, wholly inside the arena) uniformly at
    random, at least ``min_distance`` from the start; the observation holds only the agent's own
    position and velocity, so the agent learns where goals tend to be and searches the arena
    systematically (like a Morris water maze) rather than heading for a visible target.

    The point is slow and nimble: ``acceleration · dt`` is at least twice ``max_speed``, so a force
    sets the velocity within a step. Random forces then redraw the velocity almost every step and
    the point jitters about its start, where a faster, drifting point (v0: ``max_speed`` 2.5) found
    the goal by chance in 96% of episodes. With the defaults, uniformly random forces find it in
    about 4% of episodes and a constant force in about 5% (when the goal lies on its path to a
    wall), while a lane-by-lane sweep of the arena at full speed (``policies.exploration``) finds
    it in every episode, within about 570 steps.

    ## Action space
    ``Box(-1, 1, (2,), float32)``: a force along x and y; velocity changes by
    ``force · acceleration · dt`` and is clipped to ``max_speed`` per axis, then the position moves
    by ``velocity · dt``. The arena's walls stop the point (the velocity across a wall it hits is zeroed).

    ## Observation space
    ``Box(low=(0, 0, -max_speed, -max_speed), high=(size, size, max_speed, max_speed), (4,), float32)``:
    ``(x, y, vx, vy)``. The goal is not in it.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when within ``goal_radius`` of the goal's centre, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = −(distance to the goal's centre) |

    Φ reads the hidden goal, so ``shaped`` gives away what the task hides: it is there to compare
    against (how much of the difficulty is the missing information), not as a fair baseline.

    ## Episode end
    Terminates on entering the goal (success); truncates after ``max_episode_steps`` (default 600).

    ## Arguments
    ``size`` (arena side, default 4), ``goal_radius`` (0.4), ``min_distance`` between start and goal
    centre (default ``size / 2``, at most that; if none of 32 random placements is that far apart,
    the farthest one is used), ``start`` (``"random"``: uniform in the arena, default, or
    ``"centre"``), the point mass's ``dt`` (0.1), ``acceleration`` (10) and ``max_speed`` (0.4), and
    the common ones.
    """

    potentials = ("distance",)
    state_fields = ("position", "velocity", "goal")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        size: float = 4.0,
        goal_radius: float = 0.4,
        min_distance: float | None = None,
        start: str = "random",
        dt: float = 0.1,
        acceleration: float = 10.0,
        max_speed: float = 0.4,
        max_episode_steps: int = 600,
        **core: Any,
    ):
        self.arena_size = check_float("size", size, 0.5, 1e3)
        self.goal_radius = check_float("goal_radius", goal_radius, 0.01, self.arena_size / 2)
        half = self.arena_size / 2
        self.min_distance = check_float("min_distance", half if min_distance is None else min_distance, 0.0, half)
        self.start = check_choice("start", start, STARTS)
        self.point_mass = PointMass(dt, acceleration, max_speed)
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)
        shape = (self.num_envs, 2)
        self.position = torch.zeros(shape, device=self.device)
        self.velocity = torch.zeros(shape, device=self.device)
        self.goal = torch.zeros(shape, device=self.device)

        speed = self.point_mass.max_speed
        low = np.array([0.0, 0.0, -speed, -speed], dtype=np.float32)
        high = np.array([self.arena_size, self.arena_size, speed, speed], dtype=np.float32)
        self._set_spaces(spaces.Box(low, high, dtype=np.float32), self.point_mass.action_space)

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: torch.Tensor) -> None:
        tries = PLACEMENT_TRIES
        inner = self.arena_size - 2 * self.goal_radius
        goals = self.goal_radius + inner * self.random.uniform(2 * tries).view(-1, tries, 2)
        if self.start == "random":
            starts = self.arena_size * self.random.uniform(2 * tries).view(-1, tries, 2)
        else:
            starts = torch.full_like(goals, self.arena_size / 2)
        distance = torch.linalg.vector_norm(goals - starts, dim=-1)
        far_enough = distance >= self.min_distance
        choice = torch.where(far_enough.any(dim=1), far_enough.int().argmax(dim=1), distance.argmax(dim=1))
        pick = choice.view(-1, 1, 1).expand(-1, 1, 2)
        column = rows.unsqueeze(1)
        self.position = torch.where(column, starts.gather(1, pick).squeeze(1), self.position)
        self.velocity = torch.where(column, 0.0, self.velocity)
        self.goal = torch.where(column, goals.gather(1, pick).squeeze(1), self.goal)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        velocity = self.point_mass.accelerate(self.velocity, action)
        moved = self.position + velocity * self.point_mass.dt
        position = moved.clamp(0.0, self.arena_size)
        self.velocity = torch.where(position == moved, velocity, 0.0)
        self.position = position
        return {}

    def _distance_to_goal(self) -> torch.Tensor:
        return torch.linalg.vector_norm(self.position - self.goal, dim=-1)

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._distance_to_goal() <= self.goal_radius

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {"distance": -self._distance_to_goal()}

    def _observe(self) -> torch.Tensor:
        return torch.cat([self.position, self.velocity], dim=1)

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        pygame = rendering.pygame_module()
        scale = self.frame_size[0] / self.arena_size
        surface.fill(FLOOR_COLOUR)
        goal_x, goal_y = self.goal[row].tolist()
        goal_centre, goal_radius = (goal_x * scale, goal_y * scale), max(2.0, self.goal_radius * scale)
        pygame.draw.circle(surface, HIDDEN_GOAL_COLOUR, goal_centre, goal_radius)
        x, y = self.position[row].tolist()
        pygame.draw.circle(surface, AGENT_COLOUR, (x * scale, y * scale), max(3.0, 0.1 * scale))


HiddenGoal = single_env_class(HiddenGoalVector, "HiddenGoal")
