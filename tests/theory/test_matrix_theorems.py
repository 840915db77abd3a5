"""Property tests: every registered matrix-game theorem holds, via ``check``, at every
iteration on hypothesis games (A ~ U(−1, 1), m, n ∈ [2, 12], τ ∈ [0.1, 2]), with the step
size at the largest value its condition allows."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab.games.matrix import random_matrix_game
from nashlab.solvers.matrix_games import run_matrix_game
from nashlab.theory import matrix_theorems  # registers the theorems
from nashlab.theory.registry import all_theorems
from nashlab.theory.verdicts import check

FAST = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


def _iterations(rate, cap=300):
    return int(min(cap, math.ceil(30.0 / -math.log(rate)) + 5))


def _assert_holds(trajectory, theorem_id):
    verdict = check(trajectory, theorem_id)
    assert verdict.assumptions_hold, verdict.reason
    assert verdict.passed, verdict


TESTED = {"mmd/matrix-game"}


def test_every_matrix_theorem_has_a_property_test():
    ids = {t.id for t in all_theorems() if t.suite.__module__ == matrix_theorems.__name__}
    assert "mmd/matrix-game" in ids
    assert ids <= TESTED, sorted(ids - TESTED)


@FAST
@given(st.integers(2, 12), st.integers(2, 12), st.floats(0.1, 2.0), st.integers(0, 2**16))
def test_mmd_matrix_game(m, n, tau, seed):
    game = random_matrix_game(m, n, tau=tau, seed=seed)
    step = tau / game.scale ** 2
    traj = run_matrix_game(game, "mmd", eta=step, track=("kl",),
                           iterations=_iterations(1 / (1 + step * tau) ** 2))
    _assert_holds(traj, "mmd/matrix-game")
