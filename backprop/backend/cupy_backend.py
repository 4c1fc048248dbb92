"""The CuPy backend: the generic contract on `cupy.ndarray`, with the hot paths replaced.

Matmul calls cuBLAS through its handle, with the stream set on every call and scalars passed
from the host, so it can run inside CUDA stream capture (CuPy's own matmul refuses to);
transposes are cuBLAS flags, not copies. Activations, bias + activation, softmax cross-entropy
and the SGD, Adam, RMSprop and Adagrad updates are our CUDA C from `kernels/`, compiled by NVRTC
on first use and cached by CuPy on disk. Everything else is the generic code of `base.py` on
CuPy.

Nothing here reads a device value back to the host except `to_host`, so a training step queues
its work without synchronising; `to_host` and `synchronize` refuse while a CUDA graph is being
captured on the current stream, naming themselves, where they would invalidate the capture.
Random numbers are drawn on the host, as in every backend, and copied over: one seed gives the
same numbers on the CPU and the GPU. `from_host` refuses during a capture too, since a captured
copy would bring the same host numbers back at every replay. With `lr` and `step` in device
memory (a capturable optimizer) the optimizer updates launch kernel variants that read them
there.

Importing this module never needs a GPU or CuPy; `unavailable_reason()` says why it cannot run.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from backprop import kernels
from backprop.backend import philox
from backprop.backend.base import ACTIVATIONS, Backend
from backprop.backend.precision import get_float32_matmul_precision

try:
    import cupy
except ImportError as error:
    cupy = None
    _CUPY_IMPORT_ERROR: ImportError | None = error
else:
    _CUPY_IMPORT_ERROR = None

KERNELS_DIR = Path(kernels.__file__).parent
COMPILE_OPTIONS = ("--std=c++17",)
THREADS_PER_BLOCK = 256
WARP_SIZE = 32

_SUFFIXES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
"""The dtypes our kernels and gemm calls take, and the suffix of their kernel names."""

_GEMM_SCALARS = {dtype: (np.ones((), dtype), np.zeros((), dtype)) for dtype in _SUFFIXES}
"""cuBLAS's alpha = 1 and beta = 0, read from host memory at each call (a captured graph keeps
their values)."""

_NULL_POINTER = np.uint64(0)
"""A null device pointer, passed for a state array an optimizer rule does not use."""

_LOCAL_INCLUDE = re.compile(r'^#include "([\w.]+)"$', re.MULTILINE)


def unavailable_reason() -> str | None:
    """None when CuPy can run here, else why not: CuPy missing, no driver, no device, or the
    NVRTC and cuBLAS libraries that the CuPy wheels leave to the `[ctk]` extra."""
    if cupy is None:
        return (
            "CuPy is not installed (pip install 'backprop[cuda12]' or 'backprop[cuda13]'): "
            f"{_CUPY_IMPORT_ERROR}"
        )
    runtime = cupy.cuda.runtime
    if runtime.driverGetVersion() == 0:
        return "no CUDA driver: CuPy is installed but no NVIDIA driver was found"
    try:
        count = runtime.getDeviceCount()
    except runtime.CUDARuntimeError as error:
        return f"no usable CUDA device: {error}"
    if count == 0:
        return "no CUDA device found"
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # the library loader raises its own error types
        return (
            "NVRTC is missing, and our CUDA kernels are compiled with it at run time "
            f"(install cupy-cuda12x[ctk] or cupy-cuda13x[ctk]): {error}"
        )
    try:
        _cublas()
    except ImportError as error:
        return f"cuBLAS cannot be loaded (install cupy-cuda12x[ctk] or cupy-cuda13x[ctk]): {error}"
    return None


@functools.cache
def _cublas() -> Any:
    # Imported on first use: the module fails to import where the cuBLAS library is absent.
    from cupy_backends.cuda.libs import cublas

    return cublas


def kernel_source(filename: str) -> str:
    """The CUDA C of `kernels/<filename>` with its local `#include "x.cuh"` lines replaced by the
    headers' text: one self-contained source, so CuPy's compile cache, which keys on the source
    text, sees a changed header too."""
    included: set[str] = set()

    def expand(name: str) -> str:
        if name in included:
            return ""
        included.add(name)
        text = (KERNELS_DIR / name).read_text()
        return _LOCAL_INCLUDE.sub(lambda match: expand(match.group(1)), text)

    return expand(filename)


def _activation_index(op: str, name: str) -> int:
    if name not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {name!r}; known: {ACTIVATIONS}")
    return ACTIVATIONS.index(name)


def _kernel_ready(*arrays: Any) -> bool:
    """True when our kernels take these arrays: CuPy arrays of one float dtype and one shape."""
    first = arrays[0]
    return first.dtype in _SUFFIXES and all(
        isinstance(a, cupy.ndarray) and a.dtype == first.dtype and a.shape == first.shape
        for a in arrays
    )


def _scalars_on_device(param: Any, *values: Any) -> bool | None:
    """True when every value is a 0-d CuPy array of `param`'s dtype (a capturable optimizer's
    learning rate and step count), False when none is an array, None for a mix: the generic
    code takes that."""
    arrays = [isinstance(value, cupy.ndarray) for value in values]
    if not any(arrays):
        return False
    if all(arrays) and all(v.shape == () and v.dtype == param.dtype for v in values):
        return True
    return None


def _contiguous(*arrays: Any) -> bool:
    """True when a kernel that reads these arrays flat can update them in place."""
    return all(a.flags.c_contiguous for a in arrays)


def _gemm_operand(x: Any, transposed: bool, batch: tuple[int, ...]) -> tuple[Any, bool, int]:
    """`x` as cuBLAS reads it: C-contiguous matrices (a transposed view becomes its contiguous
    original with the flag flipped, not a copy), and the element stride between the matrices of
    the batch, 0 when one matrix serves the whole batch."""
    if math.prod(x.shape[:-2]) == 1:
        x = x.reshape(x.shape[-2:])
    elif x.shape[:-2] != batch:
        x = cupy.broadcast_to(x, batch + x.shape[-2:])
    swapped = x.swapaxes(-1, -2)
    if not x.flags.c_contiguous and swapped.flags.c_contiguous:
        x, transposed = swapped, not transposed
    x = cupy.ascontiguousarray(x)
    stride = x.shape[-2] * x.shape[-1] if x.ndim > 2 else 0
    return x, transposed, stride


def _refuse_during_capture(message: str) -> None:
    """Raises RuntimeError(message) when the current stream is recording a CUDA graph."""
    if cupy.cuda.get_current_stream().is_capturing():
        raise RuntimeError(message)


def _on_device(method: Callable) -> Callable:
    @functools.wraps(method)
    def run_on_device(self: CupyBackend, *args: Any, **kwargs: Any) -> Any:
        with self.cuda_device:
            return method(self, *args, **kwargs)

    return run_on_device


def _run_on_own_device(cls: type) -> type:
    """Makes every public method of `cls` run with its GPU current, so that `cuda:1` arrays
    are made and computed on GPU 1 whichever device the caller has made current."""
    for name in dir(cls):
        method = getattr(cls, name)
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(cls, name, _on_device(method))
    return cls


@_run_on_own_device
class CupyBackend(Backend):
    """The contract on CuPy arrays of one GPU, with cuBLAS matmul and our own CUDA kernels."""

    name = "cupy"
    device_type = "cuda"
    xp = cupy

    def __init__(self, index: int = 0):
        super().__init__(index)
        count = cupy.cuda.runtime.getDeviceCount()
        if not 0 <= index < count:
            raise ValueError(f"device: cuda:{index} does not exist; this machine has {count}")
        self.cuda_device = cupy.cuda.Device(index)
        attributes = self.cuda_device.attributes
        blocks_per_sm = attributes["MaxThreadsPerMultiProcessor"] // THREADS_PER_BLOCK
        self._max_blocks = attributes["MultiProcessorCount"] * blocks_per_sm
        self._modules: dict[str, Any] = {}
        self._functions: dict[str, Any] = {}
        self._cublas_handle: int | None = None
        self._erf = cupy.ElementwiseKernel("T x", "T y", "y = erf(x)", "backprop_erf")
        self._erfc = cupy.ElementwiseKernel("T x", "T y", "y = erfc(x)", "backprop_erfc")

    # -- host transfer -----------------------------------------------------------------------

    def from_host(self, array: np.ndarray) -> Any:
        """Copies host data to the GPU: refused while the current stream records a CUDA graph,
        where the graph would copy the same host buffer again at every replay (a dropout mask
        drawn on the host would repeat, and a freed staging buffer could be read)."""
        _refuse_during_capture(
            "from_host: host data (a NumPy operand, an index list, random numbers drawn on the "
            "host such as a dropout mask) cannot be copied to the GPU inside a CUDA graph "
            "capture, where every replay would reuse the captured copy; pass it to the step as "
            "an input, or build it before the step"
        )
        return cupy.asarray(array)

    def to_host(self, x: Any) -> np.ndarray:
        """Copies `x` to the host and waits for it: refused while the current stream records a
        CUDA graph, where a host read cannot be captured and would invalidate the capture."""
        _refuse_during_capture(
            "to_host: a device value cannot be read on the host (.item(), .numpy(), printing a "
            "tensor) while a CUDA graph is being captured; return the tensor from the step and "
            "read it after the replay"
        )
        return x.get()

    # -- matmul through cuBLAS ---------------------------------------------------------------

    def matmul(self, a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
        """`op(a) @ op(b)` by one cuBLAS gemm (batched when needed) for float32 and float64."""
        if a.dtype != b.dtype or a.dtype not in _SUFFIXES:
            return super().matmul(a, b, transpose_a, transpose_b)
        m, k = a.shape[-2:][::-1] if transpose_a else a.shape[-2:]
        n = b.shape[-2] if transpose_b else b.shape[-1]
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        out = cupy.empty(batch + (m, n), dtype=a.dtype)
        if out.size == 0:
            return out
        if k == 0:
            out.fill(0)
            return out
        target = out
        if b.ndim == 2 and a.ndim > 2 and not transpose_a:
            # A stack of matrices times one matrix is one tall matrix times it: a single gemm.
            a, batch, target = cupy.ascontiguousarray(a).reshape(-1, k), (), out.reshape(-1, n)
        a, transpose_a, stride_a = _gemm_operand(a, transpose_a, batch)
        b, transpose_b, stride_b = _gemm_operand(b, transpose_b, batch)
        self._gemm(a, transpose_a, stride_a, b, transpose_b, stride_b, target, math.prod(batch))
        return out

    def _gemm(self, a, transpose_a, stride_a, b, transpose_b, stride_b, out, batch_count):
        """Row-major `out = op(a) @ op(b)` for `batch_count` matrices, on the current stream.

        cuBLAS is column-major, and a row-major matrix read column-major is its transpose, so
        this asks for out^T = op(b)^T op(a)^T: b goes first and each leading dimension is the
        stored row length."""
        cublas = _cublas()
        handle = self._handle()
        cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
        tf32 = a.dtype == np.float32 and get_float32_matmul_precision() == "high"
        cublas.setMathMode(
            handle, cublas.CUBLAS_TF32_TENSOR_OP_MATH if tf32 else cublas.CUBLAS_DEFAULT_MATH
        )
        one, zero = (scalar.ctypes.data for scalar in _GEMM_SCALARS[a.dtype])
        m, n = out.shape[-2:]
        k = a.shape[-2] if transpose_a else a.shape[-1]
        ops = [cublas.CUBLAS_OP_T if t else cublas.CUBLAS_OP_N for t in (transpose_b, transpose_a)]
        single = a.dtype == np.float32
        if batch_count == 1:
            gemm = cublas.sgemm if single else cublas.dgemm
            gemm(handle, *ops, n, m, k, one, b.data.ptr, b.shape[-1], a.data.ptr, a.shape[-1],
                 zero, out.data.ptr, n)  # fmt: skip
        else:
            gemm = cublas.sgemmStridedBatched if single else cublas.dgemmStridedBatched
            gemm(handle, *ops, n, m, k, one, b.data.ptr, b.shape[-1], stride_b, a.data.ptr,
                 a.shape[-1], stride_a, zero, out.data.ptr, n, m * n, batch_count)  # fmt: skip

    def _handle(self) -> int:
        """This device's cuBLAS handle, our own so CuPy's settings and ours never mix."""
        if self._cublas_handle is None:
            self._cublas_handle = _cublas().create()
        return self._cublas_handle

    # -- our CUDA kernels --------------------------------------------------------------------

    def _launch(
        self, source: str, kernel: str, blocks: int, args: tuple, typed: bool = True
    ) -> None:
        """Runs `<kernel>_<f32|f64>` of `kernels/<source>`, typed by the dtype of `args[0]` (or
        `kernel` itself when not `typed`), on the current stream, compiling the file on first
        use. Scalars in `args` must be NumPy scalars of the kernel's C types (CuPy passes a
        Python int as 64 bits)."""
        name = f"{kernel}_{_SUFFIXES[args[0].dtype]}" if typed else kernel
        if name not in self._functions:
            if source not in self._modules:
                code = kernel_source(source)
                self._modules[source] = cupy.RawModule(code=code, options=COMPILE_OPTIONS)
            self._functions[name] = self._modules[source].get_function(name)
        self._functions[name]((blocks,), (THREADS_PER_BLOCK,), args)

    def _blocks(self, items: int, items_per_block: int = THREADS_PER_BLOCK) -> int:
        """Enough blocks to fill the device once; grid-stride loops cover the rest."""
        return max(1, min(-(-items // items_per_block), self._max_blocks))

    def dropout_mask(self, shape: tuple[int, ...], p: float, state: Any) -> Any:
        """One thread per four elements of the mask, then a one-thread kernel that advances the
        offset: two launches, no host transfer, so a captured step draws anew at each replay."""
        keep = cupy.empty(tuple(shape), dtype=cupy.bool_)
        if keep.size:
            threshold = np.uint32(philox.dropout_threshold(p))
            args = (state, keep, np.int64(keep.size), threshold)
            blocks = self._blocks(-(-keep.size // 4))
            self._launch("dropout.cu", "dropout_mask", blocks, args, typed=False)
        self._launch("dropout.cu", "philox_advance", 1, (state,), typed=False)
        return keep

    def act_forward(self, name: str, x: Any, alpha: float = 0.0) -> Any:
        kind = _activation_index("act_forward", name)
        if not _kernel_ready(x):
            return super().act_forward(name, x, alpha)
        x = cupy.ascontiguousarray(x)
        y = cupy.empty_like(x)
        if x.size:
            args = (x, y, np.int64(x.size), np.int32(kind), x.dtype.type(alpha))
            self._launch("activations.cu", "act_forward", self._blocks(x.size), args)
        return y

    def act_backward(self, name: str, grad: Any, x: Any, y: Any, alpha: float = 0.0) -> Any:
        kind = _activation_index("act_backward", name)
        if not _kernel_ready(grad, x, y):
            return super().act_backward(name, grad, x, y, alpha)
        grad, x, y = (cupy.ascontiguousarray(a) for a in (grad, x, y))
        out = cupy.empty_like(grad)
        if grad.size:
            args = (grad, x, y, out, np.int64(grad.size), np.int32(kind), grad.dtype.type(alpha))
            self._launch("activations.cu", "act_backward", self._blocks(grad.size), args)
        return out

    def bias_act_forward(self, name: str, x: Any, bias: Any, alpha: float = 0.0) -> Any:
        """`act(x + bias)` in one kernel when `bias` runs along the last axis of `x`."""
        kind = _activation_index("bias_act_forward", name)
        along_last_axis = x.ndim >= 1 and bias.ndim <= x.ndim and bias.size == x.shape[-1]
        if not (along_last_axis and bias.shape[-1:] == x.shape[-1:] and _kernel_ready(x)):
            return super().bias_act_forward(name, x, bias, alpha)
        if bias.dtype != x.dtype:
            return super().bias_act_forward(name, x, bias, alpha)
        x = cupy.ascontiguousarray(x)
        bias = cupy.ascontiguousarray(bias).reshape(-1)
        y = cupy.empty_like(x)
        if x.size:
            features = np.int64(bias.size)
            args = (x, bias, y, np.int64(x.size), features, np.int32(kind), x.dtype.type(alpha))
            self._launch("activations.cu", "bias_act_forward", self._blocks(x.size), args)
        return y

    def erf(self, x: Any) -> Any:
        """The device's `erf`, one elementwise kernel."""
        return self._erf(x)

    def erfc(self, x: Any) -> Any:
        """The device's `erfc`, one elementwise kernel."""
        return self._erfc(x)

    def softmax_cross_entropy_forward(
        self, logits: Any, targets: Any, label_smoothing: float = 0.0, ignore_index: int = -100
    ) -> tuple[Any, Any, Any]:
        """One warp per row: the row's max, sum of exponentials and loss in one read, then the
        softmax; the row's count (0 where its target is `ignore_index`) in the same pass."""
        if not (_kernel_ready(logits) and logits.ndim == 2 and logits.shape[1] > 0):
            return super().softmax_cross_entropy_forward(
                logits, targets, label_smoothing, ignore_index
            )
        logits = cupy.ascontiguousarray(logits)
        targets = cupy.ascontiguousarray(targets, dtype=np.int64)
        rows, classes = logits.shape
        losses = cupy.empty(rows, dtype=logits.dtype)
        counted = cupy.empty(rows, dtype=logits.dtype)
        probs = cupy.empty_like(logits)
        if rows:
            smoothing = logits.dtype.type(label_smoothing)
            sizes = (np.int64(rows), np.int32(classes), smoothing, np.int64(ignore_index))
            args = (logits, targets, losses, probs, counted, *sizes)
            blocks = self._blocks(rows, THREADS_PER_BLOCK // WARP_SIZE)
            self._launch("softmax_cross_entropy.cu", "softmax_cross_entropy_forward", blocks, args)
        return losses, probs, counted

    def softmax_cross_entropy_backward(
        self,
        probs: Any,
        targets: Any,
        grad_losses: Any,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
    ) -> Any:
        """The gradient elementwise; `grad_losses` is read in place with its stride, so the
        broadcast gradient of a mean (stride 0) is not copied first."""
        rows_match = probs.ndim == 2 and grad_losses.shape == probs.shape[:1]
        if not (rows_match and _kernel_ready(probs) and grad_losses.dtype == probs.dtype):
            return super().softmax_cross_entropy_backward(
                probs, targets, grad_losses, label_smoothing, ignore_index
            )
        probs = cupy.ascontiguousarray(probs)
        targets = cupy.ascontiguousarray(targets, dtype=np.int64)
        grad = cupy.empty_like(probs)
        if probs.size:
            smoothing = probs.dtype.type(label_smoothing)
            sizes = (np.int64(probs.size), np.int32(probs.shape[1]), smoothing)
            grad_stride = np.int64(grad_losses.strides[0] // grad_losses.itemsize)
            args = (probs, targets, grad_losses, grad, *sizes, np.int64(ignore_index), grad_stride)
            blocks = self._blocks(probs.size)
            self._launch("softmax_cross_entropy.cu", "softmax_cross_entropy_backward", blocks, args)
        return grad

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
        """One `torch.optim.SGD` step on one parameter in one kernel, which reads `lr` from
        device memory when it is a 0-d array (a capturable optimizer)."""
        state = [momentum_buffer] if momentum else []
        fused = _kernel_ready(param, grad, *state) and _contiguous(param, *state)
        on_device = _scalars_on_device(param, lr)
        if not fused or on_device is None:
            super().sgd_update(
                param,
                grad,
                momentum_buffer,
                lr,
                momentum,
                dampening,
                nesterov,
                weight_decay,
                first_step,
            )
            return
        if param.size:
            scalar = param.dtype.type
            buffer = momentum_buffer if momentum else _NULL_POINTER
            args = (
                param,
                cupy.ascontiguousarray(grad),
                buffer,
                np.int64(param.size),
                lr if on_device else scalar(lr),
                scalar(momentum),
                scalar(dampening),
                np.bool_(nesterov),
                scalar(weight_decay),
                np.bool_(first_step),
            )
            kernel = "sgd_update_device_scalars" if on_device else "sgd_update"
            self._launch("optimizers.cu", kernel, self._blocks(param.size), args)

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
        """One `torch.optim.Adam` (or AdamW) step on one parameter in one kernel; the bias
        corrections are computed on the host from `step`, a Python int, or, when `lr` and `step`
        are 0-d arrays (a capturable optimizer), by the kernel from their values in device
        memory."""
        state = [exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
        fused = _kernel_ready(param, grad, *state) and _contiguous(param, *state)
        on_device = _scalars_on_device(param, lr, step)
        if not fused or on_device is None:
            super().adam_update(
                param,
                grad,
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                step,
                decoupled,
                amsgrad,
            )
            return
        if param.size:
            scalar = param.dtype.type
            maximum = max_exp_avg_sq if amsgrad else _NULL_POINTER
            flags = (np.bool_(decoupled), np.bool_(amsgrad))
            tensors = (param, cupy.ascontiguousarray(grad), exp_avg, exp_avg_sq, maximum)
            blocks = self._blocks(param.size)
            if on_device:
                betas = (np.float64(beta1), np.float64(beta2))
                rates = (scalar(eps), scalar(weight_decay))
                args = (*tensors, np.int64(param.size), lr, step, *betas, *rates, *flags)
                self._launch("optimizers.cu", "adam_update_device_scalars", blocks, args)
                return
            corrections = scalar(1 - beta1**step), scalar(math.sqrt(1 - beta2**step))
            rates = (scalar(v) for v in (lr, beta1, beta2, eps, weight_decay))
            args = (*tensors, np.int64(param.size), *rates, *flags, *corrections)
            self._launch("optimizers.cu", "adam_update", blocks, args)

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
        """One `torch.optim.RMSprop` step on one parameter in one kernel, which reads `lr` from
        device memory when it is a 0-d array (a capturable optimizer)."""
        state = [square_avg] + ([grad_avg] if centered else [])
        state += [momentum_buffer] if momentum else []
        fused = _kernel_ready(param, grad, *state) and _contiguous(param, *state)
        on_device = _scalars_on_device(param, lr)
        if not fused or on_device is None:
            super().rmsprop_update(
                param,
                grad,
                square_avg,
                grad_avg,
                momentum_buffer,
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            )
            return
        if param.size:
            scalar = param.dtype.type
            means = grad_avg if centered else _NULL_POINTER
            buffer = momentum_buffer if momentum else _NULL_POINTER
            tensors = (param, cupy.ascontiguousarray(grad), square_avg, means, buffer)
            rates = (scalar(v) for v in (alpha, eps, weight_decay, momentum))
            args = (
                *tensors,
                np.int64(param.size),
                lr if on_device else scalar(lr),
                *rates,
                np.bool_(centered),
            )
            kernel = "rmsprop_update_device_scalars" if on_device else "rmsprop_update"
            self._launch("optimizers.cu", kernel, self._blocks(param.size), args)

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
        """One `torch.optim.Adagrad` step on one parameter in one kernel; the decayed learning
        rate is computed on the host from `lr` and `step`, Python numbers, or, when they are 0-d
        arrays (a capturable optimizer), by the kernel from their values in device memory."""
        fused = _kernel_ready(param, grad, state_sum) and _contiguous(param, state_sum)
        on_device = _scalars_on_device(param, lr, step)
        if not fused or on_device is None:
            super().adagrad_update(param, grad, state_sum, lr, lr_decay, weight_decay, eps, step)
            return
        if param.size:
            scalar = param.dtype.type
            tensors = (param, cupy.ascontiguousarray(grad), state_sum, np.int64(param.size))
            rates = (scalar(weight_decay), scalar(eps))
            blocks = self._blocks(param.size)
            if on_device:
                args = (*tensors, lr, step, np.float64(lr_decay), *rates)
                self._launch("optimizers.cu", "adagrad_update_device_scalars", blocks, args)
                return
            clr = scalar(lr / (1 + (step - 1) * lr_decay))
            self._launch("optimizers.cu", "adagrad_update", blocks, (*tensors, clr, *rates))

    # -- device ------------------------------------------------------------------------------

    def synchronize(self) -> None:
        """Waits for all work queued on this GPU."""
        _refuse_during_capture(
            "synchronize: waiting for the GPU is not possible while a CUDA graph is being "
            "captured; synchronize after the replay"
        )
        self.cuda_device.synchronize()

    def device_properties(self) -> dict[str, Any]:
        properties = cupy.cuda.runtime.getDeviceProperties(self.index)
        return {
            "name": properties["name"].decode(),
            "total_memory": properties["totalGlobalMem"],
            "compute_capability": (properties["major"], properties["minor"]),
        }

    def memory_stats(self) -> dict[str, int]:
        """Bytes of CuPy's memory pool on this GPU, under PyTorch's names: held by arrays
        ("allocated") and held by the pool, in use or cached for reuse ("reserved")."""
        pool = cupy.get_default_memory_pool()
        return {
            "allocated_bytes.all.current": pool.used_bytes(),
            "reserved_bytes.all.current": pool.total_bytes(),
        }

    def empty_cache(self) -> None:
        """Returns the pool's cached, unused blocks on this GPU to the driver."""
        cupy.get_default_memory_pool().free_all_blocks()
