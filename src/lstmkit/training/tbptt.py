"""Truncated backpropagation through time, TBPTT(k1, k2) (Williams & Peng 1990): run forward k1 new steps at a
time, carrying the recurrent states across, and after each run update the weights with the gradient of the loss
on those k1 steps back-propagated through the last k2 steps only.

With k2 < k1 the first k1 - k2 steps of each run carry no loss. With k1 = k2 = k this is the usual "cut the
sequence into chunks of k, carry the state, cut the gradient at the chunk borders"; with k >= T it is exactly
full BPTT. When k2 > k1 each update re-runs the k2 steps from the state
at their start (kept from the previous window and advanced with the current weights), since the gradient must
reach back past the new steps; when k2 <= k1 the next window starts where the last one ended.

A model whose output is one vector per sequence (many-to-one) has its loss at the last step only: one update per
batch, back-propagated through the last k2 steps. Works for Sequential models of unidirectional recurrent layers
and per-step layers (Dense, Dropout, Embedding); a bidirectional layer needs the whole sequence and is refused.
Dropout masks (including the per-sequence masks of recurrent_dropout and input_dropout) are drawn afresh for
every run, so a sequence sees a new mask in each chunk, and a re-run over k2 > k1 steps a new one too.
"""

import numpy as np

from ..layers import Dense, Dropout, Embedding
from ..layers.recurrent import Recurrent
from ..runtime import backend


def check_tbptt(model, tbptt):
    """Normalise `tbptt` (an int k or a pair (k1, k2)) to (k1, k2), checking that the model can use it."""
    pair = (tbptt, tbptt) if not isinstance(tbptt, (tuple, list)) else tuple(tbptt)
    if len(pair) != 2 or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in pair):
        raise ValueError(f"tbptt must be a positive integer k or a pair (k1, k2) of them, got {tbptt!r}.")
    for layer in model.layers:
        if isinstance(layer, Recurrent):
            if layer.bidirectional:
                raise ValueError("tbptt cannot cut a bidirectional layer's sequence: its backward direction needs "
                                 "the whole sequence. Use full BPTT (tbptt=None).")
        elif not isinstance(layer, (Dense, Dropout, Embedding)):
            raise ValueError(f"tbptt works with recurrent, Dense, Dropout and Embedding layers; "
                             f"{type(layer).__name__} is not supported.")
    return int(pair[0]), int(pair[1])


class _CarriedStates:
    """Switch the recurrent layers of a model to carrying their states for the duration of a batch."""

    def __init__(self, model):
        self.layers = [layer for layer in model.layers if isinstance(layer, Recurrent)]

    def __enter__(self):
        self.saved = [(layer.carry_states, layer.states) for layer in self.layers]
        for layer in self.layers:
            layer.carry_states, layer.states = True, None
        return self

    def get(self):
        return [layer.states for layer in self.layers]

    def set(self, states):
        for layer, s in zip(self.layers, states):
            layer.states = s

    def __exit__(self, *exc):
        for layer, (carry, states) in zip(self.layers, self.saved):
            layer.carry_states, layer.states = carry, states
        return False


def train_batch(model, x, y, k1, k2):
    """One batch of TBPTT(k1, k2) training with `model`'s loss and optimizer; returns the mean loss over the
    steps that carried a loss. Raises FloatingPointError like `Sequential.train_on_batch`."""
    T = x.shape[1]
    per_step = len(model.output_shape(x.shape[1:])) >= 2      # one output per step, or one per sequence
    ends = list(range(k1, T, k1)) + [T] if per_step else [T]
    total, counted = 0.0, 0
    with _CarriedStates(model) as carried:
        anchor, anchor_states, previous_end = 0, carried.get(), 0
        for end in ends:
            start = max(0, end - k2) if k2 > k1 else max(previous_end, end - k2)   # a short last run stays short
            carried.set(anchor_states)
            if start > anchor:                                  # advance the states to `start`, no gradient
                model.forward(x[:, anchor:start], training=True)
            window_states = carried.get()
            out = backend.to_host(model.forward(x[:, start:end], training=True))   # the loss runs on the host
            new = end - max(previous_end, start) if per_step else 1
            target = y[:, end - new:end] if per_step else y
            loss, d_new = model.loss.value_and_grad(out[:, -new:] if per_step else out, target)
            if not np.isfinite(loss):
                raise FloatingPointError(f"the loss is {loss}")
            dout = np.zeros_like(out)
            if per_step:
                dout[:, -new:] = d_new
            else:
                dout = d_new
            model.backward(dout)
            model.apply_gradients()
            total, counted = total + loss * new, counted + new
            if k2 <= k1:                                        # the next window starts at or after `end`
                anchor, anchor_states = end, carried.get()
            else:                                               # it starts inside this one
                anchor, anchor_states = start, window_states
            previous_end = end
    return total / counted
