"""``nashlab plot DIR [--out FIGDIR]``: the standard figures of a sweep folder
(``nashlab.experiments.plots``): metric vs iterations and vs queries per method, queries to ε
vs β and vs n, the (β, η) heat map; PNG and SVG in DIR/figures."""

import sys
from pathlib import Path

from nashlab.cli._errors import Parser, UsageError, writable_dir


def main(argv=None) -> int:
    parser = Parser(prog="nashlab plot", description=__doc__)
    parser.add_argument("directory", metavar="DIR", help="a finished sweep folder (nashlab sweep --out)")
    parser.add_argument("--out", metavar="FIGDIR", help="figure folder (default DIR/figures)")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    from nashlab.cli.sweep import require_extra

    require_extra()
    from nashlab.experiments.plots import plot_sweep

    if not (Path(args.directory) / "results.parquet").is_file():  # before --out is created
        raise UsageError(f"{args.directory} is not a finished sweep: results.parquet is missing")
    writable_dir(args.out if args.out else Path(args.directory) / "figures", "--out")

    try:
        paths = plot_sweep(args.directory, args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
