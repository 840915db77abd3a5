"""PreferenceGame validation, alternative constructors and generators."""

import numpy as np
import pytest

from nashlab import games
from nashlab.games import PreferenceGame


def test_valid_game_is_read_only_and_shaped():
    g = games.random_preference(5, beta=0.3, seed=0)
    assert g.n == 5 and g.batch_shape == () and g.beta == 0.3
    np.testing.assert_allclose(g.reference, np.full(5, 0.2))
    np.testing.assert_array_equal(np.diag(g.P), 0.5)
    with pytest.raises(ValueError):
        g.P[0, 1] = 0.3


@pytest.mark.parametrize(
    ("P", "match"),
    [
        ([[0.5, 0.7], [0.4, 0.5]], "P \\+ Pᵀ = 1"),
        ([[0.5, 1.2], [-0.2, 0.5]], "entries in \\[0, 1\\]"),
        ([[0.5, np.nan], [0.5, 0.5]], "finite"),
        ([[0.5, 0.5, 0.5]], "square"),
        ([0.5, 0.5], "at least 2 dimensions"),
    ],
)
def test_bad_matrix_rejected(P, match):
    with pytest.raises(ValueError, match=match):
        PreferenceGame(P)


def test_symmetry_tolerance_is_1e_12():
    P = np.array([[0.5, 0.3], [0.7, 0.5]])
    PreferenceGame(P + np.array([[0, 5e-13], [0, 0]]))
    with pytest.raises(ValueError, match="P \\+ Pᵀ"):
        PreferenceGame(P + np.array([[0, 5e-12], [0, 0]]))


def test_bad_types_rejected():
    with pytest.raises(TypeError, match="P must be an array of real numbers"):
        PreferenceGame([["a", "b"], ["c", "d"]])
    with pytest.raises(TypeError, match="beta must be a real number"):
        PreferenceGame([[0.5, 0.5], [0.5, 0.5]], beta="0.1")


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ([0.5, 0.5, 0.0], "strictly positive"),
        ([0.5, 0.6, -0.1], "strictly positive"),
        ([0.3, 0.3, 0.3], "sum to 1"),
        ([0.5, 0.5], "length 3"),
    ],
)
def test_bad_reference_rejected(ref, match):
    with pytest.raises(ValueError, match=match):
        games.rps(reference=ref)


def test_negative_beta_rejected():
    with pytest.raises(ValueError, match="beta must be ≥ 0"):
        games.rps(beta=-0.1)


def test_from_payoff_round_trip_and_validation():
    g = games.random_preference(4, seed=1)
    h = PreferenceGame.from_payoff(g.A, beta=g.beta)
    np.testing.assert_array_equal(h.P, g.P)
    with pytest.raises(ValueError, match="antisymmetric"):
        PreferenceGame.from_payoff([[0, 0.2], [0.2, 0]])
    with pytest.raises(ValueError, match="\\[−½, ½\\]"):
        PreferenceGame.from_payoff([[0, 0.7], [-0.7, 0]])


def test_from_counts_estimator_and_unseen_pairs():
    wins = np.array([[0, 3, 0], [1, 0, 0], [0, 0, 0]])
    g = PreferenceGame.from_counts(wins, prior=0.5)
    assert g.P[0, 1] == pytest.approx(3.5 / 5.0)
    assert g.P[1, 0] == pytest.approx(1.5 / 5.0)
    assert g.P[0, 2] == 0.5 and g.P[2, 1] == 0.5  # never compared: a tie
    empirical = PreferenceGame.from_counts(wins, prior=0.0)
    assert empirical.P[0, 1] == 0.75
    with pytest.raises(ValueError, match="zero diagonal"):
        PreferenceGame.from_counts([[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="non-negative"):
        PreferenceGame.from_counts([[0, -1], [0, 0]])


def test_generators_are_seeded_and_valid():
    for make in (games.random_preference, games.tournament, games.annotator_mixture):
        a, b = make(6, seed=3), make(6, seed=3)
        np.testing.assert_array_equal(a.P, b.P)
        assert not np.array_equal(a.P, make(6, seed=4).P)
    t = games.tournament(8, seed=0)
    assert set(np.unique(t.P)) <= {0.0, 0.5, 1.0}
    np.testing.assert_allclose(games.perturbed_rps().P,
                               [[0.5, 0, 1], [1, 0.5, 1 / 3], [0, 2 / 3, 0.5]])


def test_cyclic_is_generalised_rps():
    P = games.cyclic(5).P
    assert P[0, 1] == P[0, 2] == 1.0 and P[0, 3] == P[0, 4] == 0.0
    np.testing.assert_array_equal(games.rps().P, games.cyclic(3).P)
    assert games.cyclic(4).P[0, 2] == 0.5


def test_bradley_terry_is_logistic():
    g = games.bradley_terry([0.0, 1.0, 3.0])
    assert g.P[2, 0] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-15)


def test_batch_axis():
    g = games.random_preference(4, seed=0, batch_shape=(3, 2))
    assert g.batch_shape == (3, 2) and g.P.shape == (3, 2, 4, 4)
    one = g[1, 0]
    np.testing.assert_array_equal(one.P, g.P[1, 0])
    with pytest.raises(IndexError):
        one[0]
