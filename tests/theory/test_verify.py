"""``nashlab verify``: end to end on a small selection, exit statuses, report files."""

import numpy as np

from nashlab.cli import main as cli_main
from nashlab.cli import verify as verify_cli
from nashlab.solvers.results import Trajectory
from nashlab.theory import verify
from nashlab.theory.registry import SYMBOLS, Source, Theorem


def test_quick_verify_end_to_end(tmp_path, capsys):
    out = tmp_path / "report"
    status = verify_cli.main(["--quick", "--only", "nash-mp/kl-*", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "nash-mp/kl-contraction" in printed and "pass" in printed
    assert (out / "nash-mp.png").stat().st_size > 1000
    assert (out / "comparison.png").stat().st_size > 1000
    text = (out / "report.md").read_text()
    assert "$$" in text and r"\frac" in text and r"\beta" in text  # bounds as LaTeX
    assert "| nash-mp/kl-envelope |" in text and "![nash-mp.png](nash-mp.png)" in text
    row = next(line for line in text.splitlines() if line.startswith("| nash-mp/kl-contraction |"))
    assert "/8 |" in row  # the power column: faults caught / the 8 tried on Nash-MP
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def _violating_theorem():
    values = 0.5 ** np.arange(11.0)
    values[3] *= 2
    trajectory = Trajectory("fake", {"beta": 1.0, "eta": 1.0}, {"kl": values})
    return Theorem(id="fake/violated", algorithm="fake", statement="KL_k ≤ 2^-k KL_0",
                   metric="kl", bound=SYMBOLS["err0"] * 2 ** (-SYMBOLS["k"]),
                   source=Source("test", "0000.00000", "test"), status="derived",
                   suite=lambda quick: [("halving", trajectory)])


def test_failing_theorem_gives_exit_status_one(tmp_path, monkeypatch, capsys):
    fake = _violating_theorem()
    monkeypatch.setattr(verify, "selected", lambda pattern=None: [fake])
    assert verify_cli.main(["--quick", "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "iteration 3" in printed
    assert "FAIL" in (tmp_path / "report.md").read_text()


def test_a_suite_that_raises_is_a_failure_not_a_crash():
    def broken(quick):
        raise RuntimeError("no equilibrium")

    fake = Theorem(id="fake/broken", algorithm="fake", statement="-", metric="kl",
                   bound=SYMBOLS["prev"], source=Source("test", None, "test"), status="derived",
                   form="per-step", suite=broken)
    result = verify.run_item(fake, quick=True)
    assert not result.passed and "no equilibrium" in result.error
    assert verify.summary_row(result)[-1] == "ERROR"


def test_only_pattern_matching():
    verify.load_theorem_modules(echo=lambda _: None)
    ids = {i.id for i in verify.selected("nash-md/")}
    assert "nash-md/kl-step" in ids and "nash-mp/kl-contraction" not in ids
    assert {i.id for i in verify.selected("*/kl-contraction")} >= {
        "nash-mp/kl-contraction", "mmd/kl-contraction"}


def test_no_match_and_bad_flags(tmp_path, capsys):
    assert cli_main(["verify", "--only", "no-such-theorem", "--out", str(tmp_path)]) == 2
    assert cli_main(["verify", "--bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 2  # one line each


def _inconclusive_theorem(expected=""):
    trajectory = Trajectory("fake", {"beta": 1.0, "eta": 1.0}, {"kl": np.full(8, np.nan)})
    return Theorem(id="fake/no-evidence", algorithm="fake", statement="KL_k ≤ 2^-k KL_0",
                   metric="kl", bound=SYMBOLS["err0"] * 2 ** (-SYMBOLS["k"]),
                   source=Source("A long title (Someone, Some Journal 1(2), 2000)", None,
                                 "Theorem 12 of the long appendix, second part"),
                   status="derived", suite=lambda quick: [("nan", trajectory)],
                   expected_inconclusive=expected)


def test_no_evidence_is_inconclusive_and_exits_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(verify, "selected", lambda pattern=None: [_inconclusive_theorem()])
    assert verify_cli.main(["--quick", "--out", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "inconclusive" in printed and "pass" not in printed.replace("0 pass", "")
    assert printed.rstrip().endswith("0 pass, 0 fail, 1 inconclusive")
    report = (tmp_path / "report.md").read_text()
    assert "0 pass, 0 fail, 1 inconclusive" in report
    # the source is never cut, and a work without an arXiv id is not "arXiv none"
    words = "Theorem 12 of the long appendix, second part".split()  # folded, not cut
    assert all(word in printed.split() for word in words) and "…" not in printed
    assert "arXiv none" not in report and "n/a" not in report


def test_expected_inconclusive_is_said_and_does_not_fail(tmp_path, monkeypatch, capsys):
    fake = _inconclusive_theorem(expected="its metric is undefined on this suite")
    monkeypatch.setattr(verify, "selected", lambda pattern=None: [fake])
    assert verify_cli.main(["--quick", "--out", str(tmp_path)]) == 0
    assert "1 inconclusive (1 expected)" in capsys.readouterr().out


def test_unwritable_out_is_refused_before_any_suite_runs(tmp_path, monkeypatch, capsys):
    ran = []
    fake = _violating_theorem()
    monkeypatch.setattr(verify, "selected", lambda pattern=None: [fake])
    monkeypatch.setattr(verify, "run_items", lambda *a, **k: ran.append(1) or [])
    target = tmp_path / "file"
    target.write_text("x")
    assert cli_main(["verify", "--out", str(target)]) == 2
    assert not ran and "--out" in capsys.readouterr().err


def test_missing_optional_theorem_module_is_skipped_with_reason():
    messages = []
    loaded = verify.load_theorem_modules({"nosuch": "nashlab.theory.no_such_module"},
                                          echo=messages.append)
    assert loaded == list(verify.THEOREM_MODULES)
    assert len(messages) == 1 and "no_such_module" in messages[0] and "ModuleNotFoundError" in messages[0]


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path):
    from nashlab._files import write_atomic

    target = tmp_path / "a.txt"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_suite_run_of_another_method_is_refused():
    """A theorem that says which methods it is about refuses a suite trajectory of another
    (an error of the suite, not a silent check of the wrong algorithm)."""
    values = 0.5 ** np.arange(11.0)
    other = Trajectory("mmd", {"family": "preference", "method": "mmd", "beta": 1.0}, {"kl": values})
    fake = Theorem(id="fake/methods", algorithm="nash-mp", statement="-", metric="kl",
                   bound=SYMBOLS["err0"], source=Source("test", None, "test"), status="derived",
                   methods=("preference/nash-mp",), suite=lambda quick: [("mmd run", other)])
    result = verify.run_item(fake, quick=True)
    assert not result.passed and "preference/mmd" in result.error


def test_power_column_is_keyed_by_theorem_id():
    """The power column shows the faults each theorem caught (PowerReport.by_check keyed by
    the theorem id, not by the algorithm's name), from the battery on its algorithms only."""
    from nashlab.theory import faults

    verify.load_theorem_modules(echo=lambda _: None)
    items = [i for i in verify.selected("nash-md/") if isinstance(i, Theorem)]
    results = [verify.Result(item) for item in items]
    power = verify.theorem_power(results, quick=True)
    expected = faults.power(quick=True, only="nash-md").by_check()
    assert power == expected and set(power) >= {i.id for i in items} | {"local-rate"}
    for result in results:
        caught, tried = power[result.item.id]
        assert verify.summary_row(result, power)[8] == f"{caught}/{tried}" and tried == 8
    assert verify.summary_row(results[0])[8] == "—"  # no battery run: no power shown
    assert verify.theorem_power([], quick=True) == {}
