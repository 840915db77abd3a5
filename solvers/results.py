"""Result types shared by every solver: plain data, printable, JSON-serialisable."""

import json
from dataclasses import asdict, dataclass, field

import numpy as np


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


@dataclass(frozen=True)
class Equilibrium:
    """A certified equilibrium of a (batch of) preference game(s).

    Attributes
    ----------
    policy : (..., n) the equilibrium policy π*.
    logits : (..., n) log π* (−inf where π* is zero, β = 0 only).
    residual : max-norm of the certificate's residual: ‖G(z)‖∞ of the logit fixed-point map
        G(z) = z − log μ − Aπ/β (mean removed) for β > 0; Expl_0(π) = max(Pπ) − ½ for β = 0.
    duality_gap : DG_β(π) = 2·Expl_β(π), recomputed from ``policy``.
    iterations : solver iterations (Nash-MP warm start + Newton steps, or LP iterations).
    certified : whether the accuracy certificate of ``method`` holds for every game.
    method : "newton", "lp" or "cvxpy".
    message : how the solve ended.
    """

    policy: np.ndarray
    logits: np.ndarray
    residual: float
    duality_gap: float
    iterations: int
    certified: bool
    method: str
    message: str = ""

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        d = self.to_dict()
        d["logits"] = [None if not np.isfinite(v) else v for v in np.ravel(self.logits)]
        return json.dumps(d)


@dataclass(frozen=True)
class Trajectory:
    """The run of an iterative algorithm.

    Attributes
    ----------
    method : algorithm name.
    params : the hyper-parameters it ran with (η, β, iterations, seed, ...).
    metrics : name -> array of shape (iterations + 1, ...): index 0 is the initial point.
    policy : the final (last-iterate) policy.
    average_policy : the averaged iterate, where the algorithm defines one.
    """

    method: str
    params: dict
    metrics: dict = field(default_factory=dict)
    policy: np.ndarray | None = None
    average_policy: np.ndarray | None = None

    def __getitem__(self, name) -> np.ndarray:
        return self.metrics[name]

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def save_npz(self, path) -> None:
        """Write to ``path`` (npz, no pickle); params are stored as a JSON string."""
        arrays = {f"metric_{k}": np.asarray(v) for k, v in self.metrics.items()}
        if self.policy is not None:
            arrays["policy"] = np.asarray(self.policy)
        if self.average_policy is not None:
            arrays["average_policy"] = np.asarray(self.average_policy)
        meta = json.dumps({"method": self.method, "params": _jsonable(self.params)})
        np.savez(path, __meta__=np.array(meta), **arrays)

    @classmethod
    def load_npz(cls, path) -> "Trajectory":
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
            metrics = {k[len("metric_"):]: f[k] for k in f.files if k.startswith("metric_")}
            policy = f["policy"] if "policy" in f.files else None
            avg = f["average_policy"] if "average_policy" in f.files else None
        return cls(meta["method"], meta["params"], metrics, policy, avg)
