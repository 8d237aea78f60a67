"""SphericalCode: place unit vectors in ℝᵈ one at a time so that every pair is at least θ apart.

At θ = 60° the vectors are the centres of spheres touching a central sphere without overlapping,
and the largest such code is the kissing number κ(d). The task is exactly verifiable and has
known optima, so it tests how far a reward leads an agent in a long combinatorial construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import TorchVectorEnv, rendering, single_env_class
from rewardgym.core.validation import check_choice, check_float, check_int
from rewardgym.core.vector_env import Transition

#: κ(d), the kissing numbers known exactly that fit in an observation (κ(24) = 196560 does not).
KISSING_NUMBERS = {2: 6, 3: 12, 4: 24, 8: 240}
MAX_TARGET = 1024
MAX_DIM = 64
#: A continuous action shorter than this has no direction: an invalid placement.
MIN_DIRECTION_NORM = 1e-3
#: The slack on cosines and norms: float32 vectors of an exact code are within ~1e-7 of it.
DEFAULT_TOLERANCE = 1e-4
#: PackingStar's cosines for kissing configurations; the default alphabet keeps those ≤ cos θ.
KISSING_ALPHABET = (-1.0, -0.5, 0.0, 0.5)
MAX_ALPHABET = 32
ACTION_KINDS = ("continuous", "alphabet")

BACKGROUND_COLOUR = (250, 250, 245)
SPHERE_COLOUR = (90, 90, 100)
VECTOR_COLOUR = (38, 110, 200)
FIRST_COLOUR = (120, 120, 130)
REJECTED_COLOUR = (220, 50, 47)


def known_optimum(dim: int, theta: float) -> int | None:
    """The most unit vectors in ℝ^dim with pairwise angles ≥ ``theta`` degrees, where it is known.

    In the plane it is ⌊360/θ⌋; at θ = 90° it is 2·dim (Rankin); at θ = 60° the kissing number.
    """
    if dim == 2:
        return math.floor(360.0 / theta + 1e-9)
    if theta == 90.0:
        return 2 * dim
    if theta == 60.0:
        return KISSING_NUMBERS.get(dim)
    return None


def cosine_bound(theta: float, eps: float) -> float:
    """The largest cosine two vectors of a code may have: cos θ, loosened by the tolerance ``eps``."""
    return math.cos(math.radians(theta)) + eps


def is_valid_code(vectors: Any, theta: float, eps: float = DEFAULT_TOLERANCE) -> torch.Tensor:
    """Whether ``vectors`` (shape ``(..., n, d)``) form a spherical code of minimal angle ``theta`` degrees.

    Checks ``|‖v_i‖ − 1| ≤ eps`` and ``⟨v_i, v_j⟩ ≤ cos θ + eps`` for all ``i ≠ j``, in float64.
    Returns a bool tensor of shape ``(...)`` (0-d for one configuration: ``bool()`` it).
    """
    vectors = torch.as_tensor(vectors, dtype=torch.float64)
    gram = vectors @ vectors.transpose(-1, -2)
    diagonal = torch.eye(gram.shape[-1], dtype=torch.bool, device=gram.device)
    unit = ((gram.diagonal(dim1=-2, dim2=-1) - 1).abs() <= eps).all(-1)
    apart = (gram.masked_fill(diagonal, -1.0) <= cosine_bound(theta, eps)).all(-1).all(-1)
    return unit & apart


def _check_alphabet(alphabet: Any, bound: float) -> tuple[float, ...]:
    """A user alphabet: 1 to MAX_ALPHABET distinct cosines in [−1, cos θ + tolerance], sorted."""
    problem = ValueError(
        f"alphabet must be a sequence of 1 to {MAX_ALPHABET} cosines in [-1, {bound:.6g}] (cos θ + tolerance), "
        f"got {alphabet!r}"[:300]
    )
    if isinstance(alphabet, (str, bytes)) or not isinstance(alphabet, (Sequence, np.ndarray)):
        raise problem
    try:
        values = sorted({float(value) for value in alphabet})
    except (TypeError, ValueError):
        raise problem from None
    if not 1 <= len(values) <= MAX_ALPHABET or not all(-1.0 <= value <= bound for value in values):
        raise problem
    return tuple(values)


class SphericalCodeVector(TorchVectorEnv):
    """Build a spherical code: unit vectors in ℝᵈ, pairwise at least ``theta`` degrees apart.

    Every episode starts with one vector already placed, uniformly at random on the sphere (by
    symmetry the first vector is arbitrary; the seed picks it). Each step places one more vector;
    a placement is valid when the new vector's cosine with every placed vector is at most
    ``cos θ + tolerance``. At ``theta=60`` the code is a kissing configuration.

    ## Action space
    - ``action_kind="continuous"`` (default): ``Box(-1, 1, (d,), float32)``, a direction; the
      vector placed is ``a / ‖a‖``. A direction shorter than 1e-3 is an invalid placement.
    - ``action_kind="alphabet"``: ``MultiDiscrete([A] * (target − 1))``, PackingStar's
      Gram-matrix move: entry ``j`` picks from the alphabet the cosine ``g_j`` of the new vector
      with placed vector ``j``; entries at or beyond the placed count are ignored. The new vector
      is realised from this Gram column: ``x = V⁺g`` (the part in the span of the placed vectors
      ``V``) plus ``√(1 − ‖x‖²)`` times a unit vector orthogonal to them (the normalised largest
      column of ``I − V⁺V``, so the realisation is deterministic). The column is an invalid
      placement when the extended Gram matrix is not positive semidefinite of rank ≤ d, i.e. when
      ``Vx ≠ g`` or ``‖x‖ > 1``, or ``‖x‖ < 1`` with no orthogonal direction left (all within
      ``tolerance``). The alphabet (``alphabet=``) defaults to {−1, −½, 0, ½} ∩ [−1, cos θ] ∪ {cos θ}.

    ## Observation space
    ``Box(-1, 1, (target · (d + 1),), float32)``: the table of ``target`` slots, row-major, each
    ``(placed flag, v_1, …, v_d)``; slots fill in placement order and empty ones are zero.

    ## Rewards
    | name | reward per step |
    |---|---|
    | ``sparse`` (default) | +1 when the code reaches ``target`` vectors, else 0 |
    | ``shaped`` | sparse + γΦ(s') − Φ(s), Φ = placed vectors / target |
    | ``placements`` | +1 per valid placement (the issue's reward; the return is the code size − 1) |

    ``info["reward_terms"]`` holds ``sparse``, ``placements`` and ``shaping_placed``;
    ``info["invalid_placement"]`` flags the step that ended an episode by a bad vector.

    ## Episode end
    Terminates on success (``target`` vectors) or at the first invalid placement (not a
    success). Truncates after ``max_episode_steps`` (default ``target``, which never binds).

    ## State
    ``get_state()`` holds the slot table, the count of placed vectors, whether the last
    placement was invalid, and the vector it tried to place (drawn in red when rejected).

    ## Arguments
    - ``dim`` (default 3): the dimension d, 2 to 64.
    - ``theta`` (default 60): the least pairwise angle in degrees, 1 to 180.
    - ``target``: the code size that counts as success, 2 to 1024; by default the known optimum:
      ⌊360/θ⌋ in the plane, 2d at θ = 90°, κ(d) at θ = 60° (κ(2)=6, κ(3)=12, κ(4)=24, κ(8)=240);
      required otherwise. A target above the optimum makes success impossible.
    - ``action_kind``, ``alphabet`` (see above), ``tolerance`` (default 1e-4, on cosines and norms),
      and the common ones of ``TorchVectorEnv``.
    """

    potentials = ("placed",)
    extra_rewards = {"placements": lambda terms: terms["placements"]}
    state_fields = ("table", "count", "invalid", "last_candidate")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        dim: int = 3,
        theta: float = 60.0,
        target: int | None = None,
        action_kind: str = "continuous",
        alphabet: Sequence[float] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        max_episode_steps: int | None = None,
        **core: Any,
    ):
        self.dim = check_int("dim", dim, 2, MAX_DIM)
        self.theta = check_float("theta", theta, 1.0, 180.0)
        self.tolerance = check_float("tolerance", tolerance, 0.0, 0.01)
        if target is None:
            target = known_optimum(self.dim, self.theta)
            if target is None:
                raise ValueError(f"target is needed: no known optimum for dim={self.dim}, theta={self.theta}")
        self.target = check_int("target", target, 2, MAX_TARGET)
        self.action_kind = check_choice("action_kind", action_kind, ACTION_KINDS)
        self.max_cosine = cosine_bound(self.theta, self.tolerance)
        if alphabet is None:
            cos_theta = round(math.cos(math.radians(self.theta)), 12)  # cos 60° is 0.5, not 0.5000000000000001
            alphabet = [value for value in KISSING_ALPHABET if value <= cos_theta] + [cos_theta]
        self.alphabet = _check_alphabet(alphabet, self.max_cosine)
        if max_episode_steps is None:
            max_episode_steps = self.target  # never binds: an episode places at most target − 1 vectors
        super().__init__(num_envs, max_episode_steps=max_episode_steps, **core)

        slots, rows = self.target, self.num_envs
        #: Each slot's (placed flag, vector): the observation, kept up to date in place.
        self.table = torch.zeros(rows, slots, self.dim + 1, device=self.device)
        self.count = torch.ones(rows, dtype=torch.int64, device=self.device)
        self.invalid = torch.zeros(rows, dtype=torch.bool, device=self.device)  # the last placement failed: the end
        self.last_candidate = torch.zeros(rows, self.dim, device=self.device)  # drawn in red when rejected
        self._slots = torch.arange(slots, device=self.device)
        self._rows = torch.arange(rows, device=self.device)
        self._flag = torch.zeros(self.dim + 1, device=self.device)
        self._flag[0] = 1.0
        self._cosines = torch.tensor(self.alphabet, dtype=torch.float32, device=self.device)

        low = np.full((slots, self.dim + 1), -1.0, np.float32)
        low[:, 0] = 0.0
        observation_space = spaces.Box(low.reshape(-1), 1.0, dtype=np.float32)
        if self.action_kind == "continuous":
            action_space = spaces.Box(-1.0, 1.0, (self.dim,), np.float32)
        else:
            action_space = spaces.MultiDiscrete(np.full(slots - 1, len(self.alphabet), np.int64))
        self._set_spaces(observation_space, action_space)

    # -- the task -----------------------------------------------------------------------------

    def _reset(self, rows: torch.Tensor) -> None:
        direction = self.random.normal(self.dim)
        norm = torch.linalg.vector_norm(direction, dim=1, keepdim=True)
        axis = torch.zeros_like(direction)
        axis[:, 0] = 1.0
        first = torch.where(norm > 1e-6, direction / norm.clamp(min=1e-6), axis)
        self.table.mul_(~rows.view(-1, 1, 1))
        self.table[:, 0] = torch.where(rows.unsqueeze(1), self._slot_entry(first), self.table[:, 0])
        self.count = torch.where(rows, 1, self.count)
        self.invalid = self.invalid & ~rows

    @property
    def vectors(self) -> torch.Tensor:
        """(num_envs, target, d): the placed vectors in placement order, zero in empty slots (a view)."""
        return self.table[..., 1:]

    def _slot_entry(self, vector: torch.Tensor) -> torch.Tensor:
        """The table row of placed vectors: a 1 flag, then the vector."""
        return torch.cat([torch.ones_like(vector[:, :1]), vector], dim=1)

    def _placed_mask(self) -> torch.Tensor:
        """(num_envs, target): which slots hold a vector."""
        return self._slots < self.count.unsqueeze(1)

    def _transition(self, action: torch.Tensor) -> Transition:
        """Place one vector where it fits; returns whether it was ``placed``."""
        if self.action_kind == "continuous":
            candidate, realisable = self._direction(action)
        else:
            candidate, realisable = self._realise(self._cosines[action])
        entry = self._slot_entry(candidate.clamp(-1.0, 1.0))  # clamped against rounding: obs stay in their space
        # Products of the table rows with the entry, its flag zeroed: the cosines with placed vectors.
        cosines = torch.bmm(self.table, (entry - self._flag).unsqueeze(2)).squeeze(2)
        cosines = cosines.masked_fill(~self._placed_mask(), -1.0)
        fits = realisable & (cosines.amax(dim=1) <= self.max_cosine)
        # A row that already holds `target` vectors (it ended last step, and is reset after this
        # transition) has no free slot.
        place = fits & (self.count < self.target)
        slot = self.count.clamp(max=self.target - 1)
        self.table[self._rows, slot] = torch.where(place.unsqueeze(1), entry, self.table[self._rows, slot])
        self.count = self.count + place
        self.invalid = ~fits
        self.last_candidate = candidate
        return {"placed": place}

    def _direction(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous actions: the unit vector along each action, and whether it has a direction."""
        norm = torch.linalg.vector_norm(action, dim=1, keepdim=True)
        return action / norm.clamp(min=MIN_DIRECTION_NORM), norm.squeeze(1) >= MIN_DIRECTION_NORM

    def _realise(self, column: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Alphabet actions: a unit vector with the cosines ``column`` (num_envs, target − 1) to the
        placed vectors, and whether one exists in ℝᵈ (the extended Gram matrix is PSD of rank ≤ d).

        Solved in float64 where the device has it: in float32 the cosines of a vector realised
        next to nearly dependent ones drift by ~1e-4, as much as the tolerance."""
        precise = torch.float32 if self.device.type == "mps" else torch.float64
        vectors = self.vectors.to(precise)
        placed = self._placed_mask()
        gram_column = torch.cat([column, column.new_zeros(self.num_envs, 1)], dim=1).to(precise) * placed
        pseudo_inverse = torch.linalg.pinv(vectors, rtol=1e-5)  # the zero rows of empty slots drop out
        inside = torch.einsum("nds,ns->nd", pseudo_inverse, gram_column)
        consistent = (torch.einsum("nsd,nd->ns", vectors, inside) - gram_column).abs().amax(dim=1) <= self.tolerance
        remaining = 1.0 - (inside * inside).sum(dim=1)

        complement = torch.eye(self.dim, dtype=precise, device=self.device) - pseudo_inverse @ vectors
        lengths = torch.linalg.vector_norm(complement, dim=1)  # of each column
        longest = lengths.amax(dim=1, keepdim=True)
        outward = complement.gather(2, lengths.argmax(dim=1).view(-1, 1, 1).expand(-1, self.dim, 1)).squeeze(2)
        # I − V⁺V projects onto the orthogonal complement: unless that is {0}, its longest column is ≥ 1/√d.
        has_room = longest.squeeze(1) > 0.5 / math.sqrt(self.dim)
        outward = outward / longest.clamp(min=1e-6) * has_room.unsqueeze(1)

        # Within the tolerance of the span, stay in it: the square root would turn rounding of
        # ~1e-7 into a step of ~3e-4 out of the span, and give the code a spurious extra dimension.
        in_span = remaining <= self.tolerance
        candidate = inside + torch.where(in_span, 0.0, remaining).sqrt().unsqueeze(1) * outward
        fits_in_space = (remaining >= -self.tolerance) & (has_room | in_span)
        norm = torch.linalg.vector_norm(candidate, dim=1, keepdim=True)
        unit = (candidate / norm.clamp(min=1e-6)).to(torch.float32)
        return unit, consistent & fits_in_space & (norm.squeeze(1) > 0.5)

    def _success(self, transition: Transition) -> torch.Tensor:
        return self.count >= self.target

    def _terminated(self, success: torch.Tensor) -> torch.Tensor:
        return success | self.invalid

    def _reward_terms(self, success: torch.Tensor, transition: Transition) -> dict[str, torch.Tensor]:
        return {"sparse": success.float(), "placements": transition["placed"].float()}

    def _potentials(self) -> dict[str, torch.Tensor]:
        return {"placed": self.count.float() / self.target}

    def _step_info(self, transition: Transition) -> dict[str, torch.Tensor]:
        return {"invalid_placement": self.invalid.clone()}

    def _observe(self) -> torch.Tensor:
        return self.table.reshape(self.num_envs, -1).clone()

    def placed_vectors(self, row: int) -> torch.Tensor:
        """The vectors of sub-env ``row``'s code, ``(count, d)``, in placement order."""
        return self.vectors[row, : int(self.count[row])].clone()

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, surface: Any, row: int) -> None:
        """The sphere seen from a fixed tilted viewpoint (the first three coordinates; the circle in
        2-D). Each vector is a dot, paler behind the sphere; in 2-D and 3-D its cap of angular
        radius θ/2 is outlined, and a code is valid when no two caps overlap. A rejected vector is red."""
        pygame = rendering.pygame_module()
        surface.fill(BACKGROUND_COLOUR)
        (centre,), _ = self._project(np.zeros((1, 3)))
        pygame.draw.circle(surface, SPHERE_COLOUR, centre.tolist(), self._pixels_per_unit(), width=2)
        for index, vector in enumerate(self.placed_vectors(row).cpu().double().numpy()):
            self._draw_vector(surface, vector, FIRST_COLOUR if index == 0 else VECTOR_COLOUR)
        if bool(self.invalid[row]):
            self._draw_vector(surface, self.last_candidate[row].cpu().double().numpy(), REJECTED_COLOUR)

    def _pixels_per_unit(self) -> float:
        return 0.4 * min(self.frame_size)

    def _project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions and depths (toward the viewer > 0) of points of ℝ³, shape (n, 3)."""
        if self.dim == 2:
            seen = points
        else:  # turned and tilted so that a 3-D code shows its depth
            tilt, turn = math.radians(25.0), math.radians(-35.0)
            about_x = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
            about_y = np.array([[math.cos(turn), 0, math.sin(turn)], [0, 1, 0], [-math.sin(turn), 0, math.cos(turn)]])
            seen = points @ (about_x @ about_y).T
        centre = np.array(self.frame_size) / 2
        return centre + self._pixels_per_unit() * seen[:, :2] * np.array([1.0, -1.0]), seen[:, 2]

    def _draw_vector(self, surface: Any, vector: np.ndarray, colour: tuple[int, int, int]) -> None:
        pygame = rendering.pygame_module()
        shown = np.zeros(3)  # the first three coordinates
        shown[: min(3, self.dim)] = vector[:3]
        (point,), (depth,) = self._project(shown[None])
        behind = depth < -1e-9
        shade = tuple(int(c + 0.6 * (255 - c)) for c in colour) if behind else colour
        if self.dim <= 3:
            outline, _ = self._project(self._cap_outline(shown))
            pygame.draw.lines(surface, shade, self.dim == 3, outline.tolist(), 1 if behind else 2)
        if self.dim == 2:
            (centre,), _ = self._project(np.zeros((1, 3)))
            pygame.draw.line(surface, shade, centre.tolist(), point.tolist(), 1)
        pygame.draw.circle(surface, shade, point.tolist(), 4 if behind else 6)

    def _cap_outline(self, vector: np.ndarray) -> np.ndarray:
        """Points on the boundary of the cap of angular radius θ/2 around a unit vector of ℝ³
        (in 2-D, where the third coordinate is 0, the arc of the circle the cap covers)."""
        half = math.radians(self.theta) / 2
        if self.dim == 2:
            angle = math.atan2(vector[1], vector[0]) + np.linspace(-half, half, 16)
            outside = 1.06  # just outside the circle, so that the arc shows
            return outside * np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], axis=1)
        helper = np.eye(3)[int(np.argmin(np.abs(vector)))]
        first = np.cross(vector, helper)
        first /= np.linalg.norm(first)
        second = np.cross(vector, first)
        around = np.linspace(0, 2 * math.pi, 32, endpoint=False)[:, None]
        return math.cos(half) * vector + math.sin(half) * (np.cos(around) * first + np.sin(around) * second)


SphericalCode = single_env_class(SphericalCodeVector, "SphericalCode")
