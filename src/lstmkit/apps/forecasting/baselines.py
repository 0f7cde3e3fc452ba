"""The statistical baselines a global forecaster is judged against: naive, seasonal naive, and the Theta method
(Assimakopoulos & Nikolopoulos 2000) and automatic exponential smoothing (ETS, Hyndman et al. 2002) through the
optional statsforecast package; with the published M3 sMAPE figures they are compared to.

Every function takes a list of per-series histories (1-D arrays, lengths may differ) and returns a list of
per-series forecasts, each `(horizon,)` float64.
"""

import numpy as np

# Published sMAPE (percent, the M3 definition of scores.smape) on the M3 collections: PUBLISHED[collection][method]
# = {"smape", "source"}. A collection's figure averages over all its series and all steps of its horizon (yearly 6,
# quarterly 8, monthly 18, other 8); "all" pools the 3003 series, each over its own horizon.
_MH2000 = ("Makridakis & Hibon (2000), The M3-Competition: results, conclusions and implications, IJF 16:451-476 "
           "(as tabled in Oreshkin et al. 2020, Table 14)")
_NBEATS = "Oreshkin et al. (2020), N-BEATS, ICLR, Table 14 (the N-BEATS-I+G ensemble)"
_SF = ("statsforecast's M3 monthly benchmark, cited in issue 14; statsforecast_methods with statsforecast 2.1.1 "
       "reproduces it to two decimals")
PUBLISHED = {
    "yearly": {"Theta": {"smape": 16.90, "source": _MH2000}},
    "quarterly": {"Theta": {"smape": 8.96, "source": _MH2000}},
    "monthly": {
        "Theta": {"smape": 13.85, "source": _MH2000},
        "statsforecast Theta": {"smape": 13.83, "source": _SF},
        "statsforecast AutoETS": {"smape": 14.16, "source": _SF},
        "seasonal naive": {"smape": 17.23, "source": _SF},
    },
    "other": {"Theta": {"smape": 4.41, "source": _MH2000}},
    "all": {"Theta": {"smape": 13.01, "source": _MH2000}, "N-BEATS": {"smape": 12.37, "source": _NBEATS}},
}


def _check_histories(histories, horizon):
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    out = []
    for k, x in enumerate(histories):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or len(x) == 0:
            raise ValueError(f"histories[{k}] must be a non-empty 1-D array, got shape {x.shape}; pass one array "
                             "per series")
        out.append(x)
    return out


def naive(histories, horizon):
    """Repeat each series' last value `horizon` times."""
    return [np.full(horizon, x[-1]) for x in _check_histories(histories, horizon)]


def seasonal_naive(histories, horizon, season):
    """Repeat each series' last season: `f_{n+h} = x_{n+h-m*ceil(h/m)}`, m = season. Naive where season <= 1 or
    the history is shorter than one season."""
    out = []
    for x in _check_histories(histories, horizon):
        if season <= 1 or len(x) < season:
            out.append(np.full(horizon, x[-1]))
        else:
            out.append(np.resize(x[-season:], horizon))   # tiles the last season, cut at the horizon
    return out


def statsforecast_methods(histories, horizon, season, methods=("Theta", "AutoETS"), n_jobs=1):
    """Point forecasts from statsforecast's models, `{name: list of (horizon,) arrays}`.

    methods: names of classes in `statsforecast.models` (e.g. "Theta", "AutoTheta", "AutoETS", "SeasonalNaive"),
    each built with `season_length=season`. "Theta" is statsforecast's Standard Theta Model (Fiorucci et al. 2016:
    theta = 2 fixed, the classical M3-winning Theta method in state-space form), applied after a multiplicative
    classical decomposition wherever a 90% test on the lag-m autocorrelation finds seasonality; this is the "Theta"
    of the published figures (AutoTheta, which picks among four theta models by in-sample MSE, is a different and,
    on M3 monthly sMAPE, weaker method). Series are given to statsforecast as integer steps (freq=1), so no
    calendar is assumed.
    """
    try:
        import pandas as pd
        import statsforecast
        import statsforecast.models as sf_models
    except ImportError as e:
        raise ImportError("statsforecast_methods needs the statsforecast package, an optional benchmark extra: "
                          "pip install statsforecast") from e
    histories = _check_histories(histories, horizon)
    unknown = [m for m in methods if not hasattr(sf_models, m)]
    if unknown:
        raise ValueError(f"methods {unknown} are not models of statsforecast.models; use class names such as "
                         "'Theta', 'AutoTheta', 'AutoETS', 'SeasonalNaive'")
    models = [getattr(sf_models, m)(season_length=max(int(season), 1)) for m in methods]
    ids = np.repeat(np.arange(len(histories)), [len(x) for x in histories])
    ds = np.concatenate([np.arange(len(x)) for x in histories])
    df = pd.DataFrame({"unique_id": ids, "ds": ds, "y": np.concatenate(histories)})
    sf = statsforecast.StatsForecast(models=models, freq=1, n_jobs=n_jobs)
    fc = sf.forecast(h=horizon, df=df)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc = fc.sort_values(["unique_id", "ds"])
    out = {}
    for m in methods:
        values = fc[m].to_numpy(dtype=np.float64).reshape(len(histories), horizon)   # (N, horizon)
        out[m] = list(values)
    return out

