"""The extra activations (Hardtanh, ReLU6, Hardsigmoid, Hardswish, Mish, SELU, CELU, Softsign,
Tanhshrink, LogSigmoid, PReLU, GLU), channel dropout (Dropout1d, Dropout2d, AlphaDropout),
Unflatten, ParameterList and ParameterDict, PixelShuffle and PixelUnshuffle, and Upsample with
`F.interpolate`, against their PyTorch namesakes.

Each function's values and input gradients agree with PyTorch CPU (float64 to rtol 1e-10;
float32 to about 1e-5 of PyTorch's float64 result on the same float32-rounded inputs),
including the gradients at the kinks, and are checked by finite differences to second order.
The layers take PyTorch's arguments, hold PyTorch's parameter names and print as PyTorch
prints them. Dropout masks are drawn as `Dropout` draws them. NumPy backend, except the last
test, which runs on every device.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import assert_close, randn
from torch_oracle import compare, compare_layer

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def leaf(values, dtype="float64") -> bp.Tensor:
    return bp.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def values_and_gradients(fn, x: np.ndarray):
    """`fn(F, input)` and the gradient of its sum, with our F and with PyTorch's."""
    ours, theirs = bp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = fn(F, ours), fn(TF, theirs)
    out.sum().backward()
    expected.sum().backward()
    return (out.numpy(), ours.grad.numpy()), (expected.detach().numpy(), theirs.grad.numpy())


# -- activations ------------------------------------------------------------------------------

# Standard normal inputs, stretched where the interesting part of the function lies wider.
ACTIVATIONS = {
    "hardtanh": lambda f, x: f.hardtanh(x),
    "hardtanh(-0.5, 0.7)": lambda f, x: f.hardtanh(x, -0.5, 0.7),
    "relu6": lambda f, x: f.relu6(4 * x),
    "hardswish": lambda f, x: f.hardswish(4 * x),
    "mish": lambda f, x: f.mish(4 * x),
    "selu": lambda f, x: f.selu(x),
    "celu": lambda f, x: f.celu(x),
    # PyTorch's celu backward rounds alpha to float32, so an alpha exact in float32
    "celu(0.375)": lambda f, x: f.celu(x, 0.375),
    "softsign": lambda f, x: f.softsign(x),
    "tanhshrink": lambda f, x: f.tanhshrink(x),
    "logsigmoid": lambda f, x: f.logsigmoid(8 * x),
    "glu": lambda f, x: f.glu(x),
    "glu(dim=0)": lambda f, x: f.glu(x, 0),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_match_torch(name, dtype):
    compare(ACTIVATIONS[name], [(6, 8)], dtype)


def test_hardsigmoid_matches_torch_whose_gradient_is_a_float32_sixth():
    """PyTorch's hardsigmoid backward multiplies by the float32 constant 1/6 even in float64
    (0.16666667163...); ours is the exact derivative, 1/6, so gradients agree to 3e-8."""
    compare(lambda f, x: f.hardsigmoid(4 * x), [(6, 8)], "float32")
    (out, grad), (expected, expected_grad) = values_and_gradients(
        lambda f, x: f.hardsigmoid(x), randn((6, 8), 1) * 4
    )
    assert_close(out, expected)
    assert_close(grad, expected_grad, rtol=1e-7)
    assert set(np.unique(grad)) == {0.0, 1 / 6}


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_matches_torch_with_one_slope_or_one_per_channel(channels, dtype):
    compare(lambda f, x, w: f.prelu(x, w), [(2, 3, 4, 2), (channels,)], dtype)
    compare(lambda f, x, w: f.prelu(x, w), [(5, 3), (channels,)], dtype)


def test_prelu_on_a_one_dimensional_input_takes_a_single_slope():
    compare(lambda f, x, w: f.prelu(x, w), [(7,), (1,)])


KINKS = {
    "hardtanh": (lambda f, x: f.hardtanh(x), [-1.0, 1.0, -1.5, 0.0, 1.5]),
    "hardtanh(-0.5, 2)": (lambda f, x: f.hardtanh(x, -0.5, 2.0), [-0.5, 2.0, 0.0]),
    "relu6": (lambda f, x: f.relu6(x), [0.0, 6.0, -1.0, 3.0, 7.0]),
    "hardswish": (lambda f, x: f.hardswish(x), [-3.0, 3.0, -4.0, 0.0, 4.0]),
    "selu": (lambda f, x: f.selu(x), [0.0, -1.0, 1.0]),
    "celu": (lambda f, x: f.celu(x, 0.5), [0.0, -1.0, 1.0]),
    "softsign": (lambda f, x: f.softsign(x), [0.0, -2.0, 2.0]),
    "logsigmoid": (lambda f, x: f.logsigmoid(x), [0.0, -1.0, 1.0]),
    "mish": (lambda f, x: f.mish(x), [0.0, -1.0, 1.0]),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_gradients_at_the_kinks_are_torchs(name):
    """Where a piecewise function meets itself (hardtanh at exactly min_val and max_val,
    relu6 at 0 and 6, hardswish at -3 and 3, ...) PyTorch picks a one-sided gradient, or 0;
    ours is the same value."""
    fn, points = KINKS[name]
    (out, grad), (expected, expected_grad) = values_and_gradients(fn, np.asarray(points))
    assert_close(out, expected)
    assert_close(grad, expected_grad)


def test_prelu_gradients_at_zero_are_torchs():
    """At x = 0 the input gradient is the slope and the slope's gradient is 0."""
    x, w = leaf([0.0, -1.0, 2.0]), leaf([0.25])
    F.prelu(x, w).sum().backward()
    theirs = torch.tensor([0.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    slope = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)
    TF.prelu(theirs, slope).sum().backward()
    assert_close(x.grad.numpy(), theirs.grad.numpy())
    assert_close(w.grad.numpy(), slope.grad.numpy())


def test_hardtanh_passes_no_gradient_at_its_limits_where_clamp_does():
    x = leaf([-1.0, 1.0, 0.5])
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    y = leaf([-1.0, 1.0, 0.5])
    y.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_logsigmoid_is_exact_and_finite_far_from_zero(dtype_name):
    x = np.array([-1000.0, -60.0, -20.5, -19.5, 19.5, 20.5, 60.0, 1000.0], dtype=dtype_name)
    (out, grad), (expected, expected_grad) = values_and_gradients(lambda f, t: f.logsigmoid(t), x)
    assert np.isfinite(out).all() and np.isfinite(grad).all()
    assert_close(out, expected, rtol=1e-10 if dtype_name == "float64" else 2e-6)
    assert_close(grad, expected_grad, rtol=1e-10 if dtype_name == "float64" else 2e-6)


SMOOTH_POINTS = [-4.1, -2.2, -0.7, -0.3, 0.4, 0.9, 1.6, 3.7]


@pytest.mark.parametrize(
    "fn",
    [
        F.hardtanh,
        F.relu6,
        F.hardsigmoid,
        F.hardswish,
        F.mish,
        F.selu,
        lambda x: F.celu(x, 0.6),
        F.softsign,
        F.tanhshrink,
        F.logsigmoid,
        lambda x: F.glu(x.reshape(2, 4), 1),
    ],
    ids=[
        "hardtanh",
        "relu6",
        "hardsigmoid",
        "hardswish",
        "mish",
        "selu",
        "celu",
        "softsign",
        "tanhshrink",
        "logsigmoid",
        "glu",
    ],
)
def test_activation_first_and_second_derivatives_match_finite_differences(fn):
    x = leaf(SMOOTH_POINTS)
    assert bp.gradcheck(fn, x)
    assert bp.gradgradcheck(fn, x)


def test_prelu_derivatives_in_input_and_slope_match_finite_differences():
    x, w = leaf(np.array(SMOOTH_POINTS).reshape(2, 2, 2)), leaf([0.3, -0.2])
    assert bp.gradcheck(F.prelu, x, w)
    assert bp.gradgradcheck(F.prelu, x, w)


@pytest.mark.parametrize("alpha", [-0.5, -2.0])
def test_celu_takes_a_negative_alpha_as_torch_does(alpha, dtype):
    compare(lambda f, x: f.celu(x, alpha), [(3, 4)], dtype)
    compare_layer(nn.CELU(alpha), torch.nn.CELU(alpha), (2, 5), dtype)
    x = leaf(SMOOTH_POINTS)
    assert bp.gradcheck(lambda x: F.celu(x, alpha), x)
    assert bp.gradgradcheck(lambda x: F.celu(x, alpha), x)


def test_activations_read_non_contiguous_views():
    compare(lambda f, x: f.mish(x.permute(2, 0, 1)), [(3, 4, 5)])
    compare(lambda f, x: f.hardswish(4 * x[:, ::2]), [(3, 8)])
    compare(lambda f, x: f.glu(x.transpose(0, 1), 0), [(3, 4)])
    compare(lambda f, x, w: f.prelu(x.permute(0, 2, 1), w), [(2, 5, 3), (3,)])


def test_activations_take_empty_batches_and_size_one_axes():
    compare(lambda f, x: f.logsigmoid(x), [(0, 3)])
    compare(lambda f, x: f.hardtanh(x), [(1, 1)])
    compare(lambda f, x: f.glu(x, 1), [(0, 2)])
    compare(lambda f, x: f.glu(x, 1), [(1, 2, 1)])
    compare(lambda f, x, w: f.prelu(x, w), [(0, 3), (3,)])


LAYERS = [
    (lambda m: m.Hardtanh(-2.0, 0.5), (3, 4)),
    (lambda m: m.ReLU6(), (3, 4)),
    (lambda m: m.Hardsigmoid(), (3, 4)),
    (lambda m: m.Hardswish(), (3, 4)),
    (lambda m: m.Mish(), (3, 4)),
    (lambda m: m.SELU(), (3, 4)),
    (lambda m: m.CELU(0.75), (3, 4)),
    (lambda m: m.Softsign(), (3, 4)),
    (lambda m: m.Tanhshrink(), (3, 4)),
    (lambda m: m.LogSigmoid(), (3, 4)),
    (lambda m: m.GLU(), (3, 4)),
    (lambda m: m.GLU(1), (3, 4, 5)),
    (lambda m: m.PReLU(), (2, 3, 4)),
    (lambda m: m.PReLU(3), (2, 3, 4)),
]


@pytest.mark.parametrize(("build", "shape"), LAYERS)
def test_activation_layers_match_torch_and_print_like_it(build, shape):
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    if isinstance(ours, nn.Hardsigmoid):
        compare_layer(ours, theirs, shape, "float32")
    else:
        compare_layer(ours, theirs, shape)


def test_prelu_layer_holds_torchs_weight_and_loads_its_state_dict():
    ours, theirs = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    np.testing.assert_array_equal(ours.weight.numpy(), np.full(3, 0.1, dtype=np.float32))
    with torch.no_grad():
        theirs.weight.uniform_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
    ours.reset_parameters()
    np.testing.assert_array_equal(ours.weight.numpy(), np.full(3, 0.1, dtype=np.float32))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.hardtanh(bp.randn(2), 1.0, -1.0), ValueError, "hardtanh: min_val must not"),
        (lambda: F.celu(bp.randn(2), 0.0), ValueError, "celu: alpha must not be 0"),
        (lambda: F.mish(bp.tensor([1, 2])), TypeError, "mish: expected a float32 or float64"),
        (lambda: F.selu([1.0]), TypeError, "selu: expected a Tensor, got list"),
        (lambda: F.hardswish([1.0]), TypeError, "hardswish: expected a Tensor, got list"),
        (lambda: F.relu6(bp.tensor([1])), TypeError, "relu6: expected a float32 or float64"),
        (
            lambda: F.prelu(bp.randn(2, 3), bp.randn(3, dtype="float64")),
            TypeError,
            "prelu: weight dtype float64 differs from input dtype float32",
        ),
        (lambda: F.glu(bp.randn(2, 3), 1), ValueError, "glu: the halved axis must have an even"),
        (lambda: F.glu(bp.randn(2, 4), 2), IndexError, "glu: axis 2 is out of range"),
        (lambda: F.glu(bp.tensor(1.0)), ValueError, "glu: a 0-d input has no axis to halve"),
        (
            lambda: F.prelu(bp.randn(2, 3), bp.randn(2)),
            ValueError,
            r"prelu: weight has 2 values but the input \(2, 3\) has 3 channels",
        ),
        (lambda: F.prelu(bp.randn(3), bp.randn(3)), ValueError, "has 1 channels"),
        (lambda: F.prelu(bp.randn(2, 3), bp.randn(3, 1)), ValueError, "0-d or 1-D Tensor"),
        (lambda: nn.Hardtanh(1.0, 1.0), ValueError, r"Hardtanh: max_val \(1.0\) must be"),
        (lambda: nn.CELU(0), ValueError, "CELU: alpha must not be 0"),
        (lambda: nn.PReLU(0), ValueError, "PReLU: num_parameters must be a positive int"),
    ],
)
def test_bad_activation_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- channel dropout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "shape", "channel_axes"),
    [
        (F.dropout1d, (6, 10, 5), 2),
        (F.dropout1d, (10, 5), 1),  # unbatched (C, L)
        (F.dropout2d, (6, 10, 3, 4), 2),
        (F.dropout2d, (6, 10, 5), 2),  # (N, C, L), as PyTorch takes a 3-D input
    ],
)
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(fn, shape, channel_axes):
    x = bp.tensor(np.ones(shape), requires_grad=True)
    out = fn(x, 0.25, generator=np.random.default_rng(1))
    out.backward(bp.ones(*shape, dtype="float64"))
    values = out.numpy()
    channels = values.reshape(shape[:channel_axes] + (-1,))
    assert set(np.unique(values)) == {0.0, 1 / 0.75}
    assert (channels == channels[..., :1]).all(), "a channel is kept or dropped whole"
    assert 0 < (channels[..., 0] == 0).sum() < channels[..., 0].size
    np.testing.assert_array_equal(x.grad.numpy(), values)


@pytest.mark.parametrize(("fn", "shape"), [(F.dropout1d, (4, 6, 3)), (F.dropout2d, (4, 6, 2, 3))])
def test_channel_masks_are_drawn_as_dropout_draws_its_mask(fn, shape):
    """One uniform number per channel from the same generator, kept where it is >= p: the
    channel mask is the mask `F.dropout` draws for an (N, C) tensor after the same seed, and a
    `generator` seeded alike gives it too."""
    bp.manual_seed(11)
    elementwise = F.dropout(bp.ones(4, 6, dtype="float64"), 0.4)
    bp.manual_seed(11)
    channelwise = fn(bp.ones(*shape, dtype="float64"), 0.4)
    seeded = fn(bp.ones(*shape, dtype="float64"), 0.4, generator=np.random.default_rng(11))
    for result in (channelwise, seeded):
        for position in np.ndindex(*shape[2:]):
            np.testing.assert_array_equal(result.numpy()[(..., *position)], elementwise.numpy())


def test_channel_dropout_is_the_identity_in_evaluation_and_at_p_zero():
    x = bp.randn(2, 3, 4)
    for out in (
        F.dropout1d(x, 0.5, training=False),
        F.dropout2d(x, 0.0),
        nn.Dropout1d(0.7).eval()(x),
        nn.Dropout2d().eval()(x),
        nn.AlphaDropout(0.3).eval()(x),
    ):
        np.testing.assert_array_equal(out.numpy(), x.numpy())


def test_channel_dropout_at_p_one_zeroes_everything_and_passes_no_gradient():
    x = bp.tensor(np.ones((2, 3, 4)), requires_grad=True)
    F.dropout1d(x, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3, 4)))
    np.testing.assert_array_equal(F.dropout2d(bp.ones(1, 2, 2, 2), 1.0).numpy(), 0.0)


def test_dropout_layers_take_torchs_argument_and_drop_in_training():
    for ours, theirs in (
        (nn.Dropout1d(0.3), torch.nn.Dropout1d(0.3)),
        (nn.Dropout2d(), torch.nn.Dropout2d()),
        (nn.AlphaDropout(0.2), torch.nn.AlphaDropout(0.2)),
    ):
        assert ours.p == theirs.p
        assert repr(ours) == repr(theirs)
    bp.manual_seed(3)
    out = nn.Dropout2d(0.5)(bp.ones(8, 8, 2, 2))
    assert set(np.unique(out.numpy())) == {0.0, 2.0}


def test_channel_and_alpha_dropout_are_not_plain_dropout_as_in_torch():
    for layer in (nn.Dropout1d(), nn.Dropout2d(), nn.AlphaDropout()):
        assert not isinstance(layer, nn.Dropout)
    assert not isinstance(nn.Dropout1d(), nn.Dropout2d)
    assert not isinstance(torch.nn.Dropout1d(), torch.nn.Dropout)


def test_dropout_takes_tensors_only():
    with pytest.raises(TypeError, match="dropout: expected a Tensor, got list"):
        F.dropout([1.0, 2.0])


def test_alpha_dropout_uses_torchs_constants_and_keeps_a_normal_inputs_statistics():
    """Dropped elements all take one value and kept ones an affine map of the input; both,
    read off PyTorch's output, are ours. Over many samples the mean stays near 0 and the
    variance near 1."""
    p, x = 0.3, randn((100_000,), 5)
    ours = F.alpha_dropout(bp.tensor(x), p, training=True).numpy()
    theirs = TF.alpha_dropout(torch.tensor(x), p, training=True).numpy()
    fits = []
    for out in (ours, theirs):
        values, counts = np.unique(out, return_counts=True)
        dropped = values[counts.argmax()]
        kept = out != dropped
        assert 0.29 < 1 - kept.mean() < 0.31
        fits.append([dropped, *np.polyfit(x[kept], out[kept], 1)])
        assert abs(out.mean()) < 0.02 and abs(out.var() - 1) < 0.03
    np.testing.assert_allclose(fits[0], fits[1], rtol=1e-10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.dropout1d(bp.randn(2, 3, 4, 5)), r"dropout1d: expected an \(N, C, L\) or"),
        (lambda: F.dropout1d(bp.randn(4)), r"unbatched \(C, L\) input, got \(4,\)"),
        (lambda: F.dropout2d(bp.randn(2, 3)), r"dropout2d: expected an \(N, C, H, W\) or"),
        (lambda: F.dropout2d(bp.randn(2, 3, 1, 1), 1.5), r"dropout2d: p must be in \[0, 1\]"),
        (lambda: F.alpha_dropout(bp.randn(3), -0.1), "alpha_dropout: p must be in"),
        (lambda: nn.Dropout1d(2.0), r"Dropout1d: p must be in \[0, 1\], got 2.0"),
    ],
)
def test_bad_dropout_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- Unflatten and the parameter containers ---------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "sizes", "shape"),
    [(1, (2, 5), (3, 10)), (-1, [2, -1], (3, 4, 6)), (0, (1, 3, 1), (3, 2)), (1, (2, 4), (0, 8))],
)
def test_unflatten_matches_torch_and_prints_like_it(dim, sizes, shape):
    ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(ours) == repr(theirs)
    compare_layer(ours, theirs, shape)


@pytest.mark.parametrize(
    ("sizes", "shape"), [((0, 3), (2, 0)), ((-1, 3), (2, 0)), ((2, 0), (4, 0))]
)
def test_unflatten_takes_zero_sizes_as_torch_does(sizes, shape):
    out = nn.Unflatten(1, sizes)(bp.zeros(*shape))
    assert out.shape == tuple(torch.nn.Unflatten(1, sizes)(torch.zeros(shape)).shape)


def test_unflatten_undoes_flatten():
    x = bp.randn(2, 3, 4, 5)
    np.testing.assert_array_equal(nn.Unflatten(1, (3, 4))(nn.Flatten(1, 2)(x)).numpy(), x.numpy())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nn.Unflatten(1, (2, 4))(bp.randn(3, 10)), ValueError, "cannot split axis 1"),
        (lambda: nn.Unflatten(1, (3, -1))(bp.randn(3, 10)), ValueError, "of size 10"),
        (lambda: nn.Unflatten(1, (0, -1))(bp.randn(3, 0)), ValueError, r"into \(0, -1\)"),
        (lambda: nn.Unflatten(1, (0, 2))(bp.randn(3, 2)), ValueError, "of size 2"),
        (lambda: nn.Unflatten(1, (-2, 3)), ValueError, "non-negative ints"),
        (lambda: nn.Unflatten(2, (2, 5))(bp.randn(3, 10)), IndexError, "Unflatten: axis 2"),
        (lambda: nn.Unflatten(1, (2, -1, -1)), ValueError, "at most one -1"),
        (lambda: nn.Unflatten(1, ()), ValueError, "non-empty tuple or list"),
        (lambda: nn.Unflatten(1, 6), ValueError, "got 6"),
        (lambda: nn.Unflatten("a", (2, 3)), TypeError, "Unflatten: dim must be an int"),
    ],
)
def test_bad_unflatten_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def parameter_containers(m, tensor):
    """A module holding a ParameterList and a ParameterDict of m (nn or torch.nn)."""
    owner = m.Module()
    owner.scales = m.ParameterList([m.Parameter(tensor([1.0, 2.0])), tensor([3.0])])
    owner.scales.append(tensor([[4.0, 5.0]]))
    owner.shifts = m.ParameterDict({"a": tensor([0.5]), "b": m.Parameter(tensor([1.5, 2.5]))})
    return owner


def test_parameter_containers_register_under_torchs_state_dict_names():
    ours, theirs = parameter_containers(nn, bp.tensor), parameter_containers(torch.nn, torch.tensor)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert all(isinstance(p, nn.Parameter) for p in ours.parameters())
    with torch.no_grad():
        for param in theirs.parameters():
            param.mul_(-3)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for (name, mine), reference in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_array_equal(mine.numpy(), reference.numpy(), err_msg=name)


def test_parameter_list_indexes_slices_and_replaces_like_a_list():
    params = nn.ParameterList([bp.zeros(1), bp.zeros(2), bp.zeros(3)])
    assert len(params) == 3 and params[-1].shape == (3,)
    assert [p.shape for p in params[1:]] == [(2,), (3,)]
    assert isinstance(params[1:], nn.ParameterList)
    params[0] = bp.ones(4)
    assert isinstance(params[0], nn.Parameter) and params[0].shape == (4,)
    assert [p.shape for p in params] == [(4,), (2,), (3,)]
    assert [p.shape for p in params.extend([bp.ones(5)])] == [(4,), (2,), (3,), (5,)]


def test_parameter_dict_behaves_like_a_dict():
    params = nn.ParameterDict([("w", bp.ones(2)), ("b", bp.zeros(2))])
    assert params.keys() == ["w", "b"] and "w" in params and "x" not in params
    assert list(params) == ["w", "b"] and len(params) == 2
    params.update({"c": bp.ones(1), "w": bp.zeros(3)})
    assert [(k, v.shape) for k, v in params.items()] == [("w", (3,)), ("b", (2,)), ("c", (1,))]
    popped = params.pop("w")
    assert popped.shape == (3,) and params.keys() == ["b", "c"]
    del params["b"]
    assert [(k, v.shape) for k, v in params.items()] == [("c", (1,))]
    assert [v.shape for v in params.values()] == [(1,)]


def test_parameter_dict_sorts_a_plain_dicts_keys_as_torch_does():
    def keys(m, tensor, parameters):
        made = m.ParameterDict(parameters(tensor))
        made.update(dict(zip("zy", [tensor([1.0])] * 2)))
        return list(made.keys())

    for parameters in (
        lambda tensor: {"b": tensor([1.0]), "c": tensor([2.0]), "a": tensor([3.0])},
        lambda tensor: OrderedDict([("b", tensor([1.0])), ("a", tensor([2.0]))]),
        lambda tensor: [("b", tensor([1.0])), ("a", tensor([2.0]))],
    ):
        ours = keys(nn, bp.tensor, parameters)
        assert ours == keys(torch.nn, torch.tensor, parameters)
    assert ours == ["b", "a", "y", "z"]


def test_parameter_and_module_dicts_update_from_their_own_kind_in_its_order():
    params = nn.ParameterDict()
    params.update(nn.ParameterDict([("b", bp.ones(1)), ("a", bp.ones(2))]))
    assert params.keys() == ["b", "a"]
    modules = nn.ModuleDict()
    modules.update(nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())]))
    assert modules.keys() == ["b", "a"]


def test_parameter_containers_print_like_torchs():
    ours = nn.ParameterList([bp.zeros(2, 3), bp.zeros(3)])
    theirs = torch.nn.ParameterList([torch.zeros(2, 3), torch.zeros(3)])
    assert repr(ours) == repr(theirs).replace("torch.", "")
    assert repr(nn.ParameterList()) == repr(torch.nn.ParameterList()) == "ParameterList()"
    assert repr(nn.ParameterDict({"a": bp.zeros(2, 3, dtype="float64")})) == (
        "ParameterDict(\n    (a): Parameter containing: [float64 of size 2x3]\n)"
    )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nn.ParameterList([1.0]), TypeError, "ParameterList.append: expected a Param"),
        (lambda: nn.ParameterList([bp.ones(1)])[1], IndexError, "index 1 is out of range for 1"),
        (lambda: nn.ParameterDict({"a.b": bp.ones(1)}), KeyError, "without '.', got 'a.b'"),
        (lambda: nn.ParameterDict()["a"], KeyError, "ParameterDict: no parameter 'a'"),
        (lambda: nn.ParameterDict({"a": "x"}), TypeError, "ParameterDict: expected a Parameter"),
    ],
)
def test_bad_parameter_container_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- pixel shuffle -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "factor"),
    [((2, 8, 3, 4), 2), ((1, 9, 2, 2), 3), ((2, 3, 4, 2, 2), 2), ((4, 2, 3), 2), ((0, 4, 1, 1), 1)],
)
def test_pixel_shuffle_and_unshuffle_match_torch(shape, factor, dtype):
    compare(lambda f, x: f.pixel_shuffle(x, factor), [shape], dtype)
    *batch, channels, height, width = shape
    unshuffled = (*batch, channels // factor**2, height * factor, width * factor)
    compare(lambda f, x: f.pixel_unshuffle(x, factor), [unshuffled], dtype)


def test_pixel_unshuffle_undoes_pixel_shuffle():
    x = bp.randn(2, 12, 3, 5)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).numpy(), x.numpy())


def test_pixel_shuffle_reads_non_contiguous_views_and_differentiates_twice():
    compare(lambda f, x: f.pixel_shuffle(x.permute(0, 3, 1, 2), 2), [(1, 3, 2, 8)])
    compare(lambda f, x: f.pixel_unshuffle(x[:, :, ::2], 2), [(1, 2, 8, 4)])
    x = bp.tensor(randn((1, 4, 2, 2)), requires_grad=True)
    assert bp.gradcheck(lambda t: F.pixel_shuffle(t, 2), x)
    assert bp.gradgradcheck(lambda t: F.pixel_unshuffle(t, 2).tanh(), x)


def test_pixel_shuffle_layers_match_torch_and_print_like_it():
    for ours, theirs, shape in (
        (nn.PixelShuffle(2), torch.nn.PixelShuffle(2), (2, 8, 2, 3)),
        (nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3), (2, 1, 6, 3)),
    ):
        assert repr(ours) == repr(theirs)
        compare_layer(ours, theirs, shape)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.pixel_shuffle(bp.randn(2, 5, 2, 2), 2), r"5 channels .* divisible by .* \(4\)"),
        (lambda: F.pixel_shuffle(bp.randn(4, 2), 2), r"shape \(\*, C, H, W\), got \(4, 2\)"),
        (lambda: F.pixel_shuffle(bp.randn(1, 4, 2, 2), 0), "upscale_factor must be a positive"),
        (lambda: F.pixel_unshuffle(bp.randn(1, 1, 3, 4), 2), r"height and width \(3, 4\)"),
        (lambda: F.pixel_unshuffle(bp.randn(1, 1, 4, 4), 1.5), "downscale_factor must be a pos"),
        (lambda: nn.PixelShuffle(-1), "PixelShuffle: upscale_factor must be a positive int"),
    ],
)
def test_bad_pixel_shuffle_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- interpolation -----------------------------------------------------------------------------

INTERPOLATIONS = [
    ((2, 3, 4, 5), {"scale_factor": 2}),
    ((2, 3, 4, 5), {"scale_factor": 3}),
    ((2, 3, 4, 5), {"scale_factor": (2, 0.5)}),
    ((2, 3, 4, 5), {"scale_factor": 1.7}),
    ((2, 3, 7, 5), {"scale_factor": 0.34}),
    ((2, 3, 5, 5), {"scale_factor": 1.1}),
    ((2, 3, 4, 5), {"scale_factor": 1.7, "recompute_scale_factor": True}),
    ((2, 3, 3, 5), {"size": (5, 7)}),
    ((2, 3, 3, 5), {"size": (2, 3)}),
    ((2, 3, 3, 5), {"size": 13}),
    ((1, 2, 1, 1), {"size": (3, 2)}),
    ((0, 2, 3, 3), {"size": (4, 5)}),
]
INTERPOLATION_IDS = [f"{shape}-{options}" for shape, options in INTERPOLATIONS]


@pytest.mark.parametrize(("shape", "options"), INTERPOLATIONS, ids=INTERPOLATION_IDS)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_interpolation_matches_torch(shape, options, mode, dtype):
    compare(lambda f, x: f.interpolate(x, mode=mode, **options), [shape], dtype)


@pytest.mark.parametrize(("shape", "options"), INTERPOLATIONS, ids=INTERPOLATION_IDS)
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_interpolation_matches_torch(shape, options, align_corners, dtype):
    def fn(f, x):
        return f.interpolate(x, mode="bilinear", align_corners=align_corners, **options)

    compare(fn, [shape], dtype)


@pytest.mark.parametrize(
    ("shape", "options"),
    [
        ((2, 3, 4), {"size": 9, "mode": "nearest"}),
        ((2, 3, 4), {"scale_factor": 2.5, "mode": "linear"}),
        ((2, 3, 4), {"size": 3, "mode": "linear", "align_corners": True}),
        ((1, 2, 3, 4, 2), {"size": (4, 6, 3), "mode": "nearest"}),
        ((1, 2, 3, 4, 2), {"scale_factor": 1.5, "mode": "trilinear"}),
    ],
    ids=str,
)
def test_one_and_three_dimensional_interpolation_matches_torch(shape, options):
    compare(lambda f, x: f.interpolate(x, **options), [shape])


@pytest.mark.parametrize(
    ("shape", "scale"),
    [((1, 2, 5), 1.1), ((1, 2, 10), 2.05), ((1, 1, 2, 3, 5), 1.1), ((1, 1, 2, 2, 4), 2.01)],
    ids=str,
)
def test_nearest_interpolation_of_3d_and_5d_inputs_takes_no_same_or_double_size_shortcut(
    shape, scale, dtype
):
    """PyTorch's 2-D kernel reads cell j where a scale keeps the size and j / 2 where it
    doubles it; its 1-D and 3-D kernels read floor(j / scale) (and their backward passes take
    the shortcut the forward does not, so gradients are checked by finite differences)."""
    x = randn(shape).astype(dtype)
    scales = (1,) * (len(shape) - 3) + (scale,)
    out = F.interpolate(bp.tensor(x), scale_factor=scales)
    expected = TF.interpolate(torch.tensor(x), scale_factor=scales)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert bp.gradcheck(lambda t: F.interpolate(t, scale_factor=scales), leaf(x))


def test_nearest_interpolation_of_a_1d_input_reads_floor_j_over_scale():
    cells = F.interpolate(bp.arange(5, dtype="float64").reshape(1, 1, 5), scale_factor=1.1)
    assert cells.numpy().ravel().tolist() == [0, 0, 1, 2, 3]
    cells = F.interpolate(bp.arange(5, dtype="float64").reshape(1, 1, 1, 5), scale_factor=1.1)
    assert cells.numpy().ravel().tolist() == [0, 1, 2, 3, 4]


def test_interpolation_reads_non_contiguous_views():
    compare(lambda f, x: f.interpolate(x.permute(0, 3, 1, 2), scale_factor=1.5), [(1, 3, 4, 2)])
    compare(lambda f, x: f.interpolate(x[:, :, ::2], size=(3, 4), mode="bilinear"), [(1, 2, 8, 3)])


@pytest.mark.parametrize(
    "options",
    [
        {"scale_factor": 2},
        {"size": (5, 2)},
        {"size": (5, 2), "mode": "bilinear"},
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
    ],
    ids=str,
)
def test_interpolation_first_and_second_derivatives_match_finite_differences(options):
    x = bp.tensor(randn((1, 2, 3, 3)), requires_grad=True)
    assert bp.gradcheck(lambda t: F.interpolate(t, **options), x)
    assert bp.gradgradcheck(lambda t: F.interpolate(t, **options).tanh(), x)


@pytest.mark.parametrize(
    "options",
    [
        {"scale_factor": 2},
        {"scale_factor": (3, 0.5), "mode": "nearest-exact"},
        {"size": (7, 5)},
        {"size": (7, 5), "mode": "bilinear"},
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
    ],
    ids=str,
)
def test_interpolation_copies_no_host_data_to_the_device(monkeypatch, options):
    """Source cells and weights are worked out on the device: a step that interpolates can be
    captured into a CUDA graph."""
    x = bp.randn(1, 2, 4, 6, requires_grad=True)

    def no_host_copies(_):
        raise AssertionError("interpolate copied host data to the device")

    monkeypatch.setattr(x.backend, "from_host", no_host_copies)
    F.interpolate(x, **options).sum().backward()


def test_upsample_matches_torch_and_prints_like_it():
    for options, shape in (
        ({"scale_factor": 2}, (1, 2, 3, 3)),
        ({"scale_factor": (1.5, 2)}, (1, 2, 3, 3)),
        ({"size": (4, 5), "mode": "bilinear"}, (1, 2, 3, 3)),
        ({"size": 5, "mode": "bilinear", "align_corners": True}, (1, 2, 3, 3)),
        ({"size": 7, "mode": "linear"}, (2, 3, 4)),
    ):
        ours, theirs = nn.Upsample(**options), torch.nn.Upsample(**options)
        assert repr(ours) == repr(theirs)
        compare_layer(ours, theirs, shape)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.interpolate(bp.randn(1, 1, 2, 2)), "give exactly one of size and scale_fa"),
        (lambda: F.interpolate(bp.randn(1, 1, 2, 2), 3, 2), "give exactly one of size and scale"),
        (lambda: F.interpolate(bp.randn(1, 1, 2, 2), 3, mode="cubic"), "mode must be one of"),
        (lambda: F.interpolate(bp.randn(2, 2), 3), r"expected an \(N, C, L\), .* got \(2, 2\)"),
        (
            lambda: F.interpolate(bp.randn(1, 1, 2), 3, mode="bilinear"),
            r"mode 'bilinear' needs a 4-D input, got \(1, 1, 2\)",
        ),
        (
            lambda: F.interpolate(bp.randn(1, 1, 2, 2), 3, align_corners=True),
            "align_corners applies to the linear modes only",
        ),
        (lambda: F.interpolate(bp.randn(1, 1, 2, 2), (3, 3, 3)), "one value per spatial axis"),
        (lambda: F.interpolate(bp.randn(1, 1, 2, 2), (3, 0)), "size must hold positive ints"),
        (
            lambda: F.interpolate(bp.randn(1, 1, 2, 2), scale_factor=-2),
            "scale_factor must hold positive numbers",
        ),
        (
            lambda: F.interpolate(bp.randn(1, 1, 2, 2), scale_factor=0.4),
            r"gives an empty output \(0, 0\)",
        ),
        (
            lambda: F.interpolate(bp.randn(1, 1, 2, 2), 3, recompute_scale_factor=True),
            "recompute_scale_factor needs scale_factor",
        ),
        (lambda: nn.Upsample(scale_factor=2, mode="area"), "Upsample: mode must be one of"),
    ],
)
def test_bad_interpolation_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_interpolation_wants_a_float_tensor():
    with pytest.raises(TypeError, match="interpolate: expected a float32 or float64 tensor"):
        F.interpolate(bp.tensor(np.ones((1, 1, 2, 2), dtype=np.int64)), 3)


# -- every device -----------------------------------------------------------------------------


def test_extra_layers_run_unchanged_on_every_device(device):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator. The dropout masks come
    from the host generator, so a seed gives the same channels on every device."""

    def build():
        return nn.Sequential(
            nn.Upsample(scale_factor=1.5, mode="bilinear"),
            nn.PReLU(2),
            nn.Hardswish(),
            nn.Upsample(size=(4, 4)),
            nn.PixelUnshuffle(2),
            nn.GLU(1),
            nn.Mish(),
            nn.Dropout2d(0.5),
            nn.LogSigmoid(),
            nn.Hardtanh(-2.0, 0.5),
        ).double()

    x = randn((2, 2, 2, 2))
    results = []
    for where in ("cpu", device):
        model = build().to(where)
        bp.manual_seed(4)
        out = model(bp.tensor(x, device=where))
        (out * out).sum().backward()
        results.append([out.numpy(), *(p.grad.numpy() for p in model.parameters())])
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)
