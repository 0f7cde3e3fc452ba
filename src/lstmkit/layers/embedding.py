"""Embedding lookup, torch.nn.Embedding's math: y[b, t] = W[x[b, t]] for integer token ids x; with
`mask_zero=True` (Keras' option) id 0 is padding, and the mask `x != 0` travels on to the recurrent layers."""

import numpy as np

from ..runtime import backend
from ..runtime.validation import check_array, check_gradient_shape, check_positive_int
from .base import Layer


class Embedding(Layer):
    """A table `weight` (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch.

    padding_idx (PyTorch's option): that row starts at zero and never receives a gradient. It does not mask:
        the recurrent layers still run over those steps (a zero input is still an input).
    mask_zero (Keras' option): id 0 is padding. The layer's output mask is `mask[b, t] = x[b, t] != 0` (B, T),
        which a Sequential model passes to the following layers as a Masking layer's: recurrent layers skip the
        padded steps (state unchanged, output zero) and the loss ignores them, so a padded batch gives each
        sequence's unpadded outputs and gradients. The lookup itself is unchanged (id 0 still reads row 0, which
        gets no gradient through a masked step); id 0 cannot also be a real token, so leave it out of the
        vocabulary (num_embeddings = vocabulary size + 1), as in Keras.
    Together: padding_idx=0 with mask_zero=True also keeps row 0 at zero (PyTorch + Keras); any other padding_idx
    is refused with mask_zero=True, since it would name a second, unmasked padding id.
    """

    takes_indices = True
    input_axes = (0, 1)

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, mask_zero=False, dtype="float32"):
        super().__init__(dtype)
        num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer))
                                        or not -num_embeddings <= padding_idx < num_embeddings):
            raise ValueError(f"padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}.")
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"mask_zero must be True or False, got {mask_zero!r}.")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = None if padding_idx is None else int(padding_idx) % self.num_embeddings
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.padding_idx not in (None, 0):
            raise ValueError(f"mask_zero=True makes token id 0 the padding, but padding_idx={padding_idx} names "
                             f"another row; use padding_idx=0 (row 0 stays zero) or padding_idx=None.")
        self._ids = None

    def _create_params(self, input_shape, rng):
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim))
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0.0
        self.params["weight"] = weight

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def compute_mask(self, x):
        """(B, T) bool, True on real steps (id != 0), on the host; None without mask_zero."""
        return None if not self.mask_zero else backend.to_host(backend.as_array(x)) != 0

    def output_mask(self, x, mask):
        new = self.compute_mask(x)
        return mask if new is None else new if mask is None else new & mask

    def forward(self, x, training=False):
        ids = check_array(x, "x", ndim=(1, 2), allow_int=True, device=self.device)
        if ids.size == 0:
            raise ValueError(f"x holds no token ids (shape {ids.shape}); pass at least one step.")
        if self.mask_zero and ids.ndim != 2:
            raise ValueError(f"mask_zero=True masks padded time steps, so x must be (batch, time) token ids, got "
                             f"shape {ids.shape}; pass 2D ids, or mask_zero=False for one id per sample.")
        if not self.built:
            self.build(ids.shape[1:])
        if ids.min() < 0 or ids.max() >= self.num_embeddings:
            bad = int(ids[(ids < 0) | (ids >= self.num_embeddings)].ravel()[0])
            raise ValueError(f"x holds token id {bad}, outside [0, {self.num_embeddings}); "
                             f"num_embeddings must exceed the largest id.")
        self._ids = ids                                    # (B, [T])
        return self.params["weight"][ids]                  # (B, [T,] E)

    def backward(self, dy):
        """dW[v] = sum of dy over the positions holding id v; token ids have no gradient, so this returns None."""
        if self._ids is None:
            raise RuntimeError("Embedding.backward called before forward.")
        dW = self.grads["weight"]
        dW.fill(0.0)
        dy = check_gradient_shape(dy, self._ids.shape + (self.embedding_dim,), self.dtype, "dy", self.device)
        self.xp.add.at(dW, self._ids.ravel(), dy.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0.0
        return None
