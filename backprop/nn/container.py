"""Containers: `Sequential` chains modules; `ModuleList` and `ModuleDict` hold a list or a
dict of them so that their parameters are registered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from backprop.nn.module import Module


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

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
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
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())


def _position(op: str, index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"{op}: index {index} is out of range for {length} modules")
    return index % length
