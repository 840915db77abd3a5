"""MDPs, the family's two verbs: ``solve_mdp`` (certified) and ``run_mdp`` (iterative).

``solve_mdp(mdp, *, regularizer=None, uncertainty=None, max_iterations=None,
backend="auto", method=None, tol=None, policy=None, m=1, criterion="discounted") ->
Solution`` is the ground truth of every MDP run (theory notes dp_robust.md §7):

* nominal: Howard policy iteration with exact linear solves, keeping the incumbent action
  on ties (|ΔQ| ≤ 1e-13·‖Q‖∞) so that it cannot cycle; certified by the Bellman residual
  ‖max_a q_v − v‖∞ ≤ 1e-10·max(‖r‖∞/(1 − γ), ‖v‖∞) (relative to the values' scale:
  ``nashlab.solvers.mdp_results``) (method "howard-pi");
* regularized (Ω = ``regularizer``): regularized VI v ← Ω*(q_v) as a warm start, then
  regularized policy iteration π ← ∇Ω*(q_v), v ← v^π_Ω (soft policy iteration, exact
  evaluation) until the residual ‖Ω*(q_v) − v‖∞ stops decreasing ("regularized-pi");
* finite horizon: backward induction (non-stationary policy of shape (H, S, A));
* ``uncertainty`` given: ``nashlab.solvers.robust.solve_robust`` ("robust-pi");
* ``method`` "vi" / "mpi" / "gauss-seidel" with ``tol`` = ε: the ε-optimal stop of
  ``nashlab.solvers.dp_stopping`` (Puterman 1994 §6.6 span bound); "policy-evaluation" with
  ``policy``: v^π_Ω, exact or to ``tol``;
* ``criterion="average"``: gain and bias (``nashlab.solvers.dp_average``).

``run_mdp(mdp, method, *, iterations, eta=None, init=None, seed=None, track=None,
solution=None, backend="auto", regularizer=None, **method_options) -> Trajectory`` runs one
of the iterative methods of ``nashlab.solvers.dp_methods`` ("vi", "gauss-seidel",
"policy-evaluation", "pi", "mpi", "md-mpi", "npg-entropy", "pmd", "npg"; that module's
docstring says what ``init``, ``eta``, ``seed`` and ``tol`` mean for each) against the
certified solution (for "policy-evaluation": the exact value of its ``policy``).

The Bellman maps are ``nashlab.solvers.bellman``; the params schema of both results is
``nashlab.solvers.mdp_results``.
"""

import math

import numpy as np

from nashlab.games._validation import check_int
from nashlab.games.mdp import MDP
from nashlab.solvers.backends import choose_backend
from nashlab.solvers.bellman import (
    BELLMAN_KERNEL,
    backup,
    bellman_operator,
    bellman_residual,
    check_regularizer,
    compiled_bellman,
    gauss_seidel_compiled,
    greedy_policy,
    penalty,
)
from nashlab.solvers.dp_methods import METHODS, SEEDED, _check_sweeps, check_seed, init_kind
from nashlab.solvers.dp_stopping import evaluate_policy, solve_to_tolerance
from nashlab.solvers.mdp_results import (
    CERTIFY_TOL,
    check_run_options,
    check_solution,
    mdp_params,
    mdp_solution,
    select_metrics,
)
from nashlab.solvers.methods import get_method
from nashlab.solvers.results import Solution, Trajectory
from nashlab.solvers.robust import solve_robust

__all__ = ["CERTIFY_TOL", "mdp_solution", "run_mdp", "solve_mdp"]

FAMILY = "mdp"

#: policy-iteration steps of the nominal and regularized solves when max_iterations is None
MAX_ITERATIONS = 10_000


#: solve_mdp's methods beyond the default certified solve (None)
SOLVE_METHODS = ("vi", "mpi", "gauss-seidel", "policy-evaluation")


def solve_mdp(mdp, *, regularizer=None, uncertainty=None, max_iterations=None,
              backend="auto", method=None, tol=None, policy=None, m=1,
              criterion="discounted") -> Solution:
    """Certified optimum of ``mdp`` under the (optional) regularizer and uncertainty set.

    Howard's policy iteration (unregularized), regularized VI then regularized PI, backward
    induction (finite horizon), or ``solve_robust`` when ``uncertainty`` is given (a set or a
    spec string such as "l1:0.1"). ``max_iterations``: policy-iteration steps at most (None:
    10 000, or ``solve_robust``'s 200 robust evaluations). ``backend`` selects the Bellman
    operator of the VI warm start and of the residual certificate (``bellman_operator``:
    "numba" for sparse infinite-horizon models without a Tsallis regularizer); policy
    evaluation is a sparse or dense linear solve either way.

    ``method`` "vi", "mpi" (``m`` sweeps) or "gauss-seidel" with ``tol`` = ε: the ε-optimal
    stop of ``dp_stopping.solve_to_tolerance`` (Puterman §6.6 span bound; the Solution is
    certified when its greedy policy is proven within ε of optimal, params
    "suboptimality_bound"); ``max_iterations`` then caps the sweeps (None: 10 000).
    ``method="policy-evaluation"`` with ``policy``: v^π_Ω exactly (tol None) or iteratively to
    ``tol`` (``dp_stopping.evaluate_policy``). ``criterion="average"``: the gain and bias of
    the average-reward criterion (``nashlab.solvers.dp_average.solve_average``; γ unused),
    ``method`` "relative-vi" (default; constant-gain models) or "lp" (multichain too).
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
    check_regularizer(regularizer, mdp)
    if criterion not in ("discounted", "average"):
        raise ValueError(f"criterion must be 'discounted' or 'average', got {criterion!r}")
    if method is not None and criterion == "discounted" and method not in SOLVE_METHODS:
        raise ValueError(f"method must be None or one of {SOLVE_METHODS}, got {method!r}")
    if policy is not None and method != "policy-evaluation":
        raise TypeError("policy= is the policy of method='policy-evaluation'")
    if tol is not None and method is None and criterion == "discounted":
        raise TypeError(f"tol= needs method= one of {SOLVE_METHODS} (the default solve is "
                        "certified to the rounding level)")
    if criterion == "average":
        from nashlab.solvers.dp_average import solve_average

        if uncertainty is not None or regularizer is not None or policy is not None:
            raise ValueError("criterion='average' solves the nominal, unregularized MDP")
        return solve_average(mdp, method=method or "relative-vi", tol=tol,
                             max_iterations=max_iterations)
    if uncertainty is not None:
        if method is not None:
            raise ValueError("method= is for the nominal MDP; robust methods run with "
                             "run_robust")
        limit = {} if max_iterations is None else {"max_iterations": max_iterations}
        return solve_robust(mdp, uncertainty=uncertainty, regularizer=regularizer,
                            backend=backend, **limit)
    max_iterations = (MAX_ITERATIONS if max_iterations is None
                      else check_int(max_iterations, "max_iterations", 1))
    if method is not None and mdp.horizon is not None:
        raise ValueError(f"method {method!r} needs an infinite-horizon MDP (horizon=None); a "
                         "finite horizon is solved exactly by backward induction")
    if method == "policy-evaluation":
        return evaluate_policy(mdp, regularizer, policy, tol, max_iterations)
    if method is not None:
        compiled = ((method == "vi" and compiled_bellman(mdp, regularizer))
                    or (method == "gauss-seidel" and gauss_seidel_compiled(regularizer)))
        backend = choose_backend(backend, compiled=compiled, reason=BELLMAN_KERNEL + " and "
                                 "method 'vi' (or no regularizer, Entropy or KL and "
                                 f"'gauss-seidel'; got {method!r})")
        return solve_to_tolerance(mdp, regularizer, method, tol, max_iterations, backend,
                                  m=_check_sweeps(m))
    compiled = mdp.horizon is None and compiled_bellman(mdp, regularizer)
    backend = choose_backend(backend, compiled=compiled, reason=BELLMAN_KERNEL
                             + " and an infinite horizon")
    if mdp.horizon is not None:
        return _backward_induction(mdp, regularizer)
    if regularizer is None:
        return _howard(mdp, max_iterations, backend)
    return _regularized(mdp, regularizer, max_iterations, backend)


def _howard(mdp, max_iterations, backend):
    actions, stable, iterations = np.argmax(mdp.mask(mdp.r), axis=1), False, 0
    while not stable and iterations < max_iterations:
        iterations += 1
        v = mdp.evaluate(actions)
        q = mdp.q_values(v)
        new = np.argmax(greedy_policy(q, incumbent=actions), axis=1)
        stable = np.array_equal(new, actions)
        actions = new
    policy = greedy_policy(q, incumbent=actions)
    res = bellman_residual(mdp, v, backend=backend)
    return mdp_solution(mdp, None, v, q, policy, res, "howard-pi", iterations,
                        "policy stable" if stable else "iteration limit", backend)


def _regularized(mdp, regularizer, max_iterations, backend):
    """Regularized VI warm start, then regularized PI (π ← ∇Ω*(q_v), v ← v^π_Ω)."""
    v = np.zeros(mdp.n_states)
    for _ in range(min(50, max_iterations)):
        v = bellman_operator(mdp, v, regularizer, backend=backend)
    best_res, stalls, iterations = math.inf, 0, 0
    while best_res > 0.0 and stalls < 3 and iterations < max_iterations:
        iterations += 1
        policy = regularizer.greedy(mdp.q_values(v))
        v_new = mdp.evaluate(policy, regularizer)
        res = bellman_residual(mdp, v_new, regularizer, backend=backend)
        if res < best_res:
            best_res, v, stalls = res, v_new, 0
        else:
            stalls += 1
    q = mdp.q_values(v)
    return mdp_solution(mdp, regularizer, v, q, regularizer.greedy(q), best_res,
                        "regularized-pi", iterations,
                        "residual stalled" if stalls >= 3 else "stopped", backend)


def _backward_induction(mdp, regularizer):
    """v_H = terminal (0 if None), q_t = r + γ P v_{t+1}, v_t = Ω*(q_t), π_t = ∇Ω*(q_t). The residual is
    ‖v_0 − v^π_0‖∞, v^π_0 the value of the returned non-stationary policy evaluated by its own
    backward recursion v^π_t = r_{π_t} − Ω(π_t) + γ P_{π_t} v^π_{t+1} (0 up to rounding)."""
    v = np.zeros(mdp.n_states) if mdp.terminal is None else mdp.terminal
    policies, q = [], None
    for _ in range(mdp.horizon):
        q = mdp.q_values(v)
        v = backup(q, regularizer)
        policies.append(greedy_policy(q, regularizer))
    policy = np.stack(policies[::-1])
    w = np.zeros(mdp.n_states) if mdp.terminal is None else mdp.terminal
    for pi_t in policies:  # t = H − 1, ..., 0
        w = mdp.policy_backup(pi_t, w) - penalty(pi_t, regularizer)
    res = float(np.max(np.abs(w - v)))
    return mdp_solution(mdp, regularizer, v, q, policy, res, "backward-induction", mdp.horizon,
                        "finite horizon", "numpy")


def run_mdp(mdp, method, *, iterations, eta=None, init=None, seed=None, track=None,
            solution=None, backend="auto", regularizer=None, **method_options) -> Trajectory:
    """Run ``method`` (module docstring) for ``iterations`` steps with exact evaluation.

    ``init``: the initial values v_0 for "vi", "mpi", "md-mpi"; the initial policy π_0 for
    "pi", "npg-entropy", "pmd", "npg". ``eta``: the step of "npg-entropy", "pmd" and "npg".
    ``seed``: the noise of "npg-entropy". ``track``: None (every metric the method records)
    or a collection of metric names (ValueError for a name the method does not record).
    ``solution`` (from ``solve_mdp(mdp, regularizer=regularizer)``) is computed when not
    given. ``backend``: the compiled Bellman operator (``bellman_operator``) runs "vi" on
    sparse models without a Tsallis regularizer, the compiled Gauss–Seidel sweep runs
    "gauss-seidel" on any model without one ("auto": there, NumPy elsewhere); the other
    methods evaluate policies by linear solves. Method options: m (mpi, md-mpi), lam
    (md-mpi), q_noise (npg-entropy), step_growth and rho (npg); any other keyword is a
    TypeError naming it and the method.
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
    if "uncertainty" in method_options:
        raise TypeError("run_mdp got unknown option uncertainty: robust methods run with "
                        "run_robust(mdp, method, uncertainty=...) (or nashlab.run)")
    entry = get_method(FAMILY, method)
    check_run_options(entry, method_options, eta=eta, seed=seed, takes_seed=method in SEEDED)
    if method in SEEDED:
        check_seed(seed)
    check_regularizer(regularizer, mdp)
    if mdp.horizon is not None:
        raise ValueError("iterative algorithms need an infinite-horizon MDP (horizon=None)")
    iterations = check_int(iterations, "iterations", 0)
    compiled = ((method == "vi" and compiled_bellman(mdp, regularizer))
                 or (method == "gauss-seidel" and gauss_seidel_compiled(regularizer)))
    backend = choose_backend(backend, compiled=compiled, reason=BELLMAN_KERNEL + " and method "
                             f"'vi' (or no regularizer, Entropy or KL and 'gauss-seidel'; got "
                             f"{method!r})")
    if solution is None and method == "policy-evaluation":
        solution = solve_mdp(mdp, regularizer=regularizer, method=method,
                             policy=method_options.get("policy"))
    elif solution is None:
        solution = solve_mdp(mdp, regularizer=regularizer,
                             backend="auto" if backend == "numba" else "numpy")
    check_solution(solution, mdp)
    options = dict(method_options, init=init)
    if entry.step_form is not None:
        options["eta"] = eta
    if method in SEEDED:
        options["seed"] = seed
    if method in ("vi", "gauss-seidel"):
        options["backend"] = backend
    metrics, policy, extra = METHODS[method](mdp, regularizer, iterations, solution, **options)
    iterations = extra.pop("iterations", iterations)  # a tol stop ran fewer
    rewards = mdp.r if mdp.feasible is None else mdp.r[mdp.feasible]
    params = mdp_params(mdp, family=FAMILY, method=method, backend=backend, iterations=iterations,
                        regularizer=regularizer, init=init_kind(method, init),
                        r_min=float(rewards.min()), r_max=float(rewards.max()), **extra)
    return Trajectory(method, params, select_metrics(metrics, track, entry), policy)
