"""`clip_grad_norm_` and `clip_grad_value_` change gradients exactly as PyTorch's do, in place,
for every norm type, and return the same total norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import backprop as bp
from backprop.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(4, 3), (3,), (2, 2)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def gradients(scale: float) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [scale * rng.standard_normal(shape) for shape in SHAPES]


def ours_with_grads(grads: list[np.ndarray], device="cpu") -> list[bp.Tensor]:
    params = [bp.zeros(g.shape, dtype="float64", device=device, requires_grad=True) for g in grads]
    for param, g in zip(params, grads):
        param.grad = bp.tensor(g, device=device)
    return params


def theirs_with_grads(torch, grads: list[np.ndarray]) -> list:
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for param, g in zip(params, grads):
        param.grad = torch.tensor(g)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["below_max", "above_max"])
def test_clip_grad_norm_matches_torch(torch, device, norm_type, scale):
    grads = gradients(scale)
    ours = ours_with_grads(grads, device)
    theirs = theirs_with_grads(torch, grads)
    total = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-12)
    for param, reference in zip(ours, theirs):
        np.testing.assert_allclose(param.grad.numpy(), reference.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_unchanged():
    grads = gradients(0.01)
    params = ours_with_grads(grads)
    clip_grad_norm_(params, max_norm=100.0)
    for param, g in zip(params, grads):
        np.testing.assert_array_equal(param.grad.numpy(), g)


def test_clip_grad_norm_skips_parameters_without_grad_and_accepts_one_tensor():
    (param,) = ours_with_grads([np.array([3.0, 4.0])])
    bare = bp.zeros(2, requires_grad=True)
    assert clip_grad_norm_([param, bare], max_norm=1.0).item() == pytest.approx(5.0)
    assert bare.grad is None
    np.testing.assert_allclose(np.linalg.norm(param.grad.numpy()), 1.0, rtol=1e-6)
    assert clip_grad_norm_(param, max_norm=1.0).item() == pytest.approx(1.0, rel=1e-6)


def test_clip_grad_norm_can_refuse_a_nonfinite_norm():
    (param,) = ours_with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0"):
        clip_grad_norm_(param, max_norm=1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch(torch, device):
    grads = gradients(2.0)
    ours = ours_with_grads(grads, device)
    theirs = theirs_with_grads(torch, grads)
    clip_grad_value_(ours, clip_value=0.7)
    torch.nn.utils.clip_grad_value_(theirs, clip_value=0.7)
    for param, reference in zip(ours, theirs):
        np.testing.assert_array_equal(param.grad.numpy(), reference.grad.numpy())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: clip_grad_norm_(p, max_norm=-1.0), "clip_grad_norm_: max_norm must be >= 0"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type=0), "norm_type must be > 0 or inf, got 0"),
        (lambda p: clip_grad_value_(p, clip_value=-1), "clip_grad_value_: clip_value must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(ours_with_grads(gradients(1.0)))
