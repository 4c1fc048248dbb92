"""RAdam (rectified Adam), as `torch.optim.RAdam`."""

from __future__ import annotations

from typing import Any

from backprop.ops import where
from backprop.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_betas,
    check_non_negative,
    scalar_operand,
    zeros_state,
)
from backprop.tensor import Tensor

RECTIFY_ABOVE = 5.0
"""The approximated moving-average length above which the adaptive step is used (PyTorch's)."""


class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is rectified by the variance of its second moment, and
    which takes plain momentum SGD steps while that variance is intractable (the first steps;
    Liu et al.); `decoupled_weight_decay=True` shrinks the parameter as AdamW does."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        capturable: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults, capturable)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        check_non_negative("RAdam", group, "lr", "eps", "weight_decay")
        check_betas("RAdam", group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": zeros_state(param), "exp_avg_sq": zeros_state(param)}

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        step = scalar_operand(self._count_step(param, state), param)
        lr = scalar_operand(self._lr(param, group), param)
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        grad = param.grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad + param * weight_decay
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.add_(grad - exp_avg, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2**step / bias_correction2

        def rectified_adaptive_step(rho: Any) -> Tensor:
            adaptive = bias_correction2**0.5 / (exp_avg_sq.sqrt() + group["eps"])
            return _rectification(rho, rho_inf) * adaptive

        if isinstance(rho_t, Tensor):  # capturable: the branch is taken on the device
            # Rectified at max(rho_t, 5) so that no NaN is computed where `where` drops it.
            rectified = rectified_adaptive_step(rho_t.maximum(RECTIFY_ABOVE))
            scale = where(rho_t > RECTIFY_ABOVE, rectified, 1.0)
        elif rho_t > RECTIFY_ABOVE:
            scale = rectified_adaptive_step(rho_t)
        else:
            scale = 1.0
        param.sub_(exp_avg / (1 - beta1**step) * lr * scale)


def _rectification(rho_t: Any, rho_inf: float) -> Any:
    """RAdam's variance rectification term r_t for the approximated SMA length `rho_t`."""
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
