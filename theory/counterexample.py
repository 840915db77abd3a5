"""A confirmed counterexample to a bound, and its certificate on disk.

``Counterexample.save(directory)`` writes

* ``counterexample.json``: the claim (id, statement, metric, form, the bound as text and as
  mpmath code), the method and its options, the iteration where the bound fails, the ratio
  measured/bound in float64 and at 50 digits, the margin, and the values of the bound's
  other symbols per iteration (e.g. the query count N);
* ``counterexample.npz``: P, the reference μ and the start π₀ (plain arrays, no pickle);
  for an MDP the (S, A, S) kernel P, the rewards r and the start (π₀ or v₀);
* ``reproduce.py``: a standalone script importing only numpy and mpmath. It embeds the
  50-digit implementation (``nashlab.theory.highprec``, verbatim) and the bound, re-runs the
  instance and exits 0 iff the bound is violated at 50 digits (1 otherwise).

``Counterexample.load(directory)`` reads the JSON and NPZ back (round trip).
"""

import inspect
import json
import os
from dataclasses import dataclass, field

import numpy as np

from nashlab.games.mdp import MDP
from nashlab.games.preference import PreferenceGame

FILES = ("counterexample.json", "counterexample.npz", "reproduce.py")


@dataclass(frozen=True)
class Counterexample:
    """An instance on which ``theorem_id``'s bound fails, confirmed at 50 digits.

    problem : the instance (a ``PreferenceGame``: P, reference μ, β; or an ``MDP``).
    params : the method and its options: "method", "beta", "eta", "schedule", "init" (π₀ as
        a list, None = μ), "iterations"; for an MDP "method", "gamma", "eta", "step_growth",
        "iterations", "init" (π₀ or v₀, None = uniform / 0), "structure" (npg-entropy also
        "tau", "q_noise" and the noise's "seed").
    iteration : the first iteration k at which metric > bound at 50 digits.
    ratio : metric/bound at ``iteration`` in float64 (through ``nashlab.run`` and ``check``).
    ratio_high_precision : the same at 50 digits, as a decimal string; ``margin`` = that − 1.
    claim : {"id", "statement", "metric", "form", "bound", "bound_mpmath", "symbols"}.
    symbols : the bound's other symbols per iteration, {name: [float, ...]}.
    """

    theorem_id: str
    problem: PreferenceGame
    params: dict
    iteration: int
    ratio: float
    ratio_high_precision: str
    margin: str
    claim: dict
    symbols: dict = field(default_factory=dict)

    @property
    def is_mdp(self) -> bool:
        return isinstance(self.problem, MDP)

    @property
    def size(self) -> str:
        """The instance's size: "n = 3" (preference game) or "S = 4, A = 2" (MDP)."""
        if self.is_mdp:
            return f"S = {self.problem.n_states}, A = {self.problem.n_actions}"
        return f"n = {self.problem.n}"

    def save(self, directory) -> list:
        """Write ``FILES`` into ``directory`` (created if needed); returns their paths."""
        os.makedirs(directory, exist_ok=True)
        paths = [os.path.join(directory, name) for name in FILES]
        if self.is_mdp:
            arrays = {"P": self.problem.dense_P(), "r": np.asarray(self.problem.r)}
        else:
            arrays = {"P": np.asarray(self.problem.P),
                      "reference": np.asarray(self.problem.reference)}
        if self.params.get("init") is not None:
            arrays["init"] = np.asarray(self.params["init"], dtype=float)
        meta = {"kind": "nashlab.Counterexample", "theorem_id": self.theorem_id,
                "problem": "mdp" if self.is_mdp else "preference",
                "params": {k: v for k, v in self.params.items() if k != "init"},
                "has_init": self.params.get("init") is not None, "iteration": self.iteration,
                "ratio": self.ratio, "ratio_high_precision": self.ratio_high_precision,
                "margin": self.margin, "claim": self.claim, "symbols": self.symbols}
        with open(paths[0], "w") as fh:
            json.dump(meta, fh, indent=1)
        np.savez(paths[1], **arrays)
        with open(paths[2], "w") as fh:
            fh.write(reproduction_script(self.claim, mdp=self.is_mdp))
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
        if meta.get("problem") == "mdp":
            problem = MDP(arrays["P"], arrays["r"], params["gamma"])
        else:
            problem = PreferenceGame(arrays["P"], arrays["reference"], params["beta"])
        return cls(meta["theorem_id"], problem, params, meta["iteration"], meta["ratio"],
                   meta["ratio_high_precision"], meta["margin"], meta["claim"], meta["symbols"])


_MAIN = '''

# ---- the claim's bound (generated from its sympy expression) -----------------------------
def bound({args}):
    return {code}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "counterexample.json")) as fh:
        meta = json.load(fh)
    data = np.load(os.path.join(here, "counterexample.npz"), allow_pickle=False)
    p = meta["params"]
    init = data["init"].tolist() if meta["has_init"] else None
    k = meta["iteration"]
    claim = meta["claim"]
    with mpmath.workdps(DIGITS + 20):
        values = run(p["method"], data["P"].tolist(), data["reference"].tolist(), init,
                     p["beta"], p["eta"], p["iterations"], claim["metric"],
                     schedule=p["schedule"])
        etas = steps(None if p["eta"] is None else mpmath.mpf(p["eta"]), mpmath.mpf(p["beta"]),
                     p["iterations"], p["schedule"])
        env = {{"k": mpmath.mpf(k), "err0": values[0],
               "prev": values[k - 1] if k else mpmath.nan,
               "eta": etas[k - 1] if p["schedule"] else mpmath.mpf(p["eta"] or 0)}}
        for name, series in meta["symbols"].items():
            env.setdefault(name, mpmath.mpf(series[k]))
        b = bound(**{{name: env[name] for name in {names!r}}})
        ratio = values[k] / b
        print(f"{{claim['id']}}: {{claim['statement']}}")
        print(f"iteration {{k}}: {{claim['metric']}} = {{mpmath.nstr(values[k], DIGITS)}}")
        print(f"bound        = {{mpmath.nstr(b, DIGITS)}}")
        print(f"ratio        = {{mpmath.nstr(ratio, DIGITS)}}")
        violated = ratio > 1
    print("VIOLATED at 50 digits" if violated else "not violated at 50 digits")
    sys.exit(0 if violated else 1)


if __name__ == "__main__":
    main()
'''


_MAIN_MDP = '''

# ---- the claim's bound (generated from its sympy expression) -----------------------------
def bound({args}):
    return {code}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "counterexample.json")) as fh:
        meta = json.load(fh)
    data = np.load(os.path.join(here, "counterexample.npz"), allow_pickle=False)
    p = meta["params"]
    init = data["init"].tolist() if meta["has_init"] else None
    k = meta["iteration"]
    claim = meta["claim"]
    with mpmath.workdps(DIGITS + 20):
        extra = {{}}
        if p["method"] == "npg-entropy":  # the float run's noise draws, regenerated
            rng = np.random.default_rng(p["seed"])
            draws = [rng.uniform(-1.0, 1.0, size=data["r"].shape).tolist()
                     for _ in range(p["iterations"])]
            extra = {{"tau": p["tau"], "q_noise": p["q_noise"],
                     "draws": draws if p["q_noise"] > 0 else None}}
        values, constants = run(p["method"], data["P"].tolist(), data["r"].tolist(),
                                p["gamma"], init, p["eta"], p["iterations"], claim["metric"],
                                growth=p["step_growth"], **extra)
        env = {{"k": mpmath.mpf(k), "err0": values[0],
               "prev": values[k - 1] if k else mpmath.nan,
               "gamma": mpmath.mpf(p["gamma"]), "eta": mpmath.mpf(p["eta"] or 0), **constants}}
        for name, series in meta["symbols"].items():
            env.setdefault(name, mpmath.mpf(series[k]))
        b = bound(**{{name: env[name] for name in {names!r}}})
        ratio = values[k] / b
        print(f"{{claim['id']}}: {{claim['statement']}}")
        print(f"iteration {{k}}: {{claim['metric']}} = {{mpmath.nstr(values[k], DIGITS)}}")
        print(f"bound        = {{mpmath.nstr(b, DIGITS)}}")
        print(f"ratio        = {{mpmath.nstr(ratio, DIGITS)}}")
        violated = ratio > 1
    print("VIOLATED at 50 digits" if violated else "not violated at 50 digits")
    sys.exit(0 if violated else 1)


if __name__ == "__main__":
    main()
'''


def reproduction_script(claim, mdp=False) -> str:
    """The standalone script (numpy + mpmath only) for a saved counterexample of ``claim``
    (``mdp``: of an MDP, embedding ``highprec_mdp``; else ``highprec``)."""
    from nashlab.theory import highprec, highprec_mdp

    module = highprec_mdp if mdp else highprec
    names = list(claim["bound_symbols"])
    header = ("# Reproduction of a nashlab counterexample: python reproduce.py (numpy + mpmath "
              f"only).\n# Below: {module.__name__} verbatim, then the bound and the check.\n"
              "import json\nimport os\nimport sys\n\nimport numpy as np\n\n")
    return (header + inspect.getsource(module)
            + (_MAIN_MDP if mdp else _MAIN).format(args=", ".join(names) or "",
                                                   code=claim["bound_mpmath"], names=names))
