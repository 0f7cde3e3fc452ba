"""Stateful recurrent layers: the final state of one call is the initial state of the next."""

import numpy as np
import pytest

from lstmkit.layers import GRU, LSTM, SimpleRNN

rng = np.random.default_rng(0)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_two_halves_carry_into_each_other(cls):
    """The outputs of the halves, run statefully, equal those of the whole sequence (one direction: the reverse
    direction of a whole sequence starts at its end, so it has no two-halves equivalent)."""
    x = rng.standard_normal((3, 8, 2))
    whole = cls(4, num_layers=2, return_sequences=True, dtype="float64").build((8, 2), np.random.default_rng(1))
    halves = cls(4, num_layers=2, return_sequences=True, stateful=True, dtype="float64")
    halves.build((4, 2), np.random.default_rng(1))
    expected = whole.forward(x)
    got = np.concatenate([halves.forward(x[:, :4]), halves.forward(x[:, 4:])], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    halves.reset_states()
    np.testing.assert_allclose(halves.forward(x[:, :4]), expected[:, :4], rtol=1e-12)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_bidirectional_stateful_carries_both_directions(cls):
    """Stateful and bidirectional: each call starts every layer and direction from the previous call's h_n (and
    c_n), as a stateless twin does when given them by hand as initial_state."""
    H = 4
    x = rng.standard_normal((3, 8, 2))
    stateful = cls(H, num_layers=2, bidirectional=True, return_sequences=True, stateful=True, dtype="float64")
    stateful.build((4, 2), np.random.default_rng(1))
    twin = cls(H, num_layers=2, bidirectional=True, return_sequences=True, return_state=True, dtype="float64")
    twin.build((4, 2), np.random.default_rng(1))
    assert {"weight_ih_l1_reverse", "weight_hh_l1_reverse"} <= set(stateful.params)
    first, state = twin.forward(x[:, :4])
    second, _ = twin.forward(x[:, 4:], initial_state=state)
    assert np.shape(state if cls is not LSTM else state[0]) == (2 * 2, 3, H)   # (L*D, B, H)
    got_first, got_second = stateful.forward(x[:, :4]), stateful.forward(x[:, 4:])
    assert got_second.shape == (3, 4, 2 * H)                                  # both directions' outputs
    np.testing.assert_allclose(got_first, first, rtol=1e-12)
    np.testing.assert_allclose(got_second, second, rtol=1e-12)
    fresh, _ = twin.forward(x[:, 4:])
    assert not np.allclose(got_second[..., H:], fresh[..., H:])             # the reverse direction carried too
    stateful.reset_states()
    np.testing.assert_allclose(stateful.forward(x[:, 4:]), fresh, rtol=1e-12)


def test_stateless_layers_do_not_carry():
    layer = LSTM(3, dtype="float64").build((5, 2), np.random.default_rng(0))
    x = rng.standard_normal((2, 5, 2))
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))
    assert layer.states is None


def test_batch_size_change_needs_a_reset():
    layer = GRU(3, stateful=True)
    layer.forward(rng.standard_normal((2, 5, 2)))
    with pytest.raises(ValueError, match="reset_states"):
        layer.forward(rng.standard_normal((3, 5, 2)))
    layer.reset_states()
    assert layer.forward(rng.standard_normal((3, 5, 2))).shape == (3, 3)


def test_no_gradient_flows_into_the_previous_call():
    layer = LSTM(3, stateful=True, dtype="float64").build((4, 2), np.random.default_rng(0))
    layer.forward(rng.standard_normal((2, 4, 2)))
    out = layer.forward(rng.standard_normal((2, 4, 2)))
    layer.backward(np.ones_like(out))
    assert layer.dinitial_state is None
