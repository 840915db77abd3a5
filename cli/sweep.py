"""``nashlab sweep SPEC.toml [--scheduler ADDRESS] [--out DIR] [--resume]``: a parameter sweep
on dask.distributed (``nashlab.experiments.sweep``).

Without ``--scheduler`` the sweep runs on an embedded LocalCluster (``--workers N``
single-threaded worker processes, default one per core); with ``--scheduler
tcp://HOST:PORT`` on an existing cluster (``dask scheduler`` / ``dask worker``). Finished
cells are kept under DIR/cells; a rerun (or ``--resume``, which also accepts a DIR that
holds another spec, and reads DIR/spec.toml when SPEC is omitted) computes only the cells
that are missing. Ctrl-C stops the sweep and keeps every finished cell. Needs the
``experiments`` extra.
"""

import sys
from pathlib import Path

from nashlab.cli._errors import INTERRUPTED, Parser, UsageError, report, writable_dir

EXTRA = "install the experiments extra: pip install 'nashlab[experiments]'"


def require_extra():
    """UsageError naming the missing package of the experiments extra."""
    for name in ("distributed", "pandas", "pyarrow"):
        try:
            __import__(name)
        except ImportError:
            raise UsageError(f"this command needs {name}: {EXTRA}") from None


def main(argv=None) -> int:
    parser = Parser(prog="nashlab sweep", description=__doc__)
    parser.add_argument("spec", nargs="?", metavar="SPEC.toml", help="the sweep specification")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing dask scheduler (tcp://HOST:PORT)")
    parser.add_argument("--out", metavar="DIR", help="result folder (default: sweep-<SPEC name>)")
    parser.add_argument("--resume", action="store_true", help="add to DIR; finished cells are skipped")
    parser.add_argument("--workers", type=int, metavar="N", help="LocalCluster worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    require_extra()
    from nashlab.experiments import load_spec, sweep

    if args.spec is None:
        if not (args.resume and args.out):
            raise UsageError("give SPEC.toml (or --resume --out DIR to continue the sweep in DIR)")
        spec_path = Path(args.out) / "spec.toml"
        if not spec_path.exists():
            raise UsageError(f"--out {args.out} holds no spec.toml to resume")
    else:
        spec_path = Path(args.spec)
        if not spec_path.is_file():
            raise UsageError(f"spec file not found: {spec_path}")
    spec = load_spec(spec_path)
    out = Path(args.out) if args.out else Path(f"sweep-{spec_path.stem}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file; give a folder")
    if out.exists():
        writable_dir(out, "--out")
    else:
        writable_dir(out.parent, "--out")
    if args.workers is not None and (args.workers < 1 or args.scheduler):
        raise UsageError("--workers must be >= 1 and is for the LocalCluster (not with --scheduler)")
    client = None
    try:
        if args.scheduler:
            from distributed import Client

            try:
                client = Client(args.scheduler, timeout=30)
            except OSError as exc:
                raise UsageError(f"--scheduler {args.scheduler}: cannot connect ({exc})") from None
        # without --scheduler, sweep starts a LocalCluster only if a cell is left to compute
        results = sweep(spec, client=client, out=out, resume=args.resume,
                        progress=not args.no_progress, workers=args.workers)
    except KeyboardInterrupt:
        done = len(list((out / "cells").glob("*.parquet"))) if (out / "cells").exists() else 0
        report("nashlab sweep", f"interrupted (Ctrl-C); {done} of {len(spec.cells)} cells are kept "
               f"in {out / 'cells'}; resume with: nashlab sweep --resume --out {out}", kind="stopped")
        return INTERRUPTED
    finally:
        if client is not None:
            client.close()
    print(f"{len(spec.cells)} cells, {len(results)} rows: {out / 'results.parquet'}, "
          f"{out / 'summary.parquet'}, {out / 'spec.toml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
