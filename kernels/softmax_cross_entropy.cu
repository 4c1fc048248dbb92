// Softmax cross-entropy kernels for float32 (_f32) and float64 (_f64). The forward gives each
// row to one warp: the lanes split the row's logits, merge their running statistics with
// shuffles, and write the softmax, reading the logits twice. The backward is elementwise; it
// reads the per-row gradients with a stride, so a mean's broadcast gradient (stride 0) needs
// no copy.
// Rows whose target is `ignore_index` give a loss of 0, a count of 0 and a zero gradient; a
// `counted` flag per row (1 or 0) is the divisor of a mean, so no other kernel has to find them.
#include "softmax_cross_entropy.cuh"

#define BP_WARP_SIZE 32

template <typename T>
__device__ RowStats<T> warp_merge(RowStats<T> s) {
    for (int offset = BP_WARP_SIZE / 2; offset > 0; offset /= 2) {
        RowStats<T> other;
        other.max = __shfl_xor_sync(0xffffffffu, s.max, offset);
        other.sum_exp = __shfl_xor_sync(0xffffffffu, s.sum_exp, offset);
        other.sum = __shfl_xor_sync(0xffffffffu, s.sum, offset);
        s = row_stats_merge(s, other);
    }
    return s;
}

template <typename T>
__device__ void softmax_cross_entropy_forward_rows(const T* logits, const long long* targets,
                                                   T* losses, T* probs, T* counted,
                                                   long long rows, int classes, T smoothing,
                                                   long long ignore_index) {
    int lane = threadIdx.x % BP_WARP_SIZE;
    long long warps_per_block = blockDim.x / BP_WARP_SIZE;
    long long first_row = blockIdx.x * warps_per_block + threadIdx.x / BP_WARP_SIZE;
    for (long long row = first_row; row < rows; row += gridDim.x * warps_per_block) {
        const T* x = logits + row * classes;
        RowStats<T> s = row_stats_empty<T>();
        for (int j = lane; j < classes; j += BP_WARP_SIZE) s = row_stats_add(s, x[j]);
        s = warp_merge(s);
        for (int j = lane; j < classes; j += BP_WARP_SIZE) {
            probs[row * classes + j] = softmax_prob(s, x[j]);
        }
        if (lane == 0) {
            long long target = targets[row];
            losses[row] = cross_entropy_loss(s, x, target, classes, smoothing, ignore_index);
            counted[row] = T(target != ignore_index);
        }
    }
}

template <typename T>
__device__ void softmax_cross_entropy_backward_loop(const T* probs, const long long* targets,
                                                    const T* grad_losses, T* grad,
                                                    long long n, int classes, T smoothing,
                                                    long long ignore_index,
                                                    long long grad_stride) {
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        long long row = i / classes;
        grad[i] = cross_entropy_grad(probs[i], targets[row], i - row * classes, classes,
                                     smoothing, grad_losses[row * grad_stride], ignore_index);
    }
}

extern "C" __global__ void softmax_cross_entropy_forward_f32(
    const float* logits, const long long* targets, float* losses, float* probs, float* counted,
    long long rows, int classes, float smoothing, long long ignore_index) {
    softmax_cross_entropy_forward_rows(logits, targets, losses, probs, counted, rows, classes,
                                       smoothing, ignore_index);
}

extern "C" __global__ void softmax_cross_entropy_forward_f64(
    const double* logits, const long long* targets, double* losses, double* probs,
    double* counted, long long rows, int classes, double smoothing, long long ignore_index) {
    softmax_cross_entropy_forward_rows(logits, targets, losses, probs, counted, rows, classes,
                                       smoothing, ignore_index);
}

extern "C" __global__ void softmax_cross_entropy_backward_f32(
    const float* probs, const long long* targets, const float* grad_losses, float* grad,
    long long n, int classes, float smoothing, long long ignore_index, long long grad_stride) {
    softmax_cross_entropy_backward_loop(probs, targets, grad_losses, grad, n, classes, smoothing,
                                        ignore_index, grad_stride);
}

extern "C" __global__ void softmax_cross_entropy_backward_f64(
    const double* probs, const long long* targets, const double* grad_losses, double* grad,
    long long n, int classes, double smoothing, long long ignore_index, long long grad_stride) {
    softmax_cross_entropy_backward_loop(probs, targets, grad_losses, grad, n, classes, smoothing,
                                        ignore_index, grad_stride);
}
