"""``nashlab falsify ID|FILE.py:NAME [--budget S] [--seed K] [--workers N] [--out DIR] [--json] [--all]``:
search for a counterexample to a convergence bound (:mod:`nashlab.theory.falsify`).

ID is a registered theorem id; FILE.py:NAME a ``Theorem`` named NAME in a Python file (a
user's own claim). A progress bar runs for the budget (seconds, per theorem with --all);
then a summary: "VIOLATED" with the instance, the iteration and the ratio measured/bound in
float64 and at 50 digits, or "no counterexample" with the worst ratio found and where.
--out DIR saves a counterexample to DIR/<id>/ (JSON + NPZ + reproduce.py, numpy and mpmath
only). --all searches every registered theorem and prints the tightness table (worst ratio
per theorem). --workers N runs N restarts at once (default: one per usable core; 1 is the
deterministic mode). --json prints the summary as one JSON document instead of text. Exit status
0 when no counterexample was found, 1 when one was, 2 on usage errors.
"""

import importlib.util
import json
import sys
from pathlib import Path

from nashlab.cli._errors import Parser, UsageError, writable_dir


def build_parser():
    parser = Parser(prog="nashlab falsify", description=__doc__.splitlines()[0])
    parser.add_argument("claim", nargs="?", metavar="ID|FILE.py:NAME",
                        help="a registered theorem id, or a Theorem NAME in FILE.py")
    parser.add_argument("--budget", type=float, default=60.0, metavar="S",
                        help="search seconds (per theorem with --all; default 60)")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="restarts at once (default: one per usable core)")
    parser.add_argument("--out", metavar="DIR", help="save a counterexample to DIR/<id>/")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--all", action="store_true",
                        help="every registered theorem; prints the tightness table")
    return parser


def load_claim(text):
    """A theorem id, or the ``Theorem`` NAME of FILE.py for ``FILE.py:NAME``."""
    from nashlab.theory.registry import Theorem, get

    if ":" not in text or not text.split(":", 1)[0].endswith(".py"):
        try:
            return get(text)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
    path, name = text.rsplit(":", 1)
    if not Path(path).is_file():
        raise UsageError(f"claim file {path!r} does not exist")
    spec = importlib.util.spec_from_file_location(f"_nashlab_claim_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error in it is a usage error
        raise UsageError(f"cannot import {path!r}: {type(exc).__name__}: {exc}") from None
    claim = getattr(module, name, None)
    if not isinstance(claim, Theorem):
        raise UsageError(f"{path!r} has no Theorem named {name!r} (got {type(claim).__name__})")
    return claim


def _record(result) -> dict:
    import numpy as np

    from nashlab.theory.families import family_module

    out = {"theorem": result.theorem_id, "searched": result.searched, "found": result.found,
           "worst_ratio": result.worst_ratio, "where": result.where,
           "evaluations": result.evaluations, "seconds": result.seconds,
           "float_floor": len(result.float_floor), "unconfirmed": len(result.unconfirmed),
           "note": result.note}
    if result.found:
        c = result.counterexample
        out["counterexample"] = {"size": c.size, "params": c.params, "iteration": c.iteration,
                                 "ratio": c.ratio, "ratio_high_precision": c.ratio_high_precision,
                                 "margin": c.margin}
        arrays = family_module(c.family).problem_arrays(c.problem)
        out["counterexample"].update(family=c.family,
                                     **{k: np.asarray(v).tolist() for k, v in arrays.items()})
    return out


def _one(console, theorem, args, quiet):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nashlab.theory.falsify import falsify

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console, transient=True,
                  disable=quiet) as bar:
        task = bar.add_task(theorem.id, total=args.budget, info="")

        def progress(search):
            best = "—" if search.best is None else f"{search.best:.6g}"
            bar.update(task, completed=min(search.seconds(), args.budget),
                       info=f"{search.evaluations} instances, worst ratio {best}")

        return falsify(theorem, budget_seconds=args.budget, seed=args.seed,
                       workers=args.workers, progress=progress)


def main(argv=None) -> int:
    from rich.console import Console

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.all == (args.claim is not None):
        raise UsageError("give exactly one of ID|FILE.py:NAME and --all")
    if not args.budget > 0 or args.budget == float("inf"):
        raise UsageError(f"--budget must be a finite number of seconds > 0, got {args.budget}")
    if args.seed < 0:
        raise UsageError(f"--seed must be an int ≥ 0, got {args.seed}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be an int ≥ 1, got {args.workers}")
    out = writable_dir(args.out, "--out") if args.out else None
    console = Console(stderr=args.json)
    if args.all:
        from nashlab.theory.registry import all_theorems

        theorems = all_theorems()
    else:
        theorems = [load_claim(args.claim)]
    results = []
    for theorem in theorems:
        result = _one(console, theorem, args, quiet=args.json)
        results.append(result)
        if not args.json:
            console.print(("[bold red]" if result.found else "") + result.summary(),
                          markup=result.found, highlight=False)
        if result.found and out is not None:
            paths = result.counterexample.save(out / theorem.id.replace("/", "_"))
            if not args.json:
                console.print(f"saved {', '.join(str(p) for p in paths)}", highlight=False)
    if args.json:
        print(json.dumps([_record(r) for r in results] if args.all else _record(results[0]),
                         indent=1))
    elif args.all:
        _table(console, results)
    return 1 if any(r.found for r in results) else 0


def _table(console, results):
    from rich.table import Table

    table = Table(title="nashlab falsify --all: tightness (worst measured/bound found)")
    for h in ("theorem", "worst ratio", "instances", "outcome"):
        table.add_column(h, overflow="fold")
    for r in results:
        if not r.searched:
            outcome = "not searched (no instance space)"
        elif r.found:
            outcome = "[bold red]COUNTEREXAMPLE[/bold red]"
        elif r.unconfirmed:
            outcome = (f"none; {len(r.unconfirmed)} float ratio(s) > 1 UNCONFIRMED (no 50-digit "
                       "run)")
        elif r.float_floor:
            outcome = f"none; {len(r.float_floor)} at the float floor"
        else:
            outcome = "none" + (" (slope-only)" if "slope-only" in r.note else "")
        worst = "—" if r.worst_ratio is None else f"{r.worst_ratio:.6g}"
        table.add_row(r.theorem_id, worst, str(r.evaluations), outcome)
    console.print(table)
