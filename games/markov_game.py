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
"""

import numpy as np

from nashlab.games._validation import as_float_array, check_int, check_scalar, rng_from_seed
from nashlab.games.mdp import MDP, ROW_TOL


def entropy(p):
    """H(p) = −Σ p log p along the last axis (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


class ZeroSumMarkovGame:
    """A discounted two-player zero-sum Markov game (Shapley 1953)."""

    def __init__(self, P, r, gamma):
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
        err = np.max(np.abs(self.P.sum(axis=-1) - 1.0))
        if err > ROW_TOL:
            raise ValueError(f"every row P(·|s, a, b) must sum to 1 (off by {err:.3g})")
        self.n_states, self.n_actions, self.n_opponent_actions = S, A, B

    def __repr__(self):
        S, A, B = self.r.shape
        return f"ZeroSumMarkovGame(S={S}, A={A}, B={B}, gamma={self.gamma:g})"

    def _policy(self, policy, n, name):
        policy = as_float_array(policy, name, ndim=2)
        if policy.shape != (self.n_states, n):
            raise ValueError(f"{name} must have shape {(self.n_states, n)}, got {policy.shape}")
        if policy.min() < 0 or np.max(np.abs(policy.sum(axis=1) - 1)) > ROW_TOL * max(1, n):
            raise ValueError(f"{name} rows must be probability vectors")
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
        nu = self._policy(nu, self.n_opponent_actions, "nu")
        P = np.einsum("sb,sabt->sat", nu, self.P)
        r = np.einsum("sb,sab->sa", nu, self.r) - tau * entropy(nu)[:, None]
        return MDP(P, r, self.gamma)

    def mdp_for_min(self, mu, tau=0.0) -> MDP:
        """The MDP of player y against fixed μ, as a maximisation of −r: P(s'|s, b) =
        Σ_a μ(a|s) P(s'|s, a, b), reward −Σ_a μ(a|s) r(s, a, b) − τH(μ_s)."""
        mu = self._policy(mu, self.n_actions, "mu")
        P = np.einsum("sa,sabt->sbt", mu, self.P)
        r = -np.einsum("sa,sab->sb", mu, self.r) - tau * entropy(mu)[:, None]
        return MDP(P, r, self.gamma)

    def evaluate(self, mu, nu, tau=0.0) -> np.ndarray:
        """V^{μ,ν}_τ(s) = E[Σ_t γ^t (r + τH(μ_{s_t}) − τH(ν_{s_t}))] (exact linear solve)."""
        mu = self._policy(mu, self.n_actions, "mu")
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
