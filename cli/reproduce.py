"""``nashlab reproduce NAME [--games FILE] [--out DIR]``: a published tabular experiment through
the sweep layer (``nashlab.experiments.reproductions``): mmd-qre, nash-mp-rate, egpo-tabular.
Writes the figure(s), the numbers behind them and summary.md to DIR (default ./NAME)."""

import sys

from nashlab.cli._errors import INTERRUPTED, Parser, UsageError, report, writable_dir


def main(argv=None) -> int:
    from nashlab.experiments.reproductions import NAMES

    parser = Parser(prog="nashlab reproduce", description=__doc__)
    parser.add_argument("name", choices=NAMES, metavar="NAME", help=f"one of {', '.join(NAMES)}")
    parser.add_argument("--games", metavar="FILE", help="egpo-tabular: NPZ with P (G, N, N) and "
                        "reference_logits (G, N) to replay")
    parser.add_argument("--out", metavar="DIR", help="output folder (default ./NAME)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing dask scheduler")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    from nashlab.cli.sweep import require_extra

    require_extra()
    from nashlab.experiments.reproductions import reproduce
    from nashlab.experiments.spec import load_games

    if args.games is not None:  # before --out is created and the cluster starts
        if args.name != "egpo-tabular":
            raise UsageError(f"--games: only egpo-tabular replays given games, not {args.name}")
        try:
            load_games(args.games)
        except ValueError as exc:
            raise UsageError(f"--{exc}") from None
    out = writable_dir(args.out or args.name, "--out")
    client = None
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout=30)
        except OSError as exc:
            raise UsageError(f"--scheduler {args.scheduler}: cannot connect ({exc})") from None
    try:
        paths = reproduce(args.name, out, games=args.games, client=client)
    except KeyboardInterrupt:
        report("nashlab reproduce", f"interrupted (Ctrl-C); {out} may hold a part of the figures; "
               f"rerun 'nashlab reproduce {args.name} --out {out}' to redo it", kind="stopped")
        return INTERRUPTED
    finally:
        if client is not None:
            client.close()
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
