"""Optimizers: 20 steps against torch.optim on the same parameters and gradient sequence, clipping against
torch.nn.utils.clip_grad_norm_, in-place updates, state_dict round trips and argument checks."""

import numpy as np
import pytest

from lstmkit.training import optim

SHAPES = {"weight": (3, 4), "bias": (4,), "scale": (1,)}
STEPS = 20


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def make_problem(dtype=np.float64, seed=0, scale=1.0):
    """Random params and a fixed sequence of STEPS gradient dicts (grad norms vary about 10x around `scale`)."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: (scale * rng.uniform(0.3, 3) * rng.standard_normal(s)).astype(dtype) for k, s in SHAPES.items()}
             for _ in range(STEPS)]
    return params, grads


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, weight_decay=0.1, eps=1e-4)),
]


def run_torch(torch, name, kwargs, params, grads, clipnorm=None):
    """The same run in torch.optim; returns the final params and the per-step gradient norms."""
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = getattr(torch.optim, name)(list(tparams.values()), **kwargs)
    norms = []
    for g in grads:
        for k, p in tparams.items():
            p.grad = torch.tensor(g[k])
        if clipnorm is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(list(tparams.values()), clipnorm).item())
        opt.step()
    return {k: p.detach().numpy() for k, p in tparams.items()}, norms


def run_lstmkit(name, kwargs, params, grads, clipnorm=None):
    opt = getattr(optim, name)(**kwargs, clipnorm=clipnorm)
    params = {k: v.copy() for k, v in params.items()}
    norms = [opt.step(params, g) for g in grads]
    return params, norms


def max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_matches_torch(torch, name, kwargs):
    params, grads = make_problem()
    ours, _ = run_lstmkit(name, kwargs, params, grads)
    want, _ = run_torch(torch, name, kwargs, params, grads)
    err = max_diff(ours, want)
    print(f"{name}({kwargs}): max |param - torch| after {STEPS} steps {err:.1e}")
    assert err < 1e-12


@pytest.mark.parametrize("name, kwargs", CASES[::2])
def test_clipnorm_matches_clip_grad_norm(torch, name, kwargs):
    params, grads = make_problem(scale=0.6)                          # global norms ~1.2 to 12: some clipped
    clipnorm = 3.0
    ours, norms = run_lstmkit(name, kwargs, params, grads, clipnorm)
    want, want_norms = run_torch(torch, name, kwargs, params, grads, clipnorm)
    assert min(norms) < clipnorm < max(norms)
    np.testing.assert_allclose(norms, want_norms, rtol=1e-13)
    err = max_diff(ours, want)
    print(f"{name}({kwargs}, clipnorm={clipnorm}): max |param - torch| {err:.1e}")
    assert err < 1e-12


def test_clipping_and_weight_decay_leave_callers_grads_alone():
    params, grads = make_problem(scale=10.0)
    before = [{k: g.copy() for k, g in step.items()} for step in grads]
    for opt in (optim.SGD(momentum=0.9, weight_decay=0.1, clipnorm=1.0), optim.Adam(weight_decay=0.1, clipnorm=1.0),
                optim.RMSprop(momentum=0.9, clipnorm=1.0)):
        for g in grads:
            opt.step(params, g)
    for g, g0 in zip(grads, before):
        for k in g:
            np.testing.assert_array_equal(g[k], g0[k])


def test_step_returns_global_norm_before_clipping():
    params = {"a": np.zeros(2), "b": np.zeros((1, 1))}
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    opt = optim.SGD(lr=1.0, clipnorm=1.0)
    assert opt.step(params, grads) == 5.0
    np.testing.assert_allclose(params["a"], [-3.0 / (5 + 1e-6), 0.0], rtol=1e-15)   # scaled by 1 / (5 + 1e-6)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_updates_params_in_place(name, kwargs):
    params, grads = make_problem()
    buffer = np.concatenate([params["weight"].ravel(), params["bias"]])
    layer_params = {"weight": buffer[:12].reshape(3, 4), "bias": buffer[12:], "scale": params["scale"]}
    ids = {k: id(v) for k, v in layer_params.items()}
    start = buffer.copy()
    opt = getattr(optim, name)(**kwargs)
    for g in grads[:3]:
        opt.step(layer_params, g)
    assert {k: id(v) for k, v in layer_params.items()} == ids
    assert not np.array_equal(buffer, start)                        # the views wrote through to their base


@pytest.mark.parametrize("name, kwargs", CASES)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    params, grads = make_problem()
    opt = getattr(optim, name)(**kwargs)
    for g in grads[:10]:
        opt.step(params, g)
    state = opt.state_dict()
    assert isinstance(state["step"], int) and state["step"] == 10
    assert all(isinstance(a, np.ndarray) for slots in state["slots"].values() for a in slots.values())
    resumed = getattr(optim, name)(**kwargs)
    resumed.load_state_dict(state)
    for slots in state["slots"].values():                           # the loaded state is a copy, not an alias
        for a in slots.values():
            a += 1.0
    copy = {k: v.copy() for k, v in params.items()}
    for g in grads[10:]:
        opt.step(params, g)
        resumed.step(copy, g)
    for k in params:
        np.testing.assert_array_equal(params[k], copy[k])


def test_load_state_dict_rejects_another_optimizers_state():
    params, grads = make_problem()
    adam = optim.Adam()
    adam.step(params, grads[0])
    with pytest.raises(ValueError, match="load the state into the optimizer that saved it"):
        optim.SGD(momentum=0.9).load_state_dict(adam.state_dict())


def test_float32_params_keep_float32_state():
    params, grads = make_problem(dtype=np.float32)
    opt = optim.Adam(clipnorm=1.0)
    for g in grads[:3]:
        opt.step(params, g)
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(s.dtype == np.float32 for slots in opt.state_dict()["slots"].values() for s in slots.values())


def test_step_rejects_mismatched_grads():
    params, grads = make_problem()
    opt = optim.SGD()
    with pytest.raises(ValueError, match=r"only in params: \['bias'\]"):
        opt.step(params, {k: v for k, v in grads[0].items() if k != "bias"})
    with pytest.raises(ValueError, match=r"grads\['bias'\] has shape \(5,\), but params\['bias'\] has shape \(4,\)"):
        opt.step(params, {**grads[0], "bias": np.zeros(5)})
    assert opt.iterations == 0


@pytest.mark.parametrize("cls, kwargs, argument", [
    (optim.SGD, dict(lr=0.0), "lr"),
    (optim.SGD, dict(lr=-1.0), "lr"),
    (optim.SGD, dict(lr=float("nan")), "lr"),
    (optim.SGD, dict(lr="0.1"), "lr"),
    (optim.SGD, dict(momentum=-0.1), "momentum"),
    (optim.SGD, dict(nesterov=True), "nesterov"),
    (optim.SGD, dict(weight_decay=-1e-3), "weight_decay"),
    (optim.SGD, dict(clipnorm=0.0), "clipnorm"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (optim.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (optim.Adam, dict(betas=0.9), "betas"),
    (optim.Adam, dict(eps=-1e-8), "eps"),
    (optim.AdamW, dict(weight_decay=-0.01), "weight_decay"),
    (optim.RMSprop, dict(alpha=1.5), "alpha"),
    (optim.RMSprop, dict(momentum=-0.5), "momentum"),
])
def test_invalid_arguments_raise(cls, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        cls(**kwargs)


def test_get_and_config():
    adam = optim.get("Adam", lr=0.1)
    assert isinstance(adam, optim.Adam) and adam.lr == 0.1
    assert optim.get(adam) is adam
    assert isinstance(optim.get("adamw"), optim.AdamW) and optim.get("adamw").weight_decay == 1e-2
    assert optim.get("sgd", momentum=0.9).get_config() == dict(lr=0.01, momentum=0.9, nesterov=False,
                                                               weight_decay=0.0, clipnorm=None)
    assert repr(optim.RMSprop()) == ("RMSprop(lr=0.01, alpha=0.99, eps=1e-08, momentum=0.0, weight_decay=0.0, "
                                     "clipnorm=None)")
    with pytest.raises(ValueError, match="Unknown optimizer 'adagrad'; valid names are"):
        optim.get("adagrad")
    with pytest.raises(ValueError, match="only apply to an optimizer given by name"):
        optim.get(adam, lr=0.2)
