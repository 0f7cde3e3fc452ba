"""Weights between PyTorch and lstmkit: `from_torch` turns an nn.Linear, nn.RNN, nn.LSTM, nn.GRU or nn.Embedding
into the equivalent built lstmkit layer, `to_torch` turns the layer back into the module, both with identical weights.

No reshuffling is needed: lstmkit's parameters carry PyTorch's state_dict names, shapes and gate orders
(DESIGN.md section 1), so a conversion is a copy of each tensor (never shared memory) plus the constructor options.

Batch axis: lstmkit is always batch-first, `x` (B, T, I). A module built with `batch_first=False` has the same
weights, so it converts as is, but its (T, B, I) inputs must be transposed, `x.transpose(1, 0, 2)`, before they go
to the lstmkit layer (and its per-step outputs come back (B, T, D*H)). `to_torch` always builds `batch_first=True`.

torch is imported inside the functions, so it stays an optional dependency (`pip install torch`).
"""

import numpy as np

from .layers import GRU, LSTM, Dense, Embedding, SimpleRNN

SUPPORTED_TORCH = "nn.Linear, nn.RNN, nn.LSTM, nn.GRU, nn.Embedding"
SUPPORTED_LSTMKIT = "Dense, SimpleRNN, LSTM, GRU, Embedding"
_TORCH_DTYPES = ("float32", "float64")


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

    Any num_layers, bidirectional and dropout convert (dropout acts only in forward(..., training=True), as
    torch's acts only in train mode). `batch_first` is not a weight: a `batch_first=False` module converts as is,
    but its inputs must be transposed to (B, T, I) for the lstmkit layer (see the module docstring).
    Not supported (ValueError): LSTM `proj_size > 0`, recurrent `bias=False`, Embedding `max_norm`, `sparse`,
    `scale_grad_by_freq`.
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
            layer = LSTM(**args)
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
    if getattr(module, "proj_size", 0) > 0:
        raise ValueError(f"{name} with proj_size={module.proj_size} (an LSTM with projections) is not supported; "
                         f"lstmkit's LSTM has no weight_hr. Use proj_size=0.")
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
    layer.zero_grad()


# ---- lstmkit -> torch -------------------------------------------------------------------------------------------
def to_torch(layer):
    """The PyTorch module equivalent to a built lstmkit layer, with a copy of its weights, in the same dtype.

    Dense -> nn.Linear, Embedding -> nn.Embedding, SimpleRNN -> nn.RNN (same nonlinearity), LSTM -> nn.LSTM,
    GRU -> nn.GRU. Recurrent modules are built with `batch_first=True` (lstmkit's layout) and the layer's
    num_layers, bidirectional and dropout. The module is in torch's default train mode; call `.eval()` for outputs
    equal to `layer.forward(x)` (training=False) when dropout > 0. `return_sequences` / `return_state` have no torch
    counterpart: the module always returns the whole sequence and its final states.
    Only these exact classes convert: a variant (a subclass with other equations) raises ValueError.
    """
    torch = _import_torch()
    nn = torch.nn
    kind = type(layer)
    if kind not in (Dense, Embedding, SimpleRNN, LSTM, GRU):
        raise ValueError(f"cannot convert {kind.__name__} to PyTorch: supported layers are {SUPPORTED_LSTMKIT}.")
    if not layer.built:
        raise ValueError(f"the {kind.__name__} layer is not built yet, so it has no weights to convert; call "
                         f"layer.build(input_shape) or run layer.forward(x) once first.")
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
        else:
            module = (nn.LSTM if kind is LSTM else nn.GRU)(**args)
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in layer.params.items()}
    module.load_state_dict(state, strict=True)                 # copies into the module's own tensors
    return module
