"""Property tests: every registered matrix-game theorem holds, via ``check``, at every
iteration on hypothesis games (A ~ U(−1, 1), m, n ∈ [2, 12], τ ∈ [0.1, 2]; the extragradient
theorems also from peaked starts), with the step size at the largest value its condition
allows; and the per-step PU contraction fails when the step is 10 % too long for it."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab.games.matrix import random_matrix_game
from nashlab.solvers.matrix_games import run_matrix_game
from nashlab.solvers.results import Trajectory
from nashlab.theory import matrix_theorems  # registers the theorems
from nashlab.theory.registry import all_theorems
from nashlab.theory.strategies import example_budget
from nashlab.theory.verdicts import check

FAST = settings(max_examples=example_budget(20), deadline=None, suppress_health_check=list(HealthCheck))


def _iterations(rate, cap=300):
    return int(min(cap, math.ceil(30.0 / -math.log(rate)) + 5))


def _assert_holds(trajectory, theorem_id):
    verdict = check(trajectory, theorem_id)
    assert verdict.assumptions_hold, verdict.reason
    assert verdict.passed, verdict


TESTED = {"mmd/matrix-game", "pu/matrix-game", "mirror-prox/matrix-game",
          "mirror-prox/ergodic-gap", "omwu/matrix-game-slope"}


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


def _start(m, n, seed, peaked):
    if not peaked:
        return None
    rng = np.random.default_rng(seed)
    x, y = np.exp(4 * rng.standard_normal(m)), np.exp(4 * rng.standard_normal(n))
    return x / x.sum(), y / y.sum()


@FAST
@given(st.integers(2, 12), st.integers(2, 12), st.floats(0.1, 2.0), st.integers(0, 2**16),
       st.booleans())
def test_pu_and_mirror_prox_contract(m, n, tau, seed, peaked):
    game = random_matrix_game(m, n, tau=tau, seed=seed)
    step = 1 / (tau + game.scale)
    T = _iterations(1 - step * tau)
    init = _start(m, n, seed, peaked)
    _assert_holds(run_matrix_game(game, "pu", eta=step, iterations=T, init=init,
                                  track=("kl",)), "pu/matrix-game")
    _assert_holds(run_matrix_game(game, "mirror-prox", eta=1 / game.scale, iterations=T,
                                  init=init, track=("kl",)), "mirror-prox/matrix-game")


@FAST
@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 2**16), st.booleans())
def test_mirror_prox_ergodic_gap(m, n, seed, peaked):
    game = random_matrix_game(m, n, tau=0.0, seed=seed)
    traj = run_matrix_game(game, "mirror-prox", eta=1 / game.scale, iterations=150,
                           init=_start(m, n, seed, peaked), track=("duality_gap",))
    _assert_holds(traj, "mirror-prox/ergodic-gap")


@FAST
@given(st.integers(2, 12), st.integers(2, 12), st.floats(0.1, 2.0), st.integers(0, 2**16))
def test_omwu_matrix_game_slope(m, n, tau, seed):
    game = random_matrix_game(m, n, tau=tau, seed=seed)
    step = min(1 / (2 * tau + 2 * game.scale), 1 / (4 * game.scale))
    traj = run_matrix_game(game, "omwu", eta=step, iterations=_iterations(1 - step * tau, 600),
                           track=("kl",))
    _assert_holds(traj, "omwu/matrix-game-slope")


def test_pu_contraction_catches_a_kick_and_is_blind_to_a_longer_step():
    """A logit kick of 0.1 on one action at one step (the run continued from the kicked
    point) violates the per-step bound; a step 10 % longer than the one recorded does not
    (it contracts faster: only the local-rate verdict tells it apart)."""
    game = random_matrix_game(8, 10, tau=0.5, seed=5)
    step = 1 / (0.5 + game.scale)
    first = run_matrix_game(game, "pu", eta=step, iterations=21, track=("kl",))
    z = np.log(first.policy)
    z[0] += 0.1
    x, y = np.exp(z[:8]) / np.exp(z[:8]).sum(), np.exp(z[8:]) / np.exp(z[8:]).sum()
    rest = run_matrix_game(game, "pu", eta=step, iterations=20, init=(x, y), track=("kl",))
    kicked = Trajectory("pu", first.params, {"kl": np.concatenate([first["kl"][:21],
                                                                    rest["kl"]])}, rest.policy)
    verdict = check(kicked, "pu/matrix-game")
    assert verdict.status == "fail" and verdict.first_violation == 21, verdict
    longer = run_matrix_game(game, "pu", eta=1.1 * step, iterations=60, track=("kl",))
    longer.params["eta"] = step
    assert check(longer, "pu/matrix-game").passed
