"""The two result types of every family: ``Solution`` (exact, certified) and ``Trajectory``.

Both are frozen dataclasses of plain arrays, printable, with a JSON and an NPZ round trip
(``to_json``/``from_json``, ``save``/``load``; NPZ files are written atomically and read
with ``allow_pickle=False``).

``params`` has one schema across families, so that a check, a sweep or a falsifier reads
every family the same way. Keys present in every result:

==============  =========================================================================
key             meaning
==============  =========================================================================
"family"        "preference", "matrix", "population", "mdp", "robust-mdp", "markov-game"
"method"        the method name, hyphenated ("nash-mp", "howard-pi", "md-mpi", ...)
"backend"       the backend that ran: "numpy", "numba", "cuda" ("torch" for neural runs)
"n_actions"     actions per player: an int (one player, or a symmetric game) or [m, n]
                (two-player zero-sum games: the row player's m, the column player's n)
"n_states"      number of states (None for games without states)
"batch_shape"   the batch shape of the problem ([] for one problem)
==============  =========================================================================

and, where the family has them: "beta" (KL weight of preference games and populations),
"tau" (entropy/regularizer weight of matrix games, Markov games and regularized MDPs),
"gamma" (discount), "eta" (step size, in the method's parametrisation), "iterations",
"seed", "players" (populations), "uncertainty" and "rectangularity" (robust MDPs), and the
method's own options under their own names. A ``Trajectory`` also carries "kl0" where its
family tracks a distance to the solution.
"""

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nashlab._files import write_atomic

FAMILIES = ("preference", "matrix", "population", "mdp", "robust-mdp", "markov-game")


def _jsonable(x):
    """``x`` with arrays and NumPy scalars as lists and Python scalars (non-finite floats
    become the strings "inf", "-inf", "nan", which ``_from_jsonable`` reads back)."""
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


_NON_FINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _array(x):
    """A list written by ``_jsonable`` as a float array (None stays None)."""
    if x is None:
        return None
    return np.asarray(_numbers(x), dtype=float)


def _numbers(x):
    if isinstance(x, list):
        return [_numbers(v) for v in x]
    return _NON_FINITE.get(x, x) if isinstance(x, str) else x


def _check_params(params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    try:
        json.dumps(_jsonable(params))
    except TypeError as exc:
        raise TypeError(f"params must hold JSON-serialisable values ({exc})") from None


def _save_npz(path, arrays, meta):
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(_jsonable(meta))), **arrays)
    write_atomic(Path(path), buffer.getvalue())


def _load_npz(path, kind):
    with np.load(path, allow_pickle=False) as f:
        if "__meta__" not in f.files:
            raise ValueError(f"{path} is not a nashlab {kind} file (no __meta__ entry)")
        meta = json.loads(str(f["__meta__"]))
        if meta.get("kind") != kind:
            raise ValueError(f"{path} holds a {meta.get('kind')!r}, not a {kind!r}")
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
    return meta, arrays


@dataclass(frozen=True)
class Solution:
    """The exact, certified solution of a problem (any family).

    Attributes
    ----------
    policy : the solution policy: (..., n) for a preference game, (..., m + n) for a matrix
        game (x then y, see ``split``), (players, ..., n) for a population, (S, A) for an
        MDP ((H, S, A) with a finite horizon), (S, A + B) for a Markov game (μ then ν).
    certified : whether the family's accuracy certificate holds (for every game of a batch).
    residual : max-norm of the certificate's residual, relative to the problem's scale as
        each solver documents (fixed-point residual of the logits, Bellman/Shapley residual).
    gap : the duality gap (= NashConv) of ``policy`` for games; None for MDPs.
    message : how the solve ended.
    params : the problem and solver description (module docstring: one schema).
    logits : log ``policy`` (−inf off the support) where the solver works in log-space.
    values : state values (MDPs, Markov games).
    q : state-action values (MDPs).
    """

    policy: np.ndarray
    certified: bool
    residual: float
    gap: float | None
    message: str
    params: dict
    logits: np.ndarray | None = None
    values: np.ndarray | None = None
    q: np.ndarray | None = None

    def __post_init__(self):
        _check_params(self.params)

    @property
    def method(self) -> str:
        return self.params["method"]

    @property
    def iterations(self) -> int:
        return self.params.get("iterations", 0)

    def split(self) -> tuple:
        """The players' policies of a two-player zero-sum game: (x, y), or (μ, ν) per state."""
        sizes = self.params.get("n_actions")
        if not isinstance(sizes, list | tuple) or len(sizes) != 2:
            raise ValueError("split() is for two-player zero-sum games (params['n_actions'] = [m, n])")
        return self.policy[..., : sizes[0]], self.policy[..., sizes[0]:]

    def to_dict(self) -> dict:
        return {"kind": "Solution", **_jsonable(asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text) -> "Solution":
        d = json.loads(text)
        if d.pop("kind", None) != "Solution":
            raise ValueError("the JSON text is not a nashlab Solution")
        for name in ("policy", "logits", "values", "q"):
            d[name] = _array(d.get(name))
        return cls(**d)

    def save(self, path) -> None:
        """Write to ``path`` as NPZ (arrays + JSON metadata, no pickle), atomically."""
        arrays = {k: np.asarray(getattr(self, k)) for k in ("policy", "logits", "values", "q")
                  if getattr(self, k) is not None}
        meta = {"kind": "Solution", "certified": self.certified, "residual": self.residual,
                "gap": self.gap, "message": self.message, "params": self.params}
        _save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path) -> "Solution":
        meta, arrays = _load_npz(path, "Solution")
        return cls(arrays["policy"], meta["certified"], _numbers(meta["residual"]),
                   _numbers(meta["gap"]), meta["message"], meta["params"],
                   arrays.get("logits"), arrays.get("values"), arrays.get("q"))


@dataclass(frozen=True)
class Trajectory:
    """The run of an iterative method (any family).

    Attributes
    ----------
    method : the method name (as in ``params["method"]``).
    params : the problem and run description (module docstring: one schema).
    metrics : name -> array of shape (iterations + 1, ...): index 0 is the initial point.
    policy : the final (last-iterate) policy, in the family's layout (``Solution.policy``).
    average_policy : the averaged iterate, where the method defines one.
    """

    method: str
    params: dict
    metrics: dict = field(default_factory=dict)
    policy: np.ndarray | None = None
    average_policy: np.ndarray | None = None

    def __post_init__(self):
        _check_params(self.params)

    def __getitem__(self, name) -> np.ndarray:
        return self.metrics[name]

    def to_dict(self) -> dict:
        return {"kind": "Trajectory", **_jsonable(asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text) -> "Trajectory":
        d = json.loads(text)
        if d.pop("kind", None) != "Trajectory":
            raise ValueError("the JSON text is not a nashlab Trajectory")
        return cls(d["method"], d["params"], {k: _array(v) for k, v in d["metrics"].items()},
                   _array(d.get("policy")), _array(d.get("average_policy")))

    def save(self, path) -> None:
        """Write to ``path`` as NPZ (arrays + JSON metadata, no pickle), atomically."""
        arrays = {f"metric_{k}": np.asarray(v) for k, v in self.metrics.items()}
        if self.policy is not None:
            arrays["policy"] = np.asarray(self.policy)
        if self.average_policy is not None:
            arrays["average_policy"] = np.asarray(self.average_policy)
        _save_npz(path, arrays, {"kind": "Trajectory", "method": self.method,
                                 "params": self.params})

    @classmethod
    def load(cls, path) -> "Trajectory":
        meta, arrays = _load_npz(path, "Trajectory")
        metrics = {k[len("metric_"):]: v for k, v in arrays.items() if k.startswith("metric_")}
        return cls(meta["method"], meta["params"], metrics, arrays.get("policy"),
                   arrays.get("average_policy"))
