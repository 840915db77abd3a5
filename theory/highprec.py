"""Preference-game updates and metrics at 50 significant digits (mpmath), from the math.

An independent second implementation used by ``nashlab.theory.falsify`` to confirm a float64
violation: nothing here calls the float code (it imports mpmath, and numpy only to replay
nash-mp-inexact's random draws, so that the reproduction script of a saved counterexample
can embed this module's source verbatim and run without nashlab). Formulas (theory notes
nlhf.md §1–§5; ℓ = log π normalised, lμ = log μ, g(π) = Pπ the preference oracle, β the KL
weight):

* prox(ℓ, g; η) = (ℓ + ηβ·lμ + η·g)/(1 + ηβ) − log Z, md(ℓ, g; η) = (1 − ηβ)ℓ + ηβ·lμ + η·g − log Z;
* nash-mp (Tiapkin et al. 2505.19731): ℓ½ = prox(ℓ, g(π)), ℓ⁺ = prox(ℓ, g(π½));
* nash-md (Munos et al. 2312.00886 eq. 5): ℓ^μ = (1 − η_tβ)ℓ + η_tβ·lμ − log Z,
  ℓ⁺ = ℓ^μ + η_t·g(π^μ) − log Z; schedule "munos": η_t = 2/(β(t + 2));
* egpo (Zhou et al. 2503.08942): ℓ½ = md(ℓ, g(π)), ℓ⁺ = md(ℓ, g(π½));
* omd: ℓ⁺ = md(ℓ, g(π)); mmd (Sokota et al. 2206.05825): ℓ⁺ = prox(ℓ, g(π));
* omwu (Cen et al. 2105.15186): π̄_{t+1} = md(ℓ_t, g(π̄_t)), ℓ_{t+1} = md(ℓ_t, g(π̄_{t+1})),
  π̄_0 = π_0;
* hedge (SPPO 2405.00675): ℓ⁺ = ℓ + η·g(π) − log Z; average π̄_k = (1/k)Σ_{t<k} π_t, π̄_0 = π_0;
* nash-mp-inexact (nlhf.md §2, "practical version"): Nash-MP with each prox step
  max_p ⟨p, g⟩ − β·KL(p‖μ) − KL(p‖π_k)/η replaced by M stochastic policy-gradient steps from
  θ = ℓ_k: θ ← normalise(θ + α·w − α·π_θ·Σw), α = η/(1 + ηβ), w_y = c_y(r_y − b_y)/S,
  r = g − β(θ − lμ) − (θ − ℓ_k)/η, b_y = (Σ_z c_z r_z − r_y)/(S − 1) (leave-one-out), c the
  counts of S responses y_s ~ π_θ drawn by ``numpy.random.default_rng(seed).multinomial``
  (the same stream as the float run: the draws are replayed at float(π_θ), identical unless
  a uniform falls within float rounding of a binomial threshold); δ_k = span(ℓ̃_k − ℓ_k^ex),
  ℓ_k^ex the exact Nash-MP step from the same anchor, δ_0 = 0;
* nash-prox (Tiapkin et al. 2505.19731 v2, proximal point): β' = β + 1/η, magnet
  lν = (ℓ_k + ηβ·lμ)/(1 + ηβ) − log Z, M steps z ← md(z, g(softmax z); η_in) towards lν with
  KL weight β', η_in = β'/(β'² + ¼), from z = ℓ_k.

Metrics against π* = π*_β, the solution of log π* = lμ + Pπ*/β − log Z (found by Newton's
method on F(z) = z − lμ − P·softmax(z)/β, whose Jacobian I − A·S/β, S = diag π − ππᵀ, has
eigenvalues 1 − iλ/β and is never singular): kl = KL(π*‖π), span = span(ℓ − ℓ*),
exploitability = β·KL(π‖BR(π)) with BR(π) ∝ μ·e^{Pπ/β}, duality_gap = 2·exploitability,
unregularized_exploitability = max_y (Pπ)_y − ½, average_exploitability = the latter at π̄_k.
"""

import mpmath
import numpy as np

DIGITS = 50
#: working precision: 50 reported digits plus guard digits for the stiff Newton solve
_WORK = DIGITS + 20
METHODS = ("nash-mp", "nash-md", "egpo", "omd", "mmd", "omwu", "hedge", "sppo",
           "nash-mp-inexact", "nash-prox")
#: the methods whose step takes M = ``inner_steps`` inner iterations
INNER_METHODS = ("nash-mp-inexact", "nash-prox")
METRICS = ("kl", "span", "exploitability", "duality_gap", "unregularized_exploitability",
           "average_exploitability")


def _mpf_vector(x):
    return [mpmath.mpf(float(v)) for v in x]


def _normalize(z):
    top = max(z)
    lse = top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in z))
    return [v - lse for v in z]


def _softmax(z):
    return [mpmath.exp(v) for v in _normalize(z)]


def _oracle(P, p):
    return [mpmath.fsum(Pi[j] * p[j] for j in range(len(p))) for Pi in P]


def _prox(logits, g, lmu, eta, beta):
    return _normalize([(a + eta * beta * m + eta * b) / (1 + eta * beta)
                       for a, b, m in zip(logits, g, lmu, strict=True)])


def _md(logits, g, lmu, eta, beta):
    return _normalize([(1 - eta * beta) * a + eta * beta * m + eta * b
                       for a, b, m in zip(logits, g, lmu, strict=True)])


def equilibrium(P, lmu, beta, start=None, tol=None):
    """log π*_β (normalised) by damped Newton on F(z) = z − lμ − P·softmax(z)/β; ``start``
    is an initial guess of the logits (any accuracy: the result is certified by the residual
    max|F| ≤ ``tol``, default 10^{−(DIGITS + 5)}). Raises ArithmeticError if not reached."""
    n = len(lmu)
    tol = mpmath.mpf(10) ** -(DIGITS + 5) if tol is None else tol
    z = list(lmu) if start is None else list(start)

    def residual(z):
        p = _softmax(z)
        g = _oracle(P, p)
        return [z[i] - lmu[i] - g[i] / beta for i in range(n)], p

    F, p = residual(z)
    norm = max(abs(v) for v in F)
    for _ in range(400):
        if norm <= tol:
            return _normalize(z)
        S = mpmath.matrix(n, n)
        for i in range(n):
            for j in range(n):
                S[i, j] = (p[i] if i == j else 0) - p[i] * p[j]
        J = mpmath.eye(n) - mpmath.matrix(P) * S / beta
        step = mpmath.lu_solve(J, mpmath.matrix([-v for v in F]))
        t = mpmath.mpf(1)
        while True:
            trial = [z[i] + t * step[i] for i in range(n)]
            F_t, p_t = residual(trial)
            norm_t = max(abs(v) for v in F_t)
            if norm_t < norm or t < mpmath.mpf(2) ** -60:
                break
            t /= 2
        z, F, p, norm = trial, F_t, p_t, norm_t
    raise ArithmeticError(f"Newton did not reach the residual {mpmath.nstr(tol, 3)} "
                          f"(last {mpmath.nstr(norm, 3)})")


def _kl(a_logits, b_logits):
    return mpmath.fsum(mpmath.exp(a) * (a - b) for a, b in zip(a_logits, b_logits, strict=True))


def _unregularized(P, p):
    return max(_oracle(P, p)) - mpmath.mpf(1) / 2


def _metric(name, P, lmu, beta, logits, star, average):
    if name == "kl":
        return _kl(star, logits)
    if name == "span":
        d = [a - b for a, b in zip(logits, star, strict=True)]
        return max(d) - min(d)
    if name in ("exploitability", "duality_gap"):
        p = _softmax(logits)
        br = _normalize([m + g / beta for m, g in zip(lmu, _oracle(P, p), strict=True)])
        value = beta * _kl(logits, br)
        return 2 * value if name == "duality_gap" else value
    if name == "unregularized_exploitability":
        return _unregularized(P, _softmax(logits))
    if name == "average_exploitability":
        return _unregularized(P, average)
    raise ValueError(f"metric must be one of {METRICS}, got {name!r}")


def steps(eta, beta, iterations, schedule=None):
    """η_t for t = 0..iterations−1: constant ``eta``, or Munos et al.'s 2/(β(t+2))."""
    if schedule == "munos":
        return [2 / (beta * (t + 2)) for t in range(iterations)]
    if schedule is not None:
        raise ValueError(f"schedule must be None or 'munos', got {schedule!r}")
    return [eta] * iterations


def _pg_prox(anchor, g, lmu, eta, beta, inner_steps, responses, rng):
    """nash-mp-inexact's prox step: ``inner_steps`` stochastic PG steps from ``anchor``."""
    rate = eta / (1 + eta * beta)
    theta = anchor
    for _ in range(inner_steps):
        pi = _softmax(theta)
        p = np.array([float(v) for v in pi])
        counts = [int(c) for c in rng.multinomial(responses, p / p.sum())]
        reward = [gy - beta * (t - m) - (t - a) / eta
                  for gy, t, m, a in zip(g, theta, lmu, anchor, strict=True)]
        total = mpmath.fsum(c * r for c, r in zip(counts, reward, strict=True))
        weight = [c * (r - (total - r) / (responses - 1)) / responses
                  for c, r in zip(counts, reward, strict=True)]
        mass = mpmath.fsum(weight)
        theta = _normalize([t + rate * (w - q * mass)
                            for t, w, q in zip(theta, weight, pi, strict=True)])
    return theta


def _nash_prox(logits, P, lmu, eta, beta, inner_steps):
    """One proximal-point step of nash-prox: ``inner_steps`` OMD steps of the game with KL
    weight β' = β + 1/η towards lν = (ℓ + ηβ·lμ)/(1+ηβ), step η_in = β'/(β'² + ¼)."""
    outer = beta + 1 / eta
    magnet = _normalize([(a + eta * beta * m) / (1 + eta * beta)
                         for a, m in zip(logits, lmu, strict=True)])
    inner = outer / (outer ** 2 + mpmath.mpf(1) / 4)
    z = logits
    for _ in range(inner_steps):
        z = _md(z, _oracle(P, _softmax(z)), magnet, inner, outer)
    return z


def _check_inner(method, inner_steps, responses, seed):
    if method not in INNER_METHODS:
        return
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 1:
        raise ValueError(f"method {method!r} needs inner_steps, an int ≥ 1, got {inner_steps!r}")
    if method == "nash-mp-inexact":
        if isinstance(responses, bool) or not isinstance(responses, int) or responses < 2:
            raise ValueError(f"responses must be an int ≥ 2, got {responses!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"method 'nash-mp-inexact' needs seed, an int ≥ 0, got {seed!r}")


def run(method, P, reference, init, beta, eta, iterations, metric, schedule=None,
        star_guess=None, inner_steps=None, responses=None, seed=None):
    """The values metric(π_k), k = 0..iterations, of ``method`` at 50 digits (mpf list).

    P, reference (μ), init (π₀, None = μ): float arrays/lists, read exactly (binary → mpf);
    beta, eta: floats (eta unused under a schedule); star_guess: an initial guess of log π*
    for the Newton solve (its accuracy does not matter); inner_steps (M): nash-mp-inexact
    and nash-prox; responses (S) and seed (the float run's seed): nash-mp-inexact."""
    return run_with_delta(method, P, reference, init, beta, eta, iterations, metric, schedule,
                          star_guess, inner_steps, responses, seed)[0]


def run_with_delta(method, P, reference, init, beta, eta, iterations, metric, schedule=None,
                   star_guess=None, inner_steps=None, responses=None, seed=None):
    """(values, deltas): ``run``'s values and, for nash-mp-inexact, its inexactness δ_k,
    k = 0..iterations (δ_0 = 0; mpf list), else None."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check_inner(method, inner_steps, responses, seed)
    rng = np.random.default_rng(seed) if method == "nash-mp-inexact" else None
    with mpmath.workdps(_WORK):
        n = len(reference)
        Pm = [_mpf_vector(row) for row in P]
        lmu = _normalize([mpmath.log(v) for v in _mpf_vector(reference)])
        b = mpmath.mpf(float(beta))
        logits = lmu if init is None else _normalize([mpmath.log(v) for v in _mpf_vector(init)])
        needs_star = metric in ("kl", "span")
        star = (equilibrium(Pm, lmu, b, None if star_guess is None else _mpf_vector(star_guess))
                if needs_star else None)
        etas = steps(None if eta is None else mpmath.mpf(float(eta)), b, iterations, schedule)
        total = [mpmath.mpf(0)] * n
        played = _softmax(logits)          # π̄_t of omwu (π̄_0 = π_0)
        average = played
        values = [_metric(metric, Pm, lmu, b, logits, star, average)]
        deltas = [mpmath.mpf(0)] if method == "nash-mp-inexact" else None
        for t, e in enumerate(etas):
            p = _softmax(logits)
            if method == "nash-mp":
                half = _prox(logits, _oracle(Pm, p), lmu, e, b)
                logits = _prox(logits, _oracle(Pm, _softmax(half)), lmu, e, b)
            elif method == "nash-mp-inexact":
                g = _oracle(Pm, p)
                half = _pg_prox(logits, g, lmu, e, b, inner_steps, responses, rng)
                new = _pg_prox(logits, _oracle(Pm, _softmax(half)), lmu, e, b, inner_steps,
                               responses, rng)
                exact = _prox(logits, _oracle(Pm, _softmax(_prox(logits, g, lmu, e, b))),
                              lmu, e, b)
                d = [x - y for x, y in zip(new, exact, strict=True)]
                deltas.append(max(d) - min(d))
                logits = new
            elif method == "nash-prox":
                logits = _nash_prox(logits, Pm, lmu, e, b, inner_steps)
            elif method == "egpo":
                half = _md(logits, _oracle(Pm, p), lmu, e, b)
                logits = _md(logits, _oracle(Pm, _softmax(half)), lmu, e, b)
            elif method == "nash-md":
                mix = _normalize([(1 - e * b) * a + e * b * m for a, m in zip(logits, lmu, strict=True)])
                g = _oracle(Pm, _softmax(mix))
                logits = _normalize([a + e * v for a, v in zip(mix, g, strict=True)])
            elif method == "omd":
                logits = _md(logits, _oracle(Pm, p), lmu, e, b)
            elif method == "mmd":
                logits = _prox(logits, _oracle(Pm, p), lmu, e, b)
            elif method == "omwu":
                played = _softmax(_md(logits, _oracle(Pm, played), lmu, e, b))
                logits = _md(logits, _oracle(Pm, played), lmu, e, b)
            else:  # hedge / sppo
                total = [s + q for s, q in zip(total, p, strict=True)]
                logits = _normalize([a + e * v for a, v in zip(logits, _oracle(Pm, p), strict=True)])
                average = [s / (t + 1) for s in total]
            values.append(_metric(metric, Pm, lmu, b, logits, star, average))
        return [+v for v in values], None if deltas is None else [+d for d in deltas]
