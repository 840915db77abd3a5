"""The registered DP / policy-optimization / Markov-game theorems hold on their suites and
on hypothesis-drawn MDPs: bound at every iteration (err ≤ bound·(1+1e-9) + 1e-12 while the
bound is ≥ 1e-11) and fitted slope, via ``nashlab.theory.check``.

Slope-only theorems (recalled constants) are passed by ``check`` on their slope alone; the
theory notes report that their recalled bounds held numerically, so this file asserts those
bounds too (``assert_envelope``): a counterexample here means the recalled constant is wrong.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nashlab.theory.dp_theorems  # noqa: F401  (registers the theorems)
from nashlab.games.markov_game import random_markov_game
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.solvers.dp import run_mdp
from nashlab.solvers.markov_games import run_markov_game
from nashlab.theory.mdp_strategies import markov_games, mdps
from nashlab.theory.registry import all_theorems, get
from nashlab.theory.strategies import example_budget
from nashlab.theory.verdicts import (
    ATOL,
    FLOAT_FLOOR,
    RTOL,
    SLOPE_RTOL,
    check,
    evaluate,
    fitted_rate,
)

DP_THEOREMS = [t for t in all_theorems() if t.id.startswith(("dp.", "mg."))]


def assert_envelope(theorem, traj):
    """metric[k] ≤ bound_k·(1 + RTOL) + ATOL wherever bound_k ≥ FLOAT_FLOOR, with the
    trajectory's own constants (C1, C2 from params); returns max_{k≥1} metric/bound."""
    values = np.asarray(traj.metrics[theorem.metric], dtype=float)
    bound = evaluate(theorem.bound, traj, values)
    counted = np.isfinite(bound) & (bound >= FLOAT_FLOOR)
    counted[0] &= theorem.form == "envelope"
    bad = counted & ~(values <= bound * (1 + RTOL) + ATOL)
    assert not bad.any(), (theorem.id, np.flatnonzero(bad)[:5], (values / bound)[bad][:5])
    later = counted.copy()
    later[0] = False
    return float(np.max(values[later] / bound[later])) if later.any() else 0.0


def assert_slope(theorem, traj, floor):
    """The fitted factor (``check.fitted_rate`` over the iterations above ``floor``) is at
    most rate^(1 − SLOPE_RTOL), as ``check`` asks of slope-only theorems — with a floor for
    metrics whose rounding floor lies above the checker's 1e-11, e.g. the log-policy error
    ≈ 2‖Q̂*_τ − Q*_τ‖∞/τ ~ 1e-13/((1−γ)τ) once SPI has converged."""
    values = np.asarray(traj.metrics[theorem.metric], dtype=float)
    fitted = float(fitted_rate(values, floor=floor))
    rate = float(evaluate(theorem.rate, traj, values[:1])[0])
    assert not fitted > rate ** (1 - SLOPE_RTOL), (theorem.id, traj.params, fitted, rate)


def assert_passes(theorem, traj, slope_floor=None):
    """``check`` passes (bound or slope, assumptions) and the bound holds at every iteration.
    ``slope_floor``: fit a slope-only theorem's slope above this floor instead."""
    verdict = check(traj, theorem)
    assert verdict.assumptions_hold, (theorem.id, verdict.reason)
    if slope_floor is None and verdict.status == "inconclusive":
        # only where the instance leaves nothing to count: the bound below the floor at
        # every iteration (e.g. Q*_τ − Q^t_τ ≡ 0 and its bound 0 at γ = 0)
        values = np.asarray(traj.metrics[theorem.metric], dtype=float)
        bound = evaluate(theorem.bound, traj, values)
        assert not np.any(np.isfinite(bound) & (bound >= FLOAT_FLOOR)), verdict
    elif slope_floor is None:
        assert verdict.passed, (theorem.id, traj.params, verdict.reason)
    else:
        assert theorem.status == "slope-only"
        assert_slope(theorem, traj, slope_floor)
    return assert_envelope(theorem, traj)


@pytest.mark.parametrize("theorem", DP_THEOREMS, ids=lambda t: t.id)
def test_quick_suite(theorem):
    assert theorem.source.title and theorem.statement
    worst = max(assert_passes(theorem, traj) for _, traj in theorem.suite(True))
    assert 0 < worst <= 1 + 1e-9


# -- property tests on random MDPs -------------------------------------------------------
def _regularizer(kind, tau, A):
    if kind == "entropy":
        return Entropy(tau)
    if kind == "kl":
        return KL(tau, np.linspace(1, 3, A) / np.linspace(1, 3, A).sum())
    return Tsallis(tau)


@settings(max_examples=example_budget(15), deadline=None)
@given(mdps(gamma_max=0.99), st.sampled_from([None, "entropy", "kl", "tsallis"]),
       st.sampled_from([0.01, 0.3, 2.0]), st.integers(0, 2**31))
def test_vi_contracts_at_every_step(mdp, kind, tau, seed):
    reg = None if kind is None else _regularizer(kind, tau, mdp.n_actions)
    v0 = 5 * np.random.default_rng(seed).standard_normal(mdp.n_states)
    traj = run_mdp(mdp, "vi", iterations=40, regularizer=reg, init=v0)
    theorem = get("dp.vi.contraction" if reg is None else "dp.regularized-vi.contraction")
    assert_passes(theorem, traj)


@settings(max_examples=example_budget(12), deadline=None)
@given(mdps(gamma_max=0.95), st.sampled_from([None, "entropy", "tsallis"]),
       st.integers(1, 6))
def test_regularized_mpi_bound(mdp, kind, m):
    reg = None if kind is None else _regularizer(kind, 0.2, mdp.n_actions)
    traj = run_mdp(mdp, "mpi", iterations=40, regularizer=reg, m=m)
    assert_envelope(get("dp.reg-mpi.geist"), traj)


@settings(max_examples=example_budget(15), deadline=None)
@given(mdps(gamma_max=0.95), st.sampled_from([0.05, 0.3, 1.0]),
       st.sampled_from([0.05, 0.3, 0.7, 1.0]), st.booleans())
def test_cen_theorem_1(mdp, tau, frac, peaked_start):
    """100 iterations: with ητ = 0.05 the fitted log-policy factor needs ~100 steps to settle
    on 1 − ητ (0.9505 after 30, 0.95002 after 100 on a bandit; the bound holds throughout)."""
    eta = frac * (1 - mdp.gamma) / tau
    start = None
    if peaked_start:
        logits = 3 * np.random.default_rng(0).standard_normal((mdp.n_states, mdp.n_actions))
        start = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    traj = run_mdp(mdp, "npg-entropy", iterations=100, regularizer=Entropy(tau), eta=eta,
                   init=start)
    assert_passes(get("dp.npg-entropy.cen-thm1-q"), traj)
    assert_passes(get("dp.npg-entropy.cen-thm1-logpi"), traj)
    assert_passes(get("dp.npg-entropy.q-improvement"), traj)


@settings(max_examples=example_budget(10), deadline=None)
@given(mdps(gamma_max=0.9), st.sampled_from([1e-4, 1e-2]), st.integers(0, 2**31))
def test_cen_theorem_2(mdp, delta, seed):
    traj = run_mdp(mdp, "npg-entropy", iterations=30, regularizer=Entropy(0.2),
                   eta=0.5 * (1 - mdp.gamma) / 0.2, q_noise=delta, seed=seed)
    assert_passes(get("dp.npg-entropy.cen-thm2"), traj)
    assert_passes(get("dp.npg-entropy.cen-thm2-logpi"), traj)
    assert_passes(get("dp.npg-entropy.q-improvement"), traj)


@settings(max_examples=example_budget(12), deadline=None)
@given(mdps(gamma_min=0.5, gamma_max=0.95), st.sampled_from(["entropy", "kl"]),
       st.sampled_from([0.05, 0.5]))
def test_lan_theorem_1(mdp, kind, tau):
    traj = run_mdp(mdp, "pmd", iterations=30, regularizer=_regularizer(kind, tau, mdp.n_actions))
    assert_passes(get("dp.pmd.lan-thm1"), traj)
    assert_passes(get("dp.pmd.lan-step"), traj)


@settings(max_examples=example_budget(15), deadline=None)
@given(mdps(gamma_max=0.95), st.sampled_from([0.01, 0.3, 3.0, 100.0]))
def test_xiao_theorem_8_and_agarwal_theorem_16(mdp, eta):
    traj = run_mdp(mdp, "npg", iterations=30, eta=eta)
    assert_passes(get("dp.npg.xiao-thm8"), traj)
    assert_passes(get("dp.npg.agarwal-thm16"), traj)


@settings(max_examples=example_budget(15), deadline=None)
@given(mdps(gamma_min=0.5, gamma_max=0.95), st.sampled_from([0.01, 0.3, 3.0]),
       st.sampled_from([1.0, 1.5]))
def test_xiao_theorem_10(mdp, eta0, extra_growth):
    traj = run_mdp(mdp, "npg", iterations=30, eta=eta0, step_growth=extra_growth / mdp.gamma)
    assert_passes(get("dp.npg.xiao-thm10"), traj)
    assert_passes(get("dp.npg.xiao-thm10-statement"), traj)
    assert_passes(get("dp.npg.xiao-thm10-step"), traj)


@settings(max_examples=example_budget(10), deadline=None)
@given(st.integers(1, 3), st.integers(2, 4), st.integers(2, 4), st.sampled_from([0.1, 1.0]),
       st.integers(0, 2**31))
def test_mmd_theorem_3_4(S, A, B, tau, seed):
    game = random_markov_game(S, A, B, 0.0, seed=seed)
    L = float(np.max(np.abs(game.r)))
    traj = run_markov_game(game, "mmd", iterations=60, tau=tau, eta=tau / L**2, value_step=0.0,
                           track=("value_error", "policy_kl"))
    assert_passes(get("mg.mmd.sokota-thm3.4"), traj)


@settings(max_examples=example_budget(4), deadline=None)
@given(markov_games(S_max=2, A_max=3, gamma_max=0.9), st.sampled_from([0.0, 0.3]))
def test_shapley_operators_contract_at_every_step(game, tau):
    traj = run_markov_game(game, "shapley", iterations=10, tau=tau, track=("value_error",))
    theorem = "mg.shapley.contraction" if tau == 0 else "mg.regularized-shapley.contraction"
    assert_passes(get(theorem), traj)
