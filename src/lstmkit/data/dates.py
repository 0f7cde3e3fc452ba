"""The calendar of a dated series: the regular step between its date strings, and the dates that come next.

A step is a whole number of months (monthly 1, quarterly 3, yearly 12), recognised whenever consecutive dates
differ by the same number of months on the same day of the month; otherwise a fixed time span (a day, a week,
an hour). Dates keep the format they arrived in ("1960-12" is followed by "1961-01").
"""

from datetime import datetime, timedelta
from typing import NamedTuple

FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m",
           "%Y")


# the frequency name and seasonal period of a regular step (season 1: none)
MONTH_STEPS = {1: ("monthly", 12), 2: ("two-monthly", 6), 3: ("quarterly", 4), 4: ("four-monthly", 3),
               6: ("half-yearly", 2), 12: ("yearly", 1)}
SPAN_STEPS = {timedelta(hours=1): ("hourly", 24), timedelta(days=1): ("daily", 7), timedelta(days=7): ("weekly", 52)}


class DateStep(NamedTuple):
    """`months` > 0 for calendar steps (then `span` is None), else `span`, a datetime.timedelta; `format` is the
    strptime format the dates were written in."""
    months: int
    span: object
    format: str


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
    months = {(b.year - a.year) * 12 + b.month - a.month for a, b in zip(times, times[1:])}
    same_day = all((t.day, t.time()) == (times[0].day, times[0].time()) for t in times)
    if same_day and len(months) == 1 and min(months) > 0:
        return DateStep(months.pop(), None, fmt)
    spans = {b - a for a, b in zip(times, times[1:])}
    if len(spans) == 1 and min(spans).total_seconds() > 0:
        return DateStep(0, spans.pop(), fmt)
    return None


def future_dates(dates, steps):
    """The `steps` date strings after the last of `dates`, in their format; None when `date_step` finds no
    regular step."""
    step = date_step(dates)
    if step is None:
        return None
    last = datetime.strptime(dates[-1].strip(), step.format)
    out = []
    for k in range(1, steps + 1):
        if step.months:
            month = last.month - 1 + k * step.months
            when = last.replace(year=last.year + month // 12, month=month % 12 + 1)
        else:
            when = last + k * step.span
        out.append(when.strftime(step.format))
    return out


def frequency(months, span):
    """(frequency name, seasonal period) of a step of `months` months or of the time span `span` (see DateStep):
    ("monthly", 12), ("quarterly", 4), ("yearly", 1), ("daily", 7), ...; ("other", 1) for any other step."""
    return (MONTH_STEPS if months else SPAN_STEPS).get(months or span, ("other", 1))
