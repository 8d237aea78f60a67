"""fast-ppo: PPO written on the torch batch, with seeds as a batch dimension.

Read it top to bottom as CleanRL's ``ppo.py``: the pieces (random streams, batched layers, the
agent, GAE, the loss), then ``FastPPO``, the training loop. Observations, actions, rewards and
buffers stay torch tensors on the env's device — no numpy round trip — so the same code runs on
a GPU end to end.

**Seeds as a batch dimension.** ``FastPPO(env_id, seeds=[0, …, S−1])`` trains S independent
agents in one process. Every parameter has a leading seed axis ``(S, …)`` and every layer is a
batched matrix product (``torch.baddbmm``; convolutions are grouped by seed), so S agents cost one
computation. Each loss is a per-seed mean and the total is their sum, so gradients never mix;
Adam is elementwise and gradient clipping is per seed, so each seed's update is exactly the
update it would make alone. Each seed has its own random stream (``SeedRandom``: a counter-based
hash of the seed, independent of S), its own bonus model, count table and normalisers
(``IntrinsicStream``; the S bonus models take each training step together, as one batched
computation: ``SeedBatchedTraining``), and its own env seeds, disjoint from every other run seed's
(``env_seeds``). Seed k of an S-seed run therefore equals seed k trained alone: in float64 to
rounding (tested), in float32 up to the last bits of batched matrix products, which drift apart
over training as float32 runs of different batch sizes do.

**Autoreset, exactly.** The env runs in SAME_STEP mode: every step is a transition, and where a
row's episode ended the env hands back the true final observation. A terminated step's target is
its reward; a truncated step's target bootstraps from V(final observation) — folded into the
reward as ``r + γ·V(s_final)`` — and no advantage flows across the boundary.

**Intrinsic bonuses, as their papers train them.** The bonus is computed during the rollout
without gradients; its model is trained on the rollout's minibatches inside the PPO epochs, on a
random ``bonus_update_proportion`` of each (RND: 0.25). An episodic bonus (E3B, NGU, episodic
counts) joins the extrinsic reward on one value head; a global one (RND, counts, NovelD) has its
own value head with discount ``gamma_intrinsic`` and no episode boundaries, and the policy follows
``ext_coef·A_E + int_coef·A_I`` (``int_coef`` is the run's ``bonus_coef``). Intrinsic rewards are
divided by the running std of their discounted return.

Spaces: Discrete, MultiDiscrete and Box actions (Box: a Gaussian with a state-independent
log-std, sampled unbounded and clipped to the space on the way to the env); Box and Dict
observations (flattened, Dict keys in sorted order), image-like ``(C, H, W)`` observations
through a small CNN (``encoder="cnn"``); action masks from ``info["action_mask"]`` (masked
logits); ``frame_stack`` for partially observed envs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import nn

from rewardgym.core.random import MASK32, combine, seed_keys
from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.core.vector_env import TorchVectorEnv
from rewardgym.wrappers.intrinsic import BONUSES, IntrinsicStream
from rewardgym.wrappers.intrinsic.base import Transitions, flatten_observation
from rewardgym.wrappers.intrinsic.seed_batch import SeedBatchedTraining, optimizer_state_of_seed, stack_optimizer_states

Tensor = torch.Tensor

#: Env seeds of one run seed: ``run_seed · 2**32 + restart · 2**24 + row``, so no two run seeds (nor
#: two restarts of one run) share an env seed while rows stay below 2**24 and restarts below 2**8.
ROW_BITS, RESTART_BITS = 24, 8


def env_seeds(run_seed: int, num_envs: int, restart: int = 0) -> list[int]:
    """The env seeds of run seed ``run_seed``'s ``num_envs`` rows (``restart``: how many times the run resumed)."""
    check_int("num_envs", num_envs, 1, 2**ROW_BITS)
    check_int("restart", restart, 0, 2**RESTART_BITS - 1)
    check_int("run seed", run_seed, 0, 2**31 - 1)
    first = ((run_seed << RESTART_BITS) + restart) << ROW_BITS
    return list(range(first, first + num_envs))


# -- random numbers: one stream per seed --------------------------------------------------------


class SeedRandom:
    """Random numbers for S seeds at once, one independent stream per seed.

    Draw ``i`` of call ``c`` for seed ``k`` is a hash of (seed k, c, i) (the env's counter-based
    hash, ``rewardgym.core.random``): what a seed draws does not depend on the other seeds, on S,
    or on the device. ``calls`` is the whole state.
    """

    def __init__(self, seeds: Sequence[int], device: torch.device):
        self.keys = seed_keys(torch.tensor([seed + 1 for seed in seeds], dtype=torch.int64, device=device))
        self.calls = 0

    def uniform(self, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """``(S, *shape)`` values uniform in the open interval (0, 1)."""
        self.calls += 1
        base = combine(self.keys, self.calls & MASK32).unsqueeze(1)
        index = torch.arange(math.prod(shape), dtype=torch.int64, device=self.keys.device)
        bits = combine(base, index) >> 8  # 24 bits
        return ((bits.to(dtype) + 0.5) / (1 << 24)).reshape(len(self.keys), *shape)

    def normal(self, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """``(S, *shape)`` standard normal values (Box–Muller)."""
        u1, u2 = self.uniform(*shape, dtype=dtype), self.uniform(*shape, dtype=dtype)
        return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)

    def permutations(self, n: int) -> Tensor:
        """``(S, n)``: an independent random permutation of ``range(n)`` per seed."""
        return torch.argsort(self.uniform(n, dtype=torch.float64), dim=1)


def seeded_generator(seed: int, purpose: int) -> torch.Generator:
    """A CPU generator for one seed and one purpose (a layer's initial weights, say)."""
    return torch.Generator().manual_seed(int(combine(torch.tensor(seed), purpose)) * 1_000_003 + purpose)


# -- layers batched over seeds ------------------------------------------------------------------


class SeedLinear(nn.Module):
    """S independent linear layers: ``(S, B, inputs) -> (S, B, outputs)``, one batched matmul.

    Seed k's weights are initialised (orthogonal, with ``gain``; zero bias, as CleanRL) from a
    generator of (seed k, ``layer``), whatever the other seeds are.
    """

    def __init__(self, seeds: Sequence[int], layer: int, inputs: int, outputs: int, gain: float, dtype: torch.dtype):
        super().__init__()
        weights = []
        for seed in seeds:
            weight = torch.empty(outputs, inputs, dtype=torch.float64)
            nn.init.orthogonal_(weight, gain, generator=seeded_generator(seed, layer))
            weights.append(weight.T)
        self.weight = nn.Parameter(torch.stack(weights).to(dtype))
        self.bias = nn.Parameter(torch.zeros(len(seeds), 1, outputs, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class SeedConv(nn.Module):
    """S independent 2-D convolutions, grouped by seed: ``(S, B, C, H, W) -> (S, B, C', H', W')``."""

    def __init__(self, seeds: Sequence[int], layer: int, channels: int, out_channels: int, kernel: int, stride: int,
                 dtype: torch.dtype):
        super().__init__()
        weights = []
        for seed in seeds:
            weight = torch.empty(out_channels, channels, kernel, kernel, dtype=torch.float64)
            nn.init.orthogonal_(weight, math.sqrt(2), generator=seeded_generator(seed, layer))
            weights.append(weight)
        self.stride = stride
        self.weight = nn.Parameter(torch.stack(weights).to(dtype))  # (S, out, C, k, k): the seed leads, as everywhere
        self.bias = nn.Parameter(torch.zeros(len(seeds), out_channels, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        seeds, batch = x.shape[:2]
        grouped = x.transpose(0, 1).reshape(batch, seeds * x.shape[2], *x.shape[3:])
        out = nn.functional.conv2d(grouped, self.weight.flatten(0, 1), self.bias.flatten(), stride=self.stride,
                                   groups=seeds)
        return out.reshape(batch, seeds, -1, *out.shape[2:]).transpose(0, 1)


# -- the agent ----------------------------------------------------------------------------------


class ActionHead:
    """How actions of one space come out of the policy's outputs: sizes, sampling, log-probs, entropy."""

    def __init__(self, space: spaces.Space):
        if isinstance(space, spaces.Discrete):
            self.kind, self.sizes = "categorical", [int(space.n)]
        elif isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
            self.kind, self.sizes = "categorical", [int(n) for n in space.nvec]
        elif isinstance(space, spaces.Box) and len(space.shape) == 1 and np.all(np.isfinite(space.low)) and np.all(
                np.isfinite(space.high)):
            self.kind, self.sizes = "gaussian", [int(space.shape[0])]
            self.low, self.high = torch.as_tensor(space.low), torch.as_tensor(space.high)
        else:
            raise ValueError(f"fast-ppo supports Discrete, 1-D MultiDiscrete and bounded 1-D Box actions, got {space}")
        self.space = space
        self.outputs = sum(self.sizes)
        self.multi = isinstance(space, spaces.MultiDiscrete)

    def _logits(self, outputs: Tensor, mask: Tensor | None) -> list[Tensor]:
        if mask is not None:
            outputs = torch.where(mask, outputs, torch.finfo(outputs.dtype).min)
        return [logits.log_softmax(-1) for logits in outputs.split(self.sizes, dim=-1)]

    def sample(self, outputs: Tensor, log_std: Tensor, mask: Tensor | None, random: SeedRandom,
               greedy: bool = False) -> tuple[Tensor, Tensor]:
        """Actions ``(S, B)`` or ``(S, B, K)`` from the policy outputs ``(S, B, outputs)``, and their log-probabilities.

        Categorical actions are drawn by inverting the CDF with one uniform number per row and
        component (cheaper than Gumbel noise over every action of a large space).
        """
        if self.kind == "gaussian":
            actions = outputs if greedy else outputs + log_std.exp() * random.normal(*outputs.shape[1:],
                                                                                      dtype=outputs.dtype)
            return actions, self.log_prob_and_entropy(outputs, log_std, mask, actions)[0]
        parts, log_prob = [], 0.0
        for log_p in self._logits(outputs, mask):
            if greedy:
                action = log_p.argmax(-1)
            else:
                cdf = log_p.exp().cumsum(-1)
                u = random.uniform(*log_p.shape[1:-1], 1, dtype=log_p.dtype) * cdf[..., -1:]
                action = torch.searchsorted(cdf, u).squeeze(-1).clamp(max=log_p.shape[-1] - 1)
            parts.append(action)
            log_prob = log_prob + log_p.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        return (torch.stack(parts, -1) if self.multi else parts[0]), log_prob

    def log_prob_and_entropy(self, outputs: Tensor, log_std: Tensor, mask: Tensor | None,
                             actions: Tensor) -> tuple[Tensor, Tensor]:
        """The log-probability of ``actions`` and the policy's entropy, each ``(S, B)``."""
        if self.kind == "gaussian":
            log_std = log_std.expand_as(outputs)
            z = (actions - outputs) / log_std.exp()
            log_prob = (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
            return log_prob, (log_std + 0.5 + 0.5 * math.log(2 * math.pi)).sum(-1)
        chosen = actions.long() if self.multi else actions.long().unsqueeze(-1)  # (S, B, components)
        log_prob = entropy = 0.0
        for index, log_p in enumerate(self._logits(outputs, mask)):
            log_prob = log_prob + log_p.gather(-1, chosen[..., index : index + 1]).squeeze(-1)
            entropy = entropy - (log_p.exp() * log_p).sum(-1)
        return log_prob, entropy

    def to_env(self, actions: Tensor) -> Tensor:
        """Actions as the env takes them (Box: clipped to the bounds, in the space's dtype)."""
        if self.kind == "gaussian":
            low, high = self.low.to(actions.device), self.high.to(actions.device)
            return torch.maximum(torch.minimum(actions, high), low).to(torch.float32)
        return actions


ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class SeedAgent(nn.Module):
    """S actor-critics: observation → trunk → policy outputs, and → (the same or a second) trunk → value heads.

    A trunk is an MLP over flattened features (``encoder="mlp"``) or a small CNN over ``(C, H, W)``
    images followed by the hidden layers (``encoder="cnn"``). ``shared_trunk=False`` gives the critic
    a trunk of its own, as SB3's ``MlpPolicy`` does. ``activation`` follows each hidden layer (tanh
    as in CleanRL and SB3; ReLU is several times cheaper on a CPU). ``value_heads`` is 1
    (extrinsic) or 2 (extrinsic, intrinsic).
    """

    def __init__(self, seeds: Sequence[int], observation_shape: tuple[int, ...], head: ActionHead,
                 hidden: Sequence[int],
                 encoder: str, value_heads: int, dtype: torch.dtype, shared_trunk: bool = True,
                 activation: str = "tanh"):
        super().__init__()
        self.head = head
        layout = (seeds, observation_shape, hidden, encoder, ACTIVATIONS[activation], dtype)
        self.trunk, size = self._trunk(*layout, first_layer=0)
        self.critic_trunk = None if shared_trunk else self._trunk(*layout, first_layer=200)[0]
        self.policy = SeedLinear(seeds, 50, size, head.outputs, 0.01, dtype)
        self.values = SeedLinear(seeds, 60, size, value_heads, 1.0, dtype)
        self.log_std = nn.Parameter(torch.zeros(len(seeds), 1, head.outputs, dtype=dtype))

    @staticmethod
    def _trunk(seeds: Sequence[int], observation_shape: tuple[int, ...], hidden: Sequence[int], encoder: str,
               activation: type[nn.Module], dtype: torch.dtype, first_layer: int) -> tuple[nn.Sequential, int]:
        """The layers from an observation to the last hidden features, and the features' size."""
        layers: list[nn.Module] = []
        if encoder == "cnn":
            channels, height, width = observation_shape
            for index, (out_channels, kernel, stride) in enumerate([(32, 3, 1), (64, 3, 2)]):
                layers += [SeedConv(seeds, first_layer + 100 + index, channels, out_channels, kernel, stride, dtype),
                           nn.ReLU()]
                channels, height, width = out_channels, (height - kernel) // stride + 1, (width - kernel) // stride + 1
            size = channels * height * width
        else:
            size = int(np.prod(observation_shape))
        layers.append(nn.Flatten(2))
        for index, width in enumerate(hidden):
            layers += [SeedLinear(seeds, first_layer + index, size, width, math.sqrt(2), dtype), activation()]
            size = width
        return nn.Sequential(*layers), size

    def forward(self, observation: Tensor) -> tuple[Tensor, Tensor]:
        """Policy outputs ``(S, B, outputs)`` and values ``(S, B, value_heads)``."""
        features = self.trunk(observation)
        critic_features = features if self.critic_trunk is None else self.critic_trunk(observation)
        return self.policy(features), self.values(critic_features)

    def value(self, observation: Tensor) -> Tensor:
        return self.values((self.trunk if self.critic_trunk is None else self.critic_trunk)(observation))


# -- the algorithm's pieces ---------------------------------------------------------------------


def gae(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float) -> Tensor:
    """Generalised advantage estimates ``(T, ...)``.

    ``dones[t]``: no value flows from step t+1 back into step t (the episode ended at t; a
    truncated step's bootstrap is already in its reward). ``last_value``: V of the state after
    the last step.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        continues = (~dones[t]).to(rewards.dtype)
        delta = rewards[t] + gamma * next_value * continues - values[t]
        running = delta + gamma * lam * continues * running
        advantages[t] = running
        next_value = values[t]
    return advantages


def clipped_policy_loss(log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, clip: float) -> Tensor:
    """PPO's clipped surrogate, per seed: ``mean_b max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))`` over the last axis."""
    ratio = (log_prob - old_log_prob).exp()
    return torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip)).mean(-1)


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, clip: float | None) -> Tensor:
    """The value loss per seed, summed over the value heads (the last axis), as CleanRL's RND sums its
    extrinsic and intrinsic losses: ``½ mean_b (V − R)²``, or with ``clip`` CleanRL's clipped form
    ``½ mean_b max((V − R)², (V_old + clip(V − V_old, ±clip) − R)²)``."""
    squared = (values - returns).square()
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        squared = torch.maximum(squared, (clipped - returns).square())
    return 0.5 * squared.mean(1).sum(-1)


def normalize_per_seed(x: Tensor) -> Tensor:
    """Standardise ``(S, B)`` values within each seed."""
    return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-8)


def clip_grad_norm_per_seed(parameters: Sequence[nn.Parameter], max_norm: float) -> Tensor:
    """``clip_grad_norm_`` for each seed alone: the leading axis of every parameter is the seed."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norms = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms


# -- configuration ------------------------------------------------------------------------------


@dataclass
class FastPPOConfig:
    """fast-ppo's hyperparameters (``agents/hyperparams/fast-ppo.yaml`` sets them per env id).

    Sizes are per seed: each seed plays ``num_envs`` envs for ``num_steps`` steps per rollout,
    split into ``num_minibatches`` minibatches for ``update_epochs`` epochs.
    """

    num_envs: int = 64
    num_steps: int = 32
    num_minibatches: int = 4
    update_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    clip_value_loss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    shared_trunk: bool = True
    activation: str = "tanh"
    encoder: str = "mlp"
    frame_stack: int = 1
    ext_coef: float = 1.0
    gamma_intrinsic: float = 0.99
    bonus_update_proportion: float = 0.25
    dtype: str = "float32"
    compile_head: bool = False

    def __post_init__(self) -> None:
        for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs", "frame_stack"):
            check_int(name, getattr(self, name), 1)
        check_int("num_envs", self.num_envs, 1, 2**ROW_BITS)
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(f"num_envs × num_steps ({self.num_envs * self.num_steps}) must be divisible by "
                             f"num_minibatches ({self.num_minibatches})")
        for name in ("learning_rate", "clip_coef", "max_grad_norm"):
            check_float(name, getattr(self, name), 1e-12, 1e6)
        for name in ("gamma", "gae_lambda", "gamma_intrinsic", "bonus_update_proportion"):
            check_float(name, getattr(self, name), 0.0, 1.0)
        for name in ("ent_coef", "vf_coef", "ext_coef"):
            check_float(name, getattr(self, name), 0.0, 1e6)
        if not self.hidden or any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of positive ints, got {self.hidden!r}")
        check_choice("encoder", self.encoder, ("mlp", "cnn"))
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_choice("dtype", self.dtype, ("float32", "float64"))
        if not isinstance(self.compile_head, bool):
            raise ValueError(f"compile_head must be a bool, got {self.compile_head!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FastPPOConfig:
        """A config from a mapping; an unknown key is a ``ValueError`` that names it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fast-ppo hyperparameters {unknown}; known: {sorted(known)}")
        return cls(**values)


# -- the training loop --------------------------------------------------------------------------


@dataclass
class Rollout:
    """One rollout of every seed: tensors ``(T, S, n, ...)``."""

    obs: Tensor  # what the policy saw (stacked frames)
    features: Tensor  # the raw observation features s_t, for the bonus
    next_features: Tensor  # the true s_{t+1}, before any reset
    actions: Tensor
    log_probs: Tensor
    values: Tensor  # (T, S, n, heads)
    rewards: Tensor  # extrinsic, truncation bootstrap included
    terminated: Tensor
    truncated: Tensor
    masks: Tensor | None


class FastPPO:
    """S seeds of PPO on one batch of ``S · num_envs`` envs.

    Args:
        env: a registered rewardgym id (its ``TorchVectorEnv`` is made here, with ``reward``,
            ``env_kwargs`` and ``device``), or a ``TorchVectorEnv`` of ``S · num_envs`` rows in SAME_STEP
            autoreset mode; seed k plays rows ``k·num_envs … (k+1)·num_envs − 1``.
        seeds: the run seeds, one agent each.
        config: the hyperparameters.
        reward: the env's reward variant (``"sparse"``, ``"shaped"``, …); shaping uses ``config.gamma``
            (an id only).
        bonus: an intrinsic bonus name from ``BONUSES``, or None.
        bonus_coef: the weight of the normalised bonus (``int_coef``).
        env_kwargs: the env's own arguments (an id only).
        device: where envs and agents run (an id only; an env instance brings its own).
        restart: how many times the run was resumed (picks fresh env seeds, see ``env_seeds``).

    ``train(steps)`` runs until every seed has taken ``steps`` env steps; ``state_dict(k)`` is seed
    k's whole learner state, ``load_state_dict(states)`` restores every seed from its own.
    """

    def __init__(self, env: str | TorchVectorEnv, seeds: Sequence[int], config: FastPPOConfig | None = None, *,
                 reward: str = "sparse", bonus: str | None = None, bonus_coef: float = 0.01,
                 env_kwargs: dict[str, Any] | None = None, device: str | torch.device = "cpu", restart: int = 0):
        self.config = config = config or FastPPOConfig()
        self.seeds = [int(s) for s in seeds]
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {list(seeds)}")
        if bonus is not None and bonus not in BONUSES:
            raise ValueError(f"bonus must be one of {sorted(BONUSES)}, got {bonus!r}")
        self.dtype = getattr(torch, config.dtype)
        self.n = config.num_envs
        S = len(self.seeds)
        if isinstance(env, str):
            env = gym.make_vec(env, num_envs=S * self.n, vectorization_mode="vector_entry_point",
                               autoreset_mode="SameStep", reward=reward, gamma=config.gamma, device=device,
                               **(env_kwargs or {}))
        elif not isinstance(env, TorchVectorEnv) or env.num_envs != S * self.n or (
                env.autoreset_mode != AutoresetMode.SAME_STEP):
            raise ValueError(f"fast-ppo needs an env id or a TorchVectorEnv of {S} × {self.n} rows in SAME_STEP "
                             f"autoreset mode, got {env!r}")
        self.env = env
        self.device = env.device
        self.head = ActionHead(self.env.single_action_space)
        # A large (masked) categorical head is memory-bound elementwise work that compiling fuses.
        self._log_prob_and_entropy = (torch.compile(self.head.log_prob_and_entropy) if config.compile_head
                                      else self.head.log_prob_and_entropy)
        observation_space = self.env.single_observation_space
        self.frame_shape = self._frame_shape(observation_space, config.encoder)

        self.bonus_coef = check_float("bonus_coef", bonus_coef, -1e6, 1e6)
        self.streams = [self._stream(bonus, seed) for seed in self.seeds] if bonus else []
        self.global_bonus = bool(self.streams) and not self.streams[0].episodic
        self.bonus_training = (SeedBatchedTraining([stream.bonus for stream in self.streams])
                               if self.streams and self.streams[0].bonus.trains else None)
        with torch.random.fork_rng(devices=[]):  # the agent's weights come from per-seed generators only
            self.agent = SeedAgent(self.seeds, self.stacked_shape(), self.head, config.hidden, config.encoder,
                                   2 if self.global_bonus else 1, self.dtype, config.shared_trunk,
                                   config.activation).to(self.device)
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config.learning_rate, eps=1e-5)
        self.random = SeedRandom(self.seeds, self.device)
        self.env_steps = 0  # per seed
        self.updates = 0

        self._restart_envs(restart)
        self.episode_return = torch.zeros(S, self.n, device=self.device)
        self._ended = self._no_episodes()  # per seed: episodes ended since the last log, their return and success

    def _no_episodes(self) -> dict[str, Tensor]:
        return {name: torch.zeros(len(self.seeds), device=self.device) for name in ("episodes", "return", "success")}

    @staticmethod
    def _frame_shape(space: spaces.Space, encoder: str) -> tuple[int, ...]:
        if encoder == "cnn":
            if not (isinstance(space, spaces.Box) and len(space.shape) == 3):
                raise ValueError(f"encoder='cnn' needs (C, H, W) Box observations, got {space}")
            return tuple(space.shape)
        if not isinstance(space, (spaces.Box, spaces.Dict)):
            raise ValueError(f"fast-ppo supports Box and Dict observations, got {space}")
        if isinstance(space, spaces.Dict) and not all(isinstance(s, spaces.Box) for s in space.spaces.values()):
            raise ValueError(f"fast-ppo supports Dict observations of Box spaces, got {space}")
        return (int(sum(np.prod(s.shape) for s in (space.spaces.values() if isinstance(space, spaces.Dict)
                                                    else [space]))),)

    def _stream(self, bonus: str, seed: int) -> IntrinsicStream:
        """Seed ``seed``'s own bonus (built for its ``num_envs`` rows) as an intrinsic stream."""
        view = _EnvView(self.env.single_observation_space, self.env.single_action_space, self.n, self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 7919 + 17)  # the bonus's initial weights, whatever other seeds exist
            model = BONUSES[bonus](view)
        gamma = self.config.gamma if model.episodic else self.config.gamma_intrinsic
        return IntrinsicStream(model, coef=self.bonus_coef, normalize="return", gamma=gamma,
                               update_proportion=self.config.bonus_update_proportion, seed=seed)

    # -- env plumbing --

    def _restart_envs(self, restart: int) -> None:
        """Start every row's episode from the run seeds' env seeds for this restart."""
        seeds = [s for run_seed in self.seeds for s in env_seeds(run_seed, self.n, restart)]
        observation, info = self.env.reset(seed=seeds)
        self.features = self.frames(observation)
        self.stack = torch.zeros(len(self.seeds), self.n, *self.stacked_shape(), dtype=self.dtype, device=self.device)
        self.stack = self.push(self.stack, self.features, torch.ones(len(self.seeds), self.n, dtype=torch.bool,
                                                                       device=self.device))
        self.mask = self._mask(info)
        for stream in self.streams:
            stream.bonus.episode_started(torch.ones(self.n, dtype=torch.bool, device=self.device))

    def stacked_shape(self) -> tuple[int, ...]:
        return (self.frame_shape[0] * self.config.frame_stack, *self.frame_shape[1:])

    def frames(self, observation: Any, groups: int | None = None) -> Tensor:
        """Env observations ``(S·m, ...)`` as per-seed frames ``(S, m, *frame_shape)`` (``groups``: S; all seeds)."""
        flat = flatten_observation(observation) if self.config.encoder == "mlp" else observation
        return flat.to(self.device, self.dtype).reshape(groups or len(self.seeds), -1, *self.frame_shape)

    def push(self, stack: Tensor, frame: Tensor, started: Tensor) -> Tensor:
        """The frame stack after seeing ``frame``; rows that ``started`` an episode forget earlier frames."""
        if self.config.frame_stack == 1:
            return frame
        size = self.frame_shape[0]
        kept = stack[:, :, size:] * (~started).view(*started.shape, *([1] * (stack.dim() - 2)))
        return torch.cat([kept, frame], dim=2)

    def _mask(self, info: dict[str, Any]) -> Tensor | None:
        mask = info.get("action_mask")
        return None if mask is None else mask.reshape(len(self.seeds), self.n, -1)

    def _per_seed(self, x: Tensor) -> Tensor:
        return x.reshape(len(self.seeds), self.n, *x.shape[1:])

    # -- rollout --

    @torch.no_grad()
    def collect(self) -> Rollout:
        """Play ``num_steps`` steps of every row with the current policies."""
        T, S, n = self.config.num_steps, len(self.seeds), self.n
        steps: dict[str, list[Tensor]] = {name: [] for name in (
            "obs", "features", "next_features", "actions", "log_probs", "values", "rewards", "terminated",
            "truncated", "masks")}
        for _ in range(T):
            outputs, values = self.agent(self.stack)
            actions, log_probs = self.head.sample(outputs, self.agent.log_std, self.mask, self.random)
            env_actions = self.head.to_env(actions).reshape(S * n, *actions.shape[2:])
            observation, reward, terminated, truncated, info = self.env.step(env_actions)
            reward, terminated, truncated = (self._per_seed(x) for x in (reward, terminated, truncated))
            done = terminated | truncated
            next_features = self.frames(observation)
            final_stack = self.stack
            if bool(done.any()):
                final = self.frames(info["final_obs"])
                true_next = torch.where(done.view(S, n, *([1] * len(self.frame_shape))), final, next_features)
                final_stack = self.push(self.stack, final, torch.zeros_like(done))
            else:
                true_next = next_features
            self._record_episodes(reward, done, self._per_seed(info["success"]))
            if bool(truncated.any()):  # bootstrap a cut episode from V(its final observation)
                reward = reward + self.config.gamma * torch.where(
                    truncated, self._value_of_rows(final_stack, truncated)[..., 0], 0.0)

            for name, value in (("obs", self.stack), ("features", self.features), ("next_features", true_next),
                                ("actions", actions), ("log_probs", log_probs), ("values", values),
                                ("rewards", reward.to(self.dtype)), ("terminated", terminated),
                                ("truncated", truncated), ("masks", self.mask)):
                steps[name].append(value)
            self.stack = self.push(self.stack, next_features, done)
            self.features = next_features
            self.mask = self._mask(info)
        self.env_steps += T * n
        stacked = {name: torch.stack(values) if values[0] is not None else None for name, values in steps.items()}
        return Rollout(**stacked)

    def _value_of_rows(self, stack: Tensor, rows: Tensor) -> Tensor:
        """V of ``stack`` in ``rows`` (S, n) only, other rows 0; evaluates max_k |rows_k| rows per seed."""
        order = torch.argsort((~rows).to(torch.int8), dim=1, stable=True)
        width = int(rows.sum(1).max())
        chosen = order[:, :width]
        gathered = stack.gather(1, chosen.view(*chosen.shape, *([1] * (stack.dim() - 2))).expand(
            *chosen.shape, *stack.shape[2:]))
        values = torch.zeros(*rows.shape, self.agent.values.bias.shape[-1], dtype=self.dtype, device=self.device)
        values.scatter_(1, chosen.unsqueeze(-1).expand(-1, -1, values.shape[-1]), self.agent.value(gathered))
        return values

    def _record_episodes(self, reward: Tensor, done: Tensor, success: Tensor) -> None:
        self.episode_return += reward.float()
        ended = done.float()
        self._ended["episodes"] += ended.sum(1)
        self._ended["return"] += (self.episode_return * ended).sum(1)
        self._ended["success"] += (success.float() * ended).sum(1)
        self.episode_return = torch.where(done, 0.0, self.episode_return)

    # -- advantages --

    def advantages(self, rollout: Rollout) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Advantages ``(T, S, n)`` for the policy, returns ``(T, S, n, heads)`` for the value heads, bonus stats."""
        c = self.config
        with torch.no_grad():
            last_values = self.agent.value(self.stack)
        dones = rollout.terminated | rollout.truncated
        rewards = rollout.rewards
        stats: dict[str, Tensor] = {}
        intrinsic = None
        if self.streams:
            raw, intrinsic = self._intrinsic_rewards(rollout)
            stats = {"bonus_mean": raw.mean((0, 2)), "intrinsic_reward_mean": intrinsic.mean((0, 2))}
            if not self.global_bonus:
                rewards = rewards + intrinsic
        extrinsic = gae(rewards, rollout.values[..., 0], dones, last_values[..., 0], c.gamma, c.gae_lambda)
        returns = [extrinsic + rollout.values[..., 0]]
        advantages = extrinsic
        if self.global_bonus:  # the intrinsic stream runs on through episode ends
            inner = gae(intrinsic, rollout.values[..., 1], torch.zeros_like(dones), last_values[..., 1],
                        c.gamma_intrinsic, c.gae_lambda)
            returns.append(inner + rollout.values[..., 1])
            advantages = c.ext_coef * extrinsic + inner
        return advantages, torch.stack(returns, -1), stats

    def _intrinsic_rewards(self, rollout: Rollout) -> tuple[Tensor, Tensor]:
        """The raw and scaled bonus ``(T, S, n)`` of every step, seed by seed (each seed has its own bonus)."""
        raw, scaled = [], []
        for k, stream in enumerate(self.streams):
            transitions = self._transitions(rollout, k)
            bonus = stream.bonus_of(transitions)
            raw.append(bonus)
            scaled.append(stream.scale(bonus, transitions.done, transitions.valid))
        return torch.stack(raw, 1).to(self.dtype), torch.stack(scaled, 1).to(self.dtype)

    def _transitions(self, rollout: Rollout, seed_index: int) -> Transitions:
        """Seed ``seed_index``'s transitions as a bonus takes them: all ``(T, n)`` in time order."""
        def part(x: Tensor) -> Tensor:
            return x[:, seed_index]

        terminated = part(rollout.terminated)
        return Transitions(obs=part(rollout.features.flatten(3)).float(),
                           action=self.head.to_env(part(rollout.actions)),
                           next_obs=part(rollout.next_features.flatten(3)).float(), terminated=terminated,
                           truncated=part(rollout.truncated), valid=torch.ones_like(terminated))

    # -- update --

    def update(self, rollout: Rollout) -> dict[str, Tensor]:
        """``update_epochs`` epochs of minibatch PPO steps on the rollout; returns per-seed metrics."""
        c = self.config
        advantages, returns, stats = self.advantages(rollout)
        S, batch = len(self.seeds), c.num_steps * self.n

        def flat(x: Tensor | None) -> Tensor | None:  # (T, S, n, ...) -> (S, T·n, ...)
            return None if x is None else x.transpose(0, 1).flatten(1, 2)

        obs, actions, old_log_probs, old_values = (flat(x) for x in (
            rollout.obs, rollout.actions, rollout.log_probs, rollout.values))
        masks, advantages, returns = flat(rollout.masks), flat(advantages), flat(returns)
        seeds_index = torch.arange(S, device=self.device).unsqueeze(1)
        bonus_steps = self._bonus_steps(rollout) if self.bonus_training is not None else None
        metrics: dict[str, list[Tensor]] = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [],
                                            "clip_fraction": []}
        for _ in range(c.update_epochs):
            permutation = self.random.permutations(batch).to(self.device)
            for rows in permutation.split(batch // c.num_minibatches, dim=1):
                pick = (seeds_index, rows)
                outputs, values = self.agent(obs[pick])
                log_prob, entropy = self._log_prob_and_entropy(
                    outputs, self.agent.log_std, None if masks is None else masks[pick], actions[pick])
                policy_loss = clipped_policy_loss(log_prob, old_log_probs[pick], normalize_per_seed(advantages[pick]),
                                                  c.clip_coef)
                critic_loss = value_loss(values, old_values[pick], returns[pick],
                                         c.clip_coef if c.clip_value_loss else None)
                loss = (policy_loss - c.ent_coef * entropy.mean(1) + c.vf_coef * critic_loss).sum()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                clip_grad_norm_per_seed(list(self.agent.parameters()), c.max_grad_norm)
                self.optimizer.step()
                if bonus_steps is not None:
                    self._train_bonuses(bonus_steps, pick)
                with torch.no_grad():
                    log_ratio = log_prob - old_log_probs[pick]
                    metrics["approx_kl"].append(((log_ratio.exp() - 1) - log_ratio).mean(1))
                    metrics["clip_fraction"].append(((log_ratio.exp() - 1).abs() > c.clip_coef).float().mean(1))
                metrics["policy_loss"].append(policy_loss.detach())
                metrics["value_loss"].append(critic_loss.detach())
                metrics["entropy"].append(entropy.detach().mean(1))
        self.updates += 1
        return {**{name: torch.stack(values).mean(0) for name, values in metrics.items()}, **stats}

    def _bonus_steps(self, rollout: Rollout) -> Transitions:
        """Every seed's steps as its bonus trains on them: fields ``(S, T·n, ...)``, seed k's steps in row k."""
        def flat(x: Tensor) -> Tensor:  # (T, S, n, ...) -> (S, T·n, ...)
            return x.transpose(0, 1).flatten(1, 2)

        terminated = flat(rollout.terminated)
        return Transitions(obs=flat(rollout.features).flatten(2).float(), action=self.head.to_env(flat(rollout.actions)),
                           next_obs=flat(rollout.next_features).flatten(2).float(), terminated=terminated,
                           truncated=flat(rollout.truncated), valid=torch.ones_like(terminated))

    def _train_bonuses(self, steps: Transitions, pick: tuple[Tensor, Tensor]) -> None:
        """Each seed's bonus takes one update on the transitions its stream chooses from its part of the
        minibatch (``pick`` indexes ``steps``' ``(S, T·n)``); all seeds' in one batched step."""
        minibatch = Transitions(**{f.name: getattr(steps, f.name)[pick] for f in fields(Transitions)})
        minibatch.valid = torch.stack([stream.chosen(minibatch.valid[k]) for k, stream in enumerate(self.streams)])
        self.bonus_training.step(minibatch)

    # -- the loop --

    def train(self, steps: int, on_update: Callable[[FastPPO, dict[str, Tensor]], None] | None = None) -> None:
        """Collect and update until every seed has taken ``steps`` env steps (whole rollouts)."""
        while self.env_steps < steps:
            rollout = self.collect()
            metrics = self.update(rollout)
            if on_update is not None:
                on_update(self, metrics)

    def episode_statistics(self) -> dict[str, Tensor]:
        """Per seed: episodes finished, mean return and success rate since the last call (NaN with none)."""
        ended, self._ended = self._ended, self._no_episodes()
        count = ended["episodes"]
        return {"episodes": count.cpu(), **{name: (ended[name] / count).cpu() for name in ("return", "success")}}

    # -- greedy policy --

    @torch.no_grad()
    def act(self, stack: Tensor, mask: Tensor | None = None, greedy: bool = True) -> Tensor:
        """Env actions ``(S·m, ...)`` for stacked frames ``(S, m, ...)`` (see ``frames`` and ``push``): seed k acts on
        rows k·m … (k+1)·m − 1; ``mask``: the env's ``info["action_mask"]`` ``(S·m, actions)``."""
        outputs, _ = self.agent(stack)
        if mask is not None:
            mask = mask.reshape(*stack.shape[:2], -1)
        actions, _ = self.head.sample(outputs, self.agent.log_std, mask, self.random, greedy=greedy)
        return self.head.to_env(actions).reshape(-1, *actions.shape[2:])

    # -- state --

    def state_dict(self, seed_index: int) -> dict[str, Any]:
        """Seed ``seed_index``'s whole learner state: policy, optimiser, random stream, bonus stream, counters."""
        k = seed_index
        stream = self.streams[k].state_dict() if self.streams else None
        if self.bonus_training is not None:  # the bonus's optimisers are the batched ones
            stream["bonus"]["optimizers"] = self.bonus_training.optimizer_state(k)
        return {
            "seed": self.seeds[k],
            "agent": {name: value[k].clone() for name, value in self.agent.state_dict().items()},
            "optimizer": optimizer_state_of_seed(self.optimizer.state_dict(), k),
            "random_calls": self.random.calls,
            "stream": stream,
            "env_steps": self.env_steps,
            "updates": self.updates,
        }

    def load_state_dict(self, states: Sequence[dict[str, Any]]) -> None:
        """Restore every seed from its ``state_dict`` (all seeds at the same step count)."""
        if [s["seed"] for s in states] != self.seeds:
            raise ValueError(f"states are of seeds {[s['seed'] for s in states]}, this run has {self.seeds}")
        if len({(s["env_steps"], s["updates"], s["random_calls"]) for s in states}) != 1:
            raise ValueError("the seeds' checkpoints are at different steps; resume them separately")
        self.agent.load_state_dict({name: torch.stack([s["agent"][name] for s in states])
                                    for name in self.agent.state_dict()})
        self.optimizer.load_state_dict(stack_optimizer_states([s["optimizer"] for s in states]))
        for stream, state in zip(self.streams, states):
            stream.load_state_dict(state["stream"])
        if self.bonus_training is not None:
            self.bonus_training.load_optimizer_states([s["stream"]["bonus"]["optimizers"] for s in states])
        first = states[0]
        self.random.calls, self.env_steps, self.updates = first["random_calls"], first["env_steps"], first["updates"]


class _EnvView:
    """What a bonus needs of an env (spaces, size, device), for one seed's share of the batch."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, num_envs: int,
                 device: torch.device):
        self.single_observation_space = observation_space
        self.single_action_space = action_space
        self.num_envs = num_envs
        self.device = device
