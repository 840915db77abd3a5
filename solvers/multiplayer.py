"""Multiplayer Nash preference optimisation (MNPO, Wu et al., arXiv 2509.23102) — tabular.

m ≥ 2 players share one preference game (P, μ, β). Player i plays π_i against the average
of the others, π̄_{−i} = (1/(m−1))·Σ_{j≠i} π_j, and is regularised to the reference:

    J_i(π) = P(π_i ≻ π̄_{−i}) − β·KL(π_i‖μ)

(the objective of the MNPO abstract [P], with uniform opponent weights; the paper's exact
weighting scheme is [U], theory notes nlhf.md §7). With uniform weights the unregularized
part is a zero-sum polymatrix game (A antisymmetric, symmetric weights), so the game is
β-strongly monotone: its equilibrium is unique and equals π_i = π*_β for every i [D].

Nikaido–Isoda gap (exact, log-sum-exp closed form [D]):

    NI(π) = Σ_i [max_{π'} J_i(π', π_{−i}) − J_i(π)]
          = Σ_i β·[logΣ_y μ_y·exp((Pπ̄_{−i})_y/β) − ⟨π_i, Pπ̄_{−i}⟩/β + KL(π_i‖μ)]
          = Σ_i β·KL(π_i ‖ BR_β(π̄_{−i}))  ≥ 0,   zero exactly at the equilibrium.

Updates, every player simultaneously, with ``prox_step`` (β, μ of the game):

* "prox" (MMD/OMD population step): π_i ← prox(π_i, Pπ̄_{−i}; η);
* "mirror-prox" (Nash-MP for each player): π_i½ = prox(π_i, Pπ̄_{−i}; η),
  π_i ← prox(π_i, Pπ̄½_{−i}; η).
With m = 2 they are MMD and Nash-MP of the two-player game.
"""

import numpy as np

from nashlab._xp import matvec, normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar, rng_from_seed
from nashlab.games.metrics import kl_from_logs, nash_conv, opponents_average
from nashlab.games.population import Population
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import NO_KERNEL_MULTI, choose_backend
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.methods import check_options, get_method, methods
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution, Trajectory

MULTIPLAYER_METHODS = methods("population")


def nikaido_isoda(game, logits) -> np.ndarray:
    """NI gap of joint log-policies ``logits`` of shape (..., m, *batch, n) → (..., *batch):
    the population's ``nash_conv`` (``nashlab.games.metrics``), for leading iteration axes."""
    axis = logits.ndim - 1 - len(game.batch_shape) - 1  # the players' axis
    players = logits.shape[axis]
    z = np.moveaxis(logits, axis, 0)
    return nash_conv(Population(game, players), np.exp(z), logits=z)


def _step(logits, game, eta, method):
    entry = get_method("population", method)
    step = make_step(step_coefficients(entry.step_form, eta, game.beta), game.log_reference)

    def payoff(z):  # (Pπ̄₋ᵢ)_i for every player i
        return 0.5 + matvec(game.A, opponents_average(np.exp(z)))

    return COMPOSITIONS[entry.composition](logits, payoff, step)[0]


def run_multiplayer(game, *, players, eta, iterations, seed=None, method="mirror-prox",
                    init=None, track=("nikaido_isoda", "kl"), solution=None,
                    backend="auto", **method_options) -> Trajectory:
    """Run the population update for ``iterations`` steps.

    ``players`` = m ≥ 2; ``init`` (m, n) or (m, *batch, n) strictly positive policies, else
    π_i,0 ∝ μ·exp(ξ_i), ξ_i ~ N(0, I) drawn from ``seed`` (distinct players, so that the
    run is not the symmetric two-player one). Metrics, shape (iterations+1, *batch), among
    ``track``: "nikaido_isoda" (= NashConv), "exploitability" (= NashConv/m) and "kl" =
    Σ_i KL(π*_β‖π_i) (π*_β certified, computed only when "kl" is tracked or taken from
    ``solution``, the ``Solution`` of ``equilibrium(game)``). ``policy`` has shape
    (m, *batch, n). ``backend``: "auto" or "numpy" (no compiled kernel for m players).
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    if game.beta <= 0:
        raise ValueError(f"run_multiplayer needs beta > 0, got {game.beta:g}")
    players = Population(game, players).players
    check_options(get_method("population", method), method_options)
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    iterations = check_int(iterations, "iterations", 0)
    if isinstance(track, str) or any(t not in ("nikaido_isoda", "exploitability", "kl")
                                     for t in track):
        raise ValueError("track must be a collection of names among "
                         "('nikaido_isoda', 'exploitability', 'kl')")
    shape = (players,) + game.batch_shape + (game.n,)
    if init is None:
        rng = rng_from_seed(seed)
        z = game.log_reference + rng.standard_normal(shape)
    else:
        init = check_distribution(init, "init", game.n, strictly_positive=True)
        if init.shape not in (shape, (players, game.n)):
            raise ValueError(f"init must have shape {shape} or {(players, game.n)}, "
                             f"got {init.shape}")
        z = np.broadcast_to(np.log(init), shape)
    z = normalize_logits(z)
    if "kl" in track and solution is None:
        from nashlab.solvers.equilibrium import equilibrium

        solution = equilibrium(game)
        if not solution.certified:
            raise RuntimeError(f"the equilibrium could not be certified ({solution.message})")
    if solution is not None and not isinstance(solution, Solution):
        raise TypeError("solution must be the Solution of equilibrium(game)")

    history = [z]
    for _ in range(iterations):
        z = _step(z, game, eta, method)
        history.append(z)
    H = np.stack(history)  # (T+1, m, *batch, n)
    metrics = {}
    if "nikaido_isoda" in track or "exploitability" in track:
        gap = nikaido_isoda(game, H)
        metrics.update({k: v for k, v in (("nikaido_isoda", gap), ("exploitability", gap / players))
                        if k in track})
    params = {"family": "population", "method": method, "backend": "numpy",
              "n_actions": game.n, "n_states": None, "batch_shape": list(game.batch_shape),
              "players": int(players), "beta": game.beta, "eta": eta,
              "iterations": iterations, "seed": seed}
    if "kl" in track:
        star = solution.logits
        metrics["kl"] = kl_from_logs(np.exp(star), star, H).sum(axis=1)
        params["kl0"] = np.asarray(metrics["kl"][0]).tolist()
    return Trajectory(method, params, metrics, np.exp(z))
