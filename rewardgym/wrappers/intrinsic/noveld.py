"""NovelD (Zhang et al. 2021): the rise in novelty from s to s', paid on a state's first visit per episode."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from rewardgym.core.validation import check_float
from rewardgym.wrappers.intrinsic.base import Bonus, Transitions
from rewardgym.wrappers.intrinsic.counts import CountTable, MemoryBonus, hash_features


class NovelD(MemoryBonus):
    """r_t = max(nov(s_{t+1}) − α·nov(s_t), β) · 1{N_ep(s_{t+1}) = 1}.

    ``novelty`` is a global bonus (e.g. ``RND``, whose value is its prediction error); its value
    nov(s) of a state s is its ``compute`` on a transition that reaches s. So nov(s_{t+1}) is its
    value on the batch, and nov(s_t) its value on the same batch with ``next_obs`` replaced by
    ``obs`` and no episode ends; both come from one ``compute`` call with the current model, as
    in NovelD's code. This asks of ``novelty`` that its value depend on the transition only
    through the state reached (true of RND) and that ``compute`` change no memory: an episodic
    novelty is refused, and a global ``CountBonus`` would count every state twice.

    N_ep(s) counts the visits of s in the env's current episode (start state included), by the
    exact hash of its features, in a per-env ``CountTable`` cleared when the episode ends; the
    gate pays a state only on its first visit of each episode. ``watch`` and training pass
    through to ``novelty``: ``update`` trains it.

    Episodic: yes. The novelty term is global, but the gate makes the bonus depend on the
    episode's history (a state pays at most once per episode, again in each new one), so the
    bonus belongs to an episode and its return restarts with each (e.g. ``IntrinsicReward``
    restarts its return normalisation at episode ends).

    Defaults: ``alpha=0.5`` (α), ``beta=0.0`` (β), the values the NovelD paper reports best
    (p. 7, as cited by DEIR's reimplementation).
    """

    episodic = True

    def __init__(self, env: Any, novelty: Bonus, alpha: float = 0.5, beta: float = 0.0):
        if novelty.episodic:
            raise ValueError(f"NovelD needs a global novelty bonus, got the episodic {type(novelty).__name__}")
        super().__init__(env, CountTable(env.num_envs, per_env=True))
        self.novelty = novelty
        self.alpha = check_float("alpha", alpha, 0.0, 1e6)
        self.beta = check_float("beta", beta, -1e6, 1e6)
        self.to(self.device)

    def watch(self, transitions: Transitions) -> None:
        self.novelty.watch(transitions)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        staying = torch.zeros_like(transitions.terminated)
        at_current = dataclasses.replace(transitions, next_obs=transitions.obs, terminated=staying, truncated=staying)
        with torch.no_grad():
            novelty = self.novelty.compute(Transitions.cat([transitions, at_current]))
        steps = transitions.valid.shape[0]
        rise = (novelty[:steps] - self.alpha * novelty[steps:]).clamp(min=self.beta)
        visits = self.scan(transitions, hash_features(transitions.obs), hash_features(transitions.next_obs))
        return torch.where(visits == 1, rise, 0.0)

    @property
    def trains(self) -> bool:
        return self.novelty.trains

    def prepare_training(self, transitions: Transitions) -> None:
        self.novelty.prepare_training(transitions)

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.novelty.training_loss(transitions)
