"""The protocol every intrinsic bonus follows, and the pieces bonuses share.

A bonus sees transitions as a ``Transitions`` batch with leading shape ``(T, N)``: ``T`` steps of
``N`` envs in time order (``T = 1`` when a wrapper steps online, a whole rollout in a callback).
Observations arrive flattened to float features; rows marked not ``valid`` are not transitions
(an autoreset step) and must neither earn a bonus nor enter any memory or statistics.

- ``watch(transitions)``: see the batch before ``compute``; update observation statistics.
- ``compute(transitions) -> (T, N)``: the bonus of each transition. Episodic bonuses scan the
  steps in order, carrying per-env memory from call to call, and clear a row's memory after a
  step where that row terminated or truncated.
- ``update(transitions) -> metrics``: train the bonus's own model on the batch's valid rows, in
  two parts that a subclass provides: ``prepare_training`` (fold the rows into the statistics the
  loss reads) and ``training_loss`` (a differentiable masked mean over the rows), after which every
  optimiser the bonus holds takes one step. ``SeedBatchedTraining`` runs the same two parts for
  many seeds' bonuses at once.
- ``episode_started(rows)``: the rows begin new episodes by a reset that no ended step
  announced (``reset()``, ``reset_mask``); episodic bonuses clear those rows' memory.
- ``episodic``: whether the bonus belongs to one episode (memory cleared at every episode end)
  or to the whole of training.

Bonuses are ``torch.nn.Module``s, so ``state_dict()``/``load_state_dict()`` save and restore
their networks, statistics and memories (registered buffers); ``learner_state()`` adds what a
module's state leaves out — the optimisers and the bonus's own random generator — so a resumed
run continues exactly. A bonus draws every random number from ``self.generator`` (seed it with
``seed``), never from torch's global generator: two bonuses trained side by side in one process
do not disturb each other's draws.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


@dataclass
class Transitions:
    """``T`` steps of ``N`` envs: every field has leading shape ``(T, N)``."""

    obs: torch.Tensor  # (T, N, D) float features of s_t
    action: torch.Tensor  # (T, N) int64 for Discrete, (T, N, A) float for Box
    next_obs: torch.Tensor  # (T, N, D) features of the true s_{t+1}, before any reset
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    valid: torch.Tensor  # (T, N) bool: False where the row did not make a transition

    @property
    def done(self) -> torch.Tensor:
        return self.terminated | self.truncated

    def flat_valid(self, keep: torch.Tensor | None = None) -> Transitions:
        """The valid transitions as one step of many envs, ``(1, V)``, for training on them.

        ``keep`` (bool, ``(T·N,)`` in ``flatten`` order, False wherever not valid) picks fewer.
        """
        keep = self.valid.reshape(-1) if keep is None else keep
        return Transitions(**{f.name: getattr(self, f.name).flatten(0, 1)[keep].unsqueeze(0) for f in fields(self)})

    def step(self, t: int) -> Transitions:
        """Step ``t`` alone, ``(1, N)``."""
        return Transitions(**{f.name: getattr(self, f.name)[t : t + 1] for f in fields(self)})

    def select(self, columns: torch.Tensor) -> Transitions:
        """The transitions of some envs: ``columns`` (a bool mask or indices) along ``N``."""
        return Transitions(**{f.name: getattr(self, f.name)[:, columns] for f in fields(self)})

    @staticmethod
    def cat(batches: list[Transitions]) -> Transitions:
        """Steps one after another: concatenate along time."""
        return Transitions(**{f.name: torch.cat([getattr(b, f.name) for b in batches]) for f in fields(Transitions)})


def flatten_observation(observation: Any) -> torch.Tensor:
    """A batch of observations (tensor or dict of tensors) as float features ``(N, D)``; dict keys in sorted order."""
    if isinstance(observation, dict):
        return torch.cat([flatten_observation(observation[key]) for key in sorted(observation)], dim=-1)
    return observation.reshape(observation.shape[0], -1).float()


def feature_size(space: spaces.Space) -> int:
    """The length of ``flatten_observation``'s features for one observation of ``space``."""
    if isinstance(space, spaces.Dict):
        return sum(feature_size(sub) for sub in space.spaces.values())
    return int(np.prod(space.shape))


def action_size(space: spaces.Space) -> int:
    """Discrete: the number of actions (models take them one-hot); Box: the action's length."""
    return int(space.n) if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))


def action_features(action: torch.Tensor, space: spaces.Space) -> torch.Tensor:
    """Actions as float features: one-hot for Discrete, flattened for Box."""
    if isinstance(space, spaces.Discrete):
        return nn.functional.one_hot(action.long(), int(space.n)).float()
    return action.reshape(*action.shape[: action.dim() - len(space.shape)], -1).float()


def masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over the rows where ``valid`` (same shape) holds; 0 when none does.

    A mask rather than an index keeps every shape fixed, so a loss written with it batches over
    seeds under ``torch.func.vmap``.
    """
    return torch.where(valid, values, 0.0).sum() / valid.sum().clamp(min=1)  # where: no 0 · inf from a row left out


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for index, (inputs, outputs) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(inputs, outputs))
        if index < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class RunningMeanStd(nn.Module):
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(epsilon))

    def update(self, batch: torch.Tensor) -> None:
        """Fold in a batch whose first dimension indexes samples."""
        if batch.shape[0] == 0:
            return
        batch = batch.float()
        batch_mean, batch_count = batch.mean(0), batch.shape[0]
        batch_var = (batch - batch_mean).square_().mean(0)  # ten times faster than Tensor.var here
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        self.var = (self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total) / total
        self.count = total

    def normalize(self, batch: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
        return ((batch - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-clip, clip)


class Bonus(nn.Module):
    """Base class of intrinsic bonuses: the env's spaces and size, and the protocol's defaults.

    Subclasses set ``episodic`` and implement ``compute``; ``watch``, ``update`` and
    ``episode_started`` default to doing nothing.
    """

    episodic: bool

    def __init__(self, env: Any):
        super().__init__()
        self.observation_space = env.single_observation_space
        self.action_space = env.single_action_space
        self.num_envs = env.num_envs
        self.obs_size = feature_size(self.observation_space)
        self.action_size = action_size(self.action_space)
        self.device = torch.device(getattr(env, "device", "cpu"))
        self.generator = torch.Generator(device=self.device)

    def seed(self, seed: int) -> None:
        """Seed the generators the bonus (and any bonus it is built from) draws from; not its initial weights."""
        for index, generator in enumerate(self.generators().values()):
            generator.manual_seed(seed * 1_000_003 + index)

    def generators(self) -> dict[str, torch.Generator]:
        """The random generator of this bonus and of every bonus inside it, by module path."""
        return {prefix: module.generator for prefix, module in self.named_modules()
                if isinstance(module, Bonus) and "generator" in vars(module)}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser the bonus or its submodules hold, by attribute path."""
        found = {}
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, torch.optim.Optimizer):
                    found[f"{prefix}.{name}" if prefix else name] = value
        return found

    def learner_state(self) -> dict[str, Any]:
        """All the bonus's state: module state, optimiser states and random generator.

        Tensors are copies: a bonus trained by ``SeedBatchedTraining`` holds views into its seeds'
        stacked parameters, and a saved view would carry every seed's storage.
        """
        return {
            "module": {name: value.clone() for name, value in self.state_dict().items()},
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers().items()},
            "generators": {name: generator.get_state() for name, generator in self.generators().items()},
        }

    def load_learner_state(self, state: dict[str, Any]) -> None:
        """Restore what ``learner_state`` returned."""
        self.load_state_dict(state["module"])
        for name, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, generator in self.generators().items():
            generator.set_state(state["generators"][name])

    @property
    def trains(self) -> bool:
        """Whether ``update`` learns anything (a learner may skip building its batches if not)."""
        return bool(self.optimizers()) or type(self).prepare_training is not Bonus.prepare_training

    def training_buffers(self) -> list[str]:
        """The buffers ``training_loss`` reads: here those of every ``RunningMeanStd`` inside the bonus."""
        return [f"{prefix}.{name}" if prefix else name for prefix, module in self.named_modules()
                if isinstance(module, RunningMeanStd) for name, _ in module.named_buffers(recurse=False)]

    def watch(self, transitions: Transitions) -> None:
        """See a batch before ``compute`` (e.g. to update observation statistics)."""

    def compute(self, transitions: Transitions) -> torch.Tensor:
        """The bonus of every transition, shape ``(T, N)``; 0 where not valid."""
        raise NotImplementedError

    def prepare_training(self, transitions: Transitions) -> None:
        """Fold a training batch's valid rows into the statistics ``training_loss`` reads."""

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of the batch's valid rows, differentiable in the bonus's parameters, and metrics to log.

        A pure function of the parameters, the ``training_buffers`` and the batch (masked means, no
        indexing by ``valid``, no random draws: draw them in ``prepare_training``), so that
        ``SeedBatchedTraining`` can evaluate it for many seeds at once. Bonuses without an optimiser
        never have it called.
        """
        raise NotImplementedError

    def update(self, transitions: Transitions) -> dict[str, float]:
        """Train on the batch's valid rows: ``prepare_training``, then one step of every optimiser on
        ``training_loss``. Returns metrics to log (none when nothing is trained or no row is valid)."""
        if not bool(transitions.valid.any()):
            return {}
        self.prepare_training(transitions)
        optimizers = self.optimizers().values()
        if not optimizers:
            return {}
        loss, metrics = self.training_loss(transitions)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        return {name: float(value) for name, value in metrics.items()}

    def episode_started(self, rows: torch.Tensor) -> None:
        """Rows ``rows`` (bool, ``(N,)``) begin new episodes."""
