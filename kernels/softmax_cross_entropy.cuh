// The math of softmax cross-entropy for one row, in one pass over its logits: a running
// maximum, the sum of exp(x - max) rescaled whenever the maximum grows (the "online softmax"),
// and the plain sum of the logits that label smoothing needs. Partial statistics over parts of
// a row merge, so a warp can split a row between its lanes and combine the parts.
#pragma once

#include "common.cuh"

template <typename T>
struct RowStats {
    T max;      // largest logit seen
    T sum_exp;  // sum of exp(x - max) over the logits seen
    T sum;      // sum of the logits seen
};

template <typename T>
BP_HOST_DEVICE RowStats<T> row_stats_empty() {
    return RowStats<T>{-T(BP_INFINITY), T(0), T(0)};
}

template <typename T>
BP_HOST_DEVICE RowStats<T> row_stats_add(RowStats<T> s, T x) {
    if (x > s.max) {
        s.sum_exp = s.sum_exp * exp(s.max - x) + T(1);
        s.max = x;
    } else if (s.max != -T(BP_INFINITY)) {  // else x is -inf too, and adds exp(-inf) = 0
        s.sum_exp += exp(x - s.max);
    }
    s.sum += x;
    return s;
}

template <typename T>
BP_HOST_DEVICE RowStats<T> row_stats_merge(RowStats<T> a, RowStats<T> b) {
    if (b.max == -T(BP_INFINITY)) return RowStats<T>{a.max, a.sum_exp, a.sum + b.sum};
    if (a.max == -T(BP_INFINITY)) return RowStats<T>{b.max, b.sum_exp, a.sum + b.sum};
    T max = fmax(a.max, b.max);
    T sum_exp = a.sum_exp * exp(a.max - max) + b.sum_exp * exp(b.max - max);
    return RowStats<T>{max, sum_exp, a.sum + b.sum};
}

// -(1 - s) * log p[target] - s * mean(log p), where log p = x - logsumexp(x), for the row's
// logits `x`. A target equal to `ignore_index` gives 0 (the row is left out of a mean); any other
// target outside [0, classes) gives NaN instead of an out-of-bounds read.
template <typename T>
BP_HOST_DEVICE T cross_entropy_loss(RowStats<T> s, const T* x, long long target, int classes,
                                    T smoothing, long long ignore_index) {
    if (target == ignore_index) return T(0);
    if (target < 0 || target >= classes) return T(BP_NAN);
    T loss = s.max + log(s.sum_exp) - (T(1) - smoothing) * x[target];
    // Skipped without smoothing, where a -inf logit would make it 0 * -inf = NaN.
    if (smoothing != T(0)) loss -= smoothing * s.sum / T(classes);
    return loss;
}

template <typename T>
BP_HOST_DEVICE T softmax_prob(RowStats<T> s, T x) {
    return exp(x - s.max) / s.sum_exp;
}

// d loss / d logit for class `j` of a row, scaled by the row's upstream gradient: 0 on a row
// whose target is `ignore_index`, whose loss is the constant 0.
template <typename T>
BP_HOST_DEVICE T cross_entropy_grad(T prob, long long target, long long j, int classes,
                                    T smoothing, T grad_loss, long long ignore_index) {
    if (target == ignore_index) return T(0);
    T g = prob - smoothing / T(classes) - (target == j ? T(1) - smoothing : T(0));
    return g * grad_loss;
}
