"""Zero-sum Markov games: certified equilibria, Shapley value iteration and per-state
policy updates with a slow value update (theory notes dp_robust.md §4).

* ``stage_equilibria(Q, tau, feasible=None)``: the per-state saddle points of the stage
  games Q(s), over each state's feasible actions when the game has action sets —
  the certified QRE (τ > 0) or LP equilibrium (τ = 0) of ``nashlab.solvers.matrix_games.qre``,
  the latter polished to rounding by solving the square support system.
* ``solve_markov_game(game, *, tau=0)``: Hoffman–Karp iteration — ν_{k+1} = the stage
  equilibrium of Q_{v_k} for the minimiser, v_{k+1} = the maximiser's exact best-response
  value against ν_{k+1} (an MDP solve) — converges monotonically from above at least as fast
  as Shapley VI; certified by the Shapley residual ‖T v − v‖∞ and by the NashConv of the
  stage policies (two exact best-response MDP solves), both relative to the value scale
  max((‖r‖∞ + τ)/(1 − γ), ‖v‖∞) as for MDPs (``nashlab.solvers.mdp_results``): scaling
  (r, τ) by c > 0 scales v, the residual and the gap by c and keeps the verdict.
* ``run_markov_game(game, method, ...)``: "shapley" (v ← val_τ(Q_v(s)), a γ-contraction),
  and the single-loop per-state methods "pu", "omwu", "mmd" with the slow value update
  V ← (1 − α)V + α·(regularized stage value) of Cen, Chi, Du, Xiao (arXiv 2210.01050),
  α = ητ by default. Each per-state step is a composition of ``nashlab.solvers.compositions``
  ("extragradient", "optimistic", "single", as in ``nashlab.solvers.methods``) of the prox
  step S with the coefficients ``step_coefficients(form, η, τ)`` and the uniform reference,
  on the payoff operator F(u, v)(s) = (Q(s)·y(s), −Q(s)ᵀ·x(s)), Q = r + γPV frozen for the
  step. With γ = 0 the per-state methods are exactly the matrix-game methods on each r(s),
  and "mmd" is the magnetic mirror descent of Sokota et al. (arXiv 2206.05825, Thm 3.4):
  log x⁺ = (log x + ηα log ρ + η M y)/(1 + ηα), ρ uniform, α = τ.

The metric vocabulary is that of every family (``nashlab.games.metrics``), for a policy of
shape (S, A + B) (μ then ν): ``nash_conv`` = max_s [max_μ' V^{μ',ν}_τ(s) − min_ν' V^{μ,ν'}_τ(s)]
(``markov_nash_conv``), ``duality_gap`` = NashConv, ``exploitability`` = ½·NashConv (the
mean of the two players' gains). A one-state game with γ = 0 and r = A is the matrix game
(A, τ) and has the same three values for the same policy.
"""

import math

import numpy as np

from nashlab._xp import normalize_logits, safe_log, softmax
from nashlab.games import metrics
from nashlab.games._validation import as_float_array, check_distribution, check_int, check_scalar
from nashlab.games.markov_game import ZeroSumMarkovGame, entropy
from nashlab.games.matrix import MatrixGame
from nashlab.games.metrics import kl_from_logs
from nashlab.games.regularizers import Entropy
from nashlab.solvers.backends import NO_KERNEL_MULTI, choose_backend
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.dp import solve_mdp
from nashlab.solvers.matrix_games import qre
from nashlab.solvers.methods import check_options, get_method, methods
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution, Trajectory

#: Certificate threshold for the Shapley residual and NashConv, relative to ``value_scale``.
CERTIFY_TOL = 1e-10


def value_scale(game, tau, values=None) -> float:
    """max((‖r‖∞ + τ)/(1 − γ), ‖values‖∞): the scale of the certificate (no absolute floor,
    so that r ×1e-11 does not certify every policy and r ×1e8 does certify exact ones)."""
    scale = (float(np.max(np.abs(game.r))) + tau) / (1.0 - game.gamma)
    if values is not None and np.size(values):
        scale = max(scale, float(np.max(np.abs(values))))
    return scale


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
    if np.max(M @ ys) - np.min(xs @ M) > 1e-13 * np.max(np.abs(M)):  # relative: no floor
        return None
    return xs, ys


def stage_equilibria(Q, tau=0.0, feasible=None):
    """Per-state (values, μ, ν, gap) of the stage games Q[s] of shape (S, A, B).

    τ > 0: the certified QRE of ``nashlab.solvers.matrix_games.qre`` (Newton), value
    xᵀQy + τH(x) − τH(y). τ = 0: its LPs (HiGHS), then the square support system solved
    exactly where it verifies, value xᵀQy. ``gap`` is the worst stage duality gap.
    ``feasible``: None, or the masks (fx (S, A), fy (S, B)) of per-state action sets: the
    stage game of state s is Q[s] on the rows fx[s] and columns fy[s] (its LP or QRE over
    the feasible actions only; μ, ν are 0 off them)."""
    if feasible is not None:
        return _restricted_stage_equilibria(Q, tau, *feasible)
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


def _restricted_stage_equilibria(Q, tau, fx, fy):
    """``stage_equilibria`` state by state on the feasible submatrices Q[s][fx[s], fy[s]]."""
    S, A, B = Q.shape
    values, mu, nu, gap = np.empty(S), np.zeros((S, A)), np.zeros((S, B)), 0.0
    for s in range(S):
        rows, cols = np.flatnonzero(fx[s]), np.flatnonzero(fy[s])
        value, x, y, g = stage_equilibria(Q[s][np.ix_(rows, cols)][None], tau)
        values[s], mu[s, rows], nu[s, cols], gap = value[0], x[0], y[0], max(gap, g)
    return values, mu, nu, gap


def _stage(game, v, tau):
    """The stage equilibria of Q_v over each state's feasible actions."""
    feasible = (game.feasible("max"), game.feasible("min")) if game.has_action_sets else None
    return stage_equilibria(game.q_values(v), tau, feasible)


# -- Markov games: the metric vocabulary ----------------------------------------------------
def _regularizer(tau):
    return None if tau == 0 else Entropy(tau)


def _check_game(game, tau):
    if not isinstance(game, ZeroSumMarkovGame):
        raise TypeError(f"game must be a ZeroSumMarkovGame, got {type(game).__name__}")
    return check_scalar(tau, "tau", low=0.0)


def split_policy(game, policy, name="policy"):
    """(μ, ν) of a Markov-game policy of shape (S, A + B) (μ then ν), each row validated."""
    policy = as_float_array(policy, name, ndim=2)
    S, A, B = game.n_states, game.n_actions, game.n_opponent_actions
    if policy.shape != (S, A + B):
        raise ValueError(f"{name} must have shape (S, A + B) = {(S, A + B)} (μ then ν), "
                         f"got {policy.shape}")
    return (game._policy(policy[:, :A], "max", f"{name}[:, :A] (mu)"),
            game._policy(policy[:, A:], "min", f"{name}[:, A:] (nu)"))


def best_response_values(game, mu, nu, tau=0.0):
    """(max_μ' V^{μ',ν}_τ, min_ν' V^{μ,ν'}_τ), each an exact (regularized) MDP solve."""
    reg = _regularizer(tau)
    upper = solve_mdp(game.mdp_for_max(nu, tau), regularizer=reg).values
    lower = -solve_mdp(game.mdp_for_min(mu, tau), regularizer=reg).values
    return upper, lower


def _nash_conv(game, mu, nu, tau):
    upper, lower = best_response_values(game, mu, nu, tau)
    return float(np.max(upper - lower))


@metrics.nash_conv.register(ZeroSumMarkovGame)
def markov_nash_conv(game, policy, *, tau=0.0, logits=None) -> float:
    """NashConv = max_s [max_μ' V^{μ',ν}_τ(s) − min_ν' V^{μ,ν'}_τ(s)] ≥ 0, the sum of the two
    players' best-response gains (0 iff (μ, ν) is the (regularized) equilibrium).

    ``policy``: shape (S, A + B), μ then ν (the layout of ``Solution.policy``); two exact
    MDP solves. ``logits`` is accepted for the common signature and not needed here.
    Registered as ``nashlab.games.metrics.nash_conv`` for ``ZeroSumMarkovGame``."""
    tau = _check_game(game, tau)
    mu, nu = split_policy(game, policy)
    _check_logits(policy, logits)
    return _nash_conv(game, mu, nu, tau)


@metrics.exploitability.register(ZeroSumMarkovGame)
def markov_exploitability(game, policy, *, tau=0.0, logits=None) -> float:
    """½·NashConv: the mean of the two players' best-response gains (as for matrix and
    preference games). Registered as ``nashlab.games.metrics.exploitability``."""
    return 0.5 * markov_nash_conv(game, policy, tau=tau, logits=logits)


def markov_duality_gap(game, policy, *, tau=0.0, logits=None) -> float:
    """The duality gap = NashConv (a two-player zero-sum game)."""
    return markov_nash_conv(game, policy, tau=tau, logits=logits)


@metrics.unregularized_exploitability.register(ZeroSumMarkovGame)
def markov_unregularized_exploitability(game, policy, *, tau=0.0, logits=None) -> float:
    """½·NashConv of the unregularized game (τ = 0), whatever ``tau``."""
    _check_game(game, tau)
    return markov_exploitability(game, policy, tau=0.0, logits=logits)


@metrics.best_response_logits.register(ZeroSumMarkovGame)
def markov_best_response_logits(game, policy, *, tau=0.0, logits=None) -> np.ndarray:
    """(log BR_μ(ν), log BR_ν(μ)), shape (S, A + B): each player's optimal policy of the
    entropy-regularized MDP against the other (∝ exp(q/τ), q its optimal Q-values); τ > 0
    (for τ = 0 a best response is a set)."""
    tau = _check_game(game, tau)
    if tau <= 0:
        raise ValueError("best responses are unique only for tau > 0")
    mu, nu = split_policy(game, policy)
    _check_logits(policy, logits)
    q_x = solve_mdp(game.mdp_for_max(nu, tau), regularizer=Entropy(tau)).q
    q_y = solve_mdp(game.mdp_for_min(mu, tau), regularizer=Entropy(tau)).q
    return np.concatenate([normalize_logits(q_x / tau), normalize_logits(q_y / tau)], axis=1)


def _check_logits(policy, logits):
    if logits is not None and np.shape(logits) != np.shape(policy):
        raise ValueError(f"logits must have the shape of the policy {np.shape(policy)}, "
                         f"got {np.shape(logits)}")


#: the metric vocabulary, dispatched on the game type (``nashlab.games.metrics``; the
#: Markov-game versions above are registered for ``ZeroSumMarkovGame``)
exploitability, nash_conv, duality_gap = metrics.exploitability, metrics.nash_conv, metrics.duality_gap


# -- the certified solution -------------------------------------------------------------
def _params(game, method, backend, tau, **extra):
    S, A, B = game.r.shape
    return {"family": "markov-game", "method": method, "backend": backend, "n_actions": [A, B],
            "n_states": S, "batch_shape": [], "gamma": game.gamma, "tau": tau, **extra}


def solve_markov_game(game, *, tau=0.0, max_iterations=200, backend="auto") -> Solution:
    """Certified (regularized) equilibrium by Hoffman–Karp iteration (module docstring).

    ``gap`` is NashConv (``markov_nash_conv``), ``residual`` the Shapley residual
    ‖val_τ(Q_v) − v‖∞; certified when both are ≤ ``CERTIFY_TOL``·``value_scale`` (the
    absolute tolerance is ``params["residual_tol"]``). ``policy`` is (S, A + B),
    μ then ν (``split()``); ``values`` is v*_τ. ``backend``: "auto" or "numpy" (stage games
    and MDP solves run on NumPy/LAPACK)."""
    tau = _check_game(game, tau)
    max_iterations = check_int(max_iterations, "max_iterations", 0)
    backend = choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    reg = _regularizer(tau)
    v = np.zeros(game.n_states)
    change, iterations, stalls = math.inf, 0, 0
    while (change > 1e-14 * value_scale(game, tau, v) and stalls < 3
           and iterations < max_iterations):
        iterations += 1
        _, mu, nu, _ = _stage(game, v, tau)
        v_new = solve_mdp(game.mdp_for_max(nu, tau), regularizer=reg).values
        new_change = np.max(np.abs(v_new - v))
        stalls = stalls + 1 if new_change >= change else 0  # rounding-level oscillation
        change, v = new_change, v_new
    stage_values, mu, nu, _ = _stage(game, v, tau)
    residual = float(np.max(np.abs(stage_values - v)))
    gap = _nash_conv(game, mu, nu, tau)
    tol = CERTIFY_TOL * value_scale(game, tau, v)
    params = _params(game, "hoffman-karp", backend, tau, iterations=iterations,
                     max_iterations=max_iterations, residual_tol=tol)
    certified = residual <= tol and gap <= tol
    return Solution(np.concatenate([mu, nu], axis=1), bool(certified), residual, gap,
                    "certified" if certified else "not certified", params, values=v)


# -- iterative methods ------------------------------------------------------------------
#: metrics ``run_markov_game`` can track (``exploitability`` = ½·``nash_conv``;
#: ``duality_gap`` = ``nash_conv``; these three cost two MDP solves per iteration)
MARKOV_METRICS = ("value_error", "policy_kl", "exploitability", "nash_conv", "duality_gap")
METHODS = methods("markov-game")


class _Recorder:
    """The tracked metrics at each iterate (μ_k, ν_k, V_k); untracked ones are not computed."""

    def __init__(self, game, tau, solution, track):
        self.game, self.tau, self.track = game, tau, track
        self.values = solution.values
        self.mu_star, self.nu_star = solution.split()
        self.log_mu_star, self.log_nu_star = safe_log(self.mu_star), safe_log(self.nu_star)
        self.metrics = {name: [] for name in track}

    def policy_kl(self, log_x, log_y):
        """max_s KL(μ*_s‖μ_k(s)) + KL(ν*_s‖ν_k(s))."""
        return np.max(kl_from_logs(self.mu_star, self.log_mu_star, log_x)
                      + kl_from_logs(self.nu_star, self.log_nu_star, log_y))

    def __call__(self, v, log_x, log_y, x, y):
        m = self.metrics
        if "value_error" in m:
            m["value_error"].append(np.max(np.abs(v - self.values)))
        if "policy_kl" in m:
            m["policy_kl"].append(self.policy_kl(log_x, log_y))
        if {"exploitability", "nash_conv", "duality_gap"} & set(m):
            gap = _nash_conv(self.game, x, y, self.tau)
            for name, value in (("nash_conv", gap), ("duality_gap", gap),
                                ("exploitability", 0.5 * gap)):
                if name in m:
                    m[name].append(value)

    def arrays(self):
        return {name: np.array(values) for name, values in self.metrics.items()}


def _run_shapley(game, tau, iterations, record):
    """v_{k+1} = val_τ(Q_{v_k}) from v_0 = 0; the policies are the stage equilibria at v_k."""
    v = np.zeros(game.n_states)
    for k in range(iterations + 1):
        values, mu, nu, _ = _stage(game, v, tau)
        record(v, safe_log(mu), safe_log(nu), mu, nu)
        if k < iterations:
            v = values
    return mu, nu, {}


def _markov_payoff(Q):
    """F(u, v)(s) = (Q(s)·y(s), −Q(s)ᵀ·x(s)), x = softmax(u), y = softmax(v), Q frozen."""
    def payoff(logits):
        u, v = logits
        return (np.einsum("sab,sb->sa", Q, softmax(v)), -np.einsum("sab,sa->sb", Q, softmax(u)))
    return payoff


def _run_per_state(game, entry, tau, iterations, eta, init, value_step, record):
    """Per-state policy steps on the frozen Q^t = r + γPV^t (the composition of ``entry``
    on the payoff F of ``_markov_payoff``), then V ← (1 − α)V + α·(regularized stage value
    at the point the last payoff was evaluated: the midpoint for PU/OMWU, the new iterate
    for MMD)."""
    S, A, B = game.r.shape
    q_max = float(np.max(np.abs(game.r))) / (1 - game.gamma)
    eta = 1.0 / (tau + q_max) if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    if entry.step_form == "mirror-descent" and eta * tau >= 1:
        raise ValueError(f"{entry.name} needs eta·tau < 1, got {eta * tau:g}")
    alpha = eta * tau if value_step is None else check_scalar(value_step, "value_step",
                                                                low=0.0, high=1.0)
    log_uniform = tuple(safe_log(p) for p in game.uniform_policies())  # −∞ off the action sets
    step = make_step(step_coefficients(entry.step_form, eta, tau), log_uniform)
    compose = COMPOSITIONS[entry.composition]
    logits = (normalize_logits(safe_log(init[0])), normalize_logits(safe_log(init[1])))
    kl0 = float(record.policy_kl(*logits))
    v = np.zeros(S)
    half = None  # OMWU: the last midpoint, whose payoff under the new Q predicts the next
    for k in range(iterations + 1):
        record(v, *logits, softmax(logits[0]), softmax(logits[1]))
        if k == iterations:
            break
        Q = game.q_values(v)
        payoff = _markov_payoff(Q)
        predictor = payoff(half) if entry.composition == "optimistic" and half is not None \
            else None
        logits, half, _ = compose(logits, payoff, step, predictor)
        px, py = (softmax(logits[0]), softmax(logits[1])) if entry.composition == "single" \
            else (softmax(half[0]), softmax(half[1]))
        stage = np.einsum("sa,sab,sb->s", px, Q, py) + tau * entropy(px) - tau * entropy(py)
        v = (1 - alpha) * v + alpha * stage
    extra = {"eta": eta, "value_step": alpha, "L": float(np.max(np.abs(game.r))), "kl0": kl0}
    return softmax(logits[0]), softmax(logits[1]), extra


def _check_init(game, init):
    S, A, B = game.r.shape
    if init is None:
        return game.uniform_policies()
    if not isinstance(init, tuple | list) or len(init) != 2:
        raise TypeError("init must be a pair (x0, y0) of per-state policies of shapes "
                        f"(S, A) = {(S, A)} and (S, B) = {(S, B)}")
    out = []
    for i, (n, player) in enumerate(((A, "max"), (B, "min"))):
        if not game.has_action_sets:
            p = check_distribution(init[i], f"init[{i}]", n, strictly_positive=True)
            if p.shape != (S, n):
                raise ValueError(f"init[{i}] must have shape {(S, n)}, got {p.shape}")
        else:  # strictly positive on the feasible actions, 0 off them
            p = game._policy(init[i], player, f"init[{i}]")
            if np.any(p[game.feasible(player)] <= 0):
                raise ValueError(f"init[{i}] must be strictly positive on the feasible actions")
        out.append(p)
    return tuple(out)


def _check_track(track):
    if isinstance(track, str) or not all(isinstance(t, str) for t in track) \
            or any(t not in MARKOV_METRICS for t in track):
        raise ValueError(f"track must be a collection of names among {MARKOV_METRICS}, "
                         f"got {track!r}")
    return tuple(dict.fromkeys(track))


def _check_solution(game, tau, solution):
    S, A, B = game.r.shape
    if not isinstance(solution, Solution) or solution.values is None:
        raise TypeError("solution must be the Solution of solve_markov_game (with values)")
    p = solution.params
    if (p.get("family") != "markov-game" or list(p.get("n_actions", ())) != [A, B]
            or p.get("n_states") != S):
        raise ValueError(f"solution is not a solution of this game (S={S}, A={A}, B={B}): "
                         f"params {p}")
    if p.get("tau") != tau:
        raise ValueError(f"solution was solved for tau={p.get('tau')}, not tau={tau}")
    return solution


def run_markov_game(game, method, *, eta=None, iterations, init=None, seed=None,
                    track=("value_error", "policy_kl", "exploitability"), solution=None,
                    backend="auto", tau=0.0, **method_options) -> Trajectory:
    """Run ``method`` (one of ``METHODS``: "shapley", "pu", "omwu", "mmd") for
    ``iterations`` steps.

    ``track``: the metrics to record (names of ``MARKOV_METRICS``; arrays of length
    iterations + 1, index 0 = the initial point; metrics not tracked are absent):
    "value_error" ‖V_k − V*_τ‖∞, "policy_kl" max_s KL(μ*_s‖μ_k(s)) + KL(ν*_s‖ν_k(s)) (the
    Bregman distance of MMD Thm 3.4), "nash_conv" (= "duality_gap") of the current policies
    by exact best responses and "exploitability" = ½·NashConv (these cost two MDP solves per
    iteration). For "shapley" the policies are the stage equilibria of Q_{V_k}.
    ``init`` = (x0, y0): per-state policies of shapes (S, A) and (S, B), strictly positive
    (default uniform; the per-state methods only). ``eta``: the step size of the method's
    step form (``nashlab.solvers.methods``; default 1/(τ + max|r|/(1 − γ))). Method option
    ``value_step`` α ∈ [0, 1] of V ← (1 − α)V + α·stage value (default ητ). ``seed`` is
    recorded only (the methods are deterministic). ``solution``: the ``solve_markov_game``
    result the errors are measured against (solved here if None). ``policy`` is the final
    pair, shape (S, A + B): μ then ν. ``backend``: "auto" or "numpy" (no compiled kernel).
    """
    tau = _check_game(game, tau)
    backend = choose_backend(backend, compiled=False, reason=NO_KERNEL_MULTI)
    entry = get_method("markov-game", method)
    check_options(entry, method_options)
    iterations = check_int(iterations, "iterations", 0)
    if seed is not None:
        check_int(seed, "seed", 0)
    track = _check_track(track)
    if entry.needs_regularization and tau <= 0:
        raise ValueError(f"method {method!r} needs tau > 0 (entropy-regularized game)")
    if entry.composition is None and (eta is not None or init is not None):
        raise ValueError(f"{method} takes no eta or init (value iteration from V = 0)")
    init = _check_init(game, init)
    solution = solve_markov_game(game, tau=tau) if solution is None \
        else _check_solution(game, tau, solution)
    record = _Recorder(game, tau, solution, track)
    if entry.composition is None:
        mu, nu, extra = _run_shapley(game, tau, iterations, record)
    else:
        mu, nu, extra = _run_per_state(game, entry, tau, iterations, eta, init,
                                       method_options.get("value_step"), record)
    params = _params(game, method, backend, tau, iterations=iterations, seed=seed, **extra)
    return Trajectory(method, params, record.arrays(), policy=np.concatenate([mu, nu], axis=1))
