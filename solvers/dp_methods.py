"""The iterative methods of (regularized) MDPs, run by ``nashlab.solvers.dp.run_mdp``.

Each method runs with exact policy evaluation and records, per iteration (index 0 = the
initial point), the metric of the theorem that governs it, against the ground truth from
``solve_mdp`` (``theory/dp_theorems.py`` states the theorems). A runner is
``runner(mdp, regularizer, iterations, solution, init=None, [eta, seed,] **method options)
-> (metrics, final policy, params of the run)``:

===============  ====================================================  ==========================
method           update                                                metrics
===============  ====================================================  ==========================
"vi"             v ← T_{*,Ω} v  (Geist et al. 1901.11275, Prop. 2)     value_error,
                                                                       suboptimality_bound*
"gauss-seidel"   v(s) ← Ω*(q_v(s, ·)) for s = 0, 1, ... in place       value_error,
                 (Puterman 1994 §6.3.3)                                suboptimality_bound
"policy-         v ← T_{π,Ω} v for the given ``policy`` (against the   value_error, error_bound
evaluation"      exact v^π_Ω)
"pi"             π ← G_Ω(v^π_Ω), v^π_Ω exact                           value_error
"mpi"            π_{k+1} = G_Ω(v_k), v_{k+1} = (T_{π_{k+1},Ω})^m v_k    value_error,
                 (1901.11275 §4, Thm 3)                                policy_value_error,
                                                                       suboptimality_bound*
"md-mpi"         π_{k+1} ∝ π_k e^{q_{v_k}/λ}, v_{k+1} = (T_{π_{k+1},   policy_value_error, regret
                 λKL(·‖π_k)})^m v_k (1901.11275 §5, MD-MPI type 1)
"npg-entropy"    log π⁺ = (1 − ητ/(1−γ)) log π + η Q^π_τ/(1−γ)         q_error, log_policy_error,
                 (Cen et al. 2007.06558, Thm 1; Thm 2 with q_noise = δ) value_error,
                                                                       q_error_excess (− γC2)
"pmd"            log π⁺ = (log π + ητ log μ + η Q^π_Ω)/(1 + ητ)        lan_potential, value_error
                 (Lan 2102.00135, Thm 1; Ω = τ·KL(·‖μ) or τ·negentropy)
"npg"            log π⁺ = log π + η_k Q^π, η_{k+1} = η_k·step_growth    suboptimality,
                 (Agarwal et al. 1908.00261 Thm 16 with η_A = (1−γ)η;   xiao_potential,
                 Xiao 2201.07443 Thms 8, 10)                           xiao_potential_unscaled
===============  ====================================================  ==========================

(*: recorded when ``tol`` is given; gauss-seidel and policy-evaluation always record
their bound.) The common options map onto the methods as follows. ``init``: the initial values v_0 (an
(S,) vector, default 0) for "vi", "gauss-seidel", "policy-evaluation", "mpi" and "md-mpi";
the initial policy π_0 (an (S, A) policy or (S,) integer actions, default uniform on the
feasible actions) for "pi", "npg-entropy", "pmd" and "npg".
``eta``: the step of "npg-entropy" (Cen's η, default (1−γ)/τ, soft policy iteration),
"pmd" (default (1−γ)/(γτ)) and "npg" (η_0, default 1); the other methods take no step.
``seed``: the noise of "npg-entropy" (q_noise > 0). Method options (``methods.py``): m (mpi,
md-mpi), lam (md-mpi), q_noise (npg-entropy), step_growth and rho (npg), policy
(policy-evaluation), and tol (vi, gauss-seidel, mpi, policy-evaluation): stop at the first k
whose bound (suboptimality_bound, the span bound of ``dp_stopping``; error_bound for
policy-evaluation) is ≤ tol; params["iterations"] is then that k, "max_iterations" the cap.
Infeasible pairs (``MDP.feasible``) get probability 0 throughout: payoffs are 0 and
anchors/references −inf there.

Every policy update is the entropic prox step ``nashlab.solvers.prox.prox_step`` in
log-space. The potentials of the theorems (Lan's, Xiao's) are computed here, with the
iterates they are defined on.
"""

import math

import numpy as np

from nashlab._xp import normalize_logits, safe_log, softmax
from nashlab.games._validation import as_float_array, check_distribution, check_int, check_scalar
from nashlab.games.metrics import kl_from_logs
from nashlab.games.regularizers import KL, Entropy
from nashlab.solvers.bellman import greedy_policy, penalty
from nashlab.solvers.dp_stopping import check_tol, iterate, suboptimality_bound
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step


def _uniform_logits(mdp):
    """log of the uniform policy on the feasible actions (−inf at infeasible pairs)."""
    if mdp.feasible is None:
        return np.full((mdp.n_states, mdp.n_actions), -math.log(mdp.n_actions))
    return safe_log(mdp.uniform_policy())


def _payoff(mdp, q):
    """q as the (finite) payoff of a prox step: 0 at the infeasible pairs, where the anchor and
    the reference are −inf, so that the step keeps them at probability 0."""
    return q if mdp.feasible is None else np.where(mdp.feasible, q, 0.0)


def _sup_distance(x, y):
    """‖x − y‖∞ over the entries where x and y are not both −inf (infeasible pairs)."""
    both = np.isneginf(x) & np.isneginf(y)
    with np.errstate(invalid="ignore"):
        return float(np.max(np.where(both, 0.0, np.abs(x - y))))


def _expect_difference(policy, x, y):
    """Σ_a π(a|s)·(x − y)(s, a) with 0 off the support of π (where x − y may be −inf − (−inf))."""
    with np.errstate(invalid="ignore"):
        return np.sum(np.where(policy > 0, policy * (x - y), 0.0), axis=1)


def _kl_rows(p, log_q):
    """KL(p(s)‖q(s)) per state (log_q normalised logits)."""
    return kl_from_logs(p, safe_log(p), log_q)


def _initial_logits(mdp, init):
    if init is None:
        return _uniform_logits(mdp)
    return normalize_logits(safe_log(mdp.as_policy(init, "init")))


def _initial_values(mdp, init):
    """v_0: zeros, or ``init`` as real finite values of shape (S,) (NaN ran on to NaN)."""
    return np.zeros(mdp.n_states) if init is None else mdp._values(as_float_array(init, "init"),
                                                                    "init")


def check_seed(seed):
    """``seed`` as None or an int ≥ 0 (TypeError for bool and non-integers: params["seed"]
    records it, so it must be a JSON integer)."""
    return None if seed is None else check_int(seed, "seed", 0)


def _stopped(tol, k, iterations):
    """The params of a run that may stop early: its tol and the iterations it ran."""
    return {"tol": tol, "iterations": k, "max_iterations": iterations}


def _run_span(method, mdp, regularizer, iterations, solution, init, tol, backend):
    """VI or Gauss–Seidel VI (``dp_stopping.iterate``) until ``iterations`` or, with ``tol``,
    the first k whose span bound γ/(1−γ)·sp(T v_k − v_k) ≤ tol; the final policy is G(v_k)."""
    tol = check_tol(tol)
    errors, bounds = [], []
    steps = iterate(mdp, regularizer, method, _initial_values(mdp, init), backend=backend)
    for k, (v, tv) in enumerate(steps):
        errors.append(np.max(np.abs(v - solution.values)))
        bounds.append(suboptimality_bound(mdp.gamma, tv, v))
        if k == iterations or (tol is not None and bounds[-1] <= tol):
            break
    policy = greedy_policy(mdp.q_values(v), regularizer)
    metrics = {"value_error": np.array(errors)}
    if tol is not None or method == "gauss-seidel":
        metrics["suboptimality_bound"] = np.array(bounds)
    return metrics, policy, _stopped(tol, k, iterations)


def _run_vi(mdp, regularizer, iterations, solution, init=None, backend="numpy", tol=None):
    return _run_span("vi", mdp, regularizer, iterations, solution, init, tol, backend)


def _run_gauss_seidel(mdp, regularizer, iterations, solution, init=None, backend="numpy",
                      tol=None):
    return _run_span("gauss-seidel", mdp, regularizer, iterations, solution, init, tol, backend)


def _run_policy_evaluation(mdp, regularizer, iterations, solution, init=None, policy=None,
                           tol=None):
    """Iterative policy evaluation v_{k+1} = T_{π,Ω} v_k of ``policy`` against its exact value
    (``solution`` from ``solve_mdp(mdp, method="policy-evaluation", policy=policy)``);
    error_bound[k] = ‖T_π v_k − v_k‖∞/(1 − γ) ≥ ‖v_k − v^π‖∞ (γ-contraction); ``tol`` stops at
    the first k with error_bound[k] ≤ tol."""
    if policy is None:
        raise ValueError("policy-evaluation needs policy= (the (S, A) policy or (S,) actions "
                         "to evaluate)")
    policy = mdp.as_policy(policy, "policy")
    if (solution.params.get("method") != "policy-evaluation"
            or not np.array_equal(solution.policy, policy)):
        raise ValueError("solution must be solve_mdp(mdp, method='policy-evaluation', "
                         "policy=policy) for the same policy")
    tol = check_tol(tol)
    pen = penalty(policy, regularizer)
    v = _initial_values(mdp, init)
    errors, bounds = [], []
    for k in range(iterations + 1):
        tv = mdp.policy_backup(policy, v) - pen
        errors.append(np.max(np.abs(v - solution.values)))
        bounds.append(np.max(np.abs(tv - v)) / (1.0 - mdp.gamma))
        if k == iterations or (tol is not None and bounds[-1] <= tol):
            break
        v = tv
    return ({"value_error": np.array(errors), "error_bound": np.array(bounds)}, policy,
            _stopped(tol, k, iterations))


def _run_pi(mdp, regularizer, iterations, solution, init=None):
    policy = np.exp(_initial_logits(mdp, init))
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


def _check_sweeps(m):
    """m (evaluation sweeps): TypeError for a non-integer (bool included), ValueError if < 1."""
    if isinstance(m, bool) or not isinstance(m, int | np.integer):
        raise TypeError(f"m (evaluation sweeps) must be a positive int, got {m!r}")
    if m < 1:
        raise ValueError(f"m (evaluation sweeps) must be a positive int, got {m!r}")
    return int(m)


def _run_mpi(mdp, regularizer, iterations, solution, init=None, m=1, tol=None):
    """Modified PI; policy_value_error[k] = ‖v* − v^{π_k}_Ω‖∞ with π_k = G_Ω(v_{k−1}) and
    π_0 = G_Ω(v_0) (Geist et al. 1901.11275 Thm 3 / Cor. 1, exact case);
    suboptimality_bound[k] = γ/(1−γ)·sp(T v_k − v_k) ≥ ‖v* − v^{G(v_k)}‖∞ (``dp_stopping``).
    With ``tol`` the run stops at the first k whose bound ≤ tol and returns G(v_k)."""
    m = _check_sweeps(m)
    tol = check_tol(tol)
    v_err, pol_err, bounds, previous = [], [], [], None
    for k, (v, tv) in enumerate(iterate(mdp, regularizer, "mpi", _initial_values(mdp, init),
                                        m=m)):
        greedy = greedy_policy(mdp.q_values(v), regularizer)
        v_err.append(np.max(np.abs(v - solution.values)))
        bounds.append(suboptimality_bound(mdp.gamma, tv, v))
        policy = greedy if previous is None else previous  # π_k
        pol_err.append(np.max(np.abs(solution.values - mdp.evaluate(policy, regularizer))))
        if tol is not None and bounds[-1] <= tol:
            policy = greedy
            break
        if k == iterations:
            break
        previous = greedy
    extra = {"m": m, "C1": float(v_err[0]), **_stopped(tol, k, iterations)}
    metrics = {"value_error": np.array(v_err), "policy_value_error": np.array(pol_err)}
    if tol is not None:
        metrics["suboptimality_bound"] = np.array(bounds)
    return metrics, policy, extra


def _run_md_mpi(mdp, regularizer, iterations, solution, init=None, m=1, lam=1.0):
    """Mirror-descent MPI, type 1 (Geist et al. 1901.11275 §5): π_{k+1} ∝ π_k e^{q_{v_k}/λ},
    v_{k+1} = (T_{π_{k+1}, λKL(·‖π_k)})^m v_k from π_0 uniform. The greedy step is the prox
    step with β = 0, η = 1/λ. regret[k] = (1/(k+1)) Σ_{j≤k} ‖v* − v^{π_j}‖∞ (Thm 4 / Cor. 3
    bounds it by O(1/k))."""
    if regularizer is not None:
        raise ValueError("md-mpi is the unregularized mirror-descent MPI; pass regularizer=None")
    m = _check_sweeps(m)
    lam = check_scalar(lam, "lam", low=0.0, low_open=True)
    v = _initial_values(mdp, init)
    logits = _uniform_logits(mdp)
    errors = [np.max(np.abs(solution.values - mdp.evaluate(softmax(logits))))]
    for _ in range(iterations):
        new_logits = prox_step(logits, _payoff(mdp, mdp.q_values(v)), eta=1.0 / lam, beta=0.0,
                               log_reference=logits)
        policy = softmax(new_logits)
        kl = lam * _expect_difference(policy, new_logits, logits)
        for _ in range(m):
            v = mdp.policy_backup(policy, v) - kl
        logits = new_logits
        errors.append(np.max(np.abs(solution.values - mdp.evaluate(policy))))
    errors = np.array(errors)
    regret = np.cumsum(errors) / np.arange(1, len(errors) + 1)
    return ({"policy_value_error": errors, "regret": regret}, softmax(logits),
            {"m": m, "lam": lam})


def _soft_q(mdp, logits, regularizer):
    return mdp.q_policy(softmax(logits), regularizer)


def _run_npg_entropy(mdp, regularizer, iterations, solution, init=None, eta=None, seed=None,
                     q_noise=0.0):
    """Entropy-regularized NPG (Cen et al. 2007.06558, eq. (13)/(17)):
    log π⁺ = (1 − ητ/(1−γ)) log π + η Q̂/(1−γ) − log Z, 0 < η ≤ (1−γ)/τ, with
    ‖Q̂ − Q^π_τ‖∞ ≤ δ = ``q_noise`` (uniform noise drawn from ``seed``, Thm 2). The prox step
    with β = τ, mirror-descent step η/(1 − γ) and uniform reference."""
    if not isinstance(regularizer, Entropy):
        raise ValueError("npg-entropy needs regularizer=Entropy(tau)")
    tau, gamma = regularizer.tau, mdp.gamma
    eta = (1 - gamma) / tau if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    if eta > (1 - gamma) / tau * (1 + 1e-12):
        raise ValueError(f"eta must be ≤ (1−γ)/τ = {(1 - gamma) / tau:g}, got {eta:g}")
    delta = check_scalar(q_noise, "q_noise", low=0.0)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    prox_eta = eta_from_mirror_descent(min(eta / (1 - gamma), 1 / tau), tau)
    uniform = _uniform_logits(mdp)
    logits = _initial_logits(mdp, init)
    log_star = safe_log(solution.policy)
    metrics = {"q_error": [], "log_policy_error": [], "value_error": []}
    for k in range(iterations + 1):
        q = _soft_q(mdp, logits, regularizer)
        v = _expect_difference(softmax(logits), q, tau * logits)
        metrics["q_error"].append(_sup_distance(solution.q, q))
        metrics["log_policy_error"].append(_sup_distance(log_star, logits))
        metrics["value_error"].append(np.max(np.abs(solution.values - v)))
        if k == 0:
            c1 = metrics["q_error"][0] + 2 * tau * (1 - eta * tau / (1 - gamma)) * metrics[
                "log_policy_error"][0]
        if k < iterations:
            q_hat = q + delta * rng.uniform(-1.0, 1.0, size=q.shape) if delta > 0 else q
            logits = prox_step(logits, _payoff(mdp, q_hat), eta=prox_eta, beta=tau,
                               log_reference=uniform)
    c2 = 2 * delta / (1 - gamma) * (1 + gamma / (eta * tau))
    metrics["q_error_excess"] = np.array(metrics["q_error"]) - gamma * c2
    extra = {"eta": eta, "delta": delta, "q_noise": delta, "C1": float(c1), "C2": float(c2),
             "seed": seed}
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


def _run_pmd(mdp, regularizer, iterations, solution, init=None, eta=None):
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
    log_ref = (mdp.mask(np.broadcast_to(regularizer.log_reference, (mdp.n_states, mdp.n_actions)))
               if isinstance(regularizer, KL) else _uniform_logits(mdp))
    nu = stationary_distribution(mdp.P_pi(solution.policy))
    logits = _initial_logits(mdp, init)
    potential, value_error = [], []
    for k in range(iterations + 1):
        policy = softmax(logits)
        v = mdp.evaluate(policy, regularizer)
        kl = _kl_rows(solution.policy, logits)
        potential.append(nu @ (solution.values - v) + tau / (1 - gamma) * (nu @ kl))
        value_error.append(np.max(np.abs(solution.values - v)))
        if k < iterations:
            logits = prox_step(logits, _payoff(mdp, mdp.q_values(v)), eta=eta, beta=tau,
                               log_reference=log_ref)
    return ({"lan_potential": np.array(potential), "value_error": np.array(value_error)},
            softmax(logits), {"eta": eta})


def _run_npg(mdp, regularizer, iterations, solution, init=None, eta=None, step_growth=1.0,
             rho=None):
    """Unregularized NPG / PMD with KL divergence: log π⁺ = log π + η_k Q^{π_k} − log Z,
    η_{k+1} = η_k·step_growth (Xiao 2201.07443 eq. (8); Agarwal et al. 1908.00261 §5.3 write
    the same step as η_A A^π/(1−γ) with η_A = (1−γ)η).

    suboptimality[k] = δ_k = V*(ρ) − V^{π_k}(ρ);
    xiao_potential[k] = δ_k + D*_k/((1−γ)(ϑ_ρ − 1)η_k), D*_k = E_{s∼d_ρ(π*)} KL(π*_s‖π_k(s)),
    ϑ_ρ = ‖d_ρ(π*)/ρ‖∞/(1−γ), d_ρ a distribution (Thm 10; the factor 1/(1−γ) is re-derived
    for this normalisation and step convention, see theory/dp_theorems.py);
    xiao_potential_unscaled[k] = δ_k + D*_k/((ϑ_ρ − 1)η_k), the same without the 1/(1−γ) (the
    theory notes' earlier eq. (54), which is violated: the falsifier's regression)."""
    if regularizer is not None:
        raise ValueError("npg is the unregularized method; use npg-entropy or pmd "
                         "with a regularizer")
    eta = 1.0 if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    growth = check_scalar(step_growth, "step_growth", low=1.0)
    gamma = mdp.gamma
    rho = (np.full(mdp.n_states, 1.0 / mdp.n_states) if rho is None
           else check_distribution(rho, "rho", mdp.n_states, strictly_positive=True))
    d_star = mdp.occupancy(solution.policy, rho)
    vartheta = float(np.max(d_star / rho)) / (1 - gamma)
    v_star = rho @ solution.values
    logits = _initial_logits(mdp, init)
    d0 = float(d_star @ _kl_rows(solution.policy, logits))
    subopt, potential, unscaled, step = [], [], [], eta
    for k in range(iterations + 1):
        v = mdp.evaluate(softmax(logits))
        delta = v_star - rho @ v
        kl = _kl_rows(solution.policy, logits)
        subopt.append(delta)
        potential.append(delta + (d_star @ kl) / ((1 - gamma) * (vartheta - 1) * step)
                         if vartheta > 1 else np.nan)
        unscaled.append(delta + (d_star @ kl) / ((vartheta - 1) * step) if vartheta > 1
                        else np.nan)
        if k < iterations:
            logits = prox_step(logits, _payoff(mdp, mdp.q_values(v)), eta=step, beta=0.0,
                               log_reference=logits)
            step *= growth
            if not math.isfinite(step):
                raise ValueError(f"step_growth = {growth:g} overflows the step η_k = η·growth^k to "
                                 f"inf at k = {k + 1} (eta = {eta:g}); use fewer iterations or a "
                                 "smaller step_growth")
    extra = {"eta": eta, "eta_A": (1 - gamma) * eta, "step_growth": growth,
             "vartheta": vartheta, "D0": d0}
    return ({"suboptimality": np.array(subopt), "xiao_potential": np.array(potential),
             "xiao_potential_unscaled": np.array(unscaled)},
            softmax(logits), extra)


#: method name -> runner(mdp, regularizer, iterations, solution, init=None, [eta, seed,]
#: **method options) -> (metrics, final policy, params of the run)
METHODS = {
    "vi": _run_vi,
    "gauss-seidel": _run_gauss_seidel,
    "policy-evaluation": _run_policy_evaluation,
    "pi": _run_pi,
    "mpi": _run_mpi,
    "md-mpi": _run_md_mpi,
    "npg-entropy": _run_npg_entropy,
    "pmd": _run_pmd,
    "npg": _run_npg,
}
#: the methods that draw random numbers (``seed``)
SEEDED = ("npg-entropy",)
#: the methods whose ``init`` is the initial values v_0 (the others: the initial policy π_0)
VALUE_INIT = ("vi", "gauss-seidel", "policy-evaluation", "mpi", "md-mpi")


def init_kind(method, init):
    """params["init"] of a run: "given", or what the method starts from without ``init``."""
    if init is not None:
        return "given"
    return "zeros" if method in VALUE_INIT else "uniform"
