"""The standard figures of a sweep folder (``nashlab plot DIR``), PNG and SVG (matplotlib Agg).

* ``<metric>_vs_iterations`` and ``<metric>_vs_queries``, for every tracked metric: a line per
  method (median over seeds, shaded min–max spread), log scale, one panel per combination of
  the other axes (β, n, family, ...); the queries axis names what the sweep counts
  (``QUERY_AXIS``: preference queries, payoff evaluations of a matrix game, Bellman steps);
* ``queries_to_eps_vs_beta`` and ``queries_to_eps_vs_n`` (where β / n is an axis with two or
  more values): the summary's queries to reach ε ∈ EPSILONS (one panel per ε), median over
  seeds, log–log;
* ``heatmap_beta_eta`` (where β and η are both axes): log10 of the median queries to reach
  the smallest ε over the (β, η) grid, one panel per method (blank: not reached).

:func:`plot_sweep` returns the written paths.
"""

from pathlib import Path

import numpy as np

from nashlab.experiments.spec import EPSILONS, kind_of

MAX_PANELS = 12
#: values below this are drawn at it (the float64 floor of a converged metric)
FLOOR = 1e-16
_SKIP = ("method", "seed")
#: What the ``queries`` column counts for each problem kind (``nashlab.experiments.sweep``).
QUERY_AXIS = {"preference": "preference queries", "matrix": "payoff evaluations", "mdp": "Bellman steps"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out, name):
    paths = []
    for ext in ("png", "svg"):
        path = Path(out) / f"{name}.{ext}"
        fig.savefig(path, dpi=110)
        paths.append(path)
    _pyplot().close(fig)
    return paths


def _log_axis(axis):
    """Labelled log ticks, no minor labels (keeps the text layout cheap): 1, 2, 5 per decade
    on an axis of at most 3 decades, else decades only (every few decades on a wide axis).
    Call it once the limits are set. (matplotlib's LogLocator places no major tick at all
    when it has to skip decades and subs is not (1,): the wide axes were left blank.)"""
    from matplotlib.ticker import LogLocator, NullFormatter, NullLocator

    low, high = sorted(axis.get_view_interval())
    decades = np.log10(high / low) if low > 0 and np.isfinite(high / low) else np.inf
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,),
                                      numticks=7))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _panel_keys(spec, exclude=()):
    return [a for a in spec.axes if a not in _SKIP and a not in exclude]


def _label(keys, values):
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in zip(keys, values, strict=True)) or "all cells"


def _grid(count):
    cols = min(count, 3)
    return (count + cols - 1) // cols, cols


def _groups(frame, keys):
    if not keys:
        return [((), frame)]
    return list(frame.groupby(keys, sort=True)) if len(keys) > 1 else [
        ((k,), g) for k, g in frame.groupby(keys[0], sort=True)]


def _curves(plt, results, spec, metric, x):
    axis_name = QUERY_AXIS[kind_of(results["family"].iloc[0])]
    keys = _panel_keys(spec)
    panels = _groups(results, keys)
    shown = f" (first {MAX_PANELS} of {len(panels)} panels)" if len(panels) > MAX_PANELS else ""
    panels = panels[:MAX_PANELS]
    rows, cols = _grid(len(panels))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    methods = list(dict.fromkeys(results["method"]))
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    for ax, (values, panel) in zip(axes.flat, panels, strict=False):
        low = np.inf
        for method, g in panel.groupby("method", sort=False):
            g = g.sort_values(["seed", "iteration"], kind="stable") if "seed" in g else g
            cells = g["cell"].nunique()
            ys = g[metric].to_numpy(dtype=float).reshape(cells, -1)  # (cells, T+1)
            xs = g[x].to_numpy(dtype=float).reshape(cells, -1)
            xs = np.median(xs, axis=0)
            med = np.median(ys, axis=0)
            keep = med > FLOOR
            ax.plot(xs[keep], med[keep], color=colors[method], label=method, lw=1.6)
            if cells > 1:
                lo = np.maximum(ys.min(axis=0), FLOOR)
                ax.fill_between(xs, lo, np.maximum(ys.max(axis=0), FLOOR), color=colors[method],
                                alpha=0.15, lw=0)
            if np.any(ys > FLOOR):
                low = min(low, ys[ys > FLOOR].min())
        ax.set_yscale("log")
        if np.isfinite(low):
            ax.set_ylim(bottom=max(low / 2, FLOOR))
        _log_axis(ax.yaxis)
        ax.set_title(_label(keys, values), fontsize=9)
        ax.set_xlabel(axis_name if x == "queries" else "iteration")
        ax.set_ylabel(metric)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    seeds = results["seed"].nunique() if "seed" in results else 1
    fig.suptitle(f"{metric} vs {axis_name if x == 'queries' else 'iterations'}: median over "
                 f"{seeds} seed(s), shaded min–max; floor {FLOOR:g}{shown}", fontsize=10)
    fig.tight_layout()
    return fig


def _eps_columns():
    return [(eps, f"queries_to_{eps:.0e}") for eps in EPSILONS]


def _versus(plt, summary, spec, axis):
    keys = _panel_keys(spec, exclude=(axis, "eta"))
    fig, axes = plt.subplots(1, len(EPSILONS), figsize=(4.6 * len(EPSILONS), 3.6), squeeze=False)
    for ax, (eps, column) in zip(axes.flat, _eps_columns(), strict=True):
        for values, g in _groups(summary, keys + ["method"]):
            med = g.groupby(axis)[column].median()
            med = med[np.isfinite(med) & (med > 0)]
            if len(med):
                ax.plot(med.index.to_numpy(dtype=float), med.to_numpy(), marker="o",
                        label=_label(keys + ["method"], values).replace("method = ", ""))
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_axis(ax.xaxis)
        _log_axis(ax.yaxis)
        ax.set_xlabel(axis)
        ax.set_ylabel(f"queries to {spec.target} ≤ {eps:g}")
        ax.set_title(f"ε = {eps:g} (median over seeds)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"queries to reach ε vs {axis} (missing points: ε not reached)", fontsize=10)
    fig.tight_layout()
    return fig


def _heatmap(plt, summary, spec):
    eps, column = _eps_columns()[-1]
    methods = list(dict.fromkeys(summary["method"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(4.4 * len(methods), 3.8), squeeze=False)
    for ax, method in zip(axes.flat, methods, strict=True):
        g = summary[summary["method"] == method]
        table = g.pivot_table(index="eta", columns="beta", values=column, aggfunc="median")
        data = np.log10(table.to_numpy(dtype=float))
        image = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(table.shape[1]), [f"{b:g}" for b in table.columns], fontsize=8)
        ax.set_yticks(range(table.shape[0]), [f"{e:g}" for e in table.index], fontsize=8)
        ax.set_xlabel("β")
        ax.set_ylabel("η")
        ax.set_title(f"{method}: log10 queries to {spec.target} ≤ {eps:g}", fontsize=9)
        for (i, j), v in np.ndenumerate(data):
            ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.1f}", ha="center", va="center",
                    fontsize=7, color="w")
        fig.colorbar(image, ax=ax, shrink=0.8)
    others = [a for a in _panel_keys(spec, exclude=("beta", "eta"))]
    pooled = f"median over seeds and {', '.join(others)}" if others else "median over seeds"
    fig.suptitle(f"heat map over (β, η), {pooled}; blank = not reached within the iterations",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_sweep(directory, out=None) -> list:
    """Draw the standard figures of the sweep in ``directory`` into ``out`` (default
    ``directory/figures``); returns the written paths."""
    from nashlab.experiments.sweep import load_results

    results, summary, spec = load_results(directory)
    out = Path(directory) / "figures" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    paths = []
    for metric in spec.track:
        for x in ("iteration", "queries"):
            name = f"{metric}_vs_{'queries' if x == 'queries' else 'iterations'}"
            paths += _save(_curves(plt, results, spec, metric, x), out, name)
    for axis in ("beta", "n"):
        if axis in spec.axes and summary[axis].nunique() > 1:
            paths += _save(_versus(plt, summary, spec, axis), out, f"queries_to_eps_vs_{axis}")
    if "beta" in spec.axes and "eta" in spec.axes:
        paths += _save(_heatmap(plt, summary, spec), out, "heatmap_beta_eta")
    return paths


__all__ = ["plot_sweep"]
