"""Module: the base class of every layer. It registers the Parameters, buffers and sub-modules
assigned to it, so a whole model can be walked, moved, saved and restored by name."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from backprop.autograd import Function, is_grad_enabled
from backprop.creation import zeros
from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.nn.parameter import Parameter
from backprop.tensor import FLOAT_DTYPES, RemovableHandle, Tensor, as_dtype

ForwardPreHook = Callable[..., Any]
ForwardHook = Callable[..., Any]
BackwardPreHook = Callable[["Module", tuple[Tensor | None, ...]], Any]
BackwardHook = Callable[["Module", tuple[Tensor | None, ...], tuple[Tensor | None, ...]], Any]


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match, as in PyTorch."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """A layer or a model: subclasses set Parameters and sub-modules as attributes in
    `__init__` and compute in `forward`; calling the module runs `forward`, between its
    forward pre-hooks and forward hooks."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_pre_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: forward is not defined")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (
            self._forward_pre_hooks
            or self._forward_hooks
            or self._backward_pre_hooks
            or self._backward_hooks
        ):
            return self.forward(*args, **kwargs)
        result, ran = None, set()
        try:
            for hook in list(self._forward_pre_hooks):
                args, kwargs = self._after_pre_hook(hook, args, kwargs)
            backward = None
            if self._backward_pre_hooks or self._backward_hooks:
                backward = _BackwardHooks(self)
                args = backward.tap_inputs(args)
            result = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks):
                if hook.always_call:
                    ran.add(hook)
                result = _after_forward_hook(self, hook, args, kwargs, result)
            return result if backward is None else backward.tap_outputs(result)
        except Exception:
            for hook in list(self._forward_hooks):
                if hook.always_call and hook not in ran:
                    try:
                        result = _after_forward_hook(self, hook, args, kwargs, result)
                    except Exception as error:
                        warnings.warn(
                            f"{type(self).__name__}: a forward hook with always_call=True raised "
                            f"an error, silenced as forward had raised another: {error}",
                            stacklevel=2,
                        )
            raise

    def _after_pre_hook(
        self, hook: _Hook, args: tuple, kwargs: dict[str, Any]
    ) -> tuple[tuple, dict[str, Any]]:
        """The (args, kwargs) forward gets after one forward pre-hook."""
        if not hook.with_kwargs:
            result = hook.fn(self, args)
            if result is None:
                return args, kwargs
            return (result if isinstance(result, tuple) else (result,)), kwargs
        result = hook.fn(self, args, kwargs)
        if result is None:
            return args, kwargs
        if not isinstance(result, tuple) or len(result) != 2:
            raise RuntimeError(
                f"{type(self).__name__}: a forward pre-hook registered with with_kwargs=True must "
                f"return None or a tuple (args, kwargs), got {result!r}"
            )
        return result

    # -- hooks -------------------------------------------------------------------------------

    def register_forward_pre_hook(
        self, hook: ForwardPreHook, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Calls `hook(module, args)` each time the module is called, before `forward`, with
        the positional arguments as a tuple; what it returns (if not None) replaces them (a
        non-tuple becomes a one-element tuple). With `with_kwargs`, `hook(module, args, kwargs)`
        may return a new `(args, kwargs)`. Hooks run in the order registered (`prepend` puts
        this one first), and not when `forward` is called directly."""
        method = "register_forward_pre_hook"
        _check_hook(method, hook, prepend=prepend, with_kwargs=with_kwargs)
        return _add_hook(self._forward_pre_hooks, _Hook(hook, with_kwargs, False), prepend)

    def register_forward_hook(
        self,
        hook: ForwardHook,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Calls `hook(module, args, output)` (with `with_kwargs`, `hook(module, args, kwargs,
        output)`) each time the module is called, after `forward`; what it returns (if not
        None) replaces the output. With `always_call` it also runs when forward (or a hook)
        raises, with output None. Hooks run in the order registered (`prepend` puts this one
        first), and not when `forward` is called directly."""
        method = "register_forward_hook"
        _check_hook(method, hook, prepend=prepend, with_kwargs=with_kwargs, always_call=always_call)
        return _add_hook(self._forward_hooks, _Hook(hook, with_kwargs, always_call), prepend)

    def register_full_backward_pre_hook(
        self, hook: BackwardPreHook, prepend: bool = False
    ) -> RemovableHandle:
        """Calls `hook(module, grad_output)` when the gradients with respect to the module's
        outputs are computed, before they flow into it: `grad_output` holds one entry per
        output (None where it is not a Tensor that requires grad). A tuple it returns replaces
        `grad_output`."""
        _check_hook("register_full_backward_pre_hook", hook, prepend=prepend)
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(
        self, hook: BackwardHook, prepend: bool = False
    ) -> RemovableHandle:
        """Calls `hook(module, grad_input, grad_output)` when the gradients with respect to the
        module's positional inputs are computed: one entry per argument, None where it is not a
        Tensor that requires grad (all None when none does; the hook then runs with the output
        gradients). A tuple it returns replaces `grad_input` for the rest of backward."""
        _check_hook("register_full_backward_hook", hook, prepend=prepend)
        return _add_hook(self._backward_hooks, hook, prepend)

    # -- registration ------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r}; use a Parameter or None"
                )
            self._parameters[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                    f"{name!r}; use a Tensor or None"
                )
            self._buffers[name] = value
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: registered names live in the three dicts.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if not self._forget(name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _forget(self, name: str) -> bool:
        """Removes `name` wherever it is held; True when it was there."""
        found = name in self.__dict__
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                found = True
        self._non_persistent.discard(name)
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Registers `param` (or None, for an absent optional parameter such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, "
                f"got {type(param).__name__}"
            )
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Registers a Tensor that is state but not learnable, such as BatchNorm's running
        mean; persistent buffers are part of `state_dict()`."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}"
            )
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # -- walking the tree --------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, each once, with dotted names."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                yield (f"{prefix}.{name}" if prefix else name), member

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name; a Parameter shared by two layers comes once."""
        yield from self._named_members("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse):
            yield param

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Calls `fn` on every sub-module and then on this one (for custom initialisation)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -----------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Sets training mode here and below: Dropout drops, BatchNorm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's gradient (to None by default, as in PyTorch)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = param.grad.detach().zero_()

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Tensor]:
        """Every Parameter and persistent buffer by dotted name, detached (sharing data)."""
        state: dict[str, Tensor] = {}
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[dot + name] = param.detach()
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[dot + name] = buffer.detach()
        return state

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copies values into the parameters and buffers in place (keeping their device and
        dtype). With `strict`, missing or unexpected keys are an error that names them; a shape
        mismatch is always an error."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to tensors, "
                f"got {type(state_dict).__name__}"
            )
        own = self.state_dict()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        for key in [key for key in own if key in state_dict]:
            shape = tuple(np.shape(state_dict[key]))
            if shape != own[key].shape:
                problems.append(
                    f"size mismatch for {key}: the checkpoint has shape {shape}, "
                    f"the model has {own[key].shape}"
                )
        if problems:
            raise RuntimeError(
                f"load_state_dict: error(s) loading into {type(self).__name__}: "
                + "; ".join(problems)
            )
        for key, target in own.items():
            if key in state_dict:
                value = _on(target, state_dict[key])
                target.backend.assign(target.data, value.data)
        return IncompatibleKeys(missing, unexpected)

    def to(self, target: Any = None, dtype: Any = None) -> Module:
        """Moves every parameter and buffer to a device and/or float dtype, in place: the
        Parameter objects stay the same, so an optimizer built before the move keeps working."""
        if target is not None and not isinstance(target, Device):
            with contextlib.suppress(TypeError):
                dtype, target = as_dtype(target, "to"), None
        if dtype is not None and as_dtype(dtype, "to") not in FLOAT_DTYPES:
            raise TypeError(f"Module.to: dtype must be float32 or float64, got {dtype}")
        device = None if target is None else resolve_device(target)
        for tensor in [*self.parameters(), *self.buffers()]:
            _move(tensor, device, dtype)
            if tensor.grad is not None:
                _move(tensor.grad, device, dtype)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    def float(self) -> Module:
        return self.to(dtype="float32")

    def double(self) -> Module:
        return self.to(dtype="float64")

    # -- printing ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): {_indent(repr(child))}" for name, child in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = self.extra_repr()
        body = "\n".join(f"  {line}" for line in ([head] if head else []) + lines)
        return f"{type(self).__name__}(\n{body}\n)"


def check_sizes(layer: str, **sizes: int) -> None:
    """Raises a ValueError naming the layer and the argument unless every size is an int >= 1."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def _check_hook(method: str, hook: Any, **flags: Any) -> None:
    """The hook must be callable and every option a bool."""
    if not callable(hook):
        raise TypeError(f"Module.{method}: hook must be callable, got {type(hook).__name__}")
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"Module.{method}: {name} must be a bool, got {value!r}")


class _Hook:
    """A registered forward (pre-)hook and how it is called."""

    def __init__(self, fn: Callable, with_kwargs: bool, always_call: bool):
        self.fn, self.with_kwargs, self.always_call = fn, with_kwargs, always_call


def _add_hook(hooks: list, hook: Any, prepend: bool) -> RemovableHandle:
    """Registers `hook` last in `hooks`, or first with `prepend`."""
    handle = RemovableHandle(hooks, hook)
    if prepend:
        hooks.insert(0, hooks.pop())
    return handle


def _after_forward_hook(
    module: Module, hook: _Hook, args: tuple, kwargs: dict[str, Any], result: Any
) -> Any:
    """The module's output after one forward hook."""
    if hook.with_kwargs:
        replaced = hook.fn(module, args, kwargs, result)
    else:
        replaced = hook.fn(module, args, result)
    return result if replaced is None else replaced


class _GradientTap(Function):
    """The identity on some tensors; backward hands their gradients, all together, to
    `on_grads`, whose (possibly replaced) gradients flow on."""

    def __init__(self, on_grads: Callable[[tuple[Tensor, ...]], tuple]):
        self.on_grads = on_grads

    @property
    def name(self) -> str:
        return "backward_hook"

    def forward(self, *arrays: Any) -> tuple:
        return arrays

    def backward(self, *grads: Tensor) -> tuple:
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


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _on(like: Tensor, value: Any) -> Tensor:
    """`value` (a Tensor, NumPy array or number) on `like`'s device, in its dtype."""
    if isinstance(value, Tensor):
        return value.detach().to(like.device, dtype=like.dtype)
    return Tensor(np.asarray(value), dtype=like.dtype, device=like.device)


def _move(tensor: Tensor, device: Device | None, dtype: Any) -> None:
    """Re-points `tensor` at a copy of its data on `device` and/or in float `dtype`."""
    moved = tensor.detach()
    if device is not None:
        moved = moved.to(device)
    if dtype is not None and moved.dtype in FLOAT_DTYPES:
        moved = moved.to(dtype=dtype)
    tensor.data, tensor.device = moved.data, moved.device
