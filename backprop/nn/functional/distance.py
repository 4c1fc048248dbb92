"""Lengths, angles and distances of vectors: normalize, cosine_similarity and
pairwise_distance, with PyTorch's names, arguments and gradients."""

from __future__ import annotations

from backprop import ops
from backprop.nn.functional._checks import _float_input
from backprop.ops.common import broadcast_shape, normalize_axis
from backprop.tensor import Tensor


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """`input` divided by its `p`-norm along `dim`, the norm held at least `eps` (so a zero
    vector stays zero instead of becoming NaN), as `torch.nn.functional.normalize`."""
    _float_input("normalize", input)
    _check_p("normalize", p)
    _check_eps("normalize", eps)
    if input.ndim == 0:
        raise ValueError("normalize: a 0-d input has no axis to normalise along")
    axis = normalize_axis("normalize", dim, input.ndim)
    return input / ops.norm(input, p, axis, keepdims=True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between `x1` and `x2` (broadcast together) along `dim`: the sum
    of their products after each is divided by its 2-norm held at least `eps` (in value only:
    the gradient flows through the norm as in PyTorch)."""
    _float_pair("cosine_similarity", x1, x2)
    _check_eps("cosine_similarity", eps)
    shape = broadcast_shape("cosine_similarity", x1.shape, x2.shape)
    if not shape:
        raise ValueError("cosine_similarity: 0-d inputs have no axis to compare along")
    axis = normalize_axis("cosine_similarity", dim, len(shape))
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    return (x1 / _held_norm(x1, axis, eps) * (x2 / _held_norm(x2, axis, eps))).sum(axis=axis)


def _held_norm(x: Tensor, axis: int, eps: float) -> Tensor:
    """The 2-norm of `x` along `axis` (kept), held at least `eps` in value while its gradient
    stays the norm's own, as PyTorch's cosine_similarity clamps the norms outside autograd."""
    norm = ops.norm(x, 2, axis, keepdims=True)
    return norm + (norm.detach().clamp(min=eps) - norm.detach())


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """The `p`-norm of `x1 - x2 + eps` along the last axis (the inputs broadcast together), as
    `torch.nn.functional.pairwise_distance`; `eps` keeps the gradient finite where x1 == x2."""
    _float_pair("pairwise_distance", x1, x2)
    _check_p("pairwise_distance", p)
    difference = x1 - x2 + eps
    if difference.ndim == 0:
        return ops.norm(difference.reshape(1), p, 0)
    return ops.norm(difference, p, -1, keepdims=keepdim)


def _float_pair(op: str, x1: Tensor, x2: Tensor) -> None:
    """Both inputs must be float Tensors of one dtype."""
    _float_input(op, x1)
    _float_input(op, x2)
    if x1.dtype != x2.dtype:
        raise TypeError(
            f"{op}: x1 and x2 must have one dtype, got {x1.dtype} and {x2.dtype}; "
            "convert one with .to(dtype)"
        )


def _check_p(op: str, p: float) -> None:
    """The order of a norm: a positive number or inf."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"{op}: p must be a positive number or inf, got {p!r}")


def _check_eps(op: str, eps: float) -> None:
    if not eps >= 0:
        raise ValueError(f"{op}: eps must be >= 0, got {eps}")
