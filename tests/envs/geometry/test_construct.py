"""Construct-v0's own facts: the level pack's proven lengths, replay on shadow instances, masks."""

from __future__ import annotations

import pytest
import torch

from rewardgym.envs.geometry import construct
from rewardgym.envs.geometry.construct import ConstructVector
from rewardgym.envs.geometry.levels import LEVELS
from rewardgym.envs.geometry.objects import TOLERANCE
from rewardgym.envs.geometry.search import breadth_first_search

TOOLSETS = ("level", "elementary")
WITH_REFERENCE = [(lv.name, ts) for lv in LEVELS for ts in TOOLSETS
                  if (lv.reference_L if ts == "level" else lv.reference_E)]
SHORT = [(lv.name, ts) for lv in LEVELS for ts in TOOLSETS if ((lv.L if ts == "level" else lv.E) or 99) <= 4]


def play(env: ConstructVector, program) -> dict:
    info = {}
    for step in program:
        actions = env.actions_of(step)
        assert (actions >= 0).all(), f"{step} names a point some row lacks"
        info = env.step(actions)[4]
    return info


def test_the_pack_has_the_classic_levels():
    names = {lv.name for lv in LEVELS}
    assert {"equilateral", "angle60", "perp_bisector", "midpoint", "drop_perpendicular", "erect_perpendicular",
            "parallel", "angle_bisector", "circumcentre", "hexagon", "square"} <= names


@pytest.mark.parametrize("level,toolset", WITH_REFERENCE)
def test_the_reference_construction_has_the_optimal_length_and_solves_random_instances(level, toolset):
    env = ConstructVector(200, level=level, toolset=toolset)
    env.reset(seed=7)
    reference = env.reference(LEVELS[[lv.name for lv in LEVELS].index(level)])
    assert len(reference) == env.optimal_length(LEVELS[env.level_ids[0]])
    info = play(env, reference)
    # A row can fail only where its shown instance has a coincidence the program runs into
    # (the shadows then disagree); that is rare, and a success is never reached by chance.
    assert info["success"].float().mean() >= 0.99
    assert not info["invalid_action"].any() and not info["redundant_action"].any()


@pytest.mark.parametrize("level,toolset", SHORT)
def test_breadth_first_search_finds_no_shorter_program(level, toolset):
    optimum = LEVELS[[lv.name for lv in LEVELS].index(level)]
    length = optimum.L if toolset == "level" else optimum.E
    assert breadth_first_search(level, length - 1, toolset=toolset, shadow_instances=1) is None


def test_breadth_first_search_finds_the_optimum():
    assert breadth_first_search("midpoint", 2) == [("line", 0, 1), ("perp_bisector", 0, 1)]


def _perpendicular_by_coincidence(monkeypatch, shadow_instances: int) -> tuple[dict, ConstructVector]:
    """Drop perpendicular with X placed right above P on the shown instance: line XP is the goal there."""
    choose = construct.choose_layout

    def coincident(layouts, free_counts):
        free = choose(layouts, free_counts).clone()
        p, q = free[:, 0, 1], free[:, 0, 2]
        free[:, 0, 0] = p + 0.5 * torch.stack([-(q - p)[:, 1], (q - p)[:, 0]], dim=-1)
        return free

    monkeypatch.setattr(construct, "choose_layout", coincident)
    env = ConstructVector(16, level="drop_perpendicular", shadow_instances=shadow_instances)
    env.reset(seed=0)
    return play(env, [("line", 0, 1)]), env


def test_a_coincidence_on_the_shown_instance_is_not_a_solution(monkeypatch):
    info, env = _perpendicular_by_coincidence(monkeypatch, shadow_instances=3)
    assert (env.residual[:, 0, 0] <= TOLERANCE).all()  # the goal line is there on the shown instance
    assert not info["success"].any()  # but the program does not build it on the shadows


def test_without_shadow_instances_the_coincidence_would_count(monkeypatch):
    info, _ = _perpendicular_by_coincidence(monkeypatch, shadow_instances=0)
    assert info["success"].all()


def test_masked_actions_are_exactly_the_invalid_ones():
    """Mixed levels whose tools take curves as operands; half the actions ignore the mask."""
    env = ConstructVector(64, level=["tangent", "parallelogram", "incentre", "midpoint"], max_points=8,
                          max_episode_steps=12)
    observation, _ = env.reset(seed=1)
    mask = env.action_masks()
    generator = torch.Generator().manual_seed(0)
    seen_valid = seen_invalid = 0
    for _ in range(24):
        uniform = torch.randint(0, mask.shape[1], (64,), generator=generator)
        masked = torch.multinomial(mask.float(), 1, generator=generator).squeeze(1)
        actions = torch.where(torch.arange(64) % 2 == 0, uniform, masked)
        allowed = mask[torch.arange(64), actions]
        before = observation["objects"]
        stepped = ~env._needs_reset  # the other rows restart this step instead (NEXT_STEP autoreset)
        observation, _, _, _, info = env.step(actions)
        assert torch.equal(info["invalid_action"][stepped], ~allowed[stepped])
        unchanged = (observation["objects"] == before).all(-1).all(-1)
        assert unchanged[stepped & ~allowed].all()  # an invalid action is a no-op
        seen_valid += int((allowed & stepped).sum())
        seen_invalid += int((~allowed & stepped).sum())
        mask = info["action_mask"]
        assert torch.equal(mask, env.action_masks())
    assert seen_valid > 100 and seen_invalid > 100


def test_the_step_and_the_action_mask_compile_to_one_graph_on_every_level():
    """``tests/core/test_compile.py`` compiles the per-step core on one-move levels; here every
    level's tools (curve operands, point goals) with valid and invalid actions mixed, and the mask."""
    def compiled(function):
        return torch.compile(function, fullgraph=True, backend="aot_eager", dynamic=False)

    torch._dynamo.reset()
    eager, traced = ConstructVector(16, level="all", max_points=8), ConstructVector(16, level="all", max_points=8)
    _, info = eager.reset(seed=4)
    traced.reset(seed=4)
    advance, observe, state_info = compiled(traced._advance), compiled(traced._observe), compiled(traced._state_info)
    generator = torch.Generator().manual_seed(0)
    for _ in range(6):
        masked = torch.multinomial(info["action_mask"].float() + 1e-9, 1, generator=generator).squeeze(1)
        uniform = torch.randint(0, info["action_mask"].shape[1], (16,), generator=generator)
        actions = torch.where(torch.arange(16) % 4 == 0, uniform, masked)
        torch.testing.assert_close(advance(actions), eager._advance(actions), rtol=0, atol=0, equal_nan=True)
        torch.testing.assert_close(observe(), eager._observe(), rtol=0, atol=0)
        info = eager._state_info()
        torch.testing.assert_close(state_info(), info, rtol=0, atol=0)


def test_intersections_appear_once_as_points():
    env = ConstructVector(4, level="perp_bisector")
    env.reset(seed=2)
    info = play(env, [("circle", 0, 1)])  # meets line AB at B (known) and at the mirror of B
    assert (env.construction.num_points == 3).all() and not info["redundant_action"].any()
    info = play(env, [("circle", 1, 0)])  # line AB again at A and a new point; the first circle twice
    assert (env.construction.num_points == 6).all()
    info = play(env, [("circle", 1, 0)])
    assert info["redundant_action"].all() and (env.construction.num_points == 6).all()


def test_the_potentials_count_goal_objects_and_shrink_residuals():
    env = ConstructVector(8, level="equilateral", reward="shaped")
    env.reset(seed=3)
    start = env.current_potentials()
    assert (start["matched"] == 0).all() and (start["sar"] < 1).all()
    play(env, [("circle", 0, 1), ("circle", 1, 0), ("line", 0, (2, 1, 0))])
    after = env.current_potentials()
    assert torch.allclose(after["matched"], torch.full((8,), 0.5))
    assert (after["sar"] > start["sar"]).all() and (after["exp_mse"] > start["exp_mse"]).all()


def test_the_curriculum_starts_with_the_shortest_levels():
    env = ConstructVector(32, level="curriculum", curriculum_episodes=1000)
    env.reset(seed=0)
    assert all(LEVELS[i].L == 1 for i in env.level.tolist())
    env = ConstructVector(256, level="all")
    env.reset(seed=0)
    assert len(set(env.level.tolist())) == len(LEVELS)


def test_bad_levels_are_value_errors():
    for level in ("nonsense", 99, -1, [], ["midpoint", "nonsense"], True, 1.5):
        with pytest.raises(ValueError, match="level"):
            ConstructVector(2, level=level)
