"""Model files: one safetensors file holding the weights as tensors `"<layer index>.<param name>"` and, in its
JSON header's metadata, the model configuration. Loading parses JSON and raw arrays only (never pickle), so a
model file cannot run code; every way a file can be wrong ends in one ValueError that says what is wrong."""

import json
import os
import tempfile

import numpy as np

FORMAT = "lstmkit"
FORMAT_VERSION = 1


def save_model(model, path, metadata=None):
    """Write `model` to `path` atomically (temporary file, fsync, rename): a crash never leaves half a file."""
    from safetensors.numpy import save

    if not model.built:
        raise ValueError("the model has no weights yet; fit it, or call model.build(input_shape), before saving.")
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
              "config": json.dumps(model.get_config()), "metadata": json.dumps(metadata or {})}
    data = save({name: np.ascontiguousarray(p) for name, p in model.parameters().items()}, metadata=header)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".lstmkit")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _read(path):
    from safetensors.numpy import load

    if not os.path.isfile(path):
        raise ValueError(f"no such model file: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + header_len])
    except Exception as err:                                   # safetensors reports damage with its own types
        raise ValueError(f"{path} is not a readable model file (damaged or not safetensors: {err}).") from None
    return tensors, header.get("__metadata__") or {}


def load_model(path):
    """Read a model written by `save_model`; returns the Sequential (its `metadata` attribute holds the dict
    saved beside it)."""
    from .layers import get_class
    from .model import Sequential

    path = os.fspath(path)
    tensors, meta = _read(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is a safetensors file but not an lstmkit model (no lstmkit header).")
    try:
        version = int(meta.get("format_version", ""))
        config = json.loads(meta["config"])
        metadata = json.loads(meta.get("metadata", "{}"))
        layer_specs = config["layers"]
        input_shape = config["input_shape"]
        seed = config.get("seed")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} has a damaged lstmkit header ({type(err).__name__}: {err}).") from None
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format {version}, newer than this lstmkit reads "
                         f"({FORMAT_VERSION}); upgrade lstmkit.")
    layers = []
    for spec in layer_specs:
        try:
            cls = get_class(spec["class"])
            layers.append(cls(**spec["config"]))
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path} describes a layer that cannot be rebuilt: {spec!r} ({err}).") from None
    model = Sequential(layers, seed=seed)
    if input_shape is None:
        raise ValueError(f"{path} holds no input shape; it was not written by save_model.")
    model.build(tuple(input_shape))
    expected = model.parameters()
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{path} does not match its configuration: missing weights {missing}, "
                         f"unexpected weights {extra}.")
    for name, param in expected.items():
        tensor = tensors[name]
        if tensor.shape != param.shape or tensor.dtype != param.dtype:
            raise ValueError(f"{path}: weight {name} has shape {tensor.shape} and dtype {tensor.dtype}, "
                             f"expected {param.shape} {param.dtype}.")
        if not np.all(np.isfinite(tensor)):
            raise ValueError(f"{path}: weight {name} contains NaN or inf.")
        param[...] = tensor
    model.metadata = metadata
    return model
