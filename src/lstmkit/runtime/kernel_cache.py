"""Numba's on-disk cache for the compiled kernels, keyed on every kernel-bearing source file of their package.

Numba keys a cached function on its own source file only (the index holds a hash of that file and is discarded
when it changes). A kernel's machine code also holds what it calls in other modules: `ops.sigmoid_scalar` and
`ops.tanh_scalar` are inlined, the `blas.py` kernels are linked in. After an edit to one of those (or an upgrade that
changes them but not the caller's file) plain `njit(cache=True)` loads the old arithmetic. So the stamp checked
here is Numba's own one together with a hash of every kernel-bearing file of the package the kernel lives in: the
`.py` files that import numba or use a `@kernel` decorator (found by reading the package's sources, so the set does
not depend on which modules happen to be imported first). An edit to any of them recompiles the package's kernels
on their next call; an edit elsewhere (the CLI, the driver, a layer's Python code) keeps the cache.
"""

import functools
import hashlib
import os
import re

from numba.core.caching import CompileResultCacheImpl, FunctionCache
from numba.core.dispatcher import Dispatcher

# A line that makes a file kernel-bearing: a numba import, or a decorator whose last name is `kernel`.
_KERNEL_BEARING = re.compile(rb"^\s*(?:import numba|from numba\b|@(?:\w+\.)*kernel\b)", re.MULTILINE)


def package_root(py_file):
    """The directory of the outermost package holding py_file (its own directory if that is no package)."""
    root = os.path.dirname(os.path.abspath(py_file))
    while os.path.isfile(os.path.join(os.path.dirname(root), "__init__.py")):
        root = os.path.dirname(root)
    return root


@functools.lru_cache(maxsize=None)
def package_stamp(root):
    """sha256 over the relative paths and contents of the kernel-bearing .py files under root (hex)."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                source = f.read()
            if _KERNEL_BEARING.search(source):
                digest.update(os.path.relpath(path, root).encode() + b"\0" + source + b"\0")
    return digest.hexdigest()


def _stamped(locator_class):
    """locator_class with the package stamp beside Numba's source stamp."""
    class Locator(locator_class):
        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self.kernel_file = py_file

        def get_source_stamp(self):
            own = super().get_source_stamp()
            if not os.path.isfile(self.kernel_file):   # a zip, a frozen app, the IPython prompt: Numba's stamp alone
                return own
            return own, package_stamp(package_root(self.kernel_file))
    Locator.__name__ = Locator.__qualname__ = "Package" + locator_class.__name__
    return Locator


class _PackageCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_stamped(c) for c in CompileResultCacheImpl._locator_classes]


class PackageCache(FunctionCache):
    """Numba's FunctionCache whose index is valid only for the package's current kernel-bearing sources."""
    _impl_class = _PackageCacheImpl


def enable_caching(dispatcher):
    """Cache dispatcher's compiled code on disk under the package stamp; returns it (a plain function, as under
    NUMBA_DISABLE_JIT, passes through). This is Numba's `Dispatcher.enable_caching` with PackageCache for its
    FunctionCache."""
    if isinstance(dispatcher, Dispatcher):
        dispatcher._cache = PackageCache(dispatcher.py_func)
    return dispatcher
