"""Policy regularizers Ω for regularized MDPs, with conjugate and greedy map.

For a strongly convex Ω on the simplex Δ_A (Geist, Scherrer, Pietquin, "A Theory of
Regularized Markov Decision Processes", arXiv 1901.11275, Prop. 1):

    Ω*(q) = max_{p ∈ Δ_A} ⟨p, q⟩ − Ω(p),        ∇Ω*(q) = the unique maximiser (greedy policy),

and a temperature τ scales Ω_τ = τΩ, Ω_τ*(q) = τΩ*(q/τ). Every method acts on the last
axis and broadcasts over leading axes (states):

* ``value(policy)``   Ω(π) per state,
* ``conjugate(q)``    Ω*(q) per state,
* ``greedy(q)``       ∇Ω*(q), a policy,
* ``greedy_log(q)``   log ∇Ω*(q), computed in log-space (−inf off the support),
* ``spread(A)``       U_Ω − L_Ω (max − min of Ω over Δ_A), the bias bound of Prop. 3/Thm 2.

Entropy: Ω = τ Σ p log p, Ω* = τ logsumexp(q/τ), ∇Ω* = softmax(q/τ).
KL: Ω = τ KL(p‖μ), Ω* = τ log Σ μ e^{q/τ}, ∇Ω* ∝ μ e^{q/τ}.
Tsallis: Ω = τ·½(‖p‖² − 1), ∇Ω* = sparsemax(q/τ) (Martins & Astudillo, arXiv 1602.02068).
"""

import math

import numpy as np

from nashlab._xp import logsumexp, normalize_logits, safe_log
from nashlab.games._validation import check_distribution, check_logits, check_scalar


def _xlogy(p, log_q):
    """p·log q with 0·(−inf) = 0."""
    with np.errstate(invalid="ignore"):
        return np.where(p > 0, p * log_q, 0.0)


class Entropy:
    """Ω(π) = τ Σ_a π(a) log π(a) (negative Shannon entropy with temperature τ > 0)."""

    name = "entropy"

    def __init__(self, tau):
        self.tau = check_scalar(tau, "tau", low=0.0, low_open=True)

    def __repr__(self):
        return f"Entropy(tau={self.tau:g})"

    def value(self, policy):
        policy = np.asarray(policy, dtype=np.float64)
        return self.tau * np.sum(_xlogy(policy, safe_log(policy)), axis=-1)

    def conjugate(self, q):
        q = np.asarray(q, dtype=np.float64)
        m = np.max(q, axis=-1)
        return m + self.tau * logsumexp(_shifted(q, m, self.tau))

    def greedy_log(self, q):
        q = np.asarray(q, dtype=np.float64)
        return normalize_logits(_shifted(q, np.max(q, axis=-1), self.tau))

    def greedy(self, q):
        return np.exp(self.greedy_log(q))

    def spread(self, n_actions):
        return self.tau * math.log(n_actions)


class KL:
    """Ω(π) = τ KL(π‖μ) towards a reference policy μ of shape (A,) or (S, A)."""

    name = "kl"

    def __init__(self, tau, reference_policy):
        self.tau = check_scalar(tau, "tau", low=0.0, low_open=True)
        self.reference = check_distribution(reference_policy, "reference_policy")
        if self.reference.ndim > 2:
            raise ValueError("reference_policy must have shape (A,) or (S, A), got "
                             f"{self.reference.shape}")
        self.log_reference = safe_log(self.reference)

    def __repr__(self):
        return f"KL(tau={self.tau:g}, reference shape={self.reference.shape})"

    def value(self, policy):
        policy = np.asarray(policy, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            terms = np.where(policy > 0, policy * (safe_log(policy) - self.log_reference), 0.0)
        return self.tau * np.sum(terms, axis=-1)

    def _tilted(self, q):
        """(m, z) with τ·z = q + τ log μ − m ≤ 0, m = max_a (q + τ log μ)."""
        q = np.asarray(q, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            g = q + self.tau * self.log_reference
        m = np.max(g, axis=-1)
        return m, _shifted(g, m, self.tau)

    def conjugate(self, q):
        m, z = self._tilted(q)
        return m + self.tau * logsumexp(z)

    def greedy_log(self, q):
        return normalize_logits(self._tilted(q)[1])

    def greedy(self, q):
        return np.exp(self.greedy_log(q))

    def spread(self, n_actions):
        """max_p KL(p‖μ) = −log min μ (0 at p = μ): τ·max over states of −log min_a μ."""
        return self.tau * float(np.max(-np.min(self.log_reference, axis=-1)))


def _shifted(q, m, tau):
    """(q − m)/τ with m = max q per row: ≤ 0, so that a tiny τ (1e-300) gives −inf off the
    maximisers instead of overflowing q/τ to ±inf (whose difference is NaN)."""
    with np.errstate(invalid="ignore", over="ignore"):
        z = (q - np.asarray(m)[..., None]) / tau
    return np.where(np.isneginf(q), -np.inf, z)  # off the support of μ: −inf, not NaN


def _simplex_projection(q, radius):
    """argmin_{p ≥ 0, Σp = radius} ‖p − q‖ along the last axis (radius > 0), the sorted
    cumulative-sum algorithm on q itself (no division of q by a small radius)."""
    q_sorted = -np.sort(-q, axis=-1)
    k = np.arange(1, q.shape[-1] + 1)
    cumsum = np.cumsum(q_sorted, axis=-1)
    support = radius + k * q_sorted > cumsum
    support[..., 0] = True  # the top entry is always in the support (rounding at tiny radius)
    k_z = np.sum(support, axis=-1, keepdims=True)
    theta = (np.take_along_axis(cumsum, k_z - 1, axis=-1) - radius) / k_z
    return np.maximum(q - theta, 0.0)


def sparsemax(z):
    """Euclidean projection of z onto the simplex along the last axis (Martins & Astudillo,
    arXiv 1602.02068, Alg. 1): p = (z − θ)₊ with θ from the sorted cumulative sums.

    ``z`` is real with no NaN or +inf; −inf entries (excluded actions) get probability 0, but
    each row needs a finite entry."""
    z = check_logits(z, "z")
    if z.shape[-1] == 0:
        raise ValueError(f"z must have at least one entry on its last axis, got shape {z.shape}")
    if np.any(np.all(z == -np.inf, axis=-1)):
        raise ValueError("z must have a finite entry in every row (a row of −inf has no projection)")
    return _simplex_projection(z, 1.0)


class Tsallis:
    """Ω(π) = τ·½(‖π‖² − 1) (Tsallis entropy of index 2); ∇Ω*(q) = sparsemax(q/τ)."""

    name = "tsallis"

    def __init__(self, tau):
        self.tau = check_scalar(tau, "tau", low=0.0, low_open=True)

    def __repr__(self):
        return f"Tsallis(tau={self.tau:g})"

    def value(self, policy):
        policy = np.asarray(policy, dtype=np.float64)
        return 0.5 * self.tau * (np.sum(policy * policy, axis=-1) - 1.0)

    def greedy(self, q):
        """sparsemax(q/τ) = Π_Δ(q/τ) = Π_{τΔ}(q)/τ, computed on q (q/τ overflows for τ = 1e-300);
        where rounding leaves Π_{τΔ}(q) a sum other than τ, its row is renormalised."""
        q = np.asarray(q, dtype=np.float64)
        if q.ndim == 0 or q.shape[-1] == 0:
            raise ValueError(f"q must have at least one action on its last axis, got {q.shape}")
        p = _simplex_projection(q, self.tau)
        total = np.sum(p, axis=-1, keepdims=True)
        top = (q == np.max(q, axis=-1, keepdims=True)).astype(np.float64)
        lost = total <= 0  # τ below the rounding of q: the limit τ → 0, uniform on the argmax
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(lost, top / top.sum(axis=-1, keepdims=True), p / total)

    def greedy_log(self, q):
        return safe_log(self.greedy(q))

    def conjugate(self, q):
        p = self.greedy(q)
        return np.sum(p * np.asarray(q, dtype=np.float64), axis=-1) - self.value(p)

    def spread(self, n_actions):
        return 0.5 * self.tau * (1.0 - 1.0 / n_actions)

