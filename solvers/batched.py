"""Many games at once: the NLHF update rules on a batch of B games with compiled kernels.

``run_batched`` runs one method of ``nashlab.solvers.nlhf`` on every game of a batched
``PreferenceGame`` (P of shape (*batch, n, n)) in lockstep, with one of the backends of
``nashlab.solvers.backends``: "numpy" calls the reference steps of ``nashlab.solvers.nlhf``;
"numba" and "cuda" run many iterations inside one compiled kernel call: numba on blocks of
games vectorised across the games (``_kernels_cpu.LANES`` per block, blocks in parallel),
numba.cuda with one game per thread.
Step sizes follow the parametrisation of ``nashlab.solvers.nlhf.run``: prox η for "nash-mp"
and "mmd", mirror-descent η' (η'β ≤ 1) for "nash-md", "egpo", "omd" and "omwu".
"""

import math

import numpy as np

from nashlab._xp import normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.metrics import exploitability
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import resolve_backend
from nashlab.solvers.kernels import kernel_iterates, namespace_and_kernels
from nashlab.solvers.methods import get_method
from nashlab.solvers.nlhf import init_state
from nashlab.solvers.oracles import ExactOracle
from nashlab.solvers.prox import prox_step, step_coefficients
from nashlab.solvers.results import Trajectory

#: the preference-game methods with a compiled kernel
METHODS = ("nash-mp", "egpo", "mmd", "omd", "nash-md", "omwu")


def fused_prox_step(log_anchor, g, *, eta, beta, log_reference, backend="auto"):
    """``nashlab.solvers.prox.prox_step`` on rows (B, n), fused into one compiled pass.

    log π⁺ = (log π + ηβ·log μ + η·g)/(1+ηβ) − log Z per row (η = ∞: log μ + g/β − log Z).
    ``log_reference``: (n,) or (B, n). backend: "auto", "numpy", "numba" or "cuda" (the
    arrays' namespace is kept: CuPy in, CuPy out). Returns the normalised (B, n) logits.
    """
    backend = resolve_backend(backend, log_anchor, g, log_reference)
    eta = float("inf") if eta == math.inf else check_scalar(eta, "eta", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    if math.isinf(eta) and beta == 0:
        raise ValueError("eta = inf (the best response) needs beta > 0")
    if backend == "numpy":
        return prox_step(log_anchor, g, eta=eta, beta=beta, log_reference=log_reference)
    xp, kernels = namespace_and_kernels(backend)
    logits = xp.ascontiguousarray(xp.asarray(log_anchor, dtype=float))
    if logits.ndim != 2:
        raise ValueError(f"log_anchor must have shape (B, n), got {logits.shape}")
    g = xp.ascontiguousarray(xp.broadcast_to(xp.asarray(g, dtype=float), logits.shape))
    log_mu = xp.empty(logits.shape)
    log_mu[...] = xp.asarray(log_reference, dtype=float)
    out = xp.empty(logits.shape)
    kernels.affine_steps(logits, log_mu, g, *step_coefficients("prox", eta, beta), out)
    return out


def _validate(game, method, eta, iterations, track_every):
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    entry = get_method("preference", method)
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    if entry.step_form == "mirror-descent" and eta * game.beta > 1:
        raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                         f"eta·beta ≤ 1, got eta·beta = {eta * game.beta:g}")
    if entry.needs_regularization and game.beta <= 0:
        raise ValueError(f"method {method!r} needs beta > 0, got beta = {game.beta:g}")
    iterations = check_int(iterations, "iterations", 0)
    track_every = iterations if track_every is None else check_int(track_every, "track_every", 1)
    return entry, eta, iterations, max(track_every, 1)


def _run_numpy(game, method, eta, logits, chunks):
    """Reference: the steps of ``nashlab.solvers.nlhf`` on the whole batch (NumPy)."""
    from nashlab.solvers.nlhf import STEPS

    oracle, step = ExactOracle(game), STEPS[method]
    state = init_state(game, np.exp(logits))
    for k in chunks:
        for _ in range(k):
            state = step(state, game, oracle, eta)
        yield state.logits


def run_batched(game, method, *, eta, iterations, backend="auto", track_every=None,
                init=None) -> Trajectory:
    """Run ``method`` for ``iterations`` steps on every game of the batch ``game``.

    Parameters
    ----------
    game : PreferenceGame with P of shape (*batch, n, n) (a single game is a batch of one).
    method : one of ``METHODS``.
    eta : step size (prox η for "nash-mp"/"mmd"; mirror-descent η', η'β ≤ 1, otherwise).
    iterations : T ≥ 0.
    backend : "auto", "numpy", "numba" or "cuda" (``nashlab.solvers.backends``).
    track_every : record the exploitability every ``track_every`` iterations (and at T);
        default: only at 0 and T. Between records, one kernel call runs all the iterations.
    init : starting policy π_0, (n,) or (*batch, n), strictly positive; default μ.

    Returns a ``Trajectory`` whose metrics "iteration" (R,) and "exploitability"
    (R, *batch) are recorded at iterations 0, k, 2k, ..., T; ``policy`` is π_T (*batch, n),
    a NumPy array whatever the backend.
    """
    entry, eta, iterations, track_every = _validate(game, method, eta, iterations, track_every)
    shape = game.batch_shape + (game.n,)
    if init is None:
        init = game.reference
    else:
        init = check_distribution(init, "init", game.n, strictly_positive=True)
        if init.ndim > 1 and init.shape != shape:
            raise ValueError(f"init must have shape ({game.n},) or {shape}, got {init.shape}")
    backend = resolve_backend(backend, game.P)
    logits = normalize_logits(np.broadcast_to(np.log(init), shape).copy())
    chunks = [track_every] * (iterations // track_every)
    if iterations % track_every:
        chunks.append(iterations % track_every)

    if backend == "numpy":
        states = _run_numpy(game, method, eta, logits, chunks)
    else:
        coefficients = step_coefficients(entry.step_form, eta, game.beta)
        states = kernel_iterates(game, entry.composition, logits,
                                 [(k, coefficients) for k in chunks], backend)

    iteration, values, last = [0], [exploitability(game, np.exp(logits))], logits
    for k, state in zip(chunks, states, strict=True):
        last = state
        iteration.append(iteration[-1] + k)
        values.append(exploitability(game, np.exp(state)))
    params = {"family": "preference", "method": method, "backend": backend,
              "n_actions": game.n, "n_states": None, "batch_shape": list(game.batch_shape),
              "beta": game.beta, "eta": eta, "iterations": iterations,
              "track_every": track_every}
    metrics = {"iteration": np.asarray(iteration), "exploitability": np.stack(values)}
    return Trajectory(method, params, metrics, np.exp(last))
