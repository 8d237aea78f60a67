"""Reward distances blind to potential shaping and positive scaling: EPIC and STARC, in torch.

Both map a reward to a canonical form that cancels potential shaping, then compare canonical
rewards up to scale over a *coverage* distribution ``w`` of transitions ``(s, a, s')``:

- EPIC (Gleave et al., ICLR 2021, arXiv 2006.13900): the Pearson distance
  ``D_ρ(X, Y) = sqrt((1 − ρ(X, Y)) / 2)`` of the EPIC-canonical rewards, ρ the w-weighted correlation.
- STARC (Skalse et al., ICLR 2024, arXiv 2309.15257): ``½·‖s(R_A) − s(R_B)‖_w`` with
  ``s(R) = c(R) / ‖c(R)‖_w`` and ``‖x‖_w = sqrt(Σ w·x²)``; halved so that it lies in [0, 1].

Both are 0 between a reward and ``λ·R + γΦ(s') − Φ(s)`` (any λ > 0, any Φ, the same γ) and 1
between a reward and its negation. Tabular versions are exact on ``(S, A, S)`` tensors; the
``_sampled`` versions take reward callables ``reward(obs, action, next_obs) -> (B,)`` and estimate
the canonicalisation's expectations over given state and action samples. Everything is computed
in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from rewardgym.analysis.tabular import expected_reward, policy_values

Tensor = torch.Tensor
RewardModel = Callable[[Tensor, Tensor, Tensor], Tensor]
Transitions = tuple[Tensor, Tensor, Tensor]
#: ``metric(canonical_a, canonical_b, weights, largest_a, largest_b)``: see ``_pearson_distance``.
Metric = Callable[[Tensor, Tensor, Tensor, float, float], float]

#: A canonical reward whose w-norm is at most this times the largest |R| that went into it is
#: round-off of an exact zero (e.g. the canonical form of a constant reward), and counts as zero.
ROUND_OFF = 1e-10


# -- canonicalisation --------------------------------------------------------------------------


def canonicalize_epic(
    reward: Tensor, gamma: float, state_dist: Tensor | None = None, action_dist: Tensor | None = None
) -> Tensor:
    """EPIC's canonically shaped reward of a tabular ``R`` (``(S, A, S)``), S, S' ~ D_S and A ~ D_A independent:

    ``C(R)(s, a, s') = R(s, a, s') + E[γR(s', A, S') − R(s, A, S') − γR(S, A, S')]``
                    ``= R(s, a, s') + γ·m(s') − m(s) − γ·E_S[m(S)]``, with ``m(x) = E[R(x, A, S')]``.

    ``state_dist`` (``(S,)``) and ``action_dist`` (``(A,)``) are nonnegative weights, normalised
    here; uniform by default.
    """
    num_states, num_actions = reward.shape[0], reward.shape[1]
    d_s = _distribution(state_dist, (num_states,), reward)
    d_a = _distribution(action_dist, (num_actions,), reward)
    mean = torch.einsum("sat,a,t->s", reward, d_a, d_s)
    total = mean @ d_s
    return reward + gamma * mean[None, None, :] - mean[:, None, None] - gamma * total


def canonicalize_value(reward: Tensor, transition: Tensor, gamma: float) -> Tensor:
    """STARC's value-adjusted canonicalisation of a tabular ``R`` (``(S, A, S)``) under ``τ = transition``:

    ``c(R)(s, a, s') = E_{S'~τ(s, a)}[R(s, a, S') + γ·V^π(S')] − V^π(s)``, the same for every s',

    with π the uniform policy and ``V^π`` its values in the MDP run forever (no terminal states,
    so absorbing states keep earning their reward), which needs ``γ < 1``.
    """
    if not gamma < 1:
        raise ValueError(f"the value canonicalisation needs gamma < 1, got {gamma}")
    num_states, num_actions = reward.shape[0], reward.shape[1]
    uniform = torch.full((num_states, num_actions), 1 / num_actions, dtype=reward.dtype, device=reward.device)
    values = policy_values(transition, reward, uniform, gamma)
    canonical = expected_reward(transition, reward) + gamma * transition @ values - values[:, None]
    return canonical[:, :, None].expand_as(reward)


# -- tabular distances -------------------------------------------------------------------------


def epic_distance(
    reward_a: Tensor,
    reward_b: Tensor,
    gamma: float,
    state_dist: Tensor | None = None,
    action_dist: Tensor | None = None,
    coverage: Tensor | None = None,
) -> float:
    """Exact EPIC distance between two tabular rewards (``(S, A, S)``), in [0, 1].

    ``D_ρ(C(R_A), C(R_B))`` over ``(s, a, s') ~ coverage``: nonnegative weights of shape
    ``(S, A, S)`` (or broadcastable to it), normalised here; uniform over all ``S·A·S`` triples by
    default, impossible transitions included (pass e.g. ``D_S(s)·D_A(a)·τ(s'|s, a)`` to weigh only
    what the dynamics can produce). ``state_dist`` and ``action_dist`` are the canonicalisation's
    D_S and D_A (``canonicalize_epic``). NaN if a canonical reward is constant over the coverage
    (ρ is undefined there, as for a constant reward).
    """
    canonicalize = partial(canonicalize_epic, gamma=gamma, state_dist=state_dist, action_dist=action_dist)
    return _tabular_distance(_pearson_distance, canonicalize, reward_a, reward_b, coverage)


def starc_distance(
    reward_a: Tensor,
    reward_b: Tensor,
    gamma: float,
    state_dist: Tensor | None = None,
    action_dist: Tensor | None = None,
    coverage: Tensor | None = None,
    canonicalization: str = "epic",
    transition: Tensor | None = None,
) -> float:
    """Exact STARC distance between two tabular rewards (``(S, A, S)``), in [0, 1].

    ``½·‖c(R_A)/‖c(R_A)‖_w − c(R_B)/‖c(R_B)‖_w‖_w`` with ``‖x‖_w = sqrt(Σ w·x²)``, w the
    ``coverage`` (as in ``epic_distance``: uniform over all triples by default). A canonical reward
    that is zero normalises to 0 (STARC's convention), so the distance between such a reward and
    any other is ½ (0 if both are zero).

    ``canonicalization``: ``"epic"`` (``canonicalize_epic`` with ``state_dist``, ``action_dist``) or
    ``"value"`` (``canonicalize_value`` under ``transition``, ``(S, A, S)``, with γ < 1).
    """
    if canonicalization == "epic":
        canonicalize = partial(canonicalize_epic, gamma=gamma, state_dist=state_dist, action_dist=action_dist)
    elif canonicalization == "value":
        if transition is None:
            raise ValueError("canonicalization='value' needs the transition tensor (S, A, S)")
        canonicalize = partial(canonicalize_value, transition=transition.double(), gamma=gamma)
    else:
        raise ValueError(f"canonicalization must be 'epic' or 'value', got {canonicalization!r}")
    return _tabular_distance(_unit_norm_distance, canonicalize, reward_a, reward_b, coverage)


def _tabular_distance(
    metric: Metric,
    canonicalize: Callable[[Tensor], Tensor],
    reward_a: Tensor,
    reward_b: Tensor,
    coverage: Tensor | None,
) -> float:
    """``metric`` between the canonical forms of two tabular rewards, weighted by ``coverage``."""
    reward_a, reward_b = reward_a.double(), reward_b.double()
    weights = _distribution(coverage, reward_a.shape, reward_a)
    return metric(canonicalize(reward_a), canonicalize(reward_b), weights, _largest(reward_a), _largest(reward_b))


# -- sample-based distances --------------------------------------------------------------------


def epic_distance_sampled(
    reward_a: RewardModel,
    reward_b: RewardModel,
    transitions: Transitions,
    state_samples: Tensor,
    action_samples: Tensor,
    gamma: float,
    max_evaluations: int = 2**16,
) -> float:
    """EPIC distance of two reward callables, estimated from samples; in [0, 1].

    ``reward(obs, action, next_obs) -> Tensor (B,)`` takes batched tensors (any trailing shapes).
    The coverage distribution is the batch ``transitions = (obs, action, next_obs)``, each of
    leading size B, uniformly weighted. The canonicalisation takes D_S and D_A to be the uniform
    distributions over ``state_samples`` (``(N_S, ...)``) and ``action_samples`` (``(N_A, ...)``)
    and evaluates its means exactly over every (action, state) pair of them::

        m(x) = 1/(N_A·N_S) Σ_i Σ_j R(x, a_i, s_j)
        C(R)(s, a, s') = R(s, a, s') + γ·m(s') − m(s) − γ·1/N_S Σ_k m(s_k)

    so shaping cancels exactly for any samples, and with every state and action as samples the
    result is the tabular ``epic_distance`` under that coverage. This costs
    ``(2B + N_S)·N_A·N_S`` reward evaluations per reward, in calls of at most
    ``max(max_evaluations, N_A·N_S)`` rows. NaN if a canonical reward is constant over the batch.
    """
    return _sampled_distance(
        _pearson_distance, reward_a, reward_b, transitions, state_samples, action_samples, gamma, max_evaluations
    )


def starc_distance_sampled(
    reward_a: RewardModel,
    reward_b: RewardModel,
    transitions: Transitions,
    state_samples: Tensor,
    action_samples: Tensor,
    gamma: float,
    max_evaluations: int = 2**16,
) -> float:
    """STARC distance (EPIC canonicalisation) of two reward callables, estimated from samples; in [0, 1].

    The canonical rewards are those of ``epic_distance_sampled``; norms are taken over the batch
    ``transitions``, uniformly weighted, as in ``starc_distance``.
    """
    return _sampled_distance(
        _unit_norm_distance, reward_a, reward_b, transitions, state_samples, action_samples, gamma, max_evaluations
    )


def _sampled_distance(
    metric: Metric,
    reward_a: RewardModel,
    reward_b: RewardModel,
    transitions: Transitions,
    state_samples: Tensor,
    action_samples: Tensor,
    gamma: float,
    max_evaluations: int,
) -> float:
    """``metric`` between the sampled EPIC-canonical rewards, over the batch uniformly weighted."""
    canonical_a, largest_a = _canonicalize_epic_sampled(
        reward_a, transitions, state_samples, action_samples, gamma, max_evaluations
    )
    canonical_b, largest_b = _canonicalize_epic_sampled(
        reward_b, transitions, state_samples, action_samples, gamma, max_evaluations
    )
    weights = torch.full_like(canonical_a, 1 / len(canonical_a))
    return metric(canonical_a, canonical_b, weights, largest_a, largest_b)


def _canonicalize_epic_sampled(
    reward: RewardModel,
    transitions: Transitions,
    state_samples: Tensor,
    action_samples: Tensor,
    gamma: float,
    max_evaluations: int,
) -> tuple[Tensor, float]:
    """``C(R)`` at each transition of the batch (see ``epic_distance_sampled``), and the largest |R| evaluated."""
    obs, action, next_obs = transitions
    raw = _evaluate(reward, obs, action, next_obs)
    origins = torch.cat([obs, next_obs, state_samples])
    means, largest = _mean_rewards(reward, origins, action_samples, state_samples, max_evaluations)
    mean_obs, mean_next, mean_samples = means.split([len(obs), len(next_obs), len(state_samples)])
    canonical = raw + gamma * mean_next - mean_obs - gamma * mean_samples.mean()
    return canonical, max(_largest(raw), largest)


def _mean_rewards(
    reward: RewardModel, origins: Tensor, action_samples: Tensor, state_samples: Tensor, max_evaluations: int
) -> tuple[Tensor, float]:
    """``m(x) = mean_{i,j} R(x, a_i, s_j)`` for each x of ``origins``, and the largest |R| evaluated."""
    num_actions, num_states = len(action_samples), len(state_samples)
    rows_per_call = max(1, max_evaluations // (num_actions * num_states))
    means, largest = [], 0.0
    for chunk in origins.split(rows_per_call):
        grid = (len(chunk), num_actions, num_states)
        values = _evaluate(
            reward, _spread(chunk, 0, grid), _spread(action_samples, 1, grid), _spread(state_samples, 2, grid)
        )
        means.append(values.view(len(chunk), -1).mean(1))
        largest = max(largest, _largest(values))
    return torch.cat(means), largest


def _spread(samples: Tensor, axis: int, grid: tuple[int, int, int]) -> Tensor:
    """``samples`` (``(n, ...)``) laid along ``axis`` of a 3-d ``grid`` of rows, flattened to ``(prod(grid), ...)``."""
    shape = [1, 1, 1]
    shape[axis] = len(samples)
    trailing = samples.shape[1:]
    return samples.reshape(*shape, *trailing).expand(*grid, *trailing).reshape(-1, *trailing)


def _evaluate(reward: RewardModel, obs: Tensor, action: Tensor, next_obs: Tensor) -> Tensor:
    values = reward(obs, action, next_obs)
    if not isinstance(values, Tensor) or values.shape != (len(obs),):
        got = getattr(values, "shape", values)
        raise ValueError(f"a reward callable must return a tensor of shape ({len(obs)},), got {got!r}")
    return values.double()


# -- comparing canonical rewards ---------------------------------------------------------------


def _pearson_distance(x: Tensor, y: Tensor, weights: Tensor, largest_x: float, largest_y: float) -> float:
    """``sqrt((1 − ρ)/2)``, ρ the w-weighted correlation of x and y; NaN if either is constant.

    ``weights`` sum to 1 and have the shape of x and y; ``largest_x`` is the largest |R| that
    went into x, the scale of its round-off (``_unit``), and the same for y.
    """
    unit_x = _unit(x - (weights * x).sum(), weights, largest_x)
    unit_y = _unit(y - (weights * y).sum(), weights, largest_y)
    if not (unit_x.any() and unit_y.any()):
        return math.nan
    rho = (weights * unit_x * unit_y).sum()
    return float(((1 - rho) / 2).clamp(0, 1).sqrt())  # clamped: round-off can take |ρ| past 1


def _unit_norm_distance(x: Tensor, y: Tensor, weights: Tensor, largest_x: float, largest_y: float) -> float:
    """``½·‖x/‖x‖_w − y/‖y‖_w‖_w``, where a zero x or y normalises to 0."""
    unit_x, unit_y = _unit(x, weights, largest_x), _unit(y, weights, largest_y)
    return min(float((weights * (unit_x - unit_y) ** 2).sum().sqrt() / 2), 1.0)  # round-off can pass 1


def _unit(values: Tensor, weights: Tensor, largest: float) -> Tensor:
    """``values / ‖values‖_w``, or zeros if ``‖values‖_w`` is round-off next to ``largest`` (``ROUND_OFF``)."""
    norm = (weights * values**2).sum().sqrt()
    return torch.zeros_like(values) if norm <= ROUND_OFF * largest else values / norm


def _largest(values: Tensor) -> float:
    return float(values.abs().max())


def _distribution(weights: Tensor | None, shape: tuple[int, ...] | torch.Size, like: Tensor) -> Tensor:
    """Nonnegative ``weights`` broadcast to ``shape`` and normalised to sum 1; uniform if None."""
    if weights is None:
        return torch.full(shape, 1 / math.prod(shape), dtype=like.dtype, device=like.device)
    weights = torch.as_tensor(weights).to(like).broadcast_to(shape)
    return weights / weights.sum()
