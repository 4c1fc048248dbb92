"""Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`.

Both rescale `.grad` in place between `backward()` and `optimizer.step()`. The norm stays a
device tensor, so clipping a GPU model reads nothing back to the host.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from backprop.autograd import no_grad
from backprop.creation import tensor
from backprop.ops import stack
from backprop.tensor import Tensor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scales all gradients together so that their joint `norm_type`-norm is at most
    `max_norm`; returns the norm before clipping."""
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = _grads("clip_grad_norm_", parameters)
    if not grads:
        return tensor(0.0)
    first = grads[0]
    with no_grad():
        norms = [_norm(g, norm_type).to(first.device, dtype=first.dtype) for g in grads]
        total = _norm(stack(norms), norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                f"{total.item()}, so they cannot be clipped; pass error_if_nonfinite=False "
                "to clip anyway"
            )
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.backend.assign(g.data, (g * scale.to(g.device, dtype=g.dtype)).data)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamps every gradient element into `[-clip_value, clip_value]`, in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for g in _grads("clip_grad_value_", parameters):
            g.backend.assign(g.data, g.clamp(-clip_value, clip_value).data)


def _grads(op: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for param in params:
        if not isinstance(param, Tensor):
            raise TypeError(f"{op}: parameters must be Tensors, got {type(param).__name__}")
    return [param.grad for param in params if param.grad is not None]


def _norm(x: Tensor, norm_type: float) -> Tensor:
    if norm_type == math.inf:
        return x.abs().max()
    if norm_type == 2:
        return (x * x).sum().sqrt()
    return (x.abs() ** norm_type).sum() ** (1.0 / norm_type)
