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
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.metrics import kl_from_logs
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import NO_KERNEL_MULTI, choose_backend
from nashlab.solvers.equilibrium import equilibrium
from nashlab.solvers.prox import prox_step
from nashlab.solvers.results import Trajectory

MULTIPLAYER_METHODS = ("prox", "mirror-prox")


def opponents_average(policies):
    """π̄_{−i} = (Σ_j π_j − π_i)/(m − 1) for policies of shape (m, ..., n)."""
    m = policies.shape[0]
    return (policies.sum(axis=0, keepdims=True) - policies) / (m - 1)


def nikaido_isoda(game, logits) -> np.ndarray:
    """NI gap of joint log-policies ``logits`` of shape (..., m, *batch, n) → (..., *batch)."""
    pi = np.exp(logits)
    opp = np.moveaxis(opponents_average(np.moveaxis(pi, -2 - len(game.batch_shape), 0)), 0,
                      -2 - len(game.batch_shape))
    g = matvec(game.A, opp)
    log_br = normalize_logits(game.log_reference + g / game.beta)
    gaps = game.beta * kl_from_logs(pi, logits, log_br)
    return gaps.sum(axis=-1 - len(game.batch_shape))


def _step(logits, game, eta, method):
    def prox(anchor, opponents):
        g = 0.5 + matvec(game.A, opponents_average(np.exp(opponents)))
        return prox_step(anchor, g, eta=eta, beta=game.beta, log_reference=game.log_reference)

    half = prox(logits, logits)
    return half if method == "prox" else prox(logits, half)


def run_multiplayer(game, *, players, eta, iterations, seed=None, method="mirror-prox",
                    init=None, backend="auto") -> Trajectory:
    """Run the population update for ``iterations`` steps.

    ``players`` = m ≥ 2; ``init`` (m, n) or (m, *batch, n) strictly positive policies, else
    π_i,0 ∝ μ·exp(ξ_i), ξ_i ~ N(0, I) drawn from ``seed`` (distinct players, so that the
    run is not the symmetric two-player one). Metrics, shape (iterations+1, *batch):
    "nikaido_isoda" and "kl" = Σ_i KL(π*_β‖π_i) (π*_β certified). ``policy`` has shape
    (m, *batch, n). ``backend``: "auto" or "numpy" (no compiled kernel for m players).
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    if game.beta <= 0:
        raise ValueError(f"run_multiplayer needs beta > 0, got {game.beta:g}")
    if isinstance(players, bool) or not isinstance(players, int | np.integer) or players < 2:
        raise ValueError(f"players must be an integer ≥ 2, got {players!r}")
    if method not in MULTIPLAYER_METHODS:
        raise ValueError(f"method must be one of {MULTIPLAYER_METHODS}, got {method!r}")
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    iterations = check_int(iterations, "iterations", 0)
    shape = (players,) + game.batch_shape + (game.n,)
    if init is None:
        rng = np.random.default_rng(seed)
        z = game.log_reference + rng.standard_normal(shape)
    else:
        init = check_distribution(init, "init", game.n, strictly_positive=True)
        if init.shape not in (shape, (players, game.n)):
            raise ValueError(f"init must have shape {shape} or {(players, game.n)}, "
                             f"got {init.shape}")
        z = np.broadcast_to(np.log(init), shape)
    z = normalize_logits(z)
    eq = equilibrium(game)
    if not eq.certified:
        raise RuntimeError(f"the equilibrium could not be certified ({eq.message})")

    history = [z]
    for _ in range(iterations):
        z = _step(z, game, eta, method)
        history.append(z)
    H = np.stack(history)  # (T+1, m, *batch, n)
    star = eq.logits
    kl = kl_from_logs(np.exp(star), star, H).sum(axis=1)
    metrics = {"nikaido_isoda": nikaido_isoda(game, H), "kl": kl}
    params = {"method": method, "players": int(players), "eta": eta, "beta": game.beta,
              "n": game.n, "iterations": iterations, "seed": seed,
              "kl0": np.asarray(kl[0]).tolist(), "batch_shape": list(game.batch_shape)}
    return Trajectory(f"mnpo-{method}", params, metrics, np.exp(z))
