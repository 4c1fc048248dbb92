// Fused optimizer updates: one grid-stride kernel per step of one parameter, updating the
// parameter and its state in place, for float32 (_f32) and float64 (_f64). A state array the
// rule does not use (SGD's momentum buffer without momentum, Adam's max_exp_avg_sq without
// amsgrad, RMSprop's grad_avg when not centered and its momentum buffer without momentum) may be
// null.
//
// The `_device_scalars` variants read the learning rate (and the step count of Adam and Adagrad)
// from 0-d device arrays, as a capturable optimizer keeps them: a kernel captured into a CUDA
// graph then uses their values at each replay instead of the values at capture time.
#include "optimizers.cuh"

template <typename T>
__device__ void sgd_update_loop(T* param, const T* grad, T* momentum_buffer, long long n, T lr,
                                T momentum, T dampening, bool nesterov, T weight_decay,
                                bool first_step) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        T p = param[i];
        T buffer = momentum_buffer ? momentum_buffer[i] : T(0);
        sgd_step(p, grad[i], buffer, lr, momentum, dampening, nesterov, weight_decay, first_step);
        param[i] = p;
        if (momentum_buffer) momentum_buffer[i] = buffer;
    }
}

template <typename T>
__device__ void adam_update_loop(T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                                 T* max_exp_avg_sq, long long n, T lr, T beta1, T beta2, T eps,
                                 T weight_decay, bool decoupled, bool amsgrad,
                                 T bias_correction1, T bias_correction2_sqrt) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        T p = param[i], m = exp_avg[i], v = exp_avg_sq[i];
        T v_max = amsgrad ? max_exp_avg_sq[i] : T(0);
        adam_step(p, grad[i], m, v, v_max, lr, beta1, beta2, eps, weight_decay, decoupled,
                  amsgrad, bias_correction1, bias_correction2_sqrt);
        param[i] = p;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if (amsgrad) max_exp_avg_sq[i] = v_max;
    }
}

template <typename T>
__device__ void rmsprop_update_loop(T* param, const T* grad, T* square_avg, T* grad_avg,
                                    T* momentum_buffer, long long n, T lr, T alpha, T eps,
                                    T weight_decay, T momentum, bool centered) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        T p = param[i], v = square_avg[i];
        T mean = centered ? grad_avg[i] : T(0);
        T buffer = momentum != T(0) ? momentum_buffer[i] : T(0);
        rmsprop_step(p, grad[i], v, mean, buffer, lr, alpha, eps, weight_decay, momentum,
                     centered);
        param[i] = p;
        square_avg[i] = v;
        if (centered) grad_avg[i] = mean;
        if (momentum != T(0)) momentum_buffer[i] = buffer;
    }
}

template <typename T>
__device__ void adagrad_update_loop(T* param, const T* grad, T* state_sum, long long n, T clr,
                                    T weight_decay, T eps) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        T p = param[i], total = state_sum[i];
        adagrad_step(p, grad[i], total, clr, weight_decay, eps);
        param[i] = p;
        state_sum[i] = total;
    }
}

extern "C" __global__ void sgd_update_f32(float* param, const float* grad,
                                          float* momentum_buffer, long long n, float lr,
                                          float momentum, float dampening, bool nesterov,
                                          float weight_decay, bool first_step) {
    sgd_update_loop(param, grad, momentum_buffer, n, lr, momentum, dampening, nesterov,
                    weight_decay, first_step);
}

extern "C" __global__ void sgd_update_f64(double* param, const double* grad,
                                          double* momentum_buffer, long long n, double lr,
                                          double momentum, double dampening, bool nesterov,
                                          double weight_decay, bool first_step) {
    sgd_update_loop(param, grad, momentum_buffer, n, lr, momentum, dampening, nesterov,
                    weight_decay, first_step);
}

extern "C" __global__ void adam_update_f32(float* param, const float* grad, float* exp_avg,
                                           float* exp_avg_sq, float* max_exp_avg_sq,
                                           long long n, float lr, float beta1, float beta2,
                                           float eps, float weight_decay, bool decoupled,
                                           bool amsgrad, float bias_correction1,
                                           float bias_correction2_sqrt) {
    adam_update_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps,
                     weight_decay, decoupled, amsgrad, bias_correction1, bias_correction2_sqrt);
}

extern "C" __global__ void adam_update_f64(double* param, const double* grad, double* exp_avg,
                                           double* exp_avg_sq, double* max_exp_avg_sq,
                                           long long n, double lr, double beta1, double beta2,
                                           double eps, double weight_decay, bool decoupled,
                                           bool amsgrad, double bias_correction1,
                                           double bias_correction2_sqrt) {
    adam_update_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps,
                     weight_decay, decoupled, amsgrad, bias_correction1, bias_correction2_sqrt);
}

extern "C" __global__ void rmsprop_update_f32(float* param, const float* grad,
                                              float* square_avg, float* grad_avg,
                                              float* momentum_buffer, long long n, float lr,
                                              float alpha, float eps, float weight_decay,
                                              float momentum, bool centered) {
    rmsprop_update_loop(param, grad, square_avg, grad_avg, momentum_buffer, n, lr, alpha, eps,
                        weight_decay, momentum, centered);
}

extern "C" __global__ void rmsprop_update_f64(double* param, const double* grad,
                                              double* square_avg, double* grad_avg,
                                              double* momentum_buffer, long long n, double lr,
                                              double alpha, double eps, double weight_decay,
                                              double momentum, bool centered) {
    rmsprop_update_loop(param, grad, square_avg, grad_avg, momentum_buffer, n, lr, alpha, eps,
                        weight_decay, momentum, centered);
}

extern "C" __global__ void adagrad_update_f32(float* param, const float* grad, float* state_sum,
                                              long long n, float clr, float weight_decay,
                                              float eps) {
    adagrad_update_loop(param, grad, state_sum, n, clr, weight_decay, eps);
}

extern "C" __global__ void adagrad_update_f64(double* param, const double* grad,
                                              double* state_sum, long long n, double clr,
                                              double weight_decay, double eps) {
    adagrad_update_loop(param, grad, state_sum, n, clr, weight_decay, eps);
}

// Adam's bias corrections from the step count read on the device, in double as the host does.
template <typename T>
__device__ void adam_update_device_scalars(T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                                           T* max_exp_avg_sq, long long n, const T* lr,
                                           const T* step, double beta1, double beta2, T eps,
                                           T weight_decay, bool decoupled, bool amsgrad) {
    double count = (double)*step;
    T bias_correction1 = T(1.0 - pow(beta1, count));
    T bias_correction2_sqrt = T(sqrt(1.0 - pow(beta2, count)));
    adam_update_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, *lr, T(beta1),
                     T(beta2), eps, weight_decay, decoupled, amsgrad, bias_correction1,
                     bias_correction2_sqrt);
}

extern "C" __global__ void sgd_update_device_scalars_f32(float* param, const float* grad,
                                                         float* momentum_buffer, long long n,
                                                         const float* lr, float momentum,
                                                         float dampening, bool nesterov,
                                                         float weight_decay, bool first_step) {
    sgd_update_loop(param, grad, momentum_buffer, n, *lr, momentum, dampening, nesterov,
                    weight_decay, first_step);
}

extern "C" __global__ void sgd_update_device_scalars_f64(double* param, const double* grad,
                                                         double* momentum_buffer, long long n,
                                                         const double* lr, double momentum,
                                                         double dampening, bool nesterov,
                                                         double weight_decay, bool first_step) {
    sgd_update_loop(param, grad, momentum_buffer, n, *lr, momentum, dampening, nesterov,
                    weight_decay, first_step);
}

extern "C" __global__ void adam_update_device_scalars_f32(
    float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
    long long n, const float* lr, const float* step, double beta1, double beta2, float eps,
    float weight_decay, bool decoupled, bool amsgrad) {
    adam_update_device_scalars(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, step,
                               beta1, beta2, eps, weight_decay, decoupled, amsgrad);
}

extern "C" __global__ void adam_update_device_scalars_f64(
    double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
    double* max_exp_avg_sq, long long n, const double* lr, const double* step, double beta1,
    double beta2, double eps, double weight_decay, bool decoupled, bool amsgrad) {
    adam_update_device_scalars(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, step,
                               beta1, beta2, eps, weight_decay, decoupled, amsgrad);
}

// Adagrad's decayed learning rate from the learning rate and step count read on the device, in
// double as the host does.
template <typename T>
__device__ void adagrad_update_device_scalars(T* param, const T* grad, T* state_sum, long long n,
                                              const T* lr, const T* step, double lr_decay,
                                              T weight_decay, T eps) {
    T clr = T((double)*lr / (1.0 + ((double)*step - 1.0) * lr_decay));
    adagrad_update_loop(param, grad, state_sum, n, clr, weight_decay, eps);
}

extern "C" __global__ void rmsprop_update_device_scalars_f32(
    float* param, const float* grad, float* square_avg, float* grad_avg, float* momentum_buffer,
    long long n, const float* lr, float alpha, float eps, float weight_decay, float momentum,
    bool centered) {
    rmsprop_update_loop(param, grad, square_avg, grad_avg, momentum_buffer, n, *lr, alpha, eps,
                        weight_decay, momentum, centered);
}

extern "C" __global__ void rmsprop_update_device_scalars_f64(
    double* param, const double* grad, double* square_avg, double* grad_avg,
    double* momentum_buffer, long long n, const double* lr, double alpha, double eps,
    double weight_decay, double momentum, bool centered) {
    rmsprop_update_loop(param, grad, square_avg, grad_avg, momentum_buffer, n, *lr, alpha, eps,
                        weight_decay, momentum, centered);
}

extern "C" __global__ void adagrad_update_device_scalars_f32(float* param, const float* grad,
                                                             float* state_sum, long long n,
                                                             const float* lr, const float* step,
                                                             double lr_decay, float weight_decay,
                                                             float eps) {
    adagrad_update_device_scalars(param, grad, state_sum, n, lr, step, lr_decay, weight_decay,
                                  eps);
}

extern "C" __global__ void adagrad_update_device_scalars_f64(double* param, const double* grad,
                                                             double* state_sum, long long n,
                                                             const double* lr,
                                                             const double* step, double lr_decay,
                                                             double weight_decay, double eps) {
    adagrad_update_device_scalars(param, grad, state_sum, n, lr, step, lr_decay, weight_decay,
                                  eps);
}
