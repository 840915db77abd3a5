"""Regressions from the adversarial input pass (issue 11): each call below used to return a
wrong or unnamed answer (a warning and NaN, an unnamed TypeError, an allocation attempt)."""

import warnings

import numpy as np
import pytest

from nashlab import games
from nashlab.games.matrix import MatrixGame
from nashlab.games.uncertainty import KLBall, L1Ball
from nashlab.solvers.markov_games import solve_markov_game
from nashlab.solvers.matrix_games import qre
from nashlab.solvers.methods import get_method
from nashlab.solvers.oracles import make_oracle
from nashlab.solvers.prox import step_coefficients

RPS = np.array([[0.0, 1, -1], [-1, 0, 1], [1, -1, 0]]) + 0.1 * np.eye(3)


@pytest.mark.parametrize("name", [None, 3, ["nash-mp"], b"nash-mp"])
def test_get_method_names_a_non_string_method(name):
    with pytest.raises(TypeError, match="method must be a method name"):
        get_method("preference", name)


@pytest.mark.parametrize("form", [None, 1, ["prox"]])
def test_step_coefficients_names_a_non_string_form(form):
    with pytest.raises(TypeError, match="form must be one of"):
        step_coefficients(form, 1.0, 0.1)


@pytest.mark.parametrize("oracle", [["exact"], 0, None])
def test_make_oracle_refuses_a_non_string_oracle(oracle):
    with pytest.raises(ValueError, match="oracle must be one of"):
        make_oracle(games.rps(beta=0.1), oracle)


@pytest.mark.parametrize("ball", [L1Ball, KLBall])
def test_an_empty_radius_array_is_refused(ball):
    with pytest.raises(ValueError, match="non-empty array of radii"):
        ball(radius=np.array([]))


def test_generators_refuse_a_matrix_larger_than_memory():
    with pytest.raises(ValueError, match="more than this machine's memory"):
        games.random_preference(10 ** 8, beta=0.1, seed=0)


def test_garnet_refuses_a_matrix_larger_than_memory():
    with pytest.raises(ValueError, match="more than this machine's memory"):
        games.garnet(10 ** 6, 10, 2, seed=0)


def test_qre_refuses_a_tau_whose_logits_overflow():
    """τ = 1e-320 (subnormal): ‖A‖/τ overflows float64; it used to warn and return NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="tau = .* too small for float64"):
            qre(MatrixGame(RPS, 1e-320))
        with pytest.raises(ValueError, match="tau = .* too small for float64"):
            solve_markov_game(games.random_markov_game(3, 2, 2, seed=0), tau=1e-320)
        assert qre(MatrixGame(RPS, 1e-300)).certified  # representable: still solved
