"""falsify on the inner-step preference methods, nash-mp-inexact and nash-prox: their 50-digit
twins (``theory/highprec.py``) agree with the float runs, the registered theorems raise no
false alarm, and a false per-step claim (no δ term) is rediscovered, confirmed at 50 digits
and reproduced standalone."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest

from nashlab.games import PreferenceGame
from nashlab.solvers.front import run
from nashlab.solvers.nlhf import INEXACT_RESPONSES
from nashlab.theory import Source, highprec
from nashlab.theory.falsify import falsify
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.instance_spaces import Instance, PreferenceSpace
from nashlab.theory.known_false import INEXACT_DELTA_OVER_100, INEXACT_NO_DELTA
from nashlab.theory.registry import SYMBOLS

beta, eta, prev, delta = (SYMBOLS[s] for s in ("beta", "eta", "prev", "delta"))
USER = Source("a user's conjecture (test)", None, "test")


def _game(n, b, seed):
    rng = np.random.default_rng(seed)
    P = np.full((n, n), 0.5)
    iu = np.triu_indices(n, 1)
    P[iu] = rng.uniform(0.0, 1.0, iu[0].size)
    P[(iu[1], iu[0])] = 1.0 - P[iu]
    reference = 0.9 * rng.dirichlet(np.ones(n)) + 0.1 / n
    return PreferenceGame(P, reference, b), rng.dirichlet(np.ones(n))


#: (n, β, η, M, iterations, seed of the game and of nash-mp-inexact's draws)
CASES = [(3, 0.1, 2.0, 3, 15, 0), (4, 1.0, 1.0, 5, 12, 7), (5, 1.0, 0.5, 2, 10, 3)]


def _close(high, floats):
    """max |float − 50 digits| relative to the 50-digit value (absolute where it is < 1e-10:
    δ_0 = 0)."""
    worst = 0.0
    for v, f in zip(high, floats, strict=True):
        v = float(v)
        worst = max(worst, abs(f - v) / abs(v) if abs(v) >= 1e-10 else abs(f - v))
    return worst


@pytest.mark.parametrize("method", ["nash-mp-inexact", "nash-prox"])
@pytest.mark.parametrize("n, b, step, inner, iterations, seed", CASES)
def test_highprec_agrees_with_the_float_run(method, n, b, step, inner, iterations, seed):
    game, init = _game(n, b, seed)
    options = {"inner_steps": inner, **({"seed": seed} if method == "nash-mp-inexact" else {})}
    trajectory = run(game, method, eta=step, iterations=iterations, init=init, track=("kl",),
                     **options)
    responses = INEXACT_RESPONSES if method == "nash-mp-inexact" else None
    values, deltas = highprec.run_with_delta(method, game.P, game.reference, init, b, step,
                                             iterations, "kl", responses=responses, **options)
    assert values == highprec.run(method, game.P, game.reference, init, b, step, iterations,
                                  "kl", responses=responses, **options)
    assert _close(values, trajectory.metrics["kl"]) <= 1e-12
    if method == "nash-prox":
        assert deltas is None
        return
    floats = trajectory.metrics["delta"]
    assert deltas[0] == 0 and float(min(deltas[1:])) > 1e-3  # inexact: δ_k well above 0
    assert _close(deltas, floats) <= 1e-12
    assert abs(float(max(deltas)) - trajectory.params["delta"]) <= 1e-12 * trajectory.params["delta"]


@pytest.mark.parametrize("method", ["nash-mp-inexact", "nash-prox"])
def test_highprec_agrees_on_every_metric(method):
    """As test_falsify.py's check of the other methods, with their inner options."""
    game, init = _game(4, 0.3, 1)
    options = {"inner_steps": 4, **({"seed": 2} if method == "nash-mp-inexact" else {})}
    responses = INEXACT_RESPONSES if method == "nash-mp-inexact" else None
    for metric in ("kl", "span", "exploitability", "unregularized_exploitability"):
        traj = run(game, method, eta=0.7, iterations=6, init=init, track=(metric,), **options)
        mp = highprec.run(method, game.P, game.reference, init, game.beta, 0.7, 6, metric,
                          responses=responses, **options)
        np.testing.assert_allclose([float(v) for v in mp], traj[metric], rtol=1e-11,
                                   atol=1e-14, err_msg=f"{method} {metric}")


def test_the_instance_carries_the_inner_options():
    space = PreferenceSpace(method="nash-mp-inexact", n=3, inner_steps=(2, 4), seeds=(5, 5))
    spec = space.specs(lambda lo, hi: hi, lambda: False, lambda xs: xs[0])
    assert (spec.inner_steps, spec.seed) == (4, 5)
    plain = PreferenceSpace(method="nash-mp").specs(lambda lo, hi: lo, lambda: False,
                                                    lambda xs: xs[0])
    assert (plain.inner_steps, plain.seed) == (None, None)
    game, init = _game(3, 1.0, 0)
    instance = Instance(game, "nash-mp-inexact", 1.0, 6, init, None, 2, 5)
    assert instance.run_options()["inner_steps"] == 2 and instance.run_options()["seed"] == 5
    assert instance.HIGH_PRECISION_CONSTANTS == ("delta",)
    assert instance.counterexample_params()["responses"] == INEXACT_RESPONSES
    # the 50-digit δ is the whole run's max, as params["delta"], even for a shorter prefix
    trajectory, verdict = run_and_check(_registered("nash-mp-inexact/kl-step"), instance)
    assert verdict.assumptions_hold
    values, constants, etas = instance.high_values(_registered("nash-mp-inexact/kl-step"), 2)
    assert len(values) == 3 and etas is None
    assert abs(float(constants["delta"]) - trajectory.params["delta"]) <= 1e-12


def _registered(theorem_id):
    from nashlab.theory.registry import get

    return get(theorem_id)


@pytest.mark.parametrize("theorem_id", ["nash-mp-inexact/kl-step", "nash-mp-inexact/kl-floor",
                                        "nash-prox/kl-slope"])
def test_no_false_alarm(theorem_id):
    result = falsify(theorem_id, budget_seconds=12, seed=0, workers=1)
    assert result.searched and result.evaluations > 10, result.summary()
    assert not result.found, result.summary()
    assert result.worst_ratio is not None and not result.unconfirmed
    if theorem_id == "nash-prox/kl-slope":
        assert "slope-only" in result.note
    # a float ratio above 1 within check's tolerance is re-run: none exceeds 1 at 50 digits
    assert all(mpmath.mpf(f["ratio_high_precision"] or 0) <= 1 for f in result.float_floor)


FALSE = [INEXACT_NO_DELTA, INEXACT_DELTA_OVER_100]

@pytest.mark.parametrize("theorem", FALSE, ids=lambda t: t.id)
def test_rediscovers_the_contraction_without_delta(theorem, tmp_path):
    result = falsify(theorem, budget_seconds=120, seed=0, workers=1, max_evaluations=50,
                     space={"n": 3, "inner_steps": (1, 2), "iterations": (1, 10),
                            "beta": (0.1, 1.0)})
    assert result.found, result.summary()
    c = result.counterexample
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1 and mpmath.mpf(c.margin) > 0
    assert c.params["iterations"] == c.iteration >= 1
    assert c.params["responses"] == INEXACT_RESPONSES and c.params["inner_steps"] in (1, 2)
    assert "delta" not in c.symbols  # its 50-digit value is recomputed, not the float's
    # the saved instance violates the bound again through the front door and check
    instance = Instance(c.problem, "nash-mp-inexact", c.params["eta"], c.params["iterations"],
                        None if c.params["init"] is None else np.array(c.params["init"]),
                        c.params["schedule"], c.params["inner_steps"], c.params["seed"])
    _, verdict = run_and_check(theorem, instance)
    assert verdict.first_violation is not None
    c.save(tmp_path)
    done = subprocess.run([sys.executable, str(tmp_path / "reproduce.py")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VIOLATED at 50 digits" in done.stdout
