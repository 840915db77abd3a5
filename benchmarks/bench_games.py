"""Compiled kernels for preference games against baselines measured in the same run.

Rows (each reports the ratio of medians, the problem size, the backend and the machine):

1. One Nash-MP iteration on a single game at n = 4096, packed numba kernel (float64 and
   float32 storage) against two dense NumPy matrix-vector products (the memory floor of
   the dense update). Goal: ≤ 0.6× two dense products.
2. B = 10 000 games of n = 10 actions, Nash-MP: ``run_batched`` with the numba kernel
   against the NumPy batched reference (goal ≥ 10×) and against a per-game loop (PyTorch if
   importable, else NumPy; goal ≥ 100×). The per-game loop runs on a subset of the games and
   is compared per game-iteration (the label says how many games it ran).
3. MMD on a 100-action game: against OpenSpiel's MMD (``MMDDilatedEnt``) on the same game and
   iterations when ``open_spiel`` imports (the ``bench`` extra; otherwise the row says why it
   is skipped), after checking that both give the same policies; and against the NumPy
   reference.
4. Busy machine (issue 11): the batched kernel of row 2 against the NumPy batched reference,
   on the quiet machine and while a second process keeps one core busy
   (``bench_dp.busy_core``); each row says the load average before it was measured.
5. The log-log plot ``scaling.png`` of the time per Nash-MP iteration against n: NumPy dense
   reference steps vs the packed numba kernel, written to ``out`` (``nashlab bench --out
   DIR``; run as a module: ``--out DIR``, default ``benchmarks/`` for the full run and
   ``./bench-report`` for ``--quick``).

Compilation is excluded (every kernel is warmed up on the same signature first). Run as
``python -m nashlab.benchmarks.bench_games [--quick] [--out DIR]`` or through ``nashlab bench``.
"""

import os
import platform
import time
from pathlib import Path

import numpy as np

from nashlab.games import random_preference, random_reference
from nashlab.solvers import nlhf
from nashlab.solvers import packed as pk
from nashlab.solvers.batched import run_batched
from nashlab.solvers.oracles import ExactOracle

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """platform / CPU / cores / numba threads."""
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"numba {numba.__version__} ({numba.get_num_threads()} threads), "
            f"NumPy {np.__version__}, Python {platform.python_version()}")


def interleaved_medians(functions, repeats, warmup=0.0):
    """Median wall time of each function, run in turns so that they share the load.

    ``warmup``: before each timed call, the function runs untimed for at least this many
    seconds. Then the worker threads of the previous function (OpenBLAS spins for about
    0.1 s after a product) are idle, and the function's own threads are awake: on this VM a
    numba parallel region that starts after ≥ 50 ms of idleness waits about 1 ms for its
    threads (measured), so neither a sleep nor back-to-back alternation gives steady times.
    """
    times = [[] for _ in functions]
    for _ in range(repeats):
        for fn, bucket in zip(functions, times, strict=True):
            start = time.perf_counter()
            while True:
                fn()
                if time.perf_counter() - start >= warmup:
                    break
            t0 = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def _row(benchmark, size, backend, candidate, baseline, goal, met, **extra):
    return {"benchmark": benchmark, "size": size, "backend": backend,
            "candidate_s": candidate, "baseline_s": baseline,
            "ratio": candidate / baseline if goal.startswith("≤") else baseline / candidate,
            "goal": goal, "met": met, "machine": machine(), **extra}


# ---- 1. large single game ----------------------------------------------------------------

def _packed_iteration(packed, game, iterations):
    def fn():
        pk.nash_mp(packed, log_reference=game.log_reference, beta=game.beta, eta=2.0,
                   iterations=iterations)
    return fn


def bench_large_game(quick):
    n, per_call = 4096, 5
    game = random_preference(n, beta=0.1, seed=0, reference=random_reference(n, seed=1))
    A = np.ascontiguousarray(game.A)
    x = game.reference.copy()

    def two_gemv():
        A @ x
        A @ x

    rows = []
    for dtype in (np.float64, np.float32):
        packed = pk.pack_game(game, dtype=dtype)
        _packed_iteration(packed, game, 1)()  # compile
        cand, base = interleaved_medians([_packed_iteration(packed, game, per_call), two_gemv],
                                         5 if quick else 15, warmup=0.2)
        cand /= per_call
        ratio = cand / base
        rows.append(_row("Nash-MP iteration, one game", f"n={n}",
                         f"numba packed {np.dtype(dtype).name} vs 2 dense NumPy gemv (float64)",
                         cand, base, "≤ 0.6x", ratio <= 0.6))
    return rows


# ---- 2. batches of small games -----------------------------------------------------------

def _per_game_loop(game, eta, iterations):
    """Nash-MP game by game: PyTorch (float64) if importable, else NumPy."""
    beta = game.beta
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        As = [torch.from_numpy(np.ascontiguousarray(a)) for a in game.A]
        lmu = torch.from_numpy(np.array(game.log_reference))  # a writable copy

        def prox(ell, g):
            return torch.log_softmax((ell + eta * beta * lmu + eta * g) / (1 + eta * beta), 0)

        def run():
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # tiny per-game tensors: threads only add overhead
            try:
                for A in As:
                    ell = torch.log_softmax(lmu.clone(), 0)
                    for _ in range(iterations):
                        half = prox(ell, A @ torch.exp(ell))
                        ell = prox(ell, A @ torch.exp(half))
            finally:
                torch.set_num_threads(threads)
        return run, "PyTorch (float64, 1 thread)"

    from nashlab.solvers.prox import prox_step

    def run():
        for A in game.A:
            ell = game.log_reference.copy()
            for _ in range(iterations):
                half = prox_step(ell, A @ np.exp(ell), eta=eta, beta=beta,
                                 log_reference=game.log_reference)
                ell = prox_step(ell, A @ np.exp(half), eta=eta, beta=beta,
                                log_reference=game.log_reference)
    return run, "NumPy"


def bench_batched(quick):
    B, n, eta = 10_000, 10, 2.0
    iterations = 100 if quick else 1000
    subset = 20 if quick else 100
    game = random_preference(n, beta=0.1, seed=0, batch_shape=(B,))
    run_batched(game[:2], "nash-mp", eta=eta, iterations=2, backend="numba")  # compile

    def numba_run():
        run_batched(game, "nash-mp", eta=eta, iterations=iterations, backend="numba")

    def numpy_run():
        run_batched(game, "nash-mp", eta=eta, iterations=iterations, backend="numpy")

    loop, loop_name = _per_game_loop(game[:subset], eta, iterations)
    repeats = 3
    cand, numpy_base, loop_base = interleaved_medians([numba_run, numpy_run, loop], repeats)
    loop_per_game = loop_base / subset
    size = f"B={B}, n={n}, {iterations} iterations"
    return [
        _row("Nash-MP, batched games", size, "numba kernel vs NumPy batched reference",
             cand, numpy_base, "≥ 10x", numpy_base / cand >= 10),
        _row("Nash-MP, batched games", size,
             f"numba kernel vs per-game {loop_name} loop (time per game-iteration; the loop ran "
             f"{subset} of the {B} games)",
             cand / B, loop_per_game, "≥ 100x", loop_per_game / (cand / B) >= 100),
    ]


def bench_batched_busy(quick):
    """Row 2's numba kernel vs the NumPy batched reference, quiet and with one core busy."""
    from nashlab.benchmarks.bench_dp import _spread, numba_threads, quiet_and_busy

    B, n, eta = 10_000, 10, 2.0
    iterations, repeats = (50, 5) if quick else (200, 9)
    game = random_preference(n, beta=0.1, seed=0, batch_shape=(B,))
    run_batched(game[:2], "nash-mp", eta=eta, iterations=2, backend="numba")  # compile

    def numba_run():
        run_batched(game, "nash-mp", eta=eta, iterations=iterations, backend="numba")

    def numpy_run():
        run_batched(game, "nash-mp", eta=eta, iterations=iterations, backend="numpy")

    def measure(steps):
        times = [[] for _ in steps]
        for _ in range(repeats):
            for fn, bucket in zip(steps, times, strict=True):
                t0 = time.perf_counter()
                fn()
                bucket.append(time.perf_counter() - t0)
        return [float(np.median(t)) for t in times], times

    rows = []
    for condition, load, (cand, base), samples in quiet_and_busy([numba_run, numpy_run],
                                                                  measure):
        rows.append(_row(f"Nash-MP, batched games, {condition}",
                         f"B={B}, n={n}, {iterations} iterations",
                         f"numba kernel vs NumPy batched reference ({numba_threads()})",
                         cand, base, "≥ 10x", base / cand >= 10, load=load,
                         spread=_spread(samples)))
    return rows


# ---- 3. MMD on a 100-action game ---------------------------------------------------------

def _openspiel_mmd(A, beta, eta):
    """OpenSpiel's MMD (``MMDDilatedEnt``, dilated entropy, uniform magnet) on the zero-sum
    matrix game with payoff A, turned into a sequential game as that solver requires.

    Returns (solver, read) with read() → the two players' current policies (2, n).
    """
    import pyspiel
    from open_spiel.python.algorithms.mmd_dilated import MMDDilatedEnt
    from open_spiel.python.algorithms.sequence_form_utils import get_action_from_key

    game = pyspiel.convert_to_turn_based(pyspiel.create_matrix_game(A.tolist(), (-A).tolist()))
    solver = MMDDilatedEnt(game, alpha=beta, stepsize=eta)

    def read():
        out = np.zeros((2, A.shape[0]))
        for player in range(2):
            for key, index in solver.infoset_actions_to_seq[player].items():
                if "EMPTY" not in key:
                    out[player, get_action_from_key(key)] = solver.sequences[player][index]
        return out

    return solver, read


def bench_mmd(quick):
    """MMD on a 100-action game with the uniform magnet (the magnet of OpenSpiel's MMD).

    A preference game is a symmetric zero-sum matrix game (payoff A = P − ½): from the uniform
    policy both players of the two-player MMD (Sokota et al. arXiv 2206.05825, α = β, step η)
    follow the symmetric single-policy iterates that nashlab's kernel computes; the benchmark
    checks that the two implementations agree before it times them.
    """
    n, beta, eta = 100, 0.1, 0.4
    iterations = 200 if quick else 2000
    game = random_preference(n, beta=beta, seed=0)
    run_batched(game, "mmd", eta=eta, iterations=2, backend="numba")
    rows = []
    try:
        import open_spiel  # noqa: F401
    except ImportError:
        rows.append({"benchmark": "MMD, 100-action matrix game", "size": f"n={n}",
                     "backend": "numba vs OpenSpiel MMD",
                     "skipped": "open_spiel is not installed (pip install 'nashlab[bench]')",
                     "machine": machine()})
    else:
        peer_iterations = 100 if quick else 500
        solver, read = _openspiel_mmd(game.A, beta, eta)
        for _ in range(peer_iterations):
            solver.update_sequences()
        ours = run_batched(game, "mmd", eta=eta, iterations=peer_iterations, backend="numba")
        disagreement = float(np.max(np.abs(read() - ours.policy)))

        def openspiel_run():
            peer, _ = _openspiel_mmd(game.A, beta, eta)
            for _ in range(peer_iterations):
                peer.update_sequences()

        def ours_run():
            run_batched(game, "mmd", eta=eta, iterations=peer_iterations, backend="numba")

        cand, base = interleaved_medians([ours_run, openspiel_run], 3)
        rows.append(_row("MMD, 100-action matrix game", f"n={n}, {peer_iterations} iterations",
                         f"numba kernel vs OpenSpiel MMDDilatedEnt (policies agree to "
                         f"{disagreement:.1e})", cand, base, "none (information)", None,
                         max_policy_difference=disagreement))

    def numba_run():
        run_batched(game, "mmd", eta=eta, iterations=iterations, backend="numba")

    def numpy_run():
        state, oracle = nlhf.init_state(game), ExactOracle(game)
        for _ in range(iterations):
            state = nlhf.step_mmd(state, game, oracle, eta)

    cand, base = interleaved_medians([numba_run, numpy_run], 3 if quick else 7)
    rows.append(_row("MMD, 100-action matrix game", f"n={n}, {iterations} iterations",
                     "numba kernel vs NumPy reference steps (speed-up)", cand, base,
                     "none (information)", None))
    return rows


# ---- 5. scaling plot -----------------------------------------------------------------------

def scaling_plot(quick, path):
    """Measure the time per Nash-MP iteration against n and draw it to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [256, 1024, 4096] if quick else [256, 512, 1024, 2048, 4096]
    per_call = 5
    dense, packed64, packed32 = [], [], []
    for n in sizes:
        game = random_preference(n, beta=0.1, seed=n)
        oracle = ExactOracle(game)

        def numpy_iterations(game=game, oracle=oracle):
            state = nlhf.init_state(game)
            for _ in range(per_call):
                state = nlhf.step_nash_mp(state, game, oracle, 2.0)

        p64, p32 = pk.pack_game(game), pk.pack_game(game, dtype=np.float32)
        for p in (p64, p32):
            _packed_iteration(p, game, 1)()
        times = interleaved_medians([numpy_iterations, _packed_iteration(p64, game, per_call),
                                     _packed_iteration(p32, game, per_call)], 3 if quick else 7,
                                    warmup=0.2)
        for bucket, t in zip((dense, packed64, packed32), times, strict=True):
            bucket.append(t / per_call)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(sizes, dense, "o-", label="NumPy dense (nlhf reference)")
    ax.loglog(sizes, packed64, "s-", label="numba packed float64")
    ax.loglog(sizes, packed32, "^-", label="numba packed float32")
    ax.set_xlabel("actions n")
    ax.set_ylabel("seconds per Nash-MP iteration")
    ax.set_title("Nash-MP iteration time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"scaling plot: {path}")
    print("n | NumPy dense reference | numba packed float64 | numba packed float32 (s/iteration)")
    for row in zip(sizes, dense, packed64, packed32, strict=True):
        print(" | ".join(f"{v:.3g}" for v in row))
    return {"n": sizes, "numpy_dense_s": dense, "numba_packed64_s": packed64,
            "numba_packed32_s": packed32}


def main(quick: bool = False, out=None) -> list[dict]:
    """The rows of benchmarks 1-4; the scaling plot goes to ``out/scaling.png`` (``out``
    None: ``benchmarks/`` for the full run, the committed figure; ``./bench-report`` for
    ``quick``)."""
    rows = (bench_large_game(quick) + bench_batched(quick) + bench_mmd(quick)
            + bench_batched_busy(quick))
    for row in rows:
        print(format_row(row))
    out = Path(out) if out is not None else Path("bench-report") if quick else HERE
    out.mkdir(parents=True, exist_ok=True)
    scaling_plot(quick, out / "scaling.png")
    return rows


def format_row(row) -> str:
    if "skipped" in row:
        return f"{row['benchmark']} [{row['size']}] {row['backend']}: skipped ({row['skipped']})"
    return (f"{row['benchmark']} [{row['size']}] {row['backend']}: candidate "
            f"{row['candidate_s'] * 1e3:.4g} ms, baseline {row['baseline_s'] * 1e3:.4g} ms, "
            f"ratio {row['ratio']:.3g}x (goal {row['goal']}{_verdict(row['met'])})"
            + (f"; spread {row['spread']}; load before: {row['load']}" if "load" in row else ""))


def _verdict(met):
    return "" if met is None else (": met" if met else ": NOT met")


if __name__ == "__main__":
    import argparse

    cli = argparse.ArgumentParser(prog="python -m nashlab.benchmarks.bench_games")
    cli.add_argument("--quick", action="store_true", help="small sizes")
    cli.add_argument("--out", metavar="DIR", help="folder of scaling.png")
    options = cli.parse_args()
    main(options.quick, options.out)
