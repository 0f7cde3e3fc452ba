"""Forecast scores against hand-computed values, and the baselines (naive, seasonal naive, statsforecast)."""

import sys

import numpy as np
import pytest

from lstmkit.apps.forecasting.baselines import PUBLISHED, naive, seasonal_naive, statsforecast_methods
from lstmkit.apps.forecasting.scores import (coverage, mase, msis, score_table, seasonal_scale, smape, smape_by_step,
                                             zero_scale)

# Two series of different lengths; series 2 starts with a 0/0 term.
TRUTHS = [np.array([1.0, 2.0]), np.array([0.0, 4.0, 3.0])]
FORECASTS = [np.array([3.0, 2.0]), np.array([0.0, 2.0, 3.0])]
# terms: series 1: 200*|1-3|/(1+3) = 100, 200*0/4 = 0; series 2: 0/0 -> 0, 200*|4-2|/(4+2) = 200/3, 0


def test_smape_hand_computed():
    assert smape(TRUTHS, FORECASTS) == pytest.approx((100 + 0 + 0 + 200 / 3 + 0) / 5)   # = 100/3


def test_smape_by_step_hand_computed():
    got = smape_by_step(TRUTHS, FORECASTS, horizon=4)
    # step 1: (100 + 0)/2, step 2: (0 + 200/3)/2, step 3: series 2 only, 0, step 4: no series reaches it
    np.testing.assert_allclose(got[:3], [50.0, 100 / 3, 0.0])
    assert got.shape == (4,) and np.isnan(got[3])


def test_mase_hand_computed_with_a_constant_history():
    histories = [np.array([1.0, 3.0, 2.0, 4.0]), np.array([5.0, 5.0, 5.0]), np.array([0.0, 4.0])]
    truths = [np.array([5.0, 6.0]), np.array([5.0]), np.array([6.0])]
    forecasts = [np.array([4.0, 4.0]), np.array([7.0]), np.array([4.0])]
    # series 1: m = 2 (4 values > season 2): scale = (|2-1| + |4-3|)/2 = 1; mae = (1 + 2)/2 = 1.5 -> 1.5
    # series 2: constant history, scale 0 -> left out (and counted in the warning)
    # series 3: 2 values, not longer than season 2, so m = 1: scale = |4-0| = 4; mae = 2 -> 0.5
    np.testing.assert_allclose(seasonal_scale(histories, 2), [1.0, 0.0, 4.0])
    assert zero_scale(histories, 2).tolist() == [False, True, False]
    with pytest.warns(RuntimeWarning, match="1 of 3 series have a zero in-sample scale"):
        assert mase(truths, forecasts, histories, season=2) == pytest.approx((1.5 + 0.5) / 2)
    with pytest.warns(RuntimeWarning):
        assert np.isnan(mase(truths[1:2], forecasts[1:2], histories[1:2], season=2))


# Intervals on two series: series 1 misses below at step 3, series 2 misses above.
LOWS = [np.array([0.0, 2.0, 4.0]), np.array([9.0])]
HIGHS = [np.array([2.0, 2.0, 5.0]), np.array([11.0])]
Y_INT = [np.array([1.0, 2.0, 3.0]), np.array([12.0])]
H_INT = [np.array([1.0, 3.0, 2.0, 4.0]), np.array([0.0, 4.0])]   # scales 1 (m = 2) and 4 (m = 1), season 2


def test_coverage_hand_computed():
    # 1 in [0, 2] yes, 2 in [2, 2] yes (bounds count as inside), 3 in [4, 5] no, 12 in [9, 11] no
    assert coverage(Y_INT, LOWS, HIGHS) == 0.5


def test_msis_hand_computed():
    # 2/alpha = 40. series 1: widths 2, 0, 1, miss 40*(4-3) = 40 at step 3: (2 + 0 + 41)/3 / scale 1 = 43/3
    # series 2: width 2 + 40*(12-11) = 42, / scale 4 = 10.5
    assert msis(Y_INT, LOWS, HIGHS, H_INT, season=2, alpha=0.05) == pytest.approx((43 / 3 + 10.5) / 2)
    # alpha = 0.2 (80% interval): 2/alpha = 10: series 1 (2 + 0 + 11)/3 = 13/3; series 2 (2 + 10)/4 = 3
    assert msis(Y_INT, LOWS, HIGHS, H_INT, season=2, alpha=0.2) == pytest.approx((13 / 3 + 3) / 2)


def test_score_table_collects_the_scores():
    f = [np.array([1.0, 2.0, 4.0]), np.array([10.0])]
    methods = {"with_intervals": {"forecast": f, "lo_95": LOWS, "hi_95": HIGHS},
               "point": {"forecast": f}}
    table = score_table(Y_INT, H_INT, season=2, horizon=3, methods=methods)
    row = table["with_intervals"]
    assert set(row) == {"smape", "mase", "smape_by_step", "coverage_95", "msis_95"}
    assert set(table["point"]) == {"smape", "mase", "smape_by_step"}
    assert row["smape"] == smape(Y_INT, f) and row["mase"] == mase(Y_INT, f, H_INT, 2)
    assert row["coverage_95"] == 0.5 and row["msis_95"] == pytest.approx((43 / 3 + 10.5) / 2)
    assert isinstance(row["smape_by_step"], list) and len(row["smape_by_step"]) == 3
    with pytest.raises(ValueError, match="only one of lo_80 / hi_80"):
        score_table(Y_INT, H_INT, 2, 3, {"m": {"forecast": f, "lo_80": LOWS}})


def test_scores_name_the_bad_argument():
    with pytest.raises(ValueError, match=r"forecasts\[1\] has 2 values, truths\[1\] has 3"):
        smape(TRUTHS, [FORECASTS[0], FORECASTS[1][:2]])
    with pytest.raises(ValueError, match="forecasts has 1 series, truths has 2"):
        smape(TRUTHS, FORECASTS[:1])
    with pytest.raises(ValueError, match="single 1-D array"):
        smape(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"lows\[0\] exceeds highs\[0\] at step 0"):
        coverage(Y_INT, HIGHS, LOWS)


def test_naive_and_seasonal_naive():
    histories = [np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([7.0])]
    assert [f.tolist() for f in naive(histories, 2)] == [[5.0, 5.0], [7.0, 7.0]]
    got = seasonal_naive(histories, 5, season=2)
    assert got[0].tolist() == [4.0, 5.0, 4.0, 5.0, 4.0]   # the last season (4, 5) repeated
    assert got[1].tolist() == [7.0] * 5                   # shorter than a season: naive
    assert seasonal_naive(histories, 4, season=3)[0].tolist() == [3.0, 4.0, 5.0, 3.0]
    assert seasonal_naive(histories, 2, season=1)[0].tolist() == [5.0, 5.0]


def test_published_figures_carry_their_source():
    assert PUBLISHED["monthly"]["Theta"]["smape"] == 13.85 and PUBLISHED["all"]["N-BEATS"]["smape"] == 12.37
    assert all(set(m) == {"smape", "source"} and m["source"] for c in PUBLISHED.values() for m in c.values())


def test_statsforecast_theta_beats_naive_on_a_trending_seasonal_series():
    pytest.importorskip("statsforecast")
    rng = np.random.default_rng(0)
    t = np.arange(60)
    series = [100 + 0.5 * t + (20 + 5 * k) * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 60) for k in range(3)]
    histories, truths = [s[:48] for s in series], [s[48:] for s in series]
    got = statsforecast_methods(histories, 12, 12, methods=("Theta", "AutoETS"))
    assert set(got) == {"Theta", "AutoETS"}
    assert all(len(fc) == 3 and all(f.shape == (12,) for f in fc) for fc in got.values())
    # Theta keeps the season (unlike naive) and the trend (unlike seasonal naive): sMAPE about 2.4, 5.0, 14.7
    theta, snaive = smape(truths, got["Theta"]), smape(truths, seasonal_naive(histories, 12, 12))
    assert theta < snaive < smape(truths, naive(histories, 12))


def test_statsforecast_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast", None)
    with pytest.raises(ImportError, match="pip install statsforecast"):
        statsforecast_methods([np.arange(1.0, 30.0)], 6, 12)
