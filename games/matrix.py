"""Two-player zero-sum matrix games with entropy regularization.

    max_x min_y  f_τ(x, y) = xᵀAy + τ·H(x) − τ·H(y),    x ∈ Δ_m, y ∈ Δ_n,  τ ≥ 0,

(Cen, Wei, Chi, "Fast policy extragradient methods for competitive games with entropy
regularization", arXiv 2105.15186). For τ > 0 the unique saddle point is the quantal
response equilibrium (QRE) x* ∝ exp(Ay*/τ), y* ∝ exp(−Aᵀx*/τ); τ = 0 is the matrix game.

Evaluation quantities (best responses, duality gap, exploitability = ½·DG_τ) are those of
``nashlab.games.metrics``, with the policy (x, y) concatenated: shape (..., m + n).

A leading batch axis is allowed: A of shape (..., m, n) is a batch of games sharing τ;
policies have shape (..., m) and (..., n).
"""

from dataclasses import dataclass

import numpy as np

from nashlab.games._validation import as_float_array, check_batch_shape, check_scalar, rng_from_seed
from nashlab.games.generators import _check_n


@dataclass(frozen=True, eq=False)
class MatrixGame:
    """A (batch of) entropy-regularized two-player zero-sum matrix game(s).

    Parameters
    ----------
    A : array_like, shape (..., m, n)
        Payoff of the maximizing row player x (paid by the column player y); finite, real.
    tau : float
        Entropy weight τ ≥ 0 (τ = 0: the unregularized matrix game).
    """

    A: np.ndarray
    tau: float = 0.1

    def __post_init__(self):
        A = as_float_array(self.A, "A", ndim_min=2)
        if A.shape[-1] < 1 or A.shape[-2] < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
        tau = check_scalar(self.tau, "tau", low=0.0)
        A.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "tau", tau)

    @property
    def m(self) -> int:
        """Number of actions of the row (maximizing) player."""
        return self.A.shape[-2]

    @property
    def n(self) -> int:
        """Number of actions of the column (minimizing) player."""
        return self.A.shape[-1]

    @property
    def batch_shape(self) -> tuple:
        return self.A.shape[:-2]

    @property
    def scale(self) -> float:
        """max |A_ij|: the ℓ₁→ℓ∞ Lipschitz constant of (x, y) ↦ (Ay, −Aᵀx)."""
        return float(np.max(np.abs(self.A)))

    def __getitem__(self, index):
        if not self.batch_shape:
            raise IndexError("a single game has no batch axis to index")
        return MatrixGame(self.A[index], self.tau)

    def with_tau(self, tau) -> "MatrixGame":
        return MatrixGame(self.A, tau)

    def __repr__(self):
        batch = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"MatrixGame(m={self.m}, n={self.n}{batch}, tau={self.tau:g})"


def random_matrix_game(m, n, *, tau=0.1, seed=None, batch_shape=()):
    """A ~ U(−1, 1) entrywise (seeded)."""
    m, n = _check_n(m), _check_n(n)
    rng = rng_from_seed(seed)
    return MatrixGame(rng.uniform(-1.0, 1.0, size=check_batch_shape(batch_shape) + (m, n)), tau)
