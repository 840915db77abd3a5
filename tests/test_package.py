"""Packaging: the root is the package ``nashlab``; optional layers stay optional."""

import subprocess
import sys


def test_import_is_light():
    code = ("import sys, nashlab, nashlab.games, nashlab.solvers; "
            "heavy = [m for m in ('torch', 'cvxpy', 'hypothesis', 'transformers', 'cupy') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_no_generic_top_level_modules():
    code = "import importlib.util as u; print([m for m in ('games', 'solvers', 'theory') if u.find_spec(m)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd="/").stdout
    assert out.strip() == "[]"


def test_theorems_available_without_explicit_import():
    code = ("from nashlab import games; from nashlab.solvers import run; from nashlab.theory import check; "
            "t = run(games.rps(beta=0.5), 'nash-mp', eta=2.0, iterations=20, init=[0.7, 0.2, 0.1]); "
            "print(check(t, 'nash-mp/kl-contraction').passed)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
