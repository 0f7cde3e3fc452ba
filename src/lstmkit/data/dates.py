"""The calendar of a dated series: the regular step between its date strings, and the dates that come next.

A step is a whole number of months (monthly 1, quarterly 3, yearly 12), recognised whenever consecutive dates
differ by the same number of months, at one time of day, on one day of the month; that day is clamped to each
month's length, so the last day of every month (2020-01-31, 2020-02-29, 2020-03-31) is a month step (day 31), and
so is the 30th with February's last day (2020-01-30, 2020-02-29, 2020-03-30). Otherwise a step is a fixed time
span (a day, a week, an hour). Dates keep the format they arrived in ("1960-12" is followed by "1961-01";
"2020-03-31" by "2020-04-30").
"""

from calendar import isleap
from datetime import datetime, timedelta
from typing import NamedTuple

FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m",
           "%Y")


# the frequency name and seasonal period of a regular step (season 1: none)
MONTH_STEPS = {1: ("monthly", 12), 2: ("two-monthly", 6), 3: ("quarterly", 4), 4: ("four-monthly", 3),
               6: ("half-yearly", 2), 12: ("yearly", 1)}
SPAN_STEPS = {timedelta(hours=1): ("hourly", 24), timedelta(days=1): ("daily", 7), timedelta(days=7): ("weekly", 52)}
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class DateStep(NamedTuple):
    """`months` > 0 for calendar steps (then `span` is None), else `span`, a datetime.timedelta; `format` is the
    strptime format the dates were written in; `day` is the day of the month of a calendar step (see month_day:
    31 for month ends), 0 for a span."""
    months: int
    span: object
    format: str
    day: int


def _parse(dates):
    """(datetimes, format) for the first of FORMATS that reads every date, or None."""
    for fmt in FORMATS:
        try:
            return [datetime.strptime(d.strip(), fmt) for d in dates], fmt
        except (ValueError, AttributeError):
            continue
    return None


def date_step(dates):
    """The DateStep between consecutive `dates` (strings), or None when they are fewer than two, in no format
    of FORMATS, or not evenly spaced."""
    if dates is None or len(dates) < 2:
        return None
    parsed = _parse(dates)
    if parsed is None:
        return None
    times, fmt = parsed
    months = {months_apart(a, b) for a, b in zip(times, times[1:])}
    day = month_day(times)
    if day is not None and len(months) == 1 and min(months) > 0:
        return DateStep(months.pop(), None, fmt, day)
    spans = {b - a for a, b in zip(times, times[1:])}
    if len(spans) == 1 and min(spans).total_seconds() > 0:
        return DateStep(0, spans.pop(), fmt, 0)
    return None


def future_dates(dates, steps):
    """The `steps` date strings after the last of `dates`, in their format; None when `date_step` finds no
    regular step."""
    step = date_step(dates)
    if step is None:
        return None
    last = datetime.strptime(dates[-1].strip(), step.format)
    return [shift(last, step, k).strftime(step.format) for k in range(1, steps + 1)]


def month_day(times):
    """The day d of the month that every one of the datetimes `times` falls on, clamped to its month's length
    (the day is min(d, days in that month)), when they share the time of day; 31 when each is the last day of its
    month (2020-01-31, 2020-02-29, 2020-04-30); None when no day fits them all."""
    if not times or any(t.time() != times[0].time() for t in times):
        return None
    day = 31 if all(t.day == _days_in(t.year, t.month) for t in times) else max(t.day for t in times)
    if day <= 28:                                               # every month has it
        return day if all(t.day == day for t in times) else None
    return day if all(t.day == min(day, _days_in(t.year, t.month)) for t in times) else None


def months_apart(a, b):
    """Calendar months from datetime `a` to datetime `b` (their days ignored)."""
    return (b.year - a.year) * 12 + b.month - a.month


def shift(when, step, k):
    """The datetime `when` moved by k steps of `step` (a DateStep, or anything with its months, span and day):
    k * months months, onto the step's day of the month clamped to that month's length; or k * span."""
    if not step.months:
        return when + k * step.span
    month = when.month - 1 + k * step.months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(step.day, _days_in(year, month)))


def _days_in(year, month):
    return 29 if month == 2 and isleap(year) else _MONTH_DAYS[month - 1]


def frequency(months, span):
    """(frequency name, seasonal period) of a step of `months` months or of the time span `span` (see DateStep):
    ("monthly", 12), ("quarterly", 4), ("yearly", 1), ("daily", 7), ...; ("other", 1) for any other step."""
    return (MONTH_STEPS if months else SPAN_STEPS).get(months or span, ("other", 1))
