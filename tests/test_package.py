"""Packaging: the root is the package ``nashlab``; optional layers stay optional."""

import subprocess
import sys
from pathlib import Path

import pytest


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


def test_the_wheel_ships_every_subpackage_but_not_the_tests():
    """A deliberate package list (pyproject.toml): every folder of the checkout holding an
    ``__init__.py`` ships (a forgotten one would be missing from the wheel), benchmarks
    included (``nashlab bench`` imports them), tests not (they need the checkout's pytest
    configuration; an installed copy checks itself with ``nashlab verify``)."""
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11
    root = Path(__file__).resolve().parents[1]
    shipped = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    on_disk = {"nashlab." + ".".join(p.parent.relative_to(root).parts) if p.parent != root
               else "nashlab" for p in root.rglob("__init__.py")
               if not {".venv", "tests", "docs", "examples", "build"} & set(p.relative_to(root).parts)}
    assert set(shipped) == on_disk
    assert "nashlab.benchmarks" in shipped and not [p for p in shipped if "tests" in p.split(".")]
    assert not (root / "tests" / "__init__.py").exists()  # tests are not a package to ship
