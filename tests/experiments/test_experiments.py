"""nashlab.experiments: spec validation, the sweep on dask.distributed (LocalCluster and an
external `dask scheduler` + 2 `dask worker` processes give bit-identical tables), resume
after an interruption, and the summary columns."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

from nashlab.experiments import cell_hash, load_results, parse_spec, sweep  # noqa: E402
from nashlab.experiments.sweep import cell_summary, run_cell  # noqa: E402

SMALL = {"family": "random", "n": [4, 6], "beta": [0.1, 1.0], "method": ["nash-mp", "mmd"],
         "iterations": 30, "seed": [0, 1], "track": ["kl", "duality_gap"]}


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inproc_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


# ---- spec ------------------------------------------------------------------------------

def test_grid_is_the_product_of_the_list_values_in_spec_order():
    spec = parse_spec(SMALL)
    assert spec.axes == ("n", "beta", "method", "seed")
    assert len(spec.cells) == 16
    assert [c["seed"] for c in spec.cells[:2]] == [0, 1]  # last axis fastest
    assert spec.cells[0]["step"] == 2.0 and spec.cells[2]["step"] == pytest.approx(0.4)  # theorem steps
    assert spec.track == ("kl", "duality_gap") and spec.target == "kl"
    assert len({cell_hash(c) for c in spec.cells}) == 16


@pytest.mark.parametrize("change, key", [
    ({"colour": 3}, "colour"),
    ({"beta": -0.1}, "beta"),
    ({"beta": [0.1, "x"]}, "beta"),
    ({"beta": [0.1, 0.1]}, "beta"),
    ({"method": "nash-xx"}, "method"),
    ({"eta": -1.0}, "eta"),
    ({"eta": 20.0, "method": "egpo"}, "eta"),        # mirror-descent step needs ηβ ≤ 1
    ({"track": ["kl", "wins"]}, "track"),
    ({"track": "kl"}, "track"),
    ({"iterations": 1.5}, "iterations"),
    ({"iterations": -1}, "iterations"),
    ({"seed": -2}, "seed"),
    ({"beta": 0.0, "method": "mmd"}, "beta"),       # MMD needs β > 0
    ({"oracle": "sampled"}, "samples"),
    ({"gamma": 0.9}, "gamma"),                       # an MDP key on a preference family
    ({"n": 1}, "n"),
    ({"family": "random-graph"}, "family"),
    ({"target": "span"}, "target"),
    ({"refresh_every": 3}, "refresh_every"),         # an option nash-mp does not take
])
def test_bad_specs_are_refused_naming_the_key(change, key):
    with pytest.raises((ValueError, TypeError), match=key):
        parse_spec({**SMALL, **change})


def test_other_families_have_their_own_axes():
    spec = parse_spec({"family": "random-matrix", "m": 3, "n": [2, 4], "tau": 0.1, "method": "mmd",
                       "iterations": 5, "track": ["kl"]})
    assert len(spec.cells) == 2
    with pytest.raises(ValueError, match="beta"):
        parse_spec({"family": "random-matrix", "m": 3, "n": 2, "beta": 0.1, "method": "mmd",
                    "iterations": 5, "track": ["kl"]})
    mdp = parse_spec({"family": "garnet", "n_states": 5, "n_actions": 2, "gamma": [0.5, 0.9],
                      "method": "vi", "iterations": 5, "track": ["value_error"]})
    assert len(mdp.cells) == 2
    with pytest.raises(ValueError, match="uncertainty"):
        parse_spec({"family": "garnet", "n_states": 5, "uncertainty": "bogus:1", "method": "vi",
                    "iterations": 5, "track": ["value_error"]})


def test_mdp_track_is_checked_before_any_work():
    base = {"family": "garnet", "n_states": 5, "tau": 0.1, "method": "pmd", "eta": 0.5,
            "iterations": 5}
    assert len(parse_spec({**base, "track": ["value_error", "lan_potential"]}).cells) == 1
    with pytest.raises(ValueError, match="track.*log_policy_error"):
        parse_spec({**base, "track": ["value_error", "log_policy_error"]})


def test_matrix_mdp_and_robust_sweeps_run_with_their_local_rates(tmp_path, inproc_client):
    matrix = sweep({"family": "random-matrix", "m": 3, "n": [2, 4], "tau": 0.1,
                    "method": ["pu", "mmd"], "iterations": 40, "track": ["kl", "duality_gap"]},
                   client=inproc_client, out=tmp_path / "matrix", progress=False)
    assert len(matrix) == 4 * 41 and matrix["kl"].iloc[-1] < matrix["kl"].iloc[0]
    mdp = sweep({"family": "garnet", "n_states": 6, "gamma": [0.5, 0.9], "tau": 0.1,
                 "method": "vi", "iterations": 30, "track": ["value_error"]},
                client=inproc_client, out=tmp_path / "mdp", progress=False)
    _, summary, _ = load_results(tmp_path / "mdp")
    np.testing.assert_allclose(summary["local_rate"], summary["gamma"], rtol=1e-12)  # ρ(VI) = γ
    assert (mdp["queries"].iloc[:31] == np.arange(31)).all()
    robust = sweep({"family": "garnet", "n_states": 4, "uncertainty": "l1:0.1", "method": "vi",
                    "iterations": 10, "track": ["value_error"]},
                   client=inproc_client, out=tmp_path / "robust", progress=False)
    assert len(robust) == 11 and robust["local_rate"].isna().all()  # no local rate for robust
    radii = sweep({"family": "garnet", "n_states": 4, "uncertainty": "l1", "radius": [0.0, 0.1, 0.3],
                   "method": "vi", "iterations": 10, "track": ["value_error"]},
                  client=inproc_client, out=tmp_path / "radii", progress=False)
    pd.testing.assert_series_equal(radii[radii.radius == 0.1]["value_error"].reset_index(drop=True),
                                   robust["value_error"], check_names=False)  # = "l1:0.1"
    assert set(radii["radius"]) == {0.0, 0.1, 0.3} and set(radii["uncertainty"]) == {"l1"}
    for bad in ({"radius": 0.1, "uncertainty": "l1:0.1"}, {"radius": 0.1}, {"radius": -1.0, "uncertainty": "l1"}):
        with pytest.raises(ValueError, match="radius"):
            parse_spec({"family": "garnet", "n_states": 4, "method": "vi", "iterations": 5,
                        "track": ["value_error"], **bad})


def test_local_rate_column_is_the_exact_asymptotic_factor():
    cells = parse_spec({"family": "random", "n": 5, "beta": [0.1, 0.5], "iterations": 60,
                        "method": ["nash-mp", "omd", "nash-md", "hedge"], "track": ["kl"]}).cells
    rates = {(c["beta"], c["method"]): run_cell(c) for c in cells}
    for beta in (0.1, 0.5):
        for method in ("nash-mp", "omd"):  # the run's last ratios approach the local factor
            kl, local = rates[beta, method]["kl"], rates[beta, method]["local_rate"]
            k = np.flatnonzero(kl > 1e-25)[-1]
            assert kl[k] / kl[k - 1] == pytest.approx(local, rel=2e-2), (beta, method)
        # Nash-MP at η = 2 contracts KL by (1+2β)^-1 per query (2 per step): ρ² ≤ (1+2β)^-2
        assert 0 < rates[beta, "nash-mp"]["local_rate"] <= (1 + 2 * beta) ** -2 * (1 + 1e-12)
        assert np.isnan(rates[beta, "nash-md"]["local_rate"])  # a schedule: no constant map
        assert np.isnan(rates[beta, "hedge"]["local_rate"])  # no local rate (NO_LOCAL_RATE)


def test_run_cell_is_nashlab_run():
    import nashlab
    from nashlab import games

    cell = parse_spec({**SMALL, "n": 6, "beta": 0.1, "method": "nash-mp", "seed": 1}).cells[0]
    out = run_cell(cell)
    game = games.random_preference(6, beta=0.1, seed=np.random.default_rng(1))
    traj = nashlab.run(game, "nash-mp", eta=2.0, iterations=30, track=("kl", "duality_gap"))
    np.testing.assert_array_equal(out["kl"], traj["kl"])
    np.testing.assert_array_equal(out["queries"], traj["queries"])


def test_summary_reads_first_time_the_target_stays_below_eps():
    frame = pd.DataFrame({"iteration": np.arange(6), "queries": 2.0 * np.arange(6),
                          "kl": [1.0, 1e-3, 1e-1, 1e-3, 1e-5, 1e-7]})
    row = cell_summary(frame, "kl")
    assert row["iterations_to_1e-02"] == 3 and row["queries_to_1e-02"] == 6
    assert row["iterations_to_1e-04"] == 4 and row["iterations_to_1e-06"] == 5
    never = cell_summary(frame.assign(kl=[1.0] * 6), "kl")
    assert np.isnan(never["iterations_to_1e-02"]) and never["rate"] == pytest.approx(1.0)
    assert np.isnan(cell_summary(frame.assign(kl=[1.0] + [0.0] * 5), "kl")["rate"])  # < 2 points
    geometric = cell_summary(frame.assign(kl=0.5 ** np.arange(6)), "kl")
    assert geometric["rate"] == pytest.approx(0.5) and geometric["rate_per_query"] == pytest.approx(0.5 ** 0.5)


# ---- sweeps -----------------------------------------------------------------------------

def test_sweep_writes_tables_and_a_rerun_recomputes_nothing(tmp_path, inproc_client):
    df = sweep(SMALL, client=inproc_client, out=tmp_path, progress=False)
    assert len(df) == 16 * 31
    assert {"cell", "n", "beta", "method", "seed", "eta", "iteration", "queries", "kl", "duality_gap",
            "queries_to_1e-02", "queries_to_1e-04", "queries_to_1e-06", "rate",
            "local_rate"} <= set(df.columns)
    results, summary, spec = load_results(tmp_path)
    pd.testing.assert_frame_equal(results, df)
    assert len(summary) == 16 and list(summary["cell"]) == [cell_hash(c) for c in spec.cells]
    assert (tmp_path / "spec.toml").read_text() == spec.text
    nash_mp = summary[(summary.method == "nash-mp") & (summary.beta == 1.0)]
    assert (nash_mp["queries_to_1e-06"] <= 12).all()  # (1+2β)^{-N/2}·KL_0 ≤ 1e-6 within 12 queries
    cells = sorted((tmp_path / "cells").iterdir())
    stamps = [p.stat().st_mtime_ns for p in cells]
    before = _sha(tmp_path / "results.parquet")
    again = sweep(SMALL, client=object(), out=tmp_path, progress=False)  # a client it must not use
    pd.testing.assert_frame_equal(again, df)
    assert [p.stat().st_mtime_ns for p in cells] == stamps and _sha(tmp_path / "results.parquet") == before
    with pytest.raises(ValueError, match="another spec"):
        sweep({**SMALL, "iterations": 31}, client=object(), out=tmp_path, progress=False)


def _start(args, **kw):
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def test_localcluster_and_external_scheduler_give_identical_tables(tmp_path, inproc_client):
    from distributed import Client

    sweep(SMALL, client=inproc_client, out=tmp_path / "local", progress=False)

    dask = str(Path(sys.executable).parent / "dask")
    scheduler_file = tmp_path / "scheduler.json"
    procs = [_start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(scheduler_file)], cwd=tmp_path)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "dask scheduler did not start within 60 s"
        time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(_start([dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                 "--no-dashboard"], cwd=tmp_path))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            assert len(client.scheduler_info()["workers"]) == 2
            sweep(SMALL, client=client, out=tmp_path / "external", progress=False)
            workers_used = len({w for w in client.run(os.getpid).values()})
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
    assert workers_used == 2
    for name in ("results.parquet", "summary.parquet", "spec.toml"):
        assert _sha(tmp_path / "local" / name) == _sha(tmp_path / "external" / name), name


SLOW = {"family": "random", "n": 40, "beta": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], "seed": [0, 1],
        "method": "nash-mp", "iterations": 1500, "track": ["kl"], "backend": "numpy"}


def test_interrupted_and_resumed_sweep_equals_an_uninterrupted_one(tmp_path, inproc_client):
    from nashlab.experiments.spec import dump_toml

    spec_file = tmp_path / "slow.toml"
    spec_file.write_text(dump_toml(SLOW))
    out = tmp_path / "interrupted"
    cells = out / "cells"
    proc = subprocess.Popen([sys.executable, "-m", "nashlab", "sweep", str(spec_file), "--out", str(out),
                             "--workers", "1", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240  # generous: the cluster starts slowly on a loaded machine
        while time.monotonic() < deadline and proc.poll() is None:
            if cells.exists() and len(list(cells.glob("*.parquet"))) >= 3:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = len(list(cells.glob("*.parquet")))
    assert proc.returncode == 130, err
    assert "interrupted" in err and 3 <= kept < 12 and not (out / "results.parquet").exists()
    assert len(err.strip().splitlines()) == 1, err  # one line, no log of the cancelled tasks
    assert not list(cells.glob(".*.tmp"))  # no half-written cell
    resumed = sweep(spec_file, client=inproc_client, out=out, resume=True, progress=False)
    whole = sweep(spec_file, client=inproc_client, out=tmp_path / "whole", progress=False)
    pd.testing.assert_frame_equal(resumed, whole)
    for name in ("results.parquet", "summary.parquet"):
        assert _sha(out / name) == _sha(tmp_path / "whole" / name), name


def test_import_nashlab_does_not_import_dask():
    code = ("import sys, nashlab, nashlab.experiments, nashlab.cli.sweep; "
            "assert not any(m.split('.')[0] in ('dask', 'distributed', 'pandas', 'pyarrow') "
            "for m in sys.modules), sorted(m for m in sys.modules if 'dask' in m or 'pandas' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_sweep_user_errors_are_one_line(tmp_path, capsys):
    from nashlab.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('family = "random"\nn = 4\nmethod = "nash-mp"\niterations = 3\ntrack = ["kl"]\nbeta = -1\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "beta" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert main(["sweep", "--resume"]) == 2


def test_plot_draws_the_standard_figures(tmp_path, inproc_client):
    from nashlab.cli import main

    spec = {**SMALL, "n": [4, 6], "beta": [0.1, 1.0], "eta": [0.2, 0.5], "method": ["nash-mp", "omd"],
            "seed": [0, 1], "iterations": 20}
    sweep(spec, client=inproc_client, out=tmp_path, progress=False)
    assert main(["plot", str(tmp_path)]) == 0
    names = {p.name for p in (tmp_path / "figures").iterdir()}
    for stem in ("kl_vs_iterations", "kl_vs_queries", "duality_gap_vs_queries", "queries_to_eps_vs_beta",
                 "queries_to_eps_vs_n", "heatmap_beta_eta"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem
    assert (tmp_path / "figures" / "kl_vs_queries.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from nashlab.experiments.plots import _curves, _pyplot

    plt = _pyplot()
    results, _, loaded = load_results(tmp_path)
    fig = _curves(plt, results, loaded, "kl", "queries")
    for ax in fig.axes:  # every log axis is labelled, also a wide one (~15 decades here)
        if ax.get_visible():
            low, high = ax.get_ylim()
            ticks = [t for t in ax.yaxis.get_majorticklocs() if low <= t <= high]
            assert len(ticks) >= 2, (ax.get_title(), low, high)
    assert max(np.log10(h / lo) for lo, h in (a.get_ylim() for a in fig.axes if a.get_visible())) > 8
    plt.close(fig)
    assert main(["plot", str(tmp_path / "nothing")]) == 2
