"""The robust-MDP instance space of ``nashlab.theory.falsify``, with a smooth parametrisation.

An instance is a discrete ``RobustSpec`` (S, A, iterations, the kernel's structure, the
uncertainty set's kind, the start) plus a real vector θ that CMA-ES moves freely; ``decode``
maps it onto a nominal MDP (``nashlab.games.MDP``) and a set of ``nashlab.games.uncertainty``:

* P̄, r as in ``mdp_space`` (its ``_kernel``: structures "garnet", "chain", "absorbing";
  softmax logits |u| ≤ ``kernel_logit``, r = σ(w) ∈ [0, 1]), γ log-linear in 1 − γ;
* the set: ``SETS`` (the labels of ``theory/robust_theorems.SETS``, plus "l1n-sa", "l1n-s":
  L1 with nominal support), its radius log-linear in ``radius`` (balls), its strength λ in
  ``strength`` (penalties), and for the L_p sets of Kumar et al. β = f·min P̄ with f
  log-linear in ``lp_fraction`` (the set then lies in the simplex for f ≤ 1); Wasserstein
  with the line cost |i − j|;
* the kind: the spec's, or, where the claim's assumptions reject it (each
  robust.vi.contraction.<set> fixes the kind and rectangularity), the first kind of
  ``sets`` after it that they admit (probed on the prospective params), so no draw is
  wasted on a set the claim is not about;
* v₀ = 0 or (2/(1−γ))·tanh(c/4) for "vi"; π₀ uniform or softmax(c) rows (|c| ≤
  ``start_logit``) for "pi" and "rpmd"; rpmd's η₀ log-linear in ``eta``, η_{k+1} = η_k/γ.

θ = 0 decodes to uniform kernels, r = ½, γ, the radius and η at the geometric middles of
their ranges, uniform starts.

This module is the "robust-mdp" family of ``theory/families.py``: its 50-digit twin is
``theory/highprec_robust.py`` (vi and pi, value_error, for the (s,a)-rectangular sets L1
(both supports), KL, χ², and the KL, TV and χ² penalties). Not certified (reported as
unconfirmed): the s-rectangular sets (their Bellman update is a min–max over coupled
actions with randomized policies, not written at 50 digits yet), Wasserstein (a transport
LP per row) and the L_p sets (Kumar et al.'s closed forms), and rpmd (slope-only: never a
counterexample). Shrinking drops an action (A ≥ 2), rounds γ, the radius, η (1–3
significant digits) and r (0–3 decimals), and tries the default start.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nashlab.games.mdp import MDP
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
from nashlab.theory import highprec_robust
from nashlab.theory.instance_spaces import _bounded, _sigmoid, round_sig
from nashlab.theory.mdp_space import _kernel, _log_range, _softmax_rows

STRUCTURES = ("garnet", "chain", "absorbing")
#: label -> (the set of radius x, its 50-digit kind or None, the range its x is drawn from)
SETS = {
    "l1-sa": (lambda x: L1Ball(x, "sa"), "l1", "radius"),
    "l1n-sa": (lambda x: L1Ball(x, "sa", "nominal"), "l1-nominal", "radius"),
    "kl": (KLBall, "kl", "radius"),
    "chi2": (Chi2Ball, "chi2", "radius"),
    "wasserstein": (lambda x: WassersteinBall(x, "line"), None, "radius"),
    "lp2-sa": (lambda x: LpBall(2, x, "sa"), None, "lp_fraction"),
    "l1-s": (lambda x: L1Ball(x, "s"), None, "radius"),
    "l1n-s": (lambda x: L1Ball(x, "s", "nominal"), None, "radius"),
    "lp2-s": (lambda x: LpBall(2, x, "s"), None, "lp_fraction"),
    "lpinf-s": (lambda x: LpBall(math.inf, x, "s"), None, "lp_fraction"),
    "kl-penalty": (KLPenalty, "kl-penalty", "strength"),
    "tv-penalty": (TVPenalty, "tv-penalty", "strength"),
    "chi2-penalty": (Chi2Penalty, "chi2-penalty", "strength"),
}
#: the methods of family "robust-mdp": their start kind, step, the sets they take
METHODS = {
    "vi": {"value_init": True, "step": False, "sets": tuple(SETS)},
    "pi": {"value_init": False, "step": False, "sets": tuple(SETS)},
    "rpmd": {"value_init": False, "step": True,
             "sets": tuple(s for s in SETS if not s.endswith("-s"))},
}


@dataclass(frozen=True)
class RobustSpec:
    """The discrete part of a robust-MDP instance (``set``: a label of ``SETS``)."""

    S: int
    A: int
    iterations: int
    structure: str = "garnet"
    set: str = "l1-sa"
    start: str = "uniform"


@dataclass(frozen=True)
class RobustInstance:
    """A decoded instance: the nominal MDP, the set (label, radius), the method's options."""

    mdp: MDP
    method: str
    set_label: str
    radius: float
    eta: float | None
    iterations: int
    init: np.ndarray | None
    label: str = ""
    family: str = field(default="robust-mdp", init=False)

    @property
    def problem(self):
        return self.mdp

    @property
    def uncertainty(self):
        return SETS[self.set_label][0](self.radius)

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        options = {"iterations": self.iterations, "init": self.init,
                   "uncertainty": self.uncertainty}
        if self.eta is not None:
            options.update(eta=self.eta, step_growth=1.0 / self.mdp.gamma)
        return options

    @property
    def init_label(self) -> str:
        """params["init"] as the run records it ("zeros"/"uniform" without init, "given")."""
        if self.init is not None:
            return "given"
        return "zeros" if METHODS[self.method]["value_init"] else "uniform"

    def describe(self) -> dict:
        return {"S": self.mdp.n_states, "A": self.mdp.n_actions, "gamma": self.mdp.gamma,
                "structure": self.label, "set": self.set_label, "radius": self.radius,
                "eta": self.eta, "iterations": self.iterations, "start": self.init_label}

    HIGH_PRECISION_CONSTANTS = ()

    @property
    def size(self) -> int:
        return self.mdp.n_states

    def prospective_params(self) -> dict:
        """The params ``run_robust`` records, as far as assumptions read them."""
        from nashlab.solvers.robust_bellman import RobustBellman

        params = {"family": "robust-mdp", "method": self.method, "gamma": self.mdp.gamma,
                  "n_states": self.mdp.n_states, "n_actions": self.mdp.n_actions,
                  "iterations": self.iterations, "init": self.init_label,
                  **RobustBellman(self.mdp, self.uncertainty).describe()}
        if self.eta is not None:
            params.update(eta=self.eta, step_growth=1.0 / self.mdp.gamma)
        return params

    def certifiable(self, theorem) -> bool:
        return (self.method in highprec_robust.METHODS and SETS[self.set_label][1] is not None
                and theorem.metric in highprec_robust.METRICS)

    def high_values(self, theorem, iterations):
        """(value_error at 50 digits, {}, None)."""
        values, constants = highprec_robust.run(
            self.method, SETS[self.set_label][1], self.mdp.dense_P(), self.mdp.r,
            self.mdp.gamma, self.radius, self.init, iterations, theorem.metric)
        return values, constants, None

    def smaller(self):
        """The MDPs without one action (A ≥ 2; a policy start renormalised)."""
        A = self.mdp.n_actions
        for a in range(A if A >= 2 else 0):
            keep = np.delete(np.arange(A), a)
            init = self.init
            if init is not None and not METHODS[self.method]["value_init"]:
                init = init[:, keep] / init[:, keep].sum(axis=1, keepdims=True)
            yield replace(self, mdp=MDP(self.mdp.dense_P()[:, keep], self.mdp.r[:, keep],
                                        self.mdp.gamma), init=init)

    def shrink_moves(self):
        """Rounding moves, coarsest first: γ, the radius, η, rewards to 0–3 decimals, the
        default start."""
        def with_mdp(inst, gamma=None, r=None):
            gamma = inst.mdp.gamma if gamma is None else gamma
            if not 0 < gamma < 1:
                return None
            return replace(inst, mdp=MDP(inst.mdp.P, inst.mdp.r if r is None else r, gamma))

        def with_radius(inst, radius):
            return replace(inst, radius=radius) if radius > 0 else None

        yield [lambda i, d=d: with_mdp(i, gamma=round_sig(i.mdp.gamma, d)) for d in (1, 2, 3)]
        yield [lambda i, d=d: with_radius(i, round_sig(i.radius, d)) for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.eta is None else replace(i, eta=round_sig(i.eta, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: with_mdp(i, r=np.round(i.mdp.r, d)) for d in (0, 1, 2, 3)]
        yield [lambda i: None if i.init is None else replace(i, init=None)]

    def counterexample_params(self) -> dict:
        return {"method": self.method, "gamma": self.mdp.gamma, "set": self.set_label,
                "kind": SETS[self.set_label][1], "radius": self.radius, "eta": self.eta,
                "iterations": self.iterations,
                "init": None if self.init is None else np.asarray(self.init).tolist(),
                "structure": self.label}


@dataclass(frozen=True)
class RobustSpace:
    """Robust MDPs (nominal ``MDP`` + an uncertainty set) for a method of family
    "robust-mdp" (module docstring).

    S, A, iterations : int or (low, high) inclusive; gamma : (low, high) ⊂ (0, 1), or a float;
    radius, strength, lp_fraction, eta : (low, high) log ranges (balls' radius, penalties' λ,
    the L_p radius as a fraction of min P̄, rpmd's η₀); structures, sets, starts : the discrete
    choices tried (sets narrowed to those the method takes); kernel_logit, start_logit :
    bounds of the logits of P̄, r and of far starts.
    """

    method: str
    S: int | tuple = (2, 5)
    A: int | tuple = (2, 3)
    gamma: float | tuple = (0.5, 0.99)
    radius: tuple = (1e-3, 2.0)
    strength: tuple = (1e-2, 10.0)
    lp_fraction: tuple = (1e-2, 1.0)
    eta: tuple = (1e-2, 1e2)
    iterations: tuple = (1, 60)
    structures: tuple = STRUCTURES
    sets: tuple | None = None
    starts: tuple = ("uniform", "free")
    kernel_logit: float = 40.0
    start_logit: float = 10.0
    family: str = field(default="robust-mdp", init=False)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        for name in ("S", "A", "iterations", "gamma", "radius", "strength", "lp_fraction",
                     "eta"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.S[0] < 2 or self.A[0] < 1 or self.iterations[0] < 1:
            raise ValueError(f"need S ≥ 2, A ≥ 1, iterations ≥ 1, got S={self.S}, A={self.A}, "
                             f"iterations={self.iterations}")
        if not (0 < self.gamma[0] and self.gamma[1] < 1):
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        for name in ("radius", "strength", "lp_fraction", "eta"):
            if getattr(self, name)[0] <= 0:
                raise ValueError(f"{name} range must be > 0, got {getattr(self, name)}")
        takes = METHODS[self.method]["sets"]
        sets = takes if self.sets is None else tuple(self.sets)
        if not sets or set(sets) - set(SETS):
            raise ValueError(f"sets must be a non-empty subset of {tuple(SETS)}, got {sets!r}")
        usable = tuple(s for s in sets if s in takes)
        if not usable:
            raise ValueError(f"method {self.method!r} takes sets {takes}, got {sets!r}")
        object.__setattr__(self, "sets", usable)
        for name, allowed in (("structures", STRUCTURES), ("starts", ("uniform", "free"))):
            value = tuple(getattr(self, name))
            if not value or set(value) - set(allowed):
                raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {value!r}")

    def narrowed(self, **changes) -> "RobustSpace":
        return replace(self, **changes)

    def dimension(self, spec: RobustSpec) -> int:
        S, A = spec.S, spec.A
        return S * A * S + 2 * S * A + S + 3

    def specs(self, draw_int, draw_bool, draw_choice) -> RobustSpec:
        """A RobustSpec from the three drawing callables (the hypothesis strategy)."""
        return RobustSpec(S=draw_int(*self.S), A=draw_int(*self.A),
                          iterations=draw_int(*self.iterations),
                          structure=draw_choice(self.structures), set=draw_choice(self.sets),
                          start=draw_choice(self.starts))

    def decode(self, spec: RobustSpec, theta, admissible) -> RobustInstance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if they admit no set of ``sets`` on this MDP)."""
        S, A = spec.S, spec.A
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(spec),):
            raise ValueError(f"theta must have shape ({self.dimension(spec)},), got {theta.shape}")
        m = S * A * S
        u = _bounded(theta[:m], self.kernel_logit).reshape(S, A, S)
        w = _bounded(theta[m:m + S * A], self.kernel_logit).reshape(S, A)
        c = theta[m + S * A:m + 2 * S * A].reshape(S, A)
        v0 = theta[m + 2 * S * A:m + 2 * S * A + S]
        t_gamma, t_radius, t_eta = theta[-3:]
        lo, hi = (math.log1p(-g) for g in self.gamma)
        gamma = float(-np.expm1(lo + (hi - lo) * _sigmoid(t_gamma))) if hi < lo else self.gamma[0]
        mdp = MDP(_kernel(spec.structure, u), _sigmoid(w), gamma)
        if spec.start == "uniform":
            init = None
        elif METHODS[self.method]["value_init"]:
            init = 2.0 / (1.0 - gamma) * np.tanh(v0 / 4.0)
        else:
            init = _softmax_rows(_bounded(c, self.start_logit))
            if not np.all(init > 0):
                return None
        eta = _log_range(self.eta, t_eta) if METHODS[self.method]["step"] else None
        first = self.sets.index(spec.set) if spec.set in self.sets else 0
        min_p = float(mdp.dense_P().min())
        for label in self.sets[first:] + self.sets[:first]:
            scale = SETS[label][2]
            x = _log_range(getattr(self, scale), t_radius)
            if scale == "lp_fraction":
                if min_p <= 0:
                    continue
                x *= min_p
            instance = RobustInstance(mdp, self.method, label, float(x), eta, spec.iterations,
                                      init, spec.structure)
            try:
                if admissible(instance.prospective_params()):
                    return instance
            except ValueError:
                continue
        return None


# ---- the family protocol (theory/families.py) -----------------------------------------------
def space_for_method(method: str):
    """The default robust-MDP space of ``method`` (a method of family "robust-mdp"), or None."""
    return RobustSpace(method=method) if method in METHODS else None


def problem_arrays(mdp) -> dict:
    return {"P": mdp.dense_P(), "r": np.asarray(mdp.r)}


def problem_from_arrays(arrays, params) -> MDP:
    return MDP(arrays["P"], arrays["r"], params["gamma"])


def problem_size(mdp) -> str:
    return f"S = {mdp.n_states}, A = {mdp.n_actions}"


HIGH_PRECISION = highprec_robust

REPRODUCTION_EVALUATE = '''

def reproduce_values(meta, data):
    """(metric values at 50 digits, the bound's symbols this run fixes)."""
    p = meta["params"]
    init = data["init"].tolist() if meta["has_init"] else None
    print(f"set {p['set']} (50-digit kind {p['kind']}), radius {p['radius']!r}, "
          f"gamma {p['gamma']!r}, method {p['method']}")
    values, constants = run(p["method"], p["kind"], data["P"].tolist(), data["r"].tolist(),
                            p["gamma"], p["radius"], init, p["iterations"],
                            meta["claim"]["metric"])
    return values, {"gamma": mpmath.mpf(p["gamma"]), "eta": mpmath.mpf(p["eta"] or 0),
                    **constants}
'''
