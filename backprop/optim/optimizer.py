"""Optimizer: parameter groups, per-parameter state and its state_dict, as `torch.optim.Optimizer`.

A subclass says how to create a parameter's state and how to apply one update; the update calls
one fused backend primitive (`sgd_update`, `adam_update`, ...) per parameter, so a GPU backend
runs it as one kernel. State arrays live on the parameter's device.

A `capturable` optimizer (as PyTorch's `capturable=True`) keeps its learning rate and step counts
in 0-d device arrays, so that a step captured into a CUDA graph (`backprop.cuda.graph_step`)
reads their current values at every replay: step counts are incremented on the device, and the
host-side `param_groups[i]["lr"]` (what LR schedulers change) is copied to the device before each
step, or before each replay of a captured one. `graph_step` switches the optimizers it warms up
to this mode. Python numbers stay the default: the fastest eager path. The other
hyperparameters (momentum, betas, weight decay) stay Python numbers, which a captured step keeps
as they were at the capture; changing one afterwards is refused at the next replay.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backprop.autograd import enable_grad, no_grad
from backprop.creation import full_like
from backprop.graph import CAPTURE, WARMUP, before_replay, capture_phase
from backprop.tensor import FLOAT_DTYPES, Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: holds `param_groups` (dicts of "params" and hyperparameters) and `state`
    (per-parameter dicts), and applies `_update` to every parameter that has a gradient.

    `capturable=True` keeps the learning rates and step counts in device memory, so that a step
    captured into a CUDA graph follows LR schedulers (see this module's docstring)."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any], capturable: bool = False):
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
        self.capturable = bool(capturable)
        self._device_lrs: dict[tuple, tuple[dict[str, Any], Any, Any]] = {}
        self._captured_hyperparameters: list[dict[str, Any]] = []
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
                else:  # detached first, as PyTorch does after backward(create_graph=True)
                    param.grad = param.grad.detach().zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; `closure` re-computes and returns the
        loss first (with gradients enabled), as in PyTorch."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        phase = capture_phase()
        self._prepare_scalars(phase)
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    if param not in self.state:
                        if phase == CAPTURE:
                            raise RuntimeError(
                                f"{type(self).__name__}.step: a parameter of shape "
                                f"{param.shape} has no optimizer state yet, and state made "
                                "inside a CUDA graph capture would be reset at every replay; "
                                "take an eager step first (graph_step's warm-up does)"
                            )
                        self.state[param] = self._init_state(param, group)
                    self._update(param, self.state[param], group)
                    param._version += 1  # written in place: a graph that used it is stale
        return loss

    def _prepare_scalars(self, phase: str) -> None:
        """Puts the learning rates where this step reads them: a `graph_step` warm-up makes the
        optimizer capturable; a capturable one copies them to the device now, or, while a step
        is captured, before every replay."""
        name = type(self).__name__
        if phase == WARMUP:
            self.capturable = True
        if not self.capturable:
            if phase == CAPTURE:
                raise RuntimeError(
                    f"{name}.step: stepped inside a CUDA graph capture without capturable=True, "
                    "so its learning rate and step count would be frozen into the graph; "
                    "create it with capturable=True, or step it during graph_step's warm-up"
                )
            return
        if phase == CAPTURE:
            self._captured_hyperparameters = self._hyperparameters()
            before_replay(self._load_learning_rates)
        else:
            self._copy_learning_rates()

    def _hyperparameters(self) -> list[dict[str, Any]]:
        """Each group's hyperparameters other than the learning rate: Python numbers that a
        captured step keeps as they were when it was captured."""
        return [
            {key: group[key] for key in self.defaults if key != "lr"} for group in self.param_groups
        ]

    def _load_learning_rates(self) -> None:
        """Before a replay of a captured step: copies the learning rates to the device, after
        refusing a hyperparameter changed since the capture (as OneCycleLR cycles momentum),
        which the graph would silently ignore."""
        now = self._hyperparameters()
        if now != self._captured_hyperparameters:  # one comparison per replay in the usual case
            self._refuse_changed_hyperparameters(now)
        self._copy_learning_rates()

    def _refuse_changed_hyperparameters(self, now: list[dict[str, Any]]) -> None:
        """Raises for the first hyperparameter in `now` that differs from the captured one."""
        for index, (captured, current) in enumerate(zip(self._captured_hyperparameters, now)):
            for key, value in captured.items():
                if current[key] != value:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: param_groups[{index}][{key!r}] changed "
                        f"from {value!r} to {current[key]!r} after the step was captured into "
                        "a CUDA graph, which keeps the value it was captured with; only 'lr' "
                        "is read at every replay (OneCycleLR: pass cycle_momentum=False)"
                    )

    def _copy_learning_rates(self) -> None:
        """Copies each group's host-side learning rate into its device scalars, in stream
        order and without a host synchronisation."""
        for group, backend, array in self._device_lrs.values():
            backend.assign(array, group["lr"])

    def _lr(self, param: Tensor, group: dict[str, Any]) -> Any:
        """The group's learning rate as `param`'s update primitive takes it: the Python number,
        or, when capturable, a 0-d device array in `param`'s dtype (one per group, device and
        dtype)."""
        if not self.capturable:
            return group["lr"]
        key = (id(group), param.device, param.dtype)
        if key not in self._device_lrs:
            self._check_not_capturing("its learning rate")
            array = param.backend.full((), group["lr"], param.dtype)
            self._device_lrs[key] = (group, param.backend, array)
        return self._device_lrs[key][2]

    def _count_step(self, param: Tensor, state: dict[str, Any]) -> Any:
        """Adds one to `state["step"]` and returns it as the update primitive takes it: a Python
        int, or, when capturable, a 0-d Tensor in `param`'s dtype incremented on the device
        (exact up to 2**24 steps in float32, as PyTorch's)."""
        step = state["step"]
        if not self.capturable:
            if isinstance(step, Tensor):  # state saved by a capturable optimizer
                step = int(step.item())
            state["step"] = step + 1
            return state["step"]
        if not isinstance(step, Tensor):
            self._check_not_capturing("its step count")
            step = Tensor._make(param.backend.full((), step, param.dtype), param.device)
            state["step"] = step
        backend = param.backend
        backend.assign(step.data, backend.binary("add", step.data, 1))
        return step.data

    def _check_not_capturing(self, what: str) -> None:
        if capture_phase() == CAPTURE:
            raise RuntimeError(
                f"{type(self).__name__}.step: {what} would be moved to the device inside a CUDA "
                "graph capture, which would reset it at every replay; take an eager step first "
                "(graph_step's warm-up does)"
            )

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


def scalar_operand(value: Any, param: Tensor) -> Any:
    """A learning rate or step count as `_lr` / `_count_step` give it, made an operand of Tensor
    ops: a Python number as is, a capturable optimizer's 0-d device array as a 0-d Tensor on
    `param`'s device, so that updates written with Tensor ops compute from it on the device."""
    if isinstance(value, numbers.Number):
        return value
    return Tensor._make(value, param.device)


def check_non_negative(optimizer: str, group: dict[str, Any], *names: str) -> None:
    """Raises ValueError naming the first of `names` whose value in `group` is negative."""
    for key in names:
        if group[key] < 0:
            raise ValueError(f"{optimizer}: {key} must be >= 0, got {group[key]}")


def check_betas(optimizer: str, group: dict[str, Any]) -> None:
    """Raises ValueError unless `group["betas"]` is two numbers in [0, 1)."""
    betas = group["betas"]
    if len(betas) != 2 or not all(0.0 <= beta < 1.0 for beta in betas):
        raise ValueError(f"{optimizer}: betas must be two numbers in [0, 1), got {betas}")


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
