"""Array-namespace dispatch: one code path for NumPy and CuPy arrays (POT-style backend)."""

import numpy as np


def array_namespace(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
            import cupy

            return cupy
    return np


def logsumexp(z, axis=-1, xp=None):
    """Stable log Σ exp(z) along ``axis`` (max subtracted; all −inf rows give −inf)."""
    xp = xp or array_namespace(z)
    m = xp.max(z, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    out = m + xp.log(xp.sum(xp.exp(z - m), axis=axis, keepdims=True))
    return xp.squeeze(out, axis=axis)


def normalize_logits(z, xp=None):
    """Shift log-weights so that they are log-probabilities along the last axis."""
    xp = xp or array_namespace(z)
    m = xp.max(z, axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    shifted = z - m  # (z − max) − log Σ e^{z − max}: no cancellation when |z| is huge
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def matvec(M, x, xp=None):
    """Batched matrix-vector product: (..., n, m) @ (..., m) -> (..., n)."""
    xp = xp or array_namespace(M, x)
    return xp.matmul(M, x[..., None])[..., 0]


def safe_log(p):
    """log p elementwise with log 0 = −inf and no divide-by-zero warning."""
    with np.errstate(divide="ignore"):
        return np.log(p)


def softmax(z, xp=None):
    """exp(normalize_logits(z)): probabilities from log-weights, max subtracted first."""
    xp = xp or array_namespace(z)
    return xp.exp(normalize_logits(z, xp))
