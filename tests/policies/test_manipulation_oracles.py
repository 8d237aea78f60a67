"""The manipulation oracles solve their tasks on the PyBullet backend too (the default one is
checked by the floors-and-oracles test)."""

from __future__ import annotations

import pytest

from rewardgym.evaluation import success_per_row
from rewardgym.policies import oracle


@pytest.mark.parametrize("task", ["Reach", "Push", "PickPlace"])
def test_the_scripted_controller_succeeds_on_pybullet(task):
    success = success_per_row(f"rewardgym/{task}-v0", {"backend": "pybullet"}, range(8), oracle)
    assert success.all()
