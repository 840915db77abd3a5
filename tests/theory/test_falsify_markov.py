"""nashlab.theory.falsify on zero-sum Markov games (family "markov-game"): the 50-digit twin
(theory/highprec_markov.py) against the float solvers, no false alarm on the registered
Markov-game theorems, a false claim rediscovered, confirmed at 50 digits and reproduced
without nashlab. Searches stop on ``max_evaluations`` (deterministic for the seed)."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest

import nashlab
import nashlab.theory.dp_theorems  # noqa: F401  (registers the mg.* theorems)
from nashlab.games.markov_game import random_markov_game
from nashlab.solvers.markov_games import solve_markov_game
from nashlab.theory import highprec_markov
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.falsify import falsify
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.known_false import SHAPLEY_GAMMA_SQUARED
from nashlab.theory.markov_space import MarkovInstance, MarkovSpace, MarkovSpec


def _close(mp_values, floats, scale):
    """Relative ≤ 1e-12, with an absolute floor 1e-14·scale where the value is ~0 (e.g. the
    value error after the exact first step of a γ = 0 game: 0 at 50 digits, 1e-16 in float)."""
    mp_values = np.array([float(v) for v in mp_values])
    np.testing.assert_allclose(mp_values, floats, rtol=1e-12, atol=1e-14 * scale)
    return float(np.max(np.abs(mp_values - floats) / np.maximum(np.abs(mp_values), 1e-300)
                        * (np.abs(mp_values) > 1e-10 * scale)))


@pytest.mark.parametrize("gamma_value,tau_value", [(0.9, 0.0), (0.9, 0.1), (0.0, 0.3),
                                                   (0.99, 0.05)])
def test_high_precision_matches_float(gamma_value, tau_value):
    """Two independent implementations: run_markov_game (float64) and highprec_markov (50
    digits, from the math), every method and metric, far per-state starts."""
    game = random_markov_game(3, 3, 2, gamma_value, seed=1)
    solution = solve_markov_game(game, tau=tau_value)
    scale = (1 + tau_value) / (1 - gamma_value)
    rng = np.random.default_rng(2)
    init = (rng.dirichlet(np.full(3, 0.3), 3), rng.dirichlet(np.full(2, 0.3), 3))
    compared = 0
    for method in highprec_markov.METHODS:
        if method != "shapley" and tau_value == 0:
            continue  # the per-state methods need τ > 0
        for metric in highprec_markov.METRICS:
            if method == "shapley" and metric == "policy_kl":
                continue
            start, eta = (None, None) if method == "shapley" else (init, 0.3)
            run = nashlab.run(game, method, eta=eta, iterations=25, init=start, tau=tau_value,
                              track=(metric,), solution=solution)
            mp = highprec_markov.run(method, game.r, game.P, gamma_value, tau_value, eta or 0.0,
                                     25, metric, init=start, guess=solution.values)
            _close(mp, run.metrics[metric], scale)
            compared += 1
    assert compared == (1 if tau_value == 0 else 7)


def test_fixed_point_without_a_guess_and_stage_values():
    """v*_τ from v = 0 (what reproduce.py does) equals the float solution; the support
    enumeration's value is the LP value, the QRE by continuation certifies at τ = 10^-3."""
    game = random_markov_game(4, 3, 3, 0.99, seed=3)
    for tau_value in (0.0, 1e-3):
        with mpmath.workdps(80):
            v, _ = highprec_markov.optimum(highprec_markov._mp(game.r),
                                           highprec_markov._mp(game.P), mpmath.mpf(0.99),
                                           mpmath.mpf(tau_value))
        np.testing.assert_allclose([float(x) for x in v],
                                   solve_markov_game(game, tau=tau_value).values, rtol=1e-11)
    with mpmath.workdps(80):
        value, x, y = highprec_markov.stage_value(highprec_markov._mp([[0, 1], [1, 0]]))
        assert value == mpmath.mpf(1) / 2 and x == y == [mpmath.mpf(1) / 2] * 2
        with pytest.raises(ValueError, match="tau > 0"):
            highprec_markov.run("mmd", game.r, game.P, 0.9, 0.0, 0.1, 2, "policy_kl")


@pytest.mark.parametrize("theorem_id,evaluations", [
    ("mg.shapley.contraction", 40),
    ("mg.regularized-shapley.contraction", 25),  # ~3 s per 50-digit re-check (S = 4, τ > 0)
    ("mg.mmd.sokota-thm3.4", 40)])
def test_no_false_alarm_on_the_registered_theorems(theorem_id, evaluations):
    result = falsify(theorem_id, budget_seconds=600, seed=0, workers=1, max_evaluations=evaluations)
    assert result.searched and not result.found and not result.unconfirmed, result.summary()
    # the worst float ratio is ≤ 1 + 1e-6, or a float-floor case (value errors near 1e-11,
    # v*'s float error ~1e-15 on top) that was re-checked at 50 digits
    assert result.worst_ratio is not None
    assert result.worst_ratio <= max([1 + 1e-6] + [f["ratio"] for f in result.float_floor])
    for case in result.float_floor:  # a float ratio above 1 is ≤ 1 (a tie) at 50 digits
        assert mpmath.mpf(case["ratio_high_precision"]) <= 1 + mpmath.mpf(10) ** -50


def test_slope_only_omwu_is_searched_never_falsified():
    result = falsify("mg.omwu.cen-chi-du-xiao", budget_seconds=600, seed=0, workers=1, max_evaluations=20)
    assert result.searched and not result.found and result.worst_ratio is not None
    assert "slope-only" in result.note


@pytest.fixture(scope="module")
def gamma_squared():
    result = falsify(SHAPLEY_GAMMA_SQUARED, budget_seconds=600, seed=0, workers=1, max_evaluations=30)
    assert result.found, result.summary()
    return result


def test_rediscovers_shapley_contracting_by_gamma_squared(gamma_squared):
    c = gamma_squared.counterexample
    assert c.family == "markov-game" and c.params["method"] == "shapley"
    assert c.params["tau"] == 0 and 0 < c.params["gamma"] < 1
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1 and mpmath.mpf(c.margin) > 0
    # γ itself holds (the registered theorem): the ratio to the γ² bound is at most 1/γ
    assert mpmath.mpf(c.ratio_high_precision) <= 1 / mpmath.mpf(c.params["gamma"]) * (1 + 1e-9)
    instance = MarkovInstance(c.problem, "shapley", c.params["tau"], None,
                              c.params["iterations"], None)
    _, verdict = run_and_check(SHAPLEY_GAMMA_SQUARED, instance)
    assert verdict.status == "fail" and verdict.first_violation is not None


def test_save_load_round_trip_and_reproduction_script(gamma_squared, tmp_path):
    c = gamma_squared.counterexample
    paths = c.save(tmp_path / "cx")
    back = Counterexample.load(tmp_path / "cx")
    np.testing.assert_array_equal(back.problem.r, c.problem.r)
    np.testing.assert_array_equal(back.problem.P, c.problem.P)
    assert back.problem.gamma == c.problem.gamma and back.family == "markov-game"
    assert (back.params, back.iteration, back.ratio, back.ratio_high_precision) == \
        (c.params, c.iteration, c.ratio, c.ratio_high_precision)
    text = open(paths[-1]).read()
    assert "import nashlab" not in text and "from nashlab" not in text
    done = subprocess.run([sys.executable, "-I", str(paths[-1])], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VIOLATED at 50 digits" in done.stdout
    assert c.ratio_high_precision[:30] in done.stdout


def test_decoded_instances_are_valid():
    rng = np.random.default_rng(0)
    for method, taus in (("shapley", ("positive", "zero")), ("omwu", ("positive",))):
        space = MarkovSpace(method=method, taus=taus)
        for myopic, unregularized in ((False, False), (True, method == "shapley")):
            spec = MarkovSpec(S=3, A=3, B=2, iterations=5, myopic=myopic,
                              unregularized=unregularized, start="free")
            inst = space.decode(spec, 30 * rng.normal(size=space.dimension(spec)),
                                lambda p: True)
            g = inst.game
            assert g.r.shape == (3, 3, 2) and np.all((g.r >= 0) & (g.r <= 1))
            np.testing.assert_allclose(g.P.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
            assert (g.gamma == 0) == myopic and (myopic or 0.5 <= g.gamma <= 0.99 + 1e-12)
            assert (inst.tau == 0) == unregularized
            assert unregularized or space.tau[0] * (1 - 1e-14) <= inst.tau <= space.tau[1] * (
                1 + 1e-14)
            if method == "shapley":
                assert inst.eta is None and inst.init is None
            else:
                assert 0 < inst.eta * inst.tau < 1  # the mirror-descent form's condition
                for p in inst.init:
                    assert np.all(p > 0)
                    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
            for smaller in inst.smaller():
                assert smaller.game.r.size < g.r.size


def test_bad_space_arguments():
    with pytest.raises(ValueError, match="method"):
        MarkovSpace(method="no-such-method")
    with pytest.raises(ValueError, match="taus"):
        MarkovSpace(method="mmd", taus=("zero",))
    with pytest.raises(ValueError, match="gammas"):
        MarkovSpace(method="mmd", gammas=("negative",))
    with pytest.raises(ValueError, match="gamma"):
        MarkovSpace(method="shapley", gamma=(0.5, 1.0))
    with pytest.raises(ValueError, match="A and B"):
        MarkovSpace(method="shapley", A=(2, 6))
    with pytest.raises(ValueError, match="tau and eta"):
        MarkovSpace(method="pu", tau=(0.0, 1.0))
    with pytest.raises(ValueError, match="space"):
        falsify("mg.shapley.contraction", space={"no_such_field": 1})
