"""Certified equilibria of preference games.

β > 0 — the unique π*_β solves the logit fixed point (theory notes nlhf.md §1, [D])

    G(z) := Π( z − log μ − A·softmax(z)/β ) = 0,        Π = I − 11ᵀ/n,

(A = P − ½; the ½ is a constant shift of the logits). ``method="newton"``: a Nash-MP
warm start (``warm_start`` = 20 iterations at η = 2, global rate (1 + 2β)⁻¹ per iteration)
followed by damped Newton on z
with Jacobian J = I − A·S/β, S = diag π − ππᵀ. J's eigenvalues are 1 − iλ/β (λ real:
A·S is similar to the antisymmetric S^½AS^½ on range S), so J is invariably nonsingular.
If a Newton step cannot reduce ‖G‖ (far from π* at small β), the solver continues in β:
it solves the game at 2β first and uses that solution as the start (homotopy).

Certificate: ``residual`` = ‖G(z)‖∞ ≤ 1e-12 (G is dimensionless: A/β) and ``gap`` =
2·Expl_β(π) ≤ 1e-13·``payoff_scale`` (max(2·max|A|, β): relative to the game's scale).
Reached (measured by ``tests/solvers/test_equilibrium.py`` and the README): both hold for
n ≤ 1000, β ∈ [1e-3, 10]. For β ∈ [1e-4, 1e-3) the rounding floor of A·π/β is about
ε_mach·n^½/β, so the residual reached is ≲ 1e-11 (the duality gap stays ≤ 1e-13): pass
``residual_tol`` accordingly; ``certified`` is ``False`` whenever the tolerances are not met.

``method="cvxpy"``: the independent exponential-cone program
min_{π∈Δ} logΣ_y μ_y·exp((Aπ)_y/β) + KL(π‖μ)  (= Expl_β(π)/β, convex, minimum 0 at π*),
used to cross-check Newton. Certified when Clarabel reports "optimal" and DG_β ≤ 1e-10;
measured: where it reports "optimal" it agrees with Newton to ≤ 3e-11 in max-norm; at
β ≲ 1e-2 with μ_min ≲ 1e-8 it often stops at "optimal_inaccurate" (errors up to 1e-2),
and is then reported uncertified.

β = 0 — ``method="lp"``: a von Neumann winner, max t s.t. Aᵀπ ≥ t·1, π ∈ Δ (the value is
t = 0), by HiGHS dual simplex. When the winner is not unique the solver returns the
optimal vertex HiGHS finds (an extreme point of the set of winners, deterministic for a
given P). The LP is solved on A/max|A| (its winners are A's), so that HiGHS' absolute
tolerances do not decide the answer for a game with tiny payoffs. Certificate:
Expl_0(π) = max(Pπ) − ½ ≤ 1e-9·``payoff_scale``.
"""

import numpy as np
import scipy.optimize

from nashlab._xp import normalize_logits
from nashlab.games._validation import check_int, check_logits, check_scalar
from nashlab.games.metrics import duality_gap, exploitability
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import NO_KERNEL_EXACT, choose_backend
from nashlab.solvers.compositions import extragradient, make_step
from nashlab.solvers.newton import damped_newton
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution

_METHODS = ("auto", "newton", "cvxpy", "lp")

#: cvxpy's certificate: Clarabel status "optimal" and DG_β ≤ 1e-10. The logit residual is not
#: used there: interior-point solutions carry absolute errors ~1e-12 in π, which are large in
#: log π where π* is tiny.
CVXPY_GAP_TOL = 1e-10
#: the LP winner's certificate: Expl_0 ≤ LP_TOL·``payoff_scale`` (HiGHS solves the LP scaled
#: to max|A| = 1, where its feasibility tolerance is 1e-7 and the dual simplex vertex exact)
LP_TOL = 1e-9


def equilibrium(game, method="auto", *, residual_tol=1e-12, gap_tol=1e-13, warm_start=20,
                max_newton=100, backend="auto") -> Solution:
    """The equilibrium of ``game``: π*_β for β > 0, a von Neumann winner for β = 0.

    ``method``: "auto" (Newton for β > 0, LP for β = 0), "newton", "cvxpy" or "lp".
    Batches of games are solved game by game; ``residual``/``duality_gap`` are the worst
    over the batch and ``certified`` holds only if every game is certified. ``backend``:
    "auto" or "numpy" (the work is LAPACK's, HiGHS' or Clarabel's; no compiled kernel).
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    choose_backend(backend, compiled=False, reason=NO_KERNEL_EXACT)
    residual_tol = check_scalar(residual_tol, "residual_tol", low=0.0)
    gap_tol = check_scalar(gap_tol, "gap_tol", low=0.0)
    warm_start = check_int(warm_start, "warm_start", 0)
    max_newton = check_int(max_newton, "max_newton", 0)
    if method == "auto":
        method = "lp" if game.beta == 0 else "newton"
    if (method == "lp") != (game.beta == 0):
        raise ValueError(f"method {method!r} needs beta {'= 0' if method == 'lp' else '> 0'}, got {game.beta:g}")

    solve_one = {"newton": _solve_newton, "cvxpy": _solve_cvxpy, "lp": _solve_lp}[method]
    kwargs = {"warm_start": warm_start, "max_newton": max_newton} if method == "newton" else {}
    policy = np.empty(game.P.shape[:-1])
    logits = np.empty_like(policy)
    iterations, messages, solved = 0, set(), True
    for idx in np.ndindex(game.batch_shape):
        one = game[idx] if game.batch_shape else game
        z, it, msg, ok = solve_one(one, **kwargs)
        logits[idx] = z
        iterations = max(iterations, it)
        messages.add(msg)
        solved = solved and ok

    with np.errstate(divide="ignore"):
        policy = np.exp(logits)
        if method == "lp":
            logits = np.log(policy)
    residual = float(np.max(_residual(game, logits)))
    gap = float(np.max(duality_gap(game, policy, logits=logits)))
    scale = payoff_scale(game)
    if method == "lp":
        checks = [("Expl_0", residual, LP_TOL * scale)]
    elif method == "cvxpy":
        checks = [("duality gap", gap, CVXPY_GAP_TOL * scale)]
    else:
        checks = [("residual", residual, residual_tol), ("duality gap", gap, gap_tol * scale)]
    failed = [f"{name} {value:.3g} > {tol:.3g}" for name, value, tol in checks
              if not value <= tol]  # NaN fails
    certified = solved and not failed
    if failed:
        messages.add("not certified: " + ", ".join(failed))
    params = {"family": "preference", "method": method, "backend": "numpy", "n_actions": game.n,
              "n_states": None, "batch_shape": list(game.batch_shape), "beta": game.beta,
              "iterations": iterations}
    return Solution(policy, certified, residual, gap, "; ".join(sorted(messages)), params,
                    logits=logits)


def payoff_scale(game) -> float:
    """The scale certificates are relative to: max(2·max|A|, β), the range of P − ½ doubled
    (1 for a preference game with a 0/1 entry) or β, whichever is larger. Gaps and Expl are
    in payoff units and scale with (A, β) jointly; an all-½ game at β = 0 has scale 0 (every
    policy is a winner, Expl_0 = 0 exactly)."""
    return max(2.0 * float(np.max(np.abs(game.A))), game.beta)


def fixed_point_residual(game, logits) -> np.ndarray:
    """G(z) = Π(z − log μ − A·softmax(z)/β) of the logit fixed-point map (β > 0)."""
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if game.beta <= 0:
        raise ValueError("fixed_point_residual needs beta > 0 (the β = 0 winner is an LP solution)")
    z = check_logits(logits, "logits")
    if z.shape[-1] != game.n:
        raise ValueError(f"logits must have length {game.n} on the last axis, got shape {z.shape}")
    pi = np.exp(normalize_logits(z))
    g = z - game.log_reference - np.matmul(game.A, pi[..., None])[..., 0] / game.beta
    return g - g.mean(axis=-1, keepdims=True)


def _residual(game, logits):
    if game.beta == 0:
        return exploitability(game, np.exp(logits))
    return np.max(np.abs(fixed_point_residual(game, logits)), axis=-1)


# ---- β > 0: Nash-MP warm start + damped Newton, continuation in β if needed --------------

def _nash_mp(A, log_mu, beta, z, iterations):
    """Nash-MP with η = 2 (theory notes nlhf.md §2): contracts KL(π*‖·) by 1/(1 + 2β)."""
    step = make_step(step_coefficients("prox", 2.0, beta), log_mu)
    for _ in range(iterations):
        z, _, _ = extragradient(z, lambda w: A @ np.exp(w), step)
    return z


def _G(A, log_mu, beta, z):
    g = z - log_mu - A @ np.exp(z) / beta
    return g - g.mean()


def _rounding_floor(A, log_mu, beta):
    """Size of ‖G‖∞ that rounding alone produces: ε·(1 + max|log μ| + ‖A‖/β)·n^½."""
    eps = np.finfo(float).eps
    return 64 * eps * (1.0 + np.max(np.abs(log_mu)) + 0.5 / beta) * np.sqrt(log_mu.size)


def _newton(A, log_mu, beta, z, max_steps):
    """Damped Newton on G from z; returns (z, steps, converged at the rounding floor)."""
    def jacobian(z):
        pi = np.exp(z)
        return np.eye(z.size) - (A * pi[None, :] - np.outer(A @ pi, pi)) / beta  # I − A(diag π − ππᵀ)/β

    return damped_newton(lambda z: _G(A, log_mu, beta, z), jacobian, normalize_logits, z,
                         floor=_rounding_floor(A, log_mu, beta), max_steps=max_steps)


#: continuation doublings of β at most (2⁴⁰ ≈ 10¹²): below β ≈ 10⁻¹²·scale the double-precision
#: logits A·π/β cannot be resolved, and the solve ends uncertified instead of recursing on
CONTINUATION_DEPTH = 40


def _solve_newton(game, *, warm_start, max_newton, depth=0):
    A, log_mu, beta = game.A, game.log_reference, game.beta
    z = _nash_mp(A, log_mu, beta, normalize_logits(log_mu.copy()), warm_start)
    z, steps, ok = _newton(A, log_mu, beta, z, max_newton)
    iterations = warm_start + steps
    if ok:
        return z, iterations, "newton converged", True
    if beta >= 1.0:  # Nash-MP converges fast here: continue it, then polish
        z = _nash_mp(A, log_mu, beta, z, 10 * warm_start)
        z, steps, ok = _newton(A, log_mu, beta, z, max_newton)
        msg = "newton converged" if ok else "newton did not converge"
        return z, iterations + 10 * warm_start + steps, msg, ok
    if depth >= CONTINUATION_DEPTH:
        return z, iterations, "newton did not converge (continuation depth reached)", False
    # continuation: solve the game at 2β, restart Newton from that solution
    z2, it2, _, _ = _solve_newton(game.with_beta(2.0 * beta), warm_start=warm_start,
                                  max_newton=max_newton, depth=depth + 1)
    z, steps, ok = _newton(A, log_mu, beta, z2, max_newton)
    msg = "newton converged (continuation in beta)" if ok else "newton did not converge"
    return z, iterations + it2 + steps, msg, ok


# ---- β > 0: exponential-cone program (independent cross-check) ---------------------------

def _solve_cvxpy(game):
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("method='cvxpy' needs cvxpy: pip install 'nashlab[dev]'") from exc
    n, mu = game.n, game.reference
    x = cp.Variable(n, nonneg=True)
    objective = cp.log_sum_exp(game.log_reference + (game.A @ x) / game.beta) + cp.sum(cp.kl_div(x, mu))
    problem = cp.Problem(cp.Minimize(objective), [cp.sum(x) == 1])
    # tight Clarabel settings: without static regularisation and with deep iterative
    # refinement the argmin is reached to ~1e-9 (defaults give ~1e-3 at β = 1e-2, n = 64).
    # On some 0/1 tournaments the tight solve breaks down numerically ("solver error"):
    # then the default settings answer, and the result is not certified.
    tight = {"tol_gap_abs": 1e-13, "tol_gap_rel": 1e-13, "tol_feas": 1e-13,
             "static_regularization_enable": False, "iterative_refinement_reltol": 1e-16,
             "iterative_refinement_abstol": 1e-16, "iterative_refinement_max_iter": 50,
             "max_iter": 1000}
    try:
        problem.solve(solver=cp.CLARABEL, **tight)
        status = problem.status
    except cp.error.SolverError:
        problem.solve(solver=cp.CLARABEL)
        status = f"{problem.status} (default settings after a solver error)"
    if x.value is None:
        raise RuntimeError(f"cvxpy failed: {problem.status}")
    p = np.maximum(x.value, 0.0)  # the conic solution is interior up to solver tolerance
    with np.errstate(divide="ignore"):
        z = normalize_logits(np.log(p))
    iterations = problem.solver_stats.num_iters or 0
    return z, iterations, f"cvxpy {status}", status == "optimal"


# ---- β = 0: von Neumann winner by LP ------------------------------------------------------

def _solve_lp(game):
    n, scale = game.n, float(np.max(np.abs(game.A)))
    A = game.A / scale if scale > 0 else game.A  # the winners of cA are those of A (c > 0)
    # variables (π, t): minimise −t  s.t.  t − (Aᵀπ)_j ≤ 0,  Σπ = 1,  π ≥ 0
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A.T, np.ones((n, 1))])
    A_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                                 bounds=[(0, None)] * n + [(None, None)], method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    pi = np.maximum(res.x[:n], 0.0)  # HiGHS may return −1e-17; the certificate is recomputed
    pi /= pi.sum()
    with np.errstate(divide="ignore"):
        return np.log(pi), int(res.nit), "lp optimal", True
