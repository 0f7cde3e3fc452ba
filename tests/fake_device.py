"""A stand-in for CuPy that runs on the CPU, so that the device code paths are tested without a GPU.

Its arrays wrap NumPy arrays and behave as CuPy's do where that matters for host/device bugs: they refuse to be
turned into NumPy arrays implicitly (`np.asarray(a)` raises; `.get()` copies to the host), refuse to be mixed with
NumPy arrays in a ufunc or an array function, return 0-d arrays rather than scalars from reductions and indexing,
and reject `out=` in einsum (CuPy does not support it). They are stricter than CuPy in one place: a NumPy index
array or a NumPy value in an assignment is refused too (CuPy converts those), so code stays explicit about where
its arrays live. NumPy's functions
reach them through `__array_ufunc__` / `__array_function__`, as they reach CuPy's. So a code path that runs on
these arrays and matches the NumPy result does not leave the device silently; what it cannot show is speed
(tests/test_device.py runs the real thing where a GPU is). Its namespace, and the NumPy functions and ufuncs that
reach its arrays, are limited to `CUPY_NAMES`, functions CuPy has, so a NumPy function that CuPy lacks fails here
too. `ElementwiseKernel` runs a kernel body written in the common subset of C and Python with NumPy, refusing
what would compute differently in C: integer division, and outputs that share memory with an input.
"""

import ast
import collections
import re

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


COUNTS = collections.Counter()
"""What a GPU would pay for, counted as the code runs: "launch" for each operation that would be a kernel (a
ufunc, an array function that computes, a copy, a fill, a fused kernel; views and `empty` are free), "sync" for
each value read back to the host (`.get()`, `float()`, `bool()`, `.item()`), which waits for the GPU. Reset it
with COUNTS.clear()."""
VIEWS = {np.reshape, np.transpose, np.split, np.broadcast_to, np.shape, np.ndim, np.size, np.atleast_1d}
FREE = {"empty", "empty_like", "asarray", "array", "asnumpy", "ascontiguousarray"}   # (counted where they copy)
CUPY_NAMES = frozenset("""
    ndarray ElementwiseKernel asarray array asnumpy ascontiguousarray empty empty_like zeros zeros_like ones full
    concatenate stack split reshape transpose broadcast_to atleast_1d shape ndim size repeat
    sum mean all any einsum matmul
    add subtract multiply divide negative maximum minimum sqrt exp log tanh isfinite
    equal not_equal greater greater_equal less less_equal
""".split())
"""The functions of CuPy's namespace that lstmkit uses, through `xp.name` or a NumPy function or ufunc given device
arrays (CuPy serves `np.name(a)` with `cupy.name`, and has no answer where that is missing). Any other name fails,
as it would on a GPU where CuPy lacks it: check https://docs.cupy.dev/en/stable/reference/ before adding one."""


class HostArrayError(TypeError):
    """A NumPy (host) array met a device array, or a device array was converted implicitly."""


def _unwrap(obj):
    """DeviceArrays -> their NumPy data, recursively through tuples, lists and dicts; a host array is an error."""
    if isinstance(obj, DeviceArray):
        return obj._data
    if isinstance(obj, np.ndarray):
        raise HostArrayError(f"a NumPy array (shape {obj.shape}) was mixed with device arrays")
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _cupy_name(name, error=TypeError):
    """name itself if CuPy has it (CUPY_NAMES); else `error` (CuPy's: AttributeError from the module, TypeError from
    NumPy's dispatch), naming it."""
    if name in CUPY_NAMES:
        return name
    raise error(f"CuPy has no {name!r} as far as the CuPy stand-in knows; if CuPy does provide it, add it to "
                "fake_device.CUPY_NAMES")


def _wrap(obj):
    """NumPy results -> DeviceArrays (NumPy scalars become 0-d arrays, as CuPy returns), recursively."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return DeviceArray(np.asarray(obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_wrap(o) for o in obj)
    return obj


class DeviceArray(NDArrayOperatorsMixin):
    """An array "on the device" (see the module docstring)."""

    __slots__ = ("_data",)
    METHODS = {"reshape", "transpose", "astype", "copy", "ravel", "fill", "sum", "mean", "max", "min", "any", "all",
               "argmax", "argmin", "item", "squeeze", "swapaxes", "flatten", "clip", "round", "view", "dot",
               "tolist", "cumsum", "std", "var", "nonzero", "take", "repeat", "argsort", "prod"}
    VIEW_METHODS = {"reshape", "transpose", "ravel", "squeeze", "swapaxes", "view"}
    SYNC_METHODS = {"item", "tolist"}
    PROPERTIES = {"shape", "dtype", "ndim", "size", "nbytes", "itemsize", "strides", "flags"}

    def __init__(self, data):
        self._data = data

    def get(self):
        """A NumPy copy on the host (cupy.ndarray.get)."""
        COUNTS["sync"] += 1
        return self._data.copy()

    def __array__(self, *args, **kwargs):
        raise HostArrayError("Implicit conversion to a NumPy array is not allowed; use .get()")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _cupy_name(ufunc.__name__)
        COUNTS["launch"] += 1
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return None if method == "at" else _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        _cupy_name(".".join([*func.__module__.split(".")[1:], func.__name__]))    # e.g. "linalg.norm"
        if func is np.einsum and "out" in kwargs:
            raise TypeError("einsum: the out argument is not supported (as in CuPy)")
        COUNTS["launch"] += func not in VIEWS
        out = kwargs.get("out")
        result = func(*_unwrap(args), **_unwrap(kwargs))
        return out if out is not None else _wrap(result)

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value):
        COUNTS["launch"] += 1
        self._data[_unwrap(key)] = _unwrap(value)

    def __getattr__(self, name):
        if name in self.PROPERTIES:
            return getattr(self._data, name)
        if name in self.METHODS:
            COUNTS["sync" if name in self.SYNC_METHODS else "launch"] += name not in self.VIEW_METHODS
            method = getattr(self._data, name)
            return lambda *args, **kwargs: _wrap(method(*_unwrap(args), **_unwrap(kwargs)))
        raise AttributeError(f"DeviceArray has no attribute {name!r}")

    @property
    def T(self):
        return DeviceArray(self._data.T)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(row) for row in self._data)

    def __bool__(self):
        COUNTS["sync"] += 1
        return bool(self._data)

    def __float__(self):
        COUNTS["sync"] += 1
        return float(self._data)

    def __int__(self):
        COUNTS["sync"] += 1
        return int(self._data)

    def __repr__(self):
        return f"DeviceArray({self._data!r})"


class _UFunc:
    """A NumPy ufunc taking device arrays, with its `at` method (cupy.add.at)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        COUNTS["launch"] += 1
        out = kwargs.get("out")
        result = self._ufunc(*_unwrap(args), **_unwrap(kwargs))
        return out if out is not None else _wrap(result)

    def at(self, a, indices, b=None):
        self._ufunc.at(*_unwrap((a, indices) if b is None else (a, indices, b)))


class ElementwiseKernel:
    """cupy.ElementwiseKernel, evaluated with NumPy. Parameters are `T name` (T: one dtype shared by all); the body
    is statements `[T ]name = expression;` in the common subset of C and Python, run in order on whole arrays
    (every intermediate rounded to T, as in C); outputs, when passed after the inputs, are written in place and
    must have the inputs' broadcast shape.

    Where the GPU and this evaluation part, the call is refused rather than computed one way: `/` between two
    integers (integer literals, or T an integer type) truncates in C; and an output sharing memory with an input or
    another output. CUDA works element by element, in place: an input that is also the output is read through a
    reference after the body wrote it, two overlapping outputs end as whichever write came last, and CuPy copies an
    input that merely overlaps an output (a launch the counts would miss), while this evaluation reads every input
    before it writes. Stricter than CuPy, which accepts all of these."""

    STATEMENT = re.compile(r"(?:T\s+)?([A-Za-z_]\w*)\s*=\s*(.+)", re.S)
    EXPRESSION = re.compile(r"(?:[A-Za-z_]\w*|\d+|[-+*/(),\s])+")   # names, integer literals, + - * / ( ) ,
    FUNCTIONS = {"exp": np.exp, "tanh": np.tanh, "log": np.log, "sqrt": np.sqrt}
    C_KEYWORDS = set("auto bool break case char class const continue default delete do double else enum explicit "
                     "extern false float for friend goto if inline int long namespace new operator private protected "
                     "public register return short signed sizeof static struct switch template this true typedef "
                     "typename union unsigned using virtual void volatile while".split())

    def __init__(self, in_params, out_params, operation, name):
        self.inputs, self.outputs = self._names(in_params), self._names(out_params)
        self.name, self.statements, self.divides = name, [], False
        for text in filter(None, (part.strip() for part in operation.split(";"))):
            match = self.STATEMENT.fullmatch(text)
            if match is None or not self.EXPRESSION.fullmatch(match[2]) or "**" in match[2] or "//" in match[2]:
                raise SyntaxError(f"kernel {name}: {text!r} is not `[T ]name = expression` in C and Python")
            self._check_name(match[1])
            tree = ast.parse(match[2].strip(), mode="eval")
            if self._kind(tree.body) is None:
                raise SyntaxError(f"kernel {name}: {text!r} divides an integer by an integer (integer division in "
                                  "C, true division in NumPy); write a T operand, e.g. `x / 2`, or the result")
            self.divides |= any(isinstance(node, ast.Div) for node in ast.walk(tree))
            self.statements.append((match[1], compile(tree, name, "eval")))

    @classmethod
    def _kind(cls, node):
        """"int" for an expression of integer literals alone, "T" for one with an array value, None for one holding
        an integer division (both operands "int")."""
        if isinstance(node, ast.Constant):
            return "int"
        if isinstance(node, ast.UnaryOp):
            return cls._kind(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = cls._kind(node.left), cls._kind(node.right)
            if left is None or right is None or (isinstance(node.op, ast.Div) and left == right == "int"):
                return None
            return "int" if left == right == "int" else "T"
        if isinstance(node, ast.Call):
            return "T" if all(cls._kind(arg) is not None for arg in node.args) else None
        return "T"                                                          # a parameter or a T variable

    @classmethod
    def _check_name(cls, name):
        """CuPy reserves i, n and names starting with _ (its loop index, size and internals)."""
        if name in ("i", "n") or name.startswith("_") or name in cls.C_KEYWORDS:
            raise SyntaxError(f"{name!r} is reserved in a CuPy elementwise kernel or a C keyword")

    @classmethod
    def _names(cls, params):
        names = []
        for param in params.split(","):
            words = param.split()
            if len(words) != 2 or words[0] != "T":
                raise ValueError(f"parameter {param.strip()!r} is not `T name`")
            cls._check_name(words[1])
            names.append(words[1])
        return names

    def _check_no_overlap(self, data, outs):
        """Each output shares no element with an input or an earlier output."""
        arrays = [*((f"input {n}", a) for n, a in zip(self.inputs, data)),
                  *((f"output {n}", o._data) for n, o in zip(self.outputs, outs))]
        for k in range(len(self.inputs), len(arrays)):
            out, o = arrays[k]
            for other, a in arrays[:k]:
                if np.shares_memory(o, a):
                    raise ValueError(f"kernel {self.name}: {out} shares memory with {other}; on the GPU the result "
                                     "would depend on the order of the element-wise writes (and CuPy copies an "
                                     "overlapping input first, a launch of its own); pass an output array of its own")

    def __call__(self, *args):
        if len(args) not in (len(self.inputs), len(self.inputs) + len(self.outputs)):
            raise TypeError(f"takes {len(self.inputs)} inputs and optionally {len(self.outputs)} outputs, got "
                            f"{len(args)} arrays")
        data = _unwrap(list(args))
        dtype = data[0].dtype
        if any(a.dtype != dtype for a in data):
            raise TypeError(f"type T is ambiguous: {sorted({str(a.dtype) for a in data})}")
        if self.divides and dtype.kind in "iub":
            raise TypeError(f"kernel {self.name}: T is {dtype}, so its `/` is integer division in C (true division "
                            "in NumPy); call it with floating-point arrays")
        shape = np.broadcast_shapes(*(a.shape for a in data[:len(self.inputs)]))
        outs = args[len(self.inputs):] or [DeviceArray(np.empty(shape, dtype)) for _ in self.outputs]
        COUNTS["launch"] += 1
        if any(o.shape != shape for o in outs):
            raise ValueError(f"outputs must have the broadcast shape {shape}")
        self._check_no_overlap(data, outs)
        values = {**self.FUNCTIONS, **{n: np.broadcast_to(a, shape) for n, a in zip(self.inputs, data)}}
        for target, code in self.statements:
            values[target] = np.asarray(eval(code, {"__builtins__": {}}, values), dtype=dtype)
        for out, name in zip(outs, self.outputs):
            out._data[...] = values[name]
        return outs[0] if len(outs) == 1 else tuple(outs)


class FakeCupy:
    """The module: `asarray` / `array` move host data to the device, `asnumpy` back; every other NumPy function
    takes device arrays only and returns device arrays."""

    ndarray = DeviceArray
    ElementwiseKernel = ElementwiseKernel

    @staticmethod
    def asarray(a, dtype=None):
        if isinstance(a, DeviceArray):
            if dtype in (None, a.dtype):
                return a
            COUNTS["launch"] += 1                              # a cast on the device
            return DeviceArray(a._data.astype(dtype))
        COUNTS["transfer"] += 1                                # host to device
        return DeviceArray(np.array(a, dtype=dtype))

    array = asarray

    @staticmethod
    def asnumpy(a):
        return a.get() if isinstance(a, DeviceArray) else np.asarray(a)

    @staticmethod
    def ascontiguousarray(a, dtype=None):
        data = _unwrap(a)
        COUNTS["launch"] += not data.flags.c_contiguous or (dtype is not None and np.dtype(dtype) != data.dtype)
        result = np.ascontiguousarray(data, dtype=dtype)
        return a if result is data else DeviceArray(result)

    def __getattr__(self, name):
        attr = getattr(np, _cupy_name(name, AttributeError))
        if isinstance(attr, np.ufunc):
            return _UFunc(attr)
        if isinstance(attr, type) or not callable(attr):
            return attr

        def function(*args, **kwargs):
            COUNTS["launch"] += name not in FREE
            return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))
        return function
