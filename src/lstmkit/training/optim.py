"""First-order optimizers with torch.optim's exact update rules: SGD (with momentum and Nesterov), Adam
(Kingma & Ba 2015), AdamW (Loshchilov & Hutter 2019) and RMSprop (Tieleman & Hinton 2012).

Notation for one parameter p at step t (t counts from 1), gradient g, learning rate lr, weight decay wd:
- Clipping (`clipnorm`): with the global norm n = sqrt(sum over all grads of g^2), every g is scaled by
  clipnorm / (n + 1e-6) when n > clipnorm (torch.nn.utils.clip_grad_norm_).
- Coupled L2 weight decay (SGD, Adam, RMSprop, as in PyTorch): g <- g + wd * p before the update.
  AdamW instead decays the weights directly: p <- p * (1 - lr * wd).
`params` are updated in place: they are the layers' own arrays. The caller's grads are never modified.
"""

import inspect
import math
import numbers

import numpy as np

from ..runtime import backend


def _check_arg(name, value, ok, expected):
    """Return `value` if it is a finite real number for which `ok(value)` holds, else raise naming the argument."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or not ok(value)):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return value


def global_norm(grads):
    """sqrt(sum of g^2 over every array in `grads`), accumulated in float64 so float32 grads cannot overflow."""
    total = 0.0
    for g in grads:
        g = backend.as_array(g).astype(np.float64, copy=False).ravel()
        total = total + g @ g                                  # stays on the arrays' device: one read at the end
    return math.sqrt(float(total))


class Optimizer:
    """Base: holds lr, weight decay, clipnorm and the step counter, clips, and keeps per-key state slots.

    A subclass names its state arrays in `slot_names` and implements `_update(p, g, slots)`, which writes into
    `p` in place. `slots` maps each slot name to an array shaped and typed like `p`, zero before the first step.
    """

    slot_names = ()
    decoupled_weight_decay = False

    def __init__(self, lr, weight_decay=0.0, clipnorm=None):
        _check_arg("lr", lr, lambda v: v > 0, "a positive number (e.g. 1e-3)")
        _check_arg("weight_decay", weight_decay, lambda v: v >= 0, "a number >= 0 (0 disables it)")
        if clipnorm is not None:
            _check_arg("clipnorm", clipnorm, lambda v: v > 0, "None or a positive number (e.g. 1.0)")
        self.lr = lr
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.iterations = 0
        self.slots = {}

    def step(self, params, grads):
        """Update every array of `params` in place from `grads` (same keys and shapes); return the global
        gradient norm before clipping."""
        if set(params) != set(grads):
            raise ValueError(f"params and grads must have the same keys; only in params: "
                             f"{sorted(set(params) - set(grads))}, only in grads: {sorted(set(grads) - set(params))}.")
        for key, p in params.items():
            if not (isinstance(p, np.ndarray) or backend.is_device_array(p)) or p.dtype.kind != "f":
                raise TypeError(f"params[{key!r}] must be a float ndarray (it is updated in place), got "
                                f"{type(p).__name__}.")
            if np.shape(grads[key]) != p.shape:
                raise ValueError(f"grads[{key!r}] has shape {np.shape(grads[key])}, but params[{key!r}] has shape "
                                 f"{p.shape}; they must match.")
        norm = global_norm(grads.values())
        scale = self.clipnorm / (norm + 1e-6) if self.clipnorm is not None and norm > self.clipnorm else None
        self.iterations += 1
        for key, p in params.items():
            g = grads[key]
            if type(g) is not type(p):                                # a list, or an array on the other device
                g = backend.to_device(backend.as_array(g), backend.device_of(p))
            g = g.astype(p.dtype, copy=False)
            if scale is not None:
                g = g * scale                                         # a new array: the caller's grad is kept
            if self.weight_decay and not self.decoupled_weight_decay:
                g = g + self.weight_decay * p                         # coupled L2: g <- g + wd * p
            self._update(p, g, self._slots_for(key, p))
        return norm

    def _slots_for(self, key, p):
        """The state arrays of `key`, created as zeros on first use and kept in the dtype and on the device of
        `p` (state loaded from a file arrives on the host)."""
        if key not in self.slots:
            self.slots[key] = {name: np.zeros_like(p) for name in self.slot_names}
        slots = self.slots[key]
        for name, s in slots.items():
            if s.shape != p.shape:
                raise ValueError(f"optimizer state {name!r} of {key!r} has shape {s.shape}, but the parameter "
                                 f"has shape {p.shape}; the state belongs to a different model.")
            if s.dtype != p.dtype or type(s) is not type(p):         # NumPy and CuPy arrays differ in type
                slots[name] = backend.to_device(s, backend.device_of(p)).astype(p.dtype, copy=False)
        return slots

    def _update(self, p, g, slots):
        raise NotImplementedError

    def state_dict(self):
        """{"step": int, "slots": {key: {slot_name: ndarray}}}: copies on the host, safe to save and to mutate."""
        return {"step": self.iterations,
                "slots": {key: {name: np.array(backend.to_host(s)) for name, s in slots.items()}
                          for key, slots in self.slots.items()}}

    def load_state_dict(self, state):
        """Restore what `state_dict` returned, so that training continues exactly."""
        if not isinstance(state, dict) or set(state) != {"step", "slots"}:
            raise ValueError("state must be a dict with keys 'step' and 'slots', as returned by state_dict().")
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"state['step'] must be an integer >= 0, got {step!r}.")
        if not isinstance(state["slots"], dict):
            raise ValueError(f"state['slots'] must be a dict {{key: {{slot_name: array}}}}, got "
                             f"{type(state['slots']).__name__}.")
        for key, slots in state["slots"].items():
            if not isinstance(slots, dict) or set(slots) != set(self.slot_names):
                raise ValueError(f"state for {key!r} has slots {sorted(slots)}, but {self!r} keeps "
                                 f"{sorted(self.slot_names)}; load the state into the optimizer that saved it.")
        self.iterations = int(step)
        self.slots = {key: {name: np.array(s) for name, s in slots.items()} for key, slots in state["slots"].items()}

    def get_config(self):
        """The constructor arguments, read back from the attributes of the same name."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum mu, as torch.optim.SGD (dampening 0).

    b <- mu * b + g  (b = g at the first step: b starts at 0);   then p <- p - lr * d with d = b, or
    d = g + mu * b for Nesterov (Sutskever et al. 2013, PyTorch's form). Without momentum: p <- p - lr * g.
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, clipnorm=None):
        super().__init__(lr, weight_decay, clipnorm)
        _check_arg("momentum", momentum, lambda v: v >= 0, "a number >= 0 (e.g. 0.9; 0 disables it)")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0; pass e.g. momentum=0.9.")
        self.momentum = momentum
        self.nesterov = nesterov
        self.slot_names = ("momentum_buffer",) if momentum else ()

    def _update(self, p, g, slots):
        if not self.momentum:
            p -= self.lr * g
            return
        b = slots["momentum_buffer"]
        b *= self.momentum
        b += g                                                        # b <- mu * b + g
        p -= self.lr * (g + self.momentum * b if self.nesterov else b)


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (amsgrad off).

    m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)    (eps outside the corrected sqrt, as torch)
    """

    slot_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, clipnorm=None):
        super().__init__(lr, weight_decay, clipnorm)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), e.g. (0.9, 0.999), got {betas!r}.")
        for i, beta in enumerate(betas):
            _check_arg(f"betas[{i}]", beta, lambda v: 0 <= v < 1, "in [0, 1) (e.g. 0.9 and 0.999)")
        _check_arg("eps", eps, lambda v: v >= 0, "a number >= 0 (e.g. 1e-8)")
        self.betas = betas
        self.eps = eps

    def _update(self, p, g, slots):
        b1, b2 = self.betas
        t = self.iterations
        m, v = slots["exp_avg"], slots["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
        p -= (self.lr / (1 - b1 ** t)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW: p <- p * (1 - lr * wd), then the Adam step on the
    raw gradient (no wd * p term in g)."""

    decoupled_weight_decay = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, clipnorm=None):
        super().__init__(lr, betas, eps, weight_decay, clipnorm)

    def _update(self, p, g, slots):
        p *= 1 - self.lr * self.weight_decay
        super()._update(p, g, slots)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop (not centered).

    s <- alpha s + (1 - alpha) g^2;   without momentum p <- p - lr * g / (sqrt(s) + eps);
    with momentum mu: b <- mu b + g / (sqrt(s) + eps), p <- p - lr * b.
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0, clipnorm=None):
        super().__init__(lr, weight_decay, clipnorm)
        _check_arg("alpha", alpha, lambda v: 0 <= v < 1, "in [0, 1) (e.g. 0.99)")
        _check_arg("eps", eps, lambda v: v >= 0, "a number >= 0 (e.g. 1e-8)")
        _check_arg("momentum", momentum, lambda v: v >= 0, "a number >= 0 (0 disables it)")
        self.alpha = alpha
        self.eps = eps
        self.momentum = momentum
        self.slot_names = ("square_avg", "momentum_buffer") if momentum else ("square_avg",)

    def _update(self, p, g, slots):
        s = slots["square_avg"]
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        step = g / (np.sqrt(s) + self.eps)
        if self.momentum:
            b = slots["momentum_buffer"]
            b *= self.momentum
            b += step
            step = b
        p -= self.lr * step


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(optimizer, **kwargs):
    """An optimizer from a name (constructed with `kwargs`) or the instance itself (then no kwargs)."""
    if isinstance(optimizer, Optimizer):
        if kwargs:
            raise ValueError(f"keyword arguments {sorted(kwargs)} only apply to an optimizer given by name; "
                             f"set them on the instance {optimizer!r} instead.")
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name or a lk.optim.Optimizer, got {type(optimizer).__name__}.")
    if optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; valid names are {sorted(OPTIMIZERS)}.")
    return OPTIMIZERS[optimizer.lower()](**kwargs)
