"""Convergence theorems of entropy-regularized two-player zero-sum matrix games, registered
for ``nashlab verify`` (ids "<method>/matrix-game").

Symbols: B = KL(x*‖x_t) + KL(y*‖y_t) (the trajectory's "kl"), τ the entropy weight, η the
step size of ``nashlab.solvers.matrix_games.run_matrix_game``, L = max|A_ij| (params["L"]),
D0 = max_u KL(u‖ζ_0) = −log min x_0 − log min y_0 (params["D0"]).
Each ``suite(quick)`` returns labelled trajectories of ``run_matrix_game`` on random
A ~ U(−1, 1) games, from the uniform start and from a peaked one (logits ~ N(0, 4²)).

The PU / Mirror Prox contraction is derived here (``_EXTRAGRADIENT``) for the step
condition Cen, Wei and Chi state (η ≤ 1/(τ + L) in the mirror-descent form); their OMWU
constant could not be confirmed (the recalled form fails by 0.6 %, theory notes nlhf.md §4),
so OMWU is slope-only.
"""

import numpy as np
import sympy

from nashlab.games.matrix import random_matrix_game
from nashlab.solvers.matrix_games import run_matrix_game
from nashlab.theory.common import MMD_VERIFIED
from nashlab.theory.common import iterations_for as _iterations
from nashlab.theory.common import method_is as _method
from nashlab.theory.registry import SYMBOLS, Assumption, Source, Theorem, register

prev, eta, tau, k = SYMBOLS["prev"], SYMBOLS["eta"], SYMBOLS["tau"], SYMBOLS["k"]
err0, D0, C1 = SYMBOLS["err0"], SYMBOLS["D0"], SYMBOLS["C1"]

CEN_WEI_CHI = Source("Fast Policy Extragradient Methods for Competitive Games with Entropy "
                     "Regularization (Cen, Wei, Chi, NeurIPS 2021)", "2105.15186",
                     "Theorems 1 (PU) and 2 (OMWU); step conditions recalled")
NEMIROVSKI = Source("Prox-method with rate of convergence O(1/t) for variational inequalities "
                    "with Lipschitz continuous monotone operators and smooth convex-concave "
                    "saddle point problems (Nemirovski, SIAM J. Optim. 15(1), 2004)", None,
                    "Theorem 3.1 (ergodic gap of Mirror Prox; number recalled)")


# ---- suites ---------------------------------------------------------------------------

def _suite_matrix_mmd(quick):
    """MMD on random A ~ U(−1,1) matrix games with η = τ/L² (L = max|A_ij|)."""
    out = []
    for tau_value in ((0.1, 1.0) if quick else (0.05, 0.1, 0.5, 1.0)):
        game = random_matrix_game(8, 10, tau=tau_value, seed=3, batch_shape=(3,))
        step = tau_value / game.scale ** 2
        T = _iterations(1 / (1 + step * tau_value) ** 2, 1500 if quick else 8000)
        traj = run_matrix_game(game, "mmd", eta=step, iterations=T, track=("kl",))
        out.append((f"A~U(-1,1) 8×10 ×3 τ={tau_value:g} η={step:.4g}", traj))
    return out


def _peaked_start(m, n, seed):
    rng = np.random.default_rng(seed)
    x, y = 4.0 * rng.standard_normal(m), 4.0 * rng.standard_normal(n)
    return np.exp(x - x.max()) / np.exp(x - x.max()).sum(), np.exp(y - y.max()) / np.exp(
        y - y.max()).sum()


def _suite_extragradient(method, step):
    """``method`` ("pu", "omwu", "mirror-prox") at ``step(τ, L)``, uniform and peaked starts."""
    def suite(quick):
        out = []
        for tau_value in ((0.1, 1.0) if quick else (0.01, 0.1, 0.5, 1.0)):
            for start in ("uniform", "peaked"):
                game = random_matrix_game(8, 10, tau=tau_value, seed=5)
                s = step(tau_value, game.scale)
                md = s if method != "mirror-prox" else s / (1 + s * tau_value)
                T = _iterations((1 - md * tau_value) ** 2, 1500 if quick else 8000)
                init = _peaked_start(8, 10, 11) if start == "peaked" else None
                traj = run_matrix_game(game, method, eta=s, iterations=T, init=init,
                                       track=("kl",))
                out.append((f"A~U(-1,1) 8×10 τ={tau_value:g} η={s:.4g} {start} start", traj))
        return out
    return suite


def _suite_mirror_prox_ergodic(quick):
    """Unregularized (τ = 0) Mirror Prox at γ = 1/L on random and RPS-like games."""
    out = []
    for m, n, seed in ((4, 6, 1), (8, 10, 2)) + (() if quick else ((20, 30, 3), (3, 3, 4))):
        game = random_matrix_game(m, n, tau=0.0, seed=seed, batch_shape=(3,))
        for start in ("uniform", "peaked"):
            init = _peaked_start(m, n, seed) if start == "peaked" else None
            traj = run_matrix_game(game, "mirror-prox", eta=1 / game.scale,
                                   iterations=200 if quick else 2000, init=init,
                                   track=("duality_gap",))
            out.append((f"A~U(-1,1) {m}×{n} ×3 τ=0 γ=1/L {start} start", traj))
    return out


# ---- theorems ---------------------------------------------------------------------------

register(Theorem(
    id="mmd/matrix-game", algorithm="mmd",
    methods=("matrix/mmd",),
    statement="Entropy-regularized matrix game, MMD with η ≤ τ/L² (L = max|A_ij|): "
              "B(z*,z_{t+1}) ≤ B(z*,z_t)/(1+ητ), B = KL summed over the two players",
    metric="kl", bound=prev / (1 + eta * tau), source=MMD_VERIFIED, status="paper-verified",
    assumptions=(_method("mmd"),
                 Assumption("0 < η ≤ τ/L²", lambda p: 0 < p["eta"] <= p["tau"] / p["L"] ** 2
                            * (1 + 1e-12))),
    form="per-step", rate=1 / (1 + eta * tau),
    derivation="Theorem 3.4 with α = τ, ψ the sum of the players' negative entropies "
               "(1-strongly convex in √(‖x‖₁² + ‖y‖₁²)), F(x, y) = (−Ay, Aᵀx) with "
               "L = max|A_ij|; t = 1 from any iterate gives the per-step form.",
    suite=_suite_matrix_mmd))


_EXTRAGRADIENT = """Mirror Prox on the composite VI of the game: ζ = (x, y), F(ζ) = (−Ay, Aᵀx)
(monotone, ⟨F(ζ) − F(ζ'), ζ − ζ'⟩ = 0), g = τ·(negative entropies), D = KL summed over the
players, prox step h: w = prox_ζ(hF(ζ)), ζ⁺ = prox_ζ(hF(w)). PU with mirror-descent step η
is this map with h = η/(1−ητ) (x^{1−ητ}e^{ηAy} = exp((log x + hAy)/(1+hτ)), both steps
anchored at ζ_t). The three-point inequalities of the two prox steps (g is τ-strongly convex
relative to D), at u = ζ* and at u = ζ⁺, summed:
h[⟨F(w), w − ζ*⟩ + g(w) − g(ζ*)] + h⟨F(ζ) − F(w), w − ζ⁺⟩ ≤ D(ζ*,ζ) − (1+hτ)D(ζ*,ζ⁺)
− (1+hτ)D(ζ⁺,w) − D(w,ζ). The first bracket is ≥ 0 (monotone F, ζ* solves the VI). With the
norm ‖ζ‖ = √(‖x‖₁² + ‖y‖₁²), ‖F(ζ) − F(w)‖_* ≤ L‖ζ − w‖ (L = max|A_ij|) and Pinsker
D(a,b) ≥ ½‖a − b‖², the cross term is ≥ −hL[D(w,ζ) + D(ζ⁺,w)], so
(1+hτ)D(ζ*,ζ⁺) ≤ D(ζ*,ζ) − (1 − hL)D(w,ζ) − (1 + hτ − hL)D(ζ⁺,w): for hL ≤ 1, i.e.
η ≤ 1/(τ + L), D(ζ*,ζ_{t+1}) ≤ D(ζ*,ζ_t)/(1+hτ) = (1 − ητ)·D(ζ*,ζ_t)."""

register(Theorem(
    id="pu/matrix-game", algorithm="pu",
    methods=("matrix/pu",),
    statement="Entropy-regularized matrix game, PU (extragradient MWU) with η ≤ 1/(τ + L): "
              "B(ζ*,ζ_{t+1}) ≤ (1 − ητ)·B(ζ*,ζ_t), B = KL summed over the two players",
    metric="kl", bound=(1 - eta * tau) * prev, source=CEN_WEI_CHI, status="derived",
    assumptions=(_method("pu"),
                 Assumption("0 < η ≤ 1/(τ + L)", lambda p: 0 < p["eta"] <= 1 / (
                     p["tau"] + p["L"]) * (1 + 1e-12))),
    form="per-step", rate=1 - eta * tau, derivation=_EXTRAGRADIENT,
    suite=_suite_extragradient("pu", lambda t, L: 1 / (t + L))))

register(Theorem(
    id="mirror-prox/matrix-game", algorithm="mirror-prox",
    methods=("matrix/mirror-prox",),
    statement="Entropy-regularized matrix game, Mirror Prox (prox form) with γ ≤ 1/L: "
              "B(ζ*,ζ_{t+1}) ≤ B(ζ*,ζ_t)/(1 + γτ)",
    metric="kl", bound=prev / (1 + eta * tau), source=CEN_WEI_CHI, status="derived",
    assumptions=(_method("mirror-prox"),
                 Assumption("τ > 0", lambda p: p["tau"] > 0),
                 Assumption("0 < γ ≤ 1/L", lambda p: 0 < p["eta"] <= 1 / p["L"] * (1 + 1e-12))),
    form="per-step", rate=1 / (1 + eta * tau),
    derivation=_EXTRAGRADIENT + " Mirror Prox with step γ is the same map with h = γ.",
    suite=_suite_extragradient("mirror-prox", lambda t, L: 1 / L)))

register(Theorem(
    id="mirror-prox/ergodic-gap", algorithm="mirror-prox",
    methods=("matrix/mirror-prox",),
    statement="Unregularized matrix game (τ = 0), Mirror Prox with γ ≤ 1/L: the duality gap "
              "of the midpoint average w̄_T = (1/T)Σ_{t<T} w_t is ≤ max_u KL(u‖ζ_0)/(γT) "
              "(= (ln m + ln n)/(γT) from the uniform start)",
    metric="average_duality_gap",
    bound=sympy.Piecewise((sympy.oo, k < 1), (D0 / (eta * k), True)),
    source=NEMIROVSKI, status="derived",
    assumptions=(_method("mirror-prox"),
                 Assumption("τ = 0", lambda p: p["tau"] == 0),
                 Assumption("0 < γ ≤ 1/L", lambda p: 0 < p["eta"] <= 1 / p["L"] * (1 + 1e-12))),
    derivation="The two three-point inequalities with τ = 0 and any u, summed as in "
               "pu/matrix-game: γ⟨F(w_t), w_t − u⟩ ≤ D(u,ζ_t) − D(u,ζ_{t+1}) − (1−γL)[D(w_t,ζ_t) "
               "+ D(ζ_{t+1},w_t)] ≤ D(u,ζ_t) − D(u,ζ_{t+1}). Sum over t < T and use that F is "
               "linear and skew (⟨F(w), w − u⟩ = ⟨F(u), w − u⟩): ⟨F(u), w̄_T − u⟩ ≤ "
               "D(u,ζ_0)/(γT). For u = (x', y'), ⟨F(u), w̄ − u⟩ = x'ᵀAȳ − x̄ᵀAy'; the sup over u "
               "is DG_0(w̄_T), attained at vertices, where D(u,ζ_0) ≤ D0.",
    suite=_suite_mirror_prox_ergodic))

register(Theorem(
    id="omwu/matrix-game-slope", algorithm="omwu",
    methods=("matrix/omwu",),
    statement="Entropy-regularized matrix game, OMWU with η ≤ min{1/(2τ + 2L), 1/(4L)}: "
              "B(ζ*,ζ_t) decays linearly with per-step factor 1 − ητ (constant unverified)",
    metric="kl", bound=C1 * err0 * (1 - eta * tau) ** k, source=CEN_WEI_CHI,
    status="slope-only",
    assumptions=(_method("omwu"),
                 Assumption("0 < η ≤ min{1/(2τ+2L), 1/(4L)}", lambda p: 0 < p["eta"] <= min(
                     1 / (2 * p["tau"] + 2 * p["L"]), 1 / (4 * p["L"])) * (1 + 1e-12))),
    rate=1 - eta * tau,
    derivation="Cen, Wei, Chi Theorem 2 as recalled: max{KL(ζ*‖ζ̄_{t+1}), ½KL(ζ*‖ζ_t)} ≤ "
               "(1−ητ)^t KL(ζ*‖ζ_0); that constant is violated by up to 0.6 % at τ = 1e-3 "
               "(theory notes nlhf.md §4), so only the rate is asserted.",
    suite=_suite_extragradient("omwu", lambda t, L: min(1 / (2 * t + 2 * L), 1 / (4 * L)))))
