"""50-digit (mpmath) runs of the entropy-regularized matrix-game methods, for re-checking a
float64 counterexample (``theory/certify.py``). Written from the math, not by calling
nashlab's float code (numpy + mpmath only: a reproduction script embeds this file verbatim).

Game max_x min_y xᵀAy + τH(x) − τH(y) (theory notes nlhf.md §4); ζ = (x, y) with log-policies
(u, v), payoffs F(u, v) = (Ay, −Aᵀx). One step per player, S(ℓ, g) = normalise(a·ℓ + c·g)
(the uniform reference's b·log μ is a constant, removed by the normalisation), with
(a, c) = (1 − ητ, η) in the mirror-descent form (pu, omwu: Cen, Wei, Chi 2105.15186) and
(1, η)/(1 + ητ) in the prox form (mirror-prox, Nemirovski 2004; mmd, Sokota et al.
2206.05825). Compositions: pu, mirror-prox h = S(ζ, F(ζ)), ζ⁺ = S(ζ, F(h)); omwu
h = S(ζ, ĝ), ĝ ← F(h), ζ⁺ = S(ζ, ĝ) with ĝ_0 = F(ζ_0); mmd ζ⁺ = S(ζ, F(ζ)).

Metrics: "kl" = KL(x*‖x) + KL(y*‖y) to the QRE (τ > 0), found by Newton's method on
G(u, v) = (u − log softmax(Ay/τ), v − log softmax(−Aᵀx/τ)) and certified by its residual;
"duality_gap" DG_τ = τ[KL(x‖softmax(Ay/τ)) + KL(y‖softmax(−Aᵀx/τ))] (τ > 0),
max_i (Ay)_i − min_j (Aᵀx)_j (τ = 0); "exploitability" = DG_τ/2; "average_duality_gap"
DG_τ of the mean of the midpoints h_0..h_{T−1} (mirror-prox; index 0: ζ_0). ``radius``:
D0 = max_u KL(u‖ζ_0) = −log min x_0 − log min y_0.
"""

import mpmath
import numpy as np

DIGITS = 50
_WORK = DIGITS + 20
METHODS = ("pu", "omwu", "mirror-prox", "mmd")
METRICS = ("kl", "duality_gap", "exploitability", "average_duality_gap")
_FORMS = {"pu": "mirror-descent", "omwu": "mirror-descent", "mirror-prox": "prox",
          "mmd": "prox"}


def _mpf_vector(x):
    return [mpmath.mpf(float(v)) for v in np.ravel(x)]


def _normalize(z):
    top = max(z)
    lse = top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in z))
    return [v - lse for v in z]


def _exp(z):
    return [mpmath.exp(v) for v in z]


def _payoffs(A, u, v):
    """(Ay, −Aᵀx) at x = e^u, y = e^v."""
    x, y = _exp(u), _exp(v)
    m, n = len(u), len(v)
    gx = [mpmath.fsum(A[i][j] * y[j] for j in range(n)) for i in range(m)]
    gy = [-mpmath.fsum(A[i][j] * x[i] for i in range(m)) for j in range(n)]
    return gx, gy


def _step(coefficients, zeta, g):
    a, c = coefficients
    return tuple(_normalize([a * z + c * gi for z, gi in zip(block, gb, strict=True)])
                 for block, gb in zip(zeta, g, strict=True))


def _coefficients(method, eta, tau):
    if _FORMS[method] == "mirror-descent":
        return 1 - eta * tau, eta
    return 1 / (1 + eta * tau), eta / (1 + eta * tau)


def _kl(a_logits, b_logits):
    return mpmath.fsum(mpmath.exp(a) * (a - b) for a, b in zip(a_logits, b_logits, strict=True))


def _best_responses(A, u, v, tau):
    gx, gy = _payoffs(A, u, v)
    return _normalize([g / tau for g in gx]), _normalize([g / tau for g in gy])


def qre(A, tau, start=None, tol=None):
    """The QRE's log-policies (u*, v*) by Newton's method on G (module docstring) from
    ``start`` (a guess of the concatenated logits; any accuracy), certified by
    max|G| ≤ ``tol`` (default 10^{−(DIGITS + 5)}); ArithmeticError if not reached."""
    m, n = len(A), len(A[0])
    tol = mpmath.mpf(10) ** -(DIGITS + 5) if tol is None else tol
    z = [-mpmath.log(m)] * m + [-mpmath.log(n)] * n if start is None else list(start)
    Am = mpmath.matrix(A)

    def residual(z):
        u, v = _normalize(z[:m]), _normalize(z[m:])
        bx, by = _best_responses(A, u, v, tau)
        return [a - b for a, b in zip(u + v, bx + by, strict=True)], u, v, bx, by

    G, u, v, bx, by = residual(z)
    norm = max(abs(g) for g in G)
    for _ in range(200):
        if norm <= tol:
            return u, v
        x, y, px, py = _exp(u), _exp(v), _exp(bx), _exp(by)
        J = mpmath.eye(m + n)
        for i in range(m):      # ∂G_u/∂v = −(I − 1p_xᵀ)·A·diag(y)/τ
            for j in range(n):
                J[i, m + j] = -(Am[i, j] - mpmath.fsum(px[k] * Am[k, j] for k in range(m))) \
                    * y[j] / tau
        for j in range(n):      # ∂G_v/∂u = (I − 1p_yᵀ)·Aᵀ·diag(x)/τ
            for i in range(m):
                J[m + j, i] = (Am[i, j] - mpmath.fsum(py[k] * Am[i, k] for k in range(n))) \
                    * x[i] / tau
        step = mpmath.lu_solve(J, mpmath.matrix([-g for g in G]))
        base, t = u + v, mpmath.mpf(1)
        while True:
            trial = [base[i] + t * step[i] for i in range(m + n)]
            G_t, u_t, v_t, bx_t, by_t = residual(trial)
            norm_t = max(abs(g) for g in G_t)
            if norm_t < norm or t < mpmath.mpf(2) ** -60:
                break
            t /= 2
        G, u, v, bx, by, norm = G_t, u_t, v_t, bx_t, by_t, norm_t
    raise ArithmeticError(f"Newton did not reach the residual {mpmath.nstr(tol, 3)} "
                          f"(last {mpmath.nstr(norm, 3)})")


def _gap(A, u, v, tau):
    if tau == 0:
        gx, gy = _payoffs(A, u, v)
        return max(gx) + max(gy)  # max_i (Ay)_i − min_j (Aᵀx)_j
    bx, by = _best_responses(A, u, v, tau)
    return tau * (_kl(u, bx) + _kl(v, by))


def _gap_of_policies(A, x, y, tau):
    with mpmath.workdps(_WORK):
        u = [mpmath.log(p) if p > 0 else mpmath.ninf for p in x]
        v = [mpmath.log(p) if p > 0 else mpmath.ninf for p in y]
        if tau == 0:
            return _gap(A, u, v, tau)
        bx, by = _best_responses(A, u, v, tau)
        return tau * (mpmath.fsum(p * (a - b) for p, a, b in zip(x, u, bx, strict=True) if p > 0)
                      + mpmath.fsum(p * (a - b) for p, a, b in zip(y, v, by, strict=True)
                                    if p > 0))


def radius(x0, y0):
    """D0 = −log min x_0 − log min y_0 at 50 digits (x0, y0 floats, read exactly)."""
    with mpmath.workdps(_WORK):
        return -mpmath.log(min(_mpf_vector(x0))) - mpmath.log(min(_mpf_vector(y0)))


def run(method, A, x0, y0, tau, eta, iterations, metric, star_guess=None):
    """The values metric(ζ_t), t = 0..iterations, of ``method`` at 50 digits (mpf list).

    A (m×n), x0, y0 (None: uniform): float arrays/lists read exactly (binary → mpf); tau,
    eta: floats; star_guess: a guess of the QRE's concatenated logits for the Newton solve
    (its accuracy does not matter)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if metric not in METRICS or (metric == "average_duality_gap" and method != "mirror-prox"):
        raise ValueError(f"metric must be one of {METRICS} (average_duality_gap: mirror-prox "
                         f"only), got {metric!r} for {method!r}")
    with mpmath.workdps(_WORK):
        Am = [_mpf_vector(row) for row in A]
        m, n = len(Am), len(Am[0])
        t, e = mpmath.mpf(float(tau)), mpmath.mpf(float(eta))
        if metric == "kl" and t == 0:
            raise ValueError("metric 'kl' needs tau > 0 (the QRE)")
        zeta = tuple(_normalize([mpmath.log(p) for p in _mpf_vector(p0)]) if p0 is not None
                     else [-mpmath.log(k)] * k for p0, k in ((x0, m), (y0, n)))
        star = None
        if metric == "kl":
            star = qre(Am, t, None if star_guess is None else _mpf_vector(star_guess))

        def value(zeta, mids, count):
            if metric == "kl":
                return _kl(star[0], zeta[0]) + _kl(star[1], zeta[1])
            if metric == "average_duality_gap":
                if count == 0:
                    return _gap(Am, *zeta, t)
                return _gap_of_policies(Am, [s / count for s in mids[0]],
                                        [s / count for s in mids[1]], t)
            gap = _gap(Am, *zeta, t)
            return gap / 2 if metric == "exploitability" else gap

        coefficients = _coefficients(method, e, t)
        mids = ([mpmath.mpf(0)] * m, [mpmath.mpf(0)] * n)
        values = [value(zeta, mids, 0)]
        predictor = None
        for k in range(iterations):
            if method == "mmd":
                zeta = _step(coefficients, zeta, _payoffs(Am, *zeta))
            else:
                g = _payoffs(Am, *zeta) if method != "omwu" or predictor is None else predictor
                half = _step(coefficients, zeta, g)
                predictor = _payoffs(Am, *half)
                zeta = _step(coefficients, zeta, predictor)
                mids = tuple([s + mpmath.exp(h) for s, h in zip(ms, hs, strict=True)]
                             for ms, hs in zip(mids, half, strict=True))
            values.append(value(zeta, mids, k + 1))
        return [+v for v in values]
