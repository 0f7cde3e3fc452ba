"""The GEMM of the compiled sweeps (blas.py): both libraries it can call compute A @ B (and C + A @ B), and a layer
gives the same outputs and gradients through either."""

import numpy as np
import pytest
from numba import njit

from lstmkit.runtime import blas
from lstmkit.layers import GRU, LSTM

LIBRARIES = ("numpy-openblas", "scipy-cython-blas")


@pytest.fixture
def library(request):
    before = blas.library()
    try:
        blas.use(request.param)
    except ValueError:
        pytest.skip(f"{request.param} is not available here")
    yield request.param
    blas._chosen[:] = [before]


@njit
def _matmul(gemm, ints, A, B, C, add):
    if add:
        blas.matmul_add(gemm, ints, A, B, C)
    else:
        blas.matmul(gemm, ints, A, B, C)


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M, K, N", [(1, 1, 1), (3, 5, 7), (0, 4, 6),          # small: matmul's own loop
                                     (40, 30, 20), (64, 70, 50)])                # through BLAS
@pytest.mark.parametrize("add", [False, True])
def test_matmul_is_a_product(library, dtype, M, K, N, add):
    rng = np.random.default_rng(0)
    big_A = rng.standard_normal((M + 3, K + 2)).astype(dtype)
    A = big_A[1:M + 1, :K]                                     # rows contiguous, but a row stride of K + 2
    B = rng.standard_normal((K, N)).astype(dtype)
    C = np.full((M + 2, N), 7.0, dtype)
    _matmul(*blas.gemm_args(dtype), A, B, C[1:M + 1], add)
    expected = A @ B + 7.0 if add else A @ B                   # matmul_add: C += A @ B
    np.testing.assert_allclose(C[1:M + 1], expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
    assert (C[0] == 7).all() and (C[M + 1] == 7).all()         # nothing written outside the rows asked for


@pytest.mark.parametrize("make", [lambda: LSTM(40, proj_size=20, return_sequences=True),
                                  lambda: GRU(40, bidirectional=True, return_sequences=True)])
def test_both_libraries_give_the_same_layer(make):
    x = np.random.default_rng(1).standard_normal((16, 6, 3))    # per-step products above blas.SMALL: BLAS runs
    assert 16 * 20 * 160 > blas.SMALL
    results = []
    for name in LIBRARIES:
        before = blas.library()
        try:
            blas.use(name)
        except ValueError:
            pytest.skip(f"{name} is not available here")
        try:
            layer = make().build(x.shape[1:], np.random.default_rng(2)).to("float64")
            out = layer.forward(x)
            dx = layer.backward(np.cos(out))
            results.append((out, dx, dict(layer.grads)))
        finally:
            blas._chosen[:] = [before]
    (out_a, dx_a, g_a), (out_b, dx_b, g_b) = results
    np.testing.assert_allclose(out_b, out_a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx_b, dx_a, rtol=1e-12, atol=1e-14)
    for key in g_a:
        np.testing.assert_allclose(g_b[key], g_a[key], rtol=1e-12, atol=1e-14, err_msg=key)


def test_an_unknown_library_is_refused():
    with pytest.raises(ValueError, match="unknown BLAS 'mkl'; choose from numpy-openblas, scipy-cython-blas"):
        blas.use("mkl")
