"""The fault battery (nashlab.theory.faults): the power table is asserted, so that a
weakened check fails here; each fault changes the iterates; the correct algorithms pass
their checks; the seams are restored; the faults are the maps they claim to be."""

import importlib
import json
import math

import numpy as np
import pytest

from nashlab.solvers import compositions
from nashlab.solvers.compositions import extragradient, make_step, mixture, single
from nashlab.theory import faults

local_rate = importlib.import_module("nashlab.theory.local_rate")  # the module, not the function

#: caught / tried per algorithm, measured on the quick battery (with the local rates of the
#: MDP policy methods, Nash-MD's fixed-point verdict and NPG's exact rate): a check that gets
#: weaker lowers a count below its floor
FLOORS = {
    "nash-mp": (8, 8), "nash-md": (6, 8), "egpo": (8, 8), "omd": (6, 6), "omwu": (8, 8),
    "mmd": (6, 6), "matrix/mmd": (6, 6), "mdp/vi": (5, 5), "mdp/npg-entropy": (6, 6),
    "mdp/pmd": (6, 6), "mdp/npg": (3, 6), "robust-mdp/vi": (6, 6),
    "matrix/pu": (8, 8), "matrix/mirror-prox": (8, 8), "matrix/omwu": (8, 8),
    "population/prox": (6, 6), "population/mirror-prox": (8, 8),
}
#: the same without the local-rate verdict (registered theorems only)
FLOORS_THEOREMS_ONLY = {"nash-mp": 4, "egpo": 4, "omd": 3, "omwu": 4, "mmd": 4, "matrix/mmd": 4,
                        "mdp/vi": 5, "mdp/npg-entropy": 1, "mdp/pmd": 3, "robust-mdp/vi": 6,
                        "matrix/omwu": 4}


#: the quick battery's escapes, each for its stated reason (the report's list): Nash-MD's
#: constant-step runs are at their fixed point to rounding long before the kick at ⌊2T/3⌋
#: (ρ ≈ 0.5) and the Munos runs' per-step slack 2η_t² exceeds the kick's KL change; NPG's
#: growing-step runs have δ = 0 (probabilities e^{-10^5}) before the kick, and on the
#: constant-step RiverSwim run kicks ≤ 0.1 move the fitted exponent by ≤ 0.8 % (band ±3 %)
ESCAPES = {("nash-md", "kick 0.001"), ("nash-md", "kick 0.01"), ("mdp/npg", "kick 0.001"),
           ("mdp/npg", "kick 0.01"), ("mdp/npg", "kick 0.1")}
#: (algorithm, fault) -> the check that must catch it (at least on one case)
CATCHES = {("nash-md", "step×0.9"): "local-rate", ("nash-md", "step×1.1"): "local-rate",
           ("nash-md", "wrong anchor"): "local-rate", ("nash-md", "wrong opponent"): "local-rate",
           ("mdp/npg", "step×0.9"): "local-rate", ("mdp/npg", "step×1.1"): "local-rate",
           ("mdp/npg", "kick 1"): "local-rate",
           ("nash-mp", "step×0.9"): "local-rate", ("nash-mp", "kick 1"): "nash-mp/kl-contraction",
           ("mdp/vi", "relaxed Bellman 1%"): "dp.vi.contraction",
           ("robust-mdp/vi", "non-worst oracle 1%"): "robust.vi.contraction.l1-sa"}


@pytest.fixture(scope="module")
def report():
    return faults.power(quick=True)


def test_power_goal_and_the_named_escapes_and_catches(report):
    assert report.caught >= faults.POWER_GOAL * report.tried, (report.caught, report.tried)
    escapes = {(a.algorithm, fault) for a in report.algorithms for fault, _ in a.escapes}
    assert escapes == ESCAPES
    results = {(a.algorithm, f.fault): f for a in report.algorithms for f in a.faults}
    for key, cid in CATCHES.items():
        assert any(c == cid for c, _ in results[key].caught_by), (key, results[key].caught_by)


def test_power_table_meets_its_floors(report):
    by_name = {a.algorithm: a for a in report.algorithms}
    assert set(by_name) == set(FLOORS)
    for name, (caught, tried) in FLOORS.items():
        a = by_name[name]
        assert a.tried == tried, (name, a.tried)
        assert a.caught >= caught, (name, a.caught, a.escapes)
    for name, caught in FLOORS_THEOREMS_ONLY.items():
        assert by_name[name].caught_without(faults.LOCAL_RATE_ID) >= caught, name
    assert report.caught >= sum(c for c, _ in FLOORS.values())
    # every escape is named with its reason: the status of each check on the faulty runs
    for a in report.algorithms:
        assert len(a.escapes) == a.tried - a.caught
        for fault, reason in a.escapes:
            assert fault in {f.name for f in faults.FAULTS} and ": " in reason


def test_power_per_check(report):
    per = report.by_check()
    assert per[faults.LOCAL_RATE_ID][1] == report.tried
    assert per["nash-mp/kl-contraction"][1] == 8 and per["nash-mp/kl-contraction"][0] >= 4
    assert all(0 <= c <= t for c, t in per.values())


def test_every_applicable_fault_changes_the_iterates(report):
    for a in report.algorithms:
        assert a.no_effect == [], (a.algorithm, a.no_effect)
        for f in a.faults:
            assert (f.effect > faults.EFFECT_TOL) == f.applicable, (a.algorithm, f.fault)


def test_correct_runs_pass_their_checks(report):
    """No check fails (or raises) on a correct run; the only checks that do not pass are the
    local rates that do not exist: Nash-MD (its metrics are not measured against its own
    fixed point, or a step schedule) and unregularized NPG, which are inconclusive."""
    for a in report.algorithms:
        # every algorithm has a registered theorem but the populations (local rate only)
        assert faults.LOCAL_RATE_ID in a.checks, a.algorithm
        assert (len(a.checks) > 1) != a.algorithm.startswith("population/"), a.algorithm
        for label, cid, status, reason in a.baseline:
            assert (cid, status) == (faults.LOCAL_RATE_ID, "inconclusive"), (
                a.algorithm, label, cid, status, reason)
            assert a.algorithm in ("nash-md", "mdp/npg"), (a.algorithm, label, reason)


def test_json_schema_and_atomic_write(report, tmp_path):
    path = faults.write_json(report, tmp_path / "out")
    data = json.loads(path.read_text())
    assert set(data) == {"caught", "tried", "algorithms"}
    assert (data["caught"], data["tried"]) == (report.caught, report.tried)
    for name, entry in data["algorithms"].items():
        assert set(entry) == {"caught", "tried", "escapes"}
        assert all(isinstance(e, list) and len(e) == 2 for e in entry["escapes"]), name
    assert sorted(p.name for p in path.parent.iterdir()) == ["power.json"]


def test_a_weakened_local_rate_loses_power(monkeypatch):
    """With the local-rate band widened to ±50 % (the span window bound's margin too),
    Nash-MP's step and structure faults escape."""
    monkeypatch.setitem(local_rate.LOWER_RTOL, 2, 0.5)
    monkeypatch.setitem(local_rate.UPPER_RTOL, 2, 0.5)
    monkeypatch.setitem(local_rate.LOWER_RTOL, 1, 0.5)
    monkeypatch.setitem(local_rate.UPPER_RTOL, 1, 0.5)
    monkeypatch.setattr(local_rate, "WINDOW_RTOL", 0.5)  # the span's slow side (window bound)
    weak = faults.power(quick=True, only="nash-mp").algorithms[0]
    assert weak.caught < FLOORS["nash-mp"][0]
    assert "step×0.9" in {fault for fault, _ in weak.escapes}


def test_seams_are_restored_even_when_the_run_raises():
    before = dict(compositions.COMPOSITIONS)
    algorithm = next(a for a in faults.ALGORITHMS if a.name == "nash-md")
    case = next(c for c in algorithm.cases(True) if "munos" in c.label)
    step = next(f for f in faults.FAULTS if f.name == "step×1.1")  # η_0β = 1.1 > 1 raises
    from nashlab.solvers import nlhf
    coefficients = nlhf.step_coefficients
    with pytest.raises(ValueError, match="eta·beta ≤ 1"):
        faults._run_case(algorithm, case, None, step)
    assert compositions.COMPOSITIONS == before and nlhf.step_coefficients is coefficients


def _toy():
    rng = np.random.default_rng(0)
    A = rng.uniform(-0.5, 0.5, (5, 5))
    A = A - A.T
    log_mu = np.log(np.full(5, 0.2))
    step = make_step((0.7, 0.3, 0.5), log_mu)
    payoff = lambda z: 0.5 + A @ np.exp(z)  # noqa: E731
    return rng.standard_normal(5), payoff, step


def test_the_structural_faults_are_the_maps_they_name():
    ell, F, S = _toy()
    # missing half-step: extragradient becomes the single step S(ℓ, F(ℓ))
    assert np.allclose(faults._payoff_at_anchor(extragradient)(ell, F, S)[0],
                       single(ell, F, S)[0], atol=1e-15)
    # wrong opponent: Nash-MD's mixture step with F at π_t, i.e. S(ℓ, F(ℓ))
    assert np.allclose(faults._payoff_at_anchor(mixture)(ell, F, S)[0], S(ell, F(ell)), atol=1e-15)
    # wrong anchor: the second step from the midpoint h = S(ℓ, F(ℓ))
    h = S(ell, F(ell))
    assert np.allclose(faults._wrong_anchor(extragradient)(ell, F, S)[0], S(h, F(h)), atol=1e-15)
    assert not np.allclose(S(h, F(h)), extragradient(ell, F, S)[0], atol=1e-8)


def test_effect_and_only():
    a = [np.array([1.0, -np.inf]), np.array([2.0, 3.0])]
    assert faults._effect(a, [np.array([1.0, -np.inf]), np.array([2.0, 3.5])]) == 0.5
    assert faults._effect(a, a[:1]) == math.inf
    assert faults._effect(a, [a[0], np.array([np.nan, 3.0])]) == math.inf
    assert [x.name for x in faults.algorithms("mdp/*")] == ["mdp/vi", "mdp/npg-entropy",
                                                            "mdp/pmd", "mdp/npg"]
    with pytest.raises(TypeError, match="only"):
        faults.algorithms(3)


def test_cli_power_prints_and_writes(tmp_path, capsys):
    from nashlab.cli import verify as cli

    status = cli.main(["--power", "--quick", "--only", "nash-md", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "power.json").read_text())
    assert list(data["algorithms"]) == ["nash-md"]
    assert status == (0 if data["caught"] >= faults.POWER_GOAL * data["tried"] else 1)
    assert "ESCAPED nash-md" in out and f"power: {data['caught']}/{data['tried']}" in out
    with pytest.raises(cli.UsageError, match="nash-mp, nash-md"):
        cli.main(["--power", "--only", "no-such-algorithm", "--out", str(tmp_path)])
