"""Compiled CPU kernels (numba) for the NLHF update rules on preference games.

Private: the validating public entry points are ``nashlab.solvers.batched.run_batched`` /
``fused_prox_step`` and the packed-matrix helpers of ``nashlab.solvers.packed``. All kernels
are ``@njit(cache=True)`` with strict IEEE semantics (no fastmath), float64 state. Batches
of games run in blocks of ``LANES`` games laid out games-last, so that every loop is
vectorised across games (with a library-free e^x, ``_exp_nonpositive``).

Every update rule of theory notes nlhf.md §0 used here is a composition of one *affine
log-space step* followed by normalisation,

    ℓ⁺ = normalise(a·ℓ + b·log μ + c·g),        normalise(z) = z − max z − log Σ e^{z − max z},

with g = A·π' the centred oracle answer (A = P − ½; the constant ½ of P·π' = ½ + A·π' only
shifts z and is removed by the normalisation). The coefficients are

* prox form (Nash-MP, MMD; ``nashlab.solvers.prox.prox_step``):
  a = 1/(1+ηβ), b = ηβ/(1+ηβ), c = η/(1+ηβ)   (η = ∞: a = 0, b = 1, c = 1/β),
* mirror-descent form (Nash-MD, EGPO, OMD, OMWU): a = 1 − η'β, b = η'β, c = η'.

Write S(ℓ, g) for this step. ``RULE_*`` selects which opponent feeds g and which point the
step is anchored at:

* RULE_EXTRAGRADIENT (Nash-MP / EGPO): ℓ½ = S(ℓ, Aπ);  ℓ⁺ = S(ℓ, Aπ½)
* RULE_SINGLE (MMD / OMD):             ℓ⁺ = S(ℓ, Aπ)
* RULE_MIXTURE (Nash-MD, eq. 5 of arXiv 2312.00886): π^μ = normalise(aℓ + b·log μ);
  ℓ⁺ = S(ℓ, Aπ^μ)
* RULE_OPTIMISTIC (OMWU, Cen et al. arXiv 2105.15186): ℓ̄ = S(ℓ, ĝ);  ĝ ← Aπ̄;  ℓ⁺ = S(ℓ, ĝ),
  with ĝ = Aπ_0 before the first step.

Packed antisymmetric matrices (``nashlab.solvers.packed``): the tiles T×T of A on and above
the block diagonal, tile (I, J) with I ≤ J. A·x = Σ_{I<J} (e_I ⊗ A_IJ x_J − e_J ⊗ A_IJᵀ x_I)
+ Σ_I A_II x_I, so each stored number is read once per product: half the bytes of a dense
matrix-vector product.
"""

import math

import numba
import numpy as np
from numba import njit, prange

RULE_EXTRAGRADIENT = 0
RULE_SINGLE = 1
RULE_MIXTURE = 2
RULE_OPTIMISTIC = 3


# ---- the affine step on one vector ------------------------------------------------------

@njit(cache=True)
def _affine_step(a, b, c, logits, log_mu, g, out_logits, out_policy):
    """out_logits = normalise(a·logits + b·log_mu + c·g); out_policy = exp(out_logits).

    ``out_logits`` may be ``logits`` (element i is read before it is written).
    """
    n = logits.shape[0]
    zmax = -np.inf
    for i in range(n):
        z = a * logits[i] + b * log_mu[i] + c * g[i]
        out_logits[i] = z
        if z > zmax:
            zmax = z
    total = 0.0
    for i in range(n):
        e = math.exp(out_logits[i] - zmax)
        out_policy[i] = e
        total += e
    shift = zmax + math.log(total)
    for i in range(n):
        out_logits[i] -= shift
        out_policy[i] /= total


# ---- batches of small games, vectorised across games -------------------------------------
#
# A block of L games is stored "structure of arrays": A (n, n, L), logits (n, L), so that every
# loop of the update runs over the L games innermost, contiguous and vectorisable, and each
# game follows exactly the arithmetic of the one-game formulas above.

#: games per block (one prange task); the working set of a block stays in the L2 cache
LANES = 256

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two: k·_LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_POW2_NEG = np.ldexp(1.0, -np.arange(1023))  # 2^{-k}, k = 0..1022
_EXP_FLOOR = -708.0  # e^{-708} ≈ 3.3e-308 is still a normal float64


@njit(cache=True, inline="always")
def _exp_nonpositive(x):
    """e^x for x ≤ 0, without a library call (so that loops over it vectorise).

    Cody–Waite reduction x = k·ln 2 + r with k = round(x/ln 2), |r| ≤ ½ln 2, then the
    degree-13 Taylor polynomial of e^r (truncation error r¹⁴/14! < 5e-18 relative) and the
    exact scaling by 2^k. Within 2 ulp of the correctly rounded value (tested); x < −708 is
    evaluated at −708 (an absolute error below 3.4e-308).
    """
    x = max(x, _EXP_FLOOR)
    k = math.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _POW2_NEG[np.int64(-k)]


@njit(cache=True)
def exp_nonpositive(x, out):
    """out = e^x elementwise (x ≤ 0) with the kernels' exponential (exposed for its test)."""
    for i in range(x.shape[0]):
        out[i] = _exp_nonpositive(x[i])


@njit(cache=True)
def _matvec_lanes(A, x, out):
    """out[:, w] = A[:, :, w]·x[:, w] for every game w of the block (sums in order of j)."""
    n, L = x.shape
    if L == 1:  # a single game: plain dot products (no per-(i, j) loop set-up)
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += A[i, j, 0] * x[j, 0]
            out[i, 0] = acc
        return
    for i in range(n):
        for w in range(L):
            out[i, w] = 0.0
        for j in range(n):
            for w in range(L):
                out[i, w] += A[i, j, w] * x[j, w]


@njit(cache=True)
def _affine_step_lanes(a, b, c, logits, log_mu, g, out_logits, out_policy, zmax, total):
    """``_affine_step`` for every game of the block; zmax, total : (L,) scratch."""
    n, L = logits.shape
    for w in range(L):
        zmax[w] = -np.inf
        total[w] = 0.0
    for i in range(n):
        for w in range(L):
            z = a * logits[i, w] + b * log_mu[i, w] + c * g[i, w]
            out_logits[i, w] = z
            zmax[w] = max(zmax[w], z)
    for i in range(n):
        for w in range(L):
            e = _exp_nonpositive(out_logits[i, w] - zmax[w])
            out_policy[i, w] = e
            total[w] += e
    for w in range(L):
        zmax[w] += math.log(total[w])  # the shift max z + log Σ e^{z − max z}
        total[w] = 1.0 / total[w]
    for i in range(n):
        for w in range(L):
            out_logits[i, w] -= zmax[w]
            out_policy[i, w] *= total[w]


@njit(cache=True)
def _run_block(A, log_mu, logits, predictor, rule, a, b, c, iterations):
    """``iterations`` steps of ``rule`` on one block of games; logits, predictor in place."""
    n, L = logits.shape
    policy = np.empty((n, L))
    half = np.empty((n, L))
    half_policy = np.empty((n, L))
    zmax = np.empty(L)
    total = np.empty(L)
    g = predictor if rule == RULE_OPTIMISTIC else np.zeros((n, L))
    for i in range(n):
        for w in range(L):
            policy[i, w] = math.exp(logits[i, w])
    for _ in range(iterations):
        if rule == RULE_EXTRAGRADIENT:
            _matvec_lanes(A, policy, g)
            _affine_step_lanes(a, b, c, logits, log_mu, g, half, half_policy, zmax, total)
            _matvec_lanes(A, half_policy, g)
        elif rule == RULE_SINGLE:
            _matvec_lanes(A, policy, g)
        elif rule == RULE_MIXTURE:
            _affine_step_lanes(a, b, 0.0, logits, log_mu, g, half, half_policy, zmax, total)
            _matvec_lanes(A, half_policy, g)
        else:  # RULE_OPTIMISTIC: the midpoint uses the previous midpoint's answer ĝ
            _affine_step_lanes(a, b, c, logits, log_mu, g, half, half_policy, zmax, total)
            _matvec_lanes(A, half_policy, g)
        _affine_step_lanes(a, b, c, logits, log_mu, g, logits, policy, zmax, total)


@njit(cache=True, parallel=True)
def run_games(A, log_mu, logits, predictor, rule, a, b, c, iterations):
    """``iterations`` steps of ``rule`` on G blocks of L games, in parallel over the blocks.

    A : (G, n, n, L) float64, A = P − ½, game w of block k in A[k, :, :, w].
    log_mu, logits, predictor : (G, n, L) float64; ``logits`` (normalised) and ``predictor``
    (OMWU's ĝ = Aπ̄, start Aπ_0) are updated in place. a, b, c : affine-step coefficients.
    """
    for k in prange(logits.shape[0]):
        _run_block(A[k], log_mu[k], logits[k], predictor[k], rule, a, b, c, iterations)


@njit(cache=True, parallel=True)
def affine_steps(logits, log_mu, g, a, b, c, out_logits):
    """The fused prox step on a batch: out = normalise(a·logits + b·log_mu + c·g), rows (B, n)."""
    for k in prange(logits.shape[0]):
        policy = np.empty(logits.shape[1])
        _affine_step(a, b, c, logits[k], log_mu[k], g[k], out_logits[k], policy)


# ---- packed antisymmetric matrices ----------------------------------------------------

@njit(cache=True)
def _tile_products(tile, x_rows, x_cols, w_rows, w_cols, diagonal):
    """w_rows += A_IJ·x_cols and, off the diagonal, w_cols −= A_IJᵀ·x_rows (one tile).

    The arguments are T-long views, so that the transposed product (an axpy per row)
    vectorises; the row sums run four rows at a time (independent accumulators), each row
    summed in order.
    """
    T = tile.shape[0]
    for r in range(0, T, 4):
        t0, t1, t2, t3 = tile[r], tile[r + 1], tile[r + 2], tile[r + 3]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for q in range(T):
            xq = x_cols[q]
            s0 += np.float64(t0[q]) * xq
            s1 += np.float64(t1[q]) * xq
            s2 += np.float64(t2[q]) * xq
            s3 += np.float64(t3[q]) * xq
        w_rows[r] += s0
        w_rows[r + 1] += s1
        w_rows[r + 2] += s2
        w_rows[r + 3] += s3
    if not diagonal:
        for r in range(T):
            xr = x_rows[r]
            row = tile[r]
            for q in range(T):
                w_cols[q] -= np.float64(row[q]) * xr


@njit(cache=True, parallel=True)
def packed_matvec(tiles, tile_rows, tile_cols, bounds, work, x, out):
    """out = A·x for A packed in tiles (``nashlab.solvers.packed``), in parallel over rows.

    tiles : (K, T, T) float64 or float32, tile k = A[IT:(I+1)T, JT:(J+1)T] with
    I = tile_rows[k] ≤ J = tile_cols[k], T a multiple of 4. bounds : (C+1,) the tile ranges
    of C chunks (consecutive tiles, about K/C each). work : (C, N) float64 scratch, one
    accumulator per chunk, N = (number of tile rows)·T. x : (N,) float64, zero-padded.
    out : (N,). The chunks run in parallel; their accumulators are then summed.
    """
    T = tiles.shape[1]
    chunks = work.shape[0]
    for ch in prange(chunks):
        w = work[ch]
        for i in range(w.shape[0]):
            w[i] = 0.0
        for k in range(bounds[ch], bounds[ch + 1]):
            r0 = tile_rows[k] * T
            c0 = tile_cols[k] * T
            _tile_products(tiles[k], x[r0:r0 + T], x[c0:c0 + T], w[r0:r0 + T], w[c0:c0 + T],
                           r0 == c0)
    for i in range(out.shape[0]):  # O(C·N): serial, one parallel region per product
        acc = 0.0
        for ch in range(chunks):
            acc += work[ch, i]
        out[i] = acc


@njit(cache=True)
def _packed_step(tiles, tile_rows, tile_cols, bounds, work, policy, g, n,
                 a, b, c, logits, log_mu, out_logits, out_policy):
    """g = A·policy (packed); then the affine step on the first n entries."""
    packed_matvec(tiles, tile_rows, tile_cols, bounds, work, policy, g)
    _affine_step(a, b, c, logits, log_mu, g[:n], out_logits, out_policy[:n])


@njit(cache=True)
def nash_mp_packed(tiles, tile_rows, tile_cols, bounds, work, logits, log_mu,
                   a, b, c, iterations):
    """``iterations`` Nash-MP (extragradient) steps on one packed game: two products each.

    logits, log_mu : (n,) float64, ``logits`` (normalised) updated in place; the policies are
    zero-padded to the packed size N ≥ n.
    """
    N = work.shape[1]
    n = logits.shape[0]
    policy = np.zeros(N)
    half_policy = np.zeros(N)
    half = np.zeros(n)
    g = np.zeros(N)
    for i in range(n):
        policy[i] = math.exp(logits[i])
    for _ in range(iterations):
        _packed_step(tiles, tile_rows, tile_cols, bounds, work, policy, g, n,
                     a, b, c, logits, log_mu, half, half_policy)
        _packed_step(tiles, tile_rows, tile_cols, bounds, work, half_policy, g, n,
                     a, b, c, logits, log_mu, logits, policy)


def num_threads() -> int:
    """Threads numba's parallel kernels use."""
    return numba.get_num_threads()
