"""Adagrad with learning-rate decay, as `torch.optim.Adagrad`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import Optimizer, ParamsT, check_non_negative, zeros_state
from backprop.tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad: divides the gradient by the root of the sum of all past squared gradients,
    with a learning rate that decays as `lr / (1 + (step - 1) * lr_decay)`."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative(
            "Adagrad", group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
        )

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": zeros_state(param, group["initial_accumulator_value"])}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        step = self._count_step(param, state)
        param.backend.adagrad_update(
            param.data,
            param.grad.data,
            state["sum"].data,
            lr=self._lr(param, group),
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            step=step,
        )
