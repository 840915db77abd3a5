"""50-digit (mpmath) runs of the zero-sum Markov-game methods, for re-checking a float64
counterexample (``theory/certify.py``). Written from the math, not by calling nashlab's float
code (numpy + mpmath only: a reproduction script embeds this file verbatim).

Game (theory notes dp_robust.md §4): r (S, A, B) paid to the maximiser x, P (S, A, B, S),
γ ∈ [0, 1), entropy weight τ ≥ 0; Q_v(s) = r(s) + γ Σ_t P(t|s, ·, ·) v(t) (an A×B matrix).

* Stage value val_τ(M) = max_x min_y xᵀMy + τH(x) − τH(y). τ > 0: at the QRE, found by
  Newton's method on G(u, v) = (u − log softmax(My/τ), v − log softmax(−Mᵀx/τ)) (u, v the
  log-policies) with a backtracking line search on ‖G‖₂², from a warm start or, failing
  that, by continuation from τ_0 = max(τ, 4·max|M|) (near uniform) down to τ, each solve
  warm-starting the next, the ratio τ_j/τ_{j+1} = 4 square-rooted on each failure; certified
  by max|G| ≤ 10^{−(DIGITS + 20)} (working at DIGITS + 30 digits). τ = 0: support
  enumeration (Shapley–Snow: some equilibrium is given by a square support pair I, J whose
  bordered system M_IJ y = w·1, Σy = 1 and xᵀM_IJ = w·1ᵀ, Σx = 1 is nonsingular): every
  square pair is solved and the first whose x, y ≥ 0 satisfy max_i (My)_i ≤ w ≤ min_j (xᵀM)_j
  (to 10^{−(working digits − 10)}) is kept; the value w is unique.
* Shapley operator (T_τ v)(s) = val_τ(Q_v(s)); the fixed point v*_τ by a safeguarded Newton
  iteration (Pollatschek–Avi-Itzhak): with (x_s, y_s) the stage equilibria at v,
  dval_τ(M)/dM = x yᵀ, so the Newton step is v⁺ = v + (I − γP_{xy})^{−1}(T_τv − v), the value
  of the joint stage policy; it is kept when ‖T_τv⁺ − v⁺‖∞ ≤ γ‖T_τv − v‖∞, else v⁺ = T_τv
  (a value-iteration step, which always achieves that). Stops at a residual ≤
  10^{−(DIGITS + 20)}(1 − γ)·max(1, ‖v‖∞), hence ‖v − v*_τ‖∞ ≤ 10^{−(DIGITS + 20)}·max(1, ‖v‖∞):
  a value error ≥ 10^{−11} (certify's FLOAT_FLOOR) keeps 50 digits even at ‖v‖∞ = 100, so
  an exactly γ-tight instance ends within certify's tie band 10^{−50} of ratio 1.
  Cost: a few Newton steps from the float solution, about ten from v = 0, each S stage solves.
* "shapley": v_0 = 0, v_{k+1} = T_τ v_k (Shapley 1953).
* per-state "pu", "omwu", "mmd" (Cen, Chi, Du, Xiao 2210.01050; Sokota et al. 2206.05825):
  Q^t = Q_{V^t} frozen for the step, F(u, v)(s) = (Q^t(s) y_s, −Q^t(s)ᵀ x_s), one step per
  player S(ℓ, g) = normalise(a·ℓ + c·g) with (a, c) = (1 − ητ, η) (mirror-descent form: pu,
  omwu) or (1, η)/(1 + ητ) (prox form: mmd) (the uniform reference's b·log μ is a constant,
  removed by the normalisation); pu h = S(ℓ, F(ℓ)), ℓ⁺ = S(ℓ, F(h)); omwu h = S(ℓ, ĝ),
  ℓ⁺ = S(ℓ, F(h)), ĝ = F^{t}(h_{t−1}) (F(ℓ_0) at t = 0); mmd ℓ⁺ = S(ℓ, F(ℓ)); then
  V ← (1 − α)V + α·(xᵀQ^t y + τH(x) − τH(y)) at h (pu, omwu) or ℓ⁺ (mmd), α = ητ, V^0 = 0.

Metrics: "value_error" ‖V_k − v*_τ‖∞; "policy_kl" max_s KL(x*_s‖x_s) + KL(y*_s‖y_s), (x*, y*)
the stage QRE of Q_{v*_τ} (τ > 0).
"""

import itertools

import mpmath
import numpy as np

DIGITS = 50
_WORK = DIGITS + 30
METHODS = ("shapley", "pu", "omwu", "mmd")
METRICS = ("value_error", "policy_kl")
_FORMS = {"pu": "mirror-descent", "omwu": "mirror-descent", "mmd": "prox"}


def _mp(x):
    """A float array (any depth) as nested lists of mpf, read exactly (binary → mpf)."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        return mpmath.mpf(float(a))
    return [_mp(row) for row in a]


def _normalize(z):
    top = max(z)
    lse = top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in z))
    return [v - lse for v in z]


def _exp(z):
    return [mpmath.exp(v) for v in z]


def _kl(a_logits, b_logits):
    return mpmath.fsum(mpmath.exp(a) * (a - b) for a, b in zip(a_logits, b_logits, strict=True))


def _products(M, u, v):
    """(My, Mᵀx) at x = e^u, y = e^v."""
    x, y = _exp(u), _exp(v)
    rows, cols = len(M), len(M[0])
    return ([mpmath.fsum(M[i][j] * y[j] for j in range(cols)) for i in range(rows)],
            [mpmath.fsum(M[i][j] * x[i] for i in range(rows)) for j in range(cols)])


def _regularized_value(M, u, v, tau):
    """xᵀMy + τH(x) − τH(y) at x = e^u, y = e^v."""
    My, _ = _products(M, u, v)
    x, y = _exp(u), _exp(v)
    return (mpmath.fsum(a * b for a, b in zip(x, My, strict=True))
            - tau * mpmath.fsum(p * lp for p, lp in zip(x, u, strict=True))
            + tau * mpmath.fsum(p * lp for p, lp in zip(y, v, strict=True)))


# ---- stage games ----------------------------------------------------------------------------
def _newton_qre(M, tau, z, tol):
    """Newton's method on G (module docstring) from the logits z; (u, v) or None."""
    m, n = len(M), len(M[0])

    def residual(z):
        u, v = _normalize(z[:m]), _normalize(z[m:])
        My, Mx = _products(M, u, v)
        bx, by = _normalize([g / tau for g in My]), _normalize([-g / tau for g in Mx])
        G = [a - b for a, b in zip(u + v, bx + by, strict=True)]
        return G, mpmath.fsum(g * g for g in G), u, v, bx, by

    G, norm, u, v, bx, by = residual(z)
    for _ in range(40):
        if max(abs(g) for g in G) <= tol:
            return u, v
        x, y, px, py = _exp(u), _exp(v), _exp(bx), _exp(by)
        J = mpmath.eye(m + n)
        for i in range(m):      # ∂G_u/∂v = −(I − 1p_xᵀ)·M·diag(y)/τ
            for j in range(n):
                J[i, m + j] = -(M[i][j] - mpmath.fsum(px[k] * M[k][j] for k in range(m))) \
                    * y[j] / tau
        for j in range(n):      # ∂G_v/∂u = (I − 1p_yᵀ)·Mᵀ·diag(x)/τ
            for i in range(m):
                J[m + j, i] = (M[i][j] - mpmath.fsum(py[k] * M[i][k] for k in range(n))) \
                    * x[i] / tau
        try:
            step = mpmath.lu_solve(J, mpmath.matrix([-g for g in G]))
        except ZeroDivisionError:
            return None
        base, t = u + v, mpmath.mpf(1)
        while True:
            trial = residual([base[i] + t * step[i] for i in range(m + n)])
            if trial[1] < norm:
                break
            t /= 2
            if t < mpmath.mpf(2) ** -30:
                return None  # no descent: the start is too far
        G, norm, u, v, bx, by = trial
    return None


def stage_qre(M, tau, start=None):
    """The QRE log-policies (u, v) of the stage game M (mpf lists), τ > 0, from the logits
    ``start`` or by continuation in τ (module docstring); ArithmeticError if not certified."""
    m, n = len(M), len(M[0])
    tol = mpmath.mpf(10) ** -(DIGITS + 20)
    if start is not None:
        found = _newton_qre(M, tau, list(start), tol)
        if found is not None:
            return found
    scale = max(abs(a) for row in M for a in row)
    current = max(tau, 4 * scale)
    z = [-mpmath.log(m)] * m + [-mpmath.log(n)] * n
    found = _newton_qre(M, current, z, mpmath.mpf(10) ** -20)
    ratio = mpmath.mpf(4)
    while found is not None:
        if current == tau:
            found = _newton_qre(M, tau, found[0] + found[1], tol)
            if found is not None:
                return found
            break
        z, target = found[0] + found[1], max(tau, current / ratio)
        trial = _newton_qre(M, target, z, mpmath.mpf(10) ** -20)
        if trial is None:
            ratio = mpmath.sqrt(ratio)
            if ratio < 1 + mpmath.mpf(10) ** -3:
                break
            continue
        found, current = trial, target
    raise ArithmeticError(f"the stage QRE's Newton iteration failed (τ = {mpmath.nstr(tau, 5)})")


def _bordered(B):
    """(w, z) with B z = w·1, Σz = 1 (B square), or None if the system is singular."""
    k = len(B)
    K = mpmath.matrix(k + 1, k + 1)
    rhs = mpmath.matrix(k + 1, 1)
    for i in range(k):
        for j in range(k):
            K[i, j] = B[i][j]
        K[i, k], K[k, i] = -1, 1
    rhs[k] = 1
    try:
        sol = mpmath.lu_solve(K, rhs)
    except ZeroDivisionError:
        return None
    return sol[k], [sol[i] for i in range(k)]


def stage_value(M):
    """(val(M), x, y) of the unregularized stage game M by support enumeration (module
    docstring); ArithmeticError if no square support pair verifies."""
    m, n = len(M), len(M[0])
    eps = mpmath.mpf(10) ** -(mpmath.mp.dps - 10) * max(1, max(abs(a) for r in M for a in r))
    for k in range(1, min(m, n) + 1):
        for rows in itertools.combinations(range(m), k):
            for cols in itertools.combinations(range(n), k):
                sub = [[M[i][j] for j in cols] for i in rows]
                col = _bordered(sub)
                row = _bordered([list(c) for c in zip(*sub, strict=True)])
                if col is None or row is None or min(col[1] + row[1]) < -eps:
                    continue
                x, y = [mpmath.mpf(0)] * m, [mpmath.mpf(0)] * n
                for i, p in zip(rows, row[1], strict=True):
                    x[i] = max(p, mpmath.mpf(0))
                for j, p in zip(cols, col[1], strict=True):
                    y[j] = max(p, mpmath.mpf(0))
                My = [mpmath.fsum(M[i][j] * y[j] for j in range(n)) for i in range(m)]
                xM = [mpmath.fsum(M[i][j] * x[i] for i in range(m)) for j in range(n)]
                if max(My) <= col[0] + eps and min(xM) >= col[0] - eps:
                    return col[0], x, y
    raise ArithmeticError("support enumeration found no equilibrium")


# ---- the Shapley operator and its fixed point ---------------------------------------------
def _q(r, P, gamma, v):
    S = len(v)
    return [[[r[s][a][b] + gamma * mpmath.fsum(P[s][a][b][t] * v[t] for t in range(S))
              for b in range(len(r[s][a]))] for a in range(len(r[s]))] for s in range(S)]


def shapley(r, P, gamma, tau, v, starts=None):
    """(T_τ v, [(x_s, y_s)], [stage logits or None]); ``starts``: per-state warm starts."""
    Q = _q(r, P, gamma, v)
    values, policies, logits = [], [], []
    for s, M in enumerate(Q):
        if tau == 0:
            w, x, y = stage_value(M)
            logits.append(None)
        else:
            u, vv = stage_qre(M, tau, None if starts is None else starts[s])
            w, x, y = _regularized_value(M, u, vv, tau), _exp(u), _exp(vv)
            logits.append(u + vv)
        values.append(w)
        policies.append((x, y))
    return values, policies, logits


def optimum(r, P, gamma, tau, guess=None):
    """(v*_τ, the stage QRE logits at v*_τ per state (None for τ = 0)) by the safeguarded
    Newton iteration of the module docstring from ``guess`` (default 0; any accuracy);
    ArithmeticError if it does not reach its residual."""
    S = len(r)
    v = [mpmath.mpf(0)] * S if guess is None else _mp(guess)
    Tv, policies, logits = shapley(r, P, gamma, tau, v)
    norm = max(abs(a - b) for a, b in zip(Tv, v, strict=True))
    for _ in range(5000):
        if norm <= mpmath.mpf(10) ** -(DIGITS + 20) * (1 - gamma) * max(1, max(abs(a) for a in v)):
            return v, logits
        K = mpmath.eye(S)
        for s, (x, y) in enumerate(policies):
            for t in range(S):
                K[s, t] -= gamma * mpmath.fsum(x[a] * y[b] * P[s][a][b][t]
                                               for a in range(len(x)) for b in range(len(y)))
        delta = mpmath.lu_solve(K, mpmath.matrix([a - b for a, b in zip(Tv, v, strict=True)]))
        newton = [v[s] + delta[s] for s in range(S)]
        trial = shapley(r, P, gamma, tau, newton, logits)
        trial_norm = max(abs(a - b) for a, b in zip(trial[0], newton, strict=True))
        if trial_norm <= gamma * norm:
            v, (Tv, policies, logits), norm = newton, trial, trial_norm
        else:
            v = Tv
            Tv, policies, logits = shapley(r, P, gamma, tau, v, logits)
            norm = max(abs(a - b) for a, b in zip(Tv, v, strict=True))
    raise ArithmeticError(f"the Shapley fixed point was not reached (residual "
                          f"{mpmath.nstr(norm, 3)})")


#: v*_τ of the last few games (shrinking re-runs one game with fewer iterations; a solve
#: whose Newton steps stall falls back to value iteration, seconds at 50 digits)
_OPTIMA: dict = {}
_OPTIMA_KEPT = 8


def _cached_optimum(r, P, gamma, tau, rm, Pm, g, t, guess):
    key = (np.asarray(r, dtype=float).tobytes(), np.asarray(P, dtype=float).tobytes(),
           np.shape(r), np.shape(P), float(gamma), float(tau), mpmath.mp.dps)
    if key not in _OPTIMA:
        if len(_OPTIMA) >= _OPTIMA_KEPT:
            del _OPTIMA[next(iter(_OPTIMA))]
        _OPTIMA[key] = optimum(rm, Pm, g, t, guess)
    return _OPTIMA[key]


# ---- the methods ----------------------------------------------------------------------------
def _payoff(Q, logits):
    """F(u, v)(s) = (Q(s) y_s, −Q(s)ᵀ x_s)."""
    out = []
    for M, (u, v) in zip(Q, logits, strict=True):
        My, Mx = _products(M, u, v)
        out.append((My, [-g for g in Mx]))
    return out


def _step(coefficients, logits, g):
    a, c = coefficients
    return [tuple(_normalize([a * z + c * gi for z, gi in zip(block, gb, strict=True)])
                  for block, gb in zip(state, gs, strict=True))
            for state, gs in zip(logits, g, strict=True)]


def run(method, r, P, gamma, tau, eta, iterations, metric, init=None, guess=None):
    """The values metric(t), t = 0..iterations, of ``method`` at 50 digits (mpf list).

    r (S, A, B), P (S, A, B, S), init = (x0 (S, A), y0 (S, B)) or None (uniform; the
    per-state methods only): float arrays read exactly; gamma, tau, eta: floats (eta unused
    by "shapley"); guess: a guess of v*_τ for its Newton solve (its accuracy does not
    matter)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    with mpmath.workdps(_WORK):
        rm, Pm = _mp(r), _mp(P)
        S, A, B = len(rm), len(rm[0]), len(rm[0][0])
        g, t = mpmath.mpf(float(gamma)), mpmath.mpf(float(tau))
        if (metric == "policy_kl" or method != "shapley") and t == 0:
            raise ValueError(f"method {method!r} with metric {metric!r} needs tau > 0")
        v_star, star = _cached_optimum(r, P, gamma, tau, rm, Pm, g, t, guess)

        def value(V, logits):
            if metric == "value_error":
                return max(abs(a - b) for a, b in zip(V, v_star, strict=True))
            return max(_kl(z[:A], u) + _kl(z[A:], v)
                       for z, (u, v) in zip(star, logits, strict=True))

        if method == "shapley":
            if metric == "policy_kl":
                raise ValueError("shapley's policy_kl is not implemented at 50 digits")
            V, values, starts = [mpmath.mpf(0)] * S, [], star
            for k in range(iterations + 1):
                values.append(value(V, None))
                if k < iterations:
                    V, _, starts = shapley(rm, Pm, g, t, V, starts)
            return [+x for x in values]
        e = mpmath.mpf(float(eta))
        coefficients = (1 - e * t, e) if _FORMS[method] == "mirror-descent" \
            else (1 / (1 + e * t), e / (1 + e * t))
        if init is None:
            logits = [([-mpmath.log(A)] * A, [-mpmath.log(B)] * B) for _ in range(S)]
        else:
            logits = [(_normalize([mpmath.log(p) for p in x]), _normalize([mpmath.log(p) for p in y]))
                      for x, y in zip(_mp(init[0]), _mp(init[1]), strict=True)]
        V, alpha, half, values = [mpmath.mpf(0)] * S, e * t, None, []
        for k in range(iterations + 1):
            values.append(value(V, logits))
            if k == iterations:
                break
            Q = _q(rm, Pm, g, V)
            if method == "mmd":
                logits = _step(coefficients, logits, _payoff(Q, logits))
                point = logits
            else:
                predictor = _payoff(Q, logits if method == "pu" or half is None else half)
                half = _step(coefficients, logits, predictor)
                logits = _step(coefficients, logits, _payoff(Q, half))
                point = half
            V = [(1 - alpha) * V[s] + alpha * _regularized_value(Q[s], *point[s], t)
                 for s in range(S)]
        return [+x for x in values]
