"""Checks on actions, reset options and constructor arguments, each failing with a ValueError
that says what was expected and what came."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import torch
from gymnasium import spaces


def _describe(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def _dtype_kind(values: np.ndarray | torch.Tensor) -> str:
    """numpy's dtype kind ("b", "i", "u", "f", "c") of an array or tensor (torch's unsigned ints read "i")."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind
    if values.dtype == torch.bool:
        return "b"
    if values.is_complex():
        return "c"
    return "f" if values.is_floating_point() else "i"


def _to_tensor(values: np.ndarray | np.generic | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Validated actions as a tensor on ``device`` (numpy's are already copies made by ``astype``)."""
    if isinstance(values, torch.Tensor):
        return values
    return torch.from_numpy(np.asarray(values)).to(device)


def as_action_tensor(
    actions: Any, space: spaces.Space, batch_size: int | None, device: torch.device, env_name: str
) -> torch.Tensor:
    """Validate a batch of actions for ``space`` and return them as a tensor on ``device``.

    ``batch_size=None`` validates one unbatched action (a single env's).
    Accepts torch tensors (any device), numpy arrays and nested sequences. Discrete and MultiDiscrete
    actions must be integers in the space's range; Box actions real numbers inside its bounds, never NaN.
    """
    expected_shape = space.shape if batch_size is None else (batch_size, *space.shape)

    def fail(problem: str) -> ValueError:
        return ValueError(
            f"{env_name}: expected actions from {space} with shape {expected_shape}; "
            f"got {_describe(actions)}: {problem}"
        )

    if isinstance(actions, torch.Tensor):
        values: np.ndarray | torch.Tensor = actions
    else:
        try:
            values = np.asarray(actions)
        except (ValueError, TypeError) as error:
            raise fail(f"cannot be read as an array ({error})") from None
        if values.dtype.kind not in "biuf":
            raise fail("not numeric")
        if values.dtype.kind == "u" and values.dtype.itemsize == 8:  # torch reads no numpy uint64 (e.g. from 2**63)
            if not isinstance(space, spaces.Box) and values.size and int(values.max()) > np.iinfo(np.int64).max:
                raise fail("values outside int64")
            values = values.astype(np.float64 if isinstance(space, spaces.Box) else np.int64)

    if tuple(values.shape) != expected_shape:
        raise fail("wrong shape")
    kind = _dtype_kind(values)
    if kind in "bc":
        raise fail("wrong dtype")

    # The checks run in the library the actions came in (numpy's small-array operations cost a
    # fraction of torch's, which matters for a single env), then the result moves to ``device``.
    on_numpy = isinstance(values, np.ndarray)
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        if kind == "f":
            raise fail("discrete actions must have an integer dtype")
        values = values.astype(np.int64) if on_numpy else values.to(device=device, dtype=torch.int64)
        if isinstance(space, spaces.Discrete):
            low, high = int(space.start), int(space.start + space.n - 1)
            outside = f"values outside [{low}, {high}]"
        else:
            low, high = space.start.astype(np.int64), (space.start + space.nvec - 1).astype(np.int64)
            if not on_numpy:
                low, high = torch.as_tensor(low, device=device), torch.as_tensor(high, device=device)
            outside = "values outside [start, start + nvec - 1] of their entry"
        if bool(((values < low) | (values > high)).any()):
            raise fail(outside)
        return _to_tensor(values - low, device)

    if isinstance(space, spaces.Box):
        if on_numpy:
            values, low, high = values.astype(np.float32), space.low, space.high
        else:
            values = values.to(device=device, dtype=torch.float32)
            low, high = torch.as_tensor(space.low, device=device), torch.as_tensor(space.high, device=device)
        if bool(((values != values) | (values < low) | (values > high)).any()):  # x != x: NaN
            raise fail("NaN or values outside the bounds")
        return _to_tensor(values, device)

    raise TypeError(f"{env_name}: action space {space} is not supported by rewardgym.core")


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """An integer argument in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {_describe(value)}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be in {bound}, got {value}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """A finite real argument in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {_describe(value)}")
    if not (low <= float(value) <= high):  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """A flag: Python's or numpy's bool (not an int that happens to be 0 or 1)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {_describe(value)}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Collection[str]) -> str:
    """One of a set of names."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {_describe(value)}")
    return value


def check_keys(what: str, given: Any, allowed: Collection[str], required: Collection[str] = ()) -> None:
    """A mapping (a config file's section) with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(given, dict):
        raise ValueError(f"{what} must be a mapping, got {_describe(given)}")
    if unknown := set(given) - set(allowed):
        raise ValueError(f"{what}: unknown keys {sorted(unknown)}; expected some of {sorted(allowed)}")
    if missing := set(required) - set(given):
        raise ValueError(f"{what}: missing keys {sorted(missing)}")


def check_seed(seed: Any, num_envs: int) -> list[int] | None:
    """Per-env seeds from gymnasium's conventions: None, an int s (env i gets s + i) or a list."""
    if seed is None:
        return None
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seeds = [int(seed) + i for i in range(num_envs)]
    elif isinstance(seed, (list, tuple)) and len(seed) == num_envs:
        seeds = list(seed)
    else:
        raise ValueError(
            f"seed must be None, a non-negative int or a list of {num_envs} ints, got {_describe(seed)}"
        )
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**63:
            raise ValueError(f"seeds must be ints in [0, 2**63), got {_describe(value)}")
    return [int(value) for value in seeds]


def as_reset_mask(mask: Any, num_envs: int, device: torch.device) -> torch.Tensor:
    """``options["reset_mask"]``: a boolean array or tensor of shape (num_envs,) with a True."""
    if not isinstance(mask, (np.ndarray, torch.Tensor)) or tuple(mask.shape) != (num_envs,) or (
        mask.dtype not in (np.bool_, torch.bool)
    ):
        raise ValueError(
            f"options['reset_mask'] must be a bool numpy array or tensor of shape ({num_envs},), "
            f"got {_describe(mask)}"
        )
    mask = torch.as_tensor(mask, device=device)
    if not bool(mask.any()):
        raise ValueError("options['reset_mask'] must contain at least one True value")
    return mask


def as_rows(rows: Any, num_envs: int, device: torch.device) -> torch.Tensor:
    """Row indices (int64 tensor on ``device``) from None (every row), a bool mask of ``num_envs``, or
    distinct indices in ``[0, num_envs)`` (a sequence, numpy array or tensor)."""
    if rows is None:
        return torch.arange(num_envs, device=device)
    if isinstance(rows, (int, np.integer)) and not isinstance(rows, bool):
        rows = [rows]
    try:
        index = torch.as_tensor(np.asarray(rows.cpu() if isinstance(rows, torch.Tensor) else rows))
    except (TypeError, ValueError, RuntimeError):
        index = None
    if index is not None and index.dtype == torch.bool and tuple(index.shape) == (num_envs,):
        return index.nonzero().squeeze(1).to(device)
    if index is None or index.dim() != 1 or index.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"rows must be None, a bool mask of shape ({num_envs},) or a 1-d sequence of row indices, "
                         f"got {_describe(rows)}")
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= num_envs):
        raise ValueError(f"rows must lie in [0, {num_envs}), got {index.tolist()}")
    if len(torch.unique(index)) != len(index):
        raise ValueError(f"rows must not repeat, got {index.tolist()}")
    return index.long().to(device)
