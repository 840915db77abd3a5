"""The command line's one convention (``nashlab.cli._errors``): one line on stderr, exit 2 for
usage errors, 1 for runs that cannot finish, 130 after Ctrl-C; one-line warnings; help
screens without reST markup; the solve flags' help read from the library."""

import dataclasses
import re
import warnings

import numpy as np
import pytest

import nashlab.solvers
from nashlab.cli import main
from nashlab.cli.mdp import default_gammas


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except KeyboardInterrupt:  # would end the test session
        pytest.fail("KeyboardInterrupt escaped nashlab's main")
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err, prefix="nashlab"):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    return lines[0]


def test_bare_nashlab_prints_usage_and_subcommands(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == "" and out.startswith("usage: nashlab")
    for name in ("solve", "verify", "bench", "train", "sweep", "plot", "reproduce"):
        assert re.search(rf"^\s+{name}\s", out, re.M), name


@pytest.mark.parametrize("command", ["", "solve", "bench", "train", "sweep", "plot", "reproduce"])
def test_help_screens_have_no_rest_markup(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"] if command else ["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith("usage:")
    assert "``" not in out and not re.search(r":[a-z]+:`", out), out


def test_uncertainty_help_lists_every_kind_the_parser_accepts(capsys):
    from nashlab.games import uncertainty

    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in list(uncertainty._SIMPLE) + ["lp<p>", "lp<p>s"]:
        assert re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", text), kind


def test_gamma_help_shows_each_problems_default(capsys):
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, gamma in default_gammas().items():
        assert f"{name} {gamma:g}" in text
    code, out, _ = run(capsys, "solve", "--mdp", "machine-replacement", "--json")
    assert code == 0 and '"gamma": 0.8' in out


def test_backend_offers_no_kernel_that_cannot_serve(capsys):
    code, out, err = run(capsys, "solve", "--game", "rps", "--beta", "0.1", "--backend", "cuda")
    assert code == 2 and out == "" and "no CUDA kernel" in one_line(err)
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    assert "cuda" not in capsys.readouterr().out.lower()


def test_huge_n_is_refused_up_front(capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the game must not be generated")

    monkeypatch.setattr(nashlab.games, "random_preference", never)
    code, out, err = run(capsys, "solve", "--game", "random", "--n", "10000000", "--beta", "0.1")
    line = one_line(err)
    assert code == 2 and out == "" and "--n 10000000" in line and "memory" in line


def test_memory_error_is_one_line_exit_1(capsys, monkeypatch):
    def oom(*args, **kwargs):
        raise MemoryError("Unable to allocate 35.5 PiB")

    monkeypatch.setattr(nashlab.solvers, "equilibrium", oom)
    code, out, err = run(capsys, "solve", "--game", "rps", "--beta", "0.1")
    assert code == 1 and "out of memory" in one_line(err)


@pytest.mark.parametrize("exc", [np.linalg.LinAlgError("Singular matrix"), FloatingPointError("overflow"),
                                 RuntimeError("kernel failed")])
def test_solver_failure_exits_1_with_the_message(capsys, monkeypatch, exc):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(nashlab.solvers, "equilibrium", fail)
    code, out, err = run(capsys, "solve", "--game", "rps", "--beta", "0.1")
    assert code == 1 and out == "" and str(exc) in one_line(err)


def test_uncertified_mdp_exits_1(capsys, monkeypatch):
    from nashlab.cli import mdp

    real = mdp.solve_mdp

    def uncertified(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), certified=False)

    monkeypatch.setattr(mdp, "solve_mdp", uncertified)
    code, out, _ = run(capsys, "solve", "--mdp", "riverswim", "--gamma", "0.9", "--json")
    assert code == 1 and '"certified": false' in out


def test_warnings_are_one_line_each(capsys, monkeypatch):
    def noisy(game, **kwargs):
        with np.errstate(divide="warn"):
            np.log(np.zeros(1))
        warnings.warn("first line\nsecond line\nthird line", UserWarning, stacklevel=1)
        raise np.linalg.LinAlgError("gave up")

    monkeypatch.setattr(nashlab.solvers, "equilibrium", noisy)
    code, _, err = run(capsys, "solve", "--game", "rps", "--beta", "0.1")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 3, err
    assert lines[0].startswith("nashlab: warning:") and "RuntimeWarning" in lines[0]
    assert lines[1] == "nashlab: warning: first line second line third line (UserWarning)"
    assert lines[2].startswith("nashlab: error:") and "gave up" in lines[2]


def test_ctrl_c_is_one_line_exit_130(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nashlab.solvers, "equilibrium", interrupted)
    code, out, err = run(capsys, "solve", "--game", "rps", "--beta", "0.1")
    assert code == 130 and out == "" and "interrupted" in one_line(err)


@pytest.mark.parametrize("command", [["sweep"], ["reproduce", "mmd-qre"], ["plot", "DIR"], ["bench"]])
def test_delegated_usage_errors_are_one_line_exit_2(capsys, command):
    code, out, err = run(capsys, *command, "--no-such-flag")
    assert code == 2 and out == "" and "--no-such-flag" in one_line(err)


@pytest.mark.parametrize("argv, match", [
    (["--mdp", "riverswim", "--beta", "0.3"], "--beta: a preference-game flag"),
    (["--mdp", "riverswim", "--game", "rps"], "--game: a preference-game flag"),
    (["--mdp", "riverswim", "--n", "5"], "--n: a preference-game flag"),
    (["--game", "rps", "--beta", "0.1", "--gamma", "0.9"], "--gamma: only used with --mdp"),
    (["--game", "rps", "--beta", "0.1", "--uncertainty", "l1:0.1"], "--uncertainty: only used with --mdp"),
    (["--game", "rps", "--beta", "0.1", "--n", "5"], "--n sets the size"),
    (["--game", "rps", "--matrix", "P.npy", "--beta", "0.1"], "not both"),
])
def test_flags_that_would_be_ignored_are_usage_errors(capsys, argv, match):
    code, out, err = run(capsys, "solve", *argv)
    assert code == 2 and out == "" and match in one_line(err)


def test_matrix_files_that_are_not_one_matrix(tmp_path, capsys):
    (tmp_path / "scalar.json").write_text('{"P": 5}')
    np.save(tmp_path / "batch.npy", np.full((2, 2, 2), 0.5))
    for path, match in ((tmp_path / "scalar.json", "shape ()"), (tmp_path / "batch.npy", "shape (2, 2, 2)"),
                        (tmp_path, "not a regular file")):
        code, out, err = run(capsys, "solve", "--matrix", str(path), "--beta", "1")
        assert code == 2 and match in one_line(err)


def test_plot_of_a_missing_sweep_creates_nothing(tmp_path, capsys):
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    missing = tmp_path / "no-sweep"
    code, out, err = run(capsys, "plot", str(missing))
    assert code == 2 and "not a finished sweep" in one_line(err) and not missing.exists()
