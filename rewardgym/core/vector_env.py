"""``TorchVectorEnv``: the batched env contract every rewardgym env inherits.

An env subclass writes only its own task, as batched torch code over ``num_envs`` rows:

- ``_reset(rows)``: draw a fresh start state for the rows of the bool mask ``rows``;
- ``_transition(action)``: advance every row by one step, returning the facts about the step that
  the next state alone does not show (e.g. "the diver moved right"), by name (``{}`` if none);
- ``_success(transition)``: the task's success signal per row (bool);
- ``_reward_terms(success, transition)``: the env's own reward channels (at least ``"sparse"``);
- ``_potentials()``: every task potential Φ it defines, by name;
- ``_observe()``: the observation of every row;
- ``state_fields``: the names of the attributes (batched tensors) that hold the task's state, so
  ``get_state()``/``set_state()`` cover it (``level_slots`` marks those holding level-pool slots,
  ``state_parts`` objects of batched tensors such as driving's vehicles); an env with state
  elsewhere (a physics engine) overrides ``_task_state()``/``_load_task_state()``;
- optionally ``_step_info(transition)`` (what happened this step, e.g. infractions) and ``_state_info()``
  (facts about the current state an agent may use, e.g. an action mask): extra info entries;
- ``_draw(surface, row)``: a picture of one row on a pygame surface (an env whose engine draws the
  picture itself overrides ``render_frame(row)`` instead).

This class adds, once for all envs: action validation, seeding with per-env random streams, the
internal time limit, the three gymnasium autoreset modes, potential-based shaping terms, reward
selection, the info conventions, explicit state (``get_state``/``set_state``) and rendering.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import error, spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rewardgym.core import rendering
from rewardgym.core.random import MASK32, BatchRandom, seed_keys
from rewardgym.core.state import EnvState
from rewardgym.core.validation import (
    as_action_tensor,
    as_reset_mask,
    as_rows,
    check_choice,
    check_float,
    check_int,
    check_seed,
)

MAX_NUM_ENVS = 2**24
Tensor = torch.Tensor
RewardTerms = dict[str, Tensor]
RewardFunction = Callable[[Mapping[str, Tensor]], Tensor]
Transition = dict[str, Tensor]
#: Constructor arguments that do not change what a state means (they are left out of its signature).
STATELESS_ARGUMENTS = frozenset({"num_envs", "device", "autoreset_mode", "render_mode", "max_episode_steps",
                                 "reward", "gamma"})


def potential_shaping(phi_before: Tensor, phi_after: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    """Ng et al.'s potential-based shaping F = γ·(1 − terminated)·Φ(s') − Φ(s).

    Φ of a terminal state is zero; a truncated state keeps its Φ, since the episode was only cut.
    """
    return gamma * torch.where(terminated, 0.0, phi_after) - phi_before


def zero_rows(value: Any, keep: Tensor) -> Any:
    """``value`` (a tensor or nested dict of them) with the rows where ``keep`` is False zeroed."""
    if isinstance(value, dict):
        return {name: zero_rows(item, keep) for name, item in value.items()}
    keep = keep.view(-1, *([1] * (value.dim() - 1)))
    return value & keep if value.dtype == torch.bool else value * keep


class TorchVectorEnv(VectorEnv):
    """A batch of ``num_envs`` copies of one task, simulated together with torch on ``device``.

    Observations, rewards, terminations and info values are tensors of leading size ``num_envs``
    on ``device``; actions may be tensors on any device or numpy arrays.

    Common constructor arguments (every env takes these):
        num_envs: the batch size.
        device: where the simulation runs (``"cpu"``, ``"cuda"``, ...).
        max_episode_steps: the time limit, reported as ``truncated`` (None: the env's default).
        autoreset_mode: a ``gymnasium.vector.AutoresetMode`` (or its value); NEXT_STEP by default.
        reward: ``"sparse"`` (default), ``"shaped"``, an env-specific variant, or a callable
            ``reward(terms) -> Tensor`` over the dict of reward channels.
        gamma: the discount of the potential-based shaping terms (use the agent's γ).
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.

    Info (a dict of batched tensors, gymnasium's vector convention):
        success: bool, the task's success signal this step.
        reward_terms: every reward channel the env computes, whatever ``reward`` trains on; the
            shaping term of potential ``p`` is ``shaping_p``.
        the env's own entries, from ``_step_info`` and ``_state_info`` (see its docstring).
        final_obs, final_info, _final_obs, _final_info: in SAME_STEP mode, on steps where some
            row ended, the observation and info before that row was reset.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array", "human"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    #: The names of the potentials ``_potentials`` returns; ``reward="shaped"`` uses the first,
    #: and each other one is a reward variant of its own name.
    potentials: ClassVar[tuple[str, ...]]
    #: The highest success rate a trivial policy (uniform random, or one constant action) reaches
    #: with default arguments. Above 0.10 the task's docstring must state the figure and why.
    trivial_success: ClassVar[float] = 0.10
    #: Reward variants beyond "sparse", "shaped" and the other potentials, by name.
    extra_rewards: ClassVar[dict[str, RewardFunction]] = {}
    #: Pixel size (width, height) of one rendered frame.
    frame_size: ClassVar[tuple[int, int]] = (400, 400)
    #: The attributes (batched tensors, one row per sub-env) that hold the task's state.
    state_fields: ClassVar[tuple[str, ...]] = ()
    #: Attributes holding level-pool slots, by the name of their ``LevelPool`` attribute: the state
    #: keeps level ids instead, since slots depend on the order levels were made.
    level_slots: ClassVar[dict[str, str]] = {}
    #: Attributes holding part of the state as an object of batched tensors, with ``tensors()`` (them,
    #: by name) and ``load_rows(rows, tensors)``; the state holds them as ``<attribute>.<name>``.
    state_parts: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> TorchVectorEnv:
        env = super().__new__(cls)
        # The task's constructor arguments, recorded before __init__ runs: they sign its states.
        arguments = {**cls.argument_defaults(), **kwargs}
        env._state_signature = tuple(sorted((name, repr(value)) for name, value in arguments.items()
                                            if name not in STATELESS_ARGUMENTS))
        return env

    def __init__(
        self,
        num_envs: int = 1,
        *,
        max_episode_steps: int,
        device: str | torch.device = "cpu",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        reward: str | RewardFunction = "sparse",
        gamma: float = 0.99,
        render_mode: str | None = None,
        **unknown: Any,
    ):
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}; it accepts {self.argument_names()}")
        self.num_envs = check_int("num_envs", num_envs, 1, MAX_NUM_ENVS)
        self.max_episode_steps = check_int("max_episode_steps", max_episode_steps, 1, 2**31)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0)
        try:
            self.device = torch.device(device)
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except (RuntimeError, TypeError, ValueError) as problem:
            raise ValueError(f"invalid device or autoreset_mode: {problem}") from None
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.reward_name = reward if isinstance(reward, str) else getattr(reward, "__name__", "custom")
        self._reward_function = self._select_reward(reward)

        rows = (self.num_envs,)
        self.random = BatchRandom(self.num_envs, self.device)
        self.episode = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self.elapsed = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self._needs_reset = torch.zeros(rows, dtype=torch.bool, device=self.device)
        self._phi: dict[str, Tensor] = {}
        self._was_reset = False
        self._window = rendering.HumanWindow(type(self).__name__, self.metadata["render_fps"])

    # -- what a task defines ------------------------------------------------------------------

    def _reset(self, rows: Tensor) -> None:
        raise NotImplementedError

    def _transition(self, action: Tensor) -> Transition:
        raise NotImplementedError

    def _success(self, transition: Transition) -> Tensor:
        raise NotImplementedError

    def _reward_terms(self, success: Tensor, transition: Transition) -> RewardTerms:
        return {"sparse": success.to(torch.float32)}

    def _potentials(self) -> dict[str, Tensor]:
        raise NotImplementedError

    def _observe(self) -> Tensor | dict[str, Tensor]:
        raise NotImplementedError

    def _draw(self, surface: Any, row: int) -> None:
        raise NotImplementedError

    def _step_info(self, transition: Transition) -> dict[str, Tensor]:
        """Extra info about this step's outcome, read before any autoreset (e.g. infractions)."""
        return {}

    def _state_info(self) -> dict[str, Tensor]:
        """Extra info about the state the returned observation shows (e.g. an action mask)."""
        return {}

    def _terminated(self, success: Tensor) -> Tensor:
        """Which rows end this step (not counting the time limit); success ends by default."""
        return success

    # -- set-up helpers for subclasses --------------------------------------------------------

    def _set_spaces(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.single_observation_space = observation_space
        self.single_action_space = action_space
        self.observation_space = batch_space(observation_space, self.num_envs)
        self.action_space = batch_space(action_space, self.num_envs)

    @classmethod
    def argument_names(cls) -> list[str]:
        """Every constructor keyword this env accepts, its own and its base classes'."""
        return list(cls.argument_defaults())

    @classmethod
    def argument_defaults(cls) -> dict[str, Any]:
        """Every constructor keyword this env accepts and its default (``inspect.Parameter.empty`` if none)."""
        defaults: dict[str, Any] = {}
        for klass in cls.__mro__:
            if issubclass(klass, TorchVectorEnv):
                for p in inspect.signature(klass.__init__).parameters.values():
                    if p.kind == p.KEYWORD_ONLY and p.name not in defaults:
                        defaults[p.name] = p.default
        return defaults

    @classmethod
    def reward_names(cls) -> list[str]:
        """Every named reward variant this env accepts."""
        return ["sparse", "shaped", *cls.potentials[1:], *cls.extra_rewards]

    def _select_reward(self, reward: str | RewardFunction) -> RewardFunction:
        if callable(reward):
            return reward
        check_choice("reward", reward, self.reward_names())
        if reward == "sparse":
            return lambda terms: terms["sparse"]
        if reward == "shaped" or reward in self.potentials:
            shaping = f"shaping_{self.potentials[0] if reward == 'shaped' else reward}"
            return lambda terms: terms["sparse"] + terms[shaping]
        return self.extra_rewards[reward]

    def current_potentials(self) -> dict[str, Tensor]:
        """Φ of every row's current state, for each potential the env defines."""
        return self._potentials()

    @property
    def name(self) -> str:
        """The registered id, or the class name when built directly."""
        return self.spec.id if self.spec is not None else type(self).__name__

    # -- the gymnasium vector API -------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor | dict[str, Tensor], dict[str, Any]]:
        """Reset every row, or those of ``options["reset_mask"]``; row ``i`` takes ``seed + i``."""
        seeds = check_seed(seed, self.num_envs)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"{self.name}: unknown reset options {sorted(options)}; only 'reset_mask' is known")
        rows = (
            torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
            if mask is None
            else as_reset_mask(mask, self.num_envs, self.device)
        )
        if seeds is None and not self._was_reset:
            first = int(np.random.SeedSequence().entropy % 2**62)
            seeds = [first + i for i in range(self.num_envs)]
        if seeds is not None:
            new_keys = seed_keys(torch.tensor(seeds, dtype=torch.int64, device=self.device))
            self.random.keys = torch.where(rows, new_keys, self.random.keys)
            self.episode = torch.where(rows, -1, self.episode)
        if isinstance(seed, int):
            super().reset(seed=seed)  # seeds self.np_random, as gymnasium users expect

        self._reset_rows(rows)
        self._was_reset = True
        observation = self._observe()
        self._render_human()
        return observation, self._state_info()

    def step(self, actions: Any) -> tuple[Any, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Advance every row by one step; see the class docstring for what comes back."""
        return self.step_validated(as_action_tensor(actions, self.single_action_space, self.num_envs, self.device,
                                                    self.name))

    def step_validated(self, action: Tensor) -> tuple[Any, Tensor, Tensor, Tensor, dict[str, Any]]:
        """``step`` for actions already validated by ``as_action_tensor`` (a tensor on ``device``,
        Discrete actions counted from 0): what ``SingleEnv`` calls, so one action is checked once."""
        if not self._was_reset:
            raise error.ResetNeeded(f"{self.name}: call reset() before step()")
        success, terminated, truncated, terms, transition = self._advance(action)
        reward = self._compute_reward(terms)
        outcome = {"success": success, "reward_terms": terms, **self._step_info(transition)}

        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            # Rows that ended last step are reset now, and this step does not count for them.
            restarting = self._needs_reset
            if bool(restarting.any()):
                self._reset_rows(restarting)
                keep = ~restarting
                reward = reward * keep
                terminated, truncated = terminated & keep, truncated & keep
                outcome = zero_rows(outcome, keep)
            self._needs_reset = terminated | truncated

        observation = self._observe()
        info: dict[str, Any] = {**outcome, **self._state_info()}

        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            done = terminated | truncated
            if bool(done.any()):
                self._reset_rows(done)
                info = {
                    **outcome,
                    "final_obs": observation,
                    "final_info": info,
                    "_final_obs": done,
                    "_final_info": done,
                }
                observation = self._observe()
                info.update(self._state_info())

        self._render_human()
        return observation, reward, terminated, truncated, info

    def _advance(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, RewardTerms, Transition]:
        """The per-step core every row runs: the transition, success, ends, reward channels and Φ.

        Pure tensor code with static shapes and no host synchronisation, so it compiles as one
        graph (``torch.compile(env._advance, fullgraph=True)``; ``tests/core/test_compile.py``).
        Returns ``(success, terminated, truncated, reward terms, transition facts)``.
        """
        self.random.start(self.episode, self.elapsed)
        transition = self._transition(action)
        self.elapsed = self.elapsed + 1  # a new tensor: the random streams hold the old one as their address
        success = self._success(transition)
        terminated = self._terminated(success)
        truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        terms = self._reward_terms(success, transition)
        phi = self._potentials()
        for name, value in phi.items():
            terms[f"shaping_{name}"] = potential_shaping(self._phi[name], value, terminated, self.gamma)
        self._phi = phi
        return success, terminated, truncated, terms, transition

    def _reset_rows(self, rows: Tensor) -> None:
        """Start a new episode in the masked rows: counters, random streams, task state, Φ."""
        self.episode = torch.where(rows, self.episode + 1, self.episode)
        self.elapsed = torch.where(rows, 0, self.elapsed)
        self._needs_reset = self._needs_reset & ~rows
        self.random.start(self.episode, (self.elapsed - 1) & MASK32)  # step "-1": the reset's draws
        self._reset(rows)
        phi = self._potentials()
        self._phi = {name: torch.where(rows, value, self._phi.get(name, value)) for name, value in phi.items()}

    def _compute_reward(self, terms: RewardTerms) -> Tensor:
        reward = self._reward_function(terms)
        if not isinstance(reward, Tensor) or reward.shape != (self.num_envs,):
            raise ValueError(
                f"{self.name}: reward={self.reward_name!r} must return a tensor of shape ({self.num_envs},), "
                f"got {type(reward).__name__} {getattr(reward, 'shape', '')}"
            )
        return reward.to(torch.float32)

    # -- explicit state -----------------------------------------------------------------------

    def get_state(self) -> EnvState:
        """The whole state of every row: a copy, unaffected by later steps (see ``EnvState``)."""
        if not self._was_reset:
            raise error.ResetNeeded(f"{self.name}: call reset() before get_state()")
        tensors = {"core.random_keys": self.random.keys, "core.episode": self.episode, "core.elapsed": self.elapsed,
                   "core.needs_reset": self._needs_reset,
                   **{f"core.phi.{name}": value for name, value in self._phi.items()},
                   **{f"task.{name}": value for name, value in self._task_state().items()}}
        return EnvState(type(self).__qualname__, self._state_signature,
                        {name: value.detach().clone() for name, value in tensors.items()})

    def set_state(self, state: EnvState, rows: Any = None) -> tuple[Tensor | dict[str, Tensor], dict[str, Any]]:
        """Put ``state`` into the given rows (all rows by default), one state row per env row, and
        return the observation and info of every row's current state, as ``reset`` does.

        ``rows``: row indices (a sequence or int tensor, no repeats) or a bool mask of ``num_envs``.
        Raises ``ValueError`` for a state of another env or configuration, missing or extra
        entries, entries of the wrong shape or dtype, or rows out of range.
        """
        if not isinstance(state, EnvState):
            raise ValueError(f"{self.name}: set_state expects an EnvState (from get_state()), got {type(state).__name__}")
        if (state.env, state.signature) != (type(self).__qualname__, self._state_signature):
            raise ValueError(f"{self.name}: the state belongs to {state.env} with arguments {dict(state.signature)}, "
                             f"not to this {type(self).__qualname__} with {dict(self._state_signature)}")
        index = as_rows(rows, self.num_envs, self.device)
        if len(state) != len(index):
            raise ValueError(f"{self.name}: the state has {len(state)} rows but {len(index)} rows are to be set")
        if not self._was_reset:
            self.reset(seed=0)  # makes every tensor exist; rows not set keep seed 0's start
        current = self.get_state().tensors
        if set(current) != set(state.tensors):
            raise ValueError(f"{self.name}: the state's entries {sorted(state.tensors)} are not this env's "
                             f"{sorted(current)}")
        values = {}
        for name, value in state.tensors.items():
            expected = current[name]
            if value.shape[1:] != expected.shape[1:] or value.dtype != expected.dtype:
                raise ValueError(f"{self.name}: state entry {name!r} should be {expected.dtype} of shape "
                                 f"(rows, {', '.join(map(str, expected.shape[1:]))}), got {value.dtype} "
                                 f"{tuple(value.shape)}")
            values[name] = value.to(self.device)

        def put(tensor: Tensor, value: Tensor) -> Tensor:
            tensor = tensor.clone()
            tensor[index] = value
            return tensor

        self.random.keys = put(self.random.keys, values.pop("core.random_keys"))
        self.episode = put(self.episode, values.pop("core.episode"))
        self.elapsed = put(self.elapsed, values.pop("core.elapsed"))
        self._needs_reset = put(self._needs_reset, values.pop("core.needs_reset"))
        self._phi = {name: put(self._phi[name], values.pop(f"core.phi.{name}")) for name in self._phi}
        self._load_task_state({name.removeprefix("task."): value for name, value in values.items()}, index)
        return self._observe(), self._state_info()

    def _task_state(self) -> dict[str, Tensor]:
        """The task's state entries: ``state_fields`` (level slots replaced by level ids) and ``state_parts``."""
        state = {name: getattr(self, name) for name in self.state_fields}
        for name, pool in self.level_slots.items():
            state[name] = getattr(self, pool).ids(state[name])
        for part in self.state_parts:
            state.update({f"{part}.{name}": value for name, value in getattr(self, part).tensors().items()})
        return state

    def _load_task_state(self, values: dict[str, Tensor], rows: Tensor) -> None:
        """Write ``values`` (entries of ``_task_state``, one row per index of ``rows``) into those rows."""
        for name in self.state_fields:
            value = values[name]
            if name in self.level_slots:
                value = getattr(self, self.level_slots[name]).slots(value)
            tensor = getattr(self, name).clone()
            tensor[rows] = value
            setattr(self, name, tensor)
        for part in self.state_parts:
            prefix = f"{part}."
            getattr(self, part).load_rows(rows, {name.removeprefix(prefix): value for name, value in values.items()
                                                 if name.startswith(prefix)})

    # -- rendering ----------------------------------------------------------------------------

    def render_frame(self, row: int = 0) -> np.ndarray:
        """An ``HxWx3 uint8`` picture of sub-env ``row``."""
        surface = rendering.new_surface(*self.frame_size)
        self._draw(surface, row)
        return rendering.surface_to_frame(surface)

    def render(self) -> rendering.LazyFrames | None:
        """rgb_array: one frame per sub-env (drawn when read); human: shows the first few, tiled."""
        if self.render_mode == "rgb_array":
            return rendering.LazyFrames(self.num_envs, self.render_frame)
        if self.render_mode == "human":
            self._render_human()
        return None

    def _render_human(self) -> None:
        if self.render_mode == "human":
            shown = min(self.num_envs, 9)
            self._window.show(rendering.tile_frames([self.render_frame(row) for row in range(shown)]))

    def close_extras(self, **kwargs: Any) -> None:
        self._window.close()
