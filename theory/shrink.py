"""Shrink a confirmed counterexample: fewest iterations, fewest actions, round numbers.

MDP instances (``mdp_space``): truncation, then rounding of γ, η and r (``_mdp_candidates``).

Greedy: each candidate change is kept only if the instance still satisfies the claim's
assumptions and still violates the bound both in float64 (``check``) and at 50 digits
(``certify``). Order: truncate to the first violating iteration; drop actions one at a time
(the sub-game on the other actions, μ and π₀ renormalised); then round, coarsest first:
β and η to 1–3 significant digits, P to 0–3 decimals (upper triangle; P_ji = 1 − P_ij),
μ and π₀ to uniform or to integer logits (π₀ also to μ); truncate again at the end.
"""

import math
import time
from dataclasses import replace

import mpmath
import numpy as np
from sympy.printing.pycode import MpmathPrinter

from nashlab.games.preference import PreferenceGame
from nashlab.theory.certify import certify
from nashlab.theory.counterexample import Counterexample
from nashlab.theory.instance_check import run_and_check
from nashlab.theory.instance_spaces import prospective_params
from nashlab.theory.verdicts import UNKNOWN_CONSTANTS, _symbol_values, evaluate

#: seconds the shrinking may take (it stops early with what it has)
SHRINK_SECONDS = 20.0


def _confirm(theorem, search, instance):
    if instance.family == "preference" and not search.admissible(prospective_params(instance)):
        return None
    trajectory, verdict = run_and_check(theorem, instance)
    if verdict is None or not verdict.assumptions_hold or verdict.first_violation is None:
        return None
    high = certify(theorem, instance, trajectory)
    return (trajectory, high) if high.violated else None


def _round_sig(x, digits):
    return float(f"{x:.{digits}g}")


def _with_game(instance, P=None, reference=None):
    game = instance.game
    return replace(instance, game=PreferenceGame(game.P if P is None else P,
                                                 game.reference if reference is None else reference,
                                                 game.beta))


def _integer_logits(p, scale=1.0):
    z = np.round(np.log(p) * scale) / scale
    w = np.exp(z - z.max())
    return w / w.sum()


def _drop(instance, i):
    keep = np.delete(np.arange(instance.game.n), i)
    ref = instance.game.reference[keep]
    init = None if instance.init is None else instance.init[keep] / instance.init[keep].sum()
    game = PreferenceGame(instance.game.P[np.ix_(keep, keep)], ref / ref.sum(), instance.game.beta)
    return replace(instance, game=game, init=init)


def _rounded_P(P, decimals):
    n = P.shape[0]
    iu = np.triu_indices(n, 1)
    out = np.full((n, n), 0.5)
    out[iu] = np.round(P[iu], decimals)
    out[(iu[1], iu[0])] = 1.0 - out[iu]
    return out


def _candidates():
    """Rounding moves (instance -> instance), coarsest first, grouped by what they change."""
    def uniform(inst):
        return np.full(inst.game.n, 1.0 / inst.game.n)

    yield [lambda i, d=d: replace(i, game=i.game.with_beta(_round_sig(i.game.beta, d)))
           for d in (1, 2, 3)]
    yield [lambda i, d=d: None if i.eta is None else replace(i, eta=_round_sig(i.eta, d))
           for d in (1, 2, 3)]
    yield [lambda i, d=d: _with_game(i, P=_rounded_P(i.game.P, d)) for d in (0, 1, 2, 3)]
    yield ([lambda i: _with_game(i, reference=uniform(i))]
           + [lambda i, s=s: _with_game(i, reference=_integer_logits(i.game.reference, s))
              for s in (1, 2)])
    yield ([lambda i: None if i.init is None else replace(i, init=None),
            lambda i: None if i.init is None else replace(i, init=uniform(i))]
           + [lambda i, s=s: None if i.init is None else replace(i, init=_integer_logits(i.init, s))
              for s in (1, 2)])


def _mdp_candidates():
    """Rounding moves of an MDP instance, coarsest first: γ, η (npg's growth re-derived from
    its rule), rewards to 0–3 decimals, π₀ / v₀ to the default start."""
    from nashlab.games.mdp import MDP
    from nashlab.theory.mdp_space import _growth

    def with_gamma(inst, gamma):
        if not 0 <= gamma < 1:
            return None
        mdp = MDP(inst.mdp.P, inst.mdp.r, gamma)
        options = dict(inst.options)
        if "step_growth" in options:
            if inst.growth_rule == "tight":
                return None  # ϑ changes with γ: the tight growth would need a new solve
            options["step_growth"] = _growth(inst.growth_rule, gamma, math.nan)
        return replace(inst, mdp=mdp, options=options, solution=None)

    def with_rewards(inst, decimals):
        r = np.round(inst.mdp.r, decimals)
        return replace(inst, mdp=MDP(inst.mdp.P, r, inst.mdp.gamma), solution=None)

    yield [lambda i, d=d: with_gamma(i, _round_sig(i.mdp.gamma, d)) for d in (1, 2, 3)]
    yield [lambda i, d=d: None if i.eta is None else replace(i, eta=_round_sig(i.eta, d))
           for d in (1, 2, 3)]
    yield [lambda i, d=d: with_rewards(i, d) for d in (0, 1, 2, 3)]
    yield [lambda i: None if i.init is None else replace(i, init=None)]


def shrink(theorem, search, instance) -> Counterexample:
    """The shrunk ``Counterexample`` of a confirmed violating ``instance`` (MDPs: fewest
    iterations and round numbers; the state space is kept)."""
    deadline = time.perf_counter() + SHRINK_SECONDS
    best = _confirm(theorem, search, instance)
    if best is None:
        raise RuntimeError("shrink got an instance that is not a confirmed violation")

    def truncate(instance, best):
        k = max(1, best[1].iteration)
        if k < instance.iterations:
            shorter = replace(instance, iterations=k)
            result = _confirm(theorem, search, shorter)
            if result is not None:
                return shorter, result
        return instance, best

    instance, best = truncate(instance, best)
    changed = instance.family == "preference"
    while changed and instance.game.n > 2 and time.perf_counter() < deadline:
        changed = False
        for i in range(instance.game.n):
            smaller = _drop(instance, i)
            result = _confirm(theorem, search, smaller)
            if result is not None:
                instance, best, changed = smaller, result, True
                break
    for group in _candidates() if instance.family == "preference" else _mdp_candidates():
        for move in group:
            candidate = move(instance)
            if candidate is None or time.perf_counter() >= deadline:
                continue
            result = _confirm(theorem, search, candidate)
            if result is not None:
                instance, best = candidate, result
                break
    instance, best = truncate(instance, best)
    return build(theorem, instance, *best)


def build(theorem, instance, trajectory, high) -> Counterexample:
    """The ``Counterexample`` of a confirmed (instance, float trajectory, 50-digit verdict)."""
    values = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
    defaults = {c: 1.0 for c in UNKNOWN_CONSTANTS} if theorem.status == "slope-only" else None
    bound = evaluate(theorem.bound, trajectory, values, defaults)
    k = high.iteration
    numeric = _symbol_values(theorem.bound, trajectory, values, defaults)
    own = {"k", "err0", "prev"} | ({"eta"} if getattr(instance, "schedule", None) else set())
    symbols = {name: np.broadcast_to(v, values.shape).astype(float).tolist()
               for name, v in numeric.items() if name not in own}
    names = sorted(s.name for s in theorem.bound.free_symbols)
    init = None if instance.init is None else np.asarray(instance.init).tolist()
    if instance.family == "mdp":
        params = {"method": instance.method, "gamma": instance.mdp.gamma, "eta": instance.eta,
                  "step_growth": instance.options.get("step_growth", 1.0),
                  "iterations": instance.iterations, "init": init,
                  "structure": instance.label}
        if instance.method == "npg-entropy":  # τ, δ and the seed of the noise draws
            params.update(tau=instance.regularizer.tau,
                          q_noise=float(instance.options.get("q_noise", 0.0)),
                          seed=instance.run_options().get("seed"))
        for name in ("vartheta", "D0", "C1", "C2"):  # their 50-digit values (certify's)
            symbols.pop(name, None)
    else:
        params = {"method": instance.method, "beta": instance.game.beta, "eta": instance.eta,
                  "schedule": instance.schedule, "iterations": instance.iterations,
                  "init": init}
    claim = {"id": theorem.id, "statement": theorem.statement, "metric": theorem.metric,
             "form": theorem.form, "bound": str(theorem.bound),
             "bound_mpmath": MpmathPrinter({"fully_qualified_modules": True}).doprint(
                 theorem.bound), "bound_symbols": names}
    with mpmath.workdps(70):
        margin = mpmath.nstr(high.ratio - 1, 10)
    ratio = float(values[k] / bound[k]) if math.isfinite(bound[k]) and bound[k] else math.nan
    return Counterexample(theorem.id, instance.problem, params, k, ratio,
                          mpmath.nstr(high.ratio, 50), margin, claim, symbols)

