"""Model files: save/load round trips for every layer type, the safetensors format, atomic overwrites, no pickle,
and every damaged or foreign file ending in one ValueError (explicit cases plus hypothesis fuzzing of the bytes
and of the JSON configuration). The SHA-256 checksums in the header make every damaged file either refused or, when
the damage missed everything that is read (say, a space inserted into the header's JSON), loaded with the very
tensors, configuration and metadata that were saved."""

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import load as load_bytes
from safetensors.numpy import load_file, save_file

import lstmkit as lk
import lstmkit.formats.modelfile as lkio
from lstmkit.layers import (
    GRU,
    LSTM,
    Activation,
    BatchNorm,
    Concatenate,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    SimpleRNN,
)

B, T, I = 3, 5, 2


def perturb(model, seed=123):
    """Move every weight away from its seeded initialisation, so a load that ignored the file would show."""
    rng = np.random.default_rng(seed)
    for p in model.parameters().values():
        p += rng.normal(0.0, 0.1, p.shape).astype(p.dtype)
    return model


MODELS = {
    "lstm": (lambda: [LSTM(4), Dense(1)], (T, I)),
    "lstm-forget-bias": (lambda: [LSTM(4, forget_bias=1.0, return_sequences=True), Dense(2)], (T, I)),
    "gru-seq": (lambda: [GRU(3, return_sequences=True), Dense(2)], (T, I)),
    "rnn-relu": (lambda: [SimpleRNN(3, nonlinearity="relu"), Dense(1)], (T, I)),
    "embedding": (lambda: [Embedding(7, 3, padding_idx=0), LSTM(4), Dense(3)], (T,)),
    "bidirectional-2-layers": (lambda: [LSTM(3, bidirectional=True, num_layers=2, dropout=0.2,
                                             return_sequences=True), Dropout(0.5), GRU(2, bidirectional=True),
                                        Dense(1)], (T, I)),
    "dense-only": (lambda: [Dense(4), Dropout(0.1), Dense(1, use_bias=False)], (I,)),
    "float64": (lambda: [LSTM(3, dtype="float64"), Dense(1, dtype="float64")], (T, I)),
    "lstm-fcn": (lambda: [Concatenate([LSTM(3)], [Conv1D(4, 3), BatchNorm(), Activation("relu"),
                                                 GlobalAveragePooling1D()]), Dense(2)], (T, I)),
}


def inputs(input_shape, seed=0):
    rng = np.random.default_rng(seed)
    if len(input_shape) == 1 and input_shape == (T,):
        return rng.integers(0, 7, (B, T))
    return rng.standard_normal((B,) + input_shape)


def built_model(name, seed=0):
    make, input_shape = MODELS[name]
    model = lk.Sequential(make(), seed=seed)
    model.build(input_shape)
    return perturb(model), inputs(input_shape)


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    """A small valid model file (its bytes and its path) and the predictions it must reproduce."""
    model, x = built_model("lstm")
    path = tmp_path_factory.mktemp("valid") / "model.lstmkit"
    model.save(path, metadata={"window": 20})
    return path, path.read_bytes(), x, model.predict(x)


def read_parts(path):
    tensors = load_file(str(path))
    with safe_open(str(path), "np") as f:
        meta = dict(f.metadata())
    return tensors, meta


def parts_of(data):
    """The tensors and the string metadata of safetensors bytes."""
    header_len = int.from_bytes(data[:8], "little")
    return load_bytes(data), json.loads(data[8:8 + header_len])["__metadata__"]


CHECKSUMS = ("tensors_sha256", "config_sha256", "metadata_sha256")


def write_parts(path, tensors, meta, sign=True):
    """Write a model file from its parts; with `sign`, a header that holds checksums gets them recomputed for the
    new parts, so the file reaches the checks behind the checksum (without, they describe the original file)."""
    if sign and meta and "tensors_sha256" in meta:
        meta = dict(meta, **lkio.checksums(tensors, {k: meta[k] for k in ("config", "metadata") if k in meta}))
    save_file(tensors, str(path), metadata=meta)
    return path


def data_region(data):
    """The byte range of safetensors bytes `data` that holds the tensors' values."""
    return 8 + int.from_bytes(data[:8], "little"), len(data)


def expect_error(path, *fragments):
    with pytest.raises(ValueError) as info:
        lk.load(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    return message


# ---- round trips --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_gives_identical_predictions(tmp_path, name):
    model, x = built_model(name)
    path = tmp_path / f"{name}.lstmkit"
    model.save(path)
    loaded = lk.load(path)
    assert isinstance(loaded, lk.Sequential)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.input_shape == model.input_shape
    saved, restored = model.parameters(), loaded.parameters()
    assert set(saved) == set(restored)
    for k in saved:
        assert restored[k].dtype == saved[k].dtype
        np.testing.assert_array_equal(restored[k], saved[k])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.predict(x).dtype == model.predict(x).dtype
    # the file's weights were used, not a re-run of the seeded initialisation
    fresh = lk.Sequential(MODELS[name][0](), seed=0).build(MODELS[name][1])
    assert any(not np.array_equal(fresh.parameters()[k], restored[k]) for k in restored)


def test_loaded_model_trains_and_saves_again(tmp_path):
    model, x = built_model("gru-seq")
    model.save(tmp_path / "a.lstmkit")
    loaded = lk.load(tmp_path / "a.lstmkit")
    loaded.compile(loss="mse", optimizer="adam")
    y = np.zeros((B, T, 2))
    loaded.fit(x, y, epochs=2, batch_size=B, verbose=0)
    loaded.save(str(tmp_path / "b.lstmkit"))
    np.testing.assert_array_equal(lk.load(tmp_path / "b.lstmkit").predict(x), loaded.predict(x))


def test_metadata_round_trip(tmp_path):
    model, _ = built_model("lstm")
    metadata = {"scaler": {"mean": 1.5, "std": [0.25, 2.0]}, "window": 20, "name": "air passengers \u2708",
                "flags": [True, False, None]}
    model.save(tmp_path / "m.lstmkit", metadata=metadata)
    assert lk.load(tmp_path / "m.lstmkit").metadata == metadata
    model.save(tmp_path / "n.lstmkit")
    assert lk.load(tmp_path / "n.lstmkit").metadata == {}


def test_file_is_valid_safetensors(valid_file):
    path, data, _, _ = valid_file
    model = lk.load(path)
    tensors, meta = read_parts(path)
    assert set(tensors) == set(model.parameters())
    for k, v in tensors.items():
        np.testing.assert_array_equal(v, model.parameters()[k])
    assert meta["format"] == "lstmkit" and int(meta["format_version"]) == 1
    assert set(meta) == {"format", "format_version", "config", "metadata", *CHECKSUMS}
    config = json.loads(meta["config"])
    assert [spec["class"] for spec in config["layers"]] == ["LSTM", "Dense"]
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])
    assert header["__metadata__"] == meta
    end = max(entry["data_offsets"][1] for k, entry in header.items() if k != "__metadata__")
    assert len(data) == 8 + header_len + end


def test_header_holds_sha256_checksums(valid_file):
    """The checksum format of the formats/modelfile.py docstring, recomputed here from the file's parts."""
    tensors, meta = read_parts(valid_file[0])
    digest = hashlib.sha256()
    for name in sorted(tensors):
        arr = tensors[name]
        digest.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode() + b"\n" + arr.tobytes())
    assert meta["tensors_sha256"] == digest.hexdigest()
    assert meta["config_sha256"] == hashlib.sha256(meta["config"].encode()).hexdigest()
    assert meta["metadata_sha256"] == hashlib.sha256(meta["metadata"].encode()).hexdigest()
    assert all(re.fullmatch("[0-9a-f]{64}", meta[key]) for key in CHECKSUMS)


def test_no_pickle_in_the_package():
    root = Path(lk.__file__).parent
    sources = list(root.rglob("*.py"))
    assert len(sources) > 10
    for source in sources:
        text = source.read_text()
        for line in text.splitlines():
            if re.match(r"\s*(import|from)\s", line):
                assert not re.search(r"\b(c?pickle|_pickle|dill|joblib|shelve|cloudpickle)\b", line), \
                    f"{source.name}: {line.strip()}"
        assert not re.search(r"""["'](c?pickle|dill|joblib|shelve)["']""", text), source.name
        assert "allow_pickle=True" not in text.replace(" ", ""), source.name


# ---- saving -------------------------------------------------------------------------------------------------------
def test_saving_an_unbuilt_model_raises(tmp_path):
    model = lk.Sequential([LSTM(3), Dense(1)])
    with pytest.raises(ValueError, match="build"):
        model.save(tmp_path / "m.lstmkit")
    assert os.listdir(tmp_path) == []


def test_save_overwrites_atomically(tmp_path):
    first, x = built_model("lstm")
    second = perturb(built_model("lstm")[0], seed=9)
    path = tmp_path / "m.lstmkit"
    first.save(path)
    second.save(path)
    assert os.listdir(tmp_path) == ["m.lstmkit"]           # no temporary file remains
    np.testing.assert_array_equal(lk.load(path).predict(x), second.predict(x))
    assert not np.array_equal(first.predict(x), second.predict(x))


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    old, x = built_model("lstm")
    path = tmp_path / "m.lstmkit"
    old.save(path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(lkio.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        perturb(built_model("lstm")[0], seed=5).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.lstmkit"]
    assert path.read_bytes() == before
    np.testing.assert_array_equal(lk.load(path).predict(x), old.predict(x))


# ---- damaged and foreign files ------------------------------------------------------------------------------------
def test_missing_path(tmp_path):
    expect_error(tmp_path / "nope.lstmkit", "nope.lstmkit")
    expect_error(tmp_path, str(tmp_path))                  # a folder is not a model file


def test_empty_file(tmp_path):
    (tmp_path / "empty.lstmkit").write_bytes(b"")
    expect_error(tmp_path / "empty.lstmkit", "empty.lstmkit")


@pytest.mark.parametrize("size", [1, 7, 8, 9, 64, 5000])
def test_random_bytes(tmp_path, size):
    path = tmp_path / "random.lstmkit"
    path.write_bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes())
    expect_error(path, "random.lstmkit")


def test_text_file(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"layers": []}))
    expect_error(path, "model.json")


def test_truncated_files(tmp_path, valid_file):
    _, data, _, _ = valid_file
    header_end = 8 + int.from_bytes(data[:8], "little")
    cuts = sorted({1, 4, 7, 8, 9, 20, header_end // 2, header_end - 1, header_end, header_end + 1,
                   header_end + 50, len(data) // 2, len(data) - 4, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.lstmkit"
        path.write_bytes(data[:cut])
        expect_error(path, f"cut{cut}.lstmkit")


def test_safetensors_file_without_lstmkit_header(tmp_path):
    path = write_parts(tmp_path / "plain.safetensors", {"0.weight": np.zeros((2, 3), np.float32)}, None)
    expect_error(path, "not an lstmkit model")
    path = write_parts(tmp_path / "other.safetensors", {"w": np.zeros(2, np.float32)}, {"format": "pt"})
    expect_error(path, "not an lstmkit model")


def test_format_version_from_the_future(tmp_path, valid_file):
    tensors, meta = read_parts(valid_file[0])
    meta["format_version"] = "99"
    expect_error(write_parts(tmp_path / "v99.lstmkit", tensors, meta), "99", "upgrade")


def test_every_flipped_tensor_byte_is_refused(tmp_path, valid_file):
    """A damaged weight byte (low bit or sign bit, anywhere in the tensor data) no longer loads as other weights:
    it is one ValueError that names the file and says it is damaged."""
    _, data, _, _ = valid_file
    start, end = data_region(data)
    path = tmp_path / "flipped.lstmkit"
    for i in range(start, end):
        for bit in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[i] ^= bit
            path.write_bytes(bytes(damaged))
            expect_error(path, "flipped.lstmkit", "damaged", "checksum", "tensors")


@pytest.mark.parametrize("key", ["config", "metadata"])
def test_changed_header_string_is_refused(tmp_path, valid_file, key):
    """An edit of the configuration or metadata that still parses (here: only its spacing) must match the
    checksum too."""
    tensors, meta = read_parts(valid_file[0])
    meta[key] = json.dumps(json.loads(meta[key]), indent=1)
    path = write_parts(tmp_path / "edited.lstmkit", tensors, meta, sign=False)
    expect_error(path, "edited.lstmkit", "damaged", "checksum", repr(key))


def test_file_without_checksums_loads(tmp_path, valid_file):
    """A file written before lstmkit kept checksums (the same header without the *_sha256 entries) still loads:
    there is nothing to check it against, so even a damaged weight byte goes unnoticed there."""
    path, data, x, expected = valid_file
    tensors, meta = read_parts(path)
    old = {key: value for key, value in meta.items() if key not in CHECKSUMS}
    model = lk.load(write_parts(tmp_path / "old.lstmkit", tensors, old))
    np.testing.assert_array_equal(model.predict(x), expected)
    assert model.metadata == {"window": 20}
    tensors["1.bias"][0] += 1.0
    assert lk.load(write_parts(tmp_path / "old-damaged.lstmkit", tensors, old)).parameters()["1.bias"][0] \
        == tensors["1.bias"][0]


@pytest.mark.parametrize("change", ["drop-tensors", "drop-config", "drop-metadata", "rename", "extra"])
def test_incomplete_or_foreign_checksum_entries_are_refused(tmp_path, valid_file, change):
    """A header that holds some checksums must hold all of them; an entry no lstmkit file has (a checksum whose
    name was damaged) is refused too, so damage cannot turn a checked file into an unchecked one."""
    tensors, meta = read_parts(valid_file[0])
    if change.startswith("drop-"):
        del meta[f"{change[5:]}_sha256"]
        fragment = "but not"
    elif change == "rename":
        meta["tensors_sha257"] = meta.pop("tensors_sha256")
        fragment = "tensors_sha257"
    else:
        meta["comment"] = "hello"
        fragment = "comment"
    path = write_parts(tmp_path / "header.lstmkit", tensors, meta, sign=False)
    expect_error(path, "header.lstmkit", "damaged", fragment)


def edit_config(tmp_path, valid_file, edit, name="edited.lstmkit"):
    tensors, meta = read_parts(valid_file[0])
    config = json.loads(meta["config"])
    edit(config)
    meta["config"] = json.dumps(config)
    return write_parts(tmp_path / name, tensors, meta)


def test_unknown_layer_class(tmp_path, valid_file):
    def edit(config):
        config["layers"][0]["class"] = "Transformer"
    expect_error(edit_config(tmp_path, valid_file, edit), "Transformer", "LSTM")


def test_layer_config_that_does_not_fit_the_class(tmp_path, valid_file):
    def edit(config):
        config["layers"][0]["config"]["heads"] = 8
    expect_error(edit_config(tmp_path, valid_file, edit), "heads")


def test_config_disagreeing_with_the_tensors(tmp_path, valid_file):
    def edit(config):
        config["layers"][0]["config"]["hidden_size"] = 5
    expect_error(edit_config(tmp_path, valid_file, edit), "weight")


@pytest.mark.parametrize("edit,fragment", [
    (lambda t: t.update({"0.weight_ih_l0": np.zeros((12, 3), np.float32)}), "shape"),
    (lambda t: t.update({"1.weight": np.zeros((3,), np.float32)}), "shape"),
    (lambda t: t.update({"0.bias_ih_l0": t["0.bias_ih_l0"].astype(np.float64)}), "dtype"),
    (lambda t: t.update({"1.bias": np.zeros((1,), np.int32)}), "dtype"),
    (lambda t: t.pop("0.weight_hh_l0"), "missing"),
    (lambda t: t.update({"2.weight": np.zeros((1, 1), np.float32)}), "unexpected"),
    (lambda t: t["1.weight"].__setitem__((0, 1), np.nan), "NaN"),
    (lambda t: t["0.bias_hh_l0"].__setitem__(0, np.inf), "inf"),
], ids=["shape-ih", "shape-dense", "dtype-f64", "dtype-int", "missing", "extra", "nan", "inf"])
def test_bad_tensors(tmp_path, valid_file, edit, fragment):
    tensors, meta = read_parts(valid_file[0])
    edit(tensors)
    expect_error(write_parts(tmp_path / "bad.lstmkit", tensors, meta), fragment)


@pytest.mark.parametrize("key,value", [
    ("format_version", "one"), ("format_version", ""), ("config", "{not json"), ("config", "[]"),
    ("config", "null"), ("config", "42"), ("metadata", "{broken"),
], ids=lambda v: repr(v)[:20])
def test_damaged_header_fields(tmp_path, valid_file, key, value):
    tensors, meta = read_parts(valid_file[0])
    meta[key] = value
    expect_error(write_parts(tmp_path / "bad.lstmkit", tensors, meta), "bad.lstmkit")


def test_header_field_missing(tmp_path, valid_file):
    for key in ("config", "format_version", "format"):
        tensors, meta = read_parts(valid_file[0])
        del meta[key]
        expect_error(write_parts(tmp_path / f"no-{key}.lstmkit", tensors, meta), f"no-{key}.lstmkit")


MALFORMED = {                                    # id: (edit of the configuration, what the message must name)
    "layers-int": (lambda c: c.update(layers=5), "layers"),
    "layers-null": (lambda c: c.update(layers=None), "layers"),
    "layers-str": (lambda c: c.update(layers="LSTM"), "'layers'"),
    "layers-ints": (lambda c: c.update(layers=[5, 6]), "layer 0"),
    "layers-empty": (lambda c: c.update(layers=[]), "layers"),
    "no-layers": (lambda c: c.pop("layers"), "layers"),
    "no-class": (lambda c: c["layers"][0].pop("class"), "'class'"),
    "config-list": (lambda c: c["layers"][0].update(config=[3]), "'config'"),
    "config-null": (lambda c: c["layers"][0].update(config=None), "'config'"),
    "hidden-str": (lambda c: c["layers"][0]["config"].update(hidden_size="3"), "hidden_size"),
    "hidden-neg": (lambda c: c["layers"][0]["config"].update(hidden_size=-1), "hidden_size"),
    "dropout-str": (lambda c: c["layers"][0]["config"].update(dropout="0.5"), "dropout"),
    "dtype-f16": (lambda c: c["layers"][0]["config"].update(dtype="float16"), "dtype"),
    "shape-null": (lambda c: c.update(input_shape=None), "input.shape"),
    "shape-int": (lambda c: c.update(input_shape=5), "input.shape"),
    "shape-empty": (lambda c: c.update(input_shape=[]), "input.shape"),
    "shape-str": (lambda c: c.update(input_shape="ab"), "input.shape"),
    "shape-nested": (lambda c: c.update(input_shape=[[5], [2]]), "input.shape"),
    "shape-neg": (lambda c: c.update(input_shape=[5, -2]), "input.shape"),
    "seed-str": (lambda c: c.update(seed="zero"), "seed"),
    "seed-neg": (lambda c: c.update(seed=-1), "seed"),
    "seed-list": (lambda c: c.update(seed=[1.5]), "seed"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_configuration(tmp_path, valid_file, case):
    """A configuration of the wrong types is damage too: one ValueError that names the file and the bad field,
    never a TypeError or IndexError from deep inside model building, nor a bare NumPy message."""
    edit, field = MALFORMED[case]
    path = edit_config(tmp_path, valid_file, edit)
    with pytest.raises(ValueError) as info:
        lk.load(path)
    message = str(info.value)
    assert path.name in message, message
    assert re.search(field, message, re.IGNORECASE), message


# ---- fuzzing ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def load_or_value_error(path):
    """lk.load must end in a model or a ValueError naming the file; any other exception fails the test."""
    try:
        model = lk.load(path)
    except ValueError as err:
        assert path.name in str(err), str(err)
        return None
    assert isinstance(model, lk.Sequential)
    return model


def assert_refused_or_identical(path, damaged):
    """The damaged file `path` (bytes `damaged`, made from VALID_BYTES) is refused with a ValueError naming it, or
    it loads with the saved configuration and metadata and every weight byte-identical (same dtype, shape and
    bytes); the outcome is a hypothesis event (see `pytest --hypothesis-show-statistics`)."""
    try:
        model = lk.load(path)
    except ValueError as err:
        assert path.name in str(err), str(err)
        event("refused")
        return
    assert isinstance(model, lk.Sequential)
    _, meta = parts_of(damaged)
    assert (meta["config"], meta["metadata"]) == (VALID_META["config"], VALID_META["metadata"])
    assert model.get_config() == VALID_MODEL.get_config() and model.metadata == {"window": 20}
    got, saved = model.parameters(), VALID_MODEL.parameters()
    assert got.keys() == saved.keys()
    for name in saved:
        assert (got[name].dtype, got[name].shape) == (saved[name].dtype, saved[name].shape), name
        assert got[name].tobytes() == saved[name].tobytes(), name
    event("loaded, identical")


def mutation(size, header_end):
    position = st.one_of(st.integers(0, header_end - 1), st.integers(header_end, size - 1),    # the header, the
                         st.integers(0, size - 1))                                            # tensors, anywhere
    return st.one_of(
        st.tuples(st.just("flip"), position, st.integers(1, 255)),
        st.tuples(st.just("set"), position, st.sampled_from(b'0123456789-.,:[]{}"\\ eEnultrf')),
        st.tuples(st.just("truncate"), st.integers(0, size - 1)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), position, st.integers(1, 8)),
    )


def apply(data, mutations):
    data = bytearray(data)
    for op, *args in mutations:
        if op == "flip" and args[0] < len(data):
            data[args[0]] ^= args[1]
        elif op == "set" and args[0] < len(data):
            data[args[0]] = args[1]
        elif op == "truncate":
            del data[args[0]:]
        elif op == "insert":
            data[args[0]:args[0]] = args[1]
        elif op == "delete":
            del data[args[0]:args[0] + args[1]]
    return bytes(data)


@st.composite
def damaged_files(draw, data):
    header_end = 8 + int.from_bytes(data[:8], "little")
    mutations = draw(st.lists(mutation(len(data), header_end), min_size=1, max_size=4))
    return apply(data, mutations)


def _valid_model_and_bytes():
    model, _ = built_model("lstm")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.lstmkit"
        model.save(path, metadata={"window": 20})
        return model, path.read_bytes()


VALID_MODEL, VALID_BYTES = _valid_model_and_bytes()            # the saved model, and its file
VALID_META = parts_of(VALID_BYTES)[1]


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged=damaged_files(VALID_BYTES))
def test_fuzzed_bytes_are_refused_or_load_identical(fuzz_dir, damaged):
    path = fuzz_dir / "fuzzed.lstmkit"
    path.write_bytes(damaged)
    assert_refused_or_identical(path, damaged)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 30) | st.floats(-2, 40, allow_nan=False)
                    | st.text(max_size=6) | st.sampled_from(["LSTM", "Dense", "float32", "float64"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3),
                    max_leaves=6)
CONFIG_KEYS = ["seed", "input_shape", "layers"]
LAYER_KEYS = ["class", "config"]
LSTM_KEYS = ["hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences", "return_state",
             "forget_bias", "dtype"]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from([("top", k) for k in CONFIG_KEYS] + [("layer", k) for k in LAYER_KEYS]
                             + [("lstm", k) for k in LSTM_KEYS] + [("dense", k) for k in ("units", "use_bias")]),
       value=JSON)
def test_fuzzed_configuration_loads_or_raises_value_error(fuzz_dir, where, value):
    tensors, meta = parts_of(VALID_BYTES)
    config = json.loads(meta["config"])
    kind, key = where
    target = {"top": config, "layer": config["layers"][0], "lstm": config["layers"][0]["config"],
              "dense": config["layers"][1]["config"]}[kind]
    target[key] = value
    meta = dict(meta, config=json.dumps(config))
    path = write_parts(fuzz_dir / "fuzzed-config.lstmkit", tensors, meta)
    load_or_value_error(path)
