"""Certified MDP solutions (Howard PI vs LP, regularized fixed points), the Bellman maps of
``nashlab.solvers.bellman`` and the iterative algorithms run by ``nashlab.solvers.dp.run_mdp``."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from nashlab.games import mdp_problems as problems
from nashlab.games.mdp import MDP
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.solvers.bellman import backup, bellman_residual, greedy_policy
from nashlab.solvers.dp import run_mdp, solve_mdp
from nashlab.solvers.dp_methods import METHODS
from nashlab.theory.mdp_strategies import mdps


def lp_values(mdp):
    """v* = argmin Σv s.t. v(s) ≥ r(s,a) + γP(s,a)·v (HiGHS): an independent ground truth."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.dense_P().reshape(S * A, S)
    rows = mdp.gamma * P - np.repeat(np.eye(S), A, axis=0)
    res = linprog(np.ones(S), A_ub=rows, b_ub=-mdp.r.ravel(), bounds=[(None, None)] * S,
                  method="highs")
    assert res.status == 0
    return res.x


PROBLEMS = [problems.riverswim(6, gamma=0.9), problems.riverswim(6, gamma=0.99),
            problems.machine_replacement(), problems.forest(), problems.gridworld(),
            problems.garnet(30, 4, 5, seed=3, gamma=0.95, sparse=True)]


@pytest.mark.parametrize("mdp", PROBLEMS, ids=repr)
def test_howard_matches_lp_on_benchmarks(mdp):
    sol = solve_mdp(mdp)
    assert sol.certified and sol.residual <= 1e-10
    scale = max(1.0, np.max(np.abs(sol.values)))
    np.testing.assert_allclose(sol.values, lp_values(mdp), atol=1e-7 * scale)
    np.testing.assert_allclose(mdp.evaluate(sol.policy), sol.values, atol=1e-11 * scale)


@settings(max_examples=20, deadline=None)
@given(mdps(gamma_max=0.99))
def test_howard_matches_lp_on_random_mdps(mdp):
    sol = solve_mdp(mdp)
    assert sol.certified, sol
    scale = 1 / (1 - mdp.gamma)
    np.testing.assert_allclose(sol.values, lp_values(mdp), atol=1e-7 * scale)
    assert bellman_residual(mdp, sol.values) <= 1e-10


def test_riverswim_optimal_policy_swims_right():
    sol = solve_mdp(problems.riverswim(6, gamma=0.95))
    assert np.all(np.argmax(sol.policy, 1) == 1)


def test_howard_is_tie_stable():
    """Two identical actions: PI must stop (keep the incumbent), not cycle."""
    P = np.zeros((3, 2, 3))
    P[:, :, 0] = 0.5
    P[:, :, 2] = 0.5
    mdp = MDP(P, np.ones((3, 2)), 0.9)
    sol = solve_mdp(mdp)
    assert sol.certified and sol.iterations <= 2 and sol.message == "policy stable"


REGULARIZERS = [Entropy(0.1), KL(0.3, [0.2, 0.3, 0.5]), Tsallis(0.5), Entropy(1e-3)]


@pytest.mark.parametrize("reg", REGULARIZERS, ids=repr)
@settings(max_examples=10, deadline=None)
@given(mdps(A_min=3, A_max=3, gamma_max=0.95))
def test_regularized_fixed_point(reg, mdp):
    sol = solve_mdp(mdp, regularizer=reg)
    assert sol.certified and sol.residual <= 1e-10
    # π* = ∇Ω*(q*), v* = v^{π*}_Ω, and an independent route: long regularized VI
    np.testing.assert_allclose(sol.policy, reg.greedy(sol.q), atol=1e-13)
    scale = 1 / (1 - mdp.gamma)
    np.testing.assert_allclose(mdp.evaluate(sol.policy, reg), sol.values, atol=1e-11 * scale)
    v = np.zeros(mdp.n_states)
    for _ in range(int(np.ceil(np.log(1e-13) / np.log(max(mdp.gamma, 1e-3)))) + 1):
        v = backup(mdp.q_values(v), reg)
    np.testing.assert_allclose(v, sol.values, atol=1e-11 * scale)


@settings(max_examples=10, deadline=None)
@given(mdps(gamma_max=0.95))
def test_entropy_bias_bound(mdp):
    """Geist et al. 1901.11275 Thm 2: v* − (U_Ω − L_Ω)/(1−γ) ≤ v^{π*_Ω} ≤ v*."""
    reg = Entropy(0.2)
    v_star = solve_mdp(mdp).values
    v_reg_policy = mdp.evaluate(solve_mdp(mdp, regularizer=reg).policy)
    spread = reg.spread(mdp.n_actions) / (1 - mdp.gamma)
    assert np.all(v_reg_policy <= v_star + 1e-10)
    assert np.all(v_reg_policy >= v_star - spread - 1e-10)


@pytest.mark.parametrize("reg", [None, *REGULARIZERS[:3]], ids=repr)
@settings(max_examples=15, deadline=None)
@given(mdps(A_min=3, A_max=3, gamma_max=0.99), st.integers(0, 2**31))
def test_bellman_operators_are_gamma_contractions(reg, mdp, seed):
    """‖Tv − Tw‖∞ ≤ γ‖v − w‖∞ for T_{*,Ω} and T_{π,Ω} (Geist et al. Prop. 2)."""
    rng = np.random.default_rng(seed)
    v, w = 10 * rng.standard_normal((2, mdp.n_states))
    pi = rng.dirichlet(np.ones(3), size=mdp.n_states)
    dist = np.max(np.abs(v - w))
    t_star = np.max(np.abs(backup(mdp.q_values(v), reg) - backup(mdp.q_values(w), reg)))
    t_pi = np.max(np.abs(np.sum(pi * (mdp.q_values(v) - mdp.q_values(w)), 1)))
    assert t_star <= mdp.gamma * dist * (1 + 1e-12) + 1e-12
    assert t_pi <= mdp.gamma * dist * (1 + 1e-12) + 1e-12  # Ω(π) cancels in T_π v − T_π w


def test_finite_horizon_backward_induction():
    mdp0 = problems.riverswim(6, gamma=0.9)
    mdp = MDP(mdp0.P, mdp0.r, 1.0, horizon=4)
    sol = solve_mdp(mdp)
    v = np.zeros(6)
    for _ in range(4):
        v = mdp.q_values(v).max(1)
    np.testing.assert_allclose(sol.values, v)
    assert sol.policy.shape == (4, 6, 2)
    with pytest.raises(ValueError, match="infinite-horizon"):
        run_mdp(mdp, "vi", iterations=3)


def test_solution_is_json_serialisable():
    sol = solve_mdp(problems.riverswim(), regularizer=Entropy(0.1))
    d = json.loads(json.dumps(sol.to_dict()))
    assert d["certified"] and len(d["values"]) == 6


# -- iterative algorithms ---------------------------------------------------------------
@pytest.mark.parametrize("method, reg, options", [
    ("vi", None, {}), ("vi", Tsallis(0.5), {}), ("pi", None, {}), ("pi", Entropy(0.1), {}),
    ("mpi", None, {"m": 5}), ("mpi", KL(0.2, [0.5, 0.5]), {"m": 3}),
    ("md-mpi", None, {"lam": 0.2, "m": 2}), ("npg-entropy", Entropy(0.1), {}),
    ("pmd", Entropy(0.1), {}), ("npg", None, {"eta": 5.0, "step_growth": 1.2}),
])
def test_every_method_converges(method, reg, options):
    mdp = problems.riverswim(6, gamma=0.8)
    traj = run_mdp(mdp, method, iterations=200, regularizer=reg, **options)
    key = {"md-mpi": "policy_value_error", "npg": "suboptimality"}.get(method, "value_error")
    err = traj[key]
    assert err.shape == (201,) and err[-1] <= 1e-6 * max(err[0], 1e-300) + 1e-10
    assert traj.params["gamma"] == 0.8 and traj.method == method
    json.dumps(traj.to_dict())
    assert set(METHODS) >= {method}


def test_howard_pi_converges_in_few_iterations():
    mdp = problems.garnet(20, 4, 5, seed=0, gamma=0.99)
    err = run_mdp(mdp, "pi", iterations=15)["value_error"]
    assert err[-1] <= 1e-10 and np.all(np.diff(err) <= 1e-10)


def test_kl_vi_is_q_averaging():
    """MD-VI (m = 1): π_{k+1} ∝ π_0 exp(Σ_{j≤k} q_j/λ) (Vieillard et al. 2003.14089)."""
    mdp = problems.garnet(8, 3, 3, seed=2, gamma=0.9)
    lam, v, logits = 0.5, np.zeros(8), np.full((8, 3), -np.log(3))
    total = np.zeros((8, 3))
    for _ in range(5):
        q = mdp.q_values(v)
        total += q
        new = logits + q / lam
        new -= np.log(np.exp(new - new.max(1, keepdims=True)).sum(1, keepdims=True)) + new.max(
            1, keepdims=True)
        pol = np.exp(new)
        v = np.sum(pol * q, 1) - lam * np.sum(pol * (new - logits), 1)
        logits = new
    z = total / lam
    np.testing.assert_allclose(np.exp(logits), np.exp(z) / np.exp(z).sum(1, keepdims=True),
                               atol=1e-12)
    traj = run_mdp(mdp, "md-mpi", iterations=5, lam=lam)
    np.testing.assert_allclose(traj.policy, np.exp(logits), atol=1e-12)


def test_greedy_policy_keeps_incumbent_on_ties():
    q = np.array([[1.0, 1.0 + 1e-15, 0.0]])
    assert np.argmax(greedy_policy(q, incumbent=np.array([0]))) == 0
    assert np.argmax(greedy_policy(q, incumbent=np.array([2]))) == 1  # not tied: switch


def test_bad_arguments_rejected():
    mdp = problems.riverswim()
    with pytest.raises(ValueError, match="method must be one of"):
        run_mdp(mdp, "sarsa", iterations=3)
    with pytest.raises(ValueError, match="iterations"):
        run_mdp(mdp, "vi", iterations=-1)
    with pytest.raises(ValueError, match="eta must be ≤"):
        run_mdp(mdp, "npg-entropy", iterations=3, regularizer=Entropy(0.1), eta=10.0)
    with pytest.raises(ValueError, match="Entropy"):
        run_mdp(mdp, "npg-entropy", iterations=3)
    with pytest.raises(ValueError, match="regularizer"):
        run_mdp(mdp, "pmd", iterations=3)
    with pytest.raises(ValueError, match="unregularized"):
        run_mdp(mdp, "npg", iterations=3, regularizer=Entropy(0.1))
    with pytest.raises(ValueError, match="m \\(evaluation sweeps\\)"):
        run_mdp(mdp, "mpi", iterations=3, m=0)
    with pytest.raises(ValueError, match="step_growth"):
        run_mdp(mdp, "npg", iterations=3, step_growth=0.5)
    with pytest.raises(TypeError, match="unknown option"):
        run_mdp(mdp, "vi", iterations=3, eta=1.0)
    with pytest.raises(TypeError, match="mdp must be an MDP"):
        solve_mdp("riverswim")


def test_uncertainty_dispatches_to_the_robust_solver():
    from nashlab.games.uncertainty import parse_uncertainty
    from nashlab.solvers.robust import solve_robust

    mdp = problems.riverswim(6, gamma=0.9)
    nominal = solve_mdp(mdp)
    sol = solve_mdp(mdp, uncertainty=parse_uncertainty("l1:0"))
    np.testing.assert_allclose(np.asarray(sol.values), nominal.values, atol=1e-9)
    direct = solve_robust(mdp, uncertainty=parse_uncertainty("l1:0"))
    assert sol.method == direct.method
    np.testing.assert_array_equal(np.asarray(sol.values), np.asarray(direct.values))
