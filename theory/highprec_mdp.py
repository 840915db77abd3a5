"""MDP updates and metrics at 50 significant digits (mpmath), from the math.

The second, independent implementation that ``nashlab.theory.falsify`` uses to confirm a
float64 violation of an MDP bound: nothing here calls the float code (it imports mpmath
only, so that a saved counterexample's reproduction script embeds this source verbatim).
Unregularized, infinite horizon, all actions feasible; P is (S, A, S), r is (S, A), reward
maximisation, q_v(s, a) = r(s, a) + γ Σ_t P(t|s, a) v(t) (theory notes dp_robust.md §1–§2):

* optimum v*, π*: Howard's policy iteration from the greedy policy of v = 0, each policy
  evaluated exactly by solving (I − γP_π)v = r_π (LU at the working precision); an action is
  switched only on a strict improvement above 10^{−(working digits − 10)}, so the loop ends
  at an optimal deterministic π* (the lowest-index maximiser on exact ties), and the Bellman
  residual max_s |max_a q_{v*}(s, a) − v*(s)| is checked to be at the precision's floor;
* "vi" (Geist et al. 1901.11275 Prop. 2 with Ω = 0): v_{k+1}(s) = max_a q_{v_k}(s, a),
  v_0 = 0 or given; metric value_error = ‖v_k − v*‖∞;
* "npg" (Xiao 2201.07443 eq. (8), KL policy mirror descent): log π_{k+1} = log π_k +
  η_k Q^{π_k} − log Z per state, Q^π = q_{v^π}, η_{k+1} = η_k·growth, π_0 uniform or given;
  metrics suboptimality δ_k = ρ·(v* − v^{π_k}) (ρ uniform), xiao_potential
  = δ_k + D*_k/((1−γ)(ϑ−1)η_k) and xiao_potential_unscaled = δ_k + D*_k/((ϑ−1)η_k), with
  D*_k = Σ_s d*(s) KL(π*_s‖π_k(s)) = −Σ_s d*(s) log π_k(π*(s)|s), d* = (1−γ)ρᵀ(I − γP_{π*})^{−1}
  (the discounted occupancy of π* from ρ, a distribution) and ϑ = max_s d*(s)/ρ(s)/(1−γ);
* "npg-entropy" (Cen et al. 2007.06558 eq. (13)/(17), Ω = τ·negentropy): soft values
  V^π_τ solve (I − γP_π)V = r_π − τΣ_a π log π exactly, Q^π_τ = q_{V^π_τ};
  log π_{t+1} = (1 − α) log π_t + α Q̂^t/τ − log Z per state, α = ητ/(1−γ) ∈ (0, 1], with
  Q̂^t = Q^{π_t}_τ + δ·u_t (u_t: the float run's uniform draws in [−1, 1], passed in; δ = 0
  exact). The optimum Q*_τ, π*_τ is found by soft policy iteration π ← softmax(Q^π_τ/τ)
  (Newton's method on V = τ·LSE(q_V/τ), quadratic near the fixed point) and its soft
  Bellman residual checked; metrics q_error = ‖Q*_τ − Q^t‖∞, log_policy_error
  = ‖log π*_τ − log π_t‖∞, value_error = ‖V*_τ − V^t‖∞; constants C1 = q_error_0 +
  2τ(1 − α)·log_policy_error_0 and C2 = 2δ/(1−γ)·(1 + γ/(ητ)) (Cen's Theorems 1–2).

``run`` returns the metric sequence and the run's derived constants ({"vartheta", "D0"} for
npg, {"C1", "C2"} for npg-entropy) at 50 digits, which the bound's symbols of those names take
in place of the float run's.
"""

import mpmath

DIGITS = 50
_WORK = DIGITS + 20
METHODS = ("vi", "npg", "npg-entropy")
METRICS = {"vi": ("value_error",),
           "npg": ("suboptimality", "xiao_potential", "xiao_potential_unscaled"),
           "npg-entropy": ("q_error", "log_policy_error", "value_error")}


def _mpf(x):
    return mpmath.mpf(float(x))


def _q(P, r, gamma, v):
    S, A = len(r), len(r[0])
    return [[r[s][a] + gamma * mpmath.fsum(P[s][a][t] * v[t] for t in range(S))
             for a in range(A)] for s in range(S)]


def evaluate(P, r, gamma, policy):
    """v^π: the solution of (I − γP_π)v = r_π (policy: S rows of action probabilities)."""
    S, A = len(r), len(r[0])
    M = mpmath.eye(S)
    b = mpmath.matrix(S, 1)
    for s in range(S):
        b[s] = mpmath.fsum(policy[s][a] * r[s][a] for a in range(A))
        for t in range(S):
            M[s, t] -= gamma * mpmath.fsum(policy[s][a] * P[s][a][t] for a in range(A))
    x = mpmath.lu_solve(M, b)
    return [x[s] for s in range(S)]


def _deterministic(actions, A):
    return [[mpmath.mpf(1) if a == b else mpmath.mpf(0) for b in range(A)] for a in actions]


def optimum(P, r, gamma):
    """(v*, π* as actions) by policy iteration (module docstring); ArithmeticError if the
    Bellman residual of the result is not at the precision's floor."""
    S, A = len(r), len(r[0])
    eps = mpmath.mpf(10) ** -(mpmath.mp.dps - 10)
    q = _q(P, r, gamma, [mpmath.mpf(0)] * S)
    actions = [max(range(A), key=lambda a, s=s: (q[s][a], -a)) for s in range(S)]
    for _ in range(10 * S * A + 100):
        v = evaluate(P, r, gamma, _deterministic(actions, A))
        q = _q(P, r, gamma, v)
        changed = False
        for s in range(S):
            best = max(range(A), key=lambda a, s=s: (q[s][a], -a))
            if q[s][best] > q[s][actions[s]] + eps:
                actions[s], changed = best, True
        if not changed:
            residual = max(abs(max(q[s]) - v[s]) for s in range(S))
            if residual > eps * (1 + max(abs(x) for x in v)):
                raise ArithmeticError(f"policy iteration stopped at residual "
                                      f"{mpmath.nstr(residual, 3)}")
            return v, actions
    raise ArithmeticError("policy iteration did not terminate")


def soft_evaluate(P, r, gamma, tau, logits):
    """V^π_τ for π = exp(logits): the solution of (I − γP_π)V = r_π − τ Σ_a π log π."""
    S, A = len(r), len(r[0])
    policy = [[mpmath.exp(x) for x in row] for row in logits]
    M = mpmath.eye(S)
    b = mpmath.matrix(S, 1)
    for s in range(S):
        b[s] = mpmath.fsum(policy[s][a] * (r[s][a] - tau * logits[s][a]) for a in range(A))
        for t in range(S):
            M[s, t] -= gamma * mpmath.fsum(policy[s][a] * P[s][a][t] for a in range(A))
    x = mpmath.lu_solve(M, b)
    return [x[s] for s in range(S)]


def soft_optimum(P, r, gamma, tau):
    """(Q*_τ, V*_τ, log π*_τ) by soft policy iteration from the uniform policy (module
    docstring); ArithmeticError if it does not reach the precision's floor."""
    S, A = len(r), len(r[0])
    eps = mpmath.mpf(10) ** -(mpmath.mp.dps - 10)
    logits = [[-mpmath.log(A)] * A for _ in range(S)]
    for _ in range(500):
        v = soft_evaluate(P, r, gamma, tau, logits)
        q = _q(P, r, gamma, v)
        new = [_normalize([x / tau for x in row]) for row in q]
        step = max(abs(x - y) for a, b in zip(new, logits, strict=True)
                   for x, y in zip(a, b, strict=True))
        logits = new
        if step <= eps:
            residual = max(abs(tau * _lse([x / tau for x in q[s]]) - v[s]) for s in range(S))
            if residual > eps * (1 + max(abs(x) for x in v)):
                raise ArithmeticError(f"soft policy iteration stopped at residual "
                                      f"{mpmath.nstr(residual, 3)}")
            return q, v, logits
    raise ArithmeticError("soft policy iteration did not converge in 500 steps")


def _lse(z):
    top = max(z)
    return top + mpmath.log(mpmath.fsum(mpmath.exp(x - top) for x in z))


def _normalize(z):
    top = max(z)
    lse = top + mpmath.log(mpmath.fsum(mpmath.exp(x - top) for x in z))
    return [x - lse for x in z]


def occupancy(P, gamma, actions, rho):
    """d* = (1−γ)ρᵀ(I − γP_{π*})^{−1} for the deterministic π* (actions)."""
    S = len(rho)
    M = mpmath.eye(S)
    for s in range(S):
        for t in range(S):
            M[t, s] -= gamma * P[s][actions[s]][t]  # (I − γP_π)ᵀ
    x = mpmath.lu_solve(M, mpmath.matrix(rho))
    return [(1 - gamma) * x[s] for s in range(S)]


def run(method, P, r, gamma, init, eta, iterations, metric, growth=1.0, tau=None,
        q_noise=0.0, draws=None):
    """(values, constants): metric(iterate k), k = 0..iterations, of ``method`` at 50 digits
    (mpf list), and the derived constants of the run ({"vartheta", "D0"} for npg, {"C1",
    "C2"} for npg-entropy, {} for vi).

    P (S, A, S), r (S, A): nested lists or arrays of floats, read exactly (binary → mpf);
    gamma, eta (η_0 of npg, Cen's η of npg-entropy), growth: floats; init: None (v_0 = 0 for
    vi, π_0 uniform for npg, npg-entropy), the (S,) v_0 of vi or the (S, A) π_0 of npg and
    npg-entropy. npg-entropy only: tau (τ > 0), q_noise (δ ≥ 0) and, if δ > 0, draws (at least
    ``iterations`` arrays (S, A) of the float run's uniform draws u_t)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if metric not in METRICS[method]:
        raise ValueError(f"metric of {method} must be one of {METRICS[method]}, got {metric!r}")
    with mpmath.workdps(_WORK):
        S, A = len(r), len(r[0])
        Pm = [[[_mpf(P[s][a][t]) for t in range(S)] for a in range(A)] for s in range(S)]
        rm = [[_mpf(r[s][a]) for a in range(A)] for s in range(S)]
        g = _mpf(gamma)
        if method == "npg-entropy":
            return _run_npg_entropy(Pm, rm, g, init, eta, iterations, metric, tau, q_noise,
                                    draws)
        v_star, actions = optimum(Pm, rm, g)
        if method == "vi":
            v = [mpmath.mpf(0)] * S if init is None else [_mpf(x) for x in init]
            values = []
            for k in range(iterations + 1):
                values.append(max(abs(v[s] - v_star[s]) for s in range(S)))
                if k < iterations:
                    v = [max(row) for row in _q(Pm, rm, g, v)]
            return [+x for x in values], {}
        rho = [mpmath.mpf(1) / S] * S
        d_star = occupancy(Pm, g, actions, rho)
        vartheta = max(d / p for d, p in zip(d_star, rho, strict=True)) / (1 - g)
        logits = ([[-mpmath.log(A)] * A for _ in range(S)] if init is None else
                  [_normalize([mpmath.log(_mpf(x)) for x in row]) for row in init])
        step, grow = _mpf(eta), _mpf(growth)
        values, d0 = [], None
        for k in range(iterations + 1):
            policy = [[mpmath.exp(x) for x in row] for row in logits]
            v = evaluate(Pm, rm, g, policy)
            delta = mpmath.fsum(rho[s] * (v_star[s] - v[s]) for s in range(S))
            divergence = -mpmath.fsum(d_star[s] * logits[s][actions[s]] for s in range(S))
            d0 = divergence if d0 is None else d0
            if metric == "suboptimality":
                values.append(delta)
            elif vartheta > 1:
                scale = (1 - g) if metric == "xiao_potential" else 1
                values.append(delta + divergence / (scale * (vartheta - 1) * step))
            else:
                values.append(mpmath.nan)
            if k < iterations:
                q = _q(Pm, rm, g, v)
                logits = [_normalize([x + step * y for x, y in zip(logits[s], q[s], strict=True)])
                          for s in range(S)]
                step *= grow
        return [+x for x in values], {"vartheta": +vartheta, "D0": +d0}


def _run_npg_entropy(P, r, gamma, init, eta, iterations, metric, tau, q_noise, draws):
    """The npg-entropy branch of ``run`` (module docstring), inside its workdps."""
    S, A = len(r), len(r[0])
    if tau is None or not float(tau) > 0:
        raise ValueError(f"tau must be a number > 0 for npg-entropy, got {tau!r}")
    if not float(q_noise) >= 0:
        raise ValueError(f"q_noise must be a number ≥ 0, got {q_noise!r}")
    if q_noise > 0 and (draws is None or len(draws) < iterations):
        raise ValueError(f"draws must hold {iterations} arrays (S, A) when q_noise > 0, got "
                         f"{None if draws is None else len(draws)}")
    # the float run's own acceptance test, in float64 (η ≤ (1−γ)/τ up to 1e-12): the twin
    # takes every instance the float run takes
    if not 0 < float(eta) <= (1 - float(gamma)) / float(tau) * (1 + 1e-12):
        raise ValueError(f"eta must lie in (0, (1−γ)/τ], got {eta!r}")
    t, delta, step = _mpf(tau), _mpf(q_noise), _mpf(eta)
    alpha = min(step * t / (1 - gamma), mpmath.mpf(1))  # the float run caps η/(1−γ) at 1/τ
    q_star, v_star, log_star = soft_optimum(P, r, gamma, t)
    logits = ([[-mpmath.log(A)] * A for _ in range(S)] if init is None else
              [_normalize([mpmath.log(_mpf(x)) for x in row]) for row in init])
    values, c1 = [], None
    for k in range(iterations + 1):
        v = soft_evaluate(P, r, gamma, t, logits)
        q = _q(P, r, gamma, v)
        q_err = max(abs(q_star[s][a] - q[s][a]) for s in range(S) for a in range(A))
        if c1 is None:
            log_err = max(abs(log_star[s][a] - logits[s][a]) for s in range(S)
                          for a in range(A))
            c1 = q_err + 2 * t * (1 - alpha) * log_err
        if metric == "q_error":
            values.append(q_err)
        elif metric == "log_policy_error":
            values.append(max(abs(log_star[s][a] - logits[s][a]) for s in range(S)
                              for a in range(A)))
        else:
            values.append(max(abs(v_star[s] - v[s]) for s in range(S)))
        if k < iterations:
            if q_noise > 0:
                q = [[q[s][a] + delta * _mpf(draws[k][s][a]) for a in range(A)]
                     for s in range(S)]
            logits = [_normalize([(1 - alpha) * x + alpha * y / t
                                  for x, y in zip(logits[s], q[s], strict=True)])
                      for s in range(S)]
    c2 = 2 * delta / (1 - gamma) * (1 + gamma / (step * t))
    return [+x for x in values], {"C1": +c1, "C2": +c2}
