"""MNPO population dynamics: the Nikaido–Isoda gap, reductions and convergence."""

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab import games
from nashlab.solvers import equilibrium, run
from nashlab.solvers.multiplayer import nikaido_isoda, run_multiplayer
from nashlab.theory.strategies import preference_games

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _explicit_ni(game, policies):
    """Σ_i [max_π' J_i(π', π_−i) − J_i(π)], J_i = π_iᵀPπ̄_−i − β·KL(π_i‖μ), with the max
    written as β·log Σ_y μ_y·exp((Pπ̄_−i)_y/β) (Gibbs variational principle; scipy's
    logsumexp, since exp(g/β) overflows at small β)."""
    m, total = len(policies), 0.0
    for p in policies:
        opp = (np.sum(policies, axis=0) - p) / (m - 1)
        g = game.P @ opp
        best = game.beta * scipy.special.logsumexp(g / game.beta, b=game.reference)
        total += best - (p @ g - game.beta * np.sum(p * np.log(p / game.reference)))
    return total


@FAST
@given(preference_games(n_max=8), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_nikaido_isoda_closed_form(game, m, seed):
    z = np.random.default_rng(seed).standard_normal((m, game.n)) + game.log_reference
    policies = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    value = nikaido_isoda(game, np.log(policies))
    assert value >= 0
    np.testing.assert_allclose(value, _explicit_ni(game, policies), rtol=1e-8, atol=1e-12)


@FAST
@given(preference_games(n_max=8), st.integers(2, 5))
def test_symmetric_equilibrium_has_zero_gap(game, m):
    star = equilibrium(game).logits
    assert nikaido_isoda(game, np.stack([star] * m)) <= 1e-13


def test_two_players_from_one_policy_is_nash_mp():
    """m = 2 with π_1,0 = π_2,0: both players follow the Nash-MP (resp. MMD) iterates."""
    game = games.random_preference(5, beta=0.2, seed=1, reference=games.random_reference(5, seed=2))
    pi0 = games.random_reference(5, scale=2.0, seed=3)
    for method, single in (("mirror-prox", "nash-mp"), ("prox", "mmd")):
        pop = run_multiplayer(game, players=2, eta=1.5, iterations=30, method=method,
                              init=np.stack([pi0, pi0]))
        one = run(game, single, eta=1.5, iterations=30, init=pi0)
        np.testing.assert_allclose(pop["kl"], 2 * one["kl"], rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(pop.policy[0], one.policy, rtol=1e-12)


@pytest.mark.parametrize("players", [2, 3, 6])
@pytest.mark.parametrize("method, eta", [("mirror-prox", 2.0), ("prox", 0.4)])
def test_population_converges_to_the_symmetric_equilibrium(players, method, eta):
    game = games.random_preference(6, beta=0.2, seed=4, batch_shape=(2,))
    tr = run_multiplayer(game, players=players, eta=eta, iterations=300, seed=5, method=method)
    assert tr["nikaido_isoda"].shape == (301, 2)
    assert np.all(tr["nikaido_isoda"][-1] <= 1e-12) and np.all(tr["kl"][-1] <= 1e-12)
    assert tr["nikaido_isoda"][0].min() >= 1e-3  # distinct random starts
    star = np.broadcast_to(equilibrium(game).policy, tr.policy.shape)
    np.testing.assert_allclose(tr.policy, star, atol=1e-7)


def test_seeded_start_is_reproducible():
    game = games.perturbed_rps(beta=0.1)
    a = run_multiplayer(game, players=3, eta=1.0, iterations=5, seed=7)
    b = run_multiplayer(game, players=3, eta=1.0, iterations=5, seed=7)
    np.testing.assert_array_equal(a["nikaido_isoda"], b["nikaido_isoda"])


@pytest.mark.parametrize("kwargs, err, match", [
    ({"players": 1}, ValueError, "players must be ≥ 2"),
    ({"players": 2.0}, TypeError, "players must be an integer"),
    ({"eta": 0.0}, ValueError, "eta must be >"),
    ({"iterations": -2}, ValueError, "iterations must be ≥ 0"),
    ({"method": "sgd"}, ValueError, "method must be one of"),
    ({"init": np.full((2, 3), 1 / 3)}, ValueError, "init must have shape"),
    ({"init": np.array([[1.0, 0, 0]] * 3)}, ValueError, "strictly positive"),
])
def test_bad_arguments(kwargs, err, match):
    args = {"players": 3, "eta": 1.0, "iterations": 2} | kwargs
    with pytest.raises(err, match=match):
        run_multiplayer(games.perturbed_rps(beta=0.1), **args)


def test_bad_game():
    with pytest.raises(TypeError, match="PreferenceGame"):
        run_multiplayer(np.eye(3), players=2, eta=1.0, iterations=1)
    with pytest.raises(ValueError, match="needs beta > 0"):
        run_multiplayer(games.rps(beta=0.0), players=2, eta=1.0, iterations=1)
