"""The MDP instance space of ``nashlab.theory.falsify``, with a smooth parametrisation.

An instance is a discrete ``MDPSpec`` (S, A, iterations, the kernel's structure, the start,
the regularizer, the step rule) plus a real vector θ that CMA-ES moves freely; ``decode``
maps it onto a valid MDP by construction (theory notes dp_robust.md conventions: r ∈ [0, 1],
reward maximisation):

* P(·|s, a) = softmax(u_{s,a,·}) with |u| ≤ ``kernel_logit`` (σ-saturation gives exact zeros:
  near-deterministic and deterministic rows), on a support fixed by the structure:
  "garnet" all S next states; "chain" s − 1, s, s + 1 (RiverSwim-like birth–death chains);
  "absorbing" a Garnet whose last state is absorbing (P(S−1|S−1, a) = 1); "riverswim" the
  fixed RiverSwim kernel and rewards of ``games.mdp_problems.riverswim`` (θ moves γ, η, π₀);
* r = σ(w) ∈ [0, 1] entrywise (|w| ≤ ``kernel_logit``: rewards 0 and 1 exactly reachable);
* γ = 1 − (1 − γ_lo)^{1−t}(1 − γ_hi)^t, t = σ(θ_γ): log(1 − γ) linear in t, up to γ_hi = 0.999;
* τ (regularizers "entropy", "kl" to a fixed reference ∝ (1, …, 2), "tsallis") log-linear in
  ``tau``; the step η log-linear in the interval the claim's assumptions allow at the decoded
  (MDP, τ) (probed on the params of a 0-iteration run, as ``instance_spaces.step_sizes``
  does), or the admissible isolated values (e.g. Lan's η = (1−γ)/(γτ), Cen's (1−γ)/τ);
* π₀ uniform or softmax(c) rows (|c| ≤ ``start_logit``) for policy methods; v₀ = 0 or
  (2/(1−γ))·tanh(c/4) for value methods ("vi", "mpi");
* npg's step growth η_{k+1} = η_k·g: g = 1 ("constant"), 1/γ ("inverse-gamma", Xiao's rule),
  or ϑ_ρ/(ϑ_ρ − 1) ("tight": the smallest g Theorem 10 allows, ϑ_ρ from the MDP's solution).

Bounded coordinates use x ↦ L·tanh(x/L); θ = 0 decodes to uniform kernels, r = ½, γ at the
geometric middle of its range, π₀ uniform.

This module is the "mdp" family of ``theory/families.py``: its 50-digit twin is
``theory/highprec_mdp.py`` (vi and npg unregularized, npg-entropy with its entropy);
shrinking keeps the state space and rounds γ, η (npg's growth re-derived from its rule) and
r (0–3 decimals), and tries the default start.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nashlab.games.mdp import MDP
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.theory import highprec_mdp
from nashlab.theory.instance_spaces import _SPECIAL_ETAS, _bisect, _bounded, _sigmoid, round_sig

STRUCTURES = ("garnet", "chain", "absorbing", "riverswim")
REGULARIZERS = (None, "entropy", "kl", "tsallis")
GROWTHS = ("constant", "inverse-gamma", "tight")
#: the methods of family "mdp" the space runs: their start kind, step, regularizers allowed
METHODS = {
    "vi": {"value_init": True, "step": False, "regularizers": (None, "entropy", "kl", "tsallis")},
    "mpi": {"value_init": True, "step": False, "regularizers": (None, "entropy", "tsallis")},
    "npg": {"value_init": False, "step": True, "regularizers": (None,)},
    "npg-entropy": {"value_init": False, "step": True, "regularizers": ("entropy",)},
    "pmd": {"value_init": False, "step": True, "regularizers": ("entropy", "kl")},
}


@dataclass(frozen=True)
class MDPSpec:
    """The discrete part of an MDP instance (``sweeps``: mpi's m; ``noise``: npg-entropy's
    q_noise δ)."""

    S: int
    A: int
    iterations: int
    structure: str = "garnet"
    start: str = "uniform"
    regularizer: str | None = None
    growth: str = "constant"
    sweeps: int = 1
    noise: float = 0.0

    @property
    def n(self) -> int:
        return self.S


@dataclass(frozen=True)
class MDPInstance:
    """A decoded MDP instance: the MDP, the method's options and its exact solution."""

    mdp: MDP
    method: str
    eta: float | None
    iterations: int
    init: np.ndarray | None
    regularizer: object = None
    options: dict = field(default_factory=dict)
    label: str = ""
    growth_rule: str = "constant"
    solution: object = field(default=None, compare=False, repr=False)
    family: str = field(default="mdp", init=False)

    @property
    def problem(self):
        return self.mdp

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        options = {"iterations": self.iterations, "init": self.init,
                   "regularizer": self.regularizer, "solution": self.solution, **self.options}
        if self.eta is not None:
            options["eta"] = self.eta
        if self.method == "npg-entropy":
            options["seed"] = 0
        return options

    @property
    def init_label(self) -> str:
        """params["init"] as the run records it ("uniform"/"zeros" without init, "given")."""
        if self.init is not None:
            return "given"
        return "zeros" if METHODS[self.method]["value_init"] else "uniform"

    def describe(self) -> dict:
        return {"S": self.mdp.n_states, "A": self.mdp.n_actions, "gamma": self.mdp.gamma,
                "structure": self.label, "regularizer": repr(self.regularizer),
                "eta": self.eta, "iterations": self.iterations, "start": self.init_label,
                **{k: v for k, v in self.options.items() if k != "seed"}}

    #: bound symbols the 50-digit run recomputes from the 50-digit solution
    HIGH_PRECISION_CONSTANTS = ("vartheta", "D0", "C1", "C2")

    @property
    def size(self) -> int:
        return self.mdp.n_states

    def prospective_params(self):
        """None: the params assumptions read (ϑ_ρ, ...) come from the run itself."""
        return None

    def certifiable(self, theorem) -> bool:
        regularizer = getattr(self.regularizer, "name", None)
        return (self.method in highprec_mdp.METHODS
                and regularizer == ("entropy" if self.method == "npg-entropy" else None)
                and theorem.metric in highprec_mdp.METRICS[self.method])

    def _noise_draws(self, iterations):
        """npg-entropy's float noise δ·u_t, u_t = rng.uniform(−1, 1, (S, A)) per step t."""
        rng = np.random.default_rng(self.run_options().get("seed"))
        return [rng.uniform(-1.0, 1.0, size=self.mdp.r.shape) for _ in range(iterations)]

    def high_values(self, theorem, iterations):
        """(metric at 50 digits, the run's constants ϑ_ρ, D*_0, ... at 50 digits, None)."""
        extra = {}
        if self.method == "npg-entropy":
            delta = float(self.options.get("q_noise", 0.0))
            extra = {"tau": self.regularizer.tau, "q_noise": delta,
                     "draws": self._noise_draws(iterations) if delta > 0 else None}
        values, constants = highprec_mdp.run(
            self.method, self.mdp.dense_P(), self.mdp.r, self.mdp.gamma, self.init, self.eta,
            iterations, theorem.metric, growth=self.options.get("step_growth", 1.0), **extra)
        return values, constants, None

    def smaller(self):
        """No action is dropped: the state–action structure is the instance's."""
        return iter(())

    def shrink_moves(self):
        """Rounding moves, coarsest first: γ, η, rewards to 0–3 decimals, the default start."""
        def with_gamma(inst, gamma):
            if not 0 <= gamma < 1:
                return None
            options = dict(inst.options)
            if "step_growth" in options:
                if inst.growth_rule == "tight":
                    return None  # ϑ changes with γ: the tight growth would need a new solve
                options["step_growth"] = _growth(inst.growth_rule, gamma, math.nan)
            return replace(inst, mdp=MDP(inst.mdp.P, inst.mdp.r, gamma), options=options,
                           solution=None)

        def with_rewards(inst, decimals):
            return replace(inst, mdp=MDP(inst.mdp.P, np.round(inst.mdp.r, decimals),
                                         inst.mdp.gamma), solution=None)

        yield [lambda i, d=d: with_gamma(i, round_sig(i.mdp.gamma, d)) for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.eta is None else replace(i, eta=round_sig(i.eta, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: with_rewards(i, d) for d in (0, 1, 2, 3)]
        yield [lambda i: None if i.init is None else replace(i, init=None)]

    def counterexample_params(self) -> dict:
        params = {"method": self.method, "gamma": self.mdp.gamma, "eta": self.eta,
                  "step_growth": self.options.get("step_growth", 1.0),
                  "iterations": self.iterations,
                  "init": None if self.init is None else np.asarray(self.init).tolist(),
                  "structure": self.label}
        if self.method == "npg-entropy":  # τ, δ and the seed of the noise draws
            params.update(tau=self.regularizer.tau,
                          q_noise=float(self.options.get("q_noise", 0.0)),
                          seed=self.run_options().get("seed"))
        return params


@dataclass(frozen=True)
class MDPSpace:
    """Finite MDPs (``nashlab.games.MDP``) for a method of family "mdp" (module docstring).

    S, A, iterations : int or (low, high) inclusive; gamma : (low, high) ⊂ [0, 1), or a float;
    eta, tau : (low, high) log ranges; structures, regularizers, growths, starts : the
    discrete choices tried (regularizers are narrowed to those the method takes);
    kernel_logit, start_logit : bounds of the logits of P, r and of far starts.
    """

    method: str
    S: int | tuple = (2, 6)
    A: int | tuple = (2, 3)
    gamma: float | tuple = (0.5, 0.999)
    eta: tuple = (1e-2, 1e2)
    tau: tuple = (1e-2, 10.0)
    iterations: tuple = (1, 60)
    structures: tuple = STRUCTURES
    regularizers: tuple = REGULARIZERS
    growths: tuple = GROWTHS
    starts: tuple = ("uniform", "free")
    sweeps: tuple = (1, 3, 10)
    noises: tuple = (0.0, 1e-3, 1e-2)
    kernel_logit: float = 40.0
    start_logit: float = 10.0
    family: str = field(default="mdp", init=False)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        for name in ("S", "A", "iterations", "gamma", "eta", "tau"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.S[0] < 2 or self.A[0] < 1 or self.iterations[0] < 1:
            raise ValueError(f"need S ≥ 2, A ≥ 1, iterations ≥ 1, got S={self.S}, A={self.A}, "
                             f"iterations={self.iterations}")
        if not (0 <= self.gamma[0] and self.gamma[1] < 1):
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        if self.eta[0] <= 0 or self.tau[0] <= 0:
            raise ValueError(f"eta and tau ranges must be > 0, got eta={self.eta}, tau={self.tau}")
        for name, allowed in (("structures", STRUCTURES), ("regularizers", REGULARIZERS),
                              ("growths", GROWTHS), ("starts", ("uniform", "free"))):
            value = tuple(getattr(self, name))
            if not value or set(value) - set(allowed):
                raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {value!r}")
        usable = tuple(r for r in self.regularizers if r in METHODS[self.method]["regularizers"])
        if not usable:
            raise ValueError(f"method {self.method!r} takes regularizers "
                             f"{METHODS[self.method]['regularizers']}, got {self.regularizers!r}")
        object.__setattr__(self, "regularizers", usable)

    def narrowed(self, **changes) -> "MDPSpace":
        return replace(self, **changes)

    # ---- parametrisation ------------------------------------------------------------------
    def dimension(self, spec: MDPSpec) -> int:
        S, A = spec.S, spec.A
        return S * A * S + 2 * S * A + S + 3

    def specs(self, draw_int, draw_bool, draw_choice) -> MDPSpec:
        """An MDPSpec from the three drawing callables (the hypothesis strategy)."""
        structure = draw_choice(self.structures)
        S = draw_int(max(self.S[0], 3 if structure == "riverswim" else 2), max(self.S))
        A = 2 if structure == "riverswim" else draw_int(*self.A)
        return MDPSpec(S=S, A=A, iterations=draw_int(*self.iterations), structure=structure,
                       start=draw_choice(self.starts), regularizer=draw_choice(self.regularizers),
                       growth=draw_choice(self.growths) if self.method == "npg" else "constant",
                       sweeps=draw_choice(self.sweeps) if self.method == "mpi" else 1,
                       noise=draw_choice(self.noises) if self.method == "npg-entropy" else 0.0)

    def decode(self, spec: MDPSpec, theta, admissible) -> MDPInstance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if no step is admissible or the spec's choices violate them)."""
        from nashlab.games.mdp_problems import riverswim
        from nashlab.solvers.front import run, solve

        S, A = spec.S, spec.A
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(spec),):
            raise ValueError(f"theta must have shape ({self.dimension(spec)},), got {theta.shape}")
        m = S * A * S
        u = _bounded(theta[:m], self.kernel_logit).reshape(S, A, S)
        w = _bounded(theta[m:m + S * A], self.kernel_logit).reshape(S, A)
        c = theta[m + S * A:m + 2 * S * A].reshape(S, A)
        v0 = theta[m + 2 * S * A:m + 2 * S * A + S]
        t_gamma, t_eta, t_tau = theta[-3:]
        lo, hi = (math.log1p(-g) for g in self.gamma)
        gamma = float(-np.expm1(lo + (hi - lo) * _sigmoid(t_gamma))) if hi < lo else self.gamma[0]
        if spec.structure == "riverswim":
            if S < 3 or A != 2:
                return None
            base = riverswim(S, gamma=gamma)
            P, r = base.P, base.r
        else:
            P, r = _kernel(spec.structure, u), _sigmoid(w)
        mdp = MDP(P, r, gamma)
        reg = _regularizer(spec.regularizer, _log_range(self.tau, t_tau), A)
        value_init = METHODS[self.method]["value_init"]
        if spec.start == "uniform":
            init = None
        elif value_init:
            init = 2.0 / (1.0 - gamma) * np.tanh(v0 / 4.0)
        else:
            init = _softmax_rows(_bounded(c, self.start_logit))
            if not np.all(init > 0):
                return None
        options = {}
        if self.method == "mpi":
            options["m"] = spec.sweeps
        if self.method == "npg-entropy":
            options["q_noise"] = spec.noise
        try:
            solution = solve(mdp, regularizer=reg)
            probe = MDPInstance(mdp, self.method, None, 0, init, reg, options, spec.structure,
                                spec.growth, solution)
            params = dict(run(mdp, self.method, **probe.run_options()).params)
        except (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError):
            return None
        if self.method == "npg":
            growth = _growth(spec.growth, gamma, params["vartheta"])
            if growth is None:
                return None
            options["step_growth"] = params["step_growth"] = growth
        params["init"] = probe.init_label
        instance = replace(probe, options=options, iterations=spec.iterations)
        if not METHODS[self.method]["step"]:
            return instance if admissible(params) else None
        steps = self._steps(params, admissible, gamma, reg)
        if steps is None:
            return None
        kind, etas = steps
        if kind == "interval":
            eta = _log_range(etas, t_eta)
            if not admissible({**params, "eta": eta}):
                eta = etas[1]
        else:
            eta = etas[int(_sigmoid(t_eta) * len(etas)) % len(etas)]
        return replace(instance, eta=float(eta))

    def _steps(self, params, admissible, gamma, reg):
        """Admissible constant steps: ("interval", (lo, hi)), ("values", ...) or None."""
        def ok(eta):
            try:
                return bool(admissible({**params, "eta": float(eta)}))
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                return False
        grid = np.geomspace(self.eta[0], self.eta[1], 49)
        flags = np.array([ok(e) for e in grid])
        if flags.sum() >= 2 and np.all(np.diff(np.flatnonzero(flags)) == 1):
            first, last = np.flatnonzero(flags)[[0, -1]]
            lo = grid[first] if first == 0 else _bisect(ok, grid[first - 1], grid[first])
            hi = grid[last] if last == grid.size - 1 else _bisect(ok, grid[last + 1], grid[last])
            return "interval", (lo, hi)
        natural = list(_SPECIAL_ETAS)
        if reg is not None:
            natural.append((1 - gamma) / reg.tau)                       # Cen's SPI step
            if gamma > 0:
                natural.append((1 - gamma) / (gamma * reg.tau))         # Lan's step
        values = tuple(sorted({float(e) for e in (*grid[flags], *natural) if ok(e)}))
        return ("values", values) if values else None


def _log_range(pair, t):
    lo, hi = (math.log(x) for x in pair)
    return float(math.exp(lo + (hi - lo) * float(_sigmoid(t)))) if hi > lo else float(pair[0])


def _softmax_rows(z):
    w = np.exp(z - z.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def _kernel(structure, u):
    S = u.shape[0]
    if structure == "chain":
        idx = np.arange(S)
        allowed = np.abs(idx[:, None] - idx[None, :]) <= 1           # (s, t): |s − t| ≤ 1
        u = np.where(allowed[:, None, :], u, -np.inf)
    P = _softmax_rows(u)
    if structure == "absorbing":
        P[-1] = 0.0
        P[-1, :, -1] = 1.0
    return P


def _regularizer(kind, tau, A):
    if kind is None:
        return None
    if kind == "entropy":
        return Entropy(tau)
    if kind == "kl":
        reference = np.linspace(1.0, 2.0, A)
        return KL(tau, reference / reference.sum())
    return Tsallis(tau)


def _growth(rule, gamma, vartheta):
    if rule == "constant":
        return 1.0
    if rule == "inverse-gamma":
        return 1.0 / gamma if gamma > 0 else None
    if not (vartheta > 1 and math.isfinite(vartheta)):
        return None
    return vartheta / (vartheta - 1)


def space_for_method(method: str):
    """The default MDP space of ``method`` (a method of family "mdp"), or None."""
    return MDPSpace(method=method) if method in METHODS else None


def problem_arrays(mdp) -> dict:
    return {"P": mdp.dense_P(), "r": np.asarray(mdp.r)}


def problem_from_arrays(arrays, params) -> MDP:
    return MDP(arrays["P"], arrays["r"], params["gamma"])


def problem_size(mdp) -> str:
    return f"S = {mdp.n_states}, A = {mdp.n_actions}"


HIGH_PRECISION = highprec_mdp

REPRODUCTION_EVALUATE = '''

def reproduce_values(meta, data):
    """(metric values at 50 digits, the bound's symbols this run fixes)."""
    p = meta["params"]
    init = data["init"].tolist() if meta["has_init"] else None
    extra = {}
    if p["method"] == "npg-entropy":  # the float run's noise draws, regenerated
        rng = np.random.default_rng(p["seed"])
        draws = [rng.uniform(-1.0, 1.0, size=data["r"].shape).tolist()
                 for _ in range(p["iterations"])]
        extra = {"tau": p["tau"], "q_noise": p["q_noise"],
                 "draws": draws if p["q_noise"] > 0 else None}
    values, constants = run(p["method"], data["P"].tolist(), data["r"].tolist(), p["gamma"],
                            init, p["eta"], p["iterations"], meta["claim"]["metric"],
                            growth=p["step_growth"], **extra)
    return values, {"gamma": mpmath.mpf(p["gamma"]), "eta": mpmath.mpf(p["eta"] or 0),
                    **constants}
'''
