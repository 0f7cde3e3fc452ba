"""The layer contract: `params` / `grads` dicts with PyTorch names, a lazy `build`, mirrored `forward` /
`backward`, and a configuration derived from the constructor signature (STYLE 9)."""

import inspect
from types import MappingProxyType

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_dtype


class Layer:
    """Base of every layer.

    A subclass stores each constructor argument under the same attribute name, implements `_create_params`
    (called once by `build` with the input shape, batch axis excluded), `forward`, `backward` and `output_shape`.
    `params[name]` and `grads[name]` have the same keys and shapes; writing into a param in place changes the layer.
    They live on `device` ("cpu", or "cuda" with CuPy: backend.py), whose array module is `xp`.

    `buffers` holds learned state that is not trained by gradients (BatchNorm's running statistics; PyTorch's
    `register_buffer`), under PyTorch's `state_dict` names: it moves and converts with the params (integer buffers
    keep their integer dtype), model files and training checkpoints save it, and no optimizer sees it (it is not
    in `params`). A buffer's name never equals a param's.
    """

    takes_indices = False     # True for layers fed integer token ids (Embedding)
    input_axes = None         # the numbers of axes an input may have, batch excluded (None: any)
    buffers = MappingProxyType({})   # read-only default for wrappers that skip __init__; layers get their own dict

    def __init__(self, dtype="float32"):
        self.dtype = check_dtype(dtype)
        self.device = backend.default_device()
        self.params = {}
        self.grads = {}
        self.buffers = {}
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
        self._create_params(self.input_shape, self.rng)                  # on the host, from the seeded generator
        self._place_params()
        return self

    def _create_params(self, input_shape, rng):
        """Fill `self.params`; layers without weights keep it empty."""

    def zero_grad(self):
        self.grads = {k: self.xp.zeros_like(v) for k, v in self.params.items()}

    @property
    def xp(self):
        """The array module of the layer's device: numpy, or cupy on "cuda"."""
        return np if self.device == "cpu" else backend.array_module(self.device)

    def to(self, target):
        """Move the layer, in place, to a device ("cpu" or "cuda") or convert it to a dtype ("float32" or
        "float64"): parameters and buffers now, later inputs as they arrive. Gradients restart at zero, and what
        the last forward kept stays behind: run forward again before backward."""
        if isinstance(target, str) and target.lower() in backend.DEVICE_NAMES:
            device = backend.check_device(target)
            backend.array_module(device)                               # CuPy and a GPU must be there
            self.device = device
        else:
            try:
                self.dtype = check_dtype(target)
            except ValueError:
                raise ValueError(f"to() takes a device ('cpu' or 'cuda') or a dtype ('float32' or 'float64'), got "
                                 f"{target!r}.") from None
        self._place_params()
        return self

    def _place_params(self):
        """Params and float buffers as contiguous arrays of the layer's dtype on its device (integer buffers, a
        counter, keep their dtype); fresh zero gradients."""
        xp = self.xp
        self.params = {k: xp.ascontiguousarray(backend.to_device(v, self.device), dtype=self.dtype)
                       for k, v in self.params.items()}
        self.buffers = {k: xp.ascontiguousarray(backend.to_device(v, self.device),
                                                dtype=self.dtype if v.dtype.kind == "f" else v.dtype).reshape(v.shape)
                        for k, v in self.buffers.items()}          # reshape: a 0-d counter stays 0-d
        self.zero_grad()

    @property
    def accepts_mask(self):
        """Whether forward takes a (B, T) `mask` of real steps (the recurrent layers do)."""
        return "mask" in inspect.signature(self.forward).parameters

    def check_input_layer(self, previous):
        """Raise ValueError when this layer cannot take the output of `previous`, the layer before it in a
        Sequential (every layer can, unless it says otherwise)."""

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


# ---- the layer classes by name, as model files write them ---------------------------------------------------------
_CLASSES = {}


def register(*classes):
    """Make `classes` known to `get_class` by their class names (the package __init__ registers every layer, so a
    layer that rebuilds inner layers from their saved form, such as Concatenate, finds them without importing the
    package that imports it)."""
    _CLASSES.update({cls.__name__: cls for cls in classes})


def get_class(name):
    """The layer class called `name` (as written in model files); a clear error for an unknown name."""
    if name not in _CLASSES:
        raise ValueError(f"unknown layer type {name!r}; known layers: {', '.join(sorted(_CLASSES))}.")
    return _CLASSES[name]
