"""The robust Bellman maps of ``(mdp, uncertainty, regularizer)``: ``RobustBellman``.

Theory notes dp_robust.md §3. For an uncertainty set U (``nashlab.games.uncertainty``):

    (T^π_U v)(s) = min_{P_s ∈ U_s} Σ_a π(a|s) (r(s,a) + γ P_{s,a}·v) − Ω(π_s),
    (T_U v)(s)   = max_{π_s} (T^π_U v)(s),

both monotone γ-contractions in ‖·‖∞ (Iyengar 2005; Nilim & El Ghaoui 2005; Wiesemann,
Kuhn, Rustem 2013). For (s,a)-rectangular U the inner minimum splits per (s,a):
q_U(v) = r + γ σ_{U_{s,a}}(v), T_U v = Ω*(q_U(v)) (max_a without Ω) and a deterministic
optimal policy exists. For s-rectangular sets (``L1Ball(·, "s")``, ``LpBall(·, ·, "s")``)
the optimal policy may be randomized; no regularizer is supported there.

Infeasible pairs (``MDP.feasible``) are absent from every map: q_U is −∞ there (``MDP.mask``),
the oracles give an empty row the value 0 (weighted by π = 0), and the s-rectangular L1
update leaves the action out.

The worst-case oracles σ_U are ``nashlab.solvers.robust_oracles`` (compiled) and
``nashlab.solvers.robust_closed_forms`` (the L_p sets, NumPy).

Optimistic sets (``optimistic=True``, best case: min_{P ∈ U} becomes max_{P ∈ U}) reuse the
same oracles through max_{p ∈ U} p·z = −min_{p ∈ U} p·(−z) (with the reward −r for the
s-rectangular L1 evaluation). With both maxima the optimal policy is deterministic also for
s-rectangular sets: max_π max_{Σξ_a ≤ κ} Σ_a π_a q̃_a(ξ_a) = max_a q̃_a(κ) for L1 (each q̃_a
is non-decreasing in its budget), and max_π π·q̄ + σ‖π‖_{p*} = max_a q̄_a + σ for L_p (a
convex function is maximised at a vertex; ‖e_a‖ = 1).
"""

import math

import numpy as np

from nashlab.games._validation import as_float_array
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
from nashlab.solvers.bellman import check_regularizer, greedy_policy
from nashlab.solvers.mdp_results import value_scale
from nashlab.solvers.robust_closed_forms import (
    kappa,
    lp_action_weights,
    lp_water_filling,
    policy_norm,
)
from nashlab.solvers.robust_oracles import as_csr, batch_worst_case, s_rectangular_l1_backup

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

    ``transition_reward``: None, or R of shape (S, A, S) paid on the transition s → s'
    (craam2's models): nature's kernel then also moves the reward, q_U(s, a) =
    min_{p ∈ U_{s,a}} p·(R(s, a, ·) + γ v) (Iyengar 2005, the inner problem at z = R + γv),
    which the expected reward r = P̄·R cannot express. ``mdp.r`` must be that nominal
    expectation (``MDP.from_arrays(P, R, gamma, reward="SAS")``). (s,a)-rectangular sets
    but L_p, γ > 0: σ(v) = min_p p·(v + R/γ) − r/γ (the sets constrain p only, so the
    inner problem scales), one oracle call per row.

    ``backend``: the worst-case oracles σ_U of every set but L_p are compiled kernels
    (``nashlab.solvers.robust_oracles``; their references are the LP and cvxpy programs of
    the tests): "auto" or "numba". L_p sets use the closed form of Kumar et al. in NumPy:
    "auto" or "numpy".
    """

    def __init__(self, mdp, uncertainty, regularizer=None, *, backend="auto",
                 transition_reward=None):
        if not isinstance(mdp, MDP):
            raise TypeError(f"mdp must be an MDP, got {type(mdp).__name__}")
        if mdp.horizon is not None:
            raise ValueError("robust solvers need an infinite-horizon MDP (horizon=None)")
        self.mdp = mdp
        self.uncertainty = as_uncertainty(uncertainty)
        self.backend = _robust_backend(backend, self.uncertainty)
        self.regularizer = check_regularizer(regularizer, mdp)
        self.rectangularity = self.uncertainty.rectangularity
        if self.rectangularity == "s" and regularizer is not None:
            raise ValueError("a regularizer is supported with (s,a)-rectangular sets only")
        S, A = mdp.n_states, mdp.n_actions
        self.radii = self.uncertainty.radii(S, A)
        #: −1 for an optimistic set (σ_opt(z) = −σ(−z)), +1 otherwise
        self.sign = -1.0 if self.uncertainty.optimistic else 1.0
        self.nominal = getattr(self.uncertainty, "support", None) == "nominal"
        self.kind = None if isinstance(self.uncertainty, LpBall) else (
            "l1-nominal" if self.nominal else _KINDS[type(self.uncertainty)])
        self.csr = as_csr(mdp.P_flat)
        self.R_flat = _transition_reward(transition_reward, mdp, self.uncertainty)
        self.cost = (self.uncertainty.cost_matrix(S)
                     if isinstance(self.uncertainty, WassersteinBall) else None)
        #: whether every kernel of the set is a distribution (always, except L_p sets of
        #: Kumar et al. whose perturbations P̄ + u may be negative; min P̄ ≥ β suffices since
        #: |u_j| ≤ ‖u‖_p ≤ β). Only then is T_U guaranteed to be a γ-contraction.
        self.kernels_in_simplex = True
        #: reward uncertainty α: (S, A) box (every set but L_p), or L_p's (S,) / (S, A) radii
        self.reward_radii = self.uncertainty.reward_radii(S, A)
        if isinstance(self.uncertainty, LpBall):
            rows = mdp.P_flat if mdp.feasible is None else mdp.P_flat[mdp.feasible.ravel()]
            min_p = float(rows.min()) if rows.shape[1] > 0 else 0.0
            self.kernels_in_simplex = bool(min_p >= float(np.max(self.radii)))
        #: the reward-like weight of the set (``mdp_results.value_scale``): λ of a penalty
        #: set, α of an L_p set (0 otherwise); ``scale_weight`` adds the regularizer's τ
        self.weight = 0.0
        if isinstance(self.uncertainty, KLPenalty | TVPenalty | Chi2Penalty):
            self.weight += float(np.max(self.radii))
        self.weight += float(np.max(self.reward_radii, initial=0.0))

    @property
    def scale_weight(self):
        """τ + λ + α: the weight ``mdp_results.value_scale`` adds to ‖r‖∞."""
        return self.weight + (0.0 if self.regularizer is None else float(self.regularizer.tau))

    # -- building blocks ---------------------------------------------------------------------
    @property
    def _is_lp(self):
        return isinstance(self.uncertainty, LpBall)

    def _sigma(self, v, want_kernel):
        """σ_{U_{s,a}}(v) (S, A) and the worst kernel ((S·A, S) dense or None); sa-rect."""
        S, A = self.mdp.n_states, self.mdp.n_actions
        if self._is_lp:  # σ = P̄·v ∓ βκ_q(v), kernel P̄ ∓ βg
            k, g = kappa(v, self.uncertainty.q)
            sigma = self.mdp.expected_next(v) - self.sign * self.radii * k
            kernel = (self.mdp.P_flat - self.sign * self.radii.reshape(-1, 1) * g[None, :]
                      if want_kernel else None)
            if kernel is not None and not isinstance(kernel, np.ndarray):
                kernel = np.asarray(kernel)
            return sigma, kernel
        if self.R_flat is not None:
            return self._transition_sigma(v, want_kernel)
        values, kernel = batch_worst_case(self.kind, self.csr, self.sign * v,
                                          self.radii.ravel(), cost=self.cost,
                                          want_kernel=want_kernel)
        return self.sign * values.reshape(S, A), kernel

    def _transition_sigma(self, v, want_kernel):
        """σ with transition rewards: min_p p·(v + R_row/γ) − r/γ, row by row."""
        mdp, radii = self.mdp, self.radii.ravel()
        S, A = mdp.n_states, mdp.n_actions
        values = np.empty(S * A)
        kernel = np.zeros((S * A, S)) if want_kernel else None
        for i in range(S * A):
            z = self.sign * (v + self.R_flat[i] / mdp.gamma)
            val, row = batch_worst_case(self.kind, self.csr[i], z, radii[i:i + 1],
                                        cost=self.cost, want_kernel=want_kernel)
            values[i] = self.sign * val[0]
            if want_kernel:
                kernel[i] = row[0]
        return values.reshape(S, A) - mdp.r / mdp.gamma, kernel

    def _reward(self):
        """Nature's reward r̄ ∓ α (L_p "s": r̄, its reward ball is coupled with π)."""
        if self._is_lp and self.rectangularity == "s":
            return self.mdp.r
        return self.mdp.r - self.sign * self.reward_radii

    def q(self, v):
        """Robust Q-function q_U(v) = r + γ σ_U(v) of an (s,a)-rectangular set."""
        if self.rectangularity != "sa":
            raise ValueError("q_U(v) is defined per (s, a) for (s,a)-rectangular sets only")
        v = self.mdp._values(v)
        return self.mdp.mask(self._reward() + self.mdp.gamma * self._sigma(v, False)[0])

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
            if self.sign < 0:  # max_a q̄_a + σ_s (module docstring)
                q = mdp.q_values(v) + sigma[:, None]
                return q.max(axis=1), greedy_policy(q, incumbent=incumbent)
            return lp_water_filling(mdp.q_values(v), sigma, unc.p)
        if self.sign < 0:  # max_a r_a + γ max_{‖p − p̄_a‖₁ ≤ κ_s} p·v (module docstring)
            values, _ = batch_worst_case(self.kind, self.csr, -v,
                                         np.repeat(self.radii, mdp.n_actions))
            q = mdp.mask(self._reward() - mdp.gamma * values.reshape(mdp.n_states, mdp.n_actions))
            return q.max(axis=1), greedy_policy(q, incumbent=incumbent)
        values, policy, _ = s_rectangular_l1_backup(self.csr, v, self._reward(), mdp.gamma,
                                                    self.radii, nominal=self.nominal)
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
            q_norm = policy_norm(policy, unc.q)
            sigma = self.reward_radii + mdp.gamma * self.radii * kappa(v, unc.q)[0]
            q_bar = mdp.r + mdp.gamma * mdp.expected_next(v)  # finite at infeasible pairs (π = 0)
            values = np.sum(policy * q_bar, axis=1) - self.sign * sigma * q_norm
            return values, None, penalty
        values, _, alloc = s_rectangular_l1_backup(self.csr, self.sign * v,
                                                   self.sign * self._reward(),
                                                   mdp.gamma, self.radii, policy=policy,
                                                   nominal=self.nominal)
        kernel = None
        if want_kernel:
            _, kernel = batch_worst_case(self.kind, self.csr, self.sign * v, alloc.ravel(),
                                         want_kernel=True)
        return self.sign * values, kernel, penalty

    def evaluate(self, policy, *, tol=1e-13, max_iterations=500):
        """v^π_U: nature's policy iteration P_k = worst(v_k), v_{k+1} = v^π_{P_k} (exact linear
        solves; Iyengar 2005), or fixed-point iteration of T^π_U for L_p sets (their worst
        kernels may be signed). ``tol`` is relative to ``mdp_results.value_scale`` (no
        absolute floor: the evaluation is as accurate for rewards ×1e-11 as for ×1e4)."""
        mdp = self.mdp
        policy = mdp.as_policy(policy)
        S, A = mdp.n_states, mdp.n_actions
        reward = np.sum(policy * self._reward(), axis=1)  # nature's reward (r̄ ∓ α)
        if self.regularizer is not None:
            reward = reward - self.regularizer.value(policy)
        if self._is_lp:  # iterate the γ-contraction until its step stops shrinking
            v, step, stalls = mdp.evaluate(policy), math.inf, 0
            for _ in range(max_iterations * 100):
                v_new = self.policy_backup(v, policy)[0]
                new_step = float(np.max(np.abs(v_new - v)))
                stalls = stalls + 1 if new_step >= step else 0
                v, step = v_new, min(step, new_step)
                if new_step == 0.0 or stalls >= 5:
                    break
            if step > 1e-9 * value_scale(mdp, v, self.scale_weight):
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
            if res <= tol * value_scale(mdp, v, self.scale_weight) or stalls >= 3:
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
            weights = lp_action_weights(policy, self.uncertainty.q)
            return mdp.q_values(v) - self.sign * sigma[:, None] * weights
        _, kernel, _ = self.policy_backup(v, policy, want_kernel=True)
        return mdp.mask(self._reward() + mdp.gamma * (kernel @ v).reshape(mdp.n_states,
                                                                           mdp.n_actions))

    def residual(self, v):
        """‖T_U v − v‖∞."""
        return float(np.max(np.abs(self.backup(v)[0] - v)))

    def describe(self) -> dict:
        """The robust keys of a result's params: "uncertainty" (the set's class name),
        "rectangularity", "support" (an L1 set's: "simplex" or "nominal"; None otherwise),
        "optimistic" and "kernels_in_simplex"."""
        return {"uncertainty": type(self.uncertainty).__name__,
                "rectangularity": self.rectangularity,
                "support": getattr(self.uncertainty, "support", None),
                "optimistic": self.uncertainty.optimistic,
                "transition_reward": self.R_flat is not None,
                "kernels_in_simplex": self.kernels_in_simplex}


def _transition_reward(R, mdp, uncertainty):
    """None, or the validated transition reward as an (S·A, S) array (class docstring)."""
    if R is None:
        return None
    S, A = mdp.n_states, mdp.n_actions
    R = as_float_array(R, "transition_reward", ndim=3)
    if R.shape != (S, A, S):
        raise ValueError(f"transition_reward must have shape (S, A, S) = {(S, A, S)}, got "
                         f"{R.shape}")
    if uncertainty.rectangularity != "sa" or isinstance(uncertainty, LpBall):
        raise ValueError("transition_reward is supported with (s,a)-rectangular sets other "
                         f"than L_p, got {type(uncertainty).__name__} "
                         f"({uncertainty.rectangularity!r})")
    if mdp.gamma == 0:
        raise ValueError("transition_reward needs gamma > 0 (σ is computed at v + R/γ)")
    R_flat = R.reshape(S * A, S)
    expected = (np.asarray(mdp.P_flat.multiply(R_flat).sum(axis=1)).ravel() if mdp.is_sparse
                else np.einsum("ij,ij->i", mdp.P_flat, R_flat)).reshape(S, A)
    if mdp.feasible is not None:
        R_flat = np.where(mdp.feasible.reshape(-1, 1), R_flat, 0.0)
        expected = np.where(mdp.feasible, expected, 0.0)
    err = float(np.max(np.abs(expected - mdp.r)))
    if err > 1e-12 * max(1.0, float(np.max(np.abs(R_flat)))):
        raise ValueError("transition_reward: mdp.r must be its nominal expectation "
                         f"Σ_s' P̄(s'|s, a) R(s, a, s') (off by {err:.3g}); build the MDP with "
                         "MDP.from_arrays(P, R, gamma, reward='SAS')")
    return R_flat


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
