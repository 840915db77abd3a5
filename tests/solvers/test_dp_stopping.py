"""Stopping rules (Puterman §6.6 span bound), Gauss–Seidel VI, policy evaluation, terminal
rewards, and infeasible pairs through every solver (issue 14).

Ground truth: Howard PI with exact solves (``solve_mdp``), and for infeasible pairs value
iteration written in the test over each state's feasible actions only."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.solvers.bellman import bellman_operator, gauss_seidel_sweep
from nashlab.solvers.dp import run_mdp, solve_mdp


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), S=st.integers(1, 8), A=st.integers(1, 4),
       gamma=st.sampled_from([0.0, 0.5, 0.9, 0.99]), tol=st.sampled_from([1e-1, 1e-4, 1e-8]),
       method=st.sampled_from(["vi", "mpi", "gauss-seidel"]),
       reg=st.sampled_from([None, "entropy"]))
def test_span_stop_certifies_the_greedy_policy(seed, S, A, gamma, tol, method, reg):
    """‖v* − v^π‖∞ ≤ suboptimality_bound ≤ tol, v* within value_error_bound of the values,
    and the run stops at the first iterate whose bound is ≤ tol."""
    mdp = garnet(S, A, min(2, S), seed=seed, gamma=gamma)
    regularizer = None if reg is None else Entropy(0.3)
    star = solve_mdp(mdp, regularizer=regularizer)
    eps = solve_mdp(mdp, regularizer=regularizer, method=method, tol=tol)
    assert eps.certified and eps.params["suboptimality_bound"] <= tol
    slack = 1e-12 * max(1.0, np.max(np.abs(star.values)))
    gap = np.max(star.values - mdp.evaluate(eps.policy, regularizer))
    assert gap <= eps.params["suboptimality_bound"] + slack
    assert np.max(np.abs(eps.values - star.values)) <= eps.params["value_error_bound"] + slack
    run = run_mdp(mdp, method, iterations=5000, tol=tol, regularizer=regularizer, solution=star)
    bounds = run["suboptimality_bound"]
    assert len(bounds) == run.params["iterations"] + 1 and bounds[-1] <= tol
    assert np.all(bounds[:-1] > tol)
    assert run.params["iterations"] == eps.iterations
    np.testing.assert_array_equal(run.policy, eps.policy)


def test_span_bound_is_tight_enough_to_matter():
    """At k = 0 the bound is finite and above the true suboptimality of G(v_0); it falls with k."""
    mdp = riverswim(gamma=0.9)
    star = solve_mdp(mdp)
    run = run_mdp(mdp, "vi", iterations=200, tol=1e-9, solution=star)
    b = run["suboptimality_bound"]
    assert b[0] > 0 and np.all(np.isfinite(b)) and b[-1] <= 1e-9 < b[0]
    assert run.params["max_iterations"] == 200 and run.params["tol"] == 1e-9
    uncapped = run_mdp(mdp, "vi", iterations=3, solution=star)
    assert "suboptimality_bound" not in uncapped.metrics  # vi's default metrics are unchanged
    capped = solve_mdp(mdp, method="vi", tol=1e-12, max_iterations=3)
    assert not capped.certified and "iteration limit" in capped.message


@pytest.mark.parametrize("regularizer", [None, Entropy(0.2), KL(0.2, [0.2, 0.8]), Tsallis(0.3)])
@pytest.mark.parametrize("sparse", [False, True])
def test_gauss_seidel_compiled_equals_numpy_and_reaches_v_star(regularizer, sparse):
    mdp = garnet(12, 2, 3, seed=4, gamma=0.9, sparse=sparse)
    v = np.random.default_rng(0).normal(size=12)
    reference = gauss_seidel_sweep(mdp, v, regularizer, backend="numpy")
    # in-place order: state 0 sees the old values, the last state the new ones
    np.testing.assert_allclose(reference[0], bellman_operator(mdp, v, regularizer)[0], rtol=1e-14)
    if not isinstance(regularizer, Tsallis):
        np.testing.assert_allclose(gauss_seidel_sweep(mdp, v, regularizer, backend="numba"),
                                   reference, rtol=1e-14, atol=1e-14)
    star = solve_mdp(mdp, regularizer=regularizer)
    run = run_mdp(mdp, "gauss-seidel", iterations=400, regularizer=regularizer, solution=star)
    assert run["value_error"][-1] < 1e-9
    assert run.params["backend"] == ("numpy" if isinstance(regularizer, Tsallis) else "numba")


def test_policy_evaluation_exact_and_iterative():
    mdp = garnet(6, 3, 3, seed=1, gamma=0.95)
    policy = np.random.default_rng(2).dirichlet(np.ones(3), size=6)
    exact = solve_mdp(mdp, method="policy-evaluation", policy=policy)
    P_pi = np.einsum("sa,sat->st", policy, mdp.P)
    np.testing.assert_allclose(exact.values, np.linalg.solve(np.eye(6) - 0.95 * P_pi,
                                                             mdp.r_pi(policy)), rtol=1e-12)
    assert exact.certified and exact.method == "policy-evaluation"
    it = solve_mdp(mdp, method="policy-evaluation", policy=policy, tol=1e-7)
    assert it.certified and np.max(np.abs(it.values - exact.values)) <= it.params["error_bound"]
    run = run_mdp(mdp, "policy-evaluation", iterations=2000, policy=policy, tol=1e-8)
    assert run["error_bound"][-1] <= 1e-8 < run["error_bound"][-2]
    assert np.all(run["value_error"] <= run["error_bound"] * (1 + 1e-9))
    reg = Entropy(0.5)
    soft = run_mdp(mdp, "policy-evaluation", iterations=600, policy=policy, regularizer=reg)
    assert soft["value_error"][-1] < 1e-10  # against v^π_Ω = (I − γP_π)^{-1}(r_π − Ω(π))


@pytest.mark.parametrize("call, error, match", [
    (lambda m: solve_mdp(m, method="vi"), ValueError, "needs tol="),
    (lambda m: solve_mdp(m, method="vi", tol=0.0), ValueError, "tol must be > 0"),
    (lambda m: solve_mdp(m, method="vi", tol=True), TypeError, "tol must be a real number"),
    (lambda m: solve_mdp(m, tol=1e-3), TypeError, "tol= needs method="),
    (lambda m: solve_mdp(m, method="bogus"), ValueError, "method must be None or one of"),
    (lambda m: solve_mdp(m, method="policy-evaluation"), ValueError, "needs policy="),
    (lambda m: solve_mdp(m, policy=np.zeros(6, int)), TypeError, "policy= is the policy"),
    (lambda m: run_mdp(m, "vi", iterations=3, tol=-1.0), ValueError, "tol must be > 0"),
    (lambda m: run_mdp(m, "pi", iterations=3, tol=1e-3), TypeError, "unknown option.*tol"),
    (lambda m: run_mdp(m, "policy-evaluation", iterations=3), ValueError, "needs policy="),
    (lambda m: run_mdp(m, "policy-evaluation", iterations=3, policy=np.zeros(6, int),
                       solution=solve_mdp(m)), ValueError, "solution must be solve_mdp"),
])
def test_stopping_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(riverswim(gamma=0.9))


def test_terminal_reward_of_a_finite_horizon():
    """v_0 with terminal reward h equals the recursion from v_H = h, and (γ = 1) the horizon-H
    value plus h pushed through P_π^H for a fixed policy."""
    mdp = garnet(5, 2, 2, seed=3, gamma=0.9)
    h = np.arange(5.0)
    finite = MDP(mdp.P, mdp.r, 1.0, horizon=4, terminal=h)
    sol = solve_mdp(finite)
    v = h.copy()
    for _ in range(4):
        v = np.max(mdp.r + np.einsum("sat,t->sa", mdp.P, v), axis=1)
    np.testing.assert_allclose(sol.values, v, rtol=1e-13)
    policy = np.zeros(5, dtype=int)
    P_pi = mdp.P[np.arange(5), policy]
    expected = sum(np.linalg.matrix_power(P_pi, t) @ mdp.r_pi(policy) for t in range(4))
    expected = expected + np.linalg.matrix_power(P_pi, 4) @ h
    np.testing.assert_allclose(finite.evaluate(policy), expected, rtol=1e-13)
    with pytest.raises(ValueError, match="terminal .* needs a finite horizon"):
        MDP(mdp.P, mdp.r, 0.9, terminal=h)
    with pytest.raises(ValueError, match=r"terminal must have shape \(5,\)"):
        MDP(mdp.P, mdp.r, 0.9, horizon=2, terminal=np.zeros(4))


# -- infeasible pairs ---------------------------------------------------------------------------
def _padded(sparse, seed=5):
    """A (6, 3) model whose action 2 is infeasible everywhere and action 1 at state 0."""
    base = garnet(6, 2, 3, seed=seed, gamma=0.9)
    P = np.zeros((6, 3, 6))
    P[:, :2] = base.P
    r = np.zeros((6, 3))
    r[:, :2] = base.r
    feasible = np.ones((6, 3), dtype=bool)
    feasible[:, 2] = False
    feasible[0, 1] = False
    P[0, 1], r[0, 1] = 0.0, 0.0
    if sparse:
        import scipy.sparse as sp
        P = sp.csr_matrix(P.reshape(18, 6))
    return MDP(P, r, 0.9, feasible=feasible)


def _backup_on(q, regularizer):
    """Ω*(q) of one state's feasible q-values (a 1-D array without −inf)."""
    if regularizer is None:
        return q.max()
    p = regularizer.greedy(q[None, :])
    return float(q @ p[0] - regularizer.value(p)[0])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("regularizer", [None, Entropy(0.3), Tsallis(0.3)])
def test_infeasible_pairs_match_value_iteration_on_the_feasible_sets(sparse, regularizer):
    """The certified optimum of the masked model equals value iteration written here over each
    state's feasible actions only (an independent reference), and every solver keeps the
    infeasible pairs at probability 0."""
    padded = _padded(sparse)
    exact = solve_mdp(padded, regularizer=regularizer)
    assert exact.certified
    assert np.all(exact.policy[~padded.feasible] == 0.0)
    P, r, v = padded.dense_P(), padded.r, np.zeros(6)
    for _ in range(400):  # 0.9^400 ≈ 5e-19
        v = np.array([_backup_on(r[s, f] + 0.9 * P[s, f] @ v, regularizer)
                      for s, f in enumerate(padded.feasible)])
    np.testing.assert_allclose(exact.values, v, rtol=1e-10, atol=1e-12)
    for method, its, opts in (("vi", 400, {}), ("gauss-seidel", 400, {}), ("pi", 20, {}),
                              ("mpi", 60, {"m": 10})):
        run = run_mdp(padded, method, iterations=its, regularizer=regularizer, solution=exact,
                      **opts)
        assert run["value_error"][-1] < 1e-9 and np.all(run.policy[~padded.feasible] == 0.0)
    for method in ("vi", "gauss-seidel"):
        eps = solve_mdp(padded, regularizer=regularizer, method=method, tol=1e-8)
        assert eps.certified and np.all(eps.policy[~padded.feasible] == 0.0)


@pytest.mark.parametrize("method, regularizer, options", [
    ("npg-entropy", Entropy(0.3), {}), ("pmd", Entropy(0.3), {}),
    ("pmd", KL(0.3, [0.3, 0.3, 0.4]), {}), ("npg", None, {}), ("md-mpi", None, {"lam": 0.5}),
])
def test_prox_methods_keep_infeasible_pairs_at_zero_and_converge(method, regularizer, options):
    padded = _padded(sparse=False)
    exact = solve_mdp(padded, regularizer=regularizer)
    run = run_mdp(padded, method, iterations=60, regularizer=regularizer, solution=exact,
                  **options)
    assert np.all(run.policy[~padded.feasible] == 0.0)
    for name, values in run.metrics.items():
        assert np.all(np.isfinite(values)), name
    key = {"npg": "suboptimality", "md-mpi": "policy_value_error"}.get(method, "value_error")
    assert run[key][-1] < 1e-3 * max(1.0, run[key][0])


def test_infeasible_kernel_equals_numpy_and_rejects_policies_on_infeasible_pairs():
    padded = _padded(sparse=True)
    v = np.linspace(-1.0, 2.0, 6)
    for reg in (None, Entropy(0.1), KL(0.1, [0.5, 0.25, 0.25])):
        np.testing.assert_allclose(bellman_operator(padded, v, reg, backend="numba"),
                                   bellman_operator(padded, v, reg, backend="numpy"),
                                   rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="infeasible action 1 of state 0"):
        padded.evaluate(np.ones(6, dtype=int))
    np.testing.assert_allclose(padded.uniform_policy()[0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="init puts mass"):
        run_mdp(padded, "npg", iterations=1, init=np.full((6, 3), 1 / 3))
