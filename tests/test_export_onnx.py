"""lk.export.onnx: the exported file, run in ONNX Runtime, gives lstmkit's outputs (float32, relative error 1e-6,
the README's figure) for every recurrent cell, 1 and 2 layers, both directions, return_sequences both ways, the LSTM variants, an
Embedding -> LSTM -> Dense model and variable lengths; every unsupported layer or option is one clear ValueError;
and `lstmkit export` writes the same file from a model file. Run with `pytest -s` to print the largest errors."""

import argparse
from collections import defaultdict

import numpy as np
import pytest

onnxruntime = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import lstmkit as lk  # noqa: E402
from lstmkit.formats import export  # noqa: E402
from lstmkit.cli import export as export_cli  # noqa: E402
from lstmkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN  # noqa: E402
from lstmkit.layers.recurrent import Recurrent  # noqa: E402
from lstmkit.layers.reshape import RepeatVector, TimeDistributed  # noqa: E402

TOL = 1e-6                               # largest measured: 4.2e-7 (LSTM without forget gate)
B, T, I, H = 3, 7, 4, 5                  # batch, time, input features, hidden units
MAX_ERROR = defaultdict(float)

RECURRENT = {"SimpleRNN": lambda **kw: SimpleRNN(H, **kw),
             "SimpleRNN-relu": lambda **kw: SimpleRNN(H, nonlinearity="relu", **kw),
             "LSTM": lambda **kw: LSTM(H, **kw),
             "GRU": lambda **kw: GRU(H, **kw)}
STACKS = {"L1": dict(), "L2": dict(num_layers=2), "bi": dict(bidirectional=True),
          "L2-bi": dict(num_layers=2, bidirectional=True, dropout=0.3)}
LSTM_VARIANTS = {"peephole": dict(peephole=True), "coupled": dict(coupled=True),
                 "coupled-peephole": dict(coupled=True, peephole=True),
                 "no-forget-gate": dict(forget_gate=False), "no-forget-gate-peephole": dict(forget_gate=False,
                                                                                           peephole=True)}


@pytest.fixture(scope="module", autouse=True)
def report_errors():
    yield
    print("\nlargest relative error, ONNX Runtime against lstmkit (float32):")
    for name, err in sorted(MAX_ERROR.items()):
        print(f"  {name:40s} {err:.2e}")


def run_onnx(path, x, sequence_lens=None):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"x": x}
    if sequence_lens is not None:
        feeds["sequence_lens"] = sequence_lens.astype(np.int32)
    return session.run(["y"], feeds)[0]


def check_model(name, model, x, tmp_path, sequence_lens=None):
    """Export `model`, run the file on `x` in ONNX Runtime and compare with lstmkit (with the equivalent mask)."""
    path = export.onnx(model, tmp_path / "model.onnx", sequence_lens=sequence_lens is not None)
    got = run_onnx(path, x, sequence_lens)
    if sequence_lens is None:
        want = model.predict(x)
    else:
        want = x
        mask = np.arange(x.shape[1]) < sequence_lens[:, None]                      # (B, T) right-padded
        for layer in model.layers:
            want = layer.forward(want, mask=mask) if isinstance(layer, Recurrent) else layer.forward(want)
    assert got.shape == want.shape and got.dtype == np.float32
    err = float(np.max(np.abs(got - want))) / float(np.max(np.abs(want)))
    MAX_ERROR[name] = max(MAX_ERROR[name], err)
    assert err <= TOL, f"{name}: relative error {err:.2e} > {TOL:.0e}"


def built(layers, input_shape=(None, I)):
    return lk.Sequential(layers, seed=0).build(input_shape)


def sequences(seed=0):
    return np.random.default_rng(seed).standard_normal((B, T, I)).astype(np.float32)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("cell", list(RECURRENT))
def test_recurrent_matches_onnxruntime(cell, stack, return_sequences, tmp_path):
    layer = RECURRENT[cell](return_sequences=return_sequences, **STACKS[stack])
    check_model(f"{cell}/{stack}", built([layer]), sequences(), tmp_path)


@pytest.mark.parametrize("variant", list(LSTM_VARIANTS))
def test_lstm_variants_match_onnxruntime(variant, tmp_path):
    """Peepholes -> P (reordered p_i, p_o, p_f), CIFG -> input_forget=1, the 1997 LSTM -> saturated forget gate."""
    layer = LSTM(H, bidirectional=True, return_sequences=True, **LSTM_VARIANTS[variant])
    model = built([layer])
    for p in layer.params.values():                       # larger weights: gates far from 1/2 expose mix-ups
        p *= 3.0
    check_model(f"LSTM-{variant}", model, sequences(), tmp_path)


def test_embedding_lstm_dense_model(tmp_path):
    """The token model of a text classifier: int64 ids in, Embedding (Gather), a stacked bidirectional LSTM,
    Dropout (gone at inference), Dense on the final states."""
    model = built([Embedding(11, 6), LSTM(H, num_layers=2, bidirectional=True, dropout=0.2), Dropout(0.5),
                   Dense(3)], input_shape=(None,))
    ids = np.random.default_rng(1).integers(0, 11, (B, T))
    check_model("Embedding-LSTM-Dense", model, ids, tmp_path)
    model = built([Embedding(11, 6), GRU(H, return_sequences=True), Dense(3), Dense(2, use_bias=False)],
                  input_shape=(None,))
    check_model("Embedding-GRU-Dense-seq", model, ids, tmp_path)


def test_dense_only_and_trained_model(tmp_path):
    check_model("Dense", built([Dense(3), Dropout(0.1), Dense(2)], input_shape=(I,)),
                np.random.default_rng(2).standard_normal((B, I)).astype(np.float32), tmp_path)
    x, y = sequences(3), np.random.default_rng(3).standard_normal((B, 1)).astype(np.float32)
    model = built([LSTM(H), Dense(1)]).compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2))
    model.fit(x, y, epochs=3, batch_size=B, verbose=0)
    check_model("trained LSTM-Dense", model, x, tmp_path)


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_sequence_lens_match_masks(cell, tmp_path):
    """The optional sequence_lens input equals lstmkit's right-padded mask, both directions, both outputs."""
    lengths = np.array([T, 2, 5])
    for return_sequences in (True, False):
        model = built([RECURRENT[cell](num_layers=2, bidirectional=True, return_sequences=return_sequences),
                       Dense(2)])
        check_model(f"{cell}/sequence_lens", model, sequences(4), tmp_path, sequence_lens=lengths)


def test_free_batch_and_time_and_metadata(tmp_path):
    """Batch and time are free dims of the graph; the model's config and metadata travel in metadata_props."""
    model = built([GRU(H, return_sequences=True), Dense(2)], input_shape=(T, I))
    model.metadata = {"window": 7}
    path = export.onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(path)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", I]
    assert proto.opset_import[0].version == export.OPSET
    props = {p.key: p.value for p in proto.metadata_props}
    assert '"window": 7' in props["lstmkit.metadata"] and '"GRU"' in props["lstmkit.config"]
    x = np.random.default_rng(5).standard_normal((2, 11, I)).astype(np.float32)     # another B and T
    np.testing.assert_allclose(run_onnx(path, x), model.predict(x), rtol=0, atol=1e-5)
    assert export.compare_with_onnxruntime(model, path, x) < 1e-5


@pytest.mark.parametrize("make, match", [
    (lambda: built([TimeDistributed(Dense(2))], (T, 2, I)),
     r"layer 0 \(TimeDistributed\) cannot be exported to ONNX: it folds time into the batch"),
    (lambda: built([Dense(4), RepeatVector(3)], (I,)), r"layer 1 \(RepeatVector\) cannot be exported"),
    (lambda: built([Dense(4), Embedding(5, 2)], (I,)), r"an Embedding must be the first layer"),
    (lambda: built([LSTM(H, stateful=True)]), r"cannot be exported to ONNX: the option\(s\) stateful=True"),
    (lambda: built([LSTM(H, proj_size=2)]), r"cannot be exported to ONNX: the option\(s\) proj_size=2"),
])
def test_unsupported_raise(make, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        export.onnx(make(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"lk.Sequential\(\[layer\]\)"):
        export.onnx(LSTM(H), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="no weights yet"):
        export.onnx(lk.Sequential([LSTM(H)]), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset must be an integer from 14"):
        export.onnx(built([LSTM(H)]), tmp_path / "m.onnx", opset=13)


def test_float64_model_exports_as_float32(tmp_path):
    model = built([LSTM(H, dtype="float64"), Dense(2, dtype="float64")])
    x = sequences(6)
    got = run_onnx(export.onnx(model, tmp_path / "m.onnx"), x)
    np.testing.assert_allclose(got, model.predict(x.astype(np.float64)), rtol=0, atol=1e-5)


# ---- the command line -----------------------------------------------------------------------------------------------
def cli(argv):
    parser = argparse.ArgumentParser(prog="lstmkit")
    export_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_export(tmp_path, capsys):
    model = built([Embedding(11, 6), LSTM(H, bidirectional=True), Dense(3)], input_shape=(None,))
    model.save(tmp_path / "m.lstmkit")
    assert cli(["export", "--model", str(tmp_path / "m.lstmkit"), "--format", "onnx", "--verify"]) in (0, None)
    out = capsys.readouterr().out
    assert "m.onnx" in out and "ONNX Runtime" in out
    ids = np.random.default_rng(7).integers(0, 11, (B, T))
    check = run_onnx(tmp_path / "m.onnx", ids)
    np.testing.assert_allclose(check, model.predict(ids), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="no such model file"):
        cli(["export", "--model", str(tmp_path / "missing.lstmkit"), "--format", "onnx"])
