"""Scores of forecasts over many series: the M3 sMAPE (Makridakis & Hibon 2000), MASE (Hyndman & Koehler 2006),
interval coverage and the M4 mean scaled interval score (MSIS, Makridakis et al. 2020; Gneiting & Raftery 2007).

Every function takes lists with one 1-D array per series: truths y (the test values), forecasts f (or interval
bounds lo, hi) of the same length as that series' truth, and, where scaled, histories x (the training values).
Series may differ in length. With N series, series i has h_i <= horizon test steps:

    sMAPE = 1/sum_i h_i * sum_i sum_t 200 |y_it - f_it| / (|y_it| + |f_it|)        (a 0/0 term counts 0)
    scale_i = 1/(n_i - m) * sum_{t>m} |x_it - x_i,t-m|    m = season if n_i > season else 1 (n_i = len(x_i))
    MASE = mean_i [ 1/h_i sum_t |y_it - f_it| / scale_i ]
    MSIS = mean_i [ 1/h_i sum_t ((hi - lo) + 2/alpha (lo - y) 1{y < lo} + 2/alpha (y - hi) 1{y > hi}) / scale_i ]

sMAPE pools every (series, step) term, as the M3 and N-BEATS tables do, so a longer series weighs more. MASE and
MSIS average per-series means. A series with scale_i = 0 (a constant history, or one value) has no finite scaled
error: it is left out of the MASE and MSIS means with a RuntimeWarning that counts it (`zero_scale` says which).
"""

import warnings

import numpy as np


def _series(name, values):
    """values as a list of 1-D float64 arrays, or a ValueError that names the argument."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype != object:
        raise ValueError(f"{name} must be a list with one 1-D array per series, got a single 1-D array of shape "
                         f"{values.shape}; wrap one series as [array]")
    out = []
    for k, v in enumerate(values):
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(f"{name}[{k}] must be a 1-D array, got shape {v.shape}")
        out.append(v)
    return out


def _matched(truths, **others):
    """truths and each list in others, checked to have the same number of series and per-series lengths."""
    y = _series("truths", truths)
    out = [y]
    for name, values in others.items():
        v = _series(name, values)
        if len(v) != len(y):
            raise ValueError(f"{name} has {len(v)} series, truths has {len(y)}; pass one array per series")
        for k, (a, b) in enumerate(zip(y, v)):
            if len(a) != len(b):
                raise ValueError(f"{name}[{k}] has {len(b)} values, truths[{k}] has {len(a)}; give each series "
                                 f"as many values as its truth (e.g. {name}[{k}][:len(truths[{k}])])")
        out.append(v)
    return out


def _smape_terms(y, f):
    """200 |y - f| / (|y| + |f|) per step; 0 where y = f = 0."""
    num, den = 200.0 * np.abs(y - f), np.abs(y) + np.abs(f)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def smape(truths, forecasts):
    """M3 symmetric MAPE in percent (0 to 200): the mean over all series and steps of 200|y-f|/(|y|+|f|)."""
    y, f = _matched(truths, forecasts=forecasts)
    terms = np.concatenate([_smape_terms(a, b) for a, b in zip(y, f)] + [np.zeros(0)])
    if terms.size == 0:
        raise ValueError("smape needs at least one test value; truths is empty")
    return float(terms.mean())


def smape_by_step(truths, forecasts, horizon):
    """(horizon,) sMAPE of step 1, 2, ... horizon, each over the series that reach it (NaN for a step none reaches)."""
    y, f = _matched(truths, forecasts=forecasts)
    total, count = np.zeros(horizon), np.zeros(horizon)
    for k, (a, b) in enumerate(zip(y, f)):
        if len(a) > horizon:
            raise ValueError(f"truths[{k}] has {len(a)} steps, more than horizon={horizon}; pass the longest "
                             "test length as horizon")
        total[:len(a)] += _smape_terms(a, b)
        count[:len(a)] += 1
    with np.errstate(invalid="ignore"):
        return total / count   # 0/0 -> NaN where no series reaches the step


def seasonal_scale(histories, season):
    """(N,) in-sample mean absolute seasonal difference of each history: scale_i of the module docstring (0 for a
    history of one value)."""
    x = _series("histories", histories)
    scale = np.zeros(len(x))
    for k, xk in enumerate(x):
        m = season if 1 <= season < len(xk) else 1
        if len(xk) > m:
            scale[k] = np.mean(np.abs(xk[m:] - xk[:-m]))
    return scale


def zero_scale(histories, season):
    """(N,) bool, True for the series MASE and MSIS leave out: those whose seasonal_scale is 0."""
    return seasonal_scale(histories, season) == 0


def _scaled_mean(per_series, scale, what):
    """mean over series of per_series / scale, leaving out zero scales (with a warning that counts them)."""
    keep = scale > 0
    skipped = int(np.sum(~keep))
    if skipped:
        warnings.warn(f"{what}: {skipped} of {len(scale)} series have a zero in-sample scale (a constant history) "
                      "and are left out of the mean", RuntimeWarning, stacklevel=3)
    if not keep.any():
        return float("nan")
    return float(np.mean(per_series[keep] / scale[keep]))


def _check_histories(histories, n):
    x = _series("histories", histories)
    if len(x) != n:
        raise ValueError(f"histories has {len(x)} series, truths has {n}; pass one history per series")
    return x


def mase(truths, forecasts, histories, season):
    """Mean absolute scaled error: mean over series of mean|y - f| / scale_i (zero scales left out, see module)."""
    y, f = _matched(truths, forecasts=forecasts)
    x = _check_histories(histories, len(y))
    mae = np.array([np.mean(np.abs(a - b)) if len(a) else np.nan for a, b in zip(y, f)])
    return _scaled_mean(mae, seasonal_scale(x, season), "mase")


def _check_bounds(lo, hi):
    for k, (a, b) in enumerate(zip(lo, hi)):
        if np.any(a > b):
            raise ValueError(f"lows[{k}] exceeds highs[{k}] at step {int(np.argmax(a > b))}; pass "
                             "np.minimum(lo, hi), np.maximum(lo, hi) if the bounds of an interval crossed")


def coverage(truths, lows, highs):
    """Share of all test values (pooled over series and steps) inside their interval, lo <= y <= hi."""
    y, lo, hi = _matched(truths, lows=lows, highs=highs)
    _check_bounds(lo, hi)
    inside = np.concatenate([(l <= a) & (a <= h) for a, l, h in zip(y, lo, hi)] + [np.zeros(0, bool)])
    if inside.size == 0:
        raise ValueError("coverage needs at least one test value; truths is empty")
    return float(inside.mean())


def msis(truths, lows, highs, histories, season, alpha=0.05):
    """M4 mean scaled interval score of (1 - alpha) intervals: width plus 2/alpha times each miss, per series
    averaged over steps and divided by scale_i, then averaged over series (zero scales left out, see module)."""
    y, lo, hi = _matched(truths, lows=lows, highs=highs)
    _check_bounds(lo, hi)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}; alpha = 0.05 scores 95% intervals")
    x = _check_histories(histories, len(y))
    score = np.array([np.mean((h - l) + 2 / alpha * (l - a) * (a < l) + 2 / alpha * (a - h) * (a > h))
                      if len(a) else np.nan for a, l, h in zip(y, lo, hi)])
    return _scaled_mean(score, seasonal_scale(x, season), "msis")


def score_table(truths, histories, season, horizon, methods):
    """Scores of several methods on the same series.

    methods: {name: {"forecast": list, and optionally "lo_80", "hi_80", "lo_95", "hi_95": lists}}.
    Returns {name: {"smape", "mase", "smape_by_step" (a list of horizon floats), and where both bounds of a level
    are given "coverage_80" / "coverage_95", and "msis_95" (alpha = 0.05)}}.
    """
    table = {}
    for name, m in methods.items():
        if "forecast" not in m:
            raise ValueError(f"methods[{name!r}] has no 'forecast'; give {{'forecast': list of arrays, ...}}")
        f = m["forecast"]
        row = {"smape": smape(truths, f), "mase": mase(truths, f, histories, season),
               "smape_by_step": smape_by_step(truths, f, horizon).tolist()}
        for level in (80, 95):
            lo, hi = m.get(f"lo_{level}"), m.get(f"hi_{level}")
            if (lo is None) != (hi is None):
                raise ValueError(f"methods[{name!r}] has only one of lo_{level} / hi_{level}; give both or neither")
            if lo is not None:
                row[f"coverage_{level}"] = coverage(truths, lo, hi)
                if level == 95:
                    row["msis_95"] = msis(truths, lo, hi, histories, season, alpha=0.05)
        table[name] = row
    return table
