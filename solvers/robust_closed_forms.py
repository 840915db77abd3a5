"""Closed forms of the L_p uncertainty sets of Kumar, Derman, Geist, Mannor (arXiv
2205.14327 / 2301.13642), in NumPy (theory notes dp_robust.md §3.2).

For the set {P̄ + u : Σu = 0, ‖u‖_p ≤ β} the worst case is σ = P̄·z − β κ_q(z) with the span
seminorm κ_q(z) = min_ω ‖z − ω1‖_q (1/p + 1/q = 1, ``kappa``), and the s-rectangular L_p
Bellman update is the water filling max_π π·q − σ‖π‖_{p*} (``lp_water_filling``).
``policy_norm`` and ``lp_action_weights`` give ‖π(·|s)‖_q and its Hölder-extremal direction
(nature's reward and kernel perturbation against a fixed policy).
"""

import math

import numpy as np


def kappa(z, q):
    """(κ_q(z), g): κ_q(z) = min_ω ‖z − ω1‖_q, and g with Σg = 0, ‖g‖_p ≤ 1, g·z = κ_q(z).

    q = ∞: span/2; q = 2: ‖z − mean z‖₂; q = 1: Σ|z − median z|; other q by bisection on
    Σ sign(z − ω)|z − ω|^{q−1} = 0."""
    z = np.asarray(z, dtype=np.float64)
    n = z.size
    g = np.zeros(n)
    if math.isinf(q):
        hi, lo = int(np.argmax(z)), int(np.argmin(z))
        g[hi] += 0.5
        g[lo] -= 0.5
        return 0.5 * float(z[hi] - z[lo]), g
    if q == 1.0:
        order = np.argsort(z)
        g[order[: n // 2]] = -1.0
        g[order[n - n // 2:]] = 1.0
        return float(g @ z), g
    if q == 2.0:
        dev = z - z.mean()
        norm = float(np.linalg.norm(dev))
        return norm, (dev / norm if norm > 0 else g)
    lo, hi = float(z.min()), float(z.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        d = z - mid
        if np.sum(np.sign(d) * np.abs(d) ** (q - 1)) > 0:
            lo = mid
        else:
            hi = mid
    d = z - 0.5 * (lo + hi)
    norm = float(np.sum(np.abs(d) ** q) ** (1 / q))
    if norm == 0:
        return 0.0, g
    g = np.sign(d) * (np.abs(d) / norm) ** (q - 1)
    g -= g.mean()  # Σg = 0 up to the bisection error
    return norm, g


def lp_water_filling(q, sigma, p):
    """max_{π ∈ Δ_A} π·q − σ‖π‖_{p*} (1/p + 1/p* = 1), per row of ``q`` (..., A).

    The value is the x* with ‖(q − x*)₊‖_p = σ and π ∝ (q − x*)₊^{p−1} (Kumar et al.,
    arXiv 2301.13642; derived in dp_robust.md §3.2). p = ∞: max q − σ, greedy; p = 1:
    uniform over the top-k; otherwise bisection on x to machine precision."""
    q = np.asarray(q, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), q.shape[:-1])
    top = q.max(axis=-1)
    if math.isinf(p):
        policy = np.zeros_like(q)
        np.put_along_axis(policy, np.argmax(q, axis=-1)[..., None], 1.0, axis=-1)
        return top - sigma, policy
    if p == 1.0:
        qs = -np.sort(-q, axis=-1)
        k = np.arange(1, q.shape[-1] + 1)
        x = (np.cumsum(qs, axis=-1) - sigma[..., None]) / k
        # x_k = (top-k sum − σ)/k is the value of the uniform policy on the top k; take the best
        x_star = x.max(axis=-1)
        active = q > x_star[..., None]
        active |= ~active.any(axis=-1, keepdims=True) & (q == top[..., None])
        return x_star, active / active.sum(axis=-1, keepdims=True)
    lo, hi = top - sigma, top.copy()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = np.sum(np.maximum(q - mid[..., None], 0.0) ** p, axis=-1) > sigma ** p
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    x_star = 0.5 * (lo + hi)
    weights = np.maximum(q - x_star[..., None], 0.0) ** (p - 1)
    zero = weights.sum(axis=-1, keepdims=True) <= 0
    weights = np.where(zero, (q == top[..., None]).astype(float), weights)
    return x_star, weights / weights.sum(axis=-1, keepdims=True)


def lp_action_weights(policy, q):
    """d with Σ_a π_a d_a = ‖π‖_q and ‖d‖_p = 1: the Hölder-extremal direction of π."""
    if math.isinf(q):
        d = np.zeros_like(policy)
        np.put_along_axis(d, np.argmax(policy, axis=1)[:, None], 1.0, axis=1)
        return d
    if q == 1.0:
        return np.ones_like(policy)
    return (policy / policy_norm(policy, q)[:, None]) ** (q - 1.0)


def policy_norm(policy, q):
    """‖π(·|s)‖_q per state."""
    if math.isinf(q):
        return policy.max(axis=1)
    return np.sum(policy ** q, axis=1) ** (1.0 / q)
