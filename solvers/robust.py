"""Robust MDPs, the family's two verbs: ``solve_robust`` (certified) and ``run_robust``.

Theory notes dp_robust.md §3. The robust Bellman maps T_U, T^π_U of an uncertainty set U
(``nashlab.games.uncertainty``) are ``nashlab.solvers.robust_bellman.RobustBellman``; the
iterative methods are ``nashlab.solvers.robust_methods``.

``solve_robust(mdp, *, uncertainty, regularizer=None, max_iterations=200, backend="auto",
transition_reward=None)``
runs robust policy iteration (Iyengar 2005, "Robust dynamic programming", Math. OR 30: exact
robust evaluation v^π_U by nature's policy iteration, then the greedy policy of T_U) and
certifies the result by the robust Bellman residual ‖T_U v − v‖∞ ≤ 1e-10 (a ``Solution``
with params["family"] = "robust-mdp", method "robust-pi").

``run_robust(mdp, method, *, uncertainty, iterations, eta=None, init=None, seed=None,
track=None, solution=None, backend="auto", regularizer=None, **method_options)`` runs "vi",
"pi" or "rpmd" and records value_error against the certified solution (``Trajectory`` with
method "vi" / "pi" / "rpmd" and params["family"] = "robust-mdp").
"""

import math

import numpy as np

from nashlab.games._validation import check_int
from nashlab.solvers.mdp_results import (
    check_run_options,
    check_solution,
    mdp_params,
    mdp_solution,
    select_metrics,
)
from nashlab.solvers.methods import get_method
from nashlab.solvers.results import Solution, Trajectory
from nashlab.solvers.robust_bellman import RobustBellman, as_uncertainty
from nashlab.solvers.robust_methods import DEFAULT_INIT, METHODS

__all__ = ["RobustBellman", "as_uncertainty", "run_robust", "solve_robust"]

FAMILY = "robust-mdp"


def _robust_pi(op, max_iterations):
    """Robust PI (Iyengar 2005) from the greedy policy of v = 0, until the policy is stable
    (deterministic case: the residual of PI need not decrease monotonically, so it is not a
    stopping rule there) or, for randomized policies, the residual ‖T_U v^π − v^π‖∞ has not
    improved for 5 evaluations; returns the best (values, policy) and the evaluations."""
    mdp = op.mdp
    policy = op.backup(np.zeros(mdp.n_states))[1]
    deterministic = op.rectangularity == "sa" and op.regularizer is None
    best_res, best_v, best_policy = math.inf, None, None
    stalls, evaluations = 0, 0
    while evaluations < max_iterations:
        v = op.evaluate(policy)
        evaluations += 1
        incumbent = np.argmax(policy, axis=1) if deterministic else None
        values, new_policy = op.backup(v, incumbent)
        res = float(np.max(np.abs(values - v)))
        if res < best_res or best_v is None:  # a NaN residual: uncertified, not a traceback
            best_res, best_v, best_policy, stalls = res, v, policy, 0
        else:
            stalls += 1
        stable = np.array_equal(new_policy, policy) if deterministic else stalls >= 5
        if res == 0.0 or stable:
            break
        policy = new_policy
    return best_v, best_policy, evaluations


def solve_robust(mdp, *, uncertainty, regularizer=None, max_iterations=200,
                 backend="auto", transition_reward=None) -> Solution:
    """Certified robust optimum: robust PI with exact evaluation, certified by ‖T_U v − v‖∞.

    ``uncertainty``: a set of ``nashlab.games.uncertainty`` or a ``parse_uncertainty`` spec
    ("l1:0.1", ...); ``regularizer``: (s,a)-rectangular sets only; ``max_iterations``: robust
    policy evaluations at most. ``q`` is q_U(v*) for (s,a)-rectangular sets; for
    s-rectangular sets it is r + γ P* v* with P* the worst kernel of the optimal (possibly
    randomized) policy, so that Σ_a π q = v*. ``backend`` and ``transition_reward`` (R of
    shape (S, A, S), moved with nature's kernel): as in ``RobustBellman``."""
    max_iterations = check_int(max_iterations, "max_iterations", 1)
    op = RobustBellman(mdp, uncertainty, regularizer, backend=backend,
                       transition_reward=transition_reward)
    v, policy, it = _robust_pi(op, max_iterations)
    values, greedy = op.backup(v)
    if op.rectangularity == "sa":
        q = op.q(v)
        if op.regularizer is not None:
            policy = greedy  # ∇Ω*(q_U(v*))
    else:
        policy = greedy  # the (possibly randomized) maximizer of T_U at v*
        q = op.worst_q(v, policy)
    res = float(np.max(np.abs(values - v)))
    return mdp_solution(mdp, op.regularizer, v, q, policy, res, "robust-pi", it,
                        "policy stable or residual stalled" if it < max_iterations
                        else "iteration limit", op.backend, family=FAMILY,
                        weight=op.weight,
                        **op.describe())


def run_robust(mdp, method, *, uncertainty, iterations, eta=None, init=None, seed=None,
               track=None, solution=None, backend="auto", regularizer=None,
               transition_reward=None, **method_options) -> Trajectory:
    """Run the robust ``method`` ("vi", "pi", "rpmd") for ``iterations`` steps.

    ``uncertainty``: a set of ``nashlab.games.uncertainty`` or a spec string ("l1:0.1").
    ``init``: the initial values v_0 for "vi", the initial policy π_0 for "pi" and "rpmd".
    ``eta``: η_0 of "rpmd" (the other methods take no step). ``seed``: no robust method is
    random (a TypeError when given). ``track``: None (every metric the method records:
    value_error) or a collection of metric names. ``solution``: the ``solve_robust``
    solution the errors are measured against (computed when not given). ``backend``: as in
    ``RobustBellman``; ``transition_reward``: as in ``solve_robust``. Method options:
    step_growth (rpmd). Unknown options: TypeError.
    """
    entry = get_method(FAMILY, method)
    check_run_options(entry, method_options, eta=eta, seed=seed)
    iterations = check_int(iterations, "iterations", 0)
    op = RobustBellman(mdp, uncertainty, regularizer, backend=backend,
                       transition_reward=transition_reward)
    if solution is None:
        solution = solve_robust(mdp, uncertainty=op.uncertainty, regularizer=regularizer,
                                backend=backend, transition_reward=transition_reward)
    check_solution(solution, mdp)
    if solution.params.get("transition_reward", False) != (op.R_flat is not None):
        raise ValueError("solution was solved with" + ("out" if op.R_flat is not None else "")
                         + " transition_reward, unlike this run")
    options = dict(method_options, init=init)
    if entry.step_form is not None:
        options["eta"] = eta
    metrics, policy, extra = METHODS[method](op, iterations, solution, **options)
    params = mdp_params(mdp, family=FAMILY, method=method, backend=op.backend,
                        iterations=iterations, regularizer=regularizer, **op.describe(),
                        init=DEFAULT_INIT[method] if init is None else "given", **extra)
    return Trajectory(method, params, select_metrics(metrics, track, entry), policy)
