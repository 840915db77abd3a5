"""Theorems of robust dynamic programming, registered for ``nashlab verify`` (theory notes
dp_robust.md §3). Importing this module registers the ids "robust.*".

* robust VI is a γ-contraction per step, for every uncertainty set we implement
  (Iyengar 2005; Nilim & El Ghaoui 2005; s-rectangular: Wiesemann, Kuhn, Rustem 2013) —
  "derived": the proof is three lines (below) and holds for any rectangular set;
* robust PI with exact robust evaluation contracts by γ per step (Iyengar 2005) — "derived";
* robust policy mirror descent (Li, Lan, Zhao, arXiv 2209.10579) converges linearly with
  geometrically increasing steps — "slope-only": the abstract's O(log 1/ε) is verified,
  the theorem number and constants are not, so only the fitted rate is held against γ.
"""

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet, machine_replacement, riverswim
from nashlab.games.uncertainty import (
    Chi2Ball,
    Chi2Penalty,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    TVPenalty,
    WassersteinBall,
)
from nashlab.solvers.robust import run_robust
from nashlab.theory.registry import SYMBOLS, Assumption, Source, Theorem, register

k, prev, gamma, C1 = SYMBOLS["k"], SYMBOLS["prev"], SYMBOLS["gamma"], SYMBOLS["C1"]

IYENGAR = Source("Robust dynamic programming (Iyengar, Math. Oper. Res. 30(2), 2005)",
                 None, "Theorems 3 and 4 (robust value and policy iteration)")
NILIM = Source("Robust control of Markov decision processes with uncertain transition "
               "matrices (Nilim & El Ghaoui, Oper. Res. 53(5), 2005)", None,
               "Section 4 (robust value iteration)")
WIESEMANN = Source("Robust Markov decision processes (Wiesemann, Kuhn, Rustem, Math. Oper. "
                   "Res. 38(1), 2013)", None, "s-rectangular Bellman operator")
LI_LAN_ZHAO = Source("First-order Policy Optimization for Robust Markov Decision Process "
                     "(Li, Lan, Zhao)", "2209.10579",
                     "abstract: linear rate with increasing step sizes (theorem number and "
                     "constants UNVERIFIED)")

#: (label, uncertainty set) for which robust VI is checked
SETS = (
    ("l1-sa", L1Ball(0.3)),
    ("kl", KLBall(0.2)),
    ("chi2", Chi2Ball(0.3)),
    ("wasserstein", WassersteinBall(0.5)),
    ("lp2-sa", LpBall(2, 0.02, "sa")),
    ("l1-s", L1Ball(0.6, "s")),
    ("lp2-s", LpBall(2, 0.02, "s")),
    ("lpinf-s", LpBall(float("inf"), 0.02, "s")),
    ("kl-penalty", KLPenalty(0.5)),
    ("tv-penalty", TVPenalty(0.5)),
    ("chi2-penalty", Chi2Penalty(0.5)),
)

_CONTRACTION_PROOF = (
    "For every P_s in U_s and policy π_s, v ↦ Σ_a π_s(a)(r + γP_{s,a}·v) is γ-Lipschitz in "
    "‖·‖∞ (P_{s,a} is a distribution; a penalty λD(P‖P̄) does not depend on v). A min over "
    "P_s ∈ U_s and then a max over π_s of γ-Lipschitz maps is γ-Lipschitz, so "
    "‖T_U v − T_U w‖∞ ≤ γ‖v − w‖∞; take w = v* = T_U v*. For the L_p sets of Kumar et al. "
    "the proof needs P̄ + u ≥ 0 for every admissible u (min P̄ ≥ β suffices); without it the "
    "operator is not a contraction in general (counterexample in tests/solvers/test_robust.py).")

_IN_SIMPLEX = (Assumption("every kernel of the set is a distribution (L_p sets: min P̄ ≥ β)",
                          lambda p: bool(p.get("kernels_in_simplex", True))),)


def smoothed(mdp, weight=0.5):
    """The MDP with kernel (1 − w)P + w/S: full support, min P ≥ w/S (for the L_p sets)."""
    S = mdp.n_states
    return MDP((1 - weight) * mdp.dense_P() + weight / S, mdp.r, mdp.gamma)


def _mdps(quick, lp=False):
    """Labelled MDPs; with ``lp`` their smoothed versions (min P̄ = 1/(2S) ≥ β = 0.02)."""
    def family():
        yield "garnet(10,3,3,s=0,γ=0.9)", garnet(10, 3, 3, 0, gamma=0.9)
        yield "riverswim(γ=0.9)", riverswim(6, gamma=0.9)
        if not quick:
            yield "machine_replacement(γ=0.8)", machine_replacement(0.8)
            yield "garnet(20,4,5,s=1,γ=0.95)", garnet(20, 4, 5, 1, gamma=0.95)
    for label, mdp in family():
        yield (f"smoothed {label}", smoothed(mdp)) if lp else (label, mdp)


def _iters(quick, full):
    return max(full // 4, 10) if quick else full


def _suite_vi(sets):
    def suite(quick):
        for name, unc in sets:
            for label, mdp in _mdps(quick, lp=isinstance(unc, LpBall)):
                yield f"robust vi[{name}] {label}", run_robust(
                    mdp, "vi", uncertainty=unc, iterations=_iters(quick, 150))
    return suite


_per_step_gamma = dict(metric="value_error", bound=gamma * prev, form="per-step", rate=gamma,
                       status="derived", derivation=_CONTRACTION_PROOF)

def _set_is(unc) -> Assumption:
    """The assumption that a run's set is of ``unc``'s kind and rectangularity."""
    kind, rect = type(unc).__name__, unc.rectangularity
    return Assumption(f"U is an {rect}-rectangular {kind}",
                      lambda p: p.get("uncertainty") == kind and p.get("rectangularity") == rect)


for _name, _unc in SETS:
    _source = WIESEMANN if _unc.rectangularity == "s" else (
        NILIM if _name in ("kl", "chi2") else IYENGAR)
    register(Theorem(
        id=f"robust.vi.contraction.{_name}",
        algorithm=f"robust value iteration ({type(_unc).__name__}, "
                  f"{_unc.rectangularity}-rectangular)",
        statement="‖v_{k+1} − v*_U‖∞ ≤ γ‖v_k − v*_U‖∞ for v_{k+1} = T_U v_k",
        source=_source,
        methods=("robust-mdp/vi",),
        suite=_suite_vi(((_name, _unc),)),
        assumptions=(_set_is(_unc),) + (_IN_SIMPLEX if isinstance(_unc, LpBall) else ()),
        **_per_step_gamma))


def _suite_pi(quick):
    sets = SETS[:2] + SETS[5:6] if quick else SETS
    for name, unc in sets:
        for label, mdp in _mdps(quick, lp=isinstance(unc, LpBall)):
            yield f"robust pi[{name}] {label}", run_robust(mdp, "pi", uncertainty=unc, iterations=10)


register(Theorem(
    id="robust.pi.gamma",
    methods=("robust-mdp/pi",),
    algorithm="robust policy iteration (exact robust evaluation)",
    statement="‖v*_U − v^{π_{k+1}}_U‖∞ ≤ γ‖v*_U − v^{π_k}_U‖∞",
    metric="value_error",
    bound=gamma * prev,
    form="per-step",
    rate=gamma,
    source=IYENGAR,
    status="derived",
    assumptions=_IN_SIMPLEX,
    derivation="π_{k+1} is greedy for T_U at v^{π_k}: T^{π_{k+1}}_U v^{π_k} = T_U v^{π_k} ≥ "
               "T^{π_k}_U v^{π_k} = v^{π_k}. T^{π_{k+1}}_U is monotone and a γ-contraction, so "
               "v^{π_{k+1}} = lim_n (T^{π_{k+1}}_U)^n v^{π_k} ≥ T_U v^{π_k}, and 0 ≤ v* − "
               "v^{π_{k+1}} ≤ T_U v* − T_U v^{π_k} ≤ γ‖v* − v^{π_k}‖∞.",
    suite=_suite_pi))


def _suite_rpmd(quick):
    for name, unc in (SETS[:2] if quick else SETS[:5] + SETS[8:]):
        for label, mdp in _mdps(quick, lp=isinstance(unc, LpBall)):
            yield f"rpmd[{name}] {label}", run_robust(
                mdp, "rpmd", uncertainty=unc, iterations=60, eta=1.0, step_growth=1 / mdp.gamma)


register(Theorem(
    id="robust.rpmd.linear",
    methods=("robust-mdp/rpmd",),
    algorithm="robust policy mirror descent (KL), η_{k+1} = η_k/γ",
    statement="‖v*_U − v^{π_k}_U‖∞ ≤ C1·γ^k (linear rate with increasing steps; constant "
              "unknown)",
    metric="value_error",
    bound=C1 * gamma**k,
    rate=gamma,
    assumptions=_IN_SIMPLEX,
    source=LI_LAN_ZHAO,
    status="slope-only",
    suite=_suite_rpmd))
