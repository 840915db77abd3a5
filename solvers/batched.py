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
from nashlab.solvers import _kernels_cpu as cpu
from nashlab.solvers.backends import resolve_backend
from nashlab.solvers.results import Trajectory

#: method -> (kernel rule, step-size form)
RULES = {
    "nash-mp": (cpu.RULE_EXTRAGRADIENT, "prox"),
    "egpo": (cpu.RULE_EXTRAGRADIENT, "mirror-descent"),
    "mmd": (cpu.RULE_SINGLE, "prox"),
    "omd": (cpu.RULE_SINGLE, "mirror-descent"),
    "nash-md": (cpu.RULE_MIXTURE, "mirror-descent"),
    "omwu": (cpu.RULE_OPTIMISTIC, "mirror-descent"),
}
METHODS = tuple(RULES)

#: multiply-adds (iterations·B·n²) from which a kernel call runs its blocks in parallel:
#: below about a millisecond of work, waking the threads costs more than it saves (and on a
#: loaded machine a descheduled thread stalls the whole region)
PARALLEL_MIN_WORK = 2**22
_NEED_BETA = ("nash-md", "mmd")


def step_coefficients(method, eta, beta):
    """(a, b, c) of the affine log-space step ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) of ``method``.

    Prox form (``nashlab.solvers.prox.prox_step``, Nash-MP arXiv 2505.19731, MMD arXiv
    2206.05825): (1, ηβ, η)/(1+ηβ), and (0, 1, 1/β) at η = ∞. Mirror-descent form (Nash-MD
    arXiv 2312.00886 eq. 5, EGPO arXiv 2503.08942, OMWU arXiv 2105.15186): (1 − η'β, η'β, η').
    """
    return affine_coefficients(RULES[method][1], eta, beta)


def affine_coefficients(form, eta, beta):
    """(a, b, c) of ``step_coefficients`` for the step form "prox" or "mirror-descent"."""
    if form == "mirror-descent":
        return 1.0 - eta * beta, eta * beta, eta
    if math.isinf(eta):
        return 0.0, 1.0, 1.0 / beta
    scale = 1.0 / (1.0 + eta * beta)
    return scale, eta * beta * scale, eta * scale


def fused_prox_step(log_anchor, g, *, eta, beta, log_reference, backend="auto"):
    """``nashlab.solvers.prox.prox_step`` on rows (B, n), fused into one compiled pass.

    log π⁺ = (log π + ηβ·log μ + η·g)/(1+ηβ) − log Z per row (η = ∞: log μ + g/β − log Z).
    ``log_reference``: (n,) or (B, n). backend: "auto", "numpy", "numba" or "cuda" (the
    arrays' namespace is kept: CuPy in, CuPy out). Returns the normalised (B, n) logits.
    """
    from nashlab.solvers.prox import prox_step

    backend = resolve_backend(backend, log_anchor, g, log_reference)
    eta = float("inf") if eta == math.inf else check_scalar(eta, "eta", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    if math.isinf(eta) and beta == 0:
        raise ValueError("eta = inf (the best response) needs beta > 0")
    if backend == "numpy":
        return prox_step(log_anchor, g, eta=eta, beta=beta, log_reference=log_reference)
    xp, kernels = _namespace_and_kernels(backend)
    logits = xp.ascontiguousarray(xp.asarray(log_anchor, dtype=float))
    if logits.ndim != 2:
        raise ValueError(f"log_anchor must have shape (B, n), got {logits.shape}")
    g = xp.ascontiguousarray(xp.broadcast_to(xp.asarray(g, dtype=float), logits.shape))
    log_mu = xp.empty(logits.shape)
    log_mu[...] = xp.asarray(log_reference, dtype=float)
    out = xp.empty(logits.shape)
    kernels.affine_steps(logits, log_mu, g, *step_coefficients("nash-mp", eta, beta), out)
    return out


def _namespace_and_kernels(backend):
    """(array module, kernel module) of a compiled backend."""
    if backend == "numba":
        return np, cpu
    import cupy

    from nashlab.solvers import _kernels_cuda

    return cupy, _kernels_cuda



def _validate(game, method, eta, iterations, track_every):
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if method not in RULES:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    if RULES[method][1] == "mirror-descent" and eta * game.beta > 1:
        raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                         f"eta·beta ≤ 1, got eta·beta = {eta * game.beta:g}")
    if method in _NEED_BETA and game.beta <= 0:
        raise ValueError(f"method {method!r} needs beta > 0, got beta = {game.beta:g}")
    iterations = check_int(iterations, "iterations", 0)
    track_every = iterations if track_every is None else check_int(track_every, "track_every", 1)
    return eta, iterations, max(track_every, 1)


def _run_numpy(game, method, eta, logits, chunks):
    """Reference: the steps of ``nashlab.solvers.nlhf`` on the whole batch (NumPy)."""
    from nashlab.solvers import nlhf
    from nashlab.solvers.oracles import ExactOracle

    oracle, step = ExactOracle(game), nlhf.STEPS[method]
    state = nlhf.State(logits, np.asarray(game.log_reference))
    for k in chunks:
        for _ in range(k):
            state = step(state, game, oracle, eta)
        yield state.logits


def _game_arrays(game, logits, xp):
    """A (B, n, n), log μ (B, n) and the logits (B, n) as C-ordered, writable arrays of xp."""
    B, n = int(np.prod(game.batch_shape, dtype=int)), game.n
    A = xp.ascontiguousarray(xp.asarray(game.A).reshape(B, n, n))
    log_mu = xp.empty((B, n))  # C-ordered and writable: one kernel signature
    log_mu[...] = xp.asarray(game.log_reference).reshape(-1, n)
    state = xp.ascontiguousarray(xp.asarray(logits).reshape(B, n))
    return A, log_mu, state


def kernel_iterates(game, method, logits, steps, backend):
    """Run ``method``'s compiled kernel on every game of ``game`` from ``logits`` (*batch, n).

    ``steps``: (k, (a, b, c)) pairs, k iterations with the affine-step coefficients (a, b, c)
    of ``step_coefficients``; after each pair, yields the logits as a new NumPy array of the
    shape of ``logits``. backend: "numba" (blocks of ``_kernels_cpu.LANES`` games laid out
    games-last, padded with the zero game) or "cuda" (one thread per game; the state stays
    on the device between pairs).
    """
    rule = RULES[method][0]
    if backend == "cuda":
        yield from _cuda_iterates(game, rule, logits, steps)
        return
    A, log_mu, state = _game_arrays(game, logits, np)
    B, n = state.shape
    L = min(cpu.LANES, B)
    G = -(-B // L)
    pad = G * L - B

    def blocks(x, fill):
        x = np.concatenate([x, np.full((pad,) + x.shape[1:], fill)])
        return np.ascontiguousarray(np.moveaxis(x.reshape((G, L) + x.shape[1:]), 1, -1))

    uniform = -math.log(n)
    A_blocks = blocks(A, 0.0)
    log_mu_blocks, state_blocks = blocks(log_mu, uniform), blocks(state, uniform)
    predictor = blocks(np.matmul(A, np.exp(state)[..., None])[..., 0], 0.0)  # ĝ = Aπ_0
    for k, (a, b, c) in steps:
        if k * G * L * n * n >= PARALLEL_MIN_WORK:
            cpu.run_games(A_blocks, log_mu_blocks, state_blocks, predictor, rule, a, b, c, k)
        else:  # block by block: a parallel region's start-up would dominate a small call
            for j in range(G):
                cpu._run_block(A_blocks[j], log_mu_blocks[j], state_blocks[j], predictor[j],
                               rule, a, b, c, k)
        # a copy: for one block the reshape would be a view of the kernel's state
        yield np.moveaxis(state_blocks, -1, 1).reshape(G * L, n)[:B].reshape(logits.shape).copy()


def _cuda_iterates(game, rule, logits, steps):
    xp, kernels = _namespace_and_kernels("cuda")
    A, log_mu, state = _game_arrays(game, logits, xp)
    predictor = xp.ascontiguousarray(xp.matmul(A, xp.exp(state)[..., None])[..., 0])
    for k, (a, b, c) in steps:
        kernels.run_games(A, log_mu, state, predictor, rule, a, b, c, k)
        yield xp.asnumpy(state).reshape(logits.shape)


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
        default: only at 0 and T.
    init : starting policy π_0, (n,) or (*batch, n), strictly positive; default μ.

    Returns a ``Trajectory`` whose metrics "iteration" (R,) and "exploitability"
    (R, *batch) are recorded at iterations 0, k, 2k, ..., T; ``policy`` is π_T (*batch, n),
    a NumPy array whatever the backend.
    """
    eta, iterations, track_every = _validate(game, method, eta, iterations, track_every)
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
        coefficients = step_coefficients(method, eta, game.beta)
        states = kernel_iterates(game, method, logits, [(k, coefficients) for k in chunks],
                                 backend)

    iteration, values, last = [0], [exploitability(game, np.exp(logits))], logits
    for k, state in zip(chunks, states, strict=True):
        last = state
        iteration.append(iteration[-1] + k)
        values.append(exploitability(game, np.exp(state)))
    params = {"method": method, "eta": eta, "beta": game.beta, "n": game.n,
              "iterations": iterations, "track_every": track_every, "backend": backend,
              "batch_shape": list(game.batch_shape)}
    metrics = {"iteration": np.asarray(iteration), "exploitability": np.stack(values)}
    return Trajectory(method, params, metrics, np.exp(last))
