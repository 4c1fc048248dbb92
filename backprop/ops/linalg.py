"""Matrix multiplication, 2-D and batched, with transposes passed to the backend as flags
(cuBLAS takes them for free) rather than materialised as copies."""

from __future__ import annotations

from backprop.autograd import Function
from backprop.ops.common import broadcast_shape, require_float
from backprop.ops.movement import sum_to
from backprop.tensor import Tensor


class MatMul(Function):
    """`op(a) @ op(b)`, where op swaps the last two axes when its transpose flag is set."""

    def __init__(self, transpose_a: bool = False, transpose_b: bool = False):
        self.transpose_a, self.transpose_b = transpose_a, transpose_b

    def forward(self, a, b):
        return self.backend.matmul(a, b, self.transpose_a, self.transpose_b)

    def backward(self, gy):
        a, b = self.inputs
        ta, tb = self.transpose_a, self.transpose_b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = MatMul(tb, True)(b, gy) if ta else MatMul(False, not tb)(gy, b)
            ga = sum_to(ga, a.shape)
        if self.needs_input_grad[1]:
            gb = MatMul(True, ta)(gy, a) if tb else MatMul(not ta, False)(a, gy)
            gb = sum_to(gb, b.shape)
        return ga, gb


def matmul(a: Tensor, b: Tensor, transpose_a: bool = False, transpose_b: bool = False) -> Tensor:
    """Matrix product of tensors of two or more dimensions; leading (batch) axes broadcast."""
    for name, t in (("first", a), ("second", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"matmul: the {name} operand must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(
                f"matmul: operands need at least 2 dimensions, got {a.shape} and {b.shape}; "
                "reshape a vector to (n, 1) or (1, n)"
            )
    require_float("matmul", a, b)
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: dtypes differ, {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    rows_a, inner_a = a.shape[-2:][::-1] if transpose_a else a.shape[-2:]
    inner_b, cols_b = b.shape[-2:][::-1] if transpose_b else b.shape[-2:]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: inner dimensions differ: {a.shape}{'.T' if transpose_a else ''} @ "
            f"{b.shape}{'.T' if transpose_b else ''} ({inner_a} != {inner_b})"
        )
    try:
        broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be broadcast together "
            f"({a.shape[:-2]} and {b.shape[:-2]})"
        ) from None
    return MatMul(transpose_a, transpose_b)(a, b)
