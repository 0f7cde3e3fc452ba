"""Read time-series classification data in the `.ts` format of sktime and the UCR/UEA archives (Bagnall et al.
2018) into a padded array, the series lengths and integer class labels; every malformed file is one ValueError
that names the file, the line and what to fix.

The format: `#` comment lines, then `@key value` header lines (`@problemName`, `@univariate`, `@dimensions`,
`@equalLength`, `@seriesLength`, `@classLabel true <labels...>`, ...), then `@data` and one case per line: the
channels separated by `:`, the values of a channel by `,`, the class label last, e.g. `0.1,0.2,0.3:0.5,0.4,0.2:cat`
for a case with 2 channels of 3 steps. Series may differ in length from case to case (not between the channels
of one case); shorter ones are right-padded with zeros and `lengths` / `mask` tell the real steps apart, which is
what the recurrent layers' `mask=` takes. Timestamped series (`@timeStamps true`) and missing values (`?`) are
not supported. A file may be gzip-compressed (the shipped ones are).

Dimension letters: N cases, T the longest series, C channels.
"""

import gzip
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .datasets import read_bytes

CLASSIFICATION_DATASETS = {
    "japanese-vowels": {
        "files": ("JapaneseVowels_TRAIN.ts.gz", "JapaneseVowels_TEST.ts.gz"),
        "description": "9 speakers from 12 LPC cepstrum channels of the vowels /ae/, 7-29 steps; 270 train, 370 test",
        "source": "Kudo, Toyama & Shimbo (1999), UCI; UEA multivariate archive (Bagnall et al. 2018)",
        "reference": {},
    },
    "italy-power-demand": {
        "files": ("ItalyPowerDemand_TRAIN.ts.gz", "ItalyPowerDemand_TEST.ts.gz"),
        "description": "winter or summer day from 24 hourly readings of Italian power demand; 67 train, 1029 test",
        "source": "Keogh et al., UCR time series archive (Dau et al. 2019)",
        "reference": {"1-NN DTW (UCR archive)": 0.950, "LSTM-FCN (Karim et al. 2018)": 0.962},
    },
}


@dataclass(frozen=True, eq=False)
class TSData:
    """A labelled set of series: `x` (N, T, C) float64, zero after each series' end; `lengths` (N,) the real
    steps; `y` (N,) integer labels indexing `classes` (the label strings, in the header's order); `name` the
    problem name and `source` the file or data set it came from."""

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    classes: tuple
    name: str
    source: str

    @property
    def mask(self):
        """(N, T) bool, True on real steps: the `mask=` of the recurrent layers."""
        return np.arange(self.x.shape[1])[None, :] < self.lengths[:, None]

    def __len__(self):
        return len(self.y)


def read_ts(path, classes=None):
    """Read a `.ts` classification file (plain or gzip). `classes`: the label strings to index `y` by (give the
    training set's `classes` when reading its test set, so that both use the same integers); None takes them
    from the file's `@classLabel` line."""
    return parse_ts(read_bytes(path, ".ts"), os.fspath(path), classes)


def load_ts_dataset(name):
    """The shipped classification data set `name` (see CLASSIFICATION_DATASETS) as a (train, test) pair of
    TSData with the same class indices."""
    if name not in CLASSIFICATION_DATASETS:
        valid = ", ".join(repr(n) for n in CLASSIFICATION_DATASETS)
        raise ValueError(f"unknown classification data set {name!r}; the shipped ones are {valid} (or read your "
                         f"own .ts files with read_ts(path)).")
    folder = resources.files("lstmkit.data") / "builtin"
    train_file, test_file = CLASSIFICATION_DATASETS[name]["files"]
    train = parse_ts((folder / train_file).read_bytes(), name + " (train)")
    return train, parse_ts((folder / test_file).read_bytes(), name + " (test)", train.classes)


def parse_ts(raw, source, classes=None):
    """Parse the bytes of a `.ts` file (see the module docstring); `source` names it in error messages."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{source} is a damaged gzip file ({err}).") from None
    if b"\x00" in raw:
        raise ValueError(f"{source} looks like a binary file (it contains NUL bytes); pass a text .ts file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{source} is not UTF-8 text (undecodable byte at offset {err.start}).") from None
    header, cases = _split(text.splitlines(), source)
    declared = _class_labels(header, source)
    classes = declared if classes is None else tuple(classes)
    index = {label: k for k, label in enumerate(classes)}
    series, labels = [], []
    channels = int(header["dimensions"]) if header.get("dimensions", "").isdigit() else None
    for line, text in cases:
        values, label = _parse_case(text, line, source)
        if label not in index:
            raise ValueError(f"line {line} of {source} has class label {label!r}, which is not among "
                             f"{'the declared labels' if classes == declared else 'the training classes'} "
                             f"{list(classes)}.")
        if channels is None:
            channels = values.shape[1]
        if values.shape[1] != channels:
            raise ValueError(f"line {line} of {source} has {values.shape[1]} channel(s), but "
                             f"{'@dimensions says' if 'dimensions' in header else 'the first case has'} "
                             f"{channels}; every case needs the same channels.")
        series.append(values)
        labels.append(index[label])
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    if header.get("equallength", "").lower() == "true" and header.get("serieslength", "").isdigit():
        expected = int(header["serieslength"])
        bad = np.flatnonzero(lengths != expected)
        if bad.size:
            line = cases[bad[0]][0]
            raise ValueError(f"line {line} of {source} has a series of {lengths[bad[0]]} steps, but the header "
                             f"says @equalLength true with @seriesLength {expected}.")
    x = np.zeros((len(series), int(lengths.max()), channels))            # (N, T, C), zero-padded
    for n, s in enumerate(series):
        x[n, :len(s)] = s
    name = header.get("problemname", os.path.basename(str(source)))
    return TSData(x, lengths, np.array(labels, dtype=np.int64), classes, name, str(source))


def _split(lines, source):
    """The header as {lowercase key: value} and the data lines as (line number, text), blank ones skipped."""
    header, cases, in_data = {}, [], False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or (not in_data and stripped.startswith("#")):
            continue
        if in_data:
            cases.append((number, stripped))
        elif stripped.startswith("@"):
            key, _, value = stripped[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
            else:
                header[key] = value.strip()
        else:
            raise ValueError(f"line {number} of {source} is neither a comment (#), a header line (@...) nor "
                             f"after @data: {stripped[:40]!r}; a .ts file lists its header, then @data, then "
                             f"one case per line.")
    if not in_data:
        raise ValueError(f"{source} has no @data line; it is not a .ts file (expected a header such as "
                         f"@problemName ..., @classLabel true ..., then @data and the cases).")
    if not cases:
        raise ValueError(f"{source} has no cases after @data.")
    if header.get("timestamps", "").lower() == "true":
        raise ValueError(f"{source} has @timeStamps true; timestamped series are not supported, only plain "
                         f"comma-separated values.")
    if header.get("targetlabel", "").lower().startswith("true"):
        raise ValueError(f"{source} is a regression problem (@targetLabel true); only classification files "
                         f"(@classLabel true ...) are supported.")
    return header, cases


def _class_labels(header, source):
    parts = header.get("classlabel", "").split()
    if not parts or parts[0].lower() != "true":
        raise ValueError(f"{source} declares no class labels (it needs a line '@classLabel true <label> "
                         f"<label> ...'); only classification files are supported.")
    if len(parts) < 3:
        raise ValueError(f"{source} declares {len(parts) - 1} class label(s) on its @classLabel line; a "
                         f"classification problem needs at least 2.")
    if len(set(parts[1:])) != len(parts) - 1:
        raise ValueError(f"{source} declares a class label twice on its @classLabel line: {parts[1:]}.")
    return tuple(parts[1:])


FILL_MISSING = "fill them (e.g. interpolate between the neighbouring steps) or drop the case"


def _parse_case(text, line, source):
    """One data line -> (values (T, C), label)."""
    fields = text.split(":")
    if len(fields) < 2:
        raise ValueError(f"line {line} of {source} has no ':' before a class label; a case is "
                         f"'v1,v2,...[:channel 2...]:label'.")
    *channels, label = fields
    label = label.strip()
    if not label:
        raise ValueError(f"line {line} of {source} ends without a class label after its last ':'.")
    columns = []
    for c, channel in enumerate(channels):
        if channel.lstrip().startswith("("):
            raise ValueError(f"line {line} of {source} holds timestamped values '(t, v)'; they are not supported.")
        cells = channel.split(",")
        try:
            values = np.array([float(v) for v in cells])
        except ValueError:
            bad = next(v for v in cells if not _is_float(v))
            missing = f" (missing values are not supported: {FILL_MISSING})" if bad.strip() in ("?", "") else ""
            raise ValueError(f"line {line} of {source}, channel {c + 1}: {bad.strip()!r} is not a number{missing}."
                             ) from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"line {line} of {source}, channel {c + 1} holds NaN or inf; missing values are "
                             f"not supported: {FILL_MISSING}.")
        columns.append(values)
    lengths = {len(v) for v in columns}
    if len(lengths) > 1:
        raise ValueError(f"line {line} of {source}: its channels have different lengths "
                         f"({', '.join(str(len(v)) for v in columns)}); the channels of one case must have the "
                         f"same number of steps.")
    return np.stack(columns, axis=1), label                            # (T, C)


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False
