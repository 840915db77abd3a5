"""Known-false statements: the falsifier's benchmark.

Each is a ``Theorem`` that looks like one of the field's (a constant tightened, a condition
or a term dropped, a bound moved to the wrong iterate) and is false, with the reason it is.
``falsify`` must find each on its own, confirmed at 50 digits: the tests do at fixed seeds
and small budgets, and ``examples/falsify_known_false.py`` times them at the issue's 60 s.
They are not registered: ``check`` and ``falsify`` take the objects.
"""

from dataclasses import dataclass

import sympy

from nashlab.theory.registry import SYMBOLS, Assumption, Source, Theorem

beta, eta, prev, k, err0, n, vartheta, tau, D0, gamma, delta = (SYMBOLS[s] for s in (
    "beta", "eta", "prev", "k", "err0", "n", "vartheta", "tau", "D0", "gamma", "delta"))
ISSUE = Source("nashlab's known-false statements (issue 12)", None, "known false")


@dataclass(frozen=True)
class KnownFalse:
    """A false ``theorem`` and why it is false; it is searched in the instance space
    ``falsify`` derives from the theorem's algorithm and assumptions."""

    theorem: Theorem
    why: str


def _false(id, algorithm, statement, metric, bound, *assumptions, form="envelope", methods=()):
    return Theorem(id=f"false/{id}", algorithm=algorithm, statement=statement, metric=metric,
                   bound=bound, source=ISSUE, status="derived", form=form,
                   assumptions=assumptions, methods=methods)


POSITIVE_BETA = Assumption("β > 0", lambda p: p["beta"] > 0)
ETA_2 = Assumption("η = 2", lambda p: p.get("eta") == 2.0)

SPAN_STEP = _false(
    "nash-mp-span-step", "nash-mp", "span(log π_k − log π*) shrinks by 1/(1+2β) every step",
    "span", prev / (1 + 2 * beta), POSITIVE_BETA, ETA_2, form="per-step")
FASTER = _false(
    "nash-mp-faster", "nash-mp", "Nash-MP contracts KL(π*‖π_k) by (1+2β)^-2 every step", "kl",
    prev / (1 + 2 * beta) ** 2, POSITIVE_BETA, ETA_2, form="per-step")
NO_FLOOR = _false(
    "nash-md-no-floor", "nash-md", "Nash-MD with a constant step: KL_k ≤ (1−ηβ)^k KL_0", "kl",
    (1 - eta * beta) ** k * err0, POSITIVE_BETA,
    Assumption("constant step", lambda p: p.get("schedule") is None),
    Assumption("ηβ ≤ 1", lambda p: p["eta"] is not None and p["eta"] * p["beta"] <= 1))
HEDGE_LAST = _false(
    "hedge-last-iterate", "hedge", "Hedge's last iterate meets the averaged-iterate bound",
    "unregularized_exploitability", sympy.log(n) / (eta * k) + eta / 8,
    Assumption("π₀ uniform", lambda p: p.get("init") == "uniform"))
XIAO_UNSCALED = _false(
    "xiao-thm10-unscaled", "npg", "δ_k + D*_k/((ϑ−1)η_k) ≤ (1 − 1/ϑ)^k[δ_0 + D*_0/((ϑ−1)η_0)]",
    "xiao_potential_unscaled", err0 * (1 - 1 / vartheta) ** k,
    Assumption("η_{k+1}(ϑ−1) ≥ η_kϑ", lambda p: p["vartheta"] > 1 and p["step_growth"]
               >= p["vartheta"] / (p["vartheta"] - 1) * (1 - 1e-12)),
    methods=("mdp/npg",))
MMD_ANY_STEP = _false(
    "mmd-any-step", "mmd", "MMD contracts B by 1/(1+ητ) for every η ≤ 1/τ", "kl",
    prev / (1 + eta * tau), Assumption("0 < η ≤ 1/τ", lambda p: 0 < p["eta"] <= 1 / p["tau"]),
    form="per-step", methods=("matrix/mmd",))
HALF_GAP = _false(
    "mirror-prox-half-gap", "mirror-prox", "gap of the midpoint average ≤ D0/(2γT)",
    "average_duality_gap", sympy.Piecewise((sympy.oo, k < 1), (D0 / (2 * eta * k), True)),
    Assumption("τ = 0", lambda p: p["tau"] == 0),
    Assumption("0 < γ ≤ 1/L", lambda p: 0 < p["eta"] <= 1 / p["L"]),
    methods=("matrix/mirror-prox",))
SHAPLEY_GAMMA_SQUARED = _false(
    "shapley-gamma-squared", "shapley", "‖v_{k+1} − v*‖∞ ≤ γ²‖v_k − v*‖∞", "value_error",
    gamma ** 2 * prev, Assumption("τ = 0", lambda p: p.get("tau") == 0), form="per-step",
    methods=("markov-game/shapley",))
ROBUST_GAMMA_SQUARED = _false(
    "robust-vi-gamma-squared", "robust value iteration (L1Ball, sa)",
    "‖v_{k+1} − v*_U‖∞ ≤ γ²‖v_k − v*_U‖∞", "value_error", gamma ** 2 * prev,
    Assumption("U is an sa-rectangular L1Ball", lambda p: p.get("uncertainty") == "L1Ball"
               and p.get("rectangularity") == "sa"),
    form="per-step", methods=("robust-mdp/vi",))


def _inexact(id, bound, statement):
    return _false(id, "nash-mp-inexact", statement, "kl", bound, POSITIVE_BETA,
                  Assumption("0 < η ≤ 2", lambda p: p["eta"] is not None and 0 < p["eta"] <= 2),
                  form="per-step", methods=("preference/nash-mp-inexact",))


INEXACT_NO_DELTA = _inexact("nash-mp-inexact-no-delta", prev / (1 + eta * beta),
                            "inexact Nash-MP: KL_{k+1} ≤ KL_k/(1+ηβ)")
INEXACT_DELTA_OVER_100 = _inexact("nash-mp-inexact-delta-over-100",
                                  prev / (1 + eta * beta) + delta / 100,
                                  "inexact Nash-MP: KL_{k+1} ≤ KL_k/(1+ηβ) + δ/100")

KNOWN_FALSE = (
    KnownFalse(SPAN_STEP, "the span is not contracted per step on peaked μ; only "
               "(1+2β)^{-k/2} is guaranteed (nlhf.md, Nash-MP span [D])"),
    KnownFalse(FASTER, "1/(1+2β) per step is nearly tight in transients (nlhf.md, "
               "Nash-MP numerics: worst ratio 0.9994 at β = 1e-3)"),
    KnownFalse(NO_FLOOR, "a constant step leaves an O(η) floor: the envelope's own term"),
    KnownFalse(HEDGE_LAST, "the bound is for the averaged iterate; the last one cycles"),
    KnownFalse(XIAO_UNSCALED, "Xiao's Theorem 10 carries 1/(1−γ) on δ_k (dp_robust.md; "
               "ratio 1.137 on RiverSwim, γ = 0.9, η₀ = 0.1)"),
    KnownFalse(MMD_ANY_STEP, "MMD's contraction needs η ≤ τ/L²; η ≤ 1/τ is not enough"),
    KnownFalse(HALF_GAP, "the ergodic gap's constant D0/(γT) is nearly attained (tightness "
               "0.98)"),
    KnownFalse(SHAPLEY_GAMMA_SQUARED, "γ is attained, e.g. with one state"),
    KnownFalse(ROBUST_GAMMA_SQUARED, "γ is attained by the robust Bellman operator too"),
    KnownFalse(INEXACT_NO_DELTA, "an inexact prox step can lose up to δ = "
               "span(log π̃ − log π) per step (nlhf.md, approximate Nash-MP [D])"),
    KnownFalse(INEXACT_DELTA_OVER_100, "a hundredth of the δ term is not enough"),
)
