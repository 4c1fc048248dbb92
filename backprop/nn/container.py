"""Containers: `Sequential` chains modules; `ModuleList` and `ModuleDict` hold a list or a
dict of them so that their parameters are registered; `ParameterList` and `ParameterDict` do
the same for Parameters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from backprop.nn.module import Module
from backprop.nn.parameter import Parameter
from backprop.tensor import Tensor


def _check_module(op: str, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{op}: expected a Module, got {type(module).__name__}")
    return module


class Sequential(Module):
    """Runs its modules in order, each on the previous one's output:
    `Sequential(Linear(4, 8), ReLU(), Linear(8, 2))` or `Sequential({"fc": Linear(4, 2)})`."""

    def __init__(self, *modules: Module | Mapping[str, Module]):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, _check_module("Sequential", module))
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), _check_module("Sequential", module))

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            input = module(input)
        return input

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _check_module("Sequential.append", module))
        return self

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(dict(list(self._modules.items())[index]))
        return list(self._modules.values())[_position("Sequential", index, len(self))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner; it has no `forward` of its
    own: iterate over it in the owner's `forward`."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _check_module("ModuleList.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[_position("ModuleList", index, len(self))]

    def __setitem__(self, index: int, module: Module) -> None:
        position = _position("ModuleList", index, len(self))
        self.add_module(str(position), _check_module("ModuleList", module))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, in insertion order, whose parameters belong to the owner under
    `<key>.<name>`; like `ModuleList` it has no `forward` of its own."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] = ()):
        super().__init__()
        self.update(modules)

    def update(
        self, modules: Mapping[str, Module] | ModuleDict | Iterable[tuple[str, Module]]
    ) -> None:
        """Adds or replaces modules, in the order `modules` holds them."""
        items = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for key, module in items:
            self[key] = module

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        self.add_module(key, _check_module("ModuleDict", module))

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def pop(self, key: str) -> Module:
        """Removes the module under `key` and returns it."""
        module = self[key]
        del self._modules[key]
        return module

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> list[str]:
        """The keys, in order."""
        return list(self._modules)

    def values(self) -> list[Module]:
        """The modules, in key order."""
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        """(key, module) pairs, in order."""
        return list(self._modules.items())


class ParameterList(Module):
    """A list of Parameters registered under "0", "1", ... (PyTorch's state_dict names); a
    plain Tensor added to it becomes a Parameter, as in PyTorch."""

    def __init__(self, values: Iterable[Tensor] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value: Tensor) -> ParameterList:
        """Adds `value` (a Tensor becomes a Parameter) under the next index."""
        self.register_parameter(str(len(self)), _as_parameter("ParameterList.append", value))
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        """Appends each of `values` in turn."""
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index: int | slice) -> Parameter | ParameterList:
        if isinstance(index, slice):
            return ParameterList(list(self._parameters.values())[index])
        return self._parameters[str(_position("ParameterList", index, len(self), "parameters"))]

    def __setitem__(self, index: int, value: Tensor) -> None:
        position = _position("ParameterList", index, len(self), "parameters")
        _put(self, str(position), _as_parameter("ParameterList", value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def extra_repr(self) -> str:
        return "\n".join(f"({key}): {_describe(param)}" for key, param in self._parameters.items())

    def __repr__(self) -> str:
        return _parameters_repr(self)


class ParameterDict(Module):
    """A dict of Parameters, in insertion order (a plain dict's keys sorted, as PyTorch takes
    them), registered under their keys (PyTorch's state_dict names); a plain Tensor added to it
    becomes a Parameter, as in PyTorch."""

    def __init__(
        self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None
    ):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def update(
        self, parameters: Mapping[str, Tensor] | ParameterDict | Iterable[tuple[str, Tensor]]
    ) -> None:
        """Adds or replaces parameters: a plain dict's in sorted key order, as PyTorch does;
        an OrderedDict's, a ParameterDict's or (key, value) pairs' in their own order."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = list(parameters.items())
        elif isinstance(parameters, Mapping):
            items = sorted(parameters.items())
        else:
            items = parameters
        for key, value in items:
            self[key] = value

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict: no parameter {key!r}; keys: {list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Tensor) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(
                f"ParameterDict: keys must be non-empty strings without '.', got {key!r}"
            )
        _put(self, key, _as_parameter("ParameterDict", value))

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def pop(self, key: str) -> Parameter:
        """Removes the parameter under `key` and returns it."""
        param = self[key]
        del self._parameters[key]
        return param

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def keys(self) -> list[str]:
        """The keys, in order."""
        return list(self._parameters)

    def values(self) -> list[Parameter]:
        """The parameters, in key order."""
        return list(self._parameters.values())

    def items(self) -> list[tuple[str, Parameter]]:
        """(key, parameter) pairs, in order."""
        return list(self._parameters.items())

    def extra_repr(self) -> str:
        return "\n".join(f"({key}): {_describe(param)}" for key, param in self._parameters.items())

    def __repr__(self) -> str:
        return _parameters_repr(self)


def _put(container: Module, name: str, param: Parameter) -> None:
    """Registers `param` under `name`, in the place of the one it replaces, if any (so the
    order of `parameters()` stays that of the list or dict)."""
    if name in container._parameters:
        container._parameters[name] = param
    else:
        container.register_parameter(name, param)


def _as_parameter(op: str, value: Any) -> Parameter:
    """`value` as a Parameter: a Parameter as is, a Tensor wrapped (sharing its data)."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{op}: expected a Parameter or a Tensor, got {type(value).__name__}")


def _describe(param: Parameter) -> str:
    """One parameter as PyTorch's parameter containers print it (dtypes by their NumPy names)."""
    size = "x".join(str(s) for s in param.shape)
    device = "" if param.device.type == "cpu" else f" ({param.device})"
    return f"Parameter containing: [{param.dtype} of size {size}{device}]"


def _parameters_repr(container: Module) -> str:
    """A parameter container's repr, one parameter a line, laid out as PyTorch lays it out."""
    name = type(container).__name__
    if not container._parameters:
        return f"{name}()"
    body = "".join(f"\n    {line}" for line in container.extra_repr().split("\n"))
    return f"{name}({body}\n)"


def _position(op: str, index: int, length: int, what: str = "modules") -> int:
    if not -length <= index < length:
        raise IndexError(f"{op}: index {index} is out of range for {length} {what}")
    return index % length
