"""SGD with momentum, dampening, Nesterov momentum and weight decay, as `torch.optim.SGD`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import Optimizer, ParamsT, check_non_negative, zeros_state
from backprop.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent: `p -= lr * g`, with an optional momentum buffer
    `b = momentum * b + (1 - dampening) * g` (Nesterov: step along `g + momentum * b`)."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("SGD", group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        first_step = group["momentum"] != 0 and "momentum_buffer" not in state
        if first_step:
            state["momentum_buffer"] = zeros_state(param)
        buffer = state.get("momentum_buffer")
        param.backend.sgd_update(
            param.data,
            param.grad.data,
            None if buffer is None else buffer.data,
            lr=self._lr(param, group),
            momentum=group["momentum"],
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            weight_decay=group["weight_decay"],
            first_step=first_step,
        )
