"""The Bellman maps of an MDP objective (nominal when ``regularizer`` is None) and their
backend dispatch (theory notes dp_robust.md §1; Geist, Scherrer, Pietquin, arXiv 1901.11275):

* ``backup(q, Ω)``               Ω*(q(s, ·)) per state, max_a q(s, a) unregularized;
* ``bellman_operator(mdp, v, Ω)`` T_{*,Ω} v = Ω*(r + γPv), NumPy or the compiled CSR kernel;
* ``bellman_residual(mdp, v, Ω)`` ‖T_{*,Ω} v − v‖∞;
* ``greedy_policy(q, Ω)``         G_Ω(q) = ∇Ω*(q); one-hot argmax with incumbent ties kept;
* ``gauss_seidel_sweep(mdp, v, Ω)`` one in-place-order sweep of Gauss–Seidel VI.

The compiled kernel (``_kernels_dp.csr_bellman``) is imported on the first call that uses it;
``nashlab.solvers.threads`` decides its thread count (serial below a work threshold).
"""

import numpy as np

from nashlab.games.regularizers import KL, Entropy
from nashlab.solvers.backends import choose_backend

#: Relative tie tolerance of Howard PI (keep the incumbent action on |ΔQ| ≤ TIE_TOL·‖Q‖∞;
#: no absolute floor, so that rewards ×1e-11 are not all ties of the incumbent).
TIE_TOL = 1e-13

#: why backend="numba" is refused where the compiled Bellman kernel does not apply
BELLMAN_KERNEL = ("the compiled Bellman kernel (CPU only) needs a sparse (CSR) MDP and no "
                  "regularizer, Entropy or KL")


def compiled_bellman(mdp, regularizer):
    """Whether ``_kernels_dp.csr_bellman`` computes T_{*,Ω} for this model."""
    return mdp.is_sparse and (regularizer is None or isinstance(regularizer, Entropy | KL))


def backup(q, regularizer=None):
    """(T_{*,Ω} v)(s) = Ω*(q_v(s, ·)); max_a q_v(s, a) when unregularized.

    q is −inf at infeasible pairs (``MDP.q_values``). Entropy and KL take that in their
    log-sum-exp; any other Ω is evaluated as Ω*(q) = ⟨p, q⟩ − Ω(p) at its maximiser
    p = ∇Ω*(q) with 0·(−inf) = 0 (Fenchel–Young equality), where q has a −inf entry."""
    if regularizer is None:
        return q.max(axis=-1)
    if isinstance(regularizer, Entropy | KL) or np.all(np.isfinite(q)):
        return regularizer.conjugate(q)
    p = regularizer.greedy(q)
    with np.errstate(invalid="ignore"):  # 0·(−inf) off the support, replaced by 0
        return np.sum(np.where(p > 0, p * q, 0.0), axis=-1) - regularizer.value(p)


def bellman_operator(mdp, v, regularizer=None, *, backend="auto"):
    """(T_{*,Ω} v)(s) = Ω*(r + γPv)(s, ·); unregularized, max_a.

    ``backend``: "numpy", "numba" (the fused CSR kernel of ``_kernels_dp``: sparse P and no
    regularizer, ``Entropy`` or ``KL``) or "auto" (numba where it applies, numpy otherwise).
    """
    backend = choose_backend(backend, compiled=compiled_bellman(mdp, regularizer),
                             reason=BELLMAN_KERNEL)
    if backend == "numpy":
        return backup(mdp.q_values(v), regularizer)
    from nashlab.solvers import threads
    from nashlab.solvers._kernels_dp import csr_bellman, csr_bellman_serial

    args = _kernel_args(mdp, mdp.P_flat, regularizer)
    # work: one multiply-add per nonzero; serial below threads.PARALLEL_MIN_WORK
    return threads.call(csr_bellman, csr_bellman_serial, mdp.P_flat.nnz + mdp.r.size, *args[:5],
                        mdp._values(v), *args[5:])


def _kernel_args(mdp, csr, regularizer):
    """(indptr, indices, data, r_flat, gamma, n_actions, tau, log_reference) of the compiled
    kernels for the CSR form ``csr`` of P (r_flat −inf at infeasible, empty rows: never the
    max, e^{−inf} = 0)."""
    S, A = mdp.n_states, mdp.n_actions
    tau, log_reference = 0.0, np.zeros((1, 1))
    if regularizer is not None:
        tau, log_reference = regularizer.tau, np.zeros((S, A))
        if isinstance(regularizer, KL):
            log_reference = np.ascontiguousarray(np.broadcast_to(regularizer.log_reference, (S, A)))

    def unsigned(index):  # same bits; numba then skips its negative-index wraparound branch
        return index.view(np.dtype(f"u{index.dtype.itemsize}"))

    return (unsigned(csr.indptr), unsigned(csr.indices), csr.data, mdp.mask(mdp.r).ravel(),
            mdp.gamma, A, tau, log_reference)


def gauss_seidel_compiled(regularizer):
    """Whether ``_kernels_dp.csr_gauss_seidel`` sweeps for this objective (any P)."""
    return regularizer is None or isinstance(regularizer, Entropy | KL)


def gauss_seidel_sweep(mdp, v, regularizer=None, *, backend="auto"):
    """One Gauss–Seidel sweep (Puterman 1994, §6.3.3): for s = 0, ..., S − 1 in turn,
    v(s) ← Ω*(r(s, ·) + γ Σ_s' P(s'|s, ·) v(s')) with the values of states < s already
    updated. Returns a new array. ``backend``: "numba" (a serial compiled sweep over the CSR
    form of P, dense models included; no regularizer, Entropy or KL), "numpy" (a loop over
    states, any Ω) or "auto"."""
    backend = choose_backend(backend, compiled=gauss_seidel_compiled(regularizer),
                             reason="the compiled Gauss–Seidel sweep (CPU only) needs no "
                                    "regularizer, Entropy or KL")
    v = np.array(mdp._values(v), dtype=np.float64)
    if backend == "numba":
        import scipy.sparse as sp

        from nashlab.solvers._kernels_dp import csr_gauss_seidel

        csr = mdp.P_flat if mdp.is_sparse else sp.csr_matrix(mdp.P_flat)
        args = _kernel_args(mdp, csr, regularizer)
        return csr_gauss_seidel(*args[:5], v, *args[5:])
    A = mdp.n_actions
    for s in range(mdp.n_states):
        q = mdp.r[s] + mdp.gamma * np.asarray(mdp.P_flat[s * A:(s + 1) * A] @ v).ravel()
        if mdp.feasible is not None:
            q = np.where(mdp.feasible[s], q, -np.inf)
        v[s] = backup(q[None, :], regularizer)[0]
    return v


def greedy_policy(q, regularizer=None, incumbent=None):
    """G_Ω(q) = ∇Ω*(q); unregularized: one-hot argmax, keeping ``incumbent`` (an (S,) action
    vector) wherever it is within the tie tolerance of the maximum (relative to the largest
    finite |q|: q is −inf at infeasible pairs, which are never picked)."""
    if regularizer is not None:
        return regularizer.greedy(q)
    S, A = q.shape
    best = np.argmax(q, axis=1)
    if incumbent is not None:
        finite = np.isfinite(q)
        tol = TIE_TOL * float(np.max(np.abs(q[finite]), initial=0.0))
        keep = q[np.arange(S), incumbent] >= q[np.arange(S), best] - tol
        best = np.where(keep, incumbent, best)
    policy = np.zeros((S, A))
    policy[np.arange(S), best] = 1.0
    return policy


def bellman_residual(mdp, v, regularizer=None, *, backend="auto"):
    """‖T_{*,Ω} v − v‖∞ (``backend`` as in ``bellman_operator``)."""
    return float(np.max(np.abs(bellman_operator(mdp, v, regularizer, backend=backend) - v)))


def penalty(policy, regularizer):
    """Ω(π) per state (0 unregularized)."""
    return 0.0 if regularizer is None else regularizer.value(policy)


def check_regularizer(regularizer, mdp=None):
    """``regularizer`` if it is None or a regularizer Ω (``value``, ``conjugate`` and
    ``greedy`` methods, as in ``nashlab.games.regularizers``); TypeError otherwise. With
    ``mdp``, a KL reference policy must have shape (A,) or (S, A) of that model."""
    if regularizer is not None and not all(
            callable(getattr(regularizer, name, None)) for name in ("value", "conjugate", "greedy")):
        raise TypeError("regularizer must be None or a regularizer of nashlab.games.regularizers "
                        f"(Entropy, KL, Tsallis), got {type(regularizer).__name__}")
    if mdp is not None and isinstance(regularizer, KL):
        shape = regularizer.reference.shape
        if shape not in ((mdp.n_actions,), (mdp.n_states, mdp.n_actions)):
            raise ValueError(f"regularizer: the KL reference policy must have shape "
                             f"({mdp.n_actions},) or {(mdp.n_states, mdp.n_actions)} for this MDP, "
                             f"got {shape}")
    return regularizer
