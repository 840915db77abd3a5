"""numba.cuda kernels for the NLHF update rules: batches of small games, large packed games.

Private: reached through ``nashlab.solvers.batched.run_batched(..., backend="cuda")`` and
``nash_mp_packed`` below. The kernels take CuPy arrays, numba device arrays, or (under the
CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``) NumPy arrays. The math is that of
``nashlab.solvers._kernels_cpu`` (its docstring): one affine log-space step
ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) composed per rule, with g = A·π'.

* ``run_games``: one thread per game (the games' state lives in global scratch arrays);
  ``iterations`` steps in one launch.
* ``packed_matvec``: one block of T threads per T×T tile of the packed upper block
  triangle (``nashlab.solvers.packed``); thread t forms row t of A_IJ·x_J and column t of
  A_IJᵀ·x_I and adds them to the output atomically (2T atomics per T² numbers read).
* ``affine_step_block``: the normalised affine step of one long vector in a single block
  (block-wide max and sum reductions in shared memory).
"""

import math

from numba import cuda, float64

RULE_EXTRAGRADIENT = 0
RULE_SINGLE = 1
RULE_MIXTURE = 2
RULE_OPTIMISTIC = 3

#: threads per block of the batched kernel (one game per thread)
GAME_THREADS = 128
#: threads of the single-block normalisation kernel (a power of two): one warp; its O(n)
#: work is negligible next to the O(n²) products it sits between
NORM_THREADS = 32


# ---- batches of small games -------------------------------------------------------------

@cuda.jit(device=True)
def _matvec(A, x, out):
    n = x.shape[0]
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += A[i, j] * x[j]
        out[i] = acc


@cuda.jit(device=True)
def _affine_step(a, b, c, logits, log_mu, g, out_logits, out_policy):
    """out_logits = normalise(a·logits + b·log_mu + c·g); out_policy = exp(out_logits)."""
    n = logits.shape[0]
    zmax = -math.inf
    for i in range(n):
        z = a * logits[i] + b * log_mu[i] + c * g[i]
        out_logits[i] = z
        zmax = max(zmax, z)
    total = 0.0
    for i in range(n):
        e = math.exp(out_logits[i] - zmax)
        out_policy[i] = e
        total += e
    shift = zmax + math.log(total)
    for i in range(n):
        out_logits[i] -= shift
        out_policy[i] /= total


@cuda.jit
def _run_games_kernel(A, log_mu, logits, predictor, policy, half, half_policy, scratch,
                      rule, a, b, c, iterations):
    k = cuda.grid(1)
    if k >= logits.shape[0]:
        return
    Ak, lmu, ell, pi = A[k], log_mu[k], logits[k], policy[k]
    hl, hp = half[k], half_policy[k]
    g = predictor[k] if rule == RULE_OPTIMISTIC else scratch[k]
    n = ell.shape[0]
    for i in range(n):
        pi[i] = math.exp(ell[i])
        if rule != RULE_OPTIMISTIC:
            g[i] = 0.0
    for _ in range(iterations):
        if rule == RULE_EXTRAGRADIENT:
            _matvec(Ak, pi, g)
            _affine_step(a, b, c, ell, lmu, g, hl, hp)
            _matvec(Ak, hp, g)
        elif rule == RULE_SINGLE:
            _matvec(Ak, pi, g)
        elif rule == RULE_MIXTURE:
            _affine_step(a, b, 0.0, ell, lmu, g, hl, hp)
            _matvec(Ak, hp, g)
        else:
            _affine_step(a, b, c, ell, lmu, g, hl, hp)
            _matvec(Ak, hp, g)
        _affine_step(a, b, c, ell, lmu, g, ell, pi)


def run_games(A, log_mu, logits, predictor, rule, a, b, c, iterations, threads=GAME_THREADS):
    """``iterations`` steps of ``rule`` on B games, one thread per game (arguments as in
    ``_kernels_cpu.run_games``; arrays on the device, ``logits`` and ``predictor`` updated
    in place)."""
    B, n = logits.shape
    scratch = [cuda.device_array((B, n)) for _ in range(4)]
    blocks = (B + threads - 1) // threads
    _run_games_kernel[blocks, threads](A, log_mu, logits, predictor, *scratch,
                                       rule, a, b, c, iterations)


@cuda.jit
def _affine_steps_kernel(logits, log_mu, g, a, b, c, out_logits, policy):
    k = cuda.grid(1)
    if k < logits.shape[0]:
        _affine_step(a, b, c, logits[k], log_mu[k], g[k], out_logits[k], policy[k])


def affine_steps(logits, log_mu, g, a, b, c, out_logits, threads=GAME_THREADS):
    """The fused prox step on a batch of rows (B, n): out = normalise(a·ℓ + b·log μ + c·g)."""
    B, n = logits.shape
    policy = cuda.device_array((B, n))
    _affine_steps_kernel[(B + threads - 1) // threads, threads](
        logits, log_mu, g, a, b, c, out_logits, policy)


# ---- large packed games -------------------------------------------------------------------

@cuda.jit
def _zero_kernel(x):
    i = cuda.grid(1)
    if i < x.shape[0]:
        x[i] = 0.0


@cuda.jit
def _packed_matvec_kernel(tiles, tile_rows, tile_cols, x, out):
    k = cuda.blockIdx.x
    t = cuda.threadIdx.x
    T = tiles.shape[1]
    r0 = tile_rows[k] * T
    c0 = tile_cols[k] * T
    row = 0.0
    for q in range(T):
        row += tiles[k, t, q] * x[c0 + q]
    cuda.atomic.add(out, r0 + t, row)
    if r0 != c0:
        col = 0.0
        for r in range(T):
            col += tiles[k, r, t] * x[r0 + r]
        cuda.atomic.add(out, c0 + t, -col)


def packed_matvec(tiles, tile_rows, tile_cols, x, out):
    """out = A·x for A packed in tiles (device arrays; x and out float64 of the padded size)."""
    N = out.shape[0]
    _zero_kernel[(N + NORM_THREADS - 1) // NORM_THREADS, NORM_THREADS](out)
    _packed_matvec_kernel[tiles.shape[0], tiles.shape[1]](tiles, tile_rows, tile_cols, x, out)


@cuda.jit(device=True)
def _block_reduce(shared, value, take_max):
    t = cuda.threadIdx.x
    shared[t] = value
    cuda.syncthreads()
    stride = NORM_THREADS // 2
    while stride > 0:
        if t < stride:
            if take_max:
                shared[t] = max(shared[t], shared[t + stride])
            else:
                shared[t] += shared[t + stride]
        cuda.syncthreads()
        stride //= 2
    result = shared[0]
    cuda.syncthreads()
    return result


@cuda.jit
def _affine_step_block_kernel(a, b, c, logits, log_mu, g, out_logits, out_policy):
    shared = cuda.shared.array(NORM_THREADS, dtype=float64)
    t = cuda.threadIdx.x
    n = logits.shape[0]
    zmax = -math.inf
    for i in range(t, n, NORM_THREADS):
        z = a * logits[i] + b * log_mu[i] + c * g[i]
        out_logits[i] = z
        zmax = max(zmax, z)
    zmax = _block_reduce(shared, zmax, True)
    total = 0.0
    for i in range(t, n, NORM_THREADS):
        e = math.exp(out_logits[i] - zmax)
        out_policy[i] = e
        total += e
    total = _block_reduce(shared, total, False)
    shift = zmax + math.log(total)
    for i in range(t, n, NORM_THREADS):
        out_logits[i] -= shift
        out_policy[i] /= total


def affine_step_block(a, b, c, logits, log_mu, g, out_logits, out_policy):
    """normalise(a·ℓ + b·log μ + c·g) of one vector (n,) in one block; out may be ``logits``."""
    _affine_step_block_kernel[1, NORM_THREADS](a, b, c, logits, log_mu, g, out_logits, out_policy)


def nash_mp_packed(tiles, tile_rows, tile_cols, size, logits, log_mu, a, b, c, iterations):
    """``iterations`` Nash-MP steps on one packed game (device arrays; ``size`` the padded
    order): two packed products and two normalised affine steps per step. ``logits`` (n,)
    updated in place."""
    n, N = logits.shape[0], size
    policy, half_policy, g = (cuda.device_array(N) for _ in range(3))
    half = cuda.device_array(n)
    for buffer in (policy, half_policy):
        _zero_kernel[(N + NORM_THREADS - 1) // NORM_THREADS, NORM_THREADS](buffer)
    zero = cuda.device_array(n)
    _zero_kernel[(n + NORM_THREADS - 1) // NORM_THREADS, NORM_THREADS](zero)
    # π_0 = exp(ℓ_0): the affine step with (a, b, c) = (1, 0, 0) of normalised logits
    affine_step_block(1.0, 0.0, 0.0, logits, log_mu, zero, logits, policy[:n])
    for _ in range(iterations):
        packed_matvec(tiles, tile_rows, tile_cols, policy, g)
        affine_step_block(a, b, c, logits, log_mu, g[:n], half, half_policy[:n])
        packed_matvec(tiles, tile_rows, tile_cols, half_policy, g)
        affine_step_block(a, b, c, logits, log_mu, g[:n], logits, policy[:n])
