"""The UCR and UEA classification data sets that ship inside the `aeon` package's wheel (its
`aeon/datasets/data/<Name>/<Name>_TRAIN.ts` and `_TEST.ts`), read with the archive's own train/test split by
lstmkit's `.ts` reader (data/ts.py) into the (train, test) pair of TSData that the classification job takes as
`data`: right-padded (N, T, C) float64 values, the real `lengths`, integer labels indexing the label strings of
the training file's `@classLabel` line. Only the files' location comes from aeon (`import aeon` alone, which
loads none of its modules). The series are as the files hold them (not normalised here).

Sources: the UCR time series archive (Dau et al. 2019, "The UCR time series archive", IEEE/CAA J. Autom. Sinica
6(6)) and the UEA multivariate archive (Bagnall et al. 2018, arXiv:1811.00075).
"""

import os

from ...data.ts import read_ts

INSTALL = "pip install aeon (or pip install 'lstmkit[classify-bench]')"

# name -> what it is; `reference`: the test accuracies of 1-NN Euclidean and of 1-NN DTW with a full window as
# the UCR archive publishes them (1 - the error rates in the columns "ED (w=0)" and "DTW (w=100)" of its
# DataSummary.csv, https://www.cs.ucr.edu/~eamonn/time_series_data_2018/). The UEA multivariate sets are not in
# that table and have none here.
ARCHIVE_SETS = {
    "ArrowHead": {"description": "UCR, image outlines of arrowheads: 3 classes, 251 steps; 36 train, 175 test",
                  "reference": {"1-NN ED": 0.8000, "1-NN DTW": 0.7029}},
    "OSULeaf": {"description": "UCR, leaf outlines: 6 classes, 427 steps; 200 train, 242 test",
                "reference": {"1-NN ED": 0.5207, "1-NN DTW": 0.5909}},
    "ItalyPowerDemand": {"description": "UCR, daily power demand: 2 classes, 24 steps; 67 train, 1029 test",
                         "reference": {"1-NN ED": 0.9553, "1-NN DTW": 0.9504}},
    "JapaneseVowels": {"description": "UEA, 12 LPC cepstra of spoken vowels: 9 speakers, 7-29 steps; 270 train, "
                                      "370 test", "reference": {}},
    "BasicMotions": {"description": "UEA, 3-axis accelerometer and gyroscope: 4 activities, 6 channels, 100 "
                                    "steps; 40 train, 40 test", "reference": {}},
    "ACSF1": {"description": "UCR, power consumption of home appliances: 10 classes, 1460 steps; 100 train, 100 "
                             "test", "reference": {"1-NN ED": 0.5400, "1-NN DTW": 0.6400}},
    "PickupGestureWiimoteZ": {"description": "UCR, Wiimote z-axis acceleration of gestures: 10 classes, 29-361 "
                                             "steps; 50 train, 50 test",
                              "reference": {"1-NN ED": 0.5600, "1-NN DTW": 0.6600}},
}


def archive_folder():
    """The folder of data sets bundled with aeon (aeon/datasets/data); an ImportError saying how to install aeon
    when it is missing."""
    try:
        import aeon
    except ImportError:
        raise ImportError(f"the UCR/UEA archive sets are read from the files bundled with the aeon package, which is "
                          f"not installed: {INSTALL}.") from None
    return os.path.join(os.path.dirname(aeon.__file__), "datasets", "data")


def load_archive(name):
    """The archive set `name` (a key of ARCHIVE_SETS, any case) as (train, test) TSData with the archive's own
    split and the same class indices in both (the training file's label order)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name (str) such as 'ArrowHead', got {type(name).__name__}.")
    key = {k.lower(): k for k in ARCHIVE_SETS}.get(name.strip().lower())
    if key is None:
        raise ValueError(f"unknown archive set {name!r}; the sets are {', '.join(ARCHIVE_SETS)}. For other .ts "
                         f"files use lstmkit.data.ts.read_ts(path).")
    folder = os.path.join(archive_folder(), key)
    train_file, test_file = (os.path.join(folder, f"{key}_{split}.ts") for split in ("TRAIN", "TEST"))
    for path in (train_file, test_file):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: this aeon installation does not bundle {key} (aeon 1.6.0 "
                                    f"does); reinstall aeon or {INSTALL}.")
    train = read_ts(train_file)
    return train, read_ts(test_file, classes=train.classes)
