"""backprop: reverse-mode autodiff and a small neural-network library on NumPy, CuPy or
Numba-CUDA arrays. The names follow PyTorch's wherever PyTorch has one."""

from backprop import cuda, data, diagnostics, functional, nn, optim
from backprop.autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from backprop.backend import BackendUnavailableError
from backprop.backend import available as available_backends
from backprop.backend.precision import get_float32_matmul_precision, set_float32_matmul_precision
from backprop.creation import (
    arange,
    empty,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from backprop.device import Device, device
from backprop.gradcheck import GradcheckError, gradcheck, gradgradcheck
from backprop.ops import (
    chunk,
    concatenate,
    flip,
    logsumexp,
    matmul,
    roll,
    split,
    stack,
    where,
)
from backprop.ops import concatenate as cat
from backprop.random import manual_seed
from backprop.serialization import load, save
from backprop.tensor import Tensor, bool_, float32, float64, int32, int64

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "Device",
    "GradcheckError",
    "Tensor",
    "arange",
    "available_backends",
    "bool_",
    "cat",
    "chunk",
    "concatenate",
    "cuda",
    "data",
    "device",
    "diagnostics",
    "empty",
    "enable_grad",
    "flip",
    "float32",
    "float64",
    "full",
    "full_like",
    "functional",
    "get_float32_matmul_precision",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "int32",
    "int64",
    "is_grad_enabled",
    "load",
    "logsumexp",
    "manual_seed",
    "matmul",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "randn_like",
    "roll",
    "save",
    "set_float32_matmul_precision",
    "set_grad_enabled",
    "split",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]
