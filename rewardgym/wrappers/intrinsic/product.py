"""A global bonus times an episodic one (Henaff, Jiang and Raileanu 2023)."""

from __future__ import annotations

import torch

from rewardgym.wrappers.intrinsic.base import Bonus, Transitions


class GlobalEpisodicProduct(Bonus):
    """``r = global(s, a, s') × episodic(s, a, s')``: e.g. RND × E3B.

    The combination of "A Study of Global and Episodic Bonuses for Exploration in Contextual
    MDPs" (Henaff, Jiang and Raileanu, ICML 2023), their code's ``--bonus_combine mult``: the
    episodic factor pays what is new within the episode, the global one scales it by how new it
    is over all of training. Both parts are used raw; ``IntrinsicReward`` normalises the product.

    ``watch``, ``compute``, ``episode_started`` and ``prepare_training`` call the same method of
    both parts (global first); the training loss is the sum of the parts' losses, and ``update``
    returns both parts' metrics, prefixed ``global/`` and ``episodic/``.

    What resets at an episode's end: only the episodic part's per-env memory, which that part
    clears itself (inside ``compute`` after an ended step, in ``episode_started`` after a reset
    no ended step announced); the global part's model and statistics carry on. The
    product as a whole is marked not ``episodic`` (a row's bonus also depends on earlier
    episodes through the global factor), so ``IntrinsicReward`` treats its return as one
    stream over all of training rather than restarting it with each episode.
    """

    episodic = False

    def __init__(self, global_bonus: Bonus, episodic_bonus: Bonus):
        if global_bonus.episodic or not episodic_bonus.episodic:
            raise ValueError(
                "GlobalEpisodicProduct needs a global bonus then an episodic one, got "
                f"{type(global_bonus).__name__} (episodic={global_bonus.episodic}) and "
                f"{type(episodic_bonus).__name__} (episodic={episodic_bonus.episodic})"
            )
        shared = ("observation_space", "action_space", "num_envs", "device")
        if any(getattr(global_bonus, name) != getattr(episodic_bonus, name) for name in shared):
            raise ValueError("GlobalEpisodicProduct: both bonuses must be built for the same env")
        torch.nn.Module.__init__(self)  # the env's description is taken from the parts, not from an env
        for name in (*shared, "obs_size", "action_size"):
            setattr(self, name, getattr(global_bonus, name))
        self.global_bonus = global_bonus
        self.episodic_bonus = episodic_bonus
        self.to(self.device)

    def watch(self, transitions: Transitions) -> None:
        self.global_bonus.watch(transitions)
        self.episodic_bonus.watch(transitions)

    def compute(self, transitions: Transitions) -> torch.Tensor:
        return self.global_bonus.compute(transitions) * self.episodic_bonus.compute(transitions)

    def episode_started(self, rows: torch.Tensor) -> None:
        self.global_bonus.episode_started(rows)
        self.episodic_bonus.episode_started(rows)

    @property
    def trains(self) -> bool:
        return self.global_bonus.trains or self.episodic_bonus.trains

    def prepare_training(self, transitions: Transitions) -> None:
        self.global_bonus.prepare_training(transitions)
        self.episodic_bonus.prepare_training(transitions)

    def training_loss(self, transitions: Transitions) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The sum of the parts' losses (their parameters are disjoint, so each gets its own gradient)."""
        losses, metrics = [], {}
        for prefix, part in (("global", self.global_bonus), ("episodic", self.episodic_bonus)):
            if part.optimizers():
                loss, part_metrics = part.training_loss(transitions)
                losses.append(loss)
                metrics |= {f"{prefix}/{key}": value for key, value in part_metrics.items()}
        return sum(losses), metrics
