"""``nashlab bench [--quick] [--json PATH]``: every side-by-side benchmark, one table.

Runs ``bench_games``, ``bench_front`` and, where those modules exist, ``bench_robust``,
``bench_dp`` and ``bench_equilibrium`` (each ``main(quick) -> list of row dicts``); prints the rows as a
Markdown table and writes them to ``--json PATH``. Every ratio compares timings taken in
this run, on this machine.
"""

import argparse
import importlib
import json
import sys

from nashlab._files import write_atomic

MODULES = ("bench_games", "bench_front", "bench_robust", "bench_dp", "bench_equilibrium")


def markdown_table(rows) -> str:
    lines = ["| benchmark | size | backend | candidate (s) | baseline (s) | ratio | goal | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['benchmark']} | {r.get('size', '')} | {r.get('backend', '')} "
                         f"| – | – | – | skipped: {r['skipped']} | – |")
            continue
        met = {True: "yes", False: "NO", None: "–"}[r.get("met")]
        lines.append(f"| {r['benchmark']} | {r.get('size', '')} | {r.get('backend', '')} "
                     f"| {r['candidate_s']:.4g} | {r['baseline_s']:.4g} | {r['ratio']:.3g}x "
                     f"| {r.get('goal', '')} | {met} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nashlab bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under 2 minutes)")
    parser.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    rows = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"nashlab.benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nashlab.benchmarks.{name}":
                raise
            print(f"{name}: not available, skipped")
            continue
        print(f"== {name} ==", flush=True)
        rows.extend(module.main(args.quick))
    print()
    print(markdown_table(rows))
    if rows:
        print(f"\nmachine: {rows[0].get('machine', '')}")
    if args.json:
        write_atomic(args.json, json.dumps(rows, indent=2, default=float).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
