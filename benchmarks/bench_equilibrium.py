"""Certified equilibrium at n = 200: Newton (default) vs the cvxpy exponential-cone program.

Prints the ratio of medians measured in this run, both solvers limited to one BLAS thread
(Clarabel is single-threaded; on a loaded 2-core machine threaded BLAS at n = 200 adds
milliseconds of contention, which made the ratio swing between 50x and 230x); run as
``python -m nashlab.benchmarks.bench_equilibrium`` or through ``nashlab bench``.
"""

import platform
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from nashlab import games
from nashlab.solvers import equilibrium


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or platform.platform()}, Python {platform.python_version()}"


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(quick: bool = False) -> list[dict]:
    n, beta = 200, 0.1
    game = games.random_preference(n, beta=beta, seed=0, reference=games.random_reference(n, seed=1))
    repeats = 3 if quick else 7
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        newton = median_seconds(lambda: equilibrium(game), repeats)
        conic = median_seconds(lambda: equilibrium(game, method="cvxpy"), repeats)
    row = {
        "benchmark": "certified equilibrium",
        "size": f"n={n}, beta={beta}",
        "backend": "numpy (Newton) vs cvxpy/Clarabel",
        "candidate_s": newton,
        "baseline_s": conic,
        "ratio": conic / newton,
        "goal": ">= 100x",
        "met": conic / newton >= 100,
        "machine": machine(),
    }
    print(f"{row['benchmark']} [{row['size']}]: Newton {newton * 1e3:.1f} ms, cvxpy {conic * 1e3:.1f} ms, "
          f"speed-up {row['ratio']:.0f}x (goal {row['goal']}) on {row['machine']}")
    return [row]


if __name__ == "__main__":
    main()
