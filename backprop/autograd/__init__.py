"""Reverse-mode autodiff: grad mode, the `Function` node, and the backward pass.

A `Function` runs `forward` on backend arrays and records itself as the creator of its outputs
when any input requires a gradient. `backward` receives the gradients of the outputs as Tensors
and returns those of the inputs as Tensors, built from differentiable ops: it runs with grad mode
off (plain, fast arrays) unless `create_graph=True`, in which case the gradients are themselves
recorded and can be differentiated again. The backward pass walks the graph iteratively in
reverse topological order, so chains of any length and shared subgraphs are handled.
`detect_anomaly()` finds the op whose backward made a NaN (`backprop.autograd.anomaly`).
`backprop.autograd.functional` builds vjp, jvp, jacobian and hessian on top of `grad`.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.autograd import anomaly
from backprop.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from backprop.device import Device
from backprop.tensor import Tensor, common_device

__all__ = [
    "Function",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph (they do unless inside `no_grad`)."""
    return _grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turns graph recording on or off inside a `with` block or a decorated function."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        # A stack, not one slot: a decorated function may be re-entered (recursion) while the
        # same instance is active, and each exit must restore what its own entry saw.
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()


class no_grad(set_grad_enabled):
    """Ops inside record no graph: for inference and for updating parameters."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Ops inside record the graph, even within `no_grad`."""

    def __init__(self):
        super().__init__(True)


class Function:
    """One differentiable op. Subclasses define `forward(*arrays)` and `backward(*grads)`.

    `forward` gets the inputs' backend arrays (`self.backend` is their backend) and returns an
    array or a tuple of arrays; it may save arrays on `self` for backward. `backward` gets one
    Tensor per output and returns one Tensor (or None) per input, with the input's shape.
    `self.inputs` holds the input Tensors while the graph lives. An output that gets no
    gradient reaches `backward` as zeros, unless the class sets `materialize_grads = False`
    (PyTorch's `ctx.set_materialize_grads(False)`): then it reaches it as None.
    """

    inputs: tuple[Tensor, ...] | None
    materialize_grads = True
    reads_input_values = True
    """False for an op whose backward uses its inputs' shapes, dtypes and devices only (add,
    reshape, ...): writing into an input in place after the op then leaves its gradient right,
    so backward does not check the input's version (see `_check_versions`)."""

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def __call__(self, *inputs: Tensor) -> Any:
        device = common_device(self.name, inputs)
        self.backend = device.backend
        outputs = self.forward(*(t.data for t in inputs))
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        requires_grad = _grad_enabled and any(t.requires_grad for t in inputs)
        device = getattr(self, "output_device", device)
        results = tuple(Tensor._make(out, device, requires_grad) for out in outputs)
        if requires_grad:
            self.inputs = inputs
            self.input_versions = tuple(t._version for t in inputs)
            self.needs_input_grad = tuple(t.requires_grad for t in inputs)
            self.outputs = tuple(weakref.ref(r) for r in results)
            self.output_meta = tuple((r.shape, r.dtype) for r in results)
            self.device = device
            for index, result in enumerate(results):
                result._creator = self
                result._output_index = index
            if anomaly.is_anomaly_enabled():
                anomaly.record_creation(self)
        return results[0] if single else results

    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def backward(self, *grads: Tensor) -> Any:
        raise NotImplementedError(f"{self.name}: backward is not defined")

    def release(self) -> None:
        """Frees what backward needed; a second backward through this node then raises.

        Saved arrays go; small settings (an op name, axes, a dtype) stay, so `name` and the
        repr of the outputs still work after backward.
        """
        keep = {"inputs", "outputs", "needs_input_grad", "output_meta", "device", "backend"}
        for key, value in list(vars(self).items()):
            if key not in keep and not _is_setting(value):
                delattr(self, key)
        self.inputs = None


_SETTING_TYPES = (str, int, float, bool, type(None), slice, type(Ellipsis), np.dtype, Device)


def _is_setting(value: Any) -> bool:
    """A small Python value a Function was configured with, as opposed to a saved array."""
    if isinstance(value, tuple):
        return all(_is_setting(v) for v in value)
    return isinstance(value, _SETTING_TYPES)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulates d(tensors)/d(leaf) into each leaf's `.grad`, as `torch.autograd.backward`."""
    outputs = _as_list(tensors)
    seeds = _seeds("backward", outputs, grad_tensors)
    _run(outputs, seeds, None, retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, leaving every `.grad` untouched."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for tensor in inputs:
        if not tensor.requires_grad:
            raise RuntimeError(
                f"grad: an input of shape {tensor.shape} does not require grad; "
                "only tensors with requires_grad=True can be differentiated against"
            )
    seeds = _seeds("grad", outputs, grad_outputs)
    found = _run(outputs, seeds, inputs, retain_graph, create_graph)
    results = tuple(found.get(id(t)) for t in inputs)
    if not allow_unused and any(r is None for r in results):
        raise RuntimeError(
            "grad: one of the inputs was not used to compute the outputs; "
            "pass allow_unused=True to get None for it"
        )
    return results


def _as_list(tensors: Any) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _seeds(op: str, outputs: list[Tensor], grads: Any) -> list[Tensor]:
    if grads is None or not isinstance(grads, (list, tuple)):
        grads = [grads] * len(outputs) if grads is None else [grads]
    grads = list(grads)
    if len(grads) != len(outputs):
        raise ValueError(f"{op}: got {len(outputs)} outputs but {len(grads)} gradients")
    seeds = []
    for output, g in zip(outputs, grads):
        if not output.requires_grad:
            raise RuntimeError(
                f"{op}: a tensor of shape {output.shape} does not require grad and has no "
                "graph; did you forget requires_grad=True, or compute it under no_grad()?"
            )
        if g is None:
            if output.numel() != 1:
                raise RuntimeError(
                    f"{op}: gradient can be implicitly created only for scalar outputs, got "
                    f"shape {output.shape}; pass a gradient of that shape"
                )
            g = Tensor._make(output.backend.ones(output.shape, output.dtype), output.device)
        elif not isinstance(g, Tensor):
            raise TypeError(
                f"{op}: the gradient must be a Tensor of shape {output.shape}, "
                f"got {type(g).__name__}"
            )
        elif g.shape != output.shape:
            raise RuntimeError(
                f"{op}: gradient of shape {g.shape} given for an output of shape {output.shape}"
            )
        elif g.dtype != output.dtype:
            raise TypeError(
                f"{op}: gradient of dtype {g.dtype} given for an output of dtype {output.dtype} "
                f"{output.shape}; convert it with .to(dtype)"
            )
        elif g.device != output.device:
            raise RuntimeError(
                f"{op}: gradient on {g.device} given for an output on {output.device}"
            )
        seeds.append(g)
    return seeds


def _check_versions(fn: Function) -> None:
    """Refuses a backward whose inputs were written in place after `fn` used them, as PyTorch
    does with its version counters: the gradient would silently be computed from the new
    values. Writes through another view of the same memory are not seen."""
    if not fn.reads_input_values:
        return
    for index, (tensor, version) in enumerate(zip(fn.inputs, fn.input_versions)):
        if tensor._version != version:
            raise RuntimeError(
                f"backward: input {index} of {fn.name} (shape {tensor.shape}, {tensor.dtype}) "
                f"was changed in place after {fn.name} used it (version {version}, now "
                f"{tensor._version}), and {fn.name}'s gradient needs its old values; write "
                "the change out of place (`x = x * 2`), or use a clone in the forward"
            )


def _topological_order(roots: list[Function]) -> list[Function]:
    """Every Function reachable from `roots`, each before the Functions that made its inputs."""
    finished: list[Function] = []
    seen: set[int] = set()
    stack: list[tuple[Function, bool]] = [(fn, False) for fn in roots]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            finished.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if fn.inputs is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time ({fn.name} "
                "already freed its saved values); pass retain_graph=True the first time"
            )
        stack.append((fn, True))
        stack.extend((t._creator, False) for t in fn.inputs if t._creator is not None)
    finished.reverse()
    return finished


def _needed(order: list[Function], targets: set[int]) -> set[int]:
    """Ids of the Functions whose backward leads to one of the `targets` tensors."""
    needed: set[int] = set()
    for fn in reversed(order):
        if any(id(t) in targets or id(t._creator) in needed for t in fn.inputs):
            needed.add(id(fn))
    return needed


def _accumulate(total: Tensor | None, value: Tensor) -> Tensor:
    return value if total is None else total + value


def _run(
    outputs: list[Tensor],
    seeds: list[Tensor],
    inputs: list[Tensor] | None,
    retain_graph: bool | None,
    create_graph: bool,
) -> dict[int, Tensor]:
    """The backward pass. With `inputs`, returns their gradients by id; else fills `.grad`."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    targets = None if inputs is None else {id(t) for t in inputs}
    pending: dict[int, list[Tensor | None]] = {}
    found: dict[int, Tensor] = {}
    leaves: dict[int, tuple[Tensor, Tensor]] = {}

    def deliver(tensor: Tensor, g: Tensor) -> None:
        if tensor._creator is not None:
            slots = pending.setdefault(id(tensor._creator), [None] * len(tensor._creator.outputs))
            slots[tensor._output_index] = _accumulate(slots[tensor._output_index], g)
        elif targets is None or id(tensor) in targets:
            previous = leaves.get(id(tensor), (tensor, None))[1]
            leaves[id(tensor)] = (tensor, _accumulate(previous, g))

    with set_grad_enabled(create_graph):
        for output, seed in zip(outputs, seeds):
            deliver(output, seed)
        order = _topological_order([t._creator for t in outputs if t._creator is not None])
        needed = None if targets is None else _needed(order, targets)
        for fn in order:
            grads = pending.pop(id(fn), None)
            if grads is None:
                continue
            if fn.materialize_grads:
                grads = [
                    g
                    if g is not None
                    else Tensor._make(fn.device.backend.zeros(shape, dtype), fn.device)
                    for g, (shape, dtype) in zip(grads, fn.output_meta)
                ]
            grads = [None if g is None else _hooked(ref(), g) for ref, g in zip(fn.outputs, grads)]
            _note_output_grads(fn, grads, targets, found)
            if needed is not None and id(fn) not in needed:
                continue
            _check_versions(fn)
            input_grads = fn.backward(*grads)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if anomaly.is_anomaly_enabled():
                anomaly.check_gradients(fn, input_grads)
            for tensor, g, needs in zip(fn.inputs, input_grads, fn.needs_input_grad):
                if needs and g is not None:
                    _check_grad(fn, tensor, g)
                    deliver(tensor, g)
            if not retain_graph:
                fn.release()
        for tensor, g in leaves.values():
            g = _hooked(tensor, g)
            if targets is not None:
                found[id(tensor)] = g
            else:
                tensor.grad = g if tensor.grad is None else tensor.grad + g
                for hook in tensor._post_accumulate_grad_hooks or ():
                    hook(tensor)
    return found


def _hooked(tensor: Tensor | None, g: Tensor) -> Tensor:
    """`g` after the hooks registered on `tensor` with `register_hook`, in order."""
    for hook in (tensor._grad_hooks or ()) if tensor is not None else ():
        replaced = hook(g)
        if replaced is None:
            continue
        if not isinstance(replaced, Tensor) or replaced.shape != tensor.shape:
            got = replaced.shape if isinstance(replaced, Tensor) else type(replaced).__name__
            raise RuntimeError(
                f"register_hook: a hook returned {got} for the gradient of a tensor of shape "
                f"{tensor.shape}; return a Tensor of that shape, or None to keep the gradient"
            )
        g = replaced
    return g


def _note_output_grads(
    fn: Function, grads: list[Tensor | None], targets: set[int] | None, found: dict[int, Tensor]
) -> None:
    """Records the full gradient of `fn`'s outputs that were asked for or `retain_grad()`ed."""
    for ref, g in zip(fn.outputs, grads):
        tensor = ref()
        if tensor is None or g is None:
            continue
        if targets is not None and id(tensor) in targets:
            found[id(tensor)] = g
        elif targets is None and tensor._retains_grad:
            tensor.grad = g if tensor.grad is None else tensor.grad + g


def _check_grad(fn: Function, tensor: Tensor, g: Tensor) -> None:
    if g.shape != tensor.shape:
        raise RuntimeError(
            f"{fn.name}: backward returned a gradient of shape {g.shape} "
            f"for an input of shape {tensor.shape}"
        )


from backprop.autograd import functional  # noqa: E402, F401  (needs grad, defined above)
