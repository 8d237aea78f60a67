"""DeepSea: bsuite's deep-exploration chain, batched (Osband et al. 2019, ``bsuite/environments/deep_sea.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import BatchRandom, TorchVectorEnv, rendering, single_env_class
from rewardgym.core.random import MASK32, seed_keys
from rewardgym.core.validation import check_bool, check_float, check_int

MAX_SIZE = 256
SEA_COLOUR = (20, 60, 120)
DIAGONAL_COLOUR = (40, 90, 160)
TREASURE_COLOUR = (250, 200, 40)
DIVER_COLOUR = (240, 80, 60)


def first_reset_stream(seed: int, device: torch.device) -> BatchRandom:
    """A one-row random stream addressed where an env seeded ``seed`` makes its first reset's draws."""
    stream = BatchRandom(1, device)
    stream.keys = seed_keys(torch.tensor([seed], dtype=torch.int64, device=device))
    first_episode = torch.zeros(1, dtype=torch.int64, device=device)
    stream.start(first_episode, torch.full((1,), MASK32, dtype=torch.int64, device=device))  # step "-1": the reset
    return stream


class DeepSeaVector(TorchVectorEnv):
    """bsuite's DeepSea: an ``N × N`` grid that a diver falls through, one row per step, from the
    top-left cell; a treasure waits past the bottom-right cell.

    Each step the diver moves one column left or right (never past the edges) and one row down,
    so an episode lasts exactly ``N`` steps. Which action means "right" is drawn per cell (bsuite's
    ``action_mapping``): by default from each sub-env's seed, fixed over all its episodes and
    different across seeds; with ``mapping_seed=m`` (bsuite's argument) every sub-env uses the
    mapping a sub-env seeded ``m`` would draw, so that a batch trained together is one MDP.
    Only the policy that goes right in every row finds the treasure: a uniformly random policy finds
    it with probability ``2⁻ᴺ``, and every "right" costs ``0.01 / N``, so going left is what a
    myopic agent learns.

    ## Action space
    ``Discrete(2)``. In cell ``(row, column)``, action ``mapping[row, column]`` moves right and the
    other one left. ``randomize_actions=False`` is bsuite's debug mode: action 1 is right everywhere.

    ## Observation space
    ``Box(0, 1, (N, N), float32)``: one-hot at ``(row, column)``. After the last step (row ``N``,
    below the grid) the observation is all zeros, as in bsuite: every episode's final observation is
    that same null observation (``info["final_obs"]`` in SAME_STEP mode, the returned one on the
    terminating step in NEXT_STEP mode); the reset observation is one-hot at ``(0, 0)``.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | bsuite's reward: ``treasure − move_cost + noise`` |
    | ``treasure`` | +1 on finding the treasure only, no costs or noise |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = (row + 1) / N on the diagonal (column = row), else 0 |

    ``info["reward_terms"]``: ``treasure`` (+1 for "right" in the bottom-right cell), ``move_cost``
    (``unscaled_move_cost / N`` for every "right", whether the wind lets it move or not), ``noise``
    (stochastic version: an N(0, 1) draw in the two bottom corner cells, else 0), ``sparse`` and
    ``shaping_diagonal``. The optimal return of ``sparse`` is ``1 − 0.01 = 0.99``; in the stochastic
    version it is ``(1 − 1/N)^(N−1) − 0.01`` in expectation. Φ counts the diagonal cells walked: off
    the diagonal the treasure can no longer be reached.

    ## Info
    ``success``: the treasure was found this step. ``bad_episode``: the diver has left the diagonal
    this episode by choosing "left" on it (bsuite's ``bad_episode``; the wind pushing it off does
    not count), so on the final step it says whether the episode was bad.

    ## Episode end
    Terminates after exactly ``N`` steps (row ``N``). The time limit defaults to ``N`` and only
    truncates if set lower.

    ## Arguments
    ``size`` (N, 1–256, default 10), ``deterministic`` (default True; False is bsuite's
    ``deep_sea_stochastic``: "right" fails with probability 1/N and the corner noise is added),
    ``unscaled_move_cost`` (0.01), ``randomize_actions`` (True), ``mapping_seed`` (None: each
    sub-env's own seed), and the common ones.
    """

    potentials = ("diagonal",)
    state_fields = ("row", "column", "bad_episode", "action_mapping")
    extra_rewards = {"treasure": lambda terms: terms["treasure"]}
    keys_to_action = {(ord("a"),): 0, (ord("d"),): 1}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        size: int = 10,
        deterministic: bool = True,
        unscaled_move_cost: float = 0.01,
        randomize_actions: bool = True,
        mapping_seed: int | None = None,
        max_episode_steps: int | None = None,
        **core: Any,
    ):
        size = check_int("size", size, 1, MAX_SIZE)
        deterministic = check_bool("deterministic", deterministic)
        randomize_actions = check_bool("randomize_actions", randomize_actions)
        move_cost = check_float("unscaled_move_cost", unscaled_move_cost, 0.0, 1e3)
        if mapping_seed is not None:
            mapping_seed = check_int("mapping_seed", mapping_seed, 0, 2**63 - 1)
        super().__init__(num_envs, max_episode_steps=size if max_episode_steps is None else max_episode_steps, **core)
        self.size = size
        self.deterministic = deterministic
        self.randomize_actions = randomize_actions
        self.mapping_seed = mapping_seed
        self.move_cost = move_cost / size
        self.frame_size = (max(160, 480 // size * size),) * 2

        rows, cells = (self.num_envs,), size * size
        self.row = torch.zeros(rows, dtype=torch.int64, device=self.device)
        self.column = torch.zeros_like(self.row)
        self.bad_episode = torch.zeros(rows, dtype=torch.bool, device=self.device)
        # Row N (below the grid) is padding, so the diver's cell index is valid there too: its
        # one-hot row is all zeros (bsuite's null observation) and its mapping is never used.
        self._one_hot = torch.eye(cells + size, cells, device=self.device)
        self.action_mapping = torch.ones((self.num_envs, cells + size), dtype=torch.bool, device=self.device)
        if self.randomize_actions and mapping_seed is not None:
            self.action_mapping[:, :cells] = self._draw_mapping(first_reset_stream(mapping_seed, self.device))
        self._set_spaces(spaces.Box(0.0, 1.0, (size, size), np.float32), spaces.Discrete(2))

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: torch.Tensor) -> None:
        self.row = torch.where(rows, 0, self.row)
        self.column = torch.where(rows, 0, self.column)
        self.bad_episode = self.bad_episode & ~rows
        first_episode = rows & (self.episode == 0)
        if self.randomize_actions and self.mapping_seed is None and bool(first_episode.any()):
            # The mapping is the first episode's reset draw, so it depends on the seed alone. It is
            # the reset's only draw, so drawing it only when some row needs it changes nothing else.
            cells = self.size * self.size
            mapping = self._draw_mapping(self.random)
            self.action_mapping[:, :cells] = torch.where(first_episode.unsqueeze(1), mapping, self.action_mapping[:, :cells])

    def _draw_mapping(self, random: BatchRandom) -> torch.Tensor:
        """Per cell, which action is "right": a fair coin each (bsuite's ``binomial(1, 0.5, [N, N])``)."""
        return (random.bits(self.size * self.size) & 1).bool()

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        n = self.size
        row, column = self.row, self.column
        below = row == n  # only when stepped on past the end (DISABLED mode, no reset): nothing happens
        right = (action == self.action_mapping.gather(1, (row * n + column).unsqueeze(1)).squeeze(1)) & ~below
        left = ~(right | below)
        moved, noise = right, torch.zeros(self.num_envs, device=self.device)
        if not self.deterministic:
            moved = right & (self.random.uniform(1)[:, 0] > 1.0 / n)
            corner = (row == n - 1) & ((column == 0) | (column == n - 1))
            noise = torch.where(corner, self.random.normal(1)[:, 0], 0.0)
        self.bad_episode = self.bad_episode | (left & (row == column))
        self.column = (column + moved.long() - left.long()).clamp(0, n - 1)
        self.row = row + (~below).long()
        return {"right": right, "treasure": right & (column == n - 1), "noise": noise}

    def _success(self, transition: dict[str, torch.Tensor]) -> torch.Tensor:
        return transition["treasure"]

    def _terminated(self, success: torch.Tensor) -> torch.Tensor:
        return self.row == self.size

    def _reward_terms(self, success: torch.Tensor, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        treasure = success.float()
        move_cost = transition["right"].float() * self.move_cost
        noise = transition["noise"]
        return {"sparse": treasure - move_cost + noise, "treasure": treasure, "move_cost": move_cost, "noise": noise}

    def _potentials(self) -> dict[str, torch.Tensor]:
        on_diagonal = self.column == self.row  # never true below the grid: there column < row = N
        return {"diagonal": on_diagonal * ((self.row + 1).float() / self.size)}

    def _step_info(self, transition: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"bad_episode": self.bad_episode}

    def _observe(self) -> torch.Tensor:
        cell = self.row * self.size + self.column
        return self._one_hot.index_select(0, cell).view(self.num_envs, self.size, self.size)

    def optimal_actions(self) -> torch.Tensor:
        """The action that moves each row's diver right from its current cell (bsuite's optimal policy)."""
        cell = (self.row * self.size + self.column).unsqueeze(1)
        return self.action_mapping.gather(1, cell).squeeze(1).long()

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        pygame = rendering.pygame_module()
        n = self.size
        px = self.frame_size[0] / n
        surface.fill(SEA_COLOUR)
        for cell in range(n):
            pygame.draw.rect(surface, DIAGONAL_COLOUR, (cell * px, cell * px, px + 1, px + 1))
        corner = (n - 1) * px
        pygame.draw.rect(surface, TREASURE_COLOUR, (corner + px / 4, corner + px / 4, px / 2, px / 2))
        diver_row, diver_column = int(self.row[row]), int(self.column[row])
        if diver_row < n:
            centre = ((diver_column + 0.5) * px, (diver_row + 0.5) * px)
            pygame.draw.circle(surface, DIVER_COLOUR, centre, max(2.0, px * 0.35))


DeepSea = single_env_class(DeepSeaVector, "DeepSea")
