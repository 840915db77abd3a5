"""``nashlab train`` at the command line: every flag described, outputs checked before
training, corrupt run options refused in one line, Ctrl-C says where the run stopped and
how to resume (the resumed run then finishes)."""

import json
from dataclasses import fields

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

from nashlab.cli import main  # noqa: E402
from nashlab.cli.train import build_parser, field_help  # noqa: E402
from nashlab.scaling.config import ProblemConfig, TrainConfig  # noqa: E402
from nashlab.scaling.trainer import Trainer  # noqa: E402

TINY = ["train", "--game", "sequence", "--vocab", "2", "--length", "2", "--policy", "tabular",
        "--batch-size", "8", "--inner-steps", "2", "--no-progress"]


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except KeyboardInterrupt:  # would end the test session
        pytest.fail("KeyboardInterrupt escaped nashlab's main")
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nashlab train") and "Traceback" not in err, err
    return lines[0]


def test_every_flag_has_a_description(capsys):
    for cls in (ProblemConfig, TrainConfig):
        described = field_help(cls)
        assert [f.name for f in fields(cls) if not described[f.name]] == []
    actions = [a for a in build_parser()._actions if a.option_strings]
    assert len(actions) > 30
    assert [a.option_strings[0] for a in actions if not (a.help or "").strip()] == []
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "KL weight β > 0 towards the reference μ. (default 0.1)" in out


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_unwritable_output_refused_before_training(tmp_path, capsys, monkeypatch, where):
    def never(*args, **kwargs):
        raise AssertionError("no training may start")

    monkeypatch.setattr(Trainer, "train", never)
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker if where == "file" else blocker / "run"
    code, out, err = run(capsys, *TINY, "--steps", "1", "--output", str(target))
    assert code == 2 and out == "" and "--output" in one_line(err)


def test_corrupt_run_options_are_refused_in_one_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run(capsys, *TINY, "--steps", "1", "--output", str(run_dir))[0] == 0
    options = json.loads((run_dir / "run.json").read_text())
    for edit in ({"bogus": 1}, {"vocab": "x"}, {"vocab": 2.5}, {"beta": float("nan")}):
        (run_dir / "run.json").write_text(json.dumps({**options, **edit}))
        code, out, err = run(capsys, "train", "--resume", str(run_dir), "--steps", "2")
        line = one_line(err)
        assert code == 1 and out == "" and "cannot resume" in line and "run.json" in line, line


def test_ctrl_c_names_the_checkpoint_and_the_resume_command(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    step = Trainer._algorithm_step

    def interrupted_at_third(self):
        if self.step == 2:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Trainer, "_algorithm_step", interrupted_at_third)
    code, out, err = run(capsys, *TINY, "--steps", "4", "--output", str(run_dir))
    line = one_line(err)
    assert code == 130 and out == ""
    assert "step 3" in line and "step-000002" in line and f"nashlab train --resume {run_dir}" in line
    monkeypatch.setattr(Trainer, "_algorithm_step", step)
    code, out, _ = run(capsys, "train", "--resume", str(run_dir), "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["steps"] == 4


def test_ctrl_c_without_output_says_nothing_was_saved(capsys, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_algorithm_step", interrupted)
    code, _, err = run(capsys, *TINY, "--steps", "2")
    assert code == 130 and "nothing was saved" in one_line(err)
