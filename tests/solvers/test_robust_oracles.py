"""Inner problems of robust MDPs against LPs (scipy HiGHS) and convex programs (cvxpy).

The single-row oracles below (``l1_worst_case``, ..., ``s_rectangular_l1``) are validated
one-row views of the batched oracles of ``nashlab.solvers.robust_oracles``, kept here: only
the tests call one row at a time."""

import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from nashlab.games._validation import as_float_array, check_distribution, check_scalar
from nashlab.games.uncertainty import (
    Chi2Ball,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    TVPenalty,
    WassersteinBall,
    parse_uncertainty,
)
from nashlab.solvers import robust_oracles as ro
from nashlab.solvers.robust_closed_forms import kappa, lp_water_filling

CLARABEL = {"solver": cp.CLARABEL}
#: HiGHS' default feasibility tolerance (1e-7) is too loose for budgets κ ~ 1e-8
HIGHS_TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


# -- validated single-row oracles (views of the batched oracles) ------------------------------
def _row_inputs(p_bar, z, radius, radius_name="radius", positive=False):
    p_bar = check_distribution(p_bar, "p_bar")
    if p_bar.ndim != 1:
        raise ValueError(f"p_bar must be a vector, got shape {p_bar.shape}")
    z = as_float_array(z, "z", ndim=1)
    if z.shape != p_bar.shape:
        raise ValueError(f"z must have the shape of p_bar {p_bar.shape}, got {z.shape}")
    radius = check_scalar(radius, radius_name, low=0.0, low_open=positive)
    return p_bar, z, radius


def _single(kind, p_bar, z, radius, **kw):
    values, kernel = ro.batch_worst_case(kind, p_bar[None, :], z, np.array([radius]),
                                         want_kernel=True, **kw)
    return float(values[0]), kernel[0]


def l1_worst_case(p_bar, z, radius):
    """(min_{p ∈ Δ, ‖p − p̄‖₁ ≤ ξ} p·z, p*) by sorting (Iyengar 2005; Ho+ 2006.09484)."""
    return _single("l1", *_row_inputs(p_bar, z, radius))


def kl_worst_case(p_bar, z, radius):
    """(min_{KL(p‖p̄) ≤ ρ} p·z, p*) by the 1-D dual (Nilim & El Ghaoui 2005)."""
    return _single("kl", *_row_inputs(p_bar, z, radius))


def chi2_worst_case(p_bar, z, radius):
    """(min_{Σ(p − p̄)²/p̄ ≤ ρ} p·z, p*) by the exact sorted scan of the χ² dual."""
    return _single("chi2", *_row_inputs(p_bar, z, radius))


def wasserstein_worst_case(p_bar, z, radius, cost):
    """(min_{W_d(p, p̄) ≤ ε} p·z, p*) by the 1-D dual and the bracketing primal plans."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    cost = as_float_array(cost, "cost", ndim=2)
    if cost.shape != (z.size, z.size) or cost.min() < 0 or np.any(np.diag(cost) != 0):
        raise ValueError(f"cost must be ({z.size}, {z.size}), non-negative, zero diagonal")
    return _single("wasserstein", p_bar, z, radius, cost=cost)


def kl_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + λ KL(p‖p̄), p*) = (−λ log E_p̄ e^{−z/λ}, p̄ e^{−z/λ}/Z)."""
    return _single("kl-penalty", *_row_inputs(p_bar, z, strength, "strength", positive=True))


def tv_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + (λ/2)‖p − p̄‖₁, p*) = E_p̄ min(z, min z + λ)."""
    return _single("tv-penalty", *_row_inputs(p_bar, z, strength, "strength", positive=True))


def chi2_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + λ Σ(p − p̄)²/p̄, p*), p* = p̄ (1 + (η − z)/(2λ))₊."""
    return _single("chi2-penalty", *_row_inputs(p_bar, z, strength, "strength", positive=True))


def lp_worst_case(p_bar, z, radius, p):
    """(σ, p̄ + u*, exact) for the set {p̄ + u : Σu = 0, ‖u‖_p ≤ β} (no u ≥ −p̄).

    σ = p̄·z − β κ_q(z), u* = −β g. ``exact`` is p̄ + u* ≥ 0: only then is σ also the robust
    value of the probability-constrained ball; otherwise σ is a lower bound of it."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    p = math.inf if p == math.inf else check_scalar(p, "p", low=1.0)
    q = math.inf if p == 1.0 else (1.0 if math.isinf(p) else p / (p - 1.0))
    k, g = kappa(z, q)
    worst = p_bar - radius * g
    return float(p_bar @ z - radius * k), worst, bool(worst.min() >= -1e-15)


def s_rectangular_l1(p_bar, z, r, gamma, kappa_s):
    """One state: (T v(s), optimal randomized π_s, budgets ξ_a); p_bar (A, S), r (A,)."""
    p_bar = check_distribution(p_bar, "p_bar")
    if p_bar.ndim != 2:
        raise ValueError(f"p_bar must have shape (A, S), got {p_bar.shape}")
    z = as_float_array(z, "z", ndim=1)
    r = as_float_array(r, "r", ndim=1)
    if z.size != p_bar.shape[1] or r.size != p_bar.shape[0]:
        raise ValueError("z must have length S and r length A for p_bar of shape (A, S)")
    gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0)
    kappa_s = check_scalar(kappa_s, "kappa", low=0.0)
    values, policy, alloc = ro.s_rectangular_l1_backup(p_bar, z, r[None], gamma, [kappa_s])
    return float(values[0]), policy[0], alloc[0]


def _instance(seed, sparse=False):
    rng = np.random.default_rng(seed)
    S = int(rng.integers(2, 10))
    p = rng.dirichlet(np.full(S, 0.7))
    if sparse:
        p[rng.random(S) < 0.4] = 0.0
        p = p / p.sum() if p.sum() > 0 else np.eye(S)[0]
    z = rng.normal(size=S) * rng.choice([0.1, 1.0, 10.0])
    if rng.random() < 0.3:  # ties
        z[: S // 2] = z[0]
    return rng, p, z


def _lp_l1(p_bar, z, xi):
    """min z·p s.t. p ∈ Δ, |p − p̄| ≤ d, Σd ≤ ξ (HiGHS)."""
    S = z.size
    eye, zero = np.eye(S), np.zeros((1, S))
    A_ub = np.block([[eye, -eye], [-eye, -eye], [zero, np.ones((1, S))]])
    res = linprog(np.r_[z, np.zeros(S)], A_ub=A_ub, b_ub=np.r_[p_bar, -p_bar, xi],
                  A_eq=np.r_[np.ones(S), np.zeros(S)][None], b_eq=[1.0], method="highs",
                  options=HIGHS_TIGHT)
    return res.fun


def _lp_wasserstein(p_bar, z, eps, cost):
    S = z.size
    res = linprog(np.tile(z, S), A_ub=cost.ravel()[None], b_ub=[eps],
                  A_eq=np.kron(np.eye(S), np.ones((1, S))), b_eq=p_bar, method="highs",
                  options=HIGHS_TIGHT)
    return res.fun


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), sparse=st.booleans(), xi=st.floats(0, 2.5))
def test_l1_matches_lp(seed, sparse, xi):
    _, p_bar, z = _instance(seed, sparse)
    value, p = l1_worst_case(p_bar, z, xi)
    assert value == pytest.approx(_lp_l1(p_bar, z, xi), abs=1e-9 * max(1, np.abs(z).max()))
    assert p.min() >= 0 and abs(p.sum() - 1) < 1e-14 and np.abs(p - p_bar).sum() <= xi + 1e-12
    assert p @ z == pytest.approx(value, abs=1e-13 * max(1, np.abs(z).max()))


def test_l1_moves_mass_off_the_support():
    value, p = l1_worst_case([0.5, 0.5, 0.0], [1.0, 2.0, -1.0], 0.4)
    assert value == pytest.approx(0.5 * 1 + 0.3 * 2 - 0.2) and p[2] == pytest.approx(0.2)


def test_l1_batch_dense_and_sparse_rows_agree():
    rng = np.random.default_rng(3)
    S = 300  # long rows walk the global order, short rows sort their support
    P = rng.dirichlet(np.ones(S), size=40)
    P[20:, 10:] = 0.0
    P[20:] /= P[20:].sum(1, keepdims=True)
    z, radii = rng.normal(size=S), rng.uniform(0, 2, size=40)
    values, kernel = ro.batch_worst_case("l1", P, z, radii, want_kernel=True)
    for i in range(0, 40, 7):
        assert values[i] == pytest.approx(l1_worst_case(P[i], z, radii[i])[0], abs=1e-13)
    assert np.allclose(kernel @ z, values, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), sparse=st.booleans(), rho=st.floats(1e-4, 3.0))
def test_kl_ball_dual_certificate_and_cvxpy(seed, sparse, rho):
    _, p_bar, z = _instance(seed, sparse)
    value, p = kl_worst_case(p_bar, z, rho)
    # certificate: the dual value is a lower bound, p* is (nearly) feasible and attains it
    sup = p_bar > 0
    kl = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.where(sup, p_bar, 1)), 0))
    assert kl <= rho * (1 + 1e-9) + 1e-12
    assert abs(p @ z - value) <= 1e-10 * max(1, np.abs(z).max())
    q = cp.Variable(int(sup.sum()), nonneg=True)
    prob = cp.Problem(cp.Minimize(z[sup] @ q),
                      [cp.sum(q) == 1, cp.sum(cp.kl_div(q, p_bar[sup])) <= rho])
    prob.solve(**CLARABEL)
    assert value == pytest.approx(prob.value, abs=1e-6 * max(1, np.abs(z).max()))


def test_kl_ball_limits():
    p_bar, z = np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 2.0])
    assert kl_worst_case(p_bar, z, 0.0)[0] == pytest.approx(p_bar @ z)
    # −log p̄(argmin) = −log 0.3 ≈ 1.204 ≤ ρ: all mass on the minimiser
    value, p = kl_worst_case(p_bar, z, 1.3)
    assert value == 0.0 and p == pytest.approx([0, 1, 0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), sparse=st.booleans(), rho=st.floats(1e-4, 5.0))
def test_chi2_ball_matches_cvxpy(seed, sparse, rho):
    _, p_bar, z = _instance(seed, sparse)
    value, p = chi2_worst_case(p_bar, z, rho)
    sup = p_bar > 0
    assert np.all(p[~sup] == 0) and p.min() >= 0 and abs(p.sum() - 1) < 1e-13
    assert np.sum((p[sup] - p_bar[sup]) ** 2 / p_bar[sup]) <= rho * (1 + 1e-9) + 1e-12
    assert abs(p @ z - value) <= 1e-10 * max(1, np.abs(z).max())
    q = cp.Variable(int(sup.sum()), nonneg=True)
    prob = cp.Problem(cp.Minimize(z[sup] @ q), [
        cp.sum(q) == 1, cp.sum(cp.multiply(1 / p_bar[sup], cp.square(q - p_bar[sup]))) <= rho])
    prob.solve(**CLARABEL)
    assert value == pytest.approx(prob.value, abs=1e-6 * max(1, np.abs(z).max()))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), sparse=st.booleans(), eps=st.floats(0, 3.0))
def test_wasserstein_matches_lp(seed, sparse, eps):
    rng, p_bar, z = _instance(seed, sparse)
    S = z.size
    cost = np.abs(np.subtract.outer(np.arange(S), np.arange(S))) * rng.uniform(0.5, 2.0, (S, S))
    np.fill_diagonal(cost, 0.0)
    value, p = wasserstein_worst_case(p_bar, z, eps, cost)
    assert value == pytest.approx(_lp_wasserstein(p_bar, z, eps, cost),
                                  abs=1e-9 * max(1, np.abs(z).max()))
    assert abs(p @ z - value) < 1e-12 * max(1, np.abs(z).max()) and p.min() >= 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), sparse=st.booleans(), lam=st.floats(0.05, 3.0))
def test_penalties_match_cvxpy(seed, sparse, lam):
    _, p_bar, z = _instance(seed, sparse)
    z = z / max(1, np.abs(z).max())
    sup, S = p_bar > 0, z.size
    for oracle, penalty, on_support in [
        (kl_penalty_worst_case, lambda q: lam * cp.sum(cp.kl_div(q, p_bar[sup])), True),
        (chi2_penalty_worst_case,
         lambda q: lam * cp.sum(cp.multiply(1 / p_bar[sup], cp.square(q - p_bar[sup]))), True),
        (tv_penalty_worst_case, lambda q: lam / 2 * cp.norm1(q - p_bar), False),
    ]:
        value, p = oracle(p_bar, z, lam)
        q = cp.Variable(int(sup.sum()) if on_support else S, nonneg=True)
        zz = z[sup] if on_support else z
        prob = cp.Problem(cp.Minimize(zz @ q + penalty(q)), [cp.sum(q) == 1])
        prob.solve(**CLARABEL)
        assert value == pytest.approx(prob.value, abs=1e-6), oracle.__name__
        assert abs(p.sum() - 1) < 1e-13 and p.min() >= 0


def test_closed_form_penalties():
    p_bar, z = np.array([0.2, 0.5, 0.3]), np.array([3.0, 1.0, 0.0])
    v, _ = kl_penalty_worst_case(p_bar, z, 0.7)
    assert v == pytest.approx(-0.7 * math.log(p_bar @ np.exp(-z / 0.7)), abs=1e-14)
    v, _ = tv_penalty_worst_case(p_bar, z, 0.5)
    assert v == pytest.approx(0.2 * 0.5 + 0.5 * 0.5 + 0.0)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0, math.inf])
def test_lp_closed_form_matches_cvxpy_and_flags_exactness(p):
    rng = np.random.default_rng(int(10 * p) if p < 10 else 99)
    S = 6
    p_bar, z = rng.dirichlet(np.ones(S)), rng.normal(size=S)
    for radius in (0.01, 0.8):
        value, worst, exact = lp_worst_case(p_bar, z, radius, p)
        u = cp.Variable(S)
        prob = cp.Problem(cp.Minimize(z @ (p_bar + u)), [cp.sum(u) == 0, cp.norm(u, p) <= radius])
        prob.solve(**CLARABEL)
        assert value == pytest.approx(prob.value, abs=1e-6)
        assert worst @ z == pytest.approx(value, abs=1e-9) and abs(worst.sum() - 1) < 1e-9
        assert exact == bool(worst.min() >= -1e-15)
        if exact:  # then it is also the robust value of the probability-constrained ball
            q = cp.Variable(S, nonneg=True)
            prob = cp.Problem(cp.Minimize(z @ q), [cp.sum(q) == 1, cp.norm(q - p_bar, p) <= radius])
            prob.solve(**CLARABEL)
            assert value == pytest.approx(prob.value, abs=1e-6)
    assert not lp_worst_case(p_bar, z, 5.0, p)[2]  # a large ball leaves the simplex


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 4.0, math.inf])
def test_lp_water_filling_matches_direct_maximisation(p):
    rng = np.random.default_rng(7)
    q_vals, sigma = rng.normal(size=(5, 4)), rng.uniform(0.05, 2.0, size=5)
    values, policy = lp_water_filling(q_vals, sigma, p)
    dual = math.inf if p == 1 else (1.0 if math.isinf(p) else p / (p - 1))
    for s in range(5):
        pi = cp.Variable(4, nonneg=True)
        prob = cp.Problem(cp.Maximize(q_vals[s] @ pi - sigma[s] * cp.norm(pi, dual)),
                          [cp.sum(pi) == 1])
        prob.solve(**CLARABEL)
        assert values[s] == pytest.approx(prob.value, abs=1e-7)
        achieved = q_vals[s] @ policy[s] - sigma[s] * np.linalg.norm(policy[s], dual)
        assert achieved == pytest.approx(values[s], abs=1e-9)


def _s_rect_lp(p_bar, v, r, gamma, kappa):
    """max_π min_{Σ_a‖p_a − p̄_a‖₁ ≤ κ} Σ_a π_a(r_a + γ p_a·v) as one LP (inner dualised)."""
    A, S = p_bar.shape
    pi, mu, lam = cp.Variable(A, nonneg=True), cp.Variable(A), cp.Variable(nonneg=True)
    alpha, beta = cp.Variable((A, S), nonneg=True), cp.Variable((A, S), nonneg=True)
    cons = [cp.sum(pi) == 1, alpha + beta <= lam]
    cons += [mu[a] - alpha[a] + beta[a] <= gamma * pi[a] * v for a in range(A)]
    obj = r @ pi + cp.sum(mu) - cp.sum(cp.multiply(alpha - beta, p_bar)) - lam * kappa
    prob = cp.Problem(cp.Maximize(obj), cons)
    prob.solve(**CLARABEL)
    return prob.value


def _inner_lp(p_bar, v, r, gamma, kappa, pi):
    """min over the s-rectangular L1 set for a fixed π (HiGHS)."""
    A, S = p_bar.shape
    n = A * S
    c = np.r_[gamma * np.repeat(pi, S) * np.tile(v, A), np.zeros(n)]
    eye = np.eye(n)
    A_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, n)), np.ones((1, n))]])
    b_ub = np.r_[p_bar.ravel(), -p_bar.ravel(), kappa]
    A_eq = np.c_[np.kron(np.eye(A), np.ones((1, S))), np.zeros((A, n))]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=np.ones(A), method="highs",
                  options=HIGHS_TIGHT)
    return pi @ r + res.fun


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), kappa=st.floats(0.0, 3.0))
def test_s_rectangular_l1_matches_saddle_point_lp(seed, kappa):
    rng = np.random.default_rng(seed)
    A, S, gamma = int(rng.integers(2, 4)), int(rng.integers(2, 6)), 0.9
    p_bar = rng.dirichlet(np.ones(S), size=A)
    p_bar[rng.random((A, S)) < 0.3] = 0.0
    p_bar[p_bar.sum(1) == 0, 0] = 1.0
    p_bar /= p_bar.sum(1, keepdims=True)
    v, r = rng.normal(size=S) * 3, rng.normal(size=A)
    value, policy, xi = s_rectangular_l1(p_bar, v, r, gamma, kappa)
    assert value == pytest.approx(_s_rect_lp(p_bar, v, r, gamma, kappa), abs=1e-6)
    # the returned randomized policy attains it (exact inner LP), and the budgets fit
    assert _inner_lp(p_bar, v, r, gamma, kappa, policy) == pytest.approx(value, abs=1e-9)
    assert xi.sum() <= kappa + 1e-12
    evaluated = ro.s_rectangular_l1_backup(p_bar, v, r[None], gamma, [kappa], policy[None])[0]
    assert evaluated[0] == pytest.approx(value, abs=1e-11)


def test_s_rectangular_l1_randomizes():
    """dp_robust.md §3: two actions to G (v = 10), B absorbing at 0, γ = 0.9, κ = 1:
    deterministic 4.5, uniform 6.75."""
    p_bar = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    v = np.array([0.0, 10.0, 0.0])
    value, policy, xi = s_rectangular_l1(p_bar, v, np.zeros(2), 0.9, 1.0)
    assert value == pytest.approx(6.75, abs=1e-13) and policy == pytest.approx([0.5, 0.5])
    det = ro.s_rectangular_l1_backup(p_bar, v, np.zeros((1, 2)), 0.9, [1.0],
                                     np.array([[1.0, 0.0]]))[0]
    assert det[0] == pytest.approx(4.5, abs=1e-13)


def test_bad_inputs():
    with pytest.raises(ValueError, match="p_bar"):
        l1_worst_case([0.5, 0.6], [0, 1], 0.1)
    with pytest.raises(ValueError, match="z must have"):
        kl_worst_case([0.5, 0.5], [0, 1, 2], 0.1)
    with pytest.raises(ValueError, match="radius"):
        chi2_worst_case([0.5, 0.5], [0, 1], -0.1)
    with pytest.raises(ValueError, match="strength"):
        kl_penalty_worst_case([0.5, 0.5], [0, 1], 0.0)
    with pytest.raises(ValueError, match="cost"):
        wasserstein_worst_case([0.5, 0.5], [0, 1], 0.1, np.ones((2, 2)))
    with pytest.raises(TypeError, match="z"):
        l1_worst_case([0.5, 0.5], ["a", "b"], 0.1)
    with pytest.raises(ValueError, match="kappa"):
        s_rectangular_l1(np.eye(2), [0, 1], [0, 0], 0.9, -1)


def test_uncertainty_sets_and_parser():
    assert isinstance(parse_uncertainty("l1:0.1"), L1Ball)
    assert parse_uncertainty("l1s:0.5").rectangularity == "s"
    assert isinstance(parse_uncertainty("kl:0.05"), KLBall)
    assert isinstance(parse_uncertainty("chi2:0.2"), Chi2Ball)
    assert isinstance(parse_uncertainty("wass:0.2"), WassersteinBall)
    assert isinstance(parse_uncertainty("kl-pen:1"), KLPenalty)
    assert isinstance(parse_uncertainty("tv-pen:1"), TVPenalty)
    lp = parse_uncertainty("lpinfs:0.1")
    assert isinstance(lp, LpBall) and math.isinf(lp.p) and lp.q == 1 and lp.rectangularity == "s"
    assert parse_uncertainty("lp2:0.1").rectangularity == "sa"
    assert L1Ball(np.full((3, 2), 0.1)).radii(3, 2).shape == (3, 2)
    assert L1Ball(0.2, "s").radii(3, 2).shape == (3,)
    for bad in ["l1", "l1:", "l1:x", "foo:0.1", "lpx:0.1", "l1:-0.1"]:
        with pytest.raises(ValueError):
            parse_uncertainty(bad)
    with pytest.raises(TypeError, match="spec"):
        parse_uncertainty(0.1)
    with pytest.raises(ValueError, match="rectangularity"):
        L1Ball(0.1, "x")
    with pytest.raises(ValueError, match="p must be ≥ 1"):
        LpBall(0.5, 0.1)
    with pytest.raises(ValueError, match="radius"):
        KLBall(-1.0)
    with pytest.raises(ValueError, match="strength"):
        KLPenalty(0.0)
    with pytest.raises(ValueError, match="shape"):
        L1Ball(np.ones(4)).radii(3, 2)
    with pytest.raises(ValueError, match="cost"):
        WassersteinBall(0.1, "euclid")
    with pytest.raises(ValueError, match="zero diagonal"):
        WassersteinBall(0.1, np.ones((2, 2)))
