"""NoisyTV: KeyDoor with a remote control that fills part of the observation with fresh noise.

The "noisy TV" of Burda et al. (2018): a source of observations that are new every time yet
carry nothing the agent can learn or control. Here it is an extra action, "watch TV": the agent
stays where it is and the ``noise_dim`` TV values at the end of its next observation are fresh
uniform noise, drawn from each env's own random stream (independent across envs and steps,
reproducible from the seed). Any other action shows a blank screen (zeros).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rewardgym.core import rendering, single_env_class
from rewardgym.core.validation import check_bool, check_int
from rewardgym.envs.exploration.key_door import KeyDoorVector

WATCH = 5


class NoisyTVVector(KeyDoorVector):
    """KeyDoor with a TV: an action that shows the agent pure noise.

    ## Action space
    ``Discrete(6)``: KeyDoor's five actions (turn left, turn right, forward, pick up, toggle) and
    5 "watch TV", which leaves the agent, the key and the door as they are.

    ## Observation space
    ``Box(0, 1, (5 k² + 5 + noise_dim,), float32)``: KeyDoor's observation, then the TV screen:
    ``noise_dim`` values, uniform in [0, 1) on a step where the agent watched and the TV is on,
    zero otherwise. With ``tv=False`` the spaces are the same and the screen stays blank, so the
    same agent can run with and without the distraction.

    ## Rewards
    KeyDoor's: ``sparse`` (+1 at the goal) and ``shaped`` with the stage potential; the TV pays
    nothing and does not change Φ. ``info["reward_terms"]``: ``sparse``, ``shaping_progress``.

    ## What the TV does to intrinsic bonuses
    Watching always yields an observation never seen before and impossible to predict. Bonuses
    that pay for prediction error or raw novelty of the whole observation (ICM's forward error
    on raw observations, RND until its predictor has fitted the noise distribution, counts or
    SimHash counts over the full observation) keep paying for watching and pull the agent to the
    remote. Bonuses over what the agent controls are not drawn to it: counts of the noise-free
    part (the first ``observation_size - noise_dim`` values) and E3B, whose inverse-dynamics
    embedding has no use for the noise.

    ## Episode end
    As KeyDoor: terminates at the goal, truncates after ``max_episode_steps``.

    ## Arguments
    KeyDoor's, and ``noise_dim`` (1–1024, default 16), ``tv`` (on, default True).
    """

    actions = (*KeyDoorVector.actions, "watch")
    state_fields = (*KeyDoorVector.state_fields, "screen")
    keys_to_action = {**KeyDoorVector.keys_to_action, (ord("v"),): WATCH}

    def __init__(self, num_envs: int = 1, *, noise_dim: int = 16, tv: bool = True, **kwargs: Any):
        self.noise_dim = check_int("noise_dim", noise_dim, 1, 1024)
        self.tv = check_bool("tv", tv)
        super().__init__(num_envs, **kwargs)
        self.screen = torch.zeros(self.num_envs, self.noise_dim, device=self.device)
        size = self.single_observation_space.shape[0] + self.noise_dim
        self._set_spaces(spaces.Box(0, 1, (size,), np.float32), self.single_action_space)

    def _reset(self, rows: torch.Tensor) -> None:
        super()._reset(rows)
        self.screen = self.screen * ~rows.unsqueeze(1)

    def _transition(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        transition = super()._transition(action)
        if self.tv:
            watching = (action == WATCH).unsqueeze(1)
            self.screen = torch.where(watching, self.random.uniform(self.noise_dim), 0.0)
        return transition

    def _observe(self) -> torch.Tensor:
        return torch.cat([super()._observe(), self.screen], dim=1)

    def _draw(self, surface: Any, row: int) -> None:
        """KeyDoor's picture, with the TV screen as a strip of grey squares along the top wall."""
        super()._draw(surface, row)
        pygame = rendering.pygame_module()
        pixels = max(2, surface.get_width() // (2 * self.noise_dim))
        for index, value in enumerate(self.screen[row].tolist()):
            grey = int(255 * value)
            pygame.draw.rect(surface, (grey, grey, grey), (index * pixels, 0, pixels, max(2, self.square_pixels // 2)))


NoisyTV = single_env_class(NoisyTVVector, "NoisyTV")
