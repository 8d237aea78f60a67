"""Construct: compass-and-straightedge constructions (Euclidea-style levels) as a batched env."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv, rendering, single_env_class
from rewardgym.core.validation import check_choice, check_int
from rewardgym.core.vector_env import Transition
from rewardgym.envs.geometry.construction import Construction
from rewardgym.envs.geometry.levels import (
    LEVEL_NAMES,
    LEVELS,
    MAX_ALTERNATIVES,
    MAX_FREE_POINTS,
    MAX_GIVEN_CURVES,
    POINT,
    Level,
    Step,
)
from rewardgym.envs.geometry.objects import CIRCLE, DTYPE, LINE, NO_CURVE, TOLERANCE, curve_residual, point_residual
from rewardgym.envs.geometry.tools import ELEMENTARY_TOOLS, TOOL_INDEX, TOOLS, action_table, build_curves

Tensor = torch.Tensor
TOOLSETS = ("level", "elementary")
FEATURES = 8  # point, line, circle one-hot; three parameters; two flags
OBSERVATION_BOUND = 10.0
RESIDUAL_SCALE = 0.25  # residuals are in units of the scene radius (1); this is the dense rewards' scale
CANDIDATE_LAYOUTS = 8  # random layouts drawn per instance; the first non-degenerate one is used
MIN_SEPARATION = 0.4  # free points at least this far apart ...
MIN_COS_ANGLE = 0.94  # ... and every angle of a triangle of them above ~20°
MAX_TIME_LIMIT = 64
FALLBACK_LAYOUT = ((-0.6, -0.3), (0.6, -0.3), (0.1, 0.6))

GIVEN_COLOUR = (30, 30, 30)
BUILT_COLOUR = (38, 110, 200)
GOAL_COLOUR = (120, 210, 120)
MATCHED_COLOUR = (30, 150, 60)
PIXELS_PER_UNIT = 80.0


def parse_levels(level: Any) -> tuple[list[int], bool]:
    """Level indices from ``level`` and whether it asks for the curriculum."""
    if isinstance(level, str):
        if level in ("all", "curriculum"):
            return list(range(len(LEVELS))), level == "curriculum"
        check_choice("level", level, [*LEVEL_NAMES, "all", "curriculum"])
        return [LEVEL_NAMES.index(level)], False
    if isinstance(level, (int, np.integer)) and not isinstance(level, bool):
        return [check_int("level", level, 0, len(LEVELS) - 1)], False
    if isinstance(level, (list, tuple)) and level and all(isinstance(item, (str, int, np.integer)) for item in level):
        indices = [parse_levels(item)[0] for item in level]
        if any(len(item) != 1 for item in indices):
            raise ValueError(f"level lists take level names or indices, got {level!r}")
        return sorted({item[0] for item in indices}), False
    raise ValueError(
        f"level must be a level name {list(LEVEL_NAMES)}, an index, a list of them, 'all' or 'curriculum'; got {level!r}"
    )


class ConstructVector(TorchVectorEnv):
    """Build the goal objects of a compass-and-straightedge level with as few tool uses as possible.

    The world is a set of points, lines (infinite) and circles. Each action applies one tool to
    objects of the current construction and adds the curve it builds; every point where the new
    curve meets an earlier one appears by itself (points cost no move). The levels (``levels.py``)
    give free points, given curves, enabled tools, the goal and its proven minimal length.

    ## Action space
    ``Discrete(A)``: row ``a`` of a fixed table of (tool, operands), ``env.actions`` (see
    ``tools.py``; ``env.action_step(a)`` reads one, ``env.action_index(step)`` finds one).
    The table holds the tools the chosen levels enable, over ``max_points`` point slots and
    ``3 + max_episode_steps`` curve slots. ``info["action_mask"]`` (and ``action_masks()``, the
    sb3-contrib MaskablePPO convention) marks the valid actions: the tool is enabled in the
    row's level, every operand exists (and is a line where a line is needed) and a curve slot is
    free. An invalid action taken anyway is a no-op flagged ``info["invalid_action"]``; a valid
    action whose curve already exists is a no-op flagged ``info["redundant_action"]`` (the mask
    does not foresee results).

    ## Observation space
    ``Dict``: ``objects`` ``Box(-10, 10, (P + C, 8))``, one row per point slot then per curve slot:
    point/line/circle one-hot, parameters (point ``x, y, 0``; line ``nx, ny, c`` with ``n·x = c``;
    circle ``cx, cy, r``; the scene fits the unit disc), given flag, constructed flag (zero rows are
    empty slots); ``goal`` ``Box(-10, 10, (2·4, 8))``: the goal objects of up to two alternative
    goal sets (4 rows each), one-hot and parameters as above, then present and matched flags.

    ## Success and rewards
    Success: on the shown instance and on ``shadow_instances`` fresh random instances of the level
    that replay the same program (so a coincidence is not a construction), some alternative has
    every goal object present, within 1e-4 of the scene radius.

    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 on success, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = fraction of goal objects built (best alternative) |
    | ``sar`` | sparse + shaping with Φ = mean over goal objects of 1 − min(1, r/0.25) (saturating, added) |
    | ``exp_mse`` | sparse + shaping with Φ = exp(−mean over goal objects of (r/0.25)²) |

    ``r`` is a goal object's residual: the largest parameter difference to the nearest object of
    its kind, on the shown instance. ``info["reward_terms"]`` holds ``sparse`` and the three shaping
    terms: ``shaping_matched`` (the one ``shaped`` adds), ``shaping_sar`` and ``shaping_exp_mse``.
    Other info: ``action_mask``, ``invalid_action``, ``redundant_action``, ``level``.

    ## Episode end
    Terminates on success; truncates after ``max_episode_steps`` (default ``3 × optimal length + 2``
    of the longest chosen level).

    ## State
    ``get_state()`` holds each row's level, its goals and their residuals on every instance, and
    its ``construction`` (the object tables, as ``construction.<name>``: see ``Construction.tensors``).

    ## Arguments
    - ``level``: a name from ``LEVEL_NAMES``, an index, a list of them (each episode draws one),
      ``"all"``, or ``"curriculum"``: episode ``e`` of a row draws among the levels whose optimal
      length is at most ``1 + e // curriculum_episodes``.
    - ``toolset``: ``"level"`` (the level's tools, optimum L) or ``"elementary"`` (line and circle
      only, optimum E).
    - ``max_points``: point slots (4–64; points beyond are dropped); ``shadow_instances`` (0–16).
    """

    potentials = ("matched", "sar", "exp_mse")
    state_fields = ("level", "goals", "goal_kinds", "residual")
    state_parts = ("construction",)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        level: str | int | Sequence[str | int] = "equilateral",
        toolset: str = "level",
        max_points: int = 32,
        shadow_instances: int = 3,
        curriculum_episodes: int = 100,
        max_episode_steps: int | None = None,
        **core: Any,
    ):
        self.level_ids, self.curriculum = parse_levels(level)
        self.toolset = check_choice("toolset", toolset, TOOLSETS)
        self.max_points = check_int("max_points", max_points, 4, 64)
        self.shadow_instances = check_int("shadow_instances", shadow_instances, 0, 16)
        self.curriculum_episodes = check_int("curriculum_episodes", curriculum_episodes, 1)
        # The proven optimum, or twice L where none is known (E of the square and the advanced levels).
        lengths = [self.optimal_length(LEVELS[i]) or 2 * LEVELS[i].L for i in self.level_ids]
        if max_episode_steps is None:
            max_episode_steps = 3 * max(lengths) + 2
        check_int("max_episode_steps", max_episode_steps, 1, MAX_TIME_LIMIT)
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)
        self.max_curves = MAX_GIVEN_CURVES + self.max_episode_steps
        self.instances = 1 + self.shadow_instances
        device = self.device

        tool_names = [t.name for t in TOOLS if any(t.name in self._tools_of(LEVELS[i]) for i in self.level_ids)]
        self.enabled_tools = [TOOL_INDEX[name] for name in tool_names]
        self.actions = action_table(tool_names, self.max_points, self.max_curves, device)
        level_tools = torch.tensor([[t.name in self._tools_of(lv) for t in TOOLS] for lv in LEVELS], device=device)
        level_actions = level_tools[self.level_ids][:, self.actions.tool]  # (choices, A)
        self._same_tools = bool((level_actions == level_actions[0]).all())
        self._mask_table = self._valid_action_table(level_actions[:1] if self._same_tools else level_actions)
        self._curve_actions = torch.nonzero(self.actions.uses_curve).squeeze(1)
        self._choices = torch.tensor(self.level_ids, device=device)
        self._choice_of_level = torch.zeros(len(LEVELS), dtype=torch.int64, device=device)
        self._choice_of_level[self._choices] = torch.arange(len(self.level_ids), device=device)
        self._choice_lengths = torch.tensor(lengths, device=device)
        self._free_counts = torch.tensor([len(lv.free_points) for lv in LEVELS], device=device)
        self._given = self._given_table(device)
        self.max_goals = max(len(LEVELS[i].goal_kinds) for i in self.level_ids)
        self._point_goals = any(POINT in LEVELS[i].goal_kinds for i in self.level_ids)

        self.construction = Construction.empty(self.num_envs, self.instances, self.max_points, self.max_curves, device)
        self.level = torch.zeros(self.num_envs, dtype=torch.int64, device=device)
        goal_slots = MAX_ALTERNATIVES * self.max_goals
        self.goals = torch.zeros((self.num_envs, self.instances, goal_slots, 3), dtype=DTYPE, device=device)
        self.goal_kinds = torch.zeros((self.num_envs, goal_slots), dtype=torch.int64, device=device)
        self.residual = torch.full((self.num_envs, self.instances, goal_slots), torch.inf, dtype=DTYPE, device=device)

        box = lambda rows: spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, (rows, FEATURES), np.float32)
        observation_space = spaces.Dict({"objects": box(self.max_points + self.max_curves), "goal": box(goal_slots)})
        self._set_spaces(observation_space, spaces.Discrete(len(self.actions)))

    # -- levels and actions -------------------------------------------------------------------

    def _tools_of(self, level: Level) -> tuple[str, ...]:
        return ELEMENTARY_TOOLS if self.toolset == "elementary" else level.tools

    def optimal_length(self, level: Level) -> int | None:
        """The level's proven minimal number of moves under this env's toolset (None: unknown)."""
        return level.E if self.toolset == "elementary" else level.L

    def reference(self, level: Level) -> tuple[Step, ...] | None:
        """The level's stored construction of optimal length under this env's toolset."""
        return level.reference_E if self.toolset == "elementary" else level.reference_L

    def action_index(self, step: Step) -> int:
        """The action of one program step, e.g. ``("circle", 0, 1)`` or ``("perpendicular", curve, point)``."""
        name, *operands = step
        tool = TOOLS[TOOL_INDEX[name]]
        if tool.operands in ("pair", "angle"):
            operands[:2] = sorted(operands[:2])
        p1, p2, p3, curve = (operands[1], 0, 0, operands[0]) if tool.operands == "line_point" else (*operands, 0, 0)[:4]
        hits = torch.nonzero(
            (self.actions.tool == TOOL_INDEX[name]) & (self.actions.p1 == p1) & (self.actions.p2 == p2)
            & (self.actions.p3 == p3) & (self.actions.curve == curve)
        )
        if hits.numel() != 1:
            tools = [TOOLS[t].name for t in self.enabled_tools]
            raise ValueError(f"no action {step!r} in this env's table (tools {tools})")
        return int(hits[0, 0])

    def actions_of(self, step: Step) -> Tensor:
        """The action of a program step in every row, ``(num_envs,)``, where point operands may
        be named by how they were made: ``(curve, earlier curve, k)``, the k-th new point where
        the curve met the earlier one (an int is a point slot).
        A named point a row lacks gives action −1."""
        name, *operands = step
        tool = TOOLS[TOOL_INDEX[name]]
        origin = self.construction.point_origin
        slots = []
        for position, operand in enumerate(operands):
            is_curve = tool.operands == "line_point" and position == 0
            if isinstance(operand, int) or is_curve:
                slots.append(torch.full((self.num_envs,), operand, device=self.device))
                continue
            found = (origin == torch.tensor(operand, device=self.device)).all(-1)
            slots.append(torch.where(found.any(1), torch.argmax(found.to(torch.int8), 1), -1))
        actions = torch.full((self.num_envs,), -1, device=self.device)
        for row in range(self.num_envs):
            row_operands = [int(slot[row]) for slot in slots]
            if min(row_operands) >= 0:
                actions[row] = self.action_index((name, *row_operands))
        return actions

    def action_step(self, action: int) -> Step:
        """The program step of an action (the inverse of ``action_index``)."""
        return self.actions.step(action)

    def _valid_action_table(self, level_actions: Tensor) -> Tensor:
        """Which actions are valid, by (level choice, number of points, curve slots full): the
        rows of ``(choices · (P + 1) · 2, A)`` that ``action_masks`` and ``_transition`` index."""
        points = torch.arange(self.max_points + 1, device=self.device).view(1, -1, 1, 1)
        enough = self.actions.points_needed.view(1, 1, 1, -1) <= points
        room = torch.tensor([True, False], device=self.device).view(1, 1, 2, 1)
        return (level_actions.view(-1, 1, 1, level_actions.shape[1]) & enough & room).view(-1, level_actions.shape[1])

    def _given_table(self, device: torch.device) -> Tensor:
        """Per level and given step: tool index (−1: none), p1, p2, p3, curve."""
        table = torch.full((len(LEVELS), MAX_GIVEN_CURVES, 5), -1, dtype=torch.int64, device=device)
        for index, level in enumerate(LEVELS):
            for s, (name, *operands) in enumerate(level.given):
                if name == "circle":
                    table[index, s] = torch.tensor([TOOL_INDEX[name], *operands, 0, 0])
                else:
                    table[index, s] = torch.tensor([TOOL_INDEX["line"], *sorted(operands), 0, 0])
        table[..., 1:].clamp_(min=0)
        return table

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: Tensor) -> None:
        rows = torch.nonzero(rows).squeeze(1)
        count = rows.numel()
        choice_draw = self.random.uniform(1, rows)[:, 0]
        layouts = self.random.uniform(self.instances * CANDIDATE_LAYOUTS * MAX_FREE_POINTS * 2, rows)

        allowed = torch.ones((count, len(self.level_ids)), dtype=torch.bool, device=self.device)
        if self.curriculum:
            stage = 1 + (self.episode[rows] // self.curriculum_episodes).clamp(max=64)
            allowed = self._choice_lengths.unsqueeze(0) <= stage.unsqueeze(1)
            allowed[:, int(torch.argmin(self._choice_lengths))] = True
        cumulative = torch.cumsum(allowed, 1)
        pick = (choice_draw * cumulative[:, -1]).long().unsqueeze(1)
        level = self._choices[torch.searchsorted(cumulative, pick + 1).squeeze(1)]

        free_counts = self._free_counts[level]
        layouts = layouts.to(DTYPE).view(count, self.instances, CANDIDATE_LAYOUTS, MAX_FREE_POINTS, 2) * 2 - 1
        free = same_orientation(choose_layout(layouts, free_counts), free_counts)

        construction = Construction.empty(count, self.instances, self.max_points, MAX_GIVEN_CURVES, self.device)
        construction.add_free_points(free, free_counts)
        for step in range(MAX_GIVEN_CURVES):
            given = self._given[level, step]
            if bool((given[:, 0] >= 0).any()):
                self._apply(construction, given[:, 0], given[:, 1:4], given[:, 4], given[:, 0] >= 0, given=True)

        goals = torch.zeros((count, self.instances, *self.goals.shape[2:]), dtype=DTYPE, device=self.device)
        kinds = torch.zeros((count, self.goal_kinds.shape[1]), dtype=torch.int64, device=self.device)
        for index in torch.unique(level).tolist():
            chosen = level == index
            goals[chosen], kinds[chosen] = level_goals(LEVELS[index], free[chosen], self.max_goals)

        self.residual[rows] = goal_residuals(goals, kinds, construction)  # while it has few curve slots
        self.construction.put(rows, construction.with_curve_capacity(self.max_curves))
        self.level[rows] = level
        self.goals[rows] = goals
        self.goal_kinds[rows] = kinds

    def _apply(self, construction: Construction, tool: Tensor, points: Tensor, curve: Tensor, add: Tensor,
               given: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Apply one tool per row to ``construction``; returns what ``Construction.add_curve`` does
        plus the new curve and its kind."""
        rows, instances = construction.points.shape[:2]
        def gather(table: Tensor, index: Tensor) -> Tensor:
            return table.gather(2, index.view(rows, 1, 1, 1).expand(rows, instances, 1, table.shape[-1]))[:, :, 0]

        p1, p2, p3 = (gather(construction.points, points[:, i]) for i in range(3))
        tools = range(len(TOOLS)) if given else self.enabled_tools
        tool = tool.view(rows, 1).expand(rows, instances)
        params, kind = build_curves(tools, tool, p1, p2, p3, gather(construction.curves, curve))
        added, candidates, fresh = construction.add_curve(params, kind[:, 0], add, given=given)
        return added, candidates, fresh, params, kind[:, 0]

    def _transition(self, action: Tensor) -> Transition:
        """Apply each row's tool; returns which rows took an ``invalid_action`` (a no-op) and which a
        ``redundant_action`` (a valid one whose curve already existed, also a no-op).

        Compiled, every row is computed and the invalid ones are masked out, so the step has static
        shapes and no host synchronisation. Eagerly, only the valid rows are computed: a random or
        constant policy's actions are mostly invalid, and skipping them makes its steps several
        times faster."""
        a = self.actions
        valid = self._mask_table[self._mask_rows(), action]
        if len(self._curve_actions):
            operand_kind = self.construction.kinds.gather(1, a.curve[action].unsqueeze(1)).squeeze(1)
            valid &= ~a.uses_curve[action] | (operand_kind == LINE)
        if torch.compiler.is_compiling():
            rows, add, construction = slice(None), valid, self.construction
        else:
            rows = torch.nonzero(valid).squeeze(1)
            if rows.numel() == 0:
                return {"invalid_action": ~valid, "redundant_action": torch.zeros_like(valid)}
            add, construction = valid[rows], self.construction.take(rows)
        action = action[rows]
        points = torch.stack([a.p1[action], a.p2[action], a.p3[action]], dim=1)
        added, candidates, fresh, curve, kind = self._apply(construction, a.tool[action], points, a.curve[action], add)
        if construction is not self.construction:
            self.construction.put(rows, construction)

        # Residuals only fall, and only new objects can lower them (none in the rows not added).
        goals, goal_kinds = self.goals[rows], self.goal_kinds[rows]
        curve_kinds = torch.where(added, kind, NO_CURVE).view(-1, 1, 1)
        residual = curve_residual(goals, curve.unsqueeze(2), goal_kinds.unsqueeze(1), curve_kinds)
        if self._point_goals:
            to_points = point_residual(goals[..., None, :2], candidates.unsqueeze(2))  # (R, I, G, 2C)
            to_points = torch.where(fresh[:, None, None, :], to_points, float("inf")).amin(-1)
            residual = torch.where((goal_kinds == POINT).unsqueeze(1), to_points, residual)
        self.residual[rows] = torch.minimum(self.residual[rows], residual)
        redundant = torch.zeros_like(valid)
        redundant[rows] = add & ~added
        return {"invalid_action": ~valid, "redundant_action": redundant}

    def _mask_rows(self) -> Tensor:
        """Each row's row of ``_mask_table``: its level's tools, its point count, curve slots left."""
        choice = self._choice_of_level[self.level] if not self._same_tools else 0
        full = (self.construction.num_curves >= self.max_curves).long()
        return (choice * (self.max_points + 1) + self.construction.num_points) * 2 + full

    def _alternatives(self) -> tuple[Tensor, Tensor]:
        """Matched flags ``(R, I, A, G)`` and goal presence ``(R, 1, A, G)``."""
        shape = (self.num_envs, -1, MAX_ALTERNATIVES, self.max_goals)
        return (self.residual <= TOLERANCE).view(shape), (self.goal_kinds != NO_CURVE).view(shape)

    def _success(self, transition: Transition) -> Tensor:
        matched, present = self._alternatives()
        complete = ((matched | ~present).all(-1) & present.any(-1)).any(-1)  # (R, I)
        return (complete & ~self.construction.diverged).all(1)

    def _potentials(self) -> dict[str, Tensor]:
        matched, present = self._alternatives()
        present = present[:, 0]
        count = present.sum(-1).clamp(min=1)
        residual = (self.residual[:, 0] / RESIDUAL_SCALE).view(present.shape)

        mean_square = torch.where(present, residual * residual, 0.0).sum(-1) / count

        def best(per_goal: Tensor) -> Tensor:
            mean = torch.where(present, per_goal, 0.0).sum(-1) / count
            return torch.where(present.any(-1), mean, 0.0).amax(-1).float()

        return {
            "matched": best(matched[:, 0].to(residual.dtype)),
            "sar": best(1.0 - residual.clamp(max=1.0)),
            "exp_mse": torch.where(present.any(-1), torch.exp(-mean_square), 0.0).amax(-1).float(),
        }

    def _observe(self) -> dict[str, Tensor]:
        """The object and goal tables of every row (see the class docstring), from the shown instance."""
        c = self.construction
        point_present = torch.arange(self.max_points, device=self.device) < c.num_points.unsqueeze(1)
        curve_present = c.kinds != NO_CURVE
        point_params = torch.nn.functional.pad(c.points[:, 0], (0, 1))  # (x, y, 0)
        points = observation_rows(torch.where(point_present, POINT, NO_CURVE), point_params, point_present,
                                  c.point_given, point_present & ~c.point_given)
        curves = observation_rows(c.kinds, c.curves[:, 0], curve_present, c.curve_given, curve_present & ~c.curve_given)
        goal_present = self.goal_kinds != NO_CURVE
        goal = observation_rows(self.goal_kinds, self.goals[:, 0], goal_present, goal_present,
                                self.residual[:, 0] <= TOLERANCE)
        return {"objects": torch.cat([points, curves], dim=1), "goal": goal}

    def action_masks(self) -> Tensor:
        """``(num_envs, A)`` bool: the valid actions of every row (see the class docstring)."""
        mask = self._mask_table[self._mask_rows()]
        if len(self._curve_actions):
            is_line = self.construction.kinds[:, self.actions.curve[self._curve_actions]] == LINE
            mask[:, self._curve_actions] &= is_line
        return mask

    def _state_info(self) -> dict[str, Tensor]:
        return {"action_mask": self.action_masks()}

    def _step_info(self, transition: Transition) -> dict[str, Tensor]:
        return {"invalid_action": transition["invalid_action"], "redundant_action": transition["redundant_action"],
                "level": self.level.clone()}


    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        pygame = rendering.pygame_module()
        surface.fill((250, 250, 247))
        width, height = self.frame_size
        def to_pixels(p: np.ndarray) -> tuple[int, int]:
            return int(width / 2 + PIXELS_PER_UNIT * p[0]), int(height / 2 - PIXELS_PER_UNIT * p[1])


        def draw_curve(params: np.ndarray, kind: int, colour: tuple[int, int, int], thickness: int) -> None:
            if kind == LINE:
                normal, offset = params[:2], params[2]
                foot, direction = normal * offset, np.array([normal[1], -normal[0]])
                ends = to_pixels(foot - 10 * direction), to_pixels(foot + 10 * direction)
                pygame.draw.line(surface, colour, *ends, thickness)
            elif kind == CIRCLE:
                radius = int(PIXELS_PER_UNIT * params[2])
                if 0 < radius < 10 * width:
                    pygame.draw.circle(surface, colour, to_pixels(params[:2]), radius, thickness)

        goals = self.goals[row, 0].cpu().numpy()
        goal_kinds = self.goal_kinds[row].cpu().numpy()
        matched = (self.residual[row, 0] <= TOLERANCE).cpu().numpy()
        for params, kind, done in zip(goals, goal_kinds, matched):
            colour = MATCHED_COLOUR if done else GOAL_COLOUR
            if kind == POINT:
                pygame.draw.circle(surface, colour, to_pixels(params[:2]), 8)
            else:
                draw_curve(params, kind, colour, 6)
        c = self.construction
        curves = zip(c.curves[row, 0].cpu().numpy(), c.kinds[row].cpu().numpy(), c.curve_given[row].cpu().numpy())
        for params, kind, given in curves:
            draw_curve(params, kind, GIVEN_COLOUR if given else BUILT_COLOUR, 2)
        for slot in range(int(c.num_points[row])):
            colour = GIVEN_COLOUR if bool(c.point_given[row, slot]) else BUILT_COLOUR
            pygame.draw.circle(surface, colour, to_pixels(c.points[row, 0, slot].cpu().numpy()), 4)


def observation_rows(kinds: Tensor, params: Tensor, present: Tensor, *flags: Tensor) -> Tensor:
    """Rows of an observation table ``(R, N, FEATURES)``, float32: the one-hot of ``kinds``
    ``(R, N)`` (point, line, circle), the parameters ``(R, N, 3)`` where ``present`` (zero
    elsewhere, absent objects being NaN), then the two ``flags`` ``(R, N)``."""
    one_hot = torch.stack([kinds == kind for kind in (POINT, LINE, CIRCLE)], dim=-1)
    params = torch.where(present.unsqueeze(-1), params, 0.0).float().clamp(-OBSERVATION_BOUND, OBSERVATION_BOUND)
    return torch.cat([one_hot.float(), params, torch.stack(flags, dim=-1).float()], dim=-1)


def choose_layout(layouts: Tensor, free_counts: Tensor) -> Tensor:
    """Per row and instance, the first of the candidate layouts ``(R, I, M, F, 2)`` (in the square
    [−1, 1]²) that is not degenerate: points inside the unit disc, apart, no thin triangles."""
    count = layouts.shape[3]
    present = torch.arange(count, device=layouts.device) < free_counts.view(-1, 1)  # (R, F)
    inside = (layouts * layouts).sum(-1) <= 1.0
    ok = (inside | ~present[:, None, None, :]).all(-1)
    for i in range(count):
        for j in range(i + 1, count):
            pair = present[:, i] & present[:, j]
            gap = layouts[..., i, :] - layouts[..., j, :]
            ok &= ((gap * gap).sum(-1) >= MIN_SEPARATION**2) | ~pair[:, None, None]
    if count == 3:
        triangle = present.all(1)[:, None, None]
        for vertex in range(3):
            u = layouts[..., (vertex + 1) % 3, :] - layouts[..., vertex, :]
            v = layouts[..., (vertex + 2) % 3, :] - layouts[..., vertex, :]
            cos = (u * v).sum(-1) / torch.sqrt((u * u).sum(-1) * (v * v).sum(-1))
            ok &= (cos <= MIN_COS_ANGLE) | ~triangle
    first = torch.argmax(ok.to(torch.int8), dim=2)  # the first acceptable layout
    index = first.view(*first.shape, 1, 1, 1).expand(*first.shape, 1, count, 2)
    chosen = layouts.gather(2, index).squeeze(2)
    fallback = torch.tensor(FALLBACK_LAYOUT, dtype=layouts.dtype, device=layouts.device)[:count]
    return torch.where(ok.any(2)[..., None, None], chosen, fallback)  # (rare: every candidate degenerate)


def same_orientation(free: Tensor, free_counts: Tensor) -> Tensor:
    """Mirror the instances whose three free points turn clockwise, so that every instance turns
    the same way and a root order means the same point on all of them (two points have no
    orientation). The levels are mirror-symmetric, so no problem is lost."""
    u, v = free[:, :, 1] - free[:, :, 0], free[:, :, 2] - free[:, :, 0]
    clockwise = (u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]) < 0
    mirror = clockwise & (free_counts == 3).unsqueeze(1)
    flipped = torch.stack([-free[..., 0], free[..., 1]], dim=-1)
    return torch.where(mirror[..., None, None], flipped, free)


def level_goals(level: Level, free: Tensor, max_goals: int) -> tuple[Tensor, Tensor]:
    """The goal params ``(N, I, A·G, 3)`` and kinds ``(N, A·G)`` of ``level`` on free points
    ``(N, I, F, 2)``, with ``G = max_goals`` slots per alternative."""
    rows, instances = free.shape[:2]
    alternatives = level.goals(free.reshape(rows * instances, *free.shape[2:]))
    goals = torch.zeros((rows * instances, MAX_ALTERNATIVES, max_goals, 3), dtype=free.dtype, device=free.device)
    kinds = torch.zeros((MAX_ALTERNATIVES, max_goals), dtype=torch.int64, device=free.device)
    for a, alternative in enumerate(alternatives):
        for g, params in enumerate(alternative):
            goals[:, a, g] = params
            kinds[a, g] = level.goal_kinds[g]
    return goals.view(rows, instances, -1, 3), kinds.view(1, -1).expand(rows, -1)


def goal_residuals(goals: Tensor, kinds: Tensor, construction: Construction) -> Tensor:
    """Each goal object's residual to the nearest object of its kind in ``construction``: ``(R, I, G)``."""
    c = construction
    to_curves = curve_residual(goals.unsqueeze(3), c.curves.unsqueeze(2), kinds[:, None, :, None], c.kinds[:, None, None, :])
    to_curves = to_curves.amin(-1)
    to_points = point_residual(goals[..., None, :2], c.points.unsqueeze(2)).amin(-1)
    return torch.where((kinds == POINT).unsqueeze(1), to_points, to_curves)


Construct = single_env_class(ConstructVector, "Construct")
