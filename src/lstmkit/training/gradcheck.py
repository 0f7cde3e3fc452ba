"""Finite-difference check of a layer's hand-derived backward pass, in float64.

The scalar checked is `L = sum_k <R_k, out_k>` over every array the layer returns (the output, and the final
states with return_state), with fixed random R_k, so `dL/d out_k = R_k`. Each parameter element, each input
element and each initial-state element is nudged by +-eps and `(L(+eps) - L(-eps)) / (2 eps)` is compared with
the analytic gradient from `backward`, entry by entry as torch.autograd.gradcheck does. Entry j of an array has the
error `|a_j - n_j| / (|n_j| + floor)` (a: analytic, n: numeric), and `passed(tol)` holds when no entry's error
exceeds tol, that is `|a_j - n_j| <= tol * floor + tol * |n_j|` everywhere: torch's criterion with rtol = tol and
atol = tol * floor (1e-6 and 1e-8 by default). An error measured against the array's largest entry would hide a
wrong gradient in its small entries; the floor keeps the numeric gradient's own rounding noise (about
1e-16 * |L| / eps) from failing an entry whose gradient is near zero.

Dropout masks are replayed: the layer's generator is rewound before every forward, so all evaluations see the same
mask (a test of the training-mode math with a fixed mask).
"""

import copy
from typing import NamedTuple

import numpy as np

from ..runtime.backend import as_array, to_host


class GradcheckResult(NamedTuple):
    errors: dict          # name -> max over entries of |analytic - numeric| / (|numeric| + floor)
    max_error: float      # the largest of errors

    def passed(self, tol=1e-6):
        """Every entry within |analytic - numeric| <= tol * (floor + |numeric|)."""
        return self.max_error <= tol


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [a for part in out for a in _flatten(part)]
    return [out]


def _like(out, arrays):
    """Rebuild the nested tuple structure of `out` from a flat list of arrays."""
    it = iter(arrays)

    def rebuild(o):
        return tuple(rebuild(p) for p in o) if isinstance(o, (tuple, list)) else next(it)
    return rebuild(out)


def _entry_error(analytic, numeric, floor):
    """The largest per-entry error |a - n| / (|n| + floor) of one array (0 for an empty one)."""
    return float((np.abs(analytic - numeric) / (np.abs(numeric) + floor)).max(initial=0.0))


def gradcheck(layer, x, initial_state=None, mask=None, training=False, eps=1e-6, seed=0, floor=1e-2):
    """Check every parameter, the input (unless it is integer token ids) and `initial_state` of a copy of
    `layer` converted to float64, on the CPU (a GPU layer's code is checked against the CPU's by
    tests/test_device.py). Returns a GradcheckResult; `result.passed(tol)` checks every entry against
    tol * (floor + |numeric|)."""
    layer = copy.deepcopy(layer).to("cpu")
    x = to_host(as_array(x))
    if not layer.built:
        layer.build(x.shape[1:], np.random.default_rng(seed))
    layer.to("float64")
    if x.dtype.kind == "f":
        x = np.array(x, dtype=np.float64, order="C")            # a private copy: its elements get nudged
    kwargs = {"training": training}
    if mask is not None:
        kwargs["mask"] = mask
    if initial_state is not None:
        initial_state = _like(initial_state, [np.array(to_host(as_array(a)), dtype=np.float64)
                                              for a in _flatten(initial_state)])
    rng_state = copy.deepcopy(layer.rng.bit_generator.state)

    def run(x_in, state_in):
        layer.rng.bit_generator.state = copy.deepcopy(rng_state)
        if hasattr(layer, "reset_states"):                      # a stateful layer must not carry between runs
            layer.reset_states()
        extra = {} if state_in is None else {"initial_state": state_in}
        return layer.forward(x_in, **kwargs, **extra)

    out = run(x, initial_state)
    weights = [np.random.default_rng(seed).standard_normal(np.shape(a)) for a in _flatten(out)]

    def loss():
        return sum(float(np.sum(a * r)) for a, r in zip(_flatten(run(x, initial_state)), weights))

    dx = layer.backward(_like(out, weights))
    targets = {name: (p, layer.grads[name].copy()) for name, p in layer.params.items()}
    if x.dtype.kind == "f":
        targets["input"] = (x, dx)
    if initial_state is not None:
        for i, (s, ds) in enumerate(zip(_flatten(initial_state), _flatten(layer.dinitial_state))):
            targets[f"initial_state[{i}]"] = (s, ds)

    errors = {}
    for name, (array, analytic) in targets.items():
        numeric = np.zeros_like(array)
        flat, num_flat = array.reshape(-1), numeric.reshape(-1)   # views: nudging flat nudges the array
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + eps
            up = loss()
            flat[j] = saved - eps
            down = loss()
            flat[j] = saved
            num_flat[j] = (up - down) / (2 * eps)
        errors[name] = _entry_error(analytic, numeric, floor)
    return GradcheckResult(errors, max(errors.values()))


def check_all_layers(seed=0):
    """Run gradcheck on a small instance of every layer type and option that changes the math; returns rows
    (name, max per-entry error). Used by `lstmkit gradcheck`."""
    from .. import layers

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 3))
    mask = np.array([[True] * 4, [True, True, True, False]])
    cases = [
        ("Dense", layers.Dense(2), x, {}),
        ("Embedding", layers.Embedding(6, 3), rng.integers(0, 6, (2, 4)), {}),
        ("Dropout (training)", layers.Dropout(0.5), x, {"training": True}),
        ("SimpleRNN tanh", layers.SimpleRNN(3, return_sequences=True), x, {}),
        ("SimpleRNN relu", layers.SimpleRNN(3, nonlinearity="relu"), x, {}),
        ("LSTM", layers.LSTM(3, return_sequences=True), x, {}),
        ("LSTM 2 layers, bidirectional, dropout", layers.LSTM(3, num_layers=2, bidirectional=True, dropout=0.3),
         x, {"training": True}),
        ("LSTM masked, with states", layers.LSTM(3, return_state=True), x,
         {"mask": mask, "initial_state": (rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 3)))}),
        ("GRU", layers.GRU(3, return_sequences=True), x, {}),
        ("GRU 2 layers, bidirectional, masked", layers.GRU(3, num_layers=2, bidirectional=True), x, {"mask": mask}),
        ("JordanRNN sigmoid, masked", layers.JordanRNN(3, 2, output_activation="sigmoid", return_sequences=True), x,
         {"mask": mask}),
        ("LSTM peephole, coupled, projected", layers.LSTM(3, peephole=True, coupled=True, proj_size=2), x, {}),
        ("RepeatVector", layers.RepeatVector(3), x[:, 0], {}),
        ("TimeDistributed(LSTM)", layers.TimeDistributed(layers.LSTM(2)), rng.standard_normal((2, 3, 4, 3)), {}),
        ("LSTM layer norm", layers.LSTM(3, layer_norm=True, return_sequences=True), x, {}),
        ("LSTM zoneout (training)", layers.LSTM(3, zoneout=(0.3, 0.2)), x, {"training": True}),
        ("GRU recurrent + input dropout (training)", layers.GRU(3, recurrent_dropout=0.3, input_dropout=0.2), x,
         {"training": True}),
    ]
    rows = []
    for name, layer, inputs, kwargs in cases:
        layer.build(np.shape(inputs)[1:], np.random.default_rng(seed))
        rows.append((name, gradcheck(layer, inputs, seed=seed, **kwargs).max_error))
    return rows
