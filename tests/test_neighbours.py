"""The 1-NN baselines (lstmkit.apps.classification.neighbours): DTW against a plain double loop written here (and aeon's
dtw_distance when aeon is installed), its properties, a warped toy problem, ties, variable lengths and bad input;
and the archive loader (lstmkit.apps.classification.archive), whose missing-aeon message is checked everywhere."""

import sys

import numpy as np
import pytest

from lstmkit.apps.classification import archive
from lstmkit.apps.classification.neighbours import dtw_distance, nearest_neighbour_predict, nearest_neighbours, resample
from lstmkit.data.ts import load_ts_dataset


def reference_dtw(x, y):
    """DTW by its definition: the full (n+1) x (m+1) table, one cell at a time, in plain Python."""
    x, y = np.asarray(x, float).reshape(len(x), -1), np.asarray(y, float).reshape(len(y), -1)
    n, m = len(x), len(y)
    D = [[float("inf")] * (m + 1) for _ in range(n + 1)]
    D[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0.0
            for k in range(x.shape[1]):
                cost += (float(x[i - 1, k]) - float(y[j - 1, k])) ** 2
            D[i][j] = cost + min(D[i - 1][j - 1], D[i - 1][j], D[i][j - 1])
    return D[n][m]


def padded_set(rng, n, lengths, channels, pad=0.0):
    """n random series (N, T, C) of the given lengths, right-padded with `pad`."""
    lengths = np.asarray(lengths)
    x = np.full((n, lengths.max(), channels), pad)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.normal(size=(length, channels)).cumsum(axis=0)
    return x, lengths


@pytest.mark.parametrize("channels", [1, 3])
def test_dtw_matches_the_plain_double_loop(channels):
    rng = np.random.default_rng(channels)
    for n, m in [(1, 1), (1, 6), (7, 1), (9, 9), (13, 5), (4, 17), (30, 22)]:
        x, y = rng.normal(size=(n, channels)), rng.normal(size=(m, channels))
        want = reference_dtw(x, y)
        assert abs(dtw_distance(x, y) - want) <= 1e-12 * max(1.0, want)
        assert abs(dtw_distance(y, x) - want) <= 1e-12 * max(1.0, want)         # symmetric
    x, y = rng.normal(size=8), rng.normal(size=11)                            # 1-D arrays: one channel
    assert abs(dtw_distance(x, y) - reference_dtw(x, y)) <= 1e-12 * reference_dtw(x, y)


def test_dtw_of_a_series_with_itself_is_zero_and_at_most_the_euclidean_distance():
    rng = np.random.default_rng(1)
    for channels in (1, 4):
        x = rng.normal(size=(25, channels))
        assert dtw_distance(x, x) == 0.0
        for _ in range(20):
            y = rng.normal(size=(25, channels))
            assert dtw_distance(x, y) <= np.sum((x - y) ** 2) + 1e-12       # the diagonal is one warping path


def test_nearest_neighbours_equal_the_full_search_with_variable_lengths_and_any_padding():
    """The abandoning search finds the argmin (first of equals) of the full DTW matrix over the real steps; what
    lies after a series' end does not matter."""
    rng = np.random.default_rng(2)
    train_x, train_len = padded_set(rng, 12, rng.integers(3, 20, 12), 2)
    test_x, test_len = padded_set(rng, 9, rng.integers(3, 25, 9), 2)
    full = np.array([[reference_dtw(test_x[t, :test_len[t]], train_x[j, :train_len[j]]) for j in range(12)]
                     for t in range(9)])
    index, distance = nearest_neighbours(train_x, train_len, test_x, test_len, metric="dtw")
    assert np.array_equal(index, np.argmin(full, axis=1))
    assert np.allclose(distance, full.min(axis=1), rtol=1e-12, atol=0)
    garbage_train, garbage_test = train_x.copy(), test_x.copy()
    garbage_train[np.arange(train_x.shape[1]) >= train_len[:, None]] = 1e6
    garbage_test[np.arange(test_x.shape[1]) >= test_len[:, None]] = np.nan
    again = nearest_neighbours(garbage_train, train_len, garbage_test, test_len, metric="dtw")
    assert np.array_equal(again[0], index) and np.array_equal(again[1], distance)


def bumps(T, *starts):
    x = np.zeros(T)
    for s in starts:
        x[s:s + 5] += [1.0, 2.0, 3.0, 2.0, 1.0]
    return x


def test_dtw_classifies_a_warped_toy_problem_that_euclidean_gets_wrong():
    """Class 0 is one bump, class 1 two bumps, anywhere. Moved bumps cost Euclidean distance; DTW warps them
    onto the training series' bumps at no cost."""
    T = 60
    train = np.stack([bumps(T, 10), bumps(T, 10, 40)])[:, :, None]          # (2, T, 1)
    test = np.stack([bumps(T, 40), bumps(T, 20, 45)])[:, :, None]
    labels = np.array(["one bump", "two bumps"])
    lengths = np.full(2, T)
    dtw = nearest_neighbour_predict(train, lengths, labels, test, lengths, metric="dtw")
    euclid = nearest_neighbour_predict(train, lengths, labels, test, lengths, metric="euclidean")
    assert list(dtw) == ["one bump", "two bumps"]
    assert list(euclid) == ["two bumps", "one bump"]
    assert nearest_neighbours(train, lengths, test, lengths, metric="dtw")[1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("metric", ["euclidean", "dtw"])
def test_ties_go_to_the_lowest_training_index(metric):
    base = np.random.default_rng(3).integers(-4, 5, size=(10, 2)).astype(float)    # exact sums: true ties
    train = np.stack([base + 5.0, base + 1.0, base + 5.0, base + 1.0, base - 1.0, base])     # (6, 10, 2)
    labels = np.array([7, 3, 8, 4, 5, 6])
    test = np.stack([base + 1.0, base, base + 0.5])
    # base + 1 is met twice (indices 1 and 3); base once (5); base + 0.5 is as far from base + 1 as from base
    # (by symmetry, for DTW too) and farther from the rest: the first of equals wins each time
    predicted = nearest_neighbour_predict(train, None, labels, test, None, metric=metric)
    assert predicted.tolist() == [3, 6, 3]


def test_euclidean_keeps_the_classification_jobs_resampling():
    """Variable lengths: every series resampled to the longest training length (linear interpolation of each
    channel), as the classification job's 1-NN Euclidean baseline always did, then the plain nearest one."""
    train, test = load_ts_dataset("japanese-vowels")
    steps = train.lengths.max()

    def stretched(x, length):                                             # (steps * C,)
        where = np.linspace(0.0, length - 1, steps)
        return np.stack([np.interp(where, np.arange(length), x[:length, c]) for c in range(x.shape[1])], 1).ravel()

    a = np.stack([stretched(x, n) for x, n in zip(train.x, train.lengths)])
    b = np.stack([stretched(x, n) for x, n in zip(test.x, test.lengths)])
    want = np.array([np.argmin(((a - row) ** 2).sum(axis=1)) for row in b])
    index, distance = nearest_neighbours(train.x, train.lengths, test.x, test.lengths, metric="euclidean")
    assert np.array_equal(index, want)
    assert np.allclose(distance, ((a[want] - b) ** 2).sum(axis=1), rtol=1e-12, atol=0)
    ours = nearest_neighbour_predict(train.x, train.lengths, train.y, test.x, test.lengths, metric="euclidean")
    assert np.array_equal(ours, train.y[want])
    x = np.arange(12.0).reshape(1, 6, 2)
    assert np.array_equal(resample(x, np.array([6]), 6), x)                  # already that long: unchanged
    assert np.allclose(resample(x, np.array([3]), 5)[0, :, 0], [0, 1, 2, 3, 4])     # steps 0, 2, 4 stretched


def test_bad_input_is_one_clear_message():
    x = np.zeros((3, 5, 2))
    lengths = np.full(3, 5)
    with pytest.raises(ValueError, match=r"test_x has 1 channel\(s\) per step but train_x has 2"):
        nearest_neighbours(x, lengths, np.zeros((2, 5, 1)), None, metric="dtw")
    with pytest.raises(ValueError, match="train_x holds no series .* needs at least one training series"):
        nearest_neighbour_predict(np.zeros((0, 5, 2)), None, np.zeros(0), x, lengths, metric="dtw")
    with pytest.raises(ValueError, match="unknown metric 'cosine'; choose one of 'euclidean', 'dtw'"):
        nearest_neighbours(x, lengths, x, lengths, metric="cosine")
    with pytest.raises(ValueError, match=r"train_y must hold one label per training series: expected shape \(3,\)"):
        nearest_neighbour_predict(x, lengths, [0, 1], x, lengths)
    with pytest.raises(ValueError, match=r"test_lengths\[1\] is 6, outside 1..5"):
        nearest_neighbours(x, lengths, x, [5, 6, 5])
    with pytest.raises(ValueError, match="train_lengths has 2 entries but train_x holds 3 series"):
        nearest_neighbours(x, [5, 5], x, lengths)
    with pytest.raises(ValueError, match="train_x must be a 3D array"):
        nearest_neighbours(np.zeros((3, 5)), None, x, None)
    nan = x.copy()
    nan[1, 4, 0] = np.nan
    with pytest.raises(ValueError, match=r"test_x\[1\] holds NaN or inf at step 4, before its length 5"):
        nearest_neighbours(x, lengths, nan, lengths)
    nearest_neighbours(x, lengths, nan, [5, 4, 5])                               # in the padding: never read
    with pytest.raises(ValueError, match=r"x has 2 channel\(s\) and y 3"):
        dtw_distance(np.zeros((4, 2)), np.zeros((4, 3)))


def test_dtw_agrees_with_aeon():
    distances = pytest.importorskip("aeon.distances")
    rng = np.random.default_rng(4)
    for channels, n, m in [(1, 20, 20), (1, 15, 31), (5, 12, 9), (12, 7, 29)]:
        x, y = rng.normal(size=(n, channels)), rng.normal(size=(m, channels))
        theirs = distances.dtw_distance(x.T.copy(), y.T.copy())           # aeon takes (channels, steps)
        assert abs(dtw_distance(x, y) - theirs) <= 1e-12 * theirs


def test_archive_without_aeon_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon", None)                           # `import aeon` raises ImportError
    with pytest.raises(ImportError, match=r"not installed: pip install aeon \(or pip install "
                                          r"'lstmkit\[classify-bench\]'\)"):
        archive.load_archive("ArrowHead")


def test_archive_unknown_name():
    with pytest.raises(ValueError, match="unknown archive set 'GunPoint2'; the sets are ArrowHead, OSULeaf"):
        archive.load_archive("GunPoint2")


def test_archive_sets_load_as_the_classification_job_takes_them():
    pytest.importorskip("aeon")
    train, test = archive.load_archive("japanesevowels")                                    # any case
    shipped = load_ts_dataset("japanese-vowels")
    for ours, theirs in zip((train, test), shipped):                  # the same file as the shipped copy
        assert np.array_equal(ours.x, theirs.x) and np.array_equal(ours.lengths, theirs.lengths)
        assert np.array_equal(ours.y, theirs.y) and ours.classes == theirs.classes
    train, test = archive.load_archive("PickupGestureWiimoteZ")
    assert train.x.shape == (50, 361, 1) and test.x.shape == (50, 324, 1) and train.lengths.min() == 29
    assert np.all(train.x[~train.mask] == 0) and train.classes == tuple(str(k) for k in range(1, 11))
    train, test = archive.load_archive("BasicMotions")
    assert train.x.shape == (40, 100, 6) and train.classes == ("Standing", "Running", "Walking", "Badminton")


def test_archive_reproduces_the_published_1nn_accuracies():
    pytest.importorskip("aeon")
    train, test = archive.load_archive("ItalyPowerDemand")
    published = archive.ARCHIVE_SETS["ItalyPowerDemand"]["reference"]
    for metric, key in (("euclidean", "1-NN ED"), ("dtw", "1-NN DTW")):
        predicted = nearest_neighbour_predict(train.x, train.lengths, train.y, test.x, test.lengths, metric)
        assert round(float(np.mean(predicted == test.y)), 4) == published[key]
