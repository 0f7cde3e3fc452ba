"""The suite runs with a fixed BLAS thread count (cpus.py): tests that compare two training runs bit for bit,
in this process or in a child process, must not see the count follow a machine that is busier one moment than
the next. tests/test_cpus.py checks the policy itself."""

import os

from lstmkit import cpus

os.environ.setdefault("LSTMKIT_BLAS_THREADS", str(cpus.get_blas_threads() or 1))
