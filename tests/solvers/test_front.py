"""The front door (nashlab.solve / nashlab.run), the method table, the result family and the
one metric vocabulary, across families."""

import importlib
import math

import numpy as np
import pytest

import nashlab
from nashlab import games
from nashlab.games import metrics
from nashlab.solvers import _kernels_cpu, compositions, methods, nlhf
from nashlab.solvers.kernels import RULES
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution, Trajectory

PREFERENCE = games.random_preference(5, beta=0.2, seed=0, reference=games.random_reference(5, seed=1))
MATRIX = games.random_matrix_game(3, 4, tau=0.2, seed=0)
POPULATION = games.Population(PREFERENCE, 3)
COMMON = ("family", "method", "backend", "n_actions", "n_states", "batch_shape")


def _eta(family, name):
    entry = methods.get_method(family, name)
    return 0.5 if entry.step_form == "mirror-descent" else 1.0


def _options(family, name):
    return {("preference", "magnet-refresh"): {"refresh_every": 3},
            ("preference", "nash-mp-inexact"): {"inner_steps": 2}}.get((family, name), {})


@pytest.mark.parametrize("family, problem", [("preference", PREFERENCE), ("matrix", MATRIX),
                                             ("population", POPULATION)])
def test_every_table_method_runs_through_the_front_door(family, problem):
    for name in methods.methods(family):
        tr = nashlab.run(problem, name, eta=_eta(family, name), iterations=3, seed=0,
                         **_options(family, name))
        assert isinstance(tr, Trajectory) and tr.method == name
        assert tr.params["family"] == family and tr.params["method"] == name
        assert all(key in tr.params for key in COMMON)
        for values in tr.metrics.values():
            assert values.shape[0] == 4 and np.all(np.isfinite(values))


@pytest.mark.parametrize("problem", [PREFERENCE, MATRIX, POPULATION])
def test_solve_returns_a_certified_solution_with_the_schema(problem):
    sol = nashlab.solve(problem)
    assert isinstance(sol, Solution) and sol.certified
    assert all(key in sol.params for key in COMMON)
    assert sol.gap <= 1e-12


def test_population_solution_is_the_game_equilibrium_for_every_player():
    sol, eq = nashlab.solve(POPULATION), nashlab.solve(PREFERENCE)
    np.testing.assert_array_equal(sol.policy, np.broadcast_to(eq.policy, (3, 5)))
    np.testing.assert_allclose(metrics.nash_conv(POPULATION, sol.policy), 0.0, atol=1e-14)


@pytest.mark.parametrize("family, problem, name", [("preference", PREFERENCE, "nash-mp"),
                                                   ("matrix", MATRIX, "mmd"),
                                                   ("population", POPULATION, "prox")])
def test_unknown_options_name_the_option_and_the_method(family, problem, name):
    with pytest.raises(TypeError, match=f"'{name}' .*unknown option.*bogus"):
        nashlab.run(problem, name, eta=0.5, iterations=1, bogus=1)


def test_problem_type_is_checked():
    for call in (lambda: nashlab.solve(np.eye(2)), lambda: nashlab.run("rps", "nash-mp", iterations=1)):
        with pytest.raises(TypeError, match="problem must be one of PreferenceGame"):
            call()


def test_ground_truth_only_when_a_metric_needs_it(monkeypatch):
    module = importlib.import_module("nashlab.solvers.equilibrium")

    def refuse(*args, **kwargs):
        raise AssertionError("the equilibrium was computed although no metric needs it")

    monkeypatch.setattr(module, "equilibrium", refuse)
    tr = nashlab.run(PREFERENCE, "nash-mp", eta=1.0, iterations=5, track=("exploitability",))
    assert set(tr.metrics) == {"exploitability", "queries"}
    with pytest.raises(AssertionError, match="no metric needs it"):
        nashlab.run(PREFERENCE, "nash-mp", eta=1.0, iterations=5, track=("kl",))


def test_a_given_solution_is_reused_and_checked():
    sol = nashlab.solve(PREFERENCE)
    a = nashlab.run(PREFERENCE, "egpo", eta=0.5, iterations=10, track=("kl", "span"), solution=sol)
    b = nashlab.run(PREFERENCE, "egpo", eta=0.5, iterations=10, track=("kl", "span"))
    np.testing.assert_array_equal(a["kl"], b["kl"])
    np.testing.assert_array_equal(a["span"], b["span"])
    other = nashlab.solve(PREFERENCE.with_beta(0.3))
    with pytest.raises(ValueError, match="solution is for another game"):
        nashlab.run(PREFERENCE, "egpo", eta=0.5, iterations=1, track=("kl",), solution=other)
    with pytest.raises(TypeError, match="solution must be"):
        nashlab.run(PREFERENCE, "egpo", eta=0.5, iterations=1, track=("kl",), solution=nashlab.solve(MATRIX))


@pytest.mark.parametrize("track", [(), ("kl", "exploitability")])
def test_large_single_game_runs_the_packed_kernel_with_the_reference_iterates(monkeypatch, track):
    """Above ``PACKED_MIN_N`` Nash-MP on one game runs ``packed.iterate_nash_mp``; lowered here so
    that the test is small: same iterates, metrics and query counts as the NumPy steps."""
    monkeypatch.setattr(nlhf, "PACKED_MIN_N", 64)
    game = games.random_preference(70, beta=0.05, seed=3, reference=games.random_reference(70, seed=4))
    calls = []
    from nashlab.solvers import packed

    real = packed.iterate_nash_mp
    monkeypatch.setattr(packed, "iterate_nash_mp", lambda *a: calls.append(a[5]) or real(*a))
    fast = nashlab.run(game, "nash-mp", eta=1.5, iterations=6, track=track, backend="numba")
    ref = nashlab.run(game, "nash-mp", eta=1.5, iterations=6, track=track, backend="numpy")
    assert calls == ([6] if not track else [1] * 6)
    np.testing.assert_allclose(np.log(fast.policy), np.log(ref.policy), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fast["queries"], ref["queries"])
    for name in track:
        np.testing.assert_allclose(fast[name], ref[name], rtol=1e-9, atol=1e-14)


def test_solution_and_trajectory_round_trip(tmp_path):
    winner = nashlab.solve(games.perturbed_rps(beta=0.0))  # LP: −inf logits off the support
    for sol in (winner, nashlab.solve(MATRIX)):
        back = Solution.from_json(sol.to_json())
        np.testing.assert_array_equal(back.policy, sol.policy)
        np.testing.assert_array_equal(back.logits, sol.logits)
        assert back.params == sol.params and back.certified == sol.certified
        sol.save(tmp_path / "s.npz")
        again = Solution.load(tmp_path / "s.npz")
        np.testing.assert_array_equal(again.logits, sol.logits)
        assert again.params == sol.params and again.gap == sol.gap
    tr = nashlab.run(MATRIX, "mirror-prox", eta=0.5, iterations=4)
    back = Trajectory.from_json(tr.to_json())
    np.testing.assert_array_equal(back.average_policy, tr.average_policy)
    assert set(back.metrics) == set(tr.metrics) and back.params == tr.params
    with pytest.raises(ValueError, match="not a nashlab Solution"):
        Solution.from_json(tr.to_json())
    tr.save(tmp_path / "t.npz")
    with pytest.raises(ValueError, match="holds a 'Trajectory', not a 'Solution'"):
        Solution.load(tmp_path / "t.npz")


def test_results_are_frozen_and_params_must_be_json():
    sol = nashlab.solve(PREFERENCE)
    with pytest.raises(AttributeError):
        sol.certified = False
    with pytest.raises(TypeError, match="params must hold JSON-serialisable values"):
        Trajectory("x", {"f": object()})


def test_one_metric_vocabulary_across_families():
    """exploitability = NashConv / players; the matrix game (A = P − ½, τ = β) of a preference
    game with uniform μ has the preference game's values at (π, π)."""
    game = games.random_preference(6, beta=0.3, seed=5)
    matrix = games.MatrixGame(game.A, game.beta)
    pi = np.random.default_rng(0).dirichlet(np.ones(6), size=4)
    joint = np.concatenate([pi, pi], axis=-1)
    for name in ("exploitability", "nash_conv", "duality_gap"):
        f = getattr(metrics, name)
        np.testing.assert_allclose(f(matrix, joint), f(game, pi), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(metrics.nash_conv(game, pi), 2 * metrics.exploitability(game, pi))
    np.testing.assert_allclose(metrics.best_response(matrix, joint),
                               np.concatenate([metrics.best_response(game, pi)] * 2, axis=-1),
                               rtol=1e-12)
    players = np.stack([pi[0], pi[1], pi[2]])
    population = games.Population(game, 3)
    np.testing.assert_allclose(metrics.exploitability(population, players),
                               metrics.nash_conv(population, players) / 3)
    with pytest.raises(TypeError, match="exploitability needs a game"):
        metrics.exploitability(np.eye(3), pi[0])


def test_subnormal_probabilities_are_valid():
    """Log-space KL: a subnormal entry neither overflows nor gives inf (issue 11, item 2)."""
    p, q = np.array([0.5, 0.5, 1e-310]), np.full(3, 1 / 3)
    expected = 0.5 * math.log(1.5) * 2 + 1e-310 * math.log(3e-310)
    np.testing.assert_allclose(metrics.kl_divergence(p, q), expected, rtol=1e-14)
    game = games.rps(beta=0.1)
    value = metrics.exploitability(game, p)
    log_br = metrics.best_response_logits(game, p)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, 0.1 * np.sum(p[:2] * (np.log(p[:2]) - log_br[:2])) + 0.1 * (
        np.exp(log_br[2]) - 1e-310 + 1e-310 * (np.log(1e-310) - log_br[2]))
        + 0.1 * np.sum(np.exp(log_br[:2]) - p[:2]), rtol=1e-12)


def test_compositions_are_the_documented_maps():
    """Each composition against its formula on a matrix game, with (a, b, c) of both forms."""
    A = MATRIX.A
    ref = (-np.log(3), -np.log(4))
    z = (np.log(np.full(3, 1 / 3)), np.log(np.array([0.1, 0.2, 0.3, 0.4])))

    def F(w):
        return A @ np.exp(w[1]), -A.T @ np.exp(w[0])

    for form in ("prox", "mirror-descent"):
        a, b, c = step_coefficients(form, 0.7, 0.2)
        step = compositions.make_step((a, b, c), ref)

        def S(w, g, a=a, b=b, c=c):
            return tuple(np.log(np.exp(a * wi + b * ri + c * gi) / np.exp(a * wi + b * ri + c * gi).sum())
                         for wi, ri, gi in zip(w, ref, g, strict=True))

        zero = (np.zeros(3), np.zeros(4))
        expected = {"single": S(z, F(z)), "extragradient": S(z, F(S(z, F(z)))),
                    "mixture": S(z, F(S(z, zero))),
                    "optimistic": S(z, F(S(z, (np.ones(3), np.ones(4)))))}
        for name, compose in compositions.COMPOSITIONS.items():
            predictor = (np.ones(3), np.ones(4)) if name == "optimistic" else None
            new, _, _ = compose(z, F, step, predictor)
            for got, want in zip(new, expected[name], strict=True):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


def test_kernel_rules_are_the_kernels_constants():
    for name, value in RULES.items():
        assert getattr(_kernels_cpu, f"RULE_{name.upper()}") == value


def test_step_coefficients_of_the_two_forms():
    a, b, c = step_coefficients("prox", 2.0, 0.5)
    assert (a, b, c) == pytest.approx((0.5, 0.5, 1.0))
    assert step_coefficients("prox", math.inf, 0.5) == (0.0, 1.0, 2.0)
    assert step_coefficients("mirror-descent", 0.4, 0.5) == pytest.approx((0.8, 0.2, 0.4))
    with pytest.raises(ValueError, match="eta·beta ≤ 1"):
        step_coefficients("mirror-descent", 4.0, 0.5)
    with pytest.raises(ValueError, match="form must be one of"):
        step_coefficients("adam", 1.0, 0.5)


def test_runs_from_a_subnormal_start_record_finite_metrics():
    """π₀ with an entry 1e-310 is a valid start; its metrics were inf before log-space KL."""
    init = np.array([0.5, 0.5, 1e-310])
    for method in ("mmd", "hedge", "nash-mp"):
        tr = nashlab.run(games.rps(beta=0.1), method, eta=0.5, iterations=20, init=init,
                         track=("kl", "exploitability", "duality_gap"))
        for name in ("kl", "exploitability", "duality_gap"):
            assert np.all(np.isfinite(tr[name])), (method, name)
        np.testing.assert_allclose(tr["exploitability"][0], metrics.exploitability(games.rps(beta=0.1), init))
