"""Tensor factories with PyTorch's names: tensor, as_tensor, from_numpy, zeros, ones, full,
empty, eye, arange, linspace, logspace, randn, rand, randint, randperm, and their `_like` forms.
Floats are float32 unless `dtype` says otherwise; random numbers come from the global generator
(`manual_seed`) or the `generator` given, drawn on the host so a seed gives the same numbers on
every backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop import ops
from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.random import default_generator
from backprop.tensor import FLOAT_DTYPES, Tensor, as_dtype, bool_, float32, float64, int32, int64

Shape = int | Sequence[int]
SUPPORTED_DTYPES = (float32, float64, int64, int32, bool_)


def tensor(
    data: Any, dtype: Any = None, device: Device | str | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor holding a copy of `data` (a number, nested lists, a NumPy array or a Tensor)."""
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _shape(op: str, shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
        raise ValueError(f"{op}: shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape)


def _make(op, shape, dtype, device, requires_grad, build) -> Tensor:
    dev = resolve_device(device)
    dtype = float32 if dtype is None else as_dtype(dtype, op)
    result = Tensor._make(build(dev.backend, _shape(op, shape), dtype), dev)
    return result.requires_grad_(requires_grad) if requires_grad else result


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    """The dtype of random samples: float32 by default; an int or bool dtype is an error."""
    dtype = float32 if dtype is None else as_dtype(dtype, op)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: samples need a float32 or float64 dtype, got {dtype}")
    return dtype


def zeros(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("zeros", shape, dtype, device, requires_grad, lambda b, s, d: b.zeros(s, d))


def ones(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("ones", shape, dtype, device, requires_grad, lambda b, s, d: b.ones(s, d))


def empty(*shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False) -> Tensor:
    return _make("empty", shape, dtype, device, requires_grad, lambda b, s, d: b.empty(s, d))


def full(
    shape: Shape, fill_value: float, dtype: Any = None, device=None, requires_grad: bool = False
) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _make(
        "full", shape, dtype, device, requires_grad, lambda b, s, d: b.full(s, fill_value, d)
    )


def randn(
    *shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False, generator=None
) -> Tensor:
    """Standard normal samples from `generator` (the global one by default)."""
    rng = generator or default_generator()
    dtype = _float_dtype("randn", dtype)
    return _make(
        "randn", shape, dtype, device, requires_grad, lambda b, s, d: b.random_normal(s, d, rng)
    )


def rand(
    *shape: Shape, dtype: Any = None, device=None, requires_grad: bool = False, generator=None
) -> Tensor:
    """Uniform samples in [0, 1) from `generator` (the global one by default)."""
    rng = generator or default_generator()
    dtype = _float_dtype("rand", dtype)
    return _make(
        "rand", shape, dtype, device, requires_grad, lambda b, s, d: b.random_uniform(s, d, rng)
    )


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None, device=None
) -> Tensor:
    """Evenly spaced values in [start, stop); int64 when all arguments are ints."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if integral else float32
    dev = resolve_device(device)
    return Tensor._make(dev.backend.arange(start, stop, step, as_dtype(dtype, "arange")), dev)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: float, dtype: Any = None) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=x.device)


def randn_like(x: Tensor, dtype: Any = None) -> Tensor:
    dtype = dtype or (x.dtype if x.dtype in FLOAT_DTYPES else float32)
    return randn(x.shape, dtype=dtype, device=x.device)


def as_tensor(data: Any, dtype: Any = None, device: Device | str | None = None) -> Tensor:
    """`data` as a tensor, copying only what must be copied, as `torch.as_tensor`: a Tensor
    already of `dtype` on `device` is returned as is (else converted differentiably, with
    `.to`), and a NumPy array of a supported dtype on the CPU shares its memory."""
    if isinstance(data, Tensor):
        target = data.device if device is None else resolve_device(device)
        return data.to(target, dtype=dtype)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing `array`'s memory, as `torch.from_numpy`: writes to either show in
    the other. The array's dtype must be one a tensor holds; it is never converted."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    if array.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"from_numpy: NumPy arrays of dtype {array.dtype} are not supported; use float32, "
            "float64, int64, int32 or bool (convert with .astype first)"
        )
    return Tensor._make(array, resolve_device("cpu"))


def _count(op: str, name: str, value: Any) -> int:
    """A count argument (a size, `steps`, `n`): a non-negative int, not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {value}")
    return int(value)


def _real(op: str, name: str, value: Any) -> float:
    """A real-number argument (an end point, a base): an int or a float, not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return value


def _finish(op: str, result: Tensor, requires_grad: bool) -> Tensor:
    """`result` made a leaf that requires grad when asked, which only float tensors can."""
    if not requires_grad:
        return result
    if result.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{op}: only float32 and float64 tensors can require gradients, got {result.dtype}"
        )
    return result.detach().requires_grad_(True)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """The n x m matrix (n x n when m is None) of ones on the diagonal and zeros elsewhere, as
    `torch.eye`; made on the device, with no host copy."""
    n = _count("eye", "n", n)
    m = n if m is None else _count("eye", "m", m)
    dtype = float32 if dtype is None else as_dtype(dtype, "eye")
    rows = arange(n, device=device).reshape(n, 1)
    diagonal = ops.eq(rows, arange(m, device=device))
    return _finish("eye", ops.astype(diagonal, dtype), requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """`steps` evenly spaced values from `start` to `end`, both included, as `torch.linspace`.
    The first half counts up from `start` and the second down from `end` (torch's formula),
    so both ends are exact; integer dtypes truncate the float64 values, as PyTorch does."""
    dtype = _range_dtype("linspace", dtype)
    compute = dtype if dtype.kind == "f" else float64
    values = _spaced("linspace", start, end, steps, dtype, device, compute)
    return _finish("linspace", ops.astype(values, dtype), requires_grad)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """base ** linspace(start, end, steps), as `torch.logspace`: the powers are taken in
    float64 and rounded to `dtype` (integer dtypes truncate them, as PyTorch does)."""
    dtype = _range_dtype("logspace", dtype)
    base = _real("logspace", "base", base)
    if dtype.kind != "f":
        base = float(np.float32(base))  # PyTorch's integer logspace takes a float32 base
    exponents = _spaced("logspace", start, end, steps, dtype, device, float64)
    return _finish("logspace", ops.astype(ops.pow(float(base), exponents), dtype), requires_grad)


def _range_dtype(op: str, dtype: Any) -> np.dtype:
    """The dtype of linspace and logspace: float32 by default; bool is refused."""
    dtype = float32 if dtype is None else as_dtype(dtype, op)
    if dtype == bool_:
        raise TypeError(f"{op}: dtype must be a float or integer dtype, got bool")
    return dtype


def _spaced(
    op: str,
    start: float,
    end: float,
    steps: int,
    dtype: np.dtype,
    device: Device | str | None,
    compute: np.dtype,
) -> Tensor:
    """linspace's values for `dtype`, worked out in the float dtype `compute` as PyTorch does:
    start + step * i for the first half, end - step * (steps - 1 - i) for the rest; for an
    integer `dtype` the ends are first truncated to integers, as PyTorch converts them."""
    start, end = _real(op, "start", start), _real(op, "end", end)
    steps = _count(op, "steps", steps)
    integral = dtype.kind != "f"
    low = compute.type(int(start) if integral else start)
    high = compute.type(int(end) if integral else end)
    if steps == 1:
        return full((1,), low, dtype=compute, device=device)
    step = (high - low) / compute.type(max(steps - 1, 1))
    positions = arange(steps, device=device).to(dtype=compute)
    first_half = ops.lt(positions, steps // 2)
    return ops.where(first_half, low + step * positions, high - step * (steps - 1 - positions))


def empty_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """An uninitialised tensor of `input`'s shape, and its dtype and device unless given, as
    `torch.empty_like`."""
    _check_like("empty_like", input)
    return empty(
        input.shape,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


def rand_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1) of `input`'s shape, and its dtype and device unless given, as
    `torch.rand_like` (so an integer `input` needs a float `dtype`)."""
    _check_like("rand_like", input)
    return rand(
        input.shape,
        dtype=_float_dtype("rand_like", input.dtype if dtype is None else dtype),
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


def _check_like(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")


def randint(
    low: int = 0,
    high: int | Shape | None = None,
    size: Shape | None = None,
    *,
    generator: np.random.Generator | None = None,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform random integers in [low, high) of shape `size`, int64 unless `dtype` says
    otherwise, as `torch.randint`: `randint(high, size)` or `randint(low, high, size)`."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size)
    elif high is None:
        low, high = 0, low  # randint(high, size=...)
    low, high = _integer("randint", "low", low), _integer("randint", "high", high)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple or list of ints, got {size!r}")
    shape = _shape("randint", tuple(size))
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    dtype = int64 if dtype is None else as_dtype(dtype, "randint")
    _check_integer_range("randint", low, high - 1, dtype)
    samples = (generator or default_generator()).integers(low, high, size=shape)
    return _from_samples("randint", samples, dtype, device, requires_grad)


def randperm(
    n: int,
    *,
    generator: np.random.Generator | None = None,
    dtype: Any = None,
    device: Device | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0, ..., n - 1, int64 unless `dtype` says otherwise, as
    `torch.randperm`."""
    n = _count("randperm", "n", n)
    dtype = int64 if dtype is None else as_dtype(dtype, "randperm")
    _check_integer_range("randperm", 0, n - 1, dtype)
    samples = (generator or default_generator()).permutation(n)
    return _from_samples("randperm", samples, dtype, device, requires_grad)


def _integer(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _check_integer_range(op: str, low: int, high: int, dtype: np.dtype) -> None:
    """Integers from `low` to `high` fit `dtype` exactly: within an int dtype's range, or a
    float's run of consecutive integers; bool holds none but 0 and 1, so it is refused."""
    if dtype == bool_:
        raise TypeError(f"{op}: dtype must be an integer or float dtype, got bool")
    if dtype.kind == "f":
        limit = 2 ** (np.finfo(dtype).nmant + 1)
        lowest, highest = -limit, limit
    else:
        lowest, highest = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    if low < lowest or high > highest:
        raise ValueError(
            f"{op}: values from {low} to {high} do not fit dtype {dtype}, which holds "
            f"[{lowest}, {highest}]"
        )


def _from_samples(
    op: str, samples: np.ndarray, dtype: np.dtype, device: Any, requires_grad: bool
) -> Tensor:
    """Host samples as a tensor of `dtype` on `device`, copied there once."""
    dev = resolve_device(device)
    result = Tensor._make(dev.backend.from_host(samples.astype(dtype)), dev)
    return _finish(op, result, requires_grad)
