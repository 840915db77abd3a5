"""Value iteration on a sparse Garnet(S = 5000, A = 10, b = 10): nashlab vs QuantEcon's
``DiscreteDP`` (state–action-pair formulation, sparse Q) vs a plain NumPy loop.

One iteration is v ← max_a [r + γ P v]; nashlab's is ``bellman_operator(mdp, v)`` (backend
"auto": the fused numba CSR kernel), the operator value iteration applies. Ratios are of medians measured in
this run; all three must give the same iterates (checked).

"Busy machine" rows (issue 11): the same kernel against the same NumPy loop, measured on the
quiet machine and then while a second process (``busy_core``: a Python busy loop) keeps one
core busy; each row says the load average before it was measured. A parallel kernel whose
threads outnumber the free cores waits for its descheduled thread in every region (before the
thread policy of ``nashlab.solvers.threads``: 0.08x NumPy on a loaded 2-core machine).
"""

import contextlib
import os
import subprocess
import sys
import time

import numpy as np

from nashlab.benchmarks.bench_equilibrium import machine
from nashlab.games.mdp_problems import garnet
from nashlab.solvers.dp import bellman_operator


def _per_iteration(steps, v0, iterations, repeats):
    """Median seconds per iteration of each step function, runs interleaved so that every
    candidate sees the same machine load; also the final iterate of each."""
    times = [[] for _ in steps]
    finals = [None] * len(steps)
    for _ in range(repeats):
        for i, step in enumerate(steps):
            v = v0
            t0 = time.perf_counter()
            for _ in range(iterations):
                v = step(v)
            times[i].append((time.perf_counter() - t0) / iterations)
            finals[i] = v
    return [float(np.median(t)) for t in times], finals


def main(quick: bool = False) -> list[dict]:
    S, A, b, gamma = 5000, 10, 10, 0.95
    mdp = garnet(S, A, b, seed=0, gamma=gamma, sparse=True)
    iterations, repeats = (20, 9) if quick else (50, 31)
    v0 = np.zeros(S)
    bellman_operator(mdp, v0)  # compile outside the timing
    P, r = mdp.P_flat, mdp.r

    def nashlab_step(v):
        return bellman_operator(mdp, v)

    def numpy_step(v):
        return (r + gamma * (P @ v).reshape(S, A)).max(axis=1)

    steps, names = [nashlab_step, numpy_step], ["plain NumPy loop (same CSR matrix)"]
    skipped = None
    try:
        from quantecon.markov import DiscreteDP
    except ImportError as exc:
        skipped = f"quantecon not installed ({exc}); pip install 'nashlab[bench]'"
    else:
        s_indices, a_indices = np.divmod(np.arange(S * A), A)
        ddp = DiscreteDP(r.ravel(), P, gamma, s_indices, a_indices)
        ddp.bellman_operator(v0)  # compile numba paths outside the timing
        steps.append(ddp.bellman_operator)
        names.append("QuantEcon DiscreteDP.bellman_operator")
    (ours, *baselines), (v_ours, *v_baselines) = _per_iteration(steps, v0, iterations, repeats)
    for v in v_baselines:
        assert np.allclose(v_ours, v, rtol=0, atol=1e-12), "value iteration iterates differ"
    rows = [_row(name, ours, t, S, A, b) for name, t in zip(names, baselines, strict=True)]
    if skipped:
        rows.append(_row("QuantEcon DiscreteDP", ours, None, S, A, b, skipped=skipped))
    for row in rows:
        ratio = "skipped: " + row["skipped"] if "skipped" in row else f"{row['ratio']:.2f}x"
        print(f"{row['benchmark']} [{row['size']}]: nashlab {ours * 1e3:.2f} ms/iteration vs "
              f"{row['backend']}: {ratio} (goal {row.get('goal')}) on {row['machine']}")
    busy = bench_busy(mdp, nashlab_step, numpy_step, v0, iterations, repeats)
    for row in busy:
        print(f"{row['benchmark']} [{row['size']}] {row['backend']}: nashlab "
              f"{row['candidate_s'] * 1e3:.3f} ms vs NumPy {row['baseline_s'] * 1e3:.3f} ms "
              f"per iteration, ratio {row['ratio']:.2f}x (spread {row['spread']}; "
              f"load before: {row['load']})")
    return rows + busy


@contextlib.contextmanager
def busy_core():
    """A second process that keeps one core busy (a Python busy loop) while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # let it start spinning
        yield proc
    finally:
        proc.kill()
        proc.wait()


def numba_threads():
    """numba's thread count for a parallel call and its threading layer, as a label."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run
        layer = "not started"
    return f"numba: {numba.get_num_threads()} threads when parallel, layer {layer}"


def load_average():
    """The 1-minute load average and the core count, as a label."""
    try:
        return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def _spread(samples):
    """min–max of the per-iteration times of each candidate, in ms."""
    return ", ".join(f"{1e3 * min(t):.3f}-{1e3 * max(t):.3f} ms" for t in samples)


def quiet_and_busy(steps, measure):
    """``measure(steps)`` -> (medians, samples) on the machine as it is, then with one core
    kept busy by a second process; [(condition, load before, medians, samples), ...]."""
    out = []
    for condition in ("quiet machine", "busy machine (a second process keeps 1 core busy)"):
        load = load_average()
        with busy_core() if condition.startswith("busy") else contextlib.nullcontext():
            medians, samples = measure(steps)
        out.append((condition, load, medians, samples))
    return out


def bench_busy(mdp, nashlab_step, numpy_step, v0, iterations, repeats):
    """Sparse value iteration, nashlab's kernel vs the plain NumPy/scipy loop, quiet and busy."""
    S, A = mdp.n_states, mdp.n_actions
    b = mdp.P_flat.nnz // (S * A)

    def measure(steps):
        times = [[] for _ in steps]
        for _ in range(repeats):
            for i, step in enumerate(steps):
                v = v0
                t0 = time.perf_counter()
                for _ in range(iterations):
                    v = step(v)
                times[i].append((time.perf_counter() - t0) / iterations)
        return [float(np.median(t)) for t in times], times

    rows = []
    for condition, load, (ours, theirs), samples in quiet_and_busy([nashlab_step, numpy_step],
                                                                    measure):
        rows.append({"benchmark": f"value iteration, sparse Garnet, {condition}",
                     "size": f"S={S}, A={A}, b={b}",
                     "backend": "nashlab bellman_operator vs plain NumPy loop (same CSR matrix; "
                                f"{numba_threads()})",
                     "machine": machine(), "candidate_s": ours, "baseline_s": theirs,
                     "ratio": theirs / ours, "goal": ">= 1x", "met": theirs / ours >= 1.0,
                     "load": load, "spread": _spread(samples)})
    return rows


def _row(baseline_name, ours, theirs, S, A, b, skipped=None):
    row = {"benchmark": "value iteration, sparse Garnet", "size": f"S={S}, A={A}, b={b}",
           "backend": f"nashlab bellman_operator vs {baseline_name}", "machine": machine()}
    if skipped:
        return {**row, "skipped": skipped}
    return {**row, "candidate_s": ours, "baseline_s": theirs, "ratio": theirs / ours, "goal": ">= 1x",
            "met": theirs / ours >= 1.0}


if __name__ == "__main__":
    main()
