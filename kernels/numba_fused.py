"""Fused Numba-CUDA kernels: softmax cross-entropy (one thread per row) and the optimizer
updates (one kernel per parameter, every buffer updated in place in the same pass)."""

from __future__ import annotations

import math

from numba import cuda

from .numba_launch import empty, flat, launch


@cuda.jit
def _softmax_cross_entropy_forward(
    logits, targets, losses, probs, counted, classes, smoothing, ignore_index
):
    for row in range(cuda.grid(1), losses.size, cuda.gridsize(1)):
        base = row * classes
        top = logits[base]
        for j in range(1, classes):
            top = max(top, logits[base + j])
        total = 0.0
        shifted_sum = 0.0
        for j in range(classes):
            shifted = logits[base + j] - top
            total += math.exp(shifted)
            shifted_sum += shifted
        log_total = math.log(total)
        target = targets[row]
        if target == ignore_index:
            loss = 0.0
        elif target < 0 or target >= classes:
            loss = math.nan
        else:
            loss = -(1.0 - smoothing) * (logits[base + target] - top - log_total)
            if smoothing != 0:
                loss -= smoothing * (shifted_sum / classes - log_total)
        losses[row] = loss
        counted[row] = 0.0 if target == ignore_index else 1.0
        for j in range(classes):
            probs[base + j] = math.exp(logits[base + j] - top) / total


@cuda.jit
def _softmax_cross_entropy_backward(
    probs, targets, grad_losses, out, classes, smoothing, ignore_index
):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        row = i // classes
        target = targets[row]
        grad = probs[i] - smoothing / classes
        if i - row * classes == target:
            grad -= 1.0 - smoothing
        out[i] = 0.0 if target == ignore_index else grad * grad_losses[row]


def softmax_cross_entropy_forward(logits, targets, label_smoothing: float, ignore_index: int):
    """Per-row losses, the softmax and the rows that count (see the CUDA C kernel)."""
    n, classes = logits.shape
    losses = empty((n,), logits.dtype)
    counted = empty((n,), logits.dtype)
    probs = empty((n, classes), logits.dtype)
    arrays = (flat(logits), flat(targets), losses, flat(probs), counted)
    launch(_softmax_cross_entropy_forward, n, *arrays, classes, label_smoothing, ignore_index)
    return losses, probs, counted


def softmax_cross_entropy_backward(
    probs, targets, grad_losses, label_smoothing: float, ignore_index: int
):
    """The logits' gradient (N, C) from the forward's softmax: (softmax - smoothed one-hot)
    times each row's loss gradient, 0 in ignored rows; one thread per entry."""
    n, classes = probs.shape
    out = empty((n, classes), probs.dtype)
    arrays = (flat(probs), flat(targets), flat(grad_losses), flat(out))
    launch(
        _softmax_cross_entropy_backward, out.size, *arrays, classes, label_smoothing, ignore_index
    )
    return out


@cuda.jit
def _sgd(param, grad, buffer, lr, momentum, dampening, nesterov, weight_decay, first_step):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[i]
        if weight_decay != 0:
            g += weight_decay * param[i]
        if momentum != 0:
            b = g if first_step else momentum * buffer[i] + (1.0 - dampening) * g
            buffer[i] = b
            g = g + momentum * b if nesterov else b
        param[i] -= lr * g


def sgd_update(
    param, grad, momentum_buffer, lr, momentum, dampening, nesterov, weight_decay, first_step
) -> None:
    # Without momentum the kernel never touches its buffer argument; `param` fills the slot.
    buffer = flat(momentum_buffer if momentum else param)
    args = (lr, momentum, dampening, nesterov, weight_decay, first_step)
    launch(_sgd, param.size, flat(param), flat(grad), buffer, *args)


@cuda.jit
def _adam(
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, weight_decay, beta1, beta2, eps,
    step_size, bias2_sqrt, amsgrad,
):  # fmt: skip
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p = param[i] * decay
        g = grad[i]
        if weight_decay != 0:
            g += weight_decay * param[i]
        m = beta1 * exp_avg[i] + (1.0 - beta1) * g
        v = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(v, max_exp_avg_sq[i])
            max_exp_avg_sq[i] = v
        param[i] = p - step_size * m / (math.sqrt(v) / bias2_sqrt + eps)


def adam_update(
    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step,
    decoupled, amsgrad,
) -> None:  # fmt: skip
    decay = 1.0 - lr * weight_decay if decoupled else 1.0
    coupled_decay = 0.0 if decoupled else weight_decay
    step_size = lr / (1.0 - beta1**step)
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    # Without amsgrad the kernel never touches its max buffer argument; `exp_avg_sq` fills it.
    maximum = flat(max_exp_avg_sq if amsgrad else exp_avg_sq)
    args = (decay, coupled_decay, beta1, beta2, eps, step_size, bias2_sqrt, amsgrad)
    launch(
        _adam, param.size, flat(param), flat(grad), flat(exp_avg), flat(exp_avg_sq), maximum, *args
    )


@cuda.jit
def _rmsprop(
    param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay, momentum,
    centered,
):  # fmt: skip
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[i]
        if weight_decay != 0:
            g += weight_decay * param[i]
        square = alpha * square_avg[i] + (1.0 - alpha) * g * g
        square_avg[i] = square
        if centered:
            mean = alpha * grad_avg[i] + (1.0 - alpha) * g
            grad_avg[i] = mean
            square -= mean * mean
        step = g / (math.sqrt(square) + eps)
        if momentum != 0:
            step += momentum * momentum_buffer[i]
            momentum_buffer[i] = step
        param[i] -= lr * step


def rmsprop_update(
    param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay, momentum,
    centered,
) -> None:  # fmt: skip
    # Buffers a configuration does not use are never touched; `square_avg` fills their slots.
    means = flat(grad_avg if centered else square_avg)
    velocity = flat(momentum_buffer if momentum else square_avg)
    args = (lr, alpha, eps, weight_decay, momentum, centered)
    launch(_rmsprop, param.size, flat(param), flat(grad), flat(square_avg), means, velocity, *args)


@cuda.jit
def _adagrad(param, grad, state_sum, step_size, weight_decay, eps):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[i]
        if weight_decay != 0:
            g += weight_decay * param[i]
        total = state_sum[i] + g * g
        state_sum[i] = total
        param[i] -= step_size * g / (math.sqrt(total) + eps)


def adagrad_update(param, grad, state_sum, lr, lr_decay, weight_decay, eps, step) -> None:
    step_size = lr / (1.0 + (step - 1) * lr_decay)
    args = (step_size, weight_decay, eps)
    launch(_adagrad, param.size, flat(param), flat(grad), flat(state_sum), *args)
