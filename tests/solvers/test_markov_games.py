"""Zero-sum Markov games: certified Shapley/QRE solutions, NashConv from exact best
responses, Shapley VI and the per-state methods with a slow value update, the one metric
vocabulary (a one-state Markov game = its matrix game = its preference game)."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import linprog

from nashlab._xp import softmax
from nashlab.games import metrics
from nashlab.games.generators import random_preference
from nashlab.games.markov_game import ZeroSumMarkovGame, entropy, random_markov_game
from nashlab.games.matrix import MatrixGame
from nashlab.solvers.markov_games import (
    MARKOV_METRICS,
    markov_duality_gap,
    markov_exploitability,
    markov_nash_conv,
    markov_unregularized_exploitability,
    run_markov_game,
    solve_markov_game,
    stage_equilibria,
)
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Solution, Trajectory
from nashlab.theory.mdp_strategies import markov_games

COMMON_KEYS = {"family", "method", "backend", "n_actions", "n_states", "batch_shape"}


def lp_matrix_value(M):
    """val(M) = max t s.t. Mᵀx ≥ t, x ∈ Δ (HiGHS), written out independently."""
    A, B = M.shape
    res = linprog(np.r_[np.zeros(A), -1.0], A_ub=np.hstack([-M.T, np.ones((B, 1))]),
                  b_ub=np.zeros(B), A_eq=np.r_[np.ones(A), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * A + [(None, None)], method="highs")
    return res.x[-1]


def pair(mu, nu):
    return np.concatenate([mu, nu], axis=1)


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
    sol = solve_markov_game(game, tau=tau)
    assert sol.certified and sol.residual <= 1e-10 and abs(sol.gap) <= 1e-10
    Q = game.q_values(sol.values)
    bx = np.exp(np.einsum("sab,sb->sa", Q, sol.split()[1]) / tau)
    by = np.exp(-np.einsum("sab,sa->sb", Q, sol.split()[0]) / tau)
    assert np.max(np.abs(sol.split()[0] - bx / bx.sum(1, keepdims=True))) <= 1e-12
    assert np.max(np.abs(sol.split()[1] - by / by.sum(1, keepdims=True))) <= 1e-12
    np.testing.assert_allclose(game.evaluate(sol.split()[0], sol.split()[1], tau), sol.values, atol=1e-10)


def test_solution_params_schema_and_gap_is_nash_conv():
    game = random_markov_game(3, 2, 4, gamma=0.7, seed=4)
    sol = solve_markov_game(game, tau=0.3, max_iterations=50)
    assert COMMON_KEYS <= set(sol.params)
    assert sol.params["family"] == "markov-game" and sol.method == "hoffman-karp"
    assert sol.params["backend"] == "numpy" and sol.params["batch_shape"] == []
    assert sol.params["n_actions"] == [2, 4] and sol.params["n_states"] == 3
    assert sol.params["gamma"] == 0.7 and sol.params["tau"] == 0.3
    assert sol.policy.shape == (3, 6)
    assert sol.gap == markov_nash_conv(game, sol.policy, tau=0.3)
    assert Solution.from_json(sol.to_json()).params == sol.params
    with pytest.raises(TypeError):
        solve_markov_game(game, 0.3)  # tau is keyword-only
    with pytest.raises(TypeError, match="max_iterations"):
        solve_markov_game(game, max_iterations=2.5)


def test_exploitability_is_positive_off_equilibrium():
    game = random_markov_game(2, 3, 3, gamma=0.5, seed=1)
    uniform_x, uniform_y = np.full((2, 3), 1 / 3), np.full((2, 3), 1 / 3)
    sol = solve_markov_game(game)
    assert markov_nash_conv(game, pair(uniform_x, uniform_y)) > 1e-3
    # best responses sandwich the equilibrium value
    assert markov_nash_conv(game, pair(sol.split()[0], uniform_y)) >= -1e-12


@pytest.mark.parametrize("tau", [0.0, 0.4])
def test_metric_vocabulary(tau):
    """exploitability = ½·NashConv (the mean of the two gains), duality gap = NashConv, and
    NashConv = max_s of the sum of the two players' exact best-response gains."""
    game = random_markov_game(3, 3, 2, gamma=0.6, seed=8)
    rng = np.random.default_rng(0)
    mu, nu = rng.dirichlet(np.ones(3), size=3), rng.dirichlet(np.ones(2), size=3)
    policy = pair(mu, nu)
    value = game.evaluate(mu, nu, tau)
    gains = []
    for mdp, sign in ((game.mdp_for_max(nu, tau), 1.0), (game.mdp_for_min(mu, tau), -1.0)):
        # independent best response: regularized value iteration to convergence
        v = np.zeros(3)
        for _ in range(400):
            q = mdp.r + mdp.gamma * mdp.P @ v
            v = tau * np.log(np.sum(np.exp(q / tau), axis=1)) if tau else q.max(axis=1)
        gains.append(v - sign * value)
    gain_x, gain_y = gains
    assert np.all(gain_x >= -1e-12) and np.all(gain_y >= -1e-12)
    nc = markov_nash_conv(game, policy, tau=tau)
    assert abs(nc - np.max(gain_x + gain_y)) <= 1e-10
    assert markov_exploitability(game, policy, tau=tau) == 0.5 * nc
    assert markov_duality_gap(game, policy, tau=tau) == nc
    assert markov_unregularized_exploitability(game, policy, tau=tau) == \
        markov_exploitability(game, policy)


def test_shapley_vi_and_hoffman_karp_agree():
    game = random_markov_game(2, 2, 3, gamma=0.3, seed=2)
    sol = solve_markov_game(game)
    traj = run_markov_game(game, "shapley", iterations=6, solution=sol, track=MARKOV_METRICS)
    assert np.all(np.diff(traj["nash_conv"]) <= 1e-12)  # here it decreases monotonically
    np.testing.assert_array_equal(traj["exploitability"], 0.5 * traj["nash_conv"])
    np.testing.assert_array_equal(traj["duality_gap"], traj["nash_conv"])
    traj = run_markov_game(game, "shapley", iterations=28, solution=sol, track=("value_error",))
    assert set(traj.metrics) == {"value_error"}  # untracked metrics are absent
    assert traj["value_error"][-1] <= 1e-12


@pytest.mark.parametrize("method", ["pu", "omwu", "mmd"])
def test_per_state_methods_converge_to_the_qre(method):
    game = random_markov_game(2, 3, 3, gamma=0.5, seed=3)
    traj = run_markov_game(game, method, iterations=800, tau=0.5,
                           track=("value_error", "policy_kl"))
    assert traj["value_error"][-1] <= 1e-6 * traj["value_error"][0]
    assert traj["policy_kl"][-1] <= 1e-8
    assert markov_nash_conv(game, traj.policy, tau=0.5) <= 1e-6
    json.dumps(traj.to_dict())


def test_trajectory_params_schema():
    game = random_markov_game(2, 3, 2, gamma=0.5, seed=0)
    traj = run_markov_game(game, "omwu", iterations=3, tau=0.5, eta=0.3, value_step=0.2,
                           seed=7)
    assert COMMON_KEYS <= set(traj.params)
    p = traj.params
    assert (p["family"], p["method"], p["backend"]) == ("markov-game", "omwu", "numpy")
    assert p["n_actions"] == [3, 2] and p["n_states"] == 2 and p["batch_shape"] == []
    assert (p["gamma"], p["tau"], p["eta"], p["value_step"], p["iterations"], p["seed"]) == \
        (0.5, 0.5, 0.3, 0.2, 3, 7)
    assert p["kl0"] == traj["policy_kl"][0]
    assert set(traj.metrics) == {"value_error", "policy_kl", "exploitability"}  # the default
    assert all(len(m) == 4 for m in traj.metrics.values())
    assert traj.policy.shape == (2, 5)
    back = Trajectory.from_json(traj.to_json())
    assert back.params == p and np.array_equal(back.policy, traj.policy)


# -- the per-state methods are the compositions of the one step: equal to the loop they replace
def _reference_per_state(game, rule, tau, iterations, eta, value_step, init):
    """The hand-written per-state loop of the previous implementation (prox_step in the
    prox parametrisation η = η'/(1 − η'τ) for PU/OMWU), kept as the reference."""
    S, A, B = game.r.shape
    ux, uy = np.full((S, A), -math.log(A)), np.full((S, B), -math.log(B))
    log_x, log_y = np.log(init[0]), np.log(init[1])
    mid_x, mid_y = log_x.copy(), log_y.copy()
    alpha = eta * tau if value_step is None else value_step
    md = eta_from_mirror_descent(eta, tau) if rule != "mmd" else None
    v, values = np.zeros(S), [np.zeros(S)]
    for _ in range(iterations):
        x, y = softmax(log_x), softmax(log_y)
        Q = game.q_values(v)
        if rule == "mmd":
            log_x, log_y = (prox_step(log_x, np.einsum("sab,sb->sa", Q, y), eta=eta, beta=tau,
                                      log_reference=ux),
                            prox_step(log_y, -np.einsum("sab,sa->sb", Q, x), eta=eta, beta=tau,
                                      log_reference=uy))
            px, py = softmax(log_x), softmax(log_y)
        else:
            if rule == "pu":
                gx, gy = np.einsum("sab,sb->sa", Q, y), -np.einsum("sab,sa->sb", Q, x)
            else:  # omwu: the midpoint uses the previous midpoint of the opponent
                gx = np.einsum("sab,sb->sa", Q, softmax(mid_y))
                gy = -np.einsum("sab,sa->sb", Q, softmax(mid_x))
            mid_x = prox_step(log_x, gx, eta=md, beta=tau, log_reference=ux)
            mid_y = prox_step(log_y, gy, eta=md, beta=tau, log_reference=uy)
            px, py = softmax(mid_x), softmax(mid_y)
            log_x = prox_step(log_x, np.einsum("sab,sb->sa", Q, py), eta=md, beta=tau,
                              log_reference=ux)
            log_y = prox_step(log_y, -np.einsum("sab,sa->sb", Q, px), eta=md, beta=tau,
                              log_reference=uy)
        stage = np.einsum("sa,sab,sb->s", px, Q, py) + tau * entropy(px) - tau * entropy(py)
        v = (1 - alpha) * v + alpha * stage
        values.append(v)
    return pair(softmax(log_x), softmax(log_y)), np.array(values)


@pytest.mark.parametrize("method", ["pu", "omwu", "mmd"])
@pytest.mark.parametrize("case", [(2, 3, 3, 0.5, 3, 0.5, None, None, False),
                                  (3, 2, 4, 0.8, 1, 0.2, None, None, True),
                                  (1, 3, 4, 0.0, 0, 1.0, 0.5, 0.0, False),
                                  (3, 3, 2, 0.9, 7, 0.3, 0.4, 0.1, True)])
def test_compositions_equal_the_reference_loop(method, case):
    S, A, B, gamma, seed, tau, eta, value_step, custom_init = case
    game = random_markov_game(S, A, B, gamma=gamma, seed=seed)
    rng = np.random.default_rng(seed)
    init = ((rng.dirichlet(np.ones(A), size=S), rng.dirichlet(np.ones(B), size=S))
            if custom_init else (np.full((S, A), 1 / A), np.full((S, B), 1 / B)))
    sol = solve_markov_game(game, tau=tau)
    options = {} if value_step is None else {"value_step": value_step}
    traj = run_markov_game(game, method, iterations=60, tau=tau, eta=eta, solution=sol,
                           init=init if custom_init else None, track=("value_error",),
                           **options)
    ref_policy, ref_values = _reference_per_state(game, method, tau, 60, traj.params["eta"],
                                                  value_step, init)
    np.testing.assert_allclose(traj.policy, ref_policy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traj["value_error"],
                               np.max(np.abs(ref_values - sol.values), axis=1), rtol=0, atol=1e-12)


def test_init_is_the_starting_point():
    game = random_markov_game(2, 3, 2, gamma=0.5, seed=0)
    x0 = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    y0 = np.array([[0.9, 0.1], [0.4, 0.6]])
    traj = run_markov_game(game, "mmd", iterations=0, tau=0.3, init=(x0, y0), track=())
    np.testing.assert_allclose(traj.policy, pair(x0, y0), rtol=0, atol=1e-15)
    assert traj.metrics == {}


# -- one vocabulary: a one-state Markov game = its matrix game = its preference game
def one_state(A, gamma):
    m, n = A.shape
    return ZeroSumMarkovGame(np.ones((1, m, n, 1)), A[None], gamma)


def vocabulary(game, policy, **kwargs):
    return np.array([float(f(game, policy, **kwargs)) for f in
                     (metrics.exploitability, metrics.nash_conv, metrics.duality_gap)])


def markov_vocabulary(game, policy, tau):
    """The dispatched vocabulary on a Markov game (``duality_gap`` does not pass ``tau`` on
    yet: its Markov version is called directly)."""
    values = np.array([metrics.exploitability(game, policy, tau=tau),
                       metrics.nash_conv(game, policy, tau=tau),
                       markov_duality_gap(game, policy, tau=tau)])
    np.testing.assert_array_equal(values, [markov_exploitability(game, policy, tau=tau),
                                           markov_nash_conv(game, policy, tau=tau),
                                           markov_nash_conv(game, policy, tau=tau)])
    return values


@pytest.mark.parametrize("tau", [0.0, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_one_state_markov_game_is_the_matrix_game(tau, gamma):
    rng = np.random.default_rng(11)
    A = rng.uniform(-1, 1, size=(3, 4))
    for _ in range(3):
        x, y = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4))
        matrix = vocabulary(MatrixGame(A, tau), np.concatenate([x, y]))
        # V^{μ,ν} = f_τ(x, y)/(1 − γ) on a one-state game: the gains scale by 1/(1 − γ)
        markov = markov_vocabulary(one_state(A, gamma), pair(x[None], y[None]), tau)
        np.testing.assert_allclose((1 - gamma) * markov, matrix, rtol=0, atol=1e-12)
        assert matrix[0] == 0.5 * matrix[1] and matrix[2] == matrix[1] and matrix[1] > 1e-3


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_one_state_markov_game_is_the_preference_game(beta):
    """A = P − ½ (antisymmetric), μ uniform, β = τ: the preference game at π, the matrix
    game (A, τ) at (π, π) and the one-state Markov game at (π, π) agree."""
    game = random_preference(4, beta=beta, seed=2)
    assert np.allclose(game.reference, 0.25)
    rng = np.random.default_rng(5)
    for _ in range(3):
        pi = rng.dirichlet(np.ones(4))
        preference = vocabulary(game, pi)
        matrix = vocabulary(MatrixGame(game.A, beta), np.concatenate([pi, pi]))
        markov = markov_vocabulary(one_state(game.A, 0.0), pair(pi[None], pi[None]), beta)
        np.testing.assert_allclose(matrix, preference, rtol=0, atol=1e-12)
        np.testing.assert_allclose(markov, preference, rtol=0, atol=1e-12)
        assert preference[1] > 1e-3


def test_best_responses_are_the_regularized_mdp_optima():
    game = random_markov_game(3, 3, 2, gamma=0.7, seed=6)
    sol = solve_markov_game(game, tau=0.4)
    # the QRE is its own best response
    br = metrics.best_response_logits(game, sol.policy, tau=0.4)
    np.testing.assert_allclose(np.exp(br), sol.policy, rtol=0, atol=1e-10)
    # a one-state γ = 0 game: the matrix game's closed-form best responses
    A = np.random.default_rng(1).uniform(-1, 1, size=(3, 4))
    x, y = np.full(3, 1 / 3), np.array([0.1, 0.2, 0.3, 0.4])
    markov = metrics.best_response_logits(one_state(A, 0.0), pair(x[None], y[None]), tau=0.25)
    matrix = metrics.best_response_logits(MatrixGame(A, 0.25), np.concatenate([x, y]))
    np.testing.assert_allclose(markov[0], matrix, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="tau > 0"):
        metrics.best_response_logits(game, sol.policy)


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


def test_bad_run_arguments_rejected():
    game = random_markov_game(2, 2, 3, gamma=0.5, seed=0)
    with pytest.raises(TypeError, match="unknown option.*step_size.*value_step"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, step_size=0.1)
    with pytest.raises(TypeError, match="unknown option.*value_step"):
        run_markov_game(game, "shapley", iterations=2, value_step=0.5)
    with pytest.raises(TypeError, match="track_exploitability"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, track_exploitability=False)
    with pytest.raises(ValueError, match="value_step"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, value_step=1.5)
    with pytest.raises(ValueError, match="takes no eta"):
        run_markov_game(game, "shapley", iterations=2, eta=0.5)
    with pytest.raises(ValueError, match="track"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, track=("kl",))
    with pytest.raises(ValueError, match="track"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, track="value_error")
    with pytest.raises(TypeError, match="init"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, init=np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"init\[1\] must have shape"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2,
                        init=(np.full((2, 2), 0.5), np.full((1, 3), 1 / 3)))
    with pytest.raises(ValueError, match=r"init\[0\]"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2,
                        init=(np.array([[1.0, 0.0], [0.5, 0.5]]), np.full((2, 3), 1 / 3)))
    with pytest.raises(ValueError, match="solution was solved for tau"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, solution=solve_markov_game(game))
    with pytest.raises(TypeError, match="solution"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, solution=np.zeros(3))
    with pytest.raises(TypeError, match="seed"):
        run_markov_game(game, "mmd", iterations=2, tau=0.2, seed=0.5)
    with pytest.raises(ValueError, match=r"policy must have shape \(S, A \+ B\)"):
        markov_nash_conv(game, np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="nu"):
        markov_nash_conv(game, np.concatenate([np.full((2, 2), 0.5), np.full((2, 3), 0.5)], 1))


# -- per-state action sets ---------------------------------------------------------------------
def _game_with_action_sets(seed, S=4, A=3, B=3, gamma=0.8):
    """A random game restricted to random per-state action sets (nothing stored off them),
    and the padded game of the same size: every infeasible column a copy of a feasible one
    plus M, then every infeasible row a copy of a feasible one minus M (strictly dominated
    for the player who owns it, so the value and the equilibria are those of the restricted
    game at τ = 0: iterated elimination of strictly dominated actions)."""
    rng = np.random.default_rng(seed)
    full = random_markov_game(S, A, B, gamma=gamma, seed=seed)
    fx, fy = rng.random((S, A)) < 0.5, rng.random((S, B)) < 0.5
    fx[np.arange(S), rng.integers(0, A, S)] = True
    fy[np.arange(S), rng.integers(0, B, S)] = True
    joint = fx[:, :, None] & fy[:, None, :]
    game = ZeroSumMarkovGame(np.where(joint[..., None], full.P, 0.0),
                             np.where(joint, full.r, 0.0), gamma, feasible_max=fx,
                             feasible_min=fy)
    M = 10.0 / (1 - gamma)
    P, r = full.P.copy(), full.r.copy()
    for s in range(S):
        b0, a0 = np.flatnonzero(fy[s])[0], np.flatnonzero(fx[s])[0]
        P[s][:, ~fy[s]] = P[s][:, [b0]]
        r[s][:, ~fy[s]] = r[s][:, [b0]] + M
        P[s][~fx[s]] = P[s][[a0]]
        r[s][~fx[s]] = r[s][[a0]] - M
    return game, ZeroSumMarkovGame(P, r, gamma)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_action_sets_match_the_padded_game(seed):
    game, padded = _game_with_action_sets(seed)
    sol, ref = solve_markov_game(game), solve_markov_game(padded)
    assert sol.certified and ref.certified
    np.testing.assert_allclose(sol.values, ref.values, rtol=0, atol=1e-10)
    mask = np.concatenate([game.feasible("max"), game.feasible("min")], axis=1)
    assert np.all(sol.policy[~mask] == 0)
    assert markov_nash_conv(padded, sol.policy) <= 1e-10
    # the restricted stage LPs at v*, written out independently (lp_matrix_value)
    Q = game.q_values(sol.values)
    for s in range(game.n_states):
        sub = Q[s][np.ix_(game.feasible("max")[s], game.feasible("min")[s])]
        assert lp_matrix_value(sub) == pytest.approx(sol.values[s], abs=1e-10)


@pytest.mark.parametrize("method", ["shapley", "pu", "omwu", "mmd"])
def test_uniform_action_sets_match_the_sliced_game(method):
    """The same action set in every state: the game with masks runs exactly as the game
    with those actions only (τ > 0, where padding would not be exact)."""
    full = random_markov_game(3, 4, 3, gamma=0.7, seed=5)
    rows, cols = np.array([0, 2, 3]), np.array([1, 2])
    fx = np.zeros((3, 4), bool)
    fx[:, rows] = True
    fy = np.zeros((3, 3), bool)
    fy[:, cols] = True
    joint = fx[:, :, None] & fy[:, None, :]
    masked = ZeroSumMarkovGame(np.where(joint[..., None], full.P, 0.0),
                               np.where(joint, full.r, 0.0), 0.7, feasible_max=fx,
                               feasible_min=fy)
    P = full.P[:, rows][:, :, cols]
    sliced = ZeroSumMarkovGame(P / P.sum(axis=-1, keepdims=True), full.r[:, rows][:, :, cols],
                               0.7)
    assert np.allclose(P.sum(axis=-1), 1.0)
    tau, eta = 0.2, (None if method == "shapley" else 0.3)
    a = run_markov_game(masked, method, iterations=15, tau=tau, eta=eta, track=MARKOV_METRICS)
    b = run_markov_game(sliced, method, iterations=15, tau=tau, eta=eta, track=MARKOV_METRICS)
    for name in MARKOV_METRICS:
        np.testing.assert_allclose(a.metrics[name], b.metrics[name], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.policy[:, np.r_[rows, 4 + cols]], b.policy, atol=1e-12)
    assert np.all(a.policy[:, np.setdiff1d(np.arange(7), np.r_[rows, 4 + cols])] == 0)


def test_action_set_errors():
    game, _ = _game_with_action_sets(0)
    S, A, B = game.r.shape
    P, r = game.P, game.r
    fx, fy = game.feasible("max"), game.feasible("min")
    with pytest.raises(ValueError, match="feasible_max"):
        ZeroSumMarkovGame(P, r, 0.8, feasible_max=np.zeros((S, A), bool))
    with pytest.raises(TypeError, match="feasible_min"):
        ZeroSumMarkovGame(P, r, 0.8, feasible_max=fx, feasible_min=fy.astype(int))
    with pytest.raises(ValueError, match="feasible_min must have shape"):
        ZeroSumMarkovGame(P, r, 0.8, feasible_max=fx, feasible_min=fy[:, :2])
    with pytest.raises(ValueError, match="must be 0 where"):
        ZeroSumMarkovGame(P, r + 1.0, 0.8, feasible_max=fx, feasible_min=fy)
    with pytest.raises(ValueError, match="sum to 1"):  # a feasible pair's row left empty
        ZeroSumMarkovGame(np.zeros_like(P), r, 0.8, feasible_max=fx, feasible_min=fy)
    s, a = np.argwhere(~fx)[0]
    bad = np.concatenate(game.uniform_policies(), axis=1)
    bad[s, :A] = np.eye(A)[a]
    with pytest.raises(ValueError, match="infeasible action"):
        markov_nash_conv(game, bad)
    mu, nu = game.uniform_policies()
    zero = mu.copy()
    t, c = np.argwhere(fx & (fx.sum(axis=1, keepdims=True) > 1))[0]
    zero[t] = fx[t] / (fx[t].sum() - 1)
    zero[t, c] = 0.0
    with pytest.raises(ValueError, match="strictly positive on the feasible"):
        run_markov_game(game, "pu", iterations=1, tau=0.1, init=(zero, nu))
