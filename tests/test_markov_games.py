"""Zero-sum Markov games: certified Shapley/QRE solutions, exploitability from exact best
responses, Shapley VI and the per-state methods with a slow value update."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import linprog

from nashlab.games.markov_game import ZeroSumMarkovGame, entropy, random_markov_game
from nashlab.solvers.markov_games import (
    exploitability,
    run_markov_game,
    solve_markov_game,
    stage_equilibria,
)
from nashlab.theory.mdp_strategies import markov_games


def lp_matrix_value(M):
    """val(M) = max t s.t. Mᵀx ≥ t, x ∈ Δ (HiGHS), written out independently."""
    A, B = M.shape
    res = linprog(np.r_[np.zeros(A), -1.0], A_ub=np.hstack([-M.T, np.ones((B, 1))]),
                  b_ub=np.zeros(B), A_eq=np.r_[np.ones(A), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * A + [(None, None)], method="highs")
    return res.x[-1]


@settings(max_examples=6, deadline=None)
@given(markov_games(S_max=3, A_max=3, gamma_max=0.9))
def test_shapley_solution_is_certified(game):
    sol = solve_markov_game(game)
    assert sol.certified and sol.residual <= 1e-10 and abs(sol.gap) <= 1e-10
    # v*(s) = val(Q_{v*}(s)) checked by an independent LP per state
    Q = game.q_values(sol.values)
    lp = np.array([lp_matrix_value(Q[s]) for s in range(game.n_states)])
    np.testing.assert_allclose(sol.values, lp, atol=1e-8)
    # the equilibrium pair is a saddle point of the per-state matrix games
    for s in range(game.n_states):
        assert np.max(Q[s] @ sol.split()[1][s]) <= sol.values[s] + 1e-10
        assert np.min(sol.split()[0][s] @ Q[s]) >= sol.values[s] - 1e-10


def test_gamma_zero_is_independent_matrix_games():
    game = random_markov_game(3, 3, 4, gamma=0.0, seed=5)
    sol = solve_markov_game(game)
    lp = [lp_matrix_value(game.r[s]) for s in range(3)]
    np.testing.assert_allclose(sol.values, lp, atol=1e-9)


@settings(max_examples=6, deadline=None)
@given(markov_games(S_max=3, A_max=3, gamma_max=0.9))
def test_qre_fixed_point_and_zero_exploitability(game):
    tau = 0.2
    sol = solve_markov_game(game, tau)
    assert sol.certified and sol.residual <= 1e-10 and abs(sol.gap) <= 1e-10
    Q = game.q_values(sol.values)
    bx = np.exp(np.einsum("sab,sb->sa", Q, sol.split()[1]) / tau)
    by = np.exp(-np.einsum("sab,sa->sb", Q, sol.split()[0]) / tau)
    assert np.max(np.abs(sol.split()[0] - bx / bx.sum(1, keepdims=True))) <= 1e-12
    assert np.max(np.abs(sol.split()[1] - by / by.sum(1, keepdims=True))) <= 1e-12
    np.testing.assert_allclose(game.evaluate(sol.split()[0], sol.split()[1], tau), sol.values, atol=1e-10)


def test_exploitability_is_positive_off_equilibrium():
    game = random_markov_game(2, 3, 3, gamma=0.5, seed=1)
    uniform_x, uniform_y = np.full((2, 3), 1 / 3), np.full((2, 3), 1 / 3)
    sol = solve_markov_game(game)
    assert exploitability(game, uniform_x, uniform_y) > 1e-3
    # best responses sandwich the equilibrium value
    assert exploitability(game, sol.split()[0], uniform_y) >= -1e-12


def test_shapley_vi_and_hoffman_karp_agree():
    game = random_markov_game(2, 2, 3, gamma=0.3, seed=2)
    sol = solve_markov_game(game)
    traj = run_markov_game(game, "shapley", iterations=6, solution=sol)
    assert np.all(np.diff(traj["exploitability"]) <= 1e-12)  # here it decreases monotonically
    traj = run_markov_game(game, "shapley", iterations=28, solution=sol,
                           track_exploitability=False)
    assert traj["value_error"][-1] <= 1e-12


@pytest.mark.parametrize("method", ["pu", "omwu", "mmd"])
def test_per_state_methods_converge_to_the_qre(method):
    game = random_markov_game(2, 3, 3, gamma=0.5, seed=3)
    traj = run_markov_game(game, method, iterations=800, tau=0.5, track_exploitability=False)
    assert traj["value_error"][-1] <= 1e-6 * traj["value_error"][0]
    assert traj["policy_kl"][-1] <= 1e-8
    mu, nu = traj.policy[:, :3], traj.policy[:, 3:]
    assert exploitability(game, mu, nu, 0.5) <= 1e-6
    json.dumps(traj.to_dict())


def test_stage_equilibria_value_matches_definition():
    Q = np.random.default_rng(0).random((2, 3, 4))
    values, mu, nu, gap = stage_equilibria(Q, 0.3)
    assert gap <= 1e-12
    np.testing.assert_allclose(
        values, np.einsum("sa,sab,sb->s", mu, Q, nu) + 0.3 * (entropy(mu) - entropy(nu)))


def test_bad_inputs_rejected():
    P = np.full((2, 2, 2, 2), 0.5)
    r = np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match="gamma"):
        ZeroSumMarkovGame(P, r, 1.0)
    with pytest.raises(ValueError, match="P must have shape"):
        ZeroSumMarkovGame(P[:, :, :1], r, 0.9)
    with pytest.raises(ValueError, match="sum to 1"):
        ZeroSumMarkovGame(P * 1.1, r, 0.9)
    with pytest.raises(ValueError, match="r must have 3"):
        ZeroSumMarkovGame(P, r[0], 0.9)
    game = ZeroSumMarkovGame(P, r, 0.9)
    with pytest.raises(ValueError, match="nu"):
        game.mdp_for_max(np.full((2, 2), 0.7))
    with pytest.raises(ValueError, match="tau"):
        solve_markov_game(game, tau=-1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        run_markov_game(game, "fictitious-play", iterations=3)
    with pytest.raises(ValueError, match="needs tau > 0"):
        run_markov_game(game, "pu", iterations=3, tau=0.0)
    with pytest.raises(ValueError, match="eta·tau"):
        run_markov_game(game, "omwu", iterations=3, tau=1.0, eta=2.0)
    with pytest.raises(TypeError, match="ZeroSumMarkovGame"):
        solve_markov_game(np.zeros(3))
