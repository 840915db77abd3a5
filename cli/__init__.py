"""The ``nashlab`` command line: solve, verify, bench, train.

Every user error (bad flag, unreadable or malformed file, a matrix that is not a
preference matrix, β < 0, ...) prints one line on stderr and exits with status 2.

One module per subcommand: :mod:`nashlab.cli.solve` (preference games; MDPs through
:mod:`nashlab.cli.mdp`), :mod:`nashlab.cli.verify`, :mod:`nashlab.cli.bench`, and ``train``.
The delegated subcommands are imported only when used.
"""

import importlib
import sys

from nashlab.cli._errors import Parser as _Parser
from nashlab.cli._errors import UsageError
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
}


def build_parser():
    from nashlab.cli import solve

    parser = _Parser(prog="nashlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    solve.add_parser(sub)
    for name, (_, text) in DELEGATES.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in DELEGATES:
            try:
                module = importlib.import_module(DELEGATES[argv[0]][0])
            except ImportError as exc:
                raise UsageError(f"'nashlab {argv[0]}' is unavailable: {exc} "
                                 "(install the extra it needs, e.g. pip install 'nashlab[neural]')") from None
            return int(module.main(argv[1:]) or 0)
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"nashlab: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"nashlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
