"""Preference oracles: exactness, unbiasedness, exact variance, seeding and counting."""

import numpy as np
import pytest

from nashlab import games
from nashlab.solvers.oracles import ExactOracle, SampledOracle, make_oracle


def test_exact_oracle_is_win_probability_and_counts_queries():
    game = games.random_preference(6, seed=0, batch_shape=(2,))
    pi = games.random_reference(6, seed=1)
    oracle = make_oracle(game, "exact")
    for _ in range(3):
        g = oracle(pi)
    np.testing.assert_allclose(g, np.einsum("bij,j->bi", game.P, pi), rtol=0, atol=1e-15)
    assert oracle.queries == 3 and oracle.comparisons == 0


def test_sampled_oracle_is_unbiased_with_binomial_variance():
    """ĝ_y is the mean of K i.i.d. Bernoulli(P(y≻π')) outcomes: mean g_y and variance
    g_y(1−g_y)/K exactly. Checked over N = 4000 queries (5σ bands)."""
    game = games.random_preference(5, seed=3)
    pi = games.random_reference(5, scale=2.0, seed=4)
    K, N = 7, 4000
    oracle = SampledOracle(game, K, seed=5)
    draws = np.stack([oracle(pi) for _ in range(N)])
    g = game.P @ pi
    var = g * (1 - g) / K
    assert np.all(np.abs(draws.mean(axis=0) - g) <= 5 * np.sqrt(var / N))
    # the sample variance of a mean of K Bernoullis: its std ≈ var·√(2/N) (it is not Gaussian
    # but the 5σ band is wide: fourth moment ≤ var²(3 + 1/(K g(1−g))))
    sd_var = np.sqrt((3 + 1 / (K * g * (1 - g))) / N) * var
    assert np.all(np.abs(draws.var(axis=0) - var) <= 5 * sd_var)
    np.testing.assert_array_equal(draws * K, np.round(draws * K))  # multiples of 1/K
    assert oracle.queries == N and oracle.comparisons == N * K * game.n


def test_sampled_oracle_is_reproducible_and_batched():
    game = games.random_preference(4, seed=0, batch_shape=(3, 2))
    pi = games.random_reference(4, seed=1, batch_shape=(3, 2))
    a = SampledOracle(game, 10, seed=42)
    b = SampledOracle(game, 10, seed=42)
    first = [a(pi) for _ in range(3)]
    for x in first:
        np.testing.assert_array_equal(x, b(pi))
        assert x.shape == (3, 2, 4)
    assert not np.array_equal(first[0], SampledOracle(game, 10, seed=43)(pi))


def test_sampled_oracle_degenerate_opponent_is_exact_row():
    """Against a pure opponent y' and P ∈ {0, 1} off the diagonal (a tournament) the estimate
    is exact for y ≠ y' (y = y' is a fair coin)."""
    game = games.tournament(5, seed=2)
    pure = np.eye(5)[2]
    others = np.arange(5) != 2
    g = SampledOracle(game, 3, seed=0)(pure)
    np.testing.assert_array_equal(g[others], game.P[others, 2])


@pytest.mark.parametrize("kwargs, match", [
    ({"oracle": "noisy"}, "oracle must be one of"),
    ({"oracle": "sampled"}, "needs samples"),
    ({"oracle": "exact", "samples": 3}, "only used with oracle='sampled'"),
    ({"oracle": "sampled", "samples": 0}, "samples must be a positive integer"),
    ({"oracle": "sampled", "samples": 2.5}, "samples must be a positive integer"),
    ({"oracle": "sampled", "samples": True}, "samples must be a positive integer"),
])
def test_bad_oracle_arguments(kwargs, match):
    game = games.rps()
    with pytest.raises(ValueError, match=match):
        make_oracle(game, **kwargs)


def test_exact_oracle_type():
    assert isinstance(make_oracle(games.rps()), ExactOracle)
