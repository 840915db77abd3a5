"""Exact evaluation quantities of a preference game, computed in log-space.

Definitions (theory notes nlhf.md §1, derived [D]):

* win probabilities       (Pπ)_y = P(y ≻ π) = ½ + (Aπ)_y,   A = P − ½
* best response           BR_β(π) ∝ μ·exp(Pπ/β)
* exploitability, β > 0   Expl_β(π) = max_π' f(π', π) − ½ = β·KL(π ‖ BR_β(π)) ≥ 0
* exploitability, β = 0   Expl_0(π) = max_y (Pπ)_y − ½
* duality gap             DG_β(π) = 2·Expl_β(π)
* span distance           ‖log p − log q‖_span = max − min of log p − log q
* win rate                P(π ≻ π') = πᵀPπ'

Every function accepts a leading batch axis: policies of shape (..., n) against a game of
batch shape (...) (or a single game broadcast over the policies).
"""

import numpy as np

from nashlab._xp import matvec, normalize_logits, safe_log
from nashlab.games._validation import check_distribution


def _policy(game, policy, name="policy"):
    return check_distribution(policy, name, game.n)


def win_probabilities(game, opponent) -> np.ndarray:
    """(Pπ')_y = P(y ≻ π') for every response y; computed as ½ + Aπ' (exact for Σπ' = 1)."""
    opponent = _policy(game, opponent, "opponent")
    return 0.5 + matvec(game.A, opponent)


def win_rate(game, policy, opponent) -> np.ndarray:
    """P(π ≻ π') = πᵀPπ'."""
    policy = _policy(game, policy)
    return np.sum(policy * win_probabilities(game, opponent), axis=-1)


def kl_divergence(p, q) -> np.ndarray:
    """KL(p‖q) = Σ p·(log p − log q) along the last axis (0·log 0 = 0; +inf off support)."""
    p = check_distribution(p, "p")
    q = check_distribution(q, "q", p.shape[-1])
    return kl_from_logs(p, safe_log(p), safe_log(q))


def kl_from_logs(p, log_p, log_q):
    """KL(p‖q) for normalised p, q written as Σ_{p>0} p·(d + e^{−d} − 1) + Σ_{p=0} q with
    d = log p − log q (the two extra sums cancel since Σq = 1): every term is ≥ 0, so the
    sum cannot round below zero near p = q."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = log_p - log_q
        terms = np.where(p > 0, p * (d + np.expm1(-d)), np.exp(log_q))
    return np.sum(terms, axis=-1)


def span_distance(p, q) -> np.ndarray:
    """Span semi-norm of log p − log q (max − min), invariant to normalisation.

    Both p and q must have full support (the span is infinite otherwise).
    """
    p = check_distribution(p, "p", strictly_positive=True)
    q = check_distribution(q, "q", p.shape[-1], strictly_positive=True)
    d = np.log(p) - np.log(q)
    return np.max(d, axis=-1) - np.min(d, axis=-1)


def best_response_logits(game, policy) -> np.ndarray:
    """log BR_β(π) = log μ + Aπ/β − log Z (β > 0); the ½ in Pπ cancels in the normaliser."""
    if game.beta <= 0:
        raise ValueError("best_response needs beta > 0 (the β = 0 best response is a set: argmax Pπ)")
    policy = _policy(game, policy)
    return normalize_logits(game.log_reference + matvec(game.A, policy) / game.beta)


def best_response(game, policy) -> np.ndarray:
    """BR_β(π) ∝ μ·exp(Pπ/β), the unique maximiser of f(·, π) for β > 0."""
    return np.exp(best_response_logits(game, policy))


def exploitability(game, policy) -> np.ndarray:
    """Expl_β(π) = β·KL(π‖BR_β(π)) for β > 0, and max_y (Pπ)_y − ½ for β = 0.

    Both equal max_π' f(π', π) − ½ ≥ 0, zero exactly at an equilibrium.
    """
    policy = _policy(game, policy)
    if game.beta == 0:
        return np.max(matvec(game.A, policy), axis=-1)
    log_br = best_response_logits(game, policy)
    return game.beta * kl_from_logs(policy, safe_log(policy), log_br)


def duality_gap(game, policy) -> np.ndarray:
    """DG_β(π) = max_π' f(π', π) − min_π' f(π, π') = 2·Expl_β(π) (symmetric game)."""
    return 2.0 * exploitability(game, policy)


def unregularized_exploitability(game, policy) -> np.ndarray:
    """Expl_0(π) = max_y P(y ≻ π) − ½, whatever the game's β."""
    return exploitability(game.with_beta(0.0), policy)

