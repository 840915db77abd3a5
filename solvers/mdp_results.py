"""What MDP and robust-MDP results share, in one place so that ``solve_mdp``, ``solve_robust``,
``run_mdp`` and ``run_robust`` describe and check themselves alike: the params schema
(``mdp_params``), the ``Solution`` builder (``mdp_solution``), and the checks of the run
options (``check_run_options``), of ``track`` (``select_metrics``) and of ``solution``.

``mdp_params`` holds the common keys of ``nashlab.solvers.results`` ("family", "method",
"backend", "n_actions", "n_states", "batch_shape" = [] ) and the keys of the MDP families:
"gamma", "iterations", "horizon" (None: infinite), "regularizer" (its name or None) and
"tau" (its weight or None); robust results add "uncertainty" and "rectangularity".
A ``Solution`` adds "residual_tol", the absolute residual its certificate allowed.

The certificate is relative to the scale of the values (``value_scale``): a solution is
certified when its Bellman residual ‖T v − v‖∞ ≤ ``CERTIFY_TOL``·scale with

    scale = max((‖r‖∞ + w)·H_γ, ‖v‖∞),   H_γ = 1/(1 − γ) (infinite horizon), Σ_{t<H} γ^t
                                          (horizon H),

‖r‖∞·H_γ being the bound on ‖v^π‖∞ of every unregularized policy and ‖v‖∞ adding what a
regularizer or a reward perturbation contributes; w is the sum of the objective's weights
that act like rewards: the regularizer's τ, a penalty set's strength λ, an L_p set's
reward radius α (the rounding of Ω*(q) = τ·logsumexp(q/τ) and of −λ log E e^{−z/λ} is
~ε·τ, ε·λ however small the rewards are). Why this choice: the floating-point error
of the exact linear solves and of T v is ~ ε·‖v‖∞ (cond(I − γP_π) ≤ (1 + γ)/(1 − γ)), so an
absolute tolerance rejects exact solutions of large-reward problems (r ×1e4 at γ = 0.99:
residual 2e-10) and accepts any policy of tiny-reward ones (r ×1e-11: every policy has a
residual below 1e-10). There is deliberately no floor such as max(1, ·): scaling r (and the
regularizer's weight τ) by c > 0 scales v and the residual by c and keeps the verdict, both
ways. (‖r‖∞ + w)·H_γ is there as well as ‖v‖∞ so that values that cancel to ~0 are still judged
on the scale of the problem's rounding. ``‖T v − v‖∞ ≤ δ`` bounds ‖v − v*‖∞ ≤ δ/(1 − γ).
"""

import numpy as np

from nashlab.solvers.methods import check_options
from nashlab.solvers.results import Solution

#: Bellman residual, relative to ``value_scale``, below which a solution is certified.
CERTIFY_TOL = 1e-10


def horizon_factor(mdp) -> float:
    """H_γ = Σ_{t<H} γ^t: 1/(1 − γ) for an infinite horizon, H for γ = 1."""
    if mdp.horizon is None:
        return 1.0 / (1.0 - mdp.gamma)
    if mdp.gamma == 1.0:
        return float(mdp.horizon)
    return float((1.0 - mdp.gamma ** mdp.horizon) / (1.0 - mdp.gamma))


def value_scale(mdp, values=None, weight=0.0) -> float:
    """max((‖r‖∞ + weight)·H_γ, ‖values‖∞): the scale the certificate is relative to
    (module docstring; ``weight`` = τ + λ + α of the objective)."""
    scale = (float(np.max(np.abs(mdp.r))) + float(weight)) * horizon_factor(mdp)
    if values is not None and np.size(values):
        scale = max(scale, float(np.max(np.abs(values))))
    return scale


def residual_tolerance(mdp, values=None, weight=0.0) -> float:
    """The absolute Bellman residual ``CERTIFY_TOL``·``value_scale`` a certificate allows."""
    return CERTIFY_TOL * value_scale(mdp, values, weight)


def mdp_params(mdp, *, family, method, backend, iterations, regularizer=None, **extra) -> dict:
    """The params of an MDP / robust-MDP result (module docstring), then ``extra``."""
    params = {"family": family, "method": method, "backend": backend,
              "n_actions": mdp.n_actions, "n_states": mdp.n_states, "batch_shape": [],
              "gamma": mdp.gamma, "iterations": int(iterations), "horizon": mdp.horizon,
              "regularizer": None if regularizer is None else regularizer.name,
              "tau": None if regularizer is None else regularizer.tau}
    params.update(extra)
    return params


def mdp_solution(mdp, regularizer, values, q, policy, residual, method, iterations, message,
                 backend, family="mdp", weight=0.0, certified=None, **extra) -> Solution:
    """The ``Solution`` of an MDP objective: certified when ``residual`` is finite and
    ≤ ``residual_tolerance(mdp, values)`` and the values, Q and policy are finite (a NaN
    never certifies). ``weight``: the objective's reward-like weights beyond the
    regularizer's τ (which is added here), see ``value_scale``. ``certified``: the verdict of
    another certificate (an ε-optimal stop of ``dp_stopping``, which records its bound and
    tol in ``extra``) in place of the residual test; finiteness is still required. Q is
    −inf at infeasible pairs (``MDP.q_values``), which is not a lack of finiteness."""
    tau = 0.0 if regularizer is None else float(regularizer.tau)
    tol = residual_tolerance(mdp, values, weight + tau)
    params = mdp_params(mdp, family=family, method=method, backend=backend,
                        iterations=iterations, regularizer=regularizer, residual_tol=tol, **extra)
    q_ok = q if q is None or mdp.feasible is None or np.ndim(q) != 2 else q[mdp.feasible]
    finite = all(x is None or bool(np.all(np.isfinite(x))) for x in (values, q_ok, policy))
    if certified is None:
        certified = bool(np.isfinite(residual) and residual <= tol)
    certified = bool(finite and np.isfinite(residual) and certified)
    return Solution(policy, certified, float(residual), None, message, params,
                    values=values, q=q)


def check_run_options(method, options, *, eta=None, seed=None, takes_seed=False) -> None:
    """TypeError (``methods.check_options``) naming any option ``method`` does not take: the
    method options in ``options``, and ``eta`` / ``seed`` where given to a method without a
    step (``method.step_form`` is None) or without randomness (``takes_seed`` False)."""
    given = dict(options)
    if eta is not None and method.step_form is None:
        given["eta"] = eta
    if seed is not None and not takes_seed:
        given["seed"] = seed
    check_options(method, given)


def select_metrics(metrics, track, method) -> dict:
    """``metrics`` restricted to ``track`` (None: all the method records, its default).

    ``track`` is a collection of metric names; a name the method does not record is a
    ValueError listing the ones it does."""
    if track is None:
        return metrics
    if isinstance(track, str) or not hasattr(track, "__iter__"):
        raise TypeError("track must be None or a collection of metric names, e.g. "
                        f"[{next(iter(metrics), 'value_error')!r}], got {track!r}")
    track = list(track)
    unknown = sorted(str(name) for name in set(track) - set(metrics))
    if unknown:
        raise ValueError(f"track: method {method.name!r} ({method.family}) does not record "
                         f"{', '.join(unknown)}; it records: {', '.join(metrics)}")
    return {name: metrics[name] for name in metrics if name in track}


def check_solution(solution, mdp):
    """``solution`` if it is a ``Solution`` with values of shape (S,) for ``mdp``."""
    if not isinstance(solution, Solution):
        raise TypeError(f"solution must be a Solution (from solve_mdp / solve_robust), got "
                        f"{type(solution).__name__}")
    if solution.values is None or getattr(solution.values, "shape", None) != (mdp.n_states,):
        raise ValueError(f"solution must hold values of shape ({mdp.n_states},) for this MDP")
    return solution
