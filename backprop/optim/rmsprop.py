"""RMSprop with momentum and the centered variant, as `torch.optim.RMSprop`."""

from __future__ import annotations

from typing import Any

from backprop.optim.optimizer import Optimizer, ParamsT, check_non_negative, zeros_state
from backprop.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop: divides the gradient by the root of its running mean square (centered: of its
    running variance), optionally through a momentum buffer."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "square_avg": zeros_state(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_state(param)
        if group["centered"]:
            state["grad_avg"] = zeros_state(param)
        return state

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        self._count_step(param, state)
        grad_avg = state.get("grad_avg")
        momentum_buffer = state.get("momentum_buffer")
        param.backend.rmsprop_update(
            param.data,
            param.grad.data,
            state["square_avg"].data,
            None if grad_avg is None else grad_avg.data,
            None if momentum_buffer is None else momentum_buffer.data,
            lr=self._lr(param, group),
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
        )
