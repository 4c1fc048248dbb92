"""Optimizer: parameter groups, per-parameter state and its state_dict, as `torch.optim.Optimizer`.

A subclass says how to create a parameter's state and how to apply one update; the update calls
one fused backend primitive (`sgd_update`, `adam_update`, ...) per parameter, so a GPU backend
runs it as one kernel. State arrays live on the parameter's device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backprop.autograd import enable_grad, no_grad
from backprop.creation import full_like
from backprop.tensor import FLOAT_DTYPES, Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: holds `param_groups` (dicts of "params" and hyperparameters) and `state`
    (per-parameter dicts), and applies `_update` to every parameter that has a gradient."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, "
                f"got a single {type(params).__name__}"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines.extend(
                f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"
            )
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own hyperparameters (defaults fill the rest)."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            _check_param(name, param)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: some parameters appear more than once in the groups")
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's gradient (to None, or to zeros in place)."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; `closure` re-computes and returns the
        loss first (with gradients enabled), as in PyTorch."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    if param not in self.state:
                        self.state[param] = self._init_state(param, group)
                    self._update(param, self.state[param], group)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`, with
        parameters numbered in group order, as in PyTorch."""
        index = {}
        groups = []
        for group in self.param_groups:
            numbers = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": numbers})
        state = {index[id(param)]: dict(values) for param, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores hyperparameters and state saved by `state_dict`, moving state tensors to
        each parameter's device and float dtype."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        params_by_index = {}
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {number} has "
                    f"{len(saved['params'])} parameters in the state, "
                    f"{len(group['params'])} in this optimizer"
                )
            params_by_index.update(zip(saved["params"], group["params"]))
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for index, values in state_dict["state"].items():
            param = params_by_index[int(index)]
            self.state[param] = {key: _state_value(value, param) for key, value in values.items()}

    # -- what a subclass defines ---------------------------------------------------------------

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raises ValueError for a hyperparameter out of range (the subclass knows which)."""

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state of `param` before its first update."""
        raise NotImplementedError

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """One update of `param` from `param.grad`, in place, through one backend primitive."""
        raise NotImplementedError


def zeros_state(param: Tensor, value: float = 0.0) -> Tensor:
    """A state tensor shaped like `param`, on its device, filled with `value`."""
    return full_like(param, value)


def check_non_negative(optimizer: str, group: dict[str, Any], *names: str) -> None:
    """Raises ValueError naming the first of `names` whose value in `group` is negative."""
    for key in names:
        if group[key] < 0:
            raise ValueError(f"{optimizer}: {key} must be >= 0, got {group[key]}")


def _check_param(optimizer: str, param: Any) -> None:
    if not isinstance(param, Tensor):
        raise TypeError(f"{optimizer}: parameters must be Tensors, got {type(param).__name__}")
    if not param.is_leaf:
        raise ValueError(f"{optimizer}: cannot optimize a non-leaf Tensor")
    if param.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{optimizer}: parameters must be float32 or float64, got {param.dtype}")


def _state_value(value: Any, param: Tensor) -> Any:
    """A saved state entry made ready for `param`: arrays become copies on its device (in its
    float dtype), NumPy scalars become Python numbers."""
    if not isinstance(value, (Tensor, np.ndarray)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return value.item() if isinstance(value, (np.ndarray, np.generic)) else value
    moved = Tensor(value, device=param.device)
    dtype = param.dtype if moved.dtype in FLOAT_DTYPES else moved.dtype
    backend = moved.backend
    return Tensor._make(backend.copy(backend.astype(moved.data, dtype)), param.device)
