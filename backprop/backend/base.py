"""The backend contract: the short list of array primitives everything above is written against.

`Backend` implements every primitive once against an array module `self.xp` with NumPy's API
(NumPy itself, or CuPy). A GPU backend subclasses it and overrides only its hot paths (matmul,
activations, the fused kernels); a backend whose arrays have no NumPy-like module (Numba) overrides
them all. `tests/test_backend_conformance.py` is the executable form of this contract.

Arrays are the backend's own type; dtypes are NumPy dtypes. Shapes are tuples of ints; `axes` is
a tuple of ints or None (all axes). Binary primitives accept a Python scalar for either operand,
taking the array operand's dtype. Primitives never read values back to the host unless their name
says so (`to_host`), so a GPU step runs without hidden synchronisation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop.backend import philox, special

ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "gelu",
    "gelu_tanh",
    "silu",
    "softplus",
    "elu",
)
"""Activation names understood by `act_forward` / `act_backward` / `bias_act_forward`.

`alpha` is the one parameter some take: leaky_relu's negative slope, elu's alpha, softplus's beta.
"""

OUTPUT_ONLY_BACKWARD = frozenset({"relu", "sigmoid", "tanh"})
"""Activations whose `act_backward` reads only the output `y`: a caller without the input may
pass `y` for `x` (the fused bias+activation backward then skips recomputing `x + bias`)."""

UNARY_OPS = (
    "neg",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sign",
    "sin",
    "cos",
    "erf",
    "log1p",
    "expm1",
    "log2",
    "log10",
    "sinh",
    "cosh",
    "asin",
    "acos",
    "atan",
    "asinh",
    "acosh",
    "atanh",
    "erfc",
    "signbit",
)
"""Elementwise math in the input's float dtype. `signbit` is 1 where the sign bit is set (on
-0.0 and negative NaN too, which comparisons cannot see) and 0 elsewhere."""
BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
REDUCE_OPS = ("sum", "mean", "max", "min")

SOFTPLUS_THRESHOLD = 20.0
"""Above beta * x > threshold softplus is the identity, as in PyTorch."""

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_NUMPY_NAMES = {
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
}
"""The NumPy (and CuPy) names of the unary ops that NumPy spells differently."""
_GELU_TANH_C = 0.044715


class Backend:
    """Generic implementation of the contract on a NumPy-compatible array module `xp`."""

    name: str = "generic"
    device_type: str = "cpu"
    xp: Any = np
    simulated: bool = False
    """True for a GPU backend running in a simulator on the CPU: correct, far too slow to time."""

    def __init__(self, index: int = 0):
        self.index = index

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.device_type}:{self.index}>"

    # -- arrays and creation ---------------------------------------------------------------

    def is_array(self, x: Any) -> bool:
        return isinstance(x, self.xp.ndarray)

    def zeros(self, shape: tuple[int, ...], dtype) -> Any:
        return self.xp.zeros(shape, dtype=dtype)

    def ones(self, shape: tuple[int, ...], dtype) -> Any:
        return self.xp.ones(shape, dtype=dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype) -> Any:
        return self.xp.full(shape, value, dtype=dtype)

    def empty(self, shape: tuple[int, ...], dtype) -> Any:
        return self.xp.empty(shape, dtype=dtype)

    def arange(self, start: float, stop: float, step: float, dtype) -> Any:
        return self.xp.arange(start, stop, step, dtype=dtype)

    def random_normal(self, shape, dtype, rng: np.random.Generator, mean=0.0, std=1.0) -> Any:
        """Draws on the host from `rng`, so one seed gives the same numbers on every backend."""
        return self.from_host(rng.normal(mean, std, size=shape).astype(dtype))

    def random_uniform(self, shape, dtype, rng: np.random.Generator, low=0.0, high=1.0) -> Any:
        """Draws on the host from `rng`, so one seed gives the same numbers on every backend."""
        return self.from_host(rng.uniform(low, high, size=shape).astype(dtype))

    def dropout_mask(self, shape: tuple[int, ...], p: float, state: Any) -> Any:
        """A bool mask of `shape`, True with probability about 1 - p, from the Philox generator
        state `state` (a uint64 array of two: seed, offset; see `backend/philox.py`), read on
        the device; the offset then advances in place, so the next call draws a new mask and a
        replayed CUDA graph draws a new one at every replay."""
        size = math.prod(shape)
        mask = philox.dropout_mask(self.xp, size, philox.dropout_threshold(p), state)
        state[1:2] += np.uint64(1)
        return mask.reshape(shape)

    def from_host(self, array: np.ndarray) -> Any:
        return self.xp.asarray(array)

    def to_host(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def astype(self, x: Any, dtype) -> Any:
        return x.astype(dtype, copy=False)

    def copy(self, x: Any) -> Any:
        return x.copy()

    def assign(self, target: Any, value: Any) -> None:
        """Writes `value` (same shape, or a scalar) into `target` in place."""
        target[...] = value

    # -- elementwise -------------------------------------------------------------------------

    def unary(self, op: str, x: Any) -> Any:
        xp = self.xp
        if op == "neg":
            return xp.negative(x)
        if op == "erf":
            return self.erf(x)
        if op == "erfc":
            return self.erfc(x)
        if op == "signbit":
            return xp.signbit(x).astype(x.dtype)
        return getattr(xp, _NUMPY_NAMES.get(op, op))(x)

    def binary(self, op: str, x: Any, y: Any) -> Any:
        xp = self.xp
        functions = {
            "add": xp.add,
            "sub": xp.subtract,
            "mul": xp.multiply,
            "div": xp.divide,
            "pow": xp.power,
            "maximum": xp.maximum,
            "minimum": xp.minimum,
        }
        return functions[op](x, y)

    def compare(self, op: str, x: Any, y: Any) -> Any:
        xp = self.xp
        functions = {
            "eq": xp.equal,
            "ne": xp.not_equal,
            "lt": xp.less,
            "le": xp.less_equal,
            "gt": xp.greater,
            "ge": xp.greater_equal,
        }
        return functions[op](x, y)

    def where(self, condition: Any, x: Any, y: Any) -> Any:
        return self.xp.where(condition, x, y)

    # -- reductions --------------------------------------------------------------------------

    def reduce(self, op: str, x: Any, axes: tuple[int, ...] | None, keepdims: bool) -> Any:
        function = {
            "sum": self.xp.sum,
            "mean": self.xp.mean,
            "max": self.xp.max,
            "min": self.xp.min,
        }
        return function[op](x, axis=axes, keepdims=keepdims)

    def argmax(self, x: Any, axis: int | None, keepdims: bool) -> Any:
        result = self.xp.argmax(x, axis=axis)
        if keepdims:
            result = (
                self.xp.expand_dims(result, axis)
                if axis is not None
                else result.reshape((1,) * x.ndim)
            )
        return result.astype(np.int64)

    def argsort(self, x: Any, axis: int, descending: bool) -> Any:
        """int64 indices that sort `x` (at least 1-d) along `axis`, stably: equal values keep
        their order. NaN counts as the largest value, as in PyTorch: last in ascending order,
        first in descending. Descending sorts the axis reversed and reverses the result back,
        which keeps ties in order without negating (which would overflow for integers)."""
        xp = self.xp
        if not descending:
            return xp.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
        reversed_order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
        return (x.shape[axis] - 1 - xp.flip(reversed_order, axis)).astype(np.int64, copy=False)

    # -- linear algebra ----------------------------------------------------------------------

    def matmul(self, a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
        """`op(a) @ op(b)` over the last two axes, batch axes broadcast; op transposes them."""
        if transpose_a:
            a = self.xp.swapaxes(a, -1, -2)
        if transpose_b:
            b = self.xp.swapaxes(b, -1, -2)
        return self.xp.matmul(a, b)

    # -- movement ----------------------------------------------------------------------------

    def reshape(self, x: Any, shape: tuple[int, ...]) -> Any:
        return self.xp.reshape(x, shape)

    def permute(self, x: Any, axes: tuple[int, ...]) -> Any:
        return self.xp.transpose(x, axes)

    def broadcast_to(self, x: Any, shape: tuple[int, ...]) -> Any:
        return self.xp.broadcast_to(x, shape)

    def getitem(self, x: Any, index: tuple) -> Any:
        """Basic and integer-array indexing; `index` is a tuple of ints, slices, None, Ellipsis
        and integer arrays of this backend."""
        return x[index]

    def setitem(self, x: Any, index: tuple, value: Any) -> None:
        """Writes `value` (an array broadcastable to `x[index]`, or a scalar; cast to `x`'s
        dtype) at `x[index]` in place, `index` as `getitem` takes it. Where an integer array
        repeats a position, one of its values lands there (which one is unspecified)."""
        x[index] = value

    def index_add(self, shape: tuple[int, ...], index: tuple, values: Any) -> Any:
        """Zeros of `shape` with `values` added at `x[index]`, repeated indices summed:
        the gradient of `getitem`."""
        out = self.zeros(shape, values.dtype)
        self.xp.add.at(out, index, values)
        return out

    def gather(self, x: Any, axis: int, index: Any) -> Any:
        """`out[i][j][k] = x[i][index[i][j][k]][k]` for axis 1, as `torch.gather`."""
        return self.xp.take_along_axis(x, index, axis=axis)

    def scatter_add(self, shape: tuple[int, ...], axis: int, index: Any, values: Any) -> Any:
        """Zeros of `shape` with `values` added where `gather` read them: its gradient."""
        out = self.zeros(shape, values.dtype)
        grid = list(self.xp.ix_(*(self.xp.arange(size) for size in index.shape)))
        grid[axis] = index
        self.xp.add.at(out, tuple(grid), values)
        return out

    def concatenate(self, arrays: list[Any], axis: int) -> Any:
        return self.xp.concatenate(arrays, axis=axis)

    def stack(self, arrays: list[Any], axis: int) -> Any:
        return self.xp.stack(arrays, axis=axis)

    def im2col(self, x: Any, kernel, stride, padding, dilation) -> Any:
        """(N, C, H, W) -> (N, C * kh * kw, OH * OW) patches, the columns a convolution
        multiplies by its weight matrix."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cols = xp.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                top, left = i * dh, j * dw
                cols[:, :, i, j] = padded[
                    :, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw
                ]
        return cols.reshape(n, c * kh * kw, oh * ow)

    def col2im(self, cols: Any, shape, kernel, stride, padding, dilation) -> Any:
        """Adds patches back into an (N, C, H, W) image: the gradient of `im2col`."""
        xp = self.xp
        n, c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        cols = cols.reshape(n, c, kh, kw, oh, ow)
        padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                top, left = i * dh, j * dw
                padded[
                    :, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw
                ] += cols[:, :, i, j]
        return padded[:, :, ph : ph + h, pw : pw + w]

    # -- activations -------------------------------------------------------------------------

    def act_forward(self, name: str, x: Any, alpha: float = 0.0) -> Any:
        xp = self.xp
        if name == "relu":
            return xp.maximum(x, 0)
        if name == "leaky_relu":
            return xp.where(x > 0, x, x * alpha)
        if name == "sigmoid":
            return self._sigmoid(x)
        if name == "tanh":
            return xp.tanh(x)
        if name == "gelu":
            return 0.5 * x * (1 + self.erf(x * (1 / math.sqrt(2))))
        if name == "gelu_tanh":
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)))
        if name == "silu":
            return x * self._sigmoid(x)
        if name == "softplus":
            bx = x * alpha
            soft = xp.logaddexp(0, bx) / alpha
            return xp.where(bx > SOFTPLUS_THRESHOLD, x, soft).astype(x.dtype, copy=False)
        if name == "elu":
            return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        raise ValueError(f"act_forward: unknown activation {name!r}; known: {ACTIVATIONS}")

    def act_backward(self, name: str, grad: Any, x: Any, y: Any, alpha: float = 0.0) -> Any:
        """`grad * act'(x)`, using the saved output `y` where that is cheaper."""
        xp = self.xp
        if name == "relu":
            return xp.where(y > 0, grad, 0).astype(grad.dtype, copy=False)
        if name == "leaky_relu":
            return xp.where(x > 0, grad, grad * alpha)
        if name == "sigmoid":
            return grad * y * (1 - y)
        if name == "tanh":
            return grad * (1 - y * y)
        if name == "gelu":
            cdf = 0.5 * (1 + self.erf(x * (1 / math.sqrt(2))))
            pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
            return grad * (cdf + x * pdf)
        if name == "gelu_tanh":
            inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)
            t = xp.tanh(inner)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_C * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        if name == "silu":
            s = self._sigmoid(x)
            return grad * (s * (1 + x * (1 - s)))
        if name == "softplus":
            bx = x * alpha
            return xp.where(bx > SOFTPLUS_THRESHOLD, grad, grad * self._sigmoid(bx))
        if name == "elu":
            return xp.where(x > 0, grad, grad * (y + alpha))
        raise ValueError(f"act_backward: unknown activation {name!r}; known: {ACTIVATIONS}")

    def bias_act_forward(self, name: str, x: Any, bias: Any, alpha: float = 0.0) -> Any:
        """`act(x + bias)`: one fused kernel on the GPU backends."""
        return self.act_forward(name, x + bias, alpha)

    def erf(self, x: Any) -> Any:
        """The error function of NumPy arrays, vectorised in `special` (NumPy has none; a GPU
        backend uses the device's `erf`)."""
        return special.erf(x)

    def erfc(self, x: Any) -> Any:
        """1 - erf(x) without its cancellation for large x, vectorised in `special` (a GPU
        backend uses the device's `erfc`)."""
        return special.erfc(x)

    def _sigmoid(self, x: Any) -> Any:
        # Written to never overflow: exp of a non-positive number only.
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))

    # -- fused losses ------------------------------------------------------------------------

    def softmax_cross_entropy_forward(
        self, logits: Any, targets: Any, label_smoothing: float = 0.0, ignore_index: int = -100
    ) -> tuple[Any, Any, Any]:
        """Per-row losses (N,), the softmax (N, C) of `logits` for integer `targets` (N,), and
        which rows count towards a mean (N,), 1 or 0 in the logits' dtype. A row whose target is
        `ignore_index` has loss 0 and counts 0; another target outside [0, C) gives a NaN loss.
        """
        xp = self.xp
        classes = logits.shape[1]
        counted = targets != ignore_index
        inside = (targets >= 0) & (targets < classes)
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = xp.sum(exp, axis=1, keepdims=True)
        log_probs = shifted - xp.log(total)
        safe = xp.where(inside, targets, 0)
        picked = xp.take_along_axis(log_probs, safe[:, None], axis=1)[:, 0]
        losses = -(1 - label_smoothing) * picked
        if label_smoothing:
            losses = losses - label_smoothing * xp.mean(log_probs, axis=1)
        losses = xp.where(inside, losses, xp.nan).astype(logits.dtype, copy=False)
        losses = xp.where(counted, losses, 0).astype(logits.dtype, copy=False)
        return losses, exp / total, counted.astype(logits.dtype)

    def softmax_cross_entropy_backward(
        self,
        probs: Any,
        targets: Any,
        grad_losses: Any,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
    ) -> Any:
        """Gradient of the per-row losses with respect to the logits: zero on ignored rows."""
        xp = self.xp
        n, classes = probs.shape
        inside = (targets >= 0) & (targets < classes)
        grad = probs - label_smoothing / classes
        grad[xp.arange(n), xp.where(inside, targets, 0)] -= (1 - label_smoothing) * inside
        kept = (targets != ignore_index)[:, None]
        return xp.where(kept, grad * grad_losses[:, None], 0).astype(probs.dtype, copy=False)

    # -- optimizer updates (in place) ----------------------------------------------------------
    #
    # `lr` and `step` are Python numbers, or 0-d arrays of this backend in the parameter's dtype
    # (a capturable optimizer keeps them in device memory, so a captured CUDA graph reads their
    # current values at each replay). The code below reads them without a host transfer.

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
        """One `torch.optim.SGD` step on one parameter, in place (one fused kernel on a GPU)."""
        if weight_decay:
            grad = grad + weight_decay * param
        if momentum:
            if first_step:
                momentum_buffer[...] = grad
            else:
                momentum_buffer *= momentum
                momentum_buffer += (1 - dampening) * grad
            grad = grad + momentum * momentum_buffer if nesterov else momentum_buffer
        param -= lr * grad

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
        """One `torch.optim.Adam` (or AdamW, `decoupled=True`) step on one parameter, in place."""
        xp = self.xp
        if weight_decay and decoupled:
            param *= 1 - lr * weight_decay
        elif weight_decay:
            grad = grad + weight_decay * param
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        second = exp_avg_sq
        if amsgrad:
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            second = max_exp_avg_sq
        bias1 = 1 - beta1**step
        bias2 = 1 - beta2**step
        bias2_sqrt = xp.sqrt(bias2) if self.is_array(bias2) else math.sqrt(bias2)
        denom = xp.sqrt(second) / bias2_sqrt + eps
        param -= (lr / bias1) * exp_avg / denom

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
        """One `torch.optim.RMSprop` step on one parameter, in place.

        `grad_avg` is used when `centered`, `momentum_buffer` when `momentum` is non-zero;
        both start at zeros, as `square_avg` does.
        """
        xp = self.xp
        if weight_decay:
            grad = grad + weight_decay * param
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if centered:
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = xp.sqrt(square_avg) + eps
        if momentum:
            momentum_buffer *= momentum
            momentum_buffer += grad / avg
            param -= lr * momentum_buffer
        else:
            param -= lr * grad / avg

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
        """One `torch.optim.Adagrad` step on one parameter, in place; `step` counts from 1."""
        if weight_decay:
            grad = grad + weight_decay * param
        state_sum += grad * grad
        param -= (lr / (1 + (step - 1) * lr_decay)) * grad / (self.xp.sqrt(state_sum) + eps)

    # -- device ------------------------------------------------------------------------------

    def synchronize(self) -> None:
        """Waits for queued device work; nothing to wait for on the CPU."""

    def device_properties(self) -> dict[str, Any]:
        """What `backprop info` shows about the device: a GPU backend gives its `name`,
        `total_memory` in bytes and `compute_capability` as (major, minor); the CPU has none."""
        return {}
