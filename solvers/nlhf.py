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
======================  ==========================================================  =====

Remarks (all [D], checked by ``tests/test_nlhf.py``):

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

import numpy as np

from nashlab._xp import array_namespace, normalize_logits
from nashlab.games._validation import check_distribution, check_int, check_scalar
from nashlab.games.metrics import (
    best_response_logits,
    kl_from_logs,
    unregularized_exploitability,
)
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.backends import choose_backend
from nashlab.solvers.equilibrium import equilibrium
from nashlab.solvers.oracles import ExactOracle, make_oracle
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Trajectory

#: sampled responses per policy-gradient step of "nash-mp-inexact"
INEXACT_RESPONSES = 64

#: metrics ``run`` can track on request
METRICS = ("kl", "exploitability", "duality_gap", "span", "queries", "unregularized_exploitability")

DEFAULT_TRACK = ("kl", "exploitability", "duality_gap", "span", "queries")

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


def _md(state, g, eta, beta):
    """Mirror-descent form (1−ηβ)ℓ + ηβ·lμ + η·g as the prox step."""
    return prox_step(state.logits, g, eta=eta_from_mirror_descent(eta, beta), beta=beta,
                     log_reference=state.log_magnet)


def _prox(state, g, eta, beta):
    return prox_step(state.logits, g, eta=eta, beta=beta, log_reference=state.log_magnet)


# ---- update rules ----------------------------------------------------------------------

def step_nash_mp(state, game, oracle, eta):
    """Nash Mirror Prox (2505.19731 v1): two prox steps anchored at π_k."""
    half = _prox(state, oracle(_exp(state.logits)), eta, game.beta)
    return replace(state, logits=_prox(state, oracle(_exp(half)), eta, game.beta), t=state.t + 1)


def step_nash_md(state, game, oracle, eta):
    """Nash-MD (2312.00886 eq. 5): play against the geometric mixture π^μ ∝ π^{1−ηβ}μ^{ηβ}."""
    xp = array_namespace(state.logits)
    mixture = _md(state, xp.zeros_like(state.logits), eta, game.beta)
    return replace(state, logits=_md(state, oracle(_exp(mixture)), eta, game.beta), t=state.t + 1)


def step_egpo(state, game, oracle, eta):
    """EGPO / PU (2503.08942, 2105.15186): extragradient in the mirror-descent form."""
    half = _md(state, oracle(_exp(state.logits)), eta, game.beta)
    return replace(state, logits=_md(state, oracle(_exp(half)), eta, game.beta), t=state.t + 1)


def step_omd(state, game, oracle, eta):
    """OMD / online IPO / INPO: one mirror-descent step against π_t."""
    return replace(state, logits=_md(state, oracle(_exp(state.logits)), eta, game.beta),
                   t=state.t + 1)


def step_omwu(state, game, oracle, eta):
    """Optimistic MWU (Cen et al. 2105.15186): the midpoint uses the previous midpoint's g."""
    predictor = oracle(_exp(state.logits)) if state.predictor is None else state.predictor
    middle = _md(state, predictor, eta, game.beta)
    g = oracle(_exp(middle))
    return replace(state, logits=_md(state, g, eta, game.beta), predictor=g, t=state.t + 1)


def step_mmd(state, game, oracle, eta):
    """Magnetic mirror descent (2206.05825) with the magnet μ: one prox step against π_t."""
    return replace(state, logits=_prox(state, oracle(_exp(state.logits)), eta, game.beta),
                   t=state.t + 1)


def step_hedge(state, game, oracle, eta):
    """Hedge / SPPO: ℓ_{t+1} = ℓ_t + η·g(π_t); accumulates Σ π_t for the average policy."""
    pi = _exp(state.logits)
    total = pi if state.policy_sum is None else state.policy_sum + pi
    logits = prox_step(state.logits, oracle(pi), eta=eta, beta=0.0, log_reference=None)
    return replace(state, logits=logits, policy_sum=total, t=state.t + 1)


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
    """Nash-MP with both prox steps solved by stochastic policy gradient; records δ."""
    beta, log_mu = game.beta, state.log_magnet
    half = _pg_prox(state.logits, oracle(np.exp(state.logits)), eta, beta, log_mu,
                    inner_steps, rng)
    new = _pg_prox(state.logits, oracle(np.exp(half)), eta, beta, log_mu, inner_steps, rng)
    exact = step_nash_mp(state, game, ExactOracle(game), eta).logits
    delta = np.max(new - exact, axis=-1) - np.min(new - exact, axis=-1)
    return replace(state, logits=new, delta=delta, t=state.t + 1)


STEPS = {
    "nash-mp": step_nash_mp,
    "nash-mp-inexact": step_nash_mp_inexact,
    "nash-md": step_nash_md,
    "egpo": step_egpo,
    "omd": step_omd,
    "omwu": step_omwu,
    "onpo": step_omwu,
    "mmd": step_mmd,
    "hedge": step_hedge,
    "sppo": step_hedge,
    "magnet-refresh": step_magnet_refresh,
}
METHODS = tuple(STEPS)

#: methods whose step size is the mirror-descent η' (need η'β ≤ 1)
_MIRROR_DESCENT = ("nash-md", "egpo", "omd", "omwu", "onpo")
#: methods defined by the regularisation (need β > 0)
_NEED_BETA = ("nash-md", "mmd", "magnet-refresh", "nash-mp-inexact")
_NASH_MP = ("nash-mp", "nash-mp-inexact", "magnet-refresh")
_ALIASES = {"onpo": "omwu"}  # alias -> the kernel method it runs

#: methods with a compiled kernel (``nashlab.solvers.batched``), exact oracle only
KERNEL_METHODS = ("nash-mp", "egpo", "mmd", "omd", "nash-md", "omwu")
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
    if name in ("exploitability", "duality_gap"):
        if game.beta == 0:
            expl = unregularized_exploitability(game, pi)
        else:
            expl = game.beta * kl_from_logs(pi, logits, best_response_logits(game, pi))
        return expl if name == "exploitability" else 2.0 * expl
    if name == "span":
        if not np.all(np.isfinite(star_logits)):
            return np.full(logits.shape[:-1], np.inf)
        d = logits - star_logits
        return np.max(d, axis=-1) - np.min(d, axis=-1)
    if name == "unregularized_exploitability":
        return unregularized_exploitability(game, pi)
    raise AssertionError(name)


# ---- driver --------------------------------------------------------------------------


def _validate(game, method, eta, iterations, seed, schedule, refresh_every, inner_steps,
              track, oracle, backend):
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be a PreferenceGame, got {type(game).__name__}")
    if method not in STEPS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    iterations = check_int(iterations, "iterations", 0)
    if seed is not None and not isinstance(seed, np.random.Generator):
        check_int(seed, "seed", 0)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule is not None and method != "nash-md":
        raise ValueError(f"schedule={schedule!r} is only defined for method 'nash-md'")
    if method in _NEED_BETA and game.beta <= 0:
        raise ValueError(f"method {method!r} needs beta > 0, got beta = {game.beta:g}")
    if schedule is None:
        if eta is None:
            raise ValueError("eta is required (a step size > 0) unless a schedule is given")
        eta = check_scalar(eta, "eta", low=0.0, low_open=True)
        if method in _MIRROR_DESCENT and eta * game.beta > 1:
            raise ValueError(f"method {method!r} takes the mirror-descent step: it needs "
                             f"eta·beta ≤ 1, got eta·beta = {eta * game.beta:g}")
    elif eta is not None:
        raise ValueError(f"schedule={schedule!r} sets the step sizes: pass eta=None")
    refresh_every = _method_option(refresh_every, "refresh_every", method, "magnet-refresh")
    inner_steps = _method_option(inner_steps, "inner_steps", method, "nash-mp-inexact")
    if isinstance(track, str):
        raise TypeError("track must be a collection of metric names, not a string")
    track = tuple(track)
    unknown = [m for m in track if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown} in track; known: {METRICS}")
    compiled = _ALIASES.get(method, method) in KERNEL_METHODS and oracle == "exact"
    backend = choose_backend(backend, game.P, compiled=compiled, cuda=compiled, reason=(
        f"the compiled kernels run the methods {KERNEL_METHODS} (and 'onpo') with the exact "
        f"oracle; got method {method!r} with oracle {oracle!r}"))
    return eta, iterations, refresh_every, inner_steps, track, backend


def _method_option(value, name, method, owner):
    """A positive integer option that ``owner`` requires and every other method rejects."""
    if method != owner:
        if value is not None:
            raise ValueError(f"{name} is only used by method {owner!r}")
        return None
    if value is None:
        raise ValueError(f"method {owner!r} needs {name} (a positive integer)")
    return check_int(value, name, 1)


def run(game, method, *, eta, iterations, seed=None, init=None, oracle="exact", samples=None,
        schedule=None, refresh_every=None, inner_steps=None, track=DEFAULT_TRACK,
        backend="auto") -> Trajectory:
    """Run ``method`` on ``game`` for ``iterations`` steps from ``init`` (default μ).

    Parameters
    ----------
    game : PreferenceGame, possibly batched (every game runs the same update in lockstep).
    method : one of ``METHODS`` (module docstring).
    eta : step size η > 0 in the parametrisation of the method (prox η for nash-mp, mmd,
        hedge, magnet-refresh; mirror-descent η with ηβ ≤ 1 for nash-md, egpo, omd, omwu).
        Nash-MP's guarantee needs η ≤ 2: larger steps run, and params["step_condition"] says
        whether it holds. Must be None with ``schedule="munos"`` (Nash-MD only).
    iterations : number of steps T ≥ 0.
    seed : seeds the sampled oracle and the inexact solver.
    init : starting policy π_0, strictly positive, shape (n,) or (*batch, n).
    oracle, samples : "exact", or "sampled" with ``samples`` = K comparisons per response.
    refresh_every : K for "magnet-refresh"; inner_steps : M for "nash-mp-inexact".
    track : metrics to record among ``METRICS`` ("queries" is always recorded).
    backend : "numpy" (the reference steps above, on the array namespace of the game),
        "numba" or "cuda" (the compiled kernels of ``nashlab.solvers.batched``, one kernel
        call per step; methods ``KERNEL_METHODS`` and "onpo" with the exact oracle), or
        "auto" (numba where a kernel covers the call, NumPy otherwise). The metrics are
        evaluated in NumPy whatever the backend.

    Returns a ``Trajectory``: metrics of shape (iterations + 1, *batch_shape), index 0 the
    initial point: "kl" = KL(π*_β‖π_k), "exploitability" = Expl_β(π_k), "duality_gap" =
    2·Expl_β, "span" = span(log π_k − log π*_β), "unregularized_exploitability" =
    Expl_0(π_k), "queries" = cumulative oracle calls per game; plus "comparisons" (sampled
    oracle), "eta" (schedule: eta[k] = η_k, the step from π_k to π_{k+1}), "delta"
    (nash-mp-inexact, delta[0] = 0), "average_exploitability" (hedge/sppo), and
    "unregularized_exploitability" (always for magnet-refresh). ``policy`` is π_T and
    ``average_policy`` the Hedge average π̄_T.
    """
    eta, iterations, refresh_every, inner_steps, track, backend = _validate(
        game, method, eta, iterations, seed, schedule, refresh_every, inner_steps, track,
        oracle, backend)
    if init is not None:
        init = check_distribution(init, "init", game.n, strictly_positive=True)
        if init.ndim > 1 and init.shape[:-1] != game.batch_shape:
            raise ValueError(f"init must have shape ({game.n},) or "
                             f"{game.batch_shape + (game.n,)}, got {init.shape}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    the_oracle = make_oracle(game, oracle, samples=samples, seed=rng)
    eq = equilibrium(game)
    if not eq.certified:
        raise RuntimeError(f"the equilibrium of the game could not be certified ({eq.message})")

    names = set(track) | {"queries"}
    if method == "magnet-refresh":
        names.add("unregularized_exploitability")
    step = STEPS[method]
    options = {"magnet-refresh": {"refresh_every": refresh_every},
               "nash-mp-inexact": {"inner_steps": inner_steps, "rng": rng}}.get(method, {})
    steps = [munos_schedule(t, game.beta) if schedule else eta for t in range(iterations + 1)]

    state = init_state(game, init)
    record = _Recorder(game, eq.logits, names - {"queries"})
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
    else:
        state = _run_kernel(game, method, state, steps[:iterations], backend, record, queries)
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

    kl0 = _metric_values(game, record.first, "kl", eq.logits)
    params = {
        "method": method, "eta": eta, "beta": game.beta, "n": game.n,
        "iterations": iterations,
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "oracle": oracle, "samples": samples, "schedule": schedule,
        "refresh_every": refresh_every, "inner_steps": inner_steps,
        "batch_shape": list(game.batch_shape), "backend": backend,
        "kl0": kl0.tolist(),
        "queries_per_iteration": _QUERIES_PER_ITERATION[method],
    }
    if method in _NASH_MP:
        params["step_condition"] = bool(eta <= 2.0)  # Nash-MP theorem: 0 < η ≤ 2
    if method == "nash-mp-inexact":
        params["delta"] = float(np.max(metrics["delta"]))
    return Trajectory(method, params, metrics, np.exp(state.logits), average)


def _run_kernel(game, method, state, steps, backend, record, queries):
    """The compiled path of ``run``: one kernel call per step (exact oracle).

    Records every iterate and the query count of the reference steps (which the kernel does
    not call): ``_QUERIES_PER_ITERATION`` per step, plus OMWU's first predictor query.
    Returns the final state.
    """
    from nashlab.solvers.batched import kernel_iterates, step_coefficients

    method = _ALIASES.get(method, method)
    per_step = _QUERIES_PER_ITERATION[method]
    coefficients = [(1, step_coefficients(method, eta, game.beta)) for eta in steps]
    logits = state.logits
    for t, logits in enumerate(kernel_iterates(game, method, state.logits, coefficients,
                                               backend), start=1):
        record.add(logits)
        queries.append(per_step * t + (method == "omwu"))
    return replace(state, logits=logits, t=len(steps))


_QUERIES_PER_ITERATION = {"nash-mp": 2, "nash-mp-inexact": 2, "nash-md": 1, "egpo": 2, "omd": 1,
                          "omwu": 1, "onpo": 1, "mmd": 1, "hedge": 1, "sppo": 1,
                          "magnet-refresh": 2}


def _per_game(values, shape):
    return np.broadcast_to(np.asarray(values, dtype=float).reshape((-1,) + (1,) * (len(shape) - 1)),
                           shape).copy()


class _Recorder:
    """Buffers iterates and evaluates the tracked metrics on chunks of them."""

    def __init__(self, game, star_logits, names):
        self.game, self.star, self.names = game, star_logits, sorted(names)
        self.buffer, self.values, self.first = [], {m: [] for m in self.names}, None

    def add(self, logits):
        if self.first is None:
            self.first = np.asarray(logits)
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


