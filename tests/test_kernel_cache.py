"""The on-disk cache of compiled kernels (kernel_cache.py): a kernel whose helper in another module changed is
recompiled in the next process, an unchanged package is loaded from the cache, and an edit to a file without
kernels keeps it. Each case writes a tiny package to tmp_path and runs fresh processes with NUMBA_CACHE_DIR there."""

import os
import subprocess
import sys
import textwrap

import pytest

LSTMKIT_KERNEL = "from lstmkit.runtime.ops import kernel"
PLAIN_NUMBA = "from numba import njit\nkernel = njit(cache=True)"


def _write_package(tmp_path, decorator, factor):
    """tinypkg: kern.run(x) = scale(x) + 1 with scale(x) = factor * x in helper.py, both compiled by `decorator`."""
    pkg = tmp_path / "tinypkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(f"{decorator}\n\n\n@kernel\ndef scale(x):\n    return {factor} * x\n")
    (pkg / "kern.py").write_text(f"{decorator}\nfrom .helper import scale\n\n\n"
                                 "@kernel\ndef run(x):\n    return scale(x) + 1.0\n")
    (pkg / "notes.py").write_text("NOTE = 'no kernels here'\n")


def _run(tmp_path):
    """run(1.0) in a fresh process: (its value, cache hits, cache misses of `run`)."""
    script = textwrap.dedent("""
        from tinypkg.kern import run
        value = run(1.0)
        print(value, sum(run.stats.cache_hits.values()), sum(run.stats.cache_misses.values()))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    value, hits, misses = out.stdout.split()
    return float(value), int(hits), int(misses)


def test_unchanged_package_is_loaded_from_the_cache(tmp_path):
    _write_package(tmp_path, LSTMKIT_KERNEL, "2.0")
    assert _run(tmp_path) == (3.0, 0, 1)                # compiled and saved
    assert _run(tmp_path) == (3.0, 1, 0)                # loaded, not compiled


def test_edit_to_an_inlined_helper_recompiles_the_caller(tmp_path):
    _write_package(tmp_path, LSTMKIT_KERNEL, "2.0")
    assert _run(tmp_path) == (3.0, 0, 1)
    _write_package(tmp_path, LSTMKIT_KERNEL, "30.0")    # only helper.py changes; kern.py is byte for byte the same
    assert _run(tmp_path) == (31.0, 0, 1)
    assert _run(tmp_path) == (31.0, 1, 0)


def test_edit_to_a_file_without_kernels_keeps_the_cache(tmp_path):
    _write_package(tmp_path, LSTMKIT_KERNEL, "2.0")
    assert _run(tmp_path) == (3.0, 0, 1)
    (tmp_path / "tinypkg" / "notes.py").write_text("NOTE = 'still no kernels here, but edited'\n")
    assert _run(tmp_path) == (3.0, 1, 0)


def test_plain_numba_cache_runs_the_old_helper(tmp_path):
    """The reason for kernel_cache.py: with plain njit(cache=True) the caller's cache survives its helper's edit.
    If this starts failing, Numba tracks such dependencies itself and kernel_cache.py can go."""
    _write_package(tmp_path, PLAIN_NUMBA, "2.0")
    assert _run(tmp_path)[0] == 3.0
    _write_package(tmp_path, PLAIN_NUMBA, "30.0")
    if _run(tmp_path)[0] == 31.0:
        pytest.fail("numba's own cache now sees the helper's edit; kernel_cache.py is no longer needed")


def test_lstmkit_kernels_share_one_stamp_over_the_whole_package():
    """The kernels live in several subpackages (runtime/ops.py and runtime/blas.py, inlined into layers/ and
    apps/classification/): each one's stamp covers the whole lstmkit package, helpers included."""
    import lstmkit
    from lstmkit.apps.classification import neighbours
    from lstmkit.layers import lstm_kernels
    from lstmkit.runtime import kernel_cache, ops

    root = os.path.dirname(lstmkit.__file__)
    assert {kernel_cache.package_root(m.__file__) for m in (ops, lstm_kernels, neighbours)} == {root}
    bearing = set()
    for folder, _, files in os.walk(root):
        for name in (f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                if kernel_cache._KERNEL_BEARING.search(f.read()):
                    bearing.add(os.path.relpath(path, root).replace(os.sep, "/"))
    assert {"runtime/ops.py", "runtime/blas.py", "layers/lstm_kernels.py", "layers/gru.py"} <= bearing
