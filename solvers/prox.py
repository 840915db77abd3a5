"""The one primitive: an entropic proximal step in log-space.

    log π⁺ = ( log π  +  ηβ·log μ  +  η·g ) / (1 + ηβ)  −  log Z

is the maximiser of ⟨p, g⟩ − β·KL(p‖μ) − (1/η)·KL(p‖π) over the simplex (closed form of
the mirror step with the composite KL regulariser; Nash-MP, Tiapkin et al., arXiv
2505.19731, and theory notes nlhf.md §2). With β = 0 it is the Hedge / exponential-weights
step; with η = ∞ it is the regularized best response log π⁺ = log μ + g/β − log Z.

The mirror-descent form used by Nash-MD, PU/EGPO and OMD,

    log π⁺ = (1 − η'β)·log π + η'β·log μ + η'·g,   0 < η'β < 1,

is the same step with η = η'/(1 − η'β) (``eta_from_mirror_descent``).

All functions work on the array namespace of their inputs (NumPy or CuPy) and broadcast
over leading batch axes.
"""

import math

from nashlab._xp import array_namespace, normalize_logits


def prox_step(log_anchor, g, *, eta, beta, log_reference):
    """One entropic prox step from the anchor ``log_anchor`` with payoff ``g``.

    Parameters
    ----------
    log_anchor : (..., n) log-probabilities of the anchor π.
    g : (..., n) payoff vector (e.g. Pπ' for a preference game, a Q-row for an MDP).
    eta : step size η > 0, or ``math.inf`` for the regularized best response (β > 0).
    beta : KL weight β ≥ 0 towards the reference μ.
    log_reference : (..., n) or (n,) log μ (ignored when β = 0).
    Returns the normalised log-probabilities of π⁺.
    """
    xp = array_namespace(log_anchor, g)
    if math.isinf(eta):
        z = log_reference + g / beta
    elif beta == 0:
        z = log_anchor + eta * g
    else:
        z = (log_anchor + (eta * beta) * log_reference + eta * g) / (1.0 + eta * beta)
    return normalize_logits(z, xp)


def eta_from_mirror_descent(eta_md, beta):
    """The prox step size η equivalent to the mirror-descent step η' (η = η'/(1 − η'β)).

    η'β = 1 is the best response (η = ∞); η'β > 1 over-shoots and has no prox form.
    """
    if eta_md * beta > 1:
        raise ValueError(f"the mirror-descent step needs eta·beta ≤ 1, got {eta_md * beta:g}")
    if eta_md * beta == 1:
        return math.inf
    return eta_md / (1.0 - eta_md * beta)
