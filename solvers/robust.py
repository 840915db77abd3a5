"""Robust MDPs: robust Bellman operators, robust VI / PI / policy mirror descent, certified solve.

Theory notes dp_robust.md §3. For an uncertainty set U (``nashlab.games.uncertainty``):

    (T^π_U v)(s) = min_{P_s ∈ U_s} Σ_a π(a|s) (r(s,a) + γ P_{s,a}·v) − Ω(π_s),
    (T_U v)(s)   = max_{π_s} (T^π_U v)(s),

both monotone γ-contractions in ‖·‖∞ (Iyengar 2005; Nilim & El Ghaoui 2005; Wiesemann,
Kuhn, Rustem 2013). For (s,a)-rectangular U the inner minimum splits per (s,a):
q_U(v) = r + γ σ_{U_{s,a}}(v), T_U v = Ω*(q_U(v)) (max_a without Ω) and a deterministic
optimal policy exists. For s-rectangular sets (``L1Ball(·, "s")``, ``LpBall(·, ·, "s")``)
the optimal policy may be randomized; no regularizer is supported there.

Algorithms (``run_robust`` records a ``Trajectory``; metric index 0 = initial point):

* "vi"   v_{k+1} = T_U v_k; value_error[k] = ‖v_k − v*‖∞ ≤ γ·value_error[k−1].
* "pi"   robust policy iteration (Iyengar 2005, "Robust dynamic programming", Math. OR 30):
         exact robust evaluation v^{π_k}_U (nature's MDP solved by nature policy iteration),
         then π_{k+1} greedy for T_U v^{π_k}; value_error[k] = ‖v* − v^{π_k}_U‖∞, rate γ.
* "rpmd" robust policy mirror descent (Li, Lan, Zhao, arXiv 2209.10579) with the KL
         divergence: log π_{k+1} = log π_k + η_k Q^{π_k}_U − log Z (the prox step with β = 0),
         η_{k+1} = η_k·step_growth; (s,a)-rectangular sets only (Q^π_U is per (s, a)).

``solve_robust(mdp, uncertainty, regularizer=None)`` runs robust PI and certifies the result
by the robust Bellman residual ‖T_U v − v‖∞ ≤ 1e-10 (``Solution`` of ``dp.mdp_solution``).
"""

import math

import numpy as np

from nashlab.games._validation import check_int
from nashlab.games.mdp import MDP
from nashlab.games.uncertainty import (
    UNCERTAINTY_SETS,
    Chi2Ball,
    Chi2Penalty,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    TVPenalty,
    WassersteinBall,
    parse_uncertainty,
)
from nashlab.solvers.backends import BACKENDS
from nashlab.solvers.dp import greedy_policy, mdp_solution
from nashlab.solvers.results import Solution
from nashlab.solvers.prox import prox_step
from nashlab.solvers.results import Trajectory
from nashlab.solvers.robust_oracles import (
    _as_csr,
    batch_worst_case,
    kappa,
    lp_water_filling,
    s_rectangular_l1_backup,
)

_KINDS = {L1Ball: "l1", KLBall: "kl", Chi2Ball: "chi2", WassersteinBall: "wasserstein",
          KLPenalty: "kl-penalty", TVPenalty: "tv-penalty", Chi2Penalty: "chi2-penalty"}


def as_uncertainty(uncertainty):
    """An uncertainty-set object, from an object or a ``parse_uncertainty`` spec string."""
    if isinstance(uncertainty, str):
        return parse_uncertainty(uncertainty)
    if not isinstance(uncertainty, UNCERTAINTY_SETS):
        raise TypeError("uncertainty must be an uncertainty set of nashlab.games.uncertainty or a "
                        f"spec string like 'l1:0.1', got {type(uncertainty).__name__}")
    return uncertainty


class RobustBellman:
    """The robust Bellman maps of ``(mdp, uncertainty, regularizer)``, prepared once.

    Methods (v of shape (S,), policies (S, A)):
    * ``q(v)`` → q_U(v) = r + γ σ_U(v) (S, A), (s,a)-rectangular sets only;
    * ``backup(v)`` → (T_U v, a maximizing policy);
    * ``policy_backup(v, policy, want_kernel)`` → (T^π_U v, worst kernel (S·A, S) or None,
      penalty c (S, A)) with T^π_U v = Σ_a π (r + γ(P* v + c)) − Ω(π);
    * ``evaluate(policy)`` → v^π_U, the fixed point of T^π_U (nature's MDP).

    ``backend``: the worst-case oracles σ_U of every set but L_p are compiled kernels
    (``nashlab.solvers.robust_oracles``; their references are the LP and cvxpy programs of
    the tests): "auto" or "numba". L_p sets use the closed form of Kumar et al. in NumPy:
    "auto" or "numpy".
    """

    def __init__(self, mdp, uncertainty, regularizer=None, *, backend="auto"):
        if not isinstance(mdp, MDP):
            raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
        if mdp.horizon is not None:
            raise ValueError("robust solvers need an infinite-horizon MDP (horizon=None)")
        self.mdp = mdp
        self.uncertainty = as_uncertainty(uncertainty)
        self.backend = _robust_backend(backend, self.uncertainty)
        self.regularizer = regularizer
        self.rectangularity = self.uncertainty.rectangularity
        if self.rectangularity == "s" and regularizer is not None:
            raise ValueError("a regularizer is supported with (s,a)-rectangular sets only")
        S, A = mdp.n_states, mdp.n_actions
        self.radii = self.uncertainty.radii(S, A)
        self.csr = _as_csr(mdp.P_flat)
        self.cost = (self.uncertainty.cost_matrix(S)
                     if isinstance(self.uncertainty, WassersteinBall) else None)
        #: whether every kernel of the set is a distribution (always, except L_p sets of
        #: Kumar et al. whose perturbations P̄ + u may be negative; min P̄ ≥ β suffices since
        #: |u_j| ≤ ‖u‖_p ≤ β). Only then is T_U guaranteed to be a γ-contraction.
        self.kernels_in_simplex = True
        if isinstance(self.uncertainty, LpBall):
            self.reward_radii = self.uncertainty.reward_radii(S, A)
            min_p = float(mdp.P_flat.min()) if mdp.P_flat.shape[1] > 0 else 0.0
            self.kernels_in_simplex = bool(min_p >= float(np.max(self.radii)))

    # -- building blocks ---------------------------------------------------------------------
    @property
    def _is_lp(self):
        return isinstance(self.uncertainty, LpBall)

    def _sigma(self, v, want_kernel):
        """σ_{U_{s,a}}(v) (S, A) and the worst kernel ((S·A, S) dense or None); sa-rect."""
        S, A = self.mdp.n_states, self.mdp.n_actions
        if self._is_lp:
            k, g = kappa(v, self.uncertainty.q)
            sigma = self.mdp.expected_next(v) - self.radii * k
            kernel = (self.mdp.P_flat - self.radii.reshape(-1, 1) * g[None, :]
                      if want_kernel else None)
            if kernel is not None and not isinstance(kernel, np.ndarray):
                kernel = np.asarray(kernel)
            return sigma, kernel
        values, kernel = batch_worst_case(_KINDS[type(self.uncertainty)], self.csr, v,
                                          self.radii.ravel(), cost=self.cost,
                                          want_kernel=want_kernel)
        return values.reshape(S, A), kernel

    def _reward(self):
        if self._is_lp and self.rectangularity == "sa":
            return self.mdp.r - self.reward_radii
        return self.mdp.r

    def q(self, v):
        """Robust Q-function q_U(v) = r + γ σ_U(v) of an (s,a)-rectangular set."""
        if self.rectangularity != "sa":
            raise ValueError("q_U(v) is defined per (s, a) for (s,a)-rectangular sets only")
        v = self.mdp._values(v)
        return self._reward() + self.mdp.gamma * self._sigma(v, False)[0]

    def backup(self, v, incumbent=None):
        """(T_U v, maximizing policy); ``incumbent`` actions are kept on ties (sa, no Ω)."""
        v = self.mdp._values(v)
        mdp, unc = self.mdp, self.uncertainty
        if self.rectangularity == "sa":
            q = self.q(v)
            if self.regularizer is None:
                return q.max(axis=1), greedy_policy(q, incumbent=incumbent)
            return self.regularizer.conjugate(q), self.regularizer.greedy(q)
        if self._is_lp:  # Kumar et al. 2301.13642: water filling with σ_s = α_s + γβ_sκ_q(v)
            sigma = self.reward_radii + mdp.gamma * self.radii * kappa(v, unc.q)[0]
            return lp_water_filling(mdp.q_values(v), sigma, unc.p)
        values, policy, _ = s_rectangular_l1_backup(self.csr, v, mdp.r, mdp.gamma, self.radii)
        return values, policy

    def policy_backup(self, v, policy, want_kernel=False):
        """(T^π_U v, worst kernel or None, penalty c (S, A))."""
        v = self.mdp._values(v)
        mdp, unc = self.mdp, self.uncertainty
        S, A = mdp.n_states, mdp.n_actions
        penalty = np.zeros((S, A))
        omega = 0.0 if self.regularizer is None else self.regularizer.value(policy)
        if self.rectangularity == "sa":
            sigma, kernel = self._sigma(v, want_kernel)
            if kernel is not None and not self._is_lp:
                penalty = sigma - (kernel @ v).reshape(S, A)  # λD(p*‖P̄) for penalties, 0 else
            values = np.sum(policy * (self._reward() + mdp.gamma * sigma), axis=1) - omega
            return values, kernel, penalty
        if self._is_lp:
            q_norm = _policy_norm(policy, unc.q)
            sigma = self.reward_radii + mdp.gamma * self.radii * kappa(v, unc.q)[0]
            values = np.sum(policy * mdp.q_values(v), axis=1) - sigma * q_norm
            return values, None, penalty
        values, _, alloc = s_rectangular_l1_backup(self.csr, v, mdp.r, mdp.gamma, self.radii,
                                                   policy=policy)
        kernel = None
        if want_kernel:
            _, kernel = batch_worst_case("l1", self.csr, v, alloc.ravel(), want_kernel=True)
        return values, kernel, penalty

    def evaluate(self, policy, *, tol=1e-13, max_iterations=500):
        """v^π_U: nature's policy iteration P_k = worst(v_k), v_{k+1} = v^π_{P_k} (exact linear
        solves; Iyengar 2005), or fixed-point iteration of T^π_U for L_p sets (their worst
        kernels may be signed)."""
        mdp = self.mdp
        policy = mdp.as_policy(policy)
        S, A = mdp.n_states, mdp.n_actions
        reward = mdp.r_pi(policy) if self.regularizer is None else (
            mdp.r_pi(policy) - self.regularizer.value(policy))
        if self._is_lp:  # iterate the γ-contraction until its step stops shrinking
            v, step, stalls = mdp.evaluate(policy), math.inf, 0
            for _ in range(max_iterations * 100):
                v_new = self.policy_backup(v, policy)[0]
                new_step = float(np.max(np.abs(v_new - v)))
                stalls = stalls + 1 if new_step >= step else 0
                v, step = v_new, min(step, new_step)
                if new_step == 0.0 or stalls >= 5:
                    break
            if step > 1e-9 * max(1.0, float(np.max(np.abs(v)))):
                raise RuntimeError(f"robust evaluation did not converge (last step {step:.3g}): "
                                   "T^π_U need not be a contraction when the L_p set leaves the "
                                   "simplex (kernels_in_simplex is False)")
            return v
        v = mdp.evaluate(policy, self.regularizer)
        best_v, best_res, stalls = v, math.inf, 0
        for _ in range(max_iterations):
            values, kernel, penalty = self.policy_backup(v, policy, want_kernel=True)
            res = float(np.max(np.abs(values - v)))
            if res < best_res:
                best_v, best_res, stalls = v, res, 0
            else:
                stalls += 1
            if res <= tol * max(1.0, float(np.max(np.abs(v)))) or stalls >= 3:
                break
            P_pi = np.einsum("sa,sat->st", policy, kernel.reshape(S, A, S))
            c_pi = np.sum(policy * penalty, axis=1)
            v = np.linalg.solve(np.eye(S) - mdp.gamma * P_pi, reward + mdp.gamma * c_pi)
        return best_v

    def worst_q(self, v, policy):
        """r + γ P*v − (reward perturbation) under nature's best reply to ``policy`` (s-rect),
        so that Σ_a π(a|s) q(s, a) = (T^π_U v)(s)."""
        mdp = self.mdp
        if self._is_lp:  # u*_{s,a} = −c_a g with c_a = β_s (π_a/‖π_s‖_q)^{q−1} (Hölder)
            sigma = self.reward_radii + mdp.gamma * self.radii * kappa(v, self.uncertainty.q)[0]
            return mdp.q_values(v) - sigma[:, None] * _lp_action_weights(policy, self.uncertainty.q)
        _, kernel, _ = self.policy_backup(v, policy, want_kernel=True)
        return mdp.r + mdp.gamma * (kernel @ v).reshape(mdp.n_states, mdp.n_actions)

    def residual(self, v):
        """‖T_U v − v‖∞."""
        return float(np.max(np.abs(self.backup(v)[0] - v)))


def _robust_backend(backend, uncertainty):
    """The one backend that implements σ_U of ``uncertainty`` ("numba" or "numpy")."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    name = type(uncertainty).__name__
    only = "numpy" if isinstance(uncertainty, LpBall) else "numba"
    if backend not in ("auto", only):
        raise ValueError(f"backend={backend!r} is not available for {name}: its worst-case "
                         f"oracle has one implementation, backend 'auto' or {only!r}")
    return only


def _lp_action_weights(policy, q):
    """d with Σ_a π_a d_a = ‖π‖_q and ‖d‖_p = 1: the Hölder-extremal direction of π."""
    if math.isinf(q):
        d = np.zeros_like(policy)
        np.put_along_axis(d, np.argmax(policy, axis=1)[:, None], 1.0, axis=1)
        return d
    if q == 1.0:
        return np.ones_like(policy)
    return (policy / _policy_norm(policy, q)[:, None]) ** (q - 1.0)


def _policy_norm(policy, q):
    """‖π(·|s)‖_q per state."""
    if math.isinf(q):
        return policy.max(axis=1)
    return np.sum(policy ** q, axis=1) ** (1.0 / q)


# -- certified solve --------------------------------------------------------------------------
def _robust_pi(op, max_iterations):
    """Robust PI (Iyengar 2005) from the greedy policy of v = 0, until the policy is stable
    (deterministic case: the residual of PI need not decrease monotonically, so it is not a
    stopping rule there) or, for randomized policies, the residual ‖T_U v^π − v^π‖∞ has not
    improved for 5 evaluations; returns the best (values, policy) and the evaluations."""
    mdp = op.mdp
    policy = op.backup(np.zeros(mdp.n_states))[1]
    deterministic = op.rectangularity == "sa" and op.regularizer is None
    best_res, best_v, best_policy = math.inf, None, None
    stalls, evaluations = 0, 0
    while evaluations < max_iterations:
        v = op.evaluate(policy)
        evaluations += 1
        incumbent = np.argmax(policy, axis=1) if deterministic else None
        values, new_policy = op.backup(v, incumbent)
        res = float(np.max(np.abs(values - v)))
        if res < best_res:
            best_res, best_v, best_policy, stalls = res, v, policy, 0
        else:
            stalls += 1
        stable = np.array_equal(new_policy, policy) if deterministic else stalls >= 5
        if res == 0.0 or stable:
            break
        policy = new_policy
    return best_v, best_policy, evaluations


def solve_robust(mdp, uncertainty, regularizer=None, *, max_iterations=200,
                 backend="auto") -> Solution:
    """Certified robust optimum: robust PI with exact evaluation, certified by ‖T_U v − v‖∞.

    ``q`` is q_U(v*) for (s,a)-rectangular sets; for s-rectangular sets it is r + γ P* v* with
    P* the worst kernel of the optimal (possibly randomized) policy, so that Σ_a π q = v*.
    ``backend``: as in ``RobustBellman``."""
    op = RobustBellman(mdp, uncertainty, regularizer, backend=backend)
    v, policy, it = _robust_pi(op, max_iterations)
    values, greedy = op.backup(v)
    if op.rectangularity == "sa":
        q = op.q(v)
        if op.regularizer is not None:
            policy = greedy  # ∇Ω*(q_U(v*))
    else:
        policy = greedy  # the (possibly randomized) maximizer of T_U at v*
        q = op.worst_q(v, policy)
    res = float(np.max(np.abs(values - v)))
    return mdp_solution(mdp, op.regularizer, v, q, policy, res, "robust-pi", it,
                        "policy stable or residual stalled" if it < max_iterations
                        else "iteration limit", op.backend, family="robust-mdp",
                        uncertainty=type(op.uncertainty).__name__,
                        rectangularity=op.rectangularity)


# -- trajectories -----------------------------------------------------------------------------
def _run_vi(op, iterations, solution, initial_values=None):
    v = (np.zeros(op.mdp.n_states) if initial_values is None
         else op.mdp._values(initial_values, "initial_values"))
    errors = [np.max(np.abs(v - solution.values))]
    for _ in range(iterations):
        v = op.backup(v)[0]
        errors.append(np.max(np.abs(v - solution.values)))
    return {"value_error": np.array(errors)}, op.backup(v)[1], {}


def _run_pi(op, iterations, solution, initial_policy=None):
    errors = []
    policy = _robust_pi_fixed(op, iterations, initial_policy, lambda v: errors.append(
        np.max(np.abs(solution.values - v))))
    errors += [errors[-1]] * (iterations + 1 - len(errors))  # policy stable: error stays put
    return {"value_error": np.array(errors)}, policy, {}


def _robust_pi_fixed(op, iterations, initial_policy, record):
    """Exactly ``iterations`` improvement steps (stops early only once the policy is stable)."""
    mdp = op.mdp
    policy = (np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
              if initial_policy is None else mdp.as_policy(initial_policy, "initial_policy"))
    deterministic = op.rectangularity == "sa" and op.regularizer is None
    for k in range(iterations + 1):
        v = op.evaluate(policy)
        record(v)
        if k == iterations:
            break
        incumbent = np.argmax(policy, axis=1) if deterministic and k > 0 else None
        new_policy = op.backup(v, incumbent)[1]
        if deterministic and k > 0 and np.array_equal(new_policy, policy):
            break
        policy = new_policy
    return policy


def _run_rpmd(op, iterations, solution, eta=1.0, step_growth=1.0, initial_policy=None):
    """log π_{k+1} = log π_k + η_k Q^{π_k}_U − log Z (Li, Lan, Zhao 2209.10579, KL Bregman)."""
    if op.rectangularity != "sa":
        raise ValueError("rpmd needs an (s,a)-rectangular uncertainty set (Q^π_U per (s, a))")
    if op.regularizer is not None:
        raise ValueError("rpmd is the unregularized robust PMD; pass regularizer=None")
    if isinstance(eta, bool) or not isinstance(eta, int | float) or not eta > 0:
        raise ValueError(f"eta must be a positive number, got {eta!r}")
    if isinstance(step_growth, bool) or not isinstance(step_growth, int | float) or step_growth < 1:
        raise ValueError(f"step_growth must be a number ≥ 1, got {step_growth!r}")
    mdp = op.mdp
    policy = (np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
              if initial_policy is None else mdp.as_policy(initial_policy, "initial_policy"))
    with np.errstate(divide="ignore"):
        logits = np.log(policy)
    errors, step = [], float(eta)
    for k in range(iterations + 1):
        v = op.evaluate(np.exp(logits))
        errors.append(np.max(np.abs(solution.values - v)))
        if k < iterations:
            logits = prox_step(logits, op.q(v), eta=step, beta=0.0, log_reference=logits)
            step *= step_growth
    return ({"value_error": np.array(errors)}, np.exp(logits),
            {"eta": float(eta), "step_growth": float(step_growth)})


METHODS = {"vi": _run_vi, "pi": _run_pi, "rpmd": _run_rpmd}


def run_robust(mdp, uncertainty, method, *, iterations, regularizer=None, solution=None,
               backend="auto", **options) -> Trajectory:
    """Run robust ``method`` ("vi", "pi", "rpmd") for ``iterations`` steps, recording
    value_error against ``solution`` (``solve_robust`` when not given). Options: initial_values
    (vi), initial_policy (pi, rpmd), eta and step_growth (rpmd). ``backend``: as in
    ``RobustBellman``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    iterations = check_int(iterations, "iterations", 0)
    op = RobustBellman(mdp, uncertainty, regularizer, backend=backend)
    if solution is None:
        solution = solve_robust(mdp, op.uncertainty, regularizer, backend=backend)
    metrics, policy, extra = METHODS[method](op, iterations, solution, **options)
    params = {"gamma": mdp.gamma, "S": mdp.n_states, "n": mdp.n_actions, "method": method,
              "iterations": iterations, "uncertainty": type(op.uncertainty).__name__,
              "rectangularity": op.rectangularity, "backend": op.backend,
              "kernels_in_simplex": op.kernels_in_simplex, **extra}
    return Trajectory(f"robust_{method}", params, metrics, policy)
