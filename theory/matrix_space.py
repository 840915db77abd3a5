"""The matrix-game instance space of ``nashlab.theory.falsify``, with a smooth parametrisation.

An instance is a discrete ``MatrixSpec`` (m, n, iterations, whether τ = 0, the start) plus a
real vector θ that CMA-ES moves freely; ``decode`` maps it onto a valid instance of
``nashlab.games.MatrixGame`` by construction:

* A_ij = tanh(θ_ij) ∈ [−1, 1] (saturating to ±1 exactly in float64; 0 at θ = 0: a tie);
* τ log-linear in ``tau`` (or τ = 0 when the spec says so: the unregularized game);
* η log-linear in the interval the claim's assumptions allow at the decoded (A, τ) (probed
  on the prospective params, ``instance_spaces.step_sizes``), or the admissible isolated
  values;
* (x₀, y₀) uniform or softmax(c) per player with |c| ≤ ``start_logit`` (far starts, where
  contraction bounds are tight).

Bounded coordinates use x ↦ L·tanh(x/L); θ = 0 decodes to A = 0, τ and η at the geometric
middle of their ranges, uniform starts.

This module is the "matrix" family of ``theory/families.py``: its 50-digit twin is
``theory/highprec_matrix.py`` (pu, omwu, mirror-prox, mmd; kl, duality gap, exploitability,
the midpoint average's gap); shrinking drops a row or a column (the sub-game, the start
renormalised) and rounds τ and η to 1–3 significant digits, A to 0–3 decimals, the start
to uniform or integer logits.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nashlab.games.matrix import MatrixGame
from nashlab.theory import highprec_matrix
from nashlab.theory.instance_spaces import _bounded, _integer_logits, _sigmoid, _softmax, round_sig, step_sizes

STARTS = ("uniform", "free")


@dataclass(frozen=True)
class MatrixSpec:
    """The discrete part of a matrix-game instance (``unregularized``: τ = 0)."""

    m: int
    n: int
    iterations: int
    unregularized: bool = False
    start: str = "free"


@dataclass(frozen=True)
class MatrixInstance:
    """A decoded instance: the game, the method's step, horizon and start (x₀, y₀)."""

    game: MatrixGame
    method: str
    eta: float | None
    iterations: int
    init: tuple | None
    family: str = field(default="matrix", init=False)

    @property
    def problem(self) -> MatrixGame:
        return self.game

    def run_options(self) -> dict:
        """Keywords of ``nashlab.run`` besides the problem and the method."""
        return {"eta": self.eta, "iterations": self.iterations, "init": self.init}

    @property
    def init_label(self) -> str:
        return "uniform" if self.init is None else "given"

    def _start(self):
        if self.init is not None:
            return self.init
        return np.full(self.game.m, 1.0 / self.game.m), np.full(self.game.n, 1.0 / self.game.n)

    def describe(self) -> dict:
        return {"m": self.game.m, "n": self.game.n, "tau": self.game.tau, "eta": self.eta,
                "iterations": self.iterations, "start": self.init_label}

    #: bound symbols the 50-digit run recomputes (D0 = max_u KL(u‖ζ_0) involves a log)
    HIGH_PRECISION_CONSTANTS = ("D0",)

    @property
    def size(self) -> int:
        return max(self.game.m, self.game.n)

    def prospective_params(self) -> dict:
        """The params ``run_matrix_game`` records, as far as assumptions read them."""
        x0, y0 = self._start()
        return {"family": "matrix", "method": self.method, "n_actions": [self.game.m, self.game.n],
                "n_states": None, "batch_shape": [], "tau": self.game.tau, "eta": self.eta,
                "L": float(self.game.scale), "iterations": self.iterations,
                "D0": float(-np.log(np.min(x0)) - np.log(np.min(y0))), "init": self.init_label}

    def certifiable(self, theorem) -> bool:
        return (self.method in highprec_matrix.METHODS and theorem.metric in highprec_matrix.METRICS
                and (theorem.metric != "kl" or self.game.tau > 0)
                and (theorem.metric != "average_duality_gap" or self.method == "mirror-prox"))

    def high_values(self, theorem, iterations):
        """(metric at 50 digits, {"D0": its 50-digit value}, None); the QRE's Newton solve
        starts from the float QRE (a guess only: the 50-digit residual certifies it)."""
        from nashlab.solvers.matrix_games import qre

        x0, y0 = self._start()
        guess = qre(self.game).logits if theorem.metric == "kl" else None
        values = highprec_matrix.run(self.method, self.game.A, x0, y0, self.game.tau, self.eta,
                                     iterations, theorem.metric, star_guess=guess)
        return values, {"D0": highprec_matrix.radius(x0, y0)}, None

    def smaller(self):
        """The sub-games without one row (m ≥ 3) or one column (n ≥ 3), start renormalised."""
        A, (x0, y0) = self.game.A, self._start()
        for axis, size in ((0, self.game.m), (1, self.game.n)):
            for i in range(size if size > 2 else 0):
                keep = np.delete(np.arange(size), i)
                sub = A[keep] if axis == 0 else A[:, keep]
                x, y = (x0[keep], y0) if axis == 0 else (x0, y0[keep])
                init = None if self.init is None else (x / x.sum(), y / y.sum())
                yield replace(self, game=MatrixGame(sub, self.game.tau), init=init)

    def shrink_moves(self):
        """Rounding moves, coarsest first: τ, η, A to 0–3 decimals, the start."""
        def with_game(inst, A=None, tau=None):
            game = inst.game
            if A is not None and not np.any(A):
                return None  # the zero game: L = 0 (the step conditions divide by it)
            return replace(inst, game=MatrixGame(game.A if A is None else A,
                                                 game.tau if tau is None else tau))

        def integer_start(inst, scale):
            return None if inst.init is None else replace(
                inst, init=tuple(_integer_logits(p, scale) for p in inst.init))

        yield [lambda i, d=d: None if i.game.tau == 0
               else with_game(i, tau=round_sig(i.game.tau, d)) for d in (1, 2, 3)]
        yield [lambda i, d=d: None if i.eta is None else replace(i, eta=round_sig(i.eta, d))
               for d in (1, 2, 3)]
        yield [lambda i, d=d: with_game(i, A=np.round(i.game.A, d)) for d in (0, 1, 2, 3)]
        yield ([lambda i: None if i.init is None else replace(i, init=None)]
               + [lambda i, s=s: integer_start(i, s) for s in (1, 2)])

    def counterexample_params(self) -> dict:
        return {"method": self.method, "tau": self.game.tau, "eta": self.eta,
                "iterations": self.iterations,
                "init": None if self.init is None else np.concatenate(self.init).tolist()}


@dataclass(frozen=True)
class MatrixSpace:
    """Entropy-regularized zero-sum matrix games for a method of family "matrix".

    m, n, iterations : int or (low, high) inclusive; tau : (low, high) log range or a float
    (> 0); taus : which of "positive" (τ in ``tau``) and "zero" (the unregularized game) are
    drawn; eta : (low, high) range probed for the admissible steps; starts : "uniform",
    "free"; start_logit : bound of the logits of far starts.
    """

    method: str
    m: int | tuple = (2, 5)
    n: int | tuple = (2, 5)
    tau: float | tuple = (1e-3, 10.0)
    taus: tuple = ("positive",)
    eta: tuple = (1e-3, 100.0)
    iterations: tuple = (1, 150)
    starts: tuple = STARTS
    start_logit: float = 20.0
    family: str = field(default="matrix", init=False)

    def __post_init__(self):
        if self.method not in highprec_matrix.METHODS:
            raise ValueError(f"method must be one of {highprec_matrix.METHODS}, "
                             f"got {self.method!r}")
        for name in ("m", "n", "iterations", "tau", "eta"):
            value = getattr(self, name)
            pair = tuple(value) if isinstance(value, list | tuple) else (value, value)
            if len(pair) != 2 or not pair[0] <= pair[1]:
                raise ValueError(f"{name} must be a value or a (low, high) pair with "
                                 f"low ≤ high, got {value!r}")
            object.__setattr__(self, name, pair)
        if self.m[0] < 1 or self.n[0] < 1 or self.iterations[0] < 1:
            raise ValueError(f"need m, n, iterations ≥ 1, got m={self.m}, n={self.n}, "
                             f"iterations={self.iterations}")
        if self.tau[0] <= 0 or self.eta[0] <= 0:
            raise ValueError(f"tau and eta ranges must be > 0, got tau={self.tau}, eta={self.eta}")
        for name, allowed in (("taus", ("positive", "zero")), ("starts", STARTS)):
            value = tuple(getattr(self, name))
            if not value or set(value) - set(allowed):
                raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {value!r}")

    def narrowed(self, **changes) -> "MatrixSpace":
        return replace(self, **changes)

    def dimension(self, spec: MatrixSpec) -> int:
        return spec.m * spec.n + spec.m + spec.n + 2

    def specs(self, draw_int, draw_bool, draw_choice) -> MatrixSpec:
        """A MatrixSpec from the three drawing callables (the hypothesis strategy)."""
        return MatrixSpec(m=draw_int(*self.m), n=draw_int(*self.n),
                          iterations=draw_int(*self.iterations),
                          unregularized=draw_choice(self.taus) == "zero",
                          start=draw_choice(self.starts))

    def decode(self, spec: MatrixSpec, theta, admissible) -> MatrixInstance | None:
        """The instance of (spec, θ); ``admissible(params) -> bool`` are the claim's
        assumptions (None if no step size is admissible)."""
        m, n = spec.m, spec.n
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dimension(spec),):
            raise ValueError(f"theta must have shape ({self.dimension(spec)},), got {theta.shape}")
        A = np.tanh(theta[:m * n]).reshape(m, n)
        if not np.any(A):
            return None  # the zero game: L = 0 (the step conditions divide by it)
        cx = _bounded(theta[m * n:m * n + m], self.start_logit)
        cy = _bounded(theta[m * n + m:m * n + m + n], self.start_logit)
        lo, hi = (math.log(t) for t in self.tau)
        tau = 0.0 if spec.unregularized else float(math.exp(lo + (hi - lo) * _sigmoid(theta[-2])))
        init = None
        if spec.start == "free":
            init = (_softmax(cx), _softmax(cy))
            if not (np.all(init[0] > 0) and np.all(init[1] > 0)):
                return None
        probe = MatrixInstance(MatrixGame(A, tau), self.method, None, spec.iterations, init)
        steps = step_sizes(self, probe, admissible)
        if steps is None:
            return None
        kind, etas = steps
        if kind == "interval":
            e_lo, e_hi = np.log(etas[0]), np.log(etas[1])
            eta = float(np.exp(e_lo + (e_hi - e_lo) * _sigmoid(theta[-1])))
            if not admissible(replace(probe, eta=eta).prospective_params()):
                eta = etas[1]
        else:
            eta = etas[int(_sigmoid(theta[-1]) * len(etas)) % len(etas)]
        return replace(probe, eta=float(eta))


# ---- the family protocol (theory/families.py) -----------------------------------------------
def space_for_method(method: str):
    """The default space of ``method``: mirror-prox also draws τ = 0 (its ergodic gap)."""
    if method not in highprec_matrix.METHODS:
        return None
    return MatrixSpace(method=method,
                       taus=("positive", "zero") if method == "mirror-prox" else ("positive",))


def problem_arrays(game) -> dict:
    return {"A": np.asarray(game.A)}


def problem_from_arrays(arrays, params) -> MatrixGame:
    return MatrixGame(arrays["A"], params["tau"])


def problem_size(game) -> str:
    return f"m = {game.m}, n = {game.n}"


HIGH_PRECISION = highprec_matrix

REPRODUCTION_EVALUATE = '''

def reproduce_values(meta, data):
    """(metric values at 50 digits, the bound's symbols this run fixes)."""
    p = meta["params"]
    A = data["A"]
    m, n = A.shape
    if meta["has_init"]:
        x0, y0 = data["init"][:m], data["init"][m:]
    else:
        x0, y0 = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
    values = run(p["method"], A, x0, y0, p["tau"], p["eta"], p["iterations"],
                 meta["claim"]["metric"])
    return values, {"eta": mpmath.mpf(p["eta"]), "tau": mpmath.mpf(p["tau"]),
                    "D0": radius(x0, y0)}
'''
