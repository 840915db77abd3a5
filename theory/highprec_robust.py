"""Robust value and policy iteration at 50 significant digits (mpmath), from the math.

The second, independent implementation that ``nashlab.theory.falsify`` uses to confirm a
float64 violation of a robust-MDP bound: nothing here calls the float code (it imports mpmath
only, so that a saved counterexample's reproduction script embeds this source verbatim).
Unregularized, infinite horizon, reward maximisation; nominal kernel P̄ (S, A, S) (each row
renormalised to sum to 1 at the working precision: float rows sum to 1 ± 1e-16, and the
theorems are about stochastic kernels), rewards r (S, A), an (s,a)-rectangular set U_{s,a}
of radius ρ (theory notes dp_robust.md §3):

    q_U(v)(s, a) = r(s, a) + γ σ_{s,a}(v),   σ_{s,a}(z) = min_{p ∈ U_{s,a}} p·z (+ λD(p‖P̄)),

with σ and a minimiser p* (``worst``) for the kinds
* "l1" {p ∈ Δ_S : ‖p − P̄‖₁ ≤ ρ}: the LP's vertex: ε = min(ρ/2, 1 − P̄(i₀)) moves to
  i₀ = argmin_S z, taken from the largest z first (Iyengar 2005, Prop. 3); "l1-nominal" the
  same ball with supp p ⊆ supp P̄ (i₀ = argmin of z over the support);
* "kl" {p ≪ P̄ : KL(p‖P̄) ≤ ρ}: σ = max_{λ ≥ 0} −λ log E_P̄ e^{−z/λ} − λρ (Nilim & El Ghaoui
  2005), concave in λ with derivative KL(q_λ‖P̄) − ρ, q_λ ∝ P̄ e^{−z/λ}; its root by
  Newton's method in t = log λ (dKL/dt = −Var_{q_λ}(z)/λ²) inside a bisection bracket,
  until the step is below 10^{−(dps/2 + 5)} (σ is stationary in λ: error O(step²)); the
  boundary λ → 0, σ = min_supp z, when P̄(argmin) ≥ e^{−ρ};
* "chi2" {p ≪ P̄ : Σ (p − P̄)²/P̄ ≤ ρ}: σ = max_η f(η), f(η) = η − √((1+ρ) E_P̄ (η − z)₊²)
  (Duchi & Namkoong's dual), f concave: its maximum is among the breakpoints z_j and the
  stationary points η = μ_k + √(S2_k/(P_k((1+ρ)P_k − 1))) of the segments (P_k, μ_k, S2_k:
  mass, mean and Σ P̄(z − μ_k)² of the k smallest z); p* ∝ P̄ (η* − z)₊;
* penalties, min over p ∈ Δ of p·z + λD(p‖P̄) (RRMDP): "kl-penalty" σ = −λ log E_P̄ e^{−z/λ},
  p* ∝ P̄ e^{−z/λ}; "tv-penalty" (D = ½‖·‖₁: moving mass m from j to i costs λm and gains
  m(z_j − z_i)) σ = E_P̄ min(z, min_S z + λ); "chi2-penalty" (D = Σ (p − P̄)²/P̄) the KKT point
  p = P̄ (1 + (η − z)/(2λ))₊, η from Σ p = 1 on the active set of the smallest z.

Methods (index 0 = the start):
* "vi": v_{k+1}(s) = max_a q_U(v_k)(s, a), v_0 = 0 or given; value_error = ‖v_k − v*_U‖∞;
* "pi": robust PI (Iyengar 2005), π_0 uniform or given, π_{k+1} greedy for q_U(v^{π_k}_U)
  (the lowest-index maximiser; the incumbent action kept where it is within 10^{−13}·max|q|
  of the maximum, the float run's tie rule: a choice of the algorithm, not a tolerance);
  value_error = ‖v*_U − v^{π_k}_U‖∞.
Robust evaluation v^π_U (exact, not iterated): nature's policy iteration from v^π_{P̄}:
P_n = p*(v_n), v_{n+1} solves (I − γP_{n,π}) v = r_π + γ c_{n,π} (c = σ − p*·v, the penalty;
LU at the working precision), until ‖T^π_U v − v‖∞ ≤ 10^{−(dps−5)}(1 + ‖v‖∞) (quadratic
convergence for the smooth sets, finite for the polyhedral ones: 3–8 solves measured). v*_U:
robust PI from the greedy policy of v = 0 until no action improves by more than
10^{−(dps−10)}(1 + |v(s)|), certified by the residual ‖T_U v − v‖∞ ≤ 10^{−(dps−5)}(1 + ‖v‖∞)
(so ‖v − v*_U‖∞ ≤ residual/(1 − γ): the value error keeps 50 significant digits down to
10^{−13} for γ ≤ 0.99); an ArithmeticError otherwise. No γ^k-iteration of T_U is needed.
"""

import mpmath

DIGITS = 50
_WORK = DIGITS + 20
METHODS = ("vi", "pi")
METRICS = ("value_error",)
KINDS = ("l1", "l1-nominal", "kl", "chi2", "kl-penalty", "tv-penalty", "chi2-penalty")
#: the float run's tie rule of robust PI (nashlab.solvers.bellman.TIE_TOL), module docstring
TIE = 1e-13


def _mpf(x):
    return mpmath.mpf(float(x))


def _eps():
    return mpmath.mpf(10) ** -(mpmath.mp.dps - 10)


def _floor():
    """The residual floor of robust evaluations and of v*_U: 10^{−(dps−5)}·(1 + ‖v‖∞)."""
    return mpmath.mpf(10) ** -(mpmath.mp.dps - 5)


def _support(p):
    return [j for j, x in enumerate(p) if x > 0]


def _l1(p, z, rho, nominal):
    idx = _support(p)
    i0 = min(idx if nominal else range(len(z)), key=lambda j: (z[j], j))
    q = list(p)
    eps = min(rho / 2, 1 - p[i0])
    if eps > 0:
        q[i0] += eps
        left = eps
        for j in sorted((j for j in idx if j != i0), key=lambda j: -z[j]):
            take = min(q[j], left)
            q[j] -= take
            left -= take
            if left <= 0:
                break
    return mpmath.fsum(a * b for a, b in zip(q, z, strict=True)), q


def _tilt(p, zs, lam, idx):
    """(log E_P̄ e^{−zs/λ}, q_λ, E_q zs, Var_q zs) on the support ``idx``."""
    w = {j: p[j] * mpmath.exp(-zs[j] / lam) for j in idx}
    total = mpmath.fsum(w.values())
    q = {j: w[j] / total for j in idx}
    mean = mpmath.fsum(q[j] * zs[j] for j in idx)
    var = mpmath.fsum(q[j] * (zs[j] - mean) ** 2 for j in idx)
    return mpmath.log(total), q, mean, var


def _kl(p, z, rho):
    idx = _support(p)
    zmin = min(z[j] for j in idx)
    zs = {j: z[j] - zmin for j in idx}
    p_min = mpmath.fsum(p[j] for j in idx if zs[j] == 0)
    if p_min >= 1 or (rho > 0 and -mpmath.log(p_min) <= rho):
        return zmin, [p[j] / p_min if j in zs and zs[j] == 0 else mpmath.mpf(0)
                      for j in range(len(z))]
    if rho <= 0:
        return mpmath.fsum(p[j] * z[j] for j in idx), list(p)

    def excess(t):  # KL(q_λ‖P̄) − ρ at λ = e^t, and its t-derivative −Var/λ²
        lam = mpmath.exp(t)
        log_z, _, mean, var = _tilt(p, zs, lam, idx)
        return -mean / lam - log_z - rho, -var / lam ** 2

    t = mpmath.log(max(zs.values()))
    lo = hi = t
    while excess(hi)[0] > 0:
        hi += 1
    while excess(lo)[0] < 0:
        lo -= 1
    t = (lo + hi) / 2
    for _ in range(400):
        f, df = excess(t)
        if f == 0:
            break
        if f > 0:
            lo = t
        else:
            hi = t
        new = t - f / df if df != 0 else (lo + hi) / 2
        if not lo < new < hi:
            new = (lo + hi) / 2
        step, t = abs(new - t), new
        if step <= mpmath.mpf(10) ** -(mpmath.mp.dps // 2 + 5) or hi - lo <= _eps() ** 2:
            break
    else:
        raise ArithmeticError("the KL dual's root was not found")
    lam = mpmath.exp(t)
    log_z, q, _, _ = _tilt(p, zs, lam, idx)
    return zmin - lam * log_z - lam * rho, [q.get(j, mpmath.mpf(0)) for j in range(len(z))]


def _chi2(p, z, rho):
    idx = sorted(_support(p), key=lambda j: z[j])
    c = 1 + rho

    def f(eta):
        return eta - mpmath.sqrt(c * mpmath.fsum(p[j] * max(eta - z[j], 0) ** 2 for j in idx))

    candidates = [z[j] for j in idx]
    for k in range(1, len(idx) + 1):
        act = idx[:k]
        P = mpmath.fsum(p[j] for j in act)
        mu = mpmath.fsum(p[j] * z[j] for j in act) / P
        s2 = mpmath.fsum(p[j] * (z[j] - mu) ** 2 for j in act)
        end = z[idx[k]] if k < len(idx) else mpmath.inf
        if c * P > 1:
            eta = mu + mpmath.sqrt(s2 / (P * (c * P - 1)))
            if z[act[-1]] <= eta <= end:
                candidates.append(eta)
    eta = max(candidates, key=f)
    w = [p[j] * max(eta - z[j], 0) if j in idx else mpmath.mpf(0) for j in range(len(z))]
    total = mpmath.fsum(w)
    if total == 0:  # η* = min z: the mass on the minimisers
        w = [p[j] if j in idx and z[j] == eta else mpmath.mpf(0) for j in range(len(z))]
        total = mpmath.fsum(w)
    return f(eta), [x / total for x in w]


def _kl_penalty(p, z, lam):
    idx = _support(p)
    zmin = min(z[j] for j in idx)
    log_z, q, _, _ = _tilt(p, {j: z[j] - zmin for j in idx}, lam, idx)
    return zmin - lam * log_z, [q.get(j, mpmath.mpf(0)) for j in range(len(z))]


def _tv_penalty(p, z, lam):
    i0 = min(range(len(z)), key=lambda j: (z[j], j))
    cap = z[i0] + lam
    q = [mpmath.mpf(0)] * len(z)
    for j in _support(p):
        q[i0 if z[j] > cap else j] += p[j]
    return mpmath.fsum(p[j] * min(z[j], cap) for j in _support(p)), q


def _chi2_penalty(p, z, lam):
    idx = sorted(_support(p), key=lambda j: z[j])
    for k in range(1, len(idx) + 1):
        P = mpmath.fsum(p[j] for j in idx[:k])
        eta = (2 * lam * (1 - P) + mpmath.fsum(p[j] * z[j] for j in idx[:k])) / P
        if k == len(idx) or eta <= z[idx[k]] - 2 * lam:
            break
    q = [p[j] * max(1 + (eta - z[j]) / (2 * lam), 0) for j in range(len(z))]
    value = mpmath.fsum(q[j] * z[j] + lam * (q[j] - p[j]) ** 2 / p[j] for j in idx)
    return value, q


def worst(kind, p, z, rho):
    """(σ, p*) of one row: the worst case over U (module docstring) of the value z."""
    if kind in ("l1", "l1-nominal"):
        return _l1(p, z, rho, kind == "l1-nominal")
    return {"kl": _kl, "chi2": _chi2, "kl-penalty": _kl_penalty, "tv-penalty": _tv_penalty,
            "chi2-penalty": _chi2_penalty}[kind](p, z, rho)


def _sigma(model, v):
    kind, P, r, g, rho = model
    return [[worst(kind, P[s][a], v, rho) for a in range(len(r[0]))] for s in range(len(r))]


def _q(model, v, sigma=None):
    _, _, r, g, _ = model
    sigma = _sigma(model, v) if sigma is None else sigma
    return [[r[s][a] + g * sigma[s][a][0] for a in range(len(r[0]))] for s in range(len(r))]


def _solve(g, P_pi, b):
    S = len(b)
    M = mpmath.eye(S)
    for s in range(S):
        for t in range(S):
            M[s, t] -= g * P_pi[s][t]
    x = mpmath.lu_solve(M, mpmath.matrix(b))
    return [x[s] for s in range(S)]


def evaluate(model, policy):
    """v^π_U by nature's policy iteration (module docstring); policy: S rows of A weights."""
    kind, P, r, g, rho = model
    S, A = len(r), len(r[0])

    def linear(kernel, penalty):
        P_pi = [[mpmath.fsum(policy[s][a] * kernel[s][a][t] for a in range(A))
                 for t in range(S)] for s in range(S)]
        b = [mpmath.fsum(policy[s][a] * (r[s][a] + g * penalty[s][a]) for a in range(A))
             for s in range(S)]
        return _solve(g, P_pi, b)

    v = linear(P, [[0] * A for _ in range(S)])
    for _ in range(200):
        sigma = _sigma(model, v)
        tv = [mpmath.fsum(policy[s][a] * (r[s][a] + g * sigma[s][a][0]) for a in range(A))
              for s in range(S)]
        if max(abs(x - y) for x, y in zip(tv, v, strict=True)) <= _floor() * (
                1 + max(abs(x) for x in v)):
            return v
        kernel = [[sigma[s][a][1] for a in range(A)] for s in range(S)]
        penalty = [[sigma[s][a][0] - mpmath.fsum(x * y for x, y in zip(kernel[s][a], v,
                                                                      strict=True))
                    for a in range(A)] for s in range(S)]
        v = linear(kernel, penalty)
    raise ArithmeticError("nature's policy iteration did not converge in 200 steps")


def _onehot(actions, A):
    return [[mpmath.mpf(1) if a == b else mpmath.mpf(0) for b in range(A)] for a in actions]


def _greedy(q, incumbent=None):
    scale = max(abs(x) for row in q for x in row)
    actions = []
    for s, row in enumerate(q):
        best = max(range(len(row)), key=lambda a, row=row: (row[a], -a))
        if incumbent is not None and row[incumbent[s]] >= row[best] - TIE * scale:
            best = incumbent[s]
        actions.append(best)
    return actions


def optimum(model):
    """v*_U by robust policy iteration, certified by its residual (module docstring)."""
    _, _, r, _, _ = model
    S, A = len(r), len(r[0])
    eps = _eps()
    actions = _greedy(_q(model, [mpmath.mpf(0)] * S))
    for _ in range(10 * S * A + 100):
        v = evaluate(model, _onehot(actions, A))
        q = _q(model, v)
        changed = False
        for s in range(S):
            best = max(range(A), key=lambda a, s=s: (q[s][a], -a))
            if q[s][best] > q[s][actions[s]] + eps * (1 + abs(v[s])):
                actions[s], changed = best, True
        if not changed:
            residual = max(abs(max(q[s]) - v[s]) for s in range(S))
            if residual > _floor() * (1 + max(abs(x) for x in v)):
                raise ArithmeticError(f"robust policy iteration stopped at residual "
                                      f"{mpmath.nstr(residual, 3)}")
            return v
    raise ArithmeticError("robust policy iteration did not terminate")


def model_of(kind, P, r, gamma, radius):
    """(kind, P̄ with rows summing to 1, r, γ, ρ) at the working precision."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    S, A = len(r), len(r[0])
    rows = [[[_mpf(P[s][a][t]) for t in range(S)] for a in range(A)] for s in range(S)]
    rows = [[[x / mpmath.fsum(row) for x in row] for row in block] for block in rows]
    return (kind, rows, [[_mpf(r[s][a]) for a in range(A)] for s in range(S)], _mpf(gamma),
            _mpf(radius))


def run(method, kind, P, r, gamma, radius, init, iterations, metric="value_error"):
    """(values, {}): value_error of iterate k = 0..iterations of ``method`` ("vi" or "pi")
    at 50 digits, for the set ``kind`` of radius (strength λ for penalties) ``radius``.

    P (S, A, S), r (S, A): nested lists or arrays of floats, read exactly; init: None (v_0 = 0
    for vi, π_0 uniform for pi), the (S,) v_0 of vi or the (S, A) π_0 of pi."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    with mpmath.workdps(_WORK):
        model = model_of(kind, P, r, gamma, radius)
        S, A = len(r), len(r[0])
        v_star = optimum(model)
        values = []
        if method == "vi":
            v = [mpmath.mpf(0)] * S if init is None else [_mpf(x) for x in init]
            for k in range(iterations + 1):
                values.append(max(abs(x - y) for x, y in zip(v, v_star, strict=True)))
                if k < iterations:
                    v = [max(row) for row in _q(model, v)]
            return [+x for x in values], {}
        policy = ([[mpmath.mpf(1) / A] * A for _ in range(S)] if init is None else
                  [[_mpf(x) for x in row] for row in init])
        incumbent = None
        for k in range(iterations + 1):
            v = evaluate(model, policy)
            values.append(max(abs(x - y) for x, y in zip(v, v_star, strict=True)))
            if k < iterations:
                incumbent = _greedy(_q(model, v), incumbent)
                policy = _onehot(incumbent, A)
        return [+x for x in values], {}
