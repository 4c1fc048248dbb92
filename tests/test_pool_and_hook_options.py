"""The pooling options and layers and the module hook options a PyTorch user expects:
`return_indices` and `max_unpool2d`, `divisor_override`, the 1-D and adaptive max pools, and
forward hooks with `prepend`, `with_kwargs` and `always_call`, and full backward (pre-)hooks.

Pools are run in both frameworks on random inputs: outputs, indices and input gradients agree
with PyTorch CPU (float64 to rtol 1e-10; float32 to about 1e-5), and finite differences agree to
second order. Hooks are called with the same arguments, in the same order, as PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn
from test_capture_rehearsal import rehearse
from torch_oracle import compare, compare_layer

import backprop as bp
import backprop.nn.functional as F
from backprop import nn, optim

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def leaf(shape, seed=0) -> bp.Tensor:
    return bp.tensor(randn(shape, seed), requires_grad=True)


def both(array):
    """The same float64 data as a leaf in each framework."""
    return bp.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


# -- max_pool2d(return_indices=True) ----------------------------------------------------------

MAX_GEOMETRIES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1)},
]


@pytest.mark.parametrize("geometry", MAX_GEOMETRIES, ids=str)
def test_max_pool2d_returns_torchs_values_and_flat_plane_indices(geometry, dtype):
    x = randn((2, 3, 7, 6)).astype(dtype)
    values, indices = F.max_pool2d(bp.tensor(x), **geometry, return_indices=True)
    expected, expected_indices = TF.max_pool2d(torch.tensor(x), **geometry, return_indices=True)
    assert_close(values.numpy(), expected.numpy().astype(np.float64), dtype)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    compare(lambda f, x: f.max_pool2d(x, **geometry, return_indices=True)[0], [(2, 3, 7, 6)], dtype)


def test_max_pool2d_layer_with_return_indices_matches_torch():
    ours = nn.MaxPool2d(3, 2, 1, return_indices=True)
    values, indices = ours(bp.tensor(randn((1, 2, 5, 5))))
    expected, expected_indices = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(
        torch.tensor(randn((1, 2, 5, 5)))
    )
    assert_close(values.numpy(), expected.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    assert repr(ours) == repr(torch.nn.MaxPool2d(3, 2, 1, return_indices=True))


def test_max_pool2d_gives_a_tied_maximum_s_gradient_to_one_cell_as_torch_does():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]]])
    ours, theirs = both(x)
    F.max_pool2d(ours, 2, 1).sum().backward()
    TF.max_pool2d(theirs, 2, 1).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert ours.grad.numpy()[0, 0, 1, 1] == 0  # tied with (0, 0), never picked: not shared


def test_a_window_of_minus_infinity_points_at_its_first_cell_in_the_input():
    x = np.full((1, 1, 2, 3), -np.inf)
    _, indices = F.max_pool2d(bp.tensor(x), 2, 2, 1, return_indices=True)
    _, expected = TF.max_pool2d(torch.tensor(x), 2, 2, 1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())


def test_max_pool2d_on_an_empty_batch_matches_torch():
    values, indices = F.max_pool2d(bp.randn(0, 2, 4, 4), 2, return_indices=True)
    assert values.shape == indices.shape == (0, 2, 2, 2)


def test_max_pool2d_through_indices_matches_finite_differences_and_reads_views():
    x = leaf((1, 2, 5, 4))
    assert bp.gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0], x)
    assert bp.gradgradcheck(lambda x: F.max_pool2d(x, 2, ceil_mode=True).tanh(), x)
    compare(
        lambda f, x: f.max_pool2d(x.permute(0, 3, 1, 2), 2, 1, return_indices=True)[0],
        [(1, 4, 5, 3)],
    )


# -- max_unpool2d --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "geometry", "output_size"),
    [
        ((2, 3, 6, 4), (2, None, 0), None),
        ((1, 2, 7, 5), (2, None, 0), (7, 5)),  # output_size restores the odd size
        ((1, 2, 5, 5), ((3, 2), (3, 2), (1, 0)), (1, 2, 6, 5)),  # an (N, C, H, W) output_size
    ],
    ids=str,
)
def test_max_unpool2d_undoes_max_pool2d_as_torch_does(shape, geometry, output_size, dtype):
    kernel, stride, padding = geometry

    def roundtrip(f, x):
        values, indices = f.max_pool2d(x, kernel, stride, padding, return_indices=True)
        return f.max_unpool2d(values, indices, kernel, stride, padding, output_size)

    compare(roundtrip, [shape], dtype)


def test_max_unpool2d_is_differentiable_in_its_values():
    x = bp.tensor(randn((1, 2, 4, 6)))
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    ours = leaf(values.shape, seed=1)
    out = F.max_unpool2d(ours, indices, 2)
    theirs = torch.tensor(ours.numpy(), requires_grad=True)
    expected = TF.max_unpool2d(theirs, torch.tensor(indices.numpy()), 2)
    assert_close(out.numpy(), expected.detach().numpy())
    grad = randn(out.shape, seed=2)
    out.backward(bp.tensor(grad))
    expected.backward(torch.tensor(grad))
    assert_close(ours.grad.numpy(), theirs.grad.numpy())
    assert bp.gradcheck(lambda v: F.max_unpool2d(v, indices, 2), ours)
    assert bp.gradgradcheck(lambda v: F.max_unpool2d(v, indices, 2).tanh(), ours)


def test_max_unpool2d_puts_a_cell_picked_by_overlapping_windows_back_once():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # every 2x2 window with stride 1 picks the centre
    values, indices = F.max_pool2d(bp.tensor(x), 2, 1, return_indices=True)
    out = F.max_unpool2d(values, indices, 2, 1)
    expected = TF.max_unpool2d(*TF.max_pool2d(torch.tensor(x), 2, 1, return_indices=True), 2, 1)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_max_unpool2d_layer_matches_torch_and_its_repr():
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = bp.tensor(randn((1, 1, 5, 4)))
    out = unpool(*pool(x), output_size=(5, 4))
    their_pool = torch.nn.MaxPool2d(2, return_indices=True)
    expected = torch.nn.MaxUnpool2d(2)(*their_pool(torch.tensor(x.numpy())), output_size=(5, 4))
    assert_close(out.numpy(), expected.numpy())
    assert (
        repr(unpool)
        == repr(torch.nn.MaxUnpool2d(2))
        == ("MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))")
    )


def test_max_unpool2d_on_an_empty_batch_gives_an_empty_result_as_torch_does():
    values, indices = F.max_pool2d(leaf((0, 2, 4, 6)), 2, return_indices=True)
    out = F.max_unpool2d(values, indices, 2)
    expected = TF.max_unpool2d(*TF.max_pool2d(torch.zeros(0, 2, 4, 6), 2, return_indices=True), 2)
    assert out.shape == tuple(expected.shape) == (0, 2, 4, 6)
    out.sum().backward()


def test_max_unpool2d_checks_its_arguments():
    values, indices = F.max_pool2d(bp.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size \(9, 9\) is out of range"):
        F.max_unpool2d(values, indices, 2, output_size=(9, 9))
    with pytest.raises(ValueError, match="max_unpool2d: output_size must be"):
        F.max_unpool2d(values, indices, 2, output_size=(4, 4, 4))
    with pytest.raises(ValueError, match="max_unpool2d: indices must be an int64 Tensor"):
        F.max_unpool2d(values, indices.reshape(1, 1, 4), 2)
    with pytest.raises(ValueError, match="max_unpool2d: indices must be an int64 Tensor"):
        F.max_unpool2d(values, values, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: expected an \(N, C, H, W\) or unbat"):
        F.max_unpool2d(values[0, 0], indices[0, 0], 2)
    with pytest.raises(TypeError, match="max_unpool2d: expected a Tensor, got list"):
        F.max_unpool2d([1.0], indices, 2)
    with pytest.raises(ValueError, match="max_unpool2d: an input of height and width"):
        F.max_unpool2d(values, indices, 1, 1, 1)


# -- avg_pool2d(divisor_override=...) ------------------------------------------------------


@pytest.mark.parametrize("divisor", [1, 3, -2])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool2d_divisor_override_matches_torch(divisor, ceil_mode, dtype):
    options = {"ceil_mode": ceil_mode, "divisor_override": divisor}
    compare(lambda f, x: f.avg_pool2d(x, 3, 2, 1, **options), [(2, 3, 7, 5)], dtype)
    layer = nn.AvgPool2d(2, 1, 1, **options)
    compare_layer(layer, torch.nn.AvgPool2d(2, 1, 1, **options), (1, 2, 4, 5), dtype)


def test_avg_pool2d_divisor_override_matches_finite_differences():
    x = leaf((1, 2, 4, 5))
    assert bp.gradcheck(lambda x: F.avg_pool2d(x, 2, divisor_override=3), x)
    assert bp.gradgradcheck(lambda x: F.avg_pool2d(x, 2, 1, 1, divisor_override=3).tanh(), x)


@pytest.mark.parametrize("divisor", [0, 1.5, True])
def test_avg_pool2d_divisor_override_must_be_a_non_zero_int(divisor):
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must be a non-zero int"):
        F.avg_pool2d(bp.randn(1, 1, 4, 4), 2, divisor_override=divisor)


# -- 1-D pools -----------------------------------------------------------------------------

POOL1D_OPTIONS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 4, "stride": 3, "ceil_mode": True},
]


@pytest.mark.parametrize("options", POOL1D_OPTIONS, ids=str)
def test_max_pool1d_matches_torch_with_indices(options, dtype):
    compare(lambda f, x: f.max_pool1d(x, **options), [(2, 3, 9)], dtype)
    compare(lambda f, x: f.max_pool1d(x, **options, dilation=2), [(2, 3, 9)], dtype)
    x = randn((2, 3, 9))
    _, indices = F.max_pool1d(bp.tensor(x), **options, return_indices=True)
    _, expected = TF.max_pool1d(torch.tensor(x), **options, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())
    layer = nn.MaxPool1d(**options)
    compare_layer(layer, torch.nn.MaxPool1d(**options), (2, 2, 8), dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("options", POOL1D_OPTIONS, ids=str)
def test_avg_pool1d_matches_torch(options, count_include_pad, dtype):
    options = {**options, "count_include_pad": count_include_pad}
    compare(lambda f, x: f.avg_pool1d(x, **options), [(2, 3, 9)], dtype)
    compare_layer(nn.AvgPool1d(**options), torch.nn.AvgPool1d(**options), (2, 2, 8), dtype)


def test_1d_pools_read_views_match_finite_differences_and_print_as_torch():
    compare(lambda f, x: f.max_pool1d(x.transpose(1, 2), 2, 1, 1), [(2, 7, 3)])
    compare(lambda f, x: f.avg_pool1d(x[:, :, ::2], 3, 1, 1, False, False), [(1, 2, 11)])
    x = leaf((1, 2, 7))
    assert bp.gradcheck(lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True), x)
    assert bp.gradgradcheck(lambda x: F.max_pool1d(x, 2).tanh(), x)
    assert bp.gradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), x)
    assert bp.gradgradcheck(lambda x: F.avg_pool1d(x, 2, 1, 1).tanh(), x)
    assert repr(nn.MaxPool1d(3)) == repr(torch.nn.MaxPool1d(3))
    assert repr(nn.AvgPool1d(3, 2)) == repr(torch.nn.AvgPool1d(3, 2))


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_1d_pools_on_an_empty_batch_give_an_empty_result_as_torch_does(ceil_mode):
    compare(lambda f, x: f.max_pool1d(x, 3, 2, 1, ceil_mode=ceil_mode), [(0, 2, 8)])
    compare(lambda f, x: f.avg_pool1d(x, 3, 2, 1, ceil_mode, False), [(0, 2, 8)])
    values, indices = F.max_pool1d(bp.randn(0, 2, 8), 2, return_indices=True)
    assert values.shape == indices.shape == (0, 2, 4)


def test_1d_pools_check_their_arguments():
    with pytest.raises(ValueError, match=r"max_pool1d: expected an \(N, C, L\) or unbatched"):
        F.max_pool1d(bp.randn(1, 2, 3, 4), 2)
    with pytest.raises(ValueError, match="avg_pool1d: padding 2 must be at most half the kernel"):
        F.avg_pool1d(bp.randn(1, 2, 8), 3, padding=2)
    with pytest.raises(ValueError, match="max_pool1d: an input of length 3 padded by 0"):
        F.max_pool1d(bp.randn(1, 2, 3), 2, dilation=3)
    with pytest.raises(ValueError, match="max_pool1d: kernel_size must be an int or a sequence"):
        nn.MaxPool1d((2, 2))(bp.randn(1, 2, 8))


# -- adaptive pools ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "output_size"),
    [
        ((2, 3, 8, 6), (4, 3)),
        ((2, 3, 7, 5), (3, 2)),
        ((1, 2, 3, 4), (5, 6)),
        ((1, 2, 6, 5), (None, 2)),
    ],
    ids=str,
)
def test_adaptive_max_pool2d_matches_torch_with_indices(shape, output_size, dtype):
    compare(lambda f, x: f.adaptive_max_pool2d(x, output_size), [shape], dtype)
    x = randn(shape)
    _, indices = F.adaptive_max_pool2d(bp.tensor(x), output_size, return_indices=True)
    _, expected = TF.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())


def test_adaptive_max_pool2d_routes_a_tie_to_the_first_cell_in_row_major_order():
    x = np.array([[[[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]])
    ours, theirs = both(x)
    F.adaptive_max_pool2d(ours, 1).sum().backward()
    TF.adaptive_max_pool2d(theirs, 1).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_adaptive_pool_layers_match_torch_views_and_finite_differences():
    compare_layer(nn.AdaptiveMaxPool2d((2, 3)), torch.nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 8))
    compare_layer(nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 3, 7))
    compare(lambda f, x: f.adaptive_max_pool2d(x.permute(0, 3, 1, 2), 3), [(2, 5, 7, 3)])
    compare(lambda f, x: f.adaptive_avg_pool1d(x.transpose(1, 2), 4), [(2, 7, 3)])
    x = leaf((1, 2, 5, 4))
    assert bp.gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 3)), x)
    assert bp.gradgradcheck(lambda x: F.adaptive_max_pool2d(x, (2, 3)).tanh(), x)
    assert bp.gradcheck(lambda x: F.adaptive_avg_pool1d(x[0], 3), x)
    assert repr(nn.AdaptiveMaxPool2d(2)) == repr(torch.nn.AdaptiveMaxPool2d(2))
    empty, indices = F.adaptive_max_pool2d(bp.randn(0, 2, 4, 4), 2, return_indices=True)
    assert empty.shape == indices.shape == (0, 2, 2, 2)


def test_adaptive_pools_copy_no_host_data_to_the_device(monkeypatch):
    """Their windows are worked out on the device: a step that pools can be captured."""
    x = bp.randn(1, 2, 7, 5, requires_grad=True)

    def no_host_copies(_):
        raise AssertionError("an adaptive pool copied host data to the device")

    monkeypatch.setattr(x.backend, "from_host", no_host_copies)
    values, indices = F.adaptive_max_pool2d(x, (3, 2), return_indices=True)
    (values.sum() + F.adaptive_avg_pool2d(x, (3, 2)).sum()).backward()


def test_adaptive_pools_check_their_output_size():
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output_size must be a positive"):
        F.adaptive_max_pool2d(bp.randn(1, 1, 4, 4), (2, 0))
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: output_size must be an int"):
        F.adaptive_avg_pool1d(bp.randn(1, 1, 4), 0)


# -- unbatched inputs ------------------------------------------------------------------------

UNBATCHED = [
    ("max_pool2d", (3, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg_pool2d", (3, 7, 6), {"kernel_size": 2, "ceil_mode": True}),
    ("adaptive_avg_pool2d", (3, 7, 6), {"output_size": (3, 4)}),
    ("adaptive_max_pool2d", (3, 7, 6), {"output_size": (4, 3)}),
    ("max_pool1d", (3, 9), {"kernel_size": 3, "stride": 2}),
    ("avg_pool1d", (3, 9), {"kernel_size": 3, "padding": 1}),
    ("adaptive_avg_pool1d", (3, 9), {"output_size": 4}),
]


@pytest.mark.parametrize(("name", "shape", "options"), UNBATCHED, ids=str)
def test_pools_take_an_unbatched_input_as_torch_does(name, shape, options, dtype):
    compare(lambda f, x: getattr(f, name)(x, **options), [shape], dtype)


def test_unbatched_pools_return_torchs_indices_and_unpool_them():
    x = randn((2, 5, 6))
    values, indices = F.max_pool2d(leaf((2, 5, 6)), 2, return_indices=True)
    expected, expected_indices = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    unpooled = F.max_unpool2d(values, indices, 2, output_size=(5, 6))
    expected = TF.max_unpool2d(expected, expected_indices, 2, output_size=(5, 6))
    assert_close(unpooled.numpy(), expected.numpy())
    _, indices = F.max_pool1d(bp.tensor(x[0]), 2, return_indices=True)
    _, expected_indices = TF.max_pool1d(torch.tensor(x[0]), 2, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    _, indices = F.adaptive_max_pool2d(bp.tensor(x), (2, 4), return_indices=True)
    _, expected_indices = TF.adaptive_max_pool2d(torch.tensor(x), (2, 4), return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())


def test_unbatched_pool_layers_match_torch_and_finite_differences():
    compare_layer(nn.MaxPool2d(2, 1), torch.nn.MaxPool2d(2, 1), (2, 4, 5))
    compare_layer(nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 7))
    x = leaf((2, 4, 5))
    assert bp.gradcheck(lambda x: F.adaptive_max_pool2d(x, 3), x)
    assert bp.gradgradcheck(lambda x: F.avg_pool2d(x, 2, 1).tanh(), x)
    assert bp.gradcheck(lambda x: F.max_pool1d(x[0], 2), x)


def test_the_1d_pools_are_not_2d_pools_as_in_torch():
    assert not isinstance(nn.MaxPool1d(2), nn.MaxPool2d)
    assert not isinstance(nn.AdaptiveAvgPool1d(2), nn.AdaptiveAvgPool2d)
    assert repr(nn.AdaptiveAvgPool1d(2)) == repr(torch.nn.AdaptiveAvgPool1d(2))
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))


# -- on every device, and capturable -------------------------------------------------------


def test_the_new_pools_give_the_cpu_results_on_every_device(device):
    x = randn((1, 2, 5, 6))
    results = {}
    for where in ("cpu", device):
        t = bp.tensor(x, device=where, requires_grad=True)
        values, indices = F.max_pool2d(t, 2, 2, 1, return_indices=True)
        unpooled = F.max_unpool2d(values, indices, 2, 2, 1, (5, 6))
        total = (
            unpooled.sum()
            + F.avg_pool2d(t, 3, 2, divisor_override=2).sum()
            + F.max_pool1d(t[:, :, 0], 2).sum()
            + F.adaptive_max_pool2d(t, (2, 4)).sum()
            + F.adaptive_avg_pool2d(t[0], (3, 4)).sum()
            + F.avg_pool1d(t[:0, :, 0], 2).sum()
        )
        total.backward()
        results[where] = (unpooled.numpy(), indices.numpy(), t.grad.numpy())
    for ours, cpu in zip(results[device], results["cpu"]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-12)


def test_a_pool_and_unpool_step_is_capturable(monkeypatch, rng):
    class PoolUnpool(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.pool, self.unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
            self.head = nn.Sequential(nn.AdaptiveMaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))

        def forward(self, x):
            return self.head(self.unpool(*self.pool(self.conv(x))))

    bp.manual_seed(0)
    model = PoolUnpool()
    x = bp.tensor(rng.standard_normal((4, 2, 6, 6)).astype(np.float32))
    labels = bp.tensor(rng.integers(0, 3, 4))
    rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, x, labels)


# -- forward hooks: prepend, with_kwargs, always_call --------------------------------------


class Scale(nn.Module):
    """`x * factor`, raising when `fail` is set (to test always_call)."""

    def forward(self, x, factor=1.0, fail=False):
        if fail:
            raise ValueError("forward failed")
        return x * factor


def record_hooks(module, events):
    module.register_forward_pre_hook(lambda m, args: events.append("pre a"))
    module.register_forward_pre_hook(lambda m, args: events.append("pre b"), prepend=True)
    module.register_forward_hook(lambda m, args, out: events.append("post a"))
    module.register_forward_hook(lambda m, args, out: events.append("post b"), prepend=True)


def test_prepend_puts_a_hook_before_those_already_registered_as_in_torch():
    ours, theirs = [], []
    module, reference = Scale(), torch.nn.Identity()
    record_hooks(module, ours)
    record_hooks(reference, theirs)
    module(bp.ones(2))
    reference(torch.ones(2))
    assert ours == theirs == ["pre b", "pre a", "post b", "post a"]


def test_with_kwargs_hooks_see_and_replace_the_keyword_arguments():
    module, seen = Scale(), []

    def pre(m, args, kwargs):
        seen.append(dict(kwargs))
        return (args[0] + 1,), {**kwargs, "factor": 10.0}

    module.register_forward_pre_hook(pre, with_kwargs=True)
    module.register_forward_hook(
        lambda m, a, k, out: seen.append((k, out.tolist())), with_kwargs=True
    )
    out = module(bp.ones(2), factor=2.0)
    assert out.tolist() == [20.0, 20.0]
    assert seen == [{"factor": 2.0}, ({"factor": 10.0}, [20.0, 20.0])]


def test_a_with_kwargs_pre_hook_must_return_args_and_kwargs():
    module = Scale()
    module.register_forward_pre_hook(lambda m, a, k: a, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"Scale: a forward pre-hook registered with with_kwarg"):
        module(bp.ones(2), factor=2.0)


def test_always_call_hooks_run_with_output_none_when_forward_raises():
    module, seen = Scale(), []
    module.register_forward_hook(lambda m, a, out: seen.append(("plain", out)))
    module.register_forward_hook(lambda m, a, out: seen.append(("always", out)), always_call=True)
    module.register_forward_hook(
        lambda m, a, k, out: seen.append(("kwargs", k, out)), with_kwargs=True, always_call=True
    )
    with pytest.raises(ValueError, match="forward failed"):
        module(bp.ones(2), fail=True)
    assert seen == [("always", None), ("kwargs", {"fail": True}, None)]
    seen.clear()
    module(bp.ones(2))
    assert [event[0] for event in seen] == ["plain", "always", "kwargs"]  # once each


def test_an_always_call_hook_that_raises_after_forward_raised_is_silenced_with_a_warning():
    module = Scale()
    module.register_forward_hook(lambda m, a, out: out * 2, always_call=True)  # None * 2 raises
    with pytest.warns(UserWarning, match="always_call=True raised"), pytest.raises(ValueError):
        module(bp.ones(2), fail=True)


def test_an_always_call_hook_runs_when_a_later_hook_raises_but_not_twice():
    module, seen = Scale(), []
    module.register_forward_hook(lambda m, a, out: seen.append("always"), always_call=True)

    def broken(m, a, out):
        raise KeyError("broken hook")

    module.register_forward_hook(broken)
    with pytest.raises(KeyError):
        module(bp.ones(2))
    assert seen == ["always"]


def test_hooks_with_options_are_removed_by_their_handle():
    module, seen = Scale(), []
    handles = [
        module.register_forward_pre_hook(lambda m, a, k: seen.append("pre"), with_kwargs=True),
        module.register_forward_hook(lambda m, a, o: seen.append("post"), always_call=True),
        module.register_full_backward_hook(lambda m, gi, go: seen.append("backward")),
    ]
    for handle in handles:
        handle.remove()
    module(leaf((2,))).sum().backward()
    assert seen == []


@pytest.mark.parametrize(
    ("method", "option"),
    [
        ("register_forward_pre_hook", {"prepend": 1}),
        ("register_forward_hook", {"always_call": "yes"}),
        ("register_full_backward_hook", {"prepend": None}),
    ],
)
def test_hook_options_must_be_bools(method, option):
    name = next(iter(option))
    with pytest.raises(TypeError, match=f"Module.{method}: {name} must be a bool"):
        getattr(Scale(), method)(lambda *a: None, **option)


# -- full backward hooks -------------------------------------------------------------------


class TwoWay(torch.nn.Module):
    """(a * b + c, a * scale), in PyTorch; `ours` below is the same in backprop."""

    def forward(self, a, b, scale, c):
        return a * b + c, a * scale


class OurTwoWay(nn.Module):
    def forward(self, a, b, scale, c):
        return a * b + c, a * scale


def run_backward_hooks(module, tensor, arrays, c_requires_grad):
    """Calls `module(a, b, 3.0, c)` with hooks that record what they get, then backward."""
    events = []

    def as_lists(grads):
        return [None if g is None else np.asarray(g.detach().numpy()).tolist() for g in grads]

    module.register_full_backward_pre_hook(lambda m, go: events.append(("pre", as_lists(go))))
    module.register_full_backward_hook(
        lambda m, gi, go: events.append(("full", as_lists(gi), as_lists(go)))
    )
    a, b, c = (tensor(x, requires_grad=True) for x in arrays)
    if not c_requires_grad:
        c = tensor(arrays[2])
    first, second = module(a, b, 3.0, c)
    ((first * tensor(np.array([1.0, 2.0]))).sum() + second.sum()).backward()
    return events


@pytest.mark.parametrize("c_requires_grad", [True, False])
def test_full_backward_hooks_get_torchs_grad_input_and_grad_output(c_requires_grad):
    arrays = [randn((2,), seed) for seed in range(3)]
    ours = OurTwoWay()
    events = run_backward_hooks(ours, bp.tensor, arrays, c_requires_grad)
    expected = run_backward_hooks(TwoWay(), torch.tensor, arrays, c_requires_grad)
    assert [event[0] for event in events] == [event[0] for event in expected] == ["pre", "full"]
    for mine, reference in zip(events, expected):
        assert mine[0] == reference[0]
        for got, want in zip(mine[1:], reference[1:]):
            assert [g is None for g in got] == [w is None for w in want]
            for g, w in zip(got, want):
                if w is not None:
                    np.testing.assert_allclose(g, w, rtol=1e-12)


def test_backward_hooks_may_replace_the_gradients_as_in_torch():
    def build(module, tensor):
        module.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
        module.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1, None))
        x = tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = tensor(np.array([3.0, 4.0]), requires_grad=True)
        module(x, y).sum().backward()
        return x.grad.numpy(), y.grad

    class Product(nn.Module):
        def forward(self, x, y):
            return x * y

    class TorchProduct(torch.nn.Module):
        def forward(self, x, y):
            return x * y

    (ours_x, ours_y), (theirs_x, theirs_y) = (
        build(Product(), bp.tensor),
        build(TorchProduct(), torch.tensor),
    )
    np.testing.assert_array_equal(ours_x, theirs_x)  # (10 * y) + 1
    assert ours_y is None and theirs_y is None


def test_a_full_backward_hook_runs_at_the_outputs_when_no_input_requires_grad():
    layer, seen = nn.Linear(3, 2), []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    layer(bp.ones(4, 3)).sum().backward()
    assert seen == [((None,), (4, 2))]
    assert layer.weight.grad is not None


def test_backward_hooks_fire_inside_a_model_in_backward_order():
    model, order = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), []
    for name, layer in model.named_children():
        layer.register_full_backward_pre_hook(lambda m, go, name=name: order.append(f"pre {name}"))
        layer.register_full_backward_hook(lambda m, gi, go, name=name: order.append(name))
    model(bp.randn(5, 3, requires_grad=True)).sum().backward()
    assert order == ["pre 2", "2", "pre 1", "1", "pre 0", "0"]


def test_backward_hook_replacements_are_checked():
    module = Scale()
    module.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(
        RuntimeError, match="Scale: a full backward hook must return None or a tuple of 1"
    ):
        module(leaf((2,))).sum().backward()
    module = Scale()
    module.register_full_backward_pre_hook(lambda m, go: (bp.ones(3),))
    with pytest.raises(
        RuntimeError, match=r"Scale: a backward pre-hook returned a gradient of \(3,\)"
    ):
        module(leaf((2,))).sum().backward()
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (bp.ones(1, 2),))
    with pytest.raises(RuntimeError, match="no input of the module requires grad"):
        layer(bp.ones(1, 2)).sum().backward()


def test_backward_hooks_see_every_device(device):
    module, seen = Scale(), []
    module.register_full_backward_hook(
        lambda m, gi, go: seen.append((gi[0].numpy(), go[0].numpy()))
    )
    x = bp.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    (module(x, 3.0) * bp.tensor(np.array([1.0, 5.0]), device=device)).sum().backward()
    np.testing.assert_array_equal(seen[0][0], [3.0, 15.0])
    np.testing.assert_array_equal(seen[0][1], [1.0, 5.0])
