"""How many threads the compiled (numba) CPU kernels use, and numba's threading layer.

One policy for every parallel kernel (the batched preference-game kernel, the packed
product, the matrix-game kernel, the fused prox step and the sparse Bellman kernel), applied
at each kernel call by ``call``:

* **Threading layer.** At the first parallel call, numba's ``workqueue`` layer is chosen,
  unless the user chose a layer (``NUMBA_THREADING_LAYER`` or ``numba.config.THREADING_LAYER``
  set to anything but "default"). Numba's default picks its OpenMP layer where TBB is
  missing; that layer shares the process's GNU OpenMP runtime with PyTorch, and a parallel
  kernel call then changed ``torch.get_num_threads()`` (1 -> 2 in one process), and its
  spinning workers were 3x slower than workqueue on a loaded 2-core machine (measured,
  issue 11). Workqueue's workers sleep between regions and touch no other runtime.
  Workqueue must not be entered by two Python threads at once: ``call`` holds a lock around
  every parallel call, and a call that finds the lock taken runs serially instead of waiting.
* **Thread count** (``num_threads()``), the first that is set of: ``set_num_threads(k)``;
  the environment variable ``NASHLAB_NUM_THREADS``; ``NUMBA_NUM_THREADS``; ``OMP_NUM_THREADS``
  (its first entry); the CPUs this process may run on (``os.sched_getaffinity``). It is capped
  by numba's pool size (``numba.config.NUMBA_NUM_THREADS``) and, while ``threadpoolctl`` is
  imported, by the smallest thread count of the BLAS/OpenMP libraries it reports (so
  ``with threadpoolctl.threadpool_limits(1):`` makes the kernels serial too).
* **Serial below a work threshold.** A call whose work (multiply-adds, or nonzeros read) is
  below ``PARALLEL_MIN_WORK`` runs the kernel's serial twin, which gives bitwise the same
  result: waking the workers costs more than they save on about a millisecond of work, and on
  a loaded machine a descheduled worker stalls the whole region (the sparse value-iteration
  kernel on Garnet(5000, 10, 10), 0.5 M nonzeros, ran 14x slower than NumPy with 2 threads on
  a 2-core machine with one core busy, issue 11).

``import nashlab`` does not import numba; this module imports it on the first kernel call.
"""

import numbers
import os
import threading

#: work (multiply-adds, or nonzeros read) from which a kernel call runs in parallel: below
#: about a millisecond of work, waking the threads costs more than it saves (and on a loaded
#: machine a descheduled thread stalls the whole region)
PARALLEL_MIN_WORK = 2**22

#: the environment variable that sets the thread count (below ``set_num_threads``)
ENV = "NASHLAB_NUM_THREADS"

_LOCK = threading.Lock()
_state = {"explicit": None, "configured": False}


def _positive_int(value, name):
    try:
        k = int(str(value).split(",")[0].strip())
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if k < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return k


def set_num_threads(k):
    """Use ``k`` threads in the compiled kernels from now on (None: back to the environment).

    k above numba's pool size (``NUMBA_NUM_THREADS``, fixed when numba first starts its
    threads) is capped to it. TypeError for a non-integer, ValueError for k < 1.
    """
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k must be an integer or None, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = int(k)
    _state["explicit"] = k


def requested_threads():
    """The thread count asked for, before numba's and threadpoolctl's caps (see module doc)."""
    if _state["explicit"] is not None:
        return _state["explicit"]
    for name in (ENV, "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            return _positive_int(value, name)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def configure():
    """Choose numba's threading layer once, before its first parallel region (the kernel
    modules call this when they are imported; numba fixes the layer when it starts its threads)."""
    if _state["configured"]:
        return
    import numba

    if not os.environ.get("NUMBA_THREADING_LAYER") and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"
    # start the pool now, as numba.get_num_threads() in the old _kernels_cpu.num_threads() did
    # before every packed call: numba registers the symbols of its parallel regions
    # (numba_parallel_for, do_scheduling_*) when it starts the pool, and a cached serial kernel
    # that calls a parallel one (the packed Nash-MP loop) links them when it is loaded
    numba.get_num_threads()
    _state["configured"] = True


def _threadpool_cap():
    """The smallest thread limit of the libraries threadpoolctl controls, or None."""
    import sys

    if "threadpoolctl" not in sys.modules:
        return None
    controller = _state.get("controller")
    if controller is None:
        controller = _state["controller"] = sys.modules["threadpoolctl"].ThreadpoolController()
    counts = [lib.num_threads for lib in controller.lib_controllers
              if lib.user_api in ("blas", "openmp") and lib.num_threads]
    return min(counts) if counts else None


def num_threads():
    """Threads a parallel kernel call uses now (``requested_threads`` within numba's pool
    size and an active threadpoolctl limit)."""
    import numba

    configure()
    k = min(requested_threads(), numba.config.NUMBA_NUM_THREADS)
    cap = _threadpool_cap()
    return max(1, min(k, cap) if cap else k)


def threads_for(work):
    """Threads for a kernel call of ``work`` multiply-adds: 1 below ``PARALLEL_MIN_WORK``."""
    return 1 if work < PARALLEL_MIN_WORK else num_threads()


def call(parallel, serial, work, *args):
    """``parallel(*args)`` on ``threads_for(work)`` threads, or ``serial(*args)`` (the same
    result) where that is one thread or another Python thread is inside a parallel kernel."""
    k = threads_for(work)
    if k > 1 and _LOCK.acquire(blocking=False):
        try:
            import numba

            numba.set_num_threads(k)
            return parallel(*args)
        finally:
            _LOCK.release()
    return serial(*args)
