"""Experiments at scale: parameter sweeps on dask.distributed, Parquet results, the standard
figures and reproductions of published tabular experiments.

* :func:`sweep` (``nashlab sweep SPEC.toml``): a grid of runs, one dask task per cell,
  resumable, with a tidy Parquet table (``nashlab.experiments.sweep``);
* :func:`load_spec` / :func:`parse_spec`: the spec format (``nashlab.experiments.spec``);
* :func:`plot_sweep` (``nashlab plot DIR``): the standard figures (``nashlab.experiments.plots``);
* :func:`reproduce` (``nashlab reproduce NAME``): published experiments through the sweep
  layer (``nashlab.experiments.reproductions``).

Needs the ``experiments`` extra (dask[distributed], pandas, pyarrow) to run a sweep; the
modules import it only where it is used, and ``import nashlab`` never imports this package.
"""

from nashlab.experiments.spec import EPSILONS, Spec, cell_hash, load_spec, parse_spec
from nashlab.experiments.sweep import load_results, sweep

__all__ = ["EPSILONS", "Spec", "cell_hash", "load_results", "load_spec", "parse_spec", "sweep"]
