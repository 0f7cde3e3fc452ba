"""The device code paths (backend.py): every layer moved to "cuda" computes on device arrays only and gives the
CPU's numbers (float64, 1e-10), forward and backward, with the recurrent options; models train, save and resume
to the same weights; a missing CuPy or GPU is one clear error.

Each test taking the `cuda` fixture runs twice: on tests/fake_device.py (a strict CuPy stand-in on the CPU, so
it runs everywhere, CI included) and on real CuPy, which is skipped only where CuPy or a GPU is missing. On a GPU
machine: `pip install cupy-cuda12x && pytest tests/test_device.py`."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from fake_device import DeviceArray, FakeCupy, HostArrayError

import lstmkit as lk
from lstmkit.runtime import backend
from lstmkit.layers import (GRU, LSTM, Dense, Dropout, Embedding, JordanRNN, Masking, RepeatVector, SimpleRNN,
                            TimeDistributed)

B, T, I, H = 3, 5, 4, 6
TOL = 1e-10


def host(a):
    assert backend.is_device_array(a), f"expected a device array, got {type(a).__name__}"
    return a.get()


def pair(make, input_shape, **device_kwargs):
    """The same layer twice (same seed): one on the CPU, one moved to the (fake) GPU."""
    cpu, dev = make(), make(**device_kwargs)
    cpu.build(input_shape, np.random.default_rng(0))
    dev.build(input_shape, np.random.default_rng(0))
    return cpu, dev.to("cuda")


def assert_same_grads(cpu, dev):
    assert cpu.grads.keys() == dev.grads.keys()
    for name in cpu.grads:
        np.testing.assert_allclose(host(dev.grads[name]), cpu.grads[name], rtol=TOL, atol=TOL, err_msg=name)


def test_fake_device_refuses_host_arrays():
    """The stand-in catches what CuPy would reject, so the parity tests below can fail on a host/device mix."""
    a = FakeCupy().ones(3)
    with pytest.raises(HostArrayError):
        np.asarray(a)
    with pytest.raises(HostArrayError):
        a + np.ones(3)
    with pytest.raises(HostArrayError):
        np.concatenate([a, np.ones(3)])
    with pytest.raises(TypeError):
        np.einsum("i,i->", a, a, out=FakeCupy().zeros(()))
    assert isinstance(np.sum(a), DeviceArray) and float(np.sum(a)) == 3.0


def test_fake_elementwise_kernel_is_strict():
    """The stand-in's ElementwiseKernel rounds every statement to T, as C does, and rejects what CuPy would."""
    fake = FakeCupy()
    square_plus = fake.ElementwiseKernel("T x, T y", "T z", "T s = x * x; z = s + y;", "square_plus")
    x = fake.asarray(np.array([1e-4, 3.0], np.float32))
    z = square_plus(x, fake.asarray(np.ones((2, 2), np.float32)))              # broadcast (2,) with (2, 2)
    assert z.dtype == np.float32 and z.shape == (2, 2)
    np.testing.assert_array_equal(z.get(), np.float32([[1, 10], [1, 10]]))        # 1e-8 + 1 rounds to 1
    with pytest.raises(HostArrayError):
        square_plus(x, np.ones(2, np.float32))
    with pytest.raises(TypeError, match="ambiguous"):
        square_plus(x, fake.asarray(np.ones(2)))
    for inputs, outputs, body in [("T x", "T z", "if (x > 0) z = x;"), ("T x", "T z", "z = x ** 2;"),
                                  ("T x", "T z", "z = 0.5 * x;"), ("T x", "T i", "i = x;"),
                                  ("T n", "T z", "z = n;"), ("T x", "T z", "T do = x; z = do;")]:
        with pytest.raises(SyntaxError):                       # not C, not Python, a double literal, reserved
            fake.ElementwiseKernel(inputs, outputs, body, "bad")


def test_fake_elementwise_kernel_refuses_integer_division():
    """`/` between two integers divides as integers in C (1 / 2 == 0) but not in NumPy: refused, whether the
    integers are literals or T is an integer type; an integer literal meeting a floating T is fine."""
    fake = FakeCupy()
    for body in ("z = x * (1 / 2);", "z = tanh(x + 3 / 2);", "z = x * ((1 + 1) / 2);", "z = x * (-1 / 2);"):
        with pytest.raises(SyntaxError, match="integer division"):
            fake.ElementwiseKernel("T x", "T z", body, "halve")
    halve = fake.ElementwiseKernel("T x", "T z", "z = (x + 1) / 2;", "halve")
    np.testing.assert_array_equal(halve(fake.asarray(np.float32([2.0]))).get(), np.float32([1.5]))
    with pytest.raises(TypeError, match="integer division"):
        halve(fake.asarray(np.array([2], np.int32)))


def test_fake_elementwise_kernel_refuses_outputs_sharing_memory():
    """CUDA runs a kernel element by element, in place: an output that shares memory with an input (or with
    another output) would be read after it is written, and CuPy silently copies such an input first. Refused;
    outputs in other parts of the same buffer are fine."""
    fake = FakeCupy()
    add = fake.ElementwiseKernel("T x, T y", "T z", "z = x + y;", "add")
    buf = fake.asarray(np.arange(8.0).reshape(2, 4))
    one = fake.asarray(np.ones((2, 2)))
    for x, out in [(buf[:, :2], buf[:, :2]), (buf[:, :2], buf[:, 1:3]), (buf[0], buf.reshape(8)[2:6])]:
        with pytest.raises(ValueError, match="shares memory with input x"):
            add(x, one if x.ndim == 2 else fake.ones(4), out)
    add(buf[:, :2], one, buf[:, 2:])                                  # interleaved rows, no common element
    np.testing.assert_array_equal(buf.get(), [[0, 1, 1, 2], [4, 5, 5, 6]])
    split = fake.ElementwiseKernel("T x", "T y, T z", "y = x; z = x;", "split")
    with pytest.raises(ValueError, match="output z shares memory with output y"):
        split(one, buf[:, :2], buf[:, 1:3])


def test_fake_cupy_has_only_the_functions_cupy_has():
    """The stand-in's namespace is an allow-list of CuPy functions (the ones lstmkit uses), so a NumPy function
    that CuPy lacks fails here as on a GPU, through the module and through NumPy's dispatch alike."""
    fake = FakeCupy()
    a = fake.zeros((2, 2))
    for name in ("busday_count", "block", "polyder"):
        with pytest.raises(AttributeError, match=f"'{name}'"):
            getattr(fake, name)
    with pytest.raises(TypeError, match="'block'"):
        np.block([[a, a]])
    assert np.concatenate([a, a]).shape == (4, 2) and fake.concatenate([a, a]).shape == (4, 2)


def _cuda_source(kernel):
    """`kernel` (cuda_kernels.Pointwise) as CuPy's generated code has it: a loop over the elements with CuPy's own
    `i` and `n` in scope, each input a `const T &`, each output a `T &` into its array, then the body; instantiated
    for float and double."""
    ins, outs = ([p.split()[1] for p in params.split(",")] for params in (kernel.inputs, kernel.outputs))
    args = [f"const T* _in_{a}" for a in ins] + [f"T* _out_{a}" for a in outs] + ["long long _size"]
    refs = [f"const T &{a} = _in_{a}[i];" for a in ins] + [f"T &{a} = _out_{a}[i];" for a in outs]
    instances = [f"template __global__ void {kernel.name}<{t}>("
                 + ", ".join([f"const {t}*"] * len(ins) + [f"{t}*"] * len(outs) + ["long long"]) + ");"
                 for t in ("float", "double")]
    return "\n".join([f"template <typename T> __global__ void {kernel.name}({', '.join(args)}) {{",
                      "  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x, n = _size; i < n;",
                      "       i += (long long)blockDim.x * gridDim.x) {", *refs, kernel.body, "  }", "}",
                      *instances])


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc, the CUDA compiler, is not installed here")
def test_kernels_compile_as_cuda_and_keep_float32_single(tmp_path):
    """No GPU is needed to compile: nvcc takes each fused kernel as CuPy would give it, and the float instance
    holds no double-precision instruction (a double literal such as 0.1 would put some there)."""
    from lstmkit.layers import cuda_kernels
    kernels = [cuda_kernels.LSTM_FORWARD, cuda_kernels.LSTM_BACKWARD, cuda_kernels.GRU_FORWARD,
               cuda_kernels.GRU_BACKWARD]
    source = tmp_path / "kernels.cu"
    source.write_text("\n\n".join(_cuda_source(k) for k in kernels))
    done = subprocess.run(["nvcc", "-ptx", "-arch=sm_80", "-o", str(tmp_path / "kernels.ptx"), str(source)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    entries = re.split(r"\.visible \.entry ", (tmp_path / "kernels.ptx").read_text())[1:]
    single = {e.split("(")[0]: e for e in entries if "IfE" in e.split("(")[0]}    # the float instances
    assert len(single) == len(kernels) and len(entries) == 2 * len(kernels)
    for name, code in single.items():
        assert not re.search(r"\.f64\b", code), f"{name} computes in double precision"


def test_cupy_accepts_the_kernel_definitions():
    """Where CuPy is installed (no GPU needed), its ElementwiseKernel parses each kernel's parameters: it refuses
    reserved names such as `i` at construction."""
    cupy = pytest.importorskip("cupy")
    from lstmkit.layers import cuda_kernels
    for kernel in (cuda_kernels.LSTM_FORWARD, cuda_kernels.LSTM_BACKWARD, cuda_kernels.GRU_FORWARD,
                   cuda_kernels.GRU_BACKWARD):
        assert cupy.ElementwiseKernel(kernel.inputs, kernel.outputs, kernel.body, kernel.name).nout == \
            len(kernel.outputs.split(","))
    with pytest.raises(ValueError, match="Can not use 'i'"):
        cupy.ElementwiseKernel("T x", "T i", "i = x;", "reserved")


RECURRENT_CASES = {
    "lstm": lambda **kw: LSTM(H, **kw, return_sequences=True, return_state=True, dtype="float64"),
    "lstm-2-layers-bidirectional": lambda **kw: LSTM(H, **kw, num_layers=2, bidirectional=True, dropout=0.3,
                                                return_sequences=True, return_state=True, dtype="float64"),
    "lstm-peephole-layer-norm": lambda **kw: LSTM(H, **kw, peephole=True, layer_norm=True, return_state=True,
                                                  dtype="float64"),
    "lstm-projection": lambda **kw: LSTM(H, **kw, proj_size=3, return_sequences=True, dtype="float64"),
    "lstm-coupled-zoneout": lambda **kw: LSTM(H, **kw, coupled=True, zoneout=(0.2, 0.3), return_sequences=True,
                                         dtype="float64"),
    "lstm-1997": lambda **kw: LSTM(H, **kw, forget_gate=False, peephole=True, dtype="float64"),
    "gru-dropouts": lambda **kw: GRU(H, **kw, recurrent_dropout=0.25, input_dropout=0.2, return_sequences=True,
                                return_state=True, dtype="float64"),
    "gru-bidirectional": lambda **kw: GRU(H, **kw, bidirectional=True, zoneout=0.1, dtype="float64"),
    "rnn-relu": lambda **kw: SimpleRNN(H, **kw, nonlinearity="relu", num_layers=2, return_sequences=True,
                                       dtype="float64"),
}


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
@pytest.mark.parametrize("mask_kind", ["none", "right-padded", "holes"])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("case", sorted(RECURRENT_CASES))
def test_recurrent_layer_on_device_matches_cpu(cuda, case, training, mask_kind, implementation):
    """Forward (outputs, final states) and backward (dx, every parameter gradient) on the device, with the fused
    step kernels ("compiled", where the cell has them) or the per-step NumPy calls ("reference"), equal the CPU's
    compiled path; the dropout and zoneout masks, drawn on the host from the same seed, are the same."""
    cpu, dev = pair(RECURRENT_CASES[case], (T, I), implementation=implementation)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, I))
    mask = None
    if mask_kind == "right-padded":
        mask = np.arange(T)[None, :] < np.array([5, 2, 4])[:, None]
    elif mask_kind == "holes":
        mask = rng.random((B, T)) > 0.3
    out_cpu = cpu.forward(x, mask=mask, training=training)
    out_dev = dev.forward(x, mask=mask, training=training)
    y_cpu, y_dev = (out_cpu[0], out_dev[0]) if cpu.return_state else (out_cpu, out_dev)
    np.testing.assert_allclose(host(y_dev), y_cpu, rtol=TOL, atol=TOL)
    if cpu.return_state:
        states_cpu, states_dev = ((s,) if len(cpu.STATES) == 1 else s for s in (out_cpu[1], out_dev[1]))
        for s_cpu, s_dev in zip(states_cpu, states_dev, strict=True):
            np.testing.assert_allclose(host(s_dev), s_cpu, rtol=TOL, atol=TOL)
    dy = rng.standard_normal(y_cpu.shape)
    dx_cpu = cpu.backward(dy)
    dx_dev = dev.backward(dy)                      # a host gradient is moved to the device
    np.testing.assert_allclose(host(dx_dev), dx_cpu, rtol=TOL, atol=TOL)
    assert_same_grads(cpu, dev)


@pytest.mark.parametrize("case, fused", [("lstm", True), ("lstm-projection", True), ("gru-bidirectional", True),
                                         ("lstm-peephole-layer-norm", False), ("lstm-coupled-zoneout", False),
                                         ("lstm-1997", False), ("rnn-relu", False)])
def test_fused_kernels_run_once_per_step_each_way(cuda, monkeypatch, case, fused):
    """On the GPU the standard LSTM and the GRU launch one point-wise kernel per step and direction, forward and
    backward; the other cells keep the per-step NumPy calls."""
    from lstmkit.layers import cuda_kernels, gru, lstm
    calls = []

    def counted(xp, kernel, *arrays):
        calls.append(kernel.name)
        return cuda_kernels.launch(xp, kernel, *arrays)
    for module in (lstm, gru):
        monkeypatch.setattr(module, "launch", counted)
    _, dev = pair(RECURRENT_CASES[case], (T, I))
    assert dev.fused is fused
    x = np.random.default_rng(7).standard_normal((B, T, I))
    out = dev.forward(x)
    dev.backward(np.ones((out[0] if isinstance(out, tuple) else out).shape))
    steps = T * dev.num_layers * dev.num_directions
    cell = type(dev).__name__.lower()
    expected = [f"lstmkit_{cell}_step_forward"] * steps + [f"lstmkit_{cell}_step_backward"] * steps if fused else []
    assert calls == expected


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_fused_float32_matches_cpu(cuda, cell):
    """float32 (the default): the fused kernels against the CPU's compiled sweeps, 1e-5 relative."""
    cpu, dev = pair(lambda: cell(16, return_sequences=True, peephole=True) if cell is LSTM else
                    cell(16, return_sequences=True), (T, I))
    rng = np.random.default_rng(8)
    x, dy = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, 16))
    np.testing.assert_allclose(host(dev.forward(x)), cpu.forward(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(dev.backward(dy)), cpu.backward(dy), rtol=1e-5, atol=1e-6)
    for name in cpu.grads:
        np.testing.assert_allclose(host(dev.grads[name]), cpu.grads[name], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("cell, per_step", [(LSTM, 5), (GRU, 7), (SimpleRNN, 8)])
def test_a_training_step_on_the_gpu_waits_for_it_a_fixed_number_of_times(cell, per_step, monkeypatch):
    """Counted by the stand-in (fake_device.COUNTS): a training step reads values back from the GPU (each read
    waits for it) the same few times whatever the sequence length, none inside the time loop; and each time step
    costs `per_step` kernel launches, forward and backward together (the LSTM: the recurrent product and the fused
    kernel; then the incoming gradient, the fused kernel and the product back; the GRU adds b_hn to its recurrent
    term and h_{t-1}'s direct gradient to the product's)."""
    from fake_device import COUNTS
    monkeypatch.setattr(backend, "_device_module", FakeCupy())
    counts = {}
    for steps in (10, 20):
        model = lk.Sequential([cell(16, return_sequences=True), Dense(1)], seed=0).to("cuda")
        model.compile(loss="mse", optimizer="adam")
        x = np.random.default_rng(0).standard_normal((8, steps, 3)).astype(np.float32)
        y = np.ones((8, steps, 1), np.float32)
        model.train_on_batch(x, y)
        COUNTS.clear()
        model.train_on_batch(x, y)
        counts[steps] = dict(COUNTS)
    assert counts[10]["sync"] == counts[20]["sync"] == 6                     # the README says 6
    assert counts[10]["transfer"] == counts[20]["transfer"] == 2                # x and the output's gradient
    assert (counts[20]["launch"] - counts[10]["launch"]) / 10 == per_step


def test_initial_state_and_its_gradient_on_device(cuda):
    cpu, dev = pair(lambda: LSTM(H, return_state=True, dtype="float64"), (T, I))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, I))
    h0, c0 = rng.standard_normal((2, 1, B, H))
    cpu.forward(x, initial_state=(h0, c0))
    dev.forward(cuda.asarray(x), initial_state=(cuda.asarray(h0), c0))   # device and host inputs
    dy = rng.standard_normal((B, H))
    cpu.backward(dy)
    dev.backward(cuda.asarray(dy))
    for g_cpu, g_dev in zip(cpu.dinitial_state, dev.dinitial_state):
        np.testing.assert_allclose(host(g_dev), g_cpu, rtol=TOL, atol=TOL)
    assert_same_grads(cpu, dev)


def test_reference_implementation_on_cpu_accepts_device_inputs(cuda):
    """A CPU layer given a GPU array takes it to the host (as a GPU layer takes host arrays to the device)."""
    layer = GRU(H, dtype="float64")
    x = np.random.default_rng(3).standard_normal((B, T, I))
    np.testing.assert_allclose(layer.forward(cuda.asarray(x)), layer.forward(x), rtol=0, atol=0)


SIMPLE_CASES = {
    "dense-sequence": (lambda: Dense(4, dtype="float64"), (T, I), "float"),
    "dense-vector": (lambda: Dense(4, use_bias=False, dtype="float64"), (I,), "float"),
    "embedding": (lambda: Embedding(7, 3, padding_idx=0, dtype="float64"), (T,), "ids"),
    "dropout": (lambda: Dropout(0.4, dtype="float64"), (T, I), "float"),
    "masking": (lambda: Masking(0.0, dtype="float64"), (T, I), "padded"),
    "repeat-vector": (lambda: RepeatVector(3, dtype="float64"), (I,), "float"),
    "time-distributed": (lambda: TimeDistributed(Dense(2, dtype="float64")), (T, I), "float"),
    "jordan-rnn": (lambda: JordanRNN(H, 3, output_activation="tanh", return_sequences=True, dtype="float64"), (T, I),
                   "float"),
}


@pytest.mark.parametrize("case", sorted(SIMPLE_CASES))
def test_other_layers_on_device_match_cpu(cuda, case):
    make, shape, kind = SIMPLE_CASES[case]
    cpu, dev = pair(make, shape)
    rng = np.random.default_rng(4)
    if kind == "ids":
        x = rng.integers(0, 7, (B,) + shape)
    else:
        x = rng.standard_normal((B,) + shape)
        if kind == "padded":
            x[0, 3:] = 0.0
    y_cpu = cpu.forward(x, training=True)
    y_dev = dev.forward(x, training=True)
    np.testing.assert_allclose(host(y_dev), y_cpu, rtol=TOL, atol=TOL)
    dy = rng.standard_normal(y_cpu.shape)
    dx_cpu, dx_dev = cpu.backward(dy), dev.backward(dy)
    if dx_cpu is None:
        assert dx_dev is None
    else:
        np.testing.assert_allclose(host(dx_dev), dx_cpu, rtol=TOL, atol=TOL)
    assert_same_grads(cpu, dev)


def test_to_moves_parameters_both_ways(cuda):
    layer = LSTM(H, dtype="float64").build((T, I), np.random.default_rng(5))
    before = {k: v.copy() for k, v in layer.params.items()}
    layer.to("cuda")
    assert layer.device == "cuda" and layer.xp is backend.array_module("cuda")
    assert all(backend.is_device_array(p) for p in layer.params.values())
    assert all(backend.is_device_array(g) for g in layer.grads.values())
    layer.to("cpu")
    assert layer.device == "cpu"
    for name, value in before.items():
        assert type(layer.params[name]) is np.ndarray
        np.testing.assert_array_equal(layer.params[name], value)


def test_set_backend_sets_the_device_of_new_layers(cuda):
    lk.set_backend("cupy")
    assert lk.get_backend() == "cupy" and Dense(2).device == "cuda"
    lk.set_backend("numpy")
    assert lk.get_backend() == "numpy" and Dense(2).device == "cpu"


def test_bad_backend_and_device_names_are_one_clear_error():
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'cupy', got 'torch'"):
        lk.set_backend("torch")
    with pytest.raises(ValueError, match=r"to\(\) takes a device \('cpu' or 'cuda'\) or a dtype .*got 'tpu'"):
        Dense(2).to("tpu")
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        backend.check_device("tpu")


def test_missing_cupy_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(backend, "_device_module", None)
    monkeypatch.setitem(sys.modules, "cupy", None)            # `import cupy` raises ImportError
    layer = Dense(2)
    with pytest.raises(backend.DeviceError, match="pip install cupy-cuda12x"):
        layer.to("cuda")
    assert layer.device == "cpu"                              # the failed move left the layer where it was
    with pytest.raises(backend.DeviceError, match="needs CuPy"):
        lk.set_backend("cupy")
    assert lk.get_backend() == "numpy"


def _model(device="cpu", **lstm):
    model = lk.Sequential([LSTM(8, return_sequences=True, dtype="float64", **lstm), Dropout(0.1, dtype="float64"),
                           Dense(1, dtype="float64")], seed=3)
    model.compile(loss="mse", optimizer=lk.optim.Adam(lr=1e-2, clipnorm=1.0), metrics=["mae"])
    return model.to(device)


def _series(n=40):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, T, 2))
    return x, np.cumsum(x[..., :1], axis=1) * 0.3


def assert_same_weights(model_dev, model_cpu):
    for name, p in model_cpu.parameters().items():
        np.testing.assert_allclose(host(model_dev.parameters()[name]), p, rtol=TOL, atol=TOL, err_msg=name)


@pytest.mark.parametrize("tbptt", [None, (2, 3)])
def test_model_trains_on_device_as_on_cpu(cuda, tbptt):
    """fit (shuffled mini-batches, dropout, clipping, validation), predict and evaluate on the device give the
    CPU's history, weights and outputs; predict returns a NumPy array."""
    x, y = _series()
    cpu, dev = _model(), _model("cuda")
    fit = dict(epochs=2, batch_size=8, validation_split=0.25, verbose=0, tbptt=tbptt)
    h_cpu, h_dev = cpu.fit(x, y, **fit), dev.fit(x, y, **fit)
    assert dev.device == "cuda" and dev.layers[0].device == "cuda"
    for key, values in h_cpu.history.items():
        np.testing.assert_allclose(h_dev.history[key], values, rtol=1e-9, err_msg=key)
    assert_same_weights(dev, cpu)
    p_dev = dev.predict(x)
    assert type(p_dev) is np.ndarray
    np.testing.assert_allclose(p_dev, cpu.predict(x), rtol=TOL, atol=TOL)
    for key, value in cpu.evaluate(x, y).items():
        assert dev.evaluate(x, y)[key] == pytest.approx(value, rel=1e-9)


def test_device_model_saves_loads_and_resumes(cuda, tmp_path):
    """A model file and a checkpoint written from the GPU are plain host tensors: the file loads on the CPU, and
    a run resumed on the GPU (optimizer state moved back there) ends where an uninterrupted CPU run ends."""
    x, y = _series()
    fit = dict(batch_size=8, verbose=0, validation_split=0.25, early_stopping=lk.EarlyStopping(patience=5))
    reference = _model()
    reference.fit(x, y, epochs=3, **fit)
    first = _model("cuda")
    first.fit(x, y, epochs=2, checkpoint=tmp_path / "ckpt", **fit)
    first.save(tmp_path / "m.lstmkit")
    loaded = lk.load(tmp_path / "m.lstmkit")
    assert loaded.device == "cpu"
    np.testing.assert_allclose(loaded.predict(x), first.predict(x), rtol=TOL, atol=TOL)
    resumed = _model("cuda")
    resumed.fit(x, y, epochs=3, checkpoint=tmp_path / "ckpt", resume=True, **fit)
    assert_same_weights(resumed, reference)


def test_rtrl_refuses_a_device_model(cuda):
    x, y = _series(8)
    with pytest.raises(ValueError, match="RTRL runs on the CPU only"):
        _model("cuda").fit(x, y, batch_size=4, algorithm="rtrl", verbose=0)


@pytest.mark.parametrize("bridge", ["dense", "concat", "sum"])
def test_seq2seq_trains_and_decodes_on_device_as_on_cpu(cuda, bridge):
    """The encoder-decoder (its bridge, teacher forcing, greedy decoding) on the device: the CPU's weights,
    history and decoded tokens."""
    from lstmkit.data import digits

    train, _ = digits.split(digits.reversal(60, 3, seed=0), 20, seed=0)

    def model(device):
        m = lk.Seq2Seq(LSTM(6, bidirectional=True), LSTM(12 if bridge == "concat" else 6),
                       src_vocab_size=digits.VOCAB_SIZE, embedding_dim=4, bridge=bridge, seed=0)
        m.build()
        return m.to("float64").to(device).compile(optimizer=lk.optim.Adam(lr=1e-2))

    cpu, dev = model("cpu"), model("cuda")
    h_cpu = cpu.fit(train.src, train.tgt, epochs=2, batch_size=8, verbose=0)
    h_dev = dev.fit(train.src, train.tgt, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_allclose(h_dev.history["loss"], h_cpu.history["loss"], rtol=1e-9)
    for name, p in cpu.parameters().items():
        np.testing.assert_allclose(host(dev.parameters()[name]), p, rtol=TOL, atol=TOL, err_msg=name)
    np.testing.assert_array_equal(dev.predict(train.src), cpu.predict(train.src))


def test_train_command_on_device(cuda, tmp_path):
    """`lstmkit train --device cuda` gives the CPU's forecast (float32, so to 1e-4), and a GPU run resumes on
    the CPU (--device is among the settings a resumed run may change)."""
    import json

    from lstmkit.cli import main
    common = ["train", "--quiet", "--epochs", "4", "--hidden", "8", "--checkpoint-every", "2"]
    assert main([*common, "--out", str(tmp_path / "cpu")]) == 0
    assert main([*common, "--out", str(tmp_path / "gpu"), "--device", "cuda"]) == 0
    cpu, gpu = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("cpu", "gpu"))
    assert gpu["config"]["device"] == "cuda"
    assert gpu["test_rmse"] == pytest.approx(cpu["test_rmse"], rel=1e-4)
    assert main(["train", "--quiet", "--resume", str(tmp_path / "gpu"), "--epochs", "6", "--device", "cpu"]) == 0


def test_train_command_without_a_gpu_is_one_line(monkeypatch, capsys):
    from lstmkit.cli import main
    monkeypatch.setattr(backend, "_device_module", None)
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert main(["train", "--quiet", "--device", "cuda", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("lstmkit train: error: device 'cuda' needs CuPy, which is not "
                                               "installed; install the build for your CUDA, e.g. `pip install "
                                               "cupy-cuda12x`.")


def test_gradcheck_of_a_device_layer_runs_on_a_cpu_copy(cuda):
    layer = GRU(4, return_sequences=True, dtype="float64").build((T, I), np.random.default_rng(9)).to("cuda")
    x = cuda.asarray(np.random.default_rng(10).standard_normal((2, T, I)))
    result = lk.gradcheck(layer, x)
    assert result.passed(1e-6) and layer.device == "cuda"                 # the layer itself stays on the GPU


def test_torch_and_onnx_export_of_a_device_model(cuda):
    """interop.to_torch and export.to_onnx read a GPU model's weights from the host copy: the same as the CPU's."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    cpu, dev = _model(), _model("cuda")
    x, _ = _series(4)
    cpu.predict(x), dev.predict(x)                               # build both
    for (name, a), b in zip(lk.interop.to_torch(cpu.layers[0]).state_dict().items(),
                            lk.interop.to_torch(dev.layers[0]).state_dict().values()):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=name)
    assert lk.export.to_onnx(dev).SerializeToString() == lk.export.to_onnx(cpu).SerializeToString()


def test_stateful_layer_moves_with_its_states(cuda):
    """A stream read piece by piece: on the CPU, then the GPU, then the CPU again, as if on one device."""
    def make():
        return LSTM(H, stateful=True, return_sequences=True, dtype="float64").build((T, I),
                                                                                   np.random.default_rng(11))
    x = np.random.default_rng(12).standard_normal((B, 3 * T, I))
    pieces = [x[:, k * T:(k + 1) * T] for k in range(3)]
    reference, moving = make(), make()
    expected = [reference.forward(p) for p in pieces]
    got = [moving.forward(pieces[0]), host(moving.to("cuda").forward(pieces[1])), moving.to("cpu").forward(pieces[2])]
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=TOL, atol=TOL)


def test_library_jobs_after_set_backend_cupy(cuda):
    """With "cuda" the default: a layer from PyTorch lands on the GPU, and the state-gradient diagnostics and
    greedy text generation give the CPU's numbers."""
    from lstmkit.apps import textgen
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.GRU(I, H, batch_first=True).double()
    x = np.random.default_rng(13).standard_normal((B, T, I))

    def models():
        rnn = lk.Sequential([LSTM(H, return_sequences=True, dtype="float64"), Dense(1, dtype="float64")], seed=4)
        chars = lk.Sequential([Embedding(5, 3, dtype="float64"), GRU(6, return_sequences=True, dtype="float64"),
                               Dense(5, dtype="float64")], seed=5)
        rnn.compile(loss="mse", optimizer="adam")
        rnn.build((T, I)), chars.build((T,))
        return rnn, chars
    cpu_rnn, cpu_chars = models()
    lk.set_backend("cupy")
    layer = lk.interop.from_torch(module)
    assert layer.device == "cuda"
    np.testing.assert_allclose(host(layer.forward(x)), module(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    rnn, chars = models()
    assert rnn.device == "cuda" and chars.device == "cuda"
    y = np.ones((B, T, 1))
    np.testing.assert_allclose(lk.diagnostics.gradient_norms(rnn, x, y), lk.diagnostics.gradient_norms(cpu_rnn, x, y),
                               rtol=1e-9)
    vocab = textgen.Vocabulary("abcde")
    assert textgen.sample(chars, vocab, "ab", 12, temperature=0) == textgen.sample(cpu_chars, vocab, "ab", 12,
                                                                                   temperature=0)
