"""`lstmkit train` with its "auto" defaults: log only for positive series, the season from the dates or the
autocorrelation, and test/validation/window sizes that fit short series; the chosen values are printed, saved,
and used again by --resume and `lstmkit predict`."""

import json

import numpy as np
import pytest

import lstmkit as lk
from lstmkit.cli import main
from lstmkit.apps.forecast import ForecastConfig, resolve_config, season_from_acf

FAST = ["--epochs", "2", "--hidden", "4", "--quiet"]


def _write(path, values, dates=None):
    lines = ["date,value" if dates else "value"]
    lines += [f"{d},{v:.4f}" if dates else f"{v:.4f}" for d, v in zip(dates or values, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _monthly(n, start=2000):
    return [f"{start + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def _train(tmp_path, capsys, csv, *options):
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--out", str(out), *FAST, *options]) == 0
    printed = capsys.readouterr().out
    settings = next(line for line in printed.splitlines() if line.startswith("log: "))
    return out, settings, json.loads((out / "metrics.json").read_text())


def test_a_series_with_zeros_runs_without_log(tmp_path, capsys):
    t = np.arange(120)
    y = np.maximum(0.0, 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, 120))
    csv = _write(tmp_path / "zeros.csv", y, _monthly(120))
    out, settings, metrics = _train(tmp_path, capsys, csv, "--log", "auto", "--season", "auto")
    assert settings.startswith("log: no (") and "values <= 0" in settings
    assert "season: 12 (monthly dates)" in settings
    assert metrics["config"]["log"] is False and metrics["config"]["season"] == 12
    assert metrics["settings"] == settings and np.isfinite(metrics["test_rmse"])
    saved = json.loads((out / "config.json").read_text())
    assert (saved["log"], saved["season"], saved["test_size"], saved["val_size"], saved["window"]) == \
        (False, 12, 30, 12, 12)
    assert lk.load(out / "model.lstmkit").metadata["transform"]["log"] is False


def test_a_series_with_negative_values_runs_by_default(tmp_path, capsys):
    y = np.cumsum(np.random.default_rng(1).normal(0, 1, 100)) - 20
    assert y.min() < 0
    out, settings, metrics = _train(tmp_path, capsys, _write(tmp_path / "neg.csv", y))
    assert settings.startswith("log: no (") and metrics["config"]["log"] is False
    assert np.isfinite(metrics["test_rmse"])


def test_forcing_log_on_a_series_with_zeros_is_one_clear_line(tmp_path, capsys):
    csv = _write(tmp_path / "zeros.csv", np.r_[np.zeros(3), np.arange(1.0, 98.0)])
    assert main(["train", "--data", str(csv), "--out", str(tmp_path / "run"), "--log", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "3 values <= 0" in err and "--no-log" in err


@pytest.mark.parametrize("n", [40, 25])
def test_a_short_yearly_series_runs_with_season_0_and_smaller_sizes(tmp_path, capsys, n):
    y = 50 + np.cumsum(np.random.default_rng(2).normal(1, 3, n))
    csv = _write(tmp_path / "yearly.csv", y, [str(1980 + i) for i in range(n)])
    out, settings, metrics = _train(tmp_path, capsys, csv)
    assert "season: 0 (yearly dates)" in settings and "log: yes (all values > 0)" in settings
    cfg = metrics["config"]
    assert cfg["season"] == 0 and cfg["test_size"] == n // 4 and cfg["val_size"] == n // 8
    assert metrics["test_points"] == n // 4 and np.isfinite(metrics["test_rmse"])
    assert cfg["window"] == min(12, (n - n // 4 - n // 8 - 1) // 2)


def test_a_series_too_short_even_for_the_adapted_sizes_names_the_options_to_lower(tmp_path, capsys):
    csv = _write(tmp_path / "yearly.csv", np.arange(1.0, 19.0), [str(1980 + i) for i in range(18)])
    assert main(["train", "--data", str(csv), "--out", str(tmp_path / "run"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too short" in err and "--test-size" in err and "--window" in err


def test_a_monthly_csv_without_dates_takes_its_season_from_the_autocorrelation(tmp_path, capsys):
    t = np.arange(120)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + t + np.random.default_rng(3).normal(0, 2, 120)
    out, settings, metrics = _train(tmp_path, capsys, _write(tmp_path / "nodates.csv", y))
    assert "season: 12 (autocorrelation" in settings and "at lag 12)" in settings
    assert metrics["config"]["season"] == 12 and metrics["config"]["log"] is True


def test_quarterly_dates_give_season_4(tmp_path, capsys):
    t = np.arange(60)
    y = 20 + 3 * np.sin(2 * np.pi * t / 4) + 0.2 * t
    dates = [f"{2000 + i // 4}-{3 * (i % 4) + 1:02d}-01" for i in range(60)]
    out, settings, metrics = _train(tmp_path, capsys, _write(tmp_path / "q.csv", y, dates))
    assert "season: 4 (quarterly dates)" in settings and metrics["config"]["season"] == 4


@pytest.mark.parametrize("step, days, season", [("weekly", 7, 52), ("daily", 1, 7)])
def test_weekly_and_daily_dates(step, days, season):
    from datetime import date, timedelta
    dates = [(date(2020, 1, 6) + timedelta(days=days * i)).isoformat() for i in range(220)]
    chosen = resolve_config(ForecastConfig(), lk.data.Series(np.arange(1.0, 221.0), dates, "v", "t"))
    assert chosen.config.season == season and f"({step} dates)" in chosen.summary


def test_weekly_dates_too_short_for_three_seasons_turn_the_season_off():
    from datetime import date, timedelta
    dates = [(date(2020, 1, 6) + timedelta(days=7 * i)).isoformat() for i in range(120)]
    chosen = resolve_config(ForecastConfig(), lk.data.Series(np.arange(1.0, 121.0), dates, "v", "t"))
    assert chosen.config.season == 0 and "fewer than 3 seasons of 52" in chosen.summary


def test_the_airline_series_keeps_its_old_defaults():
    series = lk.data.load_dataset("airline-passengers")
    chosen = resolve_config(ForecastConfig(), series)
    c = chosen.config
    assert (c.log, c.season, c.test_size, c.val_size, c.window) == (True, 12, 36, 12, 12)
    assert chosen.summary.startswith("log: yes (all values > 0); season: 12 (monthly dates)")
    undated = lk.data.Series(series.values, None, "v", "t")               # its autocorrelation says 12 as well
    assert resolve_config(ForecastConfig(), undated).config.season == 12


def test_the_autocorrelation_finds_no_season_in_noise():
    rng = np.random.default_rng(4)
    found = [season_from_acf(rng.normal(size=120))[0] for _ in range(50)]
    assert sum(s > 0 for s in found) <= 5                               # a 10% test over all lags together
    assert season_from_acf(np.arange(50.0))[0] == 0                     # a straight line: nothing left
    t = np.arange(200)
    assert season_from_acf(np.sin(2 * np.pi * t / 7) + 0.3 * rng.normal(size=200))[0] == 7


def test_given_values_win_over_auto_and_old_flags_still_work(tmp_path, capsys):
    t = np.arange(120)
    csv = _write(tmp_path / "s.csv", 50 + 10 * np.sin(2 * np.pi * t / 12) + t, _monthly(120))
    for flags, log, season in [(["--no-log"], False, 12), (["--log", "no", "--season", "6"], False, 6),
                               (["--log", "--season", "0"], True, 0), (["--log", "yes"], True, 12)]:
        out, settings, metrics = _train(tmp_path, capsys, csv, "--test-size", "24", *flags)
        assert (metrics["config"]["log"], metrics["config"]["season"]) == (log, season)
        assert metrics["config"]["test_size"] == 24
        assert f"season: {season} (" in settings and "(val_size, window chosen for 120 values)" in settings


@pytest.mark.parametrize("flags", [["--log", "maybe"], ["--season", "twelve"]])
def test_bad_auto_options_are_refused(tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as info:
        main(["train", "--out", str(tmp_path / "run"), *flags])
    assert info.value.code == 2
    assert "auto" in capsys.readouterr().err


def test_resume_and_predict_use_the_chosen_settings(tmp_path, capsys):
    t = np.arange(120)
    y = np.maximum(0.0, 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(5).normal(0, 1, 120))
    csv = _write(tmp_path / "zeros.csv", y, _monthly(120))
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--out", str(out), "--checkpoint-every", "1", *FAST]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "after epoch 2 of 3" in printed and "log: no (given); season: 12 (given)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and metrics["config"]["log"] is False
    assert main(["predict", "--model", str(out / "model.lstmkit"), "--steps", "3",
                 "--output", str(tmp_path / "f.csv")]) == 0
    lines = (tmp_path / "f.csv").read_text().splitlines()
    assert lines[0] == "step,date,value" and lines[1].startswith("1,2010-01,")


def test_the_python_api_takes_auto_and_rejects_other_words():
    ForecastConfig(log="auto", season="auto", window="auto").validate()
    with pytest.raises(ValueError, match="log must be True or False"):
        ForecastConfig(log="yes").validate()
    with pytest.raises(ValueError, match=r"season must be an integer \(or 'auto'\)"):
        ForecastConfig(season="12").validate()
    with pytest.raises(ValueError, match="epochs must be an integer, got 'auto'"):
        ForecastConfig(epochs="auto").validate()
