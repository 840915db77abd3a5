"""Instance spaces searched by ``nashlab.theory.falsify``, with smooth parametrisations.

An instance is a discrete ``Spec`` (size n, iterations, step schedule, whether μ is given or
solved from a prescribed equilibrium, the kind of start) plus a real vector θ that a
continuous optimiser moves freely; ``decode(spec, θ)`` maps it smoothly and onto the valid
set by construction, so that no candidate is rejected for being malformed:

* P from n(n−1)/2 free logits u_ij (i < j): P_ij = σ(u_ij), P_ji = 1 − P_ij, P_ii = ½, so
  P + Pᵀ = 1 and P ∈ [0, 1] hold exactly; |u| ≤ ``preference_logit`` (σ(40) = 1 in float64:
  near-deterministic and deterministic entries), u = 0 a tie;
* μ = softmax(a) with |a_i| ≤ ½·ln(1/``reference_min``) (μ_min down to ≈ reference_min/n),
  or, with ``spec.prescribed``, a = logits of the equilibrium π* and μ solved from (P, π*, β):
  log μ = log π* − Pπ*/β − log Z (the fixed-point equation of π*_β, theory notes nlhf.md §1);
* π₀ = μ, uniform, or softmax(c) with |c_i| ≤ ``start_logit`` (far starts);
* log β in log ``beta``; η in the set the claim's assumptions allow at that β, found by
  probing them (``step_sizes``): an interval [η_lo, η_hi] is parametrised log-linearly by a
  sigmoid, a finite set of admissible values (e.g. "η = 2") is taken as it is;
* the methods with inner iterations (``highprec.INNER_METHODS``) draw M = ``inner_steps``
  in the Spec, and nash-mp-inexact also the seed of its sampled responses (its S is the
  float solver's fixed ``INEXACT_RESPONSES``; the 50-digit run replays the same draws).

Bounded coordinates use x ↦ L·tanh(x/L) (smooth, the identity near 0), so a search started at
θ = 0 starts at the tie game with uniform μ and π₀.

This module is the "preference" family of ``theory/families.py``: its 50-digit twin is
``theory/highprec.py``; shrinking drops actions (the sub-game on the others, μ and π₀
renormalised) and rounds β and η to 1–3 significant digits, P to 0–3 decimals (upper
triangle; P_ji = 1 − P_ij), μ and π₀ to uniform or to integer logits (π₀ also to μ).
"""

import math
from dataclasses import dataclass, field, replace

import mpmath
import numpy as np

from nashlab.games.preference import PreferenceGame
from nashlab.theory import highprec

#: η probed when the claim's assumptions constrain it (plus a log grid of ``eta``)
_SPECIAL_ETAS = (0.1, 0.5, 1.0, 2.0, 4.0)
STARTS = ("reference", "uniform", "free")


@dataclass(frozen=True)
class Spec:
    """The discrete part of a preference-game instance."""

    n: int
    iterations: int
    schedule: str | None = None
    prescribed: bool = False
    start: str = "free"
    inner_steps: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Instance:
    """A decoded instance: the game, the run's options and the prospective params."""

    game: PreferenceGame
    method: str
    eta: float | None
    iterations: int
    init: np.ndarray | None
    schedule: str | None
    inner_steps: int | None = None
    seed: int | None = None
    family: str = field(default="preference", init=False)

    @property
    def problem(self) -> PreferenceGame:
        return self.game

    def describe(self) -> dict:
        return {"n": self.game.n, "beta": self.game.beta, "eta": self.eta,
                "iterations": self.iterations, "schedule": self.schedule,
                "start": self.init_label, **self.method_options()}

    def method_options(self) -> dict:
        """The inner-step methods' options that are set: ``inner_steps`` (M; nash-mp-inexact,
        nash-prox) and ``seed`` (nash-mp-inexact's sampled responses)."""
        return {name: value for name, value in (("inner_steps", self.inner_steps),
                                                ("seed", self.seed)) if value is not None}

    def _high_options(self) -> dict:
        """``method_options`` plus nash-mp-inexact's S = ``responses``, the float solver's
        fixed ``INEXACT_RESPONSES`` (not an option of ``run``): the 50-digit run's keywords."""
        from nashlab.solvers.nlhf import INEXACT_RESPONSES

        extra = {"responses": INEXACT_RESPONSES} if self.method == "nash-mp-inexact" else {}
        return {**self.method_options(), **extra}

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        options = {"eta": self.eta, "iterations": self.iterations, "init": self.init,
                   **self.method_options()}
        if self.schedule is not None:
            options["schedule"] = self.schedule
        return options

    @property
    def init_label(self) -> str:
        """params["init"]: "uniform" when π₀ is exactly uniform, else "given"."""
        start = self.game.reference if self.init is None else self.init
        return "uniform" if bool(np.all(start == start[0])) else "given"

    @property
    def HIGH_PRECISION_CONSTANTS(self) -> tuple:  # noqa: N802 (the family protocol's name)
        """Bound symbols the 50-digit run recomputes: nash-mp-inexact's δ = max_k δ_k, else
        none (the bound's symbols are the run's)."""
        return ("delta",) if self.method == "nash-mp-inexact" else ()

    @property
    def size(self) -> int:
        return self.game.n

    def prospective_params(self) -> dict:
        """The params a run of this instance records, as far as assumptions read them (the
        one params schema of ``nashlab.solvers.results``, plus params["init"]). For
        nash-mp-inexact, "delta" (max_k δ_k, which the run always records) is NaN: its value
        is known only after the run, whose own params the verdict then reads."""
        params = {"family": "preference", "method": self.method, "n_actions": self.game.n,
                  "n_states": None, "batch_shape": [], "beta": self.game.beta,
                  "eta": self.eta, "iterations": self.iterations, "oracle": "exact",
                  "samples": None, "schedule": self.schedule, "init": self.init_label,
                  "inner_steps": self.inner_steps, "seed": self.seed}
        if self.method == "nash-mp-inexact":
            params["delta"] = math.nan
        return params

    def certifiable(self, theorem) -> bool:
        return self.method in highprec.METHODS and theorem.metric in highprec.METRICS

    def high_values(self, theorem, iterations):
        """(metric at 50 digits, constants, η_k under a schedule else None); the Newton solve
        for π* starts from the float equilibrium (a guess only: the 50-digit residual
        certifies it). The constants are nash-mp-inexact's {"delta": max_k δ_k at 50 digits}
        over the whole run (as the float run's params["delta"], even when only the first
        ``iterations`` values are asked for), else {}."""
        from nashlab.solvers.front import solve

        game = self.game
        guess = solve(game).logits if theorem.metric in ("kl", "span") else None
        whole = max(iterations, self.iterations) if self.method == "nash-mp-inexact" else iterations
        values, deltas = highprec.run_with_delta(
            self.method, game.P, game.reference, self.init, game.beta, self.eta, whole,
            theorem.metric, schedule=self.schedule, star_guess=guess, **self._high_options())
        values = values[:iterations + 1]
        constants = {} if deltas is None else {"delta": max(deltas)}
        if self.schedule is None:
            return values, constants, None
        with mpmath.workdps(highprec.DIGITS + 20):
            etas = highprec.steps(None if self.eta is None else mpmath.mpf(self.eta),
                                  mpmath.mpf(game.beta), iterations, self.schedule)
        return values, constants, etas

    def smaller(self):
        """The instances on all actions but one (μ and π₀ renormalised), for each action
        (none below n = 3)."""
        for i in range(self.game.n if self.game.n > 2 else 0):
            keep = np.delete(np.arange(self.game.n), i)
            ref = self.game.reference[keep]
            init = None if self.init is None else self.init[keep] / self.init[keep].sum()
            game = PreferenceGame(self.game.P[np.ix_(keep, keep)], ref / ref.sum(),
                                  self.game.beta)
            yield replace(self, game=game, init=init)

    def shrink_moves(self):
        """Rounding moves, coarsest first, grouped by what they change (module docstring)."""
        def uniform(inst):
            return np.full(inst.game.n, 1.0 / inst.game.n)

        def with_game(inst, P=None, reference=None):
            game = inst.game
            return replace(inst, game=PreferenceGame(
                game.P if P is None else P, game.reference if reference is None else reference,
                game.beta))

        yield [lambda i, d=d: replace(i, game=i.game.with_beta(round_sig(i.game.beta, d)))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.eta is None else replace(i, eta=round_sig(i.eta, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: with_game(i, P=_rounded_P(i.game.P, d)) for d in (0, 1, 2, 3)]
        yield ([lambda i: with_game(i, reference=uniform(i))]
               + [lambda i, s=s: with_game(i, reference=_integer_logits(i.game.reference, s))
                  for s in (1, 2)])
        yield ([lambda i: None if i.init is None else replace(i, init=None),
                lambda i: None if i.init is None else replace(i, init=uniform(i))]
               + [lambda i, s=s: None if i.init is None
                  else replace(i, init=_integer_logits(i.init, s)) for s in (1, 2)])

    def counterexample_params(self) -> dict:
        return {"method": self.method, "beta": self.game.beta, "eta": self.eta,
                "schedule": self.schedule, "iterations": self.iterations,
                "init": None if self.init is None else np.asarray(self.init).tolist(),
                **self._high_options()}


@dataclass(frozen=True)
class PreferenceSpace:
    """Preference games (``nashlab.games.PreferenceGame``) for a method of that family.

    n : int or (low, high) inclusive; beta : (low, high) or a float; eta : (low, high) range
    probed for the admissible steps (narrowed by the claim's assumptions);
    iterations : (low, high); schedules : the step schedules tried (None = constant);
    inner_steps : int or (low, high), M of the methods with inner iterations
    (``highprec.INNER_METHODS``); seeds : (low, high), nash-mp-inexact's response seeds;
    reference_min : smallest μ entry the space reaches (≈, up to a factor n);
    preference_logit, start_logit : bounds of the logits of P and of far starts.
    Narrow or widen it with ``dataclasses.replace`` or ``falsify(..., space={"n": 3})``.
    """

    method: str
    n: int | tuple = (2, 8)
    beta: float | tuple = (1e-3, 10.0)
    eta: tuple = (1e-3, 10.0)
    iterations: tuple = (2, 200)
    schedules: tuple = (None,)
    reference_min: float = 1e-8
    preference_logit: float = 40.0
    start_logit: float = 30.0
    starts: tuple = STARTS
    inner_steps: int | tuple = (1, 30)
    seeds: int | tuple = (0, 999)
    family: str = field(default="preference", init=False)

    def __post_init__(self):
        for name in ("n", "beta", "iterations", "inner_steps", "seeds"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.n[0] < 2 or self.iterations[0] < 1 or self.beta[0] <= 0:
            raise ValueError(f"need n ≥ 2, iterations ≥ 1 and β > 0, got n={self.n}, "
                             f"iterations={self.iterations}, beta={self.beta}")
        if self.inner_steps[0] < 1 or self.seeds[0] < 0:
            raise ValueError(f"need inner_steps ≥ 1 and seeds ≥ 0, got inner_steps="
                             f"{self.inner_steps}, seeds={self.seeds}")
        if not 0 < self.reference_min < 1:
            raise ValueError(f"reference_min must be in (0, 1), got {self.reference_min!r}")
        unknown = set(self.starts) - set(STARTS)
        if unknown or not self.starts:
            raise ValueError(f"starts must be a non-empty subset of {STARTS}, got {self.starts!r}")

    def narrowed(self, **changes) -> "PreferenceSpace":
        return replace(self, **changes)

    # ---- parametrisation ------------------------------------------------------------------
    def dimension(self, spec: Spec) -> int:
        n = spec.n
        return n * (n - 1) // 2 + 2 * n + 2

    def decode(self, spec: Spec, theta, admissible) -> Instance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if no step size is admissible at the decoded β)."""
        n = spec.n
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(spec),):
            raise ValueError(f"theta must have shape ({self.dimension(spec)},), got {theta.shape}")
        m = n * (n - 1) // 2
        u = _bounded(theta[:m], self.preference_logit)
        a = _bounded(theta[m:m + n], 0.5 * math.log(1.0 / self.reference_min))
        c = _bounded(theta[m + n:m + 2 * n], self.start_logit)
        lo, hi = np.log(self.beta)
        beta = float(np.exp(lo + (hi - lo) * _sigmoid(theta[-2]))) if hi > lo else float(self.beta[0])
        P = np.full((n, n), 0.5)
        iu = np.triu_indices(n, 1)
        P[iu] = _sigmoid(u)
        P[(iu[1], iu[0])] = 1.0 - P[iu]
        log_ref = a - a.max()
        if spec.prescribed:
            star = np.exp(log_ref) / np.exp(log_ref).sum()
            log_ref = log_ref - (P @ star) / beta
            log_ref -= log_ref.max()
        reference = np.exp(log_ref) / np.exp(log_ref).sum()
        if not np.all(reference > 0):
            return None
        game = PreferenceGame(P, reference, beta)
        init = {"reference": None, "uniform": np.full(n, 1.0 / n),
                "free": _softmax(c)}[spec.start]
        if init is not None and not np.all(init > 0):
            return None
        probe = Instance(game, self.method, None, spec.iterations, init, spec.schedule,
                         spec.inner_steps, spec.seed)
        if spec.schedule is not None:
            return probe if admissible(probe.prospective_params()) else None
        etas = step_sizes(self, probe, admissible)
        if etas is None:
            return None
        kind, etas = etas
        if kind == "interval":
            e_lo, e_hi = np.log(etas[0]), np.log(etas[1])
            eta = float(np.exp(e_lo + (e_hi - e_lo) * _sigmoid(theta[-1])))
            if not admissible(replace(probe, eta=eta).prospective_params()):
                eta = etas[1]
        else:
            eta = etas[int(_sigmoid(theta[-1]) * len(etas)) % len(etas)]
        return replace(probe, eta=eta)

    def specs(self, draw_int, draw_bool, draw_choice) -> Spec:
        """A Spec from the three drawing callables (used by the hypothesis strategy); the
        inner-step options are drawn only for the methods that take them."""
        n = draw_int(*self.n)
        spec = Spec(n=n, iterations=draw_int(*self.iterations),
                    schedule=draw_choice(self.schedules), prescribed=draw_bool(),
                    start=draw_choice(self.starts))
        if self.method in highprec.INNER_METHODS:
            spec = replace(spec, inner_steps=draw_int(*self.inner_steps))
        if self.method == "nash-mp-inexact":
            spec = replace(spec, seed=draw_int(*self.seeds))
        return spec


def step_sizes(space, probe, admissible):
    """The admissible constant steps at ``probe``'s β: ("interval", (lo, hi)), ("values",
    a tuple of isolated values), or None. Probes a log grid of ``space.eta`` and ``_SPECIAL_ETAS`` and
    refines the ends of a run of admissible grid points by bisection (the assumptions are
    read as black boxes; an admissible set that is not one interval is reported by its
    admissible probes)."""
    def ok(eta):
        try:
            return bool(admissible(replace(probe, eta=float(eta)).prospective_params()))
        except (KeyError, TypeError, ValueError):
            return False
    grid = np.geomspace(space.eta[0], space.eta[1], 49)
    flags = np.array([ok(e) for e in grid])
    if flags.sum() >= 2 and np.all(np.diff(np.flatnonzero(flags)) == 1):
        first, last = np.flatnonzero(flags)[[0, -1]]
        lo = grid[first] if first == 0 else _bisect(ok, grid[first - 1], grid[first])
        hi = grid[last] if last == grid.size - 1 else _bisect(ok, grid[last + 1], grid[last])
        return "interval", (lo, hi)
    values = tuple(sorted({float(e) for e in (*grid[flags], *_SPECIAL_ETAS) if ok(e)}))
    return ("values", values) if values else None


def _bisect(ok, bad, good, steps=50):
    """The admissible end of [bad, good] (ok(good) True, ok(bad) False), geometrically."""
    for _ in range(steps):
        mid = math.sqrt(bad * good)
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def _bounded(x, limit):
    return limit * np.tanh(np.asarray(x, dtype=float) / limit)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _softmax(z):
    w = np.exp(z - np.max(z))
    return w / w.sum()


def round_sig(x, digits):
    """``x`` rounded to ``digits`` significant digits (a shrinking move)."""
    return float(f"{x:.{digits}g}")


def _integer_logits(p, scale=1.0):
    z = np.round(np.log(p) * scale) / scale
    w = np.exp(z - z.max())
    return w / w.sum()


def _rounded_P(P, decimals):
    n = P.shape[0]
    iu = np.triu_indices(n, 1)
    out = np.full((n, n), 0.5)
    out[iu] = np.round(P[iu], decimals)
    out[(iu[1], iu[0])] = 1.0 - out[iu]
    return out


# ---- the family protocol (theory/families.py) -----------------------------------------------
def space_for_method(method: str):
    """The default preference-game space of ``method``, or None (no 50-digit twin)."""
    if method in highprec.METHODS:
        return PreferenceSpace(method=method,
                               schedules=(None, "munos") if method == "nash-md" else (None,))
    return None


def problem_arrays(game) -> dict:
    return {"P": np.asarray(game.P), "reference": np.asarray(game.reference)}


def problem_from_arrays(arrays, params) -> PreferenceGame:
    return PreferenceGame(arrays["P"], arrays["reference"], params["beta"])


def problem_size(game) -> str:
    return f"n = {game.n}"


HIGH_PRECISION = highprec

REPRODUCTION_EVALUATE = '''

def reproduce_values(meta, data):
    """(metric values at 50 digits, the bound's symbols this run fixes)."""
    p = meta["params"]
    init = data["init"].tolist() if meta["has_init"] else None
    inner = {name: p[name] for name in ("inner_steps", "responses", "seed") if name in p}
    values, deltas = run_with_delta(p["method"], data["P"].tolist(), data["reference"].tolist(),
                                    init, p["beta"], p["eta"], p["iterations"],
                                    meta["claim"]["metric"], schedule=p["schedule"], **inner)
    etas = steps(None if p["eta"] is None else mpmath.mpf(p["eta"]), mpmath.mpf(p["beta"]),
                 p["iterations"], p["schedule"])
    k = meta["iteration"]
    env = {"eta": etas[k - 1] if p["schedule"] else mpmath.mpf(p["eta"] or 0)}
    if deltas is not None:  # nash-mp-inexact: δ = max_k δ_k of this 50-digit run
        env["delta"] = max(deltas)
    return values, env
'''
