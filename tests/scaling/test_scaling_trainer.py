"""Trainer, checkpoints and ``nashlab train`` on sequence games: bad input, NaN, resume."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling import SequenceGame, TrainConfig, Trainer, TrainingError  # noqa: E402
from nashlab.scaling.checkpoint import (  # noqa: E402
    flatten_optimizer_state,
    latest_checkpoint,
    unflatten_optimizer_state,
)
from nashlab.scaling.oracles import CallableOracle, SequenceGameOracle  # noqa: E402
from nashlab.scaling.policies import AutoregressivePolicy, CausalLMPolicy, TabularPolicy  # noqa: E402

torch.set_num_threads(1)
SEQ = ["--game", "sequence", "--vocab", "3", "--length", "4", "--preference", "cyclic",
       "--seed", "0", "--no-progress"]


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, (json.loads(out.out.strip().splitlines()[-1]) if code == 0 else None), out.err


def test_cli_prints_one_json_object_with_the_exact_kl(capsys):
    code, out, _ = _run(capsys, SEQ + ["--algorithm", "egpo", "--policy", "tabular", "--steps", "3",
                                       "--batch-size", "512", "--batch-growth", "1", "--json"])
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


def test_float32_policy_trains_and_reports_the_exact_kl():
    """A float32 policy's probabilities sum to 1 only to float32 precision (off by ~1e-8 at
    256 responses): the metrics check them against its dtype, not float64-absolute."""
    game = SequenceGame(4, 4, "cyclic", beta=0.1, seed=3)
    policy = AutoregressivePolicy(4, 4, hidden=16, dtype=torch.float32)
    trainer = Trainer.for_sequence_game(game, policy, steps=2, batch_size=256, inner_steps=5,
                                        progress=False)
    out = trainer.train()
    assert out["kl"] < trainer.history[0]["kl"] and out["kl_to_reference"] > 0
    assert all(np.isfinite(h["delta"]) for h in trainer.history[1:])


def test_log_distribution_tolerance_follows_the_dtype():
    from nashlab.scaling.evaluation import _log_distribution

    lp32 = torch.log_softmax(torch.randn(256, generator=torch.Generator().manual_seed(0)), -1)
    assert abs(np.exp(_log_distribution(lp32, "policy")).sum() - 1) < 1e-14
    with pytest.raises(ValueError, match="policy's log-probabilities must sum to 1"):
        _log_distribution(lp32 + 1e-2, "policy")  # off by 1e-2 > 256·16·eps(float32) = 4.9e-4
    lp64 = lp32.double() + 1e-9  # fine in float32, not in float64
    with pytest.raises(ValueError, match="float64"):
        _log_distribution(lp64, "policy")


def test_ratio_kl_estimator_is_non_negative_and_unbiased():
    """r − 1 − log r at y ~ π: every sample ≥ 0, mean = the exact KL(π‖μ) (enumeration)
    within 4 standard errors; the plain mean of log π − log μ has negative samples."""
    from nashlab.scaling.evaluation import ratio_kl

    gen = torch.Generator().manual_seed(1)
    lp = torch.log_softmax(0.5 * torch.randn(50, generator=gen, dtype=torch.float64), -1)
    lq = torch.log_softmax(0.5 * torch.randn(50, generator=gen, dtype=torch.float64), -1)
    y = torch.multinomial(lp.exp(), 20000, True, generator=gen)
    values = ratio_kl(lp[y], lq[y])
    exact = float((lp.exp() * (lp - lq)).sum())
    assert (values >= 0).all() and ((lp - lq)[y] < 0).any()
    assert abs(float(values.mean()) - exact) <= 4 * float(values.std()) / len(y) ** 0.5


def test_causal_lm_kl_to_reference_is_the_per_token_kl_and_non_negative():
    """kl_to_reference of an LM is Σ_t KL(π(·|y_<t)‖μ(·|y_<t)) from the logits: each sample
    ≥ 0, exactly 0 for μ = π, and equal to the same sum built from ``next_token_log_probs``
    one prefix at a time (an independent path through the model)."""
    pytest.importorskip("transformers")
    from nashlab.scaling.evaluation import evaluate, token_kl
    from nashlab.scaling.tiny import model_from_config, tiny_config, word_tokenizer

    tokenizer = word_tokenizer()
    policy = CausalLMPolicy(model_from_config(tiny_config(len(tokenizer))).eval(), tokenizer,
                            max_new_tokens=4)
    reference = CausalLMPolicy(model_from_config(tiny_config(len(tokenizer)), seed=5).eval(),
                               tokenizer, max_new_tokens=4)
    prompts = ["why the cat", "how is it", "why"]
    y = policy.sample(3, prompts, generator=torch.Generator().manual_seed(2))
    kl = token_kl(policy, reference, y, prompts)
    assert kl.shape == (3,) and (kl > 0).all()
    assert torch.equal(token_kl(policy, policy, y, prompts), torch.zeros(3, dtype=torch.float64))
    for i, prompt in enumerate(prompts):
        ids, mask = policy.encode_prompts([prompt])
        total = 0.0
        for t in range(int(y.mask[i].sum())):
            lp, lq = policy.next_token_log_probs(ids, mask), reference.next_token_log_probs(ids, mask)
            total += float((lp.exp() * (lp - lq)).sum())
            ids = torch.cat([ids, y.ids[i:i + 1, t:t + 1]], -1)
            mask = torch.cat([mask, torch.ones(1, 1, dtype=mask.dtype)], -1)
        assert abs(total - float(kl[i])) <= 1e-6 * max(1.0, total)
    oracle = CallableOracle(lambda c, a, b: torch.full((len(a),), 0.5, dtype=torch.float64))
    for seed in range(3):
        out = evaluate(policy, reference, oracle, contexts=prompts, seed=seed, samples=8)
        assert out["kl_to_reference"] > 0
    assert evaluate(policy, policy, oracle, contexts=prompts, samples=8)["kl_to_reference"] == 0
