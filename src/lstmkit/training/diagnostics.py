"""Diagnostics of training: how the loss gradient reaches back in time (Hochreiter 1991; Bengio, Simard & Frasconi
1994), so that the vanishing gradient of an Elman RNN can be set beside the flat one of an LSTM.

`state_gradients(model, x, y)` is dL/dh_t for every step t: the total derivative of the model's loss w.r.t. the
hidden state of its first (recurrent) layer, through every later step, which is BPTT's `dh` at step t.
`gradient_norms` is its Euclidean norm over the H units, averaged over the batch.

How (exact, O(T^2) steps, fine for T up to a few hundred): with dY_t the direct gradient of the loss w.r.t. the
layer's output at step t (from the layers after it; with return_sequences=False only the last step has one),
    dL/dh_t = dY_t + d/ds_t [ sum_{u > t} <dY_u, h_u> ],
and the second term is `dinitial_state` of a rerun of the layer over x[:, t+1:] that starts from the state s_t
(h_t, and c_t for the LSTM) and is backpropagated with dY[:, t+1:]. (A hook in the BPTT driver that records its
`dh` per step would give the same in one O(T) sweep.)
"""

import numpy as np

from ..layers.recurrent import Recurrent
from ..runtime.backend import to_host
from ..runtime.validation import check_array


def state_gradients(model, x, y):
    """dL/dh_t (B, T, H) for a compiled Sequential whose first layer is a single-layer, unidirectional
    recurrent layer, on inputs x (B, T, I) and targets y, in inference mode, from zero initial states. The grads
    of the layers after the first are overwritten (their backward runs once); the weights, and the carried
    states of a stateful layer, are not changed."""
    if model.loss is None:
        raise ValueError("compile the model first: the gradients are those of model.loss (model.compile(loss=...)).")
    layer = model.layers[0] if model.layers else None
    if not isinstance(layer, Recurrent):
        raise TypeError(f"state_gradients needs a model whose first layer is SimpleRNN, LSTM or GRU, got "
                         f"{type(layer).__name__}.")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"state_gradients supports a single-layer, unidirectional first layer, got "
                         f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}.")
    x = check_array(x, "x", ndim=3, dtype=layer.dtype)
    B, T, _ = x.shape
    H = layer.hidden_size
    if not model.built:
        model.build(x.shape[1:])
    twin = layer.sequence_twin()
    out, _ = twin.forward(x)                                    # (B, T, H) every h_t
    if not layer.return_sequences:
        out = out[:, -1]
    for later in model.layers[1:]:
        out = later.forward(out)
    _, dout = model.loss.value_and_grad(to_host(out), y)        # the loss runs on the host
    for later in reversed(model.layers[1:]):
        dout = later.backward(dout)                             # dL / d(output of the recurrent layer)
    dout = to_host(dout)
    dY = np.zeros((B, T, H), layer.dtype)                       # direct gradient w.r.t. each h_t
    if layer.return_sequences:
        dY[...] = dout
    else:
        dY[:, -1] = dout

    states, state = [], None                                    # states[t] = s_t, as forward's initial_state
    for t in range(T):
        _, state = twin.forward(x[:, t:t + 1], initial_state=state)
        states.append(state)
    dh = dY.copy()
    for t in range(T - 1):                                      # the last state has no later steps
        twin.forward(x[:, t + 1:], initial_state=states[t])
        twin.backward(dY[:, t + 1:])
        ds = twin.dinitial_state
        dh[:, t] += to_host((ds[0] if isinstance(ds, tuple) else ds)[0])   # the h part, layer 0: (B, H)
    return dh


def gradient_norms(model, x, y):
    """||dL/dh_t|| for every step t, shape (T,), averaged over the batch (see `state_gradients`). Plotted on a
    log scale against t, it shows how far back in time the error signal reaches."""
    return np.linalg.norm(state_gradients(model, x, y), axis=-1).mean(axis=0)
