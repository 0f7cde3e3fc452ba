"""The point-wise work of one LSTM or GRU step on a GPU, each direction one fused CUDA kernel
(`cupy.ElementwiseKernel`) instead of a dozen NumPy calls, each a kernel launch of its own.

The equations are those of lstm.py and gru.py (their docstrings), with sigma(z) = (1 + tanh(z / 2)) / 2 as in
ops.sigmoid. Every body is a list of statements `[T ]name = expression;` written in the common subset of C and
Python (no control flow; integer literals only where they meet a T value, so float32 stays float32; names clear
of CuPy's reserved `i`, `n` and `_...`, hence i_t, n_t), so that tests/fake_device.py evaluates the very same
text with NumPy on the CPU. T is the arrays' dtype; gate blocks arrive as strided views, outputs are written in
place (into the record and the step's gradients), and (H,)-shaped inputs broadcast over the batch.
"""

from typing import NamedTuple


class Pointwise(NamedTuple):
    inputs: str
    outputs: str
    body: str
    name: str


LSTM_FORWARD = Pointwise(
    "T x_i, T x_f, T x_g, T x_o, T a_i, T a_f, T a_g, T a_o, T c_prev, T p_i, T p_f, T p_o",
    "T i_t, T f_t, T g_t, T o_t, T c_t, T tanh_c, T h_t",
    """
    i_t = (1 + tanh((x_i + a_i + p_i * c_prev) / 2)) / 2;
    f_t = (1 + tanh((x_f + a_f + p_f * c_prev) / 2)) / 2;
    g_t = tanh(x_g + a_g);
    c_t = f_t * c_prev + i_t * g_t;
    o_t = (1 + tanh((x_o + a_o + p_o * c_t) / 2)) / 2;
    tanh_c = tanh(c_t);
    h_t = o_t * tanh_c;
    """,
    "lstmkit_lstm_step_forward")

LSTM_BACKWARD = Pointwise(
    "T dh, T dc_next, T c_prev, T i_t, T f_t, T g_t, T o_t, T tanh_c, T p_i, T p_f, T p_o",
    "T dH_i, T dH_f, T dH_g, T dH_o, T dc_prev",
    """
    dH_o = dh * tanh_c * o_t * (1 - o_t);
    T dc = dc_next + dh * o_t * (1 - tanh_c * tanh_c) + dH_o * p_o;
    dH_g = dc * i_t * (1 - g_t * g_t);
    dH_f = dc * c_prev * f_t * (1 - f_t);
    dH_i = dc * g_t * i_t * (1 - i_t);
    dc_prev = dc * f_t + dH_f * p_f + dH_i * p_i;
    """,
    "lstmkit_lstm_step_backward")

GRU_FORWARD = Pointwise(
    "T x_r, T x_z, T x_n, T a_r, T a_z, T a_n_in, T h_prev",
    "T r_t, T z_t, T n_t, T a_n, T h_t",
    """
    r_t = (1 + tanh((x_r + a_r) / 2)) / 2;
    z_t = (1 + tanh((x_z + a_z) / 2)) / 2;
    a_n = a_n_in;
    n_t = tanh(x_n + r_t * a_n_in);
    h_t = z_t * (h_prev - n_t) + n_t;
    """,
    "lstmkit_gru_step_forward")

GRU_BACKWARD = Pointwise(
    "T dh, T h_prev, T r_t, T z_t, T n_t, T a_n",
    "T dx_r, T dx_z, T dx_n, T da_r, T da_z, T da_n, T dh_direct",
    """
    dx_n = dh * (1 - z_t) * (1 - n_t * n_t);
    dx_r = dx_n * a_n * r_t * (1 - r_t);
    dx_z = dh * (h_prev - n_t) * z_t * (1 - z_t);
    da_r = dx_r;
    da_z = dx_z;
    da_n = dx_n * r_t;
    dh_direct = dh * z_t;
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
