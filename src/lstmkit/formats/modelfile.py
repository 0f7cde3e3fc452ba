"""Model files: one safetensors file holding the weights as tensors `"<layer index>.<param name>"`, the layers'
buffers (BatchNorm's running statistics) beside them as `"<layer index>.<buffer name>"` (PyTorch's `state_dict`
names both alike), and, in its JSON header's metadata, the model configuration. Loading parses JSON and raw
arrays only (never pickle), so a model file cannot run code; every way a file can be wrong ends in one ValueError
that says what is wrong.

Integrity: the metadata also holds SHA-256 checksums, each a 64-digit lowercase hex string:
- `tensors_sha256` over the tensors (buffers included): for every name in sorted order, the UTF-8 JSON line
  `["<name>", "<numpy dtype.str>", [<shape>]]` + newline, then the tensor's bytes in C order;
- `config_sha256` and `metadata_sha256` over the UTF-8 bytes of the `config` and `metadata` strings.
A file whose header holds checksums must match all of them, so a damaged byte anywhere in a tensor, its name, dtype
or shape, or in the configuration is refused instead of loading different weights. Files written before lstmkit
kept checksums (no `*_sha256` field at all) still load: there is nothing to check them against. Files written
before layers had buffers hold none, and load as before: their layers have none. Training checkpoints
(checkpoint.py) use the same scheme through `checksums` / `verify_checksums`."""

import hashlib
import json
import os
import tempfile

import numpy as np

from ..runtime.backend import device_of, to_device, to_host

FORMAT = "lstmkit"
FORMAT_VERSION = 1


def save_model(model, path, metadata=None):
    """Write `model` to `path` atomically (temporary file, fsync, rename): a crash never leaves half a file."""
    from safetensors.numpy import save

    if not model.built:
        raise ValueError("the model has no weights yet; fit it, or call model.build(input_shape), before saving.")
    fields = {"config": json.dumps(model.get_config()), "metadata": json.dumps(metadata or {})}
    tensors = {name: host_array(p) for name, p in model_state(model).items()}
    header = {"format": FORMAT, "format_version": str(FORMAT_VERSION), **fields, **checksums(tensors, fields)}
    write_atomic(path, save(tensors, metadata=header), suffix=".lstmkit")


def host_array(a):
    """`a` as a C-ordered array on the host, same shape (np.ascontiguousarray would make a 0-d counter 1-d)."""
    return np.ascontiguousarray(to_host(a)).reshape(np.shape(a))


def model_buffers(model):
    """The buffers of every layer (running statistics), live arrays named as `model.parameters()` names the
    params: `"<layer index>.<name>"` (a Seq2Seq's components by their names). Optimizers never see these."""
    layers = model.layers.items() if isinstance(model.layers, dict) else enumerate(model.layers)
    return {f"{i}.{name}": b for i, layer in layers for name, b in layer.buffers.items()}


def model_state(model):
    """Everything a model file and a checkpoint keep of a model's layers: `model.parameters()` and
    `model_buffers(model)` in one dict of live arrays (their names never collide)."""
    return {**model.parameters(), **model_buffers(model)}


def tensors_sha256(tensors):
    """The SHA-256 (hex) of the dict of arrays `tensors`: per name, in sorted order, the JSON line
    `["<name>", "<dtype.str>", [<shape>]]` and a newline, then the array's bytes in C order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        arr = tensors[name]
        digest.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode() + b"\n")
        digest.update(np.ascontiguousarray(arr))
    return digest.hexdigest()


def checksums(tensors, fields):
    """The checksum entries of a header: `tensors_sha256` over `tensors`, and `<key>_sha256` over the UTF-8 bytes
    of each string of `fields` (the header's other entries, e.g. {"config": ..., "metadata": ...})."""
    out = {"tensors_sha256": tensors_sha256(tensors)}
    out.update({f"{key}_sha256": hashlib.sha256(text.encode()).hexdigest() for key, text in fields.items()})
    return out


def verify_checksums(path, tensors, meta, keys, what="model file"):
    """Check the checksums in the header `meta` of the file at `path` (a `what`) against its `tensors` and its
    string entries `keys`. Returns True when they match, False for a file without any checksum (written before
    lstmkit kept them: nothing to check against). A header that holds some of the checksums but not all, or an
    entry that no lstmkit file has (a damaged name), or a checksum that does not match is one ValueError that names
    the file and says it is damaged."""
    expected = ["tensors_sha256", *(f"{key}_sha256" for key in keys)]
    unknown = sorted(set(meta) - {"format", "format_version", *keys, *expected})
    if unknown:
        raise ValueError(f"{path} is a damaged {what}: its header holds entries that no lstmkit {what} has "
                         f"({', '.join(map(repr, unknown))}); restore the file from a copy, or write it again.")
    present = [key for key in expected if key in meta]
    if not present:
        return False
    if len(present) < len(expected):
        missing = [key for key in expected if key not in meta]
        raise ValueError(f"{path} is a damaged {what}: its header holds the checksums {present} but not "
                         f"{missing}; restore the file from a copy, or write it again.")
    now = checksums(tensors, {key: meta[key] for key in keys if isinstance(meta.get(key), str)})
    for key in expected:
        if meta[key] != now.get(key):
            part = "tensors (weights, names, dtypes, shapes)" if key == "tensors_sha256" else f"{key[:-7]!r} entry"
            raise ValueError(f"{path} is a damaged {what}: the SHA-256 checksum of its {part} does not match the "
                             f"one in its header ({key}); the file changed after it was written (disk or transfer "
                             f"damage, or an edit). Restore it from a copy, or write it again.")
    return True


def write_atomic(path, data, suffix=""):
    """Write the bytes `data` to `path` through a temporary file in the same folder, fsynced and then renamed
    over `path`: readers see the old file or the new one, never a part (also used for training checkpoints)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)                         # mkstemp makes 0600; give it an ordinary file's mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_safetensors(path, what="model file"):
    """The tensors and the `__metadata__` dict of the safetensors file at `path`; a missing, unreadable or
    damaged file is one ValueError calling it a `what`."""
    from safetensors.numpy import load

    if not os.path.isfile(path):
        raise ValueError(f"no such {what}: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + header_len])
    except Exception as err:                                   # safetensors reports damage with its own types
        raise ValueError(f"{path} is not a readable {what} (damaged or not safetensors: {err}).") from None
    return tensors, header.get("__metadata__") or {}


def read_model(path):
    """The (config, tensors, metadata) of a model file written by `save_model`, its header and checksums checked;
    the model classes rebuild themselves from these (`Sequential.from_config`, `Seq2Seq.from_config`, and
    `lk.load`, which picks the class)."""
    path = os.fspath(path)
    tensors, meta = read_safetensors(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is a safetensors file but not an lstmkit model (no lstmkit header).")
    try:
        version = int(meta.get("format_version", ""))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path} has a damaged lstmkit header ({type(err).__name__}: {err}).") from None
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format {version}, newer than this lstmkit reads "
                         f"({FORMAT_VERSION}); upgrade lstmkit.")
    verify_checksums(path, tensors, meta, ("config", "metadata"))
    try:
        config = json.loads(meta["config"])
        metadata = json.loads(meta.get("metadata", "{}"))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} has a damaged lstmkit header ({type(err).__name__}: {err}).") from None
    return config, tensors, metadata


def assign_weights(path, expected, tensors):
    """Copy the file's tensors into the model's parameter (and buffer) arrays, after checking that the names,
    shapes and dtypes are exactly the model's and that every value is finite."""
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
        param[...] = to_device(tensor, device_of(param))
