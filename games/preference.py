"""Preference games: the object of Nash learning from human feedback.

A preference game over n responses is a matrix P with P[y, y'] = P(y ≻ y'), entries in
[0, 1] and P + Pᵀ = 1 (so diag P = ½), a reference policy μ with full support and a KL
weight β ≥ 0. Its regularized payoff (Munos et al., arXiv 2312.00886, eq. 2) is

    f(π, π') = πᵀPπ' − β·KL(π‖μ) + β·KL(π'‖μ),

a symmetric constant-sum game with a unique equilibrium π*_β for β > 0
(Nash-MD, Prop. 1). β = 0 is the unregularized game (von Neumann winners).

A leading batch axis is allowed: P of shape (..., n, n) and μ of shape (..., n) or (n,)
describe a batch of games (contexts/prompts) sharing one β.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from nashlab.games._validation import (
    SUM_TOL,
    as_float_array,
    check_distribution,
    check_scalar,
)


@dataclass(frozen=True, eq=False)
class PreferenceGame:
    """A (batch of) β-regularized preference game(s).

    Parameters
    ----------
    P : array_like, shape (..., n, n)
        P[..., y, y'] = P(y ≻ y'). Entries in [0, 1], finite, and
        |P + Pᵀ − 1| ≤ 1e-12 entrywise (``SUM_TOL``).
    reference : array_like, shape (n,) or (..., n), optional
        The reference policy μ, strictly positive and summing to one
        (within 1e-12·n). Default: uniform.
    beta : float
        KL weight β ≥ 0; β = 0 is the unregularized game.
    """

    P: np.ndarray
    reference: np.ndarray = None
    beta: float = 0.1
    log_reference: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        P = as_float_array(self.P, "P", ndim_min=2)
        if P.shape[-1] != P.shape[-2] or P.shape[-1] < 1:
            raise ValueError(f"P must be square on its last two axes, got shape {P.shape}")
        if np.any(P < 0) or np.any(P > 1):
            raise ValueError(f"P must have entries in [0, 1] (found range [{P.min():.3g}, {P.max():.3g}])")
        sym = np.max(np.abs(P + np.swapaxes(P, -1, -2) - 1.0))
        if sym > SUM_TOL:
            raise ValueError(f"P must satisfy P + Pᵀ = 1 (within {SUM_TOL:g}); max deviation {sym:.3g}")
        n = P.shape[-1]
        if self.reference is None:
            mu = np.full(n, 1.0 / n)
        else:
            mu = check_distribution(self.reference, "reference", n, strictly_positive=True)
            if mu.ndim > 1 and mu.shape[:-1] != P.shape[:-2]:
                raise ValueError(
                    f"reference must have shape ({n},) or {P.shape[:-2] + (n,)}, got {mu.shape}"
                )
        beta = check_scalar(self.beta, "beta", low=0.0)
        P.setflags(write=False)
        mu.setflags(write=False)
        log_mu = np.log(mu)
        log_mu.setflags(write=False)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "reference", mu)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "log_reference", log_mu)

    # ---- shape ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of responses (actions)."""
        return self.P.shape[-1]

    @property
    def batch_shape(self) -> tuple:
        """Shape of the leading batch axes (``()`` for a single game)."""
        return self.P.shape[:-2]

    @functools.cached_property
    def A(self) -> np.ndarray:
        """The antisymmetric payoff A = P − ½ (only A matters: P → P + c·11ᵀ changes nothing).

        Computed once and kept (read-only): the oracles and metrics read it at every call,
        and at n = 4096 forming it costs as much as 10 Nash-MP iterations."""
        A = self.P - 0.5
        A.setflags(write=False)
        return A

    def __getitem__(self, index):
        """The game(s) at ``index`` of the batch axes."""
        if not self.batch_shape:
            raise IndexError("a single game has no batch axis to index")
        ref = self.reference if self.reference.ndim == 1 else self.reference[index]
        return PreferenceGame(self.P[index], ref, self.beta)

    def with_beta(self, beta: float) -> "PreferenceGame":
        return PreferenceGame(self.P, self.reference, beta)

    def with_reference(self, reference) -> "PreferenceGame":
        return PreferenceGame(self.P, reference, self.beta)

    def __repr__(self):
        batch = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"PreferenceGame(n={self.n}{batch}, beta={self.beta:g})"

    # ---- alternative constructors --------------------------------------------------------
    @classmethod
    def from_payoff(cls, A, reference=None, beta=0.1) -> "PreferenceGame":
        """Build from the antisymmetric payoff A = P − ½ (|A_ij| ≤ ½, A = −Aᵀ)."""
        A = as_float_array(A, "A", ndim_min=2)
        if A.shape[-1] != A.shape[-2]:
            raise ValueError(f"A must be square on its last two axes, got shape {A.shape}")
        asym = np.max(np.abs(A + np.swapaxes(A, -1, -2)))
        if asym > SUM_TOL:
            raise ValueError(f"A must be antisymmetric (A = −Aᵀ within {SUM_TOL:g}); max deviation {asym:.3g}")
        if np.max(np.abs(A)) > 0.5:
            raise ValueError("A must have entries in [−½, ½] so that P = ½ + A is a preference matrix")
        return cls(0.5 + A, reference, beta)

    @classmethod
    def from_counts(cls, wins, reference=None, beta=0.1, prior=0.5) -> "PreferenceGame":
        """Estimate P from pairwise comparison counts.

        ``wins[i, j]`` is the number of comparisons in which i was preferred to j (count a
        tie as ½ to each side). The estimator is additive (Laplace/Jeffreys) smoothing,

            P[i, j] = (wins[i, j] + prior) / (wins[i, j] + wins[j, i] + 2·prior),

        so that P + Pᵀ = 1 exactly. A pair never compared gets P = ½ (no information: a tie),
        whatever the prior; ``prior = 0`` gives the empirical frequencies. The diagonal of
        ``wins`` must be zero and P's diagonal is ½.
        """
        W = as_float_array(wins, "wins", ndim_min=2)
        prior = check_scalar(prior, "prior", low=0.0)
        if W.shape[-1] != W.shape[-2]:
            raise ValueError(f"wins must be square on its last two axes, got shape {W.shape}")
        if np.any(W < 0):
            raise ValueError("wins must be non-negative counts")
        if np.any(np.diagonal(W, axis1=-2, axis2=-1) != 0):
            raise ValueError("wins must have a zero diagonal (a response is never compared with itself)")
        total = W + np.swapaxes(W, -1, -2)
        with np.errstate(invalid="ignore", divide="ignore"):
            P = (W + prior) / (total + 2 * prior)
        P = np.where(total > 0, P, 0.5)
        return cls(P, reference, beta)
