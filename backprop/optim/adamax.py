"""Adamax (Adam with the infinity norm), as `torch.optim.Adamax`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_betas,
    check_non_negative,
    scalar_operand,
    zeros_state,
)
from backprop.tensor import Tensor


class Adamax(Optimizer):
    """Adamax: Adam with the running mean square replaced by an exponentially weighted
    infinity norm of the gradients (Kingma and Ba); `weight_decay` is added to the gradient."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        capturable: bool = False,
    ):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("Adamax", group, "lr", "eps", "weight_decay")
        check_betas("Adamax", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": zeros_state(param), "exp_inf": zeros_state(param)}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        step = scalar_operand(self._count_step(param, state), param)
        lr = scalar_operand(self._lr(param, group), param)
        beta1, beta2 = group["betas"]
        grad = param.grad
        if group["weight_decay"] != 0:
            grad = grad + param * group["weight_decay"]
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.add_(grad - exp_avg, alpha=1 - beta1)
        exp_inf.copy_((exp_inf * beta2).maximum(grad.abs() + group["eps"]))
        param.sub_(exp_avg / exp_inf * (lr / (1 - beta1**step)))
