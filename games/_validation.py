"""Validation at the public boundary: errors name the argument and the expected form.

Nothing here clips or renormalises: an input is either accepted as given or rejected.
"""

import math
import numbers
import os

import numpy as np

#: Absolute tolerance for P + Pᵀ = 1 and for probability vectors summing to one.
SUM_TOL = 1e-12


def as_float_array(x, name, *, ndim_min=None, ndim=None):
    """Convert ``x`` to a float64 array, rejecting non-numeric, complex or non-finite data."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if ndim_min is not None and arr.ndim < ndim_min:
        raise ValueError(f"{name} must have at least {ndim_min} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def check_int(x, name, low=0):
    """``x`` as an int ≥ ``low``: TypeError for a non-integer (bool included), else ValueError."""
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__}")
    if x < low:
        raise ValueError(f"{name} must be ≥ {low}, got {x}")
    return int(x)


def check_scalar(x, name, *, low=None, high=None, low_open=False, high_open=False):
    """A real, finite scalar in the stated interval; returns it as float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '≥'} {low}, got {x}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '≤'} {high}, got {x}")
    return x


def check_distribution(p, name, n=None, *, strictly_positive=False):
    """A probability vector (or a batch of them, last axis) of length ``n``.

    Entries must be ≥ 0 (> 0 if ``strictly_positive``) and sum to 1 within
    ``SUM_TOL·max(1, n)``; an array of a lower-precision float dtype (float32, float16)
    within ``n·16·eps`` of its dtype (a float32 policy sums to 1 only to ~1e-7), and is then
    normalised in float64 — the rounding of its dtype, not a renormalised wrong input.
    """
    dtype = getattr(p, "dtype", None)
    low_eps = (float(np.finfo(dtype).eps) if dtype is not None and np.issubdtype(dtype, np.floating)
               and np.finfo(dtype).eps > np.finfo(np.float64).eps else None)
    p = as_float_array(p, name, ndim_min=1)
    if n is not None and p.shape[-1] != n:
        raise ValueError(f"{name} must have length {n} on its last axis, got shape {p.shape}")
    if strictly_positive and np.any(p <= 0):
        raise ValueError(f"{name} must be strictly positive (found min {p.min():.3g})")
    if np.any(p < 0):
        raise ValueError(f"{name} must be non-negative (found min {p.min():.3g})")
    err = np.max(np.abs(p.sum(axis=-1) - 1.0))
    tol = SUM_TOL if low_eps is None else max(SUM_TOL, 16 * low_eps)
    if err > tol * max(1, p.shape[-1]):
        raise ValueError(f"{name} must sum to 1 along its last axis (off by {err:.3g})")
    return p if low_eps is None else p / p.sum(axis=-1, keepdims=True)


def rng_from_seed(seed, name="seed"):
    """A ``numpy.random.Generator`` from ``seed``: None, an int ≥ 0 or a Generator (used as is).

    bool, float and negative seeds are rejected (TypeError / ValueError naming ``name``).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        check_int(seed, name, 0)
    return np.random.default_rng(seed)


def check_batch_shape(batch_shape, name="batch_shape") -> tuple:
    """A batch shape: a tuple (or list) of integers ≥ 0."""
    if not isinstance(batch_shape, tuple | list):
        raise TypeError(f"{name} must be a tuple of integers, got {type(batch_shape).__name__}")
    return tuple(check_int(k, f"{name}[{i}]", 0) for i, k in enumerate(batch_shape))


def check_logits(x, name):
    """Log-probabilities or log-weights as a float array: real, no NaN, no +inf (−inf, a zero
    probability, is allowed)."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.dtype.kind not in "iuf":  # bool, complex, strings, objects
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension")
    if np.any(np.isnan(arr)) or np.any(arr == np.inf):
        raise ValueError(f"{name} must be log-probabilities (NaN or +inf found)")
    return arr


def physical_memory() -> float:
    """The machine's physical memory in bytes (inf where the OS does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return math.inf


def check_memory(needed_bytes, what: str) -> None:
    """ValueError when ``what`` (e.g. "garnet(S=..., ...)'s P") needs more bytes than the
    machine has: refused before allocating, instead of a hang or numpy's unnamed error."""
    if needed_bytes > physical_memory():
        raise ValueError(f"{what} needs ~{float(needed_bytes):.3g} bytes, more than this "
                         f"machine's memory ({physical_memory():.3g})")
