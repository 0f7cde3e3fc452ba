"""Stateful recurrent layers: the final state of one call is the initial state of the next."""

import numpy as np
import pytest

from lstmkit.layers import GRU, LSTM, SimpleRNN

rng = np.random.default_rng(0)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_two_halves_carry_into_each_other(cls, bidirectional):
    """Forward-direction outputs of the halves, run statefully, equal those of the whole sequence."""
    x = rng.standard_normal((3, 8, 2))
    whole = cls(4, num_layers=2, return_sequences=True, dtype="float64").build((8, 2), np.random.default_rng(1))
    halves = cls(4, num_layers=2, return_sequences=True, stateful=True, dtype="float64")
    halves.build((4, 2), np.random.default_rng(1))
    expected = whole.forward(x)
    got = np.concatenate([halves.forward(x[:, :4]), halves.forward(x[:, 4:])], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    halves.reset_states()
    np.testing.assert_allclose(halves.forward(x[:, :4]), expected[:, :4], rtol=1e-12)


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
