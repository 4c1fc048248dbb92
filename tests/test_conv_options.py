"""The Conv2d and pooling options a PyTorch user expects: `F.pad` in its four modes, grouped and
depthwise convolutions, `padding='same'` / `'valid'`, `Conv2d(padding_mode=...)`, and the pools'
`ceil_mode` and `count_include_pad`.

Each option is run in both frameworks on random inputs: the outputs, the input gradient and
the weight and bias gradients agree with PyTorch CPU (float64 to rtol 1e-10; float32 to about
1e-5 of PyTorch's float64 result on the same float32-rounded inputs). Each is also checked by
finite differences to second order, on edge shapes and on non-contiguous views, and every bad
argument is a clear error. NumPy backend, except the last test, which runs on every device.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn
from torch_oracle import compare, compare_layer

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES = ["constant", "reflect", "replicate", "circular"]


def leaf(shape, seed=0) -> bp.Tensor:
    return bp.tensor(randn(shape, seed), requires_grad=True)


# -- F.pad ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("shape", "widths"),
    [
        ((2, 3, 5), (2, 1)),
        ((2, 3, 5), (0, 4)),
        ((2, 2, 4, 5), (1, 3, 2, 0)),
        ((2, 2, 4, 5), (-1, 2, 2, -1)),
        ((1, 1, 4, 5), (4, 4, 3, 3)),
    ],
    ids=str,
)
def test_pad_matches_torch_in_every_mode(mode, shape, widths, dtype):
    compare(lambda f, x: f.pad(x, widths, mode=mode), [shape], dtype)


def test_circular_pad_after_a_crop_wraps_around_what_is_left():
    compare(lambda f, x: f.pad(x, (-1, 2), mode="circular"), [(1, 2, 5)])
    compare(lambda f, x: f.pad(x, (2, -1), mode="circular"), [(1, 2, 5)])


def test_constant_pad_fills_with_value_and_pads_any_number_of_axes():
    compare(lambda f, x: f.pad(x, (1, 2, 0, 1, 2, 0), value=-2.5), [(3, 2, 4)])
    compare(lambda f, x: f.pad(x, (1, 1), value=4.0), [(5,)])


def test_pad_value_none_means_zero_as_in_torch():
    compare(lambda f, x: f.pad(x, (1, 2, 2, 0), value=None), [(2, 3, 4)])
    assert F.pad(bp.ones(2), (1, 1), value=None).numpy().tolist() == [0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("mode", MODES[1:])
@pytest.mark.parametrize("value", [None, 0, 0.0])
def test_copying_modes_take_a_value_of_none_or_zero_as_torch_does(mode, value):
    compare(lambda f, x: f.pad(x, (2, 1), mode=mode, value=value), [(1, 2, 4)])


def test_constant_pad_may_crop_an_axis_to_nothing():
    out = F.pad(bp.randn(2, 3), (-2, -1))
    assert out.shape == (2, 0) == tuple(TF.pad(torch.zeros(2, 3), (-2, -1)).shape)


def test_non_constant_modes_pad_the_last_axes_of_any_batch_of_inputs():
    x = randn((2, 3, 4, 5))
    for mode in ("reflect", "replicate", "circular"):
        out = F.pad(bp.tensor(x), (2, 1), mode=mode).numpy()
        batched = TF.pad(torch.tensor(x.reshape(6, 4, 5)), (2, 1), mode=mode)
        assert_close(out, batched.numpy().reshape(2, 3, 4, 8))


def test_replicate_pad_adds_the_gradient_of_every_copy_into_the_edge():
    x = bp.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    F.pad(x, (2, 1), mode="replicate").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 1.0, 2.0]])


def test_reflect_pad_mirrors_without_repeating_the_edge():
    out = F.pad(bp.tensor([[[0.0, 1.0, 2.0, 3.0]]]), (2, 3), mode="reflect")
    np.testing.assert_array_equal(out.numpy(), [[[2, 1, 0, 1, 2, 3, 2, 1, 0]]])


@pytest.mark.parametrize("mode", MODES)
def test_pad_copies_no_host_data_to_the_device(monkeypatch, mode):
    """Slices and concatenations only, no index array: a step that pads stays capturable."""
    x = leaf((2, 3, 4, 5))

    def no_host_copies(_):
        raise AssertionError("pad copied host data to the device")

    monkeypatch.setattr(x.backend, "from_host", no_host_copies)
    for widths in [(2, 1, 3, 0), (-1, 3, 1, -2)]:
        F.pad(x, widths, mode=mode).sum().backward()


@pytest.mark.parametrize("mode", MODES)
def test_pad_reads_a_non_contiguous_view(mode):
    compare(lambda f, x: f.pad(x.permute(0, 3, 1, 2), (1, 2, 2, 1), mode=mode), [(2, 4, 5, 3)])


@pytest.mark.parametrize("mode", MODES)
def test_pad_first_and_second_derivatives_match_finite_differences(mode):
    x = leaf((1, 2, 3, 4))
    assert bp.gradcheck(lambda x: F.pad(x, (2, 1, -1, 2), mode=mode), x)
    assert bp.gradgradcheck(lambda x: F.pad(x, (1, 2, 2, 1), mode=mode).tanh(), x)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.pad(np.zeros((2, 3)), (1, 1)), TypeError, "pad: expected a Tensor, got ndarray"),
        (lambda: F.pad(bp.randn(2, 3), 1), TypeError, "pad: pad must be a sequence of ints"),
        (lambda: F.pad(bp.randn(2, 3), (1.5, 1)), TypeError, r"sequence of ints .* got \(1.5, 1\)"),
        (lambda: F.pad(bp.randn(2, 3), (1, 1, 1)), ValueError, "an even number of ints, got 3"),
        (
            lambda: F.pad(bp.randn(3), (1, 1, 1, 1)),
            ValueError,
            r"pad: pad \(1, 1, 1, 1\) widens 2 axes but the input \(3,\) has 1",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (1, 1), mode="mirror"),
            ValueError,
            "pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'mirror'",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (1, 1), mode="reflect", value=1.0),
            ValueError,
            "pad: value is used by mode='constant' only, got value=1.0 with mode='reflect'",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (0, 3), mode="reflect"),
            ValueError,
            r"reflect padding must be smaller than the axis it pads, got \(0, 3\) for axis 1 of "
            r"size 3 \(input \(2, 3\)\)",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (4, 0), mode="circular"),
            ValueError,
            r"circular padding can wrap around at most once, so at most 3 cells, got \(4, 0\)",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (-2, -1), mode="replicate"),
            ValueError,
            r"padding \(-2, -1\) crops 3 cells of axis 1 of size 3 .* mode='replicate' needs at "
            "least 1 left",
        ),
        (
            lambda: F.pad(bp.randn(2, 3), (-4, 2)),
            ValueError,
            "crops 4 cells of axis 1 of size 3 .* mode='constant' needs at least 0 left",
        ),
    ],
)
def test_bad_pad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- grouped convolutions and string padding ------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "out_channels", "options"),
    [
        (4, 6, {"groups": 2}),
        (6, 3, {"groups": 3, "stride": 2, "padding": 1}),
        (3, 6, {"groups": 3, "dilation": (2, 1), "padding": (1, 0)}),
        (4, 4, {"groups": 4, "stride": (1, 2)}),
    ],
    ids=str,
)
def test_grouped_conv2d_matches_torch(channels, out_channels, options, dtype):
    shapes = [(2, channels, 6, 5), (out_channels, channels // options["groups"], 3, 2)]
    shapes.append((out_channels,))
    compare(lambda f, x, w, b: f.conv2d(x, w, b, **options), shapes, dtype)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize(
    ("kernel", "dilation"),
    [((3, 3), 1), ((2, 4), 1), ((3, 2), (2, 3)), ((1, 1), 1)],
    ids=str,
)
def test_conv2d_same_padding_keeps_the_size_and_matches_torch(kernel, dilation, dtype):
    shapes = [(2, 2, 5, 6), (3, 2, *kernel), (3,)]
    compare(lambda f, x, w, b: f.conv2d(x, w, b, padding="same", dilation=dilation), shapes, dtype)
    out = F.conv2d(bp.randn(2, 2, 5, 6), bp.randn(3, 2, *kernel), padding="same", dilation=dilation)
    assert out.shape == (2, 3, 5, 6)


def test_conv2d_valid_padding_is_no_padding(dtype):
    shapes = [(1, 4, 5, 5), (2, 2, 3, 3), (2,)]
    compare(lambda f, x, w, b: f.conv2d(x, w, b, 2, "valid", groups=2), shapes, dtype)


@pytest.mark.parametrize(
    ("shapes", "options"),
    [
        ([(2, 3, 1, 1), (6, 1, 1, 1), (6,)], {"groups": 3}),
        ([(2, 2, 1, 1), (4, 2, 3, 3), (4,)], {"padding": "same"}),
        ([(2, 4, 3, 4), (4, 2, 3, 4), (4,)], {"groups": 2}),
        ([(1, 3, 4, 4), (3, 1, 4, 4), (3,)], {"groups": 3, "padding": "same"}),
    ],
    ids=["1x1 input", "1x1 input, same padding", "kernel == input", "depthwise, even kernel"],
)
def test_conv2d_on_edge_shapes_matches_torch(shapes, options):
    compare(lambda f, x, w, b: f.conv2d(x, w, b, **options), shapes)


@pytest.mark.parametrize("options", [{}, {"groups": 2, "padding": 1}, {"padding": "same"}], ids=str)
def test_conv2d_on_an_empty_batch_gives_an_empty_result_as_torch_does(options):
    weight = (6, 4 // options.get("groups", 1), 3, 3)
    compare(lambda f, x, w, b: f.conv2d(x, w, b, **options), [(0, 4, 5, 5), weight, (6,)])


def test_grouped_conv2d_reads_non_contiguous_views():
    shapes = [(2, 5, 6, 4), (4, 2, 2, 3), (4,)]
    compare(lambda f, x, w, b: f.conv2d(x.permute(0, 3, 1, 2), w, b, groups=2), shapes)
    shapes = [(2, 4, 9, 6), (4, 2, 2, 3)]
    compare(lambda f, x, w: f.conv2d(x[:, :, ::2, 1:], w, padding="same", groups=2), shapes)


@pytest.mark.parametrize(
    "options",
    [
        {"groups": 2},
        {"groups": 4, "padding": "same"},
        {"groups": 2, "padding": "same", "stride": 1},
    ],
    ids=str,
)
def test_conv2d_options_first_and_second_derivatives_match_finite_differences(options):
    x, w, b = leaf((1, 4, 3, 4)), leaf((4, 4 // options["groups"], 2, 3), 1), leaf((4,), 2)
    assert bp.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **options), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **options).tanh(), x, w, b)


# -- the Conv2d layer ------------------------------------------------------------------------


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "options",
    [
        {"padding": 1},
        {"padding": (2, 1), "stride": 2, "groups": 2},
        {"padding": "same", "dilation": (2, 1)},
        {"padding": "valid", "groups": 4, "bias": False},
    ],
    ids=str,
)
def test_conv2d_layer_padding_modes_and_groups_match_torch(padding_mode, options, dtype):
    ours = nn.Conv2d(4, 8, (3, 2), padding_mode=padding_mode, **options)
    theirs = torch.nn.Conv2d(4, 8, (3, 2), padding_mode=padding_mode, **options)
    compare_layer(ours, theirs, (2, 4, 5, 6), dtype)


def test_conv2d_layer_keeps_weights_per_group_as_torch_does():
    layer = nn.Conv2d(6, 4, 3, 1, "same", 1, 2, False, "reflect")
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias is None
    assert repr(layer) == (
        "Conv2d(6, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=2, bias=False, "
        "padding_mode=reflect)"
    )
    bound = 1 / np.sqrt(3 * 3 * 3)  # fan_in counts the input channels of one group
    assert np.abs(layer.weight.numpy()).max() <= bound


def test_depthwise_conv2d_layer_on_a_kernel_as_large_as_the_input_matches_torch():
    ours = nn.Conv2d(3, 6, 4, groups=3, padding="same", padding_mode="circular")
    theirs = torch.nn.Conv2d(3, 6, 4, groups=3, padding="same", padding_mode="circular")
    compare_layer(ours, theirs, (2, 3, 4, 4))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_conv2d_layer_padding_modes_match_finite_differences(padding_mode):
    layer = nn.Conv2d(2, 2, 3, padding=(1, 2), groups=2, padding_mode=padding_mode).double()
    x = leaf((1, 2, 3, 4))
    assert bp.gradcheck(layer, x)
    assert bp.gradgradcheck(lambda x: layer(x).tanh(), x)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), r"Conv2d: in_channels \(3\) must be divisible by"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), r"Conv2d: out_channels \(3\) must be divisible"),
        (lambda: nn.Conv2d(4, 4, 3, groups=0), "Conv2d: groups must be a positive int, got 0"),
        (
            lambda: nn.Conv2d(2, 2, 3, padding_mode="mirror"),
            "Conv2d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
            "got 'mirror'",
        ),
        (
            lambda: nn.Conv2d(2, 2, 3, stride=2, padding="same"),
            r"Conv2d: padding='same' needs stride 1, got stride \(2, 2\)",
        ),
        (
            lambda: nn.Conv2d(2, 2, 3, padding="full"),
            "Conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got 'full'",
        ),
        (
            lambda: nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(bp.randn(1, 1, 3, 3)),
            "pad: reflect padding must be smaller than the axis it pads",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 3, 4, 4), bp.randn(3, 1, 2, 2), groups=2),
            r"conv2d: the input's 3 channels must be divisible by groups \(2\)",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 4, 4, 4), bp.randn(3, 2, 2, 2), groups=2),
            r"conv2d: weight must be \(out_channels, 2, kh, kw\) with out_channels divisible by "
            r"groups \(2\) for an input with 4 channels, got \(3, 2, 2, 2\)",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 4, 4, 4), bp.randn(4, 4, 2, 2), groups=2),
            r"conv2d: weight must be \(out_channels, 2, kh, kw\)",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 2, 4, 4), bp.randn(2, 2, 2, 2), groups=1.5),
            "conv2d: groups must be a positive int, got 1.5",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 2, 4, 4), bp.randn(2, 2, 2, 2), stride=2, padding="same"),
            "conv2d: padding='same' needs stride 1",
        ),
        (
            lambda: F.conv2d(bp.randn(1, 2, 4, 4), bp.randn(2, 2, 2, 2), padding="SAME"),
            "conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got 'SAME'",
        ),
    ],
)
def test_bad_conv_options_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- pooling: ceil_mode and count_include_pad -----------------------------------------------

POOL_GEOMETRIES = [
    {"kernel_size": 2, "stride": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (3, 2), "padding": (1, 0)},
    {"kernel_size": 2, "stride": 2, "padding": 1},
]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES, ids=str)
def test_max_pool2d_ceil_mode_matches_torch(geometry, ceil_mode, dtype):
    compare(lambda f, x: f.max_pool2d(x, **geometry, ceil_mode=ceil_mode), [(2, 3, 7, 5)], dtype)
    ours = nn.MaxPool2d(**geometry, ceil_mode=ceil_mode)
    compare_layer(ours, torch.nn.MaxPool2d(**geometry, ceil_mode=ceil_mode), (1, 2, 5, 6), dtype)


def test_max_pool2d_ceil_mode_with_dilation_matches_torch():
    compare(lambda f, x: f.max_pool2d(x, 2, 2, 1, 2, True), [(1, 2, 6, 7)])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES, ids=str)
def test_avg_pool2d_ceil_mode_and_count_include_pad_match_torch(
    geometry, ceil_mode, count_include_pad, dtype
):
    options = {**geometry, "ceil_mode": ceil_mode, "count_include_pad": count_include_pad}
    compare(lambda f, x: f.avg_pool2d(x, **options), [(2, 3, 7, 5)], dtype)
    compare_layer(nn.AvgPool2d(**options), torch.nn.AvgPool2d(**options), (1, 2, 5, 6), dtype)


def test_avg_pool2d_takes_its_arguments_in_torchs_order():
    ours, theirs = nn.AvgPool2d(3, 2, 1, True, False), torch.nn.AvgPool2d(3, 2, 1, True, False)
    assert (ours.ceil_mode, ours.count_include_pad) == (True, False)
    compare_layer(ours, theirs, (1, 1, 4, 6))
    compare(lambda f, x: f.avg_pool2d(x, 3, 2, 1, True, False), [(1, 1, 4, 6)])


def test_ceil_mode_drops_a_last_window_that_would_start_in_the_right_padding():
    # 3 cells padded by 1 on each side, windows of 2 every 2: a third window would start on
    # the right padding, so ceil_mode keeps 2 windows as PyTorch does, not ceil(3 / 2) + 1 = 3.
    x = bp.randn(1, 1, 3, 3)
    assert F.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 2, 2)
    assert F.avg_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 2, 2)
    compare(lambda f, x: f.avg_pool2d(x, 2, 2, 1, ceil_mode=True), [(1, 1, 3, 3)])


def test_ceil_mode_adds_a_partial_window_at_the_bottom_and_right():
    x = bp.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    np.testing.assert_array_equal(
        F.max_pool2d(x, 2, ceil_mode=True).numpy()[0, 0],
        [[6, 8, 9], [16, 18, 19], [21, 23, 24]],
    )
    np.testing.assert_array_equal(
        F.avg_pool2d(x, 2, ceil_mode=True).numpy()[0, 0],
        [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]],
    )


@pytest.mark.parametrize(
    ("shape", "options"),
    [
        ((2, 2, 1, 1), {"kernel_size": 1, "ceil_mode": True}),
        ((2, 2, 1, 1), {"kernel_size": 2, "stride": 1, "padding": 1, "ceil_mode": True}),
        ((2, 2, 4, 3), {"kernel_size": (4, 3), "ceil_mode": True}),
        ((2, 2, 4, 3), {"kernel_size": (4, 3), "stride": 3, "padding": 1, "ceil_mode": True}),
    ],
    ids=["1x1 input", "1x1 input padded", "kernel == input", "kernel == input, padded"],
)
def test_pools_on_edge_shapes_match_torch(shape, options):
    compare(lambda f, x: f.max_pool2d(x, **options), [shape])
    compare(lambda f, x: f.avg_pool2d(x, **options), [shape])
    compare(lambda f, x: f.avg_pool2d(x, **options, count_include_pad=False), [shape])


def test_pools_with_ceil_mode_read_non_contiguous_views():
    view = (2, 6, 7, 3)
    compare(lambda f, x: f.max_pool2d(x.permute(0, 3, 1, 2), 3, 2, 1, ceil_mode=True), [view])
    compare(
        lambda f, x: f.avg_pool2d(x[:, :, ::2], 2, ceil_mode=True, count_include_pad=False), [view]
    )


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_pools_with_ceil_mode_match_finite_differences(count_include_pad):
    x = leaf((1, 2, 5, 4))
    assert bp.gradcheck(lambda x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True), x)
    assert bp.gradgradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True).tanh(), x)
    options = {"ceil_mode": True, "count_include_pad": count_include_pad}
    assert bp.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, **options), x)
    assert bp.gradgradcheck(lambda x: F.avg_pool2d(x, 2, 2, 1, **options).tanh(), x)


def test_pool_reprs_show_ceil_mode():
    assert repr(nn.MaxPool2d(2, ceil_mode=True)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=True)"
    )


# -- adaptive average pooling ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "output_size"),
    [
        ((2, 3, 8, 6), (4, 3)),  # windows tile the image exactly
        ((2, 3, 7, 5), (3, 2)),  # windows overlap, as in PyTorch
        ((1, 2, 5, 7), 1),  # global average pooling
        ((1, 2, 3, 4), (5, 6)),  # larger than the input: cells repeat
        ((1, 2, 6, 5), (None, 2)),  # None keeps the height
        ((1, 1, 1, 1), (2, 3)),
    ],
    ids=str,
)
def test_adaptive_avg_pool2d_matches_torch(shape, output_size, dtype):
    compare(lambda f, x: f.adaptive_avg_pool2d(x, output_size), [shape], dtype)


def test_adaptive_avg_pool2d_layer_reads_a_non_contiguous_view():
    compare_layer(nn.AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8))
    compare(lambda f, x: f.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 3), [(2, 5, 7, 3)])


def test_adaptive_avg_pool2d_matches_finite_differences():
    x = leaf((1, 2, 5, 4))
    assert bp.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 3)), x)
    assert bp.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)).tanh(), x)


@pytest.mark.parametrize("output_size", [0, (2, 0), (1, 2, 3), "2", (1.5, 2), True])
def test_adaptive_avg_pool2d_output_size_must_be_positive_ints(output_size):
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size must be a positive"):
        F.adaptive_avg_pool2d(bp.randn(1, 1, 4, 4), output_size)


def test_adaptive_avg_pool2d_wants_an_image_or_a_batch_of_them():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected an \(N, C, H, W\) or"):
        nn.AdaptiveAvgPool2d(1)(bp.randn(4, 4))


# -- every device ----------------------------------------------------------------------------


def test_conv_and_pool_options_run_unchanged_on_every_device(device):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator."""

    def build():
        bp.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(2, 2, 2, padding="same", groups=2, padding_mode="reflect"),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.AvgPool2d(2, 1, 1, True, False),
            nn.AdaptiveAvgPool2d((2, 1)),
        ).double()

    x = randn((1, 2, 3, 3))
    results = []
    for where in ("cpu", device):
        model = build().to(where)
        out = model(bp.tensor(x, device=where))
        (out * out).sum().backward()
        results.append([out.numpy(), *(p.grad.numpy() for p in model.parameters())])
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)
