"""Backend selection for the compiled update rules.

* ``"numpy"``: the reference implementation (``nashlab.solvers.nlhf`` steps, array namespace).
* ``"numba"``: compiled CPU kernels (``nashlab.solvers._kernels_cpu``).
* ``"cuda"``: numba.cuda kernels (``nashlab.solvers._kernels_cuda``) on CuPy arrays; needs
  CuPy and a CUDA GPU.
* ``"auto"``: ``"cuda"`` when an input is a CuPy array, else ``"numba"``; for a solver whose
  kernels cover only some cases (``choose_backend``), ``"numpy"`` in the other cases.

Every public solver takes ``backend=`` and passes it through ``resolve_backend`` or
``choose_backend``; the NumPy reference is the oracle every kernel is tested against.
"""

from nashlab._xp import array_namespace

BACKENDS = ("auto", "numpy", "numba", "cuda")


def cuda_unavailable_reason() -> str | None:
    """Why the "cuda" backend cannot run here (None when it can)."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "the 'cuda' backend needs CuPy (pip install 'nashlab[gpu]'), which is not installed"
    from numba import cuda

    if not cuda.is_available():
        return "the 'cuda' backend needs a CUDA GPU, and numba.cuda finds none"
    return None


def resolve_backend(backend, *arrays) -> str:
    """The concrete backend ("numpy", "numba" or "cuda") for ``backend`` and the inputs.

    Raises ValueError for an unknown name, for "cuda" without CuPy or a GPU, and for CuPy
    inputs with a CPU backend.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_gpu = array_namespace(*arrays).__name__ == "cupy"
    if backend == "auto":
        backend = "cuda" if on_gpu else "numba"
    if backend == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise ValueError(reason)
    elif on_gpu and backend == "numba":
        raise ValueError("backend 'numba' runs on the CPU: got CuPy arrays (use 'cuda' or 'auto')")
    return backend


#: the reason exact solvers give for running on NumPy only
NO_KERNEL_EXACT = ("this exact solver has no compiled kernel (its work is dense linear algebra "
                   "or an LP/conic solver): use backend 'auto' or 'numpy'")


#: the reason the m-player and Markov-game drivers give for running on NumPy only
NO_KERNEL_MULTI = ("the compiled kernels cover the preference-game updates (run, run_batched) "
                   "and the matrix-game updates (run_matrix_game); this driver's updates run on "
                   "NumPy: use backend 'auto' or 'numpy'")


def choose_backend(backend, *arrays, compiled, cuda=False, reason="") -> str:
    """``resolve_backend`` for a solver whose compiled kernels cover only some cases.

    ``compiled``: whether a CPU kernel covers this call; ``cuda``: whether a CUDA kernel does.
    Where none does, "auto" gives "numpy" (the array-namespace reference, CuPy arrays
    included) and an explicit "numba" or "cuda" raises ValueError with ``reason``.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        return resolve_backend(backend, *arrays)
    on_gpu = array_namespace(*arrays).__name__ == "cupy"
    available = cuda if backend == "cuda" or (backend == "auto" and on_gpu) else compiled
    if available:
        return resolve_backend(backend, *arrays)
    if backend == "auto":
        return "numpy"
    raise ValueError(f"backend={backend!r} is not available here: {reason}")
