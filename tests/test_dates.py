"""The calendar of dated series (lstmkit.data.dates): the step between dates, the dates that follow, and the
frequency name and season of a step."""

from datetime import datetime, timedelta

import pytest

from lstmkit.data.dates import date_step, frequency, future_dates, month_day


@pytest.mark.parametrize("dates, months, span, future", [
    (["2020-01", "2020-02", "2020-03"], 1, None, ["2020-04", "2020-05"]),
    (["2020-11-15", "2020-12-15", "2021-01-15"], 1, None, ["2021-02-15", "2021-03-15"]),
    (["2020-01-31", "2020-02-29", "2020-03-31"], 1, None, ["2020-04-30", "2020-05-31"]),        # month ends
    (["2019-11-30", "2019-12-31", "2020-01-31"], 1, None, ["2020-02-29", "2020-03-31"]),        # into a leap Feb
    (["2019-09-30", "2019-12-31", "2020-03-31"], 3, None, ["2020-06-30", "2020-09-30"]),        # quarter ends
    (["2020-01-30", "2020-02-29", "2020-03-30"], 1, None, ["2020-04-30", "2020-05-30"]),        # the 30th, clamped
    (["2018", "2019", "2020"], 12, None, ["2021", "2022"]),
    (["2019-02-28", "2020-02-29"], 12, None, ["2021-02-28", "2022-02-28"]),                    # yearly month ends
    (["2020-02-27", "2020-02-28", "2020-02-29"], 0, timedelta(days=1), ["2020-03-01", "2020-03-02"]),
    (["2020-01-30", "2020-01-31", "2020-02-01"], 0, timedelta(days=1), ["2020-02-02", "2020-02-03"]),
    (["2020-01-06", "2020-01-13", "2020-01-20"], 0, timedelta(weeks=1), ["2020-01-27", "2020-02-03"]),
    (["2020-01-01 23:00", "2020-01-02 00:00"], 0, timedelta(hours=1), ["2020-01-02 01:00", "2020-01-02 02:00"]),
])
def test_step_and_future_dates(dates, months, span, future):
    step = date_step(dates)
    assert (step.months, step.span) == (months, span)
    assert future_dates(dates, 2) == future


def test_month_ends_continue_as_month_ends_for_years():
    future = future_dates(["2019-12-31", "2020-01-31"], 14)
    assert future[:3] == ["2020-02-29", "2020-03-31", "2020-04-30"]
    assert future[-2:] == ["2021-02-28", "2021-03-31"]


@pytest.mark.parametrize("dates", [
    ["2020-01-01", "2020-01-04", "2020-01-08"],            # uneven days
    ["2020-01-31", "2020-02-29", "2020-03-30"],            # month ends, then not
    ["2020-01-15", "2020-02-16", "2020-03-15"],            # a day off
    ["2020-01-31 00:00", "2020-02-29 12:00", "2020-03-31 00:00"],        # month ends at other times of day
    ["2020-01", "2020-03", "2020-04"],                     # a gap
    ["2020-03", "2020-02", "2020-01"],                     # backwards
    ["2020-01", "2020-01"],
    ["2020-01"], [], None, ["monday", "tuesday"],
])
def test_no_regular_step_is_none(dates):
    assert date_step(dates) is None
    assert future_dates(dates, 2) is None


def test_month_day():
    assert month_day([datetime(2020, 1, 31), datetime(2020, 4, 30), datetime(2021, 2, 28)]) == 31
    assert month_day([datetime(2020, 1, 30), datetime(2021, 2, 28)]) == 30
    assert month_day([datetime(2020, 1, 15), datetime(2020, 5, 15)]) == 15
    assert month_day([datetime(2020, 1, 15), datetime(2020, 5, 16)]) is None
    assert month_day([datetime(2020, 1, 15), datetime(2020, 5, 15, 1)]) is None


@pytest.mark.parametrize("months, span, expected", [
    (1, None, ("monthly", 12)), (3, None, ("quarterly", 4)), (6, None, ("half-yearly", 2)),
    (12, None, ("yearly", 1)), (5, None, ("other", 1)), (0, timedelta(days=1), ("daily", 7)),
    (0, timedelta(weeks=1), ("weekly", 52)), (0, timedelta(hours=1), ("hourly", 24)),
    (0, timedelta(days=3), ("other", 1)),
])
def test_frequency(months, span, expected):
    assert frequency(months, span) == expected
