"""Greedy ascent on a potential, its traps and their escape depth, on hand-made and GridMaze MDPs."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

from rewardgym.analysis import TabularMDP, ascent_traps, escape_depth, greedy_ascent, grid_maze_mdp


def corridor(potential: list[float], walls_after: tuple[int, ...] = ()) -> tuple[TabularMDP, torch.Tensor]:
    """States 0 … n−1 in a line, actions left and right (a wall or the end stays put); the last is the goal."""
    n = len(potential)
    transition = torch.zeros(n, 2, n, dtype=torch.float64)
    for s in range(n):
        left = s - 1 if s > 0 and (s - 1) not in walls_after else s
        right = s + 1 if s < n - 1 and s not in walls_after else s
        transition[s, 0, left] = transition[s, 1, right] = 1.0
    terminal = torch.zeros(n, dtype=torch.bool)
    terminal[-1] = True
    mdp = TabularMDP(transition=transition, terminal=terminal, start=0, observations=torch.zeros(n, 1))
    return mdp, torch.tensor(potential, dtype=torch.float64)


def test_greedy_ascent_stops_at_local_maxima_and_goals():
    mdp, phi = corridor([0.0, 1.0, 0.5, 0.8, 2.0])
    assert greedy_ascent(mdp, phi).tolist() == [1, 1, 1, 4, 4]  # 2 climbs to 1 (Φ 1.0 beats 0.8)
    assert ascent_traps(mdp, phi).tolist() == [True, True, True, False, False]


def test_the_escape_depth_is_the_least_descent_out_of_the_trap():
    mdp, phi = corridor([0.0, 1.0, 0.5, 0.8, 2.0])
    assert escape_depth(mdp, phi) == pytest.approx(0.5)  # stuck at 1 (Φ 1.0), the way out dips to 0.5
    assert escape_depth(mdp, phi, start=3) == 0.0
    deeper, phi = corridor([0.0, 1.0, 0.2, 0.9, 0.4, 2.0])
    assert escape_depth(deeper, phi) == pytest.approx(0.8)  # the lowest point of the only way out
    walled, phi = corridor([0.0, 1.0, 0.5, 2.0], walls_after=(1,))
    assert escape_depth(walled, phi) == math.inf


def test_stochastic_mdps_are_refused():
    mdp, phi = corridor([0.0, 1.0, 2.0])
    mdp.transition[0, 1] = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="deterministic"):
        greedy_ascent(mdp, phi)


@pytest.mark.parametrize("level", range(3))
def test_the_geodesic_potential_of_a_maze_has_no_trap_and_the_euclidean_one_does(level):
    """Every square but the goal has a neighbour one move closer: ascent on BFS distance always arrives."""
    envs = gym.make_vec("rewardgym/GridMaze-v0", size=5, num_levels=1, start_level=level)
    envs.reset(seed=0)
    mdp = grid_maze_mdp(envs)
    assert not bool(ascent_traps(mdp, mdp.potentials["geodesic"]).any())
    assert escape_depth(mdp, mdp.potentials["geodesic"]) == 0.0
    assert bool(ascent_traps(mdp, mdp.potentials["euclidean"]).any())  # dead ends that point at the goal
