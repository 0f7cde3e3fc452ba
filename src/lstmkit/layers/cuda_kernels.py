"""The point-wise work of one LSTM or GRU step on a GPU, each direction one fused CUDA kernel
(`cupy.ElementwiseKernel`) instead of a dozen NumPy calls, each a kernel launch of its own.

The equations are those of lstm.py and gru.py (their docstrings), with sigma(z) = (1 + tanh(z / 2)) / 2 as in
ops.sigmoid. Every body is a list of statements `[T ]name = expression;` written in the common subset of C and
Python (no control flow; integer literals only where they meet a T value, so float32 stays float32), so that
tests/fake_device.py evaluates the very same text with NumPy on the CPU; T is the arrays' dtype, gate blocks
arrive as strided views and outputs are written in place (into the record and the step's gradients), and
(H,)-shaped inputs broadcast over the batch.
"""

from typing import NamedTuple


class Pointwise(NamedTuple):
    inputs: str
    outputs: str
    body: str
    name: str


LSTM_FORWARD = Pointwise(
    "T x_i, T x_f, T x_g, T x_o, T a_i, T a_f, T a_g, T a_o, T c_prev, T p_i, T p_f, T p_o",
    "T i, T f, T g, T o, T c, T tanh_c, T h",
    """
    i = (1 + tanh((x_i + a_i + p_i * c_prev) / 2)) / 2;
    f = (1 + tanh((x_f + a_f + p_f * c_prev) / 2)) / 2;
    g = tanh(x_g + a_g);
    c = f * c_prev + i * g;
    o = (1 + tanh((x_o + a_o + p_o * c) / 2)) / 2;
    tanh_c = tanh(c);
    h = o * tanh_c;
    """,
    "lstmkit_lstm_step_forward")

LSTM_BACKWARD = Pointwise(
    "T dh, T dc_next, T c_prev, T i, T f, T g, T o, T tanh_c, T p_i, T p_f, T p_o",
    "T dH_i, T dH_f, T dH_g, T dH_o, T dc_prev",
    """
    dH_o = dh * tanh_c * o * (1 - o);
    T dc = dc_next + dh * o * (1 - tanh_c * tanh_c) + dH_o * p_o;
    dH_g = dc * i * (1 - g * g);
    dH_f = dc * c_prev * f * (1 - f);
    dH_i = dc * g * i * (1 - i);
    dc_prev = dc * f + dH_f * p_f + dH_i * p_i;
    """,
    "lstmkit_lstm_step_backward")

GRU_FORWARD = Pointwise(
    "T x_r, T x_z, T x_n, T a_r, T a_z, T a_n_in, T h_prev",
    "T r, T z, T n, T a_n, T h",
    """
    r = (1 + tanh((x_r + a_r) / 2)) / 2;
    z = (1 + tanh((x_z + a_z) / 2)) / 2;
    a_n = a_n_in;
    n = tanh(x_n + r * a_n_in);
    h = z * (h_prev - n) + n;
    """,
    "lstmkit_gru_step_forward")

GRU_BACKWARD = Pointwise(
    "T dh, T h_prev, T r, T z, T n, T a_n",
    "T dx_r, T dx_z, T dx_n, T da_r, T da_z, T da_n, T dh_direct",
    """
    dx_n = dh * (1 - z) * (1 - n * n);
    dx_r = dx_n * a_n * r * (1 - r);
    dx_z = dh * (h_prev - n) * z * (1 - z);
    da_r = dx_r;
    da_z = dx_z;
    da_n = dx_n * r;
    dh_direct = dh * z;
    """,
    "lstmkit_gru_step_backward")

_compiled = {}


def launch(xp, kernel, *arrays):
    """Run `kernel` (a Pointwise) on the inputs and then the outputs in `arrays`, compiled once per array
    module (CuPy compiles again for each dtype by itself)."""
    key = (kernel.name, xp.ElementwiseKernel)
    if key not in _compiled:
        _compiled[key] = xp.ElementwiseKernel(kernel.inputs, kernel.outputs, kernel.body, kernel.name)
    return _compiled[key](*arrays)
