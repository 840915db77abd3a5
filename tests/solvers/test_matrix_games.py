"""Entropy-regularized matrix games: certified QRE, update rules, rates, validation."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nashlab.games import metrics
from nashlab.games.matrix import MatrixGame, random_matrix_game
from nashlab.solvers import matrix_games as mg
from nashlab.solvers.matrix_games import qre, run_matrix_game

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _peaked(rng, size, scale=3.0):
    return _softmax(scale * rng.standard_normal(size))


@st.composite
def matrix_games(draw, size_max=8, tau_min=1e-3):
    m = draw(st.integers(1, size_max))
    n = draw(st.integers(1, size_max))
    log_tau = draw(st.floats(np.log10(tau_min), 0.0))
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    A = scale * np.random.default_rng(seed).uniform(-1, 1, size=(m, n))
    return MatrixGame(A, 10.0**log_tau)


# ---- exact solution ---------------------------------------------------------------------

@FAST
@given(matrix_games())
def test_qre_is_certified_fixed_point(game):
    eq = qre(game)
    assert eq.certified, eq.message
    x, y = eq.policy[: game.m], eq.policy[game.m:]
    # x* ∝ exp(Ay*/τ), y* ∝ exp(−Aᵀx*/τ), checked independently of the solver's residual
    np.testing.assert_allclose(x, _softmax(game.A @ y / game.tau), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(y, _softmax(-game.A.T @ x / game.tau), rtol=1e-10, atol=1e-300)
    assert eq.gap <= 1e-13 * max(1.0, game.scale)


def test_qre_agrees_with_long_pu_run():
    """Independent method: 250 PU iterations from a peaked start (rate 1 − ητ ≤ 0.8)."""
    rng = np.random.default_rng(0)
    for seed in range(3):
        game = random_matrix_game(4, 6, tau=0.5, seed=seed)
        eta = 1.0 / (game.tau + 2 * game.scale)
        state = mg.MatrixState(np.log(_peaked(rng, 4)), np.log(_peaked(rng, 6)))
        for _ in range(250):
            state = mg.step_pu(state, game, eta)
        eq = qre(game)
        np.testing.assert_allclose(np.exp(np.r_[state.u, state.v]), eq.policy, rtol=0, atol=1e-13)


def test_duality_gap_equals_explicit_max_min():
    """DG_τ = max_x' f(x', y) − min_y' f(x, y') with the maxima by log-sum-exp, f written out."""
    rng = np.random.default_rng(1)
    game = random_matrix_game(5, 3, tau=0.3, seed=2)
    x, y = _peaked(rng, 5, 1.0), _peaked(rng, 3, 1.0)
    H = lambda p: -np.sum(p * np.log(p))  # noqa: E731
    lse = lambda v: np.max(v) + np.log(np.sum(np.exp(v - np.max(v))))  # noqa: E731
    best_x = game.tau * lse(game.A @ y / game.tau) - game.tau * H(y)
    best_y = -game.tau * lse(-game.A.T @ x / game.tau) + game.tau * H(x)
    np.testing.assert_allclose(metrics.duality_gap(game, np.r_[x, y]), best_x - best_y, rtol=1e-12)
    np.testing.assert_allclose(metrics.exploitability(game, np.r_[x, y]), (best_x - best_y) / 2, rtol=1e-12)


def test_unregularized_lp_solution():
    """τ = 0: matching pennies and RPS have value 0 and the uniform NE."""
    rps = np.array([[0.0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    for A in (np.array([[1.0, -1], [-1, 1]]), rps):
        eq = qre(MatrixGame(A, 0.0))
        assert eq.certified and eq.gap <= 1e-12
        np.testing.assert_allclose(eq.policy, np.full(2 * len(A), 1 / len(A)), atol=1e-12)
    eq = qre(random_matrix_game(7, 4, tau=0.0, seed=3))
    assert eq.certified and eq.method == "lp"


def test_qre_batch_equals_games_solved_separately():
    game = random_matrix_game(3, 5, tau=0.05, seed=4, batch_shape=(2, 2))
    eq = qre(game)
    for idx in np.ndindex(2, 2):
        np.testing.assert_array_equal(eq.policy[idx], qre(game[idx]).policy)


# ---- solvers ----------------------------------------------------------------------------

def _direct_pu(A, tau, eta, x, y):
    """PU in probability space (Cen et al. 2105.15186), written out independently."""
    def upd(p, g):
        w = p ** (1 - eta * tau) * np.exp(eta * g)
        return w / w.sum()
    xb, yb = upd(x, A @ y), upd(y, -A.T @ x)
    return upd(x, A @ yb), upd(y, -A.T @ xb)


def test_pu_and_mmd_steps_match_probability_space_formulas():
    rng = np.random.default_rng(5)
    game = random_matrix_game(4, 3, tau=0.2, seed=6)
    x, y = _peaked(rng, 4, 1.0), _peaked(rng, 3, 1.0)
    eta = 0.3
    s = mg.step_pu(mg.MatrixState(np.log(x), np.log(y)), game, eta)
    xe, ye = _direct_pu(game.A, game.tau, eta, x, y)
    np.testing.assert_allclose(np.exp(s.u), xe, rtol=1e-12)
    np.testing.assert_allclose(np.exp(s.v), ye, rtol=1e-12)
    # MMD with the uniform magnet: p ∝ (p·e^{ηg}·ρ^{ητ})^{1/(1+ητ)}
    s = mg.step_mmd(mg.MatrixState(np.log(x), np.log(y)), game, eta)
    w = (x * np.exp(eta * game.A @ y)) ** (1 / (1 + eta * game.tau))
    np.testing.assert_allclose(np.exp(s.u), w / w.sum(), rtol=1e-12)


def test_mirror_prox_is_pu_reparametrised():
    """Mirror Prox(γ) ≡ PU(γ/(1+γτ)) iterate by iterate."""
    game = random_matrix_game(5, 4, tau=0.3, seed=7)
    gamma = 0.8
    a = b = mg.MatrixState(np.full(5, -np.log(5)), np.full(4, -np.log(4)))
    for _ in range(50):
        a = mg.step_mirror_prox(a, game, gamma)
        b = mg.step_pu(b, game, gamma / (1 + gamma * game.tau))
        np.testing.assert_allclose(np.r_[a.u, a.v], np.r_[b.u, b.v], rtol=0, atol=1e-12)


def test_omwu_step_uses_previous_midpoint():
    rng = np.random.default_rng(8)
    game = random_matrix_game(3, 3, tau=0.1, seed=9)
    eta, tau, A = 0.2, game.tau, game.A
    x, y = _peaked(rng, 3, 1.0), _peaked(rng, 3, 1.0)
    state = mg.MatrixState(np.log(x), np.log(y))
    state = mg.step_omwu(mg.step_omwu(state, game, eta), game, eta)

    def upd(p, g):
        w = p ** (1 - eta * tau) * np.exp(eta * g)
        return w / w.sum()
    xb, yb = upd(x, A @ y), upd(y, -A.T @ x)                 # midpoint 1 (predictor = ζ_0)
    x1, y1 = upd(x, A @ yb), upd(y, -A.T @ xb)
    xb2, yb2 = upd(x1, A @ yb), upd(y1, -A.T @ xb)           # midpoint 2 uses midpoint 1
    x2, y2 = upd(x1, A @ yb2), upd(y1, -A.T @ xb2)
    np.testing.assert_allclose(np.exp(state.u), x2, rtol=1e-12)
    np.testing.assert_allclose(np.exp(state.v), y2, rtol=1e-12)


def _every(err, bound):
    mask = bound >= 1e-11
    assert np.all(err[mask] <= bound[mask] * (1 + 1e-9) + 1e-12)


@FAST
@given(matrix_games(tau_min=1e-2), st.integers(0, 2**32 - 1))
def test_pu_linear_rate_every_iteration(game, seed):
    """PU with η = 1/(τ + 2‖A‖_max): KL(ζ*‖ζ_t) ≤ (1−ητ)^t KL_0 (Cen et al. 2105.15186,
    recalled [U], consistent with the derived single-player analysis)."""
    rng = np.random.default_rng(seed)
    eta = 1.0 / (game.tau + 2 * game.scale)
    tr = run_matrix_game(game, "pu", eta=eta, iterations=150,
                         init=(_peaked(rng, game.m), _peaked(rng, game.n)))
    k = np.arange(151)
    _every(tr["kl"], (1 - eta * game.tau) ** k * tr["kl"][0])


@FAST
@given(matrix_games(tau_min=1e-2), st.integers(0, 2**32 - 1))
def test_mmd_per_step_contraction(game, seed):
    """MMD with η = τ/L²: KL_{t+1} ≤ KL_t/(1+ητ) (Sokota et al. 2206.05825; theorem
    number unverified, holds numerically [D])."""
    rng = np.random.default_rng(seed)
    eta = game.tau / game.scale**2
    tr = run_matrix_game(game, "mmd", eta=eta, iterations=150,
                         init=(_peaked(rng, game.m), _peaked(rng, game.n)))
    kl = tr["kl"]
    _every(kl[1:], kl[:-1] / (1 + eta * game.tau))


def test_omwu_converges_linearly():
    """OMWU: slope only (the recalled constant of Cen et al. is off by up to 0.6 %)."""
    game = random_matrix_game(6, 5, tau=0.1, seed=10)
    eta = min(1 / (2 * game.tau + 2 * game.scale), 1 / (4 * game.scale))
    kl = run_matrix_game(game, "omwu", eta=eta, iterations=600)["kl"]
    assert kl[-1] <= 1e-12
    k = np.arange(50, 300)
    slope = np.polyfit(k, np.log(kl[k]), 1)[0]
    assert slope <= np.log(1 - eta * game.tau)  # at least the rate 1 − ητ


def test_mirror_prox_ergodic_gap_decays_like_one_over_t():
    """τ = 0, γ = 1/L: the duality gap of the midpoint average decays like 1/T (slope −1 in
    log–log ± 0.25); the last iterate need not converge. The Nemirovski constant
    L·ln(mn)/T is [U]; observed ratio ≤ 0.78 on these instances (not asserted)."""
    for seed in range(2):
        game = random_matrix_game(6, 5, tau=0.0, seed=seed)
        tr = run_matrix_game(game, "mirror-prox", eta=1 / game.scale, iterations=800)
        gap = tr["average_duality_gap"]
        k = np.arange(80, 801)
        slope = np.polyfit(np.log(k), np.log(gap[k]), 1)[0]
        assert -1.25 <= slope <= -0.75, slope


@pytest.mark.parametrize("method, eta", [("pu", 0.3), ("omwu", 0.3), ("mirror-prox", 0.5),
                                         ("mmd", 0.3)])
def test_each_solver_reaches_the_qre(method, eta, backend):
    if backend == "cuda":
        pytest.skip("matrix games have no CUDA kernel (test_backends checks the ValueError)")
    game = random_matrix_game(5, 4, tau=0.5, seed=11)
    tr = run_matrix_game(game, method, eta=eta, iterations=400, backend=backend)
    assert tr.params["backend"] == backend
    assert tr["kl"][-1] <= 1e-10 and tr["duality_gap"][-1] <= 1e-10
    np.testing.assert_allclose(tr["exploitability"], tr["duality_gap"] / 2)
    np.testing.assert_allclose(tr.policy, qre(game).policy, atol=1e-6)


def test_batch_run_equals_separate_runs():
    game = random_matrix_game(3, 4, tau=0.1, seed=12, batch_shape=(3,))
    for method in mg.MATRIX_METHODS:
        batch = run_matrix_game(game, method, eta=0.3, iterations=40)
        for i in range(3):
            one = run_matrix_game(game[i], method, eta=0.3, iterations=40)
            np.testing.assert_allclose(batch["kl"][:, i], one["kl"], rtol=1e-13, atol=1e-300)
            np.testing.assert_allclose(batch.policy[i], one.policy, rtol=1e-13)


# ---- validation -------------------------------------------------------------------------

@pytest.mark.parametrize("A, tau, err, match", [
    ([1.0, 2.0], 0.1, ValueError, "at least 2 dimensions"),
    ([[np.nan]], 0.1, ValueError, "finite"),
    ([["a"]], 0.1, TypeError, "real numbers"),
    (np.zeros((0, 2)), 0.1, ValueError, "at least one row"),
    ([[1.0]], -0.1, ValueError, "tau must be"),
    ([[1.0]], True, TypeError, "tau must be a real number"),
])
def test_matrix_game_rejects_bad_input(A, tau, err, match):
    with pytest.raises(err, match=match):
        MatrixGame(A, tau)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"method": "sgd"}, ValueError, "method must be one of"),
    ({"eta": 0.0}, ValueError, "eta must be >"),
    ({"eta": 20.0}, ValueError, r"eta·tau ≤ 1"),
    ({"iterations": 2.0}, TypeError, "iterations must be an integer"),
    ({"iterations": -1}, ValueError, "iterations must be ≥ 0"),
    ({"track": ("kl", "span")}, ValueError, "track must be"),
    ({"init": np.ones(3) / 3}, TypeError, "init must be a pair"),
    ({"init": (np.ones(2) / 2, np.ones(2) / 2)}, ValueError, "init.1. must have length 3"),
    ({"init": (np.array([1.0, 0.0]), np.ones(3) / 3)}, ValueError, "strictly positive"),
    ({"backend": "cuda"}, ValueError, "no CUDA kernel"),
    ({"backend": "jax"}, ValueError, "backend must be one of"),
])
def test_run_matrix_game_rejects_bad_arguments(kwargs, err, match):
    game = random_matrix_game(2, 3, tau=0.1, seed=0)
    args = {"method": "pu", "eta": 0.1, "iterations": 3} | kwargs
    with pytest.raises(err, match=match):
        run_matrix_game(game, args.pop("method"), **args)


def test_qre_rejects_bad_arguments():
    with pytest.raises(TypeError, match="MatrixGame"):
        qre(np.eye(2))
    with pytest.raises(ValueError, match="method must be one of"):
        qre(MatrixGame(np.eye(2), 0.1), method="simplex")
    with pytest.raises(ValueError, match="needs tau = 0"):
        qre(MatrixGame(np.eye(2), 0.1), method="lp")
    with pytest.raises(ValueError, match="needs tau > 0"):
        qre(MatrixGame(np.eye(2), 0.0), method="newton")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game=matrix_games(), method=st.sampled_from(["pu", "omwu", "mirror-prox", "mmd"]),
       batch=st.sampled_from([(), (3,)]), seed=st.integers(0, 2**16))
def test_compiled_backend_follows_the_reference_steps(game, method, batch, seed):
    """backend="numba" (``_kernels_matrix``, one call per step) gives the reference iterates,
    metrics and Mirror-Prox average to 1e-12, from a peaked start, every iteration."""
    if batch:
        game = MatrixGame(np.broadcast_to(game.A, batch + game.A.shape), game.tau)
    rng = np.random.default_rng(seed)
    init = (_peaked(rng, game.m), _peaked(rng, game.n))
    eta = {"pu": 0.5, "omwu": 0.5, "mirror-prox": 1.0, "mmd": 0.5}[method]
    eta = min(eta, 1.0 / game.tau) if method in ("pu", "omwu") else eta
    ref = run_matrix_game(game, method, eta=eta, iterations=6, init=init, backend="numpy")
    fast = run_matrix_game(game, method, eta=eta, iterations=6, init=init, backend="numba")
    assert fast.params["backend"] == "numba" and ref.params["backend"] == "numpy"
    assert set(fast.metrics) == set(ref.metrics)
    scale = max(1.0, float(np.max(np.abs(np.log(ref.policy)))))
    np.testing.assert_allclose(np.log(fast.policy), np.log(ref.policy), rtol=0, atol=1e-12 * scale)
    for name in ref.metrics:
        np.testing.assert_allclose(fast[name], ref[name], rtol=1e-9, atol=1e-12 * scale)
    if method == "mirror-prox":
        np.testing.assert_allclose(fast.average_policy, ref.average_policy, rtol=0, atol=1e-13)
