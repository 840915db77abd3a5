"""craam2's support-restricted L1 set (``L1Ball(·, support="nominal")``), optimistic sets and
robust solvers on MDPs with infeasible actions, each against an independent LP (HiGHS) or
cvxpy program, and craam2's published values.

craam2's values: marekpetrik/craam2, test/core_tests.hpp, ``test_randomized_mdp`` and
``test_randomized_mdp_with_terminal_state`` (γ = 0.9, ``robust_l1u`` / ``optimistic_l1u``
at budgets 2, 1, 0.5, 0; checked there to BOOST_CHECK_CLOSE / CHECK_CLOSE_COLLECTION 1e-3).
"""

import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet
from nashlab.games.uncertainty import (
    Chi2Ball,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    WassersteinBall,
    parse_uncertainty,
)
from nashlab.solvers import robust_oracles as ro
from nashlab.solvers.dp import solve_mdp
from nashlab.solvers.robust import RobustBellman, run_robust, solve_robust

HIGHS_TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
CLARABEL = {"solver": cp.CLARABEL}


# -- independent programs ---------------------------------------------------------------------
def _lp_l1(p_bar, z, xi, nominal, sense=1.0):
    """sense·min sense·z·p s.t. p ∈ Δ, ‖p − p̄‖₁ ≤ ξ, p = 0 off supp p̄ if ``nominal`` (HiGHS)."""
    keep = np.flatnonzero(p_bar > 0) if nominal else np.arange(z.size)
    zk, pk = z[keep], p_bar[keep]
    n = keep.size
    eye = np.eye(n)
    A_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, n)), np.ones((1, n))]])
    res = linprog(np.r_[sense * zk, np.zeros(n)], A_ub=A_ub, b_ub=np.r_[pk, -pk, xi],
                  A_eq=np.r_[np.ones(n), np.zeros(n)][None], b_eq=[1.0], method="highs",
                  options=HIGHS_TIGHT)
    return sense * res.fun


def _random_row(rng, S):
    p = rng.dirichlet(np.full(S, 0.7))
    p[rng.random(S) < 0.4] = 0.0
    p = p / p.sum() if p.sum() > 0 else np.eye(S)[0]
    z = rng.normal(size=S) * rng.choice([0.1, 1.0, 10.0])
    if rng.random() < 0.3:  # ties
        z[: S // 2] = z[0]
    return p, z


def _sigma(unc, P_rows, z):
    """The (s,a)-rectangular σ of ``unc`` on the rows ``P_rows`` (N, S) through RobustBellman
    (one state per row, one action), so the optimistic sign is the solver's own."""
    N, S = P_rows.shape
    P = np.zeros((S, N, S))
    P[0] = P_rows
    P[1:, :] = np.eye(S)[1:, None, :]
    values, kernel = RobustBellman(MDP(P, np.zeros((S, N)), 0.5), unc)._sigma(z, True)
    return values[0], kernel[:N]


# -- (s,a)-rectangular oracles ----------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), xi=st.floats(0, 2.5), optimistic=st.booleans())
def test_l1_nominal_and_optimistic_match_lp(seed, xi, optimistic):
    rng = np.random.default_rng(seed)
    p_bar, z = _random_row(rng, int(rng.integers(2, 10)))
    sense = -1.0 if optimistic else 1.0
    scale = max(1.0, np.abs(z).max())
    for support in ("nominal", "simplex"):
        values, kernels = _sigma(L1Ball(xi, "sa", support, optimistic), p_bar[None], z)
        p = kernels[0]
        assert values[0] == pytest.approx(_lp_l1(p_bar, z, xi, support == "nominal", sense),
                                          abs=1e-9 * scale)
        assert p.min() >= 0 and abs(p.sum() - 1) < 1e-14 and np.abs(p - p_bar).sum() <= xi + 1e-12
        assert p @ z == pytest.approx(values[0], abs=1e-13 * scale)
        if support == "nominal":
            assert np.all(p[p_bar == 0] == 0)


def test_l1_nominal_dense_and_sparse_rows_agree():
    """The kernel sorts a short row's support and walks the global order on a dense one."""
    rng = np.random.default_rng(3)
    S = 200
    z = rng.normal(size=S)
    rows = np.zeros((3, S))
    rows[0, [5, 17, 150]] = [0.2, 0.3, 0.5]  # short: sorted support
    rows[1] = rng.dirichlet(np.ones(S))  # dense: global order
    rows[2, :120] = rng.dirichlet(np.ones(120))
    values, kernel = ro.batch_worst_case("l1-nominal", rows, z, np.full(3, 0.7), want_kernel=True)
    for i in range(3):
        assert values[i] == pytest.approx(_lp_l1(rows[i], z, 0.7, True), abs=1e-10)
        assert np.all(kernel[i][rows[i] == 0] == 0)


def test_l1_nominal_empty_row_is_zero():
    rows = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    values, kernel = ro.batch_worst_case("l1-nominal", rows, np.array([1.0, 2.0, -5.0]),
                                         np.full(2, 0.5), want_kernel=True)
    assert values[0] == pytest.approx(1.25, abs=1e-15) and values[1] == 0.0
    assert not kernel[1].any()


@pytest.mark.parametrize("make", [lambda r: KLBall(r, optimistic=True),
                                  lambda r: Chi2Ball(r, optimistic=True)], ids=["kl", "chi2"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimistic_divergence_balls_match_cvxpy(make, seed):
    rng = np.random.default_rng(seed)
    p_bar, z = _random_row(rng, 6)
    radius = 0.3
    values, kernels = _sigma(make(radius), p_bar[None], z)
    keep = p_bar > 0
    p = cp.Variable(int(keep.sum()), nonneg=True)
    div = (cp.sum(cp.rel_entr(p, p_bar[keep])) if isinstance(make(radius), KLBall)
           else cp.sum(cp.square(p - p_bar[keep]) / p_bar[keep]))
    prob = cp.Problem(cp.Maximize(z[keep] @ p), [cp.sum(p) == 1, div <= radius])
    prob.solve(**CLARABEL)
    assert values[0] == pytest.approx(prob.value, abs=1e-6 * max(1, np.abs(z).max()))
    assert kernels[0] @ z == pytest.approx(values[0], abs=1e-12 * max(1, np.abs(z).max()))


@pytest.mark.parametrize("seed", [0, 1])
def test_optimistic_wasserstein_matches_lp(seed):
    rng = np.random.default_rng(seed)
    S = 6
    p_bar, z = _random_row(rng, S)
    cost = np.abs(np.subtract.outer(np.arange(S), np.arange(S))).astype(float)
    eps = 0.8
    values, _ = _sigma(WassersteinBall(eps, "line", optimistic=True), p_bar[None], z)
    res = linprog(-np.tile(z, S), A_ub=cost.ravel()[None], b_ub=[eps],
                  A_eq=np.kron(np.eye(S), np.ones((1, S))), b_eq=p_bar, method="highs",
                  options=HIGHS_TIGHT)
    assert values[0] == pytest.approx(-res.fun, abs=1e-8)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_optimistic_lp_ball_matches_cvxpy(p):
    """max over {p̄ + u : Σu = 0, ‖u‖_p ≤ β} of (p̄ + u)·z (the set of Kumar et al.)."""
    rng = np.random.default_rng(4)
    p_bar, z = _random_row(rng, 5)
    beta = 0.2
    values, kernels = _sigma(LpBall(p, beta, "sa", optimistic=True), p_bar[None], z)
    u = cp.Variable(5)
    prob = cp.Problem(cp.Maximize((p_bar + u) @ z), [cp.sum(u) == 0, cp.norm(u, p) <= beta])
    prob.solve(**CLARABEL)
    assert values[0] == pytest.approx(prob.value, abs=1e-6)
    assert kernels[0] @ z == pytest.approx(values[0], abs=1e-12)


# -- s-rectangular -------------------------------------------------------------------------------
def _s_rect_saddle(p_bar, v, r, gamma, kappa, nominal):
    """max_π min_{Σ_a‖p_a − p̄_a‖₁ ≤ κ, p_a ∈ Δ (on supp p̄_a if nominal)} Σ_a π_a(r_a + γ p_a·v),
    the inner LP dualised into one cvxpy LP. The support restriction removes the primal
    variables p_a(j) off supp p̄_a, hence their dual constraints; their distance terms
    |0 − p̄_a(j)| = 0 need no multiplier."""
    A, S = p_bar.shape
    pi, mu, lam = cp.Variable(A, nonneg=True), cp.Variable(A), cp.Variable(nonneg=True)
    alpha, beta = cp.Variable((A, S), nonneg=True), cp.Variable((A, S), nonneg=True)
    off = (p_bar == 0) if nominal else np.zeros_like(p_bar, bool)
    cons = [cp.sum(pi) == 1, alpha + beta <= lam]
    for a in range(A):
        on = np.flatnonzero(~off[a])
        cons.append(mu[a] - alpha[a, on] + beta[a, on] <= gamma * pi[a] * v[on])
    obj = r @ pi + cp.sum(mu) - cp.sum(cp.multiply(alpha - beta, p_bar)) - lam * kappa
    prob = cp.Problem(cp.Maximize(obj), cons)
    prob.solve(**CLARABEL)
    return prob.value


def _s_rect_fixed_policy_lp(p_bar, v, r, gamma, kappa, pi, nominal, sense):
    """sense·min sense·Σ_a π_a(r_a + γ p_a·v) over the s-rectangular L1 set (HiGHS)."""
    A, S = p_bar.shape
    n = A * S
    c = np.r_[sense * gamma * np.repeat(pi, S) * np.tile(v, A), np.zeros(n)]
    eye = np.eye(n)
    A_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, n)), np.ones((1, n))]])
    b_ub = np.r_[p_bar.ravel(), -p_bar.ravel(), kappa]
    A_eq = np.c_[np.kron(np.eye(A), np.ones((1, S))), np.zeros((A, n))]
    bounds = [(0, 0) if nominal and p_bar.ravel()[i] == 0 else (0, None) for i in range(n)]
    bounds += [(0, None)] * n
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=np.ones(A), bounds=bounds,
                  method="highs", options=HIGHS_TIGHT)
    return pi @ r + sense * res.fun


def _one_state_mdp(p_bar, r, gamma):
    """State 0 with the rows p_bar (A, S); the other states absorbing with one action each
    (their own rows are the identity; their value enters only through v)."""
    A, S = p_bar.shape
    P = np.zeros((S, A, S))
    P[0] = p_bar
    P[1:, :] = np.eye(S)[1:, None, :]
    R = np.zeros((S, A))
    R[0] = r
    return MDP(P, R, gamma)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), kappa=st.floats(0.0, 2.5))
def test_s_rectangular_nominal_and_optimistic_match_lps(seed, kappa):
    rng = np.random.default_rng(seed)
    A, S, gamma = 3, 5, 0.9
    p_bar = np.stack([_random_row(rng, S)[0] for _ in range(A)])
    v, r = rng.normal(size=S), rng.normal(size=A)
    mdp = _one_state_mdp(p_bar, r, gamma)
    pi = rng.dirichlet(np.ones(A))
    policy = np.tile(pi, (S, 1))
    for nominal in (True, False):
        support = "nominal" if nominal else "simplex"
        pess = RobustBellman(mdp, L1Ball(kappa, "s", support))
        opt = RobustBellman(mdp, L1Ball(kappa, "s", support, optimistic=True))
        value, greedy = pess.backup(v)
        assert value[0] == pytest.approx(_s_rect_saddle(p_bar, v, r, gamma, kappa, nominal),
                                         abs=1e-6)
        assert pess.policy_backup(v, greedy)[0][0] == pytest.approx(value[0], abs=1e-9)
        for op, sense in ((pess, 1.0), (opt, -1.0)):
            t_pi, kernel, _ = op.policy_backup(v, policy, want_kernel=True)
            lp = _s_rect_fixed_policy_lp(p_bar, v, r, gamma, kappa, pi, nominal, sense)
            assert t_pi[0] == pytest.approx(lp, abs=1e-8)
            rows = kernel[:A]
            assert np.abs(rows - p_bar).sum() <= kappa + 1e-9
            if nominal:
                assert np.all(rows[p_bar == 0] == 0)
        # the best case over π is attained at a vertex (a max of linear functions of π)
        best = max(_s_rect_fixed_policy_lp(p_bar, v, r, gamma, kappa, np.eye(A)[a], nominal,
                                           -1.0) for a in range(A))
        assert opt.backup(v)[0][0] == pytest.approx(best, abs=1e-8)


# -- craam2's test models ------------------------------------------------------------------------
def _craam_randomized_mdp(terminal):
    """craam2 ``test_randomized_mdp``: state 0 has two actions, each reaching two states with
    nominal probability ½ (outcomes (1, 2) and (3, 4)); states 1..4 have one action, a
    self-loop with rewards 2, 3, 1, 4 (``terminal``: they move to an absorbing state 5 with
    rewards 20, 30, 10, 40 instead, ``..._with_terminal_state``). The second action of the
    one-action states is infeasible (``MDP.feasible``)."""
    S = 6 if terminal else 5
    P, r = np.zeros((S, 2, S)), np.zeros((S, 2))
    feasible = np.zeros((S, 2), bool)
    feasible[:, 0] = feasible[0, 1] = True
    P[0, 0, [1, 2]] = P[0, 1, [3, 4]] = 0.5
    for s, rew in zip(range(1, 5), [2.0, 3.0, 1.0, 4.0], strict=True):
        P[s, 0, 5 if terminal else s] = 1.0
        r[s, 0] = 10 * rew if terminal else rew
    if terminal:
        P[5, 0, 5] = 1.0
    return MDP(P, r, 0.9, feasible=feasible)


#: budget -> (robust v(0), optimistic v(0)) of craam2's test (states 1..4: 20, 30, 10, 40)
CRAAM_VALUES = {2.0: (0.9 * 20, 0.9 * 40), 1.0: (0.9 * 20, 0.9 * 40),
                0.5: (0.9 * 90 / 4, 0.9 * 130 / 4), 0.0: (0.9 * 25, 0.9 * 25)}


@pytest.mark.parametrize("terminal", [False, True], ids=["self-loops", "terminal-state"])
@pytest.mark.parametrize("budget", sorted(CRAAM_VALUES))
def test_craam2_nominal_l1_values(terminal, budget):
    mdp = _craam_randomized_mdp(terminal)
    robust, optimistic = CRAAM_VALUES[budget]
    tail = [20, 30, 10, 40] + ([0] if terminal else [])
    for unc, expected in ((L1Ball(budget, "sa", "nominal"), robust),
                          (parse_uncertainty(f"l1n:{budget}"), robust),
                          (L1Ball(budget, "sa", "nominal", optimistic=True), optimistic),
                          (parse_uncertainty(f"opt-l1n:{budget}"), optimistic)):
        sol = solve_robust(mdp, uncertainty=unc)
        assert sol.certified
        np.testing.assert_allclose(sol.values, [expected] + tail, rtol=1e-13, atol=1e-12)
        assert sol.params["support"] == "nominal" and sol.params["optimistic"] == unc.optimistic


def test_craam2_model_simplex_set_differs():
    """The same budget on the default set (mass may leave the support): at budget 2 every
    kernel may be moved onto the lowest-value state, state 0 (reward 0), so v = r + γ v(0)
    and v(0) = 0; at 0.5 the value is below craam2's 20.25, and the nominal-support value is
    never below the simplex one (its set is a subset)."""
    mdp = _craam_randomized_mdp(terminal=True)
    np.testing.assert_allclose(solve_robust(mdp, uncertainty=L1Ball(2.0)).values,
                               [0, 20, 30, 10, 40, 0], atol=1e-12)
    simplex = solve_robust(mdp, uncertainty=L1Ball(0.5)).values
    nominal = solve_robust(mdp, uncertainty=L1Ball(0.5, support="nominal")).values
    assert simplex[0] < 20.25 - 1 and np.all(nominal >= simplex - 1e-12)


def _lp_fixed_point_residual(mdp, v, kappa, nominal):
    """max_s |max_π min_{U_s} Σ_a π_a(r + γ p_a·v) − v(s)| with the saddle-point LP over the
    feasible actions of each state (independent of the kernels)."""
    P = mdp.dense_P()
    res = 0.0
    for s in range(mdp.n_states):
        acts = np.flatnonzero(mdp.feasible[s]) if mdp.feasible is not None else np.arange(
            mdp.n_actions)
        val = _s_rect_saddle(P[s, acts], v, mdp.r[s, acts], mdp.gamma, kappa, nominal)
        res = max(res, abs(val - v[s]))
    return res


@pytest.mark.parametrize("budget", [0.5, 1.0])
def test_craam2_model_s_rectangular_nominal_is_the_lp_fixed_point(budget):
    """craam2 publishes no s-rectangular value for this model: the certified solution is the
    fixed point of the s-rectangular Bellman map computed by saddle-point LPs."""
    mdp = _craam_randomized_mdp(terminal=False)
    sol = solve_robust(mdp, uncertainty=parse_uncertainty(f"l1ns:{budget}"))
    assert sol.certified
    assert _lp_fixed_point_residual(mdp, sol.values, budget, nominal=True) <= 1e-6
    sa = solve_robust(mdp, uncertainty=L1Ball(budget, "sa", "nominal")).values
    assert np.all(sol.values >= sa - 1e-12)  # Σ_a ξ_a ≤ κ is a subset of ξ_a ≤ κ for all a


# -- infeasible actions against a padded model --------------------------------------------------
def _feasible_and_padded(seed, S=5, A=3):
    """A random MDP with infeasible pairs, and the padded MDP where each infeasible action is
    a copy of a feasible action of its state with a reward far below every value (dominated:
    exact for every set below, its q is below the state's worst achievable value)."""
    rng = np.random.default_rng(seed)
    feasible = rng.random((S, A)) < 0.6
    feasible[np.arange(S), rng.integers(0, A, S)] = True
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    P[rng.random((S, A, S)) < 0.3] = 0.0
    P[:, :, 0] += 1e-3  # every row keeps a support
    P /= P.sum(axis=-1, keepdims=True)
    r = rng.random((S, A))
    padded_P, padded_r = P.copy(), r.copy()
    for s in range(S):
        first = np.flatnonzero(feasible[s])[0]
        padded_P[s, ~feasible[s]] = P[s, first]
        padded_r[s, ~feasible[s]] = -1e3
    P[~feasible] = 0.0
    r[~feasible] = 0.0
    return MDP(P, r, 0.9, feasible=feasible), MDP(padded_P, padded_r, 0.9)


FEASIBILITY_SETS = [L1Ball(0.4), L1Ball(0.4, support="nominal"), L1Ball(0.6, "s"),
                    L1Ball(0.6, "s", "nominal"), L1Ball(0.6, "s", "nominal", optimistic=True),
                    KLBall(0.2), Chi2Ball(0.3, optimistic=True), LpBall(2, 0.05, "s"),
                    LpBall(2, 0.05, "sa", optimistic=True), WassersteinBall(0.3)]


@pytest.mark.parametrize("unc", FEASIBILITY_SETS, ids=lambda u: repr(u)[:60])
def test_infeasible_actions_match_the_padded_model(unc):
    mdp, padded = _feasible_and_padded(7)
    sol, ref = solve_robust(mdp, uncertainty=unc), solve_robust(padded, uncertainty=unc)
    assert sol.certified and ref.certified
    # ‖v − v*‖∞ ≤ ‖T v − v‖∞ / (1 − γ) for each certified solution
    bound = (sol.residual + ref.residual) / (1 - mdp.gamma) + 1e-13
    np.testing.assert_allclose(sol.values, ref.values, rtol=0, atol=bound)
    assert np.all(sol.policy[~mdp.feasible] == 0)
    assert np.all(np.isneginf(sol.q[~mdp.feasible]))


@pytest.mark.parametrize("method", ["vi", "pi", "rpmd"])
def test_robust_runs_skip_infeasible_actions(method):
    mdp, _ = _feasible_and_padded(8)
    unc = L1Ball(0.4, support="nominal")
    options = {"eta": 1.0, "step_growth": 2.0} if method == "rpmd" else {}
    run = run_robust(mdp, method, uncertainty=unc, iterations=40, **options)
    err = run.metrics["value_error"]
    if method == "vi":  # ‖v_k − v*‖∞ ≤ γ‖v_{k−1} − v*‖∞
        assert np.all(err[1:] <= mdp.gamma * err[:-1] + 1e-12) and err[-1] < 0.1 * err[0]
    else:
        assert err[-1] <= 1e-9
    assert np.all(run.policy[~mdp.feasible] == 0)


# -- optimistic solutions, ordering, parser and errors ---------------------------------------------
@pytest.mark.parametrize("rect", ["sa", "s"])
def test_optimistic_nominal_pessimistic_ordering_and_vi(rect):
    """v_robust ≤ v_nominal ≤ v_optimistic, the simplex set's robust value ≤ the nominal-support
    one, and robust VI converges to each certified solution at rate γ."""
    mdp, _ = _feasible_and_padded(9)
    nominal = solve_mdp(mdp).values
    values = {}
    for support in ("simplex", "nominal"):
        for opt in (False, True):
            unc = L1Ball(0.5, rect, support, optimistic=opt)
            sol = solve_robust(mdp, uncertainty=unc)
            run = run_robust(mdp, "vi", uncertainty=unc, iterations=60, solution=sol)
            err = run.metrics["value_error"]
            assert sol.certified and err[-1] <= 0.9 ** 60 * err[0] + 1e-12
            values[support, opt] = sol.values
    tol = 1e-10
    assert np.all(values["simplex", False] <= values["nominal", False] + tol)
    assert np.all(values["nominal", False] <= nominal + tol)
    assert np.all(nominal <= values["nominal", True] + tol)
    assert np.all(values["nominal", True] <= values["simplex", True] + tol)


def test_parser_and_errors():
    unc = parse_uncertainty("l1n:0.5")
    assert (unc.support, unc.rectangularity, unc.optimistic) == ("nominal", "sa", False)
    unc = parse_uncertainty("l1ns:0.5")
    assert (unc.support, unc.rectangularity) == ("nominal", "s")
    unc = parse_uncertainty("opt-l1ns:0.25")
    assert unc.optimistic and unc.support == "nominal" and float(unc.radius) == 0.25
    assert parse_uncertainty("opt-kl:0.1").optimistic and parse_uncertainty("opt-lp2s:0.1").optimistic
    assert L1Ball(0.1).support == "simplex" and not L1Ball(0.1).optimistic
    with pytest.raises(ValueError, match="penalty"):
        parse_uncertainty("opt-kl-pen:1")
    with pytest.raises(ValueError, match="unknown"):
        parse_uncertainty("opt-foo:1")
    with pytest.raises(ValueError, match="support"):
        L1Ball(0.1, support="everywhere")
    with pytest.raises(TypeError, match="optimistic"):
        L1Ball(0.1, optimistic="yes")
    with pytest.raises(TypeError, match="optimistic"):
        KLBall(0.1, optimistic=1)
    with pytest.raises(TypeError, match="optimistic"):
        KLPenalty(1.0, optimistic=True)


# -- reward uncertainty ---------------------------------------------------------------------------
def _joint_reward_kernel_lp(p_bar, v, r_bar, alpha, gamma, kappa, pi, rect, nominal, sense):
    """sense·min sense·Σ_a π_a(r_a + γ p_a·v) over r ∈ [r̄ − α, r̄ + α] and the L1 kernel set
    ("sa": ‖p_a − p̄_a‖₁ ≤ κ each; "s": Σ_a ≤ κ), one LP in (p, d, r) (HiGHS)."""
    A, S = p_bar.shape
    n = A * S
    c = np.r_[sense * gamma * np.repeat(pi, S) * np.tile(v, A), np.zeros(n), sense * pi]
    eye = np.eye(n)
    blocks = [np.c_[eye, -eye, np.zeros((n, A))], np.c_[-eye, -eye, np.zeros((n, A))]]
    b_ub = [p_bar.ravel(), -p_bar.ravel()]
    if rect == "s":
        blocks.append(np.r_[np.zeros(n), np.ones(n), np.zeros(A)][None])
        b_ub.append([kappa])
    else:
        blocks.append(np.c_[np.zeros((A, n)), np.kron(np.eye(A), np.ones((1, S))), np.zeros((A, A))])
        b_ub.append(np.full(A, kappa))
    A_eq = np.c_[np.kron(np.eye(A), np.ones((1, S))), np.zeros((A, n + A))]
    bounds = [(0, 0) if nominal and p_bar.ravel()[i] == 0 else (0, None) for i in range(n)]
    bounds += [(0, None)] * n + list(zip(r_bar - alpha, r_bar + alpha, strict=True))
    res = linprog(c, A_ub=np.vstack(blocks), b_ub=np.concatenate(b_ub), A_eq=A_eq,
                  b_eq=np.ones(A), bounds=bounds, method="highs", options=HIGHS_TIGHT)
    return sense * res.fun


@pytest.mark.parametrize("rect", ["sa", "s"])
@pytest.mark.parametrize("optimistic", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_reward_box_matches_the_joint_lp(rect, optimistic, seed):
    rng = np.random.default_rng(seed)
    A, S, gamma, kappa = 3, 5, 0.9, 0.6
    p_bar = np.stack([_random_row(rng, S)[0] for _ in range(A)])
    v, r = rng.normal(size=S), rng.normal(size=A)
    alpha = rng.uniform(0, 0.5, size=A)
    mdp = _one_state_mdp(p_bar, r, gamma)
    radius = np.zeros((S, A))
    radius[0] = alpha
    pi = rng.dirichlet(np.ones(A))
    op = RobustBellman(mdp, L1Ball(kappa, rect, "nominal", optimistic, reward_radius=radius))
    lp = _joint_reward_kernel_lp(p_bar, v, r, alpha, gamma, kappa, pi, rect, True,
                                 -1.0 if optimistic else 1.0)
    assert op.policy_backup(v, np.tile(pi, (S, 1)))[0][0] == pytest.approx(lp, abs=1e-8)


@pytest.mark.parametrize("make", [lambda a: L1Ball(0.3, "s", reward_radius=a),
                                  lambda a: KLBall(0.2, reward_radius=a),
                                  lambda a: WassersteinBall(0.2, optimistic=True, reward_radius=a)],
                         ids=["l1-s", "kl", "wass-opt"])
def test_reward_box_solution_is_the_shifted_reward_solution(make):
    """The box is rectangular, so the robust solution is that of the MDP with reward r̄ ∓ α and
    the kernel set alone (on an MDP with infeasible pairs: α changes nothing there)."""
    mdp, _ = _feasible_and_padded(11)
    alpha = np.random.default_rng(0).uniform(0, 0.2, size=mdp.r.shape)
    unc = make(alpha)
    sign = -1.0 if unc.optimistic else 1.0
    shifted = MDP(mdp.P, np.where(mdp.feasible, mdp.r - sign * alpha, 0.0), mdp.gamma,
                  feasible=mdp.feasible)
    sol = solve_robust(mdp, uncertainty=unc)
    ref = solve_robust(shifted, uncertainty=make(0.0))
    assert sol.certified and ref.certified
    np.testing.assert_allclose(sol.values, ref.values, rtol=0,
                               atol=(sol.residual + ref.residual) / (1 - mdp.gamma) + 1e-13)
    with pytest.raises(ValueError, match="reward_radius"):
        make(-1.0)
    with pytest.raises(ValueError, match="reward_radius"):
        RobustBellman(mdp, make(np.zeros(3)))


# -- every new set: certified, consistent, a monotone γ-contraction -------------------------------
NEW_SETS = [L1Ball(0.3, support="nominal"), L1Ball(0.6, "s", "nominal"),
            L1Ball(0.3, optimistic=True), L1Ball(0.6, "s", optimistic=True),
            L1Ball(0.6, "s", "nominal", optimistic=True), KLBall(0.2, optimistic=True),
            Chi2Ball(0.3, optimistic=True), WassersteinBall(0.4, optimistic=True),
            LpBall(2, 0.05, "sa", optimistic=True), LpBall(2, 0.05, "s", optimistic=True),
            LpBall(math.inf, 0.05, "s", optimistic=True),
            L1Ball(0.3, "s", "nominal", reward_radius=0.1)]


@pytest.mark.parametrize("unc", NEW_SETS, ids=lambda u: repr(u)[:70])
def test_new_sets_certified_and_consistent(unc):
    mdp = garnet(6, 3, 3, seed=2, gamma=0.9)
    sol = solve_robust(mdp, uncertainty=unc)
    assert sol.certified and sol.residual <= 1e-10
    op = RobustBellman(mdp, unc)
    assert np.max(np.abs(op.evaluate(sol.policy) - sol.values)) <= 1e-10
    assert np.sum(sol.policy * sol.q, axis=1) == pytest.approx(sol.values, abs=1e-10)
    nominal = solve_mdp(mdp).values
    if unc.optimistic:
        assert np.all(sol.values >= nominal - 1e-10)
    else:
        assert np.all(sol.values <= nominal + 1e-10)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), which=st.integers(0, len(NEW_SETS) - 1),
       gamma=st.floats(0.1, 0.99))
def test_new_sets_are_monotone_gamma_contractions(seed, which, gamma):
    unc = NEW_SETS[which]
    mdp = garnet(5, 3, 3, seed=seed % 1000, gamma=gamma)
    if isinstance(unc, LpBall):  # the L_p set must lie in the simplex: min P̄ ≥ 0.1 ≥ β
        mdp = MDP(0.5 * mdp.dense_P() + 0.1, mdp.r, gamma)
    op = RobustBellman(mdp, unc)
    assert op.kernels_in_simplex
    rng = np.random.default_rng(seed)
    v1, v2 = rng.normal(size=5) * rng.choice([0.1, 1, 10]), rng.normal(size=5)
    policy = rng.dirichlet(np.ones(3), size=5)
    dist = np.max(np.abs(v1 - v2))
    for T in (lambda v: op.backup(v)[0], lambda v: op.policy_backup(v, policy)[0]):
        assert np.max(np.abs(T(v1) - T(v2))) <= gamma * dist * (1 + 1e-12) + 1e-13
    lo, hi = np.minimum(v1, v2), np.maximum(v1, v2)
    assert np.all(op.backup(lo)[0] <= op.backup(hi)[0] + 1e-13)
    assert np.all(op.policy_backup(lo, policy)[0] <= op.policy_backup(hi, policy)[0] + 1e-13)


# -- rewards on transitions (craam2's models) ------------------------------------------------------
def _craam_robustification_mdp():
    """craam2 ``create_test_mdp_robustify`` (test/core_tests.hpp): state 0 reaches states 1 and 2
    with probability ½ each, rewards 1 and 2 on those transitions; states 1-3 terminal (here
    absorbing with reward 0). Built the way a port reads it: R on transitions, layout SAS."""
    P, R = np.zeros((4, 1, 4)), np.zeros((4, 1, 4))
    P[0, 0, [1, 2]] = 0.5
    R[0, 0, [1, 2]] = [1.0, 2.0]
    P[1:, 0] = np.eye(4)[1:]
    return MDP.from_arrays(P, R, 0.9, reward="SAS"), R


def test_craam2_transition_reward_values():
    """craam2 ``test_robustification``: robust_l1u(0.5) gives 1·(½ + ¼) + 2·(½ − ¼) = 1.25 on the
    MDP (nominal successors) and 1·½ + 2·(½ − ¼) + 0·¼ = 1.0 when zero-probability transitions
    (reward 0) are allowed: the simplex set. With the expected reward r = P̄·R alone every set
    gives 1.5 here (the next values are 0): the reward must move with the kernel."""
    mdp, R = _craam_robustification_mdp()
    for unc, expected in ((L1Ball(0.5, support="nominal"), 1.25), (L1Ball(0.5), 1.0),
                          (L1Ball(0.5, support="nominal", optimistic=True), 1.75)):
        sol = solve_robust(mdp, uncertainty=unc, transition_reward=R)
        assert sol.certified and sol.params["transition_reward"]
        np.testing.assert_allclose(sol.values, [expected, 0, 0, 0], atol=1e-14)
        assert solve_robust(mdp, uncertainty=unc).values[0] == pytest.approx(1.5, abs=1e-14)


@pytest.mark.parametrize("unc", [L1Ball(0.4, support="nominal"), L1Ball(0.4),
                                 L1Ball(0.4, optimistic=True)], ids=["nominal", "simplex", "opt"])
def test_transition_reward_solution_is_the_lp_fixed_point(unc):
    """v*(s) = max_a min_{p ∈ U} p·(R(s, a, ·) + γv*) with the inner LP of ``_lp_l1``."""
    rng = np.random.default_rng(12)
    base = garnet(5, 2, 3, seed=3, gamma=0.85)
    P = base.dense_P()
    R = rng.normal(size=P.shape)
    mdp = MDP.from_arrays(P, R, 0.85, reward="SAS")
    sol = solve_robust(mdp, uncertainty=unc, transition_reward=R)
    assert sol.certified
    sense = -1.0 if unc.optimistic else 1.0
    q = np.array([[_lp_l1(P[s, a], R[s, a] + 0.85 * sol.values, 0.4,
                          unc.support == "nominal", sense) for a in range(2)] for s in range(5)])
    np.testing.assert_allclose(sol.q, q, atol=1e-8)
    np.testing.assert_allclose(sol.values, q.max(axis=1), atol=1e-8)
    op = RobustBellman(mdp, unc, transition_reward=R)
    np.testing.assert_allclose(op.evaluate(sol.policy), sol.values, atol=1e-10)
    run = run_robust(mdp, "pi", uncertainty=unc, iterations=10, transition_reward=R,
                     solution=sol)
    assert run.metrics["value_error"][-1] <= 1e-10


def test_transition_reward_errors():
    mdp, R = _craam_robustification_mdp()
    with pytest.raises(ValueError, match="shape"):
        RobustBellman(mdp, L1Ball(0.5), transition_reward=R[:, :, :3])
    with pytest.raises(ValueError, match="rectangular"):
        RobustBellman(mdp, L1Ball(0.5, "s"), transition_reward=R)
    with pytest.raises(ValueError, match="other\\s+than L_p"):
        RobustBellman(mdp, LpBall(2, 0.1, "sa"), transition_reward=R)
    with pytest.raises(ValueError, match="nominal expectation"):
        RobustBellman(mdp, L1Ball(0.5), transition_reward=2 * R)
    with pytest.raises(ValueError, match="gamma > 0"):
        RobustBellman(MDP(mdp.P, mdp.r, 0.0), L1Ball(0.5), transition_reward=R)
    plain = solve_robust(mdp, uncertainty=L1Ball(0.5))
    with pytest.raises(ValueError, match="transition_reward"):
        run_robust(mdp, "vi", uncertainty=L1Ball(0.5), iterations=2, transition_reward=R,
                   solution=plain)
