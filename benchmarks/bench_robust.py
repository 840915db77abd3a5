"""Robust Bellman updates at S = 1000, A = 10 against solving every inner problem generically.

* L1 ball (ξ = 0.1): the sorting oracle (numba, one sort of v shared by all rows) vs one
  HiGHS LP per (s, a) (scipy ``linprog``; the constraint matrix is built once, only p̄ changes);
* KL ball (ρ = 0.1): the 1-D dual solved by safeguarded Newton (numba) vs one cvxpy
  exponential-cone program per (s, a) (Clarabel).

The baselines are timed on a random subset of (s, a) pairs and scaled linearly to all S·A
pairs (each row says so); the candidate is the full update q_U(v) over all pairs, with the
operator prepared once (``RobustBellman``). The ratio of medians is measured in this run.
Run as ``python -m nashlab.benchmarks.bench_robust``.
"""

import time
import warnings

import cvxpy as cp
import numpy as np
from scipy.optimize import linprog

from nashlab.benchmarks.bench_equilibrium import machine, median_seconds
from nashlab.games.mdp_problems import garnet
from nashlab.games.uncertainty import KLBall, L1Ball
from nashlab.solvers.robust import RobustBellman

S, A, B = 1000, 10, 100  # states, actions, next states per (s, a) (Garnet branching)


def _l1_lp_solver(S):
    """min z·p over p = p̄ + x − y, x ≥ 0, 0 ≤ y ≤ p̄, Σx = Σy, Σx + Σy ≤ ξ (the L1 ball in
    the simplex with two constraints and bounds, the lean LP form), HiGHS."""
    A_ub = np.ones((1, 2 * S))
    A_eq = np.r_[np.ones(S), -np.ones(S)][None]

    def solve(p_bar, z, xi):
        bounds = np.c_[np.zeros(2 * S), np.r_[np.full(S, np.inf), p_bar]]
        res = linprog(np.r_[z, -z], A_ub=A_ub, b_ub=[xi], A_eq=A_eq, b_eq=[0.0],
                      bounds=bounds, method="highs")
        return p_bar @ z + res.fun
    return solve


def _kl_cvxpy(p_bar, z, rho):
    sup = p_bar > 0
    q = cp.Variable(int(sup.sum()), nonneg=True)
    prob = cp.Problem(cp.Minimize(z[sup] @ q),
                      [cp.sum(q) == 1, cp.sum(cp.kl_div(q, p_bar[sup])) <= rho])
    return prob.solve(solver=cp.CLARABEL)


def _row(name, candidate, per_pair, n_pairs, subset, goal, baseline_name, error):
    baseline = per_pair * n_pairs
    ratio = baseline / candidate
    row = {
        "benchmark": name,
        "size": f"S={S}, A={A}, {B} next states per (s,a)",
        "backend": f"numba (nashlab) vs {baseline_name}",
        "candidate_s": candidate,
        "baseline_s": baseline,
        "baseline_note": f"timed on {subset} random (s,a) pairs, scaled linearly to {n_pairs}",
        "max_abs_difference": error,
        "ratio": ratio,
        "goal": f">= {goal}x",
        "met": ratio >= goal,
        "machine": machine(),
    }
    print(f"{name} [{row['size']}]: nashlab {candidate * 1e3:.1f} ms, {baseline_name} "
          f"{baseline:.1f} s ({row['baseline_note']}), speed-up {ratio:.0f}x (goal {row['goal']}), "
          f"max |diff| {error:.1e} on {row['machine']}")
    return row


def main(quick: bool = False) -> list[dict]:
    mdp = garnet(S, A, B, seed=0, gamma=0.9)
    rng = np.random.default_rng(1)
    v = rng.normal(size=S) * 5
    P_flat = mdp.P_flat
    repeats = 3 if quick else 7
    subset = 10 if quick else 40
    pairs = rng.choice(S * A, size=subset, replace=False)
    rows = []

    for label, unc, radius, goal in (("L1", L1Ball(0.1), 0.1, 100), ("KL", KLBall(0.1), 0.1, 50)):
        op = RobustBellman(mdp, unc)
        op.q(v)  # compile
        candidate = median_seconds(lambda op=op: op.q(v), repeats)
        sigma = (op.q(v) - mdp.r).ravel() / mdp.gamma
        if label == "L1":
            solve = _l1_lp_solver(S)
            baseline_name = "scipy HiGHS LP per (s,a)"
        else:
            solve = _kl_cvxpy
            baseline_name = "cvxpy/Clarabel per (s,a)"
        values = np.empty(subset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            for i, pair in enumerate(pairs):
                values[i] = solve(P_flat[pair], v, radius)
            per_pair = (time.perf_counter() - t0) / subset
        error = float(np.max(np.abs(values - sigma[pairs])))
        rows.append(_row(f"robust {label} Bellman update", candidate, per_pair, S * A, subset,
                         goal, baseline_name, error))
    return rows


if __name__ == "__main__":
    main()
