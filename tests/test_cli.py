"""The command line: `lstmkit train` on the shipped data, predict, datasets, gradcheck, and every bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.cli import main
from lstmkit.apps.forecast import ForecastConfig, train_forecaster


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
    from lstmkit.apps.forecast import Transform, forecast
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
    assert "1961-04" in out and "1961-05" not in out


def test_predict_output_is_a_csv_of_plain_numbers_labelled_by_date(default_run, tmp_path):
    out = tmp_path / "f.csv"
    assert main(["predict", "--model", str(default_run / "model.lstmkit"), "--steps", "14", "--output", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "date", "Passengers"]
    assert [r[1] for r in rows[1:]] == [f"1961-{m:02d}" for m in range(1, 13)] + ["1962-01", "1962-02"]
    values = [float(r[2]) for r in rows[1:]]                # a repr like np.float64(...) would not parse
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 15)) and all(300 < v < 900 for v in values)


def test_predict_finds_the_training_file_from_another_directory(tmp_path, monkeypatch, capsys):
    y = 100 + 10 * np.sin(np.arange(96) * 2 * np.pi / 12) + np.arange(96)
    (tmp_path / "s.csv").write_text("date,v\n" + "".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{v:.3f}\n"
                                                         for i, v in enumerate(y)))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "s.csv", "--test-size", "12", "--epochs", "2", "--out", "run", "--quiet"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    model = str(tmp_path / "run" / "model.lstmkit")
    assert main(["predict", "--model", model, "--steps", "2"]) == 0
    assert "2008-02" in capsys.readouterr().out
    (tmp_path / "s.csv").unlink()
    assert main(["predict", "--model", model]) == 2
    assert "pass the series with --data" in capsys.readouterr().err


def test_resume_says_when_the_run_had_already_ended(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--quiet", "--epochs", "60", "--patience", "1"]) == 0
    assert "early stopping: no improvement in 1 epochs" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert "had already stopped early after epoch" in capsys.readouterr().out
    full = tmp_path / "full"
    assert main(["train", "--out", str(full), "--quiet", "--epochs", "2"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(full), "--quiet"]) == 0
    assert "has already run all 2 epochs" in capsys.readouterr().out
    assert main(["train", "--resume", str(full), "--quiet", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "resuming the run in" in out and "after epoch 2 of 3" in out


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
    with pytest.raises(ValueError, match="--no-log"):                  # log forced on; auto would take no log
        train_forecaster(ForecastConfig(log=True),
                         series=lk.data.Series(np.linspace(-1, 1, 144), None, "v", "test"), verbose=False)


def test_bench_times_both_libraries(capsys):
    """`lstmkit bench` on a tiny shape: a row per pass with both times (PyTorch is in the test extras)."""
    assert main(["bench", "--cells", "lstm", "--shape", "2x3x4x5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "2x3x4x5" in line]
    assert len(rows) == 2 and "forward" in rows[0] and "train" in rows[1]
    assert "GFLOP/s" in out


def test_bench_reports_each_case_as_it_starts():
    from lstmkit.apps import bench
    started = []
    rows, machine = bench.run([(2, 3, 4, 5), (1, 2, 3, 4)], cells=("gru",), repeats=1, warmup=0, settle=0.0,
                              on_case=started.append)
    assert started == ["GRU 2x3x4x5 forward", "GRU 2x3x4x5 train", "GRU 1x2x3x4 forward", "GRU 1x2x3x4 train"]
    assert [(row["shape"], row["pass"]) for row in rows] == [((2, 3, 4, 5), "forward"), ((2, 3, 4, 5), "train"),
                                                             ((1, 2, 3, 4), "forward"), ((1, 2, 3, 4), "train")]
    assert rows[1]["peak_mb"] > 0 and machine["lstmkit_threads"] >= 1


@pytest.mark.parametrize("args, fragment", [(["--shape", "2x3x4"], "BxTxIxH"), (["--cells", "lstm,tcn"], "tcn")])
def test_bench_refuses_bad_options(capsys, args, fragment):
    assert main(["bench", "--repeats", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_step_cost_refuses_an_unknown_cell():
    from lstmkit.apps import bench                                  # its timings are benchmarks, not tests
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        bench.step_cost("tcn")
