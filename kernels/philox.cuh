// Philox4x32-10 (Salmon et al., SC 2011), the counter-based generator behind dropout's masks,
// for kernels and the host test shim alike. The layout (state = seed, offset; element i is word
// i % 4 of counter (i / 4, offset)) and the NumPy reference are in backprop/backend/philox.py.
#pragma once

#include "common.cuh"

struct PhiloxWords {
    unsigned int w[4];
};

// One round: two 32x32->64 multiplies, their halves and the key mixed into the next counter.
BP_HOST_DEVICE PhiloxWords philox_round(PhiloxWords c, unsigned int k0, unsigned int k1) {
    unsigned long long product0 = (unsigned long long)c.w[0] * 0xD2511F53u;
    unsigned long long product1 = (unsigned long long)c.w[2] * 0xCD9E8D57u;
    PhiloxWords next;
    next.w[0] = (unsigned int)(product1 >> 32) ^ c.w[1] ^ k0;
    next.w[1] = (unsigned int)product1;
    next.w[2] = (unsigned int)(product0 >> 32) ^ c.w[3] ^ k1;
    next.w[3] = (unsigned int)product0;
    return next;
}

BP_HOST_DEVICE PhiloxWords philox4x32_10(PhiloxWords counter, unsigned int k0, unsigned int k1) {
    counter = philox_round(counter, k0, k1);
    for (int round = 1; round < 10; ++round) {
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
        counter = philox_round(counter, k0, k1);
    }
    return counter;
}

// The four random words of mask block `block` (elements 4 * block .. 4 * block + 3).
BP_HOST_DEVICE PhiloxWords dropout_block(unsigned long long seed, unsigned long long offset,
                                         unsigned long long block) {
    PhiloxWords counter;
    counter.w[0] = (unsigned int)block;
    counter.w[1] = (unsigned int)(block >> 32);
    counter.w[2] = (unsigned int)offset;
    counter.w[3] = (unsigned int)(offset >> 32);
    return philox4x32_10(counter, (unsigned int)seed, (unsigned int)(seed >> 32));
}
