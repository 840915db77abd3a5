"""The Hugging Face path on CPU: tiny randomly initialised GPT-2s from configs, a local
word-level tokenizer, ``nashlab train`` end to end, resume, and two processes."""

import json
import os
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from safetensors.torch import load_file  # noqa: E402

from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling.oracles import CallableOracle  # noqa: E402
from nashlab.scaling.policies import CausalLMPolicy  # noqa: E402
from nashlab.scaling.tiny import (  # noqa: E402
    model_from_config,
    tiny_config,
    word_tokenizer,
    write_config,
)
from nashlab.scaling.trainer import Trainer  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def hf_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hf")
    tokenizer = word_tokenizer(directory=d / "tokenizer")
    write_config(tiny_config(len(tokenizer)), d / "lm.json")
    write_config(tiny_config(len(tokenizer), num_labels=1), d / "pm.json")
    write_config(tiny_config(5), d / "small_lm.json")
    return d


def _args(d, *extra, lm="lm.json"):
    return ["--game", "hf", "--policy", "hf", "--hf-model-config", str(d / lm),
            "--tokenizer", str(d / "tokenizer"), "--preference-model-config", str(d / "pm.json"),
            "--prompt", "why the cat", "--prompt", "how is it", "--batch-size", "8",
            "--inner-steps", "2", "--max-new-tokens", "4", "--lr", "0.003", "--json",
            "--no-progress", *map(str, extra)]


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1]) if code == 0 else None
    return code, summary, out.err


def _history(run_dir, step):
    with open(run_dir / f"step-{step:06d}" / "state.json") as f:
        return json.load(f)["history"]


def test_train_end_to_end_then_resume_matches_uninterrupted(hf_files, tmp_path, capsys):
    code, full, _ = _run(capsys, _args(hf_files, "--steps", 4, "--output", tmp_path / "full"))
    assert code == 0
    assert full["steps"] == 4 and full["kl"] is None
    assert full["queries"] == 4 * 2 * 2 * 8  # steps × half-steps × (y, y') × batch
    assert 0 <= full["win_rate"] <= 1

    code, part, _ = _run(capsys, _args(hf_files, "--steps", 2, "--output", tmp_path / "part"))
    assert code == 0 and part["steps"] == 2
    code, resumed, _ = _run(capsys, ["--resume", str(tmp_path / "part"), "--steps", "4", "--json",
                                     "--no-progress"])
    assert code == 0
    assert resumed["steps"] == 4 and resumed["queries"] == full["queries"]
    assert resumed["loss"] == full["loss"]
    assert _history(tmp_path / "part", 4) == [
        {**h, "seconds": g["seconds"]} for h, g in zip(_history(tmp_path / "full", 4),
                                                       _history(tmp_path / "part", 4), strict=True)]
    a = load_file(str(tmp_path / "full" / "step-000004" / "policy.safetensors"))
    b = load_file(str(tmp_path / "part" / "step-000004" / "policy.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nash_md_policy_gradient_with_token_level_mixture_and_reward_oracle(hf_files, tmp_path,
                                                                            capsys):
    code, out, err = _run(capsys, _args(hf_files, "--algorithm", "nash-md", "--loss", "pg",
                                        "--oracle", "reward", "--anchor-ema", "0.5",
                                        "--steps", 2))
    assert code == 0, err
    assert out["queries"] == 2 * 2 * 8  # steps × inner steps × batch


def test_resume_refuses_to_change_the_run(hf_files, tmp_path, capsys):
    assert _run(capsys, _args(hf_files, "--steps", 1, "--output", tmp_path / "run"))[0] == 0
    code, _, err = _run(capsys, ["--resume", str(tmp_path / "run"), "--beta", "0.5"])
    assert code == 2 and "beta" in err


def test_mismatched_tokenizer_and_model(hf_files, tmp_path, capsys):
    code, _, err = _run(capsys, _args(hf_files, "--output", tmp_path / "x", lm="small_lm.json"))
    assert code == 2 and "do not match" in err
    assert not (tmp_path / "x" / "latest").exists()
    tokenizer = word_tokenizer()
    with pytest.raises(ValueError, match="do not match"):
        CausalLMPolicy(model_from_config(tiny_config(5)), tokenizer)


@pytest.mark.parametrize("judge,match", [
    (lambda c, a, b: torch.full((len(a),), 1.5), r"outside \[0, 1\]"),
    (lambda c, a, b: torch.full((len(a),), float("nan")), r"outside \[0, 1\]"),
    (lambda c, a, b: torch.full((len(a), 2), 0.5), "shape"),
])
def test_bad_oracle_is_reported_before_training(judge, match):
    tokenizer = word_tokenizer()
    policy = CausalLMPolicy(model_from_config(tiny_config(len(tokenizer))), tokenizer,
                            max_new_tokens=3)
    with pytest.raises(ValueError, match=match):
        Trainer(policy, CallableOracle(judge), contexts=["why"], progress=False)


@pytest.mark.parametrize("model_type", ["gpt2", "llama"])
def test_causal_lm_log_probs_mask_prompt_and_padding(model_type):
    tokenizer = word_tokenizer()
    model = model_from_config(tiny_config(len(tokenizer), model_type=model_type))
    policy = CausalLMPolicy(model, tokenizer, max_new_tokens=5)
    gen = torch.Generator().manual_seed(0)
    prompts = ["why the cat is", "how"]
    y = policy.sample(2, prompts, generator=gen)
    batch = policy(y, prompts)
    # each row alone, without padding, by the chain rule on the unpadded sequence
    for i, prompt in enumerate(prompts):
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        r_ids = y.ids[i][y.mask[i]].tolist()
        ids = torch.tensor([p_ids + r_ids])
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
        direct = sum(logp[len(p_ids) - 1 + t, r].item() for t, r in enumerate(r_ids))
        assert abs(batch[i].item() - direct) <= 1e-10


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_losses_of_one(hf_files, tmp_path, capsys):
    """DDP over gloo, 2 CPU processes started by torch.distributed.run (accelerate's
    Accelerator(cpu=True) picks up the world and uses gloo; ``accelerate launch`` needs
    mpirun for multi-CPU). Every process draws the same global batch and trains on its
    half, so the averaged gradient is the full-batch one. Tolerance: 1e-10 relative on the
    losses (float64; the all-reduce sums in another order); measured ≈ 1e-14."""
    assert _run(capsys, _args(hf_files, "--steps", 2, "--output", tmp_path / "one"))[0] == 0
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
              "--master_port", str(_free_port()), "-m", "nashlab.cli.train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(launch + _args(hf_files, "--steps", 2, "--output", tmp_path / "two"),
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    two = json.loads(proc.stdout.strip().splitlines()[-1])
    assert two["processes"] == 2
    one_losses = [h["loss"] for h in _history(tmp_path / "one", 2)][1:]
    two_losses = [h["loss"] for h in _history(tmp_path / "two", 2)][1:]
    assert two_losses == pytest.approx(one_losses, rel=1e-10)
    assert two["queries"] == 2 * 2 * 2 * 8


def test_readme_example_runs(tmp_path, capsys):
    import runpy
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "finetune_hf.py"
    module = runpy.run_path(str(example))
    summary = module["main"](str(tmp_path / "run"))
    assert summary["steps"] == 3 and summary["queries"] == 3 * 2 * 2 * 16
    assert latest_checkpoint_name(tmp_path / "run") == "step-000003"


def latest_checkpoint_name(directory):
    from nashlab.scaling.checkpoint import latest_checkpoint

    return latest_checkpoint(directory).name


def test_pairwise_model_oracle_is_a_preference_and_batches_and_counts():
    from nashlab.scaling.oracles import BradleyTerryOracle, PairwiseModelOracle

    tokenizer = word_tokenizer()
    policy = CausalLMPolicy(model_from_config(tiny_config(len(tokenizer))), tokenizer,
                            max_new_tokens=4)
    judge = model_from_config(tiny_config(len(tokenizer), num_labels=1),
                              "AutoModelForSequenceClassification", seed=3).eval()
    gen = torch.Generator().manual_seed(1)
    prompts = ["why the cat", "how", "what is it", "the sun", "a dog"]
    a, b = policy.sample(5, prompts, generator=gen), policy.sample(5, prompts, generator=gen)
    chunked = PairwiseModelOracle(judge, tokenizer, policy, batch_size=2)
    whole = PairwiseModelOracle(judge, tokenizer, policy)
    p_ab = chunked(prompts, a, b)
    assert chunked.queries == 5
    assert torch.allclose(p_ab, whole(prompts, a, b), atol=1e-12)
    assert torch.allclose(p_ab + whole(prompts, b, a), torch.ones(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(whole(prompts, a, a), torch.full((5,), 0.5, dtype=torch.float64), atol=1e-12)
    bt = BradleyTerryOracle.from_reward_model(judge, tokenizer, policy)
    assert torch.allclose(bt(prompts, a, b) + bt(prompts, b, a), torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_labels"):
        PairwiseModelOracle(model_from_config(tiny_config(len(tokenizer), num_labels=2),
                                              "AutoModelForSequenceClassification"), tokenizer, policy)
