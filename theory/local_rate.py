"""Exact local rates: the spectral radius ρ of the Jacobian of a method's one-step map at its
fixed point (issue 17, item 2).

``local_rate(problem, method, *, eta, **options) -> LocalRate``. Near its fixed point x* a
method's iterates obey x_{k+1} − x* ≈ J·(x_k − x*), J = dT(x*), so the distance to x*
decays asymptotically by ρ = max |λ(J)| per iteration: a metric that is linear in the
distance (span, value error) by ρ, one that is quadratic (KL, exploitability, duality gap)
by ρ² (``METRIC_ORDER``). This is the exact asymptotic factor, not a bound: a run whose
fitted factor differs from ρ (or ρ²) runs another map (e.g. step 0.9η).
``fitted_factor(values, floor=1e-11)`` is that fit (least squares on log values over the
later half above the floor), and ``local_rate_verdict(trajectory, problem)`` the
"local-rate" verdict built on it (the band of ``rate_band``: see the constants at the end).

Coordinates
-----------
Policies are log-probabilities ℓ, one block per simplex (player, and per state for Markov
games). Every method is a composition (``nashlab.solvers.compositions``) of the affine step
S(ℓ, g) = normalise(a·ℓ + b·log μ + c·g), (a, b, c) = ``prox.step_coefficients(form, η,
β)``, with d normalise(z) = N·dz, N = I − 1π⁺ᵀ (π⁺ the step's output policy). With
D = dF the derivative of the payoff operator at the point where F is evaluated:

* preference game  F(ℓ) = P·π:              D = P·S_π = A·S_π  (1ᵀS = 0), S = diag π − ππᵀ
* matrix game      F(u, v) = (Ay, −Aᵀx):     D = [[0, A·S_y], [−Aᵀ·S_x, 0]]
* population       F_i = ½ + A·π̄₋ᵢ:          D_ij = A·S_j/(m − 1) (j ≠ i), D_ii = 0
* Markov game      per state, the matrix-game D of Q*(s) = r(s) + γ(P V*)(s) (the value
  update frozen at V*: the per-state map; the value update itself is slower)

the one-step Jacobians are (h the midpoint, N_h, N₊ the projections at h and at ℓ⁺):

===============  ==========================================================================
composition      Jacobian at the fixed point
===============  ==========================================================================
single           J = N₊(aI + c·D_ℓ)
extragradient    J = N₊(aI + c·D_h·N_h·(aI + c·D_ℓ))
mixture          J = N₊(aI + c·D_h·N_h·a)                 (Nash-MD: h = S(ℓ, 0) ≠ ℓ)
optimistic       stacked state (ℓ, ĝ): dh = N_h(a dℓ + c dĝ), dĝ⁺ = D_h dh,
                 dℓ⁺ = N₊(a dℓ + c dĝ⁺):  J = [[N₊(aI + c·D_h N_h a), N₊ c·D_h N_h c],
                                                [D_h N_h a,            D_h N_h c]]
===============  ==========================================================================

MDP value iteration works on the values: T(v) = Ω*(r + γPv) (max_a when unregularized) has
dT = γ·P_π with π = ∇Ω*(q_v) (softmax(q/τ) for the entropy, ∝ μ e^{q/τ} for KL, the greedy
action unregularized, where the greedy action is unique), a stochastic matrix times γ:
ρ = γ exactly (1 is the Perron eigenvector of P_π), whatever the regularizer.

MDP policy methods ("npg-entropy", Cen et al. 2007.06558; "pmd", Lan 2102.00135) are the
"single" composition per state with F(ℓ) = Q^π_Ω (π = softmax ℓ, Ω = τ·KL(·‖μ) or
τ·negentropy): D = dQ/dℓ = γ·P·(I − γP_π)⁻¹·U with U(s, (s, a)) = (S_π(s)·w(s))_a,
w = Q − τ(log π − log μ) (differentiate V = Σ_a π(Q − τ log π/μ), Q = r + γPV, and use
Σ_a π d log π = 0) [D]. At the optimum w(s, ·) = τ·log Z(s) is constant over a, so U = 0
and D = 0: J = a·N, ρ = a exactly (1 − ητ/(1−γ) for Cen's step, 1/(1 + ητ) for PMD), and
every modulus equals ρ. Because dV = 0 there, the value, Q and potential errors of these
runs are quadratic in the policy error (``POLICY_METRIC_ORDER``); log_policy_error is linear.

The tangent space and why its spectrum is the one that matters
---------------------------------------------------------------
A constant shift of a block of ℓ (or of ĝ) does not change the policy (nor the step: N kills
it), so J·1_block = 0: the map lives on the quotient Rⁿ/1 per block. We represent the
quotient by the complement W = {δ: Σδ = 0} per block, with an orthonormal basis B
(``LocalRate.basis``; B Bᵀ = I − 11ᵀ/n is the projection along 1), and take
J_W = Bᵀ J B (``LocalRate.jacobian``), whose dense eigenvalues (numpy.linalg.eigvals) give ρ.
The π*-weighted tangent space V = {δ: π*ᵀδ = 0} (the tangent space of the normalised
logits, where the iterates actually move) gives the same spectrum: J maps everything into V
(its image is N₊·(...) and N₊ = I − 1π*ᵀ projects onto V along 1), and Rⁿ = V ⊕ 1 with
J·1 = 0, so J = diag(J|_V, 0) in that splitting, and the quotient map Rⁿ/1 → Rⁿ/1 is
conjugate to J|_V. Hence spec(J_W) = spec(J|_V) = spec(J) minus one 0 per block. (The
predictor block ĝ of the optimistic methods is not in V, so for the stacked state only the
quotient is canonical; that is why W is the one used.)

Fixed points: the certified equilibrium (``nashlab.solve``) for every method whose fixed
point it is; Nash-MD with a constant step converges to another point (its midpoint
h = S(ℓ, 0) is not ℓ), found by iterating the library's own step to convergence; then a few
Newton steps with the closed-form Jacobian polish either to rounding.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from nashlab._xp import matvec, normalize_logits
from nashlab.games.markov_game import ZeroSumMarkovGame
from nashlab.games.matrix import MatrixGame
from nashlab.games.mdp import MDP
from nashlab.games.population import Population
from nashlab.games.preference import PreferenceGame
from nashlab.games.regularizers import KL, Entropy
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.methods import get_method
from nashlab.solvers.prox import step_coefficients
from nashlab.theory.verdicts import VERDICT_HOOKS, Verdict

#: How each metric behaves near the fixed point: 2 = quadratic in the distance (decays by ρ²
#: per iteration), 1 = linear (decays by ρ). KL(π*‖π) = ½δᵀS δ + O(δ³) in the log-policy
#: error δ; the (regularized) exploitability, the duality gap and NashConv (= Nikaido–Isoda)
#: are Σ β·KL(π‖BR(π)) forms, quadratic too; span(log π − log π*) and ‖v − v*‖∞ are norms of
#: the error, linear. Unregularized metrics (β = 0) and averaged-iterate metrics have no
#: local rate of this kind and are not listed.
METRIC_ORDER = {
    "kl": 2,
    "policy_kl": 2,
    "exploitability": 2,
    "duality_gap": 2,
    "nash_conv": 2,
    "nikaido_isoda": 2,
    "span": 1,
    "value_error": 1,
}

#: the order of the metrics of MDP policy methods (``POLICY_METHODS``): there the iterate is
#: the policy, and V^π, Q^π (hence Lan's potential) are stationary at π* (dV = 0), so their
#: errors are quadratic in the policy error; log_policy_error is the policy error itself
POLICY_METRIC_ORDER = {"log_policy_error": 1, "value_error": 2, "q_error": 2, "lan_potential": 2}
#: MDP methods whose policy update is the prox step against Q^π_Ω (module docstring)
POLICY_METHODS = ("npg-entropy", "pmd")

#: methods without a local rate, and why
NO_LOCAL_RATE = {
    ("mdp", "npg"): "unregularized NPG: no strongly convex term, so no linear local rate (with "
                    "growing steps it converges superlinearly)",
    ("preference", "hedge"): "Hedge does not use β: no interior attracting fixed point "
                             "(its average converges at O(1/T))",
    ("preference", "sppo"): "SPPO (= hedge) does not use β: no interior attracting fixed point",
    ("preference", "magnet-refresh"): "the magnet changes every K steps: not one stationary map",
    ("preference", "nash-mp-inexact"): "a stochastic map (its exact counterpart is 'nash-mp')",
    ("preference", "nash-prox"): "one step is inner_steps self-play steps towards a proximal "
                                 "point: the Jacobian of that composed map is not derived here",
    ("markov-game", "shapley"): "Shapley VI solves each stage game exactly: its policies have "
                                "no step of their own (the values contract by γ)",
}

_NEWTON_STEPS = 8
_FIXED_POINT_ITERATIONS = 200_000


@dataclass(frozen=True, eq=False)
class LocalRate:
    """The local rate of ``method`` with step ``eta`` at its fixed point.

    rho : the spectral radius of the one-step Jacobian on the tangent space (module
        docstring): the asymptotic per-iteration factor of the distance to the fixed point.
    moduli : the moduli of all its eigenvalues, sorted in decreasing order.
    fixed_point : the state at the fixed point, in the coordinates of ``basis``: the
        concatenated log-policy blocks (then the predictor ĝ* = F(ℓ*) for the optimistic
        methods), or the values v* for MDP value iteration.
    dimension : the dimension of the tangent space used (Σ (n_block − 1), doubled for the
        stacked optimistic state; S for values).
    jacobian : the (dimension × dimension) Jacobian J_W = Bᵀ J B.
    basis : B, the orthonormal basis of the tangent space in the full coordinates.
    """

    rho: float
    moduli: tuple
    fixed_point: np.ndarray
    dimension: int
    family: str
    method: str
    eta: float | None
    coordinates: str
    jacobian: np.ndarray = field(repr=False)
    basis: np.ndarray = field(repr=False)

    def order(self, metric) -> int:
        """1 if ``metric`` decays as ρ, 2 if as ρ² (``METRIC_ORDER``; ``POLICY_METRIC_ORDER``
        for the MDP policy methods)."""
        if self.family == "mdp" and self.method in POLICY_METHODS:
            if metric in POLICY_METRIC_ORDER:
                return POLICY_METRIC_ORDER[metric]
            raise ValueError(f"metric must be one of {sorted(POLICY_METRIC_ORDER)} for "
                             f"{self.method!r}, got {metric!r}")
        try:
            return METRIC_ORDER[metric]
        except KeyError:
            raise ValueError(f"metric must be one of {sorted(METRIC_ORDER)} (metrics with a local "
                             f"rate), got {metric!r}") from None

    def factor(self, metric) -> float:
        """The asymptotic per-iteration factor of ``metric``: ρ or ρ² (``order``)."""
        return self.rho ** self.order(metric)


def fitted_factor(values, *, floor=1e-11) -> float:
    """exp(slope) of a least-squares line through log(values[k]) against k over the later
    half of the iterations at which the metric is above ``floor`` (the float floor) and
    finite: indices k with values[k] > floor and k ≥ (last such index)/2. NaN when fewer
    than 3 points qualify (no evidence). ``values``: a 1-D sequence (index = iteration)."""
    return _fit(values, floor)[0]


def _fit(values, floor):
    """(fitted factor, first index of the fitted window); (NaN, None) without evidence."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D (one value per iteration), got shape {values.shape}")
    if isinstance(floor, bool) or not (isinstance(floor, int | float) and math.isfinite(floor)
                                       and floor >= 0):
        raise ValueError(f"floor must be a finite number ≥ 0, got {floor!r}")
    above = np.flatnonzero(np.isfinite(values) & (values > floor))
    if above.size < 3:
        return math.nan, None
    k = above[above >= above[-1] / 2]
    if k.size < 3:
        k = above[-3:]
    return float(np.exp(np.polyfit(k.astype(float), np.log(values[k]), 1)[0])), int(k[0])


# ---- linear algebra ---------------------------------------------------------------------

def _sum_zero_basis(n):
    """Orthonormal basis (n × (n − 1)) of {δ ∈ Rⁿ: Σδ = 0}."""
    return scipy.linalg.null_space(np.ones((1, n)))


def _block_diag(blocks):
    return scipy.linalg.block_diag(*blocks) if blocks else np.zeros((0, 0))


def _covariance(p):
    """S = diag p − ppᵀ, the Jacobian of softmax."""
    return np.diag(p) - np.outer(p, p)


def _projection(policies):
    """N = blockdiag(I − 1pᵀ) over the simplex blocks ``policies``."""
    return _block_diag([np.eye(p.size) - np.outer(np.ones(p.size), p) for p in policies])


# ---- families: the payoff operator in flat coordinates ------------------------------------

class _Family:
    """A problem seen through its blocks: flat ↔ library representation, F and D = dF."""

    family: str
    sizes: list  # simplex block sizes, in flat order

    def blocks(self, flat):
        out, start = [], 0
        for n in self.sizes:
            out.append(flat[start:start + n])
            start += n
        return out

    def normalise(self, flat):
        return np.concatenate([normalize_logits(b) for b in self.blocks(flat)])


class _Preference(_Family):
    family = "preference"

    def __init__(self, game):
        self.game, self.sizes = game, [game.n]
        self.P = np.asarray(game.P)
        self.reference = game.log_reference

    def to_lib(self, flat):
        return np.array(flat)

    def from_lib(self, x):
        return np.asarray(x, dtype=float).ravel()

    def payoff(self, z):
        return matvec(self.P, np.exp(z))

    def D(self, flat):
        return self.P @ _covariance(np.exp(flat))


class _Matrix(_Family):
    family = "matrix"

    def __init__(self, game):
        self.game, self.sizes = game, [game.m, game.n]
        self.A = np.asarray(game.A)
        self.reference = (-math.log(game.m), -math.log(game.n))

    def to_lib(self, flat):
        return (np.array(flat[:self.game.m]), np.array(flat[self.game.m:]))

    def from_lib(self, x):
        return np.concatenate([np.asarray(b, dtype=float).ravel() for b in x])

    def payoff(self, z):
        return (self.A @ np.exp(z[1]), -self.A.T @ np.exp(z[0]))

    def D(self, flat):
        m = self.game.m
        return _saddle_D(self.A, np.exp(flat[:m]), np.exp(flat[m:]))


def _saddle_D(A, x, y):
    """dF of F(u, v) = (Ay, −Aᵀx): [[0, A·S_y], [−Aᵀ·S_x, 0]]."""
    m, n = A.shape
    D = np.zeros((m + n, m + n))
    D[:m, m:] = A @ _covariance(y)
    D[m:, :m] = -A.T @ _covariance(x)
    return D


class _Population(_Family):
    family = "population"

    def __init__(self, population):
        game = population.game
        self.game, self.players, self.n = game, population.players, game.n
        self.sizes = [game.n] * population.players
        self.A = np.asarray(game.A)
        self.reference = game.log_reference

    def to_lib(self, flat):
        return np.array(flat).reshape(self.players, self.n)

    def from_lib(self, x):
        return np.asarray(x, dtype=float).ravel()

    def payoff(self, z):
        pi = np.exp(z)
        others = (pi.sum(axis=0, keepdims=True) - pi) / (self.players - 1)
        return 0.5 + others @ self.A.T

    def D(self, flat):
        m, n = self.players, self.n
        pi = np.exp(flat).reshape(m, n)
        D = np.zeros((m * n, m * n))
        for i in range(m):
            for j in range(m):
                if i != j:
                    D[i * n:(i + 1) * n, j * n:(j + 1) * n] = self.A @ _covariance(pi[j]) / (m - 1)
        return D


class _MarkovStage(_Family):
    """Per-state updates of a zero-sum Markov game with Q = Q* frozen: rows u(s), then v(s)."""

    family = "markov-game"

    def __init__(self, game, Q):
        S, A, B = Q.shape
        self.Q, self.S, self.A_, self.B = Q, S, A, B
        self.sizes = [A] * S + [B] * S
        self.reference = (np.full((S, A), -math.log(A)), np.full((S, B), -math.log(B)))

    def to_lib(self, flat):
        k = self.S * self.A_
        return (np.array(flat[:k]).reshape(self.S, self.A_), np.array(flat[k:]).reshape(self.S, self.B))

    def from_lib(self, x):
        return np.concatenate([np.asarray(b, dtype=float).ravel() for b in x])

    def payoff(self, z):
        x, y = np.exp(z[0]), np.exp(z[1])
        return (np.einsum("sab,sb->sa", self.Q, y), -np.einsum("sab,sa->sb", self.Q, x))

    def D(self, flat):
        S, A, B = self.S, self.A_, self.B
        u, v = flat[:S * A].reshape(S, A), flat[S * A:].reshape(S, B)
        D = np.zeros((S * (A + B), S * (A + B)))
        for s in range(S):
            Ds = _saddle_D(self.Q[s], np.exp(u[s]), np.exp(v[s]))
            iu = np.arange(s * A, (s + 1) * A)
            iv = S * A + np.arange(s * B, (s + 1) * B)
            idx = np.concatenate([iu, iv])
            D[np.ix_(idx, idx)] = Ds
        return D


class _MdpPolicy(_Family):
    """An MDP policy method's per-state prox step: blocks ℓ(s), F(ℓ) = Q^π_Ω (module
    docstring); Ω = τ·negentropy (μ uniform) or τ·KL(·‖μ)."""

    family = "mdp"

    def __init__(self, mdp, regularizer):
        S, A = mdp.n_states, mdp.n_actions
        self.mdp, self.regularizer, self.tau = mdp, regularizer, float(regularizer.tau)
        self.sizes = [A] * S
        self.reference = (np.broadcast_to(regularizer.log_reference, (S, A)).copy()
                          if isinstance(regularizer, KL) else np.full((S, A), -math.log(A)))

    def to_lib(self, flat):
        return np.array(flat).reshape(len(self.sizes), -1)

    def from_lib(self, x):
        return np.asarray(x, dtype=float).ravel()

    def payoff(self, z):
        return self.mdp.q_policy(np.exp(normalize_logits(z)), self.regularizer)

    def D(self, flat):
        mdp = self.mdp
        S, A = mdp.n_states, mdp.n_actions
        ell = normalize_logits(self.to_lib(flat))
        pi = np.exp(ell)
        w = self.payoff(ell) - self.tau * (ell - self.reference)
        U = np.zeros((S, S * A))
        for s in range(S):
            U[s, s * A:(s + 1) * A] = _covariance(pi[s]) @ w[s]
        M = np.linalg.solve(np.eye(S) - mdp.gamma * _dense(mdp.P_pi(pi)), U)
        return mdp.gamma * (_dense(mdp.P_flat) @ M)


def policy_step_coefficients(mdp, method, eta, tau):
    """(a, b, c) of the policy step of ``method`` ∈ ``POLICY_METHODS`` (as the runners of
    ``nashlab.solvers.dp_methods`` take it): "npg-entropy" is the mirror-descent step
    η/(1−γ) (capped at 1/τ, soft policy iteration), "pmd" the prox step η, both with β = τ."""
    if method == "npg-entropy":
        return step_coefficients("mirror-descent", min(eta / (1 - mdp.gamma), 1 / tau), tau)
    return step_coefficients("prox", eta, tau)


# ---- the composed map and its Jacobian ------------------------------------------------------

class _Map:
    """One step of a composition on a family, in flat coordinates, with its Jacobian."""

    def __init__(self, fam, composition, coefficients):
        self.fam, self.composition, self.coefficients = fam, composition, coefficients
        self.step = make_step(coefficients, fam.reference)
        self.stacked = composition == "optimistic"
        self.n = sum(fam.sizes)

    def split(self, x):
        return (x[:self.n], x[self.n:]) if self.stacked else (x, None)

    def _compose(self, x):
        ell, pred = self.split(x)
        fam = self.fam
        new, half, g = COMPOSITIONS[self.composition](
            fam.to_lib(ell), fam.payoff, self.step, None if pred is None else fam.to_lib(pred))
        return fam.from_lib(new), fam.from_lib(half), fam.from_lib(g)

    def __call__(self, x):
        new, _, g = self._compose(x)
        return np.concatenate([new, g]) if self.stacked else new

    def jacobian(self, x):
        """dT(x) in flat coordinates (module docstring table)."""
        a, _, c = self.coefficients
        fam = self.fam
        ell, _ = self.split(x)
        new, half, _ = self._compose(x)
        eye = np.eye(self.n)
        N_new = _projection([np.exp(b) for b in fam.blocks(new)])
        N_half = _projection([np.exp(b) for b in fam.blocks(half)])
        if self.composition == "single":
            return N_new @ (a * eye + c * fam.D(ell))
        D_half = fam.D(half)
        if self.composition == "extragradient":
            return N_new @ (a * eye + c * D_half @ N_half @ (a * eye + c * fam.D(ell)))
        if self.composition == "mixture":
            return N_new @ (a * eye + c * a * D_half @ N_half)
        G = D_half @ N_half  # optimistic: dĝ⁺ = G·(a dℓ + c dĝ)
        top = N_new @ np.hstack([a * eye + c * a * G, c * c * G])
        return np.vstack([top, np.hstack([a * G, c * G])])

    def basis(self):
        blocks = [_sum_zero_basis(n) for n in self.fam.sizes]
        return _block_diag(blocks * (2 if self.stacked else 1))

    def normalise(self, x):
        ell, pred = self.split(x)
        ell = self.fam.normalise(ell)
        return np.concatenate([ell, pred]) if self.stacked else ell

    def stack(self, ell):
        """The full state at logits ``ell``: (ℓ, F(ℓ)) for the optimistic methods."""
        ell = self.fam.normalise(ell)
        if not self.stacked:
            return ell
        return np.concatenate([ell, self.fam.from_lib(self.fam.payoff(self.fam.to_lib(ell)))])


def _newton(T, x, basis, tol):
    """Polish a fixed point of T on the quotient: x ← x + B(I − BᵀJB)⁻¹Bᵀ(T(x) − x)."""
    for _ in range(_NEWTON_STEPS):
        r = basis.T @ (T(x) - x)
        if np.max(np.abs(r), initial=0.0) <= tol:
            break
        J = basis.T @ T.jacobian(x) @ basis
        x = T.normalise(x + basis @ np.linalg.solve(np.eye(J.shape[0]) - J, r))
    return x


def _iterate(T, x, tol, limit=_FIXED_POINT_ITERATIONS):
    """Iterate T until the quotient change is ≤ tol (or ``limit`` steps)."""
    basis = T.basis()
    for _ in range(limit):
        y = T(x)
        done = np.max(np.abs(basis.T @ (y - x)), initial=0.0) <= tol
        x = y
        if done:
            break
    return x


def _rate_of(T, x, family, method, eta, coordinates):
    basis = T.basis()
    scale = max(1.0, float(np.max(np.abs(x[np.isfinite(x)]), initial=1.0)))
    x = _newton(T, x, basis, 1e-15 * scale)
    residual = float(np.max(np.abs(basis.T @ (T(x) - x)), initial=0.0))
    if not residual <= 1e-9 * scale:
        raise RuntimeError(f"no fixed point of {method!r} found (quotient residual {residual:.3g})")
    J = basis.T @ T.jacobian(x) @ basis
    return _result(J, basis, x, family, method, eta, coordinates)


def _result(J, basis, x, family, method, eta, coordinates):
    moduli = np.sort(np.abs(np.linalg.eigvals(J)))[::-1] if J.size else np.zeros(0)
    return LocalRate(float(moduli[0]) if moduli.size else 0.0, tuple(float(m) for m in moduli),
                     x, J.shape[0], family, method, None if eta is None else float(eta),
                     coordinates, J, basis)


# ---- entry point ----------------------------------------------------------------------------

def _require_eta(entry, eta):
    if eta is None:
        raise ValueError(f"eta is required for method {entry.name!r} ({entry.family}): its "
                         f"local rate depends on the step")
    return eta


def _interior(logits, what):
    logits = np.asarray(logits, dtype=float)
    if not np.all(np.isfinite(logits)):
        raise ValueError(f"the fixed point of {what} is on the boundary of the simplex (a zero "
                         f"probability): it has no local rate in log-policy coordinates")
    return logits


def _check_options(options, allowed, method):
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"local_rate got unknown option(s) {', '.join(unknown)} for method "
                        f"{method!r}; it accepts: {', '.join(allowed) or 'none'}")


def _no_rate(family, method):
    if (family, method) in NO_LOCAL_RATE:
        raise ValueError(f"method {method!r} ({family}) has no local rate: "
                         f"{NO_LOCAL_RATE[(family, method)]}")


def local_rate(problem, method, *, eta=None, **options) -> LocalRate:
    """The exact local rate of ``method`` on ``problem`` with step ``eta`` (module docstring).

    ``problem``: a single (unbatched) PreferenceGame, MatrixGame, Population,
    ZeroSumMarkovGame (option ``tau``, the entropy weight; the per-state map with the value
    update frozen at V*_τ) or MDP (method "vi", option ``regularizer``, ``eta`` unused; or
    "npg-entropy" / "pmd" with ``regularizer`` Entropy(τ) or KL(τ, μ) and their ``eta``).
    ``eta`` is read in the method's step form (``nashlab.solvers.methods``), as by
    ``nashlab.run``. Options: ``solution`` (the certified ``nashlab.solve`` result to take
    the fixed point from), ``schedule`` (Nash-MD: only None, the constant step), ``tau``
    (Markov games), ``regularizer`` (MDPs). ValueError for methods without a local rate
    (``NO_LOCAL_RATE``) and for fixed points on the boundary of the simplex.
    """
    from nashlab.solvers.front import solve

    if isinstance(problem, MDP):
        return _mdp_rate(problem, method, eta, options)
    if isinstance(problem, ZeroSumMarkovGame):
        return _markov_rate(problem, method, eta, options)
    if isinstance(problem, PreferenceGame):
        fam, family = _Preference(problem), "preference"
        beta = problem.beta
    elif isinstance(problem, MatrixGame):
        fam, family = _Matrix(problem), "matrix"
        beta = problem.tau
    elif isinstance(problem, Population):
        fam, family = _Population(problem), "population"
        beta = problem.game.beta
    else:
        raise TypeError("problem must be a PreferenceGame, MatrixGame, Population, "
                        f"ZeroSumMarkovGame or MDP, got {type(problem).__name__}")
    if problem.batch_shape:
        raise ValueError(f"problem must be a single game (batch_shape {problem.batch_shape}): "
                         f"take one game of the batch")
    _no_rate(family, method)
    entry = get_method(family, method)
    _check_options(options, ("solution", "schedule") if family == "preference" else ("solution",),
                   method)
    if options.get("schedule") is not None:
        raise ValueError("local_rate needs a constant step: schedule must be None")
    if entry.needs_regularization and beta <= 0:
        raise ValueError(f"method {method!r} needs regularization > 0")
    eta = _require_eta(entry, eta)
    T = _Map(fam, entry.composition, step_coefficients(entry.step_form, eta, beta))
    solution = options.get("solution")
    solution = solve(problem) if solution is None else solution
    if not solution.certified:
        raise RuntimeError(f"the equilibrium could not be certified ({solution.message})")
    x = T.stack(_interior(solution.logits, f"{family} game").ravel())
    if entry.composition == "mixture":  # Nash-MD: its fixed point is not π*
        x = _iterate(T, x, 1e-10)
    coordinates = "log-policy, stacked with the predictor" if T.stacked else "log-policy"
    return _rate_of(T, x, family, method, eta, coordinates)


def _markov_rate(game, method, eta, options):
    from nashlab.solvers.markov_games import solve_markov_game

    _check_options(options, ("tau", "solution"), method)
    _no_rate("markov-game", method)
    entry = get_method("markov-game", method)
    tau = float(options.get("tau", 0.0))
    if entry.needs_regularization and tau <= 0:
        raise ValueError(f"method {method!r} needs tau > 0 (entropy-regularized game)")
    eta = _require_eta(entry, eta)
    solution = options.get("solution")
    solution = solve_markov_game(game, tau=tau) if solution is None else solution
    if not solution.certified:
        raise RuntimeError(f"the equilibrium could not be certified ({solution.message})")
    fam = _MarkovStage(game, game.q_values(solution.values))
    mu, nu = solution.split()
    with np.errstate(divide="ignore"):
        ell = np.concatenate([np.log(mu).ravel(), np.log(nu).ravel()])
    T = _Map(fam, entry.composition, step_coefficients(entry.step_form, eta, tau))
    x = T.stack(_interior(ell, "the Markov game"))
    coordinates = ("per-state log-policy, value update frozen at V*"
                   + (", stacked with the predictor" if T.stacked else ""))
    return _rate_of(T, x, "markov-game", method, eta, coordinates)


def _mdp_rate(mdp, method, eta, options):
    from nashlab.solvers.bellman import greedy_policy
    from nashlab.solvers.dp import solve_mdp

    _check_options(options, ("regularizer", "solution"), method)
    _no_rate("mdp", method)
    if method in POLICY_METHODS:
        return _mdp_policy_rate(mdp, method, eta, options)
    if method != "vi":
        get_method("mdp", method)
        raise ValueError(f"local_rate covers MDP value iteration ('vi') and the policy methods "
                         f"{POLICY_METHODS}, got {method!r}")
    if eta is not None:
        raise ValueError("value iteration takes no step: eta must be None")
    if mdp.horizon is not None:
        raise ValueError("value iteration needs an infinite-horizon MDP (horizon=None)")
    regularizer = options.get("regularizer")
    solution = options.get("solution")
    solution = solve_mdp(mdp, regularizer=regularizer) if solution is None else solution
    if not solution.certified:
        raise RuntimeError(f"the optimum could not be certified ({solution.message})")
    v = np.asarray(solution.values, dtype=float)
    q = mdp.q_values(v)
    if regularizer is None:
        top = np.sort(q, axis=1)
        if q.shape[1] > 1 and np.min(top[:, -1] - top[:, -2]) <= 1e-9 * max(1.0, np.max(np.abs(q))):
            raise ValueError("the greedy action is not unique at v*: the max is not "
                             "differentiable there (no Jacobian)")
    policy = greedy_policy(q, regularizer)
    J = mdp.gamma * _dense(mdp.P_pi(policy))
    return _result(J, np.eye(mdp.n_states), v, "mdp", method, None, "values")


def _mdp_policy_rate(mdp, method, eta, options):
    """``local_rate`` of "npg-entropy" / "pmd" (module docstring): the per-state prox step
    against Q^π_Ω at π*_Ω, for Ω = Entropy(τ) or KL(τ, μ) (``regularizer``, required)."""
    from nashlab.solvers.dp import solve_mdp

    regularizer = options.get("regularizer")
    if not isinstance(regularizer, Entropy | KL):
        raise ValueError(f"method {method!r} needs regularizer=Entropy(tau) or KL(tau, reference)"
                         f"{' (npg-entropy: Entropy only)' if method == 'npg-entropy' else ''}, "
                         f"got {regularizer!r}")
    if method == "npg-entropy" and not isinstance(regularizer, Entropy):
        raise ValueError(f"npg-entropy needs regularizer=Entropy(tau), got {regularizer!r}")
    if mdp.horizon is not None:
        raise ValueError("policy methods need an infinite-horizon MDP (horizon=None)")
    eta = _require_eta(get_method("mdp", method), eta)
    solution = options.get("solution")
    solution = solve_mdp(mdp, regularizer=regularizer) if solution is None else solution
    if not solution.certified:
        raise RuntimeError(f"the optimum could not be certified ({solution.message})")
    fam = _MdpPolicy(mdp, regularizer)
    with np.errstate(divide="ignore"):
        ell = np.log(np.asarray(solution.policy, dtype=float)).ravel()
    T = _Map(fam, "single", policy_step_coefficients(mdp, method, eta, fam.tau))
    x = T.stack(_interior(ell, "the MDP"))
    return _rate_of(T, x, "mdp", method, eta, "per-state log-policy")


def _dense(M):
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M, dtype=float)


# ---- the "local-rate" verdict -----------------------------------------------------------------

LOCAL_RATE_ID = "local-rate"
#: the floor of the fit for a linear metric: the float floor of a distance
LINEAR_FLOOR = 1e-11
#: the floor for a quadratic metric: the same floor on the distance, squared. Used for the
#: metrics computed without cancellation (kl_from_logs, and the log-space exploitability,
#: duality gap and Nikaido–Isoda gap of preference, matrix and population games, which reach
#: ~1e-31 at convergence); a 1e-11 floor there stops fast runs (ρ² ≈ 0.85) after ~100
#: iterations, while the subdominant modes still weigh (5.7e-3 of factor error measured)
QUADRATIC_FLOOR = LINEAR_FLOOR ** 2
_EXACT_QUADRATIC = ("preference", "matrix", "population")

#: Which moduli can still shape the fitted window: mode j carries a relative amplitude
#: (ρ_j/ρ)^{k₀} at the window's first index k₀; those with ≥ ADMISSIBLE_WEIGHT are in the band.
ADMISSIBLE_WEIGHT = 1e-3
#: The band. Near x* a quadratic metric is a positive combination of decaying modes
#: |λ_iλ_j|^k, so a finite window fits a factor between the slowest admissible mode ρ_min²
#: and ρ²; the verdict passes iff
#:     (ρ_min/ρ)^o·(1 − LOWER_RTOL[o]) ≤ fitted/ρ^o ≤ 1 + UPPER_RTOL[o]     (o the order).
#: A correct run is never slower than ρ² but through rounding; a smaller step is: on 216
#: preference runs (n = 3..10, β = .05..1, six methods) every correct run had fitted/ρ² ≤
#: 1.00000 on KL and exploitability, every 0.9η run ≥ 1.0023. The span is a seminorm of a
#: mixture of modes, span(v₁ + v₂(ρ₂/ρ)^k), which can approach span(v₁) from above or below
#: at a speed not bounded by ρ₂/ρ: measured 0.981·(ρ_min/ρ) to 1.014 on correct runs, hence
#: its wider tolerances (the KL of the same run catches the wrong step).
LOWER_RTOL = {2: 1e-3, 1: 3e-2}
UPPER_RTOL = {2: 1e-3, 1: 3e-2}


def verdict_floor(metric, family) -> float:
    """The floor below which ``local_rate_verdict`` does not fit ``metric`` of ``family``."""
    if METRIC_ORDER.get(metric) == 2 and (metric in ("kl", "policy_kl")
                                          or family in _EXACT_QUADRATIC):
        return QUADRATIC_FLOOR
    return LINEAR_FLOOR


def rate_band(rate, metric, start) -> tuple:
    """(low, high) of fitted/ρ^order that a correct run's window starting at ``start`` can
    show (``UPPER_RTOL``, ``LOWER_RTOL``, ``ADMISSIBLE_WEIGHT``)."""
    order = rate.order(metric)
    moduli = np.asarray(rate.moduli)
    if rate.rho <= 0:
        return 0.0, 1.0 + UPPER_RTOL[order]
    with np.errstate(divide="ignore"):
        weight = (moduli / rate.rho) ** max(start, 1)
    slowest = float(np.min(moduli[weight >= ADMISSIBLE_WEIGHT]))
    return (slowest / rate.rho) ** order * (1 - LOWER_RTOL[order]), 1.0 + UPPER_RTOL[order]


def _games_of(problem):
    """(index, single game) over the batch of ``problem`` (one entry for a single game)."""
    shape = getattr(problem, "batch_shape", ())
    if not shape:
        return [((), problem)]
    return [(idx, problem[idx]) for idx in np.ndindex(shape)]


def local_rate_verdict(trajectory, problem, *, solution=None):
    """The "local-rate" verdict of ``trajectory`` (a run of ``problem``): for every tracked
    metric of ``METRIC_ORDER`` and every game of the batch, the fitted factor (the fit of
    ``fitted_factor`` above ``verdict_floor``) divided by ρ^order lies in ``rate_band``.
    Inconclusive (status "inconclusive", the reason starting so) when no metric has the
    ≥ 3 points above the floor a fit needs (no evidence: NaN, inf, too short), for Nash-MD
    (its metrics are measured against π*_β, not its own fixed point), for Markov games with
    γ > 0 (the run's value update is slower than the per-state map), for step schedules, for
    MDP runs regularized by anything but the entropy (the trajectory carries the
    regularizer's name and τ only; Entropy(τ) is rebuilt from them) and for methods
    without a local rate. Returns a ``Verdict``: ``worst_ratio`` = max over metrics of
    max(r/high, low/r), r = fitted/ρ^order (≤ 1 inside the band); ``fitted_rate`` and
    ``theory_rate`` the fitted factor and ρ^order of that metric."""
    params = trajectory.params
    method, family = params.get("method"), params.get("family")

    def verdict(passed, reason, worst=None, fit=None, theory=None, evidence=0):
        status = ("pass" if passed else
                  "inconclusive" if reason.startswith("inconclusive") else "fail")
        return Verdict(theorem_id=LOCAL_RATE_ID, status=status, worst_ratio=worst,
                       first_violation=None, fitted_rate=fit, theory_rate=theory,
                       tightness=worst, assumptions_hold=True, reason=reason,
                       evidence=evidence)

    if (family, method) in NO_LOCAL_RATE:
        return verdict(False, f"inconclusive: {NO_LOCAL_RATE[(family, method)]}")
    if params.get("schedule") is not None:
        return verdict(False, "inconclusive: a step schedule has no constant local rate")
    if family == "preference" and get_method(family, method).composition == "mixture":
        return verdict(False, "inconclusive: Nash-MD's metrics are measured against π*_β, "
                              "not its own fixed point (local_rate(...).fixed_point)")
    if family == "markov-game" and params.get("gamma", 0) > 0:
        return verdict(False, "inconclusive: the local rate is the per-state map's with the "
                              "value update frozen; with γ > 0 the run's value update is slower")
    options = {"tau": params.get("tau", 0.0)} if family == "markov-game" else {}
    if family == "mdp" and params.get("regularizer") is not None:
        if params["regularizer"] != Entropy.name:
            return verdict(False, "inconclusive: the trajectory records its regularizer by name "
                                  "only; call local_rate(mdp, method, regularizer=...) directly")
        options["regularizer"] = Entropy(params["tau"])  # Entropy(τ) is its name and τ
    if solution is not None:
        options["solution"] = solution
    eta = params.get("eta") if family != "mdp" or method in POLICY_METHODS else None
    names = POLICY_METRIC_ORDER if family == "mdp" and method in POLICY_METHODS else METRIC_ORDER
    metrics = [m for m in names if m in trajectory.metrics]
    worst, worst_fit, worst_theory, counted, failures = -math.inf, None, None, 0, []
    for idx, game in _games_of(problem):
        rate = local_rate(game, method, eta=eta, **options)
        if rate.rho >= 1:
            return verdict(False, f"inconclusive: ρ = {rate.rho:.6g} ≥ 1 (the fixed point does "
                                  f"not attract{f' for game {list(idx)}' if idx else ''})")
        for name in metrics:
            values = np.asarray(trajectory.metrics[name], dtype=float)
            fit, start = _fit(values[(slice(None),) + tuple(idx)], verdict_floor(name, family))
            if not math.isfinite(fit):
                continue
            counted += 1
            expected = rate.factor(name)
            low, high = rate_band(rate, name, start)
            ratio = fit / expected
            score = max(ratio / high, low / ratio)
            if score > worst:
                worst, worst_fit, worst_theory = score, fit, expected
            if score > 1:
                failures.append(f"{name}{list(idx) if idx else ''}: fitted {fit:.6g} = "
                                f"{ratio:.6g}·ρ^{rate.order(name)}, outside [{low:.6g}, {high:.6g}]")
    if counted == 0:
        return verdict(False, "inconclusive: no tracked metric of METRIC_ORDER has the 3 points "
                              "above the floor that a fit needs")
    if failures:
        return verdict(False, "; ".join(failures), worst, worst_fit, worst_theory, counted)
    return verdict(True, f"{counted} fitted factor(s) within the band of ρ^order "
                         f"(worst {worst:.6g} of the band)", worst, worst_fit, worst_theory,
                   counted)


VERDICT_HOOKS[LOCAL_RATE_ID] = local_rate_verdict
