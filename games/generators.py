"""Seeded generators of preference games.

Every random generator takes ``seed`` (an int, ``None`` or a ``numpy.random.Generator``)
and ``batch_shape`` for a batch of independent games with one call.
"""

import numpy as np

from nashlab.games._validation import as_float_array, check_batch_shape, check_memory, check_scalar, rng_from_seed
from nashlab.games.preference import PreferenceGame


def _check_n(n, low=1):
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    if n < low:
        raise ValueError(f"n must be ≥ {low}, got {n}")
    check_memory(8 * int(n) ** 2, f"an n = {n} preference matrix")
    return int(n)


def _from_lower(lower, batch_shape, n):
    """P from its strictly lower triangle (P_ij for i > j); P_ji = 1 − P_ij, diag ½."""
    P = np.full(tuple(batch_shape) + (n, n), 0.5)
    i, j = np.tril_indices(n, -1)
    P[..., i, j] = lower
    P[..., j, i] = 1.0 - lower
    return P


def random_preference(n, *, beta=0.1, reference=None, seed=None, batch_shape=()):
    """The EGPO generator (Zhou et al., arXiv 2503.08942, official code): P_ij ~ U(0, 1)
    for i > j, P_ji = 1 − P_ij, diagonal ½."""
    n = _check_n(n)
    rng, batch_shape = rng_from_seed(seed), check_batch_shape(batch_shape)
    lower = rng.uniform(size=batch_shape + (n * (n - 1) // 2,))
    return PreferenceGame(_from_lower(lower, batch_shape, n), reference, beta)


def random_reference(n, *, scale=1.0, seed=None, batch_shape=()):
    """A reference policy with logits ~ N(0, scale²) (the EGPO experiments use scale 1)."""
    n = _check_n(n)
    scale = check_scalar(scale, "scale", low=0.0)
    z = scale * rng_from_seed(seed).standard_normal(check_batch_shape(batch_shape) + (n,))
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def bradley_terry(scores, *, beta=0.1, reference=None):
    """Bradley–Terry preferences P_ij = σ(s_i − s_j): transitive, the Condorcet winner is
    argmax s. ``scores`` has shape (..., n)."""
    s = as_float_array(scores, "scores", ndim_min=1)
    d = s[..., :, None] - s[..., None, :]
    P = 0.5 * (1.0 + np.tanh(0.5 * d))  # σ(d), antisymmetric to rounding
    P = 0.5 + 0.5 * (P - np.swapaxes(P, -1, -2))  # exact P + Pᵀ = 1
    return PreferenceGame(P, reference, beta)


def tournament(n, *, beta=0.1, reference=None, tie_probability=0.0, seed=None, batch_shape=()):
    """A random tournament: each pair has a 0/1 outcome (fair coin), or a tie ½ with
    probability ``tie_probability``."""
    n = _check_n(n)
    tie_probability = check_scalar(tie_probability, "tie_probability", low=0.0, high=1.0)
    rng, batch_shape = rng_from_seed(seed), check_batch_shape(batch_shape)
    size = batch_shape + (n * (n - 1) // 2,)
    lower = rng.integers(0, 2, size=size).astype(float)
    lower = np.where(rng.uniform(size=size) < tie_probability, 0.5, lower)
    return PreferenceGame(_from_lower(lower, batch_shape, n), reference, beta)


def rps(*, beta=0.1, reference=None):
    """Rock–paper–scissors: P = ½ + ½·C with C the cyclic ±1 payoff; uniform is the NE."""
    return cyclic(3, beta=beta, reference=reference)


def perturbed_rps(*, beta=0.1, reference=None):
    """Perturbed RPS of the MMD repository (Sokota et al., arXiv 2206.05825):
    P = (A + 3)/6, A = [[0, −3, 3], [3, 0, −1], [−3, 1, 0]]; unregularized NE (1, 3, 3)/7."""
    A = np.array([[0.0, -3.0, 3.0], [3.0, 0.0, -1.0], [-3.0, 1.0, 0.0]])
    return PreferenceGame((A + 3.0) / 6.0, reference, beta)


def cyclic(n, *, beta=0.1, reference=None):
    """Generalised RPS on n actions: y beats the next ⌊(n−1)/2⌋ actions cyclically and loses
    to the previous ones; at distance n/2 (even n) it is a tie. Uniform is a NE."""
    n = _check_n(n)
    d = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n  # (j − i) mod n
    P = np.where(d == 0, 0.5, np.where(2 * d < n, 1.0, np.where(2 * d > n, 0.0, 0.5)))
    return PreferenceGame(P, reference, beta)


def annotator_mixture(n, annotators=3, *, beta=0.1, reference=None, scale=2.0, weights=None,
                      seed=None, batch_shape=()):
    """A weighted population of Bradley–Terry annotators, P = Σ_k w_k·σ(s^k_i − s^k_j).

    Scores s^k ~ N(0, scale²) and weights w ~ Dirichlet(1) unless given. Each annotator is
    transitive; the aggregate is in general not (Condorcet cycles)."""
    n = _check_n(n)
    if isinstance(annotators, bool) or not isinstance(annotators, int | np.integer) or annotators < 1:
        raise ValueError(f"annotators must be a positive integer, got {annotators!r}")
    scale = check_scalar(scale, "scale", low=0.0)
    rng, batch_shape = rng_from_seed(seed), check_batch_shape(batch_shape)
    scores = scale * rng.standard_normal(batch_shape + (annotators, n))
    if weights is None:
        w = rng.dirichlet(np.ones(annotators), size=tuple(batch_shape) or None)
    else:
        w = as_float_array(weights, "weights", ndim=1)
        if w.shape != (annotators,) or np.any(w < 0) or abs(w.sum() - 1) > 1e-12:
            raise ValueError(f"weights must be {annotators} non-negative numbers summing to 1")
    per_annotator = bradley_terry(scores, beta=beta).P  # (..., k, n, n)
    P = np.einsum("...k,...kij->...ij", w, per_annotator)
    P = 0.5 + 0.5 * (P - np.swapaxes(P, -1, -2))
    return PreferenceGame(P, reference, beta)
