"""Adadelta, as `torch.optim.Adadelta`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_non_negative,
    scalar_operand,
    zeros_state,
)
from backprop.tensor import Tensor


class Adadelta(Optimizer):
    """Adadelta: scales the gradient by the ratio of the running root mean squares of past
    updates and of gradients, so steps carry the parameter's units (Zeiler); `lr` scales the
    result and `weight_decay` is added to the gradient."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        capturable: bool = False,
    ):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("Adadelta", group, "lr", "eps", "weight_decay")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {group['rho']}")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "square_avg": zeros_state(param), "acc_delta": zeros_state(param)}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        self._count_step(param, state)
        lr = scalar_operand(self._lr(param, group), param)
        rho, eps = group["rho"], group["eps"]
        grad = param.grad
        if group["weight_decay"] != 0:
            grad = grad + param * group["weight_decay"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).add_(grad * grad, alpha=1 - rho)
        delta = (acc_delta + eps).sqrt() / (square_avg + eps).sqrt() * grad
        acc_delta.mul_(rho).add_(delta * delta, alpha=1 - rho)
        param.sub_(delta * lr)
