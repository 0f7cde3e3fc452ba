"""Load a univariate time series from a CSV file or from the data shipped with lstmkit, turning every bad input
into one ValueError that says what was wrong, where, and how to fix it."""

import csv
import io
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

# A column with one of these names (case-insensitive) is taken as the date column when date_column=None.
DATE_COLUMN_NAMES = ("date", "time", "datetime", "timestamp", "month", "year", "week", "day", "period", "ds")
# Cells holding one of these (case-insensitive, after stripping spaces) are missing values.
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none", "?")
FILL_METHODS = (None, "interpolate")

BUILTIN_DATASETS = {
    "airline-passengers": {
        "file": "airline-passengers.csv",
        "description": "monthly international airline passengers (thousands), 1949-01 to 1960-12",
        "source": "Box & Jenkins (1976) series G, as shipped in the BSD-3 aeon toolkit",
    },
}


@dataclass(frozen=True, eq=False)
class Series:
    """A univariate time series: `values` (float64, shape (N,)), the matching `dates` as strings (or None),
    the column `name` and the `source` (a file path or a dataset name)."""

    values: np.ndarray
    dates: list | None
    name: str
    source: str


def load_csv(path, column=None, date_column=None, fill=None):
    """Read one numeric column of a CSV file with a header line into a `Series`.

    column: the value column; None picks the single numeric column other than the date column.
    date_column: kept as strings in `Series.dates`; None looks for a column named date/time/month/... and
        otherwise takes the first column whose first value is not a number (no date column is fine).
    fill: None rejects missing, NaN and inf values; "interpolate" fills them linearly between their finite
        neighbours (and with the nearest finite value at the edges).

    Blank lines are skipped; a UTF-8 byte-order mark and Windows line endings are accepted.
    """
    raw = read_bytes(path)
    return _parse_csv(raw, str(path), column=column, date_column=date_column, fill=fill)


def list_datasets():
    """Describe the shipped data sets: a list of dicts with name, description, length and source."""
    return [{"name": name, "description": info["description"], "length": len(load_dataset(name).values),
             "source": info["source"]}
            for name, info in BUILTIN_DATASETS.items()]


def load_dataset(name):
    """Load a shipped data set by name (see `list_datasets()`) as a `Series` whose source is the name."""
    if name not in BUILTIN_DATASETS:
        valid = ", ".join(repr(n) for n in BUILTIN_DATASETS)
        raise ValueError(f"unknown dataset {name!r}; the shipped data sets are {valid} (see list_datasets(), "
                         f"or load your own file with load_csv(path)).")
    resource = resources.files("lstmkit.data") / "builtin" / BUILTIN_DATASETS[name]["file"]
    return _parse_csv(resource.read_bytes(), name, column=None, date_column=None, fill=None)


def read_bytes(path, kind="CSV"):
    """The file's bytes, or a ValueError naming the path when it is not a readable file (`kind`: what the file
    should be, for the message)."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(f"path must be a str or os.PathLike pointing to a {kind} file, got "
                         f"{type(path).__name__}.") from None
    if not os.path.exists(path):
        raise ValueError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; pass the path of a {kind} file inside it.")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise ValueError(f"could not read {path}: {err.strerror or err}.") from None


def _parse_csv(raw, source, column, date_column, fill):
    """Turn the raw bytes of a CSV file into a Series (see load_csv for the arguments)."""
    if fill not in FILL_METHODS:
        raise ValueError(f"fill must be None (reject missing values) or 'interpolate', got {fill!r}.")
    header, rows, lines = _read_table(raw, source)
    if column is not None and column not in header:
        raise ValueError(f"{source} has no column {column!r}; its columns are {_names(header)}. "
                         f"Pass one of them as column=.")
    date_index = _find_date_column(header, rows, source, column, date_column)
    value_index = _find_value_column(header, rows, source, column, date_index)
    name = header[value_index]
    values = np.array([_parse_number(row[value_index], name, i, lines[i], source) for i, row in enumerate(rows)])
    values = _handle_missing(values, name, lines, source, fill)
    dates = None if date_index is None else [row[date_index] for row in rows]
    return Series(values=values, dates=dates, name=name, source=source)


def decode_text(raw, source, usage):
    """The text of a file's bytes, or one ValueError naming `source`: binary (NUL bytes), not UTF-8, or empty;
    `usage` says what the file should hold."""
    if b"\x00" in raw:
        raise ValueError(f"{source} looks like a binary file (it contains NUL bytes); {usage}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{source} is not UTF-8 text (undecodable byte at offset {err.start}); save it as UTF-8."
                         ) from None
    if not text.strip():
        raise ValueError(f"{source} is empty; {usage}.")
    return text


def _read_table(raw, source):
    """Decode and split the file: the header names, the data rows (stripped cells) and each row's line number."""
    text = decode_text(raw, source, "a CSV file needs a header line and at least 2 data rows")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if any(cells):
                rows.append(cells)
                lines.append(reader.line_num)
    except csv.Error as err:
        raise ValueError(f"{source} is not a valid CSV file (line {reader.line_num}: {err}).") from None
    if not rows:
        raise ValueError(f"{source} has only blank lines; a CSV file needs a header line and at least 2 data rows.")
    header, rows, lines = rows[0], rows[1:], lines[1:]
    if all(_is_number(cell) for cell in header):
        raise ValueError(f"the first line of {source} ({','.join(header)!r}) holds numbers, but it must be a "
                         f"header of column names; add a line such as 'value' at the top of the file.")
    if len(set(header)) < len(header) or not all(header):
        raise ValueError(f"the header of {source} must name every column once, got {_names(header)}; "
                         f"give each column a distinct, non-empty name.")
    if not rows:
        raise ValueError(f"{source} has a header ({','.join(header)!r}) but no data rows; "
                         f"a series needs at least 2 values.")
    for cells, line in zip(rows, lines):
        if len(cells) != len(header):
            raise ValueError(f"line {line} of {source} has {len(cells)} fields, but the header has "
                             f"{len(header)} ({_names(header)}); every row needs one value per column.")
    return header, rows, lines


def _find_date_column(header, rows, source, column, date_column):
    """Index of the date column (None when the file has none); it is never the value column."""
    if date_column is not None:
        if date_column not in header:
            raise ValueError(f"{source} has no column {date_column!r}; its columns are {_names(header)}. "
                             f"Pass one of them as date_column=, or leave date_column=None to detect it.")
        if date_column == column:
            raise ValueError(f"column and date_column are both {column!r}; the values and the dates must come "
                             f"from different columns.")
        return header.index(date_column)
    candidates = [j for j, name in enumerate(header) if name != column]
    for j in candidates:
        if header[j].lower() in DATE_COLUMN_NAMES:
            return j
    for j in candidates:
        first = next((row[j] for row in rows if row[j].lower() not in MISSING_TOKENS), None)
        if first is not None and not _is_number(first):
            return j
    return None


def _find_value_column(header, rows, source, column, date_index):
    """Index of the value column: `column` if given, else the only column (besides the dates) of numbers."""
    if column is not None:
        return header.index(column)
    candidates = [j for j in range(len(header)) if j != date_index]
    if not candidates:
        raise ValueError(f"{source} has only the column {header[date_index]!r}, which was taken as dates; "
                         f"a series needs a column of numbers. Pass column={header[date_index]!r} if it holds "
                         f"the values.")
    first_bad = {j: next((row[j] for row in rows if not _is_number_or_missing(row[j])), None) for j in candidates}
    numeric = [j for j in candidates if first_bad[j] is None]
    if len(numeric) == 1 or len(candidates) == 1:
        return numeric[0] if numeric else candidates[0]  # a lone non-numeric column fails later on its bad row
    if numeric:
        raise ValueError(f"{source} has several numeric columns ({_names([header[j] for j in numeric])}); "
                         f"pass column= to choose which one to load.")
    examples = ", ".join(f"{header[j]!r} holds {first_bad[j]!r}" for j in candidates)
    raise ValueError(f"{source} has no column of numbers besides the dates ({examples}); "
                     f"fix the file or pass column= to choose one.")


def _parse_number(cell, name, row_index, line, source):
    """The cell as a float; missing tokens become NaN; anything else that is not a number is an error."""
    if cell.lower() in MISSING_TOKENS:
        return np.nan
    try:
        return float(cell)
    except ValueError:
        hint = " (remove the thousands separators)" if "," in cell and _is_number(cell.replace(",", "")) else ""
        raise ValueError(f"column {name!r} of {source} must hold numbers, but data row {row_index + 1} "
                         f"(line {line}) holds {cell!r}{hint}; fix that cell or choose another column "
                         f"with column=.") from None


def _handle_missing(values, name, lines, source, fill):
    """Reject or interpolate the non-finite values, then check the series is long enough."""
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        if fill is None:
            raise ValueError(f"column {name!r} of {source} has {int(bad.sum())} missing, NaN or inf value(s), "
                             f"the first on data row {first + 1} (line {lines[first]}); pass fill='interpolate' "
                             f"(CLI: --fill interpolate) to fill them linearly, or clean the file.")
        if bad.all():
            raise ValueError(f"column {name!r} of {source} has no finite values, so there is nothing to "
                             f"interpolate from; check the column or the file.")
        steps = np.arange(len(values))
        values = np.interp(steps, steps[~bad], values[~bad])  # beyond the ends: the nearest finite value
    if len(values) < 2:
        raise ValueError(f"{source} has {len(values)} value(s) in column {name!r}; a series needs at least 2.")
    return values.astype(np.float64)


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_number_or_missing(cell):
    return cell.lower() in MISSING_TOKENS or _is_number(cell)


def _names(header):
    return ", ".join(repr(name) for name in header)
