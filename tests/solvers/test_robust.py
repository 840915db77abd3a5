"""Robust MDP solvers against exact ground truth (dp_robust.md §7) and their rate theorems."""

import itertools
import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import Entropy
from nashlab.games.uncertainty import (
    Chi2Ball,
    Chi2Penalty,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    TVPenalty,
    WassersteinBall,
)
from nashlab.solvers.dp import solve_mdp
from nashlab.solvers.robust import run_robust, solve_robust
from nashlab.solvers.robust_bellman import RobustBellman

#: HiGHS' default feasibility tolerance (1e-7) is too loose for exact ground truth
HIGHS_TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
SA_SETS = [L1Ball(0.3), KLBall(0.2), Chi2Ball(0.3), WassersteinBall(0.4), KLPenalty(0.5),
           TVPenalty(0.5), Chi2Penalty(0.5), LpBall(2, 0.05, "sa")]
S_SETS = [L1Ball(0.6, "s"), LpBall(2, 0.05, "s"), LpBall(1, 0.05, "s"), LpBall(math.inf, 0.05, "s")]


def _ids(sets):
    return [f"{type(u).__name__}-{u.rectangularity}" for u in sets]


def _lp_robust_evaluation(mdp, policy, xi):
    """v^π_U for the (s,a)-rectangular L1 ball: max Σv s.t. v(s) ≤ Σ_a π(a|s)(r + γ·[dual of the
    inner LP]) with the duals as LP variables (dp_robust.md §7), HiGHS."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.dense_P()
    # variables: v (S) | per (s,a): mu, lam, alpha (S), beta (S)
    block = 2 + 2 * S
    n = S + S * A * block
    off = lambda s, a: S + (s * A + a) * block  # noqa: E731
    rows, rhs = [], []
    for s in range(S):
        row = np.zeros(n)
        row[s] = 1.0
        for a in range(A):
            o, w = off(s, a), mdp.gamma * policy[s, a]
            row[o] -= w
            row[o + 1] += w * xi
            row[o + 2:o + 2 + S] += w * P[s, a]
            row[o + 2 + S:o + 2 + 2 * S] -= w * P[s, a]
        rows.append(row)
        rhs.append(policy[s] @ mdp.r[s])
        for a in range(A):
            o = off(s, a)
            for j in range(S):  # mu − alpha_j + beta_j ≤ v_j ; alpha_j + beta_j ≤ lam
                row = np.zeros(n)
                row[o], row[o + 2 + j], row[o + 2 + S + j], row[j] = 1, -1, 1, -1
                rows.append(row)
                rhs.append(0.0)
                row = np.zeros(n)
                row[o + 2 + j], row[o + 2 + S + j], row[o + 1] = 1, 1, -1
                rows.append(row)
                rhs.append(0.0)
    bounds = [(None, None)] * S
    for _ in range(S * A):
        bounds += [(None, None), (0, None)] + [(0, None)] * (2 * S)
    c = np.zeros(n)
    c[:S] = -1.0
    res = linprog(c, A_ub=np.array(rows), b_ub=rhs, bounds=bounds, method="highs",
                  options=HIGHS_TIGHT)
    assert res.status == 0
    return res.x[:S]


def _three_state_example(kappa=1.0, gamma=0.9):
    """dp_robust.md §3: state 0 with actions a, b both to G (reward 1 per step, absorbing);
    B absorbing with reward 0; budget κ at state 0 only."""
    P = np.zeros((3, 2, 3))
    P[0, :, 1] = P[1, :, 1] = P[2, :, 2] = 1.0
    r = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    return MDP(P, r, gamma), L1Ball(np.array([kappa, 0.0, 0.0]), "s")


@pytest.mark.parametrize("seed", [0, 1])
def test_l1_sa_matches_enumeration_of_deterministic_policies(seed):
    mdp = garnet(4, 3, 2, seed=seed, gamma=0.85)
    xi = 0.4
    truth = np.max([_lp_robust_evaluation(mdp, mdp.as_policy(np.array(acts)), xi)
                    for acts in itertools.product(range(3), repeat=4)], axis=0)
    sol = solve_robust(mdp, uncertainty=L1Ball(xi))
    assert sol.certified and sol.residual <= 1e-10
    assert np.max(np.abs(sol.values - truth)) <= 1e-8
    assert np.all(sol.policy.max(axis=1) == 1.0)  # deterministic optimal policy
    assert solve_mdp(mdp, uncertainty="l1:0.4").values == pytest.approx(sol.values, abs=1e-12)


def test_robust_evaluation_of_randomized_policy_matches_lp():
    mdp = garnet(4, 2, 3, seed=5, gamma=0.9)
    policy = np.random.default_rng(0).dirichlet(np.ones(2), size=4)
    v = RobustBellman(mdp, L1Ball(0.5)).evaluate(policy)
    assert np.max(np.abs(v - _lp_robust_evaluation(mdp, policy, 0.5))) <= 1e-8


def test_s_rectangular_example_needs_randomization():
    mdp, unc = _three_state_example(kappa=1.0)
    sol = solve_robust(mdp, uncertainty=unc)
    assert sol.certified and sol.values[0] == pytest.approx(6.75, abs=1e-10)
    assert sol.policy[0] == pytest.approx([0.5, 0.5], abs=1e-12)
    op = RobustBellman(mdp, unc)
    for action in (0, 1):  # every deterministic policy is strictly worse: 4.5
        assert op.evaluate(np.array([action, 0, 0]))[0] == pytest.approx(4.5, abs=1e-10)
    assert np.sum(sol.policy * sol.q, axis=1) == pytest.approx(sol.values, abs=1e-12)
    mdp, unc = _three_state_example(kappa=0.2)
    assert solve_robust(mdp, uncertainty=unc).values[0] == pytest.approx(8.55, abs=1e-10)


def _saddle_point_backup(mdp, v, kappa):
    """(T_U v)(s) for the s-rectangular L1 set: per-state saddle point as one LP in cvxpy."""
    P, out = mdp.dense_P(), []
    for s in range(mdp.n_states):
        A, S = mdp.n_actions, mdp.n_states
        pi, mu, lam = cp.Variable(A, nonneg=True), cp.Variable(A), cp.Variable(nonneg=True)
        alpha, beta = cp.Variable((A, S), nonneg=True), cp.Variable((A, S), nonneg=True)
        cons = [cp.sum(pi) == 1, alpha + beta <= lam]
        cons += [mu[a] - alpha[a] + beta[a] <= mdp.gamma * pi[a] * v for a in range(A)]
        obj = (mdp.r[s] @ pi + cp.sum(mu) - cp.sum(cp.multiply(alpha - beta, P[s]))
               - lam * kappa)
        out.append(cp.Problem(cp.Maximize(obj), cons).solve(solver=cp.CLARABEL))
    return np.array(out)


def test_s_rectangular_l1_fixed_point_against_saddle_point_programs():
    mdp = garnet(4, 3, 3, seed=11, gamma=0.9)
    sol = solve_robust(mdp, uncertainty=L1Ball(0.5, "s"))
    assert sol.certified
    assert np.max(np.abs(_saddle_point_backup(mdp, sol.values, 0.5) - sol.values)) <= 1e-7
    nominal = solve_mdp(mdp).values
    assert np.all(sol.values <= nominal + 1e-12)
    assert np.all(sol.values >= solve_robust(mdp, uncertainty=L1Ball(0.5)).values - 1e-10)  # sa ⊂ s ball


@pytest.mark.parametrize("unc", SA_SETS + S_SETS, ids=_ids(SA_SETS + S_SETS))
def test_certified_and_consistent(unc):
    mdp = garnet(6, 3, 3, seed=2, gamma=0.9)
    sol = solve_robust(mdp, uncertainty=unc)
    assert sol.certified and sol.residual <= 1e-10
    op = RobustBellman(mdp, unc)
    assert np.max(np.abs(op.evaluate(sol.policy) - sol.values)) <= 1e-10
    assert np.sum(sol.policy * sol.q, axis=1) == pytest.approx(sol.values, abs=1e-10)
    assert np.all(sol.values <= solve_mdp(mdp).values + 1e-10)  # robust ≤ nominal


@pytest.mark.parametrize("unc", [L1Ball(0.0), KLBall(0.0), LpBall(2, 0.0, "s"), L1Ball(0.0, "s")],
                         ids=["l1", "kl", "lp-s", "l1-s"])
def test_zero_radius_is_nominal(unc):
    mdp = garnet(5, 3, 2, seed=4, gamma=0.8)
    assert solve_robust(mdp, uncertainty=unc).values == pytest.approx(solve_mdp(mdp).values, abs=1e-11)


def test_kl_pi_and_vi_agree():
    mdp = garnet(6, 3, 4, seed=8, gamma=0.9)
    sol = solve_robust(mdp, uncertainty=KLBall(0.3))
    traj = run_robust(mdp, "vi", uncertainty=KLBall(0.3), iterations=400, solution=sol)
    assert traj["value_error"][-1] <= 1e-11


def test_regularized_robust():
    mdp = garnet(5, 3, 3, seed=9, gamma=0.9)
    sol = solve_robust(mdp, uncertainty=L1Ball(0.2), regularizer=Entropy(0.1))
    assert sol.certified and sol.policy.min() > 0
    op = RobustBellman(mdp, L1Ball(0.2), Entropy(0.1))
    assert np.max(np.abs(op.evaluate(sol.policy) - sol.values)) <= 1e-10
    assert sol.values == pytest.approx(Entropy(0.1).conjugate(op.q(sol.values)), abs=1e-10)


def _assert_per_step(err, factor):
    for k in range(1, len(err)):
        bound = factor * err[k - 1]
        if bound < 1e-11:
            break
        assert err[k] <= bound * (1 + 1e-9) + 1e-12, (k, err[k], bound)


def _slope(err):
    keep = err > 1e-9
    ks = np.arange(len(err))[keep]
    return float(np.exp(np.polyfit(ks, np.log(err[keep]), 1)[0])) if keep.sum() > 3 else 0.0


@pytest.mark.parametrize("unc", SA_SETS[:4] + S_SETS[:2], ids=_ids(SA_SETS[:4] + S_SETS[:2]))
def test_robust_vi_contracts_by_gamma_each_step(unc):
    mdp = garnet(6, 3, 3, seed=3, gamma=0.8)
    err = run_robust(mdp, "vi", uncertainty=unc, iterations=60)["value_error"]
    _assert_per_step(err, 0.8)
    assert _slope(err) <= 0.8 * (1 + 1e-6)


@pytest.mark.parametrize("unc", [L1Ball(0.4), KLBall(0.2), L1Ball(0.8, "s")], ids=["l1", "kl", "l1-s"])
def test_robust_pi_rate_gamma(unc):
    mdp = garnet(8, 3, 3, seed=6, gamma=0.9)
    traj = run_robust(mdp, "pi", uncertainty=unc, iterations=8)
    err = traj["value_error"]
    _assert_per_step(err, 0.9)
    assert err[-1] <= 1e-10


def test_rpmd_converges_with_growing_steps():
    mdp = garnet(6, 3, 3, seed=7, gamma=0.9)
    err = run_robust(mdp, "rpmd", uncertainty=L1Ball(0.3), iterations=60, eta=1.0,
                     step_growth=1 / 0.9)["value_error"]
    assert np.all(np.diff(err) <= 1e-12)  # monotone improvement
    assert err[-1] <= 1e-10
    assert _slope(err) <= 0.9  # linear with η_k ∝ γ^{−k} (slope only: constants UNVERIFIED)
    const = run_robust(mdp, "rpmd", uncertainty=KLBall(0.2), iterations=30, eta=1.0)["value_error"]
    assert np.all(np.diff(const) <= 1e-12) and const[-1] < const[0]


def _random_values(seed, S):
    rng = np.random.default_rng(seed)
    return rng.normal(size=S) * rng.choice([0.1, 1, 10]), rng.normal(size=S)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), which=st.integers(0, len(SA_SETS + S_SETS) - 1),
       gamma=st.floats(0.1, 0.99))
def test_robust_operators_are_gamma_contractions(seed, which, gamma):
    unc = (SA_SETS + S_SETS)[which]
    mdp = garnet(5, 3, 3, seed=seed % 1000, gamma=gamma)
    if isinstance(unc, LpBall):  # the L_p set must lie in the simplex: min P̄ ≥ 0.1 ≥ β
        mdp = MDP(0.5 * mdp.dense_P() + 0.1, mdp.r, gamma)
    op = RobustBellman(mdp, unc)
    assert op.kernels_in_simplex
    v1, v2 = _random_values(seed, 5)
    policy = np.random.default_rng(seed).dirichlet(np.ones(3), size=5)
    dist = np.max(np.abs(v1 - v2))
    for T in (lambda v: op.backup(v)[0], lambda v: op.policy_backup(v, policy)[0]):
        assert np.max(np.abs(T(v1) - T(v2))) <= gamma * dist * (1 + 1e-12) + 1e-13
    # monotone: v1 ≤ v2 ⇒ T v1 ≤ T v2
    lo = np.minimum(v1, v2)
    assert np.all(op.backup(lo)[0] <= op.backup(np.maximum(v1, v2))[0] + 1e-13)


def test_lp_operator_is_not_a_contraction_outside_the_simplex():
    """Kumar et al.'s L_p set without p ≥ 0: P̄ = δ₁, p = 2, β = 0.5: the derivative row
    P̄ − βg (g = (0, 1, −1)/√2) has ℓ1 norm 1 + √2β, so the local Lipschitz constant is
    γ(1 + √2β) > 1 — the closed form is a lower bound there, not a γ-contraction."""
    P = np.zeros((3, 1, 3))
    P[:, 0, 0] = 1.0
    op = RobustBellman(MDP(P, np.zeros((3, 1)), 0.9), LpBall(2, 0.5, "sa"))
    assert not op.kernels_in_simplex
    v, d = np.array([0.0, 1.0, -1.0]), 1e-6 * np.array([1.0, -1.0, 1.0])
    ratio = np.max(np.abs(op.backup(v)[0] - op.backup(v + d)[0])) / 1e-6
    assert ratio == pytest.approx(0.9 * (1 + math.sqrt(2) * 0.5), rel=1e-5)  # finite difference


def test_bad_inputs():
    mdp = garnet(4, 2, 2, seed=0)
    with pytest.raises(TypeError, match="mdp"):
        solve_robust("mdp", uncertainty=L1Ball(0.1))
    with pytest.raises(TypeError, match="uncertainty"):
        solve_robust(mdp, uncertainty=0.1)
    with pytest.raises(ValueError, match="unknown uncertainty"):
        solve_robust(mdp, uncertainty="foo:0.1")
    with pytest.raises(ValueError, match="regularizer"):
        solve_robust(mdp, uncertainty=L1Ball(0.1, "s"), regularizer=Entropy(0.1))
    with pytest.raises(ValueError, match="infinite-horizon"):
        solve_robust(MDP(mdp.P, mdp.r, 0.9, horizon=3), uncertainty=L1Ball(0.1))
    with pytest.raises(ValueError, match="shape"):
        solve_robust(mdp, uncertainty=L1Ball(np.ones(3)))
    with pytest.raises(ValueError, match="cost"):
        solve_robust(mdp, uncertainty=WassersteinBall(0.1, np.zeros((3, 3))))
    with pytest.raises(ValueError, match="rectangular"):
        run_robust(mdp, "rpmd", uncertainty=L1Ball(0.1, "s"), iterations=2)
    with pytest.raises(ValueError, match="method"):
        run_robust(mdp, "nope", uncertainty=L1Ball(0.1), iterations=2)
    with pytest.raises(ValueError, match="iterations"):
        run_robust(mdp, "vi", uncertainty=L1Ball(0.1), iterations=-1)
    with pytest.raises(ValueError, match="eta"):
        run_robust(mdp, "rpmd", uncertainty=L1Ball(0.1), iterations=2, eta=0.0)
    with pytest.raises(ValueError, match="v must have shape"):
        RobustBellman(mdp, L1Ball(0.1)).backup(np.zeros(3))
    with pytest.raises(ValueError, match="per \\(s, a\\)"):
        RobustBellman(mdp, L1Ball(0.1, "s")).q(np.zeros(4))


def test_backend_names_the_one_implementation_of_each_set():
    mdp = riverswim(5, gamma=0.9)
    assert run_robust(mdp, "vi", uncertainty=L1Ball(0.2), iterations=2).params["backend"] == "numba"
    assert run_robust(mdp, "vi", uncertainty=L1Ball(0.2), iterations=2, backend="numba").params["backend"] == "numba"
    assert run_robust(mdp, "vi", uncertainty=LpBall(2, 0.01, "sa"), iterations=2).params["backend"] == "numpy"
    with pytest.raises(ValueError, match="its worst-case oracle has one implementation"):
        solve_robust(mdp, uncertainty=KLBall(0.1), backend="numpy")
    with pytest.raises(ValueError, match="not available for LpBall"):
        solve_robust(mdp, uncertainty=LpBall(2, 0.01, "sa"), backend="numba")
    with pytest.raises(ValueError, match="backend must be one of"):
        RobustBellman(mdp, L1Ball(0.1), backend="gpu")
