"""The geometry oracles: Construct replays its levels' stored programs, SphericalCode places known codes."""

from __future__ import annotations

import pytest
import torch

from rewardgym.envs.geometry.construct import ConstructVector
from rewardgym.envs.geometry.levels import LEVELS
from rewardgym.envs.geometry.spherical_code import SphericalCodeVector, is_valid_code
from rewardgym.evaluation import success_per_row
from rewardgym.policies import oracle
from rewardgym.policies.geometry import cross_polytope, polygon, root_system_d, root_system_e8

WITH_PROGRAM = [(level.name, toolset) for level in LEVELS for toolset in ("level", "elementary")
                if (level.reference_L if toolset == "level" else level.reference_E)]


@pytest.mark.parametrize("level,toolset", WITH_PROGRAM)
def test_the_construct_oracle_succeeds_in_exactly_the_programs_length(level, toolset):
    env = ConstructVector(8, level=level, toolset=toolset)
    policy = oracle(env)
    observation, info = env.reset(seed=3)
    length = env.optimal_length(LEVELS[env.level_ids[0]])
    started = torch.ones(8, dtype=torch.bool)
    for step in range(length):
        observation, _, terminated, _, info = env.step(policy(observation, info, started))
        started = torch.zeros(8, dtype=torch.bool)
        assert not (info["invalid_action"] | info["redundant_action"]).any()
        assert bool(terminated.all()) == (step == length - 1), f"step {step + 1} of {length}"
    assert info["success"].all()


def test_the_construct_oracle_plays_each_rows_own_level_across_episodes():
    # Rows draw different levels, and each row's second episode starts while others are mid-program.
    kwargs = {"level": ["midpoint", "equilateral", "hexagon"]}
    success = success_per_row("rewardgym/Construct-v0", kwargs, range(12), oracle, episodes_per_row=2)
    assert success.all()


def test_the_construct_oracle_needs_a_program_for_every_level():
    assert oracle(ConstructVector(1, level="square", toolset="elementary")) is None  # no E-optimal program known


@pytest.mark.parametrize("code,size,theta", [
    (polygon(7, 2), 7, 360 / 7), (cross_polytope(5), 10, 90.0), (root_system_d(3), 12, 60.0),
    (root_system_d(4), 24, 60.0), (root_system_d(5), 40, 60.0), (root_system_e8(), 240, 60.0),
])
def test_the_known_codes_are_codes_of_their_size(code, size, theta):
    assert code.shape[0] == size
    assert bool(is_valid_code(code, theta))
    assert len(torch.unique(code.round(decimals=9), dim=0)) == size


@pytest.mark.parametrize("kwargs", [
    {}, {"dim": 2}, {"dim": 2, "theta": 45.0}, {"dim": 4}, {"dim": 8}, {"dim": 5, "theta": 90.0},
    {"dim": 9, "target": 240}, {"action_kind": "alphabet"}, {"dim": 4, "action_kind": "alphabet"},
    {"dim": 6, "theta": 90.0, "action_kind": "alphabet"},
])
def test_the_spherical_code_oracle_places_a_known_code(kwargs):
    success = success_per_row("rewardgym/SphericalCode-v0", kwargs, range(8), oracle)
    assert success.all()


@pytest.mark.parametrize("kwargs", [
    {"target": 13},  # above κ(3) = 12: no such code
    {"dim": 2, "theta": 45.0, "action_kind": "alphabet"},  # the octagon's cosine −1/√2 is not in the alphabet
])
def test_the_spherical_code_oracle_is_none_without_a_known_code(kwargs):
    assert oracle(SphericalCodeVector(1, **kwargs)) is None
