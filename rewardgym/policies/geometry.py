"""Oracles of the geometry family.

- Construct: each row plays its level's stored construction of optimal length (``levels.py``),
  step ``elapsed`` of the episode, its point operands found by how they were made, so the
  program means the same on every instance.
- SphericalCode: each row places a known code of the target size (regular polygon, cross-polytope,
  the root systems D_d and E_8), turned so that its first vector is the one the episode started
  with (continuous actions), or as the code's Gram matrix column by column (alphabet actions).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch

from rewardgym.envs.geometry.construct import ConstructVector
from rewardgym.envs.geometry.levels import LEVELS
from rewardgym.envs.geometry.spherical_code import SphericalCodeVector, is_valid_code
from rewardgym.policies import BatchPolicy, register_oracle

Tensor = torch.Tensor


@register_oracle(ConstructVector)
def construct_oracle(env: ConstructVector) -> BatchPolicy | None:
    """Replay of the stored program of each row's level; None if a level has none under the toolset."""
    programs = {level: env.reference(LEVELS[level]) for level in env.level_ids}
    if any(program is None for program in programs.values()):
        return None

    def act(observation: Any, info: dict[str, Any], started: Tensor) -> Tensor:
        # Rows past their program (ended, about to be reset) and rows lacking a named point (a
        # coincidence on the shown instance) play action 0, a harmless move.
        actions = torch.zeros(env.num_envs, dtype=torch.int64, device=env.device)
        for level, program in programs.items():
            for position, step in enumerate(program):
                rows = (env.level == level) & (env.elapsed == position)
                if bool(rows.any()):
                    actions = torch.where(rows, env.actions_of(step).clamp(min=0), actions)
        return actions

    return act


def _padded(vectors: Tensor, dim: int) -> Tensor:
    return torch.nn.functional.pad(vectors, (0, dim - vectors.shape[1]))


def polygon(count: int, dim: int) -> Tensor:
    """``count`` unit vectors evenly spaced on a circle of ℝ^dim (the optimal planar code)."""
    angle = 2 * math.pi * torch.arange(count, dtype=torch.float64) / count
    return _padded(torch.stack([torch.cos(angle), torch.sin(angle)], dim=1), dim)


def cross_polytope(dim: int) -> Tensor:
    """±e_i: 2·dim vectors at 90° (the optimum at θ = 90°, Rankin)."""
    eye = torch.eye(dim, dtype=torch.float64)
    return torch.cat([eye, -eye])


def root_system_d(dim: int) -> Tensor:
    """(±e_i ± e_j)/√2: 2·dim·(dim − 1) vectors at least 60° apart (kissing configurations of ℝ³, ℝ⁴)."""
    pairs = torch.tensor(list(itertools.combinations(range(dim), 2)))
    signs = torch.tensor(list(itertools.product((1.0, -1.0), repeat=2)), dtype=torch.float64)
    vectors = torch.zeros(len(pairs), len(signs), dim, dtype=torch.float64)
    vectors.scatter_(2, pairs.view(-1, 1, 2).expand(-1, len(signs), 2), signs.expand(len(pairs), -1, -1))
    return vectors.view(-1, dim) / math.sqrt(2)


def root_system_e8() -> Tensor:
    """The 240 roots of E_8, normalised: D_8's 112 and the 128 (±½)⁸ with an even number of minus signs."""
    halves = torch.tensor(list(itertools.product((0.5, -0.5), repeat=8)), dtype=torch.float64)
    halves = halves[(halves < 0).sum(1) % 2 == 0] / math.sqrt(2)
    return torch.cat([root_system_d(8), halves])


def known_code(env: SphericalCodeVector) -> Tensor | None:
    """``env.target`` unit vectors of ℝ^d (float64) from a known code that meets the env's angle
    (and whose cosines lie in its alphabet, for alphabet actions); None if no such code is known."""
    dim = env.dim
    candidates = [polygon(math.floor(360.0 / env.theta + 1e-9), dim), cross_polytope(dim), root_system_d(dim)]
    if dim >= 8:
        candidates.append(_padded(root_system_e8(), dim))
    alphabet = torch.tensor(env.alphabet, dtype=torch.float64)
    for code in candidates:
        code = code[: env.target]
        if len(code) < env.target or not bool(is_valid_code(code, env.theta, env.tolerance)):
            continue
        if env.action_kind == "alphabet" and not _in_alphabet(code @ code.T, alphabet, env.tolerance):
            continue
        return code
    return None


def _in_alphabet(gram: Tensor, alphabet: Tensor, tolerance: float) -> bool:
    off_diagonal = gram[~torch.eye(len(gram), dtype=torch.bool)]
    return bool(((off_diagonal.unsqueeze(1) - alphabet).abs().amin(1) <= tolerance).all())


@register_oracle(SphericalCodeVector)
def spherical_code_oracle(env: SphericalCodeVector) -> BatchPolicy | None:
    """Places a known code of ``target`` vectors; None where none is known for the env's d, θ (and alphabet)."""
    code = known_code(env)
    if code is None:
        return None
    # Worked out on the CPU in float64 (which not every device has); the env takes actions from any device.

    if env.action_kind == "alphabet":
        alphabet = torch.tensor(env.alphabet, dtype=torch.float64)
        columns = torch.argmin((code @ code.T).unsqueeze(-1).sub(alphabet).abs(), dim=-1)  # (target, target)
        # Vector k's action: its cosines with vectors 0 .. k−1 (the entries beyond are ignored).
        earlier = torch.ones(env.target, env.target, dtype=torch.bool).tril(-1)
        actions = torch.where(earlier, columns, 0)[:, : env.target - 1]

        def act(observation: Any, info: dict[str, Any], started: Tensor) -> Tensor:
            return actions[env.count.cpu().clamp(max=env.target - 1)]

        return act

    def act(observation: Any, info: dict[str, Any], started: Tensor) -> Tensor:
        # The reflection that takes the code's first vector to the row's first vector.
        normal = code[0] - env.vectors[:, 0].cpu().to(torch.float64)
        square = (normal * normal).sum(1, keepdim=True)
        vector = code[env.count.cpu().clamp(max=env.target - 1)]
        reflection = 2 * normal * (normal * vector).sum(1, keepdim=True) / square.clamp(min=1e-30)
        vector = torch.where(square > 1e-24, vector - reflection, vector)
        return vector.clamp(-1.0, 1.0).to(torch.float32)

    return act
