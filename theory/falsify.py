"""``falsify``: adversarial search for an instance that breaks a convergence bound.

    falsify(claim, *, budget_seconds=60, seed=0, space=None, client=None, workers=None)
        -> Falsification

``claim`` is a registered theorem id or a ``Theorem`` (``theory/registry.py``). Every
candidate instance is run through the front door ``nashlab.run`` with the theorem's
algorithm and checked by ``check`` (``theory/verdicts.py``): its ``worst_ratio``
(measured/bound) is the objective and its ``first_violation`` the float64 alarm. The search:

1. exploration by hypothesis (``@given`` over ``Spec`` × θ of the instance space,
   ``target(ratio)`` steering it to large ratios); a violation fails the property, so
   hypothesis shrinks it to a small instance (small n, θ → 0: ties, uniform μ and π₀);
2. CMA-ES on the smooth parametrisation θ (``instance_spaces``) from the best instances
   seen, with restarts, over the space's longest horizon (the ratios of a shorter run are
   a prefix of a longer run's, and shrinking truncates afterwards). CMA-ES rather than
   scipy's local optimisers: the objective (a max over iterations of ratios) is non-smooth
   and flat in many directions, has no gradient here, and is evaluated in batches; CMA-ES
   is invariant to the scales of the very different coordinates (logits, log β) and needs
   no line search.

Instance spaces (the claim's family and method, from ``Theorem.methods``) come from the
families of ``theory/families.py`` (``family_module(name)``: its space, its 50-digit twin,
its shrinking moves, its saved form): preference games
(``instance_spaces.PreferenceSpace``), MDPs (``mdp_space.MDPSpace``: vi, mpi, npg,
npg-entropy, pmd) and entropy-regularized matrix games (``matrix_space.MatrixSpace``: pu,
omwu, mirror-prox, mmd; τ = 0 too for mirror-prox) and robust MDPs
(``robust_space.RobustSpace``: vi, pi, rpmd) and zero-sum Markov games
(``markov_space.MarkovSpace``: shapley, pu, omwu, mmd); a claim of any other family
(populations) is reported as not searched.

A float64 violation counts only if it survives the 50-digit re-run (``theory/certify.py``);
otherwise it is recorded in ``Falsification.float_floor`` ("at the float floor"), as is a
float ratio above 1 that ``check`` tolerates (tiny values) once it is ≤ 1 at 50 digits. A
float violation of an instance with no 50-digit implementation (``instance.certifiable``;
e.g. MDPs: unregularized vi and npg, and npg-entropy with its entropy, have one; every
matrix-game method does) is recorded in
``Falsification.unconfirmed``, never as a counterexample. A confirmed counterexample is
shrunk (``theory/shrink.py``: fewest iterations, fewest actions, round numbers, each step
kept only if the violation survives in float64 and at 50 digits) and can be saved
(``Counterexample.save``: JSON + NPZ + a reproduction script).

Slope-only theorems (unverified constants) are searched for their largest measured constant
(``worst_ratio``) but never reported as falsified: their check is an asymptotic rate, which no
finite run refutes. ``Claim`` objects are not upper bounds (their criterion has no
measured/bound ratio), so they are rejected with a ValueError.

Parallel restarts: searches with seeds seed, seed+1, ... run at once, on the workers of a
``dask.distributed.Client`` (``client``; theory never imports dask) or, without one, on the
local cores (seed ``seed`` in this process, the others in forked processes, which inherit
the claim, so a user's lambdas need no pickling); ``workers`` sets how many. The first
restart to confirm a counterexample stops the others (a shared Event: a
``distributed.Event`` on a cluster); of those confirmed, the lowest seed's is reported and
the worst ratio is the largest of all. A search is deterministic for its seed whenever it stops on
``max_evaluations`` rather than on the clock: ``workers=1`` is the deterministic mode.
"""

import contextlib
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from unittest import mock

import numpy as np

from nashlab.theory.counterexample import Counterexample
from nashlab.theory.families import FAMILIES, space_for_entry
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.registry import Theorem, get
from nashlab.theory.shrink import shrink
from nashlab.theory.verdicts import Claim

#: θ coordinates lie in [−THETA, THETA] (the maps saturate beyond); hypothesis draws each
#: from [−4, 4] (the maps' responsive range) or from the whole interval, half and half
THETA = 60.0
#: after its first confirmed violation, hypothesis shrinks it for at most this share of the
#: budget (each smaller failing case is re-certified at 50 digits); shrink.py then has its own
HYPOTHESIS_SHRINK_SHARE = 0.1


@dataclass(frozen=True)
class Falsification:
    """The outcome of ``falsify``.

    counterexample : a confirmed, shrunk ``Counterexample`` or None.
    worst_ratio : the largest measured/bound of any instance whose assumptions held (the
        claim's tightness as far as the search saw); None if no instance was evaluated.
    evaluations : instances run; seconds : wall time of the search.
    history : improvements of the best ratio and events, dicts with "evaluation",
        "seconds", "phase", "ratio", "n" (and "event" for violations / float-floor cases);
        with parallel restarts, each restart's in seed order (its own evaluation count).
    float_floor : float64 violations that did not survive 50 digits: dicts with "ratio"
        (float64) and "ratio_high_precision" (str, 50 digits) and "iteration".
    unconfirmed : float64 violations of a method (or regularizer, metric) that has no
        50-digit implementation: never counterexamples, dicts with "ratio" and "where".
    where : the instance of ``worst_ratio`` (preference games: n, beta, eta, iterations,
        start, schedule; MDPs: S, A, gamma, structure, regularizer, eta, iterations, start
        and the method's options; matrix games: m, n, tau, eta, iterations, start).
    theorem_id : the claim searched; searched : False when the claim's family has no
        instance space (then nothing was run); note : why, or how the search ended.
    """

    theorem_id: str
    counterexample: Counterexample | None
    worst_ratio: float | None
    evaluations: int
    seconds: float
    history: list = field(default_factory=list)
    float_floor: list = field(default_factory=list)
    where: dict | None = None
    unconfirmed: list = field(default_factory=list)
    searched: bool = True
    note: str = ""

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def summary(self) -> str:
        if not self.searched:
            return f"{self.theorem_id}: not searched ({self.note})"
        if self.found:
            c = self.counterexample
            return (f"{self.theorem_id}: VIOLATED at iteration {c.iteration} ({c.size}, "
                    f"ratio {c.ratio:.9g} in float64, {c.ratio_high_precision[:14]} at 50 "
                    f"digits) after {self.evaluations} instances, {self.seconds:.1f} s")
        worst = "none" if self.worst_ratio is None else f"{self.worst_ratio:.9g}"
        floor = (f"; {len(self.float_floor)} float64 violation(s) at the float floor (not "
                 f"confirmed at 50 digits)" if self.float_floor else "")
        unconfirmed = (f"; {len(self.unconfirmed)} float64 ratio(s) above 1 UNCONFIRMED (no "
                       f"50-digit run: {_reasons(self.unconfirmed)}; worst float ratio "
                       f"{max(u['ratio'] for u in self.unconfirmed):.9g})"
                       if self.unconfirmed else "")
        return (f"{self.theorem_id}: no counterexample; worst ratio {worst} at {self.where} "
                f"({self.evaluations} instances, {self.seconds:.1f} s){floor}{unconfirmed}")


def _reasons(events) -> str:
    """The distinct reasons of unconfirmed events, e.g. "no 50-digit implementation"."""
    return "; ".join(dict.fromkeys(e["event"].removeprefix("unconfirmed: ") for e in events))


class _Violation(Exception):
    """Raised inside the hypothesis property when an instance is a confirmed violation."""


class _Exhausted(BaseException):
    """Raised inside the hypothesis property once the search is over: not an ``Exception``,
    so hypothesis stops at once instead of shrinking or replaying."""


class _Search:
    """The state of one search: evaluations, best ratio, history, the clock."""

    def __init__(self, theorem, space, budget_seconds, max_evaluations, progress, stop=None):
        self.theorem, self.space = theorem, space
        self.stop = stop  # an Event shared by parallel restarts: set when one has found
        self.start = time.perf_counter()
        self.budget_seconds = budget_seconds
        self.deadline = self.start + budget_seconds
        self.max_evaluations = max_evaluations
        self.progress = progress
        self.evaluations = 0
        self.best, self.where = None, None
        self.candidates = []  # (ratio, spec, θ) of the best instances, for the local phase
        self.history, self.float_floor, self.unconfirmed = [], [], []
        self.shrink_until = None  # set at the first confirmed violation: hypothesis's own
        # shrinking re-certifies every smaller failing case at 50 digits, so it gets a share
        self.cache = {}
        self.slope_only = theorem.status == "slope-only"

    def exhausted(self) -> bool:
        now = time.perf_counter()
        return (now >= self.deadline or (self.shrink_until is not None and now >= self.shrink_until)
                or (self.stop is not None and self.stop.is_set())
                or (self.max_evaluations is not None and self.evaluations >= self.max_evaluations))

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def admissible(self, params) -> bool:
        try:
            return all(bool(a.holds(params)) for a in self.theorem.assumptions)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return False

    def observe(self, ratio, instance, phase):
        """Record an evaluated instance's ratio (the search's and the shrinking's)."""
        if self.best is None or ratio > self.best:
            self.best, self.where = ratio, instance.describe()
            self.history.append({"evaluation": self.evaluations, "seconds": self.seconds(),
                                 "phase": phase, "ratio": ratio, "n": instance.size})

    def evaluate(self, spec, theta, phase):
        """(ratio or None, confirmed Counterexample-to-be or None) of the instance (spec, θ)."""
        key = (spec, np.asarray(theta, dtype=float).tobytes())
        if key in self.cache:
            return self.cache[key]
        if self.exhausted():
            return None, None
        self.evaluations += 1
        result = self._evaluate(spec, theta, phase)
        self.cache[key] = result
        if self.progress is not None:
            self.progress(self)
        return result

    def _evaluate(self, spec, theta, phase):
        from nashlab.theory.certify import last_violation

        instance = self.space.decode(spec, theta, self.admissible)
        if instance is None:
            return None, None
        trajectory, verdict = run_and_check(self.theorem, instance)
        if verdict is None or not verdict.assumptions_hold or verdict.worst_ratio is None:
            return None, None
        ratio = verdict.worst_ratio
        if not math.isfinite(ratio):
            return None, None
        self.observe(ratio, instance, phase)
        self.candidates.append((ratio, spec, np.asarray(theta, dtype=float)))
        flagged = verdict.first_violation is not None
        if self.slope_only or not (flagged or ratio > 1):
            return ratio, None
        if not flagged:
            # ratio > 1 within check's float tolerance (tiny values): checked at 50 digits a
            # few times, then only when it beats the largest such ratio seen
            seen = [f["ratio"] for f in self.float_floor if f.get("within_tolerance")]
            if not instance.certifiable(self.theorem) or (len(seen) >= 5
                                                           and ratio <= max(seen)):
                return ratio, None
            high = self._certify(instance, trajectory, ratio, phase, None)
            if high is None:
                return ratio, None
            event = {"evaluation": self.evaluations, "seconds": self.seconds(), "phase": phase,
                     "ratio": ratio, "n": instance.size, "iteration": high.iteration,
                     "ratio_high_precision": None if high.worst is None else _digits(high.worst),
                     "within_tolerance": True,
                     "event": ("violated at 50 digits, below check's float tolerance"
                               if high.violated else "at the float floor (within check's "
                               "float tolerance; ≤ 1 at 50 digits)")}
            self.float_floor.append(event)
            self.history.append(event)
            return ratio, None
        if not instance.certifiable(self.theorem):
            self._unconfirmed(ratio, instance, phase, "no 50-digit implementation")
            return ratio, None
        high = self._certify(instance, trajectory, ratio, phase,
                             last_violation(self.theorem, trajectory))
        if high is None:
            return ratio, None
        event = {"evaluation": self.evaluations, "seconds": self.seconds(), "phase": phase,
                 "ratio": ratio, "n": instance.size, "iteration": high.iteration,
                 "ratio_high_precision": None if high.ratio is None else _digits(high.ratio)}
        if not high.violated:
            self.float_floor.append({**event, "event": "at the float floor"})
            self.history.append({**event, "event": "at the float floor"})
            return ratio, None
        self.history.append({**event, "event": "violation confirmed at 50 digits"})
        if self.shrink_until is None:
            self.shrink_until = time.perf_counter() + HYPOTHESIS_SHRINK_SHARE * self.budget_seconds
            if self.stop is not None:
                self.stop.set()
        return ratio, (instance, trajectory, verdict, high)

    def _certify(self, instance, trajectory, ratio, phase, last):
        """``certify``'s verdict, or None (recorded as unconfirmed) when the 50-digit run
        cannot be done (e.g. its fixed-point solve does not reach its residual)."""
        from nashlab.theory.certify import HIGH_PRECISION_FAILURES, certify

        try:
            return certify(self.theorem, instance, trajectory, last=last)
        except HIGH_PRECISION_FAILURES as exc:
            self._unconfirmed(ratio, instance, phase, f"the 50-digit run failed: {exc}")
            return None

    def _unconfirmed(self, ratio, instance, phase, why):
        event = {"evaluation": self.evaluations, "seconds": self.seconds(), "phase": phase,
                 "ratio": ratio, "n": instance.size, "where": instance.describe(),
                 "event": f"unconfirmed: {why}"}
        self.unconfirmed.append(event)
        self.history.append(event)


def describe(instance) -> dict:
    """The instance's summary (``where``): its family's ``describe``."""
    return instance.describe()


def _digits(x, digits=50):
    import mpmath

    return mpmath.nstr(x, digits)


def _resolve(claim) -> Theorem:
    if isinstance(claim, Theorem):
        return claim
    if isinstance(claim, Claim):
        raise ValueError(f"claim {claim.id!r} is a Claim (a criterion on runs, not an upper "
                         "bound with a measured/bound ratio); falsify searches Theorems: state "
                         "it as a Theorem (metric, bound, assumptions)")
    if isinstance(claim, str):
        return get(claim)
    raise TypeError(f"claim must be a theorem id (str) or a Theorem, got {type(claim).__name__}")


def space_for_theorem(theorem):
    """The default space of ``theorem``: of the first of its ``methods`` ("family/method")
    whose family has a space (``theory/families.py``), or, for a theorem that lists no
    methods (a user's own statement), of its ``algorithm`` read as a preference method."""
    entries = theorem.methods or (f"preference/{theorem.algorithm}",)
    return next((s for s in map(space_for_entry, entries) if s is not None), None)


def _space(theorem, space):
    default = space_for_theorem(theorem)
    if space is None or isinstance(space, dict):
        if default is None:
            return None
        try:
            return default if space is None else default.narrowed(**space)
        except TypeError as exc:
            raise ValueError(f"space: {exc}") from None
    if getattr(space, "family", None) in FAMILIES and callable(getattr(space, "decode", None)):
        return space
    raise TypeError(f"space must be None, a dict of overrides or an instance space of a "
                    f"family in {sorted(FAMILIES)} (e.g. a PreferenceSpace or an MDPSpace), "
                    f"got {type(space).__name__}")


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (≥ 6.131) now and then draws a literal found in the source of the modules
    loaded in the process, so one seed explored differently after other code was imported
    (measured: the Nash-MD no-floor search of tests/theory/test_falsify.py found its
    counterexample alone and missed it after other test modules had run in the worker).
    With none, the exploration depends on the seed only. The names patched are hypothesis
    internals; where they are missing, nothing is patched."""
    from hypothesis.internal.conjecture import providers

    if not (hasattr(providers, "_get_local_constants") and hasattr(providers, "CONSTANTS_CACHE")):
        yield
        return
    with (mock.patch.object(providers, "_get_local_constants", providers.Constants),
          mock.patch.object(providers, "CONSTANTS_CACHE", {})):
        yield


def _explore(search, seed, max_examples):
    """Hypothesis exploration (phase 1); returns the confirmed violation or None."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
    from hypothesis import seed as fix_seed
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky

    space = search.space

    @st.composite
    def cases(draw):
        spec = space.specs(lambda lo, hi: draw(st.integers(lo, hi)),
                           lambda: draw(st.booleans()), lambda xs: draw(st.sampled_from(xs)))
        dim = space.dimension(spec)
        coordinate = st.one_of(st.floats(-4.0, 4.0), st.floats(-THETA, THETA))
        theta = draw(st.lists(coordinate, min_size=dim, max_size=dim))
        return spec, tuple(theta)

    found, errors = [], []

    @fix_seed(seed)
    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=(Phase.generate, Phase.target, Phase.shrink), report_multiple_bugs=False,
              print_blob=False)
    @given(cases())
    def property_holds(case):
        spec, theta = case
        if search.exhausted():
            raise _Exhausted
        try:
            ratio, confirmed = search.evaluate(spec, theta, "hypothesis")
        except Exception as exc:  # re-raised below: hypothesis must not shrink on our bugs
            errors.append(exc)
            raise _Violation from exc
        if ratio is not None:
            target(ratio)
        if confirmed is not None:
            found.append(confirmed)
            raise _Violation

    try:
        with _without_local_constants():
            property_holds()
    except (_Violation, Flaky, _Exhausted):
        pass
    if errors:
        raise errors[0]
    return found[-1] if found else None


def _fresh_start(space, rng):
    """A uniformly drawn start (spec, θ ∈ [−4, 4]^d, the maps' responsive range)."""
    spec = space.specs(lambda lo, hi: int(rng.integers(lo, hi + 1)), lambda: bool(rng.random() < 0.5),
                       lambda xs: xs[int(rng.integers(len(xs)))])
    return spec, rng.uniform(-4.0, 4.0, space.dimension(spec))


def _local(search, seed):
    """CMA-ES restarts (phase 2), alternately from the best untried candidate and from a fresh
    uniform start: a best candidate on a plateau (θ saturated, ratio flat just below 1) would
    otherwise hold every restart in its basin (measured: the Nash-MD no-floor claim, whose
    violations need ηβ ≳ 0.3, stayed at ratio 0.999999998 near ηβ → 0 for 60 s)."""
    import cma

    rng = np.random.default_rng([seed, 1])
    tried = set()
    restart = 0
    while not search.exhausted():
        ranked = sorted(search.candidates, key=lambda c: -c[0])
        start = next(((s, t) for r, s, t in ranked if (s, t.tobytes()) not in tried), None)
        if start is None or restart % 2:
            start = _fresh_start(search.space, rng)
        spec, theta0 = start
        tried.add((spec, theta0.tobytes()))
        # the longest horizon: the ratios of a shorter run are a prefix of its ratios
        spec = replace(spec, iterations=search.space.iterations[1])
        es = cma.CMAEvolutionStrategy(
            np.clip(theta0, -THETA, THETA), 2.0,
            {"seed": seed * 1000 + restart + 1, "verbose": -9, "bounds": [-THETA, THETA],
             "maxfevals": 400 + 40 * theta0.size})
        restart += 1
        while not es.stop() and not search.exhausted():
            xs = es.ask()
            losses = []
            for x in xs:
                ratio, confirmed = search.evaluate(spec, tuple(x), "cma-es")
                if confirmed is not None:
                    return confirmed
                losses.append(-ratio if ratio is not None else 1e6)
            es.tell(xs, losses)
    return None


def _search(theorem, space, budget_seconds, seed, max_evaluations, progress, stop=None):
    search = _Search(theorem, space, budget_seconds, max_evaluations, progress, stop)
    explore_examples = 150 if max_evaluations is None else max(20, max_evaluations // 3)
    found = _explore(search, seed, explore_examples)
    if found is None and not search.exhausted():
        found = _local(search, seed)
    counterexample = None
    if found is not None:
        instance, trajectory, verdict, high = found
        counterexample = shrink(theorem, search, instance, (trajectory, high))
    return _Restart(search.best, search.where, search.evaluations, search.history,
                    search.float_floor, search.unconfirmed, counterexample)


@dataclass(frozen=True)
class _Restart:
    """What one search (one seed) found: plain data, so it travels back from a forked
    process or a dask worker without the theorem (whose assumptions may be lambdas)."""

    best: float | None
    where: dict | None
    evaluations: int
    history: list
    float_floor: list
    unconfirmed: list
    counterexample: Counterexample | None


#: (theorem, space, budget_seconds, max_evaluations, stop) of the parallel restarts, set in
#: the parent just before it forks: the children inherit it, so the claim is never pickled
_FORKED = None


def _forked_search(seed):
    theorem, space, budget_seconds, max_evaluations, stop = _FORKED
    return _search(theorem, space, budget_seconds, seed, max_evaluations, None, stop)


def _local_restarts(theorem, space, budget_seconds, seed, max_evaluations, progress, workers):
    """Seed ``seed`` in this process (with ``progress``), seeds seed+1 … seed+workers−1 in
    forked processes at the same time; the first to confirm a counterexample stops the
    others (which of them are found then depends on timing)."""
    global _FORKED
    if workers == 1:
        return [_search(theorem, space, budget_seconds, seed, max_evaluations, progress)]
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    _FORKED = (theorem, space, budget_seconds, max_evaluations, stop)
    try:
        with ProcessPoolExecutor(workers - 1, mp_context=context) as pool:
            others = pool.map(_forked_search, range(seed + 1, seed + workers))
            mine = _search(theorem, space, budget_seconds, seed, max_evaluations, progress,
                           stop)
            return [mine, *others]
    finally:
        _FORKED = None


class _ClusterStop:
    """A ``distributed.Event`` shared by the restarts on a cluster, read at most every
    ``period`` seconds (each read asks the scheduler)."""

    def __init__(self, name, period=0.5):
        self.name, self.period = name, period
        self._event, self._next, self._set = None, 0.0, False

    def _shared(self):
        if self._event is None:
            from distributed import Event

            self._event = Event(self.name)
        return self._event

    def set(self):
        self._set = True
        self._shared().set()

    def is_set(self) -> bool:
        now = time.perf_counter()
        if not self._set and now >= self._next:
            self._next = now + self.period
            self._set = self._shared().is_set()
        return self._set

    def __getstate__(self):  # travels to the workers by name only
        return {"name": self.name, "period": self.period}

    def __setstate__(self, state):
        self.__init__(state["name"], state["period"])


def _dask_restarts(client, theorem, space, budget_seconds, seed, max_evaluations, workers):
    """Seeds seed, seed+1, ... on the workers of ``client`` (one per worker unless
    ``workers``); the first to confirm a counterexample stops the others."""
    import uuid

    count = workers or max(1, len(client.scheduler_info().get("workers", {})))
    stop = _ClusterStop(f"nashlab-falsify-{uuid.uuid4().hex}")
    futures = client.map(_search, [theorem] * count, [space] * count, [budget_seconds] * count,
                         [seed + i for i in range(count)], [max_evaluations] * count,
                         [None] * count, [stop] * count, pure=False)
    return client.gather(futures)


def _usable_cores() -> int:
    """Cores this process may run on (1 where fork is unavailable)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def falsify(claim, *, budget_seconds=60, seed=0, space=None, client=None, workers=None,
            max_evaluations=None, progress=None) -> Falsification:
    """Search for an instance violating ``claim`` (module docstring).

    budget_seconds : wall-clock budget of the search; a counterexample found near its end is
        shrunk for up to ``shrink.SHRINK_GRACE`` (5 s) past it, plus the candidate running
        then; seed : int ≥ 0, the search's randomness;
    space : None (the default space of the claim's family and method: ``Theorem.methods``
        "family/method", else its algorithm as a preference method), a dict of overrides of
        it (e.g. {"n": 3, "beta": (0.1, 1.0)}; MDPs {"S": 4, "gamma": 0.9}), or a
        ``PreferenceSpace`` / ``MDPSpace`` / ``MatrixSpace``;
    client : a dask.distributed Client for parallel restarts (seeds seed, seed+1, ...);
    workers : how many restarts run at once: None is one per worker of ``client``, else one
        per usable local core; 1 runs seed ``seed`` alone in this process. Without a client,
        seed ``seed`` runs here (with ``progress``) and the others in forked processes;
    max_evaluations : stop after this many instances (deterministic runs, e.g. tests);
    progress : called with the search state after every evaluation (the CLI's bar).
    """
    theorem = _resolve(claim)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int ≥ 0, got {seed!r}")
    if isinstance(budget_seconds, bool) or not (isinstance(budget_seconds, int | float)
                                               and budget_seconds > 0
                                               and math.isfinite(budget_seconds)):
        raise ValueError(f"budget_seconds must be a finite number > 0, got {budget_seconds!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(
            workers, int | np.integer) or workers < 1):
        raise ValueError(f"workers must be None or an int ≥ 1, got {workers!r}")
    if max_evaluations is not None and (isinstance(max_evaluations, bool) or not isinstance(
            max_evaluations, int | np.integer) or max_evaluations < 1):
        raise ValueError(f"max_evaluations must be None or an int ≥ 1, got {max_evaluations!r}")
    chosen = _space(theorem, space)
    if chosen is None:
        return Falsification(theorem.id, None, None, 0, 0.0, searched=False,
                             note="no instance space for "
                                  f"{', '.join(theorem.methods) or repr(theorem.algorithm)} "
                                  f"(searched families: {', '.join(sorted(FAMILIES))})")
    if theorem.status == "slope-only":
        note = "slope-only theorem: the measured constant is reported, never a counterexample"
    else:
        note = ""
    start = time.perf_counter()
    if client is None:
        restarts = _local_restarts(theorem, chosen, budget_seconds, int(seed), max_evaluations,
                                   progress, _usable_cores() if workers is None else workers)
    else:
        restarts = _dask_restarts(client, theorem, chosen, budget_seconds, int(seed),
                                  max_evaluations, workers)
    found = [r.counterexample for r in restarts if r.counterexample is not None]
    best = max((r for r in restarts if r.best is not None), key=lambda r: r.best, default=None)
    return Falsification(
        theorem.id, found[0] if found else None, None if best is None else best.best,
        sum(r.evaluations for r in restarts), time.perf_counter() - start,
        [h for r in restarts for h in r.history], [f for r in restarts for f in r.float_floor],
        None if best is None else best.where, [u for r in restarts for u in r.unconfirmed],
        True, note)
