"""``python -m rewardgym``: the ``rewardgym`` command line."""

import sys

from rewardgym.cli import main

sys.exit(main())
