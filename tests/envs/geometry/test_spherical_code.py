"""SphericalCode: known optimal codes are accepted, one vector more is rejected, and the alphabet
(Gram-matrix) actions realise exactly the cosines chosen."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rewardgym.envs.geometry.spherical_code import (
    REJECTED_COLOUR,
    SphericalCodeVector,
    is_valid_code,
    known_optimum,
)


def root_system(dim: int) -> np.ndarray:
    """The permutations of (±1, ±1, 0, …, 0)/√2 in ℝ^dim: D₄'s 24 roots, the cuboctahedron's 12 in ℝ³."""
    vectors = set()
    for i, j in itertools.combinations(range(dim), 2):
        for si, sj in itertools.product((1, -1), repeat=2):
            vector = [0.0] * dim
            vector[i], vector[j] = si, sj
            vectors.add(tuple(vector))
    return np.array(sorted(vectors)) / np.sqrt(2)


def hexagon() -> np.ndarray:
    angles = np.radians(60.0 * np.arange(6))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def moved_onto_first_vectors(code: np.ndarray, env: SphericalCodeVector) -> np.ndarray:
    """Per row, ``code`` reflected so that its first vector is the row's random first vector."""
    first = env.vectors[:, 0].double().numpy()
    moved = []
    for target in first:
        difference = code[0] - target
        mirror = np.eye(code.shape[1]) - 2 * np.outer(difference, difference) / max(difference @ difference, 1e-30)
        moved.append(code @ mirror.T)
    return np.stack(moved)  # (num_envs, n, d)


def place_all(env: SphericalCodeVector, actions: np.ndarray) -> list[tuple]:
    """Step every row with ``actions[:, k]`` for k = 0, 1, …; the step results."""
    return [env.step(torch.as_tensor(actions[:, k], dtype=torch.float32)) for k in range(actions.shape[1])]


def random_unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- the validity check ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "dim"), [(root_system(4), 4), (root_system(3), 3), (hexagon(), 2)])
def test_the_known_optimal_codes_are_valid_and_as_large_as_the_known_optimum(code, dim):
    assert bool(is_valid_code(code, 60.0))
    assert len(code) == known_optimum(dim, 60.0)


def test_no_unit_vector_extends_the_d4_root_system():
    roots = root_system(4)
    extra = random_unit_vectors(500, 4, seed=0)
    extended = np.concatenate([np.broadcast_to(roots, (500, 24, 4)), extra[:, None]], axis=1)
    assert not is_valid_code(extended, 60.0).any()
    # Every direction is within 45° of a root (the 24-cell's deep holes are exactly 45° away).
    assert (extra @ roots.T).max(axis=1).min() >= np.sqrt(0.5) - 1e-9


def test_the_check_rejects_close_pairs_and_non_unit_vectors_within_its_tolerance():
    rotation = np.radians(59.9)
    close = np.array([[1.0, 0.0], [np.cos(rotation), np.sin(rotation)]])
    assert not bool(is_valid_code(close, 60.0))
    assert bool(is_valid_code(close, 59.8))
    assert not bool(is_valid_code(hexagon() * 1.01, 60.0))
    assert bool(is_valid_code(hexagon() * (1 + 1e-5), 60.0, eps=1e-4))


# -- continuous placements ---------------------------------------------------------------------


def test_the_d4_root_system_is_a_kissing_configuration_the_env_accepts():
    env = SphericalCodeVector(num_envs=3, dim=4)  # target κ(4) = 24
    env.reset(seed=7)
    roots = moved_onto_first_vectors(root_system(4), env)
    results = place_all(env, roots[:, 1:])
    for k, (_, reward, terminated, _, info) in enumerate(results[:-1]):
        assert not terminated.any() and not info["success"].any() and (reward == 0).all(), f"placement {k + 1}"
        assert (info["reward_terms"]["placements"] == 1).all()
    observation, reward, terminated, _, info = results[-1]
    assert terminated.all() and info["success"].all() and (reward == 1).all()
    assert not info["invalid_placement"].any()
    table = observation.view(3, 24, 5)
    assert (table[:, :, 0] == 1).all()
    np.testing.assert_allclose(table[:, :, 1:].numpy(), roots, atol=1e-6)
    assert all(bool(is_valid_code(env.placed_vectors(row), 60.0)) for row in range(3))


def test_a_25th_vector_is_rejected_whatever_its_direction():
    env = SphericalCodeVector(num_envs=8, dim=4, target=25)
    env.reset(seed=1)
    place_all(env, moved_onto_first_vectors(root_system(4), env)[:, 1:])
    assert (env.count == 24).all()
    _, reward, terminated, _, info = env.step(torch.as_tensor(random_unit_vectors(8, 4, seed=2), dtype=torch.float32))
    assert terminated.all() and info["invalid_placement"].all() and not info["success"].any()
    assert (reward == 0).all() and (info["reward_terms"]["placements"] == 0).all()


def test_the_hexagon_reaches_six_and_a_seventh_vector_fails():
    env = SphericalCodeVector(num_envs=4, dim=2)
    assert env.target == 6
    env.reset(seed=3)
    *_, (_, _, terminated, _, info) = place_all(env, moved_onto_first_vectors(hexagon(), env)[:, 1:])
    assert terminated.all() and info["success"].all()

    env = SphericalCodeVector(num_envs=6, dim=2, target=7)
    env.reset(seed=3)
    place_all(env, moved_onto_first_vectors(hexagon(), env)[:, 1:])
    midway = np.radians(30.0 + 60.0 * np.arange(6))  # the farthest a 7th vector can be from all six
    first_angle = np.arctan2(env.vectors[:, 0, 1].double().numpy(), env.vectors[:, 0, 0].double().numpy())
    seventh = np.stack([np.cos(first_angle + midway), np.sin(first_angle + midway)], axis=1)
    _, _, terminated, _, info = env.step(torch.as_tensor(seventh, dtype=torch.float32))
    assert terminated.all() and info["invalid_placement"].all() and (env.count == 6).all()


def test_the_cuboctahedron_kisses_in_three_dimensions():
    env = SphericalCodeVector(num_envs=2, dim=3)
    env.reset(seed=5)
    *_, (_, _, terminated, _, info) = place_all(env, moved_onto_first_vectors(root_system(3), env)[:, 1:])
    assert terminated.all() and info["success"].all() and (env.count == 12).all()


def test_a_direction_too_close_or_too_short_is_an_invalid_placement_not_an_error():
    env = SphericalCodeVector(num_envs=3, dim=2)
    env.reset(seed=0)
    first = env.vectors[2, 0].clone()
    slightly_off = torch.stack([first[0] - 0.01 * first[1], first[1] + 0.01 * first[0]])  # 0.57° away
    actions = torch.stack([torch.zeros(2), torch.full((2,), 1e-4), slightly_off])
    _, _, terminated, _, info = env.step(actions)
    assert terminated.all() and info["invalid_placement"].all() and (env.count == 1).all()


def test_the_first_vector_is_a_random_unit_vector_chosen_by_the_seed():
    env = SphericalCodeVector(num_envs=64, dim=3)
    env.reset(seed=0)
    first = env.vectors[:, 0]
    torch.testing.assert_close(torch.linalg.vector_norm(first, dim=1), torch.ones(64))
    assert first.mean(dim=0).abs().max() < 0.25  # spread over the sphere, not one direction
    again = SphericalCodeVector(num_envs=1, dim=3)
    again.reset(seed=5)
    torch.testing.assert_close(again.vectors[0, 0], first[5])


# -- alphabet (Gram-matrix) placements ----------------------------------------------------------


def test_alphabet_actions_realise_exactly_the_chosen_cosines():
    env = SphericalCodeVector(num_envs=32, dim=4, action_kind="alphabet")
    assert env.alphabet == (-1.0, -0.5, 0.0, 0.5)
    env.reset(seed=0)
    env.action_space.seed(0)
    realised = 0
    for _ in range(6):
        before = env.count.clone()
        action = torch.as_tensor(env.action_space.sample())
        info = env.step(action)[4]
        for row in torch.nonzero(info["reward_terms"]["placements"] == 1).flatten().tolist():
            m = int(before[row])
            new, placed = env.vectors[row, m], env.vectors[row, :m]
            chosen = torch.tensor(env.alphabet)[action[row, :m]]
            torch.testing.assert_close(placed @ new, chosen, atol=1e-5, rtol=0)
            torch.testing.assert_close(new.norm(), torch.tensor(1.0))
            realised += 1
    assert realised >= 20


def test_the_gram_matrix_of_d4_rebuilds_the_24_cell_through_alphabet_actions():
    roots = root_system(4)
    gram = roots @ roots.T
    env = SphericalCodeVector(num_envs=1, dim=4, action_kind="alphabet")
    env.reset(seed=4)
    index = {value: i for i, value in enumerate(env.alphabet)}
    for k in range(1, 24):
        column = [index[round(float(value), 6)] for value in gram[k, :k]] + [0] * (23 - k)
        _, _, terminated, _, info = env.step(torch.tensor([column]))
        assert bool(info["reward_terms"]["placements"][0]), f"vector {k} was not realised"
    assert bool(terminated[0]) and bool(info["success"][0])
    vectors = env.placed_vectors(0).double()
    torch.testing.assert_close(vectors @ vectors.T, torch.as_tensor(gram), atol=1e-5, rtol=0)


def _alphabet_step(env: SphericalCodeVector, cosines: list[float]) -> dict:
    index = {value: i for i, value in enumerate(env.alphabet)}
    column = [index[value] for value in cosines] + [0] * (env.target - 1 - len(cosines))
    return env.step(torch.tensor([column]))[4]


def test_gram_columns_that_are_not_positive_semidefinite_or_need_another_dimension_are_rejected():
    env = SphericalCodeVector(num_envs=1, dim=3, target=6, action_kind="alphabet")
    env.reset(seed=0)
    assert not bool(_alphabet_step(env, [-1.0])["invalid_placement"][0])  # the antipode
    # ⟨v, v₀⟩ = ½ forces ⟨v, −v₀⟩ = −½: the Gram matrix with +½ is not PSD
    assert bool(_alphabet_step(env, [0.5, 0.5])["invalid_placement"][0])

    for dim, fits in ((2, False), (3, True)):
        env = SphericalCodeVector(num_envs=1, dim=dim, target=4, action_kind="alphabet")
        env.reset(seed=0)
        _alphabet_step(env, [-0.5])
        _alphabet_step(env, [-0.5, -0.5])  # three vectors 120° apart span a plane
        info = _alphabet_step(env, [0.0, 0.0, 0.0])  # orthogonal to that plane
        assert bool(info["success"][0]) == fits and bool(info["invalid_placement"][0]) != fits, dim


# -- arguments and drawing ----------------------------------------------------------------------


def test_known_optima_and_arguments():
    assert [known_optimum(d, 60.0) for d in (2, 3, 4, 8)] == [6, 12, 24, 240]
    assert known_optimum(5, 90.0) == 10 and known_optimum(2, 45.0) == 8 and known_optimum(5, 60.0) is None
    assert SphericalCodeVector(dim=8).target == 240
    with pytest.raises(ValueError, match="target"):
        SphericalCodeVector(dim=5)
    with pytest.raises(ValueError, match="alphabet"):
        SphericalCodeVector(dim=3, action_kind="alphabet", alphabet=[0.0, 0.9])  # 0.9 > cos 60°
    with pytest.raises(ValueError, match="alphabet"):
        SphericalCodeVector(dim=3, alphabet="0.5")
    assert SphericalCodeVector(dim=3, theta=90.0, action_kind="alphabet").alphabet == (-1.0, -0.5, 0.0)


def red_pixels(frame: np.ndarray) -> int:
    """Pixels of the rejected vector's colour, or of its paler shade when behind the sphere."""
    red, green = frame[..., 0].astype(int), frame[..., 1].astype(int)
    return int((red - green > 50).sum())


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_a_rejected_vector_is_drawn_in_red(dim):
    assert REJECTED_COLOUR[0] - REJECTED_COLOUR[1] > 50
    env = SphericalCodeVector(num_envs=1, dim=dim, target=10)
    env.reset(seed=0)
    assert red_pixels(env.render_frame(0)) == 0
    env.step(env.vectors[:, 0].clone())  # the same vector again
    assert red_pixels(env.render_frame(0)) > 20
