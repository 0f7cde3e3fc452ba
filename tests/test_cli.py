"""The command line: `lstmkit train` on the shipped data, predict, datasets, gradcheck, and every bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.cli import main
from lstmkit.forecast import ForecastConfig, train_forecaster


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_defaults_beat_both_baselines(default_run):
    metrics = json.loads((default_run / "metrics.json").read_text())
    assert metrics["test_points"] == 36
    assert metrics["test_rmse"] < metrics["baseline_rmse"]
    assert metrics["test_rmse"] < metrics["persistence_rmse"]
    assert metrics["baseline_rmse"] == pytest.approx(41.98, abs=0.01)    # seasonal naive on 1958-01 .. 1960-12
    for name in ("model.lstmkit", "forecast.png", "history.png"):
        assert (default_run / name).stat().st_size > 1000
    assert (default_run / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saved_model_reproduces_the_test_forecast(default_run):
    """The model file alone (weights + stored transform) reproduces the run's forecast of the first test value."""
    from lstmkit.forecast import Transform, forecast
    model = lk.load(default_run / "model.lstmkit")
    meta = model.metadata
    series = lk.data.load_dataset("airline-passengers")
    transform = Transform.from_dict(meta["transform"])
    first = forecast(model, transform, meta["config"]["window"], series.values[:108], 1)[0]
    run = train_forecaster(ForecastConfig(), verbose=False)
    assert first == pytest.approx(run.test_forecast[0], rel=1e-6)


def test_same_seed_same_run_different_seed_different():
    a = train_forecaster(ForecastConfig(epochs=5), verbose=False)
    b = train_forecaster(ForecastConfig(epochs=5), verbose=False)
    c = train_forecaster(ForecastConfig(epochs=5, seed=1), verbose=False)
    assert np.array_equal(a.test_forecast, b.test_forecast)
    assert not np.array_equal(a.test_forecast, c.test_forecast)


@pytest.mark.parametrize("options", [["--cell", "gru", "--horizon", "3"],
                                     ["--cell", "rnn", "--layers", "2", "--bidirectional", "--no-log",
                                      "--season", "0", "--window", "6"]])
def test_train_options(tmp_path, options):
    assert main(["train", "--out", str(tmp_path), "--quiet", "--epochs", "3", *options]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert np.isfinite(metrics["test_rmse"]) and metrics["epochs_run"] == 3


def test_train_on_a_user_csv_with_gaps(tmp_path, capsys):
    y = 100 + 10 * np.sin(np.arange(120) * 2 * np.pi / 12) + np.arange(120)
    rows = [f"2000-{i:03d},{'' if i == 50 else f'{v:.3f}'},{i % 7}" for i, v in enumerate(y)]
    csv = tmp_path / "s.csv"
    csv.write_text("when,sales,other\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--column", "sales", "--fill", "interpolate", "--test-size", "24",
                 "--epochs", "20", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "metrics.json").read_text())["column"] == "sales"
    assert main(["predict", "--model", str(out / "model.lstmkit"), "--data", str(csv), "--column", "sales",
                 "--fill", "interpolate", "--steps", "5", "--output", str(tmp_path / "f.csv")]) == 0
    lines = (tmp_path / "f.csv").read_text().splitlines()
    assert lines[0] == "step,sales" and len(lines) == 6


def test_predict_prints_forecasts(default_run, capsys):
    assert main(["predict", "--model", str(default_run / "model.lstmkit"), "--steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "t+4" in out and "t+5" not in out


def test_datasets_and_gradcheck_commands(capsys):
    assert main(["datasets"]) == 0
    assert "airline-passengers" in capsys.readouterr().out
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "LSTM" in out and "GRU" in out and "FAILED" not in out


def test_entry_point_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "lstmkit.cli", "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--cell {lstm,gru,rnn}" in done.stdout


def _bad_files(tmp_path):
    files = {
        "empty": b"",
        "binary": bytes(range(256)) * 4,
        "non-numeric": b"date,value\n2000-01,1\n2000-02,abc\n2000-03,3\n",
        "nan": b"date,value\n" + b"".join(b"2000-%02d,%s\n" % (i, b"nan" if i == 5 else b"1")
                                         for i in range(1, 100)),
        "inf": b"date,value\n" + b"".join(b"2000-%02d,%s\n" % (i, b"inf" if i == 5 else b"1")
                                         for i in range(1, 100)),
        "too-short": b"date,value\n2000-01,1\n2000-02,2\n2000-03,3\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_bytes(content)
    return paths


@pytest.mark.parametrize("case, fragment", [
    ("empty", "empty"), ("binary", "binary"), ("non-numeric", "abc"), ("nan", "interpolate"),
    ("inf", "interpolate"), ("too-short", "too short"), ("missing", "no such file"), ("column", "available"),
    ("option", "must be at least 1")])
def test_bad_input_is_one_clear_line(tmp_path, capsys, case, fragment):
    paths = _bad_files(tmp_path)
    args = {"missing": ["--data", str(tmp_path / "nope.csv")],
            "column": ["--column", "NoSuchColumn"],
            "option": ["--window", "0"]}.get(case, ["--data", str(paths.get(case, ""))])
    assert main(["train", "--out", str(tmp_path / "run"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert fragment in err.lower() if fragment.islower() else fragment in err


def test_bad_model_file_for_predict(tmp_path, capsys):
    bad = tmp_path / "m.lstmkit"
    bad.write_bytes(b"\x00" * 64)
    assert main(["predict", "--model", str(bad)]) == 2
    assert "not a readable model file" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        main(["--debug", "train", "--data", str(tmp_path / "nope.csv")])


def test_api_raises_the_same_message_as_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        train_forecaster(ForecastConfig(data=str(tmp_path / "nope.csv")), verbose=False)
    with pytest.raises(ValueError, match="--no-log"):
        train_forecaster(ForecastConfig(), series=lk.data.Series(np.linspace(-1, 1, 144), None, "v", "test"),
                         verbose=False)


def test_bench_times_both_libraries(capsys):
    """`lstmkit bench` on a tiny shape: a row per pass with both times (PyTorch is in the test extras)."""
    assert main(["bench", "--cells", "lstm", "--shape", "2x3x4x5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "2x3x4x5" in line]
    assert len(rows) == 2 and "forward" in rows[0] and "train" in rows[1]
    assert "GFLOP/s" in out


def test_bench_rows_hold_the_ratio():
    from lstmkit import bench
    rows, machine = bench.run([(2, 3, 4, 5)], cells=("gru",), repeats=2, warmup=1, settle=0.0)
    assert [row["pass"] for row in rows] == ["forward", "train"]
    for row in rows:
        assert row["ratio"] == pytest.approx(row["lstmkit_ms"] / row["torch_ms"])
        assert row["lstmkit_ms"] > 0 and row["gemm_fraction"] > 0
    assert rows[1]["peak_mb"] > 0 and machine["lstmkit_threads"] >= 1


@pytest.mark.parametrize("args, fragment", [(["--shape", "2x3x4"], "BxTxIxH"), (["--cells", "lstm,tcn"], "tcn")])
def test_bench_refuses_bad_options(capsys, args, fragment):
    assert main(["bench", "--repeats", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_step_cost_is_the_marginal_cost_of_a_step():
    from lstmkit import bench
    forward, train = bench.step_cost("gru", H=4, T=400, repeats=5)   # T=50 let the noise of a call's fixed cost
    assert 0 < forward < 1000 and 0 < train < 1000             # (0.1-0.4 ms) outweigh 49 steps: it came out < 0
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        bench.step_cost("tcn")
