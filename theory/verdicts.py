"""Check a trajectory against a registered theorem (or a claim) and return a ``Verdict``.

The rule (project standard; theorem forms in ``theory/registry.py``):

* an entry counts where the bound is finite and ≥ ``FLOAT_FLOOR`` = 1e-11, or finite and
  below it while the metric is ≥ FLOAT_FLOOR·max(1, max_k |metric_k|) (``counted_ratios``):
  with both below the floor the metric is at the rounding floor of float64 and the
  comparison is meaningless, but a metric clearly above its rounding floor against a bound
  beneath it (e.g. (1 − ηβ)^k·err0 at ηβ = 1) is a violation, not noise;
* iteration k violates the bound iff ``metric[k] > bound_k·(1 + RTOL) + ATOL`` with the one
  relative tolerance ``RTOL`` = 1e-9 and an absolute one ``ATOL`` = 1e-14, a thousandth of
  the counting floor (so near the floor a relative excess of 0.1 % is still caught);
* the verdict is "pass", "fail" or "inconclusive" (``Verdict.status``): inconclusive when
  there is no evidence to decide (no counted entry at k ≥ 1, e.g. a metric NaN or inf from
  the start; a non-finite metric where the bound counts; too few points for a slope fit;
  assumptions that do not hold), never a pass; ``Verdict.evidence`` counts what was compared;
* ``worst_ratio`` = max over counted entries with k ≥ 1 (and over every game of a batch) of
  metric/max(bound, FLOAT_FLOOR) (metric/bound wherever the bound counts; against the floor,
  a finite lower bound of metric/bound, where it is beneath it): 1 means the bound is
  attained, ≪ 1 that it is loose (k = 0 is left out of the ratio because an envelope
  err0·ρ^k is trivially attained there; it is still checked);
* ``fitted_rate`` is exp(slope) of a least-squares line through log(metric) against k over
  the asymptotic part: the later half of the iterations at which the metric is still above
  the floor (at least 3 points); with a batch it is the game whose fit is furthest above its
  theoretical rate.

Slope-only theorems (unverified constants) pass iff the fitted per-iteration factor decays
at least as fast as the theorem's ``rate`` up to ``SLOPE_RTOL``:
``log(fitted) ≤ (1 − SLOPE_RTOL)·log(rate)``, i.e. ``fitted ≤ rate^(1 − SLOPE_RTOL)``. The
tolerance is put on the decay exponent, not on the factor itself, because for small β the
factor is 1 − O(β) and a relative tolerance on it would swallow the whole contraction. It
is 5 % of the exponent: the least-squares fit over the later half still sees transients of
a few per cent on instances whose asymptotic rate equals the theoretical one.
Their bound's unknown constants ``C1``, ``C2`` are set to 1, so ``worst_ratio`` is the
measured constant, reported but not asserted.

Symbols of a bound are resolved from the trajectory (registry docstring): ``k``; ``err0`` =
metric[0]; ``prev`` = metric[k − 1]; then the params entry when it is not None (a scalar, or
an array over the batch): ``n`` = ``params["n_actions"]`` and ``S`` = ``params["n_states"]``
(ints; ``PARAM_KEYS``), any other symbol ``params[name]``; else a per-iteration metric:
``N`` = the cumulative preference queries ``metrics["queries"]``, ``eta`` = ``metrics["eta"]``
shifted by one (the solvers record at entry k the step from π_k to π_{k+1}; the bound at k
needs the step k − 1 → k), any other symbol by its own name.
"""

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import sympy

from nashlab.solvers.results import Trajectory
from nashlab.theory.registry import Source, Theorem, all_theorems, get, load_builtin_theorems

FLOAT_FLOOR = 1e-11
RTOL = 1e-9
ATOL = 1e-14
SLOPE_RTOL = 0.05
UNKNOWN_CONSTANTS = ("C1", "C2")

#: symbols read from a per-iteration metric with another name
_METRIC_ALIASES = {"N": "queries"}
#: symbols read from a key of the one params schema (``nashlab.solvers.results``)
PARAM_KEYS = {"n": "n_actions", "S": "n_states"}
#: per-iteration metrics whose entry k is the step taken from iterate k (shifted by one)
_STEP_METRICS = ("eta",)
#: verdicts that are not registered theorems, by id: ``hook(trajectory, problem) -> Verdict``
#: ("local-rate" is added by ``nashlab.theory.local_rate``)
VERDICT_HOOKS = {}


VERDICT_STATUSES = ("pass", "fail", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """Outcome of checking one trajectory against one theorem or claim.

    status : "pass", "fail" or "inconclusive". Inconclusive means there was not the evidence
        to decide: no counted entry (the bound never ≥ 1e-11, e.g. a metric that is NaN or
        inf from the start), a non-finite metric where the bound counts, or, for slope-only
        theorems and local rates, fewer points above the floor than a fit needs. It is never
        a pass.
    passed : True iff status == "pass".
    evidence : how much was counted: (iteration, game) entries compared with the bound; for
        slope-only theorems the games with a fitted slope; for claims the runs.
    worst_ratio : max measured/max(bound, 1e-11) over the counted iterations k ≥ 1 (None if none).
    first_violation : first iteration k (any game of the batch) violating the bound, or None.
    fitted_rate, theory_rate : per-iteration factors (fitted from the data; the theorem's).
    tightness : equal to worst_ratio (1 = attained).
    assumptions_hold : whether every executable assumption holds for the trajectory's params.
    reason : why it failed or was inconclusive (or a short note when it passed).
    """

    theorem_id: str
    status: str
    worst_ratio: float | None
    first_violation: int | None
    fitted_rate: float | None
    theory_rate: float | None
    tightness: float | None
    assumptions_hold: bool
    reason: str = ""
    evidence: int = 0

    def __post_init__(self):
        if self.status not in VERDICT_STATUSES:
            raise ValueError(f"status must be one of {VERDICT_STATUSES}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _as_theorem(theorem) -> Theorem:
    return theorem if isinstance(theorem, Theorem) else get(theorem)


def _metric(trajectory, name) -> np.ndarray:
    if name not in trajectory.metrics:
        raise ValueError(f"trajectory of {trajectory.method!r} has no metric {name!r}; "
                         f"it has {sorted(trajectory.metrics)}")
    values = np.asarray(trajectory.metrics[name], dtype=float)
    if values.ndim < 1 or values.shape[0] < 2:
        raise ValueError(f"metric {name!r} needs shape (iterations + 1, ...) with ≥ 2 entries, "
                         f"got {values.shape}")
    return values


def _param(params, name):
    """The value of the bound symbol ``name`` in ``params``: ``n`` is params["n_actions"] and
    ``S`` is params["n_states"] (each must then be an int: a two-player game's [m, n] has no
    single n; the keys "n" and "S" themselves are not read); any other symbol is the key of
    its own name. None when absent."""
    key = PARAM_KEYS.get(name)
    if key is None:
        return params.get(name)
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"symbol {name!r} is params[{key!r}], which must be an int here, "
                         f"got {value!r}")
    return value


def _symbol_values(expr, trajectory, values, defaults=None, extra=None) -> dict:
    """Numeric value of each free symbol of ``expr`` as an array broadcastable to
    ``values`` (shape (T+1, *batch)); ``extra`` maps names to values taken first."""
    steps = values.shape[0]
    batch_axes = values.ndim - 1
    out = {}
    for sym in expr.free_symbols:
        name = sym.name
        if extra and name in extra:
            out[name] = np.asarray(extra[name], dtype=float)
        elif name == "k":
            out[name] = np.arange(steps, dtype=float).reshape((steps,) + (1,) * batch_axes)
        elif name == "err0":
            out[name] = values[:1]
        elif name == "prev":
            out[name] = np.concatenate([np.full_like(values[:1], np.nan), values[:-1]])
        elif _param(trajectory.params, name) is not None:
            out[name] = np.asarray(_param(trajectory.params, name), dtype=float)
        elif _METRIC_ALIASES.get(name, name) in trajectory.metrics:
            v = np.asarray(trajectory.metrics[_METRIC_ALIASES.get(name, name)], dtype=float)
            if name in _STEP_METRICS:
                v = np.concatenate([np.full_like(v[:1], np.nan), v[:-1]])
            out[name] = v.reshape(v.shape + (1,) * (values.ndim - v.ndim))
        elif defaults and name in defaults:
            out[name] = np.asarray(defaults[name], dtype=float)
        else:
            raise ValueError(f"cannot evaluate symbol {name!r}: not a metric of the trajectory "
                             f"nor in its params {sorted(trajectory.params)}")
    return out


@functools.lru_cache(maxsize=512)
def _compiled(expr):
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return symbols, sympy.lambdify(symbols, expr, modules="numpy")


def evaluate(expr, trajectory, values, defaults=None, extra=None) -> np.ndarray:
    """Evaluate the sympy expression ``expr`` (symbols of ``registry.SYMBOLS``) on the
    trajectory with ``sympy.lambdify`` (numpy); returns an array of ``values``' shape.
    ``defaults`` supply symbols found nowhere else; ``extra`` override everything."""
    symbols, f = _compiled(expr)
    numeric = _symbol_values(expr, trajectory, values, defaults, extra)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = f(*(numeric[s.name] for s in symbols))
    return np.broadcast_to(np.asarray(out, dtype=float), values.shape)


def fitted_rate(values, floor=FLOAT_FLOOR) -> np.ndarray:
    """Per-iteration factor exp(slope) of a least-squares fit of log(values[k]) on k over the
    later half of the iterations above ``floor``; one per game (NaN where < 3 points).

    ``values`` has shape (T+1, *batch); returns an array of shape ``batch``."""
    values = np.asarray(values, dtype=float)
    flat = values.reshape(values.shape[0], -1)
    rates = np.full(flat.shape[1], np.nan)
    for g in range(flat.shape[1]):
        above = np.flatnonzero(np.isfinite(flat[:, g]) & (flat[:, g] > floor))
        if above.size < 3:
            continue
        last = above[-1]
        k = above[above >= last / 2]
        if k.size < 3:
            k = above[-3:]
        slope = np.polyfit(k.astype(float), np.log(flat[k, g]), 1)[0]
        rates[g] = np.exp(slope)
    return rates.reshape(values.shape[1:])


def _assumptions(theorem, params):
    failed = [a.description for a in theorem.assumptions if not bool(a.holds(params))]
    return not failed, failed


def counted_ratios(bound, values):
    """(counted mask, ratio) of a metric ``values`` (iterations + 1, *batch) against its
    ``bound`` (broadcastable): the counting rule of the module docstring. The metric's floor
    is relative to its scale, max(1, max_k |metric_k|) per game, as its float64 rounding is;
    ratio = metric/max(bound, FLOAT_FLOOR) where counted, NaN elsewhere."""
    values = np.asarray(values, dtype=float)
    bound = np.broadcast_to(np.asarray(bound, dtype=float), values.shape)
    scale = np.max(np.where(np.isfinite(values), np.abs(values), 0.0), axis=0, initial=1.0)
    with np.errstate(invalid="ignore"):
        counted = np.isfinite(bound) & ((bound >= FLOAT_FLOOR) | (values >= FLOAT_FLOOR * scale))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # an overflow is an inf ratio
        ratio = np.where(counted, values / np.maximum(bound, FLOAT_FLOOR), np.nan)
    return counted, ratio


def _bound_ratios(theorem, trajectory, values):
    """(ratio array with NaN where not counted, violation mask, counted mask)."""
    defaults = ({c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only" else None)
    bound = evaluate(theorem.bound, trajectory, values, defaults)
    counted, ratio = counted_ratios(bound, values)
    if theorem.form == "per-step":
        counted[0] = False
        ratio[0] = np.nan
    violated = counted & ~(values <= bound * (1 + RTOL) + ATOL)  # NaN metric counts as violated
    return ratio, violated, counted


def _rates(theorem, trajectory, values):
    """Per game: fitted factors and the theorem's factors (None without a ``rate``)."""
    fits = np.atleast_1d(fitted_rate(values)).ravel()
    if theorem.rate is None:
        return fits, None
    theory = evaluate(theorem.rate, trajectory, values[:1])[0]
    return fits, np.broadcast_to(theory, values.shape[1:]).ravel()


def _reported_rate(fits, theories):
    """(fitted, theoretical) of the game whose decay exponent is the smallest fraction of
    the promised one (the fastest fit when there is no theoretical rate)."""
    finite = np.isfinite(fits)
    if not finite.any():
        return None, (None if theories is None else float(theories[0]))
    if theories is None:
        return float(fits[finite].max()), None
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(finite, np.log(fits) / np.log(theories), np.inf)
    g = int(np.argmin(fraction))
    return float(fits[g]), float(theories[g])


def check(trajectory, theorem_id=None, *, problem=None):
    """Check ``trajectory`` against the theorem ``theorem_id`` (an id or a ``Theorem``).

    Passes iff every assumption holds and no iteration of any game violates the bound (see
    the module docstring for the tolerances), or, for slope-only theorems, iff the fitted
    per-iteration factor of every game with a fit is ≤ rate^(1 − SLOPE_RTOL). Inconclusive
    (``Verdict.status``) without evidence: no counted entry, a non-finite metric where the
    bound counts, or (slope-only) a game without the 3 points above the floor a fit needs
    that did not reach the floor, or no game with a fit at all.

    ``theorem_id`` a key of ``VERDICT_HOOKS`` ("local-rate", registered by
    ``nashlab.theory.local_rate``): that verdict; it needs ``problem`` (the game the
    trajectory ran on: the exact ρ depends on it; ValueError without it).

    ``theorem_id=None``: the list of verdicts of every registered theorem about the
    trajectory's method (``Theorem.methods``) whose assumptions hold, then the local-rate
    verdict (inconclusive without ``problem``).
    """
    if theorem_id is None:
        hooks = [VERDICT_HOOKS[h](trajectory, problem) if problem is not None else
                 Verdict(h, "inconclusive", None, None, None, None, None, True,
                         f"inconclusive: the {h} verdict needs problem=")
                 for h in sorted(VERDICT_HOOKS)]
        return [check(trajectory, t) for t in applicable_theorems(trajectory)] + hooks
    if isinstance(theorem_id, str) and theorem_id in VERDICT_HOOKS:
        if problem is None:
            raise ValueError(f"the {theorem_id} verdict needs problem= (the game the "
                             f"trajectory ran on: its exact local rate depends on the game)")
        return VERDICT_HOOKS[theorem_id](trajectory, problem)
    theorem = _as_theorem(theorem_id)
    values = _metric(trajectory, theorem.metric)
    hold, failed = _assumptions(theorem, trajectory.params)
    ratio, violated, counted_mask = _bound_ratios(theorem, trajectory, values)
    counted = np.isfinite(ratio[1:])
    worst = float(np.max(ratio[1:][counted])) if counted.any() else None
    fits, theories = _rates(theorem, trajectory, values)
    fit, theory = _reported_rate(fits, theories)
    non_finite = counted_mask & ~np.isfinite(values)
    finite_violation = violated & np.isfinite(values)
    bad_steps = np.flatnonzero(finite_violation.reshape(values.shape[0], -1).any(axis=1))
    first = int(bad_steps[0]) if bad_steps.size else None

    reasons = [] if hold else ["assumption fails: " + "; ".join(failed)]
    inconclusive = []
    if theorem.status == "slope-only":
        final = values.reshape(values.shape[0], -1)[-1]
        stuck = ~np.isfinite(fits) & ~(final <= FLOAT_FLOOR)
        slow = np.isfinite(fits) & ~(fits <= theories ** (1 - SLOPE_RTOL))
        evidence = int(np.isfinite(fits).sum())
        if stuck.any():
            inconclusive.append(f"{int(stuck.sum())} game(s) have < 3 points above the floor "
                                "and did not reach it: no slope to fit")
        if evidence == 0:
            inconclusive.append("no game has the 3 points above the floor a slope fit needs")
        if slow.any():
            reasons.append(f"fitted rate {fit:.6g} > theory rate {theory:.6g}^(1−{SLOPE_RTOL})")
        bound_ok = not slow.any()
    else:
        evidence = int(counted_mask.sum())
        if worst is None:  # k = 0 alone is no evidence: an envelope is err0 there
            inconclusive.append("no counted entry at k ≥ 1: the bound is nowhere finite and ≥ "
                                f"{FLOAT_FLOOR:g} nor the metric above its floor (e.g. a metric "
                                "non-finite from the start)")
        if non_finite.any():
            at = int(np.flatnonzero(non_finite.reshape(values.shape[0], -1).any(axis=1))[0])
            inconclusive.append(f"non-finite metric where the bound counts (first at "
                                f"iteration {at})")
        bound_ok = first is None
        if not bound_ok:
            row = ratio[first][finite_violation[first]]
            reasons.append(f"bound violated first at iteration {first} "
                           f"(measured/bound {row.max():.9g})")
    if not hold:  # outside its assumptions a theorem says nothing: neither pass nor fail
        status = "inconclusive"
    elif not bound_ok:
        status = "fail"
    elif inconclusive:
        status = "inconclusive"
        reasons.append("inconclusive: " + "; ".join(inconclusive))
    else:
        status = "pass"
        reasons.append("fitted slope within tolerance" if theorem.status == "slope-only"
                       else f"holds at every counted iteration ({evidence} counted)")
    return Verdict(theorem.id, status, worst, first, fit, theory, worst, bool(hold),
                   "; ".join(reasons), evidence)


def run_method(trajectory) -> str:
    """ "family/method" of a trajectory (``Theorem.methods``' spelling)."""
    return f"{trajectory.params.get('family')}/{trajectory.params.get('method')}"


def applicable_theorems(trajectory) -> list:
    """Registered theorems about the trajectory's method (``Theorem.methods``) whose
    metric it tracks and whose assumptions hold for its params."""
    method = run_method(trajectory)
    return [t for t in all_theorems() if method in t.methods
            and t.metric in trajectory.metrics and _holds_for(t, trajectory.params)]


def _holds_for(theorem, params) -> bool:
    """Whether ``theorem``'s assumptions hold for ``params`` of any family: an assumption
    that reads a key the params lack (another family's τ, γ, ...) does not hold."""
    try:
        return _assumptions(theorem, params)[0]
    except (KeyError, TypeError):
        return False


# ---- claims: executable statements that are not upper bounds (e.g. negative results) -----

@dataclass(frozen=True)
class Claim:
    """A checked claim that is not an upper bound of the theorem form, e.g. "OMD with η ≫ β
    stalls". ``criterion(trajectories) -> (holds: bool, measured: float, text: str)`` is the
    executable, documented test on the list of runs; ``suite(quick)`` yields labelled
    trajectories."""

    id: str
    algorithm: str
    statement: str
    criterion_text: str
    criterion: Callable
    source: Source
    status: str = "derived"
    suite: Callable[[bool], Iterable] | None = None
    expected_inconclusive: str = ""  # as ``Theorem.expected_inconclusive``


_CLAIMS: dict[str, Claim] = {}


def register_claim(claim: Claim) -> Claim:
    if claim.id in _CLAIMS:
        raise ValueError(f"claim {claim.id!r} is already registered")
    _CLAIMS[claim.id] = claim
    return claim


def all_claims() -> list[Claim]:
    load_builtin_theorems()
    return [_CLAIMS[k] for k in sorted(_CLAIMS)]


def check_claim(trajectory, claim) -> Verdict:
    """Run a claim's criterion on a trajectory or a list of them (a claim may compare
    runs, e.g. across n); ``worst_ratio`` holds the measured number. Inconclusive when
    there is no run or the measured number is not finite."""
    if not isinstance(claim, Claim):
        load_builtin_theorems()
        claim = _CLAIMS[claim]
    trajectories = [trajectory] if isinstance(trajectory, Trajectory) else list(trajectory)
    if not trajectories:
        return Verdict(claim.id, "inconclusive", None, None, None, None, None, True,
                       "inconclusive: no run to check the claim on")
    holds, measured, text = claim.criterion(trajectories)
    measured = float(measured)
    if not math.isfinite(measured):
        return Verdict(claim.id, "inconclusive", None, None, None, None, None, True,
                       f"inconclusive: the measured number is {measured} ({text})",
                       len(trajectories))
    return Verdict(claim.id, "pass" if holds else "fail", measured, None, None, None,
                   measured, True, text, len(trajectories))
