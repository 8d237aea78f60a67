"""``rewardgym sweep``: a grid of rewards × bonuses × coefficients × hyperparameters × seeds, run resumably.

- ``spec``: the sweep file, checked before any trial starts.
- ``runner``: the sweep directory, finished and pending trials, the local runner (seeds batched in fast-ppo).
- ``ray_runner``: the same trials on Ray Tune, on this machine or a cluster (optional extra ``sweep``).
- ``table``: the results, per trial and per configuration; the report page of a sweep.
"""

from rewardgym.sweep.runner import run_local
from rewardgym.sweep.spec import Sweep, load_sweep
from rewardgym.sweep.table import write_tables

__all__ = ["Sweep", "load_sweep", "run_local", "write_tables"]
