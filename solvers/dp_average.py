"""The average-reward criterion: gain g and bias h (Puterman 1994, "Markov Decision
Processes", Ch. 8–9), ``solve_mdp(mdp, criterion="average")``. The discount γ is not used.

* ``policy_gain_bias(mdp, π)``: the gain and bias of a stationary policy from the evaluation
  equations (I − P_π) g = 0, g + (I − P_π) h = r_π, h + (I − P_π) w = 0, which determine g
  and h uniquely for any chain structure (Puterman §8.2.3, Thm 8.2.6); solved by least squares
  (w is not unique), with the equations' residual checked.
* ``lp_gain(mdp)``: the optimal gain g*(s) from the multichain primal LP (Puterman §9.3):
  min Σ_s g(s)/S s.t. g(s) ≥ Σ_j p(j|s, a) g(j) and g(s) + h(s) ≥ r(s, a) + Σ_j p(j|s, a) h(j)
  over the feasible pairs (scipy's HiGHS).
* ``solve_average(mdp, method)``: "relative-vi" — relative value iteration on the
  aperiodicity transform P̃ = (1 − θ)I + θP, r̃ = θr, θ = 1/2 (same bias, gain g̃ = θg,
  Puterman §8.5.4), h ← T̃h − (T̃h)(0), stopped when the bracket min(T̃h − h) ≤ θg* ≤
  max(T̃h − h) (Puterman Thm 8.5.5) is narrower than tol; it needs a state-independent g*, so
  an MDP whose LP gain varies across states is a ValueError naming the multichain case.
  "lp" — the LP's g*, then multichain policy iteration (Puterman §9.2: improve the gain term
  Σ_j p(j|s, a) g(j) first, then r + P h among its maximisers, keeping the incumbent on ties)
  from the policy conserving for the LP's (g, h); solves unichain and multichain models.

Either way the Solution's policy is evaluated exactly (``policy_gain_bias``) and certified
only when its gain equals the LP's g* (two independent methods) and (g, h) satisfy the
optimality equations max_a Σ_j p(j|s, a) g(j) = g(s), max_{a ∈ B(s)} r + P h = g + h (B(s):
the gain maximisers) within ``CERTIFY_TOL``·max|r|. Solution.values is the bias h of the
policy, Solution.q = r + P h, params "gain" (list over states), "gain_constant", "structure" ("constant gain" or
"multichain: state-dependent gain"), "recurrent_classes" (of the policy's chain), "gain_lp".
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from nashlab.games._validation import check_int
from nashlab.solvers.dp_stopping import check_tol
from nashlab.solvers.mdp_results import CERTIFY_TOL, mdp_solution

AVERAGE_METHODS = ("relative-vi", "lp")
#: the aperiodicity transform's weight θ on P (Puterman §8.5.4)
THETA = 0.5
#: relative-VI sweeps when max_iterations is None
MAX_SWEEPS = 100_000


def _dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M)


def policy_gain_bias(mdp, policy):
    """(g, h) of ``policy``: the evaluation equations (module docstring), least squares."""
    policy = mdp.as_policy(policy)
    P, r, S = _dense(mdp.P_pi(policy)), mdp.r_pi(policy), mdp.n_states
    eye, zero = np.eye(S), np.zeros((S, S))
    M = np.block([[eye - P, zero, zero], [eye, eye - P, zero], [zero, eye, eye - P]])
    b = np.concatenate([np.zeros(S), r, np.zeros(S)])
    x = np.linalg.lstsq(M, b, rcond=None)[0]
    return x[:S], x[S:2 * S]


def recurrent_classes(P_pi) -> int:
    """The number of closed communicating classes of the chain P_π."""
    graph = sp.csr_matrix(_dense(P_pi) > 0)
    n, labels = connected_components(graph, directed=True, connection="strong")
    rows, cols = graph.nonzero()
    leaving = np.zeros(n, dtype=bool)
    leaving[labels[rows][labels[rows] != labels[cols]]] = True
    return int(np.sum(~leaving))


def lp_gain(mdp):
    """(g*, h) from the multichain primal LP (module docstring); RuntimeError if HiGHS fails."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.dense_P()
    pairs = np.argwhere(np.ones((S, A), bool) if mdp.feasible is None else mdp.feasible)
    rows_g, rows_h, rhs = [], [], []
    for s, a in pairs:
        e = np.zeros(S)
        e[s] = 1.0
        rows_g.append(np.concatenate([P[s, a] - e, np.zeros(S)]))  # P g − g ≤ 0
        rows_h.append(np.concatenate([-e, P[s, a] - e]))          # −g − h + P h ≤ −r
        rhs.append(-mdp.r[s, a])
    A_ub = np.vstack(rows_g + rows_h)
    b_ub = np.concatenate([np.zeros(len(pairs)), rhs])
    c = np.concatenate([np.full(S, 1.0 / S), np.zeros(S)])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"the multichain LP failed: {res.message}")
    return res.x[:S], res.x[S:]


def _optimality_residual(mdp, g, h, tol):
    """max of |max_a P g − g| and |max_{a ∈ B} (r + P h) − g − h| (B: gain maximisers)."""
    Pg = mdp.mask(mdp.expected_next(g))
    best_g = Pg.max(axis=1)
    B = Pg >= best_g[:, None] - tol
    bias_q = np.where(B, mdp.mask(mdp.r + mdp.expected_next(h)), -np.inf)
    return max(float(np.max(np.abs(best_g - g))), float(np.max(np.abs(bias_q.max(axis=1) - g - h))))


def _improve(mdp, actions, g, h, tol):
    """One multichain PI improvement (Puterman §9.2), the incumbent kept within tol."""
    S = mdp.n_states
    Pg = mdp.mask(mdp.expected_next(g))
    bias_q = mdp.mask(mdp.r + mdp.expected_next(h))
    new = actions.copy()
    for s in range(S):
        a0 = actions[s]
        if Pg[s].max() > Pg[s, a0] + tol:
            new[s] = int(np.argmax(Pg[s]))
            continue
        B = Pg[s] >= Pg[s].max() - tol
        q = np.where(B, bias_q[s], -np.inf)
        if q.max() > q[a0] + tol:
            new[s] = int(np.argmax(q))
    return new


def _conserving(mdp, g, h, tol):
    """Actions attaining max_a P g, then max r + P h among those."""
    Pg = mdp.mask(mdp.expected_next(g))
    B = Pg >= Pg.max(axis=1, keepdims=True) - tol
    return np.argmax(np.where(B, mdp.mask(mdp.r + mdp.expected_next(h)), -np.inf), axis=1)


def _relative_vi(mdp, tol, max_sweeps):
    """Relative VI on the aperiodicity transform; (actions, bracket, sweeps)."""
    h = np.zeros(mdp.n_states)
    for k in range(max_sweeps + 1):
        q = mdp.mask(THETA * (mdp.r + mdp.expected_next(h))) + (1 - THETA) * h[:, None]
        th = q.max(axis=1)
        d = (th - h) / THETA
        if d.max() - d.min() <= tol or k == max_sweeps:
            break
        h = th - th[0]
    return np.argmax(q, axis=1), (float(d.min()), float(d.max())), k


def solve_average(mdp, *, method="relative-vi", tol=None, max_iterations=None):
    """Gain-optimal policy, gain and bias (module docstring). ``tol``: relative VI's bracket
    width on g* (default ``CERTIFY_TOL``·max|r|); ``max_iterations``: relative-VI sweeps or
    policy-iteration steps (None: 100 000 / S·A + 1)."""
    if method not in AVERAGE_METHODS:
        raise ValueError(f"method must be one of {AVERAGE_METHODS} for criterion='average', "
                         f"got {method!r}")
    if mdp.horizon is not None:
        raise ValueError("criterion='average' needs an infinite-horizon MDP (horizon=None)")
    scale = max(float(np.max(np.abs(mdp.r))), np.finfo(float).tiny)
    cert = CERTIFY_TOL * scale
    tol = cert if tol is None else check_tol(tol)
    g_lp, h_lp = lp_gain(mdp)
    constant = bool(g_lp.max() - g_lp.min() <= cert)
    extra = {}
    if method == "relative-vi":
        if not constant:
            raise ValueError(f"multichain: the optimal gain depends on the state (LP gain from "
                             f"{g_lp.min():.6g} to {g_lp.max():.6g}); relative value iteration "
                             "needs a constant gain: use method='lp'")
        sweeps = MAX_SWEEPS if max_iterations is None else check_int(max_iterations,
                                                                     "max_iterations", 1)
        actions, bracket, iterations = _relative_vi(mdp, tol, sweeps)
        extra["gain_bracket"] = list(bracket)
        message = f"relative VI: gain bracket width {bracket[1] - bracket[0]:.3g}"
    else:
        steps = (mdp.n_states * mdp.n_actions + 1 if max_iterations is None
                 else check_int(max_iterations, "max_iterations", 1))
        actions, iterations, stable = _conserving(mdp, g_lp, h_lp, cert), 0, False
        while not stable and iterations < steps:
            iterations += 1
            g, h = policy_gain_bias(mdp, actions)
            new = _improve(mdp, actions, g, h, cert)
            stable = np.array_equal(new, actions)
            actions = new
        message = "multichain policy iteration: " + ("stable" if stable else "iteration limit")
    policy = mdp.as_policy(actions)
    g, h = policy_gain_bias(mdp, policy)
    residual = _optimality_residual(mdp, g, h, cert)
    agrees = float(np.max(np.abs(g - g_lp)))
    certified = bool(residual <= cert and agrees <= max(cert, tol))
    message += f"; gain vs LP {agrees:.3g}, optimality residual {residual:.3g}"
    q = mdp.mask(mdp.r + mdp.expected_next(h))  # the relative Q-values r + P h (no γ)
    return mdp_solution(mdp, None, h, q, policy, residual, method, iterations,
                        message, "numpy", certified=certified, criterion="average",
                        gain=g.tolist(), gain_lp=g_lp.tolist(), gain_constant=constant,
                        structure="constant gain" if constant else
                        "multichain: state-dependent gain",
                        recurrent_classes=recurrent_classes(mdp.P_pi(policy)), **extra)
