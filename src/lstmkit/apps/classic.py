"""The units before recurrence, as the tutorial builds them up (Staudemeyer & Morris 2019, sections 3-4):
Rosenblatt's perceptron (1958) with the perceptron learning rule, the sigmoid threshold unit trained with the delta
rule (Widrow & Hoff 1960, with a sigmoid), and a multi-layer perceptron of sigmoid units trained by error
backpropagation (Rumelhart, Hinton & Williams 1986).

Notation (the tutorial's): input x = (x_1 .. x_n), weights W, bias b, weighted input z = sum_i W_i x_i, state
s = z + b, output y, desired output d, learning rate eta, sigma the logistic sigmoid with sigma'(s) = y (1 - y).
(Elsewhere the rule is written w <- w + eta (y - y_hat) x: the same rule with y for d and y_hat for y.)

Each unit learns online, one sample at a time in a seeded random order per epoch, as in the tutorial; the
same seed gives the same weights and the same history.
"""

from dataclasses import dataclass

import numpy as np

from ..runtime.ops import sigmoid
from ..runtime.validation import check_array
from .config import option

# The four rows of a two-input truth table and the three gates the demo teaches.
BOOLEAN_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
GATES = {"AND": np.array([0, 0, 0, 1.0]), "OR": np.array([0, 1, 1, 1.0]), "XOR": np.array([0, 1, 1, 0.0])}


def _check_xd(x, d, n_inputs, n_outputs=None):
    """x (N, n_inputs) and targets d (N,) or (N, n_outputs), values in [0, 1]."""
    x = check_array(x, "x", ndim=2, dtype="float64")
    if x.shape[1] != n_inputs:
        raise ValueError(f"x has {x.shape[1]} features per sample, but the unit was made for {n_inputs}; "
                         f"pass x shaped (N, {n_inputs}).")
    d = check_array(d, "d", ndim=(1, 2), dtype="float64")
    if n_outputs is not None and d.ndim == 1:
        d = d[:, None]
    want = (len(x),) if n_outputs is None else (len(x), n_outputs)
    if d.shape != want:
        raise ValueError(f"d (the desired outputs) must have shape {want}, got {d.shape}.")
    if np.any((d < 0) | (d > 1)):
        raise ValueError("d must hold targets in [0, 1] (0/1 class labels for the perceptron).")
    return x, d


def _check_positive(name, value, kind=float):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value <= 0 \
            or (kind is int and int(value) != value):
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {value!r}.")
    return kind(value)


class _Unit:
    """A single unit s = W x + b with online training; a subclass gives the output y(s) and the update factor."""

    def __init__(self, n_inputs, lr=0.1, seed=None):
        self.n_inputs = _check_positive("n_inputs", n_inputs, int)
        self.lr = _check_positive("lr", lr)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.W = self.rng.uniform(-0.5, 0.5, self.n_inputs)     # (n,) random start, as the tutorial says
        self.b = 0.0
        self.history = []            # accuracy on the training set after each epoch
        self.converged_epoch = None

    def state(self, x):
        """s = z + b, z = sum_i W_i x_i, for x (N, n) -> (N,)."""
        return x @ self.W + self.b

    def accuracy(self, x, d):
        x, d = _check_xd(x, d, self.n_inputs)
        return float(np.mean(self.predict(x) == (d > 0.5)))

    def fit(self, x, d, epochs=100):
        """Online training: one update per sample, samples in a fresh seeded order each epoch. Stops after an
        epoch in which every sample is classified correctly (`converged_epoch`, 1-based), else after `epochs`."""
        x, d = _check_xd(x, d, self.n_inputs)
        epochs = _check_positive("epochs", epochs, int)
        self.converged_epoch = None
        for epoch in range(epochs):
            for j in self.rng.permutation(len(x)):
                self._update(x[j], d[j])
            self.history.append(float(np.mean(self.predict(x) == (d > 0.5))))
            if self.history[-1] == 1.0 and self._converged(x, d):
                self.converged_epoch = epoch + 1
                break
        return self

    def _converged(self, x, d):
        return True


class Perceptron(_Unit):
    """Rosenblatt's perceptron: y = 1 if s > 0 else 0 (the bias b plays the threshold), trained with the
    perceptron learning rule, sample by sample::

        W <- W + eta (d - y) x        b <- b + eta (d - y)

    W changes only on a mistake. When the classes are linearly separable the rule reaches zero errors in a
    finite number of updates (the perceptron convergence theorem, Novikoff 1962); otherwise (XOR) it never does
    and the weights cycle.
    """

    def predict(self, x):
        """Class y in {0, 1} for x (N, n)."""
        x = check_array(x, "x", ndim=2, dtype="float64")
        return (self.state(x) > 0).astype(np.int64)

    def _update(self, x, d):
        y = float(self.state(x) > 0)
        self.W += self.lr * (d - y) * x                         # W <- W + eta (d - y) x
        self.b += self.lr * (d - y)


class SigmoidUnit(_Unit):
    """The sigmoid threshold unit, y = sigma(s), trained with the delta rule: gradient descent on the squared
    error E = 1/2 (d - y)^2 of one sample, dE/dW = -(d - y) sigma'(s) x::

        W <- W + eta (d - y) sigma'(s) x        b <- b + eta (d - y) sigma'(s)        sigma'(s) = y (1 - y)

    Its output is continuous in (0, 1); the class is y > 0.5. It is still one linear boundary, so it learns
    AND and OR but not XOR. Training stops once every sample is classified correctly and E of every sample is
    below `tol` (default 0.02: every y within 0.2 of its target), or after `epochs`. The step size is
    eta sigma'(s) <= eta / 4, which is why eta = 2 is a moderate default here.
    """

    def __init__(self, n_inputs, lr=2.0, tol=0.02, seed=None):
        super().__init__(n_inputs, lr, seed)
        self.tol = _check_positive("tol", tol)

    def predict_proba(self, x):
        """y = sigma(s) for x (N, n) -> (N,)."""
        x = check_array(x, "x", ndim=2, dtype="float64")
        return sigmoid(self.state(x))

    def predict(self, x):
        return (self.predict_proba(x) > 0.5).astype(np.int64)

    def _update(self, x, d):
        y = float(sigmoid(np.atleast_1d(self.state(x)))[0])
        delta = (d - y) * y * (1.0 - y)                         # (d - y) sigma'(s)
        self.W += self.lr * delta * x                           # W <- W + eta (d - y) sigma'(s) x
        self.b += self.lr * delta

    def _converged(self, x, d):
        return bool(np.all(0.5 * (d - self.predict_proba(x)) ** 2 < self.tol))


class MLP:
    """A multi-layer perceptron of sigmoid units, `sizes` = (n_inputs, hidden..., n_outputs), e.g. (2, 2, 1),
    trained online by error backpropagation. Layer k (1-based) has `W{k}` (out, in) and `b{k}` (out,),
    initialised U(-1/sqrt(in), 1/sqrt(in)).

    Forward, from y^0 = x:  s^k = W_k y^{k-1} + b_k,  y^k = sigma(s^k);  the network output is y^K.
    Error of one sample:    E = 1/2 sum_o (d_o - y_o)^2.
    Error signals (theta = -dE/ds), from the output back:
        output unit o:   theta_o = (d_o - y_o) sigma'(s_o)
        hidden unit h:   theta_h = sigma'(s_h) sum_o theta_o W[o, h]      (sum over the units h feeds)
    Updates (the generalised delta rule): W[u, v] <- W[u, v] + eta theta_u y_v,   b_u <- b_u + eta theta_u.
    """

    def __init__(self, sizes=(2, 2, 1), lr=0.5, tol=0.01, seed=None):
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least the inputs and the outputs, e.g. (2, 2, 1); got {sizes!r}.")
        self.sizes = tuple(_check_positive(f"sizes[{i}]", n, int) for i, n in enumerate(sizes))
        self.lr = _check_positive("lr", lr)
        self.tol = _check_positive("tol", tol)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.params = {}
        for k, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            bound = 1.0 / np.sqrt(n_in)
            self.params[f"W{k}"] = self.rng.uniform(-bound, bound, (n_out, n_in))
            self.params[f"b{k}"] = self.rng.uniform(-bound, bound, n_out)
        self.history = []            # mean squared error E / N after each epoch
        self.converged_epoch = None

    @property
    def num_layers(self):
        return len(self.sizes) - 1

    def forward(self, x):
        """The outputs y^0 = x, y^1 .. y^K of every layer, for x (N, n_inputs); y^k is (N, sizes[k])."""
        ys = [x]
        for k in range(1, self.num_layers + 1):
            ys.append(sigmoid(ys[-1] @ self.params[f"W{k}"].T + self.params[f"b{k}"]))   # y^k = sigma(s^k)
        return ys

    def backward(self, ys, d):
        """dE/dparam for E = 1/2 sum over samples and outputs of (d - y)^2, from forward's outputs `ys`."""
        grads = {}
        theta = (d - ys[-1]) * ys[-1] * (1.0 - ys[-1])          # theta_o = (d_o - y_o) sigma'(s_o), (N, n_out)
        for k in range(self.num_layers, 0, -1):
            grads[f"W{k}"] = -theta.T @ ys[k - 1]               # dE/dW[u, v] = -theta_u y_v, summed over samples
            grads[f"b{k}"] = -theta.sum(axis=0)
            if k > 1:
                y = ys[k - 1]
                theta = (theta @ self.params[f"W{k}"]) * y * (1.0 - y)   # theta_h = sigma'(s_h) sum_o theta_o W[o,h]
        return {name: grads[name] for name in self.params}

    def loss(self, x, d):
        """E = 1/2 sum over samples and outputs of (d - y)^2."""
        x, d = _check_xd(x, d, self.sizes[0], self.sizes[-1])
        return float(0.5 * np.sum((d - self.forward(x)[-1]) ** 2))

    def gradients(self, x, d):
        """dE/dparam (same keys and shapes as `params`) for E = `loss(x, d)`."""
        x, d = _check_xd(x, d, self.sizes[0], self.sizes[-1])
        return self.backward(self.forward(x), d)

    def predict_proba(self, x):
        x = check_array(x, "x", ndim=2, dtype="float64")
        out = self.forward(x)[-1]
        return out[:, 0] if self.sizes[-1] == 1 else out

    def predict(self, x):
        """Class y > 0.5 per output unit."""
        return (self.predict_proba(x) > 0.5).astype(np.int64)

    def accuracy(self, x, d):
        x, d = _check_xd(x, d, self.sizes[0], self.sizes[-1])
        return float(np.mean((self.forward(x)[-1] > 0.5) == (d > 0.5)))

    def fit(self, x, d, epochs=5000):
        """Online backpropagation: one update per sample in a seeded order each epoch. Stops when the mean E per
        sample falls below `tol` (`converged_epoch`, 1-based), else after `epochs`. With few hidden units a
        seed can end in a local minimum (XOR with (2, 2, 1): 2 seeds of 20; with (2, 3, 1): 1 of 30)."""
        x, d = _check_xd(x, d, self.sizes[0], self.sizes[-1])
        epochs = _check_positive("epochs", epochs, int)
        self.converged_epoch = None
        for epoch in range(epochs):
            for j in self.rng.permutation(len(x)):
                grads = self.backward(self.forward(x[j:j + 1]), d[j:j + 1])
                for name, g in grads.items():
                    self.params[name] -= self.lr * g            # W <- W + eta theta_u y_v
            self.history.append(self.loss(x, d) / len(x))
            if self.history[-1] < self.tol:
                self.converged_epoch = epoch + 1
                break
        return self


# ---- the demo of `lstmkit classic` ---------------------------------------------------------------------------------
@dataclass
class ClassicConfig:
    """Settings of the classic-units demo; `lstmkit classic --help` is generated from these fields."""
    epochs: int = option(100, "epochs of the perceptron and the sigmoid unit (the perceptron stops when it is right)")
    lr: float = option(0.1, "learning rate eta of the perceptron rule")
    delta_lr: float = option(2.0, "learning rate eta of the delta rule (sigmoid unit)")
    delta_epochs: int = option(2000, "epochs of the delta-rule sigmoid unit")
    hidden: int = option(2, "hidden sigmoid units of the two-layer net")
    mlp_lr: float = option(0.5, "learning rate eta of backpropagation")
    mlp_epochs: int = option(10000, "maximum epochs of the two-layer net")
    seed: int = option(0, "random seed (initial weights, sample order): the same seed gives the same run")


@dataclass
class GateResult:
    """One gate taught to the three units: their outputs on the four input rows and their training summary."""
    gate: str
    d: np.ndarray                      # (4,) desired outputs
    perceptron: Perceptron
    sigmoid_unit: SigmoidUnit
    mlp: MLP


def run_classic(config=None):
    """Teach AND, OR and XOR to a perceptron, a delta-rule sigmoid unit and a two-layer net (2, hidden, 1)."""
    config = config or ClassicConfig()
    results = []
    for i, (gate, d) in enumerate(GATES.items()):
        seed = np.random.SeedSequence([config.seed, i])
        seeds = [int(s.generate_state(1)[0]) for s in seed.spawn(3)]
        perceptron = Perceptron(2, lr=config.lr, seed=seeds[0]).fit(BOOLEAN_INPUTS, d, epochs=config.epochs)
        unit = SigmoidUnit(2, lr=config.delta_lr, seed=seeds[1]).fit(BOOLEAN_INPUTS, d, epochs=config.delta_epochs)
        mlp = MLP((2, config.hidden, 1), lr=config.mlp_lr, seed=seeds[2]).fit(BOOLEAN_INPUTS, d,
                                                                               epochs=config.mlp_epochs)
        results.append(GateResult(gate, d, perceptron, unit, mlp))
    return results
