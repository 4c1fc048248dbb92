"""NAdam (Adam with Nesterov momentum) and NAdamW, as `torch.optim.NAdam`."""

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


class NAdam(Optimizer):
    """NAdam: Adam whose step looks ahead along the momentum, with a momentum coefficient
    warmed up by `momentum_decay` (Dozat); `decoupled_weight_decay=True` shrinks the parameter
    as AdamW does instead of adding the decay to the gradient (NAdamW)."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("NAdam", group, "lr", "eps", "weight_decay", "momentum_decay")
        check_betas("NAdam", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": 0,
            "mu_product": 1.0,
            "exp_avg": zeros_state(param),
            "exp_avg_sq": zeros_state(param),
        }

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        step = scalar_operand(self._count_step(param, state), param)
        lr = scalar_operand(self._lr(param, group), param)
        beta1, beta2 = group["betas"]
        weight_decay, momentum_decay = group["weight_decay"], group["momentum_decay"]
        grad = param.grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad + param * weight_decay
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = self._multiply_mu_product(param, state, mu)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.add_(grad - exp_avg, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        denom = (exp_avg_sq / (1 - beta2**step)).sqrt() + group["eps"]
        param.sub_(grad / denom * (lr * (1.0 - mu) / (1.0 - mu_product)))
        param.sub_(exp_avg / denom * (lr * mu_next / (1.0 - mu_product * mu_next)))

    def _multiply_mu_product(self, param: Tensor, state: dict[str, Any], mu: Any) -> Any:
        """Multiplies `state["mu_product"]` (the product of every step's momentum coefficient)
        by `mu` and returns it: a Python number, or, when capturable, a 0-d Tensor in `param`'s
        dtype multiplied on the device."""
        product = state["mu_product"]
        if not self.capturable:
            if isinstance(product, Tensor):  # state saved by a capturable optimizer
                product = product.item()
            state["mu_product"] = product * mu
            return state["mu_product"]
        if not isinstance(product, Tensor):
            self._check_not_capturing("its momentum product")
            product = Tensor._make(param.backend.full((), product, param.dtype), param.device)
            state["mu_product"] = product
        return product.mul_(mu)
