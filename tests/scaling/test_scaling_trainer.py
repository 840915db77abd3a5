"""Trainer, checkpoints and ``nashlab train`` on sequence games: bad input, NaN, resume."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from nashlab.scaling import SequenceGame, TrainConfig, Trainer, TrainingError  # noqa: E402
from nashlab.scaling.checkpoint import (  # noqa: E402
    flatten_optimizer_state,
    latest_checkpoint,
    unflatten_optimizer_state,
)
from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling.oracles import CallableOracle, SequenceGameOracle  # noqa: E402
from nashlab.scaling.policies import AutoregressivePolicy, TabularPolicy  # noqa: E402

torch.set_num_threads(1)
SEQ = ["--game", "sequence", "--vocab", "3", "--length", "4", "--preference", "cyclic",
       "--seed", "0", "--no-progress"]


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, (json.loads(out.out.strip().splitlines()[-1]) if code == 0 else None), out.err


def test_cli_prints_one_json_object_with_the_exact_kl(capsys):
    code, out, _ = _run(capsys, SEQ + ["--algorithm", "egpo", "--policy", "tabular", "--steps", "3",
                                       "--batch-size", "512", "--json"])
    assert code == 0
    assert {"kl", "queries", "steps", "seconds"} <= set(out)
    assert out["steps"] == 3 and out["queries"] == 3 * 2 * 2 * 512
    assert 0 < out["kl"] < 1


def test_cli_reads_a_toml_config_and_flags_override_it(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('game = "sequence"\nvocab = 3\nlength = 4\npolicy = "tabular"\n'
                      'algorithm = "omd"\nsteps = 5\nbatch_size = 64\nprogress = false\n')
    code, out, _ = _run(capsys, [str(config), "--steps", "2", "--json"])
    assert code == 0 and out["steps"] == 2 and out["algorithm"] == "omd"


@pytest.mark.parametrize("extra,match", [
    (["--beta", "0"], "beta"),
    (["--beta", "-0.1"], "beta"),
    (["--algorithm", "nash-xx"], "algorithm"),
    (["--policy", "hf"], "policy"),
    (["--estimator", "exact", "--policy", "tiny", "--pairs", "anchor", "--loss", "nope"], "loss"),
    (["--algorithm", "omd", "--eta", "20"], "eta"),
    (["--steps", "0"], "steps"),
    (["--bogus-flag", "1"], "bogus"),
])
def test_cli_bad_input_exits_2_before_training(extra, match, tmp_path, capsys):
    code, _, err = _run(capsys, SEQ + ["--output", str(tmp_path / "run")] + extra)
    assert code == 2 and match in err
    assert latest_checkpoint(tmp_path / "run") is None


def test_config_with_unknown_keys(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('game = "sequence"\nlearning_rate = 0.1\n')
    code, _, err = _run(capsys, [str(config)])
    assert code == 2 and "unknown config key" in err and "learning_rate" in err
    config.write_text('[train]\nbeta = 0.1\n')
    assert _run(capsys, [str(config)])[0] == 2


def test_train_config_validation():
    with pytest.raises(ValueError, match="beta"):
        TrainConfig(beta=0.0)
    with pytest.raises(ValueError, match="algorithm"):
        TrainConfig(algorithm="dpo")
    with pytest.raises(ValueError, match="anchor_ema"):
        TrainConfig(anchor_ema=1.0)
    assert TrainConfig(algorithm="egpo", beta=0.5).eta == pytest.approx(1.0)


def test_trainer_setup_errors():
    game = SequenceGame(3, 4, beta=0.1, seed=0)
    policy = TabularPolicy(game.log_reference, vocab=3, length=4)
    judge = CallableOracle(lambda c, a, b: torch.full((len(a),), 0.5))
    with pytest.raises(ValueError, match="exact"):
        Trainer(policy, judge, estimator="exact", progress=False)
    with pytest.raises(TypeError, match="oracle"):
        Trainer(policy, lambda c, a, b: 0.5, progress=False)
    with pytest.raises(ValueError, match="responses"):
        Trainer(TabularPolicy(np.zeros(5)), SequenceGameOracle(game), progress=False)
    with pytest.raises(ValueError, match="lbfgs"):
        Trainer(policy, judge, loss="pg", optimizer="lbfgs", progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    game = SequenceGame(3, 4, beta=0.1, seed=0)
    trainer = Trainer.for_sequence_game(game, "tabular", progress=False, batch_size=64)
    trainer.train(1, output_dir=tmp_path)
    good = latest_checkpoint(tmp_path)
    assert good.name == "step-000001"
    with torch.no_grad():
        trainer.reference.logits[0] = float("nan")  # a diverged target: the loss is NaN
    with pytest.raises(TrainingError, match="loss is nan at step 2") as info:
        trainer.train(3, output_dir=tmp_path)
    assert "step-000001" in str(info.value)
    with torch.no_grad():
        trainer.policy.logits[0] = float("nan")
    with pytest.raises(TrainingError, match="parameters are not finite at the start of step 2"):
        trainer.train(3, output_dir=tmp_path)
    assert latest_checkpoint(tmp_path) == good
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-000001"]


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    """Tiny network, Adam, sampled pairs and opponents, EMA anchor: stop after 2 steps,
    resume in a new trainer, and land on the same parameters bit for bit."""
    game = SequenceGame(3, 4, "annotators", beta=0.1, seed=1)
    options = dict(algorithm="nash-mp", batch_size=128, inner_steps=3, anchor_ema=0.3,
                   progress=False, hidden=16)
    full = Trainer.for_sequence_game(game, "tiny", **options)
    full.train(4)
    first = Trainer.for_sequence_game(game, "tiny", **options)
    first.train(2, output_dir=tmp_path)
    second = Trainer.for_sequence_game(game, "tiny", **options).load(tmp_path)
    second.train(4, output_dir=tmp_path)
    for a, b in zip(full.policy.parameters(), second.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in second.history]
    assert full.queries == second.queries


def test_optimizer_state_round_trip_including_lbfgs_history():
    policy = AutoregressivePolicy(2, 3, hidden=4)
    opt = torch.optim.LBFGS(policy.parameters(), max_iter=3)

    def closure():
        opt.zero_grad()
        loss = policy.log_probs_all().exp().pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    tensors, meta = flatten_optimizer_state(opt.state_dict())
    meta = json.loads(json.dumps(meta))
    restored = unflatten_optimizer_state(tensors, meta)
    original = opt.state_dict()
    for pid, entries in original["state"].items():
        for key, value in entries.items():
            other = restored["state"][pid][key]
            if torch.is_tensor(value):
                assert torch.equal(value, other)
            elif isinstance(value, list):
                assert all(torch.equal(x, y) for x, y in zip(value, other, strict=True))
            else:
                assert value == other


def test_ema_anchor_averages_the_iterates():
    game = SequenceGame(3, 4, beta=0.1, seed=0)
    trainer = Trainer.for_sequence_game(game, "tabular", algorithm="omd", anchor_ema=0.25,
                                        batch_size=64, progress=False)
    theta0 = trainer.policy.logits.detach().clone()
    trainer.train(1)
    assert torch.equal(trainer.anchor.logits, theta0)  # the first anchor is π_0
    theta1 = trainer.policy.logits.detach().clone()
    trainer._update_anchor()  # what step 2 starts with
    assert torch.allclose(trainer.anchor.logits, 0.25 * theta0 + 0.75 * theta1, atol=1e-15)
