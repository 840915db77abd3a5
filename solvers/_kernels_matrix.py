"""Compiled updates for batches of two-player zero-sum matrix games (private; the public entry
is ``nashlab.solvers.matrix_games.run_matrix_game(backend=...)``).

Game k of the batch has payoff A_k (m × n); x maximises xᵀA_k y, y minimises it, and their
payoffs are g_x = A_k y and g_y = −A_kᵀ x. Each player's update is the affine log-space step
of ``_kernels_cpu._affine_step``, ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) with the uniform
magnet μ (``nashlab.solvers.matrix_games`` module docstring), and the rule picks the payoffs:

* RULE_EXTRAGRADIENT (PU, Mirror Prox): ζ½ = S(ζ, F(ζ)); ζ⁺ = S(ζ, F(ζ½)); the midpoint
  policies are added to ``mid_x``, ``mid_y`` (Mirror Prox's average);
* RULE_SINGLE (MMD): ζ⁺ = S(ζ, F(ζ));
* RULE_OPTIMISTIC (OMWU): ζ̄ = S(ζ, ĝ); ĝ ← F(ζ̄); ζ⁺ = S(ζ, ĝ).

One game per prange task, scalar loops in the order of the NumPy reference's products.
"""

import math

import numpy as np
from numba import njit, prange

from nashlab.solvers._kernels_cpu import (
    RULE_EXTRAGRADIENT,
    RULE_SINGLE,
    _affine_step,
)


@njit(cache=True)
def _payoffs(A, x, y, gx, gy):
    """gx = A·y, gy = −Aᵀ·x."""
    m, n = A.shape
    for i in range(m):
        acc = 0.0
        for j in range(n):
            acc += A[i, j] * y[j]
        gx[i] = acc
    for j in range(n):
        gy[j] = 0.0
    for i in range(m):
        xi = x[i]
        for j in range(n):
            gy[j] += A[i, j] * xi
    for j in range(n):
        gy[j] = -gy[j]


@njit(cache=True)
def _run_game(A, u, v, gx, gy, mid_x, mid_y, rule, a, b, c, iterations):
    m, n = A.shape
    log_mx = np.full(m, -math.log(m))
    log_my = np.full(n, -math.log(n))
    x, y = np.exp(u), np.exp(v)
    half_u, half_v = np.empty(m), np.empty(n)
    half_x, half_y = np.empty(m), np.empty(n)
    for _ in range(iterations):
        if rule == RULE_SINGLE or rule == RULE_EXTRAGRADIENT:
            _payoffs(A, x, y, gx, gy)
        if rule != RULE_SINGLE:
            _affine_step(a, b, c, u, log_mx, gx, half_u, half_x)
            _affine_step(a, b, c, v, log_my, gy, half_v, half_y)
            _payoffs(A, half_x, half_y, gx, gy)
        if rule == RULE_EXTRAGRADIENT:
            mid_x += half_x
            mid_y += half_y
        _affine_step(a, b, c, u, log_mx, gx, u, x)
        _affine_step(a, b, c, v, log_my, gy, v, y)


@njit(cache=True, parallel=True)
def run_matrix_games(A, u, v, gx, gy, mid_x, mid_y, rule, a, b, c, iterations):
    """``iterations`` steps of ``rule`` on every game of the batch, in parallel over games.

    A : (B, m, n) float64. u, v : (B, m), (B, n) normalised log-policies, updated in place.
    gx, gy : (B, m), (B, n) the last payoffs; OMWU's predictor ĝ on entry (start: F(ζ_0)) and
    on exit. mid_x, mid_y : (B, m), (B, n) midpoint-policy sums (extragradient rule).
    """
    for k in prange(A.shape[0]):
        _run_game(A[k], u[k], v[k], gx[k], gy[k], mid_x[k], mid_y[k], rule, a, b, c, iterations)


@njit(cache=True)
def run_matrix_games_serial(A, u, v, gx, gy, mid_x, mid_y, rule, a, b, c, iterations):
    """``run_matrix_games`` game after game on one thread (bitwise the same result)."""
    for k in range(A.shape[0]):
        _run_game(A[k], u[k], v[k], gx[k], gy[k], mid_x[k], mid_y[k], rule, a, b, c, iterations)
