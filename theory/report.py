"""Figures and the markdown report of ``nashlab verify`` (matplotlib Agg; atomic writes).

* ``algorithm_figure``: one PNG per algorithm, one panel per theorem or claim: the checked
  metric of the first game of its first suite entry against cumulative preference queries
  (iterations where the trajectory records no queries), log scale, with the theory line:
  the envelope itself, the per-step bound iterated from the initial value
  (b_0 = m_0, b_k = bound(prev = b_{k−1})), or, for slope-only theorems, the rate line
  m_0·ρ^k with the unknown constant set to 1.
* ``comparison_figure``: every NLHF algorithm on one game, KL(π*‖π_k) against queries.
* ``markdown``: the summary table and, per theorem, its statement, bound and rate rendered
  from sympy as LaTeX, assumptions, source, status, derivation and per-game verdicts.
"""


import numpy as np
import sympy

from nashlab._files import write_atomic
from nashlab.theory.registry import SYMBOLS, Theorem
from nashlab.theory.verdicts import ATOL, FLOAT_FLOOR, RTOL, SLOPE_RTOL, evaluate


def _save_figure(fig, path) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    write_atomic(path, buffer.getvalue())


def _first_game(values):
    values = np.asarray(values, dtype=float)
    return values.reshape(values.shape[0], -1)[:, 0]


def theory_line(theorem: Theorem, trajectory) -> np.ndarray:
    """The theorem's bound along the trajectory for its first game (see module docstring)."""
    values = np.asarray(trajectory.metrics[theorem.metric], dtype=float)
    expr = theorem.bound
    if theorem.status == "slope-only":
        expr = SYMBOLS["err0"] * theorem.rate ** SYMBOLS["k"]
    if theorem.form == "envelope":
        return _first_game(evaluate(expr, trajectory, values))
    prev = SYMBOLS["prev"]
    line = np.empty(values.shape)
    line[0] = values[0]
    for step in range(1, values.shape[0]):
        # the per-step bound with prev := b_{k−1}; only row `step` of the result is used
        row = evaluate(expr.subs(prev, sympy.Symbol("_b")), trajectory, values, None,
                       extra={"_b": line[step - 1]})
        line[step] = row[step]
    return _first_game(line)


def _x_axis(trajectory):
    if "queries" in trajectory.metrics:
        return _first_game(trajectory.metrics["queries"]), "preference queries N"
    steps = next(iter(trajectory.metrics.values())).shape[0]
    return np.arange(steps, dtype=float), "iteration k"


def _panel(ax, title, runs, metric, line=None):
    """Plot ``metric`` of each (label, trajectory) in ``runs`` (first game of each)."""
    for label, trajectory in runs:
        x, xlabel = _x_axis(trajectory)
        y = _first_game(trajectory.metrics[metric])
        positive = y > 0
        ax.semilogy(x[positive], y[positive], lw=1.6, label=label or f"measured {metric}")
    x, xlabel = _x_axis(runs[0][1])
    if line is not None:
        ok = np.isfinite(line) & (line > 0)
        ax.semilogy(x[ok], line[ok], "--", lw=1.2, color="k", label="theory")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def algorithm_figure(path, algorithm, entries) -> None:
    """``entries``: [(title, runs, metric, theorem or None)], one panel each; ``runs`` is a
    list of (legend label or None, trajectory); the theory line uses the first run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(entries))
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.7 * rows), squeeze=False)
    height = 3.7 * rows  # fixed margins in inches: constrained layout dominates the cost
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.5 / height, top=1 - 0.8 / height,
                        hspace=0.65, wspace=0.28)
    for ax, (title, runs, metric, theorem) in zip(axes.flat, entries, strict=False):
        line = theory_line(theorem, runs[0][1]) if theorem is not None else None
        _panel(ax, title, runs, metric, line)
    for ax in axes.flat[len(entries):]:
        ax.axis("off")
    fig.suptitle(f"{algorithm}: metric vs preference queries (first game of the case with "
                 "the widest decrease)", fontsize=10)
    _save_figure(fig, path)
    plt.close(fig)


def comparison_figure(path, game, runs) -> None:
    """``runs``: [(label, trajectory)] of different algorithms on ``game``; KL vs queries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.92)
    styles = ("-", "--", "-.", ":")
    for i, (label, trajectory) in enumerate(runs):
        x, _ = _x_axis(trajectory)
        y = _first_game(trajectory.metrics["kl"])
        ok = y > 0
        ax.semilogy(x[ok], y[ok], styles[i % len(styles)], lw=1.4, label=label)
    ax.set_xlabel("preference queries N")
    ax.set_ylabel("KL(π*‖π)")
    ax.set_title(f"all algorithms on {game}", fontsize=10)
    ax.legend(fontsize=7)
    _save_figure(fig, path)
    plt.close(fig)


# ---- markdown ---------------------------------------------------------------------------

def latex(expr, metric) -> str:
    """LaTeX of a bound with err0 and prev named after the metric (m_0, m_{k−1})."""
    name = r"\mathrm{" + metric.replace("_", r"\_") + "}"
    names = {SYMBOLS["err0"]: f"{name}_{{0}}", SYMBOLS["prev"]: f"{name}_{{k-1}}"}
    return sympy.latex(expr, symbol_names=names)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x, spec=".4g"):
    return "—" if x is None else format(x, spec)


def markdown(headers, summary_rows, summary, results, images, quick) -> str:
    """The report: ``headers`` and ``summary_rows`` (the printed table), ``summary`` (its
    "N pass, M fail, K inconclusive" line), ``results`` (verify's Results)."""
    out = ["# nashlab verify report", "",
           f"Mode: {'quick' if quick else 'full'}. A bound counts where it is finite and "
           f"≥ {FLOAT_FLOOR:g}; violation iff measured > bound·(1+{RTOL:g}) + {ATOL:g}. "
           f"Slope-only theorems: pass iff fitted factor ≤ rate^(1−{SLOPE_RTOL:g}); their "
           "tightness column is the fitted decay exponent as a fraction of the theorem's. A "
           "verdict without evidence (nothing counted, a non-finite metric, too few points "
           "for a fit) is *inconclusive*, never a pass (see `nashlab.theory.verdicts`).", "",
           f"**{summary}**", "",
           "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in summary_rows]
    out += ["", "## Figures", ""]
    out += [f"![{name}]({name})" for name in images]
    for result in results:
        item = result.item
        out += ["", f"## {item.id}", "", f"*{item.statement}*", ""]
        if isinstance(item, Theorem):
            lhs = r"\mathrm{" + item.metric.replace("_", r"\_") + "}_{k}"
            out += [f"Bound ({item.form}): $$ {lhs} \\le {latex(item.bound, item.metric)} $$", ""]
            if item.rate is not None:
                out += [f"Rate per iteration: $$ \\rho = {latex(item.rate, item.metric)} $$", ""]
            out += [f"- source: {item.source}", f"- status: {item.status}"]
            out += [f"- assumption: {a.description}" for a in item.assumptions]
            if item.derivation:
                out += ["", "Derivation / note:", "", "```", item.derivation.strip(), "```"]
        else:
            out += [f"Claim criterion: {item.criterion_text}", "",
                    f"- source: {item.source}", f"- status: {item.status}"]
        if result.error:
            out += ["", f"**Suite error:** {result.error}"]
        out += ["", "| case | evidence | worst ratio | fitted rate | theory rate | verdict | "
                "reason |", "|---|---|---|---|---|---|---|"]
        for label, v in [*result.verdicts, *((f"{lab} (local rate)", v)
                                             for lab, v in result.local_rates)]:
            out.append(f"| {_cell(label)} | {v.evidence} | {_fmt(v.worst_ratio)} | "
                       f"{_fmt(v.fitted_rate)} | {_fmt(v.theory_rate)} | "
                       f"{'FAIL' if v.status == 'fail' else v.status} | {_cell(v.reason)} |")
    return "\n".join(out) + "\n"
