"""Checkpoints that cannot lie: pruning by integer step, a manifest of sha256 hashes and
dtypes, the run's config checked on resume, a non-negative integer step, no silent dtype
cast, ``latest`` inside the run directory, and one clear error line for every corrupt
checkpoint (``nashlab train`` exits 1). Every test here fails on the unverified checkpoints
(they resumed silently, pruned step 1000000 right after saving it, or raised tracebacks)."""

import hashlib
import json
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from safetensors import SafetensorError  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling import SequenceGame, Trainer  # noqa: E402
from nashlab.scaling.checkpoint import latest_checkpoint, save_checkpoint  # noqa: E402
from nashlab.scaling.oracles import CallableOracle  # noqa: E402
from nashlab.scaling.policies import TabularPolicy  # noqa: E402

torch.set_num_threads(1)
SEQ = ["--game", "sequence", "--vocab", "3", "--length", "4", "--preference", "cyclic",
       "--seed", "0", "--no-progress", "--policy", "tabular", "--batch-size", "64"]


def _trainer(**options):
    game = SequenceGame(3, 4, beta=0.1, seed=0)
    return Trainer.for_sequence_game(game, "tabular", progress=False, batch_size=64, **options)


def _trained(tmp_path, steps=2):
    trainer = _trainer()
    trainer.train(steps, output_dir=tmp_path)
    return latest_checkpoint(tmp_path)


def _rewrite(checkpoint, name, data: bytes):
    """Replace a checkpoint file and update its manifest (hash, dtypes) to match, as a
    consistent but wrong checkpoint would: the content checks must still refuse it."""
    (checkpoint / name).write_bytes(data)
    manifest_file = checkpoint / "manifest.json"
    if not manifest_file.is_file():  # (unverified checkpoints had none)
        return
    manifest = json.loads(manifest_file.read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    try:
        tensors = load_file(str(checkpoint / name)) if name.endswith(".safetensors") else None
    except SafetensorError:  # garbage: keep the recorded dtypes
        tensors = None
    if tensors is not None:
        manifest["dtypes"][name[: -len(".safetensors")]] = {
            k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()}
    manifest_file.write_text(json.dumps(manifest))


def _resume_cli(capsys, run, *extra):
    code = main(["--resume", str(run), "--no-progress", *extra])
    err = capsys.readouterr().err
    return code, err


# ---- issue 11, item 5: pruning by the integer step --------------------------------------
def test_pruning_keeps_step_1000000_and_latest_points_at_it(tmp_path):
    state = {"step": 0}
    for step in (999_998, 999_999, 1_000_000):
        save_checkpoint(tmp_path, step, {"g": {"x": torch.zeros(1)}}, {**state, "step": step})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-1000000", "step-999999"]
    assert latest_checkpoint(tmp_path).name == "step-1000000"
    save_checkpoint(tmp_path, 1_000_001, {"g": {"x": torch.zeros(1)}}, {"step": 1_000_001})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-1000000", "step-1000001"]


# ---- issue 11, item 6: resume verifies what it reads ------------------------------------
def test_resume_refuses_an_edited_run_json(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(SEQ + ["--steps", "2", "--output", str(run)]) == 0
    capsys.readouterr()
    options = json.loads((run / "run.json").read_text())
    assert options["beta"] == 0.1
    options["beta"] = 0.5
    (run / "run.json").write_text(json.dumps(options))
    code, err = _resume_cli(capsys, run, "--steps", "3")
    assert code == 1
    assert "beta" in err and "0.1" in err and "0.5" in err and "state.json" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert latest_checkpoint(run).name == "step-000002"  # nothing trained


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    _trained(tmp_path)
    with pytest.raises(ValueError, match=r"state\.json.*lr: 0\.01 \(saved\) != 0\.05"):
        _trainer(lr=0.05).load(tmp_path)
    resumed = _trainer(steps=5).load(tmp_path)  # steps may change
    assert resumed.step == 2


@pytest.mark.parametrize("step", [-3, 2.0, True, "2"])
def test_resume_refuses_a_step_that_is_not_a_non_negative_integer(tmp_path, step):
    checkpoint = _trained(tmp_path)
    state = json.loads((checkpoint / "state.json").read_text())
    state["step"] = step
    _rewrite(checkpoint, "state.json", json.dumps(state).encode())
    with pytest.raises(ValueError, match=r"state\.json: step must be a non-negative integer"):
        _trainer().load(tmp_path)


def test_resume_refuses_a_step_that_differs_from_the_checkpoint_name(tmp_path):
    checkpoint = _trained(tmp_path)
    state = json.loads((checkpoint / "state.json").read_text())
    state["step"] = 7
    _rewrite(checkpoint, "state.json", json.dumps(state).encode())
    with pytest.raises(ValueError, match=r"state\.json: step 7 differs"):
        _trainer().load(tmp_path)


def test_resume_refuses_float32_tensors_where_float64_was_saved(tmp_path):
    checkpoint = _trained(tmp_path)
    tensors = {k: v.to(torch.float32) for k, v in load_file(str(checkpoint / "policy.safetensors")).items()}
    save_file(tensors, str(tmp_path / "f32.safetensors"))
    _rewrite(checkpoint, "policy.safetensors", (tmp_path / "f32.safetensors").read_bytes())
    trainer = _trainer()
    before = trainer.policy.logits.detach().clone()
    with pytest.raises(ValueError, match=r"policy\.safetensors: logits is float32, the module's is float64"):
        trainer.load(tmp_path)
    assert torch.equal(trainer.policy.logits, before) and trainer.step == 0  # left as it was


def test_a_float32_run_resumes_as_float32(tmp_path):
    game = SequenceGame(3, 4, beta=0.1, seed=0)

    def trainer():
        policy = TabularPolicy(game.log_reference, vocab=3, length=4, dtype=torch.float32)
        reference = TabularPolicy(game.log_reference, vocab=3, length=4, dtype=torch.float32)
        judge = CallableOracle(lambda c, a, b: (a.sum(-1) > b.sum(-1)).to(torch.float32))
        return Trainer(policy, judge, reference=reference, progress=False, batch_size=64)

    first = trainer()
    first.train(1, output_dir=tmp_path)
    second = trainer().load(tmp_path)
    assert second.step == 1 and second.policy.logits.dtype == torch.float32
    assert torch.equal(second.policy.logits, first.policy.logits)


def test_resume_detects_a_flipped_bit(tmp_path):
    checkpoint = _trained(tmp_path)
    file = checkpoint / "policy.safetensors"
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x01  # in the tensor data: still a valid safetensors file
    file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"policy\.safetensors: content changed since it was saved"):
        _trainer().load(tmp_path)


@pytest.mark.parametrize("pointer", ["../x", "../x/step-000002", "/tmp", "step-000002/..", "state.json"])
def test_latest_pointing_outside_the_run_directory_is_refused(tmp_path, pointer):
    run = tmp_path / "run"
    checkpoint = _trained(run)
    shutil.copytree(checkpoint, tmp_path / "x")  # a complete checkpoint outside the run
    shutil.copytree(checkpoint, tmp_path / "x" / "step-000002")
    (run / "latest").write_text(pointer)
    with pytest.raises(ValueError, match="latest: points at"):
        _trainer().load(run)


def test_latest_pointing_at_a_missing_checkpoint_is_one_clear_error(tmp_path):
    _trained(tmp_path)
    (tmp_path / "latest").write_text("step-000009")
    with pytest.raises(ValueError, match="latest: points at 'step-000009', which does not exist"):
        _trainer().load(tmp_path)


def _truncate(checkpoint):
    file = checkpoint / "anchor.safetensors"
    file.write_bytes(file.read_bytes()[:20])


def _garbage_state(checkpoint):
    _rewrite(checkpoint, "state.json", b"{not json")


def _garbage_tensors(checkpoint):
    _rewrite(checkpoint, "rng.safetensors", b"\xff" * 40)


def _missing_group(checkpoint):
    (checkpoint / "optimizer.safetensors").unlink()


def _unlisted_group(checkpoint):
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    del manifest["files"]["half.safetensors"]
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))


def _no_manifest(checkpoint):
    (checkpoint / "manifest.json").unlink()


def _bad_optimizer_meta(checkpoint):
    state = json.loads((checkpoint / "state.json").read_text())
    state["optimizer"] = {"state": {"0": {"exp_avg": "tensor"}, "9": {"x": "tensor"}},
                          "param_groups": []}
    _rewrite(checkpoint, "state.json", json.dumps(state).encode())


def _renamed_tensor(checkpoint):
    tensors = load_file(str(checkpoint / "policy.safetensors"))
    save_file({"weights": tensors["logits"]}, str(checkpoint / "renamed"))
    _rewrite(checkpoint, "policy.safetensors", (checkpoint / "renamed").read_bytes())
    (checkpoint / "renamed").unlink()


CORRUPTIONS = {
    "truncated tensors": (_truncate, "anchor.safetensors: content changed"),
    "state.json not JSON": (_garbage_state, "state.json: not readable JSON"),
    "tensors not safetensors": (_garbage_tensors, "rng.safetensors: not a readable safetensors"),
    "a group missing": (_missing_group, "optimizer.safetensors: missing"),
    "a group not in the manifest": (_unlisted_group, "half.safetensors not in the manifest"),
    "no manifest": (_no_manifest, "manifest.json: missing"),
    "optimizer metadata": (_bad_optimizer_meta, "optimizer.safetensors: does not fit"),
    "tensor names": (_renamed_tensor, "policy.safetensors: tensor names differ"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_every_corrupt_checkpoint_is_one_error_line_and_exit_1(tmp_path, capsys, corruption):
    corrupt, message = CORRUPTIONS[corruption]
    run = tmp_path / "run"
    assert main(SEQ + ["--steps", "2", "--output", str(run)]) == 0  # nash-mp: has a half group
    capsys.readouterr()
    corrupt(latest_checkpoint(run))
    code, err = _resume_cli(capsys, run, "--steps", "3")
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err and "step-000002" in err


def test_corrupt_run_json_is_one_error_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(SEQ + ["--steps", "1", "--output", str(run)]) == 0
    capsys.readouterr()
    for text in ("[1, 2]", "{oops"):
        (run / "run.json").write_text(text)
        code, err = _resume_cli(capsys, run)
        assert code == 1 and "run.json" in err and len(err.strip().splitlines()) == 1


# ---- nashlab train without the neural extra ---------------------------------------------
def test_train_without_torch_is_one_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ModuleNotFoundError
    code = main(SEQ + ["--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "nashlab train needs the neural extra: pip install 'nashlab[neural]'"


def test_nashlab_train_without_torch_in_a_fresh_process():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from nashlab.cli import main\n"
            "sys.exit(main(['train', '--game', 'sequence', '--steps', '1', '--no-progress']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "nashlab train needs the neural extra: pip install 'nashlab[neural]'"
