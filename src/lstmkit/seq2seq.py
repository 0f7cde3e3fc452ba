"""Encoder-decoder sequence-to-sequence model for n input tokens to m output tokens (Sutskever, Vinyals & Le 2014;
Cho et al. 2014): an encoder reads the source, its final states start a decoder that writes the target one token
at a time, trained with teacher forcing and decoded greedily.

Dimension letters: B batch, S source length, T target length, E embedding size, V target vocabulary,
H_e / H_d encoder / decoder hidden units, L_e / L_d their layers, D the encoder's directions (1 or 2).

Forward with teacher forcing (training, `loss`, `evaluate`), for source ids x (B, S) and target ids y (B, T)::

    e = Emb_src(x)                                  (B, S, E)   source positions equal to pad_id are masked
    _, s_enc = encoder(e)                           final states, each (L_e*D, B, H_e)
    s_0 = bridge(s_enc)                             decoder initial states, each (L_d, B, H_d)
    u = [start_id, y_1 .. y_{T-1}]                  (B, T)      the decoder sees the true previous token
    z = Dense(decoder(Emb_tgt(u), initial_state=s_0))   (B, T, V) logits
    L = mean over real target positions (y_t != pad_id) of -log softmax(z_t)[y_t]

Backward runs the same path in reverse: readout, decoder (BPTT; it leaves dL/ds_0 in `decoder.dinitial_state`),
target embedding, bridge, encoder (given dL/ds_enc on its final states), source embedding.

Greedy decoding (`predict`): u_1 = start_id, then step the decoder one token at a time from the previous state,
u_{t+1} = argmax z_t, until every row has written end_id or `max_length` tokens.

The bridge from the encoder's final states to the decoder's initial states (`bridge=`):
- "dense" (default): one learned linear map (a Dense layer) from all encoder final states, concatenated (every
  state vector, layer and direction), to all decoder initial states. It fits any pair of cells, sizes, layer
  counts and directions (GRU encoder, LSTM decoder: c_0 is learned from h too).
- "concat": decoder layer k starts from encoder layer k's final states, the two directions concatenated
  (needs L_d = L_e, H_d = D * H_e, and the decoder's state vectors among the encoder's). With a unidirectional
  encoder this is the plain copy of Sutskever et al.; it has no parameters.
- "sum": as "concat" but the two directions are added (needs H_d = H_e).
"""

import inspect

import numpy as np

from .formats.modelfile import assign_weights, read_model, save_model
from .layers import Dense, Embedding
from .layers.recurrent import Recurrent
from .runtime.backend import to_host
from .runtime.validation import check_array
from .training import Trainer, fit_callbacks
from .training import optim
from .training.losses import SparseCategoricalCrossentropy

BRIDGES = ("dense", "concat", "sum")
METRICS = ("token_accuracy", "exact_match")


def _as_tuple(state):
    """A recurrent layer's state as a tuple of arrays: (h,) or (h, c)."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def _as_state(parts):
    """The inverse of _as_tuple: a bare array for one state vector, the tuple for LSTM."""
    return parts[0] if len(parts) == 1 else tuple(parts)


def _layer(value, what):
    """A recurrent layer, or one rebuilt from its saved form {"class": ..., "config": ...}."""
    if isinstance(value, dict):
        from .layers import get_class
        try:
            value = get_class(value["class"])(**value["config"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"cannot rebuild the {what} from {value!r} ({type(err).__name__}: {err}).") from None
    if not isinstance(value, Recurrent):
        raise TypeError(f"the {what} must be a recurrent layer (lk.layers.LSTM, GRU or SimpleRNN), got "
                        f"{type(value).__name__}.")
    return value


def _describe(layer):
    """A short description for `summary`: the sizes that matter, not every constructor argument."""
    name = type(layer).__name__
    if isinstance(layer, Recurrent):
        return (f"{name}({layer.hidden_size}, num_layers={layer.num_layers}"
                f"{', bidirectional' if layer.bidirectional else ''})")
    if isinstance(layer, Embedding):
        return f"{name}({layer.num_embeddings}, {layer.embedding_dim})"
    return f"{name}({layer.units})"


def _token_id(name, value, vocab_size, vocab_name, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < vocab_size:
        raise ValueError(f"{name} must be a token id in [0, {vocab_name}={vocab_size}), got {value!r}.")
    return int(value)


class Seq2Seq:
    """Encoder-decoder model; see the module docstring for the equations and the bridges::

        model = Seq2Seq(lk.layers.LSTM(64, bidirectional=True), lk.layers.LSTM(64), src_vocab_size=14, seed=0)
        model.compile(optimizer=lk.optim.Adam(lr=1e-2, clipnorm=1.0))
        model.fit(src, tgt, epochs=10, validation_split=0.1)
        model.predict(src[:3]);  model.evaluate(src, tgt)   # {"loss", "token_accuracy", "exact_match"}

    Data: `src` (N, S) and `tgt` (N, T) integer token ids. A target row is the output tokens, then `end_id`, then
    `pad_id` up to T (e.g. "596" -> [8, 12, 9, 2, 0] with digits at 3..12); `start_id` is not written in it, the
    model puts it in front of the decoder's input itself. `predict` returns rows in the same form, so a
    prediction is right when it equals its target row. Source rows are right-padded with `pad_id` (masked).
    `pad_id=None` turns masking and ignored positions off; `end_id=None` decodes exactly `max_length` tokens.

    The encoder and decoder are lstmkit recurrent layers of any type, sizes and number of layers (the encoder may
    be bidirectional, the decoder may not). Seq2Seq sets the flags it needs on them: encoder
    `return_state=True`, decoder `return_sequences=True, return_state=True`. It owns the source and target
    embeddings (`embedding_dim` each), the bridge and the read-out Dense to `tgt_vocab_size` logits
    (`tgt_vocab_size` defaults to `src_vocab_size`: one shared vocabulary). `max_output_length` is the default
    length of `predict`; `fit` raises it to the longest target it sees. `seed` fixes the initial weights, dropout
    masks and batch order.
    """

    def __init__(self, encoder, decoder, src_vocab_size, tgt_vocab_size=None, embedding_dim=32, bridge="dense",
                 pad_id=0, start_id=1, end_id=2, max_output_length=None, seed=None):
        self.encoder = _layer(encoder, "encoder")
        self.decoder = _layer(decoder, "decoder")
        if self.decoder.bidirectional:
            raise ValueError("the decoder cannot be bidirectional: it writes the target left to right. Use "
                             "bidirectional=False for the decoder (the encoder may be bidirectional).")
        if self.encoder.dtype != self.decoder.dtype:
            raise ValueError(f"encoder and decoder must share a dtype, got {self.encoder.dtype} and "
                             f"{self.decoder.dtype}.")
        for name, value in (("src_vocab_size", src_vocab_size), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        tgt_vocab_size = src_vocab_size if tgt_vocab_size is None else tgt_vocab_size
        if isinstance(tgt_vocab_size, bool) or not isinstance(tgt_vocab_size, (int, np.integer)) \
                or tgt_vocab_size < 1:
            raise ValueError(f"tgt_vocab_size must be a positive integer, got {tgt_vocab_size!r}.")
        self.src_vocab_size, self.tgt_vocab_size = int(src_vocab_size), int(tgt_vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.pad_id = _token_id("pad_id", pad_id, min(self.src_vocab_size, self.tgt_vocab_size),
                                "min(src_vocab_size, tgt_vocab_size)")
        self.start_id = _token_id("start_id", start_id, self.tgt_vocab_size, "tgt_vocab_size", allow_none=False)
        self.end_id = _token_id("end_id", end_id, self.tgt_vocab_size, "tgt_vocab_size")
        if self.pad_id is not None and self.pad_id in (self.start_id, self.end_id):
            raise ValueError(f"pad_id ({self.pad_id}) must differ from start_id and end_id.")
        if max_output_length is not None and (not isinstance(max_output_length, (int, np.integer))
                                              or max_output_length < 1):
            raise ValueError(f"max_output_length must be a positive integer or None, got {max_output_length!r}.")
        self.max_output_length = None if max_output_length is None else int(max_output_length)
        self.bridge = bridge
        self._check_bridge()
        self.seed = seed
        self.encoder.return_state = True
        self.decoder.return_sequences = self.decoder.return_state = True

        dtype = self.encoder.dtype
        self.src_embedding = Embedding(self.src_vocab_size, self.embedding_dim, padding_idx=self.pad_id, dtype=dtype)
        self.tgt_embedding = Embedding(self.tgt_vocab_size, self.embedding_dim, padding_idx=self.pad_id, dtype=dtype)
        self.bridge_layer = Dense(self._state_size(self.decoder), dtype=dtype) if bridge == "dense" else None
        self.readout = Dense(self.tgt_vocab_size, dtype=dtype)
        self.loss_fn = SparseCategoricalCrossentropy()
        self.optimizer = None
        self.metrics = ()
        self.metadata = {}
        self._built = False
        self.shuffle_rng = None

    # ---- structure --------------------------------------------------------------------------------------------
    @staticmethod
    def _state_size(layer):
        """Width of all final states of a recurrent layer laid side by side: n_states * L * D * H."""
        return len(layer.STATES) * layer.num_layers * layer.num_directions * layer.hidden_size

    def _check_bridge(self):
        enc, dec = self.encoder, self.decoder
        if self.bridge not in BRIDGES:
            raise ValueError(f"bridge must be one of {', '.join(BRIDGES)}; got {self.bridge!r}.")
        if self.bridge == "dense":
            return
        fix = "or use bridge='dense', which fits any encoder and decoder"
        if enc.num_layers != dec.num_layers:
            raise ValueError(f"bridge={self.bridge!r} starts decoder layer k from encoder layer k, so both need the "
                             f"same num_layers; got {enc.num_layers} and {dec.num_layers}. Match them, {fix}.")
        missing = [s for s in dec.STATES if s not in enc.STATES]
        if missing:
            raise ValueError(f"bridge={self.bridge!r}: the {type(dec).__name__} decoder needs state {missing[0]}, "
                             f"which the {type(enc).__name__} encoder does not have; {fix}.")
        want = enc.hidden_size * (enc.num_directions if self.bridge == "concat" else 1)
        if dec.hidden_size != want:
            raise ValueError(f"bridge={self.bridge!r} needs decoder hidden_size = {want} "
                             f"({'directions * ' if self.bridge == 'concat' else ''}encoder hidden_size), got "
                             f"{dec.hidden_size}; {fix}.")

    @property
    def layers(self):
        """The components in the order data flows through them, by name (the bridge only when it learns)."""
        named = {"src_embedding": self.src_embedding, "encoder": self.encoder, "bridge": self.bridge_layer,
                 "tgt_embedding": self.tgt_embedding, "decoder": self.decoder, "readout": self.readout}
        return {name: layer for name, layer in named.items() if layer is not None}

    @property
    def built(self):
        return self._built

    def build(self):
        """Create every component's parameters (sizes do not depend on the data)."""
        layers = self.layers
        seeds = np.random.SeedSequence(self.seed).spawn(len(layers) + 1)
        shapes = {"src_embedding": (None,), "encoder": (None, self.embedding_dim),
                  "bridge": (self._state_size(self.encoder),), "tgt_embedding": (None,),
                  "decoder": (None, self.embedding_dim), "readout": (None, self.decoder.hidden_size)}
        for (name, layer), layer_seed in zip(layers.items(), seeds):
            if not layer.built:
                layer.build(shapes[name], np.random.default_rng(layer_seed))
        self.shuffle_rng = np.random.default_rng(seeds[-1])
        self._built = True
        return self

    def to(self, target):
        """Move every layer to a device ("cpu", "cuda") or convert it to a dtype ("float32", "float64"), in
        place (Layer.to)."""
        for layer in self.layers.values():
            layer.to(target)
        return self

    def parameters(self):
        """All parameters as one flat dict `{"<component>.<name>": array}` (the live arrays)."""
        if not self.built:
            self.build()
        return {f"{c}.{name}": p for c, layer in self.layers.items() for name, p in layer.params.items()}

    def gradients(self):
        return {f"{c}.{name}": g for c, layer in self.layers.items() for name, g in layer.grads.items()}

    def count_params(self):
        return sum(layer.num_params() for layer in self.layers.values())

    def get_config(self):
        """The constructor arguments, read back from the attributes of the same name (the two recurrent layers as
        {"class", "config"} specs), tagged "model": "Seq2Seq" for lk.load."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        config = {name: getattr(self, name) for name in names}
        for name in ("encoder", "decoder"):
            config[name] = {"class": type(config[name]).__name__, "config": config[name].get_config()}
        return {"model": "Seq2Seq", **config}

    # ---- the bridge -------------------------------------------------------------------------------------------
    def _bridge_forward(self, enc_states):
        """Encoder final states (each (L_e*D, B, H_e)) -> decoder initial states (each (L_d, B, H_d))."""
        enc, dec = self.encoder, self.decoder
        L, D, H = enc.num_layers, enc.num_directions, enc.hidden_size
        B = enc_states[0].shape[1]
        if self.bridge == "dense":
            flat = np.concatenate([s.transpose(1, 0, 2).reshape(B, -1) for s in enc_states], axis=1)  # (B, S_e)
            out = self.bridge_layer.forward(flat)                                                     # (B, S_d)
            parts = np.split(out, len(dec.STATES), axis=1)                  # each (B, L_d*H_d)
            return tuple(dec.xp.ascontiguousarray(p.reshape(B, dec.num_layers, dec.hidden_size).transpose(1, 0, 2))
                         for p in parts)
        by_name = dict(zip(enc.STATES, enc_states))
        init = []
        for name in dec.STATES:
            s = by_name[name].reshape(L, D, B, H)
            if self.bridge == "concat":
                init.append(enc.xp.ascontiguousarray(s.transpose(0, 2, 1, 3).reshape(L, B, D * H)))   # [fwd; bwd]
            else:
                init.append(s.sum(axis=1))                                                         # fwd + bwd
        return tuple(init)

    def _bridge_backward(self, dinit):
        """Gradients of the decoder's initial states -> gradients of the encoder's final states."""
        enc, dec = self.encoder, self.decoder
        L, D, H = enc.num_layers, enc.num_directions, enc.hidden_size
        B = dinit[0].shape[1]
        if self.bridge == "dense":
            dout = np.concatenate([d.transpose(1, 0, 2).reshape(B, -1) for d in dinit], axis=1)     # (B, S_d)
            dflat = self.bridge_layer.backward(dout)                                                  # (B, S_e)
            return tuple(enc.xp.ascontiguousarray(p.reshape(B, L * D, H).transpose(1, 0, 2))
                         for p in np.split(dflat, len(enc.STATES), axis=1))
        by_name = dict(zip(dec.STATES, dinit))
        denc = []
        for name in enc.STATES:
            if name not in by_name:                     # e.g. an LSTM encoder's c under a GRU decoder: unused
                denc.append(enc.xp.zeros((L * D, B, H), enc.dtype))
                continue
            d = by_name[name]
            if self.bridge == "concat":
                d = d.reshape(L, B, D, H).transpose(0, 2, 1, 3)
            else:
                d = np.broadcast_to(d[:, None], (L, D, B, H))
            denc.append(enc.xp.ascontiguousarray(d.reshape(L * D, B, H)))
        return tuple(denc)

    # ---- passes -----------------------------------------------------------------------------------------------
    def _encode(self, src, training):
        if not self.built:
            self.build()
        mask = None
        if self.pad_id is not None:
            real = src != self.pad_id
            mask = None if real.all() else real
        e = self.src_embedding.forward(src)                                          # (B, S, E)
        _, states = self.encoder.forward(e, mask=mask, training=training)
        return _as_state(self._bridge_forward(_as_tuple(states)))

    def forward(self, src, tgt, training=False):
        """Teacher-forced logits (B, T, V), on the host: position t is scored given the source and the true tokens
        before t."""
        init = self._encode(src, training)
        u = np.concatenate([np.full((len(tgt), 1), self.start_id, np.int64), tgt[:, :-1]], axis=1)   # (B, T)
        out, _ = self.decoder.forward(self.tgt_embedding.forward(u), initial_state=init, training=training)
        return to_host(self.readout.forward(out))                                   # (B, T, V)

    def backward(self, dlogits):
        """Backpropagate dL/dlogits (B, T, V) through every component; fills each layer's `grads`."""
        dout = self.readout.backward(dlogits)                                       # (B, T, H_d)
        self.tgt_embedding.backward(self.decoder.backward((dout, None)))
        denc = self._bridge_backward(_as_tuple(self.decoder.dinitial_state))
        de = self.encoder.backward((None, _as_state(denc)))                         # (B, S, E)
        self.src_embedding.backward(de)

    def _real(self, tgt):
        """(B, T) bool: the target positions that count (not padding)."""
        return np.ones(tgt.shape, bool) if self.pad_id is None else tgt != self.pad_id

    def value_and_grad(self, src, tgt, training=False):
        """The teacher-forced loss on one batch, with its gradient wrt every parameter left in `gradients()`."""
        src, tgt = self._check_data(src, tgt, "src", "tgt")
        logits = self.forward(src, tgt, training=training)
        real = self._real(tgt)
        loss, dz = self.loss_fn.value_and_grad(logits[real], tgt[real])           # mean over real positions
        dlogits = np.zeros_like(logits)
        dlogits[real] = dz
        self.backward(dlogits)
        return loss

    def loss(self, src, tgt):
        """The teacher-forced loss (mean cross-entropy over real target positions), inference mode."""
        src, tgt = self._check_data(src, tgt, "src", "tgt")
        real = self._real(tgt)
        return self.loss_fn(self.forward(src, tgt)[real], tgt[real])

    # ---- training ---------------------------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=()):
        """Choose the optimizer (a name or an optim.Optimizer) and the metrics `fit` also reports on the training
        data each epoch ("token_accuracy", "exact_match"). The loss is always the cross-entropy of the next token
        (the only one that fits), accepted here for Keras-style calls."""
        if loss not in ("sparse_categorical_crossentropy", self.loss_fn):
            raise ValueError(f"Seq2Seq trains with loss='sparse_categorical_crossentropy' on token ids; got "
                             f"{loss!r}.")
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown Seq2Seq metric {unknown[0]!r}; choose from {', '.join(METRICS)}.")
        self.optimizer = optim.get(optimizer)
        self.metrics = tuple(metrics)
        return self

    def train_on_batch(self, src, tgt):
        """One gradient step (teacher forcing, dropout on); returns the loss before the step."""
        if self.optimizer is None:
            raise ValueError("call model.compile(optimizer=...) before training.")
        loss = self.value_and_grad(src, tgt, training=True)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
        self.optimizer.step(self.parameters(), self.gradients())
        return loss

    def fit(self, src, tgt, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, shuffle=True,
            early_stopping=None, verbose=1, callbacks=()):
        """Train for `epochs` passes in shuffled mini-batches, with teacher forcing (training/trainer.py).
        Validation data are the last `validation_split` of the pairs or `validation_data=(src_val, tgt_val)`; each epoch then logs `val_loss`,
        `val_token_accuracy` and `val_exact_match` (greedy decoding). `early_stopping`: an EarlyStopping or an
        int patience on val_loss; its `mode` says whether higher or lower is better ("auto": an accuracy or exact
        match counts as better when higher). `callbacks`: more of lstmkit.training's (ReduceLROnPlateau, CSVLogger).
        Returns a History."""
        if self.optimizer is None:
            raise ValueError("call model.compile(optimizer=...) before fit.")
        src, tgt = self._check_data(src, tgt, "src", "tgt")
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
        if validation_split and validation_data is not None:
            raise ValueError("pass either validation_split or validation_data, not both.")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}.")
        if validation_split:
            n_val = int(round(len(src) * validation_split))
            if not 1 <= n_val < len(src):
                raise ValueError(f"validation_split={validation_split} leaves {n_val} of {len(src)} pairs for "
                                 f"validation; use more data or another split.")
            validation_data = (src[-n_val:], tgt[-n_val:])
            src, tgt = src[:-n_val], tgt[:-n_val]
        if validation_data is not None:
            validation_data = self._check_data(*validation_data, "validation src", "validation tgt")
        if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= len(src):
            raise ValueError(f"batch_size must be an integer in [1, {len(src)}] (the training pairs), got "
                             f"{batch_size!r}.")
        callbacks = fit_callbacks(early_stopping, callbacks, validation_data is not None)
        self.max_output_length = max(self.max_output_length or 0, tgt.shape[1])
        if not self.built:
            self.build()

        def step(idx):
            return self.train_on_batch(src[idx], tgt[idx])

        def epoch_logs(logs):
            if self.metrics:
                scores = self.evaluate(src, tgt)
                logs.update({m: scores[m] for m in self.metrics})
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(*validation_data).items()})
        return Trainer(self, step, len(src), batch_size, shuffle, epoch_logs, callbacks, verbose=verbose).run(epochs)

    # ---- inference --------------------------------------------------------------------------------------------
    def predict(self, src, max_length=None, batch_size=256):
        """Greedy decoding: (N, max_length) token ids, each row the output tokens, end_id, then pad_id (the form
        of the targets). `max_length` defaults to the longest target seen in `fit` (`max_output_length`)."""
        src = self._check_src(src, "src")
        max_length = self.max_output_length if max_length is None else max_length
        if not isinstance(max_length, (int, np.integer)) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}; the model learns a "
                             f"default from the targets in fit.")
        return np.concatenate([self._greedy(src[i:i + batch_size], int(max_length))
                               for i in range(0, len(src), batch_size)])

    def _greedy(self, src, max_length):
        B = len(src)
        state = self._encode(src, training=False)
        fill = self.pad_id if self.pad_id is not None else self.end_id if self.end_id is not None else 0
        out = np.full((B, max_length), fill, np.int64)
        u = np.full((B, 1), self.start_id, np.int64)                                 # (B, 1)
        done = np.zeros(B, bool)
        for t in range(max_length):
            h, state = self.decoder.forward(self.tgt_embedding.forward(u), initial_state=state)   # (B, 1, H_d)
            token = np.argmax(to_host(self.readout.forward(h[:, 0])), axis=-1)      # (B,) argmax of the logits
            out[~done, t] = token[~done]
            if self.end_id is not None:
                done |= token == self.end_id
                if done.all():
                    break
            u = token[:, None]
        return out

    def evaluate(self, src, tgt, batch_size=256):
        """{"loss", "token_accuracy", "exact_match"}: the teacher-forced loss and next-token accuracy over real
        target positions, and the fraction of rows that greedy decoding gets exactly right."""
        src, tgt = self._check_data(src, tgt, "src", "tgt")
        loss_sum, right, count = 0.0, 0, 0
        for i in range(0, len(src), batch_size):
            s, t = src[i:i + batch_size], tgt[i:i + batch_size]
            real = self._real(t)
            z = self.forward(s, t)[real]                                              # (n_real, V)
            loss_sum += self.loss_fn(z, t[real]) * real.sum()
            right += int(np.sum(np.argmax(z, axis=-1) == t[real]))
            count += int(real.sum())
        return {"loss": float(loss_sum / count), "token_accuracy": right / count,
                "exact_match": self.exact_match(self.predict(src, max_length=tgt.shape[1], batch_size=batch_size),
                                                tgt)}

    def exact_match(self, predicted, tgt):
        """Fraction of rows of `predicted` (from `predict`) equal to their target row, compared up to end_id."""
        predicted, tgt = np.asarray(predicted), np.asarray(tgt)
        width = max(predicted.shape[1], tgt.shape[1])
        fill = self.pad_id if self.pad_id is not None else -1

        def pad(a):
            return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)
        return float(np.mean(np.all(pad(predicted) == pad(tgt), axis=1)))

    # ---- checks -----------------------------------------------------------------------------------------------
    def _check_src(self, src, name):
        src = check_array(src, name, ndim=2, allow_int=True)
        if src.min() < 0 or src.max() >= self.src_vocab_size:
            raise ValueError(f"{name} holds token id {src[(src < 0) | (src >= self.src_vocab_size)].flat[0]}, "
                             f"outside [0, src_vocab_size={self.src_vocab_size}).")
        return src

    def _check_data(self, src, tgt, src_name, tgt_name):
        src = self._check_src(src, src_name)
        tgt = check_array(tgt, tgt_name, ndim=2, allow_int=True)
        if len(src) != len(tgt):
            raise ValueError(f"{src_name} and {tgt_name} must hold the same number of sequences, got {len(src)} "
                             f"and {len(tgt)}.")
        if tgt.min() < 0 or tgt.max() >= self.tgt_vocab_size:
            raise ValueError(f"{tgt_name} holds token id {tgt[(tgt < 0) | (tgt >= self.tgt_vocab_size)].flat[0]}, "
                             f"outside [0, tgt_vocab_size={self.tgt_vocab_size}).")
        if self.pad_id is not None and np.any(np.all(tgt == self.pad_id, axis=1)):
            row = int(np.argmax(np.all(tgt == self.pad_id, axis=1)))
            raise ValueError(f"{tgt_name} row {row} is all padding; every target needs at least its end_id.")
        return src, tgt

    # ---- description and files --------------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """A table of the components with their parameter counts; printed and returned as text."""
        from .training.progress import render_table
        if not self.built:
            self.build()
        rows = [(name, _describe(layer), f"{layer.num_params():,}") for name, layer in self.layers.items()]
        return render_table(f"Seq2Seq (bridge {self.bridge}): {self.count_params():,} parameters",
                            ("Component", "Layer", "Params"), rows, print_fn=print_fn)

    def save(self, path, metadata=None):
        """Write weights (safetensors) and configuration (JSON) to one file, as Sequential.save does."""
        if not self.built:
            self.build()
        save_model(self, path, metadata)

    @classmethod
    def load(cls, path):
        """Read a model written by `save` (never runs code: JSON and raw arrays only); `lk.load` does the same."""
        config, tensors, metadata = read_model(path)
        if not isinstance(config, dict) or config.get("model") != "Seq2Seq":
            raise ValueError(f"{path} holds a Sequential, not a Seq2Seq model; read it with lk.load.")
        return cls.from_config(config, tensors, metadata, path)

    @classmethod
    def from_config(cls, config, tensors, metadata=None, path="the model file"):
        """Rebuild from a saved configuration and weights (the part `lk.load` can dispatch to)."""
        if not isinstance(config, dict) or config.get("model") != "Seq2Seq":
            raise ValueError(f"{path} does not hold a Seq2Seq model.")
        try:
            model = cls(**{k: v for k, v in config.items() if k != "model"})
        except TypeError as err:
            raise ValueError(f"{path} describes a Seq2Seq that cannot be rebuilt ({err}).") from None
        assign_weights(path, model.parameters(), tensors)
        model.metadata = metadata or {}
        return model
