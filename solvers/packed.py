"""Packed antisymmetric matrices: large single games with half the memory traffic.

For a preference game P = ½·11ᵀ + A with A = −Aᵀ, the oracle answer is P·π = ½ + A·π
(Σπ = 1), and A is determined by its upper triangle. ``PackedAntisymmetric`` stores the
T×T tiles A_IJ on and above the block diagonal (I ≤ J, zero-padded to a multiple of T),
in float64 or float32. Then

    A·x = Σ_I A_II·x_I  +  Σ_{I<J} ( e_I ⊗ A_IJ·x_J  −  e_J ⊗ A_IJᵀ·x_I ),

so one product reads every stored number once: n²/2 numbers against n² for a dense
matrix-vector product (float32 halves it again). Products accumulate in float64.

Accuracy in float32: each entry of A is rounded with relative error ≤ 2⁻²⁴ and |A_ij| ≤ ½,
so for a policy x (x ≥ 0, Σx = 1) every entry of A·x is off by at most 2⁻²⁵ ≈ 3·10⁻⁸ from
the float64 product (plus float64 rounding); the kernels are exact (to float64 rounding) for
the rounded matrix.
"""

import weakref
from dataclasses import dataclass

import numpy as np

from nashlab.games._validation import SUM_TOL, as_float_array, check_distribution, check_int, check_scalar
from nashlab.games.preference import PreferenceGame

DTYPES = (np.float64, np.float32)
DEFAULT_TILE = 64


@dataclass(frozen=True, eq=False)
class PackedAntisymmetric:
    """The upper block triangle of an antisymmetric n×n matrix A, in T×T tiles.

    tiles : (K, T, T) float64 or float32, K = m(m+1)/2 with m = ⌈n/T⌉; tile k is
        A[I·T:(I+1)·T, J·T:(J+1)·T] (zero-padded) with I = tile_rows[k] ≤ J = tile_cols[k],
        in row-major order of (I, J).
    n : the order of A.
    """

    tiles: np.ndarray
    tile_rows: np.ndarray
    tile_cols: np.ndarray
    n: int

    @property
    def tile(self) -> int:
        return self.tiles.shape[1]

    @property
    def size(self) -> int:
        """The padded order m·T."""
        return (int(self.tile_rows[-1]) + 1) * self.tile

    @property
    def dtype(self):
        return self.tiles.dtype

    @property
    def nbytes(self) -> int:
        return self.tiles.nbytes

    def to_dense(self) -> np.ndarray:
        """A as a dense (n, n) float64 array."""
        m, T = self.size // self.tile, self.tile
        blocks = np.zeros((m, m, T, T))
        blocks[self.tile_rows, self.tile_cols] = self.tiles
        off = self.tile_rows != self.tile_cols
        blocks[self.tile_cols[off], self.tile_rows[off]] = -np.swapaxes(self.tiles[off], 1, 2)
        return blocks.transpose(0, 2, 1, 3).reshape(m * T, m * T)[: self.n, : self.n]


def pack(A, *, dtype=np.float64, tile=DEFAULT_TILE) -> PackedAntisymmetric:
    """Pack the antisymmetric matrix ``A`` (n, n) (|A + Aᵀ| ≤ 1e-12 entrywise).

    ``dtype``: np.float64 or np.float32; ``tile``: T, a positive multiple of 4.
    """
    A = as_float_array(A, "A", ndim=2)
    n = A.shape[0]
    if A.shape != (n, n) or n < 1:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    asym = np.max(np.abs(A + A.T))
    if asym > SUM_TOL:
        raise ValueError(f"A must be antisymmetric (A = −Aᵀ within {SUM_TOL:g}); "
                         f"max deviation {asym:.3g}")
    if np.dtype(dtype) not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"dtype must be float64 or float32, got {np.dtype(dtype)}")
    if isinstance(tile, bool) or not isinstance(tile, int | np.integer) or tile < 4 or tile % 4:
        raise ValueError(f"tile must be a positive multiple of 4, got {tile!r}")
    m = -(-n // tile)
    padded = np.zeros((m * tile, m * tile))
    padded[:n, :n] = A
    blocks = padded.reshape(m, tile, m, tile).transpose(0, 2, 1, 3)
    rows, cols = np.triu_indices(m)
    tiles = np.ascontiguousarray(blocks[rows, cols], dtype=dtype)
    return PackedAntisymmetric(tiles, rows.astype(np.int64), cols.astype(np.int64), n)


def pack_game(game, *, dtype=np.float64, tile=DEFAULT_TILE) -> PackedAntisymmetric:
    """Pack A = P − ½ of a single ``PreferenceGame``."""
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if game.batch_shape:
        raise ValueError(f"pack_game takes a single game, got batch shape {game.batch_shape}")
    return pack(game.A, dtype=dtype, tile=tile)


_PACKED_GAMES = weakref.WeakKeyDictionary()


def packed_game(game) -> PackedAntisymmetric:
    """``pack_game(game)`` (float64), packed once and kept while the game lives: games are
    immutable, and packing n = 4096 costs about a hundred Nash-MP iterations."""
    if game not in _PACKED_GAMES:
        _PACKED_GAMES[game] = pack_game(game)
    return _PACKED_GAMES[game]


def _check_packed(packed):
    if not isinstance(packed, PackedAntisymmetric):
        raise TypeError(f"packed must be a PackedAntisymmetric, got {type(packed).__name__}")


def _padded(x, packed, name):
    x = as_float_array(x, name, ndim=1)
    if x.shape != (packed.n,):
        raise ValueError(f"{name} must have shape ({packed.n},), got {x.shape}")
    out = np.zeros(packed.size)
    out[: packed.n] = x
    return out


class _CpuProduct:
    """Chunks of tiles (one per thread) and their scratch, for ``_kernels_cpu``."""

    def __init__(self, packed):
        from nashlab.solvers import _kernels_cpu as cpu

        chunks = max(1, min(cpu.num_threads(), len(packed.tiles)))
        self.args = (packed.tiles, packed.tile_rows, packed.tile_cols,
                     np.linspace(0, len(packed.tiles), chunks + 1).round().astype(np.int64),
                     np.zeros((chunks, packed.size)))


def matvec(packed, x, *, backend="auto") -> np.ndarray:
    """A·x for a packed antisymmetric A and x of shape (n,); float64 result.

    backend : "numba" (compiled, parallel over row chunks; what "auto" picks) or "numpy"
    (tile-wise einsum, the reference of the packed layout).
    """
    _check_packed(packed)
    if backend not in ("auto", "numpy", "numba"):
        raise ValueError(f"backend must be one of ('auto', 'numpy', 'numba') (the packed "
                         f"product runs on the CPU), got {backend!r}")
    xp = _padded(x, packed, "x")
    if backend != "numpy":
        from nashlab.solvers import _kernels_cpu as cpu

        out = np.empty(packed.size)
        cpu.packed_matvec(*_CpuProduct(packed).args, xp, out)
        return out[: packed.n]
    return _matvec_numpy(packed, xp)[: packed.n]


def _matvec_numpy(packed, x):
    T = packed.tile
    X = x.reshape(-1, T)
    tiles = packed.tiles.astype(np.float64)
    out = np.zeros_like(X)
    np.add.at(out, packed.tile_rows, np.einsum("kij,kj->ki", tiles, X[packed.tile_cols]))
    off = packed.tile_rows != packed.tile_cols
    np.add.at(out, packed.tile_cols[off],
              -np.einsum("kij,ki->kj", tiles[off], X[packed.tile_rows[off]]))
    return out.ravel()


def nash_mp(packed, *, log_reference, beta, eta, iterations, init=None,
            backend="auto") -> np.ndarray:
    """``iterations`` Nash-MP steps on the packed game; returns log π_T (n,) (NumPy).

    Nash Mirror Prox (Tiapkin et al., arXiv 2505.19731 v1; theory notes nlhf.md §2):
    ℓ½ = prox(ℓ_k, Aπ_k; η), ℓ_{k+1} = prox(ℓ_k, Aπ½; η), two packed products per step.
    ``init``: π_0 (default μ). backend: "numba" (parallel over row chunks; what "auto" picks),
    "numpy" (the reference: tile-wise einsum products and ``prox_step``) or "cuda"
    (numba.cuda kernels; needs CuPy and a GPU).
    """
    from nashlab.solvers.backends import resolve_backend

    _check_packed(packed)
    backend = resolve_backend(backend)
    beta = check_scalar(beta, "beta", low=0.0)
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    iterations = check_int(iterations, "iterations", 0)
    log_mu = as_float_array(log_reference, "log_reference", ndim=1)
    if log_mu.shape != (packed.n,):
        raise ValueError(f"log_reference must have shape ({packed.n},), got {log_mu.shape}")
    if init is not None:
        init = check_distribution(init, "init", packed.n, strictly_positive=True)
        if init.ndim != 1:
            raise ValueError(f"init must have shape ({packed.n},), got {init.shape}")
    start = log_mu if init is None else np.log(init)
    logits = start - np.max(start)
    logits = logits - np.log(np.sum(np.exp(logits)))
    return iterate_nash_mp(packed, logits, log_mu, beta, eta, iterations, backend)


def iterate_nash_mp(packed, logits, log_mu, beta, eta, iterations, backend):
    """``iterations`` Nash-MP steps from the normalised log-policy ``logits`` (n,), which
    the CPU kernel overwrites; no validation (``nash_mp`` validates). Returns log π_T."""
    from nashlab.solvers import _kernels_cpu as cpu
    from nashlab.solvers.prox import step_coefficients

    if backend == "numpy":
        return _nash_mp_numpy(packed, logits, log_mu, beta, eta, iterations)
    # a writable copy: the games' arrays are read-only, and a read-only array reaching the
    # cached numba kernel crashed it (segmentation fault, numba 0.6x, measured here)
    log_mu = np.array(log_mu, dtype=np.float64)
    a, b, c = step_coefficients("prox", eta, beta)
    if backend == "cuda":
        import cupy

        from nashlab.solvers import _kernels_cuda as gpu

        on_device = [cupy.asarray(v) for v in (packed.tiles, packed.tile_rows, packed.tile_cols)]
        logits_d = cupy.asarray(logits)
        gpu.nash_mp_packed(*on_device, packed.size, logits_d, cupy.asarray(log_mu), a, b, c,
                           iterations)
        return cupy.asnumpy(logits_d)
    cpu.nash_mp_packed(*_CpuProduct(packed).args, logits, log_mu, a, b, c, iterations)
    return logits


def _nash_mp_numpy(packed, logits, log_mu, beta, eta, iterations):
    """The reference loop of ``nash_mp``: tile-wise products, the extragradient composition."""
    from nashlab.solvers.compositions import extragradient, make_step
    from nashlab.solvers.prox import step_coefficients

    def answer(log_policy):
        return _matvec_numpy(packed, _padded(np.exp(log_policy), packed, "x"))[: packed.n]

    step = make_step(step_coefficients("prox", eta, beta), log_mu)
    for _ in range(iterations):
        logits, _, _ = extragradient(logits, answer, step)
    return logits
