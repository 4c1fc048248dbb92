// Shared by every kernel header: the host math library when compiled for the CPU (nvcc or a
// C++ compiler), nothing under NVRTC, where the device math functions are built in.
#pragma once

#ifndef __CUDACC_RTC__
#include <cmath>
#endif

// Marks a function callable from kernels and from the host test shim alike.
#define BP_HOST_DEVICE __host__ __device__ inline

// NaN and infinity as float: <cmath>'s macros on the host, bit patterns under NVRTC.
#ifdef __CUDACC_RTC__
#define BP_NAN __int_as_float(0x7fc00000)
#define BP_INFINITY __int_as_float(0x7f800000)
#else
#define BP_NAN NAN
#define BP_INFINITY INFINITY
#endif
