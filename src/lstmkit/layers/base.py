"""The layer contract: `params` / `grads` dicts with PyTorch names, a lazy `build`, mirrored `forward` /
`backward`, and a configuration derived from the constructor signature (STYLE 9)."""

import inspect

import numpy as np

from ..validation import check_dtype


class Layer:
    """Base of every layer.

    A subclass stores each constructor argument under the same attribute name, implements `_create_params`
    (called once by `build` with the input shape, batch axis excluded), `forward`, `backward` and `output_shape`.
    `params[name]` and `grads[name]` have the same keys and shapes; writing into a param in place changes the layer.
    """

    takes_indices = False     # True for layers fed integer token ids (Embedding)
    input_axes = None         # the numbers of axes an input may have, batch excluded (None: any)

    def __init__(self, dtype="float32"):
        self.dtype = check_dtype(dtype)
        self.params = {}
        self.grads = {}
        self.input_shape = None
        self.rng = None

    @property
    def built(self):
        return self.input_shape is not None

    def build(self, input_shape, rng=None):
        """Create the parameters for inputs shaped `(batch, *input_shape)`; `rng` seeds initialisation and any
        dropout masks (a fresh unseeded generator when None)."""
        if self.input_axes is not None and len(input_shape) not in self.input_axes:
            want = " or ".join(str(n + 1) for n in self.input_axes)
            raise ValueError(f"{type(self).__name__} takes {want}D inputs (batch first), got the input shape "
                             f"(batch, {', '.join(map(str, input_shape))}).")
        self.rng = rng if rng is not None else np.random.default_rng()
        self.input_shape = tuple(int(d) if d is not None else None for d in input_shape)
        self._create_params(self.input_shape, self.rng)
        self.params = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in self.params.items()}
        self.zero_grad()
        return self

    def _create_params(self, input_shape, rng):
        """Fill `self.params`; layers without weights keep it empty."""

    def zero_grad(self):
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def to(self, dtype):
        """Convert the parameters (and the dtype of later inputs) to float32 or float64, in place."""
        self.dtype = check_dtype(dtype)
        self.params = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in self.params.items()}
        self.zero_grad()
        return self

    @property
    def accepts_mask(self):
        """Whether forward takes a (B, T) `mask` of real steps (the recurrent layers do)."""
        return "mask" in inspect.signature(self.forward).parameters

    def output_mask(self, x, mask):
        """The (B, T) mask of this layer's output, given its input x and the input's mask: per-step layers pass it
        on; a layer returning one vector per sequence (return_sequences=False) ends it."""
        return None if getattr(self, "return_sequences", True) is False else mask

    def output_shape(self, input_shape):
        """Shape of the output for inputs shaped `(batch, *input_shape)`, batch axis excluded."""
        return tuple(input_shape)

    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    def get_config(self):
        """The constructor arguments, read back from the attributes of the same name. A subclass whose
        `__init__` passes `*args, **kwargs` on to its parent contributes its own named arguments; the parent's
        follow."""
        names = []
        for cls in type(self).__mro__:
            if "__init__" not in vars(cls):
                continue
            params = inspect.signature(cls.__init__).parameters.values()
            names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                      and p.name != "self" and p.name not in names]
            if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
                break
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
