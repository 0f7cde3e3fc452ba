"""The GEMM that the compiled sweeps call at every step, and the thread count of the BLAS behind it.

The kernels call ?gemm through a function pointer given as an argument (which keeps them cacheable): NumPy's
bundled OpenBLAS where its symbols are found, so that the process has one BLAS thread pool (NumPy's) instead of
two, else SciPy's `cython_blas` (the library behind Numba's np.dot). docs/performance.md compares the two on the
sweeps' products. Both take the Fortran convention, every argument by pointer, so sgemm and dgemm share one
signature; the integer width of the library (64-bit for NumPy's ILP64 build, 32-bit for SciPy's) travels as the
dtype of a small array, `ints`.

`matmul(gemm, ints, A, B, C)` computes C = A @ B inside a kernel for 2-D arrays whose rows are contiguous, and
`matmul_add` C += A @ B (BLAS's beta = 1: it then skips clearing C, and the caller the pass that would add the
product to something); products of at most SMALL multiply-adds (batch 1, small layers) they do in a loop, cheaper
there than a BLAS call. `recurrent_product` and `recurrent_gradient` are the per-step products of the forward and
backward sweeps, with the recurrent-dropout mask.
"""

import ctypes
import glob
import os
from typing import NamedTuple

import numpy as np

from .ops import kernel

_P = ctypes.c_void_p
GEMM = ctypes.CFUNCTYPE(None, *([_P] * 13))        # ?gemm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
_THREADS = ctypes.CFUNCTYPE(ctypes.c_int)
_SET_THREADS = ctypes.CFUNCTYPE(None, ctypes.c_int)


class Blas(NamedTuple):
    name: str
    gemm: dict             # dtype name -> the ?gemm function pointer
    ints: np.ndarray       # an empty array of the library's integer type
    get_threads: object    # () -> int, or None when the library has no thread control
    set_threads: object    # (int) -> None, or None


def _numpy_openblas():
    """NumPy's bundled OpenBLAS (the scipy-openblas64 build), or None."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        lib = ctypes.CDLL(path)
        for prefix, suffix, ints in (("scipy_", "_64_", np.int64), ("", "_64_", np.int64)):
            names = {"float32": f"{prefix}sgemm{suffix}", "float64": f"{prefix}dgemm{suffix}"}
            if all(hasattr(lib, n) for n in names.values()):
                gemm = {dtype: GEMM((n, lib)) for dtype, n in names.items()}
                get, set_ = _thread_functions(lib, ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_"),
                                              ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_"))
                return Blas("numpy-openblas", gemm, np.empty(0, ints), get, set_)
    return None


def _scipy_cython_blas():
    """SciPy's cython_blas sgemm/dgemm (LP64), with the thread control of SciPy's bundled OpenBLAS if found."""
    from scipy.linalg import cython_blas
    name_of, pointer_of = ctypes.pythonapi.PyCapsule_GetName, ctypes.pythonapi.PyCapsule_GetPointer
    name_of.restype, name_of.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pointer_of.restype, pointer_of.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    gemm = {}
    for dtype, name in (("float32", "sgemm"), ("float64", "dgemm")):
        capsule = cython_blas.__pyx_capi__[name]
        gemm[dtype] = GEMM(pointer_of(capsule, name_of(capsule)))
    get, set_ = None, None
    libs = os.path.join(os.path.dirname(os.path.dirname(cython_blas.__file__)), os.pardir, "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        get, set_ = _thread_functions(ctypes.CDLL(path), ("scipy_openblas_get_num_threads", "openblas_get_num_threads"),
                                      ("scipy_openblas_set_num_threads", "openblas_set_num_threads"))
        if get is not None:
            break
    return Blas("scipy-cython-blas", gemm, np.empty(0, np.int32), get, set_)


def _thread_functions(lib, get_names, set_names):
    """The first (get, set) pair of thread-count functions that lib exports, or (None, None)."""
    for get_name, set_name in zip(get_names, set_names):
        if hasattr(lib, get_name) and hasattr(lib, set_name):
            return _THREADS((get_name, lib)), _SET_THREADS((set_name, lib))
    return None, None


_chosen = []
SMALL = 1 << 14              # multiply-adds of a product that matmul does in a loop rather than through BLAS


def library():
    """The Blas the kernels use (found once): NumPy's OpenBLAS if possible, else SciPy's cython_blas."""
    if not _chosen:
        _chosen.append(_numpy_openblas() or _scipy_cython_blas())
    return _chosen[0]


def use(name):
    """Make the kernels use 'numpy-openblas' or 'scipy-cython-blas' (for tests and comparisons)."""
    finders = {"numpy-openblas": _numpy_openblas, "scipy-cython-blas": _scipy_cython_blas}
    if name not in finders:
        raise ValueError(f"unknown BLAS {name!r}; choose from {', '.join(finders)}.")
    found = finders[name]()
    if found is None:
        raise ValueError(f"BLAS {name!r} is not available here.")
    _chosen[:] = [found]


def gemm_args(dtype):
    """(gemm, ints) for a kernel working in this dtype (a layer's dtype is already the name, 'float32' or
    'float64'; np.dtype(...).name costs microseconds, paid twice per training step)."""
    blas = library()
    gemm = blas.gemm.get(dtype) or blas.gemm[np.dtype(dtype).name]
    return gemm, blas.ints


@kernel
def _gemm(gemm, ints, A, B, C, beta):
    """C = A @ B + beta C, (M, K) @ (K, N) -> (M, N), beta 0 or 1, each array with contiguous rows. BLAS is
    column-major, so it computes C^T = B^T A^T + beta C^T, reading each row-major array as its transpose."""
    M, K = A.shape
    N = B.shape[1]
    if M * K * N <= SMALL:                                     # a BLAS call costs more than the product
        for b in range(M):
            row = C[b]
            if beta == 0:
                row[:] = 0
            for k in range(K):
                a_bk, B_k = A[b, k], B[k]
                for j in range(N):
                    row[j] += a_bk * B_k[j]
        return
    size = A.itemsize
    dims = np.empty(6, ints.dtype)                             # n, m, k and the leading dimensions of B, A, C
    dims[0], dims[1], dims[2] = N, M, K
    dims[3], dims[4], dims[5] = B.strides[0] // size, A.strides[0] // size, C.strides[0] // size
    coef = np.zeros(2, A.dtype)                                # alpha = 1, beta
    coef[0], coef[1] = 1, beta
    no_trans = np.full(1, 78, np.uint8)                        # 'N'
    gemm(no_trans.ctypes, no_trans.ctypes, dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes, coef[0:].ctypes,
         B.ctypes, dims[3:].ctypes, A.ctypes, dims[4:].ctypes, coef[1:].ctypes, C.ctypes, dims[5:].ctypes)


@kernel
def matmul(gemm, ints, A, B, C):
    """C = A @ B inside a kernel (module docstring)."""
    _gemm(gemm, ints, A, B, C, 0)


@kernel
def matmul_add(gemm, ints, A, B, C):
    """C += A @ B: with beta = 1 BLAS adds to C instead of first clearing it, and the caller's own pass that would
    add the product to something is not needed."""
    _gemm(gemm, ints, A, B, C, 1)


@kernel
def recurrent_product(gemm, ints, h_prev, keep_h, has_keep, W_hhT, h_in, out, accumulate):
    """out = (h_prev * keep_h) W_hh^T for the running rows of a step (out += ... with `accumulate`): the one GEMM
    per step of every compiled forward sweep; `keep_h` is the recurrent-dropout mask (used when `has_keep`), `h_in`
    a buffer for the masked rows."""
    n = h_prev.shape[0]
    if n == 0:
        return
    if has_keep:
        for b in range(n):
            for j in range(h_prev.shape[1]):
                h_in[b, j] = h_prev[b, j] * keep_h[b, j]
        h_prev = h_in[:n]
    if accumulate:
        matmul_add(gemm, ints, h_prev, W_hhT, out)
    else:
        matmul(gemm, ints, h_prev, W_hhT, out)


@kernel
def recurrent_gradient(gemm, ints, dZh, W_hh, keep_h, has_keep, dh_rec, dh):
    """dh += (dZh W_hh) * keep_h for the running rows of a step: the one GEMM per step of every compiled backward
    sweep, the mirror of recurrent_product (dh_rec a buffer for the product when there is a mask to apply)."""
    n = dZh.shape[0]
    if n == 0:
        return
    if not has_keep:
        matmul_add(gemm, ints, dZh, W_hh, dh)
        return
    matmul(gemm, ints, dZh, W_hh, dh_rec[:n])
    for b in range(n):
        for j in range(dh.shape[1]):
            dh[b, j] += dh_rec[b, j] * keep_h[b, j]
