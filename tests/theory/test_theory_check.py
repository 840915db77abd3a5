"""``nashlab.theory.check`` on hand-made trajectories whose answer is known exactly."""

import numpy as np
import pytest
import sympy

from nashlab.solvers.results import Trajectory
from nashlab.theory.registry import SYMBOLS, Assumption, Source, Theorem
from nashlab.theory.verdicts import (
    ATOL,
    FLOAT_FLOOR,
    RTOL,
    Claim,
    Verdict,
    check,
    check_claim,
    evaluate,
    fitted_rate,
)

k, err0, prev, N = SYMBOLS["k"], SYMBOLS["err0"], SYMBOLS["prev"], SYMBOLS["N"]
beta, eta, C1 = SYMBOLS["beta"], SYMBOLS["eta"], SYMBOLS["C1"]
SOURCE = Source("hand-made", "0000.00000", "test")
ETA_AT_MOST_2 = Assumption("0 < η ≤ 2", lambda p: 0 < p["eta"] <= 2)


def theorem(bound, *, form="envelope", status="derived", rate=None, metric="kl",
            assumptions=(ETA_AT_MOST_2,)):
    return Theorem(id="test/" + form + status, algorithm="test", statement="test",
                   metric=metric, bound=bound, source=SOURCE, status=status,
                   assumptions=assumptions, form=form, rate=rate)


def trajectory(values, **params):
    params = {"eta": 2.0, "beta": 0.1} | params
    return Trajectory("test", params, {"kl": np.asarray(values, dtype=float)})


CONTRACTION = theorem(prev / (1 + eta * beta), form="per-step", rate=1 / (1 + eta * beta))
ENVELOPE = theorem(err0 * (1 + eta * beta) ** (-k), rate=1 / (1 + eta * beta))


def geometric(first, rate, steps):
    return first * rate ** np.arange(steps + 1)


def test_sequence_at_the_bound_passes_with_ratio_one():
    values = geometric(2.0, 1 / 1.2, 60)
    for thm in (CONTRACTION, ENVELOPE):
        v = check(trajectory(values), thm)
        assert isinstance(v, Verdict)
        assert v.passed and v.first_violation is None and v.assumptions_hold
        assert v.worst_ratio == pytest.approx(1.0, rel=1e-12) and v.tightness == v.worst_ratio
        assert v.fitted_rate == pytest.approx(1 / 1.2, rel=1e-10)
        assert v.theory_rate == pytest.approx(1 / 1.2, rel=1e-15)


@pytest.mark.parametrize("at", [1, 7, 30])
def test_violation_found_at_the_known_iteration(at):
    values = geometric(2.0, 1 / 1.2, 60)
    values[at] *= 1.001
    for thm in (CONTRACTION, ENVELOPE):
        v = check(trajectory(values), thm)
        assert not v.passed and v.first_violation == at
        assert v.worst_ratio == pytest.approx(1.001, rel=1e-9)
        assert f"iteration {at}" in v.reason


def test_documented_tolerances_are_the_boundary():
    bound = geometric(1.0, 0.5, 20)
    inside = bound * (1 + 0.5 * RTOL)
    inside[5] = bound[5] * (1 + RTOL) + 0.9 * ATOL
    assert check(trajectory(inside, eta=2.0, beta=0.5), ENVELOPE).passed
    outside = bound.copy()
    outside[5] = bound[5] * (1 + RTOL) + 1.1 * ATOL
    v = check(trajectory(outside, eta=2.0, beta=0.5), ENVELOPE)
    assert not v.passed and v.first_violation == 5


def test_float_floor_entries_are_not_counted():
    values = geometric(1.0, 0.5, 80)  # bound = values; falls below 1e-11 at k = 37
    floor_from = int(np.argmax(values < FLOAT_FLOOR))
    stuck = values.copy()
    stuck[floor_from:] = 5e-12  # rounding floor: above the bound, but the bound is < 1e-11
    v = check(trajectory(stuck, eta=2.0, beta=0.5), ENVELOPE)
    assert v.passed and v.worst_ratio == pytest.approx(1.0)
    stuck[floor_from - 1] += 2 * ATOL  # the last counted entry, now violated
    v = check(trajectory(stuck, eta=2.0, beta=0.5), ENVELOPE)
    assert not v.passed and v.first_violation == floor_from - 1


def test_metric_above_its_floor_against_an_underflowed_bound_fails():
    """(1 − ηβ)^k·err0 at ηβ = 1 is 0 for k ≥ 1: a metric far above its rounding floor is a
    violation there (counted against the floor), not an entry left out (a pass on k = 0 alone)."""
    no_floor = theorem(err0 * (1 - eta * beta) ** k, assumptions=())
    values = geometric(1.0, 0.5, 10)
    v = check(trajectory(values, eta=10.0, beta=0.1), no_floor)
    assert v.status == "fail" and v.first_violation == 1
    assert v.evidence == 11 and v.worst_ratio == pytest.approx(0.5 / FLOAT_FLOOR)


def test_the_metric_floor_is_relative_to_the_metric_scale():
    """Against a bound beneath 1e-11, a metric counts only above 1e-11·max(1, max_k |metric|)."""
    no_floor = theorem(err0 * (1 - eta * beta) ** k, assumptions=())
    values = np.full(6, 1e-6)
    values[0] = 1e6  # scale 1e6: 1e-6 is below 1e-11·1e6, its rounding floor
    v = check(trajectory(values, eta=10.0, beta=0.1), no_floor)
    assert v.status == "inconclusive" and v.evidence == 1  # only k = 0 counted
    values[3] = 1e-4
    v = check(trajectory(values, eta=10.0, beta=0.1), no_floor)
    assert v.status == "fail" and v.first_violation == 3


def test_failed_assumption_is_not_a_pass_and_names_the_assumption():
    v = check(trajectory(geometric(1.0, 0.1, 10), eta=3.0), CONTRACTION)
    assert not v.passed and not v.assumptions_hold
    assert "0 < η ≤ 2" in v.reason
    assert v.first_violation is None  # the bound itself held


def test_fitted_rate_of_geometric_sequences():
    np.testing.assert_allclose(fitted_rate(geometric(3.0, 0.7, 50)), 0.7, rtol=1e-12)
    # reaches the floor and stays there: the fit uses only entries above 1e-11
    values = np.maximum(geometric(3.0, 0.7, 200), 1e-16)
    np.testing.assert_allclose(fitted_rate(values), 0.7, rtol=1e-10)
    # the transient is left out: only the later half of the points above the floor count
    values = geometric(3.0, 0.7, 60) + np.r_[np.full(5, 10.0), np.zeros(56)]
    np.testing.assert_allclose(fitted_rate(values), 0.7, rtol=1e-10)
    # batched: one rate per game; too few points gives NaN
    batch = np.stack([geometric(1.0, 0.5, 30), geometric(1.0, 0.9, 30)], axis=1)
    np.testing.assert_allclose(fitted_rate(batch), [0.5, 0.9], rtol=1e-12)
    assert np.isnan(fitted_rate(np.array([1.0, 1e-13, 1e-14])))


def test_batched_trajectory_reports_the_worst_game():
    good = geometric(1.0, 1 / 1.2, 40)
    bad = good.copy()
    bad[12] *= 1.01
    v = check(trajectory(np.stack([good, bad, good], axis=1)), CONTRACTION)
    assert not v.passed and v.first_violation == 12
    assert v.worst_ratio == pytest.approx(1.01, rel=1e-9)


def test_slope_only_passes_on_the_slope_not_the_constant():
    slope_only = theorem(C1 * err0 * (1 - eta * beta) ** k, status="slope-only",
                         rate=1 - eta * beta)  # ρ = 0.8
    fast = 5.0 * geometric(1.0, 0.7, 80)
    fast[0] = 1.0  # constant 5 > 1: not asserted for slope-only theorems
    v = check(trajectory(fast), slope_only)
    assert v.passed and v.worst_ratio > 1
    assert v.fitted_rate == pytest.approx(0.7) and v.theory_rate == pytest.approx(0.8)
    # exactly the theoretical rate passes; 0.8^0.9 (10 % slower exponent) fails
    assert check(trajectory(geometric(1.0, 0.8, 80)), slope_only).passed
    slow = check(trajectory(geometric(1.0, 0.8 ** 0.9, 80)), slope_only)
    assert not slow.passed and "fitted rate" in slow.reason
    # no slope to fit and the floor not reached: fails
    stuck = check(trajectory(np.array([1.0, 1.0])), slope_only)
    assert not stuck.passed and "floor" in stuck.reason


def test_symbols_from_the_trajectory_queries_and_shifted_steps():
    values = geometric(1.0, 0.9, 10)
    traj = Trajectory("t", {"beta": 0.1}, {"kl": values, "queries": 2.0 * np.arange(11)})
    np.testing.assert_allclose(evaluate(err0 * 2 ** (-N / 2), traj, values), 2.0 ** -np.arange(11))
    # eta[k] is the step from k to k+1: a per-step bound at k uses eta[k−1]
    steps = 2.0 / (0.1 * (np.arange(11) + 2))
    traj = Trajectory("t", {"beta": 0.1, "eta": None}, {"kl": values, "eta": steps})
    got = evaluate(eta + 0 * k, traj, values)
    assert np.isnan(got[0]) and np.allclose(got[1:], steps[:-1])


def test_nash_md_style_per_step_bound_with_a_schedule():
    b = 0.5
    steps = 2.0 / (b * (np.arange(41) + 2))
    values = [3.0]
    for t in range(40):
        values.append((1 - steps[t] * b) * values[-1] + 2 * steps[t] ** 2)
    thm = theorem((1 - eta * beta) * prev + 2 * eta ** 2, form="per-step", assumptions=())
    traj = Trajectory("t", {"beta": b, "eta": None}, {"kl": np.array(values), "eta": steps})
    v = check(traj, thm)
    assert v.passed and v.worst_ratio == pytest.approx(1.0, rel=1e-12)


def test_nan_metric_is_inconclusive_not_a_pass():
    values = geometric(1.0, 0.5, 10)
    values[4] = np.nan
    v = check(trajectory(values, beta=0.5), ENVELOPE)
    assert v.status == "inconclusive" and not v.passed and "iteration 4" in v.reason
    values[6] = 1.0  # a finite violation still fails, whatever else is non-finite
    v = check(trajectory(values, beta=0.5), ENVELOPE)
    assert v.status == "fail" and v.first_violation == 6


@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_no_pass_without_evidence(fill):
    """A metric that is NaN or inf throughout counts nothing: inconclusive, for envelope,
    per-step and slope-only theorems alike (it passed before, with 0 iterations counted)."""
    values = np.full(20, fill)
    slope_only = theorem(SYMBOLS["C1"] * err0 * (1 / (1 + beta)) ** k, status="slope-only",
                         rate=1 / (1 + beta))
    per_step = theorem(prev / (1 + beta), form="per-step")
    for th in (ENVELOPE, per_step, slope_only):
        v = check(trajectory(values, beta=0.5), th)
        assert v.status == "inconclusive" and v.evidence == 0, (th.form, v)


def test_near_the_floor_a_tenth_of_a_percent_excess_fails():
    """ATOL is far below the counting floor: at bound 2e-11 an excess of 0.1 % fails."""
    bound = 2e-11 * 1.002 ** -np.arange(3.0)  # ENVELOPE at η = 2, β = 0.001
    values = bound.copy()
    assert check(trajectory(values, beta=0.001), ENVELOPE).passed
    values[1] *= 1.001
    v = check(trajectory(values, beta=0.001), ENVELOPE)
    assert v.status == "fail" and v.first_violation == 1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no metric 'exploitability'"):
        check(trajectory(geometric(1.0, 0.5, 5)), theorem(err0, metric="exploitability"))
    with pytest.raises(ValueError, match="symbol 'beta'"):
        check(Trajectory("t", {"eta": 1.0}, {"kl": np.ones(3)}), ENVELOPE)
    with pytest.raises(ValueError, match="iterations"):
        check(trajectory([1.0]), ENVELOPE)
    with pytest.raises(KeyError, match="unknown theorem"):
        check(trajectory(geometric(1.0, 0.5, 5)), "no/such-theorem")


def test_claim_runner_reports_the_measured_number():
    claim = Claim(id="test/claim", algorithm="test", statement="KL ends above its start",
                  criterion_text="KL_T > KL_0", source=SOURCE,
                  criterion=lambda ts: (all(t["kl"][-1] > t["kl"][0] for t in ts),
                                        min(t["kl"][-1] / t["kl"][0] for t in ts), "ratio"))
    up, down = trajectory([1.0, 2.0]), trajectory([1.0, 0.5])
    assert check_claim(up, claim).passed
    v = check_claim([up, down], claim)
    assert not v.passed and v.worst_ratio == 0.5 and v.theorem_id == "test/claim"


def test_bound_with_sympy_functions_evaluates_with_numpy():
    thm = theorem(sympy.Piecewise((sympy.oo, k < 1), (8 / (beta ** 2 * (k + 1)), True)),
                  assumptions=())
    values = np.r_[1e6, 8 / (0.25 * (np.arange(1, 20) + 1))]  # k = 0 is unbounded
    v = check(trajectory(values, beta=0.5), thm)
    assert v.passed and v.worst_ratio == pytest.approx(1.0)


def test_n_and_S_are_read_from_the_one_params_schema():
    values = geometric(1.0, 0.5, 4)
    traj = trajectory(values, n_actions=5, n_states=3)
    bound = sympy.log(SYMBOLS["n"]) * SYMBOLS["S"] / (k + 1)
    np.testing.assert_allclose(evaluate(bound, traj, values), np.log(5) * 3 / np.arange(1, 6),
                               rtol=1e-15)
    assert check(traj, theorem(err0 + sympy.log(SYMBOLS["n"]), assumptions=())).passed


def test_n_of_a_two_player_game_is_an_error_naming_n_actions():
    values = geometric(1.0, 0.5, 4)
    traj = trajectory(values, n_actions=[3, 4], n_states=None)
    with pytest.raises(ValueError, match="n_actions"):
        evaluate(sympy.log(SYMBOLS["n"]), traj, values)
    with pytest.raises(ValueError, match="cannot evaluate symbol 'S'"):
        evaluate(SYMBOLS["S"], traj, values)


def test_the_old_n_and_S_keys_are_not_read():
    values = geometric(1.0, 0.5, 4)
    traj = trajectory(values, n=5, S=3)
    for name in ("n", "S"):
        with pytest.raises(ValueError, match=f"cannot evaluate symbol '{name}'"):
            evaluate(SYMBOLS[name], traj, values)


def test_check_without_an_id_lists_the_method_s_theorems_and_the_local_rate():
    from nashlab import run
    from nashlab.games import generators, matrix

    game = generators.random_preference(5, beta=0.5, seed=1)
    trajectory = run(game, "nash-mp", eta=2.0, iterations=60, track=("kl", "exploitability"))
    verdicts = check(trajectory, problem=game)
    ids = [v.theorem_id for v in verdicts]
    assert {"nash-mp/kl-contraction", "nash-mp/kl-envelope", "local-rate"} <= set(ids)
    assert not [i for i in ids if i.startswith(("mmd/", "omwu/", "dp.", "robust."))]
    assert all(v.passed for v in verdicts), [(v.theorem_id, v.reason) for v in verdicts]
    assert check(trajectory)[-1].status == "inconclusive"  # no problem: no local rate
    # another family's params (no β, but τ) select that family's theorems only
    mg = matrix.MatrixGame(np.array([[0.0, 1.0], [-1.0, 0.5]]), tau=0.5)
    mg_ids = {v.theorem_id for v in check(run(mg, "pu", eta=0.5, iterations=50))}
    assert mg_ids and not [i for i in mg_ids if i.startswith("nash-mp/")]


def test_check_without_an_id_applies_the_theorems_of_the_run_s_family_and_method():
    """Theorem.methods selects by "family/method": a nominal VI run gets the nominal
    contraction only (not the regularized one, not the robust sets' ones, although all
    three are about a method called "vi"), a robust VI run its own set's theorem only."""
    from nashlab import run
    from nashlab.games.mdp_problems import garnet
    from nashlab.games.uncertainty import L1Ball

    mdp = garnet(8, 3, 3, gamma=0.9, seed=0)
    ids = [v.theorem_id for v in check(run(mdp, "vi", iterations=30))]
    assert ids == ["dp.vi.contraction", "local-rate"]
    robust = run(mdp, "vi", iterations=30, uncertainty=L1Ball(0.2, rectangularity="s"))
    assert [v.theorem_id for v in check(robust)] == ["robust.vi.contraction.l1-s", "local-rate"]


def test_theorem_methods_are_family_slash_method_strings():
    with pytest.raises(ValueError, match="family/method"):
        Theorem(id="t", algorithm="a", statement="s", metric="kl", bound=SYMBOLS["prev"],
                source=Source("s", None, "l"), status="derived", methods="preference/omd")
