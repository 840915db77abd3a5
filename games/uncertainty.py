"""Uncertainty sets of robust MDPs, and robust-regularized penalties, as plain data.

The set is part of the objective, not of the model (MDPs.jl style): a solver receives
``(mdp, uncertainty)``. Theory notes dp_robust.md §3. For a nominal kernel P̄ and a value
vector v, the robust Q-function of an (s,a)-rectangular set is

    q_U(s, a) = r(s, a) + γ · min_{p ∈ U_{s,a}} p·v,

and an s-rectangular set couples the actions of a state (optimal policies may randomize).

Sets (the radius is a scalar, or one value per (s, a) of shape (S, A) for
rectangularity "sa", or per state of shape (S,) for "s"):

* ``L1Ball(radius, rectangularity, support)`` {p ∈ Δ_S : ‖p − P̄‖₁ ≤ ξ}; support "simplex"
  (default): mass may move to states P̄ never reaches (Iyengar 2005; Ho, Petrik, Wiesemann,
  arXiv 2006.09484 for "s"); support "nominal": p also stays on supp P̄_{s,a} (the L1 set of
  craam2, ``robust_l1u`` / ``robust_s_l1u``, whose inner problems take the nominal
  successors only);
* ``KLBall(radius)``                  {p ≪ P̄ : KL(p‖P̄) ≤ ρ} (Nilim & El Ghaoui 2005);
* ``Chi2Ball(radius)``                {p ≪ P̄ : Σ (p − P̄)²/P̄ ≤ ρ};
* ``LpBall(p, radius, rectangularity, reward_radius)`` the sets of Kumar, Derman, Geist,
  Mannor (arXiv 2205.14327 / 2301.13642): P̄ + u with Σ_s' u = 0 and ‖u‖_p ≤ β (no u ≥ −P̄),
  plus ‖r − r̄‖_p ≤ α. The closed forms are exact for this set; they are the robust value of
  the probability-constrained ball only where P̄ + u* ≥ 0 (otherwise a lower bound).
  The robust operators are γ-contractions when the whole set lies in the simplex
  (min P̄ ≥ β suffices); otherwise they need not be: with P̄ = δ₁ on 3 states, p = 2,
  β = 0.5, γ = 0.9 the (s,a) operator has local Lipschitz constant γ(1 + √2 β) ≈ 1.54
  (tests/solvers/test_robust.py::test_lp_operator_is_not_a_contraction_outside_the_simplex).
  p ≥ 1 (∞ allowed); p < 1 is rejected: the "ball" is not convex and Hölder duality, on
  which every closed form rests, fails;
* ``WassersteinBall(radius, cost)``   {p : W_d(p, P̄) ≤ ε} with ground cost d (S, S),
  or cost "line" (d = |i − j|) or "discrete" (d = 1[i ≠ j]).

Reward uncertainty: every ball but L_p also takes ``reward_radius`` α (a scalar or (S, A)),
the box |r(s, a) − r̄(s, a)| ≤ α_{s,a}, independent of the kernel's set; it is rectangular per
(s, a), so for either rectangularity and any π ≥ 0 nature's reward is r̄ − α (optimistic:
r̄ + α). ``LpBall``'s ``reward_radius`` is its own ‖r_s − r̄_s‖_p ≤ α_s ball ("s") instead.
Rewards paid on transitions, R(s, a, s'), which nature's kernel moves as well, are a solver
option (``solve_robust(..., transition_reward=R)``), not part of the set.

``optimistic=True`` on a ball (L1, KL, χ², L_p, Wasserstein) turns the inner min into a
max: the best case max_{p ∈ U} p·z = −min_{p ∈ U} p·(−z) (every ball is a set, so the same
oracle at −z gives it; craam2's ``optimistic_l1u``). Penalties have no optimistic form: the
best case max_p p·z + λD(p‖P̄) is +∞ for KL and χ² (a TypeError names the keyword).

Robust-regularized penalties (RRMDP, dp_robust.md §3.4): min over all p ∈ Δ_S of
p·v + λ D(p‖P̄) with D = KL (``KLPenalty``), TV = ½‖·‖₁ (``TVPenalty``) or χ² (``Chi2Penalty``).

``parse_uncertainty(spec)`` reads "l1:0.1", "l1s:0.5", "l1n:0.5" and "l1ns:0.5" (nominal
support, "sa" and "s"), "kl:0.05", "chi2:0.2", "lp2:0.1", "lp2s:0.1", "lpinf:0.1", "wass:0.1"
(line cost), "kl-pen:1", "tv-pen:0.5", "chi2-pen:1"; the prefix "opt-" makes a ball
optimistic ("opt-l1n:0.5").
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from nashlab.games._validation import as_float_array, check_scalar

RECTANGULARITIES = ("sa", "s")


def _radius(radius, name="radius"):
    """A non-negative scalar (float) or array of non-negative radii."""
    if np.ndim(radius) == 0:
        return check_scalar(radius, name, low=0.0)
    arr = as_float_array(radius, name)
    if arr.size == 0:
        raise ValueError(f"{name} must be a scalar or a non-empty array of radii, got an empty "
                         f"array of shape {arr.shape}")
    if arr.min() < 0:
        raise ValueError(f"{name} must be non-negative (found min {arr.min():.3g})")
    arr.setflags(write=False)
    return arr


def _broadcast(radius, shape, name, rectangularity):
    """The radius broadcast to ``shape`` (``(S, A)`` for "sa", ``(S,)`` for "s")."""
    arr = np.asarray(radius, dtype=np.float64)
    if arr.ndim and arr.shape != shape:
        raise ValueError(f"{name} for rectangularity {rectangularity!r} must be a scalar or have "
                         f"shape {shape}, got {arr.shape}")
    return np.broadcast_to(arr, shape).astype(np.float64)


def _rectangularity(value, allowed=RECTANGULARITIES):
    if value not in allowed:
        raise ValueError(f"rectangularity must be one of {allowed}, got {value!r}")
    return value


def _optimistic(value):
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"optimistic must be True or False, got {value!r}")
    return bool(value)


class _Set:
    """Shared behaviour: radii broadcast to the model's shape."""

    rectangularity = "sa"
    radius_name = "radius"
    optimistic = False
    reward_radius = 0.0

    def radii(self, n_states, n_actions):
        shape = (n_states, n_actions) if self.rectangularity == "sa" else (n_states,)
        return _broadcast(getattr(self, self.radius_name), shape, self.radius_name,
                          self.rectangularity)

    def reward_radii(self, n_states, n_actions):
        """The reward box half-widths α, shape (S, A) (zeros without reward uncertainty)."""
        return _broadcast(self.reward_radius, (n_states, n_actions), "reward_radius", "sa")


SUPPORTS = ("simplex", "nominal")


@dataclass(frozen=True, eq=False)
class L1Ball(_Set):
    """‖p − P̄_{s,a}‖₁ ≤ ξ_{s,a} ("sa"), or Σ_a ‖p_a − P̄_{s,a}‖₁ ≤ κ_s ("s"); p ∈ Δ_S
    (support "simplex") or p ∈ Δ_S with supp p ⊆ supp P̄_{s,a} (support "nominal", craam2)."""

    radius: object
    rectangularity: str = "sa"
    support: str = "simplex"
    optimistic: bool = False
    reward_radius: object = 0.0
    name = "l1"

    def __post_init__(self):
        object.__setattr__(self, "radius", _radius(self.radius))
        _rectangularity(self.rectangularity)
        if self.support not in SUPPORTS:
            raise ValueError(f"support must be one of {SUPPORTS}, got {self.support!r}")
        object.__setattr__(self, "optimistic", _optimistic(self.optimistic))
        object.__setattr__(self, "reward_radius", _radius(self.reward_radius, "reward_radius"))


@dataclass(frozen=True, eq=False)
class KLBall(_Set):
    """KL(p‖P̄_{s,a}) ≤ ρ_{s,a}, p supported on supp P̄_{s,a}."""

    radius: object
    optimistic: bool = False
    reward_radius: object = 0.0
    name = "kl"

    def __post_init__(self):
        object.__setattr__(self, "radius", _radius(self.radius))
        object.__setattr__(self, "optimistic", _optimistic(self.optimistic))
        object.__setattr__(self, "reward_radius", _radius(self.reward_radius, "reward_radius"))


@dataclass(frozen=True, eq=False)
class Chi2Ball(_Set):
    """Σ_s' (p(s') − P̄(s'))²/P̄(s') ≤ ρ_{s,a}, p supported on supp P̄_{s,a}."""

    radius: object
    optimistic: bool = False
    reward_radius: object = 0.0
    name = "chi2"

    def __post_init__(self):
        object.__setattr__(self, "radius", _radius(self.radius))
        object.__setattr__(self, "optimistic", _optimistic(self.optimistic))
        object.__setattr__(self, "reward_radius", _radius(self.reward_radius, "reward_radius"))


@dataclass(frozen=True, eq=False)
class LpBall(_Set):
    """Kumar et al. (arXiv 2301.13642) L_p set: P̄ + u, Σ_s' u = 0, ‖u‖_p ≤ β, ‖r − r̄‖_p ≤ α.

    "sa": the norm is per (s, a); "s": over the whole A×S block of a state. p ∈ [1, ∞].
    """

    p: float
    radius: object
    rectangularity: str = "s"
    reward_radius: object = 0.0
    optimistic: bool = False
    name = "lp"

    def __post_init__(self):
        if isinstance(self.p, float) and self.p == math.inf:
            p = math.inf
        else:
            p = check_scalar(self.p, "p")
            if p < 1:
                raise ValueError(f"p must be ≥ 1 (or inf), got {p}: for p < 1 the L_p 'ball' is "
                                 "not convex and the Hölder-dual closed forms do not hold")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "radius", _radius(self.radius))
        object.__setattr__(self, "reward_radius", _radius(self.reward_radius, "reward_radius"))
        _rectangularity(self.rectangularity)
        object.__setattr__(self, "optimistic", _optimistic(self.optimistic))

    @property
    def q(self):
        """The Hölder conjugate exponent, 1/p + 1/q = 1."""
        if self.p == 1.0:
            return math.inf
        if math.isinf(self.p):
            return 1.0
        return self.p / (self.p - 1.0)

    def reward_radii(self, n_states, n_actions):
        shape = (n_states, n_actions) if self.rectangularity == "sa" else (n_states,)
        return _broadcast(self.reward_radius, shape, "reward_radius", self.rectangularity)


@dataclass(frozen=True, eq=False)
class WassersteinBall(_Set):
    """W_d(p, P̄_{s,a}) ≤ ε_{s,a}: min_{π ≥ 0, π1 = P̄} Σ π_ij d_ij ≤ ε (Gao & Kleywegt 2016).

    cost: (S, S) non-negative with zero diagonal, or "line" (|i − j|) or "discrete" (1[i ≠ j]).
    """

    radius: object
    cost: object = "line"
    optimistic: bool = False
    reward_radius: object = 0.0
    name = "wasserstein"

    def __post_init__(self):
        object.__setattr__(self, "radius", _radius(self.radius))
        object.__setattr__(self, "optimistic", _optimistic(self.optimistic))
        object.__setattr__(self, "reward_radius", _radius(self.reward_radius, "reward_radius"))
        if isinstance(self.cost, str):
            if self.cost not in ("line", "discrete"):
                raise ValueError(f"cost must be an (S, S) array, 'line' or 'discrete', got {self.cost!r}")
            return
        cost = as_float_array(self.cost, "cost", ndim=2)
        if cost.shape[0] != cost.shape[1]:
            raise ValueError(f"cost must be square (S, S), got {cost.shape}")
        if cost.min() < 0 or np.any(np.diag(cost) != 0):
            raise ValueError("cost must be non-negative with a zero diagonal")
        cost.setflags(write=False)
        object.__setattr__(self, "cost", cost)

    def cost_matrix(self, n_states):
        idx = np.arange(n_states, dtype=np.float64)
        if isinstance(self.cost, str):
            d = np.abs(idx[:, None] - idx[None, :])
            return d if self.cost == "line" else (d > 0).astype(np.float64)
        if self.cost.shape != (n_states, n_states):
            raise ValueError(f"cost must have shape {(n_states, n_states)}, got {self.cost.shape}")
        return np.array(self.cost)


@dataclass(frozen=True, eq=False)
class _Penalty(_Set):
    """min_{p ∈ Δ_S} p·v + λ D(p‖P̄_{s,a}) (robust-regularized MDP, dp_robust.md §3.4)."""

    strength: object
    radius_name = "strength"

    def __post_init__(self):
        lam = _radius(self.strength, "strength")
        if np.any(np.asarray(lam) <= 0):
            raise ValueError("strength (λ) must be positive")
        object.__setattr__(self, "strength", lam)


class KLPenalty(_Penalty):
    """λ·KL(p‖P̄): inner value −λ log E_P̄ e^{−v/λ}."""

    name = "kl-penalty"


class TVPenalty(_Penalty):
    """λ·½‖p − P̄‖₁: inner value E_P̄[min(v, min_S v + λ)]."""

    name = "tv-penalty"


class Chi2Penalty(_Penalty):
    """λ·Σ (p − P̄)²/P̄: inner value by the KKT form p = P̄ (1 + (η − v)/(2λ))₊."""

    name = "chi2-penalty"


PENALTIES = (KLPenalty, TVPenalty, Chi2Penalty)
UNCERTAINTY_SETS = (L1Ball, KLBall, Chi2Ball, LpBall, WassersteinBall) + PENALTIES

_SIMPLE = {
    "l1": lambda x: L1Ball(x, "sa"),
    "l1s": lambda x: L1Ball(x, "s"),
    "l1n": lambda x: L1Ball(x, "sa", "nominal"),
    "l1ns": lambda x: L1Ball(x, "s", "nominal"),
    "kl": KLBall,
    "chi2": Chi2Ball,
    "wass": lambda x: WassersteinBall(x, "line"),
    "kl-pen": KLPenalty,
    "tv-pen": TVPenalty,
    "chi2-pen": Chi2Penalty,
}


def parse_uncertainty(spec: str):
    """Build a set from "kind:radius" (kinds: l1, l1s, l1n, l1ns (nominal support), kl, chi2,
    wass, kl-pen, tv-pen, chi2-pen, lp<p> and lp<p>s with p a number ≥ 1 or "inf", e.g.
    "lp2s:0.1"); "opt-<kind>:radius" is the optimistic ball (e.g. "opt-l1n:0.5")."""
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string like 'l1:0.1', got {type(spec).__name__}")
    kind, sep, value = spec.strip().lower().partition(":")
    if not sep or not value:
        raise ValueError(f"spec must look like 'kind:radius' (e.g. 'l1:0.1'), got {spec!r}")
    try:
        radius = float(value)
    except ValueError:
        raise ValueError(f"radius in spec {spec!r} must be a number, got {value!r}") from None
    if kind.startswith("opt-"):
        unc = parse_uncertainty(f"{kind[4:]}:{value}")
        if isinstance(unc, PENALTIES):
            raise ValueError(f"'opt-' applies to balls, not to the penalty {kind[4:]!r} in "
                             f"{spec!r}: its best case is unbounded")
        return dataclasses.replace(unc, optimistic=True)
    if kind in _SIMPLE:
        return _SIMPLE[kind](radius)
    if kind.startswith("lp"):
        body = kind[2:]
        rect = "s" if body.endswith("s") else "sa"
        body = body[:-1] if rect == "s" else body
        try:
            p = float(body)
        except ValueError:
            raise ValueError(f"lp spec must name p, e.g. 'lp2:0.1' or 'lpinfs:0.1', got {spec!r}") from None
        if math.isinf(p) and body not in ("inf", "infinity"):
            raise ValueError(f"p in spec {spec!r} overflows to inf ({body!r}); write 'inf' "
                             "for the L_inf ball")
        return LpBall(p, radius, rect)
    raise ValueError(f"unknown uncertainty kind {kind!r} in {spec!r}; known: "
                     f"{sorted(_SIMPLE) + ['lp<p>', 'lp<p>s']}, each ball also as 'opt-<kind>'")
