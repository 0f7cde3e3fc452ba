"""Concatenate: parallel branches of layers on the same input, their outputs joined on the last axis, so a model
with two paths still fits in a Sequential. The LSTM-FCN classifier (Karim et al. 2018) is

    Sequential([Concatenate([LSTM(8), Dropout(0.8)],
                            [Conv1D(128, 8), BatchNorm(), Activation("relu"),
                             Conv1D(256, 5), BatchNorm(), Activation("relu"),
                             Conv1D(128, 3), BatchNorm(), Activation("relu"), GlobalAveragePooling1D()]),
                Dense(n_classes)])

Forward: branch k runs its layers in turn on x, as Sequential.forward does (the (B, T) mask travels through each
layer's `output_mask` and reaches the layers that take one), giving y_k, each (B, F_k) or all (B, T, F_k);
y = [y_1, ..., y_K] on the last axis. Backward: dy splits into the dy_k, each goes back through its branch, and
dx = sum_k dx_k (x feeds every branch).
"""

import inspect

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_gradient_shape
from .base import Layer, get_class


def _call(layer, x, mask, training):
    """layer.forward(x) with `mask` and `training` where its forward takes them."""
    kwargs = {}
    if mask is not None and layer.accepts_mask:
        kwargs["mask"] = mask
    if "training" in inspect.signature(layer.forward).parameters:
        kwargs["training"] = training
    return layer.forward(x, **kwargs)


def _unbuild(layer):
    """Make `layer` unbuilt again (what Sequential does to layers whose build it undoes); a wrapper whose state is
    its inner layer's (TimeDistributed) keeps what it cannot reset."""
    for attr, empty in (("input_shape", None), ("params", {}), ("grads", {}), ("buffers", {}), ("rng", None)):
        try:
            setattr(layer, attr, empty)
        except AttributeError:                                 # a read-only view of an inner layer
            pass


def _from_spec(spec, k):
    """The layer a model file's {"class": ..., "config": ...} describes."""
    try:
        return get_class(spec["class"])(**spec["config"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"cannot rebuild a layer of Concatenate branch {k} from {spec!r} ({type(err).__name__}: "
                         f"{err}).") from None


def _branch(branch, k):
    """A branch as a list of layers (a single layer, or a layer's saved form {'class', 'config'}, is taken too)."""
    items = list(branch) if isinstance(branch, (list, tuple)) else [branch]
    items = [_from_spec(item, k) if isinstance(item, dict) else item for item in items]
    if not items:
        raise ValueError(f"Concatenate branch {k} is empty; give each branch at least one layer.")
    for layer in items:
        if not isinstance(layer, Layer):
            raise TypeError(f"Concatenate branch {k} holds a {type(layer).__name__}; a branch is an lstmkit layer or "
                            f"a list of them, e.g. Concatenate([LSTM(8)], [Conv1D(16, 3), BatchNorm()]).")
        if getattr(layer, "return_state", False):
            raise ValueError(f"Concatenate needs layers that return one array; {type(layer).__name__}"
                             f"(return_state=True) in branch {k} returns a tuple. Use return_state=False.")
    for previous, layer in zip(items, items[1:]):
        layer.check_input_layer(previous)
    return items


class Concatenate(Layer):
    """Run each branch on the same input and join the outputs on the last axis.

    `Concatenate(*branches)`: each branch is a list of layers (or one layer). The parameters, gradients and buffers
    are the inner layers', named `"<branch>.<position>.<name>"` (`"1.0.weight"`: the first layer of the second
    branch), live arrays as TimeDistributed exposes its layer's, so the optimizer, model files and checkpoints see
    them; `.to()` moves every inner layer. All inner layers draw from one generator, this layer's `rng` (dropout
    masks; a checkpoint saves it). A saved model writes the branches as layers are written in model files;
    `Concatenate(branches=[[{"class": ..., "config": ...}, ...], ...])` rebuilds them (what `get_config` returns),
    since nested layers cannot come from the constructor's signature alone (STYLE 9)."""

    def __init__(self, *branches, **config):
        if config:
            if set(config) != {"branches"} or branches:
                raise TypeError(f"Concatenate takes the branches as positional arguments (or only branches=[...], "
                                f"its saved form), got keyword arguments {sorted(config)}.")
            branches = config["branches"]
            if not isinstance(branches, (list, tuple)):
                raise TypeError(f"Concatenate branches=... must be a list of branches, got "
                                f"{type(branches).__name__}.")
        if not branches:
            raise ValueError("Concatenate needs at least one branch, e.g. Concatenate([LSTM(8)], [Conv1D(16, 3)]).")
        self.branches = [_branch(branch, k) for k, branch in enumerate(branches)]
        layers = self.layers
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("a layer object appears twice in Concatenate; give every branch its own layers (a "
                             "shared layer would hold one set of weights updated twice).")
        dtypes = {layer.dtype for layer in layers}
        if len(dtypes) > 1:
            raise ValueError(f"the layers of Concatenate must share one dtype, got {sorted(dtypes)}; create them "
                             f"with the same dtype=..., or convert the model with .to(dtype).")
        if len({bool(branch[0].takes_indices) for branch in self.branches}) > 1:
            raise ValueError("the first layers of Concatenate's branches must all take token ids (Embedding) or "
                             "all take feature vectors.")
        self._input_shape = None
        self._rng = None
        self._widths = None            # F_k of the last forward's branch outputs
        self._out_mask = None          # the output mask of the last forward
        self._out_shape = None         # the shape of the last forward's output

    @property
    def layers(self):
        """Every inner layer, branch by branch."""
        return [layer for branch in self.branches for layer in branch]

    def _named(self, attr):
        """{"<branch>.<position>.<name>": array} over the inner layers' `attr` dicts (params, grads, buffers)."""
        return {f"{k}.{i}.{name}": a for k, branch in enumerate(self.branches) for i, layer in enumerate(branch)
                for name, a in getattr(layer, attr).items()}

    def _assign(self, attr, named):
        """Give each inner layer its part of `named` (as `_named` writes it); {} empties them all."""
        for k, branch in enumerate(self.branches):
            for i, layer in enumerate(branch):
                prefix = f"{k}.{i}."
                setattr(layer, attr, {key[len(prefix):]: a for key, a in named.items() if key.startswith(prefix)})

    params = property(lambda self: self._named("params"), lambda self, d: self._assign("params", d))
    grads = property(lambda self: self._named("grads"), lambda self, d: self._assign("grads", d))
    buffers = property(lambda self: self._named("buffers"), lambda self, d: self._assign("buffers", d))
    dtype = property(lambda self: self.branches[0][0].dtype)
    device = property(lambda self: self.branches[0][0].device)
    takes_indices = property(lambda self: self.branches[0][0].takes_indices)

    @property
    def rng(self):
        return self._rng

    @rng.setter
    def rng(self, generator):
        """One generator for all inner layers (a checkpoint restores it here)."""
        self._rng = generator
        for layer in self.layers:
            try:
                layer.rng = generator
            except AttributeError:                             # a wrapper's read-only view: it drew from the
                pass                                           # generator build gave it

    @property
    def input_shape(self):
        return self._input_shape

    @input_shape.setter
    def input_shape(self, shape):
        """None unbuilds the inner layers too (Sequential undoing a failed build of the model)."""
        self._input_shape = shape
        if shape is None:
            for layer in self.layers:
                _unbuild(layer)

    def check_input_layer(self, previous):
        for branch in self.branches:
            branch[0].check_input_layer(previous)

    def build(self, input_shape, rng=None):
        """Build every inner layer, branch after branch, from one generator; a failure leaves them unbuilt."""
        input_shape = tuple(int(d) if d is not None else None for d in input_shape)
        rng = rng if rng is not None else np.random.default_rng()
        fresh = [layer for layer in self.layers if not layer.built]
        try:
            shapes = []
            for branch in self.branches:
                shape = input_shape
                for layer in branch:
                    if not layer.built:
                        layer.build(shape, rng)
                    shape = tuple(layer.output_shape(shape))
                shapes.append(shape)
            self._join_shapes(shapes)
        except BaseException:
            for layer in fresh:
                _unbuild(layer)
            raise
        self.input_shape = input_shape
        self.rng = rng
        return self

    def _join_shapes(self, shapes):
        """The output shape for the branches' output shapes, which must differ only in their last axis."""
        leading = {shape[:-1] for shape in shapes}
        if len(leading) > 1:
            listed = "; ".join(f"branch {k}: (batch, {', '.join(map(str, s))})" for k, s in enumerate(shapes))
            raise ValueError(f"Concatenate joins outputs on their last axis, so the branches' outputs must agree on "
                             f"every other axis; got {listed}. End every branch with one vector per sequence "
                             f"(return_sequences=False, global pooling) or keep the steps in all of them.")
        return shapes[0][:-1] + (sum(shape[-1] for shape in shapes),)

    def output_shape(self, input_shape):
        shapes = []
        for branch in self.branches:
            shape = tuple(input_shape)
            for layer in branch:
                shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        return self._join_shapes(shapes)

    def output_mask(self, x, mask):
        """The mask the last forward's branches ended with: the steps real in all of them (None: no mask)."""
        return self._out_mask

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def to(self, target):
        for layer in self.layers:
            layer.to(target)
        return self

    def reset_states(self):
        """Forget the states that stateful recurrent layers of the branches carry between batches."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def forward(self, x, mask=None, training=False):
        x = backend.as_array(x)
        if not self.built:
            self.build(x.shape[1:])
        outputs, masks = [], []
        for branch in self.branches:
            h, m = x, mask
            for layer in branch:
                inputs, h = h, _call(layer, h, m, training)
                m = layer.output_mask(inputs, m)
            outputs.append(h)
            masks.append(m)
        ranks = {np.ndim(y) for y in outputs}
        if len(ranks) > 1 or len({y.shape[:-1] for y in outputs}) > 1:
            self._join_shapes([y.shape[1:] for y in outputs])               # raises, naming the shapes
        masks = [backend.to_host(m) for m in masks if m is not None]
        self._out_mask = None if not masks else np.logical_and.reduce(masks)
        self._widths = [y.shape[-1] for y in outputs]
        y = self.xp.concatenate(outputs, axis=-1)                           # (B, [T,] sum_k F_k)
        self._out_shape = y.shape
        return y

    def backward(self, dy):
        if self._widths is None:
            raise RuntimeError("Concatenate.backward called before forward.")
        dy = check_gradient_shape(dy, self._out_shape, self.dtype, "dy", self.device)
        offsets = np.cumsum([0] + self._widths)
        dx = None
        for k, branch in enumerate(self.branches):
            d = dy[..., offsets[k]:offsets[k + 1]]                          # dy_k (B, [T,] F_k)
            for layer in reversed(branch):
                d = layer.backward(d)
                if d is None:                                               # token ids have no gradient
                    break
            if d is not None:
                dx = d if dx is None else dx + d                            # dx = sum_k dx_k
        return dx

    def get_config(self):
        return {"branches": [[{"class": type(layer).__name__, "config": layer.get_config()} for layer in branch]
                             for branch in self.branches]}

    def __repr__(self):
        return f"Concatenate({', '.join(repr(branch) for branch in self.branches)})"
