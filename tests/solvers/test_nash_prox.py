"""Nash Prox (tabular): the proximal-point outer step solved by self-play online IPO.

Ground truth from an independent method: one outer step with a long inner solve equals the
certified equilibrium (damped Newton, ``equilibrium``) of the inner game, the preference
game with KL weight β + 1/η towards the magnet ν_k ∝ (π_k·μ^{ηβ})^{1/(1+ηβ)}.
"""

import numpy as np
import pytest

from nashlab import games
from nashlab.games import PreferenceGame
from nashlab.games.metrics import kl_divergence
from nashlab.solvers import run
from nashlab.solvers.equilibrium import equilibrium
from nashlab.solvers.methods import get_method
from nashlab.solvers.nlhf import NASH_PROX_INNER_STEPS

CASES = [(5, 0.1, 2.0, 0), (8, 0.05, 0.5, 1), (12, 0.3, 10.0, 2), (6, 1.0, 1.0, 3)]


def _game(n, beta, seed):
    return games.random_preference(n, beta=beta, seed=seed,
                                   reference=games.random_reference(n, seed=seed + 100))


@pytest.mark.parametrize("n, beta, eta, seed", CASES)
def test_one_outer_step_is_the_equilibrium_of_the_inner_game(n, beta, eta, seed):
    game = _game(n, beta, seed)
    start = games.random_reference(n, seed=seed + 200)
    tr = run(game, "nash-prox", eta=eta, iterations=1, init=start, inner_steps=400, track=())
    magnet = np.exp((np.log(start) + eta * beta * np.log(game.reference)) / (1 + eta * beta))
    inner = PreferenceGame(game.P, reference=magnet / magnet.sum(), beta=beta + 1.0 / eta)
    exact = equilibrium(inner)
    assert exact.certified
    np.testing.assert_allclose(tr.policy, exact.policy, rtol=1e-10, atol=1e-13)
    assert tr["queries"][-1] == 400


@pytest.mark.parametrize("n, beta, eta, seed", CASES)
def test_exact_outer_steps_contract_kl_by_one_plus_eta_beta(n, beta, eta, seed):
    """[D] KL(π*‖π_{k+1}) ≤ KL(π*‖π_k)/(1 + ηβ) for the exact proximal point, any η > 0."""
    game = _game(n, beta, seed)
    tr = run(game, "nash-prox", eta=eta, iterations=12, inner_steps=400, track=("kl",),
             init=games.random_reference(n, seed=seed + 300))
    kl = tr["kl"]
    keep = kl[:-1] > 1e-13
    assert keep.sum() >= 3
    assert np.all(kl[1:][keep] <= kl[:-1][keep] / (1 + eta * beta) * (1 + 1e-9))


def test_inner_self_play_contracts_at_the_derived_step():
    """The inner online-IPO iterates approach the inner equilibrium geometrically: the error
    after 2M inner steps is below the error after M (factor ≤ 0.9 per doubling at M ≥ 5)."""
    game = _game(10, 0.1, 4)
    exact = run(game, "nash-prox", eta=2.0, iterations=1, inner_steps=400, track=()).policy
    errors = [float(kl_divergence(exact, run(game, "nash-prox", eta=2.0, iterations=1,
                                             inner_steps=m, track=()).policy))
              for m in (5, 10, 20, 40)]
    assert all(b <= 0.9 * a for a, b in zip(errors[:-1], errors[1:], strict=True)), errors


def test_nash_prox_converges_to_the_regularized_equilibrium_with_few_inner_steps():
    game = _game(8, 0.1, 5)
    tr = run(game, "nash-prox", eta=2.0, iterations=60, inner_steps=5, track=("kl",))
    assert tr["kl"][-1] <= 1e-8 * tr["kl"][0]
    assert tr.params["inner_steps"] == 5


def test_default_inner_steps_and_queries_per_step():
    game = _game(5, 0.2, 6)
    tr = run(game, "nash-prox", eta=1.0, iterations=4, track=())
    assert tr.params["inner_steps"] == NASH_PROX_INNER_STEPS == 10
    np.testing.assert_array_equal(tr["queries"], NASH_PROX_INNER_STEPS * np.arange(5))
    assert get_method("preference", "nash-prox").queries_per_step == NASH_PROX_INNER_STEPS


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (1.5, TypeError),
                                        (True, TypeError)])
def test_bad_inner_steps_names_the_argument(bad, error):
    with pytest.raises(error, match="inner_steps"):
        run(_game(4, 0.1, 7), "nash-prox", eta=1.0, iterations=2, inner_steps=bad)
