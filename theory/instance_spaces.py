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
  sigmoid, a finite set of admissible values (e.g. "η = 2") is taken as it is.

Bounded coordinates use x ↦ L·tanh(x/L) (smooth, the identity near 0), so a search started at
θ = 0 starts at the tie game with uniform μ and π₀.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nashlab.games.preference import PreferenceGame

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


@dataclass(frozen=True)
class Instance:
    """A decoded instance: the game, the run's options and the prospective params."""

    game: PreferenceGame
    method: str
    eta: float | None
    iterations: int
    init: np.ndarray | None
    schedule: str | None
    family: str = field(default="preference", init=False)

    @property
    def problem(self) -> PreferenceGame:
        return self.game

    def describe(self) -> dict:
        return {"n": self.game.n, "beta": self.game.beta, "eta": self.eta,
                "iterations": self.iterations, "schedule": self.schedule,
                "start": self.init_label}

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        options = {"eta": self.eta, "iterations": self.iterations, "init": self.init}
        if self.schedule is not None:
            options["schedule"] = self.schedule
        return options

    @property
    def init_label(self) -> str:
        """params["init"]: "uniform" when π₀ is exactly uniform, else "given"."""
        start = self.game.reference if self.init is None else self.init
        return "uniform" if bool(np.all(start == start[0])) else "given"


@dataclass(frozen=True)
class PreferenceSpace:
    """Preference games (``nashlab.games.PreferenceGame``) for a method of that family.

    n : int or (low, high) inclusive; beta : (low, high) or a float; eta : (low, high) range
    probed for the admissible steps (narrowed by the claim's assumptions);
    iterations : (low, high); schedules : the step schedules tried (None = constant);
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
    family: str = field(default="preference", init=False)

    def __post_init__(self):
        for name in ("n", "beta", "iterations"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.n[0] < 2 or self.iterations[0] < 1 or self.beta[0] <= 0:
            raise ValueError(f"need n ≥ 2, iterations ≥ 1 and β > 0, got n={self.n}, "
                             f"iterations={self.iterations}, beta={self.beta}")
        if not 0 < self.reference_min < 1:
            raise ValueError(f"reference_min must be in (0, 1), got {self.reference_min!r}")
        unknown = set(self.starts) - set(STARTS)
        if unknown or not self.starts:
            raise ValueError(f"starts must be a non-empty subset of {STARTS}, got {self.starts!r}")

    def narrowed(self, **changes) -> "PreferenceSpace":
        return replace(self, **changes)

    # ---- parametrisation ------------------------------------------------------------------
    def dimension(self, n) -> int:
        return n * (n - 1) // 2 + 2 * n + 2

    def decode(self, spec: Spec, theta, admissible) -> Instance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if no step size is admissible at the decoded β)."""
        n = spec.n
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(n),):
            raise ValueError(f"theta must have shape ({self.dimension(n)},), got {theta.shape}")
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
        probe = Instance(game, self.method, None, spec.iterations, init, spec.schedule)
        if spec.schedule is not None:
            return probe if admissible(prospective_params(probe)) else None
        etas = step_sizes(self, probe, admissible)
        if etas is None:
            return None
        kind, etas = etas
        if kind == "interval":
            e_lo, e_hi = np.log(etas[0]), np.log(etas[1])
            eta = float(np.exp(e_lo + (e_hi - e_lo) * _sigmoid(theta[-1])))
            if not admissible(prospective_params(replace(probe, eta=eta))):
                eta = etas[1]
        else:
            eta = etas[int(_sigmoid(theta[-1]) * len(etas)) % len(etas)]
        return replace(probe, eta=eta)

    def specs(self, draw_int, draw_bool, draw_choice) -> Spec:
        """A Spec from the three drawing callables (used by the hypothesis strategy)."""
        n = draw_int(*self.n)
        return Spec(n=n, iterations=draw_int(*self.iterations),
                    schedule=draw_choice(self.schedules), prescribed=draw_bool(),
                    start=draw_choice(self.starts))


def prospective_params(instance: Instance) -> dict:
    """The params a run of ``instance`` records, as far as assumptions read them (the one
    params schema of ``nashlab.solvers.results``, plus params["init"])."""
    return {"family": "preference", "method": instance.method, "n_actions": instance.game.n,
            "n_states": None, "batch_shape": [], "beta": instance.game.beta,
            "eta": instance.eta, "iterations": instance.iterations, "oracle": "exact",
            "samples": None, "schedule": instance.schedule, "init": instance.init_label}


def step_sizes(space, probe, admissible):
    """The admissible constant steps at ``probe``'s β: ("interval", (lo, hi)), ("values",
    a tuple of isolated values), or None. Probes a log grid of ``space.eta`` and ``_SPECIAL_ETAS`` and
    refines the ends of a run of admissible grid points by bisection (the assumptions are
    read as black boxes; an admissible set that is not one interval is reported by its
    admissible probes)."""
    def ok(eta):
        try:
            return bool(admissible(prospective_params(replace(probe, eta=float(eta)))))
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


def space_for(algorithm: str):
    """The default preference-game space of ``algorithm`` (a method name), or None."""
    from nashlab.theory.highprec import METHODS

    if algorithm in METHODS:
        return PreferenceSpace(method=algorithm,
                               schedules=(None, "munos") if algorithm == "nash-md" else (None,))
    return None
