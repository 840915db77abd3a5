"""Finite Markov decision processes as data (maximisation of reward).

API summary. ``MDP(P, r, gamma, horizon=None, *, feasible=None, terminal=None)`` holds a
validated model and nothing else (the objective — a regularizer Ω, an uncertainty set, the
average criterion — is passed to the solver, MDPs.jl style). ``P`` is either a dense array of
shape (S, A, S) — state, action, next state, in that order: an (A, S, S) array of
pymdptoolbox is read with ``MDP.from_arrays(P, R, gamma, layout="ASS")``, since a transposed
layout cannot be told from the shape when S = A — or a scipy.sparse matrix of shape (S·A, S)
whose row s·A + a is P(·|s, a); ``r`` is the expected reward r(s, a) of shape (S, A).
Attributes: ``P`` (as given, float64), ``P_flat`` ((S·A, S) dense ndarray or CSR matrix),
``r``, ``gamma``, ``horizon``, ``terminal``, ``feasible``, ``n_states``, ``n_actions``,
``is_sparse``. Methods (policies are (S, A) row-stochastic arrays; ``as_policy`` also turns an
integer action vector of shape (S,) into one): ``expected_next(v)`` = P v of shape (S, A);
``q_values(v)`` = r + γ P v (−inf at infeasible pairs); ``policy_backup(policy, v)`` =
r_π + γ P_π v; ``P_pi(policy)`` (S, S) (sparse if P is); ``r_pi(policy)``;
``evaluate(policy, regularizer=None)`` = v^π_Ω = (I − γP_π)^{-1}(r_π − Ω(π)) by an exact
linear solve (H-step backward recursion from ``terminal`` if ``horizon`` is set);
``q_policy(policy, regularizer=None)`` = r + γ P v^π_Ω; ``occupancy(policy, rho)`` the
normalised discounted state occupancy d^π_ρ = (1 − γ) ρᵀ(I − γP_π)^{-1}; ``dense_P()`` the
(S, A, S) array; ``uniform_policy()`` uniform on the feasible actions; ``mask(x)`` an
(S, A) array with its infeasible entries set to −inf. Constructors from other toolboxes'
layouts and the exports back: ``MDP.from_arrays``, ``from_state_action_pairs``,
``from_quantecon``, ``from_pymdptoolbox``, ``to_arrays``, ``to_state_action_pairs``
(``nashlab.games.mdp_io`` holds the conversions).

Infeasible actions (QuantEcon's ``DiscreteDP`` marks them with R = −inf). ``feasible`` is
None (every action is available in every state) or an (S, A) bool array with at least one
True per state. At an infeasible pair (s, a) nothing is stored: r(s, a) must be 0 and the
row P(·|s, a) must be all zero (an empty row of the CSR form; every other row sums to 1).
Every operator excludes the pair: ``q_values`` is −inf there, so max, argmax and softmax
(Ω* and ∇Ω* of ``nashlab.games.regularizers``) never pick it, a policy giving it mass is a
ValueError, and T_π, r_π, P_π only ever weigh it by π(a|s) = 0.

Conventions follow the theory notes dp_robust.md (Geist, Scherrer, Pietquin, "A Theory of
Regularized Markov Decision Processes", arXiv 1901.11275, Def. 1): q_v(s, a) = r(s, a) +
γ Σ_s' P(s'|s, a) v(s') and v^π_Ω = (I − γP_π)^{-1}(r_π − Ω(π)); a finite horizon H ends in
the terminal reward v_H = ``terminal`` (0 when None), Puterman (1994) §4.3.
"""

import numpy as np
import scipy.sparse as sp

from nashlab.games import mdp_io
from nashlab.games._validation import as_float_array, check_distribution, check_scalar

#: Absolute tolerance for transition rows summing to one (and for policy rows).
ROW_TOL = 1e-12


def _validate_sparse(P, name):
    if P.ndim != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix of shape (S·A, S), got {P.shape}")
    if not (np.issubdtype(P.dtype, np.floating) or np.issubdtype(P.dtype, np.integer)
            or np.issubdtype(P.dtype, np.bool_)):  # complex: the cast would drop the imaginary part
        raise TypeError(f"{name} must hold real numbers, got dtype {P.dtype}")
    P = sp.csr_matrix(P, dtype=np.float64)
    if not np.all(np.isfinite(P.data)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return P


def _check_feasible(feasible, S, A):
    """None, or a read-only (S, A) bool array with at least one feasible action per state
    (an all-True mask is kept as given: it is still explicit)."""
    if feasible is None:
        return None
    arr = np.asarray(feasible)
    if arr.dtype != np.bool_:
        raise TypeError(f"feasible must be None or an (S, A) bool array, got dtype {arr.dtype}")
    if arr.shape != (S, A):
        raise ValueError(f"feasible must have shape (S, A) = {(S, A)}, got {arr.shape}")
    empty = np.flatnonzero(~arr.any(axis=1))
    if empty.size:
        raise ValueError(f"feasible: every state needs a feasible action; states {empty.tolist()} "
                         "have none")
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def _check_terminal(terminal, S, horizon):
    """None or a finite (S,) terminal reward, which needs a finite horizon."""
    if terminal is None:
        return None
    if horizon is None:
        raise ValueError("terminal (the reward v_H at the horizon) needs a finite horizon")
    terminal = as_float_array(terminal, "terminal", ndim=1)
    if terminal.shape != (S,):
        raise ValueError(f"terminal must have shape ({S},), got {terminal.shape}")
    return terminal


class MDP:
    """A finite MDP: transition kernel ``P``, expected reward ``r``, discount ``gamma``.

    Parameters
    ----------
    P : (S, A, S) array (state, action, next state; not pymdptoolbox's (A, S, S): use
        ``MDP.from_arrays(..., layout="ASS")``), or scipy.sparse (S·A, S) with row s·A + a =
        P(·|s, a). Entries ≥ 0, rows of feasible pairs sum to 1 within ``ROW_TOL``, rows of
        infeasible pairs are zero.
    r : (S, A) finite expected rewards (0 at infeasible pairs).
    gamma : discount, 0 ≤ γ < 1; γ = 1 only with a finite ``horizon``.
    horizon : None (infinite horizon) or a positive integer H.
    feasible : None (all actions feasible) or an (S, A) bool array, ≥ 1 True per state
        (module docstring: what is stored at an infeasible pair and how operators skip it).
    terminal : None or the (S,) finite terminal reward v_H of a finite horizon (None: 0).
    """

    def __init__(self, P, r, gamma, horizon=None, *, feasible=None, terminal=None):
        if horizon is not None:
            if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
                raise TypeError("horizon must be None or a positive int, got "
                                f"{type(horizon).__name__}")
            if horizon < 1:
                raise ValueError(f"horizon must be a positive int, got {horizon}")
            horizon = int(horizon)
        self.gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0,
                                  high_open=horizon is None)
        self.horizon = horizon
        self.r = as_float_array(r, "r", ndim=2)
        S, A = self.r.shape
        if S < 1 or A < 1:
            raise ValueError(f"r must have shape (S, A) with S, A ≥ 1, got {self.r.shape}")
        self.feasible = _check_feasible(feasible, S, A)
        self.terminal = _check_terminal(terminal, S, horizon)
        if sp.issparse(P):
            flat = _validate_sparse(P, "P")
            if flat.shape != (S * A, S):
                raise ValueError(f"sparse P must have shape (S·A, S) = {(S * A, S)} (row s·A + a "
                                 f"= P(·|s, a)), got {flat.shape}")
            entries, row_sums = flat.data, np.asarray(flat.sum(axis=1)).ravel()
            self.P = flat
            self.P_flat = flat
            self.is_sparse = True
        else:
            dense = as_float_array(P, "P", ndim=3)
            if dense.shape != (S, A, S):
                raise ValueError(f"P must have shape (S, A, S) = {(S, A, S)} (state, action, next "
                                 f"state; for pymdptoolbox's (A, S, S) use MDP.from_arrays(P, R, "
                                 f"gamma, layout='ASS')), got {dense.shape}")
            entries, row_sums = dense, dense.sum(axis=-1)
            self.P = dense
            self.P_flat = dense.reshape(S * A, S)
            self.is_sparse = False
        if entries.size and entries.min() < 0:
            raise ValueError(f"P must be non-negative (found min {entries.min():.3g})")
        row_sums = row_sums.reshape(S, A)
        if self.feasible is None:
            err = np.max(np.abs(row_sums - 1.0))
        else:
            err = np.max(np.abs(row_sums - 1.0)[self.feasible])
            if np.any(row_sums[~self.feasible] != 0.0):
                raise ValueError("P: the rows P(·|s, a) of infeasible pairs must be zero "
                                 "(nothing is stored for them)")
            if np.any(self.r[~self.feasible] != 0.0):
                raise ValueError("r must be 0 at the infeasible pairs (nothing is stored for "
                                 "them; q_values is −inf there)")
        if err > ROW_TOL:
            raise ValueError(f"every row P(·|s, a) must sum to 1 (off by {err:.3g})")
        self.n_states, self.n_actions = S, A

    # -- other toolboxes' layouts (nashlab.games.mdp_io) -------------------------------
    @classmethod
    def from_arrays(cls, P, R, gamma, layout="SAS", reward="SA", horizon=None,
                    terminal=None) -> "MDP":
        """From P in ``layout`` "SAS" (S, A, S) or "ASS" (A, S, S) and R in ``reward`` "SA",
        "S", "SAS" or "ASS" (``mdp_io.arrays_args``; no layout is inferred from shapes)."""
        return cls(**mdp_io.arrays_args(P, R, gamma, layout, reward, horizon, terminal))

    @classmethod
    def from_state_action_pairs(cls, s_indices, a_indices, R, Q, gamma, horizon=None,
                                n_actions=None) -> "MDP":
        """From QuantEcon's state–action pairs (R = −inf or an unlisted pair: infeasible)."""
        return cls(**mdp_io.state_action_pairs_args(s_indices, a_indices, R, Q, gamma, horizon,
                                                    n_actions))

    @classmethod
    def from_quantecon(cls, ddp, horizon=None) -> "MDP":
        """From a ``quantecon.markov.DiscreteDP`` (product or state–action-pair form)."""
        return cls(**mdp_io.quantecon_args(ddp, horizon))

    @classmethod
    def from_pymdptoolbox(cls, P, R, gamma, horizon=None) -> "MDP":
        """From pymdptoolbox's (P, R): P (A, S, S), R (S,), (S, A) or (A, S, S)."""
        return cls(**mdp_io.pymdptoolbox_args(P, R, gamma, horizon))

    def to_arrays(self, layout="SAS", reward="SA"):
        """(P, R) dense in ``layout`` / ``reward``, R = −inf at infeasible pairs."""
        return mdp_io.to_arrays(self, layout, reward)

    def to_state_action_pairs(self):
        """(s_indices, a_indices, R, Q) of the feasible pairs (QuantEcon's form)."""
        return mdp_io.to_state_action_pairs(self)

    def __repr__(self):
        kind = "sparse" if self.is_sparse else "dense"
        h = "" if self.horizon is None else f", horizon={self.horizon}"
        f = "" if self.feasible is None else f", {int(self.feasible.sum())} feasible pairs"
        return f"MDP(S={self.n_states}, A={self.n_actions}, gamma={self.gamma:g}{h}{f}, {kind})"

    # -- basic operators --------------------------------------------------------------
    def _values(self, v, name="v"):
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.n_states,):
            raise ValueError(f"{name} must have shape ({self.n_states},), got {v.shape}")
        return v

    def as_policy(self, policy, name="policy") -> np.ndarray:
        """An (S, A) row-stochastic policy; an integer vector (S,) means deterministic actions."""
        arr = np.asarray(policy)
        S, A = self.n_states, self.n_actions
        if arr.shape == (S,) and np.issubdtype(arr.dtype, np.integer):
            if arr.min() < 0 or arr.max() >= A:
                raise ValueError(f"{name} actions must lie in [0, {A}), got {arr}")
            out = np.zeros((S, A))
            out[np.arange(S), arr] = 1.0
            return self._check_support(out, name)
        arr = as_float_array(policy, name)
        if arr.shape != (S, A):
            raise ValueError(f"{name} must have shape (S, A) = {(S, A)} or be integer actions "
                             f"of shape ({S},), got {arr.shape}")
        if arr.min() < 0:
            raise ValueError(f"{name} must be non-negative (found min {arr.min():.3g})")
        err = np.max(np.abs(arr.sum(axis=1) - 1.0))
        if err > ROW_TOL * max(1, A):
            raise ValueError(f"{name} rows must sum to 1 (off by {err:.3g})")
        return self._check_support(arr, name)

    def _check_support(self, policy, name):
        """``policy`` if it puts no mass on an infeasible pair (ValueError naming one)."""
        if self.feasible is not None:
            bad = np.argwhere((policy > 0) & ~self.feasible)
            if bad.size:
                s, a = bad[0]
                raise ValueError(f"{name} puts mass {policy[s, a]:.3g} on the infeasible action "
                                 f"{a} of state {s} ({len(bad)} infeasible pair(s) in all)")
        return policy

    def mask(self, x, fill=-np.inf) -> np.ndarray:
        """The (S, A) array ``x`` with ``fill`` at the infeasible pairs (``x`` itself when all
        pairs are feasible): what every max / argmax / softmax over actions is applied to."""
        if self.feasible is None:
            return x
        return np.where(self.feasible, x, fill)

    def uniform_policy(self) -> np.ndarray:
        """π(a|s) = 1/|F(s)| on the feasible actions F(s), 0 elsewhere."""
        if self.feasible is None:
            return np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)
        return self.feasible / self.feasible.sum(axis=1, keepdims=True)

    def dense_P(self) -> np.ndarray:
        """The kernel as a dense (S, A, S) array."""
        flat = self.P_flat.toarray() if self.is_sparse else self.P_flat
        return flat.reshape(self.n_states, self.n_actions, self.n_states)

    def expected_next(self, v) -> np.ndarray:
        """(P v)(s, a) = Σ_s' P(s'|s, a) v(s'), shape (S, A)."""
        v = self._values(v)
        return np.asarray(self.P_flat @ v).reshape(self.n_states, self.n_actions)

    def q_values(self, v) -> np.ndarray:
        """q_v = r + γ P v, shape (S, A); −inf at the infeasible pairs."""
        return self.mask(self.r + self.gamma * self.expected_next(v))

    def policy_backup(self, policy, v) -> np.ndarray:
        """(T_π v)(s) = Σ_a π(a|s)(r + γ P v)(s, a) = r_π + γ P_π v (``policy`` unchecked: an
        (S, A) array from a solver; infeasible pairs, where r and P v are 0, add nothing)."""
        return np.sum(policy * (self.r + self.gamma * self.expected_next(v)), axis=1)

    def _selector(self, policy):
        """Π of shape (S, S·A) with Π[s, s·A + a] = π(a|s), so that P_π = Π P_flat."""
        S, A = self.n_states, self.n_actions
        rows = np.repeat(np.arange(S), A)
        return sp.csr_matrix((policy.ravel(), (rows, np.arange(S * A))), shape=(S, S * A))

    def P_pi(self, policy):
        """P_π(s, s') = Σ_a π(a|s) P(s'|s, a): (S, S) ndarray, or CSR if P is sparse."""
        policy = self.as_policy(policy)
        if self.is_sparse:
            return (self._selector(policy) @ self.P_flat).tocsr()
        return np.einsum("sa,sat->st", policy, self.P)

    def r_pi(self, policy) -> np.ndarray:
        """r_π(s) = Σ_a π(a|s) r(s, a)."""
        policy = self.as_policy(policy)
        return np.sum(policy * self.r, axis=1)

    # -- exact evaluation -------------------------------------------------------------
    def _solve(self, policy, b, transpose=False):
        """x = (I − γP_π)^{-1} b  (or (I − γP_π)^{-T} b)."""
        P_pi = self.P_pi(policy)
        S = self.n_states
        if self.is_sparse:
            import scipy.sparse.linalg as spla  # only sparse models need it (import cost)

            M = (sp.identity(S, format="csc") - self.gamma * P_pi).tocsc()
            return np.asarray(spla.spsolve(M.T.tocsc() if transpose else M, b)).reshape(b.shape)
        M = np.eye(S) - self.gamma * P_pi
        return np.linalg.solve(M.T if transpose else M, b)

    def evaluate(self, policy, regularizer=None) -> np.ndarray:
        """v^π_Ω = (I − γP_π)^{-1}(r_π − Ω(π)) (exact), or with a horizon H the recursion
        v_H = terminal (0 if None), v_t = r_π − Ω(π) + γ P_π v_{t+1}, returning v_0."""
        policy = self.as_policy(policy)
        reward = self.r_pi(policy)
        if regularizer is not None:
            reward = reward - regularizer.value(policy)
        if self.horizon is not None:
            P_pi = self.P_pi(policy)
            v = np.zeros(self.n_states) if self.terminal is None else self.terminal
            for _ in range(self.horizon):
                v = reward + self.gamma * np.asarray(P_pi @ v)
            return v
        return self._solve(policy, reward)

    def q_policy(self, policy, regularizer=None) -> np.ndarray:
        """Q^π_Ω = r + γ P v^π_Ω (Cen et al. 2007.06558 soft Q for Ω = τ·negentropy)."""
        return self.q_values(self.evaluate(policy, regularizer))

    def occupancy(self, policy, rho) -> np.ndarray:
        """d^π_ρ(s) = (1 − γ) Σ_t γ^t Pr(s_t = s | s_0 ~ ρ, π), a distribution (γ < 1)."""
        if self.horizon is not None:
            raise ValueError("occupancy is defined for the infinite-horizon discounted MDP only")
        policy = self.as_policy(policy)
        rho = check_distribution(rho, "rho", self.n_states)
        if rho.ndim != 1:
            raise ValueError(f"rho must have shape ({self.n_states},), got {rho.shape}")
        return (1.0 - self.gamma) * self._solve(policy, rho, transpose=True)
