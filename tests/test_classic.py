"""Classic units (lstmkit.apps.classic): the perceptron rule on AND / OR / XOR, the delta rule, backprop on XOR with its
gradient against finite differences, and the `lstmkit classic` command."""

import argparse

import numpy as np
import pytest

from lstmkit import cli
from lstmkit.apps.classic import BOOLEAN_INPUTS, GATES, MLP, ClassicConfig, Perceptron, SigmoidUnit, run_classic
from lstmkit.cli import classic as classic_cli

X = BOOLEAN_INPUTS


@pytest.mark.parametrize("gate", ["AND", "OR"])
@pytest.mark.parametrize("seed", range(5))
def test_perceptron_converges_on_linearly_separable_gates(gate, seed):
    unit = Perceptron(2, lr=0.1, seed=seed).fit(X, GATES[gate], epochs=100)
    assert unit.converged_epoch is not None
    assert np.array_equal(unit.predict(X), GATES[gate])


@pytest.mark.parametrize("seed", range(3))
def test_perceptron_never_learns_xor(seed):
    """No line separates XOR: with s = W1 x1 + W2 x2 + b, the rows ask b <= 0, W1 + b > 0, W2 + b > 0 and
    W1 + W2 + b <= 0; the middle two give W1 + W2 + b > -b >= 0, a contradiction. So no epoch ends 4/4."""
    unit = Perceptron(2, lr=0.1, seed=seed).fit(X, GATES["XOR"], epochs=1000)
    assert unit.converged_epoch is None
    assert len(unit.history) == 1000 and max(unit.history) < 1.0


def test_no_weights_separate_xor():
    """The contradiction above, checked on a million random lines."""
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((1_000_000, 2)), rng.standard_normal((1_000_000, 1))
    correct = ((X @ W.T).T + b > 0) == GATES["XOR"].astype(bool)          # (lines, 4)
    assert correct.all(axis=1).sum() == 0
    assert (((X @ W.T).T + b > 0) == GATES["AND"].astype(bool)).all(axis=1).sum() > 0


def test_perceptron_rule_changes_weights_only_on_mistakes():
    unit = Perceptron(2, lr=0.5, seed=0)
    unit.W[:] = [1.0, 1.0]
    unit.b = -1.5                                     # already computes AND
    unit.fit(X, GATES["AND"], epochs=3)
    assert unit.converged_epoch == 1 and np.array_equal(unit.W, [1.0, 1.0]) and unit.b == -1.5
    unit = Perceptron(2, lr=0.5, seed=0)
    unit.W[:] = [0.0, 0.0]
    unit.b = 0.0
    unit._update(np.array([1.0, 1.0]), 1.0)           # y = 0, d = 1: W <- W + eta (d - y) x
    assert np.array_equal(unit.W, [0.5, 0.5]) and unit.b == 0.5


@pytest.mark.parametrize("gate", ["AND", "OR"])
def test_delta_rule_sigmoid_unit_learns(gate):
    unit = SigmoidUnit(2, seed=0).fit(X, GATES[gate], epochs=2000)
    assert unit.converged_epoch is not None
    assert np.array_equal(unit.predict(X), GATES[gate])
    assert np.all(np.abs(unit.predict_proba(X) - GATES[gate]) < 0.2)


def test_delta_rule_step_is_gradient_descent_on_squared_error():
    unit = SigmoidUnit(2, lr=0.3, seed=1)
    x, d = np.array([1.0, 0.5]), 1.0
    eps = 1e-6

    def E(W, b):
        return 0.5 * (d - 1 / (1 + np.exp(-(W @ x + b)))) ** 2
    W0, b0 = unit.W.copy(), unit.b
    dE_dW = np.array([(E(W0 + eps * e, b0) - E(W0 - eps * e, b0)) / (2 * eps) for e in np.eye(2)])
    unit._update(x, d)
    assert np.allclose(unit.W, W0 - 0.3 * dE_dW, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_learns_xor(seed):
    net = MLP((2, 2, 1), lr=0.5, seed=seed).fit(X, GATES["XOR"], epochs=10000)
    assert net.converged_epoch is not None
    assert np.array_equal(net.predict(X), GATES["XOR"])


@pytest.mark.parametrize("sizes", [(2, 2, 1), (3, 4, 2), (2, 3, 3, 2)])
def test_mlp_gradient_matches_finite_differences(sizes):
    rng = np.random.default_rng(0)
    net = MLP(sizes, seed=1)
    x, d = rng.standard_normal((5, sizes[0])), rng.uniform(0, 1, (5, sizes[-1]))
    grads = net.gradients(x, d)
    assert set(grads) == set(net.params)
    eps, worst = 1e-6, 0.0
    for name, p in net.params.items():
        numeric = np.zeros_like(p)
        for j in range(p.size):
            saved = p.flat[j]
            p.flat[j] = saved + eps
            up = net.loss(x, d)
            p.flat[j] = saved - eps
            down = net.loss(x, d)
            p.flat[j] = saved
            numeric.flat[j] = (up - down) / (2 * eps)
        worst = max(worst, np.abs(grads[name] - numeric).max() / np.abs(numeric).max())
    assert worst < 1e-7


def test_same_seed_same_weights():
    a = MLP((2, 2, 1), seed=4).fit(X, GATES["XOR"], epochs=200)
    b = MLP((2, 2, 1), seed=4).fit(X, GATES["XOR"], epochs=200)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert a.history == b.history


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="x has 3 features"):
        Perceptron(2).fit(np.zeros((4, 3)), GATES["AND"])
    with pytest.raises(ValueError, match=r"d \(the desired outputs\) must have shape"):
        Perceptron(2).fit(X, [0, 1])
    with pytest.raises(ValueError, match="lr must be a positive"):
        SigmoidUnit(2, lr=0)
    with pytest.raises(ValueError, match="sizes must list"):
        MLP((2,))


def test_run_classic_defaults():
    results = {r.gate: r for r in run_classic(ClassicConfig())}
    for gate in ("AND", "OR"):
        assert results[gate].perceptron.converged_epoch is not None
    assert results["XOR"].perceptron.converged_epoch is None
    assert np.array_equal(results["XOR"].mlp.predict(X), GATES["XOR"])


def _run(argv, capsys):
    if any(module is classic_cli for module in cli.COMMAND_MODULES):
        code = cli.main(argv)
    else:                                             # until the lead registers the command
        parser = argparse.ArgumentParser()
        classic_cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(argv)
        code = args.func(args)
    return code, capsys.readouterr().out


def test_classic_command_prints_the_decision_tables(capsys):
    code, out = _run(["classic"], capsys)
    assert code == 0
    for title in ("d = x1 AND x2", "d = x1 OR x2", "d = x1 XOR x2", "right decisions out of 4"):
        assert title in out
    perceptron_row = next(line for line in out.splitlines() if line.startswith("│ perceptron "))
    cells = [c.strip() for c in perceptron_row.strip("│").split("│")]
    assert cells[1].startswith("4/4") and cells[2].startswith("4/4") and "never 4/4" in cells[3]
    net_row = next(line for line in out.splitlines() if line.startswith("│ 2-2-1 net"))
    assert net_row.strip("│").split("│")[3].strip().startswith("4/4")
