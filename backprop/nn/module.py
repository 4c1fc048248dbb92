"""Module: the base class of every layer. It registers the Parameters, buffers and sub-modules
assigned to it, so a whole model can be walked, moved, saved and restored by name."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.nn.hooks import (
    BackwardHook,
    BackwardPreHook,
    ForwardHook,
    ForwardPreHook,
    Hook,
    add_hook,
    call_with_hooks,
    check_hook,
)
from backprop.nn.parameter import Parameter
from backprop.tensor import FLOAT_DTYPES, RemovableHandle, Tensor, as_dtype


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
        return call_with_hooks(self, args, kwargs)

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
        check_hook(method, hook, prepend=prepend, with_kwargs=with_kwargs)
        return add_hook(self._forward_pre_hooks, Hook(hook, with_kwargs, False), prepend)

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
        check_hook(method, hook, prepend=prepend, with_kwargs=with_kwargs, always_call=always_call)
        return add_hook(self._forward_hooks, Hook(hook, with_kwargs, always_call), prepend)

    def register_full_backward_pre_hook(
        self, hook: BackwardPreHook, prepend: bool = False
    ) -> RemovableHandle:
        """Calls `hook(module, grad_output)` when the gradients with respect to the module's
        outputs are computed, before they flow into it: `grad_output` holds one entry per
        output (None where it is not a Tensor that requires grad). A tuple it returns replaces
        `grad_output`."""
        check_hook("register_full_backward_pre_hook", hook, prepend=prepend)
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(
        self, hook: BackwardHook, prepend: bool = False
    ) -> RemovableHandle:
        """Calls `hook(module, grad_input, grad_output)` when the gradients with respect to the
        module's positional inputs are computed: one entry per argument, None where it is not a
        Tensor that requires grad (all None when none does; the hook then runs with the output
        gradients). A tuple it returns replaces `grad_input` for the rest of backward."""
        check_hook("register_full_backward_hook", hook, prepend=prepend)
        return add_hook(self._backward_hooks, hook, prepend)

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
