"""The thread policy of the compiled kernels (``nashlab.solvers.threads``, issue 11).

* a parallel kernel call leaves PyTorch's thread count alone (numba's workqueue layer, not the
  OpenMP runtime PyTorch shares) and uses the layer a user chose;
* the thread count respects set_num_threads, NASHLAB_NUM_THREADS, NUMBA_NUM_THREADS,
  OMP_NUM_THREADS and an active threadpoolctl limit (subprocesses: numba reads its
  environment once);
* every parallel kernel equals its serial twin bitwise, called directly and through the
  public entry points (threshold forced to 0 so that small problems take the parallel path).

No test measures time (the benchmarks bench_dp / bench_games do, on a busy machine too).
"""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from nashlab.games import random_preference
from nashlab.games.matrix import random_matrix_game
from nashlab.games.mdp_problems import garnet
from nashlab.games.regularizers import KL, Entropy
from nashlab.solvers import threads
from nashlab.solvers.bellman import bellman_operator
from nashlab.solvers.kernels import RULES

ENV_NAMES = ("NASHLAB_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
             "NUMBA_THREADING_LAYER", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter with the thread variables of ``env`` only; the
    JSON it prints last."""
    environ = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def forced_parallel(monkeypatch):
    """Every kernel call of the test takes the parallel path (on 2 threads where numba's pool
    has 2)."""
    monkeypatch.setattr(threads, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(threads, "_threadpool_cap", lambda: None)  # the session's BLAS limit
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(None)


# ---- PyTorch's thread count and the threading layer ---------------------------------------

TORCH_PROBE = """
    import json
    import torch
    torch.set_num_threads(1)
    import numba
    from nashlab.games import random_preference
    from nashlab.games.mdp_problems import garnet
    from nashlab.solvers import threads
    from nashlab.solvers.batched import run_batched
    from nashlab.solvers.bellman import bellman_operator
    import numpy as np

    game = random_preference(10, beta=0.1, seed=0, batch_shape=(10_000,))
    work = 50 * 10_000 * 10 * 10
    assert threads.threads_for(work) == 2, threads.threads_for(work)  # the parallel path
    run_batched(game, "nash-mp", eta=2.0, iterations=50, backend="numba")
    after_batched = torch.get_num_threads()
    threads.PARALLEL_MIN_WORK = 0  # the Bellman kernel's parallel path on a small MDP
    mdp = garnet(200, 4, 5, seed=0, sparse=True)
    bellman_operator(mdp, np.zeros(200), backend="numba")
    print(json.dumps({"after_batched": after_batched, "after_bellman": torch.get_num_threads(),
                      "layer": numba.threading_layer(), "numba": numba.get_num_threads()}))
"""


def test_parallel_kernels_leave_torch_threads_alone():
    pytest.importorskip("torch")
    got = run_python(TORCH_PROBE, NASHLAB_NUM_THREADS="2", NUMBA_NUM_THREADS="2")
    assert got == {"after_batched": 1, "after_bellman": 1, "layer": "workqueue", "numba": 2}


def test_a_chosen_threading_layer_is_kept():
    got = run_python("""
        import json, numba
        from nashlab.solvers import threads
        from nashlab.solvers.batched import run_batched
        from nashlab.games import random_preference
        threads.PARALLEL_MIN_WORK = 0
        run_batched(random_preference(4, seed=0, batch_shape=(3,)), "mmd", eta=1.0,
                    iterations=2, backend="numba")
        print(json.dumps(numba.threading_layer()))
    """, NUMBA_THREADING_LAYER="omp", NUMBA_NUM_THREADS="2")
    assert got == "omp"


def test_cached_serial_packed_kernel_loads_before_any_parallel_call():
    """The packed Nash-MP loop (serial, calling the parallel product) loaded from numba's
    cache in a fresh process whose first kernel call is serial (it links the parallel-region
    symbols numba registers when it starts its pool: a segfault was seen once). Twice: the
    second process loads what the first cached."""
    code = """
        import json
        import numpy as np
        import nashlab
        from nashlab.games import random_preference
        from nashlab.solvers import nlhf
        nlhf.PACKED_MIN_N = 64  # the packed path (read-only log-reference of the game)
        game = random_preference(70, beta=0.05, seed=3)
        out = nashlab.run(game, "nash-mp", eta=1.5, iterations=3, track=(), backend="numba")
        print(json.dumps(bool(np.all(np.isfinite(out.policy)))))
    """
    assert run_python(code) is True
    assert run_python(code) is True


# ---- the thread count --------------------------------------------------------------------

COUNT_PROBE = """
    import json, numba
    from nashlab.solvers import threads
    from nashlab.solvers.batched import run_batched
    from nashlab.games import random_preference
    big = threads.PARALLEL_MIN_WORK
    game = random_preference(10, beta=0.1, seed=0, batch_shape=(1000,))
    run_batched(game, "nash-mp", eta=2.0, iterations=50, backend="numba")  # 5e6 multiply-adds
    print(json.dumps({"small": threads.threads_for(big - 1), "large": threads.threads_for(big),
                      "pool": numba.config.NUMBA_NUM_THREADS,
                      "used": numba.get_num_threads()}))
"""


@pytest.mark.parametrize("env, large", [
    ({"NUMBA_NUM_THREADS": "1"}, 1),
    ({"NUMBA_NUM_THREADS": "2"}, 2),
    ({"NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, 2),  # numba's own variable first
    ({"NUMBA_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OMP_NUM_THREADS": "1,2"}, 1),  # nested OpenMP levels: the outer one
    ({"NASHLAB_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}, 1),
    ({"NASHLAB_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "3"}, 2),
    ({"NASHLAB_NUM_THREADS": "8", "NUMBA_NUM_THREADS": "2"}, 2),  # capped by numba's pool
])
def test_thread_count_respects_the_environment(env, large):
    got = run_python(COUNT_PROBE, **env)
    assert got["small"] == 1  # below the work threshold: serial
    assert got["large"] == large
    if large > 1:  # the large call ran on that many threads
        assert got["used"] == large


def test_default_thread_count_is_the_affinity():
    got = run_python(COUNT_PROBE)
    assert got["large"] == min(len(os.sched_getaffinity(0)), got["pool"])


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_environment_value_is_a_value_error_naming_it(monkeypatch, value):
    monkeypatch.setenv("NASHLAB_NUM_THREADS", value)
    with pytest.raises(ValueError, match="NASHLAB_NUM_THREADS"):
        threads.num_threads()


def test_set_num_threads():
    try:
        threads.set_num_threads(1)
        assert threads.threads_for(10**12) == 1
        threads.set_num_threads(np.int64(2))
        assert threads.requested_threads() == 2
    finally:
        threads.set_num_threads(None)
    with pytest.raises(TypeError, match="k must be"):
        threads.set_num_threads(1.5)
    with pytest.raises(TypeError, match="k must be"):
        threads.set_num_threads(True)
    with pytest.raises(ValueError, match="k must be >= 1"):
        threads.set_num_threads(0)


def test_set_num_threads_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("NASHLAB_NUM_THREADS", "1")
    assert threads.requested_threads() == 1
    try:
        threads.set_num_threads(2)
        assert threads.requested_threads() == 2
    finally:
        threads.set_num_threads(None)


def test_threadpoolctl_limit_is_respected():
    pytest.importorskip("threadpoolctl")
    got = run_python("""
        import json, numpy, threadpoolctl
        from nashlab.solvers import threads
        inside = None
        with threadpoolctl.threadpool_limits(limits=1):
            inside = [threads.num_threads(), threads.threads_for(10**12)]
        print(json.dumps({"inside": inside, "after": threads.num_threads()}))
    """, NUMBA_NUM_THREADS="2", NASHLAB_NUM_THREADS="2")
    assert got == {"inside": [1, 1], "after": 2}


# ---- serial twin == parallel kernel, bitwise ----------------------------------------------

def _blocks(G, n, L, seed):
    rng = np.random.default_rng(seed)
    A = rng.uniform(-0.5, 0.5, (G, n, n, L))
    A = A - np.swapaxes(A, 1, 2)  # antisymmetric, as A = P - 1/2
    logits = rng.normal(0, 1, (G, n, L))
    logits -= np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    log_mu = np.log(rng.dirichlet(np.ones(n), size=(G, L))).transpose(0, 2, 1).copy()
    predictor = rng.uniform(-0.5, 0.5, (G, n, L))
    return A, log_mu, logits, predictor


@pytest.mark.parametrize("rule", sorted(RULES.values()))
def test_run_games_serial_equals_parallel(rule):
    from nashlab.solvers import _kernels_cpu as cpu

    A, log_mu, logits, predictor = _blocks(5, 4, 8, seed=rule)
    outs = []
    for kernel in (cpu.run_games, cpu.run_games_serial):
        state, g = logits.copy(), predictor.copy()
        kernel(A, log_mu, state, g, rule, 0.7, 0.2, 0.3, 7)
        outs.append((state, g))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_affine_steps_serial_equals_parallel():
    from nashlab.solvers import _kernels_cpu as cpu

    rng = np.random.default_rng(3)
    logits, log_mu, g = (rng.normal(0, 1, (33, 6)) for _ in range(3))
    a, b = np.empty_like(logits), np.empty_like(logits)
    cpu._affine_steps_parallel(logits, log_mu, g, 0.5, 0.25, 0.4, a)
    cpu._affine_steps_serial(logits, log_mu, g, 0.5, 0.25, 0.4, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packed_kernels_serial_equal_parallel(dtype):
    from nashlab.solvers import _kernels_cpu as cpu
    from nashlab.solvers import packed as pk

    n = 150
    game = random_preference(n, beta=0.1, seed=1)
    packed = pk.pack_game(game, dtype=dtype, tile=16)
    chunks = 3
    bounds = np.linspace(0, len(packed.tiles), chunks + 1).round().astype(np.int64)
    base = (packed.tiles, packed.tile_rows, packed.tile_cols, bounds)
    x = np.zeros(packed.size)
    x[:n] = np.random.default_rng(0).dirichlet(np.ones(n))
    out = [np.empty(packed.size) for _ in range(2)]
    cpu._packed_matvec_parallel(*base, np.zeros((chunks, packed.size)), x, out[0])
    cpu._packed_matvec_serial(*base, np.zeros((chunks, packed.size)), x, out[1])
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_allclose(out[0][:n], game.A @ x[:n], rtol=0,
                               atol=1e-12 if dtype == np.float64 else 1e-5)
    logits = []
    for serial in (False, True):
        ell = np.array(game.log_reference)
        cpu._nash_mp_packed(*base, np.zeros((chunks, packed.size)), ell,
                            np.array(game.log_reference), 0.8, 0.2, 0.5, 5, serial)
        logits.append(ell)
    np.testing.assert_array_equal(logits[0], logits[1])


@pytest.mark.parametrize("rule", [0, 1, 3])
def test_matrix_games_serial_equals_parallel(rule):
    from nashlab.solvers import _kernels_matrix as km

    rng = np.random.default_rng(rule)
    B, m, n = 7, 4, 5
    A = rng.uniform(-1, 1, (B, m, n))
    u0 = np.log(rng.dirichlet(np.ones(m), size=B))
    v0 = np.log(rng.dirichlet(np.ones(n), size=B))
    outs = []
    for kernel in (km.run_matrix_games, km.run_matrix_games_serial):
        state = [u0.copy(), v0.copy(), A[:, :, 0].copy(), -A[:, 0, :].copy(),
                 np.zeros((B, m)), np.zeros((B, n))]
        kernel(A, *state, rule, 0.8, 0.1, 0.3, 6)
        outs.append(state)
    for parallel, serial in zip(*outs, strict=True):
        np.testing.assert_array_equal(parallel, serial)


@pytest.mark.parametrize("regularizer", [None, Entropy(0.3), "kl"])
def test_bellman_serial_equals_parallel(regularizer):
    from nashlab.solvers import _kernels_dp as kd

    S, A = 300, 4
    mdp = garnet(S, A, 6, seed=2, sparse=True)
    tau, log_reference = 0.0, np.zeros((1, 1))
    if regularizer is not None:
        tau, log_reference = 0.3, np.zeros((S, A))
        if regularizer == "kl":
            log_reference = np.log(np.random.default_rng(0).dirichlet(np.ones(A), size=S))
    P = mdp.P_flat
    v = np.random.default_rng(1).normal(0, 1, S)
    args = (P.indptr, P.indices, P.data, mdp.r.ravel(), mdp.gamma, v, A, tau, log_reference)
    np.testing.assert_array_equal(kd.csr_bellman(*args), kd.csr_bellman_serial(*args))


# ---- the public entry points: forced parallel == serial ------------------------------------

def _public_results():
    from nashlab.solvers import packed as pk
    from nashlab.solvers.batched import fused_prox_step, run_batched
    from nashlab.solvers.matrix_games import run_matrix_game

    pref = random_preference(6, beta=0.1, seed=4, batch_shape=(300,))
    results = {f"batched {m}": run_batched(pref, m, eta=0.5, iterations=4, backend="numba").policy
               for m in ("nash-mp", "mmd", "nash-md", "omwu")}
    mg = random_matrix_game(4, 5, tau=0.1, seed=5, batch_shape=(9,))
    for method in ("pu", "omwu", "mirror-prox", "mmd"):
        traj = run_matrix_game(mg, method, eta=0.3, iterations=5, backend="numba", track=())
        results[f"matrix {method}"] = np.concatenate([np.ravel(p) for p in traj.policy])
    rng = np.random.default_rng(6)
    logits, g = rng.normal(0, 1, (20, 6)), rng.normal(0, 1, (20, 6))
    logits -= np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    results["fused prox"] = fused_prox_step(logits, g, eta=0.5, beta=0.1,
                                            log_reference=np.zeros((20, 6)) - np.log(6))
    one = random_preference(70, beta=0.1, seed=7)
    packed = pk.pack_game(one, tile=16)
    results["packed matvec"] = pk.matvec(packed, one.reference)
    results["packed nash-mp"] = pk.nash_mp(packed, log_reference=one.log_reference, beta=0.1,
                                           eta=2.0, iterations=3)
    mdp = garnet(200, 3, 4, seed=8, sparse=True)
    v = np.random.default_rng(9).normal(0, 1, 200)
    for reg in (None, Entropy(0.2), KL(0.2, np.array([0.2, 0.3, 0.5]))):
        results[f"bellman {reg}"] = bellman_operator(mdp, v, reg, backend="numba")
    return results


def test_public_entry_points_parallel_equal_serial(forced_parallel):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba's pool has one thread")
    assert threads.threads_for(1) == 2  # every call below takes the parallel path
    parallel = _public_results()
    threads.set_num_threads(1)
    serial = _public_results()
    assert parallel.keys() == serial.keys()
    for key in parallel:
        if key.startswith("packed"):  # one chunk of tiles per thread: sums in another order
            np.testing.assert_allclose(parallel[key], serial[key], rtol=0, atol=1e-15,
                                       err_msg=key)
        else:
            np.testing.assert_array_equal(parallel[key], serial[key], err_msg=key)


def test_concurrent_python_threads_get_the_same_results(forced_parallel):
    """Workqueue may not be entered by two threads at once: the second runs serially."""
    from nashlab.solvers.batched import run_batched

    game = random_preference(8, beta=0.1, seed=10, batch_shape=(600,))
    expected = run_batched(game, "nash-mp", eta=0.5, iterations=30, backend="numba").policy
    results, errors = [None] * 4, []

    def work(i):
        try:
            results[i] = run_batched(game, "nash-mp", eta=0.5, iterations=30,
                                     backend="numba").policy
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    for got in results:
        np.testing.assert_array_equal(got, expected)
