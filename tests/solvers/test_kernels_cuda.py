"""numba.cuda kernels against the NumPy reference, under the CUDA simulator.

No GPU is needed: ``test_cuda_kernels_under_the_simulator`` re-runs this file in a fresh
interpreter with ``NUMBA_ENABLE_CUDASIM=1`` (the variable must be set before numba.cuda is
first imported, so it cannot be switched on inside an xdist worker that other tests share).
There, the kernel tests below run on NumPy arrays; on a machine with a GPU they run on the
device as well. Sizes are small (the simulator runs every thread in Python); batch sizes
1..5 with 4 threads per block cover partial and several blocks. CuPy-only paths (the
``backend="cuda"`` driver) are skipped without CuPy.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nashlab.games import random_preference, random_reference
from nashlab.solvers import nlhf
from nashlab.solvers import packed as pk
from nashlab.solvers.backends import cuda_unavailable_reason
from nashlab.solvers.batched import METHODS, run_batched
from nashlab.solvers.kernels import RULES
from nashlab.solvers.methods import get_method
from nashlab.solvers.oracles import ExactOracle
from nashlab.solvers.prox import prox_step
from nashlab.solvers.prox import step_coefficients as coefficients_of_form


def step_coefficients(method, eta, beta):
    """(a, b, c) of ``method``'s step form (the method table's row)."""
    return coefficients_of_form(get_method("preference", method).step_form, eta, beta)


SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
TOL = 1e-12
BETAS = st.sampled_from([1e-4, 0.3, 10.0])
kernels = pytest.mark.skipif(not SIMULATED and cuda_unavailable_reason() is not None,
                             reason="needs the CUDA simulator (run by the driver test) or a GPU")


@pytest.mark.skipif(SIMULATED, reason="the driver itself runs under the simulator")
def test_cuda_kernels_under_the_simulator():
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__).resolve()), "-n", "0",
         "-p", "no:cacheprovider", "-k", "not under_the_simulator"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout, result.stdout[-2000:]  # the four kernel tests ran


def assert_logits_close(actual, expected):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL * scale)


@kernels
@settings(max_examples=10, deadline=None)
@given(method=st.sampled_from(METHODS), B=st.integers(1, 5), n=st.integers(1, 4), beta=BETAS,
       raw_eta=st.floats(0.05, 3.0), iterations=st.integers(0, 3), seed=st.integers(0, 2**16))
@example(method="nash-mp", B=1, n=1, beta=1e-4, raw_eta=2.0, iterations=2, seed=0)
@example(method="omwu", B=5, n=2, beta=10.0, raw_eta=3.0, iterations=3, seed=1)
def test_batched_kernel_matches_numpy(method, B, n, beta, raw_eta, iterations, seed):
    from nashlab.solvers import _kernels_cuda as gpu

    game = random_preference(n, beta=beta, seed=seed, batch_shape=(B,),
                             reference=random_reference(n, scale=2.0, seed=seed + 1,
                                                        batch_shape=(B,)))
    eta = min(raw_eta, 1.0 / beta) if get_method("preference", method).step_form == "mirror-descent" else raw_eta
    ref = run_batched(game, method, eta=eta, iterations=iterations, backend="numpy")
    A = np.array(game.A)
    log_mu = np.array(game.log_reference)  # writable: the simulator copies every array back
    logits = log_mu.copy()
    predictor = np.einsum("bij,bj->bi", A, np.exp(logits))
    a, b, c = step_coefficients(method, eta, beta)
    rule = RULES[get_method("preference", method).composition]
    gpu.run_games(A, log_mu, logits, predictor, rule, a, b, c, iterations, threads=4)
    assert_logits_close(logits, np.log(ref.policy))


@kernels
@settings(max_examples=10, deadline=None)
@given(B=st.integers(1, 5), n=st.integers(1, 4), beta=BETAS,
       eta=st.sampled_from([0.01, 1.0, 100.0]), seed=st.integers(0, 2**16))
def test_fused_prox_step_kernel_matches_prox_step(B, n, beta, eta, seed):
    from nashlab.solvers import _kernels_cuda as gpu

    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (B, n))
    logits -= np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    log_mu = np.log(rng.dirichlet(np.ones(n), size=B))
    g = rng.uniform(-0.5, 0.5, (B, n))
    out = np.empty_like(logits)
    gpu.affine_steps(logits, log_mu, g, *step_coefficients("nash-mp", eta, beta), out,
                     threads=4)
    assert_logits_close(out, prox_step(logits, g, eta=eta, beta=beta, log_reference=log_mu))


@kernels
@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 10), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_packed_matvec_kernel_matches_dense(n, seed, dtype):
    from nashlab.solvers import _kernels_cuda as gpu

    game = random_preference(n, seed=seed)
    packed = pk.pack_game(game, dtype=dtype, tile=4)
    x = np.zeros(packed.size)
    x[:n] = np.random.default_rng(seed).dirichlet(np.ones(n))
    out = np.empty(packed.size)
    gpu.packed_matvec(packed.tiles, packed.tile_rows, packed.tile_cols, x, out)
    np.testing.assert_allclose(out[:n], packed.to_dense() @ x[:n], rtol=0, atol=TOL)


@kernels
@settings(max_examples=4, deadline=None)
@given(n=st.integers(1, 9), beta=BETAS, iterations=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_packed_nash_mp_kernel_matches_reference(n, beta, iterations, seed):
    from nashlab.solvers import _kernels_cuda as gpu

    game = random_preference(n, beta=beta, seed=seed,
                             reference=random_reference(n, scale=2.0, seed=seed + 1))
    state, oracle = nlhf.init_state(game), ExactOracle(game)
    for _ in range(iterations):
        state = nlhf.step_nash_mp(state, game, oracle, 2.0)
    packed = pk.pack_game(game, tile=4)
    logits = game.log_reference.copy()
    gpu.nash_mp_packed(packed.tiles, packed.tile_rows, packed.tile_cols, packed.size, logits,
                       game.log_reference.copy(), *step_coefficients("nash-mp", 2.0, beta),
                       iterations)
    assert_logits_close(logits, state.logits)


@pytest.mark.skipif(cuda_unavailable_reason() is not None,
                    reason="backend='cuda' needs CuPy and a CUDA GPU (the kernels themselves "
                           "are tested under the simulator)")
def test_cuda_backend_matches_numba():
    game = random_preference(6, beta=0.1, seed=0, batch_shape=(300,))
    for method in METHODS:
        ref = run_batched(game, method, eta=0.5, iterations=50, backend="numba")
        out = run_batched(game, method, eta=0.5, iterations=50, backend="cuda")
        assert_logits_close(np.log(out.policy), np.log(ref.policy))
    single = random_preference(300, beta=0.1, seed=1)
    packed = pk.pack_game(single)
    runs = [pk.nash_mp(packed, log_reference=single.log_reference, beta=0.1, eta=2.0,
                       iterations=20, backend=backend) for backend in ("numba", "cuda")]
    assert_logits_close(runs[1], runs[0])
