"""Property tests: every registered NLHF theorem holds, via ``check``, at every iteration on
hypothesis games (families of ``theory.strategies``, n ∈ [2, 64], β ∈ [1e-3, 5], peaked μ
and π₀), with the step size drawn inside the theorem's condition.

Slope-only theorems draw β ∈ [0.1, 5]: their fitted rate needs the run to reach the
asymptotic regime, which at β = 1e-3 takes ~10⁴ iterations (too slow for a unit test);
their full-range check is ``nashlab verify``.
"""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab.games import generators
from nashlab.solvers import run
from nashlab.theory import nlhf_theorems  # registers the theorems
from nashlab.theory.registry import all_theorems, get
from nashlab.theory.strategies import distributions, example_budget, preference_games
from nashlab.theory.verdicts import FLOAT_FLOOR, check, check_claim

FAST = settings(max_examples=example_budget(20), deadline=None, suppress_health_check=list(HealthCheck))

GAMES = preference_games(n_max=64)
SLOPE_GAMES = preference_games(n_max=32, beta_min=0.1)
FRACTION = st.floats(0.05, 1.0)  # the step as a fraction of the theorem's largest step


def _iterations(rate, cap=300):
    return int(min(cap, math.ceil(30.0 / -math.log(rate)) + 5))


def _start(data, game):
    return data.draw(distributions(game.n))


def _nash_mp(game, data, eta=None):
    eta = 2.0 if eta is None else eta
    return run(game, "nash-mp", eta=eta, iterations=_iterations((1 + eta * game.beta) ** -2),
               init=_start(data, game), track=("kl", "exploitability", "span"))


def _assert_holds(trajectory, theorem_id):
    """The theorem passes, or, only where the drawn instance leaves nothing to count (the
    metric below the floor from the start or within 2 steps: e.g. π₀ = π*), is
    inconclusive."""
    verdict = check(trajectory, theorem_id)
    assert verdict.assumptions_hold, verdict.reason
    if verdict.status == "inconclusive":
        metric = np.asarray(trajectory.metrics[get(theorem_id).metric], dtype=float)
        above = (metric > FLOAT_FLOOR).reshape(metric.shape[0], -1).sum(axis=0)
        assert np.all(above < 3), verdict
    else:
        assert verdict.passed, verdict


def test_every_nlhf_theorem_has_a_property_test():
    ids = {t.id for t in all_theorems() if t.suite.__module__ == nlhf_theorems.__name__}
    assert {"nash-mp/kl-contraction", "hedge/average-exploitability"} <= ids
    assert ids <= set(TESTED), sorted(ids - set(TESTED))


@FAST
@given(GAMES, FRACTION, st.data())
def test_nash_mp_kl_contraction(game, fraction, data):
    _assert_holds(_nash_mp(game, data, eta=2.0 * fraction), "nash-mp/kl-contraction")


@FAST
@given(GAMES, st.data())
def test_nash_mp_kl_envelope(game, data):
    _assert_holds(_nash_mp(game, data), "nash-mp/kl-envelope")


@FAST
@given(SLOPE_GAMES, st.data())
def test_nash_mp_exploitability_slope(game, data):
    _assert_holds(_nash_mp(game, data), "nash-mp/exploitability-slope")


@FAST
@given(SLOPE_GAMES, st.data())
def test_nash_mp_span_slope(game, data):
    _assert_holds(_nash_mp(game, data), "nash-mp/span-slope")


@FAST
@given(preference_games(n_max=64, beta_min=0.55), FRACTION, st.data())
def test_nash_mp_span_step(game, fraction, data):
    _assert_holds(_nash_mp(game, data, eta=2.0 * fraction), "nash-mp/span-step")


@settings(max_examples=example_budget(5), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(preference_games(n_max=16, beta_min=0.05), st.integers(0, 2**16))
def test_nash_mp_inexact_floor(game, seed):
    traj = run(game, "nash-mp-inexact", eta=2.0, iterations=10, inner_steps=10, seed=seed,
               track=("kl",))
    _assert_holds(traj, "nash-mp-inexact/kl-floor")
    _assert_holds(traj, "nash-mp-inexact/kl-step")


@FAST
@given(GAMES, FRACTION, st.data())
def test_nash_md_kl_step_constant_and_scheduled(game, fraction, data):
    init = _start(data, game)
    constant = run(game, "nash-md", eta=fraction / game.beta, iterations=60, init=init,
                   track=("kl",))
    _assert_holds(constant, "nash-md/kl-step")
    scheduled = run(game, "nash-md", eta=None, schedule="munos", iterations=60, init=init,
                    track=("kl",))
    _assert_holds(scheduled, "nash-md/kl-step")


@FAST
@given(GAMES, st.data())
def test_nash_md_munos_envelope(game, data):
    traj = run(game, "nash-md", eta=None, schedule="munos", iterations=100,
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "nash-md/munos-envelope")


@FAST
@given(GAMES, FRACTION, st.data())
def test_nash_md_constant_step(game, fraction, data):
    traj = run(game, "nash-md", eta=fraction / game.beta, iterations=60,
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "nash-md/constant-step")


@FAST
@given(GAMES, FRACTION, st.data())
def test_egpo_kl_envelope(game, fraction, data):
    step = fraction * 2 / (1 + 2 * game.beta)
    traj = run(game, "egpo", eta=step, iterations=_iterations((1 - step * game.beta) ** 2),
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "egpo/kl-envelope")


@FAST
@given(SLOPE_GAMES, st.data())
def test_egpo_duality_gap_slope(game, data):
    step = 1 / (1 + game.beta)
    traj = run(game, "egpo", eta=step, iterations=_iterations((1 - step * game.beta) ** 2),
               init=_start(data, game), track=("duality_gap",))
    _assert_holds(traj, "egpo/duality-gap-slope")


@FAST
@given(GAMES, FRACTION, st.data())
def test_mmd_kl_contraction(game, fraction, data):
    step = fraction * 4 * game.beta
    traj = run(game, "mmd", eta=step, iterations=150, init=_start(data, game), track=("kl",))
    _assert_holds(traj, "mmd/kl-contraction")


@FAST
@given(GAMES, st.sampled_from([1.0, 2.0, 4.0]), st.data())
def test_mmd_sokota_contraction(game, multiple, data):
    step = multiple * game.beta
    traj = run(game, "mmd", eta=step, iterations=150, init=_start(data, game), track=("kl",))
    _assert_holds(traj, "mmd/sokota-contraction")


@FAST
@given(GAMES, FRACTION, st.data())
def test_omd_kl_contraction(game, fraction, data):
    step = fraction * 4 * game.beta / (1 + 4 * game.beta ** 2)  # prox step h ≤ 4β
    traj = run(game, "omd", eta=step, iterations=150, init=_start(data, game), track=("kl",))
    _assert_holds(traj, "omd/kl-contraction")


@FAST
@given(SLOPE_GAMES, st.data())
def test_omwu_kl_slope(game, data):
    step = min(1 / (2 * game.beta + 1), 0.5)
    traj = run(game, "omwu", eta=step, iterations=_iterations((1 - step * game.beta) ** 2),
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "omwu/kl-slope")


@FAST
@given(preference_games(n_max=64), st.integers(1, 300))
def test_hedge_average_exploitability(game, horizon):
    step = math.sqrt(8 * math.log(max(game.n, 2)) / horizon)
    uniform = np.full(game.n, 1.0 / game.n)
    traj = run(game.with_beta(0.0), "hedge", eta=step, iterations=horizon, init=uniform,
               track=())
    traj.params["init"] = "uniform"
    _assert_holds(traj, "hedge/average-exploitability")
    # at T the bound is √(ln n/(2T))
    assert traj["average_exploitability"][-1] <= math.sqrt(math.log(game.n) / (2 * horizon)) + 1e-12


def test_hedge_bound_needs_the_uniform_start():
    game = generators.rps(beta=0.0)
    traj = run(game, "hedge", eta=0.1, iterations=20, init=np.array([0.6, 0.3, 0.1]), track=())
    verdict = check(traj, "hedge/average-exploitability")
    assert not verdict.passed and not verdict.assumptions_hold and "uniform" in verdict.reason


def test_wrong_step_is_reported_as_a_failed_assumption():
    game = generators.random_preference(6, beta=0.1, seed=0)
    traj = run(game, "nash-mp", eta=3.0, iterations=20, track=("kl",))
    verdict = check(traj, "nash-mp/kl-contraction")
    assert not verdict.passed and "0 < η ≤ 2" in verdict.reason


@FAST
@given(distributions(3), st.floats(0.01, 0.5))
def test_hedge_last_iterate_moves_away_on_rps(start, step):
    traj = run(generators.rps(beta=0.0), "hedge", eta=step, iterations=100, init=start,
               track=("kl",))
    verdict = check_claim(traj, "hedge/last-iterate-cycles")
    assert verdict.passed or np.allclose(start, 1 / 3), verdict.reason


def test_claims_on_their_own_suites():
    for claim_id in ("omd/large-step-stalls", "nash-md/constant-step-floor"):
        from nashlab.theory.verdicts import all_claims

        claim = next(c for c in all_claims() if c.id == claim_id)
        verdict = check_claim([t for _, t in claim.suite(True)], claim)
        assert verdict.passed, verdict.reason
    # the stall criterion does not fire on a converging method on the same game
    game = generators.perturbed_rps(beta=0.01)
    converging = run(game, "nash-mp", eta=2.0, iterations=4000, track=("kl",))
    stalls = next(c for c in all_claims() if c.id == "omd/large-step-stalls")
    assert not check_claim(converging, stalls).passed


TESTED = {
    "nash-mp/kl-contraction", "nash-mp/kl-envelope", "nash-mp/exploitability-slope",
    "nash-mp/span-slope", "nash-mp-inexact/kl-floor", "nash-md/kl-step",
    "nash-md/munos-envelope", "nash-md/constant-step", "egpo/kl-envelope",
    "egpo/duality-gap-slope", "mmd/kl-contraction", "mmd/sokota-contraction",
    "omd/kl-contraction", "omwu/kl-slope", "hedge/average-exploitability",
    "nash-mp-inexact/kl-step", "omd/self-play-pg-slope", "nash-mp/span-step",
    "nash-prox/kl-slope",
}


@FAST
@given(SLOPE_GAMES, st.data())
def test_nash_mp_exploitability_bound(game, data):
    """Expl_β ≤ (β/8)span² + KL/(4β) at every iterate of Nash-MP (a derived inequality)."""
    verdict = check_claim(_nash_mp(game, data), "nash-mp/exploitability-bound")
    assert verdict.passed or "over 0 counted" in verdict.reason, verdict.reason


@FAST
@given(preference_games(n_max=16, beta_min=0.05, beta_max=1.0), st.data())
def test_omd_self_play_pg_slope(game, data):
    eta = 4 * game.beta / (1 + 4 * game.beta ** 2) * data.draw(FRACTION)
    traj = run(game, "omd", eta=eta, iterations=_iterations(1 - eta * game.beta, 400),
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "omd/self-play-pg-slope")


def test_proximal_point_and_unregularized_omwu_claims():
    """Both claims hold on their quick suites; the OMWU criterion rejects Hedge (whose last
    iterate does not converge on the same kind of game)."""
    from nashlab.theory.verdicts import all_claims

    claims = {c.id: c for c in all_claims()}
    for claim_id in ("magnet-refresh/proximal-point", "omwu/unregularized-last-iterate"):
        claim = claims[claim_id]
        verdict = check_claim([t for _, t in claim.suite(True)], claim)
        assert verdict.passed, verdict.reason
    hedge = run(generators.perturbed_rps(beta=0.0), "hedge", eta=0.1, iterations=3000,
                init=generators.random_reference(3, scale=2.0, seed=1), track=("exploitability",))
    assert not check_claim(hedge, claims["omwu/unregularized-last-iterate"]).passed


@settings(max_examples=example_budget(8), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(preference_games(n_max=16, beta_min=0.1, beta_max=2.0), st.data())
def test_nash_prox_kl_slope(game, data):
    traj = run(game, "nash-prox", eta=1.0, iterations=_iterations((1 + game.beta) ** -2, 100),
               init=_start(data, game), track=("kl",))
    _assert_holds(traj, "nash-prox/kl-slope")
