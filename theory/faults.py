"""The fault battery: each algorithm deliberately broken, and the power of its checks
(issue 17, item 3).

A fault is a *wrapper* around the library's own code at one seam, installed for one run and
removed afterwards; it never copies an update. The seams (``SEAMS``):

=================  =====================================================  ====================
seam               what is wrapped                                        families
=================  =====================================================  ====================
"composition"      ``compositions.COMPOSITIONS[name]``: the composition   preference, matrix,
                   the drivers look up at every step; it is handed the
                   payoff operator F and the prox step S as closures      population
"coefficients"     ``step_coefficients`` as the driver module names it:   the same
                   the (a, b, c) of S from (form, η, β)
"policy-step"      ``prox_step`` as ``solvers.dp_methods`` names it: the  mdp
                   policy update of NPG / PMD / entropy-NPG
"bellman"          ``bellman_operator`` as MDP VI's iterator names it     mdp, robust-mdp
                   (``_vi_module``) / ``RobustBellman.backup`` (robust VI)
"robust-oracle"    ``RobustBellman._sigma``: the worst-case oracle σ_U    robust-mdp
=================  =====================================================  ====================

The faults (``FAULTS``), each applied where its seam and the method's structure exist:

* ``step×0.9``, ``step×1.1``: every step size η (the prox η of an MDP policy update) times
  0.9 or 1.1 while the run is called, hence records, the nominal η;
* ``kick 1e-3`` … ``kick 1``: the iterate (logits, or values for VI) plus s·d once, after
  the step of index ⌊2T/3⌋ (T iterations; inside the window the rate fits read), d a fixed
  pseudo-random direction with max|d| = 1, logits renormalised;
* ``wrong anchor``: the second prox step of a two-step composition (extragradient,
  optimistic, mixture) anchored at the midpoint h instead of ℓ_t;
* ``missing half-step``: extragradient / optimistic with F evaluated at ℓ_t instead of at
  the midpoint h (the half-step's result is discarded: ℓ⁺ = S(ℓ_t, F(ℓ_t)));
* ``wrong opponent``: Nash-MD (mixture) with F at π_t instead of the geometric mixture;
* ``relaxed Bellman 1%``: v ← v + 0.99·(T v − v) (same fixed point, slower);
* ``non-worst oracle 1%``: σ ← σ_U + 0.01·(P̄v − σ_U), 1 % of the way from the worst case
  to the nominal expectation (another fixed point).

``power(quick=True, only=None) -> PowerReport`` runs every algorithm of ``ALGORITHMS`` on
its cases (instances of its theorems' suites: ``nlhf_theorems._cases`` and ``STEP_RULES``,
the MDPs of ``dp_theorems``/``robust_theorems``), first correct, then with each fault, and
checks every run as ``check(trajectory, problem=...)`` does, restricted to the algorithm's
own theorems (``Algorithm.theorems``: id prefixes, since the DP and robust theorems state no
method assumption): every one whose metric is tracked and whose assumptions hold, and the
"local-rate" verdict. A fault is *tried* when it
changes some iterate of some case by more than ``EFFECT_TOL`` = 1e-8 (max-norm, the seam's
recorded outputs against the correct run's), else it is reported as "no effect"; it is
*caught* when some check's status is "fail" on a faulty run while that check did not fail
on the correct run of the same case (a check that fails on the correct run is listed in
``AlgorithmPower.baseline`` and catches nothing). A case whose faulty run raises (e.g. a
step ×1.1 beyond ηβ ≤ 1) is skipped for that fault, with the error kept.
"""

import contextlib
import fnmatch
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nashlab._files import write_atomic
from nashlab._xp import normalize_logits
from nashlab.solvers import compositions, dp_methods, matrix_games, multiplayer, nlhf
from nashlab.solvers.front import run, solve
from nashlab.solvers.robust_bellman import RobustBellman
from nashlab.theory import local_rate as _local_rate  # noqa: F401  (registers "local-rate")
from nashlab.theory.local_rate import LOCAL_RATE_ID
from nashlab.theory.registry import all_theorems
from nashlab.theory.verdicts import check

#: a fault whose iterates differ from the correct run's by at most this is "no effect"
EFFECT_TOL = 1e-8
#: the goal of issue 17: caught / tried over every algorithm
POWER_GOAL = 0.95
KICK_SIZES = (1e-3, 1e-2, 1e-1, 1.0)
RELAXATION = 0.99  # relaxed Bellman: v + ω(Tv − v)
NON_WORST = 0.01   # non-worst oracle: σ_U + ε(P̄v − σ_U)
_KICK_SEED = 20251202

#: the module whose ``step_coefficients`` a family's driver calls
_DRIVERS = {"preference": nlhf, "matrix": matrix_games, "population": multiplayer}


# ---- seams ------------------------------------------------------------------------------

def _target(seam, family, composition):
    """(owner, attribute) that ``seam`` replaces for ``family``: a dict, module or class."""
    if seam == "composition":
        return compositions.COMPOSITIONS, composition
    if seam == "coefficients":
        return _DRIVERS[family], "step_coefficients"
    if seam == "policy-step":
        return dp_methods, "prox_step"
    if seam == "bellman":
        return (_vi_module(), "bellman_operator") if family == "mdp" else (RobustBellman, "backup")
    if seam == "robust-oracle":
        return RobustBellman, "_sigma"
    raise ValueError(f"seam must be one of {SEAMS}, got {seam!r}")


def _vi_module():
    """The module whose ``bellman_operator`` MDP value iteration calls: the stopping-rule
    iterator ``solvers.dp_stopping`` where it exists, else ``solvers.dp_methods``."""
    try:
        from nashlab.solvers import dp_stopping
    except ImportError:
        return dp_methods
    return dp_stopping if hasattr(dp_stopping, "bellman_operator") else dp_methods


SEAMS = ("composition", "coefficients", "policy-step", "bellman", "robust-oracle")


@contextlib.contextmanager
def _wrapped(owner, name, make):
    """Replace ``owner.name`` (or ``owner[name]``) by ``make(original)`` for the block."""
    is_dict = isinstance(owner, dict)
    original = owner[name] if is_dict else getattr(owner, name)
    replacement = make(original)
    if is_dict:
        owner[name] = replacement
    else:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        if is_dict:
            owner[name] = original
        else:
            setattr(owner, name, original)


def _iterate_of(seam, output):
    """The iterate a seam's call produced, as one flat array (what the recorder keeps)."""
    if seam == "composition":
        new = output[0]
        return np.concatenate([np.ravel(b) for b in new]) if isinstance(new, tuple) else np.ravel(new)
    if seam == "bellman" and isinstance(output, tuple):  # RobustBellman.backup: (values, policy)
        return np.ravel(output[0])
    return np.ravel(output)


def _recording(seam, log):
    """A wrapper maker that appends each call's iterate to ``log`` (a plain function, so
    that it also works as a method: the instance is its first argument)."""
    def make(original):
        def recorder(*args, **kwargs):
            out = original(*args, **kwargs)
            log.append(_iterate_of(seam, out))
            return out
        return recorder
    return make


# ---- the faults -------------------------------------------------------------------------

def _scaled_step(factor):
    """η ↦ factor·η in the step coefficients / the prox step (∞ stays ∞: no effect)."""
    def coefficients(original):
        return lambda form, eta, beta: original(form, eta * factor, beta)

    def prox(original):
        def step(log_anchor, g, *, eta, beta, log_reference):
            return original(log_anchor, g, eta=eta * factor, beta=beta,
                            log_reference=log_reference)
        return step
    return {"coefficients": coefficients, "policy-step": prox}


def _direction(shape):
    d = np.random.default_rng(_KICK_SEED).standard_normal(shape)
    return d / np.max(np.abs(d))


def _kicked(size, at):
    """Add size·d to the iterate the seam returns at its call of index ``at``."""
    def composition(original):
        calls = [0]

        def compose(logits, payoff, step, predictor=None):
            new, half, g = original(logits, payoff, step, predictor)
            if calls[0] == at:
                new = (tuple(normalize_logits(b + size * _direction(b.shape)) for b in new)
                       if isinstance(new, tuple) else
                       normalize_logits(new + size * _direction(new.shape)))
            calls[0] += 1
            return new, half, g
        return compose

    def policy_step(original):
        calls = [0]

        def step(*args, **kwargs):
            out = original(*args, **kwargs)
            if calls[0] == at:
                out = normalize_logits(out + size * _direction(out.shape))
            calls[0] += 1
            return out
        return step

    def bellman(original):
        calls = [0]

        def backup(first, v, *args, **kwargs):  # first: the MDP, or the RobustBellman
            out = original(first, v, *args, **kwargs)
            if calls[0] == at:
                out = _map_values(out, lambda values: values + size * _direction(values.shape))
            calls[0] += 1
            return out
        return backup
    return {"composition": composition, "policy-step": policy_step, "bellman": bellman}


def _wrong_anchor(original):
    """The composition's second prox step anchored at the midpoint h (its first output)."""
    def compose(logits, payoff, step, predictor=None):
        outputs = []

        def anchored(anchor, g):
            out = step(outputs[0] if outputs else anchor, g)
            outputs.append(out)
            return out
        return original(logits, payoff, anchored, predictor)
    return compose


def _payoff_at_anchor(original):
    """F evaluated at ℓ_t wherever the composition asks for it (the midpoint is not used)."""
    def compose(logits, payoff, step, predictor=None):
        return original(logits, lambda z: payoff(logits), step, predictor)
    return compose


def _map_values(out, f):
    """Apply ``f`` to the values of a Bellman seam's output (values, or (values, policy))."""
    return (f(out[0]),) + tuple(out[1:]) if isinstance(out, tuple) else f(out)


def _relaxed(original):
    """v ↦ v + ω·(T v − v), ω = ``RELAXATION`` (a function of (mdp or operator, v, ...))."""
    def backup(first, v, *args, **kwargs):
        out = original(first, v, *args, **kwargs)
        return _map_values(out, lambda values: v + RELAXATION * (values - v))
    return backup


def _non_worst(original):
    """σ ↦ σ_U + ε·(P̄v − σ_U), ε = ``NON_WORST``: not the worst case any more."""
    def sigma(self, v, want_kernel):
        values, kernel = original(self, v, want_kernel)
        return values + NON_WORST * (self.mdp.expected_next(v) - values), kernel
    return sigma


@dataclass(frozen=True)
class Fault:
    """One fault: ``wrappers`` maps a seam to ``make(original) -> replacement`` (a maker
    that takes the kick's call index when ``timed``); ``compositions`` restricts it to
    methods whose composition is listed (None: any)."""

    name: str
    wrappers: dict
    description: str
    compositions: tuple | None = None
    timed: bool = False

    def seam_for(self, algorithm) -> str | None:
        """The seam this fault is installed at for ``algorithm`` (None: not applicable)."""
        if self.compositions is not None and algorithm.composition not in self.compositions:
            return None
        for seam in algorithm.seams:
            if seam in self.wrappers:
                return seam
        return None


_TWO_STEP = ("extragradient", "optimistic", "mixture")

FAULTS = (
    Fault("step×0.9", _scaled_step(0.9), "every step size ×0.9, the nominal η recorded"),
    Fault("step×1.1", _scaled_step(1.1), "every step size ×1.1, the nominal η recorded"),
    *(Fault(f"kick {s:g}", {seam: (lambda at, s=s, seam=seam: _kicked(s, at)[seam])
                            for seam in ("composition", "policy-step", "bellman")},
            f"iterate + {s:g}·d once, after step ⌊2T/3⌋", timed=True)
      for s in KICK_SIZES),
    Fault("wrong anchor", {"composition": _wrong_anchor},
          "second prox step anchored at the midpoint h instead of ℓ_t", _TWO_STEP),
    Fault("missing half-step", {"composition": _payoff_at_anchor},
          "F at ℓ_t instead of the midpoint: the half-step is discarded",
          ("extragradient", "optimistic")),
    Fault("wrong opponent", {"composition": _payoff_at_anchor},
          "Nash-MD playing π_t instead of the geometric mixture", ("mixture",)),
    Fault("relaxed Bellman 1%", {"bellman": _relaxed}, "v ← v + 0.99·(Tv − v)"),
    Fault("non-worst oracle 1%", {"robust-oracle": _non_worst},
          "σ ← σ_U + 0.01·(P̄v − σ_U) (not the worst case)"),
)


# ---- algorithms and their cases -----------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One run of an algorithm: ``nashlab.run(problem, method, solution=..., backend=...,
    **options)``; ``solve_options`` are ``nashlab.solve``'s (the ground truth)."""

    label: str
    problem: object
    options: dict
    solve_options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Algorithm:
    """An algorithm of the battery: its method, the seams a fault can use (in order of
    preference; the first is also where the iterates are recorded), its cases and the id
    prefixes of its theorems."""

    name: str
    family: str
    method: str
    seams: tuple
    cases: Callable[[bool], list]
    composition: str | None = None
    backend: str | None = "numpy"
    theorems: tuple = ()

    def owns(self, check_id) -> bool:
        """Whether ``check_id`` is one of this algorithm's checks: the local rate, or a
        theorem id starting with one of ``theorems`` (the DP and robust theorems state no
        method assumption, so ``applicable_theorems`` also offers e.g. the VI contraction
        for a PMD run: those are another algorithm's statements and are left out)."""
        return check_id == LOCAL_RATE_ID or bool(self.theorems) and check_id.startswith(self.theorems)


def _preference_cases(method, rules):
    def cases(quick):
        from nashlab.theory import nlhf_theorems as nt

        families = ("uniform",) if quick else ("uniform", "bradley-terry", "cyclic")
        out = []
        for rule in rules:
            for label, game, init in nt._cases(quick, betas=(0.1, 1.0)):
                if label.split()[0] not in families:
                    continue
                eta, iterations = nt.STEP_RULES[rule](game.beta, quick)
                track = tuple(sorted({"kl", "exploitability", *nt.TRACKED.get(rule, ())}))
                options = {"eta": eta, "iterations": iterations, "init": init, "track": track}
                if eta is None:
                    options["schedule"] = "munos"
                out.append(Case(f"{label} [{rule}]", game, options))
        return out
    return cases


def _matrix_cases(method, step, quick_taus=(0.1, 1.0)):
    def cases(quick):
        from nashlab.games.matrix import random_matrix_game
        from nashlab.theory.common import iterations_for

        out = []
        for tau in quick_taus if quick else (0.1, 1.0):
            game = random_matrix_game(8, 10, tau=tau, seed=3, batch_shape=(3,))
            eta, rate = step(tau, game.scale)
            iterations = iterations_for(rate, 1500 if quick else 8000)
            out.append(Case(f"A~U(-1,1) 8×10 ×3 τ={tau:g} η={eta:.4g}", game,
                            {"eta": eta, "iterations": iterations, "track": ("kl", "duality_gap")}))
        return out
    return cases


def _population_cases(eta):
    def cases(quick):
        from nashlab.games.generators import random_preference
        from nashlab.games.population import Population
        from nashlab.theory.common import iterations_for

        out = []
        for beta in (0.1, 1.0):
            population = Population(random_preference(8, beta=beta, seed=4), 3)
            iterations = iterations_for((1 + eta * beta) ** -2, 600 if quick else 3000)
            out.append(Case(f"3 players × uniform n=8 β={beta:g} η={eta:g}", population,
                            {"eta": eta, "iterations": iterations,
                             "track": ("kl", "nikaido_isoda")}))
        return out
    return cases


def _mdps(quick):
    from nashlab.games.mdp_problems import garnet, riverswim

    yield "riverswim(γ=0.9)", riverswim(6, gamma=0.9)
    yield "garnet(15,3,4,s=0,γ=0.9)", garnet(15, 3, 4, 0, gamma=0.9)


def _vi_cases(quick):
    from nashlab.games.regularizers import Entropy

    out = []
    for label, mdp in _mdps(quick):
        for reg in (None, Entropy(0.1)):
            name = "none" if reg is None else repr(reg)
            out.append(Case(f"vi[{name}] {label}", mdp,
                            {"iterations": 120 if quick else 240, "regularizer": reg},
                            {"regularizer": reg}))
    return out


def _policy_cases(method, settings):
    def cases(quick):
        out = []
        for label, mdp in _mdps(quick):
            for name, options in settings(mdp):
                out.append(Case(f"{method}({name}) {label}", mdp,
                                {"iterations": 150 if quick else 300, **options},
                                {"regularizer": options.get("regularizer")}))
        return out
    return cases


def _npg_entropy_settings(mdp):
    from nashlab.games.regularizers import Entropy

    for tau in (0.1, 1.0):  # local rate ρ = 1 − ητ/(1−γ) = 0.9: the fit window is asymptotic
        eta = 0.1 * (1 - mdp.gamma) / tau
        yield f"τ={tau}, η=0.1·(1−γ)/τ", {"regularizer": Entropy(tau), "eta": eta}


def _pmd_settings(mdp):
    from nashlab.games.regularizers import Entropy

    for tau in (0.1, 1.0):
        yield f"Entropy({tau})", {"regularizer": Entropy(tau)}


def _npg_settings(mdp):
    for growth in (1.0, 1 / mdp.gamma):
        yield f"η0=1, growth={growth:.4g}", {"eta": 1.0, "step_growth": growth}


def _robust_vi_cases(quick):
    from nashlab.games.uncertainty import KLBall, L1Ball

    out = []
    for name, unc in (("l1-sa", L1Ball(0.3)), ("kl", KLBall(0.2))):
        for label, mdp in _mdps(quick):
            out.append(Case(f"robust vi[{name}] {label}", mdp,
                            {"iterations": 120 if quick else 240, "uncertainty": unc},
                            {"uncertainty": unc}))
    return out


_GAME_SEAMS = ("composition", "coefficients")
ALGORITHMS = (
    Algorithm("nash-mp", "preference", "nash-mp", _GAME_SEAMS,
              _preference_cases("nash-mp", ("nash-mp",)), "extragradient", theorems=("nash-mp/",)),
    Algorithm("nash-md", "preference", "nash-md", _GAME_SEAMS,
              _preference_cases("nash-md", ("nash-md-constant", "nash-md-munos")), "mixture",
              theorems=("nash-md/",)),
    Algorithm("egpo", "preference", "egpo", _GAME_SEAMS,
              _preference_cases("egpo", ("egpo-nash-mp", "egpo-cen")), "extragradient",
              theorems=("egpo/",)),
    Algorithm("omd", "preference", "omd", _GAME_SEAMS,
              _preference_cases("omd", ("omd-stable",)), "single", theorems=("omd/",)),
    Algorithm("omwu", "preference", "omwu", _GAME_SEAMS,
              _preference_cases("omwu", ("omwu",)), "optimistic", theorems=("omwu/",)),
    Algorithm("mmd", "preference", "mmd", _GAME_SEAMS,
              _preference_cases("mmd", ("mmd-2beta", "mmd-4beta")), "single",
              theorems=("mmd/",)),
    Algorithm("matrix/mmd", "matrix", "mmd", _GAME_SEAMS,
              _matrix_cases("mmd", lambda tau, L: (tau / L ** 2, 1 / (1 + tau ** 2 / L ** 2) ** 2)),
              "single", theorems=("mmd/matrix-game",)),
    # the steps of the matrix_theorems suites: PU η = 1/(τ+L), Mirror Prox γ = 1/L (the
    # mirror-descent step γ/(1+γτ)), OMWU η = min{1/(2τ+2L), 1/(4L)}; quick: τ = 1 only
    # (τ = 0.1 takes up to 600 steps per run)
    Algorithm("matrix/pu", "matrix", "pu", _GAME_SEAMS,
              _matrix_cases("pu", lambda tau, L: (1 / (tau + L), (1 - tau / (tau + L)) ** 2), (1.0,)),
              "extragradient", theorems=("pu/matrix-game",)),
    Algorithm("matrix/mirror-prox", "matrix", "mirror-prox", _GAME_SEAMS,
              _matrix_cases("mirror-prox", lambda tau, L: (1 / L, (1 - tau / (L + tau)) ** 2), (1.0,)),
              "extragradient", theorems=("mirror-prox/",)),
    Algorithm("matrix/omwu", "matrix", "omwu", _GAME_SEAMS,
              _matrix_cases("omwu", lambda tau, L: (min(1 / (2 * tau + 2 * L), 1 / (4 * L)),
                                                    (1 - tau * min(1 / (2 * tau + 2 * L),
                                                                   1 / (4 * L))) ** 2),
                            (1.0,)),
              "optimistic", theorems=("omwu/matrix-game",)),
    # populations (no registered theorem: the local rate is their only check)
    Algorithm("population/prox", "population", "prox", _GAME_SEAMS, _population_cases(1.0),
              "single"),
    Algorithm("population/mirror-prox", "population", "mirror-prox", _GAME_SEAMS,
              _population_cases(2.0), "extragradient"),
    Algorithm("mdp/vi", "mdp", "vi", ("bellman",), _vi_cases,
              theorems=("dp.vi.", "dp.regularized-vi.")),
    Algorithm("mdp/npg-entropy", "mdp", "npg-entropy", ("policy-step",),
              _policy_cases("npg-entropy", _npg_entropy_settings), theorems=("dp.npg-entropy.",)),
    Algorithm("mdp/pmd", "mdp", "pmd", ("policy-step",), _policy_cases("pmd", _pmd_settings),
              theorems=("dp.pmd.",)),
    Algorithm("mdp/npg", "mdp", "npg", ("policy-step",), _policy_cases("npg", _npg_settings),
              theorems=("dp.npg.",)),
    Algorithm("robust-mdp/vi", "robust-mdp", "vi", ("bellman", "robust-oracle"),
              _robust_vi_cases, backend="auto", theorems=("robust.vi.",)),
)


def algorithms(only=None) -> list:
    """The algorithms whose name matches ``only`` (a glob if it has * ? [, else a substring)."""
    if only is None:
        return list(ALGORITHMS)
    if not isinstance(only, str):
        raise TypeError(f"only must be a pattern string or None, got {type(only).__name__}")
    glob = any(c in only for c in "*?[")
    return [a for a in ALGORITHMS if (fnmatch.fnmatch(a.name, only) if glob else only in a.name)]


# ---- running and checking -------------------------------------------------------------------

def _run_case(algorithm, case, solution, fault=None):
    """(trajectory, recorded iterates) of one run, with ``fault`` installed if given."""
    log = []
    options = dict(case.options)
    if algorithm.backend is not None:
        options["backend"] = algorithm.backend
    record_seam = algorithm.seams[0]
    with contextlib.ExitStack() as stack:
        if fault is not None:
            seam = fault.seam_for(algorithm)
            make = fault.wrappers[seam]
            if fault.timed:
                make = make(2 * case.options["iterations"] // 3)
            stack.enter_context(_wrapped(*_target(seam, algorithm.family, algorithm.composition),
                                         make))
        stack.enter_context(_wrapped(*_target(record_seam, algorithm.family,
                                              algorithm.composition),
                                     _recording(record_seam, log)))
        trajectory = run(case.problem, algorithm.method, solution=solution, **options)
    return trajectory, log


def _effect(nominal, faulty) -> float:
    """max over calls of ‖faulty − nominal‖∞ (∞ when the runs differ in length or shape, or
    where one is NaN and the other is not; equal infinities count as no change)."""
    if len(nominal) != len(faulty):
        return math.inf
    worst = 0.0
    for a, b in zip(nominal, faulty, strict=True):
        if a.shape != b.shape:
            return math.inf
        with np.errstate(invalid="ignore"):
            diff = np.where(a == b, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(a) & np.isnan(b), 0.0, diff)
        if np.isnan(diff).any():
            return math.inf
        worst = max(worst, float(diff.max(initial=0.0)))
    return worst


@dataclass(frozen=True)
class _Error:
    """A check that raised on a run: neither a pass nor a catch (listed in the baseline)."""

    theorem_id: str
    reason: str
    status: str = "error"


def _holds(assumption, params) -> bool:
    """Whether ``assumption`` holds; a KeyError (params lack a key it reads, e.g. τ of a
    matrix-game theorem on a preference run) means it does not."""
    try:
        return bool(assumption.holds(params))
    except KeyError:
        return False


def _applicable(algorithm, trajectory) -> list:
    """The registered theorems ``algorithm`` owns whose metric the run tracks and whose
    assumptions hold for its params (``verdicts.applicable_theorems`` restricted to them)."""
    return [t for t in all_theorems() if algorithm.owns(t.id) and t.metric in trajectory.metrics
            and all(_holds(a, trajectory.params) for a in t.assumptions)]


def _verdicts(algorithm, trajectory, case) -> dict:
    """{check id: Verdict} of every check of the run that ``algorithm`` owns: its
    applicable theorems and the local-rate verdict (what ``check(trajectory, problem=...)``
    lists, restricted to the algorithm); a check that raises is an ``_Error``."""
    out = {}
    for item in [*_applicable(algorithm, trajectory), LOCAL_RATE_ID]:
        cid = item if isinstance(item, str) else item.id
        try:
            out[cid] = check(trajectory, item, problem=case.problem)
        except Exception as exc:  # a broken check must not stop the battery; it is reported
            out[cid] = _Error(cid, f"{type(exc).__name__}: {exc}")
    return out


@dataclass(frozen=True)
class FaultResult:
    """One fault on one algorithm over its cases.

    effect : max change of an iterate over the cases (0 where not applicable).
    caught_by : (check id, case label) for every check whose status is "fail" on the faulty
        run of a case while it did not fail on the correct run of that case.
    escaped : {check id: its worst status on the faulty runs (fail > pass > inconclusive >
        error), with the verdict's reason where it is not a pass} for the checks that never
        caught the fault.
    skipped : the errors of cases whose faulty run raised.
    applicable : whether the method has the fault's seam and structure.
    """

    fault: str
    effect: float
    caught_by: tuple
    escaped: dict
    skipped: tuple = ()
    applicable: bool = True

    @property
    def tried(self) -> bool:
        return self.applicable and self.effect > EFFECT_TOL

    @property
    def caught(self) -> bool:
        return self.tried and bool(self.caught_by)

    def caught_without(self, check_id) -> bool:
        """Caught by some check other than ``check_id`` (e.g. without the local rate)."""
        return self.tried and any(c != check_id for c, _ in self.caught_by)

    def reason(self) -> str:
        """Why it escaped: each check and its status on the faulty runs."""
        if not self.escaped:
            return "no check of the algorithm ran on it (no theorem applies, no local rate)"
        return "; ".join(f"{c}: {s}" for c, s in sorted(self.escaped.items()))


@dataclass(frozen=True)
class AlgorithmPower:
    """The battery on one algorithm: ``checks`` ran on its correct runs; ``baseline`` lists
    (case, check, status, reason) for the correct runs' checks that did not pass."""

    algorithm: str
    checks: tuple
    baseline: tuple
    faults: tuple

    @property
    def tried(self) -> int:
        return sum(f.tried for f in self.faults)

    @property
    def caught(self) -> int:
        return sum(f.caught for f in self.faults)

    def caught_without(self, check_id) -> int:
        return sum(f.caught_without(check_id) for f in self.faults)

    @property
    def escapes(self) -> list:
        return [[f.fault, f.reason()] for f in self.faults if f.tried and not f.caught]

    @property
    def no_effect(self) -> list:
        return [f.fault for f in self.faults if f.applicable and not f.tried]


@dataclass(frozen=True)
class PowerReport:
    """The battery over the algorithms; ``to_json()`` is power.json's content."""

    algorithms: tuple
    quick: bool

    @property
    def tried(self) -> int:
        return sum(a.tried for a in self.algorithms)

    @property
    def caught(self) -> int:
        return sum(a.caught for a in self.algorithms)

    def caught_without(self, check_id=LOCAL_RATE_ID) -> int:
        """Faults caught by a check other than ``check_id`` (default: without the local rate)."""
        return sum(a.caught_without(check_id) for a in self.algorithms)

    @property
    def fraction(self) -> float:
        return self.caught / self.tried if self.tried else math.nan

    def by_check(self) -> dict:
        """{check id: (faults it caught, faults tried on the algorithms it checks)}: the power
        of each theorem (and of the local-rate verdict, summed over the algorithms)."""
        out = {}
        for a in self.algorithms:
            for cid in a.checks:
                caught = sum(f.tried and any(c == cid for c, _ in f.caught_by) for f in a.faults)
                before = out.get(cid, (0, 0))
                out[cid] = (before[0] + caught, before[1] + a.tried)
        return out

    def to_json(self) -> dict:
        return {"caught": self.caught, "tried": self.tried,
                "algorithms": {a.algorithm: {"caught": a.caught, "tried": a.tried,
                                             "escapes": a.escapes} for a in self.algorithms}}


_SEVERITY = {"fail": 3, "pass": 2, "inconclusive": 1, "error": 0}


def _status_note(verdict, failed_correctly) -> str:
    """A verdict's status for an escape's reason: "pass", or the status with its reason."""
    if verdict.status == "pass":
        return "pass"
    if verdict.status == "fail" and failed_correctly:
        return "fail, but it fails on the correct run too"
    reason = verdict.reason.removeprefix("inconclusive: ")
    return f"{verdict.status} ({reason[:120]}{'…' if len(reason) > 120 else ''})"


def _power_of(algorithm, quick) -> AlgorithmPower:
    cases = algorithm.cases(quick)
    nominal, checks, baseline = [], set(), []
    for case in cases:
        solution = solve(case.problem, **case.solve_options)
        trajectory, log = _run_case(algorithm, case, solution)
        verdicts = _verdicts(algorithm, trajectory, case)
        checks.update(verdicts)
        baseline += [(case.label, cid, v.status, v.reason) for cid, v in verdicts.items()
                     if v.status != "pass"]
        nominal.append((case, solution, log, verdicts))
    results = []
    for fault in FAULTS:
        if fault.seam_for(algorithm) is None:
            results.append(FaultResult(fault.name, 0.0, (), {}, applicable=False))
            continue
        effect, caught, worst, skipped = 0.0, [], {}, []
        for case, solution, log, correct in nominal:
            try:
                trajectory, faulty_log = _run_case(algorithm, case, solution, fault)
            except (ValueError, FloatingPointError) as exc:
                skipped.append(f"{case.label}: {type(exc).__name__}: {exc}")
                continue
            change = _effect(log, faulty_log)
            effect = max(effect, change)
            if change <= EFFECT_TOL:
                continue
            for cid, verdict in _verdicts(algorithm, trajectory, case).items():
                failed_correctly = cid in correct and correct[cid].status == "fail"
                if verdict.status == "fail" and not failed_correctly:
                    caught.append((cid, case.label))
                note = _status_note(verdict, failed_correctly)
                if cid not in worst or _SEVERITY[verdict.status] > worst[cid][0]:
                    worst[cid] = (_SEVERITY[verdict.status], note)
        escaped = {cid: note for cid, (_, note) in worst.items()
                   if all(c != cid for c, _ in caught)}
        results.append(FaultResult(fault.name, effect, tuple(caught), escaped, tuple(skipped)))
    return AlgorithmPower(algorithm.name, tuple(sorted(checks)), tuple(baseline), tuple(results))


def power(quick=True, only=None, checks=None) -> PowerReport:
    """Run the fault battery (module docstring) on the algorithms matching ``only``; with
    ``checks`` (an iterable of theorem ids) only on those that own one of them (what
    ``nashlab verify`` needs for the power column of the theorems it ran)."""
    chosen = algorithms(only)
    if checks is not None:
        if isinstance(checks, str):
            raise TypeError("checks must be an iterable of theorem ids, not one string")
        ids = [c for c in checks if c != LOCAL_RATE_ID]
        chosen = [a for a in chosen if any(a.owns(c) for c in ids)]
    return PowerReport(tuple(_power_of(a, bool(quick)) for a in chosen), bool(quick))


def write_json(report, out) -> Path:
    """Write ``report.to_json()`` to ``out``/power.json atomically (temporary file, then
    rename); returns the path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "power.json"
    write_atomic(path, (json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n").encode())
    return path
