"""Shrink a confirmed counterexample: fewest iterations, fewest actions, round numbers.

Greedy: each candidate change is kept only if the instance still satisfies the claim's
assumptions and still violates the bound both in float64 (``check``) and at 50 digits
(``certify``). Order: truncate to the first violating iteration; drop actions one at a time
(``instance.smaller()``); then the family's rounding moves, coarsest first
(``instance.shrink_moves()``, ``theory/families.py``); truncate again at the end.
"""

import math
import time
from dataclasses import replace

import mpmath
import numpy as np
from sympy.printing.pycode import MpmathPrinter

from nashlab.theory.certify import HIGH_PRECISION_FAILURES, certify, last_violation
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.verdicts import FLOAT_FLOOR, UNKNOWN_CONSTANTS, _symbol_values, evaluate

#: seconds the shrinking may take: what is left of the search's budget, but at least
#: SHRINK_GRACE and at most SHRINK_SECONDS (it stops with what it has; a candidate started
#: before the deadline is finished)
SHRINK_SECONDS = 20.0
SHRINK_GRACE = 5.0


def _confirm(theorem, search, instance):
    params = instance.prospective_params()
    if params is not None and not search.admissible(params):
        return None
    trajectory, verdict = run_and_check(theorem, instance)
    if verdict is None or not verdict.assumptions_hold or verdict.first_violation is None:
        return None
    if verdict.worst_ratio is not None and math.isfinite(verdict.worst_ratio):
        search.observe(verdict.worst_ratio, instance, "shrink")
    try:
        high = certify(theorem, instance, trajectory, last=last_violation(theorem, trajectory))
    except HIGH_PRECISION_FAILURES:
        return None  # a candidate whose 50-digit run cannot be done is not kept
    return (trajectory, high) if high.violated else None


def shrink(theorem, search, instance, confirmation) -> Counterexample:
    """The shrunk ``Counterexample`` of a violating ``instance`` and its ``confirmation``
    (float trajectory, 50-digit verdict: the search's, which ``_confirm`` would repeat)."""
    now = time.perf_counter()
    deadline = now + min(SHRINK_SECONDS, max(SHRINK_GRACE, search.deadline - now))
    if not confirmation[1].violated:
        raise ValueError("shrink got an instance that is not a confirmed violation")
    best = confirmation

    def truncate(instance, best):
        k = max(1, best[1].iteration)
        if k < instance.iterations:
            shorter = replace(instance, iterations=k)
            result = _confirm(theorem, search, shorter)
            if result is not None:
                return shorter, result
        return instance, best

    instance, best = truncate(instance, best)
    changed = True
    while changed and time.perf_counter() < deadline:
        changed = False
        for smaller in instance.smaller():
            if time.perf_counter() >= deadline:
                break
            result = _confirm(theorem, search, smaller)
            if result is not None:
                instance, best, changed = smaller, result, True
                break
    for group in instance.shrink_moves():
        for move in group:
            if time.perf_counter() >= deadline:
                break
            candidate = move(instance)
            if candidate is None:
                continue
            result = _confirm(theorem, search, candidate)
            if result is not None:
                instance, best = candidate, result
                break
    instance, best = truncate(instance, best)
    return build(theorem, instance, *best)


def build(theorem, instance, trajectory, high) -> Counterexample:
    """The ``Counterexample`` of a confirmed (instance, float trajectory, 50-digit verdict)."""
    values = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
    defaults = {c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only" else None
    bound = evaluate(theorem.bound, trajectory, values, defaults)
    k = high.iteration
    numeric = _symbol_values(theorem.bound, trajectory, values, defaults)
    own = {"k", "err0", "prev"} | ({"eta"} if getattr(instance, "schedule", None) else set())
    symbols = {name: np.broadcast_to(v, values.shape).astype(float).tolist()
               for name, v in numeric.items() if name not in own}
    names = sorted(s.name for s in theorem.bound.free_symbols)
    params = instance.counterexample_params()
    for name in instance.HIGH_PRECISION_CONSTANTS:  # their 50-digit values are certify's
        symbols.pop(name, None)
    claim = {"id": theorem.id, "statement": theorem.statement, "metric": theorem.metric,
             "form": theorem.form, "bound": str(theorem.bound),
             "bound_mpmath": MpmathPrinter({"fully_qualified_modules": True}).doprint(
                 theorem.bound), "bound_symbols": names}
    with mpmath.workdps(70):
        margin = mpmath.nstr(high.ratio - 1, 10)
    ratio = float(values[k] / max(bound[k], FLOAT_FLOOR)) if math.isfinite(bound[k]) else math.nan
    return Counterexample(theorem.id, instance.family, instance.problem, params, k, ratio,
                          mpmath.nstr(high.ratio, 50), margin, claim, symbols)

