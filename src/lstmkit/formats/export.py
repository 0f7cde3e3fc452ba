"""ONNX export: a trained Sequential becomes an ONNX graph made of ONNX's own LSTM, GRU and RNN operators, so it
runs in ONNX Runtime (or any ONNX back end) without lstmkit.

    lk.export.onnx(model, "model.onnx")              # input "x" (B, T, I) float32 (int64 token ids after an
                                                    # Embedding), output "y"; batch and time are free dims

Mapping, layer by layer (B batch, T time, I input features, H hidden units, D directions):
- Embedding: Gather(weight, ids). Dropout: nothing (identity at inference). Dense: MatMul(x, W^T) + bias.
- SimpleRNN -> RNN (activation Tanh or Relu), LSTM -> LSTM, GRU -> GRU with linear_before_reset=1 (PyTorch's
  form, r * (W_hn h + b_hn)); one ONNX operator per layer k of num_layers, direction "bidirectional" when D = 2.
  W = weight_ih (D, G*H, I_k), R = weight_hh (D, G*H, H), B = concat(bias_ih, bias_hh) (D, 2*G*H), with the gate
  blocks reordered: lstmkit's LSTM i, f, g, o -> ONNX i, o, f, c; GRU r, z, n -> ONNX z, r, h.
- LSTM variants: peepholes go to the P input, reordered (p_i, p_f, p_o) -> (p_i, p_o, p_f); the coupled
  input-forget gate (CIFG, f = 1 - i) is ONNX's input_forget=1 (ONNX Runtime computes f = 1 - i); the 1997 LSTM
  without forget gate gets a forget block with zero weights and bias 100, so that f = sigma(100), which is
  exactly 1.0 in float32.
- The recurrent operators run time-major (layout=0, X (T, B, I)) with a Transpose before them and after the last:
  ONNX Runtime refuses the batch-first layout=1 of opset 14 ("Batchwise recurrent operations (layout == 1) are
  not supported"). Stacked layers pass (T, B, D*H) on without transposing back.
- return_sequences=False takes the final hidden states Y_h (D, B, H) of the top layer, the directions
  concatenated, (B, D*H), as lstmkit does.
- `sequence_lens=True` adds an int32 input "sequence_lens" (B,) fed to every recurrent operator: ONNX's
  right-padded variable lengths, equal to lstmkit's `mask = np.arange(T) < sequence_lens[:, None]`.

The graph is float32 (float64 models are rounded to float32): ONNX Runtime's CPU LSTM, GRU and RNN kernels run
float32 only. What cannot be exported (ValueError "... cannot be exported to ONNX: <reason>"):
- any layer other than Embedding, Dense, Dropout, SimpleRNN, LSTM and GRU: JordanRNN (its recurrence carries
  the output, which no ONNX recurrent operator does), TimeDistributed, RepeatVector, and the encoder-decoder;
- an Embedding anywhere but first;
- any layer option this exporter does not map: stateful=True (the graph starts from zero states on every run),
  an LSTM projection (proj_size) or layer normalisation, and any option added later, until it is mapped here.
Initial states are zeros (ONNX's initial_h / initial_c inputs are left out), as in `model.predict`.
"""

import json
import os

import numpy as np

from ..layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from ..layers.recurrent import Recurrent
from ..runtime.backend import to_host

OPSET = 14                         # the lowest opset with every operator and attribute used here
EXPORTABLE = "Embedding (first layer only), Dense, Dropout, SimpleRNN, LSTM, GRU"
_MAPPED_OPTIONS = {                # constructor options the exporter maps or that do not change inference
    "common": {"dtype", "implementation", "recurrent_dropout", "input_dropout"},   # the last two act in training
    Dense: {"units", "use_bias"},
    Dropout: {"rate"},
    Embedding: {"num_embeddings", "embedding_dim", "padding_idx"},
    SimpleRNN: {"hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences", "nonlinearity"},
    GRU: {"hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences"},
    LSTM: {"hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences", "forget_bias", "peephole",
           "forget_gate", "coupled"},
}
_OP = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}
_NO_ONNX = {                       # why a known layer has no mapping (by class name: they need not be imported)
    "JordanRNN": "its recurrence feeds back the previous output y_{t-1}, not h_{t-1}, which ONNX's RNN operator "
                 "cannot express",
    "TimeDistributed": "it folds time into the batch around an inner layer; apply the inner layer directly "
                       "(Dense already maps every step)",
    "RepeatVector": "the exporter has no mapping for it yet",
}
_SATURATED = 100.0                 # sigma(100) == 1.0 exactly in float32: the 1997 LSTM's f_t = 1


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("lk.export.onnx needs the onnx package: pip install onnx "
                          "(and onnxruntime to run the exported file).") from None
    return onnx


# ---- public -----------------------------------------------------------------------------------------------------
def onnx(model, path, opset=OPSET, sequence_lens=False):
    """Write `model` (a built lk.Sequential) to `path` as an ONNX model; returns the path.

    opset: the ONNX opset to declare, 14 (the default) or later.
    sequence_lens: add the int32 graph input "sequence_lens" (B,) of right-padded sequence lengths.
    The graph has input "x" (float32 (B, T, I), or int64 token ids (B, T) when the model starts with an
    Embedding), "sequence_lens" when asked, and output "y", shaped like `model.predict(x)`. The model's config,
    and the metadata saved in its file (the CLI's scaler and window), are kept in the ONNX metadata_props
    "lstmkit.config" and "lstmkit.metadata" (JSON). See the module docstring for what cannot be exported.
    """
    from .modelfile import write_atomic

    proto = to_onnx(model, opset=opset, sequence_lens=sequence_lens)
    write_atomic(path, proto.SerializeToString(), suffix=".onnx")
    return os.fspath(path)


def to_onnx(model, opset=OPSET, sequence_lens=False):
    """The onnx.ModelProto of `model`, checked with onnx.checker (full check, shape inference included)."""
    from .. import __version__
    from ..model import Sequential

    onnx_pkg = _import_onnx()
    helper = onnx_pkg.helper
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an lk.Sequential, got {type(model).__name__}; wrap a single layer as "
                        f"lk.Sequential([layer]) and build it.")
    if not model.built:
        raise ValueError("the model has no weights yet; fit it, or call model.build(input_shape), before export.")
    latest = onnx_pkg.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not OPSET <= opset <= latest:
        raise ValueError(f"opset must be an integer from {OPSET} to {latest} (this onnx package's newest), "
                         f"got {opset!r}.")
    for index, layer in enumerate(model.layers):
        _check_exportable(layer, index)

    g = _Graph(helper, onnx_pkg.numpy_helper)
    takes_ids = model.layers[0].takes_indices
    in_dims = input_dims(model)
    inputs = [helper.make_tensor_value_info("x", onnx_pkg.TensorProto.INT64 if takes_ids else
                                            onnx_pkg.TensorProto.FLOAT, in_dims)]
    lens = None
    if sequence_lens:
        lens = "sequence_lens"
        inputs.append(helper.make_tensor_value_info(lens, onnx_pkg.TensorProto.INT32, ["batch"]))
    x = _Tensor("x", len(in_dims), time_major=False)
    for index, layer in enumerate(model.layers):
        x = _export_layer(g, layer, index, x, lens)
    x = g.batch_first(x)
    if x.name == "x":                                            # a model of Dropouts only: y must be its own name
        x = _Tensor(g.node("Identity", [x.name]), x.ndim, False)
    g.rename_output(x.name, "y")

    out_shape = model.input_shape
    for layer in model.layers:
        out_shape = layer.output_shape(out_shape)
    outputs = [helper.make_tensor_value_info("y", onnx_pkg.TensorProto.FLOAT, _dims(out_shape))]
    graph = helper.make_graph(g.nodes, "lstmkit", inputs, outputs, initializer=g.initializers,
                              doc_string=" -> ".join(type(layer).__name__ for layer in model.layers))
    opsets = [helper.make_opsetid("", int(opset))]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="lstmkit", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(proto, {"lstmkit.config": json.dumps(model.get_config()),
                                   "lstmkit.metadata": json.dumps(getattr(model, "metadata", None) or {})})
    onnx_pkg.checker.check_model(proto, full_check=True)
    return proto


def input_dims(model):
    """The dims of the graph input "x" for a built `model`, e.g. ['batch', 'time', 4]."""
    return _dims(model.input_shape, ids=model.layers[0].takes_indices)


def compare_with_onnxruntime(model, path, x, sequence_lens=None):
    """Run the exported file at `path` in ONNX Runtime on `x` (and `sequence_lens`, if the file takes them) and
    return the largest absolute difference from lstmkit's outputs (masked as sequence_lens says)."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("comparing with ONNX Runtime needs it installed: pip install onnxruntime") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    takes_ids = model.layers[0].takes_indices
    feeds = {"x": np.asarray(x, np.int64 if takes_ids else np.float32)}
    mask = None
    if sequence_lens is not None:
        feeds["sequence_lens"] = np.asarray(sequence_lens, np.int32)
        mask = np.arange(np.shape(x)[1]) < feeds["sequence_lens"][:, None]        # (B, T)
    got = session.run(["y"], feeds)[0]
    want = _forward_masked(model, feeds["x"], mask)
    return float(np.max(np.abs(got - want), initial=0.0))


def _forward_masked(model, x, mask=None):
    """model.predict(x) with `mask` (B, T) passed to every recurrent layer: what the ONNX graph computes."""
    for layer in model.layers:
        x = layer.forward(x, mask=mask) if isinstance(layer, Recurrent) else layer.forward(x)
    return x


# ---- checks -------------------------------------------------------------------------------------------------------
def _check_exportable(layer, index):
    kind = type(layer)
    name = f"layer {index} ({kind.__name__})"
    if kind not in _OP and kind not in (Dense, Dropout, Embedding):
        reason = _NO_ONNX.get(kind.__name__, f"there is no ONNX mapping for {kind.__name__}")
        raise ValueError(f"{name} cannot be exported to ONNX: {reason}; exportable layers are {EXPORTABLE}.")
    if kind is Embedding and index > 0:
        raise ValueError(f"{name} cannot be exported to ONNX: an Embedding must be the first layer (it reads the "
                         f"model's integer input).")
    if getattr(layer, "return_state", False):
        raise ValueError(f"{name} cannot be exported to ONNX: return_state=True returns a tuple; the graph has "
                         f"one output. Use return_state=False.")
    unknown = _unmapped_options(layer)
    if unknown:
        raise ValueError(f"{name} cannot be exported to ONNX: the option(s) {', '.join(unknown)} have no ONNX "
                         f"counterpart in this exporter (ONNX's {_OP.get(kind, kind.__name__)} operator cannot "
                         f"express them); only the plain layer and the LSTM peephole, coupled and forget_gate "
                         f"variants export.")


def _unmapped_options(layer):
    """'name=value' for each option this exporter does not map that is not at its default: a variant added to a
    layer class later is refused until the exporter learns it."""
    from .interop import variant_options

    return variant_options(layer, _MAPPED_OPTIONS["common"] | _MAPPED_OPTIONS[type(layer)] | {"return_state"})


# ---- graph building -----------------------------------------------------------------------------------------------
class _Tensor:
    """A value in the graph: its name, its number of axes, and whether a sequence is (T, B, F) or (B, T, F)."""

    def __init__(self, name, ndim, time_major):
        self.name, self.ndim, self.time_major = name, ndim, time_major


class _Graph:
    """The nodes and initializers being built, with fresh names."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self.count = [], [], 0

    def fresh(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem, array, dtype=np.float32):
        name = self.fresh(stem)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, inputs, outs, name=self.fresh(op), **attrs))
        return outs[0] if n_out == 1 else outs

    def time_major(self, x):
        if x.ndim != 3 or x.time_major:
            return x
        return _Tensor(self.node("Transpose", [x.name], perm=[1, 0, 2]), 3, True)   # (B, T, F) -> (T, B, F)

    def batch_first(self, x):
        if x.ndim != 3 or not x.time_major:
            return x
        return _Tensor(self.node("Transpose", [x.name], perm=[1, 0, 2]), 3, False)  # (T, B, F) -> (B, T, F)

    def rename_output(self, old, new):
        for node in self.nodes:
            node.output[:] = [new if o == old else o for o in node.output]


def _dims(shape, ids=False):
    """ONNX dims of a (batch, *shape) tensor: the feature axis (the last, unless these are token ids) is fixed;
    batch and the axes before the features are free, named dims ("batch", "time", ...)."""
    free = len(shape) if ids else len(shape) - 1
    return ["batch"] + ["time" if i == 0 else f"dim{i + 2}" for i in range(free)] + \
        ([] if ids else [int(shape[-1])])


def _export_layer(g, layer, index, x, lens):
    p = {k: np.asarray(to_host(v), np.float32) for k, v in layer.params.items()}
    if isinstance(layer, Dropout):
        return x
    if isinstance(layer, Embedding):
        return _Tensor(g.node("Gather", [g.const(f"l{index}_embedding", p["weight"]), x.name], axis=0),
                       x.ndim + 1, False)                                          # (B, T) ids -> (B, T, E)
    if isinstance(layer, Dense):
        y = g.node("MatMul", [x.name, g.const(f"l{index}_weight_T", p["weight"].T)])   # (..., I) @ (I, units)
        if layer.use_bias:
            y = g.node("Add", [y, g.const(f"l{index}_bias", p["bias"])])
        return _Tensor(y, x.ndim, x.time_major)
    return _export_recurrent(g, layer, index, p, x, lens)


def _export_recurrent(g, layer, index, p, x, lens):
    """One ONNX operator per layer k; returns (T, B, D*H) time-major, or (B, D*H) when return_sequences=False."""
    L, D, H = layer.num_layers, layer.num_directions, layer.hidden_size
    op = _OP[type(layer)]
    attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
    if op == "RNN":
        attrs["activations"] = ["Relu" if layer.nonlinearity == "relu" else "Tanh"] * D
    elif op == "GRU":
        attrs["linear_before_reset"] = 1                                # r * (W_hn h + b_hn), PyTorch's form
    elif _lstm_variant(layer)[2]:
        attrs["input_forget"] = 1                                       # ONNX Runtime: f = 1 - i
    x = g.time_major(x)
    for k in range(L):
        blocks = [_onnx_blocks(layer, p, layer.suffix(k, d)) for d in range(D)]
        stem = f"l{index}_{op.lower()}{k}"
        inputs = [x.name] + [g.const(f"{stem}_{part}", np.stack([b[part] for b in blocks]))
                             for part in ("W", "R", "B")]                  # (D, G*H, I_k), (D, G*H, H), (D, 2*G*H)
        if "P" in blocks[0]:
            inputs += [lens or "", "", "", g.const(f"{stem}_P", np.stack([b["P"] for b in blocks]))]   # (D, 3H)
        elif lens:
            inputs.append(lens)
        Y, Y_h = g.node(op, inputs, n_out=2, **attrs)                   # (T, D, B, H), (D, B, H)
        if k == L - 1 and not layer.return_sequences:
            if D == 1:
                return _Tensor(g.node("Squeeze", [Y_h, g.const("axes", [0], np.int64)]), 2, False)     # (B, H)
            Y_h = g.node("Transpose", [Y_h], perm=[1, 0, 2])                                         # (B, D, H)
            return _Tensor(g.node("Reshape", [Y_h, g.const("shape", [0, -1], np.int64)]), 2, False)  # (B, D*H)
        if D == 1:
            x = _Tensor(g.node("Squeeze", [Y, g.const("axes", [1], np.int64)]), 3, True)          # (T, B, H)
        else:
            Y = g.node("Transpose", [Y], perm=[0, 2, 1, 3])                                          # (T, B, D, H)
            x = _Tensor(g.node("Reshape", [Y, g.const("shape", [0, 0, -1], np.int64)]), 3, True)    # (T, B, D*H)
    return x


def _onnx_blocks(layer, p, s):
    """W, R, B (and P) of one layer and direction in ONNX's gate order."""
    W, R, b_ih, b_hh = p["weight_ih" + s], p["weight_hh" + s], p["bias_ih" + s], p["bias_hh" + s]
    H = layer.hidden_size
    blk = lambda a, j: a[j * H:(j + 1) * H]                            # gate block j of a (G*H, ...) array
    if isinstance(layer, GRU):
        order = lambda a: np.concatenate([blk(a, 1), blk(a, 0), blk(a, 2)])   # r, z, n -> z, r, h
    elif isinstance(layer, LSTM):
        order = lambda a: _lstm_onnx_order(layer, a, H)
    else:
        order = lambda a: a
    out = {"W": order(W), "R": order(R), "B": np.concatenate([order(b_ih), order(b_hh)])}
    if not isinstance(layer, LSTM):
        return out
    peephole, forget_gate, coupled = _lstm_variant(layer)
    if not forget_gate:
        out["B"][2 * H:3 * H] = _SATURATED                              # f = sigma(100) = 1: the 1997 LSTM
    if peephole:
        P = dict(zip(("i", "f", "o") if forget_gate and not coupled else ("i", "o"),
                     p["weight_peephole" + s]))                          # lstmkit rows p_i, p_f, p_o (or p_i, p_o)
        zero = np.zeros(H, np.float32)
        out["P"] = np.concatenate([P["i"], P["o"], P.get("f", zero)])   # ONNX P: p_i, p_o, p_f
    return out


def _lstm_onnx_order(layer, a, H):
    """lstmkit's LSTM gate blocks -> ONNX's i, o, f, c. The standard cell has i, f, g, o; the coupled and the
    forget-gate-free cells have i, g, o, and ONNX gets a zero forget block (ignored with input_forget=1, made
    constant 1 by the saturated bias for the 1997 LSTM)."""
    blk = lambda j: a[j * H:(j + 1) * H]
    _, forget_gate, coupled = _lstm_variant(layer)
    if forget_gate and not coupled:
        i, f, g, o = blk(0), blk(1), blk(2), blk(3)
    else:
        i, g, o = blk(0), blk(1), blk(2)
        f = np.zeros_like(i)
    return np.concatenate([i, o, f, g])


def _lstm_variant(layer):
    """(peephole, forget_gate, coupled) of an LSTM; the plain cell's values where the class has no such option."""
    return (bool(getattr(layer, "peephole", False)), bool(getattr(layer, "forget_gate", True)),
            bool(getattr(layer, "coupled", False)))
