"""Draw the README's picture of every registered env: ``python docs/env_pictures.py``.

Each picture is the start of the episode under seed 0, with the env's task potential as a heat
map where the env can draw one (bright: near the goal).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import gymnasium as gym  # noqa: E402
import imageio.v3 as iio  # noqa: E402

import rewardgym  # noqa: E402

OUT = Path(__file__).parent / "images"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id in rewardgym.registered_ids():
        vector_class = gym.envs.registration.load_env_creator(gym.spec(env_id).vector_entry_point)
        extra = {"render_potential": True} if "render_potential" in vector_class.argument_names() else {}
        env = gym.make(env_id, render_mode="rgb_array", **extra)
        env.reset(seed=0)
        path = OUT / f"{gym.spec(env_id).name}.png"
        iio.imwrite(path, env.render())
        print(path)


def construct_levels() -> None:
    """One picture per Construct level (seed 0): the givens (black), its stored construction of
    optimal length (blue) and the goal objects (green, dark where built)."""
    from rewardgym.envs.geometry.construct import ConstructVector
    from rewardgym.envs.geometry.levels import LEVELS

    folder = OUT / "construct"
    folder.mkdir(parents=True, exist_ok=True)
    for level in LEVELS:
        env = ConstructVector(1, level=level.name, autoreset_mode="Disabled")
        env.reset(seed=0)
        for step in level.reference_L:
            env.step(env.actions_of(step))
        path = folder / f"{level.name}.png"
        iio.imwrite(path, env.render_frame(0))
        print(path)


def pybullet_tasks() -> None:
    """The manipulation tasks drawn by PyBullet's TinyRenderer (the main pictures are MuJoCo's)."""
    for task in ("Reach", "Push", "PickPlace"):
        env = gym.make(f"rewardgym/{task}-v0", backend="pybullet", render_mode="rgb_array")
        env.reset(seed=0)
        path = OUT / f"{task}_pybullet.png"
        iio.imwrite(path, env.render())
        print(path)


if __name__ == "__main__":
    main()
    construct_levels()
    pybullet_tasks()
