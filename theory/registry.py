"""Theorems as objects: statement, assumptions, bound (sympy), source and status.

A theorem bounds one metric of a ``Trajectory`` (``trajectory.metrics[metric]``) in the
symbols of ``SYMBOLS``; the values come from ``trajectory.params`` and the trajectory itself:

* ``k``     the iteration index (0 is the initial point),
* ``err0``  the metric at k = 0 (e.g. KL₀ = KL(π*‖π₀)),
* ``prev``  the metric at k − 1 (for per-step statements),
* ``n``     the number of actions, ``params["n_actions"]`` (an int),
* ``S``     the number of states, ``params["n_states"]`` (an int),
* any other symbol by its name in ``trajectory.params`` (β, η, γ, τ, δ, D0, ...) or, where a
  solver records it per iteration, in ``trajectory.metrics`` (``N`` = "queries", η).

``form`` says how the bound is read:
* "envelope":  metric[k] ≤ bound(k, err0, params) for every k ≥ 0;
* "per-step":  metric[k] ≤ bound(prev = metric[k−1], params) for every k ≥ 1.

``rate`` (optional) is the per-iteration factor the theorem promises; ``check`` compares
the fitted slope of log(metric) against it. ``suite(quick)`` yields labelled trajectories
the theorem is checked on by ``nashlab verify``.
"""

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sympy

#: Named symbols bounds are written in. Add new ones here (one place), never ad hoc.
SYMBOLS = {
    name: sympy.Symbol(name, positive=True)
    for name in ("beta", "eta", "k", "err0", "prev", "n", "S", "N", "delta", "gamma", "tau",
                 "alpha", "L", "C1", "C2", "T", "vartheta", "D0")
}

STATUSES = ("paper-verified", "derived", "slope-only")
FORMS = ("envelope", "per-step")


_ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}(v\d+)?")


@dataclass(frozen=True)
class Source:
    """Where the statement comes from: ``arxiv`` is the arXiv id, or None for a work that
    has none (then ``title`` names the venue, e.g. "(Iyengar, Math. Oper. Res. 30(2), 2005)")."""

    title: str
    arxiv: str | None
    locator: str  # "Theorem 1", "Lemma 2", "abstract", ...

    def __post_init__(self):
        if self.arxiv is not None and not _ARXIV_ID.fullmatch(self.arxiv):
            raise ValueError(f"arxiv must be an arXiv id such as '2312.00886' or None, "
                             f"got {self.arxiv!r}")

    @property
    def reference(self) -> str:
        """The short reference: "arXiv <id>", or the title for a work without one."""
        return f"arXiv {self.arxiv}" if self.arxiv else self.title

    def __str__(self):
        where = f" (arXiv {self.arxiv})" if self.arxiv else ""
        return f"{self.title}{where}, {self.locator}"


@dataclass(frozen=True)
class Assumption:
    """An executable hypothesis of a theorem: ``holds(params) -> bool``."""

    description: str
    holds: Callable[[dict], bool]


@dataclass(frozen=True)
class Theorem:
    id: str
    algorithm: str
    statement: str
    metric: str
    bound: sympy.Expr
    source: Source
    status: str
    assumptions: tuple = ()
    form: str = "envelope"
    rate: sympy.Expr | None = None
    derivation: str = ""
    suite: Callable[[bool], Iterable] | None = field(default=None, compare=False)
    #: why its suite is expected to give "inconclusive" verdicts ("" = it is not): verify
    #: then shows them as such without failing
    expected_inconclusive: str = ""
    #: the methods it is about, as "family/method" (``params["family"]``,
    #: ``params["method"]``): ``check(trajectory)`` without an id applies it to those runs
    #: only, and verify refuses a suite trajectory of another method. Empty (a user's own
    #: statement, checked by id): no restriction, and never applied without an id
    methods: tuple = ()

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {self.form!r}")
        bad = [m for m in self.methods if not (isinstance(m, str) and m.count("/") == 1)]
        if bad or isinstance(self.methods, str):
            raise ValueError(f"methods of {self.id} must be a tuple of 'family/method' "
                             f"strings, got {self.methods!r}")
        unknown = {s.name for s in self.bound.free_symbols} - set(SYMBOLS)
        if unknown:
            raise ValueError(f"bound of {self.id} uses unknown symbols {sorted(unknown)}")


_REGISTRY: dict[str, Theorem] = {}

#: Modules whose import registers the library's theorems and claims (add new ones here).
THEOREM_MODULES = (
    "nashlab.theory.nlhf_theorems",
    "nashlab.theory.matrix_theorems",
    "nashlab.theory.dp_theorems",
    "nashlab.theory.robust_theorems",
)
#: Entry-point group of theorem/claim modules that need an optional extra. A higher layer
#: registers one in its packaging metadata (``[project.entry-points."nashlab.theorems"]
#: neural = "<module>"``); importing the module registers its claims. Only ``nashlab verify``
#: loads them (and says which extra is missing when one cannot be imported), so registration
#: goes one way: the theory layer never names a module above it.
THEOREM_ENTRY_POINTS = "nashlab.theorems"
_builtin_loaded = False


def load_builtin_theorems() -> None:
    """Import ``THEOREM_MODULES`` once, so that ``get`` and ``all_theorems`` see them."""
    global _builtin_loaded
    if not _builtin_loaded:
        _builtin_loaded = True
        for name in THEOREM_MODULES:
            importlib.import_module(name)


def optional_theorem_modules() -> dict[str, str]:
    """The installed ``THEOREM_ENTRY_POINTS``: {extra name: module}, sorted by name."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in sorted(entry_points(group=THEOREM_ENTRY_POINTS),
                                               key=lambda ep: ep.name)}


def register(theorem: Theorem) -> Theorem:
    """Add a theorem; ids are unique."""
    if theorem.id in _REGISTRY:
        raise ValueError(f"theorem {theorem.id!r} is already registered")
    _REGISTRY[theorem.id] = theorem
    return theorem


class UnknownTheoremError(ValueError, KeyError):
    """An id that names no registered theorem: a ValueError, as every bad argument value of
    the public functions; also a KeyError for callers written against the earlier lookup
    (the pattern of numpy's AxisError, a ValueError and an IndexError)."""

    __str__ = Exception.__str__  # the message as written, not KeyError's repr of it


def get(theorem_id: str) -> Theorem:
    """The registered theorem ``theorem_id``: a TypeError for an id that is not a str, an
    ``UnknownTheoremError`` (ValueError) naming the known ids for an unknown one."""
    if not isinstance(theorem_id, str):
        raise TypeError(f"a theorem id must be a str such as 'nash-mp/kl-contraction', got "
                        f"{type(theorem_id).__name__}")
    load_builtin_theorems()
    try:
        return _REGISTRY[theorem_id]
    except KeyError:
        raise UnknownTheoremError(f"unknown theorem {theorem_id!r}; known: "
                                  f"{sorted(_REGISTRY)}") from None


def all_theorems() -> list[Theorem]:
    load_builtin_theorems()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
