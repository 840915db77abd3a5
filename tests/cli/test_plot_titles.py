"""Sweep figures name what their x axis counts: an MDP sweep's ``queries`` are Bellman steps,
never "preference queries" (nashlab plot)."""

from types import SimpleNamespace

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
plots = pytest.importorskip("nashlab.experiments.plots")


@pytest.mark.parametrize("family, name", [("garnet", "Bellman steps"), ("random", "preference queries")])
def test_curve_axis_and_title_name_the_count(family, name):
    T = 4
    results = pd.DataFrame({"cell": "c", "family": family, "method": "vi", "seed": 0,
                            "iteration": np.arange(T + 1), "queries": 2.0 * np.arange(T + 1),
                            "gap": 0.5 ** np.arange(T + 1)})
    plt = plots._pyplot()
    for x, label, title in (("queries", name, f"gap vs {name}"), ("iteration", "iteration", "gap vs iterations")):
        fig = plots._curves(plt, results, SimpleNamespace(axes={}), "gap", x)
        assert fig.axes[0].get_xlabel() == label and fig._suptitle.get_text().startswith(title)
        text = " ".join([fig._suptitle.get_text()] + [ax.get_xlabel() for ax in fig.axes])
        assert (family != "garnet") or "preference" not in text
        plt.close(fig)
