"""Test-session settings: one BLAS/OpenMP thread per xdist worker.

pytest-xdist already runs one worker per core; letting each worker's BLAS spawn threads as
well over-subscribes the cores (measured: an n = 200 Newton solve took 18 s instead of
0.7 s under load). Set before numpy is imported by any test module.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
