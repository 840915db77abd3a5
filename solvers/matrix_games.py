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
Newton stalls. Certificates are relative to the payoff scale s = max(‖A‖_max, τ) (DG_τ is in
payoff units; scaling (A, τ) by c scales it by c): ‖G‖∞ ≤ residual_tol·(1 + ‖A‖_max/τ) and
DG_τ ≤ gap_tol·s. τ = 0: the two LPs of A/‖A‖_max (same saddle points; HiGHS' absolute
tolerances then do not decide the answer for tiny payoffs), certified when DG_0 ≤ 1e-9·s.
method="cvxpy": the independent concave program
max_x −τ·logΣexp(−Aᵀx/τ) + τH(x), y = softmax(−Aᵀx/τ).

Policies are returned concatenated: ``policy[..., :m]`` is x and ``policy[..., m:]`` is y.
"""

import sys
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import scipy.optimize

from nashlab._xp import matvec, normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.matrix import MatrixGame
from nashlab.games.metrics import kl_from_logs, nash_conv
from nashlab.solvers.backends import NO_KERNEL_EXACT, choose_backend
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.equilibrium import CONTINUATION_DEPTH
from nashlab.solvers.methods import check_options, get_method, methods
from nashlab.solvers.newton import damped_newton
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution, Trajectory

QRE_METHODS = ("auto", "newton", "cvxpy", "lp")
MATRIX_METHODS = methods("matrix")
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


def _newton_one(game, warm_start, max_newton, depth=0):
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
    if ok or tau >= scale or depth >= CONTINUATION_DEPTH:
        return z, warm_start + steps, ok
    z2, it2, _ = _newton_one(game.with_tau(2.0 * tau), warm_start, max_newton, depth + 1)
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
    (m, n), scale = game.A.shape, game.scale
    A = game.A / scale if scale > 0 else game.A  # the saddle points of cA are A's (c > 0)
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
    warm_start = check_int(warm_start, "warm_start", 0)
    max_newton = check_int(max_newton, "max_newton", 0)
    if method == "auto":
        method = "lp" if game.tau == 0 else "newton"
    if (method == "lp") != (game.tau == 0):
        raise ValueError(f"method {method!r} needs tau {'= 0' if method == 'lp' else '> 0'}, "
                         f"got {game.tau:g}")
    if 0 < game.tau and float(game.scale) > game.tau * sys.float_info.max:
        raise ValueError(f"tau = {game.tau:g} is too small for float64 at payoff scale "
                         f"‖A‖_max = {game.scale:g}: the QRE's logits span ‖A‖_max/tau, which "
                         f"overflows; use tau = 0 (the unregularized saddle point) instead")
    size = game.m + game.n
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
    gap = float(np.max(nash_conv(game, policy, logits=logits)))
    scale = max(game.scale, game.tau)  # payoff units: the certificates are relative to it
    if method == "lp":
        residual = gap
        checks = [("duality gap", gap, 1e-9 * scale)]
    else:
        residual = float(np.max(np.abs(qre_residual(game, logits))))
        checks = ([("residual", residual, residual_tol * (1.0 + game.scale / game.tau)),
                   ("duality gap", gap, gap_tol * scale)] if method == "newton"
                  else [("duality gap", gap, 1e-10 * scale)])
    failed = [f"{name} {value:.3g} > {tol:.3g}" for name, value, tol in checks if not value <= tol]
    certified = solved and not failed
    message = f"{method} certified" if certified else (
        f"{method} not certified: " + (", ".join(failed) or "the solver did not converge"))
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


def composed_step(method, state, game, eta):
    """One step of ``method`` from its method-table row (composition, step form), β = τ
    towards the uniform references of the two players."""
    entry = get_method("matrix", method)
    step = make_step(step_coefficients(entry.step_form, eta, game.tau),
                     (-np.log(game.m), -np.log(game.n)))
    new, half, g = COMPOSITIONS[entry.composition]((state.u, state.v),
                                                   lambda z: _payoffs(game, *z), step,
                                                   state.predictor)
    mid_sum = state.mid_sum
    if method == "mirror-prox":
        x, y = np.exp(half[0]), np.exp(half[1])
        mid_sum = (x, y) if mid_sum is None else (mid_sum[0] + x, mid_sum[1] + y)
    predictor = g if entry.composition == "optimistic" else None
    return replace(state, u=new[0], v=new[1], predictor=predictor, mid_sum=mid_sum,
                   t=state.t + 1)


step_pu = partial(composed_step, "pu")
step_omwu = partial(composed_step, "omwu")
step_mirror_prox = partial(composed_step, "mirror-prox")
step_mmd = partial(composed_step, "mmd")


def run_matrix_game(game, method, *, eta, iterations, init=None, seed=None,
                    track=MATRIX_METRICS, solution=None, backend="auto", **method_options) -> Trajectory:
    """Run ``method`` ∈ ``MATRIX_METHODS`` for ``iterations`` steps from ``init`` = (x0, y0)
    (default uniform; ``seed`` is unused: the methods are deterministic). Metrics, shape
    (iterations+1, *batch), index 0 the initial point: "kl" = KL(x*‖x_t) + KL(y*‖y_t) to the
    certified ``qre(game)`` (computed only when "kl" is tracked, or taken from ``solution``),
    "duality_gap" = DG_τ, "exploitability" = ½·DG_τ; "mirror-prox" adds
    "average_duality_gap" (DG_τ of the midpoint average, index 0: ζ_0). ``policy`` =
    concatenated (x_T, y_T). ``backend``: "numpy" (the reference steps above), "numba"
    (``_kernels_matrix``, one kernel call per step) or "auto" (numba); no CUDA kernel.
    """
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame, got {type(game).__name__}")
    entry = get_method("matrix", method)
    check_options(entry, method_options)
    backend = choose_backend(backend, game.A, compiled=True,
                             reason="matrix games have no CUDA kernel: use 'auto', 'numba' or 'numpy'")
    eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    if entry.step_form == "mirror-descent" and eta * game.tau > 1:
        raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                         f"eta·tau ≤ 1, got {eta * game.tau:g}")
    if entry.needs_regularization and game.tau <= 0:
        raise ValueError(f"method {method!r} needs tau > 0, got tau = {game.tau:g}")
    iterations = check_int(iterations, "iterations", 0)
    if isinstance(track, str) or any(t not in MATRIX_METRICS for t in track):
        raise ValueError(f"track must be a collection of names among {MATRIX_METRICS}")
    if init is None:
        init = (np.full(game.m, 1.0 / game.m), np.full(game.n, 1.0 / game.n))
    if not isinstance(init, tuple | list) or len(init) != 2:
        raise TypeError("init must be a pair (x0, y0) of policies")
    x0 = check_distribution(init[0], "init[0]", game.m, strictly_positive=True)
    y0 = check_distribution(init[1], "init[1]", game.n, strictly_positive=True)
    if "kl" in track and solution is None:
        solution = qre(game)
        if not solution.certified:
            raise RuntimeError(f"the saddle point of the game could not be certified ({solution.message})")
    if solution is not None and (not isinstance(solution, Solution)
                                 or solution.params.get("family") != "matrix"
                                 or solution.policy.shape != game.batch_shape + (game.m + game.n,)):
        raise TypeError("solution must be the Solution of qre(game) for this matrix game")

    state = MatrixState(normalize_logits(np.broadcast_to(np.log(x0), game.batch_shape + (game.m,))),
                        normalize_logits(np.broadcast_to(np.log(y0), game.batch_shape + (game.n,))))
    us, vs, averages = [state.u], [state.v], [(np.exp(state.u), np.exp(state.v))]
    if backend == "numpy":
        for _ in range(iterations):
            state = composed_step(method, state, game, eta)
            us.append(state.u)
            vs.append(state.v)
            if state.mid_sum is not None:
                averages.append((state.mid_sum[0] / state.t, state.mid_sum[1] / state.t))
    else:
        from nashlab.solvers.kernels import matrix_iterates

        coefficients = step_coefficients(entry.step_form, eta, game.tau)
        for t, (u, v, mids) in enumerate(matrix_iterates(game, entry.composition, coefficients,
                                                         state.u, state.v, iterations), start=1):
            us.append(u)
            vs.append(v)
            if method == "mirror-prox":
                averages.append((mids[0] / t, mids[1] / t))
    Z = np.concatenate([np.stack(us), np.stack(vs)], axis=-1)
    metrics = {}
    if "kl" in track:
        star = solution.logits
        metrics["kl"] = (kl_from_logs(np.exp(star[..., :game.m]), star[..., :game.m], Z[..., :game.m])
                         + kl_from_logs(np.exp(star[..., game.m:]), star[..., game.m:], Z[..., game.m:]))
    if "duality_gap" in track or "exploitability" in track:
        gap = nash_conv(game, np.exp(Z), logits=Z)
        for name, value in (("duality_gap", gap), ("exploitability", 0.5 * gap)):
            if name in track:
                metrics[name] = value
    average = None
    if method == "mirror-prox":
        average = np.stack([np.concatenate(a, axis=-1) for a in averages])
        metrics["average_duality_gap"] = nash_conv(game, average)
        average = average[-1]
    params = {"family": "matrix", "method": method, "backend": backend,
              "n_actions": [game.m, game.n], "n_states": None,
              "batch_shape": list(game.batch_shape), "tau": game.tau, "eta": eta,
              "L": game.scale, "iterations": iterations, "seed": seed,
              # max_u KL(u‖ζ_0) over the product of simplices (at the vertices): the
              # Bregman radius of the start in the Mirror Prox bound
              "D0": float(-np.log(x0.min()) - np.log(y0.min()))}
    if "kl" in metrics:
        params["kl0"] = np.asarray(metrics["kl"][0]).tolist()
    return Trajectory(method, params, metrics, np.exp(Z[-1]), average)
