"""nashlab falsify: a user's FILE.py:NAME claim found (exit 1, JSON summary, saved
certificate), usage errors as one line with exit 2."""

import json
import textwrap

import pytest

from nashlab.cli import main

CLAIM = textwrap.dedent('''
    from nashlab.theory import Assumption, Source, Theorem
    from nashlab.theory.registry import SYMBOLS

    beta, eta, prev = SYMBOLS["beta"], SYMBOLS["eta"], SYMBOLS["prev"]
    FAST = Theorem(
        id="my/nash-mp-halves", algorithm="nash-mp",
        statement="Nash-MP at η = 2 halves KL(π*‖π_k) every step",
        metric="kl", bound=prev / 2, form="per-step", status="derived",
        source=Source("my conjecture", None, "unpublished"),
        assumptions=(Assumption("η = 2", lambda p: p["eta"] == 2.0),))
    NOT_A_THEOREM = 3
''')


def test_user_claim_is_falsified(tmp_path, capsys):
    path = tmp_path / "claim.py"
    path.write_text(CLAIM)
    status = main(["falsify", f"{path}:FAST", "--budget", "120", "--json",
                   "--out", str(tmp_path / "out")])
    out = json.loads(capsys.readouterr().out)
    assert status == 1 and out["found"] and out["theorem"] == "my/nash-mp-halves"
    assert float(out["counterexample"]["ratio_high_precision"][:20]) > 1
    assert (tmp_path / "out" / "my_nash-mp-halves" / "reproduce.py").is_file()


@pytest.mark.parametrize("argv, message", [
    (["falsify"], "exactly one of"),
    (["falsify", "no/such-theorem"], "unknown theorem"),
    (["falsify", "nash-mp/kl-contraction", "--all"], "exactly one of"),
    (["falsify", "nash-mp/kl-contraction", "--budget", "0"], "--budget"),
    (["falsify", "missing.py:X"], "does not exist"),
    (["falsify", "nash-mp/kl-contraction", "--workers", "0"], "--workers"),
])
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_file_without_that_theorem(tmp_path, capsys):
    path = tmp_path / "claim.py"
    path.write_text(CLAIM)
    assert main(["falsify", f"{path}:NOT_A_THEOREM"]) == 2
    assert "no Theorem named" in capsys.readouterr().err
