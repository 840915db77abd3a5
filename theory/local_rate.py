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

Unregularized NPG ("npg", log π⁺ = log π + η_k Q^{π_k} − log Z; Xiao 2201.07443 eq. (8))
converges to a deterministic optimum π* (unique greedy action a*(s)), at the boundary of the
simplex, so log-policy coordinates do not apply. In the coordinates p(s, a) = π(a|s),
a ≠ a*(s), the step is p⁺(s,a) = p(s,a)·e^{−ηΔ^π(s,a)}/Z(s), Δ^π(s,a) = Q^π(s,a*) − Q^π(s,a),
Z(s) = 1 + O(p); every term of dp⁺(s,a) but the first carries a factor p(s,a) = 0 at π*, so
J = diag(e^{−ηΔ*(s,a)}) exactly, Δ* the action gaps of Q*, and ρ = e^{−ηΔ_min} [D]. The
suboptimality is linear in p (performance difference: δ = Σ_s d^π_ρ(s)Σ_{a≠a*}p(s,a)Δ*(s,a)
/(1−γ), every coefficient > 0 for ρ > 0), so δ_k decays as e^{−τ_kΔ_min}, τ_k = Σ_{j<k} η_j
the cumulative step: by ρ per iteration at a constant step, superlinearly with growing steps
(``npg_verdict`` fits log δ_k against τ_k, which covers both). Away from π* the gaps of the
run are Δ^{π_k} = Δ* ± 2γ‖V* − V^{π_k}‖∞ (Q^π − Q* = γP(V^π − V*)) and ‖V* − V^π‖∞ ≤
δ(ρ)/min ρ (V* ≥ V^π), which says where the run is asymptotic.

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

Nash-MD's verdict is on that fixed point, not on a fitted factor. Its metrics are measured
against π*_β ≠ π̄ (the fixed point), so m_k − m(π̄) = ∇m(π̄)·δ_k + ½δ_kᵀ∇²m δ_k + … with a
gradient ∇m(π̄) of size |π̄ − π*| ~ √KL(π*‖π̄): a finite window fits any factor between ρ²
and ρ (measured 0.47ρ to 1.11ρ on correct quick-suite runs, the complex pair 0.5 ± 0.27i
adding oscillation), so no band around ρ holds. What holds exactly: the fixed point solves
ℓ̄ = log μ + Pπ_h/β + c, π_h ∝ π̄^{1−ηβ}μ^{ηβ} (subtract ℓ̄ from ℓ̄ = (1−ηβ)ℓ̄ + ηβ log μ +
ηPπ_h + c), it attracts (ρ < 1), and it is unique whenever the map is a span contraction:
span(Δℓ⁺) ≤ (1−ηβ)(1 + η/2)·span(Δℓ) (span(PΔπ) ≤ ‖Δπ‖₁ ≤ span(Δh)/2 by Pinsker and
Hoeffding, Δh = (1−ηβ)Δℓ), i.e. for (1−ηβ)(1+η/2) < 1. A run that has stopped moving is at
a fixed point of the map it ran, so ``nash_md_verdict`` compares its last iterate with π̄:
a wrong step (0.9η recorded as η), a wrong opponent or anchor moves the fixed point.
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
#: unregularized NPG: the suboptimality is linear in the probabilities of the non-optimal
#: actions, the coordinates of its Jacobian (module docstring)
NPG_METRIC_ORDER = {"suboptimality": 1}

#: methods without a local rate, and why
NO_LOCAL_RATE = {
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
        if self.family == "mdp" and self.method in (*POLICY_METHODS, "npg"):
            table = NPG_METRIC_ORDER if self.method == "npg" else POLICY_METRIC_ORDER
            if metric in table:
                return table[metric]
            raise ValueError(f"metric must be one of {sorted(table)} for "
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
    """(fitted factor, the fitted window's indices); (NaN, None) without evidence."""
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
    return float(np.exp(np.polyfit(k.astype(float), np.log(values[k]), 1)[0])), k


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
    update frozen at V*_τ) or MDP (method "vi", option ``regularizer``, ``eta`` unused;
    "npg-entropy" / "pmd" with ``regularizer`` Entropy(τ) or KL(τ, μ) and their ``eta``; or
    unregularized "npg" with its ``eta``: ρ = e^{−ηΔ_min} at the deterministic optimum).
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
    if method == "npg":
        return _npg_rate(mdp, eta, options)
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


def action_gaps(mdp, solution=None):
    """Δ*(s, a) = max_b Q*(s, b) − Q*(s, a) of the non-optimal actions, flattened in (s, a)
    order, and the optimal values v*; ValueError where a greedy action is not unique (π* is
    then not a vertex and the step map has no Jacobian of the kind of ``_npg_rate``)."""
    from nashlab.solvers.dp import solve_mdp

    solution = solve_mdp(mdp) if solution is None else solution
    if not solution.certified:
        raise RuntimeError(f"the optimum could not be certified ({solution.message})")
    v = np.asarray(solution.values, dtype=float)
    q = mdp.q_values(v)
    gap = np.max(q, axis=1, keepdims=True) - q
    tie = 1e-9 * max(1.0, float(np.max(np.abs(q))))
    if np.any(np.sum(gap <= tie, axis=1) != 1):
        raise ValueError("the greedy action is not unique at v*: unregularized NPG converges "
                         "to a non-vertex policy there (no Jacobian at a vertex)")
    return gap[gap > tie], v


def _npg_rate(mdp, eta, options):
    """``local_rate`` of unregularized NPG at the step ``eta`` (module docstring): the
    Jacobian at the deterministic optimum in the coordinates p(s, a), a ≠ a*(s), is
    diag(e^{−ηΔ*(s,a)}); ρ = e^{−ηΔ_min}."""
    if options.get("regularizer") is not None:
        raise ValueError("npg is unregularized: regularizer must be None")
    if mdp.horizon is not None:
        raise ValueError("policy methods need an infinite-horizon MDP (horizon=None)")
    eta = _require_eta(get_method("mdp", "npg"), eta)
    if isinstance(eta, bool) or not (isinstance(eta, int | float) and math.isfinite(eta)
                                     and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    gaps, _ = action_gaps(mdp, options.get("solution"))
    J = np.diag(np.exp(-eta * np.sort(gaps)))
    return _result(J, np.eye(J.shape[0]), np.zeros(J.shape[0]), "mdp", "npg", eta,
                   "probabilities of the non-optimal actions")


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
#: The slow side of the span band, derived instead (``window_bound``). ρ bounds a correct
#: run's factor only asymptotically: when several eigenvalues share the modulus ρ and J is
#: not normal, a finite window fits a factor above ρ (measured 1.0305ρ over k = 10..19 on a
#: correct Nash-MP run, n = 24, β = 1, ρ = 1/3). For a seminorm ‖·‖ with induced norm
#: ν(d) = ‖J^d‖ the linearised iterates obey ‖x_j‖ ≤ ν(j − i)‖x_i‖, and the least-squares
#: slope over indices k_1 < … < k_w is the average of the pairwise slopes weighted by
#: (k_j − k_i)², so
#:     log fitted ≤ Σ_{i<j} (k_j − k_i)·log ν(k_j − k_i) / Σ_{i<j} (k_j − k_i)²,
#: exact for the linearised map and → ρ as the window grows (ν(d)^{1/d} → ρ, Gelfand). For
#: the span, ν(d) = ½ max_{r,s} ‖(J^d)_r − (J^d)_s‖₁ (J^d·1 = 0; the extreme points of the
#: span ball mod 1 are indicator vectors, on which (J^d_r − J^d_s)·δ peaks at the positive
#: part, half the ℓ₁ norm of a zero-sum row difference). The verdict's slow side is then
#: max(1, bound/ρ)·(1 + WINDOW_RTOL): WINDOW_RTOL covers rounding and the O(distance)
#: remainder of the linearisation over the window.
WINDOW_RTOL = 1e-3
#: ν(d) is computed exactly for d ≤ d₀ with (d₀ + 1)·dim³ ≤ WINDOW_FLOPS, beyond by
#: submultiplicativity ν(d) ≤ ν(d₀)^q·ν(r), d = q·d₀ + r (still an upper bound)
WINDOW_FLOPS = 2e8


def verdict_floor(metric, family) -> float:
    """The floor below which ``local_rate_verdict`` does not fit ``metric`` of ``family``."""
    if METRIC_ORDER.get(metric) == 2 and (metric in ("kl", "policy_kl")
                                          or family in _EXACT_QUADRATIC):
        return QUADRATIC_FLOOR
    return LINEAR_FLOOR


def _span_norm(M):
    """½ max_{r,s} ‖M_r − M_s‖₁: the norm induced by the span on a matrix with M·1 = 0."""
    return 0.5 * max((float(np.abs(row - M).sum(axis=1).max()) for row in M), default=0.0)


def window_bound(rate, metric, indices) -> float | None:
    """The largest factor a least-squares fit over the iterations ``indices`` (increasing
    integers) can show for the linearised map of ``rate``, in the norm of ``metric``
    (``WINDOW_RTOL``): exp(Σ_{i<j} g_ij·log ν(g_ij) / Σ_{i<j} g_ij²), g_ij = k_j − k_i. None
    where that norm is not derived here: metrics other than the span, the stacked state of
    the optimistic methods (the span sees ℓ only, the state carries ĝ) and non-preference
    families."""
    if metric != "span" or rate.family != "preference" or "stacked" in rate.coordinates:
        return None
    k = np.asarray(indices, dtype=np.int64)
    if k.ndim != 1 or k.size < 2 or np.any(np.diff(k) <= 0):
        raise ValueError(f"indices must be ≥ 2 increasing iterations, got {indices!r}")
    span = int(k[-1] - k[0])
    present = np.zeros(span + 1)
    present[k - k[0]] = 1.0
    counts = np.correlate(present, present, "full")[span + 1:]  # pairs at gap d = 1..span
    J, B = rate.jacobian, rate.basis
    dim = max(J.shape[0], 1)
    exact = max(1, min(span, int(WINDOW_FLOPS / dim ** 3) - 1))
    nu, power = [1.0], np.eye(J.shape[0])
    for _ in range(exact):
        power = power @ J
        nu.append(_span_norm(B @ power @ B.T))
    gaps = np.flatnonzero(counts > 0.5) + 1
    q, r = np.divmod(gaps, exact)
    with np.errstate(divide="ignore"):
        log_nu = q * math.log(nu[exact]) + np.log(np.asarray(nu)[r])
    weights = counts[gaps - 1]
    return float(np.exp(np.sum(weights * gaps * log_nu) / np.sum(weights * gaps ** 2.0)))


def rate_band(rate, metric, start, indices=None) -> tuple:
    """(low, high) of fitted/ρ^order that a correct run's window starting at ``start`` can
    show (``UPPER_RTOL``, ``LOWER_RTOL``, ``ADMISSIBLE_WEIGHT``); with the window's
    ``indices`` and a metric ``window_bound`` covers, high is max(1, bound/ρ^order)·
    (1 + ``WINDOW_RTOL``)."""
    order = rate.order(metric)
    moduli = np.asarray(rate.moduli)
    if rate.rho <= 0:
        return 0.0, 1.0 + UPPER_RTOL[order]
    with np.errstate(divide="ignore"):
        weight = (moduli / rate.rho) ** max(start, 1)
    slowest = float(np.min(moduli[weight >= ADMISSIBLE_WEIGHT]))
    low = (slowest / rate.rho) ** order * (1 - LOWER_RTOL[order])
    bound = None if indices is None else window_bound(rate, metric, indices)
    if bound is None:
        return low, 1.0 + UPPER_RTOL[order]
    return low, max(1.0, bound / rate.rho ** order) * (1 + WINDOW_RTOL)


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
    ≥ 3 points above the floor a fit needs (no evidence: NaN, inf, too short), for Markov games with
    γ > 0 (the run's value update is slower than the per-state map), for step schedules, for
    MDP runs regularized by anything but the entropy (the trajectory carries the
    regularizer's name and τ only; Entropy(τ) is rebuilt from them) and for methods
    without a local rate. Returns a ``Verdict``: ``worst_ratio`` = max over metrics of
    max(r/high, low/r), r = fitted/ρ^order (≤ 1 inside the band); ``fitted_rate`` and
    ``theory_rate`` the fitted factor and ρ^order of that metric. Two methods are checked
    otherwise (module docstring): Nash-MD with a constant step by ``_nash_md_verdict`` (the
    last iterate of a stopped run solves the map's fixed-point equation; its metrics, measured
    against π*_β, fit no band around ρ) and unregularized NPG by ``_npg_verdict`` (the
    exponent of the suboptimality per unit of cumulative step is the smallest action gap)."""
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
    if family == "mdp" and method == "npg":
        return _npg_verdict(trajectory, problem, solution, verdict)
    if params.get("schedule") is not None:
        return verdict(False, "inconclusive: a step schedule has no constant local rate")
    if family == "preference" and get_method(family, method).composition == "mixture":
        return _nash_md_verdict(trajectory, problem, verdict)
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
            fit, window = _fit(values[(slice(None),) + tuple(idx)], verdict_floor(name, family))
            if not math.isfinite(fit):
                continue
            counted += 1
            expected = rate.factor(name)
            low, high = rate_band(rate, name, int(window[0]), window)
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


#: Nash-MD: a run has stopped when every tracked metric moved by at most this (relative to
#: max(1, |m_T|)) over its last quarter, and the local rate shrinks what is left of the
#: distance by ρ^{⌊T/4⌋} ≤ STOP_CONTRACTION over that quarter
STOP_TOL, STOP_CONTRACTION = 1e-10, 1e-6
#: Nash-MD: the residual span(ℓ_T − log μ − Pπ_h/β) of the fixed-point equation at the last
#: iterate (module docstring); rounding leaves ~1e-13 (|log μ| ≤ 19, ‖P‖ ≤ 1, β ≥ 1e-3)
FIXED_POINT_TOL = 1e-8


def fixed_point_residual(game, logits, eta) -> float:
    """span(ℓ − log μ − P·π_h/β), h = normalise((1−ηβ)ℓ + ηβ log μ): zero exactly at a fixed
    point of the constant-step Nash-MD map (module docstring), computed from the equation,
    not from the library's step. ``game`` a single PreferenceGame, ``logits`` (n,)."""
    ell = normalize_logits(np.asarray(logits, dtype=float))
    log_mu, beta = np.asarray(game.log_reference, dtype=float), float(game.beta)
    h = normalize_logits((1 - eta * beta) * ell + eta * beta * log_mu)
    r = ell - log_mu - matvec(np.asarray(game.P), np.exp(h)) / beta
    return float(np.max(r) - np.min(r)) if np.all(np.isfinite(r)) else math.inf


def _nash_md_verdict(trajectory, problem, verdict):
    """Nash-MD with a constant step: in every game whose run has stopped (``STOP_TOL``,
    ``STOP_CONTRACTION``) the last iterate solves the map's fixed-point equation to
    ``FIXED_POINT_TOL`` (``fixed_point_residual``); worst_ratio = residual/tolerance,
    ``theory_rate`` = ρ. Games whose run has not stopped are not counted."""
    eta = trajectory.params.get("eta")
    if trajectory.policy is None or eta is None:
        return verdict(False, "inconclusive: Nash-MD's verdict needs the last iterate "
                              "(trajectory.policy) and the constant step eta")
    names = [m for m in ("kl", "exploitability", "duality_gap", "span") if m in trajectory.metrics]
    policy = np.asarray(trajectory.policy, dtype=float)
    worst, worst_rho, counted, failures, moving = -math.inf, None, 0, [], 0
    for idx, game in _games_of(problem):
        rate = local_rate(game, "nash-md", eta=eta)
        series = [np.asarray(trajectory.metrics[m], dtype=float)[(slice(None),) + tuple(idx)]
                  for m in names]
        T = len(series[0]) - 1 if series else 0
        stopped = (T >= 4 and rate.rho ** (T // 4) <= STOP_CONTRACTION
                   and all(np.isfinite(v[-1]) and abs(v[-1] - v[(3 * T) // 4])
                           <= STOP_TOL * max(1.0, abs(v[-1])) for v in series))
        if not stopped:
            moving += 1
            continue
        counted += 1
        with np.errstate(divide="ignore"):
            logits = np.log(policy[tuple(idx)])
        residual = fixed_point_residual(game, logits, eta)
        distance = float(np.ptp(normalize_logits(logits) - rate.fixed_point))
        score = residual / FIXED_POINT_TOL
        if score > worst:
            worst, worst_rho = score, rate.rho
        if score > 1:
            failures.append(f"game {list(idx)}: the last iterate is not a fixed point of the "
                            f"Nash-MD map with η = {eta:g} (residual {residual:.3g} > "
                            f"{FIXED_POINT_TOL:g}; span distance to its fixed point "
                            f"{distance:.3g})")
    if counted == 0:
        return verdict(False, f"inconclusive: no game's run has stopped ({moving} still moving "
                              f"over the last quarter, or ρ^(T/4) > {STOP_CONTRACTION:g})")
    if failures:
        return verdict(False, "; ".join(failures), worst, None, worst_rho, counted)
    return verdict(True, f"{counted} stopped run(s) at the fixed point of the map (worst "
                         f"{worst:.3g} of the tolerance; {moving} still moving)",
                   worst, None, worst_rho, counted)


#: NPG: the window of the fit is where the gaps of the run are within this fraction of Δ_min
#: of the gaps of Q* (2γ·δ_k/min ρ ≤ NPG_ASYMPTOTIC·Δ_min, module docstring): a third of the
#: linear band (``LOWER_RTOL[1]``)
NPG_ASYMPTOTIC = 1e-2


def _npg_verdict(trajectory, problem, solution, verdict):
    """Unregularized NPG: the exponent of the suboptimality, the least-squares slope of
    −log δ_k against the cumulative step τ_k = Σ_{j<k} η_j over the later half of the
    asymptotic iterations above the floor, lies in [Δ_min(1 − LOWER_RTOL[1]),
    Δ_adm(1 + UPPER_RTOL[1])], Δ_adm the largest gap whose mode e^{−τΔ} still weighs
    ≥ ADMISSIBLE_WEIGHT at the window's start (module docstring). ρ (the start distribution
    of δ) is taken uniform, the runner's default (the trajectory does not record it)."""
    params = trajectory.params
    if "suboptimality" not in trajectory.metrics:
        return verdict(False, "inconclusive: NPG's local rate reads the suboptimality, which the "
                              "trajectory lacks")
    if params.get("regularizer") is not None:
        return verdict(False, "inconclusive: npg is the unregularized method")
    eta, growth = float(params["eta"]), float(params.get("step_growth", 1.0))
    gaps, v = action_gaps(problem, solution)
    gaps = np.sort(gaps)
    if gaps.size == 0:
        return verdict(False, "inconclusive: every action is optimal (no gap to decay by)")
    d_min = float(gaps[0])
    values = np.asarray(trajectory.metrics["suboptimality"], dtype=float)
    k = np.arange(values.size, dtype=float)
    tau = eta * k if growth == 1.0 else eta * np.expm1(k * math.log(growth)) / (growth - 1)
    gamma, states = float(params["gamma"]), problem.n_states
    floor = LINEAR_FLOOR * max(1.0, float(np.max(np.abs(v))))
    with np.errstate(invalid="ignore"):
        usable = (np.isfinite(values) & (values > floor) & np.isfinite(tau)
                  & (2 * gamma * values * states <= NPG_ASYMPTOTIC * d_min))
    above = np.flatnonzero(usable)
    if above.size < 3:
        return verdict(False, "inconclusive: fewer than 3 iterations are asymptotic (gaps of the "
                              "run within 1 % of Δ_min) and above the floor")
    idx = above[above >= above[-1] / 2]
    if idx.size < 3:
        idx = above[-3:]
    fitted = -float(np.polyfit(tau[idx], np.log(values[idx]), 1)[0])
    with np.errstate(over="ignore"):
        weight = np.exp(-tau[idx[0]] * (gaps - d_min))
    d_adm = float(np.max(gaps[weight >= ADMISSIBLE_WEIGHT]))
    low, high = d_min * (1 - LOWER_RTOL[1]), d_adm * (1 + UPPER_RTOL[1])
    score = max(fitted / high, low / fitted) if fitted > 0 else math.inf
    fit_factor, rho = math.exp(-eta * fitted), math.exp(-eta * d_min)
    text = (f"suboptimality: fitted exponent {fitted:.6g} per unit of cumulative step "
            f"(= {fitted / d_min:.6g}·Δ_min, Δ_min = {d_min:.6g}) over iterations "
            f"{int(idx[0])}..{int(idx[-1])}")
    if score > 1:
        return verdict(False, f"{text}, outside [{low:.6g}, {high:.6g}]", score, fit_factor, rho, 1)
    return verdict(True, f"{text}, within [{low:.6g}, {high:.6g}]", score, fit_factor, rho, 1)


VERDICT_HOOKS[LOCAL_RATE_ID] = local_rate_verdict
