"""``nashlab solve``: the certified equilibrium of a preference game (``--game`` / ``--matrix``),
or an MDP (``--mdp``, through :mod:`nashlab.cli.mdp`)."""

import json
from pathlib import Path

import numpy as np

from nashlab.cli._errors import Failure, UsageError, check_memory

GAMES = ("perturbed-rps", "rps", "cyclic", "random", "bradley-terry", "tournament", "annotators")
#: Games whose size is ``--n`` (perturbed-rps and rps have 3 actions).
SIZED = ("cyclic", "random", "bradley-terry", "tournament", "annotators")
#: Peak memory of generating and solving one game, in n×n float64 arrays: the smallest
#: measured (tracemalloc, n = 400 and 800: 5 for every generator at β > 0; 10 for the
#: β = 0 LP; 15 for annotators), so that no run that fits is refused.
PEAK_ARRAYS = 5
DEFAULT_N, DEFAULT_SEED = 10, 0
#: The flags of each kind of problem (a flag of the other kind is a usage error).
GAME_FLAGS = ("game", "matrix", "n", "seed", "beta", "reference")
MDP_FLAGS = ("gamma", "regularizer", "uncertainty")
#: The --backend values this command accepts: no CUDA kernel serves a problem it builds.
BACKENDS = ("auto", "numpy", "numba")


def load_array(path, name) -> np.ndarray:
    """Read a numeric array from .npy (no pickle), .json (nested lists or {name: ...}) or .csv."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{name}: no such file {str(path)!r}")
    if not path.is_file():
        raise UsageError(f"{name}: {str(path)!r} is not a regular file")
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                if name not in data:
                    raise UsageError(f"{name}: JSON object in {path} has no key {name!r}")
                data = data[name]
            arr = np.array(data, dtype=float)
        elif path.suffix == ".csv":
            arr = np.loadtxt(path, delimiter=",", dtype=float, ndmin=1)
        else:
            raise UsageError(f"{name}: unsupported file type {path.suffix!r} (use .npy, .json or .csv)")
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{name}: cannot read {path}: {exc}") from None
    return arr


def _reference(spec, n):
    if spec is None or spec == "uniform":
        return None
    if Path(spec).suffix in (".npy", ".json", ".csv"):
        return load_array(spec, "reference")
    try:
        return np.array([float(v) for v in spec.split(",")])
    except ValueError:
        raise UsageError(f"--reference must be 'uniform', a file, or p1,p2,...; got {spec!r}") from None


def _make_game(args):
    from nashlab import games

    if args.matrix is not None:
        P = load_array(args.matrix, "P")
        if P.ndim != 2:
            raise UsageError(f"--matrix must hold one square matrix P (n, n), got shape {P.shape}")
        return games.PreferenceGame(P, _reference(args.reference, P.shape[-1]), args.beta)
    name = args.game
    n = DEFAULT_N if args.n is None else args.n
    seed = DEFAULT_SEED if args.seed is None else args.seed
    if name in SIZED and isinstance(n, int) and n > 0:
        check_memory(PEAK_ARRAYS * 8.0 * n * n, f"--n {n} ({PEAK_ARRAYS} arrays of {n}×{n} float64)")
    kwargs = {"beta": args.beta}
    if name in ("perturbed-rps", "rps"):
        game = games.perturbed_rps(**kwargs) if name == "perturbed-rps" else games.rps(**kwargs)
    elif name == "cyclic":
        game = games.cyclic(n, **kwargs)
    elif name == "random":
        game = games.random_preference(n, seed=seed, **kwargs)
    elif name == "bradley-terry":
        scores = np.random.default_rng(seed).standard_normal(n)
        game = games.bradley_terry(scores, **kwargs)
    elif name == "tournament":
        game = games.tournament(n, seed=seed, **kwargs)
    else:
        game = games.annotator_mixture(n, 3, seed=seed, **kwargs)
    return game.with_reference(_reference(args.reference, game.n))


def _solved(compute):
    """``compute()``, with a numerical failure inside the solver (a singular system, an
    overflow, a runtime error of a compiled kernel) raised as :class:`Failure` (exit 1)."""
    try:
        return compute()
    except (np.linalg.LinAlgError, ArithmeticError, RuntimeError) as exc:
        raise Failure(f"the solver failed: {type(exc).__name__}: {exc}") from None


def solve(args) -> int:
    if args.backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {BACKENDS}, got {args.backend!r} (no CUDA "
                         "kernel serves a problem this command builds)")
    stray = [f for f in (GAME_FLAGS if args.mdp is not None else MDP_FLAGS) if getattr(args, f) is not None]
    if stray:
        flags = ", ".join("--" + f for f in stray)
        raise UsageError(f"{flags}: a preference-game flag, not used with --mdp" if args.mdp
                         else f"{flags}: only used with --mdp NAME")
    if args.game is not None and args.matrix is not None:
        raise UsageError("give --game NAME or --matrix FILE, not both")
    if args.n is not None and args.mdp is None and args.game not in SIZED:
        raise UsageError(f"--n sets the size of {', '.join(SIZED)}; not used with "
                         f"{'--matrix' if args.matrix else '--game ' + str(args.game)}")
    if args.mdp is not None:
        from nashlab.cli.mdp import solve_mdp_cli

        out = _solved(lambda: solve_mdp_cli(args))
        print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
        return 0 if out["certified"] else 1
    from nashlab.games import exploitability
    from nashlab.solvers import equilibrium

    if args.beta is None:
        raise UsageError("--beta is required (β ≥ 0; 0 gives the von Neumann winner)")
    if args.beta < 0:
        raise UsageError(f"--beta must be ≥ 0, got {args.beta:g}")
    if args.game is None and args.matrix is None:
        raise UsageError("give --game NAME or --matrix FILE")
    game = _make_game(args)
    eq = _solved(lambda: equilibrium(game, backend=args.backend))
    expl_ref = float(exploitability(game, game.reference))
    if args.json:
        out = eq.to_dict()
        out.pop("logits")
        out.update(beta=game.beta, n=game.n, exploitability_of_reference=expl_ref)
        print(json.dumps(out))
    else:
        np.set_printoptions(precision=6, suppress=False, linewidth=100)
        print(f"game: {game!r}")
        print(f"equilibrium ({eq.method}): {eq.policy}")
        print(f"certificate: residual {eq.residual:.3e}, duality gap {eq.gap:.3e}, "
              f"certified={eq.certified} ({eq.message}, {eq.iterations} iterations)")
        print(f"exploitability of the reference: {expl_ref:.6g}")
    return 0 if eq.certified else 1


def add_parser(sub):
    """The ``solve`` subcommand on the subparsers ``sub``."""
    from nashlab.cli.mdp import PROBLEMS, gamma_help, uncertainty_help

    solve_parser = sub.add_parser(
        "solve", help="certified equilibrium of a preference game, or an MDP",
        description="The certified equilibrium of a preference game (--game or --matrix, with "
                    "--beta), or the certified solution of an MDP (--mdp). Exit status 0 if "
                    "certified, 1 if not (or if the solver failed), 2 on a usage error.")
    solve_parser.add_argument("--game", choices=GAMES, help="a generated preference game")
    solve_parser.add_argument("--n", type=int, help=f"number of actions of {', '.join(SIZED)} "
                                                    f"(default {DEFAULT_N})")
    solve_parser.add_argument("--seed", type=int, help=f"seed of the generated game (default {DEFAULT_SEED})")
    solve_parser.add_argument("--beta", type=float, help="KL weight β ≥ 0")
    solve_parser.add_argument("--reference", help="uniform | FILE(.npy/.json/.csv) | p1,p2,...")
    solve_parser.add_argument("--matrix", help="preference matrix P from FILE(.npy/.json/.csv)")
    solve_parser.add_argument("--mdp", metavar="NAME", help=f"an MDP problem: {', '.join(PROBLEMS)}")
    solve_parser.add_argument("--gamma", type=float, help=gamma_help())
    solve_parser.add_argument("--regularizer", help="entropy:TAU | kl:TAU | tsallis:TAU (with --mdp)")
    solve_parser.add_argument("--uncertainty", metavar="KIND:R", help=uncertainty_help())
    solve_parser.add_argument("--backend", default="auto",
                              help="auto (default: compiled kernels where they apply) | numpy | "
                                   "numba (the compiled robust oracles, --mdp with --uncertainty; "
                                   "the exact game and nominal MDP solvers have no kernel)")
    solve_parser.add_argument("--json", action="store_true", help="print one JSON object")
    solve_parser.set_defaults(func=solve)
    return solve_parser
