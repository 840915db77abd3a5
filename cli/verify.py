"""``nashlab verify [--quick] [--only PATTERN] [--out DIR] [--power | --no-power]``: check every registered theorem
and claim on its suite, print a table, write figures and a markdown report.

The library part (selecting theorems, running suites, results, the report) is
:mod:`nashlab.theory.verify`; this module is the argument parsing and the printing.
Written to DIR (default ./verify-report, checked to be writable before anything runs),
every file atomically. Each theorem or claim is "pass", "FAIL" (a suite that raises counts
as a failure) or "inconclusive" (no evidence to decide: never a pass); the last line is
"N pass, M fail, K inconclusive". The power column (faults caught / tried by each
theorem) comes from the fault battery run on the algorithms of the selected theorems
(``--no-power`` skips it). The exit status is 0 if every item passed (or is
inconclusive where its suite says it is expected to be), 1 otherwise, 2 on usage errors
(nothing matches ``--only``, an unwritable --out).
"""

import sys

from nashlab.cli._errors import Parser, UsageError
from nashlab.theory import verify


def build_parser():
    parser = Parser(prog="nashlab verify", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small suites (< 60 s)")
    parser.add_argument("--only", metavar="PATTERN",
                        help="ids containing PATTERN (or matching it, if it has * ? [)")
    parser.add_argument("--out", metavar="DIR", default="verify-report",
                        help="output folder (default ./verify-report)")
    parser.add_argument("--power", action="store_true",
                        help="run the fault battery (nashlab.theory.faults) instead: per "
                             "algorithm (--only filters them) faults caught / tried and each "
                             "escape with the checks it passed; writes DIR/power.json; exit "
                             "status 1 below 95 %% caught")
    parser.add_argument("--no-power", action="store_true",
                        help="leave the power column empty (skip the fault battery that fills "
                             "it: faults caught / tried by each theorem)")
    return parser


def _print_table(console, rows):
    from rich.table import Table

    table = Table(title="nashlab verify", show_lines=False)
    for h in verify.HEADERS:
        table.add_column(h, overflow="fold")
    for row in rows:
        style = {"pass": "green", "FAIL": "bold red", "ERROR": "bold red"}.get(row[-1], "yellow")
        table.add_row(*row[:-1], f"[{style}]{row[-1]}[/{style}]")
    console.print(table)


def _power(console, args) -> int:
    """``--power``: the fault battery, its table, its escapes and DIR/power.json."""
    from rich.table import Table

    from nashlab.theory import faults

    if not faults.algorithms(args.only):
        raise UsageError(f"no algorithm of the fault battery matches --only {args.only!r}; "
                         f"they are {', '.join(a.name for a in faults.ALGORITHMS)}")
    with console.status("running the fault battery"):
        report = faults.power(quick=args.quick, only=args.only)
    table = Table(title="nashlab verify --power", show_lines=False)
    for h in ("algorithm", "caught / tried", "theorems only", "checks", "no effect"):
        table.add_column(h, overflow="fold")
    for a in report.algorithms:
        style = "green" if a.caught == a.tried else "yellow"
        table.add_row(a.algorithm, f"[{style}]{a.caught} / {a.tried}[/{style}]",
                      f"{a.caught_without(faults.LOCAL_RATE_ID)} / {a.tried}",
                      str(len(a.checks)), ", ".join(a.no_effect) or "—")
    console.print(table)
    for a in report.algorithms:
        for fault, reason in a.escapes:
            console.print(f"[yellow]ESCAPED[/yellow] {a.algorithm} {fault}: {reason}")
    path = faults.write_json(report, args.out)
    console.print(f"wrote {path}")
    fraction = report.fraction
    console.print(f"power: {report.caught}/{report.tried} faults caught ({100 * fraction:.1f} %), "
                  f"{report.caught_without(faults.LOCAL_RATE_ID)}/{report.tried} by the "
                  f"theorems alone; goal ≥ {100 * faults.POWER_GOAL:g} %")
    return 0 if fraction >= faults.POWER_GOAL else 1


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    args = build_parser().parse_args(argv)
    try:
        verify.check_writable(args.out)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--out {args.out!r} is not a writable directory: {exc}") from None
    console = Console(width=None if sys.stdout.isatty() else 200)
    if args.power:
        return _power(console, args)
    verify.load_theorem_modules(echo=console.print)
    items = verify.selected(args.only)
    if not items:
        raise UsageError(f"no theorem or claim matches --only {args.only!r}")
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("verifying", total=len(items))
        started = []

        def on_item(item):
            if started:
                progress.advance(task)
            if item is not None:
                started.append(item)
                progress.update(task, description=f"verifying {item.id}")

        results = verify.run_items(items, args.quick, on_item=on_item)
    power = None
    if not args.no_power:
        with console.status("running the fault battery for the power column"):
            power = verify.theorem_power(results, args.quick)
    rows = [verify.summary_row(r, power) for r in results]
    _print_table(console, rows)
    for r in results:
        if not r.passed:
            label = "[red]FAILED[/red]" if r.status in ("FAIL", "ERROR") else \
                f"[yellow]{r.status.upper()}[/yellow]"
            console.print(f"{label} {r.item.id}: {verify.failure_reason(r)}")
    written = verify.write_report(args.out, results, rows, args.quick, echo=console.print)
    console.print(f"wrote {', '.join(written)} to {args.out}")
    console.print(verify.summary_line(results))
    return 0 if all(r.acceptable for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
