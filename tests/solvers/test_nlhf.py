"""The NLHF update rules: independent formulas, identities, convergence, negative results,
batching, sampled oracles and argument validation."""

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab import games
from nashlab.solvers import nlhf, run
from nashlab.solvers.methods import get_method
from nashlab.solvers.nlhf import init_state
from nashlab.solvers.oracles import ExactOracle
from nashlab.solvers.results import Trajectory
from nashlab.theory.strategies import distributions, preference_games

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _normalise(w):
    return w / w.sum(axis=-1, keepdims=True)


def _policy(state):
    return np.exp(state.logits)


def _simplex_argmax(objective, n):
    """argmax of a concave ``objective`` over the simplex by SLSQP (independent solver)."""
    res = scipy.optimize.minimize(lambda p: -objective(p), np.full(n, 1.0 / n), method="SLSQP",
                                  bounds=[(1e-12, 1.0)] * n,
                                  constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
                                  options={"ftol": 1e-15, "maxiter": 500})
    assert res.success, res.message
    return res.x


def _kl(p, q):
    return float(np.sum(p * np.log(p / q)))


# ---- each update against a direct formula ---------------------------------------------------

def test_nash_mp_step_is_the_two_prox_argmaxes():
    """π½ = argmax ⟨p, Pπ_k⟩ − β·KL(p‖μ) − KL(p‖π_k)/η and π_{k+1} the same with Pπ½, both
    anchored at π_k (2505.19731 v1, unscaled form of theory notes §2), by SLSQP on n = 3."""
    game = games.perturbed_rps(beta=0.3, reference=np.array([0.5, 0.3, 0.2]))
    pi, mu, beta, eta = np.array([0.2, 0.5, 0.3]), game.reference, game.beta, 1.5

    def prox(g):
        return _simplex_argmax(lambda p: p @ g - beta * _kl(p, mu) - _kl(p, pi) / eta, 3)

    half = prox(game.P @ pi)
    new = prox(game.P @ half)
    step = nlhf.step_nash_mp(init_state(game, pi), game, ExactOracle(game), eta)
    np.testing.assert_allclose(_policy(step), new, atol=2e-7)
    # and the closed form in probability space: p ∝ (π·μ^{ηβ}·e^{ηg})^{1/(1+ηβ)}
    closed = _normalise((pi * mu ** (eta * beta) * np.exp(eta * game.P @ half))
                        ** (1 / (1 + eta * beta)))
    np.testing.assert_allclose(_policy(step), closed, rtol=1e-6)


def test_nash_md_step_is_best_reply_to_explicit_mixture():
    """Munos et al. 2312.00886 eqs. 3–4: π^μ ∝ π^{1−ηβ}μ^{ηβ}; π_{t+1} = argmax η·P(π≻π^μ) −
    KL(π‖π^μ), computed in probability space with SLSQP."""
    game = games.perturbed_rps(beta=0.4, reference=np.array([0.6, 0.3, 0.1]))
    pi, mu, beta, eta = np.array([0.3, 0.3, 0.4]), game.reference, game.beta, 0.9
    mixture = _normalise(pi ** (1 - eta * beta) * mu ** (eta * beta))
    target = _simplex_argmax(lambda p: eta * p @ game.P @ mixture - _kl(p, mixture), 3)
    step = nlhf.step_nash_md(init_state(game, pi), game, ExactOracle(game), eta)
    np.testing.assert_allclose(_policy(step), target, atol=2e-7)
    np.testing.assert_allclose(_policy(step), _normalise(mixture * np.exp(eta * game.P @ mixture)),
                               rtol=1e-12)


def _from_log_weights(z):
    """Normalised exp(z) through scipy's logsumexp (e^{ηg} alone overflows for ηg > 709)."""
    with np.errstate(divide="ignore"):
        return np.exp(z - scipy.special.logsumexp(z))


def _md(p, mu, g, eta, beta):
    """p^{1−ηβ}·μ^{ηβ}·e^{ηg}, normalised (written with scipy's logsumexp)."""
    with np.errstate(divide="ignore"):
        return _from_log_weights((1 - eta * beta) * np.log(p) + eta * beta * np.log(mu) + eta * g)


@FAST
@given(preference_games(n_max=8), st.data())
def test_mirror_descent_family_steps_match_probability_space(game, data):
    pi = data.draw(distributions(game.n))
    mu, beta, P = game.reference, game.beta, game.P
    eta = data.draw(st.floats(0.05, 0.95)) / beta
    start = init_state(game, pi)
    oracle = ExactOracle(game)
    tol = {"rtol": 1e-9, "atol": 1e-300}
    # EGPO / PU
    half = _md(pi, mu, P @ pi, eta, beta)
    np.testing.assert_allclose(_policy(nlhf.step_egpo(start, game, oracle, eta)),
                               _md(pi, mu, P @ half, eta, beta), **tol)
    # OMD
    np.testing.assert_allclose(_policy(nlhf.step_omd(start, game, oracle, eta)),
                               _md(pi, mu, P @ pi, eta, beta), **tol)
    # OMWU, two steps: the second midpoint is driven by the first midpoint
    s1 = nlhf.step_omwu(start, game, oracle, eta)
    s2 = nlhf.step_omwu(s1, game, oracle, eta)
    bar1 = _md(pi, mu, P @ pi, eta, beta)
    pi1 = _md(pi, mu, P @ bar1, eta, beta)
    bar2 = _md(pi1, mu, P @ bar1, eta, beta)
    np.testing.assert_allclose(_policy(s2), _md(pi1, mu, P @ bar2, eta, beta), **tol)
    # MMD (prox form, magnet μ): π ∝ (π·μ^{ηβ}·e^{ηg})^{1/(1+ηβ)}
    with np.errstate(divide="ignore"):
        mmd = _from_log_weights((np.log(pi) + eta * beta * np.log(mu) + eta * P @ pi) / (1 + eta * beta))
    np.testing.assert_allclose(_policy(nlhf.step_mmd(start, game, oracle, eta)), mmd, **tol)
    # Hedge: π·e^{ηPπ}
    np.testing.assert_allclose(_policy(nlhf.step_hedge(start, game, oracle, eta)),
                               _from_log_weights(np.log(pi) + eta * P @ pi), **tol)


def test_omd_step_is_one_sgd_step_on_online_ipo_loss():
    """Theory notes §4 [D]: L(θ) = ½·E_{y,y'~Unif}[(h(y) − h(y') − (P(y≻π_t) − P(y'≻π_t))/β)²],
    h = log π_θ − log μ on tabular logits θ; one SGD step with lr = ηβn/2 is the OMD step.
    The gradient is summed pair by pair (no closed form used)."""
    mu = games.random_reference(6, seed=1)
    game = games.random_preference(6, beta=0.05, reference=mu, seed=2)
    n, beta, eta = game.n, game.beta, 3.0
    theta = np.log(games.random_reference(n, scale=2.0, seed=3))
    win = game.P @ np.exp(theta)
    h = theta - game.log_reference
    grad = np.zeros(n)
    for y in range(n):
        for z in range(n):
            residual = h[y] - h[z] - (win[y] - win[z]) / beta
            grad[y] += residual / n**2
            grad[z] -= residual / n**2
    theta_sgd = theta - (eta * beta * n / 2) * grad
    omd = nlhf.step_omd(init_state(game, np.exp(theta)), game, ExactOracle(game), eta)
    np.testing.assert_allclose(omd.logits, theta_sgd - np.log(np.sum(np.exp(theta_sgd))),
                               rtol=0, atol=1e-12)


# ---- identities ---------------------------------------------------------------------------

@FAST
@given(preference_games(n_max=12), st.floats(0.05, 3.0), st.data())
def test_nash_mp_is_egpo_reparametrised_every_iterate(game, eta, data):
    """Nash-MP(η) ≡ EGPO(η/(1+ηβ)), and OMD(η') ≡ MMD(η'/(1−η'β)) (theory notes §2, §5)."""
    pi = data.draw(distributions(game.n))
    oracle = ExactOracle(game)
    a = b = c = d = init_state(game, pi)
    eta_md = eta / (1 + eta * game.beta)
    for _ in range(30):
        a = nlhf.step_nash_mp(a, game, oracle, eta)
        b = nlhf.step_egpo(b, game, oracle, eta_md)
        c = nlhf.step_mmd(c, game, oracle, eta)
        d = nlhf.step_omd(d, game, oracle, eta_md)
        np.testing.assert_allclose(a.logits, b.logits, rtol=0, atol=1e-12)
        np.testing.assert_allclose(c.logits, d.logits, rtol=0, atol=1e-12)


def test_aliases_are_the_same_map():
    game = games.random_preference(5, beta=0.1, seed=0)
    for a, b in (("omwu", "onpo"), ("hedge", "sppo")):
        np.testing.assert_array_equal(run(game, a, eta=0.5, iterations=20)["kl"],
                                      run(game, b, eta=0.5, iterations=20)["kl"])


# ---- convergence -----------------------------------------------------------------------------

CONVERGENT = [("nash-mp", 2.0), ("egpo", 2 / 1.4), ("omd", 0.5), ("omwu", 0.5), ("mmd", 0.8)]


@pytest.mark.parametrize("method, eta", CONVERGENT)
@pytest.mark.parametrize("game", [
    games.perturbed_rps(beta=0.2),
    games.random_preference(8, beta=0.2, seed=3, reference=games.random_reference(8, seed=4)),
], ids=["perturbed-rps", "random-8"])
def test_convergent_methods_reach_the_equilibrium(method, eta, game, backend):
    tr = run(game, method, eta=eta, iterations=150, backend=backend)
    assert tr.params["backend"] == backend
    assert tr["kl"][-1] <= 1e-8 and tr["exploitability"][-1] <= 1e-8
    assert tr["span"][-1] <= 1e-3
    np.testing.assert_allclose(tr["duality_gap"], 2 * tr["exploitability"])


def _every(err, bound):
    mask = bound >= 1e-11
    assert np.all(err[mask] <= bound[mask] * (1 + 1e-9) + 1e-12)


@FAST
@given(preference_games(n_max=10), st.floats(0.1, 2.0), st.data())
def test_nash_mp_per_step_contraction(game, eta, data):
    """KL(π*‖π_{k+1}) ≤ KL(π*‖π_k)/(1+ηβ) for 0 < η ≤ 2 (2505.19731 abstract, proof [D])."""
    tr = run(game, "nash-mp", eta=eta, iterations=40, init=data.draw(distributions(game.n)))
    kl = tr["kl"]
    _every(kl[1:], kl[:-1] / (1 + eta * game.beta))
    assert tr.params["step_condition"]


def test_nash_md_theorem_1_with_munos_schedule():
    """Munos et al. Theorem 1: KL_{t+1} ≤ (1−η_tβ)KL_t + 2η_t² and, with η_t = 2/(β(t+2)),
    KL(π*‖π_T) ≤ 8/(β²(T+1)); "eta"[k] is η_k."""
    game = games.random_preference(6, beta=0.5, seed=5, reference=games.random_reference(6, seed=6))
    tr = run(game, "nash-md", eta=None, schedule="munos", iterations=300)
    kl, eta, beta = tr["kl"], tr["eta"], game.beta
    np.testing.assert_allclose(eta, 2 / (beta * (np.arange(301) + 2)))
    _every(kl[1:], (1 - eta[:-1] * beta) * kl[:-1] + 2 * eta[:-1] ** 2)
    _every(kl[1:], 8 / (beta**2 * (np.arange(1, 301) + 1)))


def test_nash_md_constant_step_floor():
    """Constant η [D from Munos et al. eq. 6]: KL_T ≤ (1−ηβ)^T KL_0 + 2η/β holds at every T.
    Observed: the iterates stall at a nonzero fixed point with KL_∞ ≈ c·η² (fitted exponent
    2 ± 0.15), about five orders of magnitude below the floor 2η/β (KL_∞·β/(2η) ≈ 1e-5)."""
    game = games.random_preference(8, beta=0.2, seed=3)
    floors = []
    etas = np.array([0.4, 0.2, 0.1])
    for eta in etas:
        tr = run(game, "nash-md", eta=eta, iterations=1500, track=("kl",))
        kl = tr["kl"]
        _every(kl, (1 - eta * game.beta) ** np.arange(1501) * kl[0] + 2 * eta / game.beta)
        assert kl[-1] >= 1e-8 and abs(kl[-1] / kl[-200] - 1) <= 1e-6  # stalled, not converged
        floors.append(kl[-1])
    assert 1.85 <= np.polyfit(np.log(etas), np.log(floors), 1)[0] <= 2.15


def test_omd_stalls_when_eta_much_larger_than_beta():
    """Theory notes §5: OMD with β = 0.01, η = 1 does not converge (KL ≥ 1e-2 throughout
    iterations 100..3000), while η = 4β makes steady (slow, rate 1 − Θ(β²)) progress."""
    for game in (games.perturbed_rps(beta=0.01), games.random_preference(10, beta=0.01, seed=0)):
        stall = run(game, "omd", eta=1.0, iterations=3000, track=("kl",))["kl"]
        assert np.min(stall[100:]) >= 1e-2
        slow = run(game, "omd", eta=0.04, iterations=3000, track=("kl",))["kl"]
        assert slow[-1] <= 0.1 * stall[-1] and slow[-1] <= 0.2 * slow[0]


def test_hedge_last_iterate_cycles_average_converges():
    """Hedge on RPS (β = 0): KL(uniform‖π_t) never decreases from a non-uniform start (the
    last iterate spirals out), while the average π̄_T = mean(π_0..π_{T−1}) has
    Expl_0(π̄_T) ≤ √(ln n/(2T)) with η = √(8 ln n/T) (regret bound [D])."""
    game, T = games.rps(beta=0.0), 1000
    eta = math.sqrt(8 * math.log(3) / T)
    tr = run(game, "hedge", eta=eta, iterations=T, init=np.array([0.5, 0.3, 0.2]))
    kl = tr["kl"]
    assert np.all(np.diff(kl) >= -1e-15) and kl[-1] >= 1.5 * kl[0]
    assert tr["average_exploitability"][-1] <= math.sqrt(math.log(3) / (2 * T))
    # the average is the mean of the played policies π_0..π_{T−1}
    state, played = init_state(game, np.array([0.5, 0.3, 0.2])), []
    for _ in range(T):
        played.append(_policy(state))
        state = nlhf.step_hedge(state, game, ExactOracle(game), eta)
    np.testing.assert_allclose(tr.average_policy, np.mean(played, axis=0), rtol=1e-12)
    uniform = run(games.random_preference(8, beta=0.0, seed=1), "sppo",
                  eta=math.sqrt(8 * math.log(8) / T), iterations=T)
    assert uniform["average_exploitability"][-1] <= math.sqrt(math.log(8) / (2 * T))


def test_magnet_refresh_reaches_unregularized_winner():
    """MPO/COMAL style: refreshing the magnet every K steps drives Expl_0 to 0 on perturbed
    RPS (unregularized NE (1, 3, 3)/7), while plain Nash-MP stops at π*_β."""
    game = games.perturbed_rps(beta=0.1)
    tr = run(game, "magnet-refresh", eta=2.0, refresh_every=50, iterations=1500)
    assert tr["unregularized_exploitability"][-1] <= 1e-8
    np.testing.assert_allclose(tr.policy, np.array([1, 3, 3]) / 7, atol=1e-7)
    plain = run(game, "nash-mp", eta=2.0, iterations=300, track=("unregularized_exploitability",))
    assert plain["unregularized_exploitability"][-1] >= 1e-3


def test_inexact_nash_mp_obeys_the_robust_bound():
    """δ_k = span(log π̃_k − log π_k^exact); KL_{k+1} ≤ KL_k/(1+ηβ) + δ_{k+1} [D], and more
    inner policy-gradient steps give a smaller δ."""
    game = games.perturbed_rps(beta=0.2)
    deltas = []
    for inner in (2, 20):
        tr = run(game, "nash-mp-inexact", eta=2.0, iterations=40, inner_steps=inner, seed=0)
        kl, delta = tr["kl"], tr["delta"]
        assert delta[0] == 0 and tr.params["delta"] == np.max(delta)
        assert np.all(kl[1:] <= kl[:-1] / (1 + 2.0 * game.beta) + delta[1:] + 1e-12)
        deltas.append(tr.params["delta"])
        again = run(game, "nash-mp-inexact", eta=2.0, iterations=40, inner_steps=inner, seed=0)
        np.testing.assert_array_equal(again["kl"], kl)
    assert deltas[1] <= 0.1 * deltas[0]
    assert kl[-1] <= 1e-10


# ---- batches, oracles, records ------------------------------------------------------------

BATCHABLE = [("nash-mp", 1.0, {}), ("nash-md", 0.5, {}), ("egpo", 0.5, {}), ("omd", 0.5, {}),
             ("omwu", 0.5, {}), ("mmd", 0.5, {}), ("hedge", 0.5, {}),
             ("magnet-refresh", 1.0, {"refresh_every": 7})]


@pytest.mark.parametrize("method, eta, extra", BATCHABLE)
def test_batch_run_equals_separate_runs(method, eta, extra):
    game = games.random_preference(5, beta=0.3, seed=7, batch_shape=(2, 2),
                                   reference=games.random_reference(5, seed=8, batch_shape=(2, 2)))
    batch = run(game, method, eta=eta, iterations=30, **extra)
    for idx in np.ndindex(2, 2):
        one = run(game[idx], method, eta=eta, iterations=30, **extra)
        for name, values in one.metrics.items():
            np.testing.assert_allclose(batch[name][(slice(None),) + idx], values,
                                       rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(batch.policy[idx], one.policy, rtol=1e-13)


@pytest.mark.parametrize("method", nlhf.METHODS)
def test_every_method_runs_with_the_sampled_oracle(method):
    game = games.random_preference(4, beta=0.2, seed=9)
    extra = {"refresh_every": 3} if method == "magnet-refresh" else {}
    extra |= {"inner_steps": 2} if method == "nash-mp-inexact" else {}
    eta = 1.0 if get_method("preference", method).step_form != "mirror-descent" else 0.5
    a = run(game, method, eta=eta, iterations=6, oracle="sampled", samples=5, seed=1, **extra)
    b = run(game, method, eta=eta, iterations=6, oracle="sampled", samples=5, seed=1, **extra)
    np.testing.assert_array_equal(a["kl"], b["kl"])
    q = a["queries"]
    per = get_method("preference", method).queries_per_step
    expected = per * np.arange(7) + (np.arange(7) > 0) * (method in ("omwu", "onpo"))
    np.testing.assert_array_equal(q, expected)
    np.testing.assert_array_equal(a["comparisons"], 5 * game.n * q)


def test_sampled_nash_mp_approaches_the_equilibrium():
    """With K = 20000 comparisons per response the noise floor of KL is ≲ 1e-4."""
    game = games.perturbed_rps(beta=0.2)
    tr = run(game, "nash-mp", eta=2.0, iterations=40, oracle="sampled", samples=20000, seed=3)
    assert tr["kl"][-1] <= 1e-4 <= tr["kl"][0]


def test_params_and_metric_shapes():
    game = games.random_preference(4, beta=0.2, seed=10, batch_shape=(3,))
    tr = run(game, "nash-mp", eta=2.5, iterations=5, track=("kl",))
    assert set(tr.metrics) == {"kl", "queries"}
    assert tr["kl"].shape == (6, 3) and tr["queries"].shape == (6, 3)
    for key in ("family", "method", "backend", "eta", "beta", "n_actions", "n_states",
                "batch_shape", "iterations", "seed", "oracle", "samples", "schedule", "kl0"):
        assert key in tr.params
    np.testing.assert_allclose(tr.params["kl0"], tr["kl"][0])
    assert tr.params["step_condition"] is False  # η > 2 runs but is recorded
    tr = run(games.rps(beta=0.1), "mmd", eta=0.5, iterations=3, seed=4,
             track=nlhf.METRICS)
    assert set(tr.metrics) == set(nlhf.METRICS)
    assert tr["kl"].shape == (4,) and tr.policy.shape == (3,)


def test_trajectory_round_trips_through_npz(tmp_path):
    tr = run(games.perturbed_rps(beta=0.1), "nash-md", eta=None, schedule="munos", iterations=4)
    tr.save(tmp_path / "t.npz")
    back = Trajectory.load(tmp_path / "t.npz")
    assert back.params == tr.params
    np.testing.assert_array_equal(back["eta"], tr["eta"])


# ---- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, err, match", [
    ({"method": "sgd"}, ValueError, "method must be one of .*nash-mp"),
    ({"eta": 0.0}, ValueError, "eta must be >"),
    ({"eta": -1.0}, ValueError, "eta must be >"),
    ({"eta": "1"}, TypeError, "eta must be a real number"),
    ({"eta": None}, ValueError, "eta is required"),
    ({"method": "egpo", "eta": 20.0}, ValueError, r"eta·beta ≤ 1"),
    ({"iterations": 2.5}, TypeError, "iterations must be an integer"),
    ({"iterations": -1}, ValueError, "iterations must be ≥ 0"),
    ({"seed": -3}, ValueError, "seed must be ≥ 0"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ({"init": [0.5, 0.5]}, ValueError, "init must have length 3"),
    ({"init": [1.0, 0.0, 0.0]}, ValueError, "init must be strictly positive"),
    ({"init": [0.5, 0.5, 0.5]}, ValueError, "init must sum to 1"),
    ({"oracle": "noisy"}, ValueError, "oracle must be one of"),
    ({"oracle": "sampled"}, ValueError, "needs samples"),
    ({"samples": 10}, ValueError, "only used with oracle='sampled'"),
    ({"method": "nash-md", "schedule": "cosine", "eta": None}, ValueError, "schedule must be one of"),
    ({"schedule": "munos", "eta": None}, TypeError, "'nash-mp' .* unknown option.* schedule"),
    ({"method": "nash-md", "schedule": "munos"}, ValueError, "pass eta=None"),
    ({"method": "magnet-refresh"}, ValueError, "needs refresh_every"),
    ({"method": "magnet-refresh", "refresh_every": 0}, ValueError, "refresh_every must be ≥ 1"),
    ({"refresh_every": 5}, TypeError, "'nash-mp' .* unknown option.* refresh_every"),
    ({"method": "nash-mp-inexact"}, ValueError, "needs inner_steps"),
    ({"inner_steps": 5}, TypeError, "'nash-mp' .* unknown option.* inner_steps"),
    ({"bogus": 1}, TypeError, "'nash-mp' .* unknown option.* bogus"),
    ({"track": ("kl", "regret")}, ValueError, "unknown metrics"),
    ({"track": "kl"}, TypeError, "track must be a collection"),
    ({"backend": "jax"}, ValueError, "backend must be one of"),
    ({"backend": "numba", "method": "hedge"}, ValueError, "compiled kernels run the methods"),
    ({"backend": "numba", "oracle": "sampled", "samples": 4}, ValueError,
     "with the exact oracle"),
])
def test_run_rejects_bad_arguments(kwargs, err, match):
    args = {"method": "nash-mp", "eta": 1.0, "iterations": 3} | kwargs
    with pytest.raises(err, match=match):
        run(games.perturbed_rps(beta=0.1), args.pop("method"), **args)


def test_run_rejects_bad_game_and_beta():
    with pytest.raises(TypeError, match="problem must be one of PreferenceGame"):
        run(np.eye(3), "nash-mp", eta=1.0, iterations=1)
    for method in ("nash-md", "mmd", "magnet-refresh", "nash-mp-inexact"):
        with pytest.raises(ValueError, match="needs beta > 0"):
            run(games.rps(beta=0.0), method, eta=1.0, iterations=1)
    with pytest.raises(ValueError, match="init must have shape"):
        run(games.random_preference(3, seed=0, batch_shape=(2,)), "nash-mp", eta=1.0,
            iterations=1, init=np.full((3, 3), 1 / 3))


def test_auto_backend_and_zero_iterations():
    tr = run(games.perturbed_rps(beta=0.1), "nash-mp", eta=1.0, iterations=0, backend="auto")
    assert tr["kl"].shape == (1,) and tr["queries"][0] == 0
    np.testing.assert_allclose(tr.policy, np.full(3, 1 / 3))


_KERNEL_STEPS = {"nash-mp": 1.0, "egpo": 0.5, "mmd": 3.0, "omd": 0.5, "nash-md": 0.5,
                 "omwu": 0.5, "onpo": 0.5}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=preference_games(n_min=1, n_max=12, beta_min=1e-3, beta_max=1.0),
       method=st.sampled_from(sorted(_KERNEL_STEPS)), batch=st.sampled_from([(), (3,)]),
       munos=st.booleans())
def test_compiled_backend_follows_the_reference_steps(game, method, batch, munos):
    """backend="numba" (one kernel call per step) gives the iterates, metrics and query
    counts of the NumPy reference steps: 1e-12 on the logits' scale, every iteration."""
    if batch:
        game = games.PreferenceGame(np.broadcast_to(game.P, batch + game.P.shape),
                                    game.reference, game.beta)
    munos = munos and method == "nash-md"
    kwargs = {"eta": None, "schedule": "munos"} if munos else {"eta": _KERNEL_STEPS[method]}
    ref = run(game, method, iterations=7, backend="numpy", **kwargs)
    fast = run(game, method, iterations=7, backend="numba", **kwargs)
    assert fast.params["backend"] == "numba" and ref.params["backend"] == "numpy"
    assert set(fast.metrics) == set(ref.metrics)
    np.testing.assert_array_equal(fast["queries"], ref["queries"])
    scale = max(1.0, float(np.max(np.abs(np.log(ref.policy)))))
    np.testing.assert_allclose(np.log(fast.policy), np.log(ref.policy), rtol=0, atol=1e-12 * scale)
    for name in ("kl", "exploitability", "duality_gap"):
        np.testing.assert_allclose(fast[name], ref[name], rtol=1e-9, atol=1e-12 * scale)


def test_auto_backend_picks_the_kernels_where_they_apply():
    game = games.perturbed_rps(beta=0.1)
    assert run(game, "nash-mp", eta=1.0, iterations=2)["queries"][-1] == 4
    assert run(game, "nash-mp", eta=1.0, iterations=2).params["backend"] == "numba"
    assert run(game, "hedge", eta=1.0, iterations=2).params["backend"] == "numpy"
    sampled = run(game, "nash-mp", eta=1.0, iterations=2, oracle="sampled", samples=3, seed=0)
    assert sampled.params["backend"] == "numpy"
