"""Pages generated from the code at build time (called by ``docs/conf.py``).

Nothing the code knows is written by hand in the docs: the API pages list each public
package's ``__all__`` and its public submodules; the command-line page is the argparse help
of every subcommand; the theorem pages are ``nashlab.theory.all_theorems()`` and
``all_claims()`` with their sympy bounds rendered by ``sympy.latex`` and, unless disabled,
the tightness measured on each one's quick suite (what ``nashlab verify --quick`` runs).
The generated folders (``docs/api``, ``docs/theorems``) are not tracked by git.
"""

import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
import shutil
import time
from pathlib import Path

import sympy

#: The documented public packages, in reading order: (module, one-line role).
PACKAGES = (
    ("nashlab", "the front door: solve, run, the result types and the metric vocabulary"),
    ("nashlab.games", "problems as data: preference and matrix games, populations, MDPs, Markov games"),
    ("nashlab.solvers", "update rules, drivers and certified exact solvers"),
    ("nashlab.theory", "theorems as objects, checks of trajectories against them"),
    ("nashlab.scaling", "the same updates for torch policies and Hugging Face models"),
    ("nashlab.scaling.trl", "NLHF trainers with TRL's calling shape, on transformers.Trainer"),
    ("nashlab.cli", "the nashlab command line"),
)
#: Packages documented once they are importable (issues still landing; their extra may be missing).
OPTIONAL_PACKAGES = (
    ("nashlab.experiments", "parameter sweeps on dask.distributed (the experiments extra)"),
)


def documented_packages():
    found = list(PACKAGES)
    for name, role in OPTIONAL_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        found.insert(-1, (name, role))
    return tuple(found)


def _write(path: Path, text: str) -> None:
    """Write only when the text changed (keeps incremental builds incremental)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _public_submodules(package) -> list[str]:
    """Public submodules of a package (names without a leading underscore), sorted; subpackages
    that have their own page are left out."""
    if not hasattr(package, "__path__"):
        return []
    own_pages = {name for name, _ in documented_packages()}
    names = []
    for info in pkgutil.iter_modules(package.__path__):
        full = f"{package.__name__}.{info.name}"
        if info.name.startswith("_") or full in own_pages or info.name in ("tests", "benchmarks"):
            continue
        if hasattr(package, info.name) and not inspect.ismodule(getattr(package, info.name)):
            continue  # shadowed by a name of the package (a function ``sweep`` of module ``sweep``)
        names.append(full)
    return sorted(names)


def _summary(names, toctree="generated") -> str:
    lines = [".. autosummary::", f"   :toctree: {toctree}", "   :nosignatures:", ""]
    lines += [f"   {name}" for name in names]
    return "\n".join(lines) + "\n"


def api_pages(out: Path) -> None:
    """``out/index.rst`` and one page per package in ``PACKAGES``: the package docstring, an
    autosummary table (with a page each) of its ``__all__``, and its public submodules.
    The stubs of ``out/generated`` are made anew by autosummary on every build (a name that
    left an ``__all__`` leaves no stale page behind)."""
    shutil.rmtree(out / "generated", ignore_errors=True)
    index = [_title("API reference"), "",
             "Generated from the docstrings of the public names (each package's ``__all__``), "
             "with the method table and the command line.", ""]
    toctree = ["", ".. toctree::", "   :hidden:", ""]
    documented = {}  # id(object) -> the first public name it is documented under
    packages = documented_packages()
    for name, role in packages:
        module = importlib.import_module(name)
        index.append(f"* :doc:`{name}`: {role}")
        toctree.append(f"   {name}")
        public = [n for n in module.__all__ if not n.startswith("_")]
        objects, aliases = [], []
        for n in public:
            obj = getattr(module, n)
            if inspect.ismodule(obj):
                continue
            if not isinstance(obj, (str, int, float, tuple, dict)) and id(obj) in documented:
                aliases.append((n, documented[id(obj)]))
                continue
            documented.setdefault(id(obj), f"{name}.{n}")
            objects.append(n)
        modules = [n for n in public if inspect.ismodule(getattr(module, n))]
        page = [_title(name), "", f".. automodule:: {name}", "   :no-members:", "",
                f".. currentmodule:: {name}", ""]
        functions = [n for n in objects if callable(getattr(module, n)) and not inspect.isclass(getattr(module, n))]
        classes = [n for n in objects if inspect.isclass(getattr(module, n))]
        data = [n for n in objects if n not in functions and n not in classes]
        for heading, group in (("Functions", functions), ("Classes", classes), ("Constants", data)):
            if group:
                page += [_title(heading, "-"), _summary(sorted(group, key=str.lower)), ""]
        if aliases:
            page += [_title("Also exported here", "-"), "",
                     "The same objects as documented under another name:", ""]
            page += [f"* ``{name}.{n}``: {_role(getattr(module, n))}`{target}`" for n, target in aliases]
            page.append("")
        submodules = sorted({f"{name}.{m}" for m in modules if f"{name}.{m}" not in dict(packages)}
                            | set(_public_submodules(module)))
        if submodules:
            page += [_title("Modules", "-"),
                     "The modules the names above are defined in, with their own docstrings "
                     "(schemas, tables, conventions).", "",
                     _summary([m[len(name) + 1:] for m in submodules]), ""]
        _write(out / f"{name}.rst", "\n".join(page))
    index += ["* :doc:`methods`: every iterative method of every family (``nashlab.solvers.methods``)",
              "* :doc:`cli_usage`: ``nashlab`` and its subcommands, as their parsers print them"]
    index += toctree + ["   methods", "   cli_usage", ""]
    _write(out / "index.rst", "\n".join(index))


def methods_page(path: Path) -> None:
    """The method table ``nashlab.solvers.methods.METHODS``, one table per family."""
    from nashlab.solvers.methods import METHODS

    page = [_title("Method table"), "",
            "Every iterative method of every family, as :mod:`nashlab.solvers.methods` describes it "
            "(generated from ``METHODS``). ``nashlab.run(problem, name, ...)`` runs it; the options "
            "column lists the method's own keyword options (any other is a ``TypeError``).", ""]
    families = list(dict.fromkeys(family for family, _ in METHODS))  # the table's own order
    for family in families:
        rows = [m for (f, _), m in METHODS.items() if f == family]
        page += [_title(f"{family}", "-"), "", ".. list-table::", "   :header-rows: 1", "",
                 "   * - method", "     - composition", "     - step form", "     - queries / step",
                 "     - kernels", "     - options", "     - summary"]
        for m in rows:
            name = f"``{m.name}``" + (f" (alias of ``{m.alias_of}``)" if m.alias_of else "")
            page += [f"   * - {name}", f"     - {m.composition or '–'}", f"     - {m.step_form or '–'}",
                     f"     - {'–' if m.queries_per_step is None else m.queries_per_step}",
                     f"     - {', '.join(m.kernels) or '–'}",
                     f"     - {', '.join(f'``{o}``' for o in m.options) or '–'}",
                     f"     - {_cell(m.summary) or '–'}"]
        page.append("")
    _write(path, "\n".join(page))


def _role(obj) -> str:
    return ":class:" if inspect.isclass(obj) else ":func:" if callable(obj) else ":data:"


def _help(argv) -> str:
    from nashlab.cli import main

    buffer = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "96"
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                main(list(argv))
            except SystemExit:
                pass
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return buffer.getvalue().rstrip()


def cli_page(path: Path) -> None:
    """The ``--help`` of ``nashlab`` and of each subcommand, as the parsers print it."""
    from nashlab.cli import DELEGATES

    page = [_title("Command line"), "",
            "The ``nashlab`` command (entry point :func:`nashlab.cli.main`). The text below is "
            "each parser's own ``--help``, captured when these pages were built.", ""]
    for argv in (["--help"], ["solve", "--help"], *([name, "--help"] for name in DELEGATES)):
        label = "nashlab " + " ".join(argv)
        page += [_title(label.replace(" --help", ""), "-"), "", ".. code-block:: text", ""]
        page += ["   " + line if line else "" for line in _help(argv).splitlines()]
        page.append("")
    _write(path, "\n".join(page))


# ---- theorem registry ---------------------------------------------------------------------

def _slug(identifier: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", identifier.lower()).strip("-")


def _rst_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|").replace("_", "\\_")


def _cell(text) -> str:
    return " ".join(_rst_escape(str(text)).split())


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.4g}"


#: How the registry's bookkeeping symbols read in a formula (m_k is the bounded metric).
_SYMBOL_NAMES = {"prev": "m_{k-1}", "err0": "m_0", "vartheta": r"\vartheta", "C1": "C_1", "C2": "C_2"}


def _latex(expr) -> str:
    from nashlab.theory.registry import SYMBOLS

    names = {SYMBOLS[k]: v for k, v in _SYMBOL_NAMES.items() if k in SYMBOLS}
    return sympy.latex(expr, symbol_names=names)


def _math(expr, lhs="") -> list[str]:
    return ["", ".. math::", "", "   " + lhs + _latex(expr), ""]


def _source(source) -> str:
    arxiv = source.arxiv  # an arXiv id (validated by Source) or None
    link = f"`arXiv {arxiv} <https://arxiv.org/abs/{arxiv}>`__" if arxiv else ""
    return ", ".join(p for p in (f"*{_rst_escape(source.title)}*", link, _rst_escape(source.locator)) if p)


def _measure(items):
    """Run each theorem's and claim's quick suite once; {id: Result} (a suite that raises is a
    Result with ``error`` set, never a crash)."""
    from nashlab.theory import verify

    results = verify.run_items(items, quick=True)
    return {r.item.id: r for r in results}


def _verdict_table(result) -> list[str]:
    if result is None:
        return []
    lines = [_title("Measured (quick suite, at build time)", "-"), ""]
    if result.error:
        return lines + [f"The suite raised: ``{' '.join(result.error.split())[:300]}``", ""]
    status = {"pass": "passed", "inconclusive": "*inconclusive*"}.get(result.status, "**failed**")
    lines += [f"{status} on {len(result.verdicts)} "
              f"run(s) in {result.seconds:.2f} s. *Tightness* is the worst measured / bound ratio "
              "(1 = the bound is attained); the rates are per-iteration factors.", "",
              ".. list-table::", "   :header-rows: 1", "",
              "   * - run", "     - verdict", "     - tightness", "     - fitted rate", "     - theory rate"]
    for label, v in result.verdicts:
        lines += [f"   * - {_cell(label)}", f"     - {v.status}",
                  f"     - {_fmt(v.tightness)}", f"     - {_fmt(v.fitted_rate)}", f"     - {_fmt(v.theory_rate)}"]
    return lines + [""]


def _theorem_page(th, result) -> str:
    page = [f".. _theorem-{_slug(th.id)}:", "", _title(th.id), "",
            _cell(th.statement), "",
            ".. list-table::", "   :stub-columns: 1", "",
            f"   * - algorithm\n     - {_cell(th.algorithm)}",
            f"   * - metric\n     - ``{th.metric}``",
            f"   * - form\n     - {th.form}",
            f"   * - status\n     - {th.status}",
            f"   * - source\n     - {_source(th.source)}", "",
            _title("Bound", "-"),
            f"With :math:`m_k` the metric ``{th.metric}`` at iteration :math:`k` "
            + ("(:math:`m_0` at the start), for every :math:`k \\ge 0`:" if th.form == "envelope"
               else "and :math:`m_{k-1}` at the one before, for every :math:`k \\ge 1`:")]
    page += _math(th.bound, lhs=r"m_k \le ")
    if th.rate is not None:
        page += ["Per-iteration rate:"] + _math(th.rate, lhs=r"\rho = ")
    page += [_title("Assumptions", "-"), ""]
    page += [f"* {_rst_escape(a.description)}" for a in th.assumptions] or ["None beyond the problem class."]
    page.append("")
    if th.derivation:
        page += [_title("Derivation", "-"), "", _cell(th.derivation), ""]
    page += _verdict_table(result)
    return "\n".join(page)


def _claim_page(claim, result) -> str:
    page = [f".. _theorem-{_slug(claim.id)}:", "", _title(claim.id), "",
            _cell(claim.statement), "",
            ".. list-table::", "   :stub-columns: 1", "",
            f"   * - algorithm\n     - {_cell(claim.algorithm)}",
            "   * - kind\n     - claim (checked by its criterion, not an upper bound)",
            f"   * - status\n     - {claim.status}",
            f"   * - source\n     - {_source(claim.source)}", "",
            _title("Criterion", "-"), "", _cell(claim.criterion_text), ""]
    page += _verdict_table(result)
    return "\n".join(page)


def theorem_pages(out: Path, measure: bool = True) -> None:
    """``out/index.rst`` (one table of every theorem and claim) and a page for each."""
    from nashlab.theory import all_theorems
    from nashlab.theory.verdicts import all_claims
    from nashlab.theory.verify import load_theorem_modules

    load_theorem_modules(echo=lambda *_: None)  # the optional (neural) claims where installed
    theorems, claims = all_theorems(), all_claims()
    start = time.perf_counter()
    results = _measure([*theorems, *claims]) if measure else {}
    seconds = time.perf_counter() - start
    if out.exists():
        keep = {f"{_slug(item.id)}.rst" for item in [*theorems, *claims]} | {"index.rst"}
        for stale in out.glob("*.rst"):
            if stale.name not in keep:
                stale.unlink()
    index = [_title("Theorem registry"), "",
             f"{len(theorems)} theorems and {len(claims)} claims, generated from "
             "``nashlab.theory.all_theorems()`` and ``all_claims()`` when these pages were built. "
             "Each bound is a sympy expression in the symbols of :mod:`nashlab.theory.registry` "
             "(rendered with ``sympy.latex``); ``nashlab verify`` checks every one on its suite. "
             "See :doc:`/guides/verification` for how to check one yourself.", ""]
    if measure:
        failed = sum(not r.passed for r in results.values())
        index += [f"The *measured* columns are the worst tightness (measured / bound) over each quick "
                  f"suite, run during this build ({seconds:.0f} s; {failed} failed).", ""]
    index += [".. list-table::", "   :header-rows: 1", "   :widths: 30 30 15 15 10", "",
              "   * - theorem", "     - algorithm", "     - metric", "     - status", "     - measured"]
    for item in [*theorems, *claims]:
        r = results.get(item.id)
        if r is None:
            measured = "–"
        elif r.error or not r.verdicts:
            measured = "error"
        else:
            ratios = [v.tightness for _, v in r.verdicts if v.tightness is not None]
            measured = ("" if r.passed else f"{r.status.lower()} ") + (_fmt(max(ratios)) if ratios else "–")
        metric = f"``{item.metric}``" if hasattr(item, "metric") else "claim"
        index += [f"   * - :ref:`{_rst_escape(item.id)} <theorem-{_slug(item.id)}>`",
                  f"     - {_cell(item.algorithm)}", f"     - {metric}", f"     - {item.status}",
                  f"     - {measured}"]
    index += ["", ".. toctree::", "   :hidden:", ""]
    index += [f"   {_slug(item.id)}" for item in [*theorems, *claims]]
    _write(out / "index.rst", "\n".join(index) + "\n")
    for th in theorems:
        _write(out / f"{_slug(th.id)}.rst", _theorem_page(th, results.get(th.id)))
    for claim in claims:
        _write(out / f"{_slug(claim.id)}.rst", _claim_page(claim, results.get(claim.id)))


# ---- MathJax, served from the build (the machines are offline) ----------------------------

def local_mathjax(out: Path) -> str:
    """Copy MathJax's ``tex-svg.js`` (and the TeX extensions it autoloads) from the
    ``django-static-mathjax`` package of the docs extra into ``out/mathjax``; returns the
    ``mathjax_path`` for Sphinx (relative to ``_static``), or Sphinx's default CDN path if the
    package is missing (the build still works, math then needs the network to render)."""
    try:
        import mathjax
    except ImportError:
        return "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    es5 = Path(mathjax.__path__[0]) / "static" / "mathjax" / "es5"
    target = out / "mathjax"
    if not (target / "tex-svg.js").exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(es5 / "tex-svg.js", target / "tex-svg.js")
        shutil.copytree(es5 / "input" / "tex" / "extensions", target / "input" / "tex" / "extensions",
                        dirs_exist_ok=True)
    return "mathjax/tex-svg.js"
