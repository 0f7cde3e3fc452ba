"""Looking inside an LSTM: the traced gates and states equal the equations recomputed by hand, the memory time,
and tiny runs of `lstmkit inspect` on models written by `train`, `classify` and `textgen train`."""

import json

import numpy as np
import pytest

import lstmkit as lk
import lstmkit.cli as cli
from lstmkit.data.ts import load_ts_dataset
from lstmkit.apps.inspection import GateTrace, memory_times, summary_text, trace_lstm, unit_table

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def main():
    return cli.main


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_trace_is_the_lstm_equations():
    """i, f, g, o, c, h of the trace, recomputed step by step from the weights in float64."""
    rng = np.random.default_rng(0)
    model = lk.Sequential([lk.layers.LSTM(3, num_layers=2, dtype="float64"), lk.layers.Dense(1, dtype="float64")],
                          seed=1)
    x = rng.standard_normal((7, 2))
    trace = trace_lstm(model, x, depth=1)
    p, H = model.layers[0].params, 3
    h0, c0 = np.zeros(H), np.zeros(H)
    h1, c1 = np.zeros(H), np.zeros(H)
    for t in range(7):
        for k in (0, 1):
            inp, h, c = (x[t], h0, c0) if k == 0 else (h0, h1, c1)           # layer 1 reads layer 0's new h
            a = p[f"weight_ih_l{k}"] @ inp + p[f"bias_ih_l{k}"] + p[f"weight_hh_l{k}"] @ h + p[f"bias_hh_l{k}"]
            i, f, g, o = _sigmoid(a[:H]), _sigmoid(a[H:2 * H]), np.tanh(a[2 * H:3 * H]), _sigmoid(a[3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            if k == 0:
                h0, c0 = h, c
            else:
                h1, c1 = h, c
        for name, value in zip("ifgoch", (i, f, g, o, c, h)):
            np.testing.assert_allclose(getattr(trace, name)[t], value, rtol=1e-10, atol=1e-12)


def test_backward_direction_is_in_time_order():
    """The backward direction of a bidirectional LSTM, traced, is a forward LSTM run over the reversed input."""
    rng = np.random.default_rng(2)
    bi = lk.Sequential([lk.layers.LSTM(4, bidirectional=True, dtype="float64")], seed=0)
    x = rng.standard_normal((6, 3))
    backward = trace_lstm(bi, x, direction=1)
    uni = lk.Sequential([lk.layers.LSTM(4, dtype="float64")], seed=0).build((None, 3))
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        uni.layers[0].params[name + "_l0"][...] = bi.layers[0].params[name + "_l0_reverse"]
    forward = trace_lstm(uni, x[::-1])
    for a, b in zip(backward, forward):
        np.testing.assert_allclose(a, b[::-1], rtol=1e-12)
    with pytest.raises(ValueError, match="direction must be 0"):
        trace_lstm(uni, x, direction=1)


def test_memory_time_and_summary():
    T, H = 20, 3
    f = np.stack([np.full(T, 0.5), np.full(T, np.exp(-0.01)), np.ones(T)], axis=1)     # (T, H)
    half = np.full((T, H), 0.5)
    trace = GateTrace(i=half, f=f, g=half, o=half, c=np.zeros((T, H)), h=np.zeros((T, H)))
    np.testing.assert_allclose(memory_times(trace), [1 / np.log(2), 100.0, np.inf])
    assert [r["unit"] for r in unit_table(trace)] == [2, 1, 0]
    text = summary_text(trace, "toy")
    assert "hold information longest" in text and "2 of 3 units keep more than 1/e" in text


def test_no_lstm_is_a_clear_error():
    model = lk.Sequential([lk.layers.GRU(3), lk.layers.Dense(1)], seed=0)
    with pytest.raises(ValueError, match="no LSTM layer"):
        trace_lstm(model, np.zeros((4, 2)))


def test_inspect_commands_on_each_task(tmp_path, main, capsys):
    """`lstmkit inspect` on a forecaster, a classifier, a character model and a plain model with --input."""
    runs = {"forecast": ["train", "--epochs", "2", "--hidden", "6", "--checkpoint-every", "0"],
            "classify": ["classify", "--epochs", "1", "--hidden", "5", "--filters", "2", "--ensemble", "1"],  # LSTM-FCN
            "textgen": ["textgen", "train", "--text", str(tmp_path / "t.txt"), "--hidden", "7", "--embedding", "4",
                        "--seq-len", "16", "--batch-size", "8", "--epochs", "1"]}
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 20)
    for task, args in runs.items():
        assert main([*args, "--out", str(tmp_path / task), "--quiet"]) == 0
    capsys.readouterr()
    extra = {"forecast": ["--steps", "40"], "classify": ["--index", "3"], "textgen": ["--text", "the lazy fox"]}
    steps = {"forecast": 40, "classify": int(load_ts_dataset("japanese-vowels")[1].lengths[3]), "textgen": 12}
    for task, args in extra.items():
        out = tmp_path / task / "look"
        model = "model-1.lstmkit" if task == "classify" else "model.lstmkit"
        assert main(["inspect", "--model", str(tmp_path / task / model), "--out", str(out), *args]) == 0
        assert (out / "inspect.png").read_bytes()[:8] == PNG
        assert "hold information longest" in (out / "summary.txt").read_text()
        arrays = np.load(out / "activations.npz")
        assert arrays["f"].shape[0] == steps[task]
        assert np.all((arrays["f"] > 0) & (arrays["f"] < 1))
    assert "(textgen)" in capsys.readouterr().out

    model = lk.Sequential([lk.layers.LSTM(4, return_sequences=True), lk.layers.Dense(2)], seed=0)
    model.build((None, 3))
    model.save(tmp_path / "plain.lstmkit")
    np.save(tmp_path / "x.npy", np.ones((9, 3)))
    assert main(["inspect", "--model", str(tmp_path / "plain.lstmkit"), "--out", str(tmp_path / "plain")]) == 2
    assert "--input" in capsys.readouterr().err
    assert main(["inspect", "--model", str(tmp_path / "plain.lstmkit"), "--input", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "plain"), "--units", "2"]) == 0
    assert json.dumps(np.load(tmp_path / "plain" / "activations.npz")["c"].shape) == "[9, 4]"
