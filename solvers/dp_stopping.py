"""Stopping rules of the value-iteration family: the span bounds of Puterman (1994) §6.6.

For any values v, T the (regularized) Bellman optimality operator and π = G(v) a greedy policy
of v (so that T_π v = T v), with sp(x) = max x − min x (Puterman 1994, "Markov Decision
Processes", Thm 6.6.3):

    T v + γ/(1−γ)·min(T v − v) ≤ v^π ≤ v* ≤ T v + γ/(1−γ)·max(T v − v),

hence ‖v* − v^π‖∞ ≤ γ/(1−γ)·sp(T v − v) =: ``suboptimality_bound``, and stopping at the first
iterate with sp(T v − v) ≤ ε(1−γ)/γ returns an ε-optimal policy (Puterman §6.6.3; the
threshold ε(1−γ)/γ of pymdptoolbox's ValueIteration). The proof uses only that T and T_π are
monotone and that T(v + c·1) = T v + γc·1; the regularized operators T_{*,Ω}, T_{π,Ω} of Geist,
Scherrer, Pietquin (arXiv 1901.11275, Prop. 1) have both properties, so the bound holds for
v^π_Ω, v*_Ω as well (derived here, not stated in either source).

``iterate(mdp, regularizer, method, v0, ...)`` yields the pairs (v_k, T v_k) of "vi", "mpi"
(v_{k+1} = T_{G(v_k)}^m v_k) and "gauss-seidel" (``bellman.gauss_seidel_sweep``), so that the
runners of ``dp_methods`` and the ε-optimal solves of ``dp.solve_mdp`` step alike;
``solve_to_tolerance`` and ``evaluate_policy`` are those solves.
"""

import numpy as np

from nashlab.games._validation import check_scalar
from nashlab.solvers.bellman import (
    backup,
    bellman_operator,
    compiled_bellman,
    gauss_seidel_sweep,
    greedy_policy,
    penalty,
)
from nashlab.solvers.mdp_results import mdp_solution

#: the methods that ``iterate`` steps (and that take ``tol``)
SPAN_METHODS = ("vi", "mpi", "gauss-seidel")


def check_tol(tol):
    """None, or ``tol`` as a finite float > 0 (TypeError / ValueError naming tol)."""
    return None if tol is None else check_scalar(tol, "tol", low=0.0, low_open=True)


def suboptimality_bound(gamma, tv, v) -> float:
    """γ/(1−γ)·sp(T v − v): a bound on ‖v* − v^π‖∞ for π greedy at v (0 at γ = 0, where
    v^π = T v = v* exactly)."""
    d = np.asarray(tv) - np.asarray(v)
    return float(gamma / (1.0 - gamma) * (np.max(d) - np.min(d)))


def value_bracket(gamma, tv, v):
    """(lower, upper) = T v + γ/(1−γ)·(min, max)(T v − v): the bracket of v* (Thm 6.6.3)."""
    d = np.asarray(tv) - np.asarray(v)
    c = gamma / (1.0 - gamma)
    return tv + c * np.min(d), tv + c * np.max(d)


def iterate(mdp, regularizer, method, v0, *, m=1, backend="numpy"):
    """Yield (v_k, T v_k) for k = 0, 1, ... of ``method`` ("vi", "mpi" with m sweeps,
    "gauss-seidel") from v_0 = ``v0``. ``backend`` runs T of "vi" and the Gauss–Seidel sweep."""
    if method not in SPAN_METHODS:
        raise ValueError(f"method must be one of {SPAN_METHODS}, got {method!r}")
    v = v0
    while True:
        if method == "mpi":
            q = mdp.q_values(v)
            tv = backup(q, regularizer)
        else:  # the Jacobi T v of the bound: compiled where bellman_operator's kernel applies
            jacobi = backend if method == "vi" or compiled_bellman(mdp, regularizer) else "numpy"
            tv = bellman_operator(mdp, v, regularizer, backend=jacobi)
        yield v, tv
        if method == "vi":
            v = tv
        elif method == "gauss-seidel":
            v = gauss_seidel_sweep(mdp, v, regularizer, backend=backend)
        else:
            policy = greedy_policy(q, regularizer)
            pen = penalty(policy, regularizer)
            for _ in range(m):
                v = mdp.policy_backup(policy, v) - pen


def solve_to_tolerance(mdp, regularizer, method, tol, max_iterations, backend, m=1):
    """The ε-optimal solve of ``solve_mdp(mdp, method=..., tol=ε)``: ``method`` from v_0 = 0
    until γ/(1−γ)·sp(T v_k − v_k) ≤ ε. The Solution holds π = G(v_k) (certified: its
    ‖v* − v^π‖∞ ≤ params["suboptimality_bound"] ≤ tol), values the midpoint of the bracket of
    v* (within params["value_error_bound"] = half the span bound), residual ‖T v_k − v_k‖∞."""
    tol = check_tol(tol)
    if tol is None:
        raise ValueError(f"method {method!r} in solve_mdp needs tol= (the suboptimality ε > 0 "
                         "of the returned policy)")
    steps = iterate(mdp, regularizer, method, np.zeros(mdp.n_states), m=m, backend=backend)
    for k, (v, tv) in enumerate(steps):
        bound = suboptimality_bound(mdp.gamma, tv, v)
        if bound <= tol or k == max_iterations:
            break
    policy = greedy_policy(mdp.q_values(v), regularizer)
    lower, upper = value_bracket(mdp.gamma, tv, v)
    values = 0.5 * (lower + upper)
    message = (f"ε-optimal: span bound {bound:.3g} ≤ tol (Puterman Thm 6.6.3)" if bound <= tol
               else f"iteration limit: span bound {bound:.3g} > tol {tol:g}")
    return mdp_solution(mdp, regularizer, values, mdp.q_values(values), policy,
                        float(np.max(np.abs(tv - v))), method, k, message, backend,
                        certified=bool(np.isfinite(bound) and bound <= tol), tol=tol,
                        suboptimality_bound=bound, value_error_bound=0.5 * bound)


def evaluate_policy(mdp, regularizer, policy, tol, max_iterations):
    """``solve_mdp(mdp, method="policy-evaluation", policy=π[, tol=ε])``: v^π_Ω by the exact
    linear solve (``MDP.evaluate``; certified by ‖T_π v − v‖∞ as every MDP Solution), or with
    ``tol`` by v ← T_{π,Ω} v from 0 until γ/(1−γ)·‖T_π v − v‖∞ ≤ ε, returning T_π v (then
    ‖T_π v − v^π‖∞ ≤ that bound: the a-posteriori estimate of a γ-contraction)."""
    if policy is None:
        raise ValueError("method 'policy-evaluation' needs policy= (an (S, A) policy or (S,) "
                         "integer actions)")
    policy = mdp.as_policy(policy, "policy")
    tol = check_tol(tol)
    pen = penalty(policy, regularizer)
    extra, k = {}, 0
    if tol is None:
        values, how = mdp.evaluate(policy, regularizer), "exact linear solve"
    else:
        v = np.zeros(mdp.n_states)
        for k in range(max_iterations + 1):
            values = mdp.policy_backup(policy, v) - pen
            bound = mdp.gamma / (1.0 - mdp.gamma) * float(np.max(np.abs(values - v)))
            if bound <= tol or k == max_iterations:
                break
            v = values
        how = f"iterative, bound {bound:.3g}" + ("" if bound <= tol else " > tol (iteration limit)")
        extra = {"tol": tol, "error_bound": bound,
                 "certified": bool(np.isfinite(bound) and bound <= tol)}
    residual = float(np.max(np.abs(mdp.policy_backup(policy, values) - pen - values)))
    return mdp_solution(mdp, regularizer, values, mdp.q_values(values), policy, residual,
                        "policy-evaluation", k, how, "numpy", **extra)
