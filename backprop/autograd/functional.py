"""Derivatives of whole functions, as `torch.autograd.functional`: `vjp`, `jvp`, `jacobian`,
`hessian`, `vhp` and `hvp`.

Everything is built on reverse mode. A Jacobian-vector product uses the double-vjp trick: the
vjp `u -> J^T u` is linear in `u`, so differentiating it with respect to `u` against `v`
gives `J v`. Each function takes `func(*inputs)` returning a Tensor or a tuple of Tensors, and
`inputs` as a Tensor or a tuple of Tensors; results come back in the same structure. With
`create_graph=False` the results are detached; with `create_graph=True` they stay in the graph
and can be differentiated again. With `strict=True`, an output or input that the other side
does not depend on is an error instead of a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from backprop.autograd import enable_grad, grad
from backprop.ops.movement import stack
from backprop.tensor import FLOAT_DTYPES, Tensor

Tensors = Tensor | tuple[Tensor, ...]

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def vjp(
    func: Callable[..., Tensors],
    inputs: Tensors,
    v: Tensors | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensors, Tensors]:
    """`(func(inputs), v^T J)`: the vector-Jacobian product, shaped like `inputs`.

    `v` is shaped like the outputs; it may be None only when `func` returns one element.
    """
    with enable_grad():
        inputs_is_tuple, xs = _as_tuple("vjp", "inputs", inputs)
        xs = _prepare("vjp", xs, create_graph)
        outputs_is_tuple, outputs = _as_tuple("vjp", "outputs of func", func(*xs))
        vs = _vectors("vjp", "outputs", v, outputs)
        result = _vjp_of("vjp", outputs, xs, vs, create_graph, strict)
    return (
        _pack(_finish(outputs, create_graph), outputs_is_tuple),
        _pack(_finish(result, create_graph), inputs_is_tuple),
    )


def jvp(
    func: Callable[..., Tensors],
    inputs: Tensors,
    v: Tensors | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensors, Tensors]:
    """`(func(inputs), J v)`: the Jacobian-vector product, shaped like the outputs.

    `v` is shaped like `inputs`; it may be None only when the input is one element.
    """
    with enable_grad():
        inputs_is_tuple, xs = _as_tuple("jvp", "inputs", inputs)
        xs = _prepare("jvp", xs, create_graph)
        vs = _vectors("jvp", "inputs", v, xs)
        outputs_is_tuple, outputs = _as_tuple("jvp", "outputs of func", func(*xs))
        result = _jvp_of("jvp", outputs, xs, vs, create_graph, strict)
    return (
        _pack(_finish(outputs, create_graph), outputs_is_tuple),
        _pack(_finish(result, create_graph), outputs_is_tuple),
    )


def jacobian(
    func: Callable[..., Tensors],
    inputs: Tensors,
    create_graph: bool = False,
    strict: bool = False,
) -> Tensors | tuple[Tensors, ...]:
    """The Jacobian of `func` at `inputs`, one reverse pass per output element.

    Block `[i][j]` has shape `outputs[i].shape + inputs[j].shape`; a Tensor instead of a tuple
    on either side drops that level of nesting, as in PyTorch.
    """
    with enable_grad():
        inputs_is_tuple, xs = _as_tuple("jacobian", "inputs", inputs)
        xs = _prepare("jacobian", xs, create_graph)
        outputs_is_tuple, outputs = _as_tuple("jacobian", "outputs of func", func(*xs))
        blocks = tuple(
            _pack(_jacobian_of(output, xs, create_graph, strict), inputs_is_tuple)
            for output in outputs
        )
    return _pack(blocks, outputs_is_tuple)


def hessian(
    func: Callable[..., Tensor],
    inputs: Tensors,
    create_graph: bool = False,
    strict: bool = False,
) -> Tensors | tuple[tuple[Tensor, ...], ...]:
    """The Hessian of a function with one output element: the Jacobian of its gradient.

    Block `[i][j]` has shape `inputs[i].shape + inputs[j].shape`; a single input gives a Tensor.
    """
    inputs_is_tuple, xs = _as_tuple("hessian", "inputs", inputs)

    def gradient(*args: Tensor) -> Tensors:
        output = _scalar_output("hessian", func(*args))
        ones = Tensor._make(output.backend.ones(output.shape, output.dtype), output.device)
        result = _vjp_of("hessian", (output,), args, (ones,), True, strict)
        return _pack(result, inputs_is_tuple)

    return jacobian(gradient, _pack(xs, inputs_is_tuple), create_graph, strict)


def vhp(
    func: Callable[..., Tensor],
    inputs: Tensors,
    v: Tensors | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Tensors]:
    """`(func(inputs), v^T H)` for a function with one output element; `v` is shaped like
    `inputs`. One backward pass through the gradient: the cheaper of `vhp` and `hvp`."""
    with enable_grad():
        inputs_is_tuple, xs = _as_tuple("vhp", "inputs", inputs)
        xs = _prepare("vhp", xs, create_graph)
        vs = _vectors("vhp", "inputs", v, xs)
        output = _scalar_output("vhp", func(*xs))
        gradient = _vjp_of("vhp", (output,), xs, (None,), True, strict)
        result = _vjp_of("vhp", gradient, xs, vs, create_graph, strict)
    return (
        _finish((output,), create_graph)[0],
        _pack(_finish(result, create_graph), inputs_is_tuple),
    )


def hvp(
    func: Callable[..., Tensor],
    inputs: Tensors,
    v: Tensors | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Tensors]:
    """`(func(inputs), H v)` for a function with one output element: the Jacobian-vector
    product of the gradient. Equal to `vhp` when the Hessian is symmetric, which it is for
    twice continuously differentiable functions; `vhp` is then cheaper."""
    with enable_grad():
        inputs_is_tuple, xs = _as_tuple("hvp", "inputs", inputs)
        xs = _prepare("hvp", xs, create_graph)
        vs = _vectors("hvp", "inputs", v, xs)
        output = _scalar_output("hvp", func(*xs))
        gradient = _vjp_of("hvp", (output,), xs, (None,), True, strict)
        result = _jvp_of("hvp", gradient, xs, vs, create_graph, strict)
    return (
        _finish((output,), create_graph)[0],
        _pack(_finish(result, create_graph), inputs_is_tuple),
    )


def _as_tuple(op: str, what: str, value: Tensors) -> tuple[bool, tuple[Tensor, ...]]:
    """Whether `value` was a tuple, and its Tensors as a tuple."""
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for index, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f" (entry {index})" if is_tuple else ""
            raise TypeError(
                f"{op}: {what} must be a Tensor or a tuple of Tensors, "
                f"got {type(item).__name__}{where}"
            )
    return is_tuple, items


def _pack(items: Sequence, is_tuple: bool):
    return tuple(items) if is_tuple else items[0]


def _prepare(op: str, inputs: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    """Inputs to differentiate against: fresh leaves, or with `create_graph` the tensors
    themselves when they require grad, so the result stays connected to their graph."""
    for index, x in enumerate(inputs):
        if x.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"{op}: inputs must be float32 or float64 to be differentiated, input {index} is "
                f"{x.dtype} {x.shape}"
            )
    return tuple(
        x if create_graph and x.requires_grad else x.detach().requires_grad_() for x in inputs
    )


def _finish(tensors: Sequence[Tensor], create_graph: bool) -> tuple[Tensor, ...]:
    return tuple(tensors) if create_graph else tuple(t.detach() for t in tensors)


def _vectors(op: str, what: str, v: Tensors | None, like: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """`v` as a tuple matching `like` in number, shapes and dtypes; ones when None and `like`
    is one element."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            shapes = ", ".join(str(t.shape) for t in like)
            raise ValueError(
                f"{op}: v can be omitted only when the {what} are a single one-element tensor, "
                f"got shapes {shapes}"
            )
        x = like[0]
        return (Tensor._make(x.backend.ones(x.shape, x.dtype), x.device),)
    _, vs = _as_tuple(op, "v", v)
    if len(vs) != len(like):
        raise ValueError(f"{op}: got {len(vs)} tensors in v for {len(like)} {what}")
    for index, (vector, target) in enumerate(zip(vs, like)):
        if vector.shape != target.shape:
            raise ValueError(
                f"{op}: v[{index}] has shape {vector.shape} but the {what} it pairs with has "
                f"shape {target.shape}"
            )
        if vector.dtype != target.dtype:
            raise TypeError(
                f"{op}: v[{index}] is {vector.dtype} but the {what} it pairs with are "
                f"{target.dtype}; convert it with .to(dtype)"
            )
    return vs


def _scalar_output(op: str, output: Tensor) -> Tensor:
    if not isinstance(output, Tensor) or output.numel() != 1:
        got = f"shape {output.shape}" if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"{op}: func must return a single Tensor of one element, got {got}")
    return output


def _vjp_of(
    op: str,
    outputs: Sequence[Tensor],
    inputs: tuple[Tensor, ...],
    vs: Sequence[Tensor | None],
    create_graph: bool,
    strict: bool,
) -> tuple[Tensor, ...]:
    """`sum_i vs[i]^T d outputs[i] / d inputs`, zeros where nothing depends on an input."""
    live = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    if strict and len(live) < len(outputs):
        raise RuntimeError(f"{op}: an output does not depend on the inputs (strict=True)")
    grads: Sequence[Tensor | None] = (None,) * len(inputs)
    if live:
        grads = grad(
            [o for o, _ in live],
            inputs,
            [v for _, v in live],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
    result = []
    for index, (g, x) in enumerate(zip(grads, inputs)):
        if g is None and strict:
            raise RuntimeError(f"{op}: the outputs do not depend on input {index} (strict=True)")
        result.append(_zeros(x) if g is None else g)
    return tuple(result)


def _jvp_of(
    op: str,
    outputs: Sequence[Tensor],
    inputs: tuple[Tensor, ...],
    vs: tuple[Tensor, ...],
    create_graph: bool,
    strict: bool,
) -> tuple[Tensor, ...]:
    """`d outputs / d inputs . vs` by the double-vjp trick: `u -> J^T u` is linear in the
    dummy `u`, and its vjp against `vs` is `J vs`."""
    dummies = tuple(_zeros(o).requires_grad_(o.requires_grad) for o in outputs)
    transposed = _vjp_of(op, outputs, inputs, dummies, True, strict)
    live = tuple(d for d in dummies if d.requires_grad)
    products = iter(_vjp_of(op, transposed, live, vs, create_graph, strict))
    return tuple(next(products) if d.requires_grad else d for d in dummies)


def _jacobian_of(
    output: Tensor, inputs: tuple[Tensor, ...], create_graph: bool, strict: bool
) -> tuple[Tensor, ...]:
    """`d output / d inputs[j]` for each j, shaped `output.shape + inputs[j].shape`."""
    if output.numel() == 0:
        return tuple(_zeros(x, output.shape + x.shape) for x in inputs)
    basis = Tensor(np.eye(output.numel()), dtype=output.dtype, device=output.device)
    rows = [
        _vjp_of(
            "jacobian", (output,), inputs, (basis[k].reshape(output.shape),), create_graph, strict
        )
        for k in range(output.numel())
    ]
    return tuple(
        stack([row[j] for row in rows]).reshape(output.shape + x.shape)
        for j, x in enumerate(inputs)
    )


def _zeros(like: Tensor, shape: tuple[int, ...] | None = None) -> Tensor:
    shape = like.shape if shape is None else shape
    return Tensor._make(like.backend.zeros(shape, like.dtype), like.device)
