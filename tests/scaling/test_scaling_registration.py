"""The scaling layer plugs into the lower layers one way: its claims register through the
``nashlab.theorems`` entry-point group (theory never names nashlab.scaling), and the
trainer's algorithms and step forms come from the one method table."""

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest

import nashlab.theory
from nashlab.scaling import config
from nashlab.scaling.config import ALGORITHMS, PLANS, TrainConfig
from nashlab.solvers.prox import eta_from_mirror_descent
from nashlab.theory import verify
from nashlab.theory.registry import THEOREM_ENTRY_POINTS, optional_theorem_modules

table = importlib.import_module("nashlab.solvers.methods")  # the module (not solvers.methods())


def test_theory_never_names_the_scaling_layer():
    folder = Path(nashlab.theory.__file__).parent
    naming = [p.name for p in folder.rglob("*.py") if "nashlab.scaling" in p.read_text()]
    assert naming == []


def test_the_neural_claims_are_an_installed_entry_point():
    assert THEOREM_ENTRY_POINTS == "nashlab.theorems"
    assert optional_theorem_modules().get("neural") == "nashlab.scaling.bridge"  # pip install -e .


def test_a_missing_neural_extra_is_reported_not_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "nashlab.scaling.bridge", raising=False)
    messages = []
    loaded = verify.load_theorem_modules(echo=messages.append)
    assert loaded == list(verify.THEOREM_MODULES)
    assert len(messages) == 1 and messages[0].startswith(
        "neural claims skipped: install the neural extra")


def test_the_trainer_algorithms_are_rows_of_the_method_table():
    assert ALGORITHMS == tuple(m for m in table.methods("preference") if m in PLANS)
    assert set(ALGORITHMS) == set(PLANS) == {"nash-mp", "nash-md", "egpo", "omd", "nash-prox"}
    assert PLANS["nash-prox"] == ("half",)  # one self-play round, repeated self_play_rounds times
    for name in ALGORITHMS:
        method = table.get_method("preference", name)
        if name != "nash-prox":
            assert PLANS[name] == config.COMPOSITION_PLANS[method.composition]
        c = TrainConfig(algorithm=name, beta=0.1, eta=0.5)
        assert c.step_form == method.step_form
        expected = eta_from_mirror_descent(0.5, 0.1) if method.step_form == "mirror-descent" else 0.5
        assert c.prox_eta == expected
    with pytest.raises(ValueError, match="algorithm must be one of"):
        TrainConfig(algorithm="hedge")  # in the table, not implemented by the trainer


def test_the_table_step_form_decides_how_eta_is_read(monkeypatch):
    """Nash-MP reads eta as a prox step (eta·beta = 2 is fine); were the table to say
    mirror-descent, the same config would be refused and its prox step converted."""
    assert TrainConfig(algorithm="nash-mp", beta=0.1, eta=20.0).prox_eta == 20.0
    row = table.get_method("preference", "nash-mp")
    monkeypatch.setitem(table.METHODS, ("preference", "nash-mp"),
                        dataclasses.replace(row, step_form="mirror-descent"))
    with pytest.raises(ValueError, match="eta'·beta < 1"):
        TrainConfig(algorithm="nash-mp", beta=0.1, eta=20.0)
    assert TrainConfig(algorithm="nash-mp", beta=0.1, eta=2.0).prox_eta == \
        eta_from_mirror_descent(2.0, 0.1)
    assert config.ALGORITHMS == ALGORITHMS


def test_no_installed_entry_point_is_said_not_silent(monkeypatch):
    monkeypatch.setattr(verify, "optional_theorem_modules", lambda: {})
    messages = []
    assert verify.load_theorem_modules(echo=messages.append) == list(verify.THEOREM_MODULES)
    assert len(messages) == 1 and "no 'nashlab.theorems' entry points are installed" in messages[0]
