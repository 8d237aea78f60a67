"""Breadth-first search over construction programs, with the env's own tools and checks.

Each depth applies every valid action to every program of the frontier at once (one batched
env step), drops redundant moves, and merges programs that built the same set of curves.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import torch

from rewardgym.envs.geometry.construct import ConstructVector
from rewardgym.envs.geometry.objects import LINE

STATE = ("level", "goals", "goal_kinds", "residual")
CHUNK = 20_000  # programs stepped at once


def _take(env: ConstructVector, rows: torch.Tensor) -> dict[str, Any]:
    return {"construction": env.construction.take(rows), **{name: getattr(env, name)[rows] for name in STATE}}


def _load(env: ConstructVector, state: dict[str, Any]) -> None:
    for name, value in state.items():
        setattr(env, name, value)


def _curve_set_keys(env: ConstructVector) -> list[frozenset]:
    """Per row, the set of its curves on instance 0, rounded, lines with a canonical normal sign."""
    curves = env.construction.curves[:, 0].clone()
    kinds = env.construction.kinds
    flip = (kinds == LINE) & ((curves[..., 0] < -1e-6) | ((curves[..., 0].abs() <= 1e-6) & (curves[..., 1] < 0)))
    curves = torch.where(flip.unsqueeze(-1), -curves, curves)
    rounded = torch.round(torch.nan_to_num(curves, nan=0.0) * 1e3).long()
    keys = torch.cat([kinds.unsqueeze(-1), rounded], dim=-1).tolist()
    return [frozenset(tuple(curve) for curve in row if curve[0]) for row in keys]


def breadth_first_search(level: str | int, max_length: int, *, toolset: str = "level", seed: int = 0,
                         shadow_instances: int = 2, max_points: int = 32) -> list[tuple] | None:
    """The first program of at most ``max_length`` moves that solves ``level`` (on the instance of
    ``seed`` and its shadows), as program steps; None if no such program exists."""
    make = lambda n: ConstructVector(n, level=level, toolset=toolset, shadow_instances=shadow_instances,
                                     max_points=max_points, max_episode_steps=max(max_length, 1))
    env = make(1)
    env.reset(seed=seed)
    state = _take(env, torch.zeros(1, dtype=torch.long))
    programs: list[list[int]] = [[]]
    for depth in range(max_length):
        if not programs:
            return None
        _load(env, state)
        parents, actions = torch.nonzero(env.action_masks(), as_tuple=True)
        last = depth == max_length - 1
        kept_states, kept_programs, seen = [], [], set()
        for start in range(0, len(parents), CHUNK):
            parent, action = parents[start : start + CHUNK], actions[start : start + CHUNK]
            child = make(len(parent))
            _load(child, _take(env, parent))
            child._transition(action)
            solved = torch.nonzero(child._success() & ~child.redundant_action)
            if len(solved):
                row = int(solved[0, 0])
                return [env.action_step(a) for a in programs[int(parent[row])] + [int(action[row])]]
            if last:
                continue
            keep = []
            for row, key in enumerate(_curve_set_keys(child)):
                if not child.redundant_action[row] and key not in seen:
                    seen.add(key)
                    keep.append(row)
            kept_programs += [programs[int(parent[row])] + [int(action[row])] for row in keep]
            kept_states.append(_take(child, torch.tensor(keep, dtype=torch.long)))
        if last or not kept_programs:
            return None
        programs = kept_programs
        state = {name: _concatenate([part[name] for part in kept_states]) for name in kept_states[0]}
        env = make(len(programs))
    return None


def _concatenate(parts: list) -> Any:
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    return replace(parts[0], **{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(parts[0])})
