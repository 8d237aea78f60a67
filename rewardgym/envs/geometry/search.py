"""Breadth-first search over construction programs, with the env's own tools and checks.

Each depth applies every valid action to every program of the frontier at once (batched env
steps from the frontier's saved states), drops redundant moves, and merges programs that built
the same set of curves.
"""

from __future__ import annotations

import torch

from rewardgym.core import EnvState
from rewardgym.envs.geometry.construct import ConstructVector
from rewardgym.envs.geometry.construction import Construction
from rewardgym.envs.geometry.objects import LINE

CHUNK = 20_000  # programs stepped at once


def _curve_set_keys(construction: Construction) -> list[frozenset]:
    """Per row, the set of its curves on instance 0, rounded, lines with a canonical normal sign."""
    curves, kinds = construction.curves[:, 0], construction.kinds
    flip = (kinds == LINE) & ((curves[..., 0] < -1e-6) | ((curves[..., 0].abs() <= 1e-6) & (curves[..., 1] < 0)))
    curves = torch.where(flip.unsqueeze(-1), -curves, curves)
    rounded = torch.round(torch.nan_to_num(curves, nan=0.0) * 1e3).long()
    keys = torch.cat([kinds.unsqueeze(-1), rounded], dim=-1).tolist()
    return [frozenset(tuple(curve) for curve in row if curve[0]) for row in keys]


def breadth_first_search(level: str | int, max_length: int, *, toolset: str = "level", seed: int = 0,
                         shadow_instances: int = 2, max_points: int = 32) -> list[tuple] | None:
    """The first program of at most ``max_length`` moves that solves ``level`` (on the instance of
    ``seed`` and its shadows), as program steps; None if no such program exists."""
    def make(num_envs: int) -> ConstructVector:
        return ConstructVector(num_envs, level=level, toolset=toolset, shadow_instances=shadow_instances,
                               max_points=max_points, max_episode_steps=max(max_length, 1), autoreset_mode="Disabled")

    env = make(1)
    _, info = env.reset(seed=seed)
    # The frontier: each program's state and the actions valid in it.
    state, masks = env.get_state(), info["action_mask"]
    programs: list[list[int]] = [[]]
    for depth in range(max_length):
        parents, actions = torch.nonzero(masks, as_tuple=True)
        last = depth == max_length - 1
        kept_states, kept_masks, kept_programs, seen = [], [], [], set()
        for start in range(0, len(parents), CHUNK):
            parent, action = parents[start : start + CHUNK], actions[start : start + CHUNK]
            child = make(len(parent))
            # A fresh env must be reset before it takes a state, and set_state would reset every
            # row; every row is overwritten here, so resetting one is enough (a third of the time).
            child.reset(seed=0, options={"reset_mask": torch.arange(len(parent)) == 0})
            child.set_state(state[parent])
            _, _, _, _, info = child.step(action)
            solved = torch.nonzero(info["success"] & ~info["redundant_action"])
            if len(solved):
                row = int(solved[0, 0])
                return [env.action_step(a) for a in programs[int(parent[row])] + [int(action[row])]]
            if last:
                continue
            rows = []
            for row, (redundant, key) in enumerate(zip(info["redundant_action"].tolist(),
                                                       _curve_set_keys(child.construction))):
                if not redundant and key not in seen:
                    seen.add(key)
                    rows.append(row)
            kept_programs += [programs[int(parent[row])] + [int(action[row])] for row in rows]
            keep = torch.tensor(rows, dtype=torch.long)
            kept_states.append(child.get_state()[keep])
            kept_masks.append(info["action_mask"][keep])
        if last or not kept_programs:
            return None
        programs = kept_programs
        state, masks = EnvState.concatenate(kept_states), torch.cat(kept_masks)
    return None
