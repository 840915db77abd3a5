"""The glue between the drivers and the compiled kernels (numba CPU, numba.cuda).

The kernels (private modules ``_kernels_cpu``, ``_kernels_cuda``, ``_kernels_matrix``) run the
affine step ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) of ``nashlab.solvers.prox`` inside one of
the compositions of ``nashlab.solvers.compositions``; here the composition name of the
method table becomes the kernel's rule constant, and (a, b, c) always come from
``prox.step_coefficients``. The kernel modules load on first use (numba is not imported by
``import nashlab``).
"""

import math

import numpy as np

from nashlab.solvers import threads

#: multiply-adds (iterations·B·n²) from which a kernel call runs its blocks in parallel (the
#: one threshold of ``nashlab.solvers.threads``, which also picks the thread count)
PARALLEL_MIN_WORK = threads.PARALLEL_MIN_WORK

#: composition -> the kernels' rule constant (the same numbers in every kernel module)
RULES = {"extragradient": 0, "single": 1, "mixture": 2, "optimistic": 3}


def namespace_and_kernels(backend):
    """(array module, preference-game kernel module) of a compiled backend."""
    if backend == "numba":
        from nashlab.solvers import _kernels_cpu

        return np, _kernels_cpu
    import cupy

    from nashlab.solvers import _kernels_cuda

    return cupy, _kernels_cuda


def _game_arrays(game, logits, xp):
    """A (B, n, n), log μ (B, n) and the logits (B, n) as C-ordered, writable arrays of xp."""
    B, n = int(np.prod(game.batch_shape, dtype=int)), game.n
    A = xp.ascontiguousarray(xp.asarray(game.A).reshape(B, n, n))
    log_mu = xp.empty((B, n))  # C-ordered and writable: one kernel signature
    log_mu[...] = xp.asarray(game.log_reference).reshape(-1, n)
    state = xp.ascontiguousarray(xp.asarray(logits).reshape(B, n))
    return A, log_mu, state


def kernel_iterates(game, composition, logits, steps, backend):
    """Run the compiled ``composition`` on every game of ``game`` from ``logits`` (*batch, n).

    ``steps``: (k, (a, b, c)) pairs, k iterations with the affine-step coefficients (a, b, c)
    of ``prox.step_coefficients``; after each pair, yields the logits as a new NumPy array of
    the shape of ``logits``. backend: "numba" (blocks of ``_kernels_cpu.LANES`` games laid out
    games-last, padded with the zero game) or "cuda" (one thread per game; the state stays
    on the device between pairs).
    """
    rule = RULES[composition]
    if backend == "cuda":
        yield from _cuda_iterates(game, rule, logits, steps)
        return
    _, cpu = namespace_and_kernels("numba")
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
        # blocks in parallel, or one after another below threads.PARALLEL_MIN_WORK
        threads.call(cpu.run_games, cpu.run_games_serial, k * A_blocks.size, A_blocks,
                     log_mu_blocks, state_blocks, predictor, rule, a, b, c, k)
        # a copy: for one block the reshape would be a view of the kernel's state
        yield np.moveaxis(state_blocks, -1, 1).reshape(G * L, n)[:B].reshape(logits.shape).copy()


def _cuda_iterates(game, rule, logits, steps):
    xp, kernels = namespace_and_kernels("cuda")
    A, log_mu, state = _game_arrays(game, logits, xp)
    predictor = xp.ascontiguousarray(xp.matmul(A, xp.exp(state)[..., None])[..., 0])
    for k, (a, b, c) in steps:
        kernels.run_games(A, log_mu, state, predictor, rule, a, b, c, k)
        yield xp.asnumpy(state).reshape(logits.shape)


def matrix_iterates(game, composition, coefficients, u, v, iterations):
    """The numba path of ``run_matrix_game``: one kernel call per step on the flattened batch.

    Yields (u, v, midpoint sum (x, y)) after each step as new arrays of the shapes of u, v.
    """
    from nashlab._xp import matvec
    from nashlab.solvers import _kernels_matrix as kernels

    rule = RULES[composition]
    a, b, c = coefficients
    m, n = game.m, game.n
    A = np.ascontiguousarray(np.broadcast_to(game.A, game.batch_shape + (m, n)).reshape(-1, m, n))
    U = np.broadcast_to(u, game.batch_shape + (m,)).reshape(-1, m).copy()  # writable state
    V = np.broadcast_to(v, game.batch_shape + (n,)).reshape(-1, n).copy()
    gx = np.ascontiguousarray(matvec(A, np.exp(V)))  # F(ζ_0): OMWU's first predictor
    gy = np.ascontiguousarray(-matvec(np.swapaxes(A, -1, -2), np.exp(U)))
    mid_x, mid_y = np.zeros_like(U), np.zeros_like(V)
    for _ in range(iterations):  # games in parallel, or serial below threads.PARALLEL_MIN_WORK
        threads.call(kernels.run_matrix_games, kernels.run_matrix_games_serial, A.size, A, U, V,
                     gx, gy, mid_x, mid_y, rule, a, b, c, 1)
        yield U.reshape(u.shape).copy(), V.reshape(v.shape).copy(), \
            (mid_x.reshape(u.shape).copy(), mid_y.reshape(v.shape).copy())
