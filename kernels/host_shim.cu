// Host-side loops over the kernels' per-element math, for the tests only: built with
// `nvcc -shared -Xcompiler -fPIC` into a library that tests/test_cuda_kernels.py loads with
// ctypes and checks against NumPy. It runs the same __host__ __device__ functions the GPU
// kernels run; the launch itself (indexing, grid-stride loops, warp shuffles) is not covered.
#include "activations.cuh"
#include "optimizers.cuh"
#include "philox.cuh"
#include "softmax_cross_entropy.cuh"

template <typename T>
void act_forward_host(const T* x, T* y, long long n, int kind, T alpha) {
    for (long long i = 0; i < n; ++i) y[i] = act_forward(kind, x[i], alpha);
}

template <typename T>
void act_backward_host(const T* grad, const T* x, const T* y, T* out, long long n, int kind,
                       T alpha) {
    for (long long i = 0; i < n; ++i) out[i] = act_backward(kind, grad[i], x[i], y[i], alpha);
}

template <typename T>
void bias_act_forward_host(const T* x, const T* bias, T* y, long long n, long long features,
                           int kind, T alpha) {
    for (long long i = 0; i < n; ++i) y[i] = act_forward(kind, x[i] + bias[i % features], alpha);
}

// Each row is split into `parts` interleaved slices whose statistics are merged, the way the
// lanes of a warp split a row on the GPU.
template <typename T>
void softmax_cross_entropy_forward_host(const T* logits, const long long* targets, T* losses,
                                        T* probs, T* counted, long long rows, int classes,
                                        T smoothing, long long ignore_index, int parts) {
    for (long long row = 0; row < rows; ++row) {
        const T* x = logits + row * classes;
        RowStats<T> s = row_stats_empty<T>();
        for (int part = 0; part < parts; ++part) {
            RowStats<T> partial = row_stats_empty<T>();
            for (int j = part; j < classes; j += parts) partial = row_stats_add(partial, x[j]);
            s = row_stats_merge(s, partial);
        }
        for (int j = 0; j < classes; ++j) probs[row * classes + j] = softmax_prob(s, x[j]);
        long long target = targets[row];
        losses[row] = cross_entropy_loss(s, x, target, classes, smoothing, ignore_index);
        counted[row] = T(target != ignore_index);
    }
}

template <typename T>
void softmax_cross_entropy_backward_host(const T* probs, const long long* targets,
                                         const T* grad_losses, T* grad, long long n,
                                         int classes, T smoothing, long long ignore_index,
                                         long long grad_stride) {
    for (long long i = 0; i < n; ++i) {
        long long row = i / classes;
        grad[i] = cross_entropy_grad(probs[i], targets[row], i - row * classes, classes,
                                     smoothing, grad_losses[row * grad_stride], ignore_index);
    }
}

template <typename T>
void sgd_update_host(T* param, const T* grad, T* momentum_buffer, long long n, T lr, T momentum,
                     T dampening, bool nesterov, T weight_decay, bool first_step) {
    for (long long i = 0; i < n; ++i) {
        sgd_step(param[i], grad[i], momentum_buffer[i], lr, momentum, dampening, nesterov,
                 weight_decay, first_step);
    }
}

template <typename T>
void adam_update_host(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                      long long n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled,
                      bool amsgrad, T bias_correction1, T bias_correction2_sqrt) {
    for (long long i = 0; i < n; ++i) {
        adam_step(param[i], grad[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i], lr, beta1,
                  beta2, eps, weight_decay, decoupled, amsgrad, bias_correction1,
                  bias_correction2_sqrt);
    }
}

template <typename T>
void rmsprop_update_host(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                         long long n, T lr, T alpha, T eps, T weight_decay, T momentum,
                         bool centered) {
    for (long long i = 0; i < n; ++i) {
        rmsprop_step(param[i], grad[i], square_avg[i], grad_avg[i], momentum_buffer[i], lr, alpha,
                     eps, weight_decay, momentum, centered);
    }
}

template <typename T>
void adagrad_update_host(T* param, const T* grad, T* state_sum, long long n, T clr,
                         T weight_decay, T eps) {
    for (long long i = 0; i < n; ++i) {
        adagrad_step(param[i], grad[i], state_sum[i], clr, weight_decay, eps);
    }
}

// One exported symbol per function and dtype, named like the kernels.
#define BP_EXPORT_ALL(SUFFIX, T)                                                              \
    extern "C" void act_forward_##SUFFIX(const T* x, T* y, long long n, int kind, T alpha) {  \
        act_forward_host(x, y, n, kind, alpha);                                               \
    }                                                                                         \
    extern "C" void act_backward_##SUFFIX(const T* grad, const T* x, const T* y, T* out,      \
                                          long long n, int kind, T alpha) {                   \
        act_backward_host(grad, x, y, out, n, kind, alpha);                                   \
    }                                                                                         \
    extern "C" void bias_act_forward_##SUFFIX(const T* x, const T* bias, T* y, long long n,   \
                                              long long features, int kind, T alpha) {        \
        bias_act_forward_host(x, bias, y, n, features, kind, alpha);                          \
    }                                                                                         \
    extern "C" void softmax_cross_entropy_forward_##SUFFIX(                                   \
        const T* logits, const long long* targets, T* losses, T* probs, T* counted,           \
        long long rows, int classes, T smoothing, long long ignore_index, int parts) {        \
        softmax_cross_entropy_forward_host(logits, targets, losses, probs, counted, rows,     \
                                           classes, smoothing, ignore_index, parts);          \
    }                                                                                         \
    extern "C" void softmax_cross_entropy_backward_##SUFFIX(                                  \
        const T* probs, const long long* targets, const T* grad_losses, T* grad, long long n, \
        int classes, T smoothing, long long ignore_index, long long grad_stride) {            \
        softmax_cross_entropy_backward_host(probs, targets, grad_losses, grad, n, classes,    \
                                            smoothing, ignore_index, grad_stride);            \
    }                                                                                         \
    extern "C" void sgd_update_##SUFFIX(T* param, const T* grad, T* momentum_buffer,          \
                                        long long n, T lr, T momentum, T dampening,           \
                                        bool nesterov, T weight_decay, bool first_step) {     \
        sgd_update_host(param, grad, momentum_buffer, n, lr, momentum, dampening, nesterov,   \
                        weight_decay, first_step);                                            \
    }                                                                                         \
    extern "C" void adam_update_##SUFFIX(T* param, const T* grad, T* exp_avg, T* exp_avg_sq,  \
                                         T* max_exp_avg_sq, long long n, T lr, T beta1,       \
                                         T beta2, T eps, T weight_decay, bool decoupled,      \
                                         bool amsgrad, T bias_correction1,                    \
                                         T bias_correction2_sqrt) {                           \
        adam_update_host(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1,      \
                         beta2, eps, weight_decay, decoupled, amsgrad, bias_correction1,      \
                         bias_correction2_sqrt);                                              \
    }                                                                                         \
    extern "C" void rmsprop_update_##SUFFIX(T* param, const T* grad, T* square_avg,           \
                                            T* grad_avg, T* momentum_buffer, long long n,     \
                                            T lr, T alpha, T eps, T weight_decay, T momentum, \
                                            bool centered) {                                  \
        rmsprop_update_host(param, grad, square_avg, grad_avg, momentum_buffer, n, lr, alpha, \
                            eps, weight_decay, momentum, centered);                           \
    }                                                                                         \
    extern "C" void adagrad_update_##SUFFIX(T* param, const T* grad, T* state_sum,            \
                                            long long n, T clr, T weight_decay, T eps) {      \
        adagrad_update_host(param, grad, state_sum, n, clr, weight_decay, eps);               \
    }

BP_EXPORT_ALL(f32, float)
BP_EXPORT_ALL(f64, double)

extern "C" void philox4x32_10_host(const unsigned int* counter, const unsigned int* key,
                                   unsigned int* out) {
    PhiloxWords c = {{counter[0], counter[1], counter[2], counter[3]}};
    PhiloxWords words = philox4x32_10(c, key[0], key[1]);
    for (int i = 0; i < 4; ++i) out[i] = words.w[i];
}

extern "C" void dropout_mask_host(const unsigned long long* state, bool* keep, long long n,
                                  unsigned int threshold) {
    for (long long i = 0; i < n; ++i) {
        keep[i] = dropout_block(state[0], state[1], i / 4).w[i % 4] >= threshold;
    }
}
