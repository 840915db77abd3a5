"""``nashlab plot DIR [--out FIGDIR]``: the standard figures of a sweep folder
(``nashlab.experiments.plots``): metric vs iterations and vs queries per method, queries to ε
vs β and vs n, the (β, η) heat map; PNG and SVG in DIR/figures."""

import argparse
import sys

from nashlab.cli._errors import UsageError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nashlab plot", description=__doc__.splitlines()[0])
    parser.add_argument("directory", metavar="DIR", help="a finished sweep folder (nashlab sweep --out)")
    parser.add_argument("--out", metavar="FIGDIR", help="figure folder (default DIR/figures)")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    from nashlab.cli.sweep import require_extra

    require_extra()
    from nashlab.experiments.plots import plot_sweep

    try:
        paths = plot_sweep(args.directory, args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
