"""Sequence classification: the .ts reader (shipped files and every malformed file), the masked training loop
(variable lengths give the same logits as each series alone), and a tiny run of `lstmkit classify`."""

import gzip
import json

import numpy as np
import pytest

import lstmkit.cli as cli
from lstmkit.apps.classification.neighbours import nearest_neighbour_predict as nearest_neighbour
from lstmkit.apps.classify import (ClassifyConfig, build_model, check_classes, fit_batch_size, folds, load_ensemble,
                                   predict_proba, shorten, stratified_split, train_classifier)
from lstmkit.data.ts import TSData, load_ts_dataset, parse_ts, read_ts

PNG = b"\x89PNG\r\n\x1a\n"
HEADER = ("#comment\n@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
          "@classLabel true a b\n@data\n")


@pytest.fixture
def main():
    return cli.main


def test_shipped_data_sets():
    train, test = load_ts_dataset("japanese-vowels")
    assert train.x.shape == (270, 26, 12) and test.x.shape == (370, 29, 12)
    assert train.lengths.min() == 7 and test.lengths.max() == 29
    assert train.classes == tuple("123456789") and np.all(np.bincount(train.y) == 30)
    assert np.all(train.x[~train.mask] == 0) and train.mask.sum() == train.lengths.sum()
    train, test = load_ts_dataset("italy-power-demand")
    assert train.x.shape == (67, 24, 1) and test.x.shape == (1029, 24, 1) and train.classes == ("1", "2")


def test_reader_variable_lengths_and_gzip(tmp_path):
    text = HEADER + "1,2,3:4,5,6:b\n\n7,8:9,10:a\n"
    path = tmp_path / "toy.ts.gz"
    path.write_bytes(gzip.compress(text.encode()))
    data = read_ts(path)
    assert data.name == "Toy" and data.classes == ("a", "b") and list(data.y) == [1, 0]
    assert list(data.lengths) == [3, 2]
    assert np.array_equal(data.x[0], [[1, 4], [2, 5], [3, 6]]) and np.array_equal(data.x[1], [[7, 9], [8, 10], [0, 0]])
    again = parse_ts(text.encode(), "toy", classes=("b", "a"))          # a test split indexed by training classes
    assert list(again.y) == [0, 1]


@pytest.mark.parametrize("text, message", [
    ("@problemName x\n1,2:a\n", "neither a comment"),
    ("@problemName x\n@classLabel true a b\n", "no @data"),
    ("@classLabel true a b\n@data\n", "no cases"),
    ("@problemName x\n@data\n1,2:a\n", "declares no class labels"),
    ("@classLabel true a\n@data\n1,2:a\n", "at least 2"),
    ("@classLabel true a b\n@data\n1,2\n", "no ':'"),
    ("@classLabel true a b\n@data\n1,2:\n", "without a class label"),
    ("@classLabel true a b\n@data\n1,x:a\n", "'x' is not a number"),
    ("@classLabel true a b\n@data\n1,?:a\n", "missing values are not supported"),
    ("@classLabel true a b\n@data\n1,nan:a\n", "NaN or inf"),
    ("@classLabel true a b\n@data\n1,2:c\n", "class label 'c'"),
    ("@dimensions 2\n@classLabel true a b\n@data\n1,2:a\n", "@dimensions says 2"),
    ("@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n", "the first case has 2"),
    ("@classLabel true a b\n@data\n1,2:3:a\n", "different lengths"),
    ("@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n1,2:a\n", "@seriesLength 3"),
    ("@timeStamps true\n@classLabel true a b\n@data\n(1,2):a\n", "timestamped"),
])
def test_reader_rejects_malformed_files(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_ts(text.encode(), "bad.ts")


def test_reader_rejects_missing_binary_and_damaged_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_ts(tmp_path / "absent.ts")
    with pytest.raises(ValueError, match="is a directory"):
        read_ts(tmp_path)
    (tmp_path / "bin.ts").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="binary"):
        read_ts(tmp_path / "bin.ts")
    (tmp_path / "cut.ts.gz").write_bytes(gzip.compress(HEADER.encode())[:20])
    with pytest.raises(ValueError, match="damaged gzip"):
        read_ts(tmp_path / "cut.ts.gz")


@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("gru", True)])
def test_padding_changes_nothing(cell, bidirectional):
    """A padded, masked batch gives every series the logits it gets alone, unpadded."""
    rng = np.random.default_rng(0)
    model = build_model(ClassifyConfig(cell=cell, hidden=5, bidirectional=bidirectional), 3).build((None, 2))
    lengths = np.array([6, 3, 1])
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    x[np.arange(6)[None] >= lengths[:, None]] = 0.0
    batch = model.predict(x, mask=np.arange(6)[None] < lengths[:, None])
    for n, length in enumerate(lengths):
        alone = model.predict(x[n:n + 1, :length])
        np.testing.assert_allclose(batch[n], alone[0], rtol=1e-5, atol=1e-6)


def test_stratified_split_and_nearest_neighbour():
    y = np.repeat([0, 1, 2], 10)
    train, val = stratified_split(y, 0.2, np.random.default_rng(0))
    assert list(np.bincount(y[val])) == [2, 2, 2] and not np.any(train & val)
    with pytest.raises(ValueError, match="too few"):
        stratified_split(np.array([0, 1, 1, 1]), 0.2, np.random.default_rng(0))
    x = np.zeros((2, 4, 1))
    x[1, :2, 0] = 5.0
    pred = nearest_neighbour(x, np.array([4, 2]), np.array([7, 9]), x[::-1] + 0.1, np.array([2, 4]))
    assert list(pred) == [9, 7]                                          # a 2-step series matches the 2-step one


def test_classify_command_tiny_run(tmp_path, main, capsys):
    out = tmp_path / "run"
    assert main(["classify", "--epochs", "2", "--hidden", "8", "--filters", "4", "--ensemble", "2", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy on japanese-vowels" in printed and "1-NN Euclidean" in printed
    assert "LSTM-FCN x 2" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_cases"] == 370 and metrics["epochs_run"] == [2, 2] and metrics["classes"] == 9
    assert 0.9 < metrics["baseline_accuracy"] < 1.0 and metrics["majority_accuracy"] < 0.25
    assert sum(map(sum, metrics["confusion"])) == 370
    for name in ("history.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == PNG
    models = load_ensemble(out)                                          # the files alone reproduce the score
    test = load_ts_dataset("japanese-vowels")[1]
    accuracy = np.mean(np.argmax(predict_proba(models, test), axis=1) == test.y)
    assert len(models) == 2 and accuracy == pytest.approx(metrics["test_accuracy"])
    assert models[0].metadata["classes"] == list("123456789")


def test_classify_own_files_and_bad_options(tmp_path, main, capsys):
    rng = np.random.default_rng(1)
    lines = [",".join(f"{v:.3f}" for v in rng.standard_normal(int(rng.integers(3, 7))) + k) + f":{'ab'[k]}"
             for k in (0, 1) for _ in range(12)]
    (tmp_path / "train.ts").write_text("@classLabel true a b\n@data\n" + "\n".join(lines) + "\n")
    (tmp_path / "test.ts").write_text("@classLabel true a b\n@data\n" + "\n".join(lines[::3]) + "\n")
    assert main(["classify", "--train-file", str(tmp_path / "train.ts"), "--test-file", str(tmp_path / "test.ts"),
                 "--epochs", "2", "--hidden", "4", "--batch-size", "4", "--model", "lstm", "--ensemble", "1",
                 "--out", str(tmp_path / "own"), "--quiet"]) == 0
    assert json.loads((tmp_path / "own" / "metrics.json").read_text())["test_cases"] == 8
    assert main(["classify", "--train-file", str(tmp_path / "train.ts")]) == 2
    assert "go together" in capsys.readouterr().err
    assert main(["classify", "--val-fraction", "0.7"]) == 2
    assert "val_fraction" in capsys.readouterr().err


def test_train_task_classify(tmp_path, main, capsys):
    """`lstmkit train --task classify` runs the same job; forecasting options are refused."""
    assert main(["train", "--task", "classify", "--dataset", "italy-power-demand", "--epochs", "1", "--hidden", "4",
                 "--ensemble", "1", "--filters", "2", "--out", str(tmp_path), "--quiet"]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["test_cases"] == 1029
    assert main(["train", "--task", "classify", "--window", "5"]) == 2
    assert "--window" in capsys.readouterr().err


def test_folds_are_stratified():
    y = np.repeat([0, 1, 2], [10, 7, 3])
    fold = folds(y, 5, np.random.default_rng(0))
    for k in range(3):
        counts = np.bincount(fold[y == k], minlength=5)
        assert counts.max() - counts.min() <= 1                           # each class spread evenly
    assert np.bincount(fold, minlength=5).tolist() == [4, 4, 4, 4, 4]


def tiny(lengths=(5, 4, 6, 3, 5, 6), labels=(0, 1, 0, 1, 0, 1), classes=("a", "b"), channels=2, seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.array(lengths)
    x = rng.standard_normal((len(lengths), int(lengths.max()), channels))
    x[np.arange(x.shape[1])[None] >= lengths[:, None]] = 0.0
    return TSData(x, lengths, np.array(labels), classes, "tiny", "test")


@pytest.mark.parametrize("train, test, message", [
    (tiny(), tiny(classes=("a", "c")), "the test split's class labels \\['a', 'c'\\] differ .*only in the test split: "
                                       "\\['c'\\]"),
    (tiny(labels=(0, 1, 0, 0, 0, 0)), tiny(), "class 'b' has 1 training case\\(s\\); every class needs at least 2"),
    (tiny(), tiny(channels=3), "the test split has 3 channel\\(s\\), the training split 2"),
])
def test_bad_splits_get_one_clear_message(train, test, message):
    with pytest.raises(ValueError, match=message):
        check_classes(train, test)
    with pytest.raises(ValueError, match=message):
        train_classifier(ClassifyConfig(epochs=1, ensemble=1), verbose=False, data=(train, test))


def test_an_ensemble_larger_than_the_training_split_is_refused():
    with pytest.raises(ValueError, match="--ensemble 10 holds out one fold .* the training split has 6"):
        train_classifier(ClassifyConfig(epochs=1, ensemble=10), verbose=False, data=(tiny(), tiny()))


def test_nan_in_a_series_names_the_fix():
    with pytest.raises(ValueError, match="holds NaN or inf; missing values are not supported: fill them"):
        parse_ts(b"@classLabel true a b\n@data\n1,nan,2:a\n", "f.ts")


@pytest.mark.parametrize("model, pooling", [("lstm", "mean"), ("lstm", "max"), ("lstm-fcn", "last")])
def test_models_ignore_padding(model, pooling):
    """Every architecture gives a padded series, masked, the logits it gets alone."""
    data = tiny()
    net = build_model(ClassifyConfig(model=model, pooling=pooling, hidden=3, filters=2), 2).build((None, 2))
    net.compile(loss="sparse_categorical_crossentropy")
    net.fit(data.x.astype(np.float32), data.y, mask=data.mask, epochs=1, batch_size=3, verbose=0)  # BatchNorm stats
    batch = net.predict(data.x, mask=data.mask)
    for n, length in enumerate(data.lengths):
        np.testing.assert_allclose(batch[n], net.predict(data.x[n:n + 1, :length])[0], rtol=1e-4, atol=1e-5)


def test_the_ensemble_averages_its_members_probabilities():
    train, test = load_ts_dataset("italy-power-demand")
    run = train_classifier(ClassifyConfig(dataset="italy-power-demand", model="lstm", hidden=3, epochs=2,
                                          ensemble=3), verbose=False, workers=0)
    each = [predict_proba(m, test, run.scaler) for m in run.models]
    np.testing.assert_allclose(predict_proba(run.models, test, run.scaler), np.mean(each, axis=0))
    assert run.metrics["members"] == 3 and len(run.metrics["epochs_run"]) == 3
    assert run.metrics["val_cases"] in (22, 23)                          # one fold of 67 training cases


def test_long_series_are_shortened_by_averaging():
    x = np.arange(14, dtype=float).reshape(2, 7, 1)
    x[1, 5:] = 99.0                                                       # padding: never read
    short, lengths = shorten(x, np.array([7, 5]), 3)
    np.testing.assert_allclose(short[..., 0], [[1.0, 4.0, 6.0], [8.0, 10.5, 0.0]])
    assert lengths.tolist() == [3, 2]


def test_a_shortened_run_scores_the_same_from_its_files(tmp_path, main):
    out = tmp_path / "run"
    assert main(["classify", "--dataset", "italy-power-demand", "--max-steps", "10", "--epochs", "2",
                 "--hidden", "3", "--filters", "2", "--ensemble", "1", "--out", str(out), "--quiet"]) == 0
    models = load_ensemble(out)
    assert models[0].metadata["scaler"]["every"] == 3                    # 24 steps -> 8
    test = load_ts_dataset("italy-power-demand")[1]
    accuracy = np.mean(np.argmax(predict_proba(models, test), axis=1) == test.y)
    assert accuracy == pytest.approx(json.loads((out / "metrics.json").read_text())["test_accuracy"])


def test_auto_batch_size_gives_small_sets_eight_batches_an_epoch():
    cfg = ClassifyConfig()
    assert [fit_batch_size(cfg, n) for n in (5, 29, 100, 160, 1000)] == [5, 8, 13, 20, 32]
    assert fit_batch_size(ClassifyConfig(batch_size=16), 100) == 16
