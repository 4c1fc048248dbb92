"""CUDA C sources (`*.cu`, `*.cuh`) and Numba kernel definitions that the GPU backends load.

Installed as `backprop.kernels`; nothing here runs at import time."""
