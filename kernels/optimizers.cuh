// The math of one optimizer step on one parameter element, as torch.optim defines it. The
// kernels in optimizers.cu and the host shim share these functions. Scalars the host can
// fold (the bias corrections of Adam) arrive folded, so each element does no pow().
#pragma once

#include "common.cuh"

// torch.optim.SGD: weight decay, then momentum (the buffer starts as the first gradient),
// then nesterov's look-ahead.
template <typename T>
BP_HOST_DEVICE void sgd_step(T& param, T grad, T& momentum_buffer, T lr, T momentum,
                             T dampening, bool nesterov, T weight_decay, bool first_step) {
    if (weight_decay != T(0)) grad += weight_decay * param;
    if (momentum != T(0)) {
        momentum_buffer = first_step ? grad
                                     : momentum * momentum_buffer + (T(1) - dampening) * grad;
        grad = nesterov ? grad + momentum * momentum_buffer : momentum_buffer;
    }
    param -= lr * grad;
}

// torch.optim.Adam, or AdamW when `decoupled`; `bias_correction1` is 1 - beta1^step and
// `bias_correction2_sqrt` is sqrt(1 - beta2^step).
template <typename T>
BP_HOST_DEVICE void adam_step(T& param, T grad, T& exp_avg, T& exp_avg_sq, T& max_exp_avg_sq,
                              T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled,
                              bool amsgrad, T bias_correction1, T bias_correction2_sqrt) {
    if (weight_decay != T(0) && decoupled) {
        param *= T(1) - lr * weight_decay;
    } else if (weight_decay != T(0)) {
        grad += weight_decay * param;
    }
    exp_avg = beta1 * exp_avg + (T(1) - beta1) * grad;
    exp_avg_sq = beta2 * exp_avg_sq + (T(1) - beta2) * grad * grad;
    T second = exp_avg_sq;
    if (amsgrad) {
        max_exp_avg_sq = fmax(max_exp_avg_sq, exp_avg_sq);
        second = max_exp_avg_sq;
    }
    T denom = sqrt(second) / bias_correction2_sqrt + eps;
    param -= (lr / bias_correction1) * exp_avg / denom;
}
