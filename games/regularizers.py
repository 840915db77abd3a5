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
from nashlab.games._validation import check_distribution, check_scalar


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
        return self.tau * logsumexp(np.asarray(q, dtype=np.float64) / self.tau)

    def greedy_log(self, q):
        return normalize_logits(np.asarray(q, dtype=np.float64) / self.tau)

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

    def conjugate(self, q):
        return self.tau * logsumexp(self.log_reference + np.asarray(q, dtype=np.float64) / self.tau)

    def greedy_log(self, q):
        return normalize_logits(self.log_reference + np.asarray(q, dtype=np.float64) / self.tau)

    def greedy(self, q):
        return np.exp(self.greedy_log(q))

    def spread(self, n_actions):
        """max_p KL(p‖μ) = −log min μ (0 at p = μ): τ·max over states of −log min_a μ."""
        return self.tau * float(np.max(-np.min(self.log_reference, axis=-1)))


def sparsemax(z):
    """Euclidean projection of z onto the simplex along the last axis (Martins & Astudillo,
    arXiv 1602.02068, Alg. 1): p = (z − θ)₊ with θ from the sorted cumulative sums."""
    z = np.asarray(z, dtype=np.float64)
    z_sorted = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cumsum = np.cumsum(z_sorted, axis=-1)
    support = 1.0 + k * z_sorted > cumsum
    k_z = np.sum(support, axis=-1, keepdims=True)
    theta = (np.take_along_axis(cumsum, k_z - 1, axis=-1) - 1.0) / k_z
    return np.maximum(z - theta, 0.0)


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
        return sparsemax(np.asarray(q, dtype=np.float64) / self.tau)

    def greedy_log(self, q):
        return safe_log(self.greedy(q))

    def conjugate(self, q):
        p = self.greedy(q)
        return np.sum(p * np.asarray(q, dtype=np.float64), axis=-1) - self.value(p)

    def spread(self, n_actions):
        return 0.5 * self.tau * (1.0 - 1.0 / n_actions)

