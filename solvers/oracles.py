"""Preference oracles: what an NLHF algorithm may ask about the game.

An oracle answers one *query*: given an opponent policy π' (shape (..., n)), the vector of
win probabilities g_y = P(y ≻ π') for every response y (shape (..., n), one vector per game
of the batch). Algorithms only ever see the game through this call.

Counting convention (used for the ``"queries"`` metric of :func:`nashlab.solvers.nlhf.run`):
one call = one preference query per game, whatever the oracle. A sampled oracle also counts
its Bernoulli *comparisons*: K per response y, i.e. K·n per query and game.

* :class:`ExactOracle`: g = ½ + A·π' exactly (the array namespace of A: NumPy or CuPy).
* :class:`SampledOracle`: for every y, K opponents y'₁..y'_K ~ π' i.i.d. and outcomes
  o_k ~ Bernoulli(P(y ≻ y'_k)); returns ĝ_y = (1/K)·Σ_k o_k, an unbiased estimate of
  P(y ≻ π') with variance ≤ 1/(4K). Sampled in distribution-exact form: the opponent counts
  are Multinomial(K, π') and the wins against y' are Binomial(count_y', P(y ≻ y')), which is
  the same law as K explicit draws (cost O(n²) per query, independent of K). NumPy only.
"""

import numpy as np

from nashlab._xp import array_namespace, matvec
from nashlab.games._validation import SUM_TOL, rng_from_seed
from nashlab.games.preference import PreferenceGame

ORACLES = ("exact", "sampled")


def _check_game(game):
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    return game


def check_opponent(opponent, n):
    """``opponent`` (..., n): finite, ≥ 0, summing to 1 within ``SUM_TOL``·n (NumPy or CuPy).

    Nothing is renormalised: an opponent that is not a policy is a ValueError.
    """
    xp = array_namespace(opponent)
    if not hasattr(opponent, "shape") or xp.iscomplexobj(opponent) or opponent.dtype == bool:
        raise TypeError("opponent must be a real array of probabilities")
    if opponent.ndim < 1 or opponent.shape[-1] != n:
        raise ValueError(f"opponent must have length {n} on its last axis, got shape {opponent.shape}")
    if bool(xp.any(~xp.isfinite(opponent))) or bool(xp.any(opponent < 0)):
        raise ValueError("opponent must be a policy: finite and non-negative")
    err = float(xp.max(xp.abs(opponent.sum(axis=-1) - 1.0)))
    if err > SUM_TOL * max(1, n):
        raise ValueError(f"opponent must sum to 1 along its last axis (off by {err:.3g})")
    return opponent


class ExactOracle:
    """g = P(· ≻ π') = ½ + A·π' for every game of the batch; counts queries."""

    def __init__(self, game, xp=np):
        self.A = xp.asarray(_check_game(game).A)
        self.queries = 0
        self.comparisons = 0

    def __call__(self, opponent):
        check_opponent(opponent, self.A.shape[-1])
        self.queries += 1
        xp = array_namespace(self.A, opponent)
        return 0.5 + matvec(self.A, opponent, xp)


class SampledOracle:
    """Unbiased estimate of P(· ≻ π') from ``samples`` = K Bernoulli comparisons per response.

    ``seed``: an int, ``None`` or a ``numpy.random.Generator``; the same seed gives the same
    answers to the same sequence of queries.
    """

    def __init__(self, game, samples, seed=None):
        if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        self.P = np.asarray(_check_game(game).P)
        self.samples = int(samples)
        self.rng = rng_from_seed(seed)
        self.queries = 0
        self.comparisons = 0

    def __call__(self, opponent):
        n = self.P.shape[-1]
        opponent = check_opponent(np.asarray(opponent), n).astype(float)
        batch = np.broadcast_shapes(self.P.shape[:-2], opponent.shape[:-1])
        pvals = np.broadcast_to(opponent[..., None, :], batch + (n, n))
        # a validated policy; the multinomial draw rejects Σ pvals[:-1] > 1 + ε even by one
        # rounding error, so divide by the sum (a change within SUM_TOL·n, never a repair)
        pvals = pvals / pvals.sum(axis=-1, keepdims=True)
        counts = self.rng.multinomial(self.samples, pvals)  # (..., y, y'): opponents met by y
        wins = self.rng.binomial(counts, np.broadcast_to(self.P, counts.shape))
        self.queries += 1
        self.comparisons += self.samples * n
        return wins.sum(axis=-1) / self.samples


def make_oracle(game, oracle="exact", *, samples=None, seed=None):
    """The oracle named ``oracle`` ("exact" or "sampled") for ``game``.

    ``samples`` (K ≥ 1) is required for "sampled" and must be ``None`` for "exact".
    """
    if not isinstance(oracle, str) or oracle not in ORACLES:
        raise ValueError(f"oracle must be one of {ORACLES}, got {oracle!r}")
    if oracle == "exact":
        if samples is not None:
            raise ValueError("samples is only used with oracle='sampled'; leave it None")
        return ExactOracle(game)
    if samples is None:
        raise ValueError("oracle='sampled' needs samples=K (comparisons per response)")
    return SampledOracle(game, samples, seed)

