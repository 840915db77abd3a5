"""``nashlab bench [--quick] [--out DIR] [--json PATH]``: every side-by-side benchmark, one table.

Runs ``bench_games``, ``bench_front``, ``bench_robust``, ``bench_dp`` and
``bench_equilibrium`` (each ``main(quick) -> list of row dicts``; a module that writes
files takes ``out=`` too); prints the rows as a Markdown table and writes ``bench.json``
(the rows), ``bench.md`` (the table) and ``scaling.png`` to DIR (default ./bench-report),
and the rows to ``--json PATH`` as well. Every ratio compares timings taken in this run,
on this machine. A benchmark whose package is missing (the ``bench`` extra: quantecon,
open_spiel, torch; cvxpy) is a "skipped" row; one that raises a "failed" row (exit status 1);
the table is printed and written either way, and after Ctrl-C with the rows measured so far.
"""

import importlib
import inspect
import json
import sys

from nashlab._files import write_atomic
from nashlab.cli._errors import INTERRUPTED, Parser, report, writable_dir, writable_file

MODULES = ("bench_games", "bench_front", "bench_robust", "bench_dp", "bench_equilibrium")
EXTRA = "pip install 'nashlab[bench]'"


def markdown_table(rows) -> str:
    lines = ["| benchmark | size | backend | candidate (s) | baseline (s) | ratio | goal | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        head = f"| {r['benchmark']} | {r.get('size', '')} | {r.get('backend', '')} "
        if "skipped" in r or "failed" in r:
            what = f"skipped: {r['skipped']}" if "skipped" in r else f"FAILED: {r['failed']}"
            lines.append(head + f"| – | – | – | {what} | – |")
            continue
        met = {True: "yes", False: "NO", None: "–"}[r.get("met")]
        lines.append(head + f"| {r['candidate_s']:.4g} | {r['baseline_s']:.4g} | {r['ratio']:.3g}x "
                     f"| {r.get('goal', '')} | {met} |")
    return "\n".join(lines)


def _missing_package(exc) -> str | None:
    """The third-party package an ImportError names (None for a module of nashlab)."""
    name = getattr(exc, "name", None) or ""
    return None if not name or name.partition(".")[0] == "nashlab" else name.partition(".")[0]


def run_module(name, quick, out) -> list[dict]:
    """The rows of ``nashlab.benchmarks.NAME``; a missing third-party package is one
    "skipped" row, any other error one "failed" row."""
    try:
        module = importlib.import_module(f"nashlab.benchmarks.{name}")
        kwargs = {"out": out} if "out" in inspect.signature(module.main).parameters else {}
        print(f"== {name} ==", flush=True)
        return list(module.main(quick, **kwargs))
    except ImportError as exc:
        package = _missing_package(exc)
        if package is None:
            raise
        print(f"{name}: skipped, {package} is not installed", flush=True)
        return [{"benchmark": name, "skipped": f"{package} is not installed ({EXTRA})"}]
    except (ArithmeticError, AssertionError, LookupError, OSError, RuntimeError, TypeError,
            ValueError) as exc:
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"{name}: FAILED ({message})", flush=True)
        return [{"benchmark": name, "failed": message}]


def build_parser():
    parser = Parser(prog="nashlab bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute on 2 cores)")
    parser.add_argument("--out", metavar="DIR", default="bench-report",
                        help="folder of bench.json, bench.md and scaling.png (default ./bench-report)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as a JSON list to PATH")
    return parser


def _write(rows, out, json_path):
    text = json.dumps(rows, indent=2, default=float).encode()
    write_atomic(out / "bench.json", text)
    write_atomic(out / "bench.md", (markdown_table(rows) + "\n").encode())
    if json_path:
        write_atomic(json_path, text)


def main(argv=None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    out = writable_dir(args.out, "--out")
    if args.json:
        writable_file(args.json, "--json")
    rows, interrupted = [], False
    try:
        for name in MODULES:
            rows.extend(run_module(name, args.quick, out))
    except KeyboardInterrupt:
        interrupted = True
    print()
    print(markdown_table(rows))
    machine = next((r["machine"] for r in rows if r.get("machine")), None)
    if machine:
        print(f"\nmachine: {machine}")
    _write(rows, out, args.json)
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    if interrupted:
        report("nashlab bench", f"interrupted (Ctrl-C) after {len(rows)} rows; they are in "
               f"{out / 'bench.json'}; rerun 'nashlab bench' for the rest", kind="stopped")
        return INTERRUPTED
    return 1 if any("failed" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
