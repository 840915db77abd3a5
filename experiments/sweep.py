"""The sweep engine: one dask.distributed task per cell, results as Parquet.

:func:`sweep` validates the whole spec first (``nashlab.experiments.spec``), then submits
one task per unfinished cell to a ``dask.distributed`` client (an embedded ``LocalCluster``
by default, or the client of an existing scheduler), gathers the results as they finish
(with a progress bar), and writes each finished cell atomically (temporary file + rename,
``nashlab._files.write_atomic``) to ``OUT/cells/<hash>.parquet``, ``<hash>`` the content
hash of the cell's parameters (``spec.cell_hash``). A rerun of the same spec, or a resumed
one, skips every cell whose file exists; an interrupted sweep loses only the cells in
flight. The tables are then built from the cell files alone, in grid order, so that they
do not depend on the scheduler, the number of workers, the order in which cells finished
or on an interruption:

* ``OUT/results.parquet``: a row per (cell, iteration): ``cell`` (the hash), every spec
  key (axes and constants; ``eta`` is the step the method took, NaN where a schedule set
  it), ``iteration``, ``queries`` (cumulative oracle calls: preference queries, payoff
  evaluations of a matrix game, Bellman steps of an MDP), every tracked metric, and the
  cell's summary columns;
* ``OUT/summary.parquet``: a row per cell: the spec keys, ``target`` (the summarised metric),
  ``iterations_to_<ε>`` / ``queries_to_<ε>`` for ε ∈ ``EPSILONS`` (the first iteration
  from which the target stays ≤ ε to the end; NaN if it never does), ``final`` (its last
  value) and ``rate`` / ``rate_per_query`` (exp of the least-squares slope of log target
  against iterations / queries over the points with 1e-12 < target, from iteration 1;
  NaN with fewer than 2 such points) and ``local_rate`` (the exact asymptotic factor per
  iteration of the target, ρ^order from ``nashlab.theory.local_rate``, computed by the
  task; NaN where there is none: ``cell_local_rate``);
* ``OUT/spec.toml``: the spec.

Every task runs with one BLAS/OpenMP thread (``threadpoolctl``): the sweep parallelises
over cells, and a cell's numbers then do not depend on the machine's thread count.

``dask``, ``distributed``, ``pandas`` and ``pyarrow`` (the ``experiments`` extra) are
imported only by the functions that use them.
"""

import io
import math
import os
import sys
from pathlib import Path

import numpy as np

from nashlab._files import write_atomic
from nashlab.experiments.spec import EPSILONS, PREFERENCE_METRICS, Spec, cell_hash, kind_of, load_spec

#: columns of every cell table besides the spec keys and the metrics
CELL_COLUMNS = ("cell", "iteration", "queries")
_QUERIES_PER_STEP = {"single": 1, "extragradient": 2, "optimistic": 1, "mixture": 1}
#: the largest tangent dimension for which a cell computes its exact local rate
LOCAL_RATE_MAX_DIM = 1024


# ---- one cell ---------------------------------------------------------------------------

def build_problem(cell):
    """The problem of a (resolved) cell: a PreferenceGame, MatrixGame or MDP, seeded."""
    from nashlab import games

    family, seed = cell["family"], cell["seed"]
    kind = kind_of(family)
    if kind == "preference":
        n, beta = cell["n"], cell["beta"]
        rng = np.random.default_rng(seed)
        reference = None
        if cell["reference"] == "random":
            reference = games.random_reference(n, seed=rng)
        if family == "npz":
            from nashlab.games.preference import PreferenceGame

            pick = slice(None) if cell["game"] is None else cell["game"]  # None: all, batched
            with np.load(cell["games"], allow_pickle=False) as data:
                P = np.asarray(data["P"][pick], dtype=float)
                logits = np.asarray(data["reference_logits"][pick], dtype=float)
            z = np.exp(logits - logits.max(axis=-1, keepdims=True))
            return PreferenceGame(P, z / z.sum(axis=-1, keepdims=True), beta)
        if family == "random":
            return games.random_preference(n, beta=beta, reference=reference, seed=rng)
        if family == "bradley-terry":
            return games.bradley_terry(rng.standard_normal(n), beta=beta, reference=reference)
        if family == "tournament":
            return games.tournament(n, beta=beta, reference=reference,
                                    tie_probability=cell["tie_probability"], seed=rng)
        if family == "cyclic":
            return games.cyclic(n, beta=beta, reference=reference)
        if family == "rps":
            return games.rps(beta=beta, reference=reference)
        if family == "perturbed-rps":
            return games.perturbed_rps(beta=beta, reference=reference)
        if family == "annotator-mixture":
            return games.annotator_mixture(n, cell["annotators"], beta=beta, reference=reference,
                                           seed=rng)
    if kind == "matrix":
        return games.random_matrix_game(cell["m"], cell["n"], tau=cell["tau"], seed=seed)
    if family == "garnet":
        return games.garnet(cell["n_states"], cell["n_actions"], cell["branching"], seed,
                            gamma=cell["gamma"])
    if family == "riverswim":
        return games.riverswim(cell["n_states"] or 6, gamma=cell["gamma"])
    raise AssertionError(family)


def run_cell(cell) -> dict:
    """Run one resolved cell: {"eta": the step taken, "iteration", "queries", metrics...}
    as NumPy arrays (the task every worker runs)."""
    from threadpoolctl import threadpool_limits

    import nashlab

    with threadpool_limits(1):
        problem = build_problem(cell)
        kind = kind_of(cell["family"])
        track = tuple(cell["track"])
        options = {}
        eta = cell["step"]
        if kind == "preference":
            options = {k: cell[k] for k in ("refresh_every", "inner_steps", "mixture_weight")
                       if cell[k] is not None}
            if cell["schedule_used"] is not None:
                options["schedule"] = cell["schedule_used"]
            if cell["oracle"] == "sampled":
                options.update(oracle="sampled", samples=cell["samples"])
        elif kind == "matrix":
            if eta is None:
                from nashlab.experiments.spec import _matrix_default

                eta = _matrix_default(cell["method"], cell["tau"], float(np.max(np.abs(problem.A))))
        else:
            if cell["tau"] > 0:
                options["regularizer"] = nashlab.games.Entropy(cell["tau"])
            if cell["uncertainty_set"] is not None:
                options["uncertainty"] = cell["uncertainty_set"]
        seed = None if kind == "mdp" else cell["seed"]  # an MDP run is deterministic (the seed drew it)
        traj = nashlab.run(problem, cell["method"], eta=eta, iterations=cell["iterations"],
                           seed=seed, track=track, backend=cell["backend"], **options)
        local = cell_local_rate(cell, problem, eta)
    T = cell["iterations"]
    shape = (T + 1, -1) if getattr(problem, "batch_shape", ()) else (T + 1,)  # batched: (T+1, G)
    out = {"iteration": np.arange(T + 1, dtype=np.int64)}
    if "queries" in traj.metrics:
        out["queries"] = np.asarray(traj.metrics["queries"], dtype=np.float64).reshape(shape)
    else:
        from nashlab.solvers.methods import get_method

        entry = get_method(traj.params["family"], cell["method"])
        per = _QUERIES_PER_STEP.get(entry.composition, 1)
        out["queries"] = per * np.arange(T + 1, dtype=np.float64)
    for m in track:
        out[m] = np.asarray(traj.metrics[m], dtype=np.float64).reshape(shape)
    out["eta"] = math.nan if eta is None else float(eta)
    out["local_rate"] = local
    return out


def _local_rate_dimension(problem):
    """The dimension of the tangent space local_rate's Jacobian lives on (per game)."""
    from nashlab.games import MDP, MatrixGame

    if isinstance(problem, MDP):
        return problem.n_states * problem.n_actions
    if isinstance(problem, MatrixGame):  # one block per player
        return sum(problem.A.shape) - 2
    return problem.n - 1


def cell_local_rate(cell, problem, eta):
    """The exact local rate of the cell's target metric per iteration, ρ^order
    (``nashlab.theory.local_rate``: ρ the spectral radius of the one-step Jacobian at the
    fixed point, order 2 for KL / exploitability / duality gap, 1 for span / value error):
    the factor its ``rate`` column should approach. A float, an array over the games of a
    batched cell, or NaN where there is none: no constant step (a schedule), a sampled
    oracle (a stochastic map), the mixture composition (Nash-MD's metrics are measured
    against π*_β, not its fixed point), a robust MDP, a metric without an order, a method
    without a local rate (``NO_LOCAL_RATE``, the policy-gradient steps), a fixed point on
    the boundary of the simplex, or a tangent space above ``LOCAL_RATE_MAX_DIM`` (dense
    eigenvalues cost O(d³))."""
    from nashlab.games import Entropy
    from nashlab.solvers.methods import get_method
    from nashlab.theory.local_rate import METRIC_ORDER, local_rate

    kind, method, target = kind_of(cell["family"]), cell["method"], cell["target"]
    batch = getattr(problem, "batch_shape", ())
    nan = np.full(batch, math.nan) if batch else math.nan
    options = {}
    if kind == "preference":
        entry = get_method("preference", method)
        if cell["schedule_used"] is not None or cell["oracle"] != "exact" or \
                entry.composition == "mixture":
            return nan
    elif kind == "mdp":
        if cell["uncertainty"] is not None:
            return nan
        if cell["tau"] > 0:
            options["regularizer"] = Entropy(cell["tau"])
        if get_method("mdp", method).step_form is None:
            eta = None  # value iteration & co. take no step
    if kind != "mdp" and target not in METRIC_ORDER:  # (the MDP methods' orders: LocalRate.order)
        return nan
    games = [problem[i] for i in np.ndindex(batch)] if batch else [problem]
    if _local_rate_dimension(games[0]) > LOCAL_RATE_MAX_DIM:
        return nan
    values = []
    for game in games:
        try:
            values.append(local_rate(game, method, eta=eta, **options).factor(target))
        except (ValueError, TypeError, RuntimeError):
            values.append(math.nan)
    return np.asarray(values, dtype=np.float64).reshape(batch) if batch else values[0]


def _cell_frame(spec: Spec, cell, result):
    """The cell's rows: hash, spec keys (as given in the spec), eta, iteration, queries, metrics."""
    import pandas as pd

    T1 = len(result["iteration"])
    batch = result["queries"].shape[1] if result["queries"].ndim == 2 else None
    rows = T1 * (batch or 1)
    data = {"cell": [cell_hash(cell)] * rows}
    for key in spec.values:
        if key in ("track", "eta"):
            continue
        data[key] = [cell[key]] * rows
    if batch is not None:  # a batched cell: rows game-major, a "game" column
        data["game"] = np.repeat(np.arange(batch, dtype=np.int64), T1)
    data["eta"] = np.full(rows, result["eta"])
    data["local_rate"] = np.repeat(np.broadcast_to(result["local_rate"], batch or 1), T1)
    data["iteration"] = np.tile(result["iteration"], batch or 1)
    data["queries"] = result["queries"].T.reshape(-1) if batch else result["queries"]
    for m in spec.track:
        data[m] = result[m].T.reshape(-1) if batch else result[m]
    return pd.DataFrame(data)


def _to_parquet(frame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def _read_parquet(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def _task(spec_values, cell):
    """The dask task: run a cell and return its Parquet bytes (the client writes them)."""
    spec = load_spec(spec_values)
    return _to_parquet(_cell_frame(spec, cell, run_cell(cell)))


# ---- summary ---------------------------------------------------------------------------

def eps_label(eps) -> str:
    return f"{eps:.0e}"


def _reach(values, eps):
    """The first index from which ``values`` stays ≤ eps to the end (None if never)."""
    above = np.flatnonzero(~(values <= eps))
    if len(above) == 0:
        return 0
    last = above[-1]
    return None if last == len(values) - 1 else int(last + 1)


def _rate(x, values):
    keep = (x >= 1) & np.isfinite(values) & (values > 1e-12) if len(x) else x
    if np.count_nonzero(keep) < 2 or np.ptp(x[keep]) == 0:
        return math.nan
    slope = np.polyfit(x[keep].astype(float), np.log(values[keep]), 1)[0]
    return float(np.exp(slope))


def cell_summary(frame, target) -> dict:
    """The summary columns of one cell's rows (module docstring)."""
    values = frame[target].to_numpy()
    iters, queries = frame["iteration"].to_numpy(), frame["queries"].to_numpy()
    row = {"target": target}
    for eps in EPSILONS:
        k = _reach(values, eps)
        row[f"iterations_to_{eps_label(eps)}"] = math.nan if k is None else float(iters[k])
        row[f"queries_to_{eps_label(eps)}"] = math.nan if k is None else float(queries[k])
    row["final"] = float(values[-1])
    row["rate"] = _rate(iters, values)
    row["rate_per_query"] = _rate(queries, values)
    return row


def build_tables(spec: Spec, frames):
    """(results, summary) DataFrames from the cell frames in grid order."""
    import pandas as pd

    rows = []
    for frame in frames:
        parts = [frame] if "game" not in frame or "game" in spec.values else [
            g for _, g in frame.groupby("game", sort=True)]
        for part in parts:
            head = part.drop(columns=["iteration", "queries", *spec.track]).iloc[0].to_dict()
            rows.append({**head, **cell_summary(part, spec.target)})
    summary = pd.DataFrame(rows)
    if "local_rate" in summary:  # last, beside the fitted rate it predicts
        summary["local_rate"] = summary.pop("local_rate")
    results = pd.concat(frames, ignore_index=True)
    on = ["cell", "game"] if "game" in results and "game" not in spec.values else ["cell"]
    extra = summary.drop(columns=[c for c in summary.columns if c in results.columns and c not in on])
    results = results.merge(extra, on=on, how="left", sort=False, validate="many_to_one")
    return results, summary


# ---- the sweep ---------------------------------------------------------------------------

def default_client(n_workers=None):
    """An embedded LocalCluster: one single-threaded worker process per core (at most 8),
    logging errors only (the tasks a Ctrl-C cancels would each log a warning)."""
    import logging

    from distributed import Client, LocalCluster

    n = n_workers or max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                else os.cpu_count() or 1))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster)


def _check_out(out: Path, spec: Spec, resume: bool):
    spec_file = out / "spec.toml"
    if spec_file.exists() and not resume:
        if spec_file.read_text() != spec.text:
            raise ValueError(f"out: {out} holds the results of another spec ({spec_file}); "
                             "choose another --out, or pass --resume to add to it")


def sweep(spec, *, client=None, out=None, resume=False, progress=True, workers=None):
    """Run every cell of ``spec`` (a path, TOML text, dict or ``Spec``) on dask.distributed.

    ``client``: a ``distributed.Client`` (default: an embedded ``LocalCluster`` of
    ``workers`` processes (``default_client``), started only if a cell is left to compute
    and closed at the end); ``out``: the result folder (default ``./sweep-<hash of the spec>``);
    ``resume``: add to a folder that holds another spec's cells. Finished cells are never
    recomputed (module docstring). Returns the tidy results DataFrame.
    """
    spec = load_spec(spec)
    if out is None:
        out = Path(f"sweep-{cell_hash({'spec': spec.text})[:10]}")
    out = Path(out)
    cells_dir = out / "cells"
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, got the file {out}")
    _check_out(out, spec, resume)
    cells_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "spec.toml", spec.text.encode())
    keys = [cell_hash(c) for c in spec.cells]
    if len(set(keys)) != len(keys):
        raise AssertionError("two cells of the grid have the same parameters")
    todo = [(k, c) for k, c in zip(keys, spec.cells, strict=True)
            if not (cells_dir / f"{k}.parquet").exists()]
    if todo:
        _run_cells(spec, todo, cells_dir, client, progress, workers)
    frames = [_read_parquet(cells_dir / f"{k}.parquet") for k in keys]
    results, summary = build_tables(spec, frames)
    write_atomic(out / "results.parquet", _to_parquet(results))
    write_atomic(out / "summary.parquet", _to_parquet(summary))
    return results


def _run_cells(spec, todo, cells_dir, client, progress, workers=None):
    from distributed import as_completed

    own = client is None
    if own:
        client = default_client(workers)
    try:
        futures = {client.submit(_task, spec.values, cell, key=f"nashlab-cell-{k}", pure=False): k
                   for k, cell in todo}
        bar = _Progress(len(todo), enabled=progress)
        try:
            for future in as_completed(futures):
                data = future.result()
                write_atomic(cells_dir / f"{futures[future]}.parquet", data)
                future.release()
                bar.advance()
        finally:
            bar.close()
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()


class _Progress:
    """A rich progress bar on stderr (nothing when disabled)."""

    def __init__(self, total, enabled=True):
        self.progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress("sweep", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=Console(file=sys.stderr))
            self.progress.start()
            self.task = self.progress.add_task("cells", total=total)

    def advance(self):
        if self.progress is not None:
            self.progress.advance(self.task)

    def close(self):
        if self.progress is not None:
            self.progress.stop()


def load_results(out):
    """(results, summary, spec) of a finished sweep folder."""
    out = Path(out)
    for name in ("results.parquet", "summary.parquet", "spec.toml"):
        if not (out / name).exists():
            raise ValueError(f"{out} is not a finished sweep: {name} is missing")
    return (_read_parquet(out / "results.parquet"), _read_parquet(out / "summary.parquet"),
            load_spec((out / "spec.toml").read_text()))


__all__ = ["PREFERENCE_METRICS", "build_problem", "build_tables", "cell_summary", "default_client",
           "load_results", "run_cell", "sweep"]
