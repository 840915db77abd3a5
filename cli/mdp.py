"""``nashlab solve --mdp NAME --gamma G [--regularizer KIND:TAU] [--uncertainty KIND:R]``
(the MDP part of :mod:`nashlab.cli.solve`).

``solve_mdp_cli(args) -> dict`` reads an argparse Namespace with attributes ``mdp``,
``gamma``, ``regularizer``, ``uncertainty`` and ``json``, solves with ``solve_mdp`` and
returns a JSON-serialisable summary. Bad specifications raise ``ValueError`` with a one-line
message (the CLI prints it on stderr and exits with status 2).
"""

import inspect

import numpy as np

from nashlab.cli._errors import one_line, plain
from nashlab.games import mdp_problems
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.solvers.dp import solve_mdp

#: --mdp names and their generators (γ is passed when given).
PROBLEMS = {
    "riverswim": mdp_problems.riverswim,
    "machine-replacement": mdp_problems.machine_replacement,
    "garnet": lambda gamma=0.9: mdp_problems.garnet(20, 4, 5, seed=0, gamma=gamma),
    "forest": mdp_problems.forest,
    "gridworld": mdp_problems.gridworld,
}

REGULARIZER_KINDS = ("entropy", "kl", "tsallis")


def default_gammas() -> dict:
    """Each --mdp problem's own discount factor (its generator's default γ)."""
    return {name: inspect.signature(make).parameters["gamma"].default
            for name, make in PROBLEMS.items()}


def gamma_help() -> str:
    defaults = ", ".join(f"{k} {v:g}" for k, v in default_gammas().items())
    return f"discount factor γ ∈ [0, 1) of --mdp (default: the problem's own: {defaults})"


def uncertainty_help() -> str:
    """The --uncertainty help: the spec grammar as ``parse_uncertainty`` documents it (the
    one list of accepted kinds)."""
    from nashlab.games.uncertainty import parse_uncertainty

    return f"a robust MDP (with --mdp). {one_line(plain(parse_uncertainty.__doc__))}"


def parse_regularizer(spec, n_actions):
    """"entropy:0.1" | "kl:0.1" (KL to the uniform policy) | "tsallis:0.1" -> a regularizer."""
    if not isinstance(spec, str):
        raise ValueError(f"--regularizer must be a string like 'entropy:0.1', got {spec!r}")
    kind, sep, value = spec.strip().lower().partition(":")
    if not sep or kind not in REGULARIZER_KINDS:
        raise ValueError(f"--regularizer must be KIND:TAU with KIND in {REGULARIZER_KINDS}, "
                         f"got {spec!r}")
    try:
        tau = float(value)
    except ValueError:
        raise ValueError(f"--regularizer temperature must be a number, got {value!r}") from None
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"--regularizer temperature must be > 0, got {value!r}")
    if kind == "entropy":
        return Entropy(tau)
    if kind == "tsallis":
        return Tsallis(tau)
    return KL(tau, np.full(n_actions, 1.0 / n_actions))


def _build_mdp(name, gamma):
    if name not in PROBLEMS:
        raise ValueError(f"--mdp must be one of {sorted(PROBLEMS)}, got {name!r}")
    if gamma is None:
        return PROBLEMS[name]()
    if not (isinstance(gamma, int | float) and 0 <= gamma < 1):
        raise ValueError(f"--gamma must be a number in [0, 1), got {gamma!r}")
    return PROBLEMS[name](gamma=float(gamma))


def solve_mdp_cli(args) -> dict:
    """Solve the named MDP; returns {mdp, gamma, regularizer, uncertainty, values, policy,
    residual, certified, method, iterations}."""
    mdp = _build_mdp(args.mdp, getattr(args, "gamma", None))
    reg_spec = getattr(args, "regularizer", None)
    unc_spec = getattr(args, "uncertainty", None)
    regularizer = None if reg_spec is None else parse_regularizer(reg_spec, mdp.n_actions)
    uncertainty = None
    if unc_spec is not None:
        from nashlab.games.uncertainty import parse_uncertainty

        uncertainty = parse_uncertainty(unc_spec)
    solution = solve_mdp(mdp, regularizer=regularizer, uncertainty=uncertainty,
                         backend=getattr(args, "backend", "auto"))
    return {
        "mdp": args.mdp,
        "gamma": mdp.gamma,
        "regularizer": reg_spec,
        "uncertainty": unc_spec,
        "values": np.asarray(solution.values).tolist(),
        "policy": np.asarray(solution.policy).tolist(),
        "residual": float(solution.residual),
        "certified": bool(solution.certified),
        "method": solution.method,
        "iterations": int(solution.iterations),
    }
