"""nashlab.theory.falsify on MDPs: the theory notes' former Xiao Thm 10 form (without the
1/(1−γ)) rediscovered and confirmed at 50 digits, no false alarm on dp.vi.contraction,
the 50-digit MDP implementations against the float ones (npg-entropy included: no false
alarm on dp.npg-entropy.q-improvement at γ ≈ 0.999, a false rate confirmed), violations of a method without a
50-digit implementation reported as unconfirmed, certificates that round-trip and reproduce
without nashlab. Searches stop on ``max_evaluations`` (deterministic for the seed)."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest

from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import Entropy
from nashlab.solvers.dp import run_mdp
from nashlab.theory import Source, Theorem, highprec_mdp
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.falsify import falsify
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.known_false import XIAO_UNSCALED
from nashlab.theory.mdp_space import MDPInstance, MDPSpace, MDPSpec
from nashlab.theory.registry import SYMBOLS

k, err0, prev, vartheta = (SYMBOLS[s] for s in ("k", "err0", "prev", "vartheta"))
USER = Source("a user's conjecture (test)", None, "test")


@pytest.fixture(scope="module")
def xiao():
    result = falsify(XIAO_UNSCALED, budget_seconds=600, seed=0, workers=1, max_evaluations=40)
    assert result.found, result.summary()
    return result


def test_rediscovers_the_former_xiao_thm10_form(xiao):
    c = xiao.counterexample
    assert c.ratio > 1 and mpmath.mpf(c.ratio_high_precision) > 1 and mpmath.mpf(c.margin) > 0
    assert c.params["iterations"] == c.iteration >= 1
    assert c.params["step_growth"] >= 1 and 0 < c.params["gamma"] < 1
    assert xiao.worst_ratio >= c.ratio
    # the saved instance violates the bound again through the front door and check
    instance = MDPInstance(c.problem, "npg", c.params["eta"], c.params["iterations"],
                           None if c.params["init"] is None else np.array(c.params["init"]),
                           options={"step_growth": c.params["step_growth"]})
    _, verdict = run_and_check(XIAO_UNSCALED, instance)
    assert verdict.status == "fail" and verdict.first_violation is not None


def test_riverswim_ratio_of_the_notes():
    """RiverSwim (6 states), γ = 0.9, η₀ = 0.1, η_{k+1} = η_k/γ: the space decodes exactly
    that instance, and the worst ratio is the one computed from the run's own metrics."""
    space = {"S": 6, "structures": ("riverswim",), "gamma": 0.9, "eta": (0.1, 0.1),
             "growths": ("inverse-gamma",), "iterations": (60, 60), "starts": ("uniform",)}
    result = falsify(XIAO_UNSCALED, budget_seconds=600, seed=0, workers=1, space=space, max_evaluations=3)
    assert result.found
    run = run_mdp(riverswim(6, gamma=0.9), "npg", iterations=60, eta=0.1, step_growth=1 / 0.9)
    w = run.metrics["xiao_potential_unscaled"]
    direct = np.max(w[1:] / (w[0] * (1 - 1 / run.params["vartheta"]) ** np.arange(1, 61)))
    assert result.worst_ratio == pytest.approx(direct, rel=1e-12)
    assert result.worst_ratio > 1.1


def test_no_false_alarm_on_vi_contraction():
    result = falsify("dp.vi.contraction", budget_seconds=600, seed=0, workers=1, max_evaluations=60)
    assert result.searched and not result.found, result.summary()
    assert result.worst_ratio is not None and result.worst_ratio <= 1 + 1e-3
    for case in result.float_floor:  # a float ratio above 1 is ≤ 1 at 50 digits
        assert mpmath.mpf(case["ratio_high_precision"]) <= 1


def test_high_precision_matches_float():
    """Two independent implementations (run_mdp in float64, highprec_mdp at 50 digits)."""
    for mdp in (riverswim(5, gamma=0.9), garnet(4, 3, 2, 0, gamma=0.95)):
        P = mdp.dense_P()
        init = np.random.default_rng(1).dirichlet(np.ones(mdp.n_actions), mdp.n_states)
        run = run_mdp(mdp, "npg", iterations=8, eta=0.3, step_growth=1 / mdp.gamma, init=init)
        for metric in highprec_mdp.METRICS["npg"]:
            mp, constants = highprec_mdp.run("npg", P, mdp.r, mdp.gamma, init, 0.3, 8, metric,
                                             growth=1 / mdp.gamma)
            np.testing.assert_allclose([float(v) for v in mp], run.metrics[metric], rtol=1e-11)
        assert float(constants["vartheta"]) == pytest.approx(run.params["vartheta"], rel=1e-12)
        assert float(constants["D0"]) == pytest.approx(run.params["D0"], rel=1e-12)
        v0 = np.linspace(-1.0, 3.0, mdp.n_states)
        run = run_mdp(mdp, "vi", iterations=10, init=v0)
        mp, _ = highprec_mdp.run("vi", P, mdp.r, mdp.gamma, v0, None, 10, "value_error")
        np.testing.assert_allclose([float(v) for v in mp], run.metrics["value_error"],
                                   rtol=1e-11, atol=1e-14)


def test_high_precision_npg_entropy_matches_float():
    """highprec_mdp's npg-entropy (soft evaluation by an mpmath solve, Q*_τ by soft policy
    iteration) against run_mdp's, exact and with Cen's Q-noise (the same uniform draws)."""
    for mdp in (riverswim(4, gamma=0.9), garnet(3, 2, 2, 0, gamma=0.95)):
        S, A = mdp.n_states, mdp.n_actions
        init = np.random.default_rng(2).dirichlet(np.ones(A), S)
        for tau, frac, noise in ((0.3, 0.5, 0.0), (1.0, 1.0, 0.0), (0.3, 0.7, 1e-2)):
            eta = frac * (1 - mdp.gamma) / tau
            run = run_mdp(mdp, "npg-entropy", iterations=6, regularizer=Entropy(tau), eta=eta,
                          init=init, q_noise=noise, seed=0)
            rng = np.random.default_rng(0)
            draws = [rng.uniform(-1.0, 1.0, size=(S, A)) for _ in range(6)] if noise else None
            for metric in highprec_mdp.METRICS["npg-entropy"]:
                mp, constants = highprec_mdp.run("npg-entropy", mdp.dense_P(), mdp.r, mdp.gamma,
                                                 init, run.params["eta"], 6, metric, tau=tau,
                                                 q_noise=noise, draws=draws)
                np.testing.assert_allclose([float(v) for v in mp], run.metrics[metric],
                                           rtol=1e-12, atol=1e-13)
            for name in ("C1", "C2"):
                assert float(constants[name]) == pytest.approx(run.params[name], rel=1e-12)
    with pytest.raises(ValueError, match="tau"):
        highprec_mdp.run("npg-entropy", mdp.dense_P(), mdp.r, mdp.gamma, None, 0.01, 2,
                         "q_error")
    with pytest.raises(ValueError, match="draws"):
        highprec_mdp.run("npg-entropy", mdp.dense_P(), mdp.r, mdp.gamma, None, 0.01, 2,
                         "q_error", tau=1.0, q_noise=0.1)


def test_high_precision_npg_entropy_takes_every_step_the_float_run_takes():
    """At the edge of η ≤ (1−γ)/τ (the float run's 1e-12 slack, which the search's interval
    bisection reaches) the twin runs as the float run does; past it both refuse."""
    mdp, tau = garnet(3, 2, 2, 0, gamma=0.95), 0.3
    edge = (1 - mdp.gamma) / tau * (1 + 1e-12)
    run = run_mdp(mdp, "npg-entropy", iterations=3, regularizer=Entropy(tau), eta=edge, seed=0)
    mp, _ = highprec_mdp.run("npg-entropy", mdp.dense_P(), mdp.r, mdp.gamma, None, edge, 3,
                             "q_error", tau=tau)
    np.testing.assert_allclose([float(v) for v in mp], run.metrics["q_error"], rtol=1e-12,
                               atol=1e-13)
    past = float(np.nextafter(edge, 1.0))
    with pytest.raises(ValueError, match="eta"):
        run_mdp(mdp, "npg-entropy", iterations=3, regularizer=Entropy(tau), eta=past, seed=0)
    with pytest.raises(ValueError, match="eta"):
        highprec_mdp.run("npg-entropy", mdp.dense_P(), mdp.r, mdp.gamma, None, past, 3,
                         "q_error", tau=tau)


def test_no_false_alarm_on_npg_entropy_q_improvement():
    """dp.npg-entropy.q-improvement at γ ≈ 0.999, τ ≥ 1 (‖Q*‖∞ ~ 10³–10⁴): once Q^t is
    within the float evaluation error ε‖Q*‖∞/(1−γ) ≈ 1e-10 of Q*, float64 q_error
    fluctuates (ratios ~40 above the absolute FLOAT_FLOOR 1e-11); at 50 digits every one
    is ≤ 1, and none is left unconfirmed (there was no 50-digit npg-entropy before)."""
    result = falsify("dp.npg-entropy.q-improvement", budget_seconds=600, seed=0, workers=1,
                     max_evaluations=20, space={"S": (2, 4), "gamma": (0.998, 0.999),
                                                "tau": (1.0, 10.0), "noises": (0.0,)})
    assert result.searched and not result.found and not result.unconfirmed, result.summary()
    assert result.float_floor and result.worst_ratio > 1
    for case in result.float_floor:
        assert mpmath.mpf(case["ratio_high_precision"]) <= 1


def test_rediscovers_a_false_npg_entropy_rate_and_reproduces(tmp_path):
    """q_error ÷ 1000 per step (false) is confirmed at 50 digits, with Cen's Q-noise, and the
    saved reproduction script (numpy + mpmath, the noise draws regenerated) agrees."""
    fast = Theorem(id="false/npg-entropy-1000x", algorithm="npg-entropy",
                   methods=("mdp/npg-entropy",), statement="q_error ÷ 1000 per step",
                   metric="q_error", bound=prev / 1000, source=USER, status="derived",
                   form="per-step")
    result = falsify(fast, budget_seconds=600, seed=0, workers=1, max_evaluations=10,
                     space={"S": (2, 3), "noises": (1e-2,)})
    assert result.found and not result.unconfirmed, result.summary()
    c = result.counterexample
    assert c.params["q_noise"] == 1e-2 and c.params["tau"] > 0
    assert mpmath.mpf(c.ratio_high_precision) > 1
    paths = c.save(tmp_path / "cx")
    out = subprocess.run([sys.executable, paths[-1]], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "VIOLATED at 50 digits" in out.stdout, out.stderr
    assert c.ratio_high_precision[:12] in out.stdout.replace("ratio        = ", "")


def test_violation_without_a_high_precision_method_is_unconfirmed():
    halving = Theorem(id="false/pmd-1000x", algorithm="pmd", methods=("mdp/pmd",),
                      statement="lan_potential ÷ 1000 per step", metric="lan_potential",
                      bound=prev / 1000, source=USER, status="derived", form="per-step")
    result = falsify(halving, budget_seconds=600, seed=0, workers=1, space={"S": (2, 3)},
                     max_evaluations=10)
    assert not result.found and result.unconfirmed
    assert all(u["ratio"] > 1 for u in result.unconfirmed)
    assert "UNCONFIRMED" in result.summary()


def test_save_load_round_trip_and_reproduction_script(xiao, tmp_path):
    c = xiao.counterexample
    paths = c.save(tmp_path / "cx")
    back = Counterexample.load(tmp_path / "cx")
    np.testing.assert_array_equal(back.problem.dense_P(), c.problem.dense_P())
    np.testing.assert_array_equal(back.problem.r, c.problem.r)
    assert back.problem.gamma == c.problem.gamma
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
    space = MDPSpace(method="vi")
    rng = np.random.default_rng(0)
    for structure in ("garnet", "chain", "absorbing", "riverswim"):
        spec = MDPSpec(S=5, A=2, iterations=3, structure=structure, start="free")
        theta = 30 * rng.normal(size=space.dimension(spec))
        inst = space.decode(spec, theta, lambda p: True)
        P, r = inst.mdp.dense_P(), inst.mdp.r
        np.testing.assert_allclose(P.sum(axis=2), 1.0, rtol=1e-12)
        assert np.all((r >= 0) & (r <= 1)) and 0.5 <= inst.mdp.gamma <= 0.999
        if structure == "chain":
            s, t = np.nonzero(P.sum(axis=1))
            assert np.all(np.abs(s - t) <= 1)
        if structure == "absorbing":
            assert np.all(P[-1, :, -1] == 1.0)


def test_bad_space_arguments():
    with pytest.raises(ValueError, match="method"):
        MDPSpace(method="no-such-method")
    with pytest.raises(ValueError, match="gamma"):
        MDPSpace(method="vi", gamma=(0.5, 1.0))
    with pytest.raises(ValueError, match="regularizers"):
        MDPSpace(method="npg-entropy", regularizers=(None,))
    with pytest.raises(ValueError, match="space"):
        falsify("dp.vi.contraction", space={"no_such_field": 1})
