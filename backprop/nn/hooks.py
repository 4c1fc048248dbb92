"""Forward and full backward hooks of modules, as PyTorch's `Module._call_impl` and
`BackwardHook`: a module with hooks registered is called through `call_with_hooks`, which runs
the forward pre-hooks, taps the inputs and outputs so backward reaches the backward (pre-)hooks,
runs forward and the forward hooks, and the always_call hooks when something raised."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from backprop.autograd import Function, is_grad_enabled
from backprop.creation import zeros
from backprop.tensor import RemovableHandle, Tensor

if TYPE_CHECKING:
    from backprop.nn.module import Module

ForwardPreHook = Callable[..., Any]
ForwardHook = Callable[..., Any]
BackwardPreHook = Callable[["Module", tuple[Tensor | None, ...]], Any]
BackwardHook = Callable[["Module", tuple[Tensor | None, ...], tuple[Tensor | None, ...]], Any]


def call_with_hooks(module: Module, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Calls `module.forward(*args, **kwargs)` between the module's registered hooks."""
    result, ran = None, set()
    try:
        for hook in list(module._forward_pre_hooks):
            args, kwargs = _after_pre_hook(module, hook, args, kwargs)
        backward = None
        if module._backward_pre_hooks or module._backward_hooks:
            backward = _BackwardHooks(module)
            args = backward.tap_inputs(args)
        result = module.forward(*args, **kwargs)
        for hook in list(module._forward_hooks):
            if hook.always_call:
                ran.add(hook)
            result = _after_forward_hook(module, hook, args, kwargs, result)
        return result if backward is None else backward.tap_outputs(result)
    except Exception:
        for hook in list(module._forward_hooks):
            if hook.always_call and hook not in ran:
                try:
                    result = _after_forward_hook(module, hook, args, kwargs, result)
                except Exception as error:
                    warnings.warn(
                        f"{type(module).__name__}: a forward hook with always_call=True raised "
                        f"an error, silenced as forward had raised another: {error}",
                        stacklevel=3,
                    )
        raise


def _after_pre_hook(
    module: Module, hook: Hook, args: tuple, kwargs: dict[str, Any]
) -> tuple[tuple, dict[str, Any]]:
    """The (args, kwargs) forward gets after one forward pre-hook."""
    if not hook.with_kwargs:
        result = hook.fn(module, args)
        if result is None:
            return args, kwargs
        return (result if isinstance(result, tuple) else (result,)), kwargs
    result = hook.fn(module, args, kwargs)
    if result is None:
        return args, kwargs
    if not isinstance(result, tuple) or len(result) != 2:
        raise RuntimeError(
            f"{type(module).__name__}: a forward pre-hook registered with with_kwargs=True must "
            f"return None or a tuple (args, kwargs), got {result!r}"
        )
    return result


def _after_forward_hook(
    module: Module, hook: Hook, args: tuple, kwargs: dict[str, Any], result: Any
) -> Any:
    """The module's output after one forward hook."""
    if hook.with_kwargs:
        replaced = hook.fn(module, args, kwargs, result)
    else:
        replaced = hook.fn(module, args, result)
    return result if replaced is None else replaced


def check_hook(method: str, hook: Any, **flags: Any) -> None:
    """The hook must be callable and every option a bool."""
    if not callable(hook):
        raise TypeError(f"Module.{method}: hook must be callable, got {type(hook).__name__}")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"Module.{method}: {name} must be a bool, got {value!r}")


class Hook:
    """A registered forward (pre-)hook and how it is called."""

    def __init__(self, fn: Callable, with_kwargs: bool, always_call: bool):
        self.fn, self.with_kwargs, self.always_call = fn, with_kwargs, always_call


def add_hook(hooks: list, hook: Any, prepend: bool) -> RemovableHandle:
    """Registers `hook` last in `hooks`, or first with `prepend`."""
    handle = RemovableHandle(hooks, hook)
    if prepend:
        hooks.insert(0, hooks.pop())
    return handle


class _GradientTap(Function):
    """The identity on some tensors; backward hands their gradients, all together, to
    `on_grads`, whose (possibly replaced) gradients flow on. A tensor that got no gradient
    passes None, as PyTorch's hooks see it."""

    materialize_grads = False

    def __init__(self, on_grads: Callable[[tuple[Tensor, ...]], tuple]):
        self.on_grads = on_grads

    @property
    def name(self) -> str:
        return "backward_hook"

    def forward(self, *arrays: Any) -> tuple:
        return arrays

    def backward(self, *grads: Tensor | None) -> tuple:
        return tuple(self.on_grads(grads))


class _BackwardHooks:
    """One call's full backward (pre-)hooks, as PyTorch's BackwardHook: a tap on the module's
    outputs runs the pre-hooks and keeps grad_output, and a tap on its inputs runs the hooks
    with grad_input once backward has gone through the module."""

    def __init__(self, module: Module):
        self.module = module
        self.grad_outputs: tuple[Tensor | None, ...] | None = None
        self.input_count, self.input_indices = 0, None
        self.constant_inputs: list[tuple] = []
        self.output_count, self.output_indices = 0, None

    def tap_inputs(self, args: tuple) -> tuple:
        self.input_count = len(args)
        self.constant_inputs = [
            (i, arg.shape, arg.dtype, arg.device)
            for i, arg in enumerate(args)
            if isinstance(arg, Tensor) and not arg.requires_grad
        ]
        args, self.input_indices = _tap(args, self._on_input_grads)
        return args

    def tap_outputs(self, result: Any) -> Any:
        outputs = result if isinstance(result, tuple) else (result,)
        self.output_count = len(outputs)
        outputs, self.output_indices = _tap(outputs, self._on_output_grads)
        return outputs if isinstance(result, tuple) else outputs[0]

    def _on_output_grads(self, grads: tuple[Tensor, ...]) -> list[Tensor | None]:
        module = self.module
        grad_outputs = _spread(self.output_indices, grads, self.output_count)
        for hook in list(module._backward_pre_hooks):
            replaced = hook(module, grad_outputs)
            if replaced is not None:
                grad_outputs = _replacement("backward pre-hook", module, replaced, grad_outputs)
        self.grad_outputs = grad_outputs
        if self.input_indices is None:  # no input needs a gradient: the hooks run now
            grad_inputs = (None,) * self.input_count
            for hook in list(module._backward_hooks):
                replaced = hook(module, grad_inputs, grad_outputs)
                if replaced is not None and any(g is not None for g in replaced):
                    raise RuntimeError(
                        f"{type(module).__name__}: no input of the module requires grad, so a "
                        "full backward hook must return None or all None"
                    )
            self.grad_outputs = None
        return [grad_outputs[i] for i in self.output_indices]

    def _on_input_grads(self, grads: tuple[Tensor, ...]) -> list[Tensor | None] | tuple:
        if self.grad_outputs is None:  # the gradient did not come through the outputs
            return grads
        module = self.module
        slots = list(_spread(self.input_indices, grads, self.input_count))
        for index, shape, dtype, device in self.constant_inputs:  # zeros, as PyTorch gives
            slots[index] = zeros(shape, dtype=dtype, device=device)
        grad_inputs = tuple(slots)
        for hook in list(module._backward_hooks):
            replaced = hook(module, grad_inputs, self.grad_outputs)
            if replaced is not None:
                grad_inputs = _replacement("full backward hook", module, replaced, grad_inputs)
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_indices]


def _tap(values: tuple, on_grads: Callable) -> tuple[tuple, list[int] | None]:
    """`values` with their Tensors that require grad passed through one `_GradientTap`, and
    where those are (None when there are none, or grad mode is off)."""
    indices = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not indices or not is_grad_enabled():
        return values, None
    tapped = list(values)
    for index, tensor in zip(indices, _GradientTap(on_grads)(*(values[i] for i in indices))):
        tapped[index] = tensor
    return (tuple(tapped) if type(values) is tuple else type(values)(*tapped)), indices


def _spread(indices: list[int], grads: Sequence[Tensor], count: int) -> tuple:
    """`count` slots holding `grads` at `indices`, None elsewhere."""
    slots: list[Tensor | None] = [None] * count
    for index, grad in zip(indices, grads):
        slots[index] = grad
    return tuple(slots)


def _replacement(kind: str, module: Module, replaced: Any, current: tuple) -> tuple:
    """What a backward hook returned, checked: as many gradients as it was given, each None
    or a Tensor shaped like the one it replaces."""
    if not isinstance(replaced, (tuple, list)) or len(replaced) != len(current):
        got = f"{len(replaced)} values" if isinstance(replaced, (tuple, list)) else repr(replaced)
        raise RuntimeError(
            f"{type(module).__name__}: a {kind} must return None or a tuple of {len(current)} "
            f"gradients (Tensor or None), got {got}"
        )
    for new, old in zip(replaced, current):
        if new is not None and (
            not isinstance(new, Tensor) or (old is not None and new.shape != old.shape)
        ):
            got = new.shape if isinstance(new, Tensor) else type(new).__name__
            raise RuntimeError(
                f"{type(module).__name__}: a {kind} returned a gradient of {got} where the "
                f"gradient has shape {old.shape if old is not None else None}"
            )
    return tuple(replaced)
