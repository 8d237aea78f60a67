"""``SeedBatchedTraining``: the bonuses of many seeds trained as one batched computation.

A learner that runs S seeds side by side (fast-ppo) gives each seed its own bonus — its own
networks, optimiser, statistics and memories — so that seed k learns exactly as it would alone.
Training those S bonuses one after another costs S small forward and backward passes per
minibatch, dominated by per-operation overhead rather than arithmetic. Here they take one step
together:

1. Every parameter of the S bonuses moves into one stacked tensor ``(S, …)``; seed k's parameter
   becomes a view of row k (same storage), so each bonus still computes its bonus, saves and loads
   as before, and sees every update.
2. ``step(batch)``: each seed folds its rows into its statistics (``prepare_training``), then
   ``torch.func.vmap`` evaluates ``training_loss`` for all seeds at once — their parameters and
   ``training_buffers`` stacked along the seed axis — and the sum of the per-seed losses is
   differentiated once. Each loss depends on its own seed's parameters only, so gradients never mix.
3. One optimiser per kind the bonuses hold, over the stacked parameters, with the bonuses'
   settings. Adam is elementwise, so it is S independent Adams; every seed steps every time (a
   seed whose part of the minibatch has no chosen row takes a step with zero gradient, where a
   bonus trained alone would skip it: with RND's 25% of a minibatch of B rows, chance 0.75^B).

``optimizer_state(k)`` and ``load_optimizer_states(states)`` give and take seed k's part of the
optimisers in the format of its bonus's own optimiser, so per-seed checkpoints stay per seed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from rewardgym.wrappers.intrinsic.base import Bonus, Transitions


def optimizer_state_of_seed(state: dict[str, Any], k: int) -> dict[str, Any]:
    """Seed ``k``'s part of an optimiser ``state_dict`` over parameters stacked along a leading seed axis."""
    return {
        "state": {key: {name: (value[k].clone() if value.dim() > 0 else value.clone()) for name, value in entry.items()}
                  for key, entry in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def stack_optimizer_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The inverse of ``optimizer_state_of_seed``: per-seed states (in seed order) as one stacked state."""
    first = states[0]
    return {
        "state": {key: {name: (torch.stack([s["state"][key][name] for s in states]) if value.dim() > 0 else value)
                        for name, value in entry.items()} for key, entry in first["state"].items()},
        "param_groups": first["param_groups"],
    }


def chosen_first(batch: Transitions) -> Transitions:
    """The batch ``(S, B)`` cut to ``(S, M)``: each seed's valid rows first, in order, M the most any seed has.

    Losses are masked means, so the rows past a seed's count (``valid`` False) change nothing;
    cutting them spares computing on rows no seed trains on (three quarters of them at RND's
    update proportion).
    """
    counts = batch.valid.sum(1)
    width = int(counts.max())
    rows = torch.argsort((~batch.valid).to(torch.uint8), dim=1, stable=True)[:, :width]

    def take(x: torch.Tensor) -> torch.Tensor:
        return x.gather(1, rows.view(*rows.shape, *([1] * (x.dim() - 2))).expand(*rows.shape, *x.shape[2:]))

    cut = Transitions(*(take(getattr(batch, f.name)) for f in fields(Transitions)))
    cut.valid = torch.arange(width, device=counts.device) < counts.unsqueeze(1)
    return cut


class _TrainingLoss(nn.Module):
    """A bonus whose ``forward`` is its training loss, for ``functional_call``."""

    def __init__(self, bonus: Bonus):
        super().__init__()
        self.bonus = bonus

    def forward(self, *values: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.bonus.training_loss(Transitions(*values))


class SeedBatchedTraining:
    """Trains ``bonuses`` (one per seed, all of one kind and configuration) together; see the module docstring.

    ``step(batch)``: ``batch`` has fields of leading shape ``(S, B)`` — seed k's training rows in
    row k — and ``valid`` marks the rows each seed trains on. Returns per-seed metrics ``(S,)``.
    """

    def __init__(self, bonuses: Sequence[Bonus]):
        self.bonuses = list(bonuses)
        first = self.bonuses[0]
        if any(type(bonus) is not type(first) for bonus in self.bonuses):
            raise ValueError(f"SeedBatchedTraining needs bonuses of one kind, got {[type(b).__name__ for b in bonuses]}")
        self.loss = _TrainingLoss(copy.deepcopy(first))  # the structure functional_call fills with stacked values
        self.parameters: dict[str, torch.Tensor] = {}
        for name, parameter in first.named_parameters():
            per_seed = [dict(bonus.named_parameters())[name] for bonus in self.bonuses]
            stacked = torch.stack([p.detach() for p in per_seed]).requires_grad_(parameter.requires_grad)
            for k, p in enumerate(per_seed):
                p.data = stacked.data[k]
            self.parameters[f"bonus.{name}"] = stacked
        names = {id(p): f"bonus.{name}" for name, p in first.named_parameters()}
        self.optimizers = {  # the same kind and settings, group by group, over the stacked parameters
            key: type(optimizer)([{**group, "params": [self.parameters[names[id(p)]] for p in group["params"]]}
                                  for group in optimizer.param_groups], **optimizer.defaults)
            for key, optimizer in first.optimizers().items()
        }
        self.buffer_names = first.training_buffers()

    def step(self, batch: Transitions) -> dict[str, torch.Tensor]:
        batch = chosen_first(batch)
        for k, bonus in enumerate(self.bonuses):
            bonus.prepare_training(Transitions(*(getattr(batch, f.name)[k : k + 1] for f in fields(Transitions))))
        if not self.optimizers:
            return {}
        buffers = {f"bonus.{name}": torch.stack([bonus.get_buffer(name) for bonus in self.bonuses])
                   for name in self.buffer_names}

        def seed_loss(state: dict[str, torch.Tensor], *values: torch.Tensor):
            return functional_call(self.loss, state, values)

        # Each seed's rows as a (1, B) batch, the shape its bonus trains on alone.
        values = [getattr(batch, f.name).unsqueeze(1) for f in fields(Transitions)]
        losses, metrics = vmap(seed_loss)({**self.parameters, **buffers}, *values)
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        for optimizer in self.optimizers.values():
            optimizer.step()
        return metrics

    def optimizer_state(self, k: int) -> dict[str, dict[str, Any]]:
        """Seed ``k``'s optimiser states, keyed as its bonus's ``optimizers()``."""
        return {key: optimizer_state_of_seed(optimizer.state_dict(), k) for key, optimizer in self.optimizers.items()}

    def load_optimizer_states(self, states: Sequence[dict[str, dict[str, Any]]]) -> None:
        """Restore what ``optimizer_state`` gave, one entry per seed in seed order."""
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(stack_optimizer_states([state[key] for state in states]))
