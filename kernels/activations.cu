// Activation kernels: forward, backward, and bias + activation forward, each a grid-stride
// loop over contiguous arrays, for float32 (_f32) and float64 (_f64).
#include "activations.cuh"

template <typename T>
__device__ void act_forward_loop(const T* x, T* y, long long n, int kind, T alpha) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        y[i] = act_forward(kind, x[i], alpha);
    }
}

template <typename T>
__device__ void act_backward_loop(const T* grad, const T* x, const T* y, T* out, long long n,
                                  int kind, T alpha) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = act_backward(kind, grad[i], x[i], y[i], alpha);
    }
}

// x is (n / features, features) row-major; bias has `features` elements. Each thread finds
// its column with one division and then steps it along, instead of dividing per element.
template <typename T>
__device__ void bias_act_forward_loop(const T* x, const T* bias, T* y, long long n,
                                      long long features, int kind, T alpha) {
    long long stride = (long long)blockDim.x * gridDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long column = i % features, column_step = stride % features;
    for (; i < n; i += stride) {
        y[i] = act_forward(kind, x[i] + bias[column], alpha);
        column += column_step;
        if (column >= features) column -= features;
    }
}

extern "C" __global__ void act_forward_f32(const float* x, float* y, long long n, int kind,
                                           float alpha) {
    act_forward_loop(x, y, n, kind, alpha);
}

extern "C" __global__ void act_forward_f64(const double* x, double* y, long long n, int kind,
                                           double alpha) {
    act_forward_loop(x, y, n, kind, alpha);
}

extern "C" __global__ void act_backward_f32(const float* grad, const float* x, const float* y,
                                            float* out, long long n, int kind, float alpha) {
    act_backward_loop(grad, x, y, out, n, kind, alpha);
}

extern "C" __global__ void act_backward_f64(const double* grad, const double* x,
                                            const double* y, double* out, long long n, int kind,
                                            double alpha) {
    act_backward_loop(grad, x, y, out, n, kind, alpha);
}

extern "C" __global__ void bias_act_forward_f32(const float* x, const float* bias, float* y,
                                                long long n, long long features, int kind,
                                                float alpha) {
    bias_act_forward_loop(x, bias, y, n, features, kind, alpha);
}

extern "C" __global__ void bias_act_forward_f64(const double* x, const double* bias, double* y,
                                                long long n, long long features, int kind,
                                                double alpha) {
    bias_act_forward_loop(x, bias, y, n, features, kind, alpha);
}
