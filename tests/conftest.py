"""Test-session settings, set before numpy or numba is imported by any test module.

* One BLAS/OpenMP thread per xdist worker. pytest-xdist already runs one worker per core;
  letting each worker's BLAS spawn threads as well over-subscribes the cores (measured: an
  n = 200 Newton solve took 18 s instead of 0.7 s under load).
* One numba cache folder per xdist worker. numba's on-disk cache (``cache=True``) is not
  safe for two processes compiling new signatures of one function at once: both can number
  their object file alike, and the second overwrites the first's, so the index then maps a
  signature to another signature's machine code. Measured here: a segmentation fault in the
  packed Nash-MP kernel after two workers compiled it concurrently, gone once the cache was
  cleared. Per-worker folders keep the cache and remove the race.
* Hypothesis profiles: "dev" by default, "ci" with ``HYPOTHESIS_PROFILE=ci`` (property tests
  then draw at least 100 examples each, ``nashlab.theory.strategies.example_budget``).
"""

import os
import tempfile

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

if "NUMBA_CACHE_DIR" not in os.environ:
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tempfile.gettempdir(),
                                                 f"nashlab-numba-cache-{os.getuid()}-{_worker}")


def _available_backends():
    """The concrete backends this machine runs: NumPy, numba, and CUDA where CuPy finds a GPU."""
    from nashlab.solvers.backends import cuda_unavailable_reason

    return ["numpy", "numba"] + ([] if cuda_unavailable_reason() else ["cuda"])


import pytest  # noqa: E402  (after the environment above)

try:  # hypothesis profiles: "dev" (default, small budgets) and "ci" (HYPOTHESIS_PROFILE=ci)
    from hypothesis import HealthCheck, settings
except ImportError:  # the dev extra is not installed: property tests are skipped anyway
    pass
else:
    # "ci": no deadline, no health checks that reject slow examples; the ≥ 100 examples per
    # property test come from nashlab.theory.strategies.example_budget, since an explicit
    # settings(max_examples=...) on a test overrides the profile's value
    settings.register_profile("ci", deadline=None, suppress_health_check=list(HealthCheck),
                              print_blob=True)
    settings.register_profile("dev", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=_available_backends())
def backend(request):
    """Every available backend, POT-style: a solver test taking ``backend`` runs on each.

    A backend that no kernel covers for the call is a ``ValueError`` of the solver (tested in
    test_backends.py); tests here only take this fixture for calls a kernel covers.
    """
    return request.param
