"""Zero-sum Markov games: certified equilibria, Shapley value iteration and per-state
policy updates with a slow value update (theory notes dp_robust.md §4).

* ``stage_equilibria(Q, tau)``: the per-state saddle points of the stage games Q(s) —
  the certified QRE (τ > 0) or LP equilibrium (τ = 0) of ``nashlab.solvers.matrix_games.qre``,
  the latter polished to rounding by solving the square support system.
* ``solve_markov_game(game, tau=0)``: Hoffman–Karp iteration — ν_{k+1} = the stage
  equilibrium of Q_{v_k} for the minimiser, v_{k+1} = the maximiser's exact best-response
  value against ν_{k+1} (an MDP solve) — converges monotonically from above at least as fast
  as Shapley VI; certified by the Shapley residual ‖T v − v‖∞ and by the exploitability of
  the stage policies (two exact best-response MDP solves).
* ``run_markov_game(game, method, ...)``: "shapley" (v ← val_τ(Q_v(s)), a γ-contraction),
  and the single-loop per-state methods "pu", "omwu", "mmd" with the slow value update
  V ← (1 − α)V + α·(regularized stage value) of Cen, Chi, Du, Xiao (arXiv 2210.01050),
  α = ητ by default. With γ = 0 the per-state methods are exactly the matrix-game methods
  on each r(s), and "mmd" is the magnetic mirror descent of Sokota et al. (arXiv
  2206.05825, Thm 3.4): log x⁺ = (log x + ηα log ρ + η M y)/(1 + ηα), ρ uniform, α = τ.
"""

import math

import numpy as np

from nashlab._xp import safe_log, softmax
from nashlab.games._validation import check_int, check_scalar
from nashlab.games.markov_game import ZeroSumMarkovGame, entropy
from nashlab.games.matrix import MatrixGame
from nashlab.games.metrics import kl_from_logs
from nashlab.games.regularizers import Entropy
from nashlab.solvers.backends import NO_KERNEL_MULTI, choose_backend
from nashlab.solvers.dp import solve_mdp
from nashlab.solvers.matrix_games import qre
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Solution, Trajectory

#: Certificate threshold for the Shapley residual and the exploitability.
CERTIFY_TOL = 1e-10


# -- stage games --------------------------------------------------------------------------
def _support_polish(M, x, y, tol=1e-9):
    """Solve the equalising systems on the supports of (x, y); None if they do not verify
    (unequal supports, a negative entry, or a duality gap above rounding)."""
    rows, cols = np.flatnonzero(x > tol), np.flatnonzero(y > tol)
    if len(rows) != len(cols):
        return None
    k = len(rows)
    block = np.zeros((k + 1, k + 1))
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    block[-1, :k] = 1.0
    block[:k, -1] = -1.0
    try:
        block[:k, :k] = M[np.ix_(rows, cols)]
        sol_y = np.linalg.solve(block, rhs)
        block[:k, :k] = M[np.ix_(rows, cols)].T
        sol_x = np.linalg.solve(block, rhs)
    except np.linalg.LinAlgError:
        return None
    xs, ys = np.zeros(M.shape[0]), np.zeros(M.shape[1])
    xs[rows], ys[cols] = sol_x[:k], sol_y[:k]
    if xs.min() < 0 or ys.min() < 0:
        return None
    if np.max(M @ ys) - np.min(xs @ M) > 1e-13 * max(1.0, np.max(np.abs(M))):
        return None
    return xs, ys


def stage_equilibria(Q, tau=0.0):
    """Per-state (values, μ, ν, gap) of the stage games Q[s] of shape (S, A, B).

    τ > 0: the certified QRE of ``nashlab.solvers.matrix_games.qre`` (Newton), value
    xᵀQy + τH(x) − τH(y). τ = 0: its LPs (HiGHS), then the square support system solved
    exactly where it verifies, value xᵀQy. ``gap`` is the worst stage duality gap."""
    S, A, _ = Q.shape
    eq = qre(MatrixGame(Q, tau))
    mu, nu = eq.policy[:, :A].copy(), eq.policy[:, A:].copy()
    if tau == 0:
        for s in range(S):
            polished = _support_polish(Q[s], mu[s], nu[s])
            if polished is not None:
                mu[s], nu[s] = polished
        gap = np.max(np.einsum("sab,sb->sa", Q, nu).max(1) - np.einsum("sa,sab->sb", mu, Q).min(1))
    else:
        gap = eq.gap
    values = np.einsum("sa,sab,sb->s", mu, Q, nu) + tau * (entropy(mu) - entropy(nu))
    return values, mu, nu, float(gap)


# -- Markov games -------------------------------------------------------------------------
def _regularizer(tau):
    return None if tau == 0 else Entropy(tau)


def best_response_values(game, mu, nu, tau=0.0):
    """(max_μ' V^{μ',ν}_τ, min_ν' V^{μ,ν'}_τ), each an exact (regularized) MDP solve."""
    reg = _regularizer(tau)
    upper = solve_mdp(game.mdp_for_max(nu, tau), reg).values
    lower = -solve_mdp(game.mdp_for_min(mu, tau), reg).values
    return upper, lower


def exploitability(game, mu, nu, tau=0.0) -> float:
    """max_s [max_μ' V^{μ',ν}_τ(s) − min_ν' V^{μ,ν'}_τ(s)] ≥ 0 (0 iff (μ, ν) is the
    (regularized) equilibrium)."""
    upper, lower = best_response_values(game, mu, nu, tau)
    return float(np.max(upper - lower))


def _check_game(game, tau):
    if not isinstance(game, ZeroSumMarkovGame):
        raise TypeError(f"game must be a ZeroSumMarkovGame, got {type(game).__name__}")
    return check_scalar(tau, "tau", low=0.0)


def solve_markov_game(game, tau=0.0, max_iterations=200, *, backend="auto") -> Solution:
    """Certified (regularized) equilibrium by Hoffman–Karp iteration (module docstring).

    ``backend``: "auto" or "numpy" (stage games and MDP solves run on NumPy/LAPACK)."""
    tau = _check_game(game, tau)
    choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    reg = _regularizer(tau)
    v = np.zeros(game.n_states)
    change, iterations, stalls = math.inf, 0, 0
    while (change > 1e-14 * max(1.0, np.max(np.abs(v))) and stalls < 3
           and iterations < max_iterations):
        iterations += 1
        _, mu, nu, _ = stage_equilibria(game.q_values(v), tau)
        v_new = solve_mdp(game.mdp_for_max(nu, tau), reg).values
        new_change = np.max(np.abs(v_new - v))
        stalls = stalls + 1 if new_change >= change else 0  # rounding-level oscillation
        change, v = new_change, v_new
    stage_values, mu, nu, _ = stage_equilibria(game.q_values(v), tau)
    residual = float(np.max(np.abs(stage_values - v)))
    gap = exploitability(game, mu, nu, tau)
    S, A, B = game.r.shape
    params = {"family": "markov-game", "method": "hoffman-karp", "backend": "numpy",
              "n_actions": [A, B], "n_states": S, "batch_shape": [], "gamma": game.gamma,
              "tau": tau, "iterations": iterations}
    certified = residual <= CERTIFY_TOL and gap <= CERTIFY_TOL
    return Solution(np.concatenate([mu, nu], axis=1), bool(certified), residual, gap,
                    "certified" if certified else "not certified", params, values=v)


def _run_shapley(game, tau, iterations, solution, track):
    v = np.zeros(game.n_states)
    errors, gaps = [np.max(np.abs(v - solution.values))], []
    for k in range(iterations + 1):
        values, mu, nu, _ = stage_equilibria(game.q_values(v), tau)
        gaps.append(exploitability(game, mu, nu, tau) if track else np.nan)
        if k < iterations:
            v = values
            errors.append(np.max(np.abs(v - solution.values)))
    return {"value_error": np.array(errors), "exploitability": np.array(gaps)}, mu, nu, {}


def _run_per_state(game, tau, iterations, solution, eta, value_step, track, rule):
    """Per-state policy updates on Q^t = r + γPV^t and V ← (1 − α)V + α·stage value."""
    if tau <= 0:
        raise ValueError(f"method {rule!r} needs tau > 0 (entropy-regularized game)")
    S, A, B = game.r.shape
    q_max = float(np.max(np.abs(game.r))) / (1 - game.gamma)
    eta = 1.0 / (tau + q_max) if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    if rule != "mmd" and eta * tau >= 1:
        raise ValueError(f"{rule} needs eta·tau < 1, got {eta * tau:g}")
    alpha = eta * tau if value_step is None else check_scalar(value_step, "value_step",
                                                                low=0.0, high=1.0)
    ux, uy = np.full((S, A), -math.log(A)), np.full((S, B), -math.log(B))
    log_x, log_y = ux.copy(), uy.copy()
    mid_y = uy.copy()  # OMWU's previous prediction of the opponent
    v = np.zeros(S)
    md = eta_from_mirror_descent(eta, tau) if rule != "mmd" else None
    metrics = {"value_error": [], "policy_kl": [], "exploitability": []}
    mu_star, nu_star = solution.split()
    mid_x = ux.copy()
    for k in range(iterations + 1):
        x, y = softmax(log_x), softmax(log_y)
        metrics["value_error"].append(np.max(np.abs(v - solution.values)))
        metrics["policy_kl"].append(np.max(kl_from_logs(mu_star, safe_log(mu_star), log_x)
                                           + kl_from_logs(nu_star, safe_log(nu_star), log_y)))
        metrics["exploitability"].append(exploitability(game, x, y, tau) if track else np.nan)
        if k == iterations:
            break
        Q = game.q_values(v)
        if rule == "mmd":
            log_x, log_y = (prox_step(log_x, np.einsum("sab,sb->sa", Q, y), eta=eta, beta=tau,
                                      log_reference=ux),
                            prox_step(log_y, -np.einsum("sab,sa->sb", Q, x), eta=eta, beta=tau,
                                      log_reference=uy))
            px, py = softmax(log_x), softmax(log_y)
        else:
            if rule == "pu":
                gx, gy = np.einsum("sab,sb->sa", Q, y), -np.einsum("sab,sa->sb", Q, x)
            else:  # omwu: the midpoint uses the previous midpoint of the opponent
                gx = np.einsum("sab,sb->sa", Q, softmax(mid_y))
                gy = -np.einsum("sab,sa->sb", Q, softmax(mid_x))
            mid_x = prox_step(log_x, gx, eta=md, beta=tau, log_reference=ux)
            mid_y = prox_step(log_y, gy, eta=md, beta=tau, log_reference=uy)
            px, py = softmax(mid_x), softmax(mid_y)
            log_x = prox_step(log_x, np.einsum("sab,sb->sa", Q, py), eta=md, beta=tau,
                              log_reference=ux)
            log_y = prox_step(log_y, -np.einsum("sab,sa->sb", Q, px), eta=md, beta=tau,
                              log_reference=uy)
        stage = np.einsum("sa,sab,sb->s", px, Q, py) + tau * entropy(px) - tau * entropy(py)
        v = (1 - alpha) * v + alpha * stage
    extra = {"eta": eta, "value_step": alpha, "L": float(np.max(np.abs(game.r)))}
    return ({k: np.array(m) for k, m in metrics.items()}, softmax(log_x), softmax(log_y), extra)


METHODS = ("shapley", "pu", "omwu", "mmd")


def run_markov_game(game, method, *, iterations, tau=0.0, eta=None, value_step=None,
                    solution=None, track_exploitability=True, backend="auto") -> Trajectory:
    """Run ``method`` (one of ``METHODS``) for ``iterations`` steps.

    Metrics (index 0 = initial point): "value_error" ‖V_k − V*_τ‖∞, "exploitability" of the
    current policies (exact best responses), and for the per-state methods "policy_kl"
    max_s KL(μ*_s‖μ_k(s)) + KL(ν*_s‖ν_k(s)) (the Bregman distance of MMD Thm 3.4).
    ``policy`` is the final pair concatenated, shape (S, A + B): ``policy[:, :A]`` is μ and
    ``policy[:, A:]`` is ν (the convention of ``nashlab.solvers.matrix_games``). With
    ``track_exploitability=False`` that metric is NaN (it costs two MDP solves per iteration).
    ``backend``: "auto" or "numpy" (the per-state updates have no compiled kernel).
    """
    tau = _check_game(game, tau)
    choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    iterations = check_int(iterations, "iterations", 0)
    if solution is None:
        solution = solve_markov_game(game, tau)
    if method == "shapley":
        if eta is not None or value_step is not None:
            raise ValueError("shapley takes no eta or value_step")
        metrics, mu, nu, extra = _run_shapley(game, tau, iterations, solution,
                                              track_exploitability)
    else:
        metrics, mu, nu, extra = _run_per_state(game, tau, iterations, solution, eta,
                                                value_step, track_exploitability, method)
    S, A, B = game.r.shape
    params = {"gamma": game.gamma, "tau": tau, "S": S, "n": A, "B": B, "iterations": iterations,
              **extra}
    return Trajectory(method, params, metrics, policy=np.concatenate([mu, nu], axis=1))
