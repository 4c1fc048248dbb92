// The math of every activation, forward and backward, for one element. The kernels in
// activations.cu and the host shim share these functions, so the host tests check the same
// code the GPU runs. The order of `Activation` is the order of ACTIVATIONS in
// backprop/backend/base.py; `alpha` is leaky_relu's slope, elu's alpha and softplus's beta.
#pragma once

#include "common.cuh"

enum Activation {
    RELU = 0,
    LEAKY_RELU = 1,
    SIGMOID = 2,
    TANH = 3,
    GELU = 4,
    GELU_TANH = 5,
    SILU = 6,
    SOFTPLUS = 7,
    ELU = 8,
};

// Above beta * x > threshold softplus is the identity, as in PyTorch.
#define BP_SOFTPLUS_THRESHOLD 20

template <typename T>
BP_HOST_DEVICE T stable_sigmoid(T x) {
    // exp of a non-positive number only, so it never overflows.
    T e = exp(-fabs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <typename T>
BP_HOST_DEVICE T gelu_tanh_inner(T x) {
    return T(0.7978845608028654) * (x + T(0.044715) * x * x * x);
}

template <typename T>
BP_HOST_DEVICE T act_forward(int kind, T x, T alpha) {
    switch (kind) {
        case RELU:
            return x < T(0) ? T(0) : x;  // NaN passes through, as in PyTorch
        case LEAKY_RELU:
            return x > T(0) ? x : x * alpha;
        case SIGMOID:
            return stable_sigmoid(x);
        case TANH:
            return tanh(x);
        case GELU:
            return T(0.5) * x * (T(1) + erf(x * T(0.7071067811865476)));
        case GELU_TANH:
            return T(0.5) * x * (T(1) + tanh(gelu_tanh_inner(x)));
        case SILU:
            return x * stable_sigmoid(x);
        case SOFTPLUS: {
            T bx = x * alpha;
            if (bx > T(BP_SOFTPLUS_THRESHOLD)) return x;
            return (fmax(bx, T(0)) + log1p(exp(-fabs(bx)))) / alpha;
        }
        case ELU:
            return x > T(0) ? x : alpha * expm1(x);
        default:
            return T(BP_NAN);
    }
}

// grad * act'(x), using the saved output y where that is cheaper.
template <typename T>
BP_HOST_DEVICE T act_backward(int kind, T grad, T x, T y, T alpha) {
    switch (kind) {
        case RELU:
            return y > T(0) ? grad : T(0);
        case LEAKY_RELU:
            return x > T(0) ? grad : grad * alpha;
        case SIGMOID:
            return grad * y * (T(1) - y);
        case TANH:
            return grad * (T(1) - y * y);
        case GELU: {
            T cdf = T(0.5) * (T(1) + erf(x * T(0.7071067811865476)));
            T pdf = exp(T(-0.5) * x * x) * T(0.3989422804014327);
            return grad * (cdf + x * pdf);
        }
        case GELU_TANH: {
            T t = tanh(gelu_tanh_inner(x));
            T d_inner = T(0.7978845608028654) * (T(1) + T(3 * 0.044715) * x * x);
            return grad * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * d_inner);
        }
        case SILU: {
            T s = stable_sigmoid(x);
            return grad * (s * (T(1) + x * (T(1) - s)));
        }
        case SOFTPLUS: {
            T bx = x * alpha;
            return bx > T(BP_SOFTPLUS_THRESHOLD) ? grad : grad * stable_sigmoid(bx);
        }
        case ELU:
            return x > T(0) ? grad : grad * (y + alpha);
        default:
            return T(BP_NAN);
    }
}
