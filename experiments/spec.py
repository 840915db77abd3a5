"""Sweep specifications: a flat TOML table whose list values are grid axes.

Example (``nashlab sweep spec.toml``)::

    family = "random"            # a generator of nashlab.games (FAMILIES below)
    n = [10, 100]
    beta = [0.01, 0.1]
    method = ["nash-mp", "egpo", "mmd"]
    eta = "default"              # or a number, or a list of numbers
    iterations = 300
    seed = [0, 1, 2]
    track = ["kl", "duality_gap"]
    oracle = "exact"             # or "sampled" with samples = K

Rules (all checked by :func:`parse_spec` before any work starts; an unknown key or a bad
value is a ValueError/TypeError naming the key):

* every key is a scalar or a list; a list is a grid axis (its values one type, no
  duplicates), except ``track`` (the metrics every cell records) which is always one list;
* ``family`` names the problem: a preference-game generator ("random", "bradley-terry",
  "tournament", "cyclic", "rps", "perturbed-rps", "annotator-mixture"), the matrix-game
  generator "random-matrix" (axes ``m``, ``n``, ``tau``) or an MDP ("garnet": ``n_states``,
  ``n_actions``, ``branching``, ``gamma``, ``tau``; "riverswim": ``n_states``, ``gamma``,
  ``tau``; with ``uncertainty`` such as "l1:0.1" a robust MDP, or ``uncertainty`` = a kind
  ("l1", "kl", ...) and ``radius`` = its radius, so that the radius can be an axis); the keys
  of other families
  are refused;
* family "npz" replays games from a file: ``games`` (an NPZ with "P" (G, n, n) and
  "reference_logits" (G, n); its sha256 enters the cell hash) and ``game`` (indices; without
  it every game of the file runs in one cell, as one batched run, with a "game" column);
* ``seed`` seeds the game (and the random reference, and the sampled oracle): cells that
  differ only in the method play the same game;
* ``eta = "default"`` is each method's theorem step (:data:`DEFAULT_STEPS`): the largest
  constant step of the theorem that states its rate (Nash-MD: the schedule
  η_t = 2/(β(t+2)) of Munos et al. Theorem 1);
* ``target`` (default: the first tracked metric) is the metric the per-cell summary reads
  (iterations and queries to reach each ε in :data:`EPSILONS`, fitted rate).

Every cell is a dict of the spec's scalar values; :func:`cell_hash` is its content hash.
"""

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from nashlab.solvers.methods import check_options, get_method

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

#: ε of the per-cell summary (iterations / queries to reach each)
EPSILONS = (1e-2, 1e-4, 1e-6)

PREFERENCE_FAMILIES = ("random", "bradley-terry", "tournament", "cyclic", "rps", "perturbed-rps",
                       "annotator-mixture", "npz")
MATRIX_FAMILIES = ("random-matrix",)
MDP_FAMILIES = ("garnet", "riverswim")
FAMILIES = PREFERENCE_FAMILIES + MATRIX_FAMILIES + MDP_FAMILIES

PREFERENCE_METRICS = ("kl", "exploitability", "duality_gap", "span", "unregularized_exploitability")
MATRIX_METRICS = ("kl", "duality_gap", "exploitability")

# key -> (kind, default); kind: "int", "float", "str", "metrics"
_COMMON = {
    "family": ("str", None), "method": ("str", None), "eta": ("eta", "default"),
    "iterations": ("int", None), "seed": ("int", 0), "track": ("metrics", None),
    "target": ("str", None), "backend": ("str", "auto"),
}
_KEYS = {
    "preference": {**_COMMON, "n": ("int", None), "beta": ("float", 0.1),
                   "reference": ("str", "uniform"), "oracle": ("str", "exact"),
                   "samples": ("int", None), "annotators": ("int", 3),
                   "tie_probability": ("float", 0.0), "schedule": ("str", None),
                   "refresh_every": ("int", None), "inner_steps": ("int", None),
                   "mixture_weight": ("float", None), "games": ("str", None), "game": ("int", None)},
    "matrix": {**_COMMON, "m": ("int", None), "n": ("int", None), "tau": ("float", 0.1)},
    "mdp": {**_COMMON, "n_states": ("int", None), "n_actions": ("int", 2), "branching": ("int", 2),
            "gamma": ("float", 0.9), "tau": ("float", 0.0), "uncertainty": ("str", None),
            "radius": ("float", None)},
}
#: method options a spec may set, per kind (passed to nashlab.run as keywords when not None)
METHOD_OPTIONS = {"preference": ("schedule", "refresh_every", "inner_steps", "mixture_weight"),
                  "matrix": (), "mdp": ()}
_FIXED_SIZE = {"rps": 3, "perturbed-rps": 3}


def kind_of(family) -> str:
    """"preference", "matrix" or "mdp" for a spec family name."""
    if family in PREFERENCE_FAMILIES:
        return "preference"
    if family in MATRIX_FAMILIES:
        return "matrix"
    if family in MDP_FAMILIES:
        return "mdp"
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def _table_family(cell):
    kind = kind_of(cell["family"])
    if kind == "mdp":
        return "robust-mdp" if cell.get("uncertainty") else "mdp"
    return kind


# ---- the theorem steps -----------------------------------------------------------------

def _pref_default(method, beta, n, iterations):
    """(eta, schedule) of a preference method's theorem (nashlab.theory.nlhf_theorems)."""
    if method in ("nash-mp", "nash-mp-inexact", "magnet-refresh"):
        return 2.0, None                                  # Nash-MP: 0 < η ≤ 2
    if method == "egpo":
        return 2.0 / (1.0 + 2.0 * beta), None             # egpo/kl-envelope: η ≤ 2/(1+2β)
    if method == "omd":
        return 4.0 * beta / (1.0 + 4.0 * beta ** 2), None  # omd/kl-contraction
    if method in ("omwu", "onpo"):
        return min(1.0 / (2.0 * beta + 1.0), 0.5), None   # omwu/kl-slope
    if method == "mmd":
        return 4.0 * beta, None                           # mmd/kl-contraction: η ≤ 4β
    if method in ("hedge", "sppo"):
        return math.sqrt(8.0 * math.log(n) / max(iterations, 1)), None  # ln n/(ηT) + η/8
    if method == "nash-md":
        return None, "munos"                              # η_t = 2/(β(t+2))
    raise ValueError(f"eta = 'default': no theorem step for method {method!r}; give eta")


_MATRIX_DEFAULT_METHODS = ("pu", "omwu", "mirror-prox", "mmd")


def _matrix_default(method, tau, L):
    """Cen, Wei, Chi arXiv 2105.15186 Thms 1-2 (‖A‖_∞ ≤ L), Sokota et al. (η ≤ τ/L²)."""
    return {"pu": 1.0 / (tau + 2.0 * L), "omwu": min(1.0 / (2.0 * L + 2.0 * tau), 1.0 / (4.0 * L)),
            "mirror-prox": 1.0 / L, "mmd": tau / L ** 2}[method]


#: the rule of eta = "default" per kind (documentation; the functions above compute it)
DEFAULT_STEPS = {
    "preference": "nash-mp 2; egpo 2/(1+2β); omd 4β/(1+4β²); omwu min(1/(2β+1), ½); mmd 4β; "
                  "hedge √(8 ln n / T); nash-md: schedule 'munos'",
    "matrix": "pu 1/(τ+2L); omwu min(1/(2L+2τ), 1/(4L)); mirror-prox 1/L; mmd τ/L² (L = max|A|)",
    "mdp": "pmd / npg / rpmd 1/τ·(1−γ)… : give eta (no default)",
}


# ---- parsing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """A validated sweep: ``values`` (the spec as given, lists for axes), ``axes`` (the keys
    with list values, in spec order), ``cells`` (one dict per grid point, axes varying
    last-key-fastest) and ``text`` (canonical TOML of the spec, copied beside the results)."""

    values: dict
    axes: tuple
    cells: tuple
    kind: str

    @property
    def track(self):
        return tuple(self.values["track"])

    @property
    def target(self):
        return self.values.get("target") or self.track[0]

    @property
    def text(self) -> str:
        return dump_toml(self.values)


def _fmt(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value)
                                                          else ("inf" if value > 0 else "-inf"))
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def dump_toml(values: dict) -> str:
    """A flat table as TOML (strings, numbers, lists of them), keys in the given order."""
    return "".join(f"{k} = {_fmt(v)}\n" for k, v in values.items())


def load_spec(source) -> "Spec":
    """A Spec from a TOML file path, a TOML string, or a dict."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, dict):
        return parse_spec(source)
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and "=" not in source):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"spec: cannot read {path}: {exc.strerror}") from None
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"spec must be a path, a TOML string or a dict, got {type(source).__name__}")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"spec: not valid TOML ({exc})") from None
    return parse_spec(values)


def _check_value(key, kind, value):
    """``value`` converted to its kind; ValueError/TypeError naming ``key``."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"spec key {key!r} must be an integer, got {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"spec key {key!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"spec key {key!r} must be finite, got {value!r}")
        return float(value)
    if kind == "eta":
        if value == "default":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or value <= 0:
            raise ValueError(f"spec key 'eta' must be 'default' or a number > 0, got {value!r}")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"spec key {key!r} must be a string, got {value!r}")
        return value
    raise AssertionError(kind)


def parse_spec(values: dict) -> Spec:
    """Validate a spec table and expand its grid (module docstring)."""
    if not isinstance(values, dict):
        raise TypeError(f"spec must be a table, got {type(values).__name__}")
    values = dict(values)
    for key in ("family", "method", "iterations", "track"):
        if key not in values:
            raise ValueError(f"spec key {key!r} is required")
    families = values["family"] if isinstance(values["family"], list) else [values["family"]]
    kinds = {kind_of(f) if isinstance(f, str) else _check_value("family", "str", f) for f in families}
    if len(kinds) != 1:
        raise ValueError(f"spec key 'family' mixes problem kinds {sorted(kinds)}: one kind per sweep")
    kind = kinds.pop()
    allowed = _KEYS[kind]
    unknown = [k for k in values if k not in allowed]
    if unknown:
        raise ValueError(f"unknown spec key(s) {unknown} for a {kind} family; known: {sorted(allowed)}")
    clean, axes = {}, []
    for key, value in values.items():
        kind_k = allowed[key][0]
        if kind_k == "metrics":
            known = PREFERENCE_METRICS if kind == "preference" else (
                MATRIX_METRICS if kind == "matrix" else None)
            if isinstance(value, str) or not isinstance(value, list) or not value:
                raise TypeError(f"spec key 'track' must be a non-empty list of metric names, got {value!r}")
            for m in value:
                if not isinstance(m, str) or (known is not None and m not in known):
                    raise ValueError(f"spec key 'track': unknown metric {m!r}; known: {known}")
            if len(set(value)) != len(value):
                raise ValueError(f"spec key 'track' repeats a metric: {value}")
            clean[key] = list(value)
            continue
        if isinstance(value, list):
            if not value:
                raise ValueError(f"spec key {key!r}: an axis needs at least one value")
            items = [_check_value(key, kind_k, v) for v in value]
            if len({type(v) for v in items}) > 1:
                raise TypeError(f"spec key {key!r}: the values of an axis must have one type, got {value}")
            if len(set(items)) != len(items):
                raise ValueError(f"spec key {key!r}: the axis repeats a value: {value}")
            clean[key] = items
            axes.append(key)
        elif isinstance(value, dict):
            raise TypeError(f"spec key {key!r}: nested tables are not allowed (the spec is flat)")
        else:
            clean[key] = _check_value(key, kind_k, value)
    if "target" in clean:
        for t in clean["target"] if isinstance(clean["target"], list) else [clean["target"]]:
            if t not in clean["track"]:
                raise ValueError(f"spec key 'target' must be a tracked metric {clean['track']}, got {t!r}")
    grid = [clean[a] for a in axes]
    cells = []
    for point in product(*grid):
        cell = {k: v for k, v in clean.items() if k not in axes}
        cell.update(zip(axes, point, strict=True))
        cells.append(_resolve(cell, kind))
    return Spec(clean, tuple(axes), tuple(cells), kind)


def _resolve(cell, kind):
    """The cell with every key of its kind (defaults filled) and checked against the method
    table; ValueError naming the key whose value is wrong."""
    full = {}
    for key, (_, default) in _KEYS[kind].items():
        full[key] = cell.get(key, default)
    full["track"] = list(cell["track"])
    full["target"] = cell.get("target") or full["track"][0]
    family = full["family"]
    table_family = _table_family(full)
    try:
        entry = get_method(table_family, full["method"])
    except ValueError as exc:
        raise ValueError(f"spec key 'method': {exc}") from None
    if full["iterations"] < 0:
        raise ValueError(f"spec key 'iterations' must be >= 0, got {full['iterations']}")
    if full["seed"] < 0:
        raise ValueError(f"spec key 'seed' must be >= 0, got {full['seed']}")
    if full["backend"] not in ("auto", "numpy", "numba", "cuda"):
        raise ValueError(f"spec key 'backend' must be auto, numpy, numba or cuda, got {full['backend']!r}")
    options = {k: full[k] for k in METHOD_OPTIONS[kind] if full[k] is not None}
    try:
        check_options(entry, options)
    except TypeError as exc:
        raise ValueError(f"spec key(s) {sorted(options)}: {exc}") from None
    if kind == "preference":
        _resolve_preference(full, entry, family)
    elif kind == "matrix":
        for key in ("m", "n"):
            if full[key] is None or full[key] < 1:
                raise ValueError(f"spec key {key!r} must be an integer >= 1, got {full[key]}")
        if full["tau"] < 0:
            raise ValueError(f"spec key 'tau' must be >= 0, got {full['tau']}")
        if entry.needs_regularization and full["tau"] <= 0:
            raise ValueError(f"spec key 'tau': method {entry.name!r} needs tau > 0")
        if full["eta"] == "default" and entry.name not in _MATRIX_DEFAULT_METHODS:
            raise ValueError(f"spec key 'eta': eta = 'default': no theorem step for method "
                             f"{entry.name!r}; give eta")
        # the default step needs the game's L = max|A|: the task computes it (None here)
        full["step"] = None if full["eta"] == "default" else full["eta"]
        full["schedule_used"] = None
    else:
        _resolve_mdp(full, entry)
    if full["eta"] != "default" and entry.step_form == "mirror-descent":
        weight = full.get("beta", full.get("tau")) or 0.0
        if full["eta"] * weight > 1:
            raise ValueError(f"spec key 'eta': method {entry.name!r} takes the mirror-descent "
                             f"step and needs eta·beta ≤ 1, got {full['eta'] * weight:g}")
    return full


def load_games(path):
    """(P, reference_logits) of an NPZ of games: "P" (G, N, N), a preference matrix per game
    (entries in [0, 1], P + Pᵀ = 1, checked by ``PreferenceGame``) and "reference_logits"
    (G, N), finite; ValueError naming ``games`` otherwise (before any work starts)."""
    import zipfile

    import numpy as np

    from nashlab.games.preference import PreferenceGame

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"games {str(path)!r}: no such file (an NPZ with arrays 'P' (G, N, N) "
                         "and 'reference_logits' (G, N))")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "P" not in data or "reference_logits" not in data:
                raise ValueError(f"games {str(path)!r}: needs arrays 'P' (G, N, N) and "
                                 f"'reference_logits' (G, N), has {sorted(data.files)}")
            P, logits = np.asarray(data["P"], float), np.asarray(data["reference_logits"], float)
    except (OSError, zipfile.BadZipFile, AttributeError) as exc:
        raise ValueError(f"games {str(path)!r}: not an NPZ file ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith("games "):
            raise
        raise ValueError(f"games {str(path)!r}: not an NPZ of numeric arrays ({exc})") from None
    if P.ndim != 3 or P.shape[0] < 1 or P.shape[1] != P.shape[2] or logits.shape != P.shape[:2]:
        raise ValueError(f"games {str(path)!r}: P must be (G, N, N) and reference_logits (G, N), "
                         f"got {P.shape} and {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError(f"games {str(path)!r}: reference_logits must be finite")
    try:
        PreferenceGame(P, np.full(P.shape[:2], 1.0 / P.shape[1]), 0.1)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"games {str(path)!r}: {exc}") from None
    return P, logits


def _npz_games(path):
    """(n, games, sha256) of an NPZ of games (``load_games``)."""
    try:
        P, _ = load_games(path)
    except ValueError as exc:
        raise ValueError(f"spec key 'games': {exc}") from None
    return P.shape[1], P.shape[0], hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _resolve_preference(full, entry, family):
    if family == "npz":
        if full["games"] is None:
            raise ValueError("spec key 'games' (an NPZ file) is needed with family = 'npz'")
        n, count, digest = _npz_games(full["games"])
        if full["game"] is not None and not 0 <= full["game"] < count:
            raise ValueError(f"spec key 'game' must be in [0, {count}), got {full['game']}")
        if full["n"] not in (None, n):
            raise ValueError(f"spec key 'n': the games have {n} actions, got {full['n']}")
        full["n"], full["games_sha256"] = n, digest
        if full["reference"] != "uniform":
            raise ValueError("spec key 'reference': family 'npz' reads the reference from the file")
    elif full["games"] is not None or full["game"] is not None:
        raise ValueError("spec keys 'games' and 'game' are for family = 'npz' only")
    if family in _FIXED_SIZE:
        if full["n"] not in (None, _FIXED_SIZE[family]):
            raise ValueError(f"spec key 'n': family {family!r} has {_FIXED_SIZE[family]} actions, "
                             f"got {full['n']}")
        full["n"] = _FIXED_SIZE[family]
    if full["n"] is None or full["n"] < 2:
        raise ValueError(f"spec key 'n' must be an integer >= 2, got {full['n']}")
    if full["beta"] < 0:
        raise ValueError(f"spec key 'beta' must be >= 0, got {full['beta']}")
    if entry.needs_regularization and full["beta"] <= 0:
        raise ValueError(f"spec key 'beta': method {entry.name!r} needs beta > 0")
    if full["reference"] not in ("uniform", "random"):
        raise ValueError(f"spec key 'reference' must be 'uniform' or 'random', got {full['reference']!r}")
    if full["oracle"] not in ("exact", "sampled"):
        raise ValueError(f"spec key 'oracle' must be 'exact' or 'sampled', got {full['oracle']!r}")
    if (full["oracle"] == "sampled") != (full["samples"] is not None):
        raise ValueError("spec key 'samples' is needed with oracle = 'sampled' and only then")
    if full["samples"] is not None and full["samples"] < 1:
        raise ValueError(f"spec key 'samples' must be >= 1, got {full['samples']}")
    if full["schedule"] not in (None, "munos"):
        raise ValueError(f"spec key 'schedule' must be 'munos', got {full['schedule']!r}")
    if full["mixture_weight"] is not None and not 0 <= full["mixture_weight"] <= 1:
        raise ValueError(f"spec key 'mixture_weight' must be in [0, 1], got {full['mixture_weight']}")
    if full["eta"] == "default":
        if full["schedule"] is None:
            try:
                eta, schedule = _pref_default(entry.name, full["beta"], full["n"], full["iterations"])
            except ValueError as exc:
                raise ValueError(f"spec key 'eta': {exc}") from None
            if schedule is not None and full["beta"] <= 0:
                raise ValueError("spec key 'beta': the default step of nash-md needs beta > 0")
            if eta is not None and eta <= 0:
                raise ValueError(f"spec key 'eta': the default step of {entry.name!r} is {eta} at "
                                 f"beta = {full['beta']}: give eta")
            full["step"], full["schedule_used"] = eta, schedule
        else:
            full["step"], full["schedule_used"] = None, full["schedule"]
    else:
        if full["schedule"] is not None:
            raise ValueError("spec key 'schedule' sets the steps: use eta = 'default' with it")
        full["step"], full["schedule_used"] = full["eta"], None


def _resolve_mdp(full, entry):
    if full["family"] == "garnet":
        if full["n_states"] is None or full["n_states"] < 1:
            raise ValueError(f"spec key 'n_states' must be an integer >= 1, got {full['n_states']}")
        if full["n_actions"] < 1:
            raise ValueError(f"spec key 'n_actions' must be >= 1, got {full['n_actions']}")
        if not 1 <= full["branching"] <= full["n_states"]:
            raise ValueError(f"spec key 'branching' must be in [1, n_states], got {full['branching']}")
    elif full["n_states"] is not None and full["n_states"] < 2:
        raise ValueError(f"spec key 'n_states' must be >= 2, got {full['n_states']}")
    if not 0 <= full["gamma"] < 1:
        raise ValueError(f"spec key 'gamma' must be in [0, 1), got {full['gamma']}")
    if full["tau"] < 0:
        raise ValueError(f"spec key 'tau' must be >= 0, got {full['tau']}")
    if entry.needs_regularization and full["tau"] <= 0:
        raise ValueError(f"spec key 'tau': method {entry.name!r} needs tau > 0")
    full["uncertainty_set"] = full["uncertainty"]  # "kind:radius", as nashlab.run takes it
    if full["radius"] is not None:
        if full["uncertainty"] is None or ":" in full["uncertainty"]:
            raise ValueError("spec key 'radius' needs uncertainty = a kind without its radius "
                             f"(e.g. 'l1'), got uncertainty = {full['uncertainty']!r}")
        if full["radius"] < 0:
            raise ValueError(f"spec key 'radius' must be >= 0, got {full['radius']}")
        full["uncertainty_set"] = f"{full['uncertainty']}:{full['radius']!r}"
    if full["uncertainty"] is not None:
        from nashlab.games import parse_uncertainty

        try:
            parse_uncertainty(full["uncertainty_set"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"spec key 'uncertainty': {exc}") from None
    if full["eta"] == "default" and entry.step_form is not None:
        raise ValueError(f"spec key 'eta': MDP method {entry.name!r} has no default step; give eta")
    if full["eta"] != "default" and entry.step_form is None:
        raise ValueError(f"spec key 'eta': method {entry.name!r} takes no step")
    full["step"] = None if full["eta"] == "default" else full["eta"]
    full["schedule_used"] = None
    try:
        records = _mdp_metrics(entry.name, full["tau"] > 0, full["uncertainty_set"], full["step"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"spec key 'method': {entry.name!r} with tau = {full['tau']:g}, "
                         f"uncertainty = {full['uncertainty_set']}: {exc}") from None
    missing = [m for m in full["track"] if m not in records]
    if missing:
        raise ValueError(f"spec key 'track': method {entry.name!r} does not record {missing} "
                         f"(tau = {full['tau']:g}, uncertainty = {full['uncertainty_set']}); it records: "
                         f"{list(records)}")


@functools.lru_cache(maxsize=64)
def _mdp_metrics(method, regularized, uncertainty, eta):
    """The metrics an MDP method records with these options: read off a 0-iteration run on
    a 2-state garnet (the method table does not list them; the run costs a 2-state solve)."""
    import nashlab
    from nashlab import games

    options = {} if eta is None else {"eta": eta}
    if regularized:
        options["regularizer"] = games.Entropy(0.1)
    if uncertainty is not None:
        options["uncertainty"] = uncertainty
    return tuple(nashlab.run(games.garnet(2, 2, 1, 0, gamma=0.5), method, iterations=0,
                             **options).metrics)


def cell_hash(cell: dict) -> str:
    """The content hash of a cell's parameters (and of the nashlab version that runs it)."""
    from nashlab import __version__

    text = json.dumps({"nashlab": __version__, **cell}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


__all__ = ["DEFAULT_STEPS", "EPSILONS", "FAMILIES", "Spec", "cell_hash", "dump_toml",
           "kind_of", "load_games", "load_spec", "parse_spec"]
