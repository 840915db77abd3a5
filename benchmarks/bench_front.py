"""Nash-MP on one large game through the front door, ``nashlab.run``, against two dense gemv.

Issue 10's goal: one Nash-MP iteration at n = 4096 through ``nashlab.run(game, "nash-mp",
..., track=())`` costs ≤ 0.6× two dense NumPy gemv (float64), and ≤ 1.0× with a given
``solution=`` and ``track=("kl",)``. The run computes no ground truth for ``track=()``, takes
the given solution for "kl", and runs the packed antisymmetric kernel (the game is packed
once and kept). Time per iteration = time of a run of ``iterations`` steps / ``iterations``
(the per-call overhead included), interleaved with the baseline in the same process.
"""

import numpy as np

import nashlab
from nashlab.benchmarks.bench_games import _row, interleaved_medians
from nashlab.games import random_preference, random_reference


def main(quick: bool = False) -> list[dict]:
    n, iterations = (2048, 20) if quick else (4096, 50)
    game = random_preference(n, beta=0.1, seed=0, reference=random_reference(n, seed=1))
    A, x = np.ascontiguousarray(game.A), game.reference.copy()
    solution = nashlab.solve(game)

    def two_gemv():
        A @ x
        A @ x

    def untracked():
        nashlab.run(game, "nash-mp", eta=2.0, iterations=iterations, track=())

    def tracked():
        nashlab.run(game, "nash-mp", eta=2.0, iterations=iterations, track=("kl",),
                    solution=solution)

    untracked()  # compile the kernel and pack the game
    tracked()
    plain, with_kl, base = interleaved_medians([untracked, tracked, two_gemv],
                                               5 if quick else 9, warmup=0.2)
    plain, with_kl = plain / iterations, with_kl / iterations
    size = f"n={n}, {iterations} iterations per run"
    return [
        _row("Nash-MP iteration through nashlab.run, track=()", size,
             "auto (packed numba float64) vs 2 dense NumPy gemv (float64)",
             plain, base, "≤ 0.6x", plain / base <= 0.6),
        _row("Nash-MP iteration through nashlab.run, solution given, track=('kl',)", size,
             "auto (packed numba float64) vs 2 dense NumPy gemv (float64)",
             with_kl, base, "≤ 1.0x", with_kl / base <= 1.0),
    ]
