"""`GroupNorm`, `Conv1d` and `ConvTranspose2d`, and their functions `F.group_norm`, `F.conv1d`
and `F.conv_transpose2d`, compute what their PyTorch namesakes compute.

Each option is run in both frameworks on random inputs: the outputs, the input gradient and
the weight and bias gradients agree with PyTorch CPU (float64 to rtol 1e-10; float32 to about
1e-5 of PyTorch's float64 result on the same float32-rounded inputs). The layers take
PyTorch's arguments in PyTorch's order, hold weights of PyTorch's shapes under PyTorch's
state_dict keys, start from PyTorch's initialisation and print as PyTorch prints them. Each
function is also checked by finite differences to second order, on edge shapes and on
non-contiguous views, and every bad argument is a clear error. NumPy backend, except the last
test, which runs on every device.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import randn
from torch_oracle import compare, compare_layer

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def leaf(shape, seed=0) -> bp.Tensor:
    return bp.tensor(randn(shape, seed), requires_grad=True)


def assert_default_init(ours: nn.Module, theirs, fan_in: int) -> None:
    """PyTorch's default init of a conv layer: weight and bias uniform in +-1/sqrt(fan_in)
    (kaiming_uniform_ with a = sqrt(5) gives that bound); with thousands of weights and dozens
    of biases the largest comes close to it, in both layers."""
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        assert getattr(ours, name).shape == tuple(getattr(theirs, name).shape)
        for values in (getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy()):
            assert 0.9 * bound < np.abs(values).max() <= bound, (name, bound)


# -- group normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "num_groups"),
    [
        ((2, 6, 4, 5), 3),
        ((3, 4), 2),  # (N, C): each group is its channels only
        ((2, 6, 7), 6),  # one channel per group: instance normalisation
        ((2, 4, 3, 3), 1),  # one group: layer normalisation over (C, H, W)
        ((2, 4, 2, 3, 2), 2),  # (N, C, D, H, W)
        ((0, 4, 3, 3), 2),  # an empty batch
    ],
    ids=str,
)
def test_group_norm_matches_torch(shape, num_groups, dtype):
    channels = shape[1]
    shapes = [shape, (channels,), (channels,)]
    compare(lambda f, x, w, b: f.group_norm(x, num_groups, w, b), shapes, dtype)
    compare(lambda f, x: f.group_norm(x, num_groups, eps=0.1), [shape], dtype)


def test_group_norm_scales_without_shifting_when_only_a_weight_is_given():
    compare(lambda f, x, w: f.group_norm(x, 2, w), [(2, 4, 3), (4,)])


def test_group_norm_of_a_group_of_one_value_is_zero_as_in_torch():
    compare(lambda f, x: f.group_norm(x, 3), [(2, 3)])
    np.testing.assert_array_equal(F.group_norm(bp.randn(2, 3), 3).numpy(), np.zeros((2, 3)))


def test_group_norm_reads_non_contiguous_views():
    shapes = [(2, 5, 6, 4), (4,), (4,)]
    compare(lambda f, x, w, b: f.group_norm(x.permute(0, 3, 1, 2), 2, w, b), shapes)
    compare(lambda f, x: f.group_norm(x[:, ::2, 1:], 3), [(2, 12, 5)])


def test_group_norm_first_and_second_derivatives_match_finite_differences():
    x, w, b = leaf((2, 4, 3)), leaf((4,), 1), leaf((4,), 2)
    assert bp.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b).tanh(), x, w, b)


@pytest.mark.parametrize(
    "options",
    [{}, {"eps": 1e-3}, {"affine": False}, {"bias": False}],
    ids=str,
)
def test_group_norm_layer_matches_torch(options, dtype):
    ours, theirs = nn.GroupNorm(3, 6, **options), torch.nn.GroupNorm(3, 6, **options)
    compare_layer(ours, theirs, (2, 6, 4, 3), dtype)


def test_group_norm_layer_starts_as_torch_does_and_prints_like_it():
    layer = nn.GroupNorm(2, 4)
    assert list(layer.state_dict()) == list(torch.nn.GroupNorm(2, 4).state_dict())
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(4))
    for options in ({}, {"eps": 1e-3, "affine": False}, {"bias": False}):
        assert repr(nn.GroupNorm(2, 4, **options)) == repr(torch.nn.GroupNorm(2, 4, **options))
    assert nn.GroupNorm(2, 4, 1e-3, False).eps == 1e-3
    assert list(nn.GroupNorm(2, 4, affine=False).parameters()) == []


def test_group_norm_layer_is_the_same_in_training_and_evaluation():
    layer, x = nn.GroupNorm(2, 4).double(), bp.randn(2, 4, 5, dtype="float64")
    np.testing.assert_array_equal(layer(x).numpy(), layer.eval()(x).numpy())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: nn.GroupNorm(3, 4),
            r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)",
        ),
        (lambda: nn.GroupNorm(0, 4), "GroupNorm: num_groups must be a positive int, got 0"),
        (lambda: nn.GroupNorm(2, 4)(bp.randn(2, 6, 3)), r"expected input \(N, 4, \*\), got"),
        (lambda: nn.GroupNorm(2, 4)(bp.randn(4)), r"GroupNorm: expected input \(N, 4, \*\)"),
        (
            lambda: F.group_norm(bp.randn(2, 4, 3), 3),
            r"group_norm: the input's 4 channels must be divisible by num_groups \(3\)",
        ),
        (lambda: F.group_norm(bp.randn(4), 2), r"group_norm: expected an \(N, C, \*\) input"),
        (
            lambda: F.group_norm(bp.randn(2, 4), 2.0),
            "group_norm: num_groups must be a positive int, got 2.0",
        ),
        (
            lambda: F.group_norm(bp.randn(2, 4, 3), 2, bp.randn(3)),
            r"group_norm: weight must have shape \(4,\) for an input of \(2, 4, 3\), got \(3,\)",
        ),
        (
            lambda: F.group_norm(bp.randn(2, 4, 3), 2, None, bp.randn(4, 1)),
            r"group_norm: bias must have shape \(4,\)",
        ),
    ],
)
def test_bad_group_norm_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_group_norm_wants_a_float_input():
    with pytest.raises(TypeError, match="group_norm"):
        F.group_norm(bp.tensor(np.ones((2, 4), dtype=np.int64)), 2)


# -- 1-D convolution --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "out_channels", "options"),
    [
        (3, 4, {}),
        (3, 4, {"stride": 2, "padding": 1}),
        (4, 6, {"groups": 2, "dilation": 2, "padding": 2}),
        (4, 4, {"groups": 4, "stride": (3,), "padding": (1,), "dilation": (1,)}),
        (3, 2, {"padding": "valid", "stride": 2}),
        (3, 2, {"padding": "same"}),
        (4, 2, {"padding": "same", "dilation": 2, "groups": 2}),
    ],
    ids=str,
)
def test_conv1d_matches_torch(channels, out_channels, options, dtype):
    shapes = [(2, channels, 9), (out_channels, channels // options.get("groups", 1), 3)]
    compare(lambda f, x, w: f.conv1d(x, w, **options), shapes, dtype)
    shapes.append((out_channels,))
    compare(lambda f, x, w, b: f.conv1d(x, w, b, **options), shapes, dtype)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel", [1, 2, 4, 5])
def test_conv1d_same_padding_keeps_the_length_with_odd_and_even_kernels(kernel):
    compare(lambda f, x, w: f.conv1d(x, w, padding="same"), [(2, 2, 7), (3, 2, kernel)])
    assert F.conv1d(bp.randn(2, 2, 7), bp.randn(3, 2, kernel), padding="same").shape == (2, 3, 7)


@pytest.mark.parametrize(
    ("shapes", "options"),
    [
        ([(2, 3, 1), (4, 3, 1), (4,)], {}),
        ([(2, 2, 1), (4, 2, 3), (4,)], {"padding": "same"}),
        ([(2, 4, 5), (4, 2, 5), (4,)], {"groups": 2}),
        ([(1, 3, 4), (3, 1, 4), (3,)], {"groups": 3, "padding": "same"}),
        ([(1, 2, 2), (2, 2, 3), (2,)], {"padding": 1, "stride": 5}),
    ],
    ids=[
        "length-1 input",
        "length-1 input, same",
        "kernel == input",
        "depthwise, even kernel",
        "stride past the end",
    ],
)
def test_conv1d_on_edge_shapes_matches_torch(shapes, options):
    compare(lambda f, x, w, b: f.conv1d(x, w, b, **options), shapes)


def test_conv1d_on_an_empty_batch_gives_an_empty_result_as_torch_does():
    compare(lambda f, x, w, b: f.conv1d(x, w, b, padding=1), [(0, 2, 5), (3, 2, 3), (3,)])
    compare(lambda f, x, w: f.conv1d(x, w, groups=2), [(0, 4, 5), (6, 2, 2)])


def test_conv_weights_and_biases_that_are_not_tensors_are_type_errors():
    with pytest.raises(TypeError, match="conv1d: weight must be a Tensor, got list"):
        F.conv1d(bp.randn(1, 2, 4), [[[1.0]]])
    with pytest.raises(TypeError, match="conv2d: bias must be a Tensor, got list"):
        F.conv2d(bp.randn(1, 1, 3, 3), bp.randn(1, 1, 2, 2), [0.0])
    with pytest.raises(TypeError, match="conv_transpose2d: weight must be a Tensor, got float"):
        F.conv_transpose2d(bp.randn(1, 1, 3, 3), 1.0)


def test_conv1d_reads_non_contiguous_views():
    shapes = [(2, 7, 4), (6, 2, 3), (6,)]
    compare(lambda f, x, w, b: f.conv1d(x.permute(0, 2, 1), w, b, groups=2, padding=1), shapes)
    compare(lambda f, x, w: f.conv1d(x[:, 1:, ::2], w, padding="same"), [(2, 3, 11), (2, 2, 2)])


@pytest.mark.parametrize(
    "options", [{"stride": 2, "padding": 1}, {"groups": 2, "padding": "same", "dilation": 2}]
)
def test_conv1d_first_and_second_derivatives_match_finite_differences(options):
    x, w, b = leaf((1, 4, 5)), leaf((4, 4 // options.get("groups", 1), 3), 1), leaf((4,), 2)
    assert bp.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **options), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.conv1d(x, w, b, **options).tanh(), x, w, b)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "options",
    [
        {"padding": 1},
        {"padding": 2, "stride": 2, "groups": 2},
        {"padding": "same", "dilation": 2},
        {"padding": "same", "groups": 4, "bias": False},
        {"padding": "valid", "stride": 3},
    ],
    ids=str,
)
def test_conv1d_layer_matches_torch(padding_mode, options, dtype):
    ours = nn.Conv1d(4, 8, 4, padding_mode=padding_mode, **options)
    theirs = torch.nn.Conv1d(4, 8, 4, padding_mode=padding_mode, **options)
    compare_layer(ours, theirs, (2, 4, 7), dtype)


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_conv1d_layer_padding_modes_match_finite_differences(padding_mode):
    layer = nn.Conv1d(2, 2, 3, padding=2, groups=2, padding_mode=padding_mode).double()
    x = leaf((1, 2, 4))
    assert bp.gradcheck(layer, x)
    assert bp.gradgradcheck(lambda x: layer(x).tanh(), x)


def test_conv1d_layer_takes_torchs_arguments_and_prints_like_it():
    ours = nn.Conv1d(6, 4, 3, 1, "same", 2, 2, False, "reflect")
    theirs = torch.nn.Conv1d(6, 4, 3, 1, "same", 2, 2, False, "reflect")
    assert ours.weight.shape == tuple(theirs.weight.shape) == (4, 3, 3) and ours.bias is None
    assert repr(ours) == repr(theirs)
    for args in ((2, 4, 3), (2, 4, (5,), (2,), (1,))):
        assert repr(nn.Conv1d(*args)) == repr(torch.nn.Conv1d(*args))
    assert list(nn.Conv1d(2, 4, 3).state_dict()) == list(torch.nn.Conv1d(2, 4, 3).state_dict())


def test_conv1d_layer_initialises_as_torch_does():
    bp.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = nn.Conv1d(8, 64, 5, groups=2), torch.nn.Conv1d(8, 64, 5, groups=2)
    assert_default_init(ours, theirs, fan_in=4 * 5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nn.Conv1d(3, 4, 3, groups=2), r"Conv1d: in_channels \(3\) must be divisible by"),
        (lambda: nn.Conv1d(4, 3, 3, groups=2), r"Conv1d: out_channels \(3\) must be divisible"),
        (
            lambda: nn.Conv1d(4, 4, 0),
            "Conv1d: kernel_size must be an int or a sequence of one int >= 1, got 0",
        ),
        (lambda: nn.Conv1d(4, 4, (3, 3)), r"Conv1d: kernel_size .* got \(3, 3\)"),
        (lambda: nn.Conv1d(4, 4, 3, padding=-1), "Conv1d: padding must be an int or a sequence"),
        (
            lambda: nn.Conv1d(2, 2, 3, padding_mode="mirror"),
            "Conv1d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
            "got 'mirror'",
        ),
        (
            lambda: nn.Conv1d(2, 2, 3, stride=2, padding="same"),
            "Conv1d: padding='same' needs stride 1, got stride 2",
        ),
        (
            lambda: nn.Conv1d(2, 2, 3, padding="full"),
            "Conv1d: padding must be an int, 'same' or 'valid', got 'full'",
        ),
        (
            lambda: nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect")(bp.randn(1, 1, 3)),
            "pad: reflect padding must be smaller than the axis it pads",
        ),
        (
            lambda: nn.Conv1d(2, 2, 3)(bp.randn(1, 2, 3, 3)),
            r"conv1d: expected an \(N, C, L\) input, got \(1, 2, 3, 3\)",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 3, 4), bp.randn(3, 1, 2), groups=2),
            r"conv1d: the input's 3 channels must be divisible by groups \(2\)",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 4, 4), bp.randn(3, 2, 2), groups=2),
            r"conv1d: weight must be \(out_channels, 2, k\) with out_channels divisible by "
            r"groups \(2\) for an input with 4 channels, got \(3, 2, 2\)",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 2, 4), bp.randn(3, 2, 2, 2)),
            r"conv1d: weight must be \(out_channels, 2, k\)",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 2, 4), bp.randn(3, 2, 2), bp.randn(2)),
            r"conv1d: bias must have shape \(3,\), got \(2,\)",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 2, 4), bp.randn(2, 2, 2), groups=0),
            "conv1d: groups must be a positive int, got 0",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 2, 4), bp.randn(2, 2, 2), stride=0),
            "conv1d: stride must be an int or a sequence of one int >= 1, got 0",
        ),
        (
            lambda: F.conv1d(bp.randn(1, 2, 4), bp.randn(2, 2, 3), dilation=2),
            r"conv1d: an input of length 4 padded by \(0, 0\) is shorter than the kernel 3 "
            "dilated by 2",
        ),
    ],
)
def test_bad_conv1d_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- 2-D transposed convolution ---------------------------------------------------------------

TRANSPOSED = [
    (4, 3, {}),
    (4, 3, {"stride": 2}),
    (4, 3, {"stride": 2, "padding": 1, "output_padding": 1}),
    (4, 6, {"stride": (2, 3), "padding": (1, 2), "output_padding": (1, 0), "groups": 2}),
    (4, 6, {"dilation": (1, 2), "groups": 2, "padding": (0, 2)}),
    (2, 3, {"dilation": 2, "output_padding": 1}),  # output_padding below dilation, stride 1
    (4, 4, {"groups": 4, "stride": 3, "padding": 2, "output_padding": 2}),
]


@pytest.mark.parametrize(("channels", "out_channels", "options"), TRANSPOSED, ids=str)
def test_conv_transpose2d_matches_torch(channels, out_channels, options, dtype):
    groups = options.get("groups", 1)
    shapes = [(2, channels, 3, 4), (channels, out_channels // groups, 3, 2)]
    compare(lambda f, x, w: f.conv_transpose2d(x, w, **options), shapes, dtype)
    shapes.append((out_channels,))
    compare(lambda f, x, w, b: f.conv_transpose2d(x, w, b, **options), shapes, dtype)


def test_conv_transpose2d_takes_its_arguments_in_torchs_order():
    shapes = [(1, 4, 3, 3), (4, 1, 3, 3), (2,)]
    compare(lambda f, x, w, b: f.conv_transpose2d(x, w, b, 2, 1, 1, 2, 2), shapes)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for every x and y of matching shapes
    x, w = bp.randn(2, 4, 7, 6, dtype="float64"), bp.randn(6, 2, 3, 2, dtype="float64")
    options = {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}
    y = bp.randn(*F.conv2d(x, w, **options).shape, dtype="float64")
    back = F.conv_transpose2d(y, w, output_padding=(0, 0), **options)
    assert back.shape == x.shape
    np.testing.assert_allclose(
        (F.conv2d(x, w, **options) * y).sum().item(), (x * back).sum().item(), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("shapes", "options"),
    [
        ([(2, 3, 1, 1), (3, 2, 1, 1), (2,)], {}),
        ([(2, 2, 1, 1), (2, 3, 3, 2), (3,)], {"stride": 2, "output_padding": 1}),
        ([(1, 2, 2, 2), (2, 2, 3, 3), (2,)], {"padding": 1}),  # 4x4 cropped to 2x2
        ([(1, 2, 2, 3), (2, 1, 1, 1), (1,)], {"stride": 3, "output_padding": 2}),
    ],
    ids=["1x1 input", "1x1 input, output_padding", "padding crops most", "gaps between pixels"],
)
def test_conv_transpose2d_on_edge_shapes_matches_torch(shapes, options):
    compare(lambda f, x, w, b: f.conv_transpose2d(x, w, b, **options), shapes)


def test_conv_transpose2d_reads_non_contiguous_views():
    shapes = [(2, 5, 3, 4), (4, 2, 2, 3), (4,)]
    compare(lambda f, x, w, b: f.conv_transpose2d(x.permute(0, 3, 1, 2), w, b, 2, groups=2), shapes)
    shapes = [(2, 4, 7, 5), (2, 3, 3, 3)]
    compare(lambda f, x, w: f.conv_transpose2d(x[:, 1:3, ::2, 1:], w.permute(0, 1, 3, 2)), shapes)


@pytest.mark.parametrize(
    "options",
    [
        {"stride": 2, "padding": 1, "output_padding": 1},
        {"groups": 2, "dilation": 2, "output_padding": (1, 0)},
    ],
    ids=str,
)
def test_conv_transpose2d_first_and_second_derivatives_match_finite_differences(options):
    x, w, b = leaf((1, 4, 2, 3)), leaf((4, 2 // options.get("groups", 1), 2, 3), 1), leaf((2,), 2)
    assert bp.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **options), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **options).tanh(), x, w, b)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"stride": 2, "padding": 1, "output_padding": 1},
        {"stride": (2, 3), "padding": (0, 1), "output_padding": (1, 2), "groups": 2},
        {"dilation": 2, "groups": 4, "bias": False},
    ],
    ids=str,
)
def test_conv_transpose2d_layer_matches_torch(options, dtype):
    ours = nn.ConvTranspose2d(4, 8, (3, 2), **options)
    theirs = torch.nn.ConvTranspose2d(4, 8, (3, 2), **options)
    compare_layer(ours, theirs, (2, 4, 3, 5), dtype)


@pytest.mark.parametrize("output_size", [(9, 10), (10, 12), [2, 8, 10, 11]], ids=str)
def test_conv_transpose2d_layer_output_size_picks_the_output_padding_as_torch_does(output_size):
    ours = nn.ConvTranspose2d(4, 8, 3, stride=(2, 3), padding=1, groups=2)
    theirs = torch.nn.ConvTranspose2d(4, 8, 3, stride=(2, 3), padding=1, groups=2)
    compare_layer(ours, theirs, (2, 4, 5, 4), output_size=output_size)


def test_conv_transpose2d_layer_takes_torchs_arguments_and_prints_like_it():
    ours = nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, False, (1, 2))
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, False, (1, 2))
    assert ours.weight.shape == tuple(theirs.weight.shape) == (4, 3, 3, 3) and ours.bias is None
    assert repr(ours) == repr(theirs)
    assert repr(nn.ConvTranspose2d(4, 6, (2, 3))) == repr(torch.nn.ConvTranspose2d(4, 6, (2, 3)))
    keys = list(torch.nn.ConvTranspose2d(2, 4, 3).state_dict())
    assert list(nn.ConvTranspose2d(2, 4, 3).state_dict()) == keys


def test_conv_transpose2d_layer_initialises_as_torch_does():
    # PyTorch counts fan_in from the weight's second axis: out_channels / groups * kh * kw
    bp.manual_seed(0)
    torch.manual_seed(0)
    ours = nn.ConvTranspose2d(8, 64, 3, groups=2)
    assert_default_init(ours, torch.nn.ConvTranspose2d(8, 64, 3, groups=2), fan_in=32 * 3 * 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
            "ConvTranspose2d: padding_mode must be 'zeros', got 'reflect'",
        ),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, groups=2),
            r"ConvTranspose2d: in_channels \(3\) must be divisible by groups \(2\)",
        ),
        (
            lambda: nn.ConvTranspose2d(4, 3, 3, groups=2),
            r"ConvTranspose2d: out_channels \(3\) must be divisible by groups \(2\)",
        ),
        (
            lambda: nn.ConvTranspose2d(2, 2, 3, output_padding=-1),
            "ConvTranspose2d: output_padding must be an int or a pair of ints >= 0, got -1",
        ),
        (
            lambda: nn.ConvTranspose2d(2, 2, 3, output_padding=1)(bp.randn(1, 2, 3, 3)),
            r"conv_transpose2d: output_padding \(1, 1\) must be smaller than either stride "
            r"\(1, 1\) or dilation \(1, 1\) along each axis",
        ),
        (
            lambda: nn.ConvTranspose2d(2, 2, 3, stride=2)(bp.randn(1, 2, 3, 3), (8, 9)),
            r"ConvTranspose2d: requested an output size of \(8, 9\), but valid sizes range from "
            r"\(7, 7\) to \(8, 8\) \(for an input of \(3, 3\)\)",
        ),
        (
            lambda: nn.ConvTranspose2d(2, 2, 3)(bp.randn(1, 2, 3, 3), (5, 5, 5)),
            r"ConvTranspose2d: output_size must be \(H, W\) or \(N, C, H, W\)",
        ),
        (
            lambda: F.conv_transpose2d(bp.randn(1, 2, 3, 3), bp.randn(3, 1, 3, 3)),
            r"conv_transpose2d: weight must be \(2, out_channels / groups, kh, kw\) for an input "
            r"with 2 channels, got \(3, 1, 3, 3\)",
        ),
        (
            lambda: F.conv_transpose2d(bp.randn(1, 2, 3, 3), bp.randn(2, 2, 3)),
            r"conv_transpose2d: weight must be \(2, out_channels / groups, kh, kw\)",
        ),
        (
            lambda: F.conv_transpose2d(
                bp.randn(1, 4, 3, 3), bp.randn(4, 1, 3, 3), bp.randn(1), 1, groups=2
            ),
            r"conv_transpose2d: bias must have shape \(2,\), got \(1,\)",
        ),
        (
            lambda: F.conv_transpose2d(bp.randn(1, 3, 3, 3), bp.randn(3, 1, 3, 3), groups=2),
            r"conv_transpose2d: the input's 3 channels must be divisible by groups \(2\)",
        ),
        (
            lambda: F.conv_transpose2d(bp.randn(2, 3, 3), bp.randn(2, 1, 3, 3)),
            r"conv_transpose2d: expected an \(N, C, H, W\) input, got \(2, 3, 3\)",
        ),
        (
            lambda: F.conv_transpose2d(bp.randn(1, 2, 1, 1), bp.randn(2, 1, 1, 1), padding=1),
            r"conv_transpose2d: an input of height and width \(1, 1\) would give an empty output "
            r"\(-1, -1\): padding \(1, 1\) crops more than the \(1, 1\) it makes",
        ),
    ],
)
def test_bad_conv_transpose2d_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- every device -----------------------------------------------------------------------------


def test_new_layers_run_unchanged_on_every_device(device):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator."""

    def build():
        bp.manual_seed(0)
        return nn.Sequential(
            nn.ConvTranspose2d(2, 2, 2, stride=2, padding=1, output_padding=1, groups=2),
            nn.GroupNorm(1, 2),
            nn.Flatten(2),
            nn.Conv1d(2, 2, 2, padding="same", padding_mode="circular"),
        ).double()

    x = randn((1, 2, 2, 1))
    results = []
    for where in ("cpu", device):
        model = build().to(where)
        out = model(bp.tensor(x, device=where))
        (out * out).sum().backward()
        results.append([out.numpy(), *(p.grad.numpy() for p in model.parameters())])
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)
