// Dropout's keep-mask: one thread per block of four elements, each kept where its Philox word
// is at least `threshold`. The seed and offset are read from device memory, never passed from
// the host, so a captured CUDA graph draws a new mask at every replay once `philox_advance`,
// launched after the mask, has moved the offset on.
#include "philox.cuh"

extern "C" __global__ void dropout_mask(const unsigned long long* state, bool* keep, long long n,
                                        unsigned int threshold) {
    unsigned long long seed = state[0], offset = state[1];
    long long blocks = (n + 3) / 4;
    long long stride = (long long)blockDim.x * gridDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        PhiloxWords words = dropout_block(seed, offset, (unsigned long long)b);
        for (int lane = 0; lane < 4 && 4 * b + lane < n; ++lane) {
            keep[4 * b + lane] = words.w[lane] >= threshold;
        }
    }
}

extern "C" __global__ void philox_advance(unsigned long long* state) {
    if (blockIdx.x == 0 && threadIdx.x == 0) state[1] += 1;
}
