"""The one primitive's public functions validate or convert their inputs (issue 11, item 4)."""

import math

import numpy as np
import pytest

from nashlab.solvers.prox import eta_from_mirror_descent, prox_step, step_coefficients


def test_prox_step_converts_lists_and_keeps_the_shape():
    out = prox_step([0.0, 0.0], [1.0, 0.0], eta=2.0, beta=0.0, log_reference=None)
    assert out.shape == (2,)
    np.testing.assert_allclose(np.exp(out), np.exp([2.0, 0.0]) / np.sum(np.exp([2.0, 0.0])))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"eta": -1.0}, ValueError, "eta must be >"),
    ({"eta": 0.0}, ValueError, "eta must be >"),
    ({"eta": float("nan")}, ValueError, "eta must be finite"),
    ({"beta": -0.1}, ValueError, "beta must be ≥"),
    ({"beta": True}, TypeError, "beta must be a real number"),
    ({"g": [np.nan, 0.0]}, ValueError, "g must be finite"),
    ({"g": [1.0, 0.0, 0.0]}, ValueError, "same last axis"),
    ({"g": [1j, 0.0]}, TypeError, "g must be an array of real numbers"),
    ({"log_anchor": [np.nan, 0.0]}, ValueError, "log_anchor must be log-probabilities"),
    ({"beta": 0.5, "log_reference": None}, ValueError, "log_reference is required"),
])
def test_prox_step_rejects_bad_input(kwargs, error, match):
    args = {"log_anchor": [0.0, 0.0], "g": [1.0, 0.0], "eta": 2.0, "beta": 0.0,
            "log_reference": None} | kwargs
    with pytest.raises(error, match=match):
        prox_step(args.pop("log_anchor"), args.pop("g"), **args)


def test_best_response_step_and_anchor_off_support():
    """η = ∞ is the regularized best response; −inf anchor entries stay off the support."""
    log_mu = np.log([0.25, 0.75])
    out = prox_step([0.0, -np.inf], [1.0, 0.0], eta=math.inf, beta=0.5, log_reference=log_mu)
    expected = log_mu + np.array([2.0, 0.0])
    np.testing.assert_allclose(out, expected - np.log(np.sum(np.exp(expected))))
    out = prox_step([0.0, -np.inf], [1.0, 0.0], eta=1.0, beta=0.0, log_reference=None)
    assert out[1] == -np.inf and out[0] == 0.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: eta_from_mirror_descent(-1.0, 0.1), ValueError, "eta_md must be >"),
    (lambda: eta_from_mirror_descent(1.0, -0.1), ValueError, "beta must be ≥"),
    (lambda: eta_from_mirror_descent(20.0, 0.1), ValueError, "eta_md·beta ≤ 1"),
    (lambda: step_coefficients("prox", -1.0, 0.1), ValueError, "eta must be >"),
    (lambda: step_coefficients("mirror-descent", 1.0, float("nan")), ValueError, "beta must be finite"),
    (lambda: step_coefficients("prox", math.inf, 0.0), ValueError, "needs beta > 0"),
])
def test_coefficient_functions_validate(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("log_reference, error, match", [
    ([np.nan, 0.0], ValueError, "log_reference must be log-probabilities"),  # was a NaN step
    ([np.inf, 0.0], ValueError, "log_reference must be log-probabilities"),  # was a warning
    (["a", "b"], TypeError, "log_reference must be an array of real numbers"),
    ([0.0, 0.0, 0.0], ValueError, "log_reference must have the last axis"),
])
def test_prox_step_validates_the_reference_it_reads(log_reference, error, match):
    with pytest.raises(error, match=match):
        prox_step([0.0, 0.0], [1.0, 0.0], eta=1.0, beta=0.5, log_reference=log_reference)
    # β = 0 does not read it (documented: may be None then)
    prox_step([0.0, 0.0], [1.0, 0.0], eta=1.0, beta=0.0, log_reference=log_reference)


def test_sparsemax_validates_its_scores():
    from nashlab.games import sparsemax

    np.testing.assert_array_equal(sparsemax([0.0, -np.inf, 1.0]), [0.0, 0.0, 1.0])  # −inf: excluded
    for z, error in (([np.nan, 0.0], ValueError), ([np.inf, 0.0], ValueError),  # were NaN outputs
                     ([[-np.inf, -np.inf]], ValueError), ([1j, 0.0], TypeError), ("ab", TypeError)):
        with pytest.raises(error, match="z must"):
            sparsemax(z)
