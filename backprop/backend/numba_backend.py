"""The Numba-CUDA backend: every primitive of the contract as a `numba.cuda` kernel on Numba
device arrays, needing no CuPy.

The kernels live in `backprop.kernels.numba_*`. This module imports neither them nor Numba
until a `NumbaBackend` is made, so `unavailable_reason()` can say why the backend cannot run
(Numba missing, NumPy too new, no GPU) and `import backprop` never touches Numba. Under
`NUMBA_ENABLE_CUDASIM=1` the same kernels run in Numba's CUDA simulator on the CPU (slowly:
tiny shapes only), which is how machines without a GPU test them.

Arrays are C-contiguous Numba device arrays, and every primitive returns a new contiguous
array (`reshape` alone returns a view). They expose `__cuda_array_interface__`, so CuPy,
PyTorch and other CUDA libraries read them without a copy; `from_cuda_array` wraps theirs.
A Numba kernel launch costs about 95 us of host time, so the fused primitives (bias and
activation, softmax cross-entropy, optimizer updates) are one launch each. Matmul is always
full fp32 (no tensor cores). Memory comes from Numba's allocator; `NUMBA_CUDA_MEMORY_MANAGER`
plugs in a pooled one such as RMM's.
"""

from __future__ import annotations

import importlib.util
import math
import re
from typing import Any

import numpy as np

from backprop.backend import philox
from backprop.backend.base import ACTIVATIONS, Backend

NUMPY_TOO_NEW = (2, 5)
"""Numba 0.68's CUDA target fails with NumPy 2.5 (`module 'numpy' has no attribute
'row_stack'`); the `numba` extra pins `numpy<2.5`."""


def _numpy_version() -> tuple[int, int]:
    major, minor = re.findall(r"\d+", np.__version__)[:2]
    return int(major), int(minor)


def unavailable_reason() -> str | None:
    """None when the Numba backend can run here, else why not (Numba or numba-cuda missing,
    NumPy too new for Numba's CUDA target, no CUDA driver or GPU)."""
    if importlib.util.find_spec("numba") is None:
        return "Numba is not installed; install backprop[numba]"
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (Numba's CUDA target); install backprop[numba]"
    if _numpy_version() >= NUMPY_TOO_NEW:
        return (
            f"NumPy {np.__version__} is too new for Numba's CUDA target, which fails with "
            "\"module 'numpy' has no attribute 'row_stack'\"; install numpy<2.5"
        )
    from numba import cuda

    if cuda.is_available():
        return None
    try:
        cuda.get_current_device()
    except Exception as error:  # CudaSupportError (an ImportError) or a driver error
        return "no usable CUDA GPU: " + " ".join(str(error).split()).rstrip(" :")
    return "no usable CUDA GPU: numba.cuda.is_available() is False"


class NumbaBackend(Backend):
    """The contract on Numba device arrays, one `numba.cuda` kernel per primitive."""

    name = "numba"
    device_type = "cuda"
    xp = None

    def __init__(self, index: int = 0):
        if index != 0:
            raise ValueError(
                f"numba backend: only device 0 is supported, got cuda:{index}; "
                "choose the GPU with CUDA_VISIBLE_DEVICES"
            )
        super().__init__(index)
        # Imported here, not at the top: the probe must work where Numba cannot.
        from numba import cuda

        from backprop.kernels import (
            numba_elementwise,
            numba_fused,
            numba_launch,
            numba_matmul,
            numba_movement,
            numba_random,
            numba_reduce,
            numba_sort,
        )

        self._cuda = cuda
        self._launch = numba_launch
        self.simulated = numba_launch.SIMULATED
        self._elementwise = numba_elementwise
        self._reduce = numba_reduce
        self._matmul = numba_matmul
        self._movement = numba_movement
        self._fused = numba_fused
        self._random = numba_random
        self._sort = numba_sort

    # -- arrays and creation ---------------------------------------------------------------

    def is_array(self, x: Any) -> bool:
        return getattr(x, "__cuda_ndarray__", False) is True

    def zeros(self, shape: tuple[int, ...], dtype) -> Any:
        return self._elementwise.full(tuple(shape), 0, dtype)

    def ones(self, shape: tuple[int, ...], dtype) -> Any:
        return self._elementwise.full(tuple(shape), 1, dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype) -> Any:
        return self._elementwise.full(tuple(shape), value, dtype)

    def empty(self, shape: tuple[int, ...], dtype) -> Any:
        return self._launch.empty(tuple(shape), dtype)

    def arange(self, start: float, stop: float, step: float, dtype) -> Any:
        if step == 0:
            raise ValueError("arange: step must not be zero")
        return self._elementwise.arange(start, stop, step, dtype)

    def dropout_mask(self, shape: tuple[int, ...], p: float, state: Any) -> Any:
        """One thread per four elements of the mask; a second, one-thread kernel advances the
        offset once every thread has read it."""
        keep = self._random.dropout_mask(math.prod(shape), philox.dropout_threshold(p), state)
        return keep.reshape(tuple(shape))

    def from_host(self, array: np.ndarray) -> Any:
        return self._cuda.to_device(np.asarray(array, order="C"))

    def to_host(self, x: Any) -> np.ndarray:
        return x.copy_to_host()

    def from_cuda_array(self, obj: Any) -> Any:
        """Wraps another library's GPU array (anything with `__cuda_array_interface__`:
        CuPy, PyTorch, ...) as a Numba device array without copying."""
        array = self._cuda.as_cuda_array(obj)
        if not array.is_c_contiguous():
            raise ValueError(
                f"from_cuda_array: the numba backend needs C-contiguous arrays, got shape "
                f"{tuple(array.shape)} with strides {tuple(array.strides)}"
            )
        return array

    def astype(self, x: Any, dtype) -> Any:
        if np.dtype(dtype) == x.dtype:
            return x
        return self._elementwise.astype(x, dtype)

    def copy(self, x: Any) -> Any:
        return self._movement.copy(x)

    def assign(self, target: Any, value: Any) -> None:
        """Writes `value` (same shape, broadcastable, or a scalar) into `target` in place."""
        if self._launch.is_scalar(value):
            self._elementwise.fill(target, value)
        else:
            self._movement.assign(target, value)

    # -- elementwise -----------------------------------------------------------------------

    def unary(self, op: str, x: Any) -> Any:
        return self._elementwise.unary(op, x)

    def binary(self, op: str, x: Any, y: Any) -> Any:
        return self._elementwise.binary(op, x, y)

    def compare(self, op: str, x: Any, y: Any) -> Any:
        return self._elementwise.binary(op, x, y, out_dtype=np.bool_)

    def where(self, condition: Any, x: Any, y: Any) -> Any:
        if self._launch.is_scalar(x) and self._launch.is_scalar(y):
            raise TypeError("where: at least one of x and y must be an array")
        dtype = y.dtype if self._launch.is_scalar(x) else x.dtype
        if self._launch.is_scalar(x):
            x = self._elementwise.full((), x, dtype)
        if self._launch.is_scalar(y):
            y = self._elementwise.full((), y, dtype)
        return self._elementwise.where(condition, x, y)

    def erf(self, x: Any) -> Any:
        return self._elementwise.unary("erf", x)

    # -- reductions ------------------------------------------------------------------------

    def reduce(self, op: str, x: Any, axes: tuple[int, ...] | None, keepdims: bool) -> Any:
        return self._reduce.reduce(op, x, axes, keepdims)

    def argmax(self, x: Any, axis: int | None, keepdims: bool) -> Any:
        if axis is not None:
            axis %= max(len(x.shape), 1)
        return self._reduce.argmax(x, axis, keepdims)

    def argsort(self, x: Any, axis: int, descending: bool) -> Any:
        """One thread per row of the sorted axis, a stable insertion sort: for short rows."""
        return self._sort.argsort(x, axis % len(x.shape), bool(descending))

    # -- linear algebra --------------------------------------------------------------------

    def matmul(self, a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
        """`op(a) @ op(b)` over the last two axes, batch axes broadcast; op transposes them."""
        return self._matmul.matmul(a, b, transpose_a, transpose_b)

    # -- movement --------------------------------------------------------------------------

    def reshape(self, x: Any, shape: tuple[int, ...]) -> Any:
        """A view: every array of this backend is C-contiguous."""
        return x.reshape(tuple(shape))

    def permute(self, x: Any, axes: tuple[int, ...]) -> Any:
        return self._movement.permute(x, tuple(a % len(x.shape) for a in axes))

    def broadcast_to(self, x: Any, shape: tuple[int, ...]) -> Any:
        return self._movement.broadcast_to(x, tuple(shape))

    def getitem(self, x: Any, index: tuple) -> Any:
        """Basic and integer-array indexing; a bool array index is turned into integer arrays
        on the host (a device-to-host copy). Indices are not bounds-checked on the device."""
        return self._movement.getitem(x, self._device_index(index), self.is_array)

    def setitem(self, x: Any, index: tuple, value: Any) -> None:
        """Writes `value` at `x[index]` in place (a strided copy, or one scatter kernel for
        integer arrays); a bool array index is turned into integer arrays on the host, as in
        `getitem`. Indices are not bounds-checked on the device."""
        if self._launch.is_scalar(value):
            value = self._elementwise.full((), value, x.dtype)
        value = self.astype(value, x.dtype)
        self._movement.setitem(x, self._device_index(index), value, self.is_array)

    def index_add(self, shape: tuple[int, ...], index: tuple, values: Any) -> Any:
        index = self._device_index(index)
        return self._movement.index_add(tuple(shape), index, values, self.is_array)

    def gather(self, x: Any, axis: int, index: Any) -> Any:
        return self._movement.gather(x, axis % len(x.shape), index)

    def scatter_add(self, shape: tuple[int, ...], axis: int, index: Any, values: Any) -> Any:
        return self._movement.scatter_add(tuple(shape), axis % len(shape), index, values)

    def concatenate(self, arrays: list[Any], axis: int) -> Any:
        return self._movement.concatenate(list(arrays), axis % len(arrays[0].shape))

    def stack(self, arrays: list[Any], axis: int) -> Any:
        return self._movement.stack(list(arrays), axis % (len(arrays[0].shape) + 1))

    def im2col(self, x: Any, kernel, stride, padding, dilation) -> Any:
        return self._movement.im2col(x, kernel, stride, padding, dilation)

    def col2im(self, cols: Any, shape, kernel, stride, padding, dilation) -> Any:
        return self._movement.col2im(cols, shape, kernel, stride, padding, dilation)

    def _device_index(self, index: tuple) -> tuple:
        items = []
        for item in index:
            if isinstance(item, np.ndarray) or (self.is_array(item) and item.dtype == np.bool_):
                host = item if isinstance(item, np.ndarray) else self.to_host(item)
                if host.dtype == np.bool_:
                    items.extend(self.from_host(i.astype(np.int64)) for i in np.nonzero(host))
                else:
                    items.append(self.from_host(host))
            else:
                items.append(item)
        return tuple(items)

    # -- activations -----------------------------------------------------------------------

    def act_forward(self, name: str, x: Any, alpha: float = 0.0) -> Any:
        _check_activation("act_forward", name)
        return self._elementwise.act_forward(name, x, float(alpha))

    def act_backward(self, name: str, grad: Any, x: Any, y: Any, alpha: float = 0.0) -> Any:
        """`grad * act'(x)`, using the saved output `y` where that is cheaper."""
        _check_activation("act_backward", name)
        return self._elementwise.act_backward(name, grad, x, y, float(alpha))

    def bias_act_forward(self, name: str, x: Any, bias: Any, alpha: float = 0.0) -> Any:
        """`act(x + bias)` in one kernel."""
        _check_activation("bias_act_forward", name)
        return self._elementwise.bias_act_forward(name, x, bias, float(alpha))

    # -- fused losses ----------------------------------------------------------------------

    def softmax_cross_entropy_forward(
        self, logits: Any, targets: Any, label_smoothing: float = 0.0, ignore_index: int = -100
    ) -> tuple[Any, Any, Any]:
        """Per-row losses (N,), the softmax (N, C) and the rows that count: one thread per row."""
        smoothing, ignore = float(label_smoothing), int(ignore_index)
        return self._fused.softmax_cross_entropy_forward(logits, targets, smoothing, ignore)

    def softmax_cross_entropy_backward(
        self,
        probs: Any,
        targets: Any,
        grad_losses: Any,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
    ) -> Any:
        """The logits' gradient (N, C) from the forward's softmax and each row's loss gradient
        (N,), 0 in ignored rows: one thread per entry."""
        smoothing, ignore = float(label_smoothing), int(ignore_index)
        return self._fused.softmax_cross_entropy_backward(
            probs, targets, grad_losses, smoothing, ignore
        )

    # -- optimizer updates (in place, one kernel each) -------------------------------------

    def sgd_update(
        self,
        param: Any,
        grad: Any,
        momentum_buffer: Any | None,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        first_step: bool = False,
    ) -> None:
        """One `torch.optim.SGD` step on one parameter, in place, in one kernel."""
        self._fused.sgd_update(
            param,
            grad,
            momentum_buffer,
            _host_number(lr),
            float(momentum),
            float(dampening),
            bool(nesterov),
            float(weight_decay),
            bool(first_step),
        )

    def adam_update(
        self,
        param: Any,
        grad: Any,
        exp_avg: Any,
        exp_avg_sq: Any,
        max_exp_avg_sq: Any | None,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        step: int,
        decoupled: bool = False,
        amsgrad: bool = False,
    ) -> None:
        """One `torch.optim.Adam` (or AdamW, `decoupled=True`) step, in place, in one kernel."""
        self._fused.adam_update(
            param,
            grad,
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq,
            _host_number(lr),
            float(beta1),
            float(beta2),
            float(eps),
            float(weight_decay),
            int(_host_number(step)),
            bool(decoupled),
            bool(amsgrad),
        )

    def rmsprop_update(
        self,
        param: Any,
        grad: Any,
        square_avg: Any,
        grad_avg: Any | None,
        momentum_buffer: Any | None,
        lr: float,
        alpha: float,
        eps: float,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        """One `torch.optim.RMSprop` step on one parameter, in place, in one kernel."""
        self._fused.rmsprop_update(
            param,
            grad,
            square_avg,
            grad_avg,
            momentum_buffer,
            _host_number(lr),
            float(alpha),
            float(eps),
            float(weight_decay),
            float(momentum),
            bool(centered),
        )

    def adagrad_update(
        self,
        param: Any,
        grad: Any,
        state_sum: Any,
        lr: float,
        lr_decay: float,
        weight_decay: float,
        eps: float,
        step: int,
    ) -> None:
        """One `torch.optim.Adagrad` step on one parameter, in place, in one kernel."""
        self._fused.adagrad_update(
            param,
            grad,
            state_sum,
            _host_number(lr),
            float(lr_decay),
            float(weight_decay),
            float(eps),
            int(_host_number(step)),
        )

    # -- device ----------------------------------------------------------------------------

    def synchronize(self) -> None:
        """Waits for every queued kernel and copy on the GPU."""
        self._cuda.synchronize()

    def device_properties(self) -> dict[str, Any]:
        if self.simulated:
            return {"name": "Numba CUDA simulator (runs on the CPU)"}
        device = self._cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
        _, total = self._cuda.current_context().get_memory_info()
        return {
            "name": name,
            "total_memory": int(total),
            "compute_capability": tuple(device.compute_capability),
        }


def _host_number(value: Any) -> float:
    """A Python number from a number or a 0-d device array: the learning rate and step count of
    a capturable optimizer, which live in device memory. Numba launches take scalars from the
    host and nothing is captured on this backend, so reading them here costs one small copy."""
    if hasattr(value, "copy_to_host"):
        return float(value.copy_to_host().item())
    return float(value)


def _check_activation(op: str, name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {name!r}; known: {ACTIVATIONS}")
