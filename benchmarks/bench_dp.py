"""Value iteration on a sparse Garnet(S = 5000, A = 10, b = 10): nashlab vs QuantEcon's
``DiscreteDP`` (state–action-pair formulation, sparse Q) vs a plain NumPy loop.

One iteration is v ← max_a [r + γ P v]; nashlab's is ``bellman_operator(mdp, v)`` (backend
"auto": the fused numba CSR kernel), the operator value iteration applies. Ratios are of medians measured in
this run; all three must give the same iterates (checked).
"""

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
              f"{row['backend']}: {ratio} (goal {row['goal']}) on {row['machine']}")
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
