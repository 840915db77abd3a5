"""Two-player zero-sum Markov games (theory notes dp_robust.md §4).

``ZeroSumMarkovGame(P, r, gamma)``: P of shape (S, A, B, S) with P(·|s, a, b) a
distribution, r of shape (S, A, B) the reward paid to the maximising player x (policy μ,
shape (S, A)) by the minimising player y (policy ν, shape (S, B)). With an entropy weight
τ ≥ 0 the per-step payoff is r(s, a, b) + τH(μ_s) − τH(ν_s) (the regularized game whose
equilibrium is the quantal response equilibrium, QRE).

Against a fixed opponent each player faces an MDP (``mdp_for_max``, ``mdp_for_min``), so
best responses are exact MDP solves: ``nashlab.solvers.markov_games`` computes the metric
vocabulary of every family from them (NashConv = max_s of the two players' best-response
gains, duality gap = NashConv, exploitability = ½·NashConv) for a joint policy of shape
(S, A + B), μ then ν (the layout of ``Solution.policy`` and ``Trajectory.policy``).

Per-state action sets: ``feasible_max`` (S, A) and ``feasible_min`` (S, B), bool masks with
at least one True per state (None: every action everywhere), as ``MDP.feasible``. Nothing is
stored where either player's action is infeasible: r(s, a, b) = 0 and P(·|s, a, b) = 0
there. Policies put no mass on infeasible actions; each player's MDP against a fixed
opponent carries that player's mask, and the stage game of a state is Q(s) restricted to
the feasible rows and columns (``nashlab.solvers.markov_games.stage_equilibria``).
"""

import numpy as np

from nashlab.games._validation import as_float_array, check_int, check_scalar, rng_from_seed
from nashlab.games.mdp import MDP, ROW_TOL, _check_feasible


def entropy(p):
    """H(p) = −Σ p log p along the last axis (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


def _feasible(mask, S, n, name):
    """``MDP``'s feasibility check of an (S, n) mask, its errors naming ``name``."""
    try:
        return _check_feasible(mask, S, n)
    except (TypeError, ValueError) as err:
        raise type(err)(str(err).replace("feasible", name, 1)) from None


class ZeroSumMarkovGame:
    """A discounted two-player zero-sum Markov game (Shapley 1953), optionally with
    per-state action sets ``feasible_max`` (S, A) and ``feasible_min`` (S, B) (module
    docstring)."""

    def __init__(self, P, r, gamma, *, feasible_max=None, feasible_min=None):
        self.gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0, high_open=True)
        self.r = as_float_array(r, "r", ndim=3)
        S, A, B = self.r.shape
        if min(S, A, B) < 1:
            raise ValueError(f"r must have shape (S, A, B) with S, A, B ≥ 1, got {self.r.shape}")
        self.P = as_float_array(P, "P", ndim=4)
        if self.P.shape != (S, A, B, S):
            raise ValueError(f"P must have shape (S, A, B, S) = {(S, A, B, S)}, got {self.P.shape}")
        if self.P.min() < 0:
            raise ValueError(f"P must be non-negative (found min {self.P.min():.3g})")
        self.n_states, self.n_actions, self.n_opponent_actions = S, A, B
        self.feasible_max = _feasible(feasible_max, S, A, "feasible_max")
        self.feasible_min = _feasible(feasible_min, S, B, "feasible_min")
        joint = self.joint_feasible()
        sums = self.P.sum(axis=-1)
        if joint is not None:
            if np.any(sums[~joint] != 0.0) or np.any(self.r[~joint] != 0.0):
                raise ValueError("P(·|s, a, b) and r(s, a, b) must be 0 where a or b is infeasible "
                                 "(nothing is stored there)")
            sums = sums[joint]
        err = np.max(np.abs(sums - 1.0))
        if err > ROW_TOL:
            raise ValueError(f"every row P(·|s, a, b) must sum to 1 (off by {err:.3g})")

    @property
    def has_action_sets(self) -> bool:
        """Whether either player has a feasibility mask."""
        return self.feasible_max is not None or self.feasible_min is not None

    def feasible(self, player) -> np.ndarray:
        """The (S, A) mask of "max" or the (S, B) mask of "min" (all True when None)."""
        n, mask = ((self.n_actions, self.feasible_max) if player == "max"
                   else (self.n_opponent_actions, self.feasible_min))
        return np.ones((self.n_states, n), bool) if mask is None else mask

    def joint_feasible(self):
        """(S, A, B) mask of the pairs with both actions feasible, or None without masks."""
        if not self.has_action_sets:
            return None
        return self.feasible("max")[:, :, None] & self.feasible("min")[:, None, :]

    def uniform_policies(self):
        """(μ, ν) uniform on each state's feasible actions."""
        fx, fy = self.feasible("max"), self.feasible("min")
        return fx / fx.sum(axis=1, keepdims=True), fy / fy.sum(axis=1, keepdims=True)

    def __repr__(self):
        S, A, B = self.r.shape
        return f"ZeroSumMarkovGame(S={S}, A={A}, B={B}, gamma={self.gamma:g})"

    def _policy(self, policy, player, name):
        """A validated (S, n) policy of ``player`` ("max": μ, "min": ν), no mass off its
        feasible actions."""
        n = self.n_actions if player == "max" else self.n_opponent_actions
        policy = as_float_array(policy, name, ndim=2)
        if policy.shape != (self.n_states, n):
            raise ValueError(f"{name} must have shape {(self.n_states, n)}, got {policy.shape}")
        if policy.min() < 0 or np.max(np.abs(policy.sum(axis=1) - 1)) > ROW_TOL * max(1, n):
            raise ValueError(f"{name} rows must be probability vectors")
        bad = np.argwhere((policy > 0) & ~self.feasible(player))
        if bad.size:
            s, a = bad[0]
            raise ValueError(f"{name} puts mass {policy[s, a]:.3g} on the infeasible action {a} "
                             f"of state {s}")
        return policy

    def q_values(self, v) -> np.ndarray:
        """Q_v(s, a, b) = r(s, a, b) + γ Σ_s' P(s'|s, a, b) v(s')."""
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.n_states,):
            raise ValueError(f"v must have shape ({self.n_states},), got {v.shape}")
        return self.r + self.gamma * (self.P @ v)

    def mdp_for_max(self, nu, tau=0.0) -> MDP:
        """The MDP of player x against fixed ν: P(s'|s, a) = Σ_b ν(b|s) P(s'|s, a, b),
        r(s, a) = Σ_b ν(b|s) r(s, a, b) − τH(ν_s); x's own +τH(μ_s) is the regularizer
        Entropy(τ) of that MDP."""
        nu = self._policy(nu, "min", "nu")
        P = np.einsum("sb,sabt->sat", nu, self.P)
        r = np.einsum("sb,sab->sa", nu, self.r) - tau * entropy(nu)[:, None]
        return self._player_mdp(P, r, self.feasible_max)

    def mdp_for_min(self, mu, tau=0.0) -> MDP:
        """The MDP of player y against fixed μ, as a maximisation of −r: P(s'|s, b) =
        Σ_a μ(a|s) P(s'|s, a, b), reward −Σ_a μ(a|s) r(s, a, b) − τH(μ_s)."""
        mu = self._policy(mu, "max", "mu")
        P = np.einsum("sa,sabt->sbt", mu, self.P)
        r = -np.einsum("sa,sab->sb", mu, self.r) - tau * entropy(mu)[:, None]
        return self._player_mdp(P, r, self.feasible_min)

    def _player_mdp(self, P, r, feasible):
        """The MDP of one player, its infeasible actions absent (r = 0 and P = 0 there)."""
        if feasible is not None:
            r = np.where(feasible, r, 0.0)
        return MDP(P, r, self.gamma, feasible=feasible)

    def evaluate(self, mu, nu, tau=0.0) -> np.ndarray:
        """V^{μ,ν}_τ(s) = E[Σ_t γ^t (r + τH(μ_{s_t}) − τH(ν_{s_t}))] (exact linear solve)."""
        mu = self._policy(mu, "max", "mu")
        mdp = self.mdp_for_max(nu, tau)
        reg_reward = tau * entropy(mu)
        S = self.n_states
        P_pi = np.einsum("sa,sat->st", mu, mdp.P)
        return np.linalg.solve(np.eye(S) - self.gamma * P_pi,
                               np.sum(mu * mdp.r, axis=1) + reg_reward)


def random_markov_game(S, A, B, gamma=0.9, seed=None, branching=None) -> ZeroSumMarkovGame:
    """Random game: r ~ U(0, 1); each P(·|s, a, b) spreads over ``branching`` (default S)
    uniformly chosen next states with Dirichlet(1) weights."""
    S, A, B = (check_int(k, name, 1) for k, name in ((S, "S"), (A, "A"), (B, "B")))
    rng = rng_from_seed(seed)
    b = S if branching is None else check_int(branching, "branching", 1)
    if b > S:
        raise ValueError(f"branching must lie in [1, S = {S}], got {b}")
    P = np.zeros((S, A, B, S))
    for idx in np.ndindex(S, A, B):
        support = rng.choice(S, size=b, replace=False)
        P[idx][support] = rng.dirichlet(np.ones(b))
    return ZeroSumMarkovGame(P, rng.random((S, A, B)), gamma)
