"""Exact evaluation quantities of every game, in log-space: one vocabulary for all families.

``best_response``, ``exploitability``, ``nash_conv``, ``duality_gap`` and
``unregularized_exploitability`` are ``functools.singledispatch`` functions on the game type,
``f(game, policy, *, logits=None)`` with ``policy`` in the family's layout (``logits``, its
log, optional: pass it where entries of ``policy`` are below the float range). Families in
other layers register their own implementation (``nashlab.solvers.markov_games`` for
``ZeroSumMarkovGame``, whose best responses are MDP solves).

One meaning in every family (theory notes nlhf.md §1, [D]):

* NashConv      Σ over players of the gain of a best response against the others
* exploitability = NashConv / (number of players): ½·NashConv for two-player games
* duality gap   = NashConv for two-player (zero-sum or symmetric constant-sum) games

Preference game (P, μ, β), one policy π (..., n) played by both sides of the symmetric game:
BR_β(π) ∝ μ·exp(Pπ/β); Expl_β(π) = max_π' f(π', π) − ½ = β·KL(π‖BR_β(π)) for β > 0, and
max_y (Pπ)_y − ½ for β = 0; DG_β = NashConv = 2·Expl_β.

Matrix game (A, τ), policy (..., m + n) = (x, y): BR_x(y) ∝ exp(Ay/τ), BR_y(x) ∝ exp(−Aᵀx/τ);
DG_τ = τ·[KL(x‖BR_x(y)) + KL(y‖BR_y(x))] (τ > 0), max(Ay) − min(Aᵀx) (τ = 0); Expl = ½·DG_τ.
With A = P − ½, τ = β and μ uniform, the matrix game of a preference game has the same
exploitability at (π, π) as the preference game at π.

Population (m players of a preference game), policy (m, ..., n): NashConv is the
Nikaido–Isoda gap Σ_i β·KL(π_i‖BR_β(π̄₋ᵢ)), exploitability NashConv/m.

Distances: KL(p‖q) (``kl_divergence``, ``kl_from_logs``), the span semi-norm of log p − log q
(``span_distance``), win rates P(π ≻ π') = πᵀPπ'. Which metrics are quadratic near a
fixed point: KL, exploitability, duality gap (they decay by ρ² per step under a linear rate
ρ); span and value errors are linear (decay by ρ).
"""

import functools

import numpy as np

from nashlab._xp import matvec, normalize_logits, safe_log
from nashlab.games._validation import check_distribution
from nashlab.games.matrix import MatrixGame
from nashlab.games.population import Population
from nashlab.games.preference import PreferenceGame

# ---- distances -------------------------------------------------------------------------


def kl_from_logs(p, log_p, log_q):
    """KL(p‖q) for normalised p, q from their logs, every term ≥ 0 and finite where p > 0.

    With d = log p − log q, Σ_{p>0} p·d + Σ (q − p) (the second sum is 0): a term is
    p·(d + e^{−d} − 1) for |d| ≤ 1 (no cancellation near p = q) and p·d + q − p otherwise
    (no overflow of e^{−d} for subnormal p); Σ_{p=0} q is added for the entries off p's support.
    """
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        d = log_p - log_q
        q = np.exp(log_q)
        near = np.abs(d) <= 1.0
        terms = np.where(near, p * (d + np.expm1(-np.where(near, d, 0.0))), p * d + (q - p))
        terms = np.where(p > 0, terms, q)
    return np.sum(terms, axis=-1)


def kl_divergence(p, q) -> np.ndarray:
    """KL(p‖q) = Σ p·(log p − log q) along the last axis (0·log 0 = 0; +inf off support)."""
    p = check_distribution(p, "p")
    q = check_distribution(q, "q", p.shape[-1])
    return kl_from_logs(p, safe_log(p), safe_log(q))


def span_distance(p, q) -> np.ndarray:
    """Span semi-norm of log p − log q (max − min), invariant to normalisation.

    Both p and q must have full support (the span is infinite otherwise).
    """
    p = check_distribution(p, "p", strictly_positive=True)
    q = check_distribution(q, "q", p.shape[-1], strictly_positive=True)
    d = np.log(p) - np.log(q)
    return np.max(d, axis=-1) - np.min(d, axis=-1)


def win_probabilities(game, opponent) -> np.ndarray:
    """(Pπ')_y = P(y ≻ π') for every response y; computed as ½ + Aπ' (exact for Σπ' = 1)."""
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    opponent = check_distribution(opponent, "opponent", game.n)
    return 0.5 + matvec(game.A, opponent)


def win_rate(game, policy, opponent) -> np.ndarray:
    """P(π ≻ π') = πᵀPπ'."""
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    policy = check_distribution(policy, "policy", game.n)
    return np.sum(policy * win_probabilities(game, opponent), axis=-1)


# ---- the vocabulary ----------------------------------------------------------------------

def _games():
    return "PreferenceGame, MatrixGame, Population or ZeroSumMarkovGame"


def _dispatch(name):
    def fallback(game, policy, **kwargs):
        raise TypeError(f"{name} needs a game ({_games()}), got {type(game).__name__}")
    fallback.__name__ = name
    return functools.singledispatch(fallback)


best_response_logits = _dispatch("best_response_logits")
nash_conv = _dispatch("nash_conv")
exploitability = _dispatch("exploitability")
unregularized_exploitability = _dispatch("unregularized_exploitability")


def best_response(game, policy, **options):
    """The (regularized) best response to ``policy``, in the policy's layout (``options``:
    ``logits=``, and the family's own, e.g. ``tau=`` for a Markov game)."""
    return np.exp(best_response_logits(game, policy, **options))


def duality_gap(game, policy, **options):
    """DG = NashConv for two-player games (preference, matrix, Markov)."""
    return nash_conv(game, policy, **options)


def _logits(policy, logits, name="logits"):
    if logits is None:
        return safe_log(policy)
    logits = np.asarray(logits, dtype=float)
    if logits.shape != policy.shape:
        raise ValueError(f"{name} must have the shape of the policy {policy.shape}, got {logits.shape}")
    return logits


# preference games: one policy for the symmetric game

def _preference_policy(game, policy):
    return check_distribution(policy, "policy", game.n)


@best_response_logits.register
def _(game: PreferenceGame, policy, *, logits=None):
    """log BR_β(π) = log μ + Aπ/β − log Z (β > 0); the ½ in Pπ cancels in the normaliser."""
    if game.beta <= 0:
        raise ValueError("best_response needs beta > 0 (the β = 0 best response is a set: argmax Pπ)")
    policy = _preference_policy(game, policy)
    return normalize_logits(game.log_reference + matvec(game.A, policy) / game.beta)


@exploitability.register
def _(game: PreferenceGame, policy, *, logits=None):
    """Expl_β(π) = β·KL(π‖BR_β(π)) for β > 0, max_y (Pπ)_y − ½ for β = 0 (= ½·NashConv)."""
    policy = _preference_policy(game, policy)
    if game.beta == 0:
        return np.max(matvec(game.A, policy), axis=-1)
    log_br = best_response_logits(game, policy)
    return game.beta * kl_from_logs(policy, _logits(policy, logits), log_br)


@nash_conv.register
def _(game: PreferenceGame, policy, *, logits=None):
    return 2.0 * exploitability(game, policy, logits=logits)


@unregularized_exploitability.register
def _(game: PreferenceGame, policy, *, logits=None):
    """Expl_0(π) = max_y P(y ≻ π) − ½, whatever the game's β."""
    return exploitability(game.with_beta(0.0), policy)


# matrix games: policy (..., m + n) = (x, y)

def split_players(game, policy, logits=None):
    """(x, y, log x, log y) of a matrix-game policy (..., m + n), validated."""
    policy = np.asarray(policy, dtype=float) if not isinstance(policy, np.ndarray) else policy
    if policy.ndim < 1 or policy.shape[-1] != game.m + game.n:
        raise ValueError(f"policy must have length m + n = {game.m + game.n} on its last axis "
                         f"(x then y), got shape {np.shape(policy)}")
    x = check_distribution(policy[..., :game.m], "policy[..., :m] (x)", game.m)
    y = check_distribution(policy[..., game.m:], "policy[..., m:] (y)", game.n)
    z = _logits(policy, logits)
    return x, y, z[..., :game.m], z[..., game.m:]


@best_response_logits.register
def _(game: MatrixGame, policy, *, logits=None):
    """(log BR_x(y), log BR_y(x)) = (log softmax(Ay/τ), log softmax(−Aᵀx/τ)), τ > 0."""
    if game.tau <= 0:
        raise ValueError("best responses are unique only for tau > 0")
    x, y, _, _ = split_players(game, policy, logits)

    def log_softmax(g):  # (g − max g)/τ ≤ 0: g/τ overflowed to ±inf (NaN) for a subnormal τ;
        with np.errstate(over="ignore"):  # here −inf is the exact limit, a zero probability
            return normalize_logits((g - np.max(g, axis=-1, keepdims=True)) / game.tau)

    return np.concatenate([log_softmax(matvec(game.A, y)),
                           log_softmax(-matvec(np.swapaxes(game.A, -1, -2), x))], axis=-1)


@nash_conv.register
def _(game: MatrixGame, policy, *, logits=None):
    """DG_τ(x, y) = max_x' f_τ(x', y) − min_y' f_τ(x, y') ≥ 0, zero exactly at the saddle point."""
    x, y, log_x, log_y = split_players(game, policy, logits)
    if game.tau == 0:
        return (np.max(matvec(game.A, y), axis=-1)
                - np.min(matvec(np.swapaxes(game.A, -1, -2), x), axis=-1))
    br = best_response_logits(game, policy)
    return game.tau * (kl_from_logs(x, log_x, br[..., :game.m])
                       + kl_from_logs(y, log_y, br[..., game.m:]))


@exploitability.register
def _(game: MatrixGame, policy, *, logits=None):
    """½·DG_τ (the mean of the two players' gains)."""
    return 0.5 * nash_conv(game, policy, logits=logits)


@unregularized_exploitability.register
def _(game: MatrixGame, policy, *, logits=None):
    return exploitability(game.with_tau(0.0), policy)


# populations: policy (m, *batch, n)

def opponents_average(policies):
    """π̄₋ᵢ = (Σ_j π_j − π_i)/(m − 1) for policies of shape (m, ..., n)."""
    m = policies.shape[0]
    return (policies.sum(axis=0, keepdims=True) - policies) / (m - 1)


def _population_policy(population, policy):
    policy = check_distribution(policy, "policy", population.n)
    if policy.shape[0] != population.players or policy.ndim < 2:
        raise ValueError(f"policy must have shape ({population.players}, ..., {population.n}) "
                         f"(one row per player), got {policy.shape}")
    return policy


@best_response_logits.register
def _(population: Population, policy, *, logits=None):
    """log BR_β(π̄₋ᵢ) for every player i."""
    policy = _population_policy(population, policy)
    return best_response_logits(population.game, opponents_average(policy))


@nash_conv.register
def _(population: Population, policy, *, logits=None):
    """Nikaido–Isoda gap Σ_i β·KL(π_i‖BR_β(π̄₋ᵢ)) (β > 0; arXiv 2509.23102, [D])."""
    policy = _population_policy(population, policy)
    log_br = best_response_logits(population, policy)
    return population.game.beta * kl_from_logs(policy, _logits(policy, logits), log_br).sum(axis=0)


@exploitability.register
def _(population: Population, policy, *, logits=None):
    """NashConv / m, the players' mean gain."""
    return nash_conv(population, policy, logits=logits) / population.players
