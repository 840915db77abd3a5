"""The verified bridge as claims of ``nashlab verify``, on neural runs of an exactly solvable
256-response sequence game (a small autoregressive network, sampled comparisons, the
default geometric batch schedule):

- ``scaling/neural-inexact-nash-mp``, a checked bound: every algorithm step of neural
  Nash-MP (η = 2) and neural Nash Prox satisfies KL_{k+1} ≤ KL_k/(1 + ηβ) + δ_k, with δ_k
  the recorded inexactness of the step (span of log π̃_{k+1} − log π_{k+1} against the exact
  step from the same anchor, ``nashlab.scaling.evaluation.prox_inexactness``; theory notes
  nlhf.md §2, derived). A step that breaks it is a fault of the trainer or of δ_k.
- ``scaling/neural-nash-mp-learns``: neural Nash-MP reaches KL(π*‖π_θ) ≤ 0.05, plotted
  beside the exact tabular Nash-MP run on the same game.

Units of the query axis: the neural runs count sampled pairwise comparisons P(y ≻ y'); an
exact tabular evaluation of P·π reads all n² pairwise preferences, so the tabular run's
queries are its oracle calls × n². Registered only when the ``neural`` extra imports.
"""

from functools import lru_cache

import numpy as np
import torch

from nashlab.scaling.sequence_game import SequenceGame
from nashlab.scaling.trainer import Trainer
from nashlab.solvers import run
from nashlab.solvers.results import Trajectory
from nashlab.theory.registry import Source
from nashlab.theory.verdicts import Claim, register_claim

KL_TARGET = 0.05
#: (algorithm, η in that algorithm's parametrisation, preference-query budget)
RUNS = (("nash-mp", 2.0, 200_000), ("nash-prox", 2.0, 400_000), ("nash-md", 2.0, 400_000),
        ("omd", 2.0, 400_000))
#: the algorithms whose steps obey KL_{k+1} ≤ KL_k/(1 + ηβ) + δ_k (η ≤ 2 for Nash-MP)
BOUNDED = ("nash-mp", "nash-prox")
TRAINING = {"estimator": "sampled", "progress": False, "beta": 0.1, "seed": 0}
#: relative slack of the per-step comparison (float64 rounding of KL and δ)
RTOL = 1e-9


def _game():
    return SequenceGame(4, 4, "cyclic", beta=0.1, seed=0)  # |V|^L = 256 responses


def _neural(game, algorithm, eta, budget) -> Trajectory:
    torch.manual_seed(0)
    trainer = Trainer.for_sequence_game(game, "tiny", hidden=64, algorithm=algorithm, eta=eta,
                                        max_queries=budget, **TRAINING)
    trainer.train()
    history = trainer.history
    metrics = {"kl": np.array([h["kl"] for h in history]),
               "queries": np.array([h["queries"] for h in history], dtype=float),
               "delta": np.array([np.nan] + [h["delta"] for h in history[1:]])}
    params = {"family": "preference", "method": algorithm, "backend": "torch",
              "n_actions": game.vocab ** game.length, "n_states": None, "batch_shape": [],
              "beta": game.beta, "eta": eta, "prox_eta": trainer.config.prox_eta,
              "iterations": trainer.step, "max_queries": budget, "policy": "tiny network"}
    return Trajectory(f"neural {algorithm}", params, metrics)


def _tabular(game, steps) -> Trajectory:
    exact = run(game.preference_game(), "nash-mp", eta=2.0, iterations=steps, track=("kl",))
    n = game.vocab ** game.length
    metrics = {"kl": exact.metrics["kl"], "queries": exact.metrics["queries"] * n * n}
    return Trajectory("nash-mp", exact.params, metrics, exact.policy)


@lru_cache(maxsize=2)
def _runs(quick):
    """The neural runs (shared by both claims: one training per ``nashlab verify``)."""
    game = _game()
    runs = RUNS[:1] if quick else RUNS  # quick: neural Nash-MP only (~30 CPU s)
    out = [(f"neural {alg} (tiny net, η={eta:g}, {budget:g} queries)", _neural(game, alg, eta, budget))
           for alg, eta, budget in runs]
    return game, tuple(out)


def _suite(quick):
    game, out = _runs(quick)
    steps = out[0][1].params["iterations"]
    return [*out, ("exact tabular nash-mp (queries × n²)", _tabular(game, steps))]


def _bound_suite(quick):
    return [(label, t) for label, t in _runs(quick)[1] if t.params["method"] in BOUNDED]


def _criterion(trajectories):
    final = float(trajectories[0].metrics["kl"][-1])
    return final <= KL_TARGET, final, f"final KL(π*‖π_θ) = {final:.4f} (target ≤ {KL_TARGET})"


def _bound_criterion(trajectories):
    """max over steps of KL_{k+1}/(KL_k/(1 + ηβ) + δ_k) (≤ 1 + 1e-9 holds); NaN (so
    inconclusive) when no step of a bounded run was counted or a value is not finite."""
    worst, counted = -np.inf, 0
    for traj in trajectories:
        p = traj.params
        if p.get("method") not in BOUNDED or "delta" not in traj.metrics:
            continue
        kl, delta = np.asarray(traj["kl"], float), np.asarray(traj["delta"], float)[1:]
        if not (np.all(np.isfinite(kl)) and np.all(np.isfinite(delta)) and delta.size):
            return False, np.nan, f"{traj.method}: non-finite KL or δ_k, or no step"
        bound = kl[:-1] / (1 + p["prox_eta"] * p["beta"]) + delta
        worst = max(worst, float(np.max(kl[1:] / bound)))
        counted += delta.size
    if counted == 0:
        return False, np.nan, "no step of neural nash-mp / nash-prox with δ_k recorded"
    return worst <= 1 + RTOL, worst, (f"max KL_(k+1)/(KL_k/(1+ηβ) + δ_k) = {worst:.4g} "
                                      f"(needs ≤ 1) over {counted} steps")


SOURCE = Source("Accelerating Nash learning from human feedback via Mirror Prox",
                "2505.19731", "abstract (approximate Nash-MP); the per-step form is derived")

register_claim(Claim(
    id="scaling/neural-inexact-nash-mp", algorithm="neural nash-mp",
    statement="Every algorithm step of neural Nash-MP (η ≤ 2) and neural Nash Prox on a "
              "256-response sequence game satisfies KL_{k+1} ≤ KL_k/(1+ηβ) + δ_k, δ_k the "
              "measured span inexactness of the step against the exact step from the same "
              "anchor (the approximate Nash-MP bound, theory notes §2)",
    criterion_text="KL_{k+1} ≤ (KL_k/(1+ηβ) + δ_k)·(1 + 1e-9) at every recorded step",
    criterion=_bound_criterion, source=SOURCE, status="derived", suite=_bound_suite))

register_claim(Claim(
    id="scaling/neural-nash-mp-learns", algorithm="neural nash-mp",
    statement="A ≤200k-parameter autoregressive network trained by neural Nash-MP (regression "
              "onto the prox step, sampled comparisons, geometric batch growth) on a "
              "256-response sequence game reaches KL(π*‖π_θ) ≤ 0.05 within 2e5 queries, "
              "exact by enumeration",
    criterion_text="final exact KL(π*‖π_θ) ≤ 0.05",
    criterion=_criterion,
    source=Source("Nash learning from human feedback", "2312.00886", "App. F (neural NLHF)"),
    status="derived", suite=_suite))
