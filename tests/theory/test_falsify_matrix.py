"""nashlab.theory.falsify on entropy-regularized matrix games (family "matrix"): the 50-digit
twin (theory/highprec_matrix.py) against the float solvers, no false alarm on the registered
matrix-game theorems, two false claims rediscovered, confirmed at 50 digits and reproduced
without nashlab. Searches stop on ``max_evaluations`` (deterministic for the seed)."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest

import nashlab
from nashlab.games.matrix import MatrixGame, random_matrix_game
from nashlab.solvers.matrix_games import qre
from nashlab.theory import highprec_matrix
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.falsify import falsify
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.known_false import HALF_GAP, MMD_ANY_STEP
from nashlab.theory.matrix_space import MatrixInstance, MatrixSpace, MatrixSpec


@pytest.mark.parametrize("tau_value", [0.1, 0.0])
def test_high_precision_matches_float(tau_value):
    """Two independent implementations: run_matrix_game (float64, numba) and
    highprec_matrix (50 digits, from the math), every method and metric, a far start."""
    rng = np.random.default_rng(1)
    A = rng.uniform(-1, 1, (3, 4))
    x0, y0 = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4))
    game = MatrixGame(A, tau_value)
    compared = 0
    for method in highprec_matrix.METHODS:
        if method == "mmd" and tau_value == 0:
            continue  # MMD needs τ > 0
        for metric in highprec_matrix.METRICS:
            if (metric == "kl" and tau_value == 0) or (
                    metric == "average_duality_gap" and method != "mirror-prox"):
                continue
            track = ("duality_gap",) if metric == "average_duality_gap" else (metric,)
            run = nashlab.run(game, method, eta=0.4, iterations=30, init=(x0, y0), track=track)
            guess = qre(game).logits if metric == "kl" else None
            mp = highprec_matrix.run(method, A, x0, y0, tau_value, 0.4, 30, metric,
                                     star_guess=guess)
            np.testing.assert_allclose([float(v) for v in mp], run.metrics[metric],
                                       rtol=1e-12, atol=0)
            compared += 1
    assert compared == (13 if tau_value else 7)


def test_high_precision_qre_is_certified_and_matches_qre():
    game = random_matrix_game(4, 3, tau=0.01, seed=2)
    float_qre = qre(game)
    A = [[mpmath.mpf(float(a)) for a in row] for row in game.A]
    with mpmath.workdps(70):
        u, v = highprec_matrix.qre(A, mpmath.mpf(game.tau), list(float_qre.logits))
        z = np.array([float(s) for s in u + v])
    np.testing.assert_allclose(z, float_qre.logits, rtol=1e-11, atol=1e-12)
    with pytest.raises(ArithmeticError, match="Newton"), mpmath.workdps(70):
        highprec_matrix.qre(A, mpmath.mpf(game.tau), tol=mpmath.mpf(0))
    with pytest.raises(ValueError, match="tau > 0"):
        highprec_matrix.run("pu", game.A, None, None, 0.0, 0.1, 2, "kl")


@pytest.mark.parametrize("theorem_id", ["mmd/matrix-game", "pu/matrix-game",
                                        "mirror-prox/matrix-game", "mirror-prox/ergodic-gap"])
def test_no_false_alarm_on_the_registered_theorems(theorem_id):
    result = falsify(theorem_id, budget_seconds=600, seed=0, workers=1, max_evaluations=40)
    assert result.searched and not result.found and not result.unconfirmed, result.summary()
    assert result.worst_ratio is not None and result.worst_ratio <= 1 + 1e-6
    for case in result.float_floor:  # a float ratio above 1 is ≤ 1 at 50 digits
        assert mpmath.mpf(case["ratio_high_precision"]) <= 1


def test_slope_only_omwu_is_searched_never_falsified():
    result = falsify("omwu/matrix-game-slope", budget_seconds=600, seed=0, workers=1, max_evaluations=20)
    assert result.searched and not result.found and result.worst_ratio is not None
    assert "slope-only" in result.note


@pytest.fixture(scope="module")
def mmd_any_step():
    result = falsify(MMD_ANY_STEP, budget_seconds=600, seed=0, workers=1, max_evaluations=30)
    assert result.found, result.summary()
    return result


def test_rediscovers_mmd_without_its_step_condition(mmd_any_step):
    c = mmd_any_step.counterexample
    assert c.family == "matrix" and c.params["method"] == "mmd"
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1 and mpmath.mpf(c.margin) > 0
    # the claim's own condition held, the registered one (η ≤ τ/L²) did not
    L = c.problem.scale
    assert c.params["eta"] <= 1 / c.params["tau"] and c.params["eta"] > c.params["tau"] / L ** 2
    instance = MatrixInstance(c.problem, "mmd", c.params["eta"], c.params["iterations"],
                              None if c.params["init"] is None else
                              (np.array(c.params["init"][:c.problem.m]),
                               np.array(c.params["init"][c.problem.m:])))
    _, verdict = run_and_check(MMD_ANY_STEP, instance)
    assert verdict.status == "fail" and verdict.first_violation is not None


def test_save_load_round_trip_and_reproduction_script(mmd_any_step, tmp_path):
    c = mmd_any_step.counterexample
    paths = c.save(tmp_path / "cx")
    back = Counterexample.load(tmp_path / "cx")
    np.testing.assert_array_equal(back.problem.A, c.problem.A)
    assert back.problem.tau == c.problem.tau and back.family == "matrix"
    assert (back.params, back.iteration, back.ratio, back.ratio_high_precision) == \
        (c.params, c.iteration, c.ratio, c.ratio_high_precision)
    text = open(paths[-1]).read()
    assert "import nashlab" not in text and "from nashlab" not in text
    done = subprocess.run([sys.executable, "-I", str(paths[-1])], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VIOLATED at 50 digits" in done.stdout
    assert c.ratio_high_precision[:30] in done.stdout


def test_rediscovers_a_halved_ergodic_gap_and_reproduces_it(tmp_path):
    """τ = 0 and a bound in D0 (recomputed at 50 digits by the family and the script)."""
    result = falsify(HALF_GAP, budget_seconds=600, seed=0, workers=1, max_evaluations=30)
    assert result.found, result.summary()
    c = result.counterexample
    assert c.problem.tau == 0 and 1 < mpmath.mpf(c.ratio_high_precision) <= 2
    paths = c.save(tmp_path / "gap")
    done = subprocess.run([sys.executable, "-I", str(paths[-1])], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and "VIOLATED at 50 digits" in done.stdout, done.stderr


def test_decoded_instances_are_valid():
    space = MatrixSpace(method="pu")
    rng = np.random.default_rng(0)
    for unregularized in (False, True):
        spec = MatrixSpec(m=3, n=4, iterations=5, unregularized=unregularized, start="free")
        theta = 30 * rng.normal(size=space.dimension(spec))
        inst = space.decode(spec, theta, lambda p: True)
        assert np.all(np.abs(inst.game.A) <= 1) and inst.game.A.shape == (3, 4)
        assert (inst.game.tau == 0) == unregularized
        assert space.tau[0] <= inst.game.tau <= space.tau[1] or unregularized
        for p in inst.init:
            assert np.all(p > 0) and p.sum() == pytest.approx(1.0, rel=1e-14)
        # η = exp(log lo + t·(log hi − log lo)): the ends up to the rounding of exp∘log
        assert space.eta[0] * (1 - 1e-14) <= inst.eta <= space.eta[1] * (1 + 1e-14)
    zero = MatrixSpec(m=2, n=2, iterations=3, start="uniform")
    assert space.decode(zero, np.zeros(space.dimension(zero)), lambda p: True) is None


def test_bad_space_arguments():
    with pytest.raises(ValueError, match="method"):
        MatrixSpace(method="no-such-method")
    with pytest.raises(ValueError, match="taus"):
        MatrixSpace(method="pu", taus=("negative",))
    with pytest.raises(ValueError, match="tau and eta"):
        MatrixSpace(method="pu", tau=(0.0, 1.0))
    with pytest.raises(ValueError, match="space"):
        falsify("pu/matrix-game", space={"no_such_field": 1})
