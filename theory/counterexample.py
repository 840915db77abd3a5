"""A confirmed counterexample to a bound, and its certificate on disk.

``Counterexample.save(directory)`` writes

* ``counterexample.json``: the claim (id, statement, metric, form, the bound as text and as
  mpmath code), the method and its options, the iteration where the bound fails, the ratio
  measured/bound in float64 and at 50 digits, the margin, and the values of the bound's
  other symbols per iteration (e.g. the query count N);
* ``counterexample.npz``: the problem's arrays (the family's ``problem_arrays``: P and the
  reference μ of a preference game, the (S, A, S) kernel and rewards of an MDP, the payoff
  matrix A of a matrix game) and the start (plain arrays, no pickle);
* ``reproduce.py``: a standalone script importing only numpy and mpmath. It embeds the
  family's 50-digit implementation (verbatim) and the bound, re-runs the instance and exits
  0 iff the bound is violated at 50 digits (1 otherwise).

``Counterexample.load(directory)`` reads the JSON and NPZ back (round trip).
"""

import inspect
import json
import os
from dataclasses import dataclass, field

import numpy as np

from nashlab.theory.families import FAMILIES, family_module
from nashlab.theory.verdicts import FLOAT_FLOOR

FILES = ("counterexample.json", "counterexample.npz", "reproduce.py")


@dataclass(frozen=True)
class Counterexample:
    """An instance on which ``theorem_id``'s bound fails, confirmed at 50 digits.

    family : the instance family (``theory/families.py``: "preference", "mdp", ...).
    problem : the instance (a ``PreferenceGame``: P, reference μ, β; an ``MDP``; a
        ``MatrixGame``: A, τ).
    params : the method and its options (the family's ``counterexample_params``):
        preference "method", "beta", "eta", "schedule", "init" (π₀ as a list, None = μ),
        "iterations"; MDP "method", "gamma", "eta", "step_growth", "iterations", "init" (π₀
        or v₀, None = uniform / 0), "structure" (npg-entropy also "tau", "q_noise" and the
        noise's "seed"); matrix game "method", "tau", "eta", "iterations", "init" ((x₀, y₀)
        concatenated, None = uniform).
    iteration : the first iteration k at which metric > bound at 50 digits.
    ratio : metric/max(bound, 1e-11) at ``iteration`` in float64 (through ``nashlab.run`` and
        ``check``; against the floor where the bound is beneath it, a lower bound of metric/bound).
    ratio_high_precision : the same at 50 digits, as a decimal string; ``margin`` = that − 1.
    claim : {"id", "statement", "metric", "form", "bound", "bound_mpmath", "symbols"}.
    symbols : the bound's other symbols per iteration, {name: [float, ...]}.
    """

    theorem_id: str
    family: str
    problem: object
    params: dict
    iteration: int
    ratio: float
    ratio_high_precision: str
    margin: str
    claim: dict
    symbols: dict = field(default_factory=dict)

    @property
    def size(self) -> str:
        """The instance's size: "n = 3" (preference game), "S = 4, A = 2" (MDP), ..."""
        return family_module(self.family).problem_size(self.problem)

    def save(self, directory) -> list:
        """Write ``FILES`` into ``directory`` (created if needed); returns their paths."""
        os.makedirs(directory, exist_ok=True)
        paths = [os.path.join(directory, name) for name in FILES]
        arrays = dict(family_module(self.family).problem_arrays(self.problem))
        if self.params.get("init") is not None:
            arrays["init"] = np.asarray(self.params["init"], dtype=float)
        meta = {"kind": "nashlab.Counterexample", "theorem_id": self.theorem_id,
                "problem": self.family,
                "params": {k: v for k, v in self.params.items() if k != "init"},
                "has_init": self.params.get("init") is not None, "iteration": self.iteration,
                "ratio": self.ratio, "ratio_high_precision": self.ratio_high_precision,
                "margin": self.margin, "claim": self.claim, "symbols": self.symbols}
        with open(paths[0], "w") as fh:
            json.dump(meta, fh, indent=1)
        np.savez(paths[1], **arrays)
        with open(paths[2], "w") as fh:
            fh.write(reproduction_script(self.claim, self.family))
        return paths

    @classmethod
    def load(cls, directory) -> "Counterexample":
        with open(os.path.join(directory, FILES[0])) as fh:
            meta = json.load(fh)
        if meta.get("kind") != "nashlab.Counterexample":
            raise ValueError(f"{directory!r} does not hold a saved nashlab Counterexample")
        with np.load(os.path.join(directory, FILES[1]), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        params = dict(meta["params"])
        params["init"] = arrays["init"].tolist() if meta["has_init"] else None
        family = meta.get("problem")
        if family not in FAMILIES:
            raise ValueError(f"{directory!r}: unknown instance family {family!r}")
        problem = family_module(family).problem_from_arrays(arrays, params)
        return cls(meta["theorem_id"], family, problem, params, meta["iteration"], meta["ratio"],
                   meta["ratio_high_precision"], meta["margin"], meta["claim"], meta["symbols"])


def reproduction_script(claim, family) -> str:
    """The standalone script (numpy + mpmath only) for a saved counterexample of ``claim`` on
    an instance of ``family``: the family's 50-digit module verbatim, its
    ``reproduce_values`` (``REPRODUCTION_EVALUATE``), then the check every family shares."""
    module = family_module(family)
    names = list(claim["bound_symbols"])
    header = ("# Reproduction of a nashlab counterexample: python reproduce.py (numpy + mpmath "
              f"only).\n# Below: {module.HIGH_PRECISION.__name__} verbatim, then the bound and "
              "the check.\nimport json\nimport os\nimport sys\n\nimport numpy as np\n\n")
    return (header + inspect.getsource(module.HIGH_PRECISION) + module.REPRODUCTION_EVALUATE
            + _CHECK.format(args=", ".join(names) or "", code=claim["bound_mpmath"],
                            names=names, floor=FLOAT_FLOOR))


#: the script's bound and main: the family's ``reproduce_values(meta, data)`` gives the
#: metric at 50 digits and the bound's symbols it fixes; ratio = metric/max(bound, FLOOR)
#: and violated iff ratio > 1 + 10^−DIGITS (certify's rule)
_CHECK = '''
# check's counting floor: a bound beneath it is compared as FLOOR (metric > FLOOR > bound)
FLOOR = {floor!r}


# ---- the claim's bound (generated from its sympy expression) -----------------------------
def bound({args}):
    return {code}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "counterexample.json")) as fh:
        meta = json.load(fh)
    data = np.load(os.path.join(here, "counterexample.npz"), allow_pickle=False)
    k, claim = meta["iteration"], meta["claim"]
    with mpmath.workdps(DIGITS + 20):
        values, fixed = reproduce_values(meta, data)
        env = {{"k": mpmath.mpf(k), "err0": values[0],
               "prev": values[k - 1] if k else mpmath.nan, **fixed}}
        for name, series in meta["symbols"].items():
            env.setdefault(name, mpmath.mpf(series[k]))
        b = bound(**{{name: env[name] for name in {names!r}}})
        ratio = values[k] / max(b, mpmath.mpf(FLOOR))
        print(f"{{claim['id']}}: {{claim['statement']}}")
        print(f"iteration {{k}}: {{claim['metric']}} = {{mpmath.nstr(values[k], DIGITS)}}")
        print(f"bound        = {{mpmath.nstr(b, DIGITS)}}")
        print(f"ratio        = {{mpmath.nstr(ratio, DIGITS)}}"
              + (f" (against the floor {{FLOOR}})" if b < FLOOR else ""))
        violated = ratio > 1 + mpmath.mpf(10) ** -DIGITS
    print("VIOLATED at 50 digits" if violated else "not violated at 50 digits")
    sys.exit(0 if violated else 1)


if __name__ == "__main__":
    main()
'''
