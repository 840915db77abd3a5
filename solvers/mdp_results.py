"""What MDP and robust-MDP results share, in one place so that ``solve_mdp``, ``solve_robust``,
``run_mdp`` and ``run_robust`` describe and check themselves alike: the params schema
(``mdp_params``), the ``Solution`` builder (``mdp_solution``), and the checks of the run
options (``check_run_options``), of ``track`` (``select_metrics``) and of ``solution``.

``mdp_params`` holds the common keys of ``nashlab.solvers.results`` ("family", "method",
"backend", "n_actions", "n_states", "batch_shape" = [] ) and the keys of the MDP families:
"gamma", "iterations", "horizon" (None: infinite), "regularizer" (its name or None) and
"tau" (its weight or None); robust results add "uncertainty" and "rectangularity".
"""

from nashlab.solvers.methods import check_options
from nashlab.solvers.results import Solution

#: Bellman residual below which a solution is certified.
CERTIFY_TOL = 1e-10


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
                 backend, family="mdp", **extra) -> Solution:
    """The ``Solution`` of an MDP objective: certified when ``residual`` ≤ ``CERTIFY_TOL``."""
    params = mdp_params(mdp, family=family, method=method, backend=backend,
                        iterations=iterations, regularizer=regularizer, **extra)
    return Solution(policy, bool(residual <= CERTIFY_TOL), float(residual), None, message, params,
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
