"""Embedding lookup, torch.nn.Embedding's math: y[b, t] = W[x[b, t]] for integer token ids x."""

import numpy as np

from ..validation import check_array, check_gradient_shape, check_positive_int
from .base import Layer


class Embedding(Layer):
    """A table `weight` (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch; the row of
    `padding_idx` (if given) starts at zero and never receives a gradient."""

    takes_indices = True
    input_axes = (0, 1)

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype="float32"):
        super().__init__(dtype)
        num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer))
                                        or not -num_embeddings <= padding_idx < num_embeddings):
            raise ValueError(f"padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}.")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = None if padding_idx is None else int(padding_idx) % self.num_embeddings
        self._ids = None

    def _create_params(self, input_shape, rng):
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim))
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0.0
        self.params["weight"] = weight

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def forward(self, x, training=False):
        ids = check_array(x, "x", ndim=(1, 2), allow_int=True, device=self.device)
        if ids.size == 0:
            raise ValueError(f"x holds no token ids (shape {ids.shape}); pass at least one step.")
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
