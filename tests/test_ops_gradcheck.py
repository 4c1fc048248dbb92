"""Finite differences against autograd (`backprop.gradcheck`, float64) on every differentiable op,
and on compositions with broadcasting, reuse and non-contiguous (transposed, strided) inputs.

Each case is `fn` and its inputs: a float64 NumPy array becomes a leaf that requires grad, a
`Const` a tensor that does not. Cases in DEVICE_CASES run on every backend available here (tiny
shapes: the Numba backend runs in its CUDA simulator); NUMPY_CASES run on the NumPy backend.
Inputs are kept away from kinks and ties (abs and relu at 0, maximum at equal values, clamp at
its bounds), where a one-sided derivative is a convention, not a limit.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import away_from_zero, leaf, randn

import backprop as bp
import backprop.functional as F
from backprop import ops
from backprop.autograd import Function
from backprop.backend.base import ACTIVATIONS


class Const:
    """An input that does not require grad (a target, a mask)."""

    def __init__(self, array, dtype="float64"):
        self.array, self.dtype = np.asarray(array), dtype


def case(name, fn, *inputs, **options):
    return pytest.param(fn, inputs, options, id=name)


def positive(shape, seed):
    return randn(shape, seed, low=0.5, high=2.0)


def unit(shape, seed):
    return randn(shape, seed, low=0.05, high=0.95)


def idx(array):
    return np.asarray(array, dtype=np.int64)


def on(tensor, array):
    """An integer index tensor on `tensor`'s device."""
    return bp.tensor(idx(array), device=tensor.device)


A, B, S = (2, 3), (3,), ()  # a matrix, a row that broadcasts against it, a 0-d tensor
ALPHA = {"leaky_relu": [0.01, 0.2], "softplus": [1.0, 2.0], "elu": [1.0, 0.4]}
KINKED = {"relu", "leaky_relu", "elu"}  # not differentiable at 0: inputs kept away from it


def _act_cases():
    cases = []
    for kind in ACTIVATIONS:
        data = away_from_zero if kind in KINKED else randn
        for alpha in ALPHA.get(kind, [None]):
            suffix = "" if alpha is None else f"-{alpha}"
            cases.append(
                case(
                    f"act-{kind}{suffix}",
                    lambda x, k=kind, a=alpha: ops.activation(x, k, a),
                    data(A, 70) * 2,
                )
            )
            cases.append(
                case(
                    f"bias_act-{kind}{suffix}",
                    lambda x, b, k=kind, a=alpha: ops.bias_activation(x, b, k, a),
                    randn(A, 71) * 2,
                    randn(B, 72) * 0.01,
                )
            )
    return cases


DEVICE_CASES = [
    # arithmetic: tensor-tensor with broadcasting, tensor-scalar and scalar-tensor
    case("add", lambda x, y: x + y, randn(A, 1), randn(B, 2)),
    case("add-scalar", lambda x: x + 2.5, randn(A, 3)),
    case("radd-scalar", lambda x: 2.5 + x, randn(A, 3)),
    case("sub", lambda x, y: x - y, randn(A, 4), randn(B, 5)),
    case("sub-scalar", lambda x: x - 1.5, randn(A, 6)),
    case("rsub-scalar", lambda x: 1.5 - x, randn(A, 6)),
    case("mul", lambda x, y: x * y, randn(A, 7), randn(B, 8)),
    case("mul-0d", lambda x, y: x * y, randn(A, 7), randn(S, 9)),
    case("mul-scalar", lambda x: x * -3.0, randn(A, 10)),
    case("rmul-scalar", lambda x: -3.0 * x, randn(A, 10)),
    case("div", lambda x, y: x / y, randn(A, 11), away_from_zero(B, 12)),
    case("div-scalar", lambda x: x / 4.0, randn(A, 13)),
    case("rdiv-scalar", lambda x: 4.0 / x, away_from_zero(A, 14)),
    case("pow", lambda x, y: x**y, positive(A, 15), randn(B, 16)),
    case("pow-scalar", lambda x: x**2.5, positive(A, 17)),
    case("pow-int-negative-base", lambda x: x**3, randn(A, 18)),
    case("pow-negative-exponent", lambda x: x**-0.5, positive(A, 19)),
    case("rpow-scalar", lambda x: 1.7**x, randn(A, 20)),
    case("neg", lambda x: -x, randn(A, 21)),
    # unary math
    case("exp", lambda x: x.exp(), randn(A, 22)),
    case("log", lambda x: x.log(), positive(A, 23)),
    case("sqrt", lambda x: x.sqrt(), positive(A, 24)),
    case("abs", lambda x: x.abs(), away_from_zero(A, 25)),
    case("abs-builtin", lambda x: abs(x), away_from_zero(A, 25)),
    case("sin", lambda x: x.sin(), randn(A, 26)),
    case("cos", lambda x: x.cos(), randn(A, 27)),
    case("erf", lambda x: ops.erf(x), randn(A, 28)),
    case("erf-gelu-0d", lambda x: ops.erf(x) * F.gelu(x), randn(S, 28)),
    # selection (inputs away from ties and bounds)
    case("maximum", lambda x, y: ops.maximum(x, y), randn(A, 29), randn(B, 30) + 0.05),
    case("minimum", lambda x, y: ops.minimum(x, y), randn(A, 31), randn(B, 32) + 0.05),
    case("maximum-scalar", lambda x: x.maximum(0.1), away_from_zero(A, 33)),
    case("minimum-scalar", lambda x: x.minimum(0.1), away_from_zero(A, 33)),
    case("clamp", lambda x: x.clamp(-0.25, 0.5), randn(A, 34) + 0.1),
    case("clamp-min", lambda x: x.clamp(min=0.1), away_from_zero(A, 35)),
    case("clamp-max", lambda x: x.clamp(max=0.1), away_from_zero(A, 35)),
    case("where", lambda x, y: bp.where(x.detach() > 0, x, y), randn(A, 36), randn(B, 37)),
    case("where-scalar", lambda x: bp.where(x.detach() > 0, x * 2, 0.5), randn(A, 38)),
    # reductions
    case("sum", lambda x: x.sum(), randn(A, 39)),
    case("sum-axis", lambda x: x.sum(axis=1), randn((2, 3, 2), 40)),
    case("sum-axes-keepdims", lambda x: x.sum(axis=(0, 2), keepdims=True), randn((2, 3, 2), 41)),
    case("mean", lambda x: x.mean(), randn(A, 42)),
    case("mean-axis-keepdims", lambda x: x.mean(axis=-1, keepdims=True), randn(A, 43)),
    case("max", lambda x: x.max(), randn(A, 44)),
    case("max-axis", lambda x: x.max(axis=0).values, randn(A, 45)),
    case("amax-axes-keepdims", lambda x: x.amax(axis=(1, 2), keepdims=True), randn((2, 2, 2), 46)),
    case("min", lambda x: x.min(), randn(A, 47)),
    case("min-axis-keepdims", lambda x: x.min(axis=1, keepdims=True).values, randn(A, 48)),
    case("var", lambda x: x.var(), randn(A, 49)),
    case("var-axis", lambda x: x.var(axis=1, keepdims=True), randn(A, 50)),
    case("var-population", lambda x: x.var(axis=0, correction=0), randn(A, 51)),
    # matmul
    case("matmul", lambda x, y: x @ y, randn((2, 3), 52), randn((3, 2), 53)),
    case("matmul-batched", lambda x, y: x @ y, randn((2, 2, 2), 54), randn((2, 2, 1), 55)),
    case(
        "matmul-broadcast-batch", lambda x, y: x @ y, randn((2, 1, 2, 2), 56), randn((2, 2, 1), 57)
    ),
    case(
        "matmul-transpose-flags",
        lambda x, y: bp.matmul(x, y, transpose_a=True, transpose_b=True),
        randn((3, 2), 58),
        randn((2, 3), 59),
    ),
    case("matmul-method", lambda x, y: x.matmul(y), randn((2, 3), 60), randn((3, 2), 61)),
    # movement
    case("reshape", lambda x: x.reshape(3, -1), randn((2, 3), 62)),
    case("permute", lambda x: x.permute(2, 0, 1), randn((2, 3, 2), 63)),
    case("transpose", lambda x: x.transpose(0, 2), randn((2, 3, 2), 64)),
    case("T", lambda x: x.T, randn(A, 65)),
    case("broadcast_to", lambda x: x.broadcast_to(2, 2, 3), randn((2, 1, 3), 66)),
    # softmax and the fused cross-entropy
    case("softmax", lambda x: F.softmax(x, 1), randn(A, 67)),
    case("log_softmax", lambda x: F.log_softmax(x, 0), randn(A, 68)),
    case("cross_entropy", lambda x: F.cross_entropy(x, on(x, [2, 0])), randn(A, 69)),
    *_act_cases(),
]

TARGETS = [1, 0, 3]


def _dropout(x, p=0.3, training=True):
    return F.dropout(x, p, training=training, generator=np.random.default_rng(0))


NUMPY_CASES = [
    # named spellings of the activations
    case("relu-method", lambda x: x.relu(), away_from_zero(A, 80)),
    case("F.leaky_relu", lambda x: F.leaky_relu(x, 0.2), away_from_zero(A, 81)),
    case("F.gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), randn(A, 82)),
    case("F.softplus-beta", lambda x: F.softplus(x, beta=3.0), randn(A, 83) * 4),
    case("softplus-past-threshold", lambda x: F.softplus(x, beta=2.0), randn(A, 84) + 12),
    case("F.elu-alpha", lambda x: F.elu(x, alpha=0.5), away_from_zero(A, 85)),
    case("silu-sigmoid-tanh", lambda x: F.silu(x) + F.sigmoid(x) * F.tanh(x), randn(A, 86)),
    # linear, fused and not
    case(
        "linear-activation",
        lambda x, w, b: F.linear(x, w, b, activation="gelu"),
        randn((2, 3), 87),
        randn((4, 3), 88),
        randn((4,), 89),
    ),
    case(
        "linear-relu-fused",
        lambda x, w, b: F.linear(x, w, b, activation="relu"),
        randn((2, 3), 90),
        randn((4, 3), 91),
        randn((4,), 92),
    ),
    case(
        "linear",
        lambda x, w, b: F.linear(x, w, b),
        randn((2, 3), 93),
        randn((4, 3), 94),
        randn((4,), 95),
    ),
    case(
        "linear-no-bias",
        lambda x, w: F.linear(x, w, activation="tanh"),
        randn((2, 3), 96),
        randn((4, 3), 97),
    ),
    case(
        "linear-batched-input",
        lambda x, w, b: F.linear(x, w, b, activation="silu"),
        randn((2, 2, 3), 98),
        randn((4, 3), 99),
        randn((4,), 100),
    ),
    # movement
    case("reshape-3d", lambda x: x.reshape((2, 1, 6)), randn((3, 4), 101)),
    case("view", lambda x: x.view(-1), randn((3, 4), 102)),
    case("mT", lambda x: x.mT, randn((2, 3, 2), 103)),
    case("expand", lambda x: x.expand(3, 2, 4), randn((2, 1), 104)),
    case("flatten", lambda x: x.flatten(), randn((2, 3, 2), 105)),
    case("flatten-range", lambda x: x.flatten(1, 2), randn((2, 3, 2, 2), 106)),
    case("squeeze", lambda x: x.squeeze(), randn((2, 1, 3, 1), 107)),
    case("squeeze-axis", lambda x: x.squeeze(1), randn((2, 1, 3), 108)),
    case("unsqueeze", lambda x: x.unsqueeze(-1), randn((2, 3), 109)),
    case("sum_to", lambda x: ops.sum_to(x, (1, 3, 1)), randn((2, 3, 4), 110)),
    # indexing
    case("getitem-int", lambda x: x[1], randn((3, 4), 111)),
    case("getitem-negative-int", lambda x: x[-1, -2], randn((3, 4), 112)),
    case("getitem-slices", lambda x: x[1:, :3], randn((3, 4), 113)),
    case("getitem-steps", lambda x: x[::2, 1::2], randn((3, 4), 114)),
    case("getitem-negative-step", lambda x: x[::-1, -2::-2], randn((3, 4), 115)),
    case("getitem-none-ellipsis", lambda x: x[None, ..., 1], randn((2, 3, 4), 116)),
    case("getitem-ellipsis-middle", lambda x: x[0, ..., None, 2], randn((2, 3, 4), 117)),
    case("getitem-array-repeats", lambda x: x[idx([2, 0, 2, 2])], randn((3, 4), 118)),
    case("getitem-list", lambda x: x[[1, 1, 0]], randn((3, 4), 119)),
    case("getitem-tensor-index", lambda x: x[:, on(x, [3, 0, 3])], randn((3, 4), 120)),
    case("getitem-two-arrays", lambda x: x[idx([0, 2, 0]), idx([1, 1, 1])], randn((3, 4), 121)),
    case("getitem-2d-array", lambda x: x[idx([[0, 1], [1, 1]])], randn((3, 4), 122)),
    case(
        "getitem-arrays-split-by-slice",
        lambda x: x[idx([0, 1, 1]), :, idx([3, 0, 3])],
        randn((2, 3, 4), 123),
    ),
    case("getitem-bool-mask-numpy", lambda x: x[np.array([True, False, True])], randn((3, 4), 124)),
    case("getitem-bool-mask-tensor", lambda x: x[x.detach() > 0], randn((3, 4), 125)),
    case("getitem-int-and-array", lambda x: x[1, idx([0, 0, 3])], randn((3, 4), 126)),
    case("gather", lambda x: x.gather(1, on(x, [[0, 0], [3, 1], [2, 2]])), randn((3, 4), 127)),
    case("gather-axis0", lambda x: ops.gather(x, 0, on(x, [[2, 0, 2, 1]])), randn((3, 4), 128)),
    case(
        "scatter_add",
        lambda x, s: ops.scatter_add(x, 1, on(x, [[0, 0], [3, 1], [2, 2]]), s),
        randn((3, 4), 129),
        randn((3, 2), 130),
    ),
    case(
        "concatenate",
        lambda x, y: bp.concatenate([x, y, x], axis=1),
        randn((2, 3), 131),
        randn((2, 1), 132),
    ),
    case(
        "concatenate-axis0",
        lambda x, y: bp.concatenate([x, y]),
        randn((2, 3), 133),
        randn((1, 3), 134),
    ),
    case("stack", lambda x, y: bp.stack([x, y, x], axis=1), randn((2, 3), 135), randn((2, 3), 136)),
    case(
        "stack-last-axis",
        lambda x, y: bp.stack([x, y], axis=-1),
        randn((2, 3), 137),
        randn((2, 3), 138),
    ),
    case(
        "unbind-some-slices-unused",
        lambda x: ops.unbind(x, 1)[0] * 2 + ops.unbind(x, 1)[2] ** 2,
        randn((2, 4), 139),
    ),
    # dtype changes: float32 round trips, so finite differences need a wide step
    case(
        "to-float32-and-back",
        lambda x: (x.to(bp.float32) * 3).to(bp.float64),
        randn(A, 139),
        eps=1e-2,
        atol=1e-3,
    ),
    case("float-double", lambda x: x.float().exp().double(), randn(A, 140), eps=1e-2, atol=1e-3),
    case(
        "to-dtype-string",
        lambda x: x.to("float32").to(dtype="float64"),
        randn(A, 141),
        eps=1e-2,
        atol=1e-3,
    ),
    # softmax and losses
    case("softmax-axis0", lambda x: F.softmax(x, 0), randn((3, 4), 142)),
    case("softmax-3d-last", lambda x: x.softmax(-1), randn((2, 2, 3), 143)),
    case("log_softmax-3d-middle", lambda x: x.log_softmax(1), randn((2, 3, 2), 144)),
    *[
        case(
            f"cross_entropy-{reduction}-smoothing{ls}",
            lambda x, r=reduction, s=ls: F.cross_entropy(
                x, on(x, TARGETS), reduction=r, label_smoothing=s
            ),
            randn((3, 4), 145),
        )
        for reduction in ("mean", "sum", "none")
        for ls in (0.0, 0.2)
    ],
    *[
        case(
            f"nll_loss-{reduction}",
            lambda x, r=reduction: F.nll_loss(F.log_softmax(x, 1), on(x, TARGETS), reduction=r),
            randn((3, 4), 146),
        )
        for reduction in ("mean", "sum", "none")
    ],
    case("nll_loss-raw-input", lambda x: F.nll_loss(x, on(x, TARGETS)), randn((3, 4), 147)),
    case("mse_loss", lambda x, t: F.mse_loss(x, t), randn((3, 4), 148), randn((3, 4), 149)),
    case(
        "mse_loss-sum-const-target",
        lambda x, t: F.mse_loss(x, t, reduction="sum"),
        randn((3, 4), 150),
        Const(randn((3, 4), 151)),
    ),
    case(
        "mse_loss-none",
        lambda x, t: F.mse_loss(x, t, reduction="none"),
        randn((3, 4), 152),
        randn((3, 4), 153),
    ),
    case(
        "l1_loss",
        lambda x, t: F.l1_loss(x, t),
        randn((3, 4), 154),
        Const(randn((3, 4), 154) + away_from_zero((3, 4), 155)),
    ),
    case(
        "l1_loss-both",
        lambda x, t: F.l1_loss(x, t, reduction="sum"),
        randn((3, 4), 156),
        randn((3, 4), 156) + away_from_zero((3, 4), 157),
    ),
    case(
        "binary_cross_entropy",
        lambda p, t: F.binary_cross_entropy(p, t),
        unit((3, 4), 158),
        Const(unit((3, 4), 159)),
    ),
    case(
        "binary_cross_entropy-target-grad",
        lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
        unit((3, 4), 160),
        unit((3, 4), 161),
    ),
    case(
        "bce_with_logits",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t),
        randn((3, 4), 162) * 3,
        Const(unit((3, 4), 163)),
    ),
    case(
        "bce_with_logits-target-grad",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
        randn((3, 4), 164) * 3,
        unit((3, 4), 165),
    ),
    case(
        "bce_with_logits-at-zero-and-large",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        np.array([[0.0, 0.0, 30.0], [-30.0, 1e-3, -1e-3]]),
        Const(unit((2, 3), 166)),
    ),
    case("dropout", _dropout, randn((3, 4), 167)),
    case("dropout-p0", lambda x: _dropout(x, p=0.0), randn((3, 4), 168)),
    case("dropout-eval", lambda x: _dropout(x, training=False), randn((3, 4), 169)),
    # compositions: broadcasting, reuse (diamonds) and non-contiguous inputs
    case("reuse", lambda x: x * x.exp() + x.sin() * x - x / (1 + x * x), randn((2, 3), 170)),
    case(
        "transposed-broadcast",
        lambda x, y: (x.T * y).sum(axis=0, keepdims=True) @ x,
        randn((3, 2), 171),
        randn((2, 1), 172),
    ),
    case(
        "strided-slice",
        lambda x, y: x[:, ::2].exp() * y + x[::2, 1::2].mean(),
        randn((3, 4), 173),
        randn((1, 2), 174),
    ),
    case(
        "transposed-matmul",
        lambda x, y: x.transpose(1, 2) @ y[:, ::2],
        randn((2, 3, 2), 175),
        randn((2, 6, 2), 176),
    ),
    case(
        "transposed-cross-entropy",
        lambda x: F.cross_entropy(x.T[1:], on(x, [1, 0, 1])),
        randn((2, 4), 177),
    ),
    case(
        "permuted-softmax", lambda x: F.softmax(x.permute(2, 0, 1), 1)[::2], randn((2, 3, 3), 178)
    ),
    case(
        "layer-norm",
        lambda x, g: (
            (x - x.mean(axis=1, keepdims=True))
            / (x.var(axis=1, keepdims=True, correction=0) + 1e-5).sqrt()
            * g
        ),
        randn((3, 4), 179),
        randn((4,), 180),
    ),
    case(
        "attention",
        lambda q, k, v: F.softmax(q @ k.mT * 0.5, -1) @ v,
        randn((2, 2, 3), 181),
        randn((2, 3, 3), 182),
        randn((2, 3, 2), 183),
    ),
    case(
        "mlp-step",
        lambda x, w1, b1, w2, b2: F.cross_entropy(
            F.linear(F.linear(x, w1, b1, activation="tanh"), w2, b2), on(x, [2, 0, 1])
        ),
        randn((3, 4), 184),
        randn((5, 4), 185) * 0.5,
        randn((5,), 186),
        randn((3, 5), 187) * 0.5,
        randn((3,), 188),
    ),
    case(
        "getitem-then-broadcast",
        lambda x: x[idx([0, 0])][:, None, :] + x[None, 1:, :],
        randn((3, 2), 189),
    ),
]


def _inputs(inputs, device):
    return [
        bp.tensor(a.array, dtype=a.dtype, device=device)
        if isinstance(a, Const)
        else leaf(a, device=device)
        for a in inputs
    ]


@pytest.mark.parametrize("fn, inputs, options", DEVICE_CASES)
def test_gradcheck(device, fn, inputs, options):
    assert bp.gradcheck(fn, *_inputs(inputs, device), **options)


@pytest.mark.parametrize("fn, inputs, options", NUMPY_CASES)
def test_gradcheck_numpy(fn, inputs, options):
    assert bp.gradcheck(fn, *_inputs(inputs, "cpu"), **options)


def test_dropout_mask_is_fixed_by_the_generator_and_scales_the_kept():
    x = leaf(np.ones((4, 8)))
    y = _dropout(x, p=0.25)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75)
    np.testing.assert_array_equal(_dropout(x, p=0.25).numpy() != 0, kept)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)


# -- gradcheck itself --------------------------------------------------------------------------


class WrongSquare(Function):
    """x ** 2 with a deliberately wrong backward (3x instead of 2x)."""

    def forward(self, x):
        return self.backend.binary("mul", x, x)

    def backward(self, gy):
        return gy * self.inputs[0] * 3.0


def test_gradcheck_reports_the_worst_element_when_autograd_is_wrong():
    x = leaf([[1.0, -2.0], [0.5, 3.0]])
    with pytest.raises(bp.GradcheckError) as raised:
        bp.gradcheck(lambda t: WrongSquare()(t), x)
    message = str(raised.value)
    assert "input 0" in message and "index" in message
    assert "analytic" in message and "numerical" in message


def test_gradcheck_refuses_float32_inputs():
    with pytest.raises(TypeError, match="float64"):
        bp.gradcheck(lambda t: t * 2, bp.tensor([1.0, 2.0], requires_grad=True))
