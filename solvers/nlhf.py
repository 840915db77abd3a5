"""The NLHF algorithm family on preference games, each a short composition of ``prox_step``.

Notation (theory notes nlhf.md §0): ℓ = log π, lμ = log μ, β the KL weight, g(π') = P(·≻π')
the answer of the preference oracle (``nashlab.solvers.oracles``), prox(ℓ, g; η) the one
primitive ``prox_step``: (ℓ + ηβ·lμ + η·g)/(1+ηβ) − log Z. The mirror-descent form
(1−η'β)ℓ + η'β·lμ + η'g is prox with η = η'/(1−η'β) (``eta_from_mirror_descent``).

======================  ==========================================================  =====
method                  update (log-space, normalised)                              g/it
======================  ==========================================================  =====
"nash-mp"               ℓ½ = prox(ℓ_k, g(π_k); η);  ℓ_{k+1} = prox(ℓ_k, g(π½); η)     2
                        Tiapkin et al., Nash Mirror Prox, arXiv 2505.19731 v1
"nash-mp-inexact"       each prox step replaced by M stochastic policy-gradient        2
                        steps (theory notes §2 "Practical LLM version"), see below
"nash-prox"             proximal point π_{k+1} = equilibrium of the game + KL(·‖π_k)/η,   M
                        solved by M self-play online-IPO steps (``step_nash_prox``)
                        Tiapkin et al., Proximal Point NLHF, arXiv 2505.19731 v2
"nash-md"               ℓ^μ = (1−η_tβ)ℓ_t + η_tβ·lμ;  ℓ_{t+1} = ℓ^μ + η_t·g(π^μ)        1
                        Munos et al., Nash Learning from Human Feedback, 2312.00886 eq. 5
"egpo"                  ℓ½ = (1−ηβ)ℓ_t + ηβ·lμ + η·g(π_t);                              2
                        ℓ_{t+1} = (1−ηβ)ℓ_t + ηβ·lμ + η·g(π½)
                        Zhou, Fazel, Du, arXiv 2503.08942 (= PU of Cen et al., 2105.15186)
"omd"                   ℓ_{t+1} = (1−ηβ)ℓ_t + ηβ·lμ + η·g(π_t)                           1
                        online IPO / INPO population update (theory notes §5)
"omwu" / "onpo"         π̄_{t+1} = md(ℓ_t, g(π̄_t));  ℓ_{t+1} = md(ℓ_t, g(π̄_{t+1}))       1 (+1)
                        optimistic MWU of Cen et al. 2105.15186, one symmetric player
"mmd"                   ℓ_{t+1} = (ℓ_t + ηβ·lμ + η·g(π_t))/(1+ηβ)                        1
                        Sokota et al., Magnetic Mirror Descent, arXiv 2206.05825
"hedge" / "sppo"        ℓ_{t+1} = ℓ_t + η·g(π_t)   (β not used by the update)            1
                        SPPO, Wu et al. arXiv 2405.00675 (tabular form)
"magnet-refresh"        Nash-MP steps with the magnet lμ := ℓ_t every K steps           2
                        MPO (2410.16714) / COMAL (2410.23223) style
"online-ipo-2"          ℓ_{t+1} = ℓ_t + η·π_t⊙(c − ⟨π_t, c⟩), c = g(π_t) − β(ℓ_t − lμ)     1
                        EGPO's Online IPO 2 (arXiv 2503.08942, code simulations/)
"nash-md-pg"            ℓ^μ = (1−w)ℓ_t + w·lμ;  ℓ_{t+1} = ℓ_t + η·π_t⊙(c − ⟨π_t, c⟩),   1
                        c = g(π^μ) − β(ℓ_t − lμ); w = ``mixture_weight`` (default ηβ)
======================  ==========================================================  =====

"nash-md" with ``mixture_weight`` = w: ℓ^μ = (1−w)ℓ_t + w·lμ and ℓ_{t+1} = (1−ηβ)ℓ_t +
ηβ·lμ + η·g(π^μ) (EGPO's code mixes with w = 2·lr/N while its update step is 4·lr/(Nβ):
``nashlab.experiments.reproductions``); without it w = ηβ, Munos et al.'s eq. 5.
The two policy-gradient methods ("policy-gradient" step form) are one step of softmax policy
gradient θ ← θ + η·∇_θ J(θ), J(θ) = ⟨π_θ, g⟩ − β·KL(π_θ‖μ) with g frozen (∇J = π⊙(c − ⟨π, c⟩)),
in the compositions "single" and "mixture" (``pg_step``); they have no compiled kernel.

Remarks (all [D], checked by ``tests/solvers/test_nlhf.py``):

* Nash-MP(η) ≡ EGPO(η/(1+ηβ)) iterate by iterate, and OMD(η') ≡ MMD(η'/(1−η'β)): the
  pairs are the same maps in the prox and the mirror-descent parametrisation.
* "onpo" is an alias of "omwu": optimistic OMD with the last gradient as predictor, written in
  the two-sequence form (played π̄, anchor π) is exactly Cen et al.'s OMWU recursion. The
  ONPO paper (Zhang et al., arXiv 2502.16852) was read at abstract level only.
* "omwu" needs g(π̄_0) = g(π_0) before its first step: it costs one extra query at step 1.
* "hedge": the average policy is π̄_T = (1/T)·Σ_{t=0}^{T−1} π_t (the policies *played* in
  rounds 0..T−1), π̄_0 := π_0; metric "average_exploitability" is Expl_0(π̄_T).
* "magnet-refresh": at the start of step t, for t = K, 2K, ..., the magnet (the reference of
  the KL term) becomes π_t; the iterates then approach the unregularized winner (proximal
  point on the unregularized game, COMAL). Its "kl"/"span"/"exploitability" are still
  measured against π*_β of the game as given.
* "nash-mp-inexact": each prox step max_p ⟨p, g⟩ − β·KL(p‖μ) − (1/η)·KL(p‖π_k) is solved by
  M = ``inner_steps`` steps of stochastic policy gradient on tabular logits θ, started at the
  anchor: θ ← θ + α·(1/S)·Σ_s (e_{y_s} − π_θ)·(r(y_s) − b_s), y_s ~ π_θ (S =
  ``INEXACT_RESPONSES`` sampled responses), r(y) = g_y − β·log(π_θ(y)/μ(y)) −
  (1/η)·log(π_θ(y)/π_k(y)), b_s the leave-one-out mean baseline, α = η/(1+ηβ); g comes from
  the oracle (exact or sampled). Its inexactness δ_k = span(log π̃_k − log π_k^exact), where
  π_k^exact is the exact Nash-MP step (exact P) from the same anchor π̃_{k−1}; then
  KL(π*‖π̃_k) ≤ KL(π*‖π̃_{k−1})/(1+ηβ) + δ_k for η ≤ 2 [D, theory notes §2].

Each method is a pure ``step_<name>(state, game, oracle, eta, ...) -> state`` over an
immutable :class:`State` (optax-style ``init_state`` / ``step``); the oracle is the only
source of randomness besides the inexact solver's generator. Steps are written against the
array namespace of the state (NumPy or CuPy, ``ExactOracle`` built on the same namespace).
"""

from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from nashlab._xp import array_namespace, normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar, rng_from_seed
from nashlab.games.metrics import (
    duality_gap,
    exploitability,
    kl_from_logs,
    unregularized_exploitability,
)
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import choose_backend
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.methods import check_options, get_method, methods
from nashlab.solvers.oracles import ExactOracle, make_oracle
from nashlab.solvers.prox import step_coefficients
from nashlab.solvers.results import Solution, Trajectory

#: sampled responses per policy-gradient step of "nash-mp-inexact"
INEXACT_RESPONSES = 64

#: metrics ``run_preference_game`` can track on request
METRICS = ("kl", "exploitability", "duality_gap", "span", "queries", "unregularized_exploitability")
#: the metrics that need the equilibrium π*_β (computed only when one of them is tracked)
NEEDS_SOLUTION = ("kl", "span")

DEFAULT_TRACK = ("kl", "exploitability", "duality_gap", "span", "queries")

#: the preference-game methods of the method table (``nashlab.solvers.methods``)
METHODS = methods("preference")

#: from this many actions a single game with the exact oracle runs Nash-MP on the packed
#: antisymmetric kernel (``nashlab.solvers.packed``): half the memory traffic of a gemv
PACKED_MIN_N = 1024

_CHUNK = 256  # iterations whose metrics are evaluated together (vectorised)


@dataclass(frozen=True)
class State:
    """The state of one run.

    logits : (..., n) log π_t (normalised).
    log_magnet : (..., n) or (n,) the log-reference of the KL term (log μ; refreshed by
        "magnet-refresh").
    t : iterations done.
    predictor : (..., n) g(π̄_t), the optimistic predictor of "omwu" (None before step 1).
    policy_sum : (..., n) Σ_{s<t} π_s ("hedge" average), else None.
    delta : (...) inexactness δ_t of the last "nash-mp-inexact" step, else None.
    """

    logits: object
    log_magnet: object
    t: int = 0
    predictor: object = None
    policy_sum: object = None
    delta: object = None


def init_state(game, policy=None, xp=np) -> State:
    """The state at π_0 = ``policy`` (default μ), broadcast to the game's batch shape."""
    policy = game.reference if policy is None else policy
    shape = game.batch_shape + (game.n,)
    logits = xp.asarray(np.broadcast_to(np.log(policy), shape).copy())
    return State(normalize_logits(logits, xp), xp.asarray(game.log_reference))


def _exp(z):
    return array_namespace(z).exp(z)


# ---- update rules: each a composition of the one prox step (nashlab.solvers.compositions) --

def composed_step(method, state, game, oracle, eta):
    """One step of ``method`` from its method-table row: composition, step form, β."""
    entry = get_method("preference", method)
    beta = 0.0 if entry.alias_of == "hedge" or method == "hedge" else game.beta
    step = make_step(step_coefficients(entry.step_form, eta, beta), state.log_magnet)
    compose = COMPOSITIONS[entry.composition]
    logits, _, g = compose(state.logits, lambda z: oracle(_exp(z)), step, state.predictor)
    predictor = g if entry.composition == "optimistic" else None
    return replace(state, logits=logits, predictor=predictor, t=state.t + 1)


step_nash_mp = partial(composed_step, "nash-mp")
step_nash_md = partial(composed_step, "nash-md")
step_egpo = partial(composed_step, "egpo")
step_omd = partial(composed_step, "omd")
step_omwu = partial(composed_step, "omwu")
step_mmd = partial(composed_step, "mmd")


def step_hedge(state, game, oracle, eta):
    """Hedge / SPPO: ℓ_{t+1} = ℓ_t + η·g(π_t); accumulates Σ π_t for the average policy."""
    pi = _exp(state.logits)
    total = pi if state.policy_sum is None else state.policy_sum + pi
    return replace(composed_step("hedge", state, game, oracle, eta), policy_sum=total)


def pg_step(eta, beta, log_magnet):
    """S(ℓ, g) = normalise(ℓ + η·π⊙(c − ⟨π, c⟩)), c = g − β(ℓ − lμ): one softmax
    policy-gradient ascent step on J = ⟨π, g⟩ − β·KL(π‖μ) (g None: the zero payoff)."""
    def step(logits, g):
        pi = _exp(logits)
        c = -beta * (logits - log_magnet) if g is None else g - beta * (logits - log_magnet)
        advantage = c - (pi * c).sum(axis=-1, keepdims=True)
        return normalize_logits(logits + eta * pi * advantage, array_namespace(logits))
    return step


def _mixture_then(update, weight, log_magnet):
    """The "mixture" composition's step: S(ℓ, None) = (1−w)ℓ + w·lμ normalised, else ``update``."""
    mix = make_step((1.0 - weight, weight, 0.0), log_magnet)
    return lambda logits, g: mix(logits, None) if g is None else update(logits, g)


def _pg_composed(method, state, game, oracle, eta, mixture_weight=None):
    entry = get_method("preference", method)
    step = pg_step(eta, game.beta, state.log_magnet)
    if entry.composition == "mixture":
        step = _mixture_then(step, eta * game.beta if mixture_weight is None else mixture_weight,
                             state.log_magnet)
    logits, _, _ = COMPOSITIONS[entry.composition](state.logits, lambda z: oracle(_exp(z)), step)
    return replace(state, logits=logits, t=state.t + 1)


def step_online_ipo_2(state, game, oracle, eta):
    """EGPO's Online IPO 2: one policy-gradient step against g(π_t) (composition "single")."""
    return _pg_composed("online-ipo-2", state, game, oracle, eta)


def step_nash_md_pg(state, game, oracle, eta, *, mixture_weight=None):
    """Nash-MD-PG: one policy-gradient step against g(π^μ), π^μ the mixture of weight w."""
    return _pg_composed("nash-md-pg", state, game, oracle, eta, mixture_weight)


def step_nash_md_weighted(state, game, oracle, eta, *, mixture_weight=None):
    """Nash-MD; with ``mixture_weight`` w the mixture (1−w)ℓ + w·lμ replaces S(ℓ, 0)."""
    if mixture_weight is None:
        return step_nash_md(state, game, oracle, eta)
    update = make_step(step_coefficients("mirror-descent", eta, game.beta), state.log_magnet)
    step = _mixture_then(update, mixture_weight, state.log_magnet)
    logits, _, _ = COMPOSITIONS["mixture"](state.logits, lambda z: oracle(_exp(z)), step)
    return replace(state, logits=logits, t=state.t + 1)


def step_magnet_refresh(state, game, oracle, eta, *, refresh_every):
    """Nash-MP steps whose magnet becomes the current policy every ``refresh_every`` steps."""
    if state.t > 0 and state.t % refresh_every == 0:
        state = replace(state, log_magnet=state.logits)
    return step_nash_mp(state, game, oracle, eta)


def _pg_prox(log_anchor, g, eta, beta, log_mu, inner_steps, rng):
    """max_p ⟨p,g⟩ − β·KL(p‖μ) − KL(p‖π_k)/η by ``inner_steps`` stochastic PG steps."""
    S = INEXACT_RESPONSES
    rate = eta / (1.0 + eta * beta)
    theta = log_anchor
    for _ in range(inner_steps):
        pi = np.exp(theta)
        counts = rng.multinomial(S, pi / pi.sum(axis=-1, keepdims=True))  # sampled y_s ~ π_θ
        reward = g - beta * (theta - log_mu) - (theta - log_anchor) / eta
        baseline = ((counts * reward).sum(axis=-1, keepdims=True) - reward) / (S - 1)
        weight = counts * (reward - baseline) / S  # Σ_s over the samples equal to y
        grad = weight - pi * weight.sum(axis=-1, keepdims=True)  # Σ_s (e_{y_s} − π)(r − b)
        theta = normalize_logits(theta + rate * grad)
    return theta


def step_nash_mp_inexact(state, game, oracle, eta, *, inner_steps, rng):
    """Nash-MP (extragradient) with both prox steps solved by stochastic policy gradient;
    records δ against the exact step from the same anchor."""
    beta, log_mu = game.beta, state.log_magnet

    def inexact_step(logits, g):
        return _pg_prox(logits, g, eta, beta, log_mu, inner_steps, rng)

    new, _, _ = COMPOSITIONS["extragradient"](state.logits, lambda z: oracle(np.exp(z)),
                                              inexact_step)
    exact = step_nash_mp(state, game, ExactOracle(game), eta).logits
    delta = np.max(new - exact, axis=-1) - np.min(new - exact, axis=-1)
    return replace(state, logits=new, delta=delta, t=state.t + 1)


#: inner self-play steps per outer step of "nash-prox" when ``inner_steps`` is not given
NASH_PROX_INNER_STEPS = get_method("preference", "nash-prox").queries_per_step


def nash_prox_inner_eta(beta_inner):
    """η_in = β'/(β'² + ¼), the mirror-descent step of the inner self-play game [D]: OMD's
    linearisation has modulus² (1 − η_inβ')² + η_in²λ² (theory notes §5); with |λ| ≤ ½, the
    ℓ₁→ℓ∞ Lipschitz constant of π ↦ Aπ (§2, a heuristic bound on the eigenvalues), it is
    minimised at this η_in, modulus² = 1/(1 + 4β'²); η_inβ' < 1. Checked numerically by
    ``tests/solvers/test_nash_prox.py``, not proved."""
    return beta_inner / (beta_inner ** 2 + 0.25)


def step_nash_prox(state, game, oracle, eta, *, inner_steps=None):
    """Nash Prox: one proximal-point step on the β-regularized game, solved by self-play.

    Outer step [D]: π_{k+1} is the symmetric equilibrium of the game regularized by
    β·KL(·‖μ) + (1/η)·KL(·‖π_k), i.e. the fixed point log π = (ℓ_k + ηβ·lμ + η·Pπ)/(1+ηβ) + c.
    That game is the preference game with KL weight β' = β + 1/η towards the magnet
    lν_k = (ℓ_k + ηβ·lμ)/(1 + ηβ); it is solved from π_k by M = ``inner_steps`` self-play
    steps of online IPO (= OMD, composition "single"): ℓ_{j+1} = (1 − η_inβ')ℓ_j +
    η_inβ'·lν_k + η_in·Pπ_j, η_in = ``nash_prox_inner_eta(β')``; M queries per outer step.

    Read from the abstract of arXiv 2505.19731 v2 (Tiapkin et al., COLT 2026): self-play
    policy gradient (= online IPO) embedded in a proximal-point outer loop. Derived here
    (not read): the inner game's (β', ν_k), the inner step, and that the exact outer step
    contracts KL(π*‖π_{k+1}) ≤ KL(π*‖π_k)/(1 + ηβ) for every η > 0 (the three-point
    inequality of §2 with the exact prox, no extragradient error term).
    """
    inner = NASH_PROX_INNER_STEPS if inner_steps is None else inner_steps
    xp = array_namespace(state.logits)
    beta_inner = game.beta + 1.0 / eta
    log_magnet = normalize_logits((state.logits + eta * game.beta * state.log_magnet)
                                  / (1.0 + eta * game.beta), xp)
    eta_inner = nash_prox_inner_eta(beta_inner)
    step = make_step(step_coefficients("mirror-descent", eta_inner, beta_inner), log_magnet)
    logits = state.logits
    for _ in range(inner):
        logits, _, _ = COMPOSITIONS["single"](logits, lambda z: oracle(_exp(z)), step)
    return replace(state, logits=logits, t=state.t + 1)


STEPS = {
    "nash-mp": step_nash_mp,
    "nash-prox": step_nash_prox,
    "nash-mp-inexact": step_nash_mp_inexact,
    "nash-md": step_nash_md_weighted,
    "egpo": step_egpo,
    "omd": step_omd,
    "omwu": step_omwu,
    "onpo": step_omwu,
    "mmd": step_mmd,
    "hedge": step_hedge,
    "sppo": step_hedge,
    "magnet-refresh": step_magnet_refresh,
    "online-ipo-2": step_online_ipo_2,
    "nash-md-pg": step_nash_md_pg,
}
SCHEDULES = (None, "munos")


def munos_schedule(t, beta):
    """η_t = 2/(β(t+2)) (Munos et al. 2312.00886, Theorem 1): KL(π*‖π_T) ≤ 8/(β²(T+1))."""
    return 2.0 / (beta * (t + 2))


# ---- metrics -------------------------------------------------------------------------

def _metric_values(game, logits, name, star_logits):
    """Metric ``name`` at iterates ``logits`` of shape (c, *batch, n)."""
    pi = np.exp(logits)
    if name == "kl":
        return kl_from_logs(np.exp(star_logits), star_logits, logits)
    if name == "exploitability":
        return exploitability(game, pi, logits=logits)
    if name == "duality_gap":
        return duality_gap(game, pi, logits=logits)
    if name == "span":
        if not np.all(np.isfinite(star_logits)):
            return np.full(logits.shape[:-1], np.inf)
        d = logits - star_logits
        return np.max(d, axis=-1) - np.min(d, axis=-1)
    if name == "unregularized_exploitability":
        return unregularized_exploitability(game, pi)
    raise AssertionError(name)


# ---- driver --------------------------------------------------------------------------

def _validate(game, method, eta, iterations, seed, track, oracle, options, backend):
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    entry = get_method("preference", method)
    check_options(entry, options)
    schedule = options.get("schedule")
    iterations = check_int(iterations, "iterations", 0)
    rng_from_seed(seed)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if entry.needs_regularization and game.beta <= 0:
        raise ValueError(f"method {method!r} needs beta > 0, got beta = {game.beta:g}")
    if schedule is None:
        if eta is None:
            raise ValueError("eta is required (a step size > 0) unless a schedule is given")
        eta = check_scalar(eta, "eta", low=0.0, low_open=True)
        if entry.step_form == "mirror-descent" and eta * game.beta > 1:
            raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                             f"eta·beta ≤ 1, got eta·beta = {eta * game.beta:g}")
    elif eta is not None:
        raise ValueError(f"schedule={schedule!r} sets the step sizes: pass eta=None")
    for name, owner in (("refresh_every", "magnet-refresh"), ("inner_steps", "nash-mp-inexact")):
        if method == owner:
            if options.get(name) is None:
                raise ValueError(f"method {owner!r} needs {name} (a positive integer)")
            check_int(options[name], name, 1)
    if method == "nash-prox" and options.get("inner_steps") is not None:
        check_int(options["inner_steps"], "inner_steps", 1)
    if options.get("mixture_weight") is not None:
        check_scalar(options["mixture_weight"], "mixture_weight", low=0.0, high=1.0)
    if isinstance(track, str):
        raise TypeError("track must be a collection of metric names, not a string")
    track = tuple(track)
    unknown = [m for m in track if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown} in track; known: {METRICS}")
    compiled = bool(entry.kernels) and oracle == "exact" and options.get("mixture_weight") is None
    backend = choose_backend(backend, game.P, compiled=compiled, cuda=compiled, reason=(
        f"the compiled kernels run the methods {[m for m in METHODS if get_method('preference', m).kernels]}"
        f" with the exact oracle (nash-md without mixture_weight); got method {method!r} with "
        f"oracle {oracle!r}"))
    return entry, eta, iterations, track, backend


def _check_solution(solution, game):
    """A certified preference-game ``Solution`` of ``game``'s shape (given by the caller)."""
    if not isinstance(solution, Solution) or solution.params.get("family") != "preference":
        raise TypeError("solution must be the Solution of equilibrium(game) for this preference game")
    if solution.policy.shape != game.batch_shape + (game.n,) or solution.params.get("beta") != game.beta:
        raise ValueError(f"solution is for another game: policy shape {solution.policy.shape}, "
                         f"beta {solution.params.get('beta')} (game: {game.batch_shape + (game.n,)}, "
                         f"beta {game.beta})")
    if not solution.certified:
        raise ValueError(f"solution is not certified ({solution.message})")
    return solution


def run_preference_game(game, method, *, eta=None, iterations, init=None, seed=None,
                        track=DEFAULT_TRACK, solution=None, backend="auto", oracle="exact",
                        samples=None, **method_options) -> Trajectory:
    """Run ``method`` on ``game`` for ``iterations`` steps from ``init`` (default μ).

    Parameters
    ----------
    game : PreferenceGame, possibly batched (every game runs the same update in lockstep).
    method : one of ``METHODS`` (module docstring; the "preference" rows of the method table).
    eta : step size η > 0 in the parametrisation of the method (prox η for nash-mp, mmd,
        hedge, magnet-refresh; mirror-descent η with ηβ ≤ 1 for nash-md, egpo, omd, omwu).
        Nash-MP's guarantee needs η ≤ 2: larger steps run, and params["step_condition"] says
        whether it holds. Must be None with ``schedule="munos"`` (Nash-MD only).
    iterations : number of steps T ≥ 0.
    init : starting policy π_0, strictly positive, shape (n,) or (*batch, n).
    seed : seeds the sampled oracle and the inexact solver.
    track : metrics to record among ``METRICS`` ("queries" is always recorded). The
        equilibrium π*_β is computed only when a tracked metric needs it ("kl", "span").
    solution : the ``Solution`` of ``equilibrium(game)``, to reuse instead of recomputing.
    backend : "numpy" (the reference steps above, on the array namespace of the game),
        "numba" or "cuda" (the compiled kernels of ``nashlab.solvers.batched``, one kernel
        call per step, or the packed antisymmetric kernel of ``nashlab.solvers.packed`` for
        Nash-MP on one game with n ≥ ``PACKED_MIN_N``), or "auto" (a kernel where one covers
        the call, NumPy otherwise). The metrics are evaluated in NumPy whatever the backend.
    oracle, samples : "exact", or "sampled" with ``samples`` = K comparisons per response.
    method_options : ``schedule`` (nash-md: None or "munos"), ``refresh_every`` = K
        (magnet-refresh), ``inner_steps`` = M (nash-mp-inexact; nash-prox, default
        ``NASH_PROX_INNER_STEPS``), ``mixture_weight`` = w ∈ [0, 1]
        (nash-md, nash-md-pg: the weight of μ in the mixture; nash-md runs on NumPy with it);
        any other name is a TypeError.

    Returns a ``Trajectory``: metrics of shape (iterations + 1, *batch_shape), index 0 the
    initial point: "kl" = KL(π*_β‖π_k), "exploitability" = Expl_β(π_k), "duality_gap" =
    2·Expl_β, "span" = span(log π_k − log π*_β), "unregularized_exploitability" =
    Expl_0(π_k), "queries" = cumulative oracle calls per game; plus "comparisons" (sampled
    oracle), "eta" (schedule: eta[k] = η_k, the step from π_k to π_{k+1}), "delta"
    (nash-mp-inexact, delta[0] = 0), "average_exploitability" (hedge/sppo), and
    "unregularized_exploitability" (always for magnet-refresh). ``policy`` is π_T and
    ``average_policy`` the Hedge average π̄_T.
    """
    entry, eta, iterations, track, backend = _validate(
        game, method, eta, iterations, seed, track, oracle, method_options, backend)
    schedule = method_options.get("schedule")
    if init is not None:
        init = check_distribution(init, "init", game.n, strictly_positive=True)
        if init.ndim > 1 and init.shape[:-1] != game.batch_shape:
            raise ValueError(f"init must have shape ({game.n},) or "
                             f"{game.batch_shape + (game.n,)}, got {init.shape}")
    rng = rng_from_seed(seed)
    the_oracle = make_oracle(game, oracle, samples=samples, seed=rng)

    names = set(track) | {"queries"}
    if method == "magnet-refresh":
        names.add("unregularized_exploitability")
    star = None
    if names & set(NEEDS_SOLUTION):
        if solution is None:
            from nashlab.solvers.equilibrium import equilibrium

            solution = equilibrium(game)
            if not solution.certified:
                raise RuntimeError(f"the equilibrium of the game could not be certified "
                                   f"({solution.message})")
        star = _check_solution(solution, game).logits
    elif solution is not None:
        _check_solution(solution, game)
    step = STEPS[method]
    options = {"magnet-refresh": {"refresh_every": method_options.get("refresh_every")},
               "nash-mp-inexact": {"inner_steps": method_options.get("inner_steps"),
                                   "rng": rng},
               "nash-prox": {"inner_steps": method_options.get("inner_steps")},
               "nash-md": {"mixture_weight": method_options.get("mixture_weight")},
               "nash-md-pg": {"mixture_weight": method_options.get("mixture_weight")}}.get(method, {})
    steps = [munos_schedule(t, game.beta) if schedule else eta for t in range(iterations + 1)]

    state = init_state(game, init)
    record = _Recorder(game, star, names - {"queries"})
    queries, comparisons, deltas, averages = [0], [0], [np.zeros(game.batch_shape)], []
    record.add(state.logits)
    if method in ("hedge", "sppo"):
        averages.append(np.exp(state.logits))
    if backend == "numpy":
        for t in range(iterations):
            state = step(state, game, the_oracle, steps[t], **options)
            record.add(state.logits)
            queries.append(the_oracle.queries)
            comparisons.append(the_oracle.comparisons)
            if state.delta is not None:
                deltas.append(state.delta)
            if state.policy_sum is not None:
                averages.append(state.policy_sum / state.t)
    elif _packed_applies(game, entry, schedule, backend):
        state = _run_packed(game, state, eta, iterations, backend, record, queries)
    else:
        state = _run_kernel(game, entry, state, steps[:iterations], backend, record, queries)
    shape = (iterations + 1,) + game.batch_shape
    metrics = record.result()
    metrics["queries"] = _per_game(queries, shape)
    if oracle == "sampled":
        metrics["comparisons"] = _per_game(comparisons, shape)
    if schedule is not None:
        metrics["eta"] = _per_game(steps, shape)
    average = None
    if averages:
        average = averages[-1]
        metrics["average_exploitability"] = unregularized_exploitability(game, np.stack(averages))
    if method == "nash-mp-inexact":
        metrics["delta"] = np.stack(deltas)

    params = {
        "family": "preference", "method": method, "backend": backend, "n_actions": game.n,
        "n_states": None, "batch_shape": list(game.batch_shape), "beta": game.beta,
        "eta": eta, "iterations": iterations,
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "oracle": oracle, "samples": samples, "schedule": schedule,
        "refresh_every": method_options.get("refresh_every"),
        "inner_steps": (NASH_PROX_INNER_STEPS if method == "nash-prox"
                        and method_options.get("inner_steps") is None
                        else method_options.get("inner_steps")),
        "mixture_weight": method_options.get("mixture_weight"),
    }
    if "kl" in metrics:
        params["kl0"] = metrics["kl"][0].tolist()
    if get_method("preference", method).name in ("nash-mp", "nash-mp-inexact", "magnet-refresh"):
        params["step_condition"] = bool(eta <= 2.0)  # Nash-MP theorem: 0 < η ≤ 2
    if method == "nash-mp-inexact":
        params["delta"] = float(np.max(metrics["delta"]))
    return Trajectory(method, params, metrics, np.exp(state.logits), average)


def _packed_applies(game, entry, schedule, backend):
    """Nash-MP on one large game with a constant step: the packed antisymmetric kernel."""
    return (entry.name == "nash-mp" and not game.batch_shape and game.n >= PACKED_MIN_N
            and schedule is None and backend in ("numba", "cuda"))


def _run_packed(game, state, eta, iterations, backend, record, queries):
    """The packed path of ``run_preference_game``: one kernel call for the whole run when no
    metric is tracked, one per step otherwise (exact oracle: 2 queries per step)."""
    from nashlab.solvers import packed

    matrix = packed.packed_game(game)
    per_call = 1 if record.names else iterations
    logits, done = state.logits, 0
    while done < iterations:
        k = min(per_call, iterations - done)
        logits = packed.iterate_nash_mp(matrix, logits.copy(), game.log_reference, game.beta,
                                        eta, k, backend)
        done += k
        if record.names:
            record.add(logits)
        queries.append(2 * done)
    if not record.names:  # one call: the query counts of the steps it made
        queries[:] = [2 * t for t in range(iterations + 1)]
    return replace(state, logits=logits, t=iterations)


def _run_kernel(game, entry, state, steps, backend, record, queries):
    """The compiled path of ``run_preference_game``: one kernel call per step (exact oracle).

    Records every iterate and the query count of the reference steps (which the kernel does
    not call): the table's queries per step, plus OMWU's first predictor query.
    Returns the final state.
    """
    from nashlab.solvers.kernels import kernel_iterates

    coefficients = [(1, step_coefficients(entry.step_form, eta, game.beta)) for eta in steps]
    logits = state.logits
    for t, logits in enumerate(kernel_iterates(game, entry.composition, state.logits,
                                               coefficients, backend), start=1):
        record.add(logits)
        queries.append(entry.queries_per_step * t + (entry.composition == "optimistic"))
    return replace(state, logits=logits, t=len(steps))


def _per_game(values, shape):
    return np.broadcast_to(np.asarray(values, dtype=float).reshape((-1,) + (1,) * (len(shape) - 1)),
                           shape).copy()


class _Recorder:
    """Buffers iterates and evaluates the tracked metrics on chunks of them."""

    def __init__(self, game, star_logits, names):
        self.game, self.star, self.names = game, star_logits, sorted(names)
        self.buffer, self.values = [], {m: [] for m in self.names}

    def add(self, logits):
        if self.names:
            self.buffer.append(np.asarray(logits))
            if len(self.buffer) == _CHUNK:
                self._flush()

    def _flush(self):
        if self.buffer:
            block = np.stack(self.buffer)
            for m in self.names:
                self.values[m].append(_metric_values(self.game, block, m, self.star))
            self.buffer = []

    def result(self):
        self._flush()
        return {m: np.concatenate(v) for m, v in self.values.items()}
