"""Check every registered theorem and claim on its suite; results and the report
(the ``nashlab verify`` command is :mod:`nashlab.cli.verify`).

The theorem modules are ``registry.THEOREM_MODULES`` (an import error there is an error) and
``registry.OPTIONAL_THEOREM_MODULES`` (skipped, with the reason printed, when their extra is
not installed). Each theorem's ``suite(quick)`` yields
labelled trajectories; ``nashlab.theory.check`` gives one verdict per trajectory
(worst over its batch); a claim's criterion gets the whole suite. A suite that raises counts
as a failure (``Result.error``), never a crash.

``write_report(out, ...)`` writes to ``out``, every file atomically: ``<algorithm>.png`` (one
per algorithm), ``comparison.png`` (every NLHF algorithm on one game) and ``report.md``.
"""

import fnmatch
import importlib
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nashlab._files import write_atomic
from nashlab.theory import report
from nashlab.theory import verdicts as checking
from nashlab.theory.registry import (
    THEOREM_MODULES,
    Theorem,
    all_theorems,
    load_builtin_theorems,
    optional_theorem_modules,
)


@dataclass
class Result:
    """The outcome of one theorem or claim on its suite."""

    item: object  # Theorem or check.Claim
    verdicts: list = field(default_factory=list)  # [(label, Verdict)]
    trajectories: list = field(default_factory=list)  # [(label, Trajectory)]
    error: str | None = None
    seconds: float = 0.0
    #: [(label, Verdict)] of the "local-rate" verdict, for suite cases that yield their
    #: problem too: (label, trajectory, problem)
    local_rates: list = field(default_factory=list)

    @property
    def status(self) -> str:
        """"ERROR" (the suite raised), "FAIL" (some verdict failed), "inconclusive" (no
        verdict, or some inconclusive and none failed) or "pass"."""
        if self.error is not None:
            return "ERROR"
        statuses = {v.status for _, v in self.verdicts}
        if "fail" in statuses:
            return "FAIL"
        if not statuses or "inconclusive" in statuses:
            return "inconclusive"
        return "pass"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def acceptable(self) -> bool:
        """Passed, or inconclusive where the item says its suite is expected to be."""
        return self.passed or (self.status == "inconclusive"
                               and bool(getattr(self.item, "expected_inconclusive", "")))

    @property
    def evidence(self) -> int:
        return sum(v.evidence for _, v in self.verdicts)

    @property
    def games(self) -> int:
        return sum(int(np.prod(np.shape(next(iter(t.metrics.values())))[1:], dtype=int))
                   for _, t in self.trajectories)


def load_theorem_modules(optional=None, echo=print) -> list[str]:
    """Import the library's theorem modules (a failure there is an error, never a silent skip:
    verify would otherwise pass with theorems missing), then the ``optional`` ones
    ({extra name: module}; default: the installed ``nashlab.theorems`` entry points), each
    skipped with the missing extra named when it cannot be imported. Returns the modules loaded."""
    load_builtin_theorems()
    loaded = list(THEOREM_MODULES)
    optional = optional_theorem_modules() if optional is None else dict(optional)
    if not optional:  # a stale install: the higher layers' claims would go missing silently
        echo("no 'nashlab.theorems' entry points are installed, so no claims of the higher "
             "layers are checked (pip install -e . registers them)")
    for extra, name in optional.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or not (exc.name or "").startswith("nashlab"):
                echo(f"{extra} claims skipped: install the {extra} extra "
                     f"({name}: {type(exc).__name__}: {exc})")
                continue
            raise  # a missing nashlab module inside it is a bug, not a missing extra
        loaded.append(name)
    return loaded


def selected(pattern=None) -> list:
    """Registered theorems and claims whose id matches ``pattern`` (a glob if it has
    wildcards, else a substring), theorems first."""
    items = list(all_theorems()) + list(checking.all_claims())
    if pattern is None:
        return items
    glob = any(c in pattern for c in "*?[")
    return [i for i in items if (fnmatch.fnmatch(i.id, pattern) if glob else pattern in i.id)]


def run_item(item, quick) -> Result:
    """Run one theorem's or claim's suite and check it."""
    result = Result(item)
    start = time.perf_counter()
    try:
        if item.suite is None:
            raise ValueError(f"{item.id} has no suite")
        cases = [tuple(case) for case in item.suite(quick)]
        result.trajectories = [case[:2] for case in cases]
        if isinstance(item, Theorem):
            strangers = {checking.run_method(t) for _, t, *_ in cases} - set(item.methods)
            if item.methods and strangers:
                raise ValueError(f"the suite runs {sorted(strangers)}, which are not among "
                                 f"the theorem's methods {list(item.methods)}")
            result.verdicts = [(label, checking.check(t, item)) for label, t, *_ in cases]
            result.local_rates = [(label, checking.check(t, "local-rate", problem=problem))
                                  for label, t, *rest in cases for problem in rest[:1]]
        else:
            verdict = checking.check_claim([t for _, t in result.trajectories], item)
            result.verdicts = [(f"{len(result.trajectories)} runs", verdict)]
    except Exception as exc:  # a failing suite is reported as a failed theorem, not a crash
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


def run_items(items, quick, on_item=None) -> list[Result]:
    """Run every item's suite in order (``on_item(item)`` is called before each, e.g. to show
    progress, and once more with ``None`` after the last); returns the results."""
    results = []
    for item in items:
        if on_item is not None:
            on_item(item)
        results.append(run_item(item, quick))
    if on_item is not None:
        on_item(None)
    return results


def failure_reason(result) -> str:
    """Why a result did not pass: its error, or the reasons of the verdicts that did not
    pass, joined by '; '."""
    return result.error or "; ".join(f"{label}: {v.reason}" for label, v in result.verdicts
                                     if not v.passed) or "no verdict (an empty suite)"


def _worst(result):
    ratios = [v.worst_ratio for _, v in result.verdicts if v.worst_ratio is not None]
    return max(ratios) if ratios else None


def _exponent_fraction(fitted, theory):
    """log(fitted)/log(theory): the fraction of the promised decay exponent that was fitted
    (≥ 1 means at least as fast as the theorem's rate)."""
    if fitted is None or theory is None or not (0 < fitted and 0 < theory < 1):
        return math.inf if fitted is not None and fitted <= 0 else None
    return math.log(fitted) / math.log(theory)


def _slowest_fit(result):
    """(fitted, theoretical) of the case whose fit is the smallest fraction of its rate."""
    pairs = [(v.fitted_rate, v.theory_rate) for _, v in result.verdicts
             if v.fitted_rate is not None and v.theory_rate is not None]
    if not pairs:
        return None
    return min(pairs, key=lambda p: _exponent_fraction(*p) or math.inf)


def _rates(result) -> str:
    """Measured vs theoretical factor of the case whose fit is furthest above its rate."""
    pair = _slowest_fit(result)
    return "—" if pair is None else f"{pair[0]:.4f} vs {pair[1]:.4f}"


def _tightness(result) -> str:
    """The tightness cell: worst measured/bound for bounds; for slope-only theorems (whose
    constants are unknown, so a ratio > 1 says nothing) the fitted decay exponent as a
    fraction of the theorem's, "exponent ×0.97 of theory" (pass iff ≥ 1 − SLOPE_RTOL)."""
    item = result.item
    if isinstance(item, Theorem) and item.status == "slope-only":
        pair = _slowest_fit(result)
        fraction = None if pair is None else _exponent_fraction(*pair)
        return "—" if fraction is None else f"exponent ×{fraction:.3g} of theory"
    worst = _worst(result)
    return "—" if worst is None else f"{worst:.4g}"


def _local_rate(result) -> str:
    """ρ^order vs the fitted factor of the local-rate verdicts, and how many passed."""
    verdicts = [v for _, v in result.local_rates]
    if not verdicts:
        return "—"
    decided = [v for v in verdicts if v.theory_rate is not None]
    ok = sum(v.passed for v in verdicts)
    if not decided:
        return f"inconclusive ({len(verdicts)})"
    v = max(decided, key=lambda v: v.worst_ratio)
    return f"{v.theory_rate:.4g} (fit {v.fitted_rate:.4g}); {ok}/{len(verdicts)} pass"


def theorem_power(results, quick) -> dict:
    """{theorem id: (faults caught, faults tried)}: the fault battery
    (``nashlab.theory.faults.power``) on the algorithms that own a theorem of ``results``,
    per check (``PowerReport.by_check``); a theorem no algorithm of the battery owns (e.g.
    the claims, nash-prox) has no entry."""
    from nashlab.theory import faults

    ids = [r.item.id for r in results if isinstance(r.item, Theorem)]
    if not ids:
        return {}
    return faults.power(quick=quick, checks=ids).by_check()


def summary_row(result, power=None) -> list[str]:
    """The table row of ``result``; ``power``: {theorem id: (caught, tried)} of
    ``theorem_power``, shown in the power column when given."""
    item = result.item
    status = item.status if isinstance(item, Theorem) else f"claim ({item.status})"
    verdict = result.status
    if verdict == "inconclusive" and getattr(item, "expected_inconclusive", ""):
        verdict = "inconclusive (expected)"
    caught = None if power is None else power.get(item.id)
    return [item.id, f"{item.source.reference}, {item.source.locator}", status,
            str(result.games), str(result.evidence), _tightness(result), _rates(result),
            _local_rate(result), "—" if caught is None else f"{caught[0]}/{caught[1]}", verdict]


HEADERS = ("theorem", "source", "status", "games", "evidence", "worst measured/bound",
           "fitted vs theorem rate", "exact local rate", "power", "verdict")


def summary_line(results) -> str:
    """ "N pass, M fail, K inconclusive" (errors count as failures; the expected
    inconclusive ones are said apart)."""
    statuses = [r.status for r in results]
    expected = sum(r.status == "inconclusive" and r.acceptable for r in results)
    line = (f"{statuses.count('pass')} pass, {statuses.count('FAIL') + statuses.count('ERROR')}"
            f" fail, {statuses.count('inconclusive')} inconclusive")
    return line + (f" ({expected} expected)" if expected else "")


def _comparison_runs(quick):
    """Every NLHF algorithm on one peaked random game, KL vs queries (same query budget)."""
    from nashlab.games import generators
    from nashlab.solvers import run

    beta = 0.1
    reference = generators.random_reference(12, scale=4.0, seed=12)
    game = generators.random_preference(12, beta=beta, seed=11, reference=reference)
    budget = 200 if quick else 600
    setups = [("nash-mp η=2", "nash-mp", 2.0, 2, {}),
              ("nash-md η_t=2/(β(t+2))", "nash-md", None, 1, {"schedule": "munos"}),
              ("egpo η=2/(1+2β) (≡ nash-mp η=2)", "egpo", 2 / (1 + 2 * beta), 2, {}),
              ("omd η=β/(1+β²)", "omd", beta / (1 + beta ** 2), 1, {}),
              ("omwu η=1/(1+2β)", "omwu", 1 / (1 + 2 * beta), 1, {}),
              ("mmd η=2β", "mmd", 2 * beta, 1, {})]
    runs = [(label, run(game, method, eta=eta, iterations=budget // per, track=("kl",), **kw))
            for label, method, eta, per, kw in setups]
    return game, runs


def _decrease(trajectory, metric) -> float:
    """log(m_0/min_k m_k) of the first game, floored at 1e-11: how much a panel shows."""
    values = np.asarray(trajectory.metrics.get(metric, [np.nan]), dtype=float)
    first = values.reshape(values.shape[0], -1)[:, 0]
    if not np.isfinite(first).any():
        return -np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.log(first[0] / np.maximum(np.nanmin(first), checking.FLOAT_FLOOR))
    return float(drop) if np.isfinite(drop) else -np.inf


def _figure_entries(results):
    """Per algorithm: [(title, trajectory, metric, theorem or None)]."""
    by_algorithm = {}
    for result in results:
        if not result.trajectories:
            continue
        item = result.item
        if isinstance(item, Theorem):
            label, trajectory = max(result.trajectories,
                                    key=lambda pair: _decrease(pair[1], item.metric))
            entry = (f"{item.id}\n{label}", [(None, trajectory)], item.metric, item)
        else:  # a claim: overlay up to four of its runs
            trajectory = result.trajectories[0][1]
            metric = "kl" if "kl" in trajectory.metrics else next(iter(trajectory.metrics))
            runs = [(lab, t) for lab, t in result.trajectories[:4] if metric in t.metrics]
            entry = (f"{item.id} (claim)", runs, metric, None)
        by_algorithm.setdefault(item.algorithm, []).append(entry)
    return by_algorithm


def _slug(text, limit=60) -> str:
    """A file-name-safe version of an algorithm name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return slug[:limit] or "algorithm"


def check_writable(out) -> Path:
    """``out`` as a Path, created, after checking that a file can be written in it (before
    any suite runs: an unwritable --out must not cost a whole verification)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, {str(out)!r} is a file")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out):
        pass
    return out


def write_report(out, results, rows, quick, echo=print) -> list[str]:
    """Figures and report.md in ``out``; returns the written file names."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for algorithm, entries in sorted(_figure_entries(results).items()):
        name = f"{_slug(algorithm)}.png"
        report.algorithm_figure(out / name, algorithm, entries)
        images.append(name)
    if any(r.item.id.split("/")[0] in ("nash-mp", "nash-md", "egpo", "mmd") for r in results):
        try:
            game, runs = _comparison_runs(quick)
            report.comparison_figure(out / "comparison.png", game, runs)
            images.append("comparison.png")
        except Exception as exc:
            echo(f"comparison figure skipped: {type(exc).__name__}: {exc}")
    text = report.markdown(HEADERS, rows, summary_line(results), results, images, quick)
    write_atomic(out / "report.md", text.encode())
    return images + ["report.md"]
