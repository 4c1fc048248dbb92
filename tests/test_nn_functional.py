"""`backprop.nn.functional`: the ops behind the layers pass float64 finite-difference gradient
checks (and second-order checks, since they are built from differentiable ops); unfold and fold
take PyTorch's arguments in its order, agree with PyTorch's and are each other's adjoint."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
import backprop.nn.functional as F


def leaf(rng, *shape):
    return bp.tensor(rng.standard_normal(shape), requires_grad=True)


def test_functional_re_exports_the_stateless_functions():
    assert F.relu is bp.functional.relu and F.cross_entropy is bp.functional.cross_entropy


def test_every_exported_name_is_a_function_not_a_submodule_of_the_same_name():
    """A submodule named like a function (`linear`) would replace it on the package."""
    assert F.linear is bp.functional.linear
    assert all(callable(getattr(F, name)) for name in F.__all__)


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


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 0, 3)], ids=str)
def test_batch_norm_of_an_empty_batch_is_empty_and_keeps_the_running_statistics(shape):
    torch = pytest.importorskip("torch")
    channels = shape[1]
    mean, var = bp.zeros(channels, dtype="float64"), bp.ones(channels, dtype="float64")
    x, w = bp.zeros(*shape, dtype="float64", requires_grad=True), bp.ones(channels).double()
    w.requires_grad = True
    out = F.batch_norm(x, mean, var, w, training=True)
    expected = torch.nn.functional.batch_norm(
        torch.zeros(shape, dtype=torch.float64), torch.zeros(channels), torch.ones(channels), None
    )
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(channels))
    np.testing.assert_array_equal(mean.numpy(), 0.0)
    np.testing.assert_array_equal(var.numpy(), 1.0)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 0)], ids=str)
def test_batch_norm_in_training_rejects_exactly_one_value_per_channel(shape):
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel"):
        F.batch_norm(bp.zeros(*shape), None, None, training=True)


def test_embedding_gradient_adds_up_repeated_ids(rng):
    weight = leaf(rng, 4, 2)
    F.embedding(bp.tensor([[3, 1], [3, 3]]), weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [0, 1, 0, 3])


@pytest.mark.parametrize("padding_idx", [-1, 3])
def test_embedding_padding_idx_counts_from_the_end_when_negative_as_torch_does(rng, padding_idx):
    torch = pytest.importorskip("torch")
    weight = rng.standard_normal((4, 2))
    ours, theirs = bp.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ids = [[3, 1], [0, 3]]
    F.embedding(bp.tensor(ids), ours, padding_idx).sum().backward()
    torch.nn.functional.embedding(torch.tensor(ids), theirs, padding_idx).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert (ours.grad.numpy()[3] == 0).all()


@pytest.mark.parametrize(
    "args",
    [(3,), (3, 2), (2, 2, 1), (2, (2, 1), (1, 0), 2), ((2, 3), 1, 1, (2, 1))],
    ids=str,
)
@pytest.mark.parametrize("shape", [(2, 3, 6, 5), (3, 6, 5), (0, 3, 6, 5)], ids=str)
def test_unfold_and_fold_take_torchs_positional_arguments(rng, args, shape):
    """(kernel_size, dilation, padding, stride): `unfold(x, 3, 2)` dilates by 2. Unbatched
    inputs and empty batches are taken as PyTorch takes them."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    cols = F.unfold(bp.tensor(x), *args)
    expected = torch.nn.functional.unfold(torch.tensor(x), *args).numpy()
    assert cols.shape == expected.shape
    np.testing.assert_allclose(cols.numpy(), expected, rtol=1e-12)
    image = F.fold(cols, shape[-2:], *args)
    expected = torch.nn.functional.fold(torch.tensor(expected), shape[-2:], *args).numpy()
    assert image.shape == expected.shape
    np.testing.assert_allclose(image.numpy(), expected, rtol=1e-12)


def test_unfold_and_fold_of_unbatched_inputs_are_differentiable(rng):
    x, cols = leaf(rng, 2, 4, 3), leaf(rng, 8, 6)
    assert bp.gradcheck(lambda x: F.unfold(x, 2, 1, 0, (1, 2)), x)
    assert bp.gradgradcheck(lambda c: F.fold(c, (4, 3), 2, 1, 1, 2).tanh(), cols)


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
        (lambda: F.unfold(bp.randn(2, 3), 2), r"unfold: expected an \(N, C, H, W\) or unbatched"),
        (lambda: F.unfold(bp.randn(1, 1, 3, 3), 0), "unfold: kernel_size must be an int or a pair"),
        (lambda: F.fold(bp.randn(1, 5, 4), (3, 3), 2), r"fold: an input of shape \(1, 5, 4\)"),
        (lambda: F.fold(bp.randn(4), (3, 3), 2), r"fold: expected an \(N, C \* kh \* kw, L\)"),
        (lambda: F.fold(bp.randn(1, 4, 4), (3, 3), 2, stride=0), "fold: stride must be"),
        (lambda: F.embedding(bp.tensor([0]), bp.randn(3, 2), 3), "padding_idx 3 is out of range"),
        (lambda: F.embedding(bp.tensor([0]), bp.randn(3, 2), -4), "padding_idx -4 is out of"),
        (lambda: F.layer_norm(bp.randn(2, 3), 3, bp.ones(2)), r"weight must have shape \(3,\)"),
        (lambda: F.layer_norm(bp.randn(2, 3), 3, None, bp.ones(3, 1)), "bias must have shape"),
        (lambda: F.batch_norm(bp.randn(4, 3), None, None, bp.ones(2)), "weight must have shape"),
        (lambda: F.conv2d(bp.randn(1, 2, 4, 4), bp.randn(3, 2, 2, 2), bp.randn(2)), "bias must"),
        (lambda: F.layer_norm(bp.randn(2, 3), (2,)), "trailing axes"),
        (lambda: F.batch_norm(bp.randn(4, 3), bp.zeros(2), bp.ones(2)), "running_mean must"),
        (lambda: F.embedding(bp.tensor([0]), bp.randn(3)), "embedding: weight must be"),
    ],
)
def test_bad_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.unfold([[[[1.0]]]], 1), "unfold: expected a Tensor, got list"),
        (lambda: F.fold([[1.0]], 1, 1), "fold: expected a Tensor, got list"),
        (lambda: F.layer_norm([1.0, 2.0], 2), "layer_norm: expected a Tensor, got list"),
        (lambda: F.layer_norm(bp.randn(2), 2, [1.0, 1.0]), "layer_norm: weight must be a Tensor"),
        (lambda: F.batch_norm([[1.0]], None, None), "batch_norm: expected a Tensor, got list"),
        (lambda: F.batch_norm(bp.randn(2, 1), [0.0], None), "running_mean must be a Tensor"),
        (lambda: F.group_norm([[1.0]], 1), "group_norm: expected a Tensor, got list"),
        (lambda: F.embedding([0], bp.randn(3, 2)), "embedding: input must be an integer Tensor"),
        (lambda: F.embedding(bp.tensor([0]), [[1.0]]), "embedding: weight must be a Tensor"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 2, 2)), 2), "max_pool2d: expected a Tensor"),
        (lambda: F.conv1d([[[1.0]]], bp.randn(1, 1, 1)), "conv1d: expected a Tensor, got list"),
        (lambda: F.pixel_shuffle([1.0], 2), "pixel_shuffle: input must be a Tensor, got list"),
        (lambda: F.prelu(bp.randn(2, 3), [0.1]), "prelu: weight must be a Tensor, got list"),
    ],
)
def test_arguments_that_are_not_tensors_are_type_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()
