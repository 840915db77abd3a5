"""Entropy-regularized two-player zero-sum matrix games: certified QRE and four solvers.

Problem (``nashlab.games.matrix``): max_x min_y xᵀAy + τH(x) − τH(y). With ζ = (x, y), the
players' payoffs are g_x = Ay (x maximises) and g_y = −Aᵀx (y maximises −xᵀAy); the entropy
is −KL(·‖uniform) + const, so every update is ``prox_step`` with β = τ and the uniform
reference (log μ = −log m, −log n).

Solvers (``run_matrix_game``), the step η in the parametrisation stated:

* "pu" — predictive update / extragradient MWU (Cen, Wei, Chi, arXiv 2105.15186, Alg. 1),
  mirror-descent form (ητ ≤ 1): x̄ ∝ x_t^{1−ητ}e^{ηAy_t}, ȳ ∝ y_t^{1−ητ}e^{−ηAᵀx_t};
  x_{t+1} ∝ x_t^{1−ητ}e^{ηAȳ}, y_{t+1} ∝ y_t^{1−ητ}e^{−ηAᵀx̄}.
  Recalled guarantee [U]: η ≤ 1/(τ + 2‖A‖_max) ⇒ KL(ζ*‖ζ_t) ≤ (1−ητ)^t·KL(ζ*‖ζ_0).
* "omwu" — optimistic MWU (same paper, Alg. 2): the midpoint uses the previous midpoint,
  x̄_{t+1} ∝ x_t^{1−ητ}e^{ηAȳ_t} (ζ̄_0 = ζ_0: one extra evaluation at step 1).
* "mirror-prox" — Nemirovski's Mirror Prox (SIAM J. Optim. 15(1), 2004) with the composite
  entropic prox, prox form (any γ = η > 0): w = prox(ζ_t, F(ζ_t); γ), ζ_{t+1} = prox(ζ_t,
  F(w); γ). Same map as "pu" with η_pu = γ/(1+γτ). Also returns the uniform average of the
  midpoints w_0..w_{T−1} (``average_policy``, metric "average_duality_gap"), the iterate of
  the ergodic bound gap ≤ max_u D(u, ζ_0)/(γT), γ ≤ 1/L [U constants].
* "mmd" — magnetic mirror descent (Sokota et al., arXiv 2206.05825) with the magnet the
  uniform distribution (the entropy's centre), prox form: ζ_{t+1} = prox(ζ_t, F(ζ_t); η).
  Linear convergence to the QRE is Theorem 3.4 of the paper (locator from a third-party
  summary [S]); the condition recalled in the theory notes [U], η ≤ τ/L² with L = ‖A‖_max
  ⇒ KL(ζ*‖ζ_{t+1}) ≤ KL(ζ*‖ζ_t)/(1+ητ), holds on every instance tested.

``qre(game)`` — the exact saddle point. τ > 0: damped Newton on the joint logits z = (u, v),
G(z) = (Π_m(u − Ay/τ), Π_n(v + Aᵀx/τ)) = 0 (Π removes the mean of each block), Jacobian
J = [[I, −A·S_y/τ], [Aᵀ·S_x/τ, I]] with S = diag p − ppᵀ. J = I + K·D with K antisymmetric
and D ⪰ 0, so its eigenvalues are 1 + iλ: never singular (the argument of
``solvers/equilibrium.py`` for preference games). PU warm start; continuation in τ when
Newton stalls. Certificate: ‖G‖∞ ≤ residual_tol·(1 + ‖A‖_max/τ) and
DG_τ ≤ gap_tol·max(1, ‖A‖_max). τ = 0: the two LPs of the matrix game (HiGHS), certified
when DG_0 ≤ 1e-9·max(1, ‖A‖_max). method="cvxpy": the independent concave program
max_x −τ·logΣexp(−Aᵀx/τ) + τH(x), y = softmax(−Aᵀx/τ).

Policies are returned concatenated: ``policy[..., :m]`` is x and ``policy[..., m:]`` is y.
"""

from dataclasses import dataclass, replace

import numpy as np
import scipy.optimize

from nashlab._xp import matvec, normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.matrix import MatrixGame, duality_gap
from nashlab.games.metrics import kl_from_logs
from nashlab.solvers.backends import NO_KERNEL_EXACT, choose_backend
from nashlab.solvers.newton import damped_newton
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Solution, Trajectory

QRE_METHODS = ("auto", "newton", "cvxpy", "lp")
MATRIX_METHODS = ("pu", "omwu", "mirror-prox", "mmd")
MATRIX_METRICS = ("kl", "duality_gap", "exploitability")


# ---- QRE ------------------------------------------------------------------------------

def _split(z, m):
    return z[..., :m], z[..., m:]


def _joint_normalize(z, m):
    u, v = _split(z, m)
    return np.concatenate([normalize_logits(u), normalize_logits(v)], axis=-1)


def qre_residual(game, logits) -> np.ndarray:
    """G(z) = (Π(u − Ay/τ), Π(v + Aᵀx/τ)) for joint logits z = (u, v) of shape (..., m+n)."""
    z = _joint_normalize(np.asarray(logits, dtype=float), game.m)
    u, v = _split(z, game.m)
    gu = u - matvec(game.A, np.exp(v)) / game.tau
    gv = v + matvec(np.swapaxes(game.A, -1, -2), np.exp(u)) / game.tau
    return np.concatenate([gu - gu.mean(axis=-1, keepdims=True),
                           gv - gv.mean(axis=-1, keepdims=True)], axis=-1)


def _qre_jacobian(A, tau, z):
    m, n = A.shape
    x, y = np.exp(z[:m]), np.exp(z[m:])
    J = np.eye(m + n)
    J[:m, m:] = -(A * y[None, :] - np.outer(A @ y, y)) / tau        # −A·S_y/τ
    J[m:, :m] = (A.T * x[None, :] - np.outer(A.T @ x, x)) / tau     # Aᵀ·S_x/τ
    return J


def _pu(game, z, eta, iterations):
    """PU iterations on joint logits of one game (warm start)."""
    state = MatrixState(*_split(z, game.m))
    for _ in range(iterations):
        state = step_pu(state, game, eta)
    return np.concatenate([state.u, state.v])


def _newton_one(game, warm_start, max_newton):
    A, tau, m = game.A, game.tau, game.m
    scale = max(game.scale, 1e-300)
    floor = 64 * np.finfo(float).eps * (1.0 + scale / tau) * np.sqrt(m + game.n)
    eta_pu = 1.0 / (tau + 2.0 * scale)
    z = _pu(game, np.concatenate([np.full(m, -np.log(m)), np.full(game.n, -np.log(game.n))]),
            eta_pu, warm_start)
    z, steps, ok = damped_newton(lambda w: qre_residual(game, w),
                                 lambda w: _qre_jacobian(A, tau, w),
                                 lambda w: _joint_normalize(w, m), z,
                                 floor=floor, max_steps=max_newton)
    if ok or tau >= scale:
        return z, warm_start + steps, ok
    z2, it2, _ = _newton_one(game.with_tau(2.0 * tau), warm_start, max_newton)
    z, steps, ok = damped_newton(lambda w: qre_residual(game, w),
                                 lambda w: _qre_jacobian(A, tau, w),
                                 lambda w: _joint_normalize(w, m), z2,
                                 floor=floor, max_steps=max_newton)
    return z, warm_start + it2 + steps, ok


def _cvxpy_one(game):
    import cvxpy as cp

    tau = game.tau
    x = cp.Variable(game.m, nonneg=True)
    objective = -tau * cp.log_sum_exp(-(game.A.T @ x) / tau) + tau * cp.sum(cp.entr(x))
    problem = cp.Problem(cp.Maximize(objective), [cp.sum(x) == 1])
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-13, tol_gap_rel=1e-13, tol_feas=1e-13,
                  static_regularization_enable=False, max_iter=1000)
    if x.value is None:
        raise RuntimeError(f"cvxpy failed: {problem.status}")
    with np.errstate(divide="ignore"):
        u = normalize_logits(np.log(np.maximum(x.value, 0.0)))
    v = normalize_logits(-(game.A.T @ np.exp(u)) / tau)
    return np.concatenate([u, v]), problem.solver_stats.num_iters or 0, problem.status == "optimal"


def _lp_one(game):
    A, (m, n) = game.A, game.A.shape
    # x: max t s.t. (Aᵀx)_j ≥ t; y: min s s.t. (Ay)_i ≤ s; both over the simplex
    rx = scipy.optimize.linprog(np.r_[np.zeros(m), -1.0], A_ub=np.hstack([-A.T, np.ones((n, 1))]),
                                b_ub=np.zeros(n), A_eq=np.r_[np.ones(m), 0.0][None],
                                b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)],
                                method="highs-ds")
    ry = scipy.optimize.linprog(np.r_[np.zeros(n), 1.0], A_ub=np.hstack([A, -np.ones((m, 1))]),
                                b_ub=np.zeros(m), A_eq=np.r_[np.ones(n), 0.0][None],
                                b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
                                method="highs-ds")
    if rx.status != 0 or ry.status != 0:
        raise RuntimeError(f"HiGHS failed: {rx.message}; {ry.message}")
    x, y = np.maximum(rx.x[:m], 0.0), np.maximum(ry.x[:n], 0.0)
    with np.errstate(divide="ignore"):
        z = np.concatenate([np.log(x / x.sum()), np.log(y / y.sum())])
    return z, int(rx.nit + ry.nit), True


def qre(game, method="auto", *, residual_tol=1e-12, gap_tol=1e-13, warm_start=20,
        max_newton=100, backend="auto") -> Solution:
    """The saddle point of ``game`` (the QRE for τ > 0), certified (module docstring).

    Returns a ``Solution`` whose ``policy``/``logits`` are the concatenation (x, y).
    Batches are solved game by game; residual and gap are the worst over the batch.
    ``backend``: "auto" or "numpy" (no compiled kernel for exact solvers).
    """
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame, got {type(game).__name__}")
    if method not in QRE_METHODS:
        raise ValueError(f"method must be one of {QRE_METHODS}, got {method!r}")
    choose_backend(backend, compiled=False, reason=NO_KERNEL_EXACT)
    residual_tol = check_scalar(residual_tol, "residual_tol", low=0.0)
    gap_tol = check_scalar(gap_tol, "gap_tol", low=0.0)
    if method == "auto":
        method = "lp" if game.tau == 0 else "newton"
    if (method == "lp") != (game.tau == 0):
        raise ValueError(f"method {method!r} needs tau {'= 0' if method == 'lp' else '> 0'}, "
                         f"got {game.tau:g}")
    m, size = game.m, game.m + game.n
    logits = np.empty(game.batch_shape + (size,))
    iterations, solved = 0, True
    for idx in np.ndindex(game.batch_shape):
        one = game[idx] if game.batch_shape else game
        if method == "newton":
            z, it, ok = _newton_one(one, warm_start, max_newton)
        elif method == "cvxpy":
            z, it, ok = _cvxpy_one(one)
        else:
            z, it, ok = _lp_one(one)
        logits[idx] = z
        iterations, solved = max(iterations, it), solved and ok
    policy = np.exp(logits)
    x, y = _split(policy, m)
    gap = float(np.max(duality_gap(game, x, y, *_split(logits, m))))
    scale = max(1.0, game.scale)
    if method == "lp":
        residual, certified = gap, solved and gap <= 1e-9 * scale
    else:
        residual = float(np.max(np.abs(qre_residual(game, logits))))
        if method == "newton":
            certified = (solved and residual <= residual_tol * (1.0 + game.scale / game.tau)
                         and gap <= gap_tol * scale)
        else:
            certified = solved and gap <= 1e-10 * scale
    message = f"{method} {'certified' if certified else 'not certified'}"
    params = {"family": "matrix", "method": method, "backend": "numpy",
              "n_actions": [game.m, game.n], "n_states": None,
              "batch_shape": list(game.batch_shape), "tau": game.tau, "iterations": iterations}
    return Solution(policy, certified, residual, gap, message, params, logits=logits)


# ---- solvers --------------------------------------------------------------------------

@dataclass(frozen=True)
class MatrixState:
    """Log-policies u = log x, v = log y; ``predictor`` (g_x, g_y) of OMWU; ``mid_sum`` the
    running sum of Mirror-Prox midpoints (x, y); t the iterations done."""

    u: np.ndarray
    v: np.ndarray
    predictor: tuple | None = None
    mid_sum: tuple | None = None
    t: int = 0


def _payoffs(game, u, v):
    """(g_x, g_y) = (Ay, −Aᵀx) at x = e^u, y = e^v."""
    return matvec(game.A, np.exp(v)), -matvec(np.swapaxes(game.A, -1, -2), np.exp(u))


def _steps(state, game, gx, gy, eta):
    """One prox step of each player from the anchor (u, v) with payoffs (g_x, g_y)."""
    return (prox_step(state.u, gx, eta=eta, beta=game.tau, log_reference=-np.log(game.m)),
            prox_step(state.v, gy, eta=eta, beta=game.tau, log_reference=-np.log(game.n)))


def step_pu(state, game, eta):
    """PU (Cen et al. 2105.15186), mirror-descent step η (ητ ≤ 1)."""
    eta = eta_from_mirror_descent(eta, game.tau)
    mid = _steps(state, game, *_payoffs(game, state.u, state.v), eta)
    u, v = _steps(state, game, *_payoffs(game, *mid), eta)
    return replace(state, u=u, v=v, t=state.t + 1)


def step_omwu(state, game, eta):
    """OMWU (Cen et al. 2105.15186): the midpoint uses the previous midpoint's payoffs."""
    eta = eta_from_mirror_descent(eta, game.tau)
    predictor = state.predictor or _payoffs(game, state.u, state.v)
    mid = _steps(state, game, *predictor, eta)
    g = _payoffs(game, *mid)
    u, v = _steps(state, game, *g, eta)
    return replace(state, u=u, v=v, predictor=g, t=state.t + 1)


def step_mirror_prox(state, game, eta):
    """Mirror Prox (Nemirovski 2004), prox step γ = η; accumulates the midpoints."""
    mid = _steps(state, game, *_payoffs(game, state.u, state.v), eta)
    u, v = _steps(state, game, *_payoffs(game, *mid), eta)
    x, y = np.exp(mid[0]), np.exp(mid[1])
    total = (x, y) if state.mid_sum is None else (state.mid_sum[0] + x, state.mid_sum[1] + y)
    return replace(state, u=u, v=v, mid_sum=total, t=state.t + 1)


def step_mmd(state, game, eta):
    """Magnetic mirror descent (Sokota et al. 2206.05825), uniform magnet, prox step η."""
    u, v = _steps(state, game, *_payoffs(game, state.u, state.v), eta)
    return replace(state, u=u, v=v, t=state.t + 1)


MATRIX_STEPS = {"pu": step_pu, "omwu": step_omwu, "mirror-prox": step_mirror_prox,
                "mmd": step_mmd}


def _compiled_iterates(game, method, eta, u, v, iterations):
    """The numba path of ``run_matrix_game``: one kernel call per step on the flattened batch.

    Yields (u, v, midpoint sum (x, y)) after each step as new arrays of the shapes of u, v.
    """
    from nashlab.solvers import _kernels_cpu as cpu
    from nashlab.solvers import _kernels_matrix as kernels
    from nashlab.solvers.batched import PARALLEL_MIN_WORK, affine_coefficients

    rule, form = {"pu": (cpu.RULE_EXTRAGRADIENT, "mirror-descent"),
                  "mirror-prox": (cpu.RULE_EXTRAGRADIENT, "prox"),
                  "omwu": (cpu.RULE_OPTIMISTIC, "mirror-descent"),
                  "mmd": (cpu.RULE_SINGLE, "prox")}[method]
    a, b, c = affine_coefficients(form, eta, game.tau)
    m, n = game.m, game.n
    A = np.ascontiguousarray(np.broadcast_to(game.A, game.batch_shape + (m, n)).reshape(-1, m, n))
    U = np.broadcast_to(u, game.batch_shape + (m,)).reshape(-1, m).copy()  # writable state
    V = np.broadcast_to(v, game.batch_shape + (n,)).reshape(-1, n).copy()
    gx = np.ascontiguousarray(matvec(A, np.exp(V)))  # F(ζ_0): OMWU's first predictor
    gy = np.ascontiguousarray(-matvec(np.swapaxes(A, -1, -2), np.exp(U)))
    mid_x, mid_y = np.zeros_like(U), np.zeros_like(V)
    serial = len(A) * m * n < PARALLEL_MIN_WORK
    for _ in range(iterations):
        if serial:  # a parallel region's start-up would dominate a small call
            for k in range(len(A)):
                kernels._run_game(A[k], U[k], V[k], gx[k], gy[k], mid_x[k], mid_y[k], rule,
                                  a, b, c, 1)
        else:
            kernels.run_matrix_games(A, U, V, gx, gy, mid_x, mid_y, rule, a, b, c, 1)
        yield U.reshape(u.shape).copy(), V.reshape(v.shape).copy(), \
            (mid_x.reshape(u.shape).copy(), mid_y.reshape(v.shape).copy())


def run_matrix_game(game, method, *, eta, iterations, init=None,
                    track=MATRIX_METRICS, backend="auto") -> Trajectory:
    """Run ``method`` ∈ ``MATRIX_METHODS`` for ``iterations`` steps from ``init`` = (x0, y0)
    (default uniform). Metrics, shape (iterations+1, *batch), index 0 the initial point:
    "kl" = KL(x*‖x_t) + KL(y*‖y_t) to the certified ``qre(game)``, "duality_gap" = DG_τ,
    "exploitability" = ½·DG_τ; "mirror-prox" adds "average_duality_gap" (DG_τ of the
    midpoint average, index 0: ζ_0). ``policy`` = concatenated (x_T, y_T). ``backend``:
    "numpy" (the reference steps above), "numba" (``_kernels_matrix``, one kernel call per
    step) or "auto" (numba); no CUDA kernel.
    """
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame, got {type(game).__name__}")
    if method not in MATRIX_STEPS:
        raise ValueError(f"method must be one of {MATRIX_METHODS}, got {method!r}")
    backend = choose_backend(backend, game.A, compiled=True,
                             reason="matrix games have no CUDA kernel: use 'auto', 'numba' or 'numpy'")
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    if method in ("pu", "omwu") and eta * game.tau > 1:
        raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                         f"eta·tau ≤ 1, got {eta * game.tau:g}")
    iterations = check_int(iterations, "iterations", 0)
    if isinstance(track, str) or any(t not in MATRIX_METRICS for t in track):
        raise ValueError(f"track must be a collection of names among {MATRIX_METRICS}")
    if init is None:
        init = (np.full(game.m, 1.0 / game.m), np.full(game.n, 1.0 / game.n))
    if not isinstance(init, tuple | list) or len(init) != 2:
        raise TypeError("init must be a pair (x0, y0) of policies")
    x0 = check_distribution(init[0], "init[0]", game.m, strictly_positive=True)
    y0 = check_distribution(init[1], "init[1]", game.n, strictly_positive=True)
    eq = qre(game)
    if not eq.certified:
        raise RuntimeError(f"the saddle point of the game could not be certified ({eq.message})")

    u_star, v_star = _split(eq.logits, game.m)
    state = MatrixState(normalize_logits(np.broadcast_to(np.log(x0), game.batch_shape + (game.m,))),
                        normalize_logits(np.broadcast_to(np.log(y0), game.batch_shape + (game.n,))))
    us, vs, averages = [state.u], [state.v], [(np.exp(state.u), np.exp(state.v))]
    step = MATRIX_STEPS[method]
    if backend == "numpy":
        for _ in range(iterations):
            state = step(state, game, eta)
            us.append(state.u)
            vs.append(state.v)
            if state.mid_sum is not None:
                averages.append((state.mid_sum[0] / state.t, state.mid_sum[1] / state.t))
    else:
        for t, (u, v, mids) in enumerate(_compiled_iterates(game, method, eta, state.u, state.v,
                                                             iterations), start=1):
            us.append(u)
            vs.append(v)
            if method == "mirror-prox":
                averages.append((mids[0] / t, mids[1] / t))
    U, V = np.stack(us), np.stack(vs)
    X, Y = np.exp(U), np.exp(V)
    metrics = {}
    if "kl" in track:
        metrics["kl"] = (kl_from_logs(np.exp(u_star), u_star, U)
                         + kl_from_logs(np.exp(v_star), v_star, V))
    if "duality_gap" in track or "exploitability" in track:
        gap = duality_gap(game, X, Y, U, V)
        for name, value in (("duality_gap", gap), ("exploitability", 0.5 * gap)):
            if name in track:
                metrics[name] = value
    average = None
    if method == "mirror-prox":
        Xa, Ya = np.stack([a[0] for a in averages]), np.stack([a[1] for a in averages])
        metrics["average_duality_gap"] = duality_gap(game, Xa, Ya)
        average = np.concatenate([Xa[-1], Ya[-1]], axis=-1)
    kl0 = kl_from_logs(np.exp(u_star), u_star, U[0]) + kl_from_logs(np.exp(v_star), v_star, V[0])
    params = {"method": method, "eta": eta, "tau": game.tau, "m": game.m, "n": game.n,
              "L": game.scale, "iterations": iterations,
              "batch_shape": list(game.batch_shape), "kl0": np.asarray(kl0).tolist(),
              "backend": backend}
    return Trajectory(method, params, metrics, np.concatenate([X[-1], Y[-1]], axis=-1), average)
