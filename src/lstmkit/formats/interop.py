"""Weights between PyTorch or Keras 3 and lstmkit, both ways, with identical outputs.

PyTorch: `from_torch` turns an nn.Linear, nn.RNN, nn.LSTM, nn.GRU or nn.Embedding into the equivalent built lstmkit
layer, `to_torch` turns the layer back into the module. No reshuffling is needed: lstmkit's parameters carry
PyTorch's state_dict names, shapes and gate orders (DESIGN.md section 1), so a conversion is a copy of each tensor
(never shared memory) plus the constructor options. An nn.LSTM with `proj_size` P > 0 (Sak et al. 2014) is
lstmkit's LSTM(proj_size=P): the same `weight_hr_l{k}` (P, H), h_n (L*D, B, P) and c_n (L*D, B, H).

Batch axis: lstmkit is always batch-first, `x` (B, T, I). A module built with `batch_first=False` has the same
weights, so it converts as is, but its (T, B, I) inputs must be transposed, `x.transpose(1, 0, 2)`, before they go
to the lstmkit layer (and its per-step outputs come back (B, T, D*H)). `to_torch` always builds `batch_first=True`.

Keras 3: `from_keras` / `to_keras` for keras.layers.SimpleRNN, LSTM, GRU, Dense, Embedding, Dropout and
Bidirectional (around one of the recurrent three). Keras stores a kernel (I, G*H) and a recurrent kernel (H, G*H),
the transposes of lstmkit's weight_ih (G*H, I) and weight_hh (G*H, H). The LSTM's gate order i, f, c, o is
lstmkit's i, f, g, o; the GRU's z, r, h is lstmkit's r, z, n with the first two blocks swapped. Keras' LSTM and
SimpleRNN have one bias vector: it becomes bias_ih with bias_hh = 0 (and back, bias = bias_ih + bias_hh).
Keras' GRU with reset_after=True (its default) is PyTorch's form with two bias rows, bias (2, 3H) = [b_ih, b_hh];
reset_after=False applies the reset gate before the recurrent product, `U_h (r * h)`, which lstmkit's GRU
(`r * (W_hn h + b_hn)`) cannot represent, so it is refused.

torch and keras are imported inside the functions, so both stay optional dependencies (`pip install torch`,
`pip install keras` with a backend, e.g. KERAS_BACKEND=torch).
"""

import numpy as np

from ..layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from ..layers.dense import ACTIVATIONS
from ..runtime.backend import to_host

SUPPORTED_TORCH = "nn.Linear, nn.RNN, nn.LSTM, nn.GRU, nn.Embedding"
SUPPORTED_LSTMKIT = "Dense, SimpleRNN, LSTM, GRU, Embedding"
SUPPORTED_KERAS = "SimpleRNN, LSTM, GRU (reset_after=True), Dense, Embedding, Dropout, Bidirectional"
_TORCH_DTYPES = ("float32", "float64")
# constructor options that leave the equations of the plain layer unchanged (all others must be at their default
# for a conversion: a variant such as LSTM(peephole=True) has no PyTorch or Keras counterpart)
_PLAIN_OPTIONS = {"dtype", "implementation", "units", "use_bias", "rate", "num_embeddings", "embedding_dim",
                  "padding_idx", "hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences",
                  "return_state", "stateful", "nonlinearity", "forget_bias", "recurrent_dropout", "input_dropout"}
_KERAS_OPTIONS = _PLAIN_OPTIONS | {"activation", "mask_zero"}    # Keras' Dense and Embedding have these too


def variant_options(layer, plain=_PLAIN_OPTIONS):
    """'name=value' for each constructor option of `layer` outside `plain` that is not at its default: the
    options that make a variant (peephole=True, coupled=True, ...) which a converter or exporter must refuse
    unless it maps them. Defaults are read from every `__init__` up the class hierarchy, as get_config does."""
    import inspect

    defaults = {}
    for cls in type(layer).__mro__:
        if "__init__" in vars(cls):
            for param in inspect.signature(cls.__init__).parameters.values():
                defaults.setdefault(param.name, param.default)
    return [f"{k}={v!r}" for k, v in layer.get_config().items()
            if k not in plain and v != defaults.get(k, inspect.Parameter.empty)]


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("lk.interop needs PyTorch: pip install torch") from None
    return torch


# ---- torch -> lstmkit -------------------------------------------------------------------------------------------
def from_torch(module, return_sequences=None, return_state=False):
    """The lstmkit layer equivalent to a PyTorch module, built, with a copy of its weights and its dtype.

    module: an nn.Linear, nn.RNN (tanh or relu), nn.LSTM, nn.GRU or nn.Embedding with float32 or float64
        parameters (on any device; they are copied to host memory).
    return_sequences: recurrent modules only; None (the default) means True, since a PyTorch recurrent module
        returns the whole output sequence. With False the layer returns the top layer's final hidden state,
        `h_n[-1]` (`torch.cat([h_n[-2], h_n[-1]], -1)` when bidirectional).
    return_state: recurrent modules only; True makes forward return `(output, h_n)` (`(output, (h_n, c_n))` for
        the LSTM), as the PyTorch module does.

    Any num_layers, bidirectional, dropout and LSTM proj_size convert (dropout acts only in
    forward(..., training=True), as torch's acts only in train mode). `batch_first` is not a weight: a
    `batch_first=False` module converts as is, but its inputs must be transposed to (B, T, I) for the lstmkit
    layer (see the module docstring).
    Not supported (ValueError): recurrent `bias=False`, Embedding `max_norm`, `sparse`, `scale_grad_by_freq`.
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module ({SUPPORTED_TORCH}), got {type(module).__name__}.")
    recurrent = isinstance(module, (nn.RNN, nn.LSTM, nn.GRU))
    if not recurrent and isinstance(module, nn.RNNBase):
        raise ValueError(f"module {type(module).__name__} (a bare nn.RNNBase) is not supported; "
                         f"supported modules: {SUPPORTED_TORCH}.")
    if not recurrent and (return_sequences is not None or return_state):
        raise ValueError(f"return_sequences and return_state apply to recurrent modules (nn.RNN, nn.LSTM, "
                         f"nn.GRU), not to {type(module).__name__}; leave them at their defaults.")
    dtype = _module_dtype(module)
    if isinstance(module, nn.Linear):
        layer = Dense(module.out_features, use_bias=module.bias is not None, dtype=dtype)
        layer.build((module.in_features,))
    elif isinstance(module, nn.Embedding):
        _check_embedding_options(module)
        layer = Embedding(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx, dtype=dtype)
        layer.build((None,))
    elif recurrent:
        _check_recurrent_options(module)
        args = dict(hidden_size=module.hidden_size, num_layers=module.num_layers,
                    bidirectional=module.bidirectional, dropout=float(module.dropout),
                    return_sequences=True if return_sequences is None else return_sequences,
                    return_state=return_state, dtype=dtype)
        if isinstance(module, nn.LSTM):
            layer = LSTM(proj_size=module.proj_size, **args)
        elif isinstance(module, nn.GRU):
            layer = GRU(**args)
        else:
            layer = SimpleRNN(nonlinearity=module.nonlinearity, **args)
        layer.build((None, module.input_size))
    else:
        raise ValueError(f"cannot convert {type(module).__name__}: supported modules are {SUPPORTED_TORCH}.")
    _copy_into_layer(module.state_dict(), layer)
    return layer


def _module_dtype(module):
    """'float32' or 'float64', the one dtype of all the module's parameters."""
    dtypes = {str(p.dtype).removeprefix("torch.") for p in module.parameters()}
    if len(dtypes) != 1:
        found = ", ".join(sorted(dtypes)) if dtypes else "no parameters"
        raise ValueError(f"the module's parameters must all be float32 or all float64, found {found}; "
                         f"convert with module.float() or module.double().")
    dtype = dtypes.pop()
    if dtype not in _TORCH_DTYPES:
        raise ValueError(f"the module's parameters are {dtype}, but lstmkit runs in float32 or float64; "
                         f"convert with module.float() or module.double() first.")
    return dtype


def _check_recurrent_options(module):
    name = type(module).__name__
    if not module.bias:
        raise ValueError(f"{name} with bias=False is not supported yet: lstmkit's recurrent layers always have "
                         f"bias_ih and bias_hh. Use bias=True (or zero the biases of a bias=True module).")


def _check_embedding_options(module):
    unsupported = []
    if module.max_norm is not None:
        unsupported.append(f"max_norm={module.max_norm}")
    if module.scale_grad_by_freq:
        unsupported.append("scale_grad_by_freq=True")
    if module.sparse:
        unsupported.append("sparse=True")
    if unsupported:
        raise ValueError(f"nn.Embedding with {', '.join(unsupported)} is not supported: lstmkit's Embedding is a "
                         f"plain lookup with a dense gradient. Build the module without these options.")


def _copy_into_layer(state_dict, layer):
    """Copy each tensor of `state_dict` into the parameter of the same name (new arrays, memory not shared)."""
    if set(state_dict) != set(layer.params):
        raise ValueError(f"the module's state_dict keys {sorted(state_dict)} do not match the parameters of "
                         f"{type(layer).__name__}, {sorted(layer.params)}.")
    for name, tensor in state_dict.items():
        value = np.array(tensor.detach().cpu().numpy(), dtype=layer.dtype, order="C", copy=True)
        if value.shape != layer.params[name].shape:
            raise ValueError(f"parameter {name} has shape {value.shape} in the module but "
                             f"{layer.params[name].shape} in {type(layer).__name__}.")
        layer.params[name] = value
    layer.to(layer.device)                                      # onto the layer's device (a GPU after set_backend)


# ---- lstmkit -> torch -------------------------------------------------------------------------------------------
def to_torch(layer):
    """The PyTorch module equivalent to a built lstmkit layer, with a copy of its weights, in the same dtype.

    Dense -> nn.Linear, Embedding -> nn.Embedding, SimpleRNN -> nn.RNN (same nonlinearity), LSTM -> nn.LSTM,
    GRU -> nn.GRU. Recurrent modules are built with `batch_first=True` (lstmkit's layout) and the layer's
    num_layers, bidirectional and dropout (and an LSTM's proj_size). The module is in torch's default train mode;
    call `.eval()` for outputs equal to `layer.forward(x)` (training=False) when dropout > 0. `return_sequences` /
    `return_state` have no torch counterpart: the module always returns the whole sequence and its final states.
    Only these exact classes convert: a variant (a subclass, or an option such as LSTM(peephole=True), with
    other equations) raises ValueError. `stateful` is not carried over (torch modules take the state explicitly).
    """
    torch = _import_torch()
    nn = torch.nn
    kind = type(layer)
    if kind not in (Dense, Embedding, SimpleRNN, LSTM, GRU):
        raise ValueError(f"cannot convert {kind.__name__} to PyTorch: supported layers are {SUPPORTED_LSTMKIT}.")
    _check_convertible(layer, "PyTorch", _PLAIN_OPTIONS | {"proj_size"})
    dtype = getattr(torch, layer.dtype)
    if kind is Dense:
        out_features, in_features = layer.params["weight"].shape
        module = nn.Linear(in_features, out_features, bias=layer.use_bias, dtype=dtype)
    elif kind is Embedding:
        module = nn.Embedding(layer.num_embeddings, layer.embedding_dim, padding_idx=layer.padding_idx, dtype=dtype)
    else:
        args = dict(input_size=layer.params["weight_ih_l0"].shape[1], hidden_size=layer.hidden_size,
                    num_layers=layer.num_layers, bias=True, batch_first=True, dropout=layer.dropout,
                    bidirectional=layer.bidirectional, dtype=dtype)
        if kind is SimpleRNN:
            module = nn.RNN(nonlinearity=layer.nonlinearity, **args)
        elif kind is LSTM:
            module = nn.LSTM(proj_size=layer.proj_size, **args)
        else:
            module = nn.GRU(**args)
    state = {name: torch.from_numpy(np.ascontiguousarray(to_host(value))) for name, value in layer.params.items()}
    module.load_state_dict(state, strict=True)                 # copies into the module's own tensors
    return module


def _check_convertible(layer, target, plain=_PLAIN_OPTIONS):
    """Refuse an unbuilt layer, or a variant: an option outside `plain` (the options `target` maps) not at its
    default."""
    kind = type(layer)
    if not layer.built:
        raise ValueError(f"the {kind.__name__} layer is not built yet, so it has no weights to convert; call "
                         f"layer.build(input_shape) or run layer.forward(x) once first.")
    variant = variant_options(layer, plain)
    if variant:
        raise ValueError(f"cannot convert {kind.__name__}({', '.join(variant)}) to {target}: {target} has no layer "
                         f"with these equations; only the plain {kind.__name__} converts.")


# ---- Keras 3 <-> lstmkit ------------------------------------------------------------------------------------------
def _import_keras():
    try:
        import keras
    except ModuleNotFoundError as err:
        if err.name in ("keras", None):
            raise ImportError("lk.interop.from_keras / to_keras need Keras 3: pip install keras") from None
        raise ImportError(f"Keras is installed but its backend is not ({err.name} is missing); choose an "
                          f"installed one before Keras is first imported, e.g. KERAS_BACKEND=torch.") from None
    if int(keras.__version__.split(".")[0]) < 3:
        raise ImportError(f"lk.interop needs Keras 3, found Keras {keras.__version__}: pip install -U keras")
    return keras


def _keras_array(keras, variable, dtype):
    return np.array(keras.ops.convert_to_numpy(variable), dtype=dtype, order="C", copy=True)


def _swap_rz(a, H):
    """Swap the first two gate blocks along axis 0: Keras' GRU z, r, h <-> lstmkit's r, z, n (its own inverse)."""
    return np.concatenate([a[H:2 * H], a[:H], a[2 * H:]])


# ---- Keras -> lstmkit ---------------------------------------------------------------------------------------------
def from_keras(layer):
    """The lstmkit layer equivalent to a built Keras 3 layer, with a copy of its weights, in its dtype; a built
    keras.Sequential of such layers becomes the equivalent built lk.Sequential.

    keras.layers.Dense -> Dense (activation linear / None, sigmoid, softmax, tanh or relu; "linear" is None),
    Embedding -> Embedding (mask_zero carries over: the mask x != 0 goes on to the next layers, and the real steps'
    outputs match Keras'; on a padded step after the last real one a one-direction Keras layer with
    return_sequences repeats the last output where lstmkit gives zeros, which the losses ignore), Dropout -> Dropout,
    SimpleRNN (tanh or relu) -> SimpleRNN, LSTM -> LSTM, GRU (reset_after=True) -> GRU,
    Bidirectional(one of these three, merge_mode="concat") -> the same layer with bidirectional=True.
    Recurrent layers keep return_sequences and return_state; with return_state the lstmkit layer returns
    `(output, h_n)` (`(output, (h_n, c_n))` for the LSTM) with h_n shaped (D, B, H), where Keras returns the list
    `[output, h, (c)]` (and the backward direction's states after the forward's for Bidirectional).
    Accepted, with identical inference outputs: use_bias=False (the lstmkit biases are zeros and stay trainable),
    dropout and recurrent_dropout (training only; dropped, with a warning).
    Refused (ValueError): other activations (a Dense with gelu, an LSTM with relu, ...), GRU reset_after=False,
    go_backwards outside Bidirectional, stateful=True, merge_mode other than "concat", mixed precision, LoRA or
    quantized layers, other classes.
    """
    keras = _import_keras()
    kl = keras.layers
    kind = type(layer)
    if kind is keras.Sequential:
        return _from_keras_sequential(keras, layer)
    if not isinstance(layer, kl.Layer):
        raise TypeError(f"layer must be a Keras 3 layer ({SUPPORTED_KERAS}) or a keras.Sequential, got "
                        f"{kind.__name__}.")
    if kind not in (kl.Dense, kl.Embedding, kl.Dropout, kl.SimpleRNN, kl.LSTM, kl.GRU, kl.Bidirectional):
        raise ValueError(f"cannot convert {kind.__name__}: supported Keras layers are {SUPPORTED_KERAS} "
                         f"(these exact classes, not subclasses).")
    if kind is kl.Dropout:
        return Dropout(float(layer.rate))
    if not layer.built:
        raise ValueError(f"the Keras {kind.__name__} layer is not built, so it has no weights yet; call it on a "
                         f"batch once, or layer.build(input_shape), first.")
    dtype = _keras_dtype(layer.forward_layer if kind is kl.Bidirectional else layer)   # where the weights are
    if getattr(layer, "quantization_mode", None) is not None or getattr(layer, "lora_enabled", False):
        raise ValueError(f"the Keras {kind.__name__} layer is quantized or has LoRA enabled; lstmkit holds plain "
                         f"float weights. Convert the layer before quantizing it (or after merging LoRA).")
    if kind is kl.Dense:
        activation = layer.get_config()["activation"]
        activation = None if activation == "linear" else activation
        if activation not in ACTIVATIONS:                      # a custom function arrives as its config
            named = ", ".join(repr(a) for a in ACTIVATIONS[1:-1]) + f" or {ACTIVATIONS[-1]!r}"
            raise ValueError(f"keras Dense with activation={activation!r} has no lstmkit counterpart: lstmkit's "
                             f"Dense takes activation=None (linear), {named}. Convert a Dense with "
                             f"activation=None and apply {activation} to its outputs yourself.")
        out = Dense(int(layer.units), use_bias=layer.use_bias, activation=activation, dtype=dtype)
        out.build((int(layer.kernel.shape[0]),))
        out.params["weight"] = _keras_array(keras, layer.kernel, dtype).T.copy()          # (I, U) -> (U, I)
        if layer.use_bias:
            out.params["bias"] = _keras_array(keras, layer.bias, dtype)
    elif kind is kl.Embedding:
        out = Embedding(int(layer.input_dim), int(layer.output_dim), mask_zero=bool(layer.mask_zero), dtype=dtype)
        out.build((None,))
        out.params["weight"] = _keras_array(keras, layer.embeddings, dtype)
    else:
        out = _from_keras_recurrent(keras, layer, dtype)
    return out.to(out.device)                                   # onto the layer's device, fresh zero grads


def _keras_dtype(layer):
    variable, compute = str(layer.variable_dtype), str(layer.compute_dtype)
    if variable != compute or variable not in _TORCH_DTYPES:
        raise ValueError(f"the Keras layer's dtype policy is {layer.dtype_policy.name!r} (variables {variable}, "
                         f"computation {compute}); lstmkit runs float32 or float64. Build the Keras layer with "
                         f"dtype='float32' or 'float64'.")
    return variable


def _from_keras_recurrent(keras, layer, dtype):
    """A Keras SimpleRNN/LSTM/GRU, or Bidirectional around one, as the lstmkit layer with D = 1 or 2."""
    import warnings

    kl = keras.layers
    if type(layer) is kl.Bidirectional:
        if layer.merge_mode != "concat":
            raise ValueError(f"keras Bidirectional(merge_mode={layer.merge_mode!r}) has no lstmkit counterpart: "
                             f"lstmkit concatenates the two directions. Use merge_mode='concat'.")
        directions = [layer.forward_layer, layer.backward_layer]
        if type(directions[0]) is not type(directions[1]) or directions[0].go_backwards \
                or not directions[1].go_backwards:
            raise ValueError("keras Bidirectional converts only with the same layer class in both directions, "
                             "the backward one with go_backwards=True (its default backward_layer).")
        if type(directions[0]) not in (kl.SimpleRNN, kl.LSTM, kl.GRU):
            raise ValueError(f"keras Bidirectional around {type(directions[0]).__name__} cannot convert; it "
                             f"converts around SimpleRNN, LSTM or GRU.")
    else:
        if layer.go_backwards:
            raise ValueError(f"keras {type(layer).__name__}(go_backwards=True) outside Bidirectional reads the "
                             f"sequence backwards and returns reversed outputs, which a one-direction lstmkit "
                             f"layer does not; reverse x yourself (x[:, ::-1]) and convert with go_backwards=False.")
        directions = [layer]
    kind = type(directions[0])
    configs = [d.get_config() for d in directions]
    cfg = configs[0]
    for key in ("units", "activation"):
        if cfg[key] != configs[-1][key]:
            raise ValueError(f"keras Bidirectional with {key}={cfg[key]!r} forward and {configs[-1][key]!r} "
                             f"backward cannot convert: lstmkit's two directions share hidden_size and cell.")
    H = int(cfg["units"])
    want = {"activation": ("tanh", "relu") if kind is kl.SimpleRNN else ("tanh",)}
    if kind is not kl.SimpleRNN:
        want["recurrent_activation"] = ("sigmoid",)
    for c in configs:
        for key, allowed in want.items():
            if c[key] not in allowed:
                raise ValueError(f"keras {kind.__name__} with {key}={c[key]!r} has no lstmkit counterpart; "
                                 f"lstmkit's {kind.__name__} uses {key}={' or '.join(map(repr, allowed))}.")
        if c["stateful"]:
            raise ValueError(f"keras {kind.__name__}(stateful=True) cannot convert: lstmkit layers take states "
                             f"explicitly (forward(x, initial_state=...) with return_state=True). Convert a "
                             f"stateful=False copy: type(layer).from_config({{**layer.get_config(), "
                             f"'stateful': False}}) with layer.get_weights() set into it.")
        if kind is kl.GRU and not c["reset_after"]:
            raise ValueError("keras GRU(reset_after=False) applies the reset gate before the recurrent product, "
                             "tanh(W_h x + U_h (r * h) + b_h), which lstmkit's GRU (PyTorch's form, "
                             "r * (W_hn h + b_hn)) cannot represent exactly; use (and train) the Keras GRU with "
                             "reset_after=True, the Keras 3 default.")
        if c["dropout"] or c["recurrent_dropout"]:
            warnings.warn(f"keras {kind.__name__} dropout={c['dropout']}, recurrent_dropout="
                          f"{c['recurrent_dropout']} are dropped: they act only in training and lstmkit's dropout "
                          f"is between stacked layers. Inference outputs are identical.", stacklevel=3)
    outer = layer if type(layer) is kl.Bidirectional else directions[0]
    args = dict(hidden_size=H, bidirectional=len(directions) == 2, return_sequences=bool(outer.return_sequences),
                return_state=bool(outer.return_state), dtype=dtype)
    if kind is kl.SimpleRNN:
        out = SimpleRNN(nonlinearity=cfg["activation"], **args)
    else:
        out = (LSTM if kind is kl.LSTM else GRU)(**args)
    cell = directions[0].cell
    out.build((None, int(cell.kernel.shape[0])))
    for d, direction in enumerate(directions):
        cell = direction.cell
        kernel = _keras_array(keras, cell.kernel, dtype)                   # (I, G*H)
        recurrent = _keras_array(keras, cell.recurrent_kernel, dtype)      # (H, G*H)
        bias = _keras_array(keras, cell.bias, dtype) if cell.use_bias else None
        s = out.suffix(0, d)
        if kind is kl.GRU:                                                 # z, r, h -> r, z, n
            b_ih, b_hh = (np.zeros(3 * H, dtype),) * 2 if bias is None else (bias[0], bias[1])
            p = {"weight_ih": _swap_rz(kernel.T, H), "weight_hh": _swap_rz(recurrent.T, H),
                 "bias_ih": _swap_rz(b_ih, H), "bias_hh": _swap_rz(b_hh, H)}
        else:                                                              # one bias vector -> bias_ih
            zeros = np.zeros(recurrent.shape[1], dtype)
            p = {"weight_ih": kernel.T, "weight_hh": recurrent.T,
                 "bias_ih": zeros.copy() if bias is None else bias, "bias_hh": zeros}
        for name, value in p.items():
            out.params[name + s] = np.ascontiguousarray(value, dtype=dtype)
    return out


# ---- lstmkit -> Keras ---------------------------------------------------------------------------------------------
def to_keras(layer):
    """The Keras 3 layer equivalent to a built lstmkit layer, built, with a copy of its weights, in its dtype; a
    built lk.Sequential becomes the equivalent keras.Sequential (with a keras.Input of the model's input shape).

    Dense -> keras.layers.Dense (same activation; None is "linear"), Embedding -> Embedding (same mask_zero),
    Dropout -> Dropout, SimpleRNN -> SimpleRNN (same activation), LSTM -> LSTM, GRU -> GRU(reset_after=True);
    bidirectional=True wraps the layer in keras.layers.Bidirectional(merge_mode="concat"). return_sequences and
    return_state carry over.
    Not carried over: Embedding padding_idx (Keras has none: the row is copied, but Keras training updates it),
    stateful (set it on the Keras layer yourself). Refused (ValueError): num_layers > 1 (a Keras recurrent layer
    has one layer: build the lstmkit model from num_layers=1 layers), variants such as LSTM(peephole=True).
    """
    from ..model import Sequential

    keras = _import_keras()
    kl = keras.layers
    kind = type(layer)
    if kind is Sequential:
        return _to_keras_sequential(keras, layer)
    if kind not in (Dense, Embedding, Dropout, SimpleRNN, LSTM, GRU):
        raise ValueError(f"cannot convert {kind.__name__} to Keras: supported layers are {SUPPORTED_LSTMKIT}, "
                         f"Dropout.")
    if kind is Dropout:
        return kl.Dropout(layer.rate, dtype=layer.dtype)
    _check_convertible(layer, "Keras", _KERAS_OPTIONS)
    p = {name: to_host(value) for name, value in layer.params.items()}
    if kind is Dense:
        out = kl.Dense(layer.units, use_bias=layer.use_bias, activation=layer.activation, dtype=layer.dtype)
        out.build((None, p["weight"].shape[1]))
        out.set_weights([p["weight"].T] + ([p["bias"]] if layer.use_bias else []))
        return out
    if kind is Embedding:
        out = kl.Embedding(layer.num_embeddings, layer.embedding_dim, mask_zero=layer.mask_zero, dtype=layer.dtype)
        out.build()
        out.set_weights([p["weight"]])
        return out
    if layer.num_layers != 1:
        raise ValueError(f"cannot convert {kind.__name__}(num_layers={layer.num_layers}) to Keras: a Keras "
                         f"recurrent layer has one layer. Stack num_layers=1 layers in lstmkit instead.")
    args = dict(units=layer.hidden_size, return_sequences=layer.return_sequences,
                return_state=layer.return_state, dtype=layer.dtype)
    if kind is SimpleRNN:
        cell = kl.SimpleRNN(activation=layer.nonlinearity, **args)
    elif kind is LSTM:
        cell = kl.LSTM(**args)
    else:
        cell = kl.GRU(reset_after=True, **args)
    out = kl.Bidirectional(cell, merge_mode="concat", dtype=layer.dtype) if layer.bidirectional else cell
    out.build((None, None, p["weight_ih_l0"].shape[1]))
    directions = [out.forward_layer, out.backward_layer] if layer.bidirectional else [out]
    H = layer.hidden_size
    for d, direction in enumerate(directions):
        s = layer.suffix(0, d)
        W_ih, W_hh, b_ih, b_hh = (p[name + s] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        if kind is GRU:                                                    # r, z, n -> z, r, h; bias (2, 3H)
            weights = [_swap_rz(W_ih, H).T, _swap_rz(W_hh, H).T, np.stack([_swap_rz(b_ih, H), _swap_rz(b_hh, H)])]
        else:
            weights = [W_ih.T, W_hh.T, b_ih + b_hh]                         # (I, G*H), (H, G*H), (G*H,)
        direction.set_weights([np.ascontiguousarray(w) for w in weights])
    return out


def _from_keras_sequential(keras, model):
    from ..model import Sequential

    if not model.built or not model.layers:
        raise ValueError("the keras.Sequential is not built or has no layers; give it a keras.Input(shape) "
                         "(or call it on a batch once) before converting.")
    converted = Sequential([from_keras(layer) for layer in model.layers])
    return converted.build(tuple(model.input_shape[1:]))


def _to_keras_sequential(keras, model):
    if not model.built:
        raise ValueError("the lk.Sequential has no weights yet; fit it or call model.build(input_shape) first.")
    first = model.layers[0]
    inputs = keras.Input(shape=model.input_shape, dtype="int64" if first.takes_indices else first.dtype)
    return keras.Sequential([inputs] + [to_keras(layer) for layer in model.layers])
