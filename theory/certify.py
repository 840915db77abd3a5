"""Re-check a float64 violation of a bound at 50 digits.

The metric sequence is recomputed by the instance family's independent mpmath
implementation (``instance.high_values``, ``theory/families.py``); the theorem's
own sympy bound is evaluated on it with ``sympy.lambdify(..., modules="mpmath")``, with the
symbols resolved as ``check`` resolves them (``verdicts._symbol_values``) except those that
depend on the metric or the step (k, err0, prev, and η under a schedule), which take their
50-digit values. An entry counts under ``check``'s rule (``verdicts.counted_ratios``: k ≥ 1,
bound finite and ≥ FLOAT_FLOOR, or below it with the metric ≥ FLOAT_FLOOR times its scale);
its ratio is metric/max(bound, FLOAT_FLOOR), and at 50 digits the bound is violated iff that
ratio > 1 + 10^−50 (a ratio within 50 digits of 1 is a tie, not a violation).
"""

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy

from nashlab.theory.verdicts import FLOAT_FLOOR, UNKNOWN_CONSTANTS, _bound_ratios, _symbol_values

#: the digits of every 50-digit re-run (the families' mpmath modules work at DIGITS + 20)
DIGITS = 50


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


#: what a 50-digit run raises when it cannot be done (a fixed point not reached, an
#: instance its twin refuses): the instance stays unconfirmed, never a counterexample
HIGH_PRECISION_FAILURES = (ArithmeticError, ValueError)


def last_violation(theorem, trajectory):
    """The last iteration at which ``check``'s float64 rule flags a violation (or None)."""
    values = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
    _, flagged, _ = _bound_ratios(theorem, trajectory, values)
    rows = np.flatnonzero(flagged.reshape(values.shape[0], -1).any(axis=1))
    return int(rows[-1]) if rows.size else None


def certify(theorem, instance, trajectory, last=None) -> HighPrecision:
    """Recompute ``trajectory`` (the float run of ``instance``, an instance of a family of
    ``theory/families.py``) at 50 digits, up to iteration ``last`` (default: all), and
    re-check ``theorem``'s bound on it; the constants the family recomputes at 50 digits
    (e.g. an MDP's ϑ_ρ, D*_0) replace the float params in the bound."""
    iterations = instance.iterations if last is None else min(last, instance.iterations)
    values, constants, etas = instance.high_values(theorem, iterations)
    with mpmath.workdps(DIGITS + 20):
        floats = np.asarray(trajectory.metrics[theorem.metric], dtype=float)[:iterations + 1]
        defaults = ({c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only"
                    else None)
        numeric = _symbol_values(theorem.bound, trajectory, floats, defaults)
        symbols, f = _mp_bound(theorem.bound)
        # the metric's floor scale as check sets it: over the whole float run, not only the
        # iterations re-run here
        everything = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
        scale = mpmath.mpf(float(np.max(np.abs(everything[np.isfinite(everything)]),
                                        initial=1.0)))
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
            counted = k >= 1 and mpmath.isfinite(b) and (b >= FLOAT_FLOOR
                                                         or values[k] >= FLOAT_FLOOR * scale)
            ratios.append(values[k] / max(b, mpmath.mpf(FLOAT_FLOOR)) if counted else None)
        counted = [(k, r) for k, r in enumerate(ratios) if r is not None]
        if not counted:
            return HighPrecision(False, None, None, None, values, bounds)
        # a 50-digit re-check certifies 50 digits: a ratio within 10^−DIGITS of 1 is a tie
        # (exactly γ-tight robust instances end at 1 + 4e-70, the 70-digit rounding)
        above = [k for k, r in counted if r > 1 + mpmath.mpf(10) ** -DIGITS]
        k_worst, worst = max(counted, key=lambda kr: kr[1])
        k_at = above[0] if above else k_worst
        return HighPrecision(bool(above), k_at, ratios[k_at], worst, values, bounds)
