"""The ``nashlab`` command line: solve, verify, bench, train, sweep, plot, reproduce.

One error convention (:mod:`nashlab.cli._errors`): a usage error (bad flag, unreadable or
malformed file, a matrix that is not a preference matrix, β < 0, ...) is one line on stderr
and exit status 2; a run that cannot finish (a solver failure, out of memory, an output
that cannot be written) one line and status 1; Ctrl-C one line saying where the run stopped,
status 130. Warnings are one line each. A bare ``nashlab`` prints the usage and the
subcommands (status 0).

One module per subcommand: :mod:`nashlab.cli.solve` (preference games; MDPs through
:mod:`nashlab.cli.mdp`), :mod:`nashlab.cli.verify`, :mod:`nashlab.cli.bench`,
:mod:`nashlab.cli.train`, :mod:`nashlab.cli.sweep`, :mod:`nashlab.cli.plot`,
:mod:`nashlab.cli.reproduce`, :mod:`nashlab.cli.falsify`. The delegated subcommands are imported only when used.
"""

import importlib
import sys

import numpy as np

from nashlab.cli._errors import FAILURE, INTERRUPTED, USAGE, Failure, UsageError, one_line_warnings, report
from nashlab.cli._errors import Parser as _Parser
from nashlab.cli.solve import GAMES, load_array

__all__ = ["DELEGATES", "GAMES", "UsageError", "build_parser", "load_array", "main"]

#: Subcommands with their own parser, imported only when used: name -> (module, help).
DELEGATES = {
    "verify": ("nashlab.cli.verify", "check every registered theorem; write a report"),
    "bench": ("nashlab.cli.bench", "side-by-side benchmarks (ratios in one run)"),
    "train": ("nashlab.cli.train", "train neural policies with the same updates"),
    "sweep": ("nashlab.cli.sweep", "a parameter sweep on dask.distributed (Parquet results)"),
    "plot": ("nashlab.cli.plot", "the standard figures of a sweep folder"),
    "reproduce": ("nashlab.cli.reproduce", "reproduce a published tabular experiment"),
    "falsify": ("nashlab.cli.falsify", "search for a counterexample to a convergence bound"),
}
#: Exceptions of a run that could not finish (exit status 1), checked before the input
#: errors (``LinAlgError`` is a ``ValueError``).
FAILURES = (Failure, np.linalg.LinAlgError, ArithmeticError, RuntimeError, OSError)


def build_parser():
    from nashlab.cli import solve

    parser = _Parser(prog="nashlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    solve.add_parser(sub)
    for name, (_, text) in DELEGATES.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _dispatch(argv) -> int:
    if argv and argv[0] in DELEGATES:
        try:
            module = importlib.import_module(DELEGATES[argv[0]][0])
        except ImportError as exc:
            raise UsageError(f"'nashlab {argv[0]}' is unavailable: {exc} "
                             "(install the extra it needs, e.g. pip install 'nashlab[neural]')") from None
        return int(module.main(argv[1:]) or 0)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def main(argv=None) -> int:
    """Run one subcommand; returns the exit status (0, 1 failure, 2 usage, 130 Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with one_line_warnings():
        try:
            return _dispatch(argv)
        except UsageError as exc:
            report("nashlab", exc)
            return USAGE
        except MemoryError as exc:
            report("nashlab", f"out of memory ({exc or 'no detail'}); try a smaller size")
            return FAILURE
        except KeyboardInterrupt:
            report("nashlab", "interrupted (Ctrl-C) before the command finished",
                   kind="stopped")
            return INTERRUPTED
        except FAILURES as exc:
            report("nashlab", f"{exc}" if isinstance(exc, Failure) else f"{type(exc).__name__}: {exc}")
            return FAILURE
        except (ValueError, TypeError) as exc:
            report("nashlab", exc)
            return USAGE


if __name__ == "__main__":
    sys.exit(main())
