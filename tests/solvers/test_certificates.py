"""Certificates relative to the problem's scale, and solvers that end with certified=False
(never a traceback, a NaN or a warning) where the floating-point range runs out (issue 11)."""

import warnings

import numpy as np
import pytest

from nashlab import games
from nashlab.solvers import (
    ExactOracle,
    SampledOracle,
    equilibrium,
    fixed_point_residual,
    qre,
    solve_markov_game,
)
from nashlab.solvers.markov_games import markov_exploitability

RPS_WINNER = np.array([1.0, 3.0, 3.0]) / 7  # the von Neumann winner of perturbed RPS
PAYOFF = games.perturbed_rps(beta=0.0).A


@pytest.mark.parametrize("scale", [1e-9 / 6, 1e-6, 1e-3, 1.0])
def test_preference_winner_is_scale_invariant(scale):
    """P = ½ + c·A has the winners of A for every c > 0 (as far as ½ + c·A is not rounded
    away: below c ≈ 1e-11 the stored game itself differs); c = 1e-9/6 used to return
    [1, 0, 0] certified (HiGHS' absolute tolerances against payoffs of 1e-10)."""
    eq = equilibrium(games.PreferenceGame.from_payoff(scale * PAYOFF, beta=0.0))
    assert eq.certified
    np.testing.assert_allclose(eq.policy, RPS_WINNER, rtol=1e-9)
    assert eq.residual <= 1e-9 * 2 * scale * np.max(np.abs(PAYOFF))


@pytest.mark.parametrize("scale", [1e-300, 1e-10, 1.0, 1e10])
def test_matrix_saddle_point_is_scale_invariant(scale):
    sol = qre(games.MatrixGame(scale * PAYOFF, 0.0))
    assert sol.certified
    x, y = sol.split()
    np.testing.assert_allclose(x, RPS_WINNER, rtol=1e-9)
    np.testing.assert_allclose(y, RPS_WINNER, rtol=1e-9)


def test_regularized_certificates_scale_with_the_game():
    """(A, τ) → (cA, cτ) has the same QRE; the certificate's verdict does not change."""
    base = games.random_matrix_game(4, 5, tau=0.2, seed=0)
    ref = qre(base)
    for c in (1e-12, 1e-6, 1e6):
        sol = qre(games.MatrixGame(c * base.A, c * base.tau))
        assert sol.certified, sol.message
        np.testing.assert_allclose(sol.policy, ref.policy, rtol=1e-9)
        assert sol.gap <= 1e-13 * c * max(base.scale, base.tau)


@pytest.mark.parametrize("beta", [1e-9, 1e-11, 1e-13, 1e-300])
def test_tiny_beta_ends_uncertified_with_a_message_and_no_warning(beta):
    game = games.random_preference(6, beta=beta, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eq = equilibrium(game)
    assert not eq.certified and "not certified" in eq.message
    assert np.all(np.isfinite(eq.policy)) and abs(eq.policy.sum() - 1) <= 1e-12


@pytest.mark.parametrize("tau", [1e-10, 1e-13, 1e-300])
def test_tiny_tau_never_raises_or_warns(tau):
    """τ = 1e-13 used to end in LinAlgError; now a Solution whose certificate says what it is."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = qre(games.random_matrix_game(4, 5, tau=tau, seed=0))
    assert np.all(np.isfinite(sol.policy)) and np.isfinite(sol.gap)
    assert sol.certified == ("not certified" not in sol.message)


def test_oracles_refuse_what_is_not_a_policy():
    game = games.rps(beta=0.1)
    with pytest.raises(TypeError, match="game must be a PreferenceGame"):
        ExactOracle(3)
    with pytest.raises(TypeError, match="game must be a PreferenceGame"):
        SampledOracle(games.random_matrix_game(3, 3), 4, 0)
    for oracle in (ExactOracle(game), SampledOracle(game, 4, 0)):
        with pytest.raises(ValueError, match="finite and non-negative"):
            oracle(np.array([-0.5, 1.0, 0.5]))
        with pytest.raises(ValueError, match="sum to 1"):
            oracle(np.array([0.5, 0.5, 0.5]))
        with pytest.raises(ValueError, match="length 3"):
            oracle(np.array([0.5, 0.5]))
        with pytest.raises(TypeError, match="real array"):
            oracle(np.array([0.5, 0.5, 0j]))


def _sequence_game(seed):
    from nashlab.scaling.sequence_game import SequenceGame  # NumPy only

    return SequenceGame(3, 2, "random", seed=seed)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fixed_point_residual(3, [0.0, 0.0]), TypeError, "game must be a PreferenceGame"),
    (lambda: fixed_point_residual(games.rps(beta=0.1), [0.0, 0.0]), ValueError, "length 3"),
    (lambda: games.random_preference(3, seed=True), TypeError, "seed must be an integer"),
    (lambda: games.random_preference(3, seed=-1), ValueError, "seed must be ≥ 0"),
    (lambda: games.random_preference(3, seed=1.5), TypeError, "seed must be an integer"),
    (lambda: games.random_preference(3, batch_shape=(-1,)), ValueError, r"batch_shape\[0\] must be ≥ 0"),
    (lambda: games.random_preference(3, batch_shape=2), TypeError, "batch_shape must be a tuple"),
    (lambda: games.random_matrix_game(2, 2, seed=True), TypeError, "seed must be an integer"),
    (lambda: equilibrium(games.rps(), warm_start=-1), ValueError, "warm_start must be ≥ 0"),
    (lambda: equilibrium(games.rps(), max_newton=0.5), TypeError, "max_newton must be an integer"),
    (lambda: qre(games.random_matrix_game(2, 2), warm_start=1.5), TypeError, "warm_start must be an integer"),
    # garnet and SequenceGame passed the seed to numpy: True was seed 1, −1 numpy's message
    (lambda: games.garnet(4, 2, 2, seed=True), TypeError, "seed must be an integer"),
    (lambda: games.garnet(4, 2, 2, seed=-1), ValueError, "seed must be ≥ 0"),
    # A = 10**30 ran a Python loop over S·A pairs (a hang), then an OverflowError
    (lambda: games.garnet(4, 10**30, 2, seed=0), ValueError, r"garnet\(S=4, A=10+, b=2.*memory"),
    (lambda: _sequence_game(seed=True), TypeError, "seed must be an integer"),
    (lambda: _sequence_game(seed=-1), ValueError, "seed must be ≥ 0"),
    (lambda: markov_exploitability(games.rps(), np.ones((1, 6)) / 3), TypeError,
     "game must be a ZeroSumMarkovGame"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"branching": 1.7}, TypeError, "branching must be an integer"),
    ({"branching": 0}, ValueError, "branching must be ≥ 1"),
    ({"branching": 4}, ValueError, r"branching must lie in \[1, S = 3\]"),
    ({"seed": True}, TypeError, "seed must be an integer"),
])
def test_random_markov_game_refuses_what_it_would_coerce(kwargs, error, match):
    """branching=1.7 used to become 1 silently; seed=True was a seed."""
    with pytest.raises(error, match=match):
        games.random_markov_game(3, 2, 2, **kwargs)


@pytest.mark.parametrize("tau", [0.0, 0.3])
@pytest.mark.parametrize("scale", [1e-300, 1e-11, 1e4, 1e8])
def test_markov_game_certificate_is_scale_invariant(scale, tau):
    """(r, τ) → (c·r, c·τ) scales v*, the Shapley residual and NashConv by c: the verdict and
    the equilibrium do not change. With the absolute 1e-10, r ×1e-11 certified a one-step
    Hoffman–Karp policy 0.04 off the equilibrium and r ×1e8 left the exact one uncertified."""
    base = games.random_markov_game(4, 3, 3, gamma=0.9, seed=0)
    ref = solve_markov_game(base, tau=tau)
    scaled = games.ZeroSumMarkovGame(base.P, scale * base.r, base.gamma)
    sol = solve_markov_game(scaled, tau=scale * tau)
    assert ref.certified and sol.certified, sol.message
    np.testing.assert_allclose(sol.policy, ref.policy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sol.values / scale, ref.values, rtol=1e-9)
    assert sol.params["residual_tol"] == pytest.approx(scale * ref.params["residual_tol"], rel=1e-9)
    early = solve_markov_game(scaled, tau=scale * tau, max_iterations=1)
    assert not early.certified and early.residual > early.params["residual_tol"]


def test_one_state_markov_game_with_tiny_payoffs_is_the_rps_winner():
    """The issue's call: r = 1e-11·A of perturbed RPS, one state."""
    game = games.ZeroSumMarkovGame(np.ones((1, 3, 3, 1)), 1e-11 * PAYOFF[None], 0.9)
    sol = solve_markov_game(game)
    assert sol.certified
    x, y = sol.split()
    np.testing.assert_allclose(x[0], RPS_WINNER, rtol=1e-9)
    np.testing.assert_allclose(y[0], RPS_WINNER, rtol=1e-9)
