"""Exact and iterative dynamic programming for (regularized) MDPs.

``solve_mdp(mdp, regularizer=None, uncertainty=None) -> Solution`` is the certified
ground truth (theory notes dp_robust.md §7):

* nominal: Howard policy iteration with exact linear solves, keeping the incumbent action
  on ties (|ΔQ| ≤ 1e-13·max(1, ‖Q‖∞)) so that it cannot cycle; certified by the Bellman
  residual ‖max_a q_v − v‖∞;
* regularized (Ω = ``regularizer``): regularized VI v ← Ω*(q_v) as a warm start, then
  regularized policy iteration π ← ∇Ω*(q_v), v ← v^π_Ω (soft policy iteration, exact
  evaluation) until the residual ‖Ω*(q_v) − v‖∞ stops decreasing;
* finite horizon: backward induction (non-stationary policy of shape (H, S, A));
* ``uncertainty`` given: ``nashlab.solvers.robust.solve_robust(mdp, uncertainty, regularizer)``.

``run_mdp(mdp, method, *, iterations, ...) -> Trajectory`` runs one iterative algorithm
with exact evaluation and records, per iteration (index 0 = initial point), the metric of
the theorem that governs it, against the ground truth from ``solve_mdp``:

==============  =====================================================  ==========================
method          update                                                 metrics
==============  =====================================================  ==========================
"vi"            v ← T_{*,Ω} v  (Geist et al. 1901.11275, Prop. 2)      value_error
"pi"            π ← G_Ω(v^π_Ω), v^π_Ω exact                            value_error
"mpi"           π_{k+1} = G_Ω(v_k), v_{k+1} = (T_{π_{k+1},Ω})^m v_k     value_error,
                (1901.11275 §4, Thm 3)                                 policy_value_error
"md_mpi"        π_{k+1} ∝ π_k e^{q_{v_k}/λ}, v_{k+1} = (T_{π_{k+1},    policy_value_error, regret
                λKL(·‖π_k)})^m v_k (1901.11275 §5, MD-MPI type 1)
"npg_entropy"   log π⁺ = (1 − ητ/(1−γ)) log π + η Q^π_τ/(1−γ)          q_error, log_policy_error,
                (Cen et al. 2007.06558, Thm 1; Thm 2 with q_noise = δ)  value_error,
                                                                       q_error_excess (− γC2)
"pmd"           log π⁺ = (log π + ητ log μ + η Q^π_Ω)/(1 + ητ)         lan_potential, value_error
                (Lan 2102.00135, Thm 1; Ω = τ·KL(·‖μ) or τ·negentropy)
"npg"           log π⁺ = log π + η_k Q^π, η_{k+1} = η_k·step_growth     suboptimality,
                (Agarwal et al. 1908.00261 Thm 16 with η_A = (1−γ)η;    xiao_potential
                Xiao 2201.07443 Thms 8, 10)
==============  =====================================================  ==========================

Every policy update is the entropic prox step ``nashlab.solvers.prox.prox_step`` in
log-space.
"""

import math

import numpy as np

from nashlab._xp import normalize_logits, safe_log, softmax
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.mdp import MDP
from nashlab.games.metrics import kl_from_logs
from nashlab.games.regularizers import KL, Entropy
from nashlab.solvers.backends import choose_backend
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Solution, Trajectory

#: Bellman residual below which a solution is certified.
CERTIFY_TOL = 1e-10
#: Relative tie tolerance of Howard PI (keep the incumbent action on |ΔQ| ≤ TIE_TOL·scale).
TIE_TOL = 1e-13


def mdp_solution(mdp, regularizer, values, q, policy, residual, method, iterations, message,
                 backend, family="mdp", **extra) -> Solution:
    """The ``Solution`` of an MDP objective: certified when ``residual`` ≤ ``CERTIFY_TOL``."""
    params = {"family": family, "method": method, "backend": backend,
              "n_actions": mdp.n_actions, "n_states": mdp.n_states, "batch_shape": [],
              "gamma": mdp.gamma, "iterations": int(iterations), "horizon": mdp.horizon}
    if regularizer is not None:
        params.update(regularizer=regularizer.name, tau=regularizer.tau)
    params.update(extra)
    return Solution(policy, bool(residual <= CERTIFY_TOL), float(residual), None, message, params,
                    values=values, q=q)


# -- the Bellman maps of an objective (nominal when regularizer is None) ----------------
def backup(q, regularizer=None):
    """(T_{*,Ω} v)(s) = Ω*(q_v(s, ·)); max_a q_v(s, a) when unregularized."""
    return q.max(axis=-1) if regularizer is None else regularizer.conjugate(q)


def bellman_operator(mdp, v, regularizer=None, *, backend="auto"):
    """(T_{*,Ω} v)(s) = Ω*(r + γPv)(s, ·); unregularized, max_a.

    ``backend``: "numpy", "numba" (the fused CSR kernel of ``_kernels_dp``: sparse P and no
    regularizer, ``Entropy`` or ``KL``) or "auto" (numba where it applies, numpy otherwise).
    """
    backend = choose_backend(backend, compiled=_compiled_bellman(mdp, regularizer),
                             reason=_BELLMAN_KERNEL)
    if backend == "numpy":
        return backup(mdp.q_values(v), regularizer)
    from nashlab.solvers._kernels_dp import csr_bellman

    P, S, A = mdp.P_flat, mdp.n_states, mdp.n_actions
    tau, log_reference = 0.0, np.zeros((1, 1))
    if regularizer is not None:
        tau, log_reference = regularizer.tau, np.zeros((S, A))
        if isinstance(regularizer, KL):
            log_reference = np.ascontiguousarray(np.broadcast_to(regularizer.log_reference, (S, A)))

    def unsigned(index):  # same bits; numba then skips its negative-index wraparound branch
        return index.view(np.dtype(f"u{index.dtype.itemsize}"))

    return csr_bellman(unsigned(P.indptr), unsigned(P.indices), P.data, mdp.r.ravel(), mdp.gamma,
                       mdp._values(v), A, tau, log_reference)


_BELLMAN_KERNEL = ("the compiled Bellman kernel (CPU only) needs a sparse (CSR) MDP and no "
                   "regularizer, Entropy or KL")


def _compiled_bellman(mdp, regularizer):
    """Whether ``_kernels_dp.csr_bellman`` computes T_{*,Ω} for this model."""
    return mdp.is_sparse and (regularizer is None or isinstance(regularizer, Entropy | KL))


def greedy_policy(q, regularizer=None, incumbent=None):
    """G_Ω(q) = ∇Ω*(q); unregularized: one-hot argmax, keeping ``incumbent`` (an (S,) action
    vector) wherever it is within the tie tolerance of the maximum."""
    if regularizer is not None:
        return regularizer.greedy(q)
    S, A = q.shape
    best = np.argmax(q, axis=1)
    if incumbent is not None:
        tol = TIE_TOL * max(1.0, float(np.max(np.abs(q))))
        keep = q[np.arange(S), incumbent] >= q[np.arange(S), best] - tol
        best = np.where(keep, incumbent, best)
    policy = np.zeros((S, A))
    policy[np.arange(S), best] = 1.0
    return policy


def bellman_residual(mdp, v, regularizer=None, *, backend="auto"):
    """‖T_{*,Ω} v − v‖∞ (``backend`` as in ``bellman_operator``)."""
    return float(np.max(np.abs(bellman_operator(mdp, v, regularizer, backend=backend) - v)))


def _penalty(policy, regularizer):
    return 0.0 if regularizer is None else regularizer.value(policy)


# -- certified solver -----------------------------------------------------------------
def solve_mdp(mdp, regularizer=None, uncertainty=None, *, max_iterations=10_000,
              backend="auto") -> Solution:
    """Certified optimum of ``mdp`` under the (optional) regularizer and uncertainty set.

    Howard's policy iteration (unregularized), regularized VI then regularized PI, backward
    induction (finite horizon), or ``nashlab.solvers.robust.solve_robust``. ``backend``
    selects the Bellman operator of the VI warm start and of the residual certificate
    (``bellman_operator``: "numba" for sparse infinite-horizon models without a Tsallis
    regularizer); policy evaluation is a sparse or dense linear solve either way.
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
    if uncertainty is not None:
        from nashlab.solvers.robust import solve_robust

        return solve_robust(mdp, uncertainty, regularizer, backend=backend)
    compiled = mdp.horizon is None and _compiled_bellman(mdp, regularizer)
    backend = choose_backend(backend, compiled=compiled, reason=_BELLMAN_KERNEL
                             + " and an infinite horizon")
    if mdp.horizon is not None:
        return _backward_induction(mdp, regularizer)
    if regularizer is None:
        return _howard(mdp, max_iterations, backend)
    return _regularized(mdp, regularizer, max_iterations, backend)


def _howard(mdp, max_iterations, backend):
    actions, stable, iterations = np.argmax(mdp.r, axis=1), False, 0
    while not stable and iterations < max_iterations:
        iterations += 1
        v = mdp.evaluate(actions)
        q = mdp.q_values(v)
        new = np.argmax(greedy_policy(q, incumbent=actions), axis=1)
        stable = np.array_equal(new, actions)
        actions = new
    policy = greedy_policy(q, incumbent=actions)
    res = bellman_residual(mdp, v, backend=backend)
    return mdp_solution(mdp, None, v, q, policy, res, "howard-pi", iterations,
                        "policy stable" if stable else "iteration limit", backend)


def _regularized(mdp, regularizer, max_iterations, backend):
    """Regularized VI warm start, then regularized PI (π ← ∇Ω*(q_v), v ← v^π_Ω)."""
    v = np.zeros(mdp.n_states)
    for _ in range(min(50, max_iterations)):
        v = bellman_operator(mdp, v, regularizer, backend=backend)
    best_res, stalls, iterations = math.inf, 0, 0
    while best_res > 0.0 and stalls < 3 and iterations < max_iterations:
        iterations += 1
        policy = regularizer.greedy(mdp.q_values(v))
        v_new = mdp.evaluate(policy, regularizer)
        res = bellman_residual(mdp, v_new, regularizer, backend=backend)
        if res < best_res:
            best_res, v, stalls = res, v_new, 0
        else:
            stalls += 1
    q = mdp.q_values(v)
    return mdp_solution(mdp, regularizer, v, q, regularizer.greedy(q), best_res,
                        "regularized-pi", iterations,
                        "residual stalled" if stalls >= 3 else "stopped", backend)


def _backward_induction(mdp, regularizer):
    """v_H = 0, q_t = r + γ P v_{t+1}, v_t = Ω*(q_t), π_t = ∇Ω*(q_t); exact by construction."""
    v = np.zeros(mdp.n_states)
    policies, q = [], None
    for _ in range(mdp.horizon):
        q = mdp.q_values(v)
        v = backup(q, regularizer)
        policies.append(greedy_policy(q, regularizer))
    policy = np.stack(policies[::-1])
    return mdp_solution(mdp, regularizer, v, q, policy, 0.0, "backward-induction", mdp.horizon,
                        "finite horizon", "numpy")


# -- iterative algorithms ---------------------------------------------------------------
def _uniform_logits(mdp):
    return np.full((mdp.n_states, mdp.n_actions), -math.log(mdp.n_actions))


def _kl_rows(p, log_q):
    """KL(p(s)‖q(s)) per state (log_q normalised logits)."""
    return kl_from_logs(p, safe_log(p), log_q)


def _initial_logits(mdp, initial_policy):
    if initial_policy is None:
        return _uniform_logits(mdp)
    return normalize_logits(safe_log(mdp.as_policy(initial_policy, "initial_policy")))


def _initial_kind(initial_policy):
    return "uniform" if initial_policy is None else "given"


def _check_infinite(mdp):
    if mdp.horizon is not None:
        raise ValueError("iterative algorithms need an infinite-horizon MDP (horizon=None)")


def _params(mdp, regularizer, **extra):
    params = {"gamma": mdp.gamma, "S": mdp.n_states, "n": mdp.n_actions,
              "r_min": float(mdp.r.min()), "r_max": float(mdp.r.max())}
    if regularizer is not None:
        params.update(regularizer=regularizer.name, tau=regularizer.tau)
    params.update(extra)
    return params


def _run_vi(mdp, regularizer, iterations, solution, initial_values=None, backend="numpy"):
    v = np.zeros(mdp.n_states) if initial_values is None else np.asarray(initial_values, float)
    errors = [np.max(np.abs(v - solution.values))]
    for _ in range(iterations):
        v = bellman_operator(mdp, v, regularizer, backend=backend)
        errors.append(np.max(np.abs(v - solution.values)))
    policy = greedy_policy(mdp.q_values(v), regularizer)
    return {"value_error": np.array(errors)}, policy, {}


def _run_pi(mdp, regularizer, iterations, solution, initial_policy=None):
    policy = np.exp(_initial_logits(mdp, initial_policy))
    incumbent = None
    errors = []
    for k in range(iterations + 1):
        v = mdp.evaluate(policy, regularizer)
        errors.append(np.max(np.abs(v - solution.values)))
        if k < iterations:
            policy = greedy_policy(mdp.q_values(v), regularizer, incumbent)
            if regularizer is None:
                incumbent = np.argmax(policy, axis=1)
    return {"value_error": np.array(errors)}, policy, {}


def _run_mpi(mdp, regularizer, iterations, solution, m=1, initial_values=None):
    """Modified PI; policy_value_error[k] = ‖v* − v^{π_k}_Ω‖∞ with π_k = G_Ω(v_{k−1}) and
    π_0 = G_Ω(v_0) (Geist et al. 1901.11275 Thm 3 / Cor. 1, exact case)."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m (evaluation sweeps) must be a positive int, got {m!r}")
    v = np.zeros(mdp.n_states) if initial_values is None else np.asarray(initial_values, float)
    v_err = [np.max(np.abs(v - solution.values))]
    policy = greedy_policy(mdp.q_values(v), regularizer)
    pol_err = [np.max(np.abs(solution.values - mdp.evaluate(policy, regularizer)))]
    for _ in range(iterations):
        policy = greedy_policy(mdp.q_values(v), regularizer)
        pen = _penalty(policy, regularizer)
        for _ in range(m):
            v = np.sum(policy * mdp.q_values(v), axis=1) - pen
        v_err.append(np.max(np.abs(v - solution.values)))
        pol_err.append(np.max(np.abs(solution.values - mdp.evaluate(policy, regularizer))))
    extra = {"m": m, "C1": float(v_err[0])}
    return {"value_error": np.array(v_err), "policy_value_error": np.array(pol_err)}, policy, extra


def _run_md_mpi(mdp, regularizer, iterations, solution, m=1, lam=1.0, initial_values=None):
    """Mirror-descent MPI, type 1 (Geist et al. 1901.11275 §5): π_{k+1} ∝ π_k e^{q_{v_k}/λ},
    v_{k+1} = (T_{π_{k+1}, λKL(·‖π_k)})^m v_k. The greedy step is the prox step with β = 0,
    η = 1/λ. regret[k] = (1/(k+1)) Σ_{j≤k} ‖v* − v^{π_j}‖∞ (Thm 4 / Cor. 3 bounds it by O(1/k))."""
    if regularizer is not None:
        raise ValueError("md_mpi is the unregularized mirror-descent MPI; pass regularizer=None")
    lam = check_scalar(lam, "lam", low=0.0, low_open=True)
    v = np.zeros(mdp.n_states) if initial_values is None else np.asarray(initial_values, float)
    logits = _uniform_logits(mdp)
    errors = [np.max(np.abs(solution.values - mdp.evaluate(softmax(logits))))]
    for _ in range(iterations):
        new_logits = prox_step(logits, mdp.q_values(v), eta=1.0 / lam, beta=0.0,
                               log_reference=logits)
        policy = softmax(new_logits)
        kl = lam * np.sum(policy * (new_logits - logits), axis=1)
        for _ in range(m):
            v = np.sum(policy * mdp.q_values(v), axis=1) - kl
        logits = new_logits
        errors.append(np.max(np.abs(solution.values - mdp.evaluate(policy))))
    errors = np.array(errors)
    regret = np.cumsum(errors) / np.arange(1, len(errors) + 1)
    return ({"policy_value_error": errors, "regret": regret}, softmax(logits),
            {"m": m, "lam": lam})


def _soft_q(mdp, logits, regularizer):
    return mdp.q_policy(softmax(logits), regularizer)


def _run_npg_entropy(mdp, regularizer, iterations, solution, eta=None, q_noise=0.0, seed=None,
                     initial_policy=None):
    """Entropy-regularized NPG (Cen et al. 2007.06558, eq. (13)/(17)):
    log π⁺ = (1 − ητ/(1−γ)) log π + η Q̂/(1−γ) − log Z, 0 < η ≤ (1−γ)/τ, with
    ‖Q̂ − Q^π_τ‖∞ ≤ δ = ``q_noise`` (uniform noise, Thm 2). The prox step with β = τ,
    mirror-descent step η/(1 − γ) and uniform reference."""
    if not isinstance(regularizer, Entropy):
        raise ValueError("npg_entropy needs regularizer=Entropy(tau)")
    tau, gamma = regularizer.tau, mdp.gamma
    eta = (1 - gamma) / tau if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    if eta > (1 - gamma) / tau * (1 + 1e-12):
        raise ValueError(f"eta must be ≤ (1−γ)/τ = {(1 - gamma) / tau:g}, got {eta:g}")
    delta = check_scalar(q_noise, "q_noise", low=0.0)
    rng = np.random.default_rng(seed)
    prox_eta = eta_from_mirror_descent(min(eta / (1 - gamma), 1 / tau), tau)
    uniform = _uniform_logits(mdp)
    logits = _initial_logits(mdp, initial_policy)
    log_star = safe_log(solution.policy)
    metrics = {"q_error": [], "log_policy_error": [], "value_error": []}
    for k in range(iterations + 1):
        q = _soft_q(mdp, logits, regularizer)
        v = np.sum(softmax(logits) * (q - tau * logits), axis=1)
        metrics["q_error"].append(np.max(np.abs(solution.q - q)))
        metrics["log_policy_error"].append(np.max(np.abs(log_star - logits)))
        metrics["value_error"].append(np.max(np.abs(solution.values - v)))
        if k == 0:
            c1 = metrics["q_error"][0] + 2 * tau * (1 - eta * tau / (1 - gamma)) * metrics[
                "log_policy_error"][0]
        if k < iterations:
            q_hat = q + delta * rng.uniform(-1.0, 1.0, size=q.shape) if delta > 0 else q
            logits = prox_step(logits, q_hat, eta=prox_eta, beta=tau, log_reference=uniform)
    c2 = 2 * delta / (1 - gamma) * (1 + gamma / (eta * tau))
    metrics["q_error_excess"] = np.array(metrics["q_error"]) - gamma * c2
    extra = {"eta": eta, "delta": delta, "C1": float(c1), "C2": float(c2), "seed": seed,
             "initial_policy": _initial_kind(initial_policy)}
    return {k: np.array(v) for k, v in metrics.items()}, softmax(logits), extra


def stationary_distribution(P_pi):
    """A distribution ν with νᵀP_π = νᵀ (least-squares solve of the consistent system)."""
    P_pi = np.asarray(P_pi.toarray() if hasattr(P_pi, "toarray") else P_pi)
    S = P_pi.shape[0]
    M = np.vstack([P_pi.T - np.eye(S), np.ones((1, S))])
    b = np.zeros(S + 1)
    b[-1] = 1.0
    nu = np.linalg.lstsq(M, b, rcond=None)[0]
    nu = np.maximum(nu, 0.0)
    return nu / nu.sum()


def _run_pmd(mdp, regularizer, iterations, solution, eta=None, initial_policy=None):
    """Policy mirror descent with a strongly convex regularizer h = τ·KL(·‖μ) (τ·negentropy
    is μ uniform), KL Bregman divergence (Lan 2102.00135, eq. (2.3) in reward form):
    log π⁺ = (log π + ητ log μ + η Q^π_h)/(1 + ητ) − log Z; Thm 1 uses η = (1−γ)/(γτ).

    lan_potential[k] = E_{ν*}[V*_h − V^{π_k}_h] + (τ/(1−γ)) E_{ν*} KL(π*(s)‖π_k(s)), ν* a
    stationary distribution of π*."""
    if not isinstance(regularizer, Entropy | KL):
        raise ValueError("pmd needs regularizer=Entropy(tau) or KL(tau, reference)")
    tau, gamma = regularizer.tau, mdp.gamma
    if eta is None:
        if gamma == 0:
            raise ValueError("the default step (1−γ)/(γτ) needs gamma > 0; pass eta")
        eta = (1 - gamma) / (gamma * tau)
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    log_ref = (np.broadcast_to(regularizer.log_reference, (mdp.n_states, mdp.n_actions))
               if isinstance(regularizer, KL) else _uniform_logits(mdp))
    nu = stationary_distribution(mdp.P_pi(solution.policy))
    logits = _initial_logits(mdp, initial_policy)
    potential, value_error = [], []
    for k in range(iterations + 1):
        policy = softmax(logits)
        v = mdp.evaluate(policy, regularizer)
        kl = _kl_rows(solution.policy, logits)
        potential.append(nu @ (solution.values - v) + tau / (1 - gamma) * (nu @ kl))
        value_error.append(np.max(np.abs(solution.values - v)))
        if k < iterations:
            logits = prox_step(logits, mdp.q_values(v), eta=eta, beta=tau, log_reference=log_ref)
    return ({"lan_potential": np.array(potential), "value_error": np.array(value_error)},
            softmax(logits), {"eta": eta, "initial_policy": _initial_kind(initial_policy)})


def _run_npg(mdp, regularizer, iterations, solution, eta=1.0, step_growth=1.0, rho=None,
             initial_policy=None):
    """Unregularized NPG / PMD with KL divergence: log π⁺ = log π + η_k Q^{π_k} − log Z,
    η_{k+1} = η_k·step_growth (Xiao 2201.07443 eq. (8); Agarwal et al. 1908.00261 §5.3 write
    the same step as η_A A^π/(1−γ) with η_A = (1−γ)η).

    suboptimality[k] = δ_k = V*(ρ) − V^{π_k}(ρ);
    xiao_potential[k] = δ_k + D*_k/((1−γ)(ϑ_ρ − 1)η_k), D*_k = E_{s∼d_ρ(π*)} KL(π*_s‖π_k(s)),
    ϑ_ρ = ‖d_ρ(π*)/ρ‖∞/(1−γ), d_ρ a distribution (Thm 10; the factor 1/(1−γ) is re-derived
    for this normalisation and step convention, see theory/dp_theorems.py)."""
    if regularizer is not None:
        raise ValueError("npg is the unregularized method; use npg_entropy or pmd "
                         "with a regularizer")
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    growth = check_scalar(step_growth, "step_growth", low=1.0)
    gamma = mdp.gamma
    rho = (np.full(mdp.n_states, 1.0 / mdp.n_states) if rho is None
           else check_distribution(rho, "rho", mdp.n_states, strictly_positive=True))
    d_star = mdp.occupancy(solution.policy, rho)
    vartheta = float(np.max(d_star / rho)) / (1 - gamma)
    v_star = rho @ solution.values
    logits = _initial_logits(mdp, initial_policy)
    subopt, potential, step = [], [], eta
    for k in range(iterations + 1):
        v = mdp.evaluate(softmax(logits))
        delta = v_star - rho @ v
        kl = _kl_rows(solution.policy, logits)
        subopt.append(delta)
        potential.append(delta + (d_star @ kl) / ((1 - gamma) * (vartheta - 1) * step)
                         if vartheta > 1 else np.nan)
        if k < iterations:
            logits = prox_step(logits, mdp.q_values(v), eta=step, beta=0.0, log_reference=logits)
            step *= growth
    extra = {"eta": eta, "eta_A": (1 - gamma) * eta, "step_growth": growth,
             "vartheta": vartheta, "initial_policy": _initial_kind(initial_policy),
             "D0": float(d_star @ _kl_rows(solution.policy, _initial_logits(mdp, initial_policy)))}
    return ({"suboptimality": np.array(subopt), "xiao_potential": np.array(potential)},
            softmax(logits), extra)


METHODS = {
    "vi": _run_vi,
    "pi": _run_pi,
    "mpi": _run_mpi,
    "md_mpi": _run_md_mpi,
    "npg_entropy": _run_npg_entropy,
    "pmd": _run_pmd,
    "npg": _run_npg,
}


def run_mdp(mdp, method, *, iterations, regularizer=None, solution=None, backend="auto",
            **options) -> Trajectory:
    """Run ``method`` (a key of ``METHODS``) for ``iterations`` steps with exact evaluation.

    ``solution`` (from ``solve_mdp(mdp, regularizer)``) is computed when not given. Options
    by method: initial_values (vi, mpi, md_mpi), initial_policy (pi, npg_entropy, pmd, npg),
    m (mpi, md_mpi), lam (md_mpi), eta (npg_entropy, pmd, npg), q_noise and seed
    (npg_entropy), step_growth and rho (npg). ``backend``: the compiled Bellman operator
    (``bellman_operator``) runs "vi" on sparse models without a Tsallis regularizer ("auto":
    there, NumPy elsewhere); the other methods evaluate policies by linear solves.
    """
    if not isinstance(mdp, MDP):
        raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
    _check_infinite(mdp)
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    iterations = check_int(iterations, "iterations", 0)
    backend = choose_backend(backend, compiled=method == "vi" and _compiled_bellman(mdp, regularizer),
                             reason=_BELLMAN_KERNEL + f" and method 'vi' (got {method!r})")
    if solution is None:
        solution = solve_mdp(mdp, regularizer, backend="auto" if backend == "numba" else "numpy")
    if method == "vi":
        options["backend"] = backend
    metrics, policy, extra = METHODS[method](mdp, regularizer, iterations, solution, **options)
    params = _params(mdp, regularizer, method=method, iterations=iterations, backend=backend,
                     **extra)
    return Trajectory(method, params, metrics, policy)
