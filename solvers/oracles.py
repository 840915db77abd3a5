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

ORACLES = ("exact", "sampled")


class ExactOracle:
    """g = P(· ≻ π') = ½ + A·π' for every game of the batch; counts queries."""

    def __init__(self, game, xp=np):
        self.A = xp.asarray(game.A)
        self.queries = 0
        self.comparisons = 0

    def __call__(self, opponent):
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
        self.P = np.asarray(game.P)
        self.samples = int(samples)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.queries = 0
        self.comparisons = 0

    def __call__(self, opponent):
        opponent = np.asarray(opponent, dtype=float)
        n = self.P.shape[-1]
        batch = np.broadcast_shapes(self.P.shape[:-2], opponent.shape[:-1])
        pvals = np.broadcast_to(opponent[..., None, :], batch + (n, n))
        # the multinomial draw rejects Σ pvals[:-1] > 1 by rounding: renormalise in float64
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
    if oracle not in ORACLES:
        raise ValueError(f"oracle must be one of {ORACLES}, got {oracle!r}")
    if oracle == "exact":
        if samples is not None:
            raise ValueError("samples is only used with oracle='sampled'; leave it None")
        return ExactOracle(game)
    if samples is None:
        raise ValueError("oracle='sampled' needs samples=K (comparisons per response)")
    return SampledOracle(game, samples, seed)

