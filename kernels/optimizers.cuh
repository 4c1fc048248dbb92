// The math of one optimizer step on one parameter element, as torch.optim defines it. The
// kernels in optimizers.cu and the host shim share these functions. Scalars the host can
// fold (the bias corrections of Adam, Adagrad's decayed learning rate) arrive folded, so each
// element does no pow() and no extra division.
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

// torch.lerp(start, end, weight): computed from the nearer end, as torch's kernel does.
template <typename T>
BP_HOST_DEVICE T torch_lerp(T start, T end, T weight) {
    return fabs(weight) < T(0.5) ? start + weight * (end - start)
                                 : end - (end - start) * (T(1) - weight);
}

// torch.optim.RMSprop: weight decay, the running mean square (centered: less the square of the
// running mean, which torch moves by lerp), then the step, through the momentum buffer if any.
template <typename T>
BP_HOST_DEVICE void rmsprop_step(T& param, T grad, T& square_avg, T& grad_avg, T& momentum_buffer,
                                 T lr, T alpha, T eps, T weight_decay, T momentum, bool centered) {
    if (weight_decay != T(0)) grad += weight_decay * param;
    square_avg = square_avg * alpha + (T(1) - alpha) * grad * grad;
    T avg;
    if (centered) {
        grad_avg = torch_lerp(grad_avg, grad, T(1) - alpha);
        avg = sqrt(square_avg - grad_avg * grad_avg) + eps;
    } else {
        avg = sqrt(square_avg) + eps;
    }
    if (momentum != T(0)) {
        momentum_buffer = momentum_buffer * momentum + grad / avg;
        param -= lr * momentum_buffer;
    } else {
        param -= lr * grad / avg;
    }
}

// torch.optim.Adagrad: weight decay, the sum of squared gradients, then the step; `clr` is the
// decayed learning rate lr / (1 + (step - 1) * lr_decay).
template <typename T>
BP_HOST_DEVICE void adagrad_step(T& param, T grad, T& state_sum, T clr, T weight_decay, T eps) {
    if (weight_decay != T(0)) grad += weight_decay * param;
    state_sum += grad * grad;
    param -= clr * grad / (sqrt(state_sum) + eps);
}
