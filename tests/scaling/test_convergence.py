"""Neural training that keeps improving: the geometric batch schedule drives the inexactness
δ_k of each prox step to zero, δ_k is recorded and the approximate Nash-MP bound
KL_{k+1} ≤ KL_k/(1 + ηβ) + δ_k (theory notes nlhf.md §2, derived) holds step by step, a
query budget stops the run, and neural Nash Prox is the tabular Nash Prox."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling import SequenceGame, TrainConfig, Trainer  # noqa: E402
from nashlab.solvers import run  # noqa: E402

torch.set_num_threads(1)


def _kl(trainer):
    return np.array([h["kl"] for h in trainer.history])


def test_sampled_nash_mp_keeps_improving_with_the_default_schedule():
    """The issue's criterion on a small budget (unseen seed): KL at the budget ≤ ½ KL at a
    quarter of it, no spike above 2× the running minimum in the last half, and the bound
    with the recorded δ_k at every step."""
    game = SequenceGame(4, 4, "cyclic", beta=0.1, seed=4242)
    budget = 100_000
    trainer = Trainer.for_sequence_game(game, "tiny", hidden=16, seed=4242, max_queries=budget,
                                        progress=False)
    trainer.train()
    h = trainer.history
    queries, kl = np.array([e["queries"] for e in h]), _kl(trainer)
    assert queries[-1] <= budget and len(h) >= 10
    quarter = kl[np.searchsorted(queries, budget / 4, side="right") - 1]
    assert kl[-1] <= 0.5 * quarter
    half = len(kl) // 2
    running_min = np.minimum.accumulate(kl)
    assert np.all(kl[half:] <= 2 * running_min[half - 1:-1])
    delta = np.array([e["delta"] for e in h[1:]])
    assert np.all(np.isfinite(delta)) and np.all(delta >= 0)
    factor = 1 + trainer.config.prox_eta * trainer.config.beta
    assert np.all(kl[1:] <= kl[:-1] / factor + delta)
    batches = [e["batch"] for e in h[1:]]
    assert batches == [trainer.config.batch_at(k) for k in range(len(batches))]
    assert batches[-1] > 10 * batches[0]


def test_batch_schedule_rounding_cap_and_validation():
    c = TrainConfig(batch_size=12, batch_growth=1.5, max_batch_size=40)
    assert [c.batch_at(k) for k in range(5)] == [12, 18, 27, 40, 40]
    assert [c.batch_at(k, processes=4) for k in range(4)] == [12, 20, 28, 40]
    assert TrainConfig(batch_size=8).batch_at(30) == 8  # None: no growth until resolved
    for bad, match in [({"batch_growth": 0.9}, "batch_growth"), ({"batch_growth": True}, "batch_growth"),
                       ({"max_batch_size": 4, "batch_size": 8}, "max_batch_size"),
                       ({"max_queries": 0}, "max_queries"), ({"max_queries": 1.5}, "max_queries"),
                       ({"self_play_rounds": 0}, "self_play_rounds")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)


def test_max_queries_stops_before_the_step_that_would_exceed_it(capsys):
    argv = ["--game", "sequence", "--vocab", "3", "--length", "3", "--policy", "tabular",
            "--seed", "7", "--batch-size", "100", "--max-queries", "2000", "--json",
            "--no-progress"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # nash-mp, regression: 2 sub-problems × 2·batch; batches 100, 125, 157, 197, 247 ...
    assert out["queries"] == 4 * (100 + 125 + 157) and out["steps"] == 3
    assert out["queries"] + 4 * 197 > 2000


def test_exact_estimator_reaches_1e3_within_2e6_queries(capsys):
    """The issue's exact-estimator goal on the 256-sequence cyclic game: KL(π*‖π_θ) ≤ 1e-3
    within 2·10⁶ queries (n² = 65,536 per sub-problem) at η = 4. Tabular Nash-MP's exact
    local rate there is ρ = 1/(1 + ηβ) = 0.714 (KL ~ ρ² per step; 0.833 at the default
    η = 2, which ends at KL 2e-3–7e-3 on this budget: measured, seeds 7, 913, 1001, 2024)."""
    argv = ["--game", "sequence", "--vocab", "4", "--length", "4", "--preference", "cyclic",
            "--seed", "913", "--algorithm", "nash-mp", "--policy", "tiny", "--estimator",
            "exact", "--eta", "4", "--max-queries", "2000000", "--json", "--no-progress"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["queries"] <= 2_000_000 and out["steps"] == 15
    assert 0 <= out["kl"] <= 1e-3


def test_neural_nash_prox_is_the_tabular_nash_prox():
    """A tabular policy, exact expectations and L-BFGS solve every self-play round exactly:
    R rounds per outer step give the tabular Nash Prox with inner_steps = R (the solver of
    ``nashlab.solvers.nlhf``), and δ_k against the exact proximal point obeys the bound."""
    game = SequenceGame(3, 2, "cyclic", beta=0.2, seed=1)
    trainer = Trainer.for_sequence_game(game, "tabular", algorithm="nash-prox", eta=2.0, beta=0.2,
                                        estimator="exact", optimizer="lbfgs", lr=1.0,
                                        inner_steps=100, self_play_rounds=3, steps=3,
                                        progress=False)
    trainer.train()
    tab = run(game.preference_game(), "nash-prox", eta=2.0, iterations=3, inner_steps=3,
              track=("kl",))
    np.testing.assert_allclose(_kl(trainer), tab["kl"], rtol=1e-6, atol=1e-10)
    assert trainer.history[-1]["queries"] == 3 * 3 * game.vocab ** (2 * game.length)
    kl, delta = _kl(trainer), np.array([e["delta"] for e in trainer.history[1:]])
    assert np.all(kl[1:] <= kl[:-1] / (1 + 2.0 * 0.2) + delta)


def test_the_neural_inexact_nash_mp_claim_is_a_checked_bound():
    """``nashlab verify``'s claim on neural runs passes on a recorded run, fails when δ_k is
    understated (set to 0 while KL does not contract by 1/(1+ηβ)) and is inconclusive
    without a counted step or with a non-finite δ_k."""
    from nashlab.scaling import bridge
    from nashlab.solvers.results import Trajectory
    from nashlab.theory.verdicts import check_claim

    game = SequenceGame(4, 2, "cyclic", beta=0.1, seed=2)
    t = Trainer.for_sequence_game(game, "tiny", hidden=16, seed=2, steps=4, progress=False)
    t.train()
    kl = _kl(t)
    delta = np.array([np.nan] + [e["delta"] for e in t.history[1:]])
    params = {"method": "nash-mp", "beta": 0.1, "prox_eta": 2.0}
    good = Trajectory("neural nash-mp", params, {"kl": kl, "delta": delta})
    verdict = check_claim([good], "scaling/neural-inexact-nash-mp")
    assert verdict.status == "pass" and verdict.worst_ratio <= 1
    bad_kl = np.array([1.0, 0.95, 0.9, 0.85, 0.8])  # contracts by 0.95 > 1/1.2 per step
    bad = Trajectory("neural nash-mp", params, {"kl": bad_kl, "delta": np.array([np.nan] + [0.0] * 4)})
    assert check_claim([good, bad], "scaling/neural-inexact-nash-mp").status == "fail"
    nan = Trajectory("neural nash-mp", params, {"kl": kl, "delta": np.full(len(kl), np.nan)})
    other = Trajectory("neural omd", dict(params, method="omd"), {"kl": kl, "delta": delta})
    for runs in ([nan], [other]):
        assert check_claim(runs, "scaling/neural-inexact-nash-mp").status == "inconclusive"
    assert bridge.BOUNDED == ("nash-mp", "nash-prox")
