"""Adam (with AMSGrad) and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_betas,
    check_non_negative,
    zeros_state,
)
from backprop.tensor import Tensor


class Adam(Optimizer):
    """Adam: steps along the bias-corrected running mean of gradients over the root of their
    running mean square; `weight_decay` is added to the gradient (L2 regularisation)."""

    decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        check_non_negative(name, group, "lr", "eps", "weight_decay")
        check_betas(name, group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": zeros_state(param), "exp_avg_sq": zeros_state(param)}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        step = self._count_step(param, state)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = zeros_state(param)
        beta1, beta2 = group["betas"]
        param.backend.adam_update(
            param.data,
            param.grad.data,
            state["exp_avg"].data,
            state["exp_avg_sq"].data,
            state["max_exp_avg_sq"].data if group["amsgrad"] else None,
            lr=self._lr(param, group),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            step=step,
            decoupled=self.decoupled_weight_decay,
            amsgrad=group["amsgrad"],
        )


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by `lr * weight_decay` each
    step instead of the decay entering the gradient (Loshchilov and Hutter)."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        capturable: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, capturable)
