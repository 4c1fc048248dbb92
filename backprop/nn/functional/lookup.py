"""Integer lookups: `embedding` (rows of a weight table picked by integer indices, behind
nn.Embedding), `embedding_bag` (those rows summed, averaged or maxed per bag, behind
nn.EmbeddingBag) and `one_hot`."""

from __future__ import annotations

import math

from backprop import ops
from backprop.creation import arange
from backprop.nn.functional._checks import _float_input, _tensor_argument
from backprop.tensor import Tensor, int64

EMBEDDING_BAG_MODES = ("sum", "mean", "max")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by the integer `input`: output shape
    `input.shape + (dim,)`. The gradient adds into the picked rows, except `padding_idx`'s
    (negative counts from the end, as in PyTorch)."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding: input must be an integer Tensor of indices, got {got}")
    _check_weight("embedding", weight)
    out = weight[input]
    if padding_idx is not None:
        padding_idx = _padding_row("embedding", padding_idx, weight.shape[0])
        padding = (input == padding_idx).reshape(*input.shape, 1)
        out = ops.where(padding, out.detach(), out)
    return out


def _integer_tensor(op: str, name: str, value: Tensor) -> None:
    """`value` must be an integer Tensor (of indices or offsets)."""
    if not isinstance(value, Tensor) or value.dtype.kind not in "iu":
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{op}: {name} must be an integer Tensor, got {got}")


def _check_weight(op: str, weight: Tensor) -> None:
    _tensor_argument(op, "weight", weight)
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be (num_embeddings, dim), got {weight.shape}")


def _padding_row(op: str, padding_idx: int, rows: int) -> int:
    """`padding_idx` as a row of a table of `rows` (negative counts from the end)."""
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {rows} embeddings")
    return padding_idx % rows


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape `tensor.shape + (num_classes,)` with a 1 at each entry's class
    and 0 elsewhere, as `torch.nn.functional.one_hot`. `num_classes=-1` takes the largest
    class + 1, which reads the data, so it is refused off the CPU (a read would stall the
    device and break CUDA-graph capture). On the CPU the classes are checked to lie in
    [0, num_classes); on a GPU a class outside it gives a row of zeros."""
    _integer_tensor("one_hot", "tensor", tensor)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or an int >= 0, got {num_classes!r}")
    on_cpu = tensor.device.type == "cpu"
    if num_classes == -1:
        if not on_cpu:
            raise ValueError(
                f"one_hot: num_classes=-1 needs the largest class in the data, which would read "
                f"the tensor back from {tensor.device} to the host; pass num_classes"
            )
        if tensor.numel() == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        num_classes = int(tensor.max().item()) + 1
    if on_cpu and tensor.numel():
        low, high = int(tensor.min().item()), int(tensor.max().item())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"one_hot: classes must lie in [0, {num_classes}), got values in [{low}, {high}]"
            )
    classes = arange(num_classes, device=tensor.device)
    indices = ops.astype(tensor.reshape(*tensor.shape, 1), int64)
    return ops.astype(ops.eq(indices, classes), int64)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """The rows of `weight` picked by `input`, reduced per bag by `mode` ("sum", "mean" or
    "max"; an empty bag gives zeros), as `torch.nn.functional.embedding_bag`: output
    (bags, dim). A 2-D input (B, L) is B bags of L indices; a 1-D input is cut into bags at
    `offsets` (each offset the start of a bag; with `include_last_offset` the last one is the
    input's length and starts no bag). `per_sample_weights` (input's shape, mode "sum")
    scales each row; indices equal to `padding_idx` are left out of their bag. Bag membership
    is worked out on the device from comparisons with `offsets`, never read to the host."""
    check_bag_options("embedding_bag", max_norm, scale_grad_by_freq, mode, sparse)
    _integer_tensor("embedding_bag", "input", input)
    _check_weight("embedding_bag", weight)
    _float_input("embedding_bag", weight)
    _check_bag_layout(input, offsets, include_last_offset)
    _check_per_sample_weights(input, weight, per_sample_weights, mode)
    members = _members(input, offsets, include_last_offset, padding_idx, weight.shape[0])
    rows = weight[input]
    if mode == "max":
        return _bag_max(members, rows if input.ndim == 2 else rows.reshape(1, *rows.shape))
    coefficients = ops.astype(members, weight.dtype)
    counts = coefficients.sum(axis=1, keepdims=True)
    if per_sample_weights is not None:
        coefficients = coefficients * per_sample_weights
    if input.ndim == 2:
        totals = (coefficients.reshape(*coefficients.shape, 1) * rows).sum(axis=1)
    else:
        totals = coefficients @ rows
    return totals / counts.clamp(min=1.0) if mode == "mean" else totals


def check_bag_options(
    op: str, max_norm: float | None, scale_grad_by_freq: bool, mode: str, sparse: bool
) -> None:
    """`mode` must be a known one; the options of PyTorch's embedding_bag that are not
    supported here (renormalising rows in place, gradient scaling, sparse gradients) must be
    left at their defaults."""
    if mode not in EMBEDDING_BAG_MODES:
        raise ValueError(
            f"{op}: mode must be one of {', '.join(map(repr, EMBEDDING_BAG_MODES))}, got {mode!r}"
        )
    unsupported = {
        "max_norm": max_norm is not None,
        "scale_grad_by_freq": scale_grad_by_freq,
        "sparse": sparse,
    }
    for name, given in unsupported.items():
        if given:
            raise ValueError(f"{op}: {name} is not supported; leave it at its default")


def _check_bag_layout(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> None:
    """A 2-D input takes no offsets; a 1-D input needs 1-D integer offsets (at least one with
    `include_last_offset`)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "embedding_bag: a 2-D input is a batch of fixed-length bags, so offsets must "
                f"be None, got a Tensor of shape {offsets.shape}"
            )
        return
    if input.ndim != 1:
        raise ValueError(f"embedding_bag: input must be 1-D or 2-D, got {input.shape}")
    if offsets is None:
        raise ValueError("embedding_bag: a 1-D input needs offsets, the start of each bag")
    _integer_tensor("embedding_bag", "offsets", offsets)
    if offsets.ndim != 1:
        raise ValueError(f"embedding_bag: offsets must be 1-D, got {offsets.shape}")
    if include_last_offset and offsets.shape[0] == 0:
        raise ValueError(
            "embedding_bag: include_last_offset needs at least one offset (the last one is the "
            "input's length), got none"
        )


def _check_per_sample_weights(
    input: Tensor, weight: Tensor, per_sample_weights: Tensor | None, mode: str
) -> None:
    if per_sample_weights is None:
        return
    if mode != "sum":
        raise ValueError(
            f"embedding_bag: per_sample_weights is only supported for mode='sum', got {mode!r}"
        )
    _tensor_argument("embedding_bag", "per_sample_weights", per_sample_weights)
    if per_sample_weights.shape != input.shape:
        raise ValueError(
            f"embedding_bag: per_sample_weights must have the input's shape {input.shape}, "
            f"got {per_sample_weights.shape}"
        )
    if per_sample_weights.dtype != weight.dtype:
        raise TypeError(
            f"embedding_bag: per_sample_weights dtype {per_sample_weights.dtype} differs from "
            f"weight dtype {weight.dtype}"
        )


def _bag_members(offsets: Tensor, length: int, include_last_offset: bool) -> Tensor:
    """A bool (bags, length) matrix: entry (b, i) holds where position i of the input lies in
    bag b, [offsets[b], offsets[b + 1]), the last bag running to the end of the input. With
    `include_last_offset` the last offset (the input's length, as PyTorch expects it) starts
    no bag. Built from comparisons on the device; the offsets are never read."""
    starts = ops.astype(offsets[:-1] if include_last_offset else offsets, int64)
    ends = ops.concatenate([starts[1:], starts[:1] * 0 + length])
    bags = starts.shape[0]
    positions = arange(length, device=offsets.device).reshape(1, length)
    return (positions >= starts.reshape(bags, 1)) & (positions < ends.reshape(bags, 1))


def _members(
    input: Tensor,
    offsets: Tensor | None,
    include_last_offset: bool,
    padding_idx: int | None,
    num_embeddings: int,
) -> Tensor:
    """A bool (bags, length) matrix of which input positions each bag reduces: a 2-D input's
    rows, or a 1-D input's stretches between offsets; positions holding `padding_idx` left
    out."""
    if input.ndim == 2:
        members = ops.eq(input, input)
    else:
        members = _bag_members(offsets, input.shape[0], include_last_offset)
    if padding_idx is not None:
        members = members & (input != _padding_row("embedding_bag", padding_idx, num_embeddings))
    return members


def _bag_max(members: Tensor, values: Tensor) -> Tensor:
    """The largest row of each bag, column by column (zeros for an empty bag): `members` is
    (bags, length), `values` (bags or 1, length, dim)."""
    if members.shape[1] == 0:  # no ids: an empty sum gives zeros that keep the graph
        return values.sum(axis=1).broadcast_to((members.shape[0], values.shape[2]))
    inside = members.reshape(*members.shape, 1)
    largest = ops.where(inside, values, -math.inf).amax(axis=1)
    filled = inside.any(axis=1)
    return ops.where(filled, largest, 0.0)
