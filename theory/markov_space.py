"""The zero-sum Markov-game instance space of ``nashlab.theory.falsify``, with a smooth
parametrisation.

An instance is a discrete ``MarkovSpec`` (S, A, B, iterations, whether γ = 0, whether τ = 0,
the start) plus a real vector θ that CMA-ES moves freely; ``decode`` maps it onto a valid
``nashlab.games.markov_game.ZeroSumMarkovGame`` by construction (the conventions of
``random_markov_game``: r ∈ [0, 1] paid to the maximiser):

* r(s, a, b) = σ(w) with |w| ≤ ``kernel_logit`` (rewards 0 and 1 exactly reachable);
* P(·|s, a, b) = softmax(u_{s,a,b,·}), |u| ≤ ``kernel_logit`` (near-deterministic rows);
* γ = 1 − (1 − γ_lo)^{1−t}(1 − γ_hi)^t, t = σ(θ_γ) (log(1 − γ) linear, up to 0.99), or γ = 0
  when the spec says so (independent stage games r(s): MMD's Theorem 3.4);
* τ log-linear in ``tau``, or τ = 0 when the spec says so (Shapley's unregularized game);
* η log-linear in the interval the claim's assumptions allow at the decoded (game, τ)
  (``instance_spaces.step_sizes`` on the prospective params; the mirror-descent form of pu
  and omwu also needs ητ < 1), or the admissible isolated values; none for "shapley";
* per-state starts (x₀, y₀) uniform or softmax(c) rows, |c| ≤ ``start_logit`` (far starts)
  for the per-state methods; Shapley iterates from v₀ = 0 (``run_markov_game`` takes no
  start for it).

Bounded coordinates use x ↦ L·tanh(x/L); θ = 0 decodes to r = ½, uniform kernels, γ and τ
at the geometric middle of their ranges, uniform starts.

This module is the "markov-game" family of ``theory/families.py``: its 50-digit twin is
``theory/highprec_markov.py`` (shapley, pu, omwu, mmd; value_error, policy_kl); shrinking
drops an action of either player or a state (P renormalised over the states kept), rounds
γ, τ, η to 1–3 significant digits, r to 0–3 decimals, and the start to uniform or integer
logits.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nashlab.games.markov_game import ZeroSumMarkovGame
from nashlab.theory import highprec_markov
from nashlab.theory.instance_spaces import _bounded, _integer_logits, _sigmoid, round_sig, step_sizes
from nashlab.theory.mdp_space import _log_range, _softmax_rows

STARTS = ("uniform", "free")
_MIRROR_DESCENT = ("pu", "omwu")


@dataclass(frozen=True)
class MarkovSpec:
    """The discrete part of a Markov-game instance (``myopic``: γ = 0; ``unregularized``:
    τ = 0)."""

    S: int
    A: int
    B: int
    iterations: int
    myopic: bool = False
    unregularized: bool = False
    start: str = "free"

    @property
    def n(self) -> int:
        return self.S


@dataclass(frozen=True)
class MarkovInstance:
    """A decoded instance: the game, τ, the method's step, horizon and start (x₀, y₀)."""

    game: ZeroSumMarkovGame
    method: str
    tau: float
    eta: float | None
    iterations: int
    init: tuple | None
    family: str = field(default="markov-game", init=False)

    @property
    def problem(self) -> ZeroSumMarkovGame:
        return self.game

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        return {"eta": self.eta, "iterations": self.iterations, "init": self.init,
                "tau": self.tau}

    @property
    def init_label(self) -> str:
        return "uniform" if self.init is None else "given"

    def describe(self) -> dict:
        S, A, B = self.game.r.shape
        return {"S": S, "A": A, "B": B, "gamma": self.game.gamma, "tau": self.tau,
                "eta": self.eta, "iterations": self.iterations, "start": self.init_label}

    #: no bound symbol is recomputed at 50 digits (γ, τ, η are the floats run)
    HIGH_PRECISION_CONSTANTS = ()

    @property
    def size(self) -> int:
        return self.game.n_states

    def prospective_params(self) -> dict:
        """The params ``run_markov_game`` records, as far as assumptions read them."""
        S, A, B = self.game.r.shape
        params = {"family": "markov-game", "method": self.method, "n_actions": [A, B],
                  "n_states": S, "batch_shape": [], "gamma": self.game.gamma, "tau": self.tau,
                  "iterations": self.iterations, "init": self.init_label}
        if self.method != "shapley":
            params.update(eta=self.eta, value_step=None if self.eta is None
                          else self.eta * self.tau, L=float(np.max(np.abs(self.game.r))))
        return params

    def certifiable(self, theorem) -> bool:
        return (self.method in highprec_markov.METHODS
                and theorem.metric in highprec_markov.METRICS
                and (theorem.metric != "policy_kl" or (self.method != "shapley"
                                                       and self.tau > 0)))

    def high_values(self, theorem, iterations):
        """(metric at 50 digits, {}, None); the Newton solve for v*_τ starts from the float
        solution (a guess only: the 50-digit Shapley residual certifies it)."""
        from nashlab.solvers.markov_games import solve_markov_game

        guess = solve_markov_game(self.game, tau=self.tau).values
        values = highprec_markov.run(self.method, self.game.r, self.game.P, self.game.gamma,
                                     self.tau, self.eta or 0.0, iterations, theorem.metric,
                                     init=self.init, guess=guess)
        return values, {}, None

    def _with(self, keep_s, keep_a, keep_b):
        """The sub-game on the states/actions kept (P renormalised over the states kept), or
        None where a row loses all its mass."""
        P = self.game.P[np.ix_(keep_s, keep_a, keep_b, keep_s)]
        mass = P.sum(axis=-1, keepdims=True)
        if np.any(mass <= 0):
            return None
        game = ZeroSumMarkovGame(P / mass, self.game.r[np.ix_(keep_s, keep_a, keep_b)],
                                 self.game.gamma)
        init = None
        if self.init is not None:
            x, y = self.init[0][np.ix_(keep_s, keep_a)], self.init[1][np.ix_(keep_s, keep_b)]
            init = (x / x.sum(axis=1, keepdims=True), y / y.sum(axis=1, keepdims=True))
        return replace(self, game=game, init=init)

    def smaller(self):
        """Without one action of a player (A or B ≥ 3) or one state (S ≥ 2)."""
        S, A, B = self.game.r.shape
        full = [np.arange(S), np.arange(A), np.arange(B)]
        for axis, size in enumerate((S, A, B)):
            for i in range(size if size > (1 if axis == 0 else 2) else 0):
                keep = list(full)
                keep[axis] = np.delete(full[axis], i)
                sub = self._with(*keep)
                if sub is not None:
                    yield sub

    def shrink_moves(self):
        """Rounding moves, coarsest first: γ, τ, η, r to 0–3 decimals, the start."""
        def with_game(inst, r=None, gamma=None):
            game = inst.game
            return replace(inst, game=ZeroSumMarkovGame(game.P, game.r if r is None else r,
                                                        game.gamma if gamma is None else gamma))

        def integer_start(inst, scale):
            return None if inst.init is None else replace(
                inst, init=tuple(np.array([_integer_logits(row, scale) for row in p])
                                 for p in inst.init))

        yield [lambda i, d=d: None if i.game.gamma == 0 or round_sig(i.game.gamma, d) >= 1
               else with_game(i, gamma=round_sig(i.game.gamma, d)) for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.tau == 0 else replace(i, tau=round_sig(i.tau, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.eta is None else replace(i, eta=round_sig(i.eta, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: None if not np.any(np.round(i.game.r, d))
               else with_game(i, r=np.round(i.game.r, d)) for d in (0, 1, 2, 3)]
        yield ([lambda i: None if i.init is None else replace(i, init=None)]
               + [lambda i, s=s: integer_start(i, s) for s in (1, 2)])

    def counterexample_params(self) -> dict:
        return {"method": self.method, "gamma": self.game.gamma, "tau": self.tau,
                "eta": self.eta, "iterations": self.iterations,
                "init": None if self.init is None
                else np.concatenate([p.ravel() for p in self.init]).tolist()}


@dataclass(frozen=True)
class MarkovSpace:
    """Zero-sum Markov games for a method of family "markov-game" (module docstring).

    S, A, B, iterations : int or (low, high) inclusive; gamma : (low, high) ⊂ (0, 1) log(1 − γ)
    range, or a float; gammas : which of "positive" (γ in ``gamma``) and "zero" are drawn;
    tau : (low, high) log range or a float (> 0); taus : which of "positive" and "zero"
    (shapley only) are drawn; eta : (low, high) range probed for the admissible steps; starts :
    "uniform", "free"; kernel_logit, start_logit : bounds of the logits of r, P and of far
    starts.
    """

    method: str
    S: int | tuple = (1, 4)
    A: int | tuple = (2, 3)
    B: int | tuple = (2, 3)
    gamma: float | tuple = (0.5, 0.99)
    gammas: tuple = ("positive", "zero")
    tau: float | tuple = (1e-2, 10.0)
    taus: tuple = ("positive",)
    eta: tuple = (1e-3, 100.0)
    iterations: tuple = (1, 60)
    starts: tuple = STARTS
    kernel_logit: float = 40.0
    start_logit: float = 20.0
    family: str = field(default="markov-game", init=False)

    def __post_init__(self):
        if self.method not in highprec_markov.METHODS:
            raise ValueError(f"method must be one of {highprec_markov.METHODS}, "
                             f"got {self.method!r}")
        for name in ("S", "A", "B", "iterations", "gamma", "tau", "eta"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.S[0] < 1 or self.A[0] < 1 or self.B[0] < 1 or self.iterations[0] < 1:
            raise ValueError(f"need S, A, B, iterations ≥ 1, got S={self.S}, A={self.A}, "
                             f"B={self.B}, iterations={self.iterations}")
        if max(self.A[1], self.B[1]) > 4:
            raise ValueError(f"A and B must be ≤ 4 (the 50-digit stage value enumerates "
                             f"supports), got A={self.A}, B={self.B}")
        if not (0 < self.gamma[0] and self.gamma[1] < 1):
            raise ValueError(f"gamma must lie in (0, 1) (γ = 0: gammas), got {self.gamma}")
        if self.tau[0] <= 0 or self.eta[0] <= 0:
            raise ValueError(f"tau and eta ranges must be > 0, got tau={self.tau}, eta={self.eta}")
        for name, allowed in (("gammas", ("positive", "zero")), ("taus", ("positive", "zero")),
                              ("starts", STARTS)):
            value = tuple(getattr(self, name))
            if not value or set(value) - set(allowed):
                raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {value!r}")
        if "zero" in self.taus and self.method != "shapley":
            raise ValueError(f"taus: method {self.method!r} needs τ > 0 (only shapley runs "
                             f"the unregularized game), got {self.taus!r}")

    def narrowed(self, **changes) -> "MarkovSpace":
        return replace(self, **changes)

    def dimension(self, spec: MarkovSpec) -> int:
        S, A, B = spec.S, spec.A, spec.B
        return S * A * B * (S + 1) + S * (A + B) + 3

    def specs(self, draw_int, draw_bool, draw_choice) -> MarkovSpec:
        """A MarkovSpec from the three drawing callables (the hypothesis strategy)."""
        return MarkovSpec(S=draw_int(*self.S), A=draw_int(*self.A), B=draw_int(*self.B),
                          iterations=draw_int(*self.iterations),
                          myopic=draw_choice(self.gammas) == "zero",
                          unregularized=draw_choice(self.taus) == "zero",
                          start=draw_choice(self.starts))

    def decode(self, spec: MarkovSpec, theta, admissible) -> MarkovInstance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if they fail or no step size is admissible)."""
        S, A, B = spec.S, spec.A, spec.B
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(spec),):
            raise ValueError(f"theta must have shape ({self.dimension(spec)},), got {theta.shape}")
        n_r, n_p = S * A * B, S * A * B * S
        r = _sigmoid(_bounded(theta[:n_r], self.kernel_logit)).reshape(S, A, B)
        P = _softmax_rows(_bounded(theta[n_r:n_r + n_p], self.kernel_logit).reshape(S, A, B, S))
        c = theta[n_r + n_p:n_r + n_p + S * (A + B)]
        t_gamma, t_tau, t_eta = theta[-3:]
        gamma = 0.0
        if not spec.myopic:
            lo, hi = (math.log1p(-g) for g in self.gamma)
            gamma = float(-np.expm1(lo + (hi - lo) * _sigmoid(t_gamma))) if hi < lo \
                else self.gamma[0]
        tau = 0.0 if spec.unregularized else _log_range(self.tau, t_tau)
        init = None
        if spec.start == "free" and self.method != "shapley":
            init = (_softmax_rows(_bounded(c[:S * A], self.start_logit).reshape(S, A)),
                    _softmax_rows(_bounded(c[S * A:], self.start_logit).reshape(S, B)))
            if not (np.all(init[0] > 0) and np.all(init[1] > 0)):
                return None
        try:
            game = ZeroSumMarkovGame(P, r, gamma)
        except ValueError:
            return None
        probe = MarkovInstance(game, self.method, tau, None, spec.iterations, init)
        if self.method == "shapley":
            return probe if admissible(probe.prospective_params()) else None
        if not np.any(r):
            return None  # L = 0 (the step conditions divide by it)

        def allowed(params):  # the mirror-descent step also needs ητ < 1
            return admissible(params) and (self.method not in _MIRROR_DESCENT
                                           or params["eta"] * params["tau"] < 1)

        steps = step_sizes(self, probe, allowed)
        if steps is None:
            return None
        kind, etas = steps
        if kind == "interval":
            eta = _log_range(etas, t_eta)
            if not allowed(replace(probe, eta=eta).prospective_params()):
                eta = etas[1]
        else:
            eta = etas[int(_sigmoid(t_eta) * len(etas)) % len(etas)]
        return replace(probe, eta=float(eta))


# ---- the family protocol (theory/families.py) -----------------------------------------------
def space_for_method(method: str):
    """The default space of ``method``: shapley also draws τ = 0 (the unregularized game)."""
    if method not in highprec_markov.METHODS:
        return None
    return MarkovSpace(method=method,
                       taus=("positive", "zero") if method == "shapley" else ("positive",))


def problem_arrays(game) -> dict:
    return {"P": np.asarray(game.P), "r": np.asarray(game.r)}


def problem_from_arrays(arrays, params) -> ZeroSumMarkovGame:
    return ZeroSumMarkovGame(arrays["P"], arrays["r"], params["gamma"])


def problem_size(game) -> str:
    S, A, B = game.r.shape
    return f"S = {S}, A = {A}, B = {B}"


HIGH_PRECISION = highprec_markov

REPRODUCTION_EVALUATE = '''

def reproduce_values(meta, data):
    """(metric values at 50 digits, the bound's symbols this run fixes)."""
    p = meta["params"]
    r, P = data["r"], data["P"]
    S, A, B = r.shape
    init = None
    if meta["has_init"]:
        flat = data["init"]
        init = (flat[:S * A].reshape(S, A), flat[S * A:].reshape(S, B))
    with mpmath.workdps(_WORK):
        values = run(p["method"], r, P, p["gamma"], p["tau"], p["eta"] or 0.0,
                     p["iterations"], meta["claim"]["metric"], init=init)
    return values, {"gamma": mpmath.mpf(p["gamma"]), "tau": mpmath.mpf(p["tau"]),
                    "eta": mpmath.mpf(p["eta"] or 0.0)}
'''
