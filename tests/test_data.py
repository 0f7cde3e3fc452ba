"""Tests of lstmkit.data: the shipped data set, CSV loading and its errors, windows, splits and scalers."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmkit.data import (MinMaxScaler, Series, StandardScaler, chronological_split, list_datasets, load_csv,
                          load_dataset, scaler_from_dict, sliding_windows)

VALID_CSV = "Date,Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n1949-04,129\n"


def write(tmp_path, content, name="series.csv"):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def assert_bad_csv(tmp_path, content, fragment, **kwargs):
    with pytest.raises(ValueError, match=fragment):
        load_csv(write(tmp_path, content), **kwargs)


# --- the shipped data set ---------------------------------------------------------------------------------------

def test_airline_passengers_loads():
    series = load_dataset("airline-passengers")
    assert isinstance(series, Series)
    assert series.values.shape == (144,) and series.values.dtype == np.float64
    assert series.values[0] == 112 and series.values[-1] == 432
    assert series.dates[0] == "1949-01" and series.dates[-1] == "1960-12" and len(series.dates) == 144
    assert series.name == "Passengers" and series.source == "airline-passengers"


def test_list_datasets_describes_airline():
    (entry,) = list_datasets()
    assert entry["name"] == "airline-passengers" and entry["length"] == 144
    assert entry["description"] and "Box & Jenkins" in entry["source"]


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown dataset 'sunspots'.*'airline-passengers'"):
        load_dataset("sunspots")


# --- load_csv: what it accepts -----------------------------------------------------------------------------------

def test_load_csv_valid_file(tmp_path):
    series = load_csv(write(tmp_path, VALID_CSV))
    np.testing.assert_array_equal(series.values, [112, 118, 132, 129])
    assert series.dates == ["1949-01", "1949-02", "1949-03", "1949-04"]
    assert series.name == "Passengers" and series.source == str(tmp_path / "series.csv")


def test_load_csv_accepts_bom_crlf_and_trailing_blank_lines(tmp_path):
    content = "\ufeff" + VALID_CSV.replace("\n", "\r\n") + "\r\n\r\n  \n"
    series = load_csv(write(tmp_path, content))
    np.testing.assert_array_equal(series.values, [112, 118, 132, 129])
    assert series.dates[0] == "1949-01"


def test_load_csv_accepts_thousands_without_separators(tmp_path):
    series = load_csv(write(tmp_path, "Month,Sales\n2020-01,1234\n2020-02,98765.5\n"))
    np.testing.assert_array_equal(series.values, [1234, 98765.5])


def test_load_csv_without_date_column(tmp_path):
    series = load_csv(write(tmp_path, "value\n1\n2.5\n-3e2\n"))
    np.testing.assert_array_equal(series.values, [1, 2.5, -300])
    assert series.dates is None and series.name == "value"


def test_load_csv_finds_date_column_by_its_values(tmp_path):
    series = load_csv(write(tmp_path, "when,level\nmonday,1\ntuesday,2\n"))
    assert series.dates == ["monday", "tuesday"] and series.name == "level"


def test_load_csv_column_and_date_column_arguments(tmp_path):
    path = write(tmp_path, "t,a,b\n1,10,100\n2,20,200\n3,30,300\n")
    series = load_csv(path, column="b", date_column="t")
    np.testing.assert_array_equal(series.values, [100, 200, 300])
    assert series.dates == ["1", "2", "3"]


def test_load_csv_interpolates_missing_values(tmp_path):
    path = write(tmp_path, "Date,v\nd1,\nd2,2\nd3,NaN\nd4,inf\nd5,8\nd6,NA\n")
    series = load_csv(path, fill="interpolate")
    np.testing.assert_array_equal(series.values, [2, 2, 4, 6, 8, 8])


# --- load_csv: every bad input is one ValueError ---------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file: .*nowhere.csv"):
        load_csv(tmp_path / "nowhere.csv")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load_csv(tmp_path)


def test_empty_file(tmp_path):
    assert_bad_csv(tmp_path, "", "is empty")


def test_whitespace_only_file(tmp_path):
    assert_bad_csv(tmp_path, "\n \r\n\t\n", "is empty")


def test_header_only(tmp_path):
    assert_bad_csv(tmp_path, "Date,Passengers\n", "header .* but no data rows")


def test_binary_file_with_nul_bytes(tmp_path):
    assert_bad_csv(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file")


def test_undecodable_utf8(tmp_path):
    assert_bad_csv(tmp_path, b"Date,Passengers\n1949-01,\xff\xfe\n", "not UTF-8")


def test_non_numeric_value_names_row_and_value(tmp_path):
    assert_bad_csv(tmp_path, "Date,Passengers\n1949-01,112\n1949-02,abc\n",
                   r"'Passengers'.*data row 2 \(line 3\) holds 'abc'")


def test_thousands_separator_gets_a_hint(tmp_path):
    assert_bad_csv(tmp_path, 'Date,Passengers\n1949-01,"1,120"\n1949-02,118\n', "remove the thousands separators")


def test_wrong_column_lists_available(tmp_path):
    assert_bad_csv(tmp_path, VALID_CSV, "no column 'passengers'.*'Date', 'Passengers'", column="passengers")


def test_wrong_date_column_lists_available(tmp_path):
    assert_bad_csv(tmp_path, VALID_CSV, "no column 'Month'.*'Date', 'Passengers'", date_column="Month")


def test_ragged_rows(tmp_path):
    assert_bad_csv(tmp_path, "Date,Passengers\n1949-01,112\n1949-02,118,7\n", "line 3 .* 3 fields.*header has 2")


def test_fewer_than_two_values(tmp_path):
    assert_bad_csv(tmp_path, "Date,Passengers\n1949-01,112\n", "at least 2")


def test_missing_values_rejected_by_default(tmp_path):
    assert_bad_csv(tmp_path, "Date,v\nd1,1\nd2,\nd3,nan\nd4,4\n",
                   r"2 missing, NaN or inf.*data row 2 \(line 3\).*fill='interpolate'.*--fill interpolate")


def test_all_missing_cannot_interpolate(tmp_path):
    assert_bad_csv(tmp_path, "Date,v\nd1,\nd2,nan\n", "no finite values", fill="interpolate")


def test_unknown_fill(tmp_path):
    assert_bad_csv(tmp_path, VALID_CSV, "fill must be None .* or 'interpolate', got 'zero'", fill="zero")


def test_several_numeric_columns_ask_for_column(tmp_path):
    assert_bad_csv(tmp_path, "Date,a,b\nd1,1,2\nd2,3,4\n", "several numeric columns \\('a', 'b'\\).*column=")


def test_headerless_numbers(tmp_path):
    assert_bad_csv(tmp_path, "1,2\n3,4\n", "must be a header")


def test_duplicate_header_names(tmp_path):
    assert_bad_csv(tmp_path, "v,v\n1,2\n3,4\n", "name every column once")


def test_only_a_date_column(tmp_path):
    assert_bad_csv(tmp_path, "Date\n1949-01\n1949-02\n", "only the column 'Date'")


def test_non_path_argument():
    with pytest.raises(ValueError, match="path must be a str or os.PathLike"):
        load_csv(42)


def mutate(text, edits):
    """Apply (kind, position, character) edits to `text`: delete, insert or replace one character."""
    chars = list(text)
    for kind, position, char in edits:
        i = position % (len(chars) + 1)
        if kind == "delete" and i < len(chars):
            del chars[i]
        elif kind == "insert":
            chars.insert(i, char)
        elif kind == "replace" and i < len(chars):
            chars[i] = char
    return "".join(chars)


def load_or_value_error(path):
    """load_csv must return a finite Series or raise ValueError; any other exception fails the test."""
    try:
        series = load_csv(path)
    except ValueError as err:
        assert str(err)
        return
    assert series.values.dtype == np.float64 and series.values.ndim == 1 and len(series.values) >= 2
    assert np.all(np.isfinite(series.values))
    assert series.dates is None or len(series.dates) == len(series.values)


FUZZ_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ_SETTINGS
@given(content=st.binary(max_size=200))
def test_random_bytes_load_or_raise_value_error(tmp_path, content):
    load_or_value_error(write(tmp_path, content))


@FUZZ_SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, 200),
                                st.sampled_from(list(',\n\r"\'.-e+ \x00\ufeff9aN') + ["\udcff", "é"])),
                      min_size=1, max_size=8))
def test_mutated_csv_loads_or_raises_value_error(tmp_path, edits):
    text = mutate(VALID_CSV, edits)
    content = text.encode("utf-8", errors="surrogateescape")
    load_or_value_error(write(tmp_path, content))


# --- windows and splits ------------------------------------------------------------------------------------------

def test_sliding_windows_1d_shapes_and_indices():
    values = np.arange(10.0)
    X, y = sliding_windows(values, window=3, horizon=2)
    M = 10 - 3 - 2 + 1
    assert X.shape == (M, 3, 1) and y.shape == (M, 2)
    for m in range(M):
        np.testing.assert_array_equal(X[m, :, 0], values[m:m + 3])
        np.testing.assert_array_equal(y[m], values[m + 3:m + 5])


def test_sliding_windows_2d_uses_first_column_as_target():
    values = np.stack([np.arange(8.0), 100 + np.arange(8.0), -np.arange(8.0)], axis=1)  # (8, 3)
    X, y = sliding_windows(values, window=4)
    assert X.shape == (4, 4, 3) and y.shape == (4, 1)
    for m in range(4):
        np.testing.assert_array_equal(X[m], values[m:m + 4])
        np.testing.assert_array_equal(y[m], values[m + 4:m + 5, 0])


def test_sliding_windows_returns_copies():
    values = np.arange(6.0)
    X, y = sliding_windows(values, window=2)
    X[0, 0, 0] = -1
    y[0, 0] = -1
    assert values[0] == 0 and values[2] == 2 and X[1, 0, 0] == 1


def test_sliding_windows_exact_fit():
    X, y = sliding_windows(np.arange(5.0), window=3, horizon=2)
    assert X.shape == (1, 3, 1) and y.tolist() == [[3.0, 4.0]]


@pytest.mark.parametrize("window, horizon, fragment", [
    (0, 1, "window must be a positive integer, got 0"),
    (3, 0, "horizon must be a positive integer, got 0"),
    (2.5, 1, "window must be a positive integer, got 2.5"),
    (9, 2, r"the series has 10 values, but window=9 and horizon=2 need at least 11; use a smaller --window"),
])
def test_sliding_windows_errors(window, horizon, fragment):
    with pytest.raises(ValueError, match=fragment):
        sliding_windows(np.arange(10.0), window, horizon)


def test_sliding_windows_rejects_3d_input():
    with pytest.raises(ValueError, match="values must be a 1D or 2D array"):
        sliding_windows(np.zeros((5, 2, 2)), window=2)


def test_chronological_split_with_counts_and_fractions():
    assert chronological_split(144, 36) == (slice(0, 108), slice(108, 108), slice(108, 144))
    assert chronological_split(144, 0.25, val_size=0.1) == (slice(0, 94), slice(94, 108), slice(108, 144))
    train, val, test = chronological_split(10, 3, val_size=2)
    assert np.arange(10)[train].tolist() == list(range(5))
    assert np.arange(10)[val].tolist() == [5, 6] and np.arange(10)[test].tolist() == [7, 8, 9]


@pytest.mark.parametrize("n, test_size, val_size, fragment", [
    (10, 0, 0, "test_size must be at least 1"),
    (10, 1.0, 0, r"test_size must be a whole number of steps or a fraction in \(0, 1\), got 1.0"),
    (10, 0.01, 0, "rounds to 0 steps"),
    (10, 3, 0.01, "val_size=0.01 of n=10 steps rounds to 0"),
    (10, 6, 4, "leave no training steps out of n=10"),
    (10, 3, -1, "val_size must be at least 0"),
    (0, 1, 0, "n must be a positive integer"),
])
def test_chronological_split_errors(n, test_size, val_size, fragment):
    with pytest.raises(ValueError, match=fragment):
        chronological_split(n, test_size, val_size)


# --- scalers -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scaler_class", [StandardScaler, MinMaxScaler])
@pytest.mark.parametrize("shape", [(50,), (50, 3)])
def test_scaler_round_trip_and_dict(scaler_class, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=shape)
    scaler = scaler_class()
    z = scaler.fit_transform(x)
    np.testing.assert_allclose(scaler.inverse_transform(z), x, rtol=1e-12, atol=1e-12)
    saved = json.loads(json.dumps(scaler.to_dict()))
    assert saved["class"] == scaler_class.__name__
    for restored in (scaler_class.from_dict(saved), scaler_from_dict(saved)):
        assert type(restored) is scaler_class
        np.testing.assert_array_equal(restored.transform(x), z)


def test_standard_scaler_statistics_per_feature():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    z = StandardScaler().fit_transform(x)
    np.testing.assert_allclose(z, [[-1, -1], [1, 1]])


def test_minmax_scaler_feature_range_and_windows():
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(np.array([2.0, 4.0, 6.0]))
    np.testing.assert_allclose(scaler.transform(np.array([2.0, 4.0, 6.0, 8.0])), [-1, 0, 1, 2])
    X, _ = sliding_windows(np.arange(6.0), window=2)
    assert scaler.transform(X).shape == X.shape  # scalar statistics apply to any shape


@pytest.mark.parametrize("scaler_class", [StandardScaler, MinMaxScaler])
def test_constant_series_does_not_divide_by_zero(scaler_class):
    x = np.full((6, 2), 7.0)
    scaler = scaler_class().fit(x)
    z = scaler.transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_array_equal(scaler.inverse_transform(z), x)


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "to_dict"])
def test_unfitted_scaler_raises(method):
    args = () if method == "to_dict" else (np.arange(3.0),)
    with pytest.raises(ValueError, match="not fitted yet; call fit"):
        getattr(StandardScaler(), method)(*args)


def test_scaler_feature_mismatch():
    scaler = StandardScaler().fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="fitted on 2 features"):
        scaler.transform(np.ones((4, 3)))


@pytest.mark.parametrize("feature_range", [(1, 0), (0, np.inf), "ab", (0, 1, 2)])
def test_minmax_bad_feature_range(feature_range):
    with pytest.raises(ValueError, match="feature_range must be two finite numbers"):
        MinMaxScaler(feature_range=feature_range)


@pytest.mark.parametrize("d, fragment", [
    ({"class": "RobustScaler"}, "'class' set to one of"),
    ([1, 2], "'class' set to one of"),
    ({"class": "StandardScaler", "params": {}}, "needs the keys 'class', 'params' and 'state'"),
    ({"class": "StandardScaler", "params": {}, "state": {"mean_": 1.0}}, r"must have the keys \['mean_', 'scale_'\]"),
    ({"class": "StandardScaler", "params": {}, "state": {"mean_": "x", "scale_": 1.0}}, "finite number"),
    ({"class": "StandardScaler", "params": {}, "state": {"mean_": [1.0], "scale_": [1.0, 2.0]}}, "one length"),
    ({"class": "MinMaxScaler", "params": {"bad": 1}, "state": {"data_min_": 0.0, "data_max_": 1.0}},
     "do not fit its constructor"),
])
def test_scaler_from_bad_dict(d, fragment):
    with pytest.raises(ValueError, match=fragment):
        scaler_from_dict(d)


def test_scaler_from_dict_of_other_class():
    saved = MinMaxScaler().fit(np.arange(3.0)).to_dict()
    with pytest.raises(ValueError, match="describes a 'MinMaxScaler', not a 'StandardScaler'"):
        StandardScaler.from_dict(saved)
