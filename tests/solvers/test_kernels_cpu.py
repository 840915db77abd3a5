"""Compiled CPU kernels against the NumPy reference (``prox_step``, ``nashlab.solvers.nlhf``).

Float64 kernels must agree to 1e-12 relative to the size of the logits (rounding of the
same formulas summed in another order); policies to 1e-12 absolute.
"""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nashlab import solvers
from nashlab.games import random_preference, random_reference
from nashlab.solvers import _kernels_cpu as cpu
from nashlab.solvers import nlhf
from nashlab.solvers.backends import cuda_unavailable_reason, resolve_backend
from nashlab.solvers.batched import METHODS, run_batched
from nashlab.solvers.methods import get_method
from nashlab.solvers.oracles import ExactOracle
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.prox import step_coefficients as coefficients_of_form


def step_coefficients(method, eta, beta):
    """(a, b, c) of ``method``'s step form (the method table's row)."""
    return coefficients_of_form(get_method("preference", method).step_form, eta, beta)


TOL = 1e-12
BETAS = st.one_of(st.sampled_from([1e-4, 10.0]), st.floats(1e-3, 2.0))


def assert_logits_close(actual, expected):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL * scale)
    np.testing.assert_allclose(np.exp(actual), np.exp(expected), rtol=0, atol=TOL)


def batch_game(B, n, beta, seed):
    return random_preference(n, beta=beta, seed=seed, batch_shape=(B,),
                             reference=random_reference(n, scale=2.0, seed=seed + 1,
                                                        batch_shape=(B,)))


def step_size(method, raw, beta):
    """A step in the method's parametrisation: mirror-descent steps need η'β ≤ 1."""
    if get_method("preference", method).step_form == "mirror-descent" and beta > 0:
        return min(raw, 1.0 / beta)
    return raw


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 5), n=st.integers(1, 6), beta=BETAS,
       eta=st.one_of(st.just(math.inf), st.floats(1e-3, 50.0)),
       form=st.sampled_from(["prox", "mirror-descent"]), seed=st.integers(0, 2**16))
@example(B=1, n=1, beta=1e-4, eta=math.inf, form="prox", seed=0)
@example(B=1, n=2, beta=10.0, eta=50.0, form="mirror-descent", seed=1)
def test_fused_prox_step_matches_prox_step(B, n, beta, eta, form, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (B, n))
    logits -= np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    log_mu = np.log(rng.dirichlet(np.ones(n), size=B))
    g = rng.uniform(-0.5, 0.5, (B, n))
    if form == "mirror-descent":
        eta = 1.0 / beta if math.isinf(eta) else min(eta, 1.0 / beta)
        prox_eta = eta_from_mirror_descent(eta, beta)
        a, b, c = step_coefficients("egpo", eta, beta)
    else:
        prox_eta = eta
        a, b, c = step_coefficients("nash-mp", eta, beta)
    expected = prox_step(logits, g, eta=prox_eta, beta=beta, log_reference=log_mu)
    out = np.empty_like(logits)
    cpu.affine_steps(logits, log_mu, g, a, b, c, out)
    assert_logits_close(out, expected)


@settings(max_examples=25, deadline=None)
@given(method=st.sampled_from(METHODS), B=st.integers(1, 4), n=st.integers(1, 5),
       beta=st.one_of(BETAS, st.just(0.0)), raw_eta=st.floats(0.01, 3.0), iterations=st.integers(0, 8),
       track_every=st.one_of(st.none(), st.integers(1, 3)), seed=st.integers(0, 2**16))
@example(method="nash-mp", B=1, n=1, beta=1e-4, raw_eta=2.0, iterations=3, track_every=None,
         seed=0)
@example(method="omwu", B=1, n=2, beta=10.0, raw_eta=3.0, iterations=8, track_every=3, seed=1)
@example(method="nash-md", B=3, n=2, beta=1e-4, raw_eta=3.0, iterations=8, track_every=None,
         seed=2)
def test_run_batched_numba_matches_numpy(method, B, n, beta, raw_eta, iterations,
                                         track_every, seed):
    if beta == 0.0 and method in ("mmd", "nash-md"):
        beta = 1e-4  # these methods need β > 0
    game = batch_game(B, n, beta, seed)
    eta = step_size(method, raw_eta, beta)
    ref = run_batched(game, method, eta=eta, iterations=iterations, backend="numpy",
                      track_every=track_every)
    out = run_batched(game, method, eta=eta, iterations=iterations, backend="numba",
                      track_every=track_every)
    assert_logits_close(np.log(out.policy), np.log(ref.policy))
    np.testing.assert_array_equal(out["iteration"], ref["iteration"])
    np.testing.assert_allclose(out["exploitability"], ref["exploitability"], rtol=0,
                               atol=TOL * max(1.0, 1.0 / max(beta, 1e-4)))
    assert out.params["backend"] == "numba" and ref.params["backend"] == "numpy"


def test_numpy_backend_is_the_nlhf_reference():
    """The "numpy" backend runs the steps of ``nashlab.solvers.nlhf`` themselves."""
    game = batch_game(3, 4, 0.1, 7)
    state, oracle = nlhf.init_state(game), ExactOracle(game)
    for _ in range(5):
        state = nlhf.step_omwu(state, game, oracle, 0.7)
    out = run_batched(game, "omwu", eta=0.7, iterations=5, backend="numpy")
    np.testing.assert_array_equal(out.policy, np.exp(state.logits))


def test_run_batched_keeps_batch_shape_and_init():
    game = random_preference(3, beta=0.2, seed=1, batch_shape=(2, 3))
    init = np.array([0.2, 0.3, 0.5])
    out = run_batched(game, "nash-mp", eta=2.0, iterations=4, backend="numba", init=init,
                      track_every=3)
    ref = run_batched(game, "nash-mp", eta=2.0, iterations=4, backend="numpy", init=init,
                      track_every=3)
    assert out.policy.shape == (2, 3, 3) and out["exploitability"].shape == (3, 2, 3)
    np.testing.assert_array_equal(out["iteration"], [0, 3, 4])
    assert_logits_close(np.log(out.policy), np.log(ref.policy))


def test_single_game_is_a_batch_of_one():
    game = random_preference(5, beta=0.1, seed=3)
    out = run_batched(game, "mmd", eta=0.4, iterations=10, backend="numba")
    ref = solvers.run(game, "mmd", eta=0.4, iterations=10, track=())
    assert out.policy.shape == (5,)
    assert_logits_close(np.log(out.policy), np.log(ref.policy))


def test_nash_mp_converges_on_the_kernel():
    """Long runs stay on the reference: the kernel's Nash-MP reaches the certified π*."""
    from nashlab.solvers import equilibrium

    game = batch_game(4, 6, 0.5, 11)
    out = run_batched(game, "nash-mp", eta=2.0, iterations=200, backend="numba")
    np.testing.assert_allclose(out.policy, equilibrium(game).policy, rtol=0, atol=1e-12)


def test_backend_resolution():
    assert resolve_backend("auto", np.zeros(3)) == "numba"
    assert resolve_backend("numpy") == "numpy"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("torch")
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend(None)


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="a CUDA GPU and CuPy are here")
def test_cuda_backend_without_gpu_is_a_clear_error():
    game = random_preference(3, seed=0)
    with pytest.raises(ValueError, match="'cuda' backend needs"):
        run_batched(game, "nash-mp", eta=1.0, iterations=1, backend="cuda")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "sppo"}, ValueError, "method must be one of"),
    ({"backend": "gpu"}, ValueError, "backend must be one of"),
    ({"eta": 0.0}, ValueError, "eta must be > 0"),
    ({"eta": "1"}, TypeError, "eta must be a real number"),
    ({"method": "egpo", "eta": 11.0}, ValueError, "eta·beta ≤ 1"),
    ({"iterations": -1}, ValueError, "iterations must be ≥ 0"),
    ({"iterations": 2.0}, TypeError, "iterations must be an integer"),
    ({"track_every": 0}, ValueError, "track_every must be ≥ 1"),
    ({"init": np.array([0.5, 0.5])}, ValueError, "init must have length 3"),
    ({"init": np.array([0.0, 0.5, 0.5])}, ValueError, "init must be strictly positive"),
    ({"init": np.full((4, 3), 1 / 3)}, ValueError, r"init must have shape \(3,\) or"),
])
def test_run_batched_rejects_bad_input(kwargs, error, match):
    game = random_preference(3, beta=0.1, seed=0, batch_shape=(2,))
    args = {"method": "nash-mp", "eta": 1.0, "iterations": 3, "backend": "numba"} | kwargs
    with pytest.raises(error, match=match):
        run_batched(game, **args)


def test_run_batched_rejects_non_games_and_beta_zero():
    with pytest.raises(TypeError, match="game must be a PreferenceGame"):
        run_batched(np.eye(2), "nash-mp", eta=1.0, iterations=1)
    with pytest.raises(ValueError, match="needs beta > 0"):
        run_batched(random_preference(3, beta=0.0, seed=0), "mmd", eta=1.0, iterations=1)


@settings(max_examples=10, deadline=None)
@given(B=st.integers(1, 4), n=st.integers(1, 5), beta=BETAS,
       eta=st.one_of(st.just(math.inf), st.floats(1e-3, 50.0)), seed=st.integers(0, 2**16))
def test_public_fused_prox_step(B, n, beta, eta, seed):
    from nashlab.solvers.batched import fused_prox_step

    rng = np.random.default_rng(seed)
    logits = np.log(rng.dirichlet(np.ones(n), size=B))
    g = rng.uniform(-0.5, 0.5, (B, n))
    log_mu = np.log(rng.dirichlet(np.ones(n)))
    expected = prox_step(logits, g, eta=eta, beta=beta, log_reference=log_mu)
    for backend in ("numpy", "numba", "auto"):
        out = fused_prox_step(logits, g, eta=eta, beta=beta, log_reference=log_mu,
                              backend=backend)
        assert_logits_close(out, expected)


def test_public_fused_prox_step_rejects_bad_input():
    from nashlab.solvers.batched import fused_prox_step

    z = np.log(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="backend must be one of"):
        fused_prox_step(z, z, eta=1.0, beta=0.1, log_reference=z[0], backend="jax")
    with pytest.raises(ValueError, match="needs beta > 0"):
        fused_prox_step(z, z, eta=math.inf, beta=0.0, log_reference=z[0])
    with pytest.raises(ValueError, match="eta must be > 0"):
        fused_prox_step(z, z, eta=-1.0, beta=0.1, log_reference=z[0])
    with pytest.raises(ValueError, match=r"log_anchor must have shape \(B, n\)"):
        fused_prox_step(z[0], z[0], eta=1.0, beta=0.1, log_reference=z[0], backend="numba")


def test_kernel_exponential_within_two_ulp():
    """The batched kernel's polynomial e^x (x ≤ 0) against NumPy's, on [−708, 0] and below."""
    x = np.concatenate([-np.linspace(0.0, 708.0, 200_001), -np.logspace(-300, 2.8, 2001),
                        [-0.0, -np.log(2) / 2, -708.0]])
    out = np.empty_like(x)
    cpu.exp_nonpositive(x, out)
    expected = np.exp(x)
    assert np.all(np.abs(out - expected) <= 2 * np.spacing(expected))
    below = np.array([-708.5, -745.0, -1e4, -np.inf])
    out = np.empty_like(below)
    cpu.exp_nonpositive(below, out)
    assert np.all(out >= 0) and np.all(out <= np.exp(-708.0) * (1 + 1e-15))


def test_run_batched_many_blocks():
    """B above the block size, not a multiple of it: blocks, padding and parallel tasks."""
    B = cpu.LANES * 2 + 3
    game = batch_game(B, 3, 0.2, 5)
    for method in ("nash-mp", "omwu"):
        ref = run_batched(game, method, eta=1.0, iterations=5, backend="numpy")
        out = run_batched(game, method, eta=1.0, iterations=5, backend="numba", track_every=2)
        assert_logits_close(np.log(out.policy), np.log(ref.policy))
