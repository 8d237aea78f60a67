"""rewardgym: sparse-reward Gymnasium environments that expose their reward channels.

Importing rewardgym registers every env id under the ``rewardgym/`` namespace:

    import gymnasium as gym
    import rewardgym

    env = gym.make("rewardgym/GridMaze-v0")                    # one env, numpy
    envs = gym.make_vec("rewardgym/GridMaze-v0", num_envs=4096)  # a torch batch
"""

from rewardgym.core import registered_ids
from rewardgym.envs import maze  # noqa: F401  (registers the maze family)
from rewardgym.envs import driving  # noqa: F401  (registers the driving family)
from rewardgym.envs import exploration  # noqa: F401  (registers the exploration family)
from rewardgym.envs import geometry  # noqa: F401  (registers the geometry family)
from rewardgym.envs import manipulation  # noqa: F401  (registers the manipulation family)

__version__ = "0.1.0"
__all__ = ["registered_ids"]
