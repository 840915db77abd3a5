"""``nashlab bench``: a benchmark whose package is missing is skipped, one that fails is a row;
the table is printed and written to --out either way (stand-in benchmark modules: the real
ones take a minute)."""

import json
import sys
import types

import pytest

from nashlab.cli import bench, main

ROW = {"benchmark": "stand-in", "size": "n=3", "backend": "numpy", "candidate_s": 1.0,
       "baseline_s": 2.0, "ratio": 2.0, "machine": "test machine"}


def _module(monkeypatch, name, body):
    module = types.ModuleType(f"nashlab.benchmarks.{name}")
    module.main = body
    monkeypatch.setitem(sys.modules, module.__name__, module)


@pytest.fixture
def stand_ins(monkeypatch):
    """ok: a row without goal/met; missing: needs quantecon; broken: a KeyError; out: writes."""
    def missing(quick):
        raise ModuleNotFoundError("No module named 'quantecon'", name="quantecon")

    def broken(quick):
        return [{"benchmark": "broken"}][0]["goal"]

    def writes(quick, out):
        (out / "scaling.png").write_bytes(b"png")
        return []

    _module(monkeypatch, "ok", lambda quick: [dict(ROW)])
    _module(monkeypatch, "missing", missing)
    _module(monkeypatch, "broken", broken)
    _module(monkeypatch, "writes", writes)
    monkeypatch.setattr(bench, "MODULES", ("ok", "missing", "broken", "writes"))


def test_missing_package_skipped_failure_reported_table_written(tmp_path, capsys, stand_ins):
    out = tmp_path / "report"
    code = main(["bench", "--quick", "--out", str(out), "--json", str(tmp_path / "rows.json")])
    stdout, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    rows = json.loads((out / "bench.json").read_text())
    assert rows == json.loads((tmp_path / "rows.json").read_text())
    assert [r["benchmark"] for r in rows] == ["stand-in", "missing", "broken"]
    assert "quantecon is not installed" in rows[1]["skipped"] and "KeyError" in rows[2]["failed"]
    table = (out / "bench.md").read_text()
    assert table.strip() in stdout and "skipped: quantecon" in table and "FAILED: KeyError" in table
    assert (out / "scaling.png").read_bytes() == b"png"


def test_real_module_with_its_package_missing_is_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # import of cvxpy fails
    monkeypatch.delitem(sys.modules, "nashlab.benchmarks.bench_robust", raising=False)
    monkeypatch.setattr(bench, "MODULES", ("bench_robust",))
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())
    assert rows == [{"benchmark": "bench_robust", "skipped": f"cvxpy is not installed ({bench.EXTRA})"}]


def test_ctrl_c_keeps_the_rows_measured(tmp_path, capsys, monkeypatch, stand_ins):
    def interrupted(quick):
        raise KeyboardInterrupt

    _module(monkeypatch, "missing", interrupted)
    try:
        assert main(["bench", "--out", str(tmp_path)]) == 130
    except KeyboardInterrupt:  # would end the test session
        pytest.fail("KeyboardInterrupt escaped nashlab bench")
    err = capsys.readouterr().err
    assert "interrupted" in err and len(err.strip().splitlines()) == 1
    assert [r["benchmark"] for r in json.loads((tmp_path / "bench.json").read_text())] == ["stand-in"]


def test_unwritable_outputs_refused_before_running(tmp_path, capsys, monkeypatch, stand_ins):
    def never(quick):
        raise AssertionError("no benchmark may run")

    _module(monkeypatch, "ok", never)
    blocker = tmp_path / "file"
    blocker.write_text("")
    for argv in (["--out", str(blocker)], ["--out", str(blocker / "sub")],
                 ["--out", str(tmp_path), "--json", str(tmp_path)]):
        assert main(["bench", *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and ("--out" in err or "--json" in err)
