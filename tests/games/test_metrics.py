"""Exact evaluation quantities: definitions, identities, stability, batch axis."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab import games
from nashlab.games import metrics
from nashlab.theory.strategies import distributions, preference_games


def _expl_definition(game, pi):
    """max_π' f(π', π) − ½ with f(π', π) = π'ᵀPπ − βKL(π'‖μ) + βKL(π‖μ), by the
    Gibbs variational formula max_p ⟨p, g⟩ − βKL(p‖μ) = β log Σ μ e^{g/β}."""
    g = game.P @ pi
    m = (g / game.beta).max()
    lse = game.beta * (m + np.log(np.sum(game.reference * np.exp(g / game.beta - m))))
    return lse + game.beta * np.sum(pi * np.log(pi / game.reference)) - 0.5


@settings(max_examples=25, deadline=None)
@given(preference_games(n_max=20, beta_min=0.05), st.data())
def test_exploitability_matches_definition(game, data):
    pi = data.draw(distributions(game.n, peaked=False))
    e = metrics.exploitability(game, pi)
    assert e >= 0
    assert e == pytest.approx(_expl_definition(game, pi), rel=1e-9, abs=1e-12)
    assert metrics.duality_gap(game, pi) == 2 * e


@settings(max_examples=25, deadline=None)
@given(preference_games(n_max=30, beta_min=1e-4, beta_max=5.0), st.data())
def test_exploitability_nonnegative_everywhere(game, data):
    pi = data.draw(distributions(game.n))
    e = metrics.exploitability(game, pi)
    assert np.isfinite(e) and e >= 0.0


def test_unregularized_exploitability():
    g = games.perturbed_rps(beta=0.0)
    assert metrics.exploitability(g, np.array([1, 3, 3]) / 7) == pytest.approx(0, abs=1e-15)
    assert metrics.exploitability(g, [1.0, 0, 0]) == pytest.approx(0.5)  # action 1 beats 0
    assert metrics.unregularized_exploitability(g.with_beta(0.3), [1.0, 0, 0]) == pytest.approx(0.5)


def test_best_response_is_gibbs():
    g = games.random_preference(6, beta=0.2, seed=0, reference=games.random_reference(6, seed=1))
    pi = games.random_reference(6, seed=2)
    br = metrics.best_response(g, pi)
    w = g.reference * np.exp(g.P @ pi / g.beta)
    np.testing.assert_allclose(br, w / w.sum(), rtol=1e-13)
    with pytest.raises(ValueError, match="beta > 0"):
        metrics.best_response(g.with_beta(0.0), pi)


def test_stable_for_tiny_beta_and_peaked_reference():
    n = 50
    mu = np.full(n, 1e-8)
    mu[0] = 1 - (n - 1) * 1e-8
    g = games.random_preference(n, beta=1e-4, reference=mu, seed=0)
    for pi in (np.full(n, 1 / n), mu):
        e = metrics.exploitability(g, pi)
        assert np.isfinite(e) and e >= 0
        assert np.all(np.isfinite(metrics.best_response_logits(g, pi)))


def test_kl_span_and_win_rate():
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    assert metrics.kl_divergence(p, q) == pytest.approx(0.2 * np.log(0.4) + 0.8 * np.log(1.6))
    assert metrics.kl_divergence([1.0, 0.0], q) == pytest.approx(np.log(2))
    assert metrics.kl_divergence(q, [1.0, 0.0]) == np.inf
    assert metrics.span_distance(p, q) == pytest.approx(np.log(1.6) - np.log(0.4))
    with pytest.raises(ValueError, match="strictly positive"):
        metrics.span_distance([1.0, 0.0], q)
    g = games.rps()
    assert metrics.win_rate(g, [1.0, 0, 0], [0, 1.0, 0]) == 1.0  # action y beats y + 1
    assert metrics.win_rate(g, q := np.full(3, 1 / 3), q) == pytest.approx(0.5)


def test_metrics_reject_bad_policies():
    g = games.rps()
    with pytest.raises(ValueError, match="policy must have length 3"):
        metrics.exploitability(g, [0.5, 0.5])
    with pytest.raises(ValueError, match="policy must sum to 1"):
        metrics.exploitability(g, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="policy must be non-negative"):
        metrics.exploitability(g, [1.5, -0.5, 0.0])
    with pytest.raises(ValueError, match="finite"):
        metrics.exploitability(g, [np.nan, 0.5, 0.5])


def test_batch_axis_matches_loop():
    g = games.random_preference(5, beta=0.1, seed=0, batch_shape=(4,))
    pi = games.random_reference(5, seed=1, batch_shape=(4,))
    batched = metrics.exploitability(g, pi)
    assert batched.shape == (4,)
    for b in range(4):
        assert batched[b] == pytest.approx(metrics.exploitability(g[b], pi[b]), rel=1e-14)


@pytest.mark.parametrize("name", ["exploitability", "nash_conv", "duality_gap", "best_response",
                                  "best_response_logits", "unregularized_exploitability",
                                  "win_probabilities", "win_rate"])
@pytest.mark.parametrize("not_a_game", [3, "rps", np.eye(3), None])
def test_metrics_refuse_what_is_not_a_game(name, not_a_game):
    """A TypeError that names the game argument (win_rate and win_probabilities raised an
    AttributeError: 'int' object has no attribute 'n')."""
    f = getattr(metrics, name)
    pi = np.full(3, 1 / 3)
    args = (pi, pi) if name == "win_rate" else (pi,)
    with pytest.raises(TypeError, match="game must be a PreferenceGame|needs a game"):
        f(not_a_game, *args)
    assert np.isfinite(f(games.rps(beta=0.1), *args)).all()


def test_float32_distributions_are_accepted_within_their_rounding():
    """A float32 policy sums to 1 only to float32 precision (off by 1.5e-8 here): accepted
    within n·16·eps(float32) and used as its float64 normalisation (it was 'init must sum to
    1 ... off by 1.49e-08'); off by 1e-4 it is still refused, and float64 keeps 1e-12·n."""
    pi32 = np.array([0.2, 0.3, 0.5], dtype=np.float32)
    assert abs(float(pi32.astype(np.float64).sum()) - 1) > 1e-12 * 3  # the case at stake
    game = games.rps(beta=0.1)
    exact = pi32.astype(np.float64) / pi32.astype(np.float64).sum()
    assert metrics.exploitability(game, pi32) == pytest.approx(metrics.exploitability(game, exact),
                                                               rel=1e-14)
    import nashlab
    trajectory = nashlab.run(game, "nash-mp", eta=0.5, iterations=2, init=pi32)
    np.testing.assert_allclose(trajectory.policy, nashlab.run(game, "nash-mp", eta=0.5, iterations=2,
                                                              init=exact).policy, rtol=1e-14)
    with pytest.raises(ValueError, match="must sum to 1"):
        metrics.kl_divergence(np.array([0.2, 0.3, 0.5001], dtype=np.float32), np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="must sum to 1"):
        metrics.kl_divergence(np.array([0.2, 0.3, 0.5 + 1e-9]), np.full(3, 1 / 3))


def test_matrix_best_response_at_a_subnormal_tau_is_the_argmax():
    """(Ay − max)/τ: Ay/τ overflowed (warning, NaN) at τ = 1e-320; the limit is the argmax."""
    import warnings

    game = games.random_matrix_game(3, 4, tau=1e-320, seed=0)
    x, y = np.full(3, 1 / 3), np.full(4, 1 / 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        br = metrics.best_response_logits(game, np.concatenate([x, y]))
    assert not np.isnan(br).any()
    np.testing.assert_array_equal(np.exp(br[:3]), np.eye(3)[np.argmax(game.A @ y)])
    np.testing.assert_array_equal(np.exp(br[3:]), np.eye(4)[np.argmin(x @ game.A)])
