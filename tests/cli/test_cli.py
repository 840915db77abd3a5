"""The ``nashlab solve`` command: output, file formats, and one-line errors with status 2;
the MDP part (``nashlab.cli.mdp``) called directly."""

import json
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest

from nashlab.cli import main
from nashlab.cli.mdp import parse_regularizer, solve_mdp_cli


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_json(capsys):
    code, out, err = run(capsys, "solve", "--game", "perturbed-rps", "--beta", "0.1", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["certified"] and result["residual"] <= 1e-12 and result["gap"] <= 1e-13
    assert len(result["policy"]) == 3 and abs(sum(result["policy"]) - 1) < 1e-14


def test_solve_unregularized_gives_winner(capsys):
    code, out, _ = run(capsys, "solve", "--game", "perturbed-rps", "--beta", "0", "--json")
    np.testing.assert_allclose(json.loads(out)["policy"], np.array([1, 3, 3]) / 7, atol=1e-12)


def test_solve_text_output(capsys):
    code, out, _ = run(capsys, "solve", "--game", "random", "--n", "6", "--seed", "2", "--beta", "0.05")
    assert code == 0 and "certified=True" in out and "exploitability of the reference" in out


@pytest.mark.parametrize("suffix", [".npy", ".json", ".csv"])
def test_matrix_files(tmp_path, capsys, suffix):
    P = np.array([[0.5, 0.2, 0.9], [0.8, 0.5, 0.3], [0.1, 0.7, 0.5]])
    path = tmp_path / f"P{suffix}"
    if suffix == ".npy":
        np.save(path, P)
    elif suffix == ".json":
        path.write_text(json.dumps({"P": P.tolist()}))
    else:
        np.savetxt(path, P, delimiter=",")
    code, out, _ = run(capsys, "solve", "--matrix", str(path), "--beta", "0.2", "--reference", "0.2,0.3,0.5",
                       "--json")
    assert code == 0 and json.loads(out)["certified"]


def _error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nashlab: error:") and "Traceback" not in err
    return lines[0]


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    assert "--beta must be ≥ 0" in _error(capsys, "solve", "--game", "rps", "--beta", "-0.5")
    assert "no such file" in _error(capsys, "solve", "--matrix", str(tmp_path / "missing.npy"), "--beta", "1")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "cannot read" in _error(capsys, "solve", "--matrix", str(bad), "--beta", "1")
    notpref = tmp_path / "notpref.csv"
    np.savetxt(notpref, np.array([[0.5, 0.9], [0.9, 0.5]]), delimiter=",")
    assert "P + Pᵀ = 1" in _error(capsys, "solve", "--matrix", str(notpref), "--beta", "1")
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "cannot read" in _error(capsys, "solve", "--matrix", str(pickled), "--beta", "1")
    txt = tmp_path / "m.txt"
    txt.write_text("0.5")
    assert "unsupported file type" in _error(capsys, "solve", "--matrix", str(txt), "--beta", "1")
    assert "reference" in _error(capsys, "solve", "--game", "rps", "--beta", "1", "--reference", "0.5,0.5")
    assert "--reference must be" in _error(capsys, "solve", "--game", "rps", "--beta", "1", "--reference", "a,b")
    assert "invalid choice" in _error(capsys, "solve", "--game", "chess", "--beta", "1")
    assert "--beta is required" in _error(capsys, "solve", "--game", "rps")


def test_entry_point_subprocess():
    proc = subprocess.run([sys.executable, "-m", "nashlab", "solve", "--game", "rps", "--beta", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_solve_mdp(capsys):
    code, out, _ = run(capsys, "solve", "--mdp", "riverswim", "--gamma", "0.9", "--uncertainty", "l1:0.1", "--json")
    assert code == 0 and json.loads(out)["certified"]
    assert "unknown uncertainty kind" in _error(capsys, "solve", "--mdp", "riverswim", "--gamma", "0.9",
                                                "--uncertainty", "bogus:1")
    assert "--gamma" in _error(capsys, "solve", "--mdp", "riverswim", "--gamma", "1.5")


def test_solve_backend(capsys):
    code, out, _ = run(capsys, "solve", "--mdp", "riverswim", "--gamma", "0.9", "--backend", "numpy",
                       "--json")
    assert code == 0 and json.loads(out)["certified"]
    assert "needs a sparse (CSR) MDP" in _error(capsys, "solve", "--mdp", "riverswim", "--gamma", "0.9",
                                                "--backend", "numba")
    assert "backend must be one of" in _error(capsys, "solve", "--game", "rps", "--beta", "0.1",
                                              "--backend", "gpu")


# -- the MDP part, called directly ----------------------------------------------------
def test_cli_solves_named_mdps():
    out = solve_mdp_cli(Namespace(mdp="riverswim", gamma=0.9, regularizer="entropy:0.1",
                                  uncertainty=None, json=True))
    assert out["certified"] and out["residual"] <= 1e-10 and len(out["values"]) == 6
    json.dumps(out)
    out = solve_mdp_cli(Namespace(mdp="machine-replacement", gamma=None, regularizer=None,
                                  uncertainty=None, json=False))
    assert out["gamma"] == 0.8 and out["method"] == "howard-pi"


@pytest.mark.parametrize("spec, match", [
    ("entropy", "KIND:TAU"), ("softmax:0.1", "KIND:TAU"), ("kl:abc", "number"),
    ("tsallis:-1", "> 0"), ("entropy:nan", "> 0"),
])
def test_cli_bad_regularizer_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_regularizer(spec, 2)


def test_cli_bad_problem_and_gamma():
    with pytest.raises(ValueError, match="--mdp must be one of"):
        solve_mdp_cli(Namespace(mdp="chess", gamma=0.9, regularizer=None, uncertainty=None))
    with pytest.raises(ValueError, match="--gamma"):
        solve_mdp_cli(Namespace(mdp="riverswim", gamma=1.5, regularizer=None, uncertainty=None))
