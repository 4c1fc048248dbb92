"""Matrix multiplication, 2-D and batched, with transposes passed to the backend as flags
(cuBLAS takes them for free) rather than materialised as copies; PyTorch's other spellings of
it (mm, bmm, mv, dot, outer, addmm, baddbmm), trace, and einsum, which reduces an equation to
diagonals, sums, permutes, reshapes and one batched matmul per pair of operands."""

from __future__ import annotations

import math
from collections import Counter

from backprop.autograd import Function
from backprop.ops.arithmetic import where
from backprop.ops.common import NUMBER_TYPES, broadcast_shape, require_float
from backprop.ops.matrix import last_diagonal
from backprop.ops.movement import permute, reshape, sum_to
from backprop.ops.reduction import reduce
from backprop.tensor import Tensor, bool_, common_device


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


# -- mm, bmm, mv, dot, addmm, baddbmm (one matmul call each), outer and trace ---------------


def _check_operands(
    op: str, operands: dict[str, Tensor], ndims: dict[str, int] | None = None
) -> None:
    """Each named operand is a float Tensor (of its number of dimensions in `ndims`), and all
    of one dtype on one device."""
    for name, t in operands.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if ndims is not None and t.ndim != ndims[name]:
            raise ValueError(f"{op}: {name} must be {ndims[name]}-d, got shape {t.shape}")
    tensors = list(operands.values())
    require_float(op, *tensors)
    if len({t.dtype for t in tensors}) > 1:
        listed = " and ".join(f"{t.dtype} {t.shape}" for t in tensors)
        raise TypeError(f"{op}: dtypes differ, {listed}")
    common_device(op, tensors)


def _check_inner(op: str, a: Tensor, b: Tensor, inner_a: int, inner_b: int) -> None:
    if inner_a != inner_b:
        raise ValueError(
            f"{op}: inner dimensions differ: {a.shape} @ {b.shape} ({inner_a} != {inner_b})"
        )


def _check_mm(op: str, a: Tensor, b: Tensor) -> None:
    _check_operands(op, {"mat1": a, "mat2": b}, {"mat1": 2, "mat2": 2})
    _check_inner(op, a, b, a.shape[1], b.shape[0])


def _check_bmm(op: str, a: Tensor, b: Tensor) -> None:
    _check_operands(op, {"batch1": a, "batch2": b}, {"batch1": 3, "batch2": 3})
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{op}: batch sizes differ: {a.shape} and {b.shape} ({a.shape[0]} != {b.shape[0]}); "
            "bmm does not broadcast, use matmul"
        )
    _check_inner(op, a, b, a.shape[2], b.shape[1])


def mm(a: Tensor, b: Tensor) -> Tensor:
    """The product of two matrices, as `torch.mm`: both must be 2-d (no broadcasting)."""
    _check_mm("mm", a, b)
    return MatMul()(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Matrix products of two batches of the same size, (b, n, m) @ (b, m, p), as `torch.bmm`
    (no broadcasting)."""
    _check_bmm("bmm", a, b)
    return MatMul()(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    """The product of a matrix and a vector, (n, m) @ (m,) -> (n,), as `torch.mv`."""
    _check_operands("mv", {"mat": a, "vec": v}, {"mat": 2, "vec": 1})
    _check_inner("mv", a, v, a.shape[1], v.shape[0])
    return reshape(MatMul()(a, reshape(v, (-1, 1))), (a.shape[0],))


def dot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two vectors of one length, a 0-d tensor, as `torch.dot`."""
    _check_operands("dot", {"input": a, "other": b}, {"input": 1, "other": 1})
    if a.shape != b.shape:
        raise ValueError(f"dot: the vectors differ in length, {a.shape} and {b.shape}")
    return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())


def outer(a: Tensor, b: Tensor) -> Tensor:
    """The outer product of two vectors, (n,) and (m,) -> (n, m), as `torch.outer`: a
    broadcast multiplication, so it takes integer vectors too."""
    for name, t in (("input", a), ("vec2", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"outer: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != 1:
            raise ValueError(f"outer: {name} must be 1-d, got shape {t.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"outer: dtypes differ, {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def addmm(
    input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:
    """`beta * input + alpha * (mat1 @ mat2)`, as `torch.addmm`; `input` broadcasts to the
    product's shape and is ignored when beta is 0 (its NaN and inf do not propagate)."""
    _check_mm("addmm", mat1, mat2)
    shape = (mat1.shape[0], mat2.shape[1])
    _check_addend("addmm", input, mat1, shape, beta, alpha)
    return _scaled_sum(input, MatMul()(mat1, mat2), beta, alpha)


def baddbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:
    """`beta * input + alpha * bmm(batch1, batch2)`, as `torch.baddbmm`; `input` broadcasts to
    the product's shape and is ignored when beta is 0."""
    _check_bmm("baddbmm", batch1, batch2)
    shape = (batch1.shape[0], batch1.shape[1], batch2.shape[2])
    _check_addend("baddbmm", input, batch1, shape, beta, alpha)
    return _scaled_sum(input, MatMul()(batch1, batch2), beta, alpha)


def _check_addend(
    op: str, input: Tensor, like: Tensor, shape: tuple[int, ...], beta: float, alpha: float
) -> None:
    for name, value in (("beta", beta), ("alpha", alpha)):
        if not isinstance(value, NUMBER_TYPES) or isinstance(value, bool):
            raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype != like.dtype:
        raise TypeError(
            f"{op}: dtypes differ, input is {input.dtype} and the matrices {like.dtype}"
        )
    common_device(op, (input, like))
    try:
        fits = broadcast_shape(op, input.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: input of shape {input.shape} does not broadcast to the product's {shape}"
        )


def _scaled_sum(input: Tensor, product: Tensor, beta: float, alpha: float) -> Tensor:
    """beta * input + alpha * product, skipping the multiplications by 1. When beta is 0 the
    input's values are not read (its NaN and inf do not propagate) but, as in PyTorch, it
    still gets its gradient, grad * beta: zeros, by a `where` that never picks it (and adds
    -0.0, which keeps every value's sign)."""
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        if not input.requires_grad:
            return scaled
        never = Tensor._make(input.backend.full((), False, bool_), input.device)
        return scaled + where(never, input, -0.0)
    return scaled + (input if beta == 1 else input * beta)


def trace(x: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix, as `torch.trace` (which need not be square)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"trace: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor (a matrix), got shape {x.shape}")
    return reduce("sum", last_diagonal(x))


# -- einsum ------------------------------------------------------------------------------------

Label = str | int  # a letter of the equation, or the position of an axis the ellipsis covers


def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation, as `torch.einsum`: `einsum("bij,bjk->bik", a, b)` is `a @ b`.

    Letters name axes; a letter repeated within one operand takes its diagonal; letters
    missing from the output are summed; "..." stands for the leading (or middle) axes, which
    broadcast; without "->" the output is the ellipsis axes then the letters that appear once,
    in alphabetical order (upper case first). Operands are contracted left to right, each
    pair by one batched `matmul` between permutes and reshapes (none when the axes already
    lie in matmul's order). Operands may also be passed as one list.
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    _check_operands("einsum", {f"operand {i}": t for i, t in enumerate(operands)})
    inputs, output = _parse_equation(equation, operands)
    _check_label_sizes(inputs, operands)
    result, labels = _take_diagonals(operands[0], inputs[0])
    for i in range(1, len(operands)):
        keep = set(output).union(*inputs[i + 1 :])
        other, other_labels = _take_diagonals(operands[i], inputs[i])
        result, labels = _contract(result, labels, other, other_labels, keep)
    result, labels = _sum_labels(result, labels, set(labels) - set(output))
    return permute(result, [labels.index(label) for label in output])


def _parse_equation(equation: str, operands: tuple[Tensor, ...]) -> tuple[list, list]:
    """The labels of each operand's axes and of the output's. The ellipsis's axes are
    numbered 0, 1, ... from the first axis of the widest one, aligned at the right (as they
    broadcast)."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = [_parse_term(equation, term) for term in lhs.split(",")]
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum: the equation {equation!r} has {len(terms)} operand terms but "
            f"{len(operands)} operands were given"
        )
    ranks = []
    for i, ((before, ellipsis, after), t) in enumerate(zip(terms, operands)):
        named = len(before) + len(after)
        if t.ndim < named or (t.ndim > named and not ellipsis):
            raise ValueError(
                f"einsum: operand {i} has {t.ndim} dimensions {t.shape} but its term "
                f"{before + '...' * ellipsis + after!r} names {named}"
                + ("" if ellipsis else " and has no '...'")
            )
        ranks.append(t.ndim - named)
    width = max(ranks)
    inputs = [
        list(before) + list(range(width - rank, width)) + list(after)
        for (before, _, after), rank in zip(terms, ranks)
    ]
    if not arrow:
        counts = Counter(label for labels in inputs for label in labels)
        letters = sorted(label for label, n in counts.items() if isinstance(label, str) and n == 1)
        return inputs, list(range(width)) + letters
    before, ellipsis, after = _parse_term(equation, rhs)
    output = list(before) + list(range(width if ellipsis else 0)) + list(after)
    for letter in before + after:
        if (before + after).count(letter) > 1:
            raise ValueError(f"einsum: output subscript {letter} appears more than once in {rhs!r}")
        if not any(letter in labels for labels in inputs):
            raise ValueError(
                f"einsum: output subscript {letter} appears in no operand's term of {equation!r}"
            )
    return inputs, output


def _parse_term(equation: str, term: str) -> tuple[str, bool, str]:
    """A term's letters before the ellipsis, whether it has one, and the letters after."""
    before, ellipsis, after = term.partition("...")
    if not all(c.isascii() and c.isalpha() for c in before + after):
        raise ValueError(
            f"einsum: invalid term {term!r} in {equation!r}: a term is letters with at most "
            "one '...', terms are separated by ',' and the output follows one '->'"
        )
    return before, bool(ellipsis), after


def _check_label_sizes(inputs: list[list[Label]], operands: tuple[Tensor, ...]) -> None:
    """A label repeated within an operand has one size there; across operands, its sizes
    broadcast (are equal, or 1)."""
    seen: dict[Label, int] = {}
    for i, (labels, t) in enumerate(zip(inputs, operands)):
        own: dict[Label, int] = {}
        for label, size in zip(labels, t.shape):
            name = label if isinstance(label, str) else "..."
            if own.get(label, size) != size:
                raise ValueError(
                    f"einsum: subscript {name} is repeated in operand {i} {t.shape} but its "
                    f"sizes differ, {own[label]} != {size}"
                )
            own[label] = size
            if seen.get(label, 1) == 1:
                seen[label] = size
            elif size not in (1, seen[label]):
                raise ValueError(
                    f"einsum: subscript {name} has size {size} in operand {i} {t.shape}, which "
                    f"does not broadcast with its size {seen[label]} in an earlier operand"
                )


def _take_diagonals(x: Tensor, labels: list[Label]) -> tuple[Tensor, list[Label]]:
    """`x` with the diagonal taken over each label it repeats, and its labels then."""
    labels = list(labels)
    while repeated := [label for label in labels if labels.count(label) > 1]:
        first = labels.index(repeated[0])
        second = labels.index(repeated[0], first + 1)
        rest = [i for i in range(len(labels)) if i not in (first, second)]
        x = last_diagonal(permute(x, rest + [first, second]))
        labels = [labels[i] for i in rest] + [repeated[0]]
    return x, labels


def _sum_labels(x: Tensor, labels: list[Label], drop: set) -> tuple[Tensor, list[Label]]:
    """`x` summed over the axes whose labels are in `drop`, and the labels left."""
    axes = [i for i, label in enumerate(labels) if label in drop]
    if not axes:
        return x, labels
    return reduce("sum", x, axes), [label for label in labels if label not in drop]


def _contract(
    a: Tensor, a_labels: list[Label], b: Tensor, b_labels: list[Label], keep: set
) -> tuple[Tensor, list[Label]]:
    """The product of two operands, summed over the labels they share that `keep` (the
    output's and the later operands') lacks, by one matmul: a as (batch, left, summed) and b
    as (batch, summed, right). Labels of one operand alone that are not kept are summed first."""
    a, a_labels = _sum_labels(a, a_labels, set(a_labels) - set(b_labels) - keep)
    b, b_labels = _sum_labels(b, b_labels, set(b_labels) - set(a_labels) - keep)
    # A summed label of size 1 in one operand broadcasts: then each side is summed alone.
    unequal = {
        label
        for label in set(a_labels) & set(b_labels) - keep
        if a.shape[a_labels.index(label)] != b.shape[b_labels.index(label)]
    }
    a, a_labels = _sum_labels(a, a_labels, unequal)
    b, b_labels = _sum_labels(b, b_labels, unequal)
    batch = [label for label in a_labels if label in b_labels and label in keep]
    summed = [label for label in a_labels if label in b_labels and label not in keep]
    left = [label for label in a_labels if label not in b_labels]
    right = [label for label in b_labels if label not in a_labels]
    a_matrices, transpose_a = _as_matrices(a, a_labels, batch, left, summed)
    b_matrices, transpose_b = _as_matrices(b, b_labels, batch, summed, right)
    product = MatMul(transpose_a, transpose_b)(a_matrices, b_matrices)
    sizes = [a.shape[a_labels.index(label)] for label in left]
    sizes += [b.shape[b_labels.index(label)] for label in right]
    return reshape(product, product.shape[:-2] + tuple(sizes)), batch + left + right


def _as_matrices(
    x: Tensor, labels: list[Label], batch: list[Label], rows: list[Label], cols: list[Label]
) -> tuple[Tensor, bool]:
    """`x` reshaped to a batch of matrices, its `rows` axes flattened into rows and its
    `cols` axes into columns, and whether matmul must transpose it: axes lying in the order
    (batch, cols, rows) need no permute, only that flag."""
    batch_shape = tuple(x.shape[labels.index(label)] for label in batch)
    n_rows = math.prod(x.shape[labels.index(label)] for label in rows)
    n_cols = math.prod(x.shape[labels.index(label)] for label in cols)
    if labels != batch + rows + cols and labels == batch + cols + rows:
        return reshape(x, batch_shape + (n_cols, n_rows)), True
    x = permute(x, [labels.index(label) for label in batch + rows + cols])
    return reshape(x, batch_shape + (n_rows, n_cols)), False
