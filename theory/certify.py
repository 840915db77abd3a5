"""Re-check a float64 violation of a bound at 50 digits (``nashlab.theory.highprec`` for
preference games, ``nashlab.theory.highprec_mdp`` for MDPs).

The metric sequence is recomputed by the independent mpmath implementation; the theorem's
own sympy bound is evaluated on it with ``sympy.lambdify(..., modules="mpmath")``, with the
symbols resolved as ``check`` resolves them (``verdicts._symbol_values``) except those that
depend on the metric or the step (k, err0, prev, and η under a schedule), which take their
50-digit values. An entry counts under ``check``'s rule (bound finite and ≥ FLOAT_FLOOR,
k ≥ 1); at 50 digits the bound is violated iff metric > bound strictly, with no tolerance.
"""

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy

from nashlab.theory import highprec, highprec_mdp
from nashlab.theory.verdicts import ATOL, FLOAT_FLOOR, RTOL, UNKNOWN_CONSTANTS, _symbol_values, evaluate


@dataclass(frozen=True)
class HighPrecision:
    """The 50-digit verdict: ``violated``; ``iteration`` the first k with metric > bound
    (else the k of the largest ratio); ``ratio`` metric/bound there (an mpf); ``worst`` the
    largest ratio over counted k (an mpf); ``values``/``bounds`` the sequences (mpf)."""

    violated: bool
    iteration: int | None
    ratio: object
    worst: object
    values: list
    bounds: list


@functools.lru_cache(maxsize=256)
def _mp_bound(expr):
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return symbols, sympy.lambdify(symbols, expr, modules="mpmath")


def _value(f, args):
    """The bound at 50 digits; a division by zero is not counted (NaN), as numpy's inf
    is not counted by ``check`` either."""
    try:
        return f(*args)
    except ZeroDivisionError:
        return mpmath.nan


def last_violation(theorem, trajectory):
    """The last iteration at which ``check``'s float64 rule flags a violation (or None)."""
    values = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
    defaults = {c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only" else None
    bound = evaluate(theorem.bound, trajectory, values, defaults)
    flagged = np.isfinite(bound) & (bound >= FLOAT_FLOOR) & (values > bound * (1 + RTOL) + ATOL)
    if theorem.form == "per-step":
        flagged[0] = False
    rows = np.flatnonzero(flagged.reshape(values.shape[0], -1).any(axis=1))
    return int(rows[-1]) if rows.size else None


def can_certify(theorem, instance) -> bool:
    """Whether a 50-digit implementation exists for ``instance``'s method and ``theorem``'s
    metric (preference games: ``highprec``; MDPs: ``highprec_mdp``: vi and npg unregularized,
    npg-entropy with its entropy)."""
    if getattr(instance, "family", "preference") == "mdp":
        regularizer = getattr(instance.regularizer, "name", None)
        return (instance.method in highprec_mdp.METHODS
                and regularizer == ("entropy" if instance.method == "npg-entropy" else None)
                and theorem.metric in highprec_mdp.METRICS[instance.method])
    return instance.method in highprec.METHODS and theorem.metric in highprec.METRICS


def _high_values(theorem, instance, iterations):
    """(metric values, 50-digit constants overriding the float run's params, steps η_k or
    None) of ``instance`` recomputed at 50 digits."""
    if getattr(instance, "family", "preference") == "mdp":
        mdp = instance.mdp
        extra = {}
        if instance.method == "npg-entropy":
            # the float run's noise: δ·u_t, u_t = rng.uniform(−1, 1, (S, A)) per step t, in order
            delta = float(instance.options.get("q_noise", 0.0))
            seed = instance.run_options().get("seed")
            rng = np.random.default_rng(seed)
            draws = ([rng.uniform(-1.0, 1.0, size=mdp.r.shape) for _ in range(iterations)]
                     if delta > 0 else None)
            extra = {"tau": instance.regularizer.tau, "q_noise": delta, "draws": draws}
        values, constants = highprec_mdp.run(
            instance.method, mdp.dense_P(), mdp.r, mdp.gamma, instance.init, instance.eta,
            iterations, theorem.metric, growth=instance.options.get("step_growth", 1.0),
            **extra)
        return values, constants, None
    from nashlab.solvers.front import solve

    game = instance.game
    guess = solve(game).logits if theorem.metric in ("kl", "span") else None
    values = highprec.run(instance.method, game.P, game.reference, instance.init, game.beta,
                          instance.eta, iterations, theorem.metric,
                          schedule=instance.schedule, star_guess=guess)
    with mpmath.workdps(highprec.DIGITS + 20):
        etas = highprec.steps(None if instance.eta is None else mpmath.mpf(instance.eta),
                              mpmath.mpf(game.beta), iterations, instance.schedule)
    return values, {}, etas if instance.schedule is not None else None


def certify(theorem, instance, trajectory, last=None) -> HighPrecision:
    """Recompute ``trajectory`` (the float run of ``instance``, an ``instance_spaces.Instance``
    or a ``mdp_space.MDPInstance``) at 50 digits, up to iteration ``last`` (default: all),
    and re-check ``theorem``'s bound on it. Preference games: the Newton solve for π* starts
    from the float equilibrium of ``nashlab.solve`` (only a guess: the 50-digit residual
    certifies it). MDPs: v*, π* and the run's constants (ϑ_ρ, D*_0) are recomputed at 50
    digits and replace the float params in the bound."""
    iterations = instance.iterations if last is None else min(last, instance.iterations)
    values, constants, etas = _high_values(theorem, instance, iterations)
    with mpmath.workdps(highprec.DIGITS + 20):
        floats = np.asarray(trajectory.metrics[theorem.metric], dtype=float)[:iterations + 1]
        defaults = ({c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only"
                    else None)
        numeric = _symbol_values(theorem.bound, trajectory, floats, defaults)
        symbols, f = _mp_bound(theorem.bound)
        bounds, ratios = [], []
        for k in range(len(values)):
            args = []
            for s in symbols:
                if s.name == "k":
                    args.append(mpmath.mpf(k))
                elif s.name == "err0":
                    args.append(values[0])
                elif s.name == "prev":
                    args.append(values[k - 1] if k else mpmath.nan)
                elif s.name == "eta" and etas is not None:
                    args.append(etas[k - 1] if k else mpmath.nan)
                elif s.name in constants:
                    args.append(constants[s.name])
                else:
                    v = np.asarray(numeric[s.name])
                    v = np.broadcast_to(v[:len(floats)] if v.ndim else v, floats.shape)[k]
                    args.append(mpmath.mpf(float(v)))
            b = _value(f, args) if k else mpmath.nan  # k = 0 is never counted
            bounds.append(b)
            counted = k >= 1 and mpmath.isfinite(b) and b >= FLOAT_FLOOR
            ratios.append(values[k] / b if counted else None)
        counted = [(k, r) for k, r in enumerate(ratios) if r is not None]
        if not counted:
            return HighPrecision(False, None, None, None, values, bounds)
        above = [k for k, r in counted if r > 1]
        k_worst, worst = max(counted, key=lambda kr: kr[1])
        k_at = above[0] if above else k_worst
        return HighPrecision(bool(above), k_at, ratios[k_at], worst, values, bounds)
