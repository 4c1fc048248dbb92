"""PyTorch as the oracle: run the same computation in both frameworks on the same random
inputs and compare the outputs, then every gradient. Imported by test modules that need torch."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def compare(fn, shapes, dtype="float64", seed=0):
    """Runs `fn(F, *inputs)` with our F and with PyTorch's on the same random inputs of
    `shapes`, and compares the output, then the gradient of every input for one random output
    gradient. PyTorch always runs in float64, on inputs rounded to `dtype`."""
    arrays = [randn(shape, seed + i).astype(dtype) for i, shape in enumerate(shapes)]
    ours = [bp.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out, expected = fn(F, *ours), fn(TF, *theirs)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = randn(out.shape, seed=7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg=f"input {i} grad")


def compare_layer(ours: nn.Module, theirs, shape, dtype="float64", **call):
    """Gives `ours` the weights of the PyTorch layer `theirs` (rounded to `dtype`, and random
    where PyTorch starts from constants), then compares outputs and the gradients of the input
    and of every parameter. `call` is passed to both layers' forward."""
    theirs = theirs.double()
    with torch.no_grad():
        for param in theirs.parameters():
            param.normal_()
            param.copy_(param.to(getattr(torch, dtype)).double())
    ours.to(dtype=dtype)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = randn(shape, seed=3).astype(dtype)
    mine = bp.tensor(x, requires_grad=True)
    reference = torch.tensor(x.astype(np.float64), requires_grad=True)
    out, expected = ours(mine, **call), theirs(reference, **call)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = randn(out.shape, seed=7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg="input grad")
    reference_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(reference_params)
    for name, param in ours.named_parameters():
        expected_grad = reference_params[name].grad.numpy()
        assert_close(param.grad.numpy(), expected_grad, dtype, err_msg=f"{name}.grad")
