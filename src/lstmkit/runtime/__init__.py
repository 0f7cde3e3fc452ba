"""How the library runs: the device backend (NumPy or CuPy), the BLAS the compiled kernels call and its thread
count, the Numba kernel decorator and its cache, worker processes, and the argument checks shared by every layer."""
