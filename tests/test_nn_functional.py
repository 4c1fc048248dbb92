"""`backprop.nn.functional`: the ops behind the layers pass float64 finite-difference gradient
checks (and second-order checks, since they are built from differentiable ops); im2col and
col2im agree with PyTorch's unfold and fold and are each other's adjoint."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
import backprop.nn.functional as F


def leaf(rng, *shape):
    return bp.tensor(rng.standard_normal(shape), requires_grad=True)


def test_functional_re_exports_the_stateless_functions():
    assert F.relu is bp.functional.relu and F.cross_entropy is bp.functional.cross_entropy


@pytest.mark.parametrize(
    "options",
    [{}, {"stride": 2, "padding": 1}, {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)}],
    ids=repr,
)
def test_conv2d_gradcheck(rng, options):
    x, w, b = leaf(rng, 2, 2, 5, 4), leaf(rng, 3, 2, 2, 2), leaf(rng, 3)
    assert bp.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **options), x, w, b)


def test_conv2d_second_derivatives(rng):
    x, w = leaf(rng, 1, 1, 4, 4), leaf(rng, 2, 1, 2, 2)
    assert bp.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1).tanh(), x, w)


def test_conv2d_runs_on_every_device(device, rng):
    x = rng.standard_normal((1, 2, 3, 3))
    w = rng.standard_normal((2, 2, 2, 2))
    on_cpu = F.conv2d(bp.tensor(x), bp.tensor(w)).numpy()
    xd = bp.tensor(x, device=device, requires_grad=True)
    wd = bp.tensor(w, device=device, requires_grad=True)
    out = F.conv2d(xd, wd)
    np.testing.assert_allclose(out.numpy(), on_cpu, rtol=1e-12)
    out.sum().backward()
    assert xd.grad.device == device and wd.grad.shape == w.shape


def test_max_pool2d_gradcheck(rng):
    x = leaf(rng, 1, 2, 5, 5)
    assert bp.gradcheck(lambda x: F.max_pool2d(x, 3, stride=2, padding=1), x)


def test_max_pool2d_with_overlapping_windows_sums_gradients(rng):
    x = bp.tensor([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [6.0, 0.5, 1.5]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # windows' maxima: 5, 5, 6, 4: the 5 is picked twice
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 2, 0], [0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_gradcheck(rng, count_include_pad):
    x = leaf(rng, 1, 2, 5, 4)
    assert bp.gradcheck(
        lambda x: F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=count_include_pad), x
    )


def test_layer_norm_gradcheck(rng):
    x, w, b = leaf(rng, 3, 4), leaf(rng, 4), leaf(rng, 4)
    assert bp.gradcheck(lambda x, w, b: F.layer_norm(x, 4, w, b), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.layer_norm(x, 4, w, b), x, w, b)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 2)], ids=["(N, C)", "(N, C, L)"])
def test_batch_norm_gradcheck(rng, shape):
    x, w, b = leaf(rng, *shape), leaf(rng, 3), leaf(rng, 3)
    assert bp.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)


def test_batch_norm_in_training_updates_running_statistics_in_place(rng):
    x = rng.standard_normal((6, 2))
    mean, var = bp.zeros(2, dtype="float64"), bp.ones(2, dtype="float64")
    F.batch_norm(bp.tensor(x), mean, var, training=True, momentum=0.5)
    np.testing.assert_allclose(mean.numpy(), 0.5 * x.mean(0))
    np.testing.assert_allclose(var.numpy(), 0.5 + 0.5 * x.var(0, ddof=1))


def test_embedding_gradient_adds_up_repeated_ids(rng):
    weight = leaf(rng, 4, 2)
    F.embedding(bp.tensor([[3, 1], [3, 3]]), weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [0, 1, 0, 3])


@pytest.mark.parametrize(
    "geometry",
    [
        {"kernel_size": 2},
        {"kernel_size": (2, 3), "stride": 2, "padding": 1},
        {"kernel_size": 2, "dilation": (2, 1), "padding": (1, 0)},
    ],
    ids=repr,
)
def test_unfold_and_fold_match_pytorch(rng, geometry):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 6, 5))
    cols = F.unfold(bp.tensor(x), **geometry)
    expected = torch.nn.functional.unfold(torch.tensor(x), **geometry).numpy()
    np.testing.assert_allclose(cols.numpy(), expected, rtol=1e-12)
    back = F.fold(cols, (6, 5), **geometry)
    expected = torch.nn.functional.fold(torch.tensor(expected), (6, 5), **geometry).numpy()
    np.testing.assert_allclose(back.numpy(), expected, rtol=1e-12)


def test_im2col_and_col2im_are_adjoint_and_differentiable(rng):
    x = leaf(rng, 1, 2, 4, 3)
    cols = leaf(rng, 1, 8, 12)
    geometry = {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2}
    left = (F.unfold(x, **geometry) * cols).sum().item()
    right = (x * F.fold(cols, (4, 3), **geometry)).sum().item()
    assert left == pytest.approx(right, rel=1e-12)
    assert bp.gradcheck(lambda x: F.unfold(x, **geometry), x)
    assert bp.gradcheck(lambda c: F.fold(c, (4, 3), **geometry), cols)


def test_fold_takes_an_int_output_size_as_pytorch_does():
    cols = bp.randn(1, 4, 9)
    np.testing.assert_array_equal(F.fold(cols, 4, 2).numpy(), F.fold(cols, (4, 4), 2).numpy())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.unfold(bp.randn(2, 3), 2), r"im2col: expected an \(N, C, H, W\) tensor"),
        (lambda: F.unfold(bp.randn(1, 1, 3, 3), 0), "im2col: kernel_size must be an int or a pair"),
        (lambda: F.fold(bp.randn(1, 5, 4), (3, 3), 2), "col2im: columns of shape"),
        (lambda: F.conv2d(bp.randn(1, 2, 4, 4), bp.randn(3, 2, 2, 2), bp.randn(2)), "bias must"),
        (lambda: F.layer_norm(bp.randn(2, 3), (2,)), "trailing axes"),
        (lambda: F.batch_norm(bp.randn(4, 3), bp.zeros(2), bp.ones(2)), "running_mean must"),
        (lambda: F.embedding(bp.tensor([0]), bp.randn(3)), "embedding: weight must be"),
    ],
)
def test_bad_arguments_are_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
