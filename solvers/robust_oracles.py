"""Worst-case oracles of robust MDPs, σ_U(z) = min_{p ∈ U} p·z: the dispatcher over the
compiled kernels (theory notes dp_robust.md §3).

Every (s,a)-rectangular oracle works on the rows of a CSR kernel (support = nominal support)
with one value vector z shared by all rows, so sorting z is done once per Bellman update.
Each returns the value and, on request, the worst-case distribution p* (a dense row):

* L1 ball over Δ_S, ‖p − p̄‖₁ ≤ ξ: move ε = min(ξ/2, 1 − p̄_{i₀}) to i₀ = argmin z, taken
  from the largest z first (Iyengar 2005; Petrik & Subramanian 2014; Ho, Petrik, Wiesemann
  arXiv 2006.09484), O(S log S) once plus O(support) per row. "l1-nominal", the same ball
  with supp p ⊆ supp p̄ (craam2's set): the same greedy with i₀ = argmin of z over the row's
  support (the LP restricted to the support is the unrestricted one on |supp p̄| states).
* KL ball (support of p̄): σ = max_{λ≥0} −λ log E_p̄ e^{−z/λ} − λρ (Nilim & El Ghaoui 2005).
  The optimal λ solves KL(q_λ‖p̄) = ρ with q_λ ∝ p̄ e^{−z/λ}; safeguarded Newton in log λ
  (d KL/d log λ = −Var_{q_λ}(z)/λ²). If p̄(argmin) ≥ e^{−ρ}, σ = min_supp z.
* χ² ball Σ(p − p̄)²/p̄ ≤ ρ: σ = max_η η − √((1+ρ) E_p̄ (η − z)₊²) (Duchi–Namkoong dual);
  exact by scanning the sorted support, η* = μ_k + √(S2_k/(P_k((1+ρ)P_k − 1))) on the
  segment where the derivative changes sign; p* = p̄ (η* − z)₊ / E_p̄(η* − z)₊.
* Wasserstein, cost d: σ = max_{λ≥0} −λε + Σ_i p̄_i min_j (z_j + λ d_ij) (Gao & Kleywegt
  2016); bisection on λ for the sign change of the supergradient, then the primal plan as
  the mix of the two bracketing argmin plans that spends the budget exactly.
* Penalties (RRMDP, §3.4), min_{p ∈ Δ} p·z + λD(p‖p̄): KL: −λ log E_p̄ e^{−z/λ};
  TV (½‖·‖₁): E_p̄ min(z, min_S z + λ); χ²: p = p̄ (1 + (η − z)/(2λ))₊ with Σp = 1.

The s-rectangular L1 update (``s_rectangular_l1_backup``) solves min_{ξ ≥ 0, Σξ_a ≤ κ}
max_a q_a(ξ_a) exactly on the piecewise-linear q_a (Ho, Petrik, Wiesemann 2006.09484) and
returns the optimal randomized policy from the KKT conditions. The L_p sets of Kumar et al.
are NumPy closed forms (``nashlab.solvers.robust_closed_forms``).

Where the code lives: the numba kernels are private modules, imported on the first call
(``_kernels_robust_sa`` for the (s,a)-rectangular rows, ``_kernels_robust_s`` for the
s-rectangular L1 update), so importing this module does not load numba.
"""

import numpy as np
import scipy.sparse as sp

#: the (s,a)-rectangular kinds ``batch_worst_case`` accepts
KINDS = ("l1", "l1-nominal", "kl", "chi2", "wasserstein", "kl-penalty", "tv-penalty", "chi2-penalty")


def as_csr(P_flat):
    """CSR of the nominal kernel with explicit zeros removed (the support)."""
    csr = sp.csr_matrix(P_flat, dtype=np.float64, copy=True)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _csr(P):
    return P if sp.isspmatrix_csr(P) and P.has_sorted_indices else as_csr(P)


def batch_worst_case(kind, P, z, radii, *, cost=None, want_kernel=False):
    """σ for every row of the nominal kernel ``P`` ((N, S) dense or CSR) at the shared ``z``.

    kind: one of ``KINDS``; radii: (N,) radii (strengths λ for penalties); cost: (S, S) for
    "wasserstein". Returns (values (N,), worst kernel (N, S) dense or None).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    from nashlab.solvers import _kernels_robust_sa as kernels

    csr = _csr(P)
    z = np.ascontiguousarray(z, dtype=np.float64)
    radii = np.ascontiguousarray(np.broadcast_to(radii, (csr.shape[0],)), dtype=np.float64)
    kernel = np.zeros(csr.shape if want_kernel else (1, 1))
    args = (csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data, z, radii)
    if kind == "wasserstein":
        d = np.ascontiguousarray(cost, dtype=np.float64)
        positive = d[d > 0]
        d_pos = float(positive.min()) if positive.size else 1.0
        values = kernels.wasserstein_rows(*args, d, d_pos, want_kernel, kernel)
    else:
        values = kernels.ROW_KERNELS[kind](*args, want_kernel, kernel)
    return values, (kernel if want_kernel else None)


def s_rectangular_l1_backup(P, z, r, gamma, kappas, policy=None, nominal=False):
    """s-rectangular L1 Bellman update at all states (Ho, Petrik, Wiesemann 2006.09484):

    T v(s) = max_{π ∈ Δ_A} min_{Σ_a‖p_a − p̄_a‖₁ ≤ κ_s} Σ_a π_a (r_a + γ p_a·z)
           = min_{ξ ≥ 0, Σξ_a ≤ κ_s} max_a q_a(ξ_a).

    P: nominal (S·A, S) (dense or CSR), z: (S,), r: (S, A). With ``policy`` (S, A), returns
    T^π v instead. Returns (values (S,), policy (S, A), budgets ξ (S, A)); the worst kernel
    is the L1 worst case of each (s, a) at its budget ξ_{s,a}. ``nominal``: the
    support-restricted set (each p_a on supp p̄_a; worst kernel from kind "l1-nominal")."""
    from nashlab.solvers._kernels_robust_s import s_l1_states

    csr = _csr(P)
    r = np.ascontiguousarray(r, dtype=np.float64)
    evaluate = policy is not None
    pol = np.ascontiguousarray(policy if evaluate else np.zeros_like(r), dtype=np.float64)
    return s_l1_states(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data,
                       np.ascontiguousarray(z, dtype=np.float64), r, float(gamma),
                       np.ascontiguousarray(kappas, dtype=np.float64), pol, evaluate,
                       bool(nominal))
