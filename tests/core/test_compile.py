"""GPU readiness by proxy: every torch env's per-step core compiles to one graph.

``TorchVectorEnv._advance`` (transition, success, ends, reward channels, potentials) and
``_observe`` run under ``torch.compile(fullgraph=True)`` with the default dynamo configuration:
a graph break — a host synchronisation (``.item()``, ``bool(tensor)``), ``nonzero``, boolean-mask
indexing or any other data-dependent shape — is an error. The ``aot_eager`` backend traces without
generating kernels, which is enough to prove there are no breaks. The compiled core must also
compute exactly what the eager one does.
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import EnvCase, assert_same, row_of
from tests.core.test_state import batch_actions, is_manipulation

ROWS = 16


def compiled(function):
    return torch.compile(function, fullgraph=True, backend="aot_eager", dynamic=False)


def test_per_step_core_compiles_to_one_graph(case: EnvCase):
    if is_manipulation(case):
        pytest.skip("a manipulation step is the physics engine's (MuJoCo or PyBullet), not torch code")
    torch._dynamo.reset()
    eager = case.make_vec(num_envs=ROWS)
    traced = case.make_vec(num_envs=ROWS)
    eager.reset(seed=3)
    traced.reset(seed=3)
    advance, observe = compiled(traced._advance), compiled(traced._observe)
    for t, actions in enumerate(batch_actions(eager.single_action_space, ROWS, 3, seed=5)):
        action = torch.as_tensor(actions)
        expected, got = eager._advance(action), advance(action)
        for name, a, b in zip(("success", "terminated", "truncated", "terms", "transition"), expected, got):
            for row in range(ROWS):
                assert_same(row_of(b, row), row_of(a, row), f"step {t}, row {row}: {name}")
        expected_observation, observation = eager._observe(), observe()
        for row in range(ROWS):
            assert_same(row_of(observation, row), row_of(expected_observation, row), f"step {t}, row {row}: observation")
