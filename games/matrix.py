"""Two-player zero-sum matrix games with entropy regularization.

    max_x min_y  f_τ(x, y) = xᵀAy + τ·H(x) − τ·H(y),    x ∈ Δ_m, y ∈ Δ_n,  τ ≥ 0,

(Cen, Wei, Chi, "Fast policy extragradient methods for competitive games with entropy
regularization", arXiv 2105.15186). For τ > 0 the unique saddle point is the quantal
response equilibrium (QRE) x* ∝ exp(Ay*/τ), y* ∝ exp(−Aᵀx*/τ); τ = 0 is the matrix game.

Evaluation quantities (derived [D]; best responses in closed form, computed in log-space):

* best responses   BR_x(y) ∝ exp(Ay/τ),  BR_y(x) ∝ exp(−Aᵀx/τ)
* duality gap      DG_τ(x, y) = max_x' f_τ(x', y) − min_y' f_τ(x, y')
                              = τ·[KL(x‖BR_x(y)) + KL(y‖BR_y(x))]        (τ > 0)
                              = max_i (Ay)_i − min_j (Aᵀx)_j              (τ = 0)
* exploitability   ½·DG_τ (NashConv/2, the mean of the two players' gains)
* distance         KL(ζ*‖ζ) = KL(x*‖x) + KL(y*‖y), ζ = (x, y)

A leading batch axis is allowed: A of shape (..., m, n) is a batch of games sharing τ;
policies have shape (..., m) and (..., n).
"""

from dataclasses import dataclass

import numpy as np

from nashlab._xp import matvec, normalize_logits, safe_log
from nashlab.games._validation import as_float_array, check_distribution, check_scalar
from nashlab.games.generators import _check_n
from nashlab.games.metrics import kl_from_logs


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
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return MatrixGame(rng.uniform(-1.0, 1.0, size=tuple(batch_shape) + (m, n)), tau)


def _players(game, x, y):
    return check_distribution(x, "x", game.m), check_distribution(y, "y", game.n)


def best_response_logits(game, x, y):
    """(log BR_x(y), log BR_y(x)) = (log softmax(Ay/τ), log softmax(−Aᵀx/τ)), τ > 0."""
    if game.tau <= 0:
        raise ValueError("best responses are unique only for tau > 0")
    x, y = _players(game, x, y)
    return (normalize_logits(matvec(game.A, y) / game.tau),
            normalize_logits(-matvec(np.swapaxes(game.A, -1, -2), x) / game.tau))


def duality_gap(game, x, y, log_x=None, log_y=None) -> np.ndarray:
    """DG_τ(x, y) ≥ 0, zero exactly at the saddle point (``log_x``/``log_y`` optional,
    for accuracy when x or y has entries below the float range)."""
    x, y = _players(game, x, y)
    if game.tau == 0:
        return (np.max(matvec(game.A, y), axis=-1)
                - np.min(matvec(np.swapaxes(game.A, -1, -2), x), axis=-1))
    log_x = safe_log(x) if log_x is None else log_x
    log_y = safe_log(y) if log_y is None else log_y
    br_x, br_y = best_response_logits(game, x, y)
    return game.tau * (kl_from_logs(x, log_x, br_x) + kl_from_logs(y, log_y, br_y))


def exploitability(game, x, y, log_x=None, log_y=None) -> np.ndarray:
    """½·DG_τ(x, y)."""
    return 0.5 * duality_gap(game, x, y, log_x, log_y)


def joint_kl(x_star, y_star, x, y) -> np.ndarray:
    """KL(x*‖x) + KL(y*‖y)."""
    return (kl_from_logs(x_star, safe_log(x_star), safe_log(x))
            + kl_from_logs(y_star, safe_log(y_star), safe_log(y)))
