#!/bin/bash
# The GPU checks in one run, for a machine with CuPy, a CUDA build of torch and lstmkit's dependencies already
# installed (the workplace's device machine has them all): the device tests on real CuPy, then the benchmark
# against torch's cuDNN LSTM / GRU. Logs and the result table go to $OUT (default /tmp/gpu_check).
#
#     bash benchmarks/gpu_check.sh            (from the repository root; about 5 minutes)
set -o pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
python3 -c "import cupy, torch, numpy, numba; print('cupy', cupy.__version__, 'torch', torch.__version__,
'numpy', numpy.__version__, 'numba', numba.__version__, 'GPUs', cupy.cuda.runtime.getDeviceCount(),
'torch.cuda', torch.cuda.is_available())" 2>&1 | tee "$OUT/versions.txt" || exit 1
python3 -m pytest -q -p no:cacheprovider -o addopts="" -rs tests/test_device.py 2>&1 | tee "$OUT/test_device.log"
tests=$?
timeout 400 python3 benchmarks/bench_gpu.py --repeats 7 2>&1 | tee "$OUT/bench_gpu.log"
cp benchmarks/results/*-cuda.md "$OUT/" 2>/dev/null
exit $tests
