"""Regression tests of the issue-11 audit of the MDP and robust-MDP families: certificates
relative to the problem's scale, clear errors where the contract promises them, no silent
coercions, no NaN/inf from valid input (hypothesis over small random MDPs)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games.mdp import MDP
from nashlab.games.regularizers import KL, Entropy, Tsallis, sparsemax
from nashlab.games.uncertainty import (
    Chi2Ball,
    KLBall,
    L1Ball,
    LpBall,
    WassersteinBall,
    parse_uncertainty,
)
from nashlab.solvers.bellman import bellman_residual
from nashlab.solvers.dp import run_mdp, solve_mdp
from nashlab.solvers.robust import run_robust, solve_robust
from nashlab.solvers.robust_oracles import batch_worst_case


def _worst_case(kind, p_bar, z, radius):
    """σ and p* of one nominal row (the batch oracle on a 1-row kernel)."""
    values, kernel = batch_worst_case(kind, np.asarray([p_bar], dtype=float), np.asarray(z, float),
                                      np.array([radius], dtype=float), want_kernel=True)
    return float(values[0]), kernel[0]


def chi2_worst_case(p_bar, z, rho):
    return _worst_case("chi2", p_bar, z, rho)


def kl_worst_case(p_bar, z, rho):
    return _worst_case("kl", p_bar, z, rho)

def _random_mdp(seed, S=4, A=3, gamma=0.99, scale=1.0, tiny=0.0, horizon=None):
    """A random MDP; with ``tiny`` > 0, a random third of the entries of P are ``tiny`` and
    the rest of each row sums to 1 − (its tiny mass)."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    if tiny:
        mask = rng.random((S, A, S)) < 1 / 3
        mask[..., 0] &= ~mask.all(axis=-1)  # keep one ordinary entry per row
        big = np.where(mask, 0.0, P)
        big /= big.sum(axis=-1, keepdims=True)
        n_tiny = mask.sum(axis=-1, keepdims=True)
        P = np.where(mask, tiny, big * (1.0 - n_tiny * tiny))
    return MDP(P, scale * rng.normal(size=(S, A)), gamma, horizon=horizon)


# -- 1. certificates relative to the problem's scale ------------------------------------------
OBJECTIVES = ["nominal", "entropy", "horizon", "l1", "kl", "chi2", "l1-s", "lp2-s"]


def _solve(kind, mdp, c):
    if kind == "nominal" or kind == "horizon":
        return solve_mdp(mdp)
    if kind == "entropy":
        return solve_mdp(mdp, regularizer=Entropy(0.3 * c))
    sets = {"l1": L1Ball(0.2), "kl": KLBall(0.1), "chi2": Chi2Ball(0.1), "l1-s": L1Ball(0.3, "s"),
            "lp2-s": LpBall(2, 0.01, "s", reward_radius=0.05 * c)}
    return solve_robust(mdp, uncertainty=sets[kind])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(OBJECTIVES),
       c=st.sampled_from([1e-11, 1e-8, 1e4, 1e8]), gamma=st.sampled_from([0.9, 0.99]))
def test_certificate_is_scale_invariant(seed, kind, c, gamma):
    """Scaling r (and τ, α) by c scales the values by c and keeps the verdict: certified at
    every scale, the same policy (r ×1e-11 used to be all ties of Howard's incumbent, a
    wrong policy certified; r ×1e4 at γ = 0.99 an exact solution uncertified)."""
    horizon = 30 if kind == "horizon" else None
    base = _solve(kind, _random_mdp(seed, gamma=gamma, horizon=horizon), 1.0)
    scaled = _solve(kind, _random_mdp(seed, gamma=gamma, scale=c, horizon=horizon), c)
    assert base.certified and scaled.certified, (base.residual, scaled.residual)
    np.testing.assert_allclose(scaled.policy, base.policy, atol=1e-7)
    np.testing.assert_allclose(scaled.values / c, base.values, rtol=1e-7,
                               atol=1e-9 * np.max(np.abs(base.values)))
    assert scaled.params["residual_tol"] == pytest.approx(c * base.params["residual_tol"],
                                                         rel=1e-6)


def test_large_rewards_at_gamma_099_certify():
    sol = solve_mdp(_random_mdp(0, S=5, gamma=0.99, scale=1e4))
    assert sol.certified and sol.residual > 1e-10  # the old absolute tolerance failed here


@pytest.mark.parametrize("seed", range(5))
def test_tiny_rewards_do_not_certify_a_wrong_policy(seed):
    """At r ×1e-11 every policy had a residual below the absolute 1e-10: the certificate
    must tell the optimal policy from a suboptimal one at any scale."""
    from nashlab.solvers.mdp_results import residual_tolerance

    mdp = _random_mdp(seed, S=5, gamma=0.9, scale=1e-11)
    sol = solve_mdp(mdp)
    assert sol.certified
    optimal = np.argmax(sol.policy, axis=1)
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            if sol.q[s, a] < sol.values[s] - 1e-6 * np.max(np.abs(sol.values)):
                wrong = optimal.copy()
                wrong[s] = a
                v = mdp.evaluate(wrong)
                assert bellman_residual(mdp, v) > residual_tolerance(mdp, v)


def test_finite_horizon_residual_is_a_policy_evaluation():
    mdp = _random_mdp(3, gamma=1.0, horizon=7)
    sol = solve_mdp(mdp)
    assert sol.certified and 0.0 <= sol.residual <= sol.params["residual_tol"]


# -- 2. tracebacks where the contract promises an answer or a clear error --------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), S=st.integers(2, 5), A=st.integers(1, 3),
       kappa=st.floats(0.0, 2.0), gamma=st.sampled_from([0.5, 0.9, 0.99]))
def test_s_rectangular_l1_with_entries_1e_18(seed, S, A, kappa, gamma):
    """Rows with an entry 1e-18 and the rest summing to 1 − 1e-18 raised a numba
    ZeroDivisionError (knots of zero width); the L1 set reaches every state, so the answer
    equals that of the kernel with the 1e-18 entries moved onto the others."""
    mdp = _random_mdp(seed, S, A, gamma, tiny=1e-18)
    sol = solve_robust(mdp, uncertainty=L1Ball(kappa, "s"))
    assert sol.certified and np.all(np.isfinite(sol.values)) and np.all(np.isfinite(sol.policy))
    clean = MDP(np.where(mdp.P == 1e-18, 0.0, mdp.P) / np.where(mdp.P == 1e-18, 0.0, mdp.P).sum(
        axis=-1, keepdims=True), mdp.r, gamma)
    ref = solve_robust(clean, uncertainty=L1Ball(kappa, "s"))
    np.testing.assert_allclose(sol.values, ref.values, atol=1e-12 * np.max(np.abs(mdp.r)) / (1 - gamma))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), S=st.integers(2, 5), rho=st.floats(1e-3, 1.0))
def test_chi2_worst_case_with_entries_1e_18(seed, S, rho):
    """A mass 1e-18 sorted before a mass ~1 lost Σp̄(z − μ)² to rounding and the worst case
    put all its mass on the 1e-18 entry (χ² ~ 1e17 > ρ)."""
    rng = np.random.default_rng(seed)
    p_bar = rng.dirichlet(np.ones(S))
    tiny = rng.random(S) < 0.5
    tiny[np.argmax(p_bar)] = False
    p_bar = np.where(tiny, 1e-18, p_bar)
    p_bar[~tiny] *= (1 - tiny.sum() * 1e-18) / p_bar[~tiny].sum()
    z = rng.normal(size=S)
    value, p = chi2_worst_case(p_bar, z, rho)
    assert np.sum((p - p_bar) ** 2 / p_bar) <= rho * (1 + 1e-6)
    assert abs(p @ z - value) <= 1e-12 and value <= p_bar @ z + 1e-15


@pytest.mark.parametrize("rho", [1e-300, 1e-40, 1e-20, 1e-16, 1e-12])
def test_kl_worst_case_small_radius(rho):
    """σ = E z − √(2ρ Var z) + ρκ₃/(3 Var z) + O(ρ^{3/2}); log of a sum near 1 made σ wrong
    by ~1e-8 (above the nominal value) for ρ ≤ 1e-16, and robust PI uncertified."""
    p_bar, z = np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 2.0])
    mu = p_bar @ z
    var, k3 = p_bar @ (z - mu) ** 2, p_bar @ (z - mu) ** 3
    value, p = kl_worst_case(p_bar, z, rho)
    assert value == pytest.approx(mu - math.sqrt(2 * rho * var) + rho * k3 / (3 * var), abs=1e-15)
    assert abs(p @ z - value) <= 1e-15
    sol = solve_robust(_random_mdp(1, gamma=0.9), uncertainty=KLBall(rho))
    assert sol.certified


@pytest.mark.parametrize("unc", [Chi2Ball(0.0), Chi2Ball(1e-300), KLBall(1e-300), L1Ball(1e-300),
                                 WassersteinBall(0.0), LpBall(2, 0.0, "sa"),
                                 LpBall(math.inf, 0.0, "sa")],
                         ids=["chi2-0", "chi2-tiny", "kl-tiny", "l1-tiny", "wass-0", "lp2-sa-0",
                              "lpinf-sa-0"])
def test_zero_and_tiny_radius_is_nominal(unc):
    """Radius 0 is the nominal model (Chi2Ball(0) gave NaN, then 'v must have shape')."""
    mdp = _random_mdp(4, S=5, gamma=0.8)
    sol = solve_robust(mdp, uncertainty=unc)
    assert sol.certified
    np.testing.assert_allclose(sol.values, solve_mdp(mdp).values, atol=1e-12)


def test_chi2_radius_zero_per_state_action():
    mdp = _random_mdp(5, gamma=0.9)
    radii = np.zeros((4, 3))
    radii[0] = 0.2
    sol = solve_robust(mdp, uncertainty=Chi2Ball(radii))
    assert sol.certified and np.all(np.isfinite(sol.values))
    assert np.all(sol.values <= solve_mdp(mdp).values + 1e-12)


def test_max_iterations_is_validated():
    mdp = _random_mdp(0, gamma=0.9)
    for solve in (lambda **kw: solve_mdp(mdp, **kw),
                  lambda **kw: solve_mdp(mdp, regularizer=Entropy(0.1), **kw),
                  lambda **kw: solve_robust(mdp, uncertainty="l1:0.1", **kw),
                  lambda **kw: solve_mdp(mdp, uncertainty="l1:0.1", **kw)):
        with pytest.raises(ValueError, match="max_iterations"):
            solve(max_iterations=0)
        with pytest.raises(TypeError, match="max_iterations"):
            solve(max_iterations=2.5)
        with pytest.raises(TypeError, match="max_iterations"):
            solve(max_iterations=True)


@pytest.mark.parametrize("tau", [1e-300, 1e-200, 1e-30])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("kind", ["entropy", "kl", "kl-zero", "tsallis"])
def test_tiny_regularizer_weight_is_the_unregularized_problem(kind, sparse, tau):
    """Tsallis(1e-300) divided q by τ (inf − inf = NaN, then 'policy must be finite');
    Entropy / KL overflowed the same way once |q|/τ > 1.8e308 (numba kernel included)."""
    mdp = _random_mdp(2, S=5, gamma=0.9, scale=1e10)
    if sparse:
        mdp = MDP(sp.csr_matrix(mdp.P_flat), mdp.r, mdp.gamma)
    reg = {"entropy": lambda: Entropy(tau), "tsallis": lambda: Tsallis(tau),
           "kl": lambda: KL(tau, np.ones(3) / 3),
           "kl-zero": lambda: KL(tau, np.array([0.5, 0.5, 0.0]))}[kind]()
    sol = solve_mdp(mdp, regularizer=reg)
    assert sol.certified and np.all(np.isfinite(sol.values)) and np.all(np.isfinite(sol.policy))
    if kind != "kl-zero":
        ref = solve_mdp(mdp)
        np.testing.assert_allclose(sol.values, ref.values, rtol=1e-12)


def test_regularizer_greedy_maps_at_tiny_and_ordinary_weights():
    q = np.array([[1.0, 3.0, 3.0 - 1e-12], [-2.0, 5.0, 0.0]])
    for reg in (Entropy(1e-300), Tsallis(1e-300), KL(1e-300, np.ones(3) / 3)):
        p = reg.greedy(q)
        assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1)
        assert p[1] == pytest.approx([0, 1, 0])
        assert reg.conjugate(q) == pytest.approx(q.max(axis=1), rel=1e-15)
    tsallis = Tsallis(0.7)
    np.testing.assert_allclose(tsallis.greedy(q), sparsemax(q / 0.7), atol=1e-15)


def test_sparsemax_of_nothing_is_a_value_error():
    with pytest.raises(ValueError, match="at least one entry"):
        sparsemax([])
    with pytest.raises(ValueError, match="at least one entry"):
        sparsemax(np.zeros((3, 0)))
    assert sparsemax([2.0]) == pytest.approx([1.0])


def test_regularizer_must_be_a_regularizer():
    mdp = _random_mdp(0, gamma=0.9)
    for call in (lambda: solve_mdp(mdp, regularizer="entropy"),
                 lambda: solve_robust(mdp, uncertainty="l1:0.1", regularizer="entropy"),
                 lambda: run_mdp(mdp, "vi", iterations=2, regularizer="entropy")):
        with pytest.raises(TypeError, match="regularizer must be None or .*Entropy, KL, Tsallis"):
            call()


@pytest.mark.parametrize("method", ["vi", "mpi", "md-mpi"])
def test_initial_values_must_be_finite(method):
    mdp = _random_mdp(0, gamma=0.9)
    for bad in (np.full(4, np.nan), np.array([0, np.inf, 0, 0])):
        with pytest.raises(ValueError, match="init must be finite"):
            run_mdp(mdp, method, iterations=3, init=bad)
    with pytest.raises(ValueError, match="init must be finite"):
        run_robust(mdp, "vi", uncertainty="l1:0.1", iterations=3, init=np.full(4, np.nan))
    with pytest.raises(TypeError, match="init"):
        run_mdp(mdp, method, iterations=3, init=np.ones(4) * 1j)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (True, TypeError), (1.5, TypeError),
                                         ("7", TypeError), (np.bool_(True), TypeError)])
def test_npg_entropy_seed_is_validated(seed, error):
    mdp = _random_mdp(0, gamma=0.9)
    with pytest.raises(error, match="seed"):
        run_mdp(mdp, "npg-entropy", iterations=2, regularizer=Entropy(1.0), seed=seed,
                q_noise=0.1)


def test_npg_entropy_seed_accepts_python_and_numpy_ints():
    mdp = _random_mdp(0, gamma=0.9)
    runs = [run_mdp(mdp, "npg-entropy", iterations=3, regularizer=Entropy(1.0), seed=s,
                    q_noise=0.1) for s in (7, np.int64(7))]
    np.testing.assert_array_equal(runs[1].metrics["q_error"], runs[0].metrics["q_error"])
    assert runs[1].params["seed"] == 7 and type(runs[1].params["seed"]) is int
    runs[1].to_json()
    with pytest.raises(TypeError, match="seed"):
        run_mdp(mdp, "npg-entropy", iterations=2, regularizer=Entropy(1.0),
                seed=np.random.default_rng(7), q_noise=0.1)


# -- 3. no silent coercions --------------------------------------------------------------------
def test_complex_sparse_kernel_is_a_type_error():
    P = _random_mdp(0, gamma=0.9).P_flat
    r = np.zeros((4, 3))
    with pytest.raises(TypeError, match="P must hold real numbers"):
        MDP(sp.csr_matrix(P.astype(complex)), r, 0.9)
    with pytest.raises(TypeError, match="P must be an array of real numbers"):
        MDP(P.reshape(4, 3, 4).astype(complex), r, 0.9)
    assert MDP(sp.csr_matrix(P), r, 0.9).is_sparse  # real sparse still accepted


@pytest.mark.parametrize("spec", ["lp1e400:0.1", "lp1e400s:0.1", "lp1e309:0.1"])
def test_lp_spec_overflowing_to_inf_is_rejected(spec):
    with pytest.raises(ValueError, match="overflows to inf"):
        parse_uncertainty(spec)


def test_lp_spec_inf_is_the_linf_ball():
    for spec in ("lpinf:0.1", "lpinfs:0.1", "lpinfinity:0.1"):
        assert parse_uncertainty(spec).p == math.inf
    with pytest.raises(ValueError, match="radius"):
        parse_uncertainty("l1:1e400")


# -- 4. no NaN / inf from valid input ----------------------------------------------------------
UNCERTAINTY = ["l1:0.2", "l1s:0.3", "kl:0.1", "chi2:0.2", "wass:0.3", "kl-pen:1", "tv-pen:0.5",
               "chi2-pen:1", "lp2:0.01", "lp2s:0.01", "lpinfs:0.01", "lp1s:0.01"]


@st.composite
def small_mdps(draw):
    """Small MDPs: S ≤ 4, A ≤ 3, γ up to 0.999, rewards ×10^[-8, 8], transitions dense,
    near-deterministic (1 − (S−1)·δ on one state) or with entries 1e-18."""
    S, A = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 10**6))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999]))
    scale = 10.0 ** draw(st.integers(-8, 8))
    kind = draw(st.sampled_from(["dense", "near-deterministic", "tiny"]))
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    if kind == "near-deterministic":
        delta = 10.0 ** draw(st.integers(-16, -6))
        P = np.full((S, A, S), delta)
        P[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(0, S, size=(S, A))] = (
            1.0 - (S - 1) * delta)
    elif kind == "tiny" and S > 1:
        return _random_mdp(seed, S, A, gamma, scale, tiny=1e-18), scale
    return MDP(P, scale * rng.normal(size=(S, A)), gamma), scale


def _finite(*arrays):
    return all(np.all(np.isfinite(a)) for a in arrays)


@settings(max_examples=60, deadline=None)
@given(case=small_mdps(), which=st.sampled_from(["nominal", "entropy", "tsallis", "kl"]))
def test_solve_mdp_is_finite_and_certified(case, which):
    mdp, scale = case
    reg = {"nominal": None, "entropy": Entropy(0.1 * scale), "tsallis": Tsallis(0.1 * scale),
           "kl": KL(0.1 * scale, np.full(mdp.n_actions, 1.0 / mdp.n_actions))}[which]
    sol = solve_mdp(mdp, regularizer=reg)
    assert _finite(sol.values, sol.q, sol.policy, sol.residual)
    assert sol.certified, (sol.residual, sol.params["residual_tol"])


@settings(max_examples=60, deadline=None)
@given(case=small_mdps(), spec=st.sampled_from(UNCERTAINTY))
def test_solve_robust_is_finite(case, spec):
    mdp, _ = case
    sol = solve_robust(mdp, uncertainty=spec)
    assert _finite(sol.values, sol.q, sol.policy, sol.residual)
    assert sol.certified or not sol.params["kernels_in_simplex"], (
        sol.residual, sol.params["residual_tol"])
    # robust ≤ nominal (every set contains P̄), up to the certificates' ‖v − v*‖ ≤ δ/(1 − γ)
    slack = 2 * sol.params["residual_tol"] / (1 - mdp.gamma)
    assert np.all(sol.values <= solve_mdp(mdp).values + slack)


@settings(max_examples=40, deadline=None)
@given(case=small_mdps(), method=st.sampled_from(["vi", "pi", "mpi", "md-mpi", "npg-entropy",
                                                  "pmd", "npg"]))
def test_run_mdp_is_finite(case, method):
    mdp, scale = case
    reg = Entropy(0.5 * scale) if method in ("npg-entropy", "pmd") else None
    if method == "pmd" and mdp.gamma == 0:
        return
    run = run_mdp(mdp, method, iterations=5, regularizer=reg)
    assert _finite(run.policy, *run.metrics.values()) or method == "npg"
    if method == "npg":  # xiao_potential is NaN by definition where ϑ_ρ ≤ 1 (params say so)
        assert _finite(run.policy, run.metrics["suboptimality"])


# -- the adversarial pass ----------------------------------------------------------------------
def test_kl_reference_of_the_wrong_shape_names_the_regularizer():
    mdp = _random_mdp(0, gamma=0.9)  # S = 4, A = 3
    for ref in (np.ones(5) / 5, np.ones((7, 3)) / 3):
        reg = KL(1.0, ref)
        with pytest.raises(ValueError, match="regularizer: the KL reference policy"):
            solve_mdp(mdp, regularizer=reg)
        with pytest.raises(ValueError, match="regularizer: the KL reference policy"):
            solve_robust(mdp, uncertainty="l1:0.1", regularizer=reg)
        with pytest.raises(ValueError, match="regularizer: the KL reference policy"):
            run_mdp(mdp, "pmd", iterations=2, regularizer=reg)
    assert solve_mdp(mdp, regularizer=KL(1.0, np.ones((4, 3)) / 3)).certified


def test_evaluation_sweeps_type_and_value():
    mdp = _random_mdp(0, gamma=0.9)
    for bad in (True, 1.5):
        with pytest.raises(TypeError, match="m \\(evaluation sweeps\\)"):
            run_mdp(mdp, "mpi", iterations=2, m=bad)
    with pytest.raises(ValueError, match="m \\(evaluation sweeps\\)"):
        run_mdp(mdp, "mpi", iterations=2, m=0)


def test_npg_step_growth_overflow_names_step_growth():
    mdp = _random_mdp(0, gamma=0.9)
    with pytest.raises(ValueError, match="step_growth"):
        run_mdp(mdp, "npg", iterations=50, step_growth=1e10)
