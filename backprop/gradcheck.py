"""Finite-difference checks of autograd: `gradcheck` (first derivatives) and `gradgradcheck`
(second derivatives, the gradient of a random projection of the first)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from backprop.autograd import grad
from backprop.creation import zeros_like
from backprop.tensor import Tensor, float64


class GradcheckError(AssertionError):
    """Autograd disagrees with finite differences; the message names the worst element."""


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list[Tensor]:
    result = fn(*inputs)
    return [result] if isinstance(result, Tensor) else list(result)


def _numerical(fn: Callable, inputs: list[Tensor], which: int, eps: float, projections):
    """d(sum_k <out_k, projection_k>) / d inputs[which] by central differences."""
    x = inputs[which]
    host = x.numpy().astype(np.float64)
    flat = host.reshape(-1)
    result = np.zeros_like(flat)

    def value(array: np.ndarray) -> float:
        shifted = list(inputs)
        shifted[which] = Tensor(array.reshape(x.shape), device=x.device, requires_grad=True)
        outs = _outputs(fn, shifted)
        return sum(float((o.detach().numpy() * p).sum()) for o, p in zip(outs, projections))

    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = value(host)
        flat[i] = saved - eps
        minus = value(host)
        flat[i] = saved
        result[i] = (plus - minus) / (2 * eps)
    return result.reshape(x.shape)


def _compare(analytic, numeric, atol, rtol, label: str) -> None:
    error = np.abs(analytic - numeric)
    limit = atol + rtol * np.abs(numeric)
    if np.all(error <= limit):
        return
    worst = np.unravel_index(np.argmax(error - limit), error.shape)
    raise GradcheckError(
        f"{label}: autograd and finite differences disagree at index {tuple(int(i) for i in worst)}"
        f": analytic {analytic[worst]:.10g}, numerical {numeric[worst]:.10g}, "
        f"|difference| {error[worst]:.3g} > atol + rtol * |numerical| = {limit[worst]:.3g} "
        f"({int(np.sum(error > limit))} of {error.size} elements off)"
    )


def _check_inputs(op: str, inputs: Sequence[Tensor]) -> list[Tensor]:
    inputs = list(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != float64:
            raise TypeError(f"{op}: inputs that require grad must be float64, got {t.dtype}")
    if not any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise ValueError(f"{op}: no input requires grad, so there is nothing to check")
    return inputs


def gradcheck(
    fn: Callable[..., Tensor | Sequence[Tensor]],
    *inputs: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Checks autograd's gradients of `fn` against float64 central differences.

    Each output is projected on a random tensor so one backward pass checks the whole Jacobian
    against one finite-difference sweep per input element. Returns True or raises GradcheckError.
    """
    inputs = _check_inputs("gradcheck", inputs)
    names = [f"input {i}" for i in range(len(inputs))]
    return _check("gradcheck", fn, inputs, names, eps, atol, rtol, seed)


def gradgradcheck(
    fn: Callable[..., Tensor | Sequence[Tensor]],
    *inputs: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Checks second derivatives against finite differences of the first.

    The first derivatives `(x, v) -> d<fn(x), v>/dx` are built with `create_graph=True` for a
    random `v`, and their gradients with respect to both `x` and `v` are checked, as PyTorch's
    gradgradcheck does: a backward that is not differentiable in `v` breaks `jvp`.
    Returns True or raises GradcheckError naming the input or grad_output that disagrees.
    """
    inputs = _check_inputs("gradgradcheck", inputs)
    rng = np.random.default_rng(seed + 1)
    outputs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    for o in outputs:
        if o.dtype != float64:
            raise TypeError(f"gradgradcheck: outputs must be float64, got {o.dtype} {o.shape}")
    grad_outputs = [
        Tensor(rng.standard_normal(o.shape), dtype=float64, device=o.device, requires_grad=True)
        for o in outputs
    ]
    differentiable = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivatives(*args: Tensor) -> list[Tensor]:
        xs, vs = args[: len(inputs)], args[len(inputs) :]
        live = [o for o in _outputs(fn, xs) if o.requires_grad]
        grads = (None,) * len(differentiable)
        if live:
            grads = grad(
                live,
                [xs[i] for i in differentiable],
                list(vs),
                create_graph=True,
                allow_unused=True,
            )
        return [g if g is not None else zeros_like(xs[i]) for i, g in zip(differentiable, grads)]

    names = [f"input {i}" for i in range(len(inputs))]
    names += [f"grad_output {k}" for k in range(len(grad_outputs))]
    args = inputs + grad_outputs
    return _check("gradgradcheck", first_derivatives, args, names, eps, atol, rtol, seed)


def _check(
    op: str,
    fn: Callable,
    inputs: list[Tensor],
    names: list[str],
    eps: float,
    atol: float,
    rtol: float,
    seed: int,
) -> bool:
    """Compares one backward pass of `fn` against finite differences for every input."""
    rng = np.random.default_rng(seed)
    outputs = _outputs(fn, inputs)
    projections = [rng.standard_normal(o.shape) for o in outputs]
    differentiable = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    live = [(o, p) for o, p in zip(outputs, projections) if o.requires_grad]
    analytic = (None,) * len(differentiable)
    if live:
        analytic = grad(
            [o for o, _ in live],
            [inputs[i] for i in differentiable],
            [Tensor(p, dtype=o.dtype, device=o.device) for o, p in live],
            allow_unused=True,
        )
    what = "gradients" if op == "gradcheck" else "second derivatives"
    for position, g in zip(differentiable, analytic):
        numeric = _numerical(fn, inputs, position, eps, projections)
        value = np.zeros(inputs[position].shape) if g is None else g.numpy()
        _compare(value, numeric, atol, rtol, f"{op}: {what} with respect to {names[position]}")
    return True
