"""nashlab.theory.falsify: rediscovers known-false statements (confirmed at 50 digits), no
false alarm on a true theorem, and its certificates round-trip and reproduce without
nashlab. Searches stop on ``max_evaluations`` (deterministic for the seed; the clock
budget is generous so that it never decides)."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest

from nashlab.games import PreferenceGame, generators
from nashlab.solvers.front import run
from nashlab.theory import Source, Theorem, highprec
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.falsify import falsify
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.instance_spaces import Instance, PreferenceSpace
from nashlab.theory.known_false import FASTER, HEDGE_LAST, NO_FLOOR, SPAN_STEP
from nashlab.theory.registry import SYMBOLS
from nashlab.theory.verdicts import Claim

USER = Source("a user's conjecture (test)", None, "test")

#: the preference-game statements of the catalogue, in spaces and budgets that keep the
#: tests fast and deterministic
KNOWN_FALSE = [
    (SPAN_STEP, {"n": 3, "iterations": (1, 8)}, 150),
    (FASTER, {"n": (2, 4)}, 300),
    (NO_FLOOR, {"n": (2, 4)}, 800),
    (HEDGE_LAST, {"n": 3, "eta": (1.0, 3.0), "iterations": (60, 80)}, 100),
]


@pytest.fixture(scope="module")
def span_counterexample():
    result = falsify(SPAN_STEP, budget_seconds=600, seed=0, workers=1, space=KNOWN_FALSE[0][1],
                     max_evaluations=KNOWN_FALSE[0][2])
    assert result.found, result.summary()
    return result


@pytest.mark.parametrize("theorem, space, evaluations", KNOWN_FALSE, ids=lambda x: getattr(x, "id", ""))
def test_rediscovers_known_false_statements(theorem, space, evaluations, span_counterexample):
    result = (span_counterexample if theorem is SPAN_STEP else
              falsify(theorem, budget_seconds=600, seed=0, workers=1, space=space,
                      max_evaluations=evaluations))
    assert result.found, result.summary()
    c = result.counterexample
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1
    assert mpmath.mpf(c.margin) > 0
    # shrunk: the run stops at the violation; the worst ratio bounds the counterexample's
    assert c.params["iterations"] == c.iteration >= 1
    assert result.worst_ratio >= c.ratio
    # the saved instance violates the bound again through the front door and check
    instance = Instance(c.problem, theorem.algorithm, c.params["eta"], c.params["iterations"],
                        None if c.params["init"] is None else np.array(c.params["init"]),
                        c.params["schedule"])
    _, verdict = run_and_check(theorem, instance)
    assert verdict.status == "fail" and verdict.first_violation is not None


def test_no_floor_claim_is_found_in_the_default_space():
    """Its violations need ηβ ≳ 0.3 (at ηβ = 1 the bound is 0): the CMA restarts from fresh
    uniform starts reach them (from the best candidates alone the search stayed at ratio
    0.999999998 near ηβ → 0)."""
    result = falsify(NO_FLOOR, budget_seconds=600, seed=0, workers=1, max_evaluations=600)
    assert result.found, result.summary()
    c = result.counterexample
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1
    assert result.worst_ratio >= c.ratio


def test_a_failed_high_precision_run_is_unconfirmed_not_a_crash(monkeypatch):
    """A 50-digit run that cannot be done (its fixed point not reached) leaves the float
    violation unconfirmed, with the reason, and the search goes on."""
    def fails(self, theorem, iterations):
        raise ArithmeticError("the fixed point was not reached")

    monkeypatch.setattr(Instance, "high_values", fails)
    result = falsify(SPAN_STEP, budget_seconds=600, seed=0, workers=1, space=KNOWN_FALSE[0][1],
                     max_evaluations=60)
    assert not result.found and result.unconfirmed, result.summary()
    assert all("the 50-digit run failed: the fixed point was not reached" in u["event"]
               for u in result.unconfirmed)
    assert result.evaluations == 60 and "UNCONFIRMED" in result.summary()


def test_span_counterexample_is_small_and_round(span_counterexample):
    c = span_counterexample.counterexample
    assert c.problem.n <= 3
    assert c.params["beta"] == float(f"{c.params['beta']:.3g}")
    assert span_counterexample.evaluations <= 150


def test_no_false_alarm_on_a_true_theorem():
    result = falsify("nash-mp/kl-contraction", budget_seconds=600, seed=1, workers=1,
                     space={"n": (2, 4), "iterations": (2, 20)}, max_evaluations=30)
    assert not result.found
    assert result.worst_ratio is not None and result.worst_ratio <= 1 + 1e-6


def test_high_precision_matches_float_on_every_method():
    """Two independent implementations (nashlab.run in float64, highprec at 50 digits)."""
    game = generators.random_preference(4, beta=0.3, seed=1,
                                        reference=generators.random_reference(4, scale=2.0, seed=3))
    init = generators.random_reference(4, scale=3.0, seed=4)
    for method in highprec.METHODS:
        if method in highprec.INNER_METHODS:  # their options: tests/theory/test_falsify_inexact.py
            continue
        for metric in ("kl", "span", "exploitability", "unregularized_exploitability"):
            traj = run(game, method, eta=0.7, iterations=6, init=init, track=(metric,))
            mp = highprec.run(method, game.P, game.reference, init, game.beta, 0.7, 6, metric)
            np.testing.assert_allclose([float(v) for v in mp], traj[metric], rtol=1e-11,
                                       atol=1e-14, err_msg=f"{method} {metric}")


def test_save_load_round_trip_and_reproduction_script(span_counterexample, tmp_path):
    c = span_counterexample.counterexample
    paths = c.save(tmp_path / "cx")
    back = Counterexample.load(tmp_path / "cx")
    np.testing.assert_array_equal(back.problem.P, c.problem.P)
    np.testing.assert_array_equal(back.problem.reference, c.problem.reference)
    assert (back.params, back.iteration, back.ratio, back.ratio_high_precision, back.claim) == \
        (c.params, c.iteration, c.ratio, c.ratio_high_precision, c.claim)
    script = paths[-1]
    text = open(script).read()
    assert "import nashlab" not in text and "from nashlab" not in text
    done = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VIOLATED at 50 digits" in done.stdout
    assert c.ratio_high_precision[:30] in done.stdout


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        falsify(SPAN_STEP, seed=-1)
    with pytest.raises(ValueError, match="budget_seconds"):
        falsify(SPAN_STEP, budget_seconds=0)
    with pytest.raises(ValueError, match="Claim"):
        falsify(Claim("c", "nash-mp", "s", "t", lambda t: (True, 0.0, ""), USER))
    with pytest.raises(TypeError, match="claim"):
        falsify(3.0)
    with pytest.raises(ValueError, match="space"):
        falsify(SPAN_STEP, space={"no_such_field": 1})
    with pytest.raises(ValueError, match="n must be"):
        PreferenceSpace(method="nash-mp", n=(5, 2))


def test_unsearched_family_is_not_a_pass():
    population = Theorem(id="user/population-prox", algorithm="prox",
                         methods=("population/prox",), statement="KL halves per step",
                         metric="kl", bound=SYMBOLS["prev"] / 2, source=USER, status="derived",
                         form="per-step")
    result = falsify(population, budget_seconds=1)
    assert not result.searched and not result.found and result.worst_ratio is None
    assert "no instance space" in result.note


def test_prescribed_equilibrium_decodes_to_its_fixed_point():
    """μ solved from (P, π*, β): π* is then the equilibrium of the decoded game."""
    from nashlab.solvers.front import solve
    from nashlab.theory.instance_spaces import Spec

    space = PreferenceSpace(method="mmd", n=4)
    theta = np.random.default_rng(0).normal(size=space.dimension(Spec(n=4, iterations=10)))
    instance = space.decode(Spec(4, 5, prescribed=True), theta, lambda p: True)
    m = 4 * 3 // 2
    limit = 0.5 * np.log(1 / space.reference_min)
    star = np.exp(limit * np.tanh(theta[m:m + 4] / limit))
    np.testing.assert_allclose(solve(instance.game).policy, star / star.sum(), rtol=1e-9)
    assert isinstance(instance.game, PreferenceGame)


def test_the_search_does_not_depend_on_the_modules_loaded(tmp_path, monkeypatch):
    """Hypothesis draws literals from the source of loaded modules now and then; falsify
    turns that off, so importing a module full of constants changes nothing."""
    def history():
        result = falsify(FASTER, budget_seconds=600, seed=3, workers=1, space={"n": 3}, max_evaluations=30)
        return [(h.get("phase"), h.get("ratio")) for h in result.history]

    before = history()
    constants = ", ".join(f"{x / 7:.6f}" for x in range(-28, 29)) + ", 7, 11, 13, 2, 3"
    (tmp_path / "many_constants_for_hypothesis.py").write_text(f"VALUES = [{constants}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import many_constants_for_hypothesis  # noqa: F401

    assert history() == before
