"""`parameters_to_vector` and `vector_to_parameters`, as in `torch.nn.utils`: every parameter
flattened into one vector (for optimisers and second-order methods that work on a flat vector),
and a vector written back into the parameters."""

from __future__ import annotations

from collections.abc import Iterable

from backprop import ops
from backprop.autograd import no_grad
from backprop.tensor import Tensor, common_device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and joined, in order, into one 1-D tensor; differentiable, so
    a function of the vector back-propagates into the parameters."""
    params = _parameters("parameters_to_vector", parameters)
    return ops.concatenate([param.reshape(param.numel()) for param in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copies consecutive slices of the 1-D `vec` into the parameters, in order, each reshaped
    to its parameter, on the device and outside the graph. (PyTorch points each parameter's
    `.data` at a view of `vec`; here each keeps its own memory and gets the values.)"""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got {type(vec).__name__}")
    params = _parameters("vector_to_parameters", parameters)
    total = sum(param.numel() for param in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: vec must be 1-D with one entry per parameter value "
            f"({total}), got {vec.shape}"
        )
    common_device("vector_to_parameters", [vec, *params])
    start = 0
    with no_grad():
        for param in params:
            piece = vec[start : start + param.numel()].reshape(param.shape).to(dtype=param.dtype)
            param.backend.assign(param.data, piece.data)
            start += param.numel()


def _parameters(op: str, parameters: Iterable[Tensor]) -> list[Tensor]:
    """The parameters as a list: Tensors, at least one, all on one device."""
    if isinstance(parameters, Tensor):
        raise TypeError(f"{op}: parameters must be an iterable of Tensors, got a Tensor")
    params = list(parameters)
    if not params:
        raise ValueError(f"{op}: expected at least one parameter, got none")
    common_device(op, params)
    return params
