"""Training checkpoints: a resumed run ends bit-identical to an uninterrupted one (stopped between epochs, by a
KeyboardInterrupt or a real SIGINT inside an epoch, and by SIGKILL of a real `lstmkit train` process), a damaged or
foreign checkpoint is one ValueError (explicit cases and hypothesis fuzzing), a damaged byte is caught by the
SHA-256 checksums (refused, or resumed from the very tensors and record that were saved), a NaN gradient stops
training with the last good checkpoint kept, and Ctrl-C saves before it stops."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import load as load_bytes
from safetensors.numpy import save as save_bytes

import lstmkit as lk
from lstmkit.formats import checkpoint as ckpt
from lstmkit.formats.modelfile import checksums
from lstmkit.cli import main
from lstmkit.apps.forecast import ForecastConfig, train_forecaster
from lstmkit.layers import GRU, LSTM, Dense, Dropout
from lstmkit.runtime import cpus

FIT = dict(epochs=6, batch_size=8, validation_split=0.2, early_stopping=lk.EarlyStopping(patience=2, min_delta=1e9),
           verbose=0)
# min_delta=1e9 with patience 2: early stopping fires at epoch 3 and restores the epoch-1 weights; FIT_LONG never
# stops early but keeps the best weights of its run.
FIT_LONG = dict(FIT, early_stopping=lk.EarlyStopping(patience=100))


def data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6, 2))
    return x, (x.sum(axis=(1, 2)) * 0.3)[:, None]


class Trap(lk.losses.MSE):
    """MSE that, on training call number `at`, raises KeyboardInterrupt, sends this process a real SIGINT, or
    returns a NaN / inf gradient."""

    def __init__(self, at, action):
        self.at, self.action, self.calls = at, action, 0

    def value_and_grad(self, y_pred, y_true):
        self.calls += 1
        loss, dy = super().value_and_grad(y_pred, y_true)
        if self.calls == self.at:
            if self.action == "raise":
                raise KeyboardInterrupt
            if self.action == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            if self.action in ("nan", "inf"):
                dy[0] = float(self.action)
        return loss, dy


def net(loss="mse", seed=1, optimizer=None):
    """Dropout inside the LSTM and after it, so a resumed run must also restore every random generator."""
    m = lk.Sequential([LSTM(5, num_layers=2, dropout=0.3), Dropout(0.2), Dense(1)], seed=seed)
    return m.compile(loss=loss, optimizer=optimizer or lk.optim.Adam(lr=1e-2, clipnorm=1.0))


def assert_same_weights(a, b):
    pa, pb = a.parameters(), b.parameters()
    assert pa.keys() == pb.keys()
    for key in pa:
        np.testing.assert_array_equal(pa[key], pb[key], err_msg=key)


@pytest.fixture(scope="module")
def reference():
    """Uninterrupted runs, without checkpoints: (model, history) for FIT and FIT_LONG."""
    x, y = data()
    runs = {}
    for name, kwargs in (("fit", FIT), ("long", FIT_LONG)):
        m = net()
        runs[name] = (m, m.fit(x, y, **kwargs))
    return runs


# ---- resume == uninterrupted, in process --------------------------------------------------------------------------
def test_checkpointing_does_not_change_the_run(reference, tmp_path):
    x, y = data()
    m = net()
    history = m.fit(x, y, checkpoint=tmp_path, **FIT_LONG)
    assert_same_weights(m, reference["long"][0])
    assert history.history == reference["long"][1].history
    assert os.listdir(tmp_path) == [ckpt.FILENAME]


@pytest.mark.parametrize("name", ["fit", "long"])
@pytest.mark.parametrize("stop_after", [1, 2, 4])
def test_resume_between_epochs_is_bit_identical(reference, tmp_path, name, stop_after):
    x, y = data()
    kwargs = FIT if name == "fit" else FIT_LONG
    net().fit(x, y, checkpoint=tmp_path, **{**kwargs, "epochs": stop_after})
    m = net()
    history = m.fit(x, y, checkpoint=tmp_path, resume=True, **kwargs)
    assert_same_weights(m, reference[name][0])
    assert history.history == reference[name][1].history
    assert history.stopped_epoch == reference[name][1].stopped_epoch


@pytest.mark.parametrize("action", ["raise", "sigint"])
@pytest.mark.parametrize("at", [1, 3, 5, 9, 17])
def test_interrupt_inside_an_epoch_saves_and_resumes_bit_identical(reference, tmp_path, action, at):
    """5 batches per epoch: `at` hits the first batch, the middle and the last batch of an epoch. A raised
    KeyboardInterrupt lands inside the batch (nothing applied yet); a SIGINT is deferred to the next batch."""
    if action == "sigint" and signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by someone else here, so fit does not defer it")
    x, y = data()
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved to .*, (after|before) "):
        net(loss=Trap(at, action)).fit(x, y, checkpoint=tmp_path, **FIT_LONG)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler      # fit put the handler back
    _, body, _ = ckpt.read_checkpoint(tmp_path)
    done = at - 1 if action == "raise" else at                               # batches applied before the stop
    where = divmod(done, 5)
    if action == "sigint" and where[1] == 0:                 # stopped after the last batch, before the epoch's end
        where = (where[0] - 1, 5)
    assert (body["position"]["epoch"], body["position"]["batch"]) == where
    m = net()
    history = m.fit(x, y, checkpoint=tmp_path, resume=True, **FIT_LONG)
    assert_same_weights(m, reference["long"][0])
    assert history.history == reference["long"][1].history


def test_resume_several_times_and_after_the_end(reference, tmp_path):
    x, y = data()
    for stop in (1, 2, 3):
        m = net()
        m.fit(x, y, checkpoint=tmp_path, resume=stop > 1, **{**FIT_LONG, "epochs": stop})
    m = net()
    m.fit(x, y, checkpoint=tmp_path, resume=True, **FIT_LONG)
    assert_same_weights(m, reference["long"][0])
    again = net()                                   # the run is complete: resuming only restores it
    history = again.fit(x, y, checkpoint=tmp_path, resume=True, **FIT_LONG)
    assert_same_weights(again, reference["long"][0])
    assert history.history == reference["long"][1].history


def test_checkpoint_every_and_the_file(tmp_path, monkeypatch):
    x, y = data()
    written = []
    save = ckpt.save_checkpoint
    monkeypatch.setattr(ckpt, "save_checkpoint", lambda folder, model, state, fit: (
        written.append((state.epoch, state.batch)), save(folder, model, state, fit))[1])
    m = net()
    m.fit(x, y, checkpoint=tmp_path, checkpoint_every=2, **{**FIT_LONG, "epochs": 5})
    assert written == [(2, 0), (4, 0), (5, 0)]                 # every 2 epochs, and at the end
    path = tmp_path / ckpt.FILENAME
    with safe_open(str(path), "np") as f:                     # a plain safetensors file
        names = set(f.keys())
        meta = f.metadata()
    assert meta["format"] == "lstmkit-checkpoint" and meta["format_version"] == "1"
    assert {f"model/{k}" for k in m.parameters()} <= names
    assert {f"optimizer/{k}/exp_avg" for k in m.parameters()} <= names
    assert {f"best/{k}" for k in m.parameters()} <= names
    assert set(meta) == {"format", "format_version", "checkpoint", "tensors_sha256", "checkpoint_sha256"}
    digest = hashlib.sha256()                                # the checksum format of modelfile.py, recomputed
    with safe_open(str(path), "np") as f:
        for name in sorted(names):
            arr = f.get_tensor(name)
            digest.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode() + b"\n" + arr.tobytes())
    assert meta["tensors_sha256"] == digest.hexdigest()
    assert meta["checkpoint_sha256"] == hashlib.sha256(meta["checkpoint"].encode()).hexdigest()
    body = json.loads(meta["checkpoint"])
    assert body["optimizer"]["class"] == "Adam" and body["optimizer"]["step"] == 25
    assert body["rng"]["shuffle"]["bit_generator"] == "PCG64" and len(body["rng"]["layers"]) == 3
    assert body["position"] == {"epoch": 5, "batch": 0, "loss_sum": 0.0, "seen": 0,
                                "blas_threads": cpus.get_blas_threads()}
    assert body["fit"]["samples"] == 40 and body["fit"]["batch_size"] == 8


# ---- divergence and Ctrl-C --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_gradient_stops_and_keeps_the_last_good_checkpoint(tmp_path, bad):
    x, y = data()
    m = net(loss=Trap(13, bad))                                # batch 3 of epoch 3
    with pytest.raises(FloatingPointError) as info, np.errstate(all="ignore"):
        m.fit(x, y, checkpoint=tmp_path, **FIT_LONG)
    message = str(info.value)
    assert "epoch 3, batch 3" in message and "gradient" in message and "NaN or inf" in message
    assert "learning rate" in message and "clip" in message
    assert "last good checkpoint" in message and "after epoch 2" in message
    assert all(np.all(np.isfinite(p)) for p in m.parameters().values())        # no step was applied
    _, body, _ = ckpt.read_checkpoint(tmp_path)
    assert (body["position"]["epoch"], body["position"]["batch"]) == (2, 0)
    resumed = net()                                            # the kept checkpoint continues as the clean run
    resumed.fit(x, y, checkpoint=tmp_path, resume=True, **{**FIT_LONG, "epochs": 3})
    clean = net()
    clean.fit(x, y, **{**FIT_LONG, "epochs": 3})
    assert_same_weights(resumed, clean)


def test_divergence_before_any_checkpoint_says_so(tmp_path):
    x, y = data()
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2: the gradient .* no checkpoint was written yet"):
        net(loss=Trap(2, "nan")).fit(x, y, checkpoint=tmp_path, **FIT_LONG)
    assert not (tmp_path / ckpt.FILENAME).exists()


def test_interrupt_without_checkpoint_just_propagates(tmp_path):
    x, y = data()
    with pytest.raises(KeyboardInterrupt) as info:
        net(loss=Trap(3, "raise")).fit(x, y, **FIT_LONG)
    assert str(info.value) == ""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_needs_a_checkpoint(tmp_path):
    x, y = data()
    with pytest.raises(ValueError, match="holds no checkpoint"):
        net().fit(x, y, checkpoint=tmp_path, resume=True, **FIT)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        net().fit(x, y, resume=True, **FIT)
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        net().fit(x, y, checkpoint=tmp_path, checkpoint_every=0, **FIT)


# ---- damaged, foreign and mismatched checkpoints ------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint written inside an epoch (with a sample order and dropout generators mid-stream)."""
    folder = tmp_path_factory.mktemp("ckpt")
    x, y = data()
    with pytest.raises(KeyboardInterrupt):
        net(loss=Trap(8, "raise")).fit(x, y, checkpoint=folder, **FIT_LONG)
    return (folder / ckpt.FILENAME).read_bytes()


def try_resume(folder, model=None, x_y=None, **kwargs):
    """Resume from `folder`; the model's weights must be untouched when it fails."""
    x, y = x_y or data()
    model = model or net()
    model.build(x.shape[1:])
    before = {k: p.copy() for k, p in model.parameters().items()}
    try:
        model.fit(x, y, checkpoint=folder, resume=True, **{**FIT_LONG, "epochs": 2, **kwargs})
    except ValueError:
        for key, p in model.parameters().items():
            np.testing.assert_array_equal(p, before[key])
        raise


def write(tmp_path, content):
    (tmp_path / ckpt.FILENAME).write_bytes(content)
    return tmp_path


def header_of(content):
    """The string metadata of the checkpoint bytes `content`."""
    return json.loads(content[8:8 + int.from_bytes(content[:8], "little")])["__metadata__"]


def rewrite(content, tensors=None, body=None, meta=None, sign=True):
    """The checkpoint `content` with its tensors, JSON body or metadata changed; with `sign`, a header that holds
    checksums gets them recomputed, so the change reaches the checks behind the checksum."""
    arrays = load_bytes(content)
    header = header_of(content)
    record = json.loads(header["checkpoint"])
    if tensors:
        tensors(arrays)
    if body:
        body(record)
    header["checkpoint"] = json.dumps(record)
    if meta:
        meta(header)
    if sign and "tensors_sha256" in header:
        header.update(checksums(arrays, {"checkpoint": header["checkpoint"]}))
    return save_bytes(arrays, metadata=header)


def test_the_saved_checkpoint_resumes(saved, tmp_path):
    try_resume(write(tmp_path, saved))


@pytest.mark.parametrize("cut", [0, 7, 8, 100, -1, -200])
def test_truncated_checkpoint(saved, tmp_path, cut):
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        try_resume(write(tmp_path, saved[:cut]))


@pytest.mark.parametrize("case, change, message", [
    ("bad header length", lambda b: (2 ** 40).to_bytes(8, "little") + b[8:], "not a readable checkpoint"),
    ("garbage header", lambda b: b[:8] + b"{" * 30 + b[38:], "not a readable checkpoint"),
    ("zeros", lambda b: bytes(len(b)), "not a readable checkpoint"),
    ("a model file", None, "not an lstmkit checkpoint"),
    ("newer format", lambda b: rewrite(b, meta=lambda m: m.update(format_version="2")), "newer than this lstmkit"),
    ("bad version", lambda b: rewrite(b, meta=lambda m: m.update(format_version="x")), "bad header"),
    ("body not json", lambda b: rewrite(b, meta=lambda m: m.update(checkpoint="{")), "bad header"),
    ("section missing", lambda b: rewrite(b, body=lambda r: r.pop("rng")), "has no 'rng'"),
    ("wrong shape", lambda b: rewrite(b, tensors=lambda t: t.update({"model/2.weight": np.zeros((2, 10), np.float32)})),
     "shape"),
    ("wrong dtype", lambda b: rewrite(b, tensors=lambda t: t.update({"model/2.bias": np.zeros(1, np.float64)})),
     "dtype"),
    ("NaN weight", lambda b: rewrite(b, tensors=lambda t: t["model/2.bias"].fill(np.nan)), "NaN"),
    ("missing weight", lambda b: rewrite(b, tensors=lambda t: t.pop("model/2.bias")), "missing"),
    ("stray tensor", lambda b: rewrite(b, tensors=lambda t: t.update(extra=np.zeros(1))), "belong to nothing"),
    ("bad order", lambda b: rewrite(b, tensors=lambda t: t["order"].fill(0)), "not a permutation"),
    ("no order", lambda b: rewrite(b, tensors=lambda t: t.pop("order")), "no sample order"),
    ("bad rng", lambda b: rewrite(b, body=lambda r: r["rng"]["layers"][0].update(bit_generator="Nope")),
     "unknown kind"),
    ("bad rng state", lambda b: rewrite(b, body=lambda r: r["rng"]["shuffle"]["state"].update(state="x")),
     "invalid"),
    ("negative epoch", lambda b: rewrite(b, body=lambda r: r["position"].update(epoch=-1)), "position.epoch"),
    ("history mismatch", lambda b: rewrite(b, body=lambda r: r["history"]["epoch"].append(1)), "history"),
    ("unknown layer", lambda b: rewrite(b, body=lambda r: r["model"]["layers"][0].update({"class": "Conv"})),
     "differs from the one that wrote it"),
])
def test_damaged_or_foreign_checkpoint(saved, tmp_path, case, change, message):
    if change is None:
        m = net()
        m.build((6, 2))
        m.save(tmp_path / ckpt.FILENAME)
    else:
        write(tmp_path, change(saved))
    with pytest.raises(ValueError, match=message):
        try_resume(tmp_path)


def test_flipped_tensor_byte_is_refused(saved, tmp_path):
    """A damaged byte in any tensor (weights, optimizer state, best weights, sample order: its first, middle and
    last byte) is refused with one ValueError naming the file, never resumed from as another state."""
    start = 8 + int.from_bytes(saved[:8], "little")
    entries = {k: v for k, v in json.loads(saved[8:start]).items() if k != "__metadata__"}
    assert {"model/2.weight", "optimizer/2.weight/exp_avg", "best/2.weight", "order"} <= set(entries)
    for name, entry in sorted(entries.items()):
        begin, end = entry["data_offsets"]
        for i in sorted({begin, (begin + end) // 2, end - 1}):
            damaged = bytearray(saved)
            damaged[start + i] ^= 0x01
            with pytest.raises(ValueError) as info:
                try_resume(write(tmp_path, bytes(damaged)))
            message = str(info.value)
            assert ckpt.FILENAME in message and "damaged" in message and "checksum" in message, (name, message)


def test_edited_record_is_refused(saved, tmp_path):
    """The JSON record must match its checksum too: here only its spacing changed."""
    header = header_of(saved)
    header["checkpoint"] = json.dumps(json.loads(header["checkpoint"]), indent=1)
    write(tmp_path, save_bytes(load_bytes(saved), metadata=header))
    with pytest.raises(ValueError, match=r"checkpoint\.safetensors is a damaged checkpoint: the SHA-256 checksum "
                                         r"of its 'checkpoint' entry does not match"):
        try_resume(tmp_path)


@pytest.mark.parametrize("drop", ["tensors_sha256", "checkpoint_sha256"])
def test_checkpoint_with_part_of_the_checksums_is_refused(saved, tmp_path, drop):
    write(tmp_path, rewrite(saved, meta=lambda m: m.pop(drop), sign=False))
    with pytest.raises(ValueError, match="is a damaged checkpoint: its header holds the checksums .* but not"):
        try_resume(tmp_path)


def test_checkpoint_without_checksums_resumes_identically(saved, tmp_path):
    """A checkpoint written before lstmkit kept checksums still resumes (nothing to check it against), to the
    same weights as the checkpoint with them."""
    old = rewrite(saved, meta=lambda m: [m.pop(k) for k in ("tensors_sha256", "checkpoint_sha256")], sign=False)
    assert "tensors_sha256" not in header_of(old)
    x, y = data()
    runs = []
    for content, folder in ((saved, tmp_path / "new"), (old, tmp_path / "old")):
        folder.mkdir()
        m = net()
        m.fit(x, y, checkpoint=write(folder, content), resume=True, **{**FIT_LONG, "epochs": 3})
        runs.append(m)
    assert_same_weights(*runs)


def test_checkpoint_of_another_model_data_or_optimizer(saved, tmp_path):
    write(tmp_path, saved)
    with pytest.raises(ValueError, match="differs from the one that wrote it"):
        try_resume(tmp_path, model=lk.Sequential([GRU(5), Dense(1)], seed=1).compile(optimizer="adam"))
    with pytest.raises(ValueError, match="other data"):
        try_resume(tmp_path, x_y=data(seed=1))
    with pytest.raises(ValueError, match="other batch_size"):
        try_resume(tmp_path, batch_size=4)
    with pytest.raises(ValueError, match="Adam optimizer, but the model is compiled with SGD"):
        try_resume(tmp_path, model=net(optimizer=lk.optim.SGD(lr=0.1)))
    try_resume(tmp_path, model=net(optimizer=lk.optim.Adam(lr=1e-3)))      # another learning rate is allowed


def _resume_or_value_error(folder, content=None, original=None):
    """Resume from `folder`: it either works or ends in one ValueError naming the folder (anything else fails the
    test). With `original`, the bytes of an undamaged checkpoint of which the checkpoint in `folder` (bytes
    `content`) is a damaged copy, a resume must have read the very tensors (names, dtypes, shapes, bytes) and JSON
    record of `original`. The outcome is a hypothesis event (see `pytest --hypothesis-show-statistics`)."""
    try:
        try_resume(folder)
    except ValueError as err:
        assert str(folder) in str(err), str(err)
        event(f"ValueError: {str(err).split(': ')[0].split(' (')[0].replace(str(folder), '<dir>')[:60]}")
        return
    event("resumed")
    if original is not None:
        got, want = load_bytes(content), load_bytes(original)
        assert got.keys() == want.keys()
        for name in want:
            assert (got[name].dtype, got[name].shape) == (want[name].dtype, want[name].shape), name
            assert got[name].tobytes() == want[name].tobytes(), name
        assert header_of(content)["checkpoint"] == header_of(original)["checkpoint"]


FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(["flip", "flip-tensor", "delete", "insert", "truncate"]),
                                st.integers(0, 10 ** 6), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzzed_checkpoint_bytes_are_refused_or_resume_identical(saved, tmp_path, edits):
    """Random byte edits anywhere ("flip-tensor": a flip inside the tensor data of the undamaged file): the
    damaged checkpoint is refused, or resumed from the very tensors and record that were saved."""
    content = bytearray(saved)
    data_start = 8 + int.from_bytes(saved[:8], "little")
    for op, where, byte in edits:
        i = where % (len(content) + 1)
        if op == "flip-tensor":
            i = data_start + where % (len(saved) - data_start)
        if op.startswith("flip") and i < len(content):
            content[i] ^= byte or 1
        elif op == "delete":
            del content[i:i + 1 + byte % 8]
        elif op == "insert":
            content[i:i] = bytes([byte]) * (1 + byte % 5)
        elif op == "truncate":
            del content[i:]
    _resume_or_value_error(write(tmp_path, bytes(content)), bytes(content), original=saved)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 2 ** 70) | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@FUZZ
@given(data=st.data())
def test_fuzzed_checkpoint_record_resumes_or_raises_value_error(saved, tmp_path, data):
    """Replace or delete one value anywhere in the JSON record with random JSON."""
    paths = [p for p in _paths(json.loads(header_of(saved)["checkpoint"])) if p]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(st.just(KeyError) | JSON)

    def edit(record):
        node = record
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    _resume_or_value_error(write(tmp_path, rewrite(saved, body=edit)))


# ---- the command line: SIGKILL and SIGINT of a real `lstmkit train`, then --resume --------------------------------
KILL_RUN = ["--hidden", "8", "--batch-size", "4", "--epochs", "30", "--patience", "1000", "--checkpoint-every", "1"]


def _checkpoint_position(folder):
    _, body, _ = ckpt.read_checkpoint(folder)
    return body["position"]["epoch"], body["position"]["batch"]


# `lstmkit train` with two hooks: it prints "checkpoint <epoch> <batch>" after each checkpoint it writes, and it
# pauses (prints "paused", then reads its stdin to the end) at a chosen point: in its N-th training batch
# (`batch N`), or in its N-th checkpoint write after the temporary file is complete and before it is renamed into
# place (`write N`). The parent sends its signal, then closes the child's stdin; a signal that lands before the read
# has begun is no race: the handler has run, and the read ends when stdin closes.
TRAIN_WITH_HOOKS = """
import os, sys
import lstmkit.formats.checkpoint as ckpt
from lstmkit.cli import main
from lstmkit.training.losses import MSE

where, n = sys.argv[1], int(sys.argv[2])
count = {"batch": 0, "write": 0}
save, value_and_grad, replace = ckpt.save_checkpoint, MSE.value_and_grad, os.replace

def pause(kind):
    count[kind] += 1
    if kind == where and count[kind] == n:
        print("paused", flush=True)
        sys.stdin.read()                # a SIGINT meanwhile only sets fit's flag: the batch ends, then it stops

def saving(folder, model, state, fit):
    path = save(folder, model, state, fit)
    print("checkpoint", state.epoch, state.batch, flush=True)
    return path

def training(self, y_pred, y_true):     # fit calls it once per training batch, before the update
    pause("batch")
    return value_and_grad(self, y_pred, y_true)

def replacing(src, dst, **kwargs):      # write_atomic's rename of a complete temporary file
    if os.path.basename(dst) == ckpt.FILENAME:
        pause("write")
    return replace(src, dst, **kwargs)

ckpt.save_checkpoint, MSE.value_and_grad, os.replace = saving, training, replacing
sys.exit(main(["train", *sys.argv[3:]]))
"""


def _train_until_paused_then(args, where, n, sig):
    """Run `lstmkit train args` (with the hooks above) until it pauses at `where` number `n`, send it `sig`, let it
    go on (close its stdin); returns (exit status, stderr, [(epoch, batch) of every checkpoint it wrote])."""
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_WITH_HOOKS, where, str(n), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    written = []
    try:
        for line in proc.stdout:                         # blocks until the child prints: no timer, no polling
            if line == "paused\n":
                break
            if line.startswith("checkpoint "):
                written.append(tuple(int(v) for v in line.split()[1:]))
        else:
            pytest.fail(f"lstmkit train ended before it paused: {proc.communicate()[1]}")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)         # closes the child's stdin: a living child goes on
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    written += [tuple(int(v) for v in line.split()[1:]) for line in out.splitlines() if line.startswith("checkpoint ")]
    return proc.returncode, err, written


def test_kill_and_resume_the_command_line_bit_identical(tmp_path):
    """A real `lstmkit train` (18 batches an epoch, a checkpoint after each epoch), stopped at points the child
    announces, each followed by --resume: SIGKILL inside batch 14 of epoch 3 (the run goes on from the checkpoint
    after epoch 2); Ctrl-C (SIGINT) inside batch 5 of epoch 4 (saved after that batch, exit 130); SIGKILL while the
    checkpoint after epoch 5 is written, its temporary file complete but not yet renamed (the one after epoch 4
    stays; the resume deletes the leftover). The last resume runs to the end: the model file equals the one of an
    uninterrupted run, weight for weight."""
    run = tmp_path / "run"
    cfg = ForecastConfig(hidden=8, batch_size=4, epochs=30, patience=1000)
    reference = train_forecaster(cfg, verbose=False)
    args = ["--out", str(run), "--quiet", *KILL_RUN]
    stops = [(signal.SIGKILL, "batch", 2 * 18 + 14, [(1, 0), (2, 0)], (2, 0)),
             (signal.SIGINT, "batch", 18 + 5, [(3, 0), (3, 5)], (3, 5)),     # resumed at (2, 0)
             (signal.SIGKILL, "write", 2, [(4, 0)], (4, 0))]                   # resumed at (3, 5)
    for sig, where, n, expected_written, expected_position in stops:
        status, err, written = _train_until_paused_then(args, where, n, sig)
        assert written == expected_written, err
        if sig == signal.SIGKILL:
            assert status == -signal.SIGKILL
        else:
            assert status == 130, err
            assert err.count("\n") == 1 and "interrupted (checkpoint saved to" in err and "--resume" in err, err
        assert _checkpoint_position(run) == expected_position            # the last good checkpoint is readable
        args = ["--resume", str(run), "--quiet"]
    assert [name for name in os.listdir(run) if name.startswith(".tmp-")]    # the write that was killed
    assert subprocess.run([sys.executable, "-m", "lstmkit.cli", "train", *args], capture_output=True).returncode == 0
    resumed = lk.load(run / "model.lstmkit")
    assert_same_weights(resumed, reference.model)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_rmse"] == reference.metrics["test_rmse"] and metrics["epochs_run"] == 30
    assert not [name for name in os.listdir(run) if name.startswith(".tmp-")]


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    """A finished 2-epoch run, an empty folder, and a folder with the run's config.json but no checkpoint."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "--out", str(root / "run"), "--quiet", "--epochs", "2", "--hidden", "4"]) == 0
    (root / "empty").mkdir()
    (root / "nockpt").mkdir()
    shutil.copy(root / "run" / "config.json", root / "nockpt" / "config.json")
    (root / "badconfig").mkdir()
    shutil.copy(root / "run" / ckpt.FILENAME, root / "badconfig" / ckpt.FILENAME)
    (root / "badconfig" / "config.json").write_text('{"hidden": "many"}')
    return {name: root / name for name in ("run", "empty", "nockpt", "badconfig", "other")}


@pytest.mark.parametrize("args, message", [
    (["--resume", "{run}", "--lr", "0.1"], "--lr 0.1 (the run has 0.003)"),
    (["--resume", "{run}", "--hidden", "5", "--no-log"], "--hidden 5 (the run has 4), --log False (the run has True)"),
    (["--resume", "{run}", "--out", "{other}"], "drop --out"),
    (["--resume", "{other}"], "no such run folder"),
    (["--resume", "{empty}"], "holds no config.json"),
    (["--resume", "{nockpt}"], "holds no checkpoint"),
    (["--resume", "{badconfig}"], "config.json is damaged"),
])
def test_resume_errors_on_the_command_line(run_folders, capsys, args, message):
    assert main(["train", *[a.format(**run_folders) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_resume_may_extend_the_epochs(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--quiet", "--epochs", "3", "--hidden", "4", "--patience", "100"]) == 0
    assert main(["train", "--resume", str(run), "--quiet", "--epochs", "5"]) == 0
    once = train_forecaster(ForecastConfig(epochs=5, hidden=4, patience=100), verbose=False)
    assert_same_weights(lk.load(run / "model.lstmkit"), once.model)
    assert json.loads((run / "config.json").read_text())["epochs"] == 5
