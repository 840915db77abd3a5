"""Reproductions of published tabular experiments, each run through the sweep layer
(``nashlab reproduce NAME [--games FILE] [--out DIR]``). Each writes to DIR its figure(s)
(PNG + SVG), the numbers behind them (Parquet; the sweep folder under DIR/sweep) and
``summary.md`` (queries to reach 1e-6 per method).

``mmd-qre``
    Magnetic mirror descent (Sokota et al., arXiv 2206.05825) on perturbed RPS, the game of
    the MMD repository (P = (A + 3)/6, A = [[0, −3, 3], [3, 0, −1], [−3, 1, 0]]), with a
    uniform magnet for temperatures β ∈ {0.05, 0.1, 0.2, 0.5}: KL(QRE‖π_t) and the
    exploitability, the QRE π*_β from ``nashlab.solve`` (certified; written to qre.csv).
    As a preference game P·π = ½ + A·π/6, so β here is the temperature of the matrix game
    A/6 (= α/6 for A). MMD at its theorem step η = 4β, Nash-MP (η = 2) beside it.
    Measured: 8-9 s (the command, LocalCluster start included) on 2 cores (load average ~3-4).

``nash-mp-rate``
    Nash-MP (η = 2) on random preference games (EGPO's generator) for n ∈ {10, 100, 1000,
    4096} and β ∈ {0.01, 0.1, 1}: KL(π*‖π) and Expl_β against preference queries N, with
    the line (1+2β)^{−N/2}·KL_0 of the theorem nash-mp/kl-envelope — the curves of every n
    lie under the same line: the rate does not depend on the action space (the summary's
    ``local_rate``, ρ² of the exact Jacobian, is the same for every n up to 1000; n = 4096
    is above ``sweep.LOCAL_RATE_MAX_DIM``). Measured: 148-204 s on 2 cores shared with
    other jobs (load average 3-5); the n = 4096 cells (1200 iterations, a tracked gemv
    per iteration, Newton for π*) dominate. (25 min at load average ~20.)

``egpo-tabular``
    The tabular "exact" simulation of EGPO (Zhou, Fazel, Du, arXiv 2503.08942; code
    zhourunlong/EGPO, ``simulations/``): 10 random preference games with N = 10 actions
    (P below the diagonal U(0, 1), reference logits N(0, 1), π_0 = μ), β ∈ {0.1, 0.01, 0.001}
    with its published learning rates and iterations (configs.py: β = 0.1: lr 0.1, 1000
    iterations; β = 0.01: lr 0.02, 5000; β = 0.001: lr 0.0002, 100000), its five methods
    plus Nash-MP (η = 2), and the duality gap of every iterate (EGPO's ``dual_gap`` =
    nashlab's ``duality_gap``, 2·Expl_β). EGPO draws its games with torch's generator, which
    nashlab does not replay: ``--games FILE`` (NPZ with "P" (G, N, N) and
    "reference_logits" (G, N)) replays given games; without it the games are drawn with
    ``random_preference`` / ``random_reference`` (seeds 0..9). Table: DIR/curves.parquet
    (game, beta, method, iteration, duality_gap, queries). The figure draws game 0 of each β
    as EGPO's ``plot_multi_exps`` draws its "picked" figure (``egpo_smoothed``: a 10-update
    moving average, each curve cut where it first falls below 1e-6, 1000 points at most, linear
    x, log y). Measured: 64-83 s on 2 cores (load average 3-4; the 100000 iterations at
    β = 0.001 dominate). The G games of a (β, method) run as one batched cell (one
    nashlab.run on the batch, the games in lockstep).

    **EGPO's learning rates.** EGPO trains tabular logits θ ∈ R^N by SGD (no momentum) with
    learning rate lr on a loss whose gradient, worked out from its ``loss_funcs.py``
    (r = log π_θ − log μ, g = P·π' the preference vector against the opponent π', N the
    number of actions):

    * Online IPO 1 (OMD) and EGPO: loss Σ_ij ((r_i − r_j) − (g_i − g_j)/β)²/N², gradient
      (4/N)·(r − g/β − mean): θ ← (1 − 4lr/N)·θ + (4lr/N)·log μ + (4lr/(Nβ))·g up to a
      constant, the mirror-descent step of nashlab's "omd" / "egpo" with
      **η' = 4·lr/(N·β)** (η'β = 4lr/N). EGPO's extragradient takes a half step from θ_t,
      evaluates g at π_{t+½}, restores θ_t and steps with it: nashlab's "egpo" exactly.
    * Nash-MD: the same loss with g = P·π^μ, π^μ ∝ π_t^{1−w}μ^w, w = true_lr·β = 2·lr/N
      (run.py: true_lr = 2·lr/(βN)): nashlab's "nash-md" with **η' = 4·lr/(Nβ)** and
      **mixture_weight = 2·lr/N** — half of Munos et al.'s η'β, hence the option.
    * Online IPO 2: loss Σ_ij π_iπ_j((r_i − r_j) − (P_ij − ½)/β)² (π detached), gradient
      4·π⊙(c − ⟨π, c⟩)/β with c = g(π_t) − β·r: a softmax policy-gradient step on
      J(θ) = ⟨π_θ, g(π_t)⟩ − β·KL(π_θ‖μ), nashlab's "online-ipo-2" with **η = 4·lr/β**.
    * Nash-MD-PG: loss −Σ_k π_k·(g_k − β r_k)·log π_k (all but log π detached), g = P·π^μ,
      gradient −π⊙(c − ⟨π, c⟩): nashlab's "nash-md-pg" with **η = lr** and
      **mixture_weight = 2·lr/N**.

    ``tests/experiments/test_experiments_egpo.py`` checks these maps against the gradients of EGPO's
    losses computed by torch autograd, iterate by iterate.
"""

import math
import time
from pathlib import Path

import numpy as np

from nashlab._files import write_atomic
from nashlab.experiments.spec import dump_toml, load_games

NAMES = ("mmd-qre", "nash-mp-rate", "egpo-tabular")

#: EGPO configs.py ("exact", "tabular"): beta -> (iterations, lr)
EGPO_CONFIG = {0.1: (1000, 0.1), 0.01: (5000, 0.02), 0.001: (100000, 0.0002)}
EGPO_N, EGPO_GAMES = 10, 10
#: EGPO's method names -> nashlab method names
EGPO_METHODS = {"Online IPO 1 (OMD)": "omd", "Online IPO 2": "online-ipo-2", "Nash-MD": "nash-md",
                "Nash-MD-PG": "nash-md-pg", "EGPO": "egpo", "Nash-MP": "nash-mp"}


#: EGPO's figure (simulations/utils.py plot_multi_exps): a moving average over EGPO_WINDOW
#: updates, each gap curve cut at the first point below EGPO_CUT, at most EGPO_POINTS points
#: drawn, on a linear x axis
EGPO_WINDOW, EGPO_CUT, EGPO_POINTS = 10, 1e-6, 1000


def egpo_smoothed(gaps):
    """(t, y): a gap curve as EGPO's plot_multi_exps draws it: y the ``EGPO_WINDOW``-point
    moving average ('valid' convolution), cut before its first value below ``EGPO_CUT``,
    the point k drawn at update t = k + 1, and at most ``EGPO_POINTS`` evenly spaced points."""
    gaps = np.asarray(gaps, dtype=float)
    if len(gaps) >= EGPO_WINDOW:
        gaps = np.convolve(gaps, np.ones(EGPO_WINDOW), "valid") / EGPO_WINDOW
    below = np.flatnonzero(gaps < EGPO_CUT)
    y = gaps[:below[0]] if len(below) and below[0] > 0 else gaps
    t = np.arange(1, len(y) + 1)
    if len(y) > EGPO_POINTS:
        pick = np.linspace(0, len(y) - 1, EGPO_POINTS).astype(int)
        t, y = t[pick], y[pick]
    return t, y


def egpo_steps(lr, beta, n):
    """nashlab method -> (eta, method options) that take the step EGPO's SGD with ``lr`` takes
    (module docstring)."""
    md = 4.0 * lr / (n * beta)
    weight = 2.0 * lr / n
    return {"omd": (md, {}), "egpo": (md, {}), "nash-md": (md, {"mixture_weight": weight}),
            "online-ipo-2": (4.0 * lr / beta, {}), "nash-md-pg": (lr, {"mixture_weight": weight}),
            "nash-mp": (2.0, {})}


def _sweep(spec, out, client):
    from nashlab.experiments.sweep import sweep

    return sweep(spec, client=client, out=Path(out) / "sweep", resume=True, progress=True)


def _markdown_table(summary, row_keys, eps_column="queries_to_1e-06"):
    methods = list(dict.fromkeys(summary["method"]))
    lines = ["| " + " | ".join(row_keys + methods) + " |", "|" + "---|" * (len(row_keys) + len(methods))]
    for values, g in summary.groupby(row_keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        cells = []
        for m in methods:
            q = g.loc[g["method"] == m, eps_column]
            med = float(np.median(q)) if len(q) else math.nan
            cells.append("not reached" if not np.isfinite(med) else f"{med:.0f}")
        lines.append("| " + " | ".join([f"{v:g}" if isinstance(v, float) else str(v) for v in values]
                                        + cells) + " |")
    return "\n".join(lines)


def _write_summary(out, title, text, table, seconds):
    body = (f"# {title}\n\n{text}\n\nQueries to reach 1e-6 (median over games/seeds; "
            f"'not reached': within the iterations run):\n\n{table}\n\nWall time: {seconds:.0f} s.\n")
    write_atomic(Path(out) / "summary.md", body.encode())


def _figure_paths(fig, out, name):
    from nashlab.experiments.plots import _pyplot, _save

    _pyplot()
    return _save(fig, out, name)


# ---- mmd-qre ---------------------------------------------------------------------------

def mmd_qre(out, client=None):
    Path(out).mkdir(parents=True, exist_ok=True)
    import nashlab
    from nashlab import games
    from nashlab.experiments.plots import _pyplot

    start = time.monotonic()
    betas = [0.05, 0.1, 0.2, 0.5]
    spec = {"family": "perturbed-rps", "beta": betas, "method": ["mmd", "nash-mp"], "eta": "default",
            "iterations": 2000, "seed": 0, "track": ["kl", "exploitability"]}
    df = _sweep(spec, out, client)
    qre = []
    for beta in betas:
        sol = nashlab.solve(games.perturbed_rps(beta=beta))
        qre.append({"beta": beta, "certified": sol.certified, "residual": sol.residual,
                    **{f"pi_{i}": p for i, p in enumerate(sol.policy)}})
    import pandas as pd

    qre = pd.DataFrame(qre)
    write_atomic(Path(out) / "qre.csv", qre.to_csv(index=False).encode())
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (beta, method), g in df.groupby(["beta", "method"], sort=True):
        style = "-" if method == "mmd" else ":"
        color = plt.cm.viridis(betas.index(beta) / (len(betas) - 1))
        for ax, metric in zip(axes, ("kl", "exploitability"), strict=True):
            y = g[metric].to_numpy()
            keep = y > 1e-16
            ax.plot(g["iteration"].to_numpy()[keep], y[keep], style, color=color,
                    label=f"{method}, β = {beta:g}")
    for ax, label in zip(axes, ("KL(QRE‖π_t)", "Expl_β(π_t)"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle("MMD (η = 4β, uniform magnet) on perturbed RPS converges to the QRE of each "
                 "temperature β (dotted: Nash-MP, η = 2)", fontsize=10)
    fig.tight_layout()
    paths = _figure_paths(fig, out, "mmd_qre")
    summary = pd.read_parquet(Path(out) / "sweep" / "summary.parquet")
    table = _markdown_table(summary, ["beta"])
    _write_summary(out, "mmd-qre: MMD on perturbed RPS", "Target: KL(QRE‖π_t); QRE from "
                   "nashlab.solve (qre.csv, all certified: "
                   f"{bool(qre['certified'].all())}). One query per MMD step, two per Nash-MP step.",
                   table, time.monotonic() - start)
    return paths


# ---- nash-mp-rate ------------------------------------------------------------------------

def nash_mp_rate(out, client=None):
    Path(out).mkdir(parents=True, exist_ok=True)
    import pandas as pd

    from nashlab.experiments.plots import _pyplot

    start = time.monotonic()
    ns, betas = [10, 100, 1000, 4096], [0.01, 0.1, 1.0]
    spec = {"family": "random", "n": ns, "beta": betas, "method": "nash-mp", "eta": 2.0,
            "iterations": 1200, "seed": 0, "track": ["kl", "exploitability"]}
    df = _sweep(spec, out, client)
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(betas), figsize=(4.6 * len(betas), 7), squeeze=False)
    for j, beta in enumerate(betas):
        for i, metric in enumerate(("kl", "exploitability")):
            ax = axes[i, j]
            xmax = 0
            for k, n in enumerate(ns):
                g = df[(df["beta"] == beta) & (df["n"] == n)]
                y, q = g[metric].to_numpy(), g["queries"].to_numpy()
                keep = y > 1e-16
                xmax = max(xmax, q[keep].max() if keep.any() else 0)
                ax.plot(q[keep], y[keep], color=plt.cm.plasma(k / len(ns)), label=f"n = {n}")
                if metric == "kl":
                    line = g["kl"].iloc[0] * (1 + 2 * beta) ** (-q / 2)
                    keep_line = line > 1e-16
                    ax.plot(q[keep_line], line[keep_line], "--", color=plt.cm.plasma(k / len(ns)),
                            lw=0.8)
            ax.set_xlim(0, xmax * 1.05 + 1)
            ax.set_yscale("log")
            ax.set_title(f"β = {beta:g}", fontsize=9)
            ax.set_xlabel("preference queries N")
            ax.set_ylabel("KL(π*‖π)" if metric == "kl" else "Expl_β(π)")
            ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Nash-MP (η = 2): KL and exploitability vs queries for n = 10 … 4096; dashed: "
                 r"$(1+2\beta)^{-N/2}\,\mathrm{KL}_0$ (theorem nash-mp/kl-envelope), the same rate for "
                 "every n", fontsize=10)
    fig.tight_layout()
    paths = _figure_paths(fig, out, "nash_mp_rate")
    summary = pd.read_parquet(Path(out) / "sweep" / "summary.parquet")
    summary = summary.assign(method=[f"n = {n}" for n in summary["n"]])
    table = _markdown_table(summary, ["beta"])
    _write_summary(out, "nash-mp-rate: Nash-MP is independent of the action space",
                   "Target: KL(π*‖π_k) of Nash-MP (η = 2) on random preference games; the columns "
                   "are the numbers of actions. Two queries per iteration.", table,
                   time.monotonic() - start)
    return paths


# ---- egpo-tabular ------------------------------------------------------------------------

def _egpo_games(games_file, directory):
    """The NPZ of the games (given, or drawn and saved) and its path."""
    from nashlab import games

    if games_file is not None:
        P, logits = load_games(games_file)
    else:
        P = np.stack([games.random_preference(EGPO_N, seed=s).P for s in range(EGPO_GAMES)])
        logits = np.stack([np.random.default_rng(1000 + s).standard_normal(EGPO_N)
                           for s in range(EGPO_GAMES)])
    path = Path(directory) / "games.npz"
    import io

    buffer = io.BytesIO()
    np.savez(buffer, P=P, reference_logits=logits)
    write_atomic(path, buffer.getvalue())
    return path, P.shape[0], P.shape[1]


def egpo_tabular(out, client=None, games_file=None, betas=None, iterations_scale=1.0):
    Path(out).mkdir(parents=True, exist_ok=True)
    import pandas as pd

    from nashlab.experiments.plots import _pyplot

    start = time.monotonic()
    path, G, N = _egpo_games(games_file, out)
    betas = sorted(EGPO_CONFIG, reverse=True) if betas is None else betas
    frames = []
    for beta in betas:
        iters, lr = EGPO_CONFIG[beta]
        iters = max(1, int(iters * iterations_scale))
        for method, (eta, options) in egpo_steps(lr, beta, N).items():
            spec = {"family": "npz", "games": str(path.resolve()), "beta": beta, "method": method,
                    "eta": eta, "iterations": iters, "track": ["duality_gap"], **options}
            sub = Path(out) / "sweep" / f"beta={beta:g}" / method
            from nashlab.experiments.sweep import sweep

            df = sweep(spec, client=client, out=sub, resume=True, progress=True)
            frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    names = {v: k for k, v in EGPO_METHODS.items()}
    curves = df[["game", "beta", "method", "iteration", "duality_gap", "queries", "eta"]].copy()
    curves["egpo_name"] = curves["method"].map(names)
    from nashlab.experiments.sweep import _to_parquet

    write_atomic(Path(out) / "curves.parquet", _to_parquet(curves))
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(betas), figsize=(5.2 * len(betas), 4.2), squeeze=False)
    methods = list(EGPO_METHODS.values())
    for ax, beta in zip(axes.flat, betas, strict=True):
        for k, method in enumerate(methods):
            g = curves[(curves["beta"] == beta) & (curves["method"] == method) & (curves["game"] == 0)]
            t, y = egpo_smoothed(g["duality_gap"].to_numpy())
            ax.plot(t, y, "--" if method != "nash-mp" else "-",
                    color=plt.cm.tab10(k), label=names[method])
        ax.set_yscale("log")
        ax.set_xlabel("# updates t")
        ax.set_ylabel("duality gap")
        ax.set_title(f"β = {beta:g} (game 0, lr = {EGPO_CONFIG[beta][1]:g})", fontsize=9)
        ax.grid(True, alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("EGPO tabular simulation (exact oracle, N = 10) with Nash-MP (η = 2) added; drawn "
                 f"as EGPO draws it: {EGPO_WINDOW}-update moving average, each curve cut where it "
                 f"first falls below {EGPO_CUT:g} (raw gaps: curves.parquet)", fontsize=9)
    fig.tight_layout()
    paths = _figure_paths(fig, out, "egpo_tabular")
    summaries = [pd.read_parquet(p) for p in sorted((Path(out) / "sweep").glob("beta=*/*/summary.parquet"))]
    summary = pd.concat(summaries, ignore_index=True)
    summary["method"] = summary["method"].map(names)
    table = _markdown_table(summary, ["beta"])
    mapping = "\n".join(f"* {names[m]} → nashlab `{m}`: eta = {eta:g}"
                        + (f", mixture_weight = {o['mixture_weight']:g}" if o else "")
                        + f" (β = {beta:g})" for beta in betas
                        for m, (eta, o) in egpo_steps(EGPO_CONFIG[beta][1], beta, N).items())
    _write_summary(out, "egpo-tabular: EGPO's tabular simulation with Nash-MP",
                   f"Target: duality gap; {G} games, N = {N}, games in {path.name}. Step mapping "
                   f"(nashlab.experiments.reproductions docstring):\n\n{mapping}", table,
                   time.monotonic() - start)
    return paths


def reproduce(name, out=None, *, games=None, client=None):
    """Run the reproduction ``name`` (one of ``NAMES``) into ``out`` (default ./NAME)."""
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    if games is not None and name != "egpo-tabular":
        raise ValueError("games: only egpo-tabular replays given games")
    if games is not None:
        load_games(games)  # checked before the cluster starts
    out = Path(name if out is None else out)
    out.mkdir(parents=True, exist_ok=True)
    own = client is None
    if own:
        from nashlab.experiments.sweep import default_client

        client = default_client()
    try:
        if name == "mmd-qre":
            return mmd_qre(out, client)
        if name == "nash-mp-rate":
            return nash_mp_rate(out, client)
        return egpo_tabular(out, client, games)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()


__all__ = ["EGPO_CONFIG", "EGPO_METHODS", "NAMES", "dump_toml", "egpo_smoothed", "egpo_steps", "reproduce"]
