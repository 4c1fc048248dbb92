"""Values and gradients against `torch.autograd`, on random shapes drawn from each seed.

One helper, `compare`, runs the same function in both frameworks: `fn(lib, *tensors)`, where
`lib` is `BP` or `TORCH` (the few spellings that differ: `concatenate` is `cat`, a max over
axes is `amax`, an activation by name), and compares the forward values, then the gradients
of every input after a backward pass with the same random output gradient.

Tolerances: float64 rtol 1e-10, atol 1e-12 (the two frameworks agree to rounding);
float32 rtol 1e-4, atol 1e-5 (different summation orders and libm calls). NumPy backend only.
Not compared here: dropout (the two frameworks draw different random masks; it is checked by
gradcheck with a fixed generator) and negative slice steps (PyTorch has none).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import backprop as bp
import backprop.functional as BF
from backprop import ops
from backprop.backend.base import ACTIVATIONS

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOLERANCES = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 1e-4, "atol": 1e-5}}
SEEDS = [0, 1, 2]

TORCH_ACTIVATIONS = {
    "relu": lambda x, a: TF.relu(x),
    "leaky_relu": lambda x, a: TF.leaky_relu(x, a),
    "sigmoid": lambda x, a: torch.sigmoid(x),
    "tanh": lambda x, a: torch.tanh(x),
    "gelu": lambda x, a: TF.gelu(x),
    "gelu_tanh": lambda x, a: TF.gelu(x, approximate="tanh"),
    "silu": lambda x, a: TF.silu(x),
    "softplus": lambda x, a: TF.softplus(x, beta=a),
    "elu": lambda x, a: TF.elu(x, alpha=a),
}


def _torch_amax(x, axis=None, keepdims=False):
    return torch.amax(x, dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=keepdims)


def _torch_amin(x, axis=None, keepdims=False):
    return torch.amin(x, dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=keepdims)


BP = SimpleNamespace(
    F=BF,
    erf=ops.erf,
    cat=bp.concatenate,
    stack=bp.stack,
    unbind=ops.unbind,
    where=bp.where,
    maximum=ops.maximum,
    minimum=ops.minimum,
    matmul=bp.matmul,
    amax=lambda x, axis=None, keepdims=False: x.amax(axis=axis, keepdims=keepdims),
    amin=lambda x, axis=None, keepdims=False: x.amin(axis=axis, keepdims=keepdims),
    gather=lambda x, axis, index: x.gather(axis, index),
    scatter_add=lambda x, axis, index, src: ops.scatter_add(x, axis, index, src),
    act=lambda x, kind, alpha: ops.activation(x, kind, alpha),
    bias_act=lambda x, b, kind, alpha: ops.bias_activation(x, b, kind, alpha),
    linear_act=lambda x, w, b, kind: BF.linear(x, w, b, activation=kind),
    float32=bp.float32,
    float64=bp.float64,
)
TORCH = SimpleNamespace(
    F=TF,
    erf=torch.erf,
    cat=torch.cat,
    stack=torch.stack,
    unbind=torch.unbind,
    where=torch.where,
    maximum=torch.maximum,
    minimum=torch.minimum,
    matmul=torch.matmul,
    amax=_torch_amax,
    amin=_torch_amin,
    gather=lambda x, axis, index: x.gather(axis, index),
    scatter_add=lambda x, axis, index, src: x.scatter_add(axis, index, src),
    act=lambda x, kind, alpha: TORCH_ACTIVATIONS[kind](x, alpha),
    bias_act=lambda x, b, kind, alpha: TORCH_ACTIVATIONS[kind](x + b, alpha),
    linear_act=lambda x, w, b, kind: TORCH_ACTIVATIONS[kind](TF.linear(x, w, b), None),
    float32=torch.float32,
    float64=torch.float64,
)


class Const:
    """A float input that does not require grad (integer and bool arrays never do)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _convert(inputs, dtype):
    bp_inputs, torch_inputs = [], []
    for a in inputs:
        array = a.array if isinstance(a, Const) else np.asarray(a)
        grad = not isinstance(a, Const) and array.dtype.kind == "f"
        if array.dtype.kind == "f":
            array = array.astype(dtype)
        bp_inputs.append(bp.tensor(array, requires_grad=grad))
        torch_inputs.append(torch.tensor(array, requires_grad=grad))
    return bp_inputs, torch_inputs


def compare(fn, inputs, dtype="float64", seed=0):
    """`fn(lib, *tensors)` in backprop and in PyTorch: same values, then same gradients."""
    tol = TOLERANCES[dtype]
    bp_inputs, torch_inputs = _convert(inputs, dtype)
    ours, theirs = fn(BP, *bp_inputs), fn(TORCH, *torch_inputs)
    expected = theirs.detach().numpy()
    assert ours.shape == tuple(expected.shape), f"shape {ours.shape} != {tuple(expected.shape)}"
    assert ours.dtype == expected.dtype, f"dtype {ours.dtype} != {expected.dtype}"
    np.testing.assert_allclose(ours.numpy(), expected, **tol, err_msg="forward values")
    if not theirs.requires_grad:
        return
    grad_out = np.random.default_rng(seed + 100).standard_normal(expected.shape)
    grad_out = grad_out.astype(expected.dtype)
    ours.backward(bp.tensor(grad_out))
    theirs.backward(torch.tensor(grad_out))
    for position, (mine, reference) in enumerate(zip(bp_inputs, torch_inputs)):
        if not reference.requires_grad:
            continue
        expected_grad = np.zeros(reference.shape) if reference.grad is None else reference.grad
        assert mine.grad is not None, f"input {position}: no gradient"
        np.testing.assert_allclose(
            mine.grad.numpy(), np.asarray(expected_grad), **tol, err_msg=f"input {position} grad"
        )


# -- random shapes -------------------------------------------------------------------------------


def rshape(rng, ndim=None, high=4):
    ndim = int(rng.integers(1, 4)) if ndim is None else ndim
    return tuple(int(s) for s in rng.integers(1, high + 1, ndim))


def broadcastable(rng, base):
    """A shape that broadcasts to `base`: some leading axes dropped, some sizes set to 1."""
    kept = int(rng.integers(0, len(base) + 1))
    shape = list(base[len(base) - kept :])
    for i in range(len(shape)):
        if rng.random() < 0.4:
            shape[i] = 1
    return tuple(shape)


def pair(rng):
    """Two broadcast-compatible shapes, either side the smaller."""
    base = rshape(rng)
    small = broadcastable(rng, base)
    return (base, small) if rng.random() < 0.5 else (small, base)


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def unit(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def random_axes(rng, ndim):
    """None, one axis (maybe negative) or a tuple of axes."""
    choice = rng.integers(0, 3)
    if choice == 0:
        return None
    if choice == 1:
        return int(rng.integers(-ndim, ndim))
    count = int(rng.integers(1, ndim + 1))
    return tuple(int(a) for a in sorted(rng.choice(ndim, count, replace=False)))


# -- cases: each draws its shapes and parameters from rng, and returns (fn, inputs) ---------------

CASES = {}


def case(name):
    def register(make):
        CASES[name] = make
        return make

    return register


def _binary(name, fn, left=normal, right=normal):
    @case(name)
    def make(rng):
        sx, sy = pair(rng)
        return fn, [left(rng, sx), right(rng, sy)]


_binary("add", lambda L, x, y: x + y)
_binary("sub", lambda L, x, y: x - y)
_binary("mul", lambda L, x, y: x * y)
_binary("div", lambda L, x, y: x / y, right=positive)
_binary("pow", lambda L, x, y: x**y, left=positive)
_binary("maximum", lambda L, x, y: L.maximum(x, y))
_binary("minimum", lambda L, x, y: L.minimum(x, y))
_binary("where", lambda L, x, y: L.where((x * y).detach() > 0, x, y))


def _scalar(name, fn, data=normal):
    @case(name)
    def make(rng):
        return fn, [data(rng, rshape(rng))]


_scalar("add-scalar-both-orders", lambda L, x: (x + 1.5) * (2.5 + x))
_scalar("sub-scalar-both-orders", lambda L, x: (x - 1.5) * (0.5 - x))
_scalar("mul-scalar-both-orders", lambda L, x: x * 3.0 + -2.0 * x)
_scalar("div-scalar-both-orders", lambda L, x: x / 3.0 + 2.0 / x, data=positive)
_scalar("pow-scalar-both-orders", lambda L, x: x**1.5 + 1.7**x + x**-2, data=positive)
_scalar("pow-int-exponent", lambda L, x: x**3)
_scalar("neg", lambda L, x: -x)
_scalar("exp", lambda L, x: x.exp())
_scalar("log", lambda L, x: x.log(), data=positive)
_scalar("sqrt", lambda L, x: x.sqrt(), data=positive)
_scalar("abs", lambda L, x: x.abs())
_scalar("sin", lambda L, x: x.sin())
_scalar("cos", lambda L, x: x.cos())
_scalar("erf", lambda L, x: L.erf(x))
_scalar("clamp", lambda L, x: x.clamp(-0.5, 0.7))
_scalar("clamp-min", lambda L, x: x.clamp(min=0.2))
_scalar("clamp-max", lambda L, x: x.clamp(max=-0.1))
_scalar("where-scalar", lambda L, x: L.where(x.detach() > 0, x, x * x))
_scalar("softmax-last", lambda L, x: L.F.softmax(x, -1))
_scalar("log_softmax-first", lambda L, x: L.F.log_softmax(x, 0))
_scalar("flatten", lambda L, x: x.flatten())
# float32 products are correctly rounded in both frameworks, so float64 tolerances still hold
_scalar("to-float32-float64", lambda L, x: (x.float() * 3).double() + x.to(L.float32).double())


def _reduction(name, fn):
    @case(name)
    def make(rng):
        shape = rshape(rng)
        axes = random_axes(rng, len(shape))
        keepdims = bool(rng.integers(0, 2))
        return (lambda L, x: fn(L, x, axes, keepdims)), [normal(rng, shape)]


_reduction("sum", lambda L, x, a, k: x.sum(axis=a, keepdims=k))
_reduction("mean", lambda L, x, a, k: x.mean(axis=a, keepdims=k))
_reduction("max", lambda L, x, a, k: L.amax(x, axis=a, keepdims=k))
_reduction("min", lambda L, x, a, k: L.amin(x, axis=a, keepdims=k))


@case("var")
def _var(rng):
    shape = rshape(rng, ndim=int(rng.integers(1, 4)))
    shape = tuple(max(s, 2) for s in shape)  # at least 2 elements along every axis
    axes = random_axes(rng, len(shape))
    keepdims, correction = bool(rng.integers(0, 2)), int(rng.integers(0, 2))
    fn = lambda L, x: x.var(axis=axes, keepdims=keepdims, correction=correction)  # noqa: E731
    return fn, [normal(rng, shape)]


@case("matmul")
def _matmul(rng):
    m, k, n = (int(s) for s in rng.integers(1, 5, 3))
    batch = rshape(rng, ndim=int(rng.integers(0, 3)), high=3)
    a_batch, b_batch = broadcastable(rng, batch), broadcastable(rng, batch)
    return (lambda L, a, b: a @ b), [normal(rng, a_batch + (m, k)), normal(rng, b_batch + (k, n))]


@case("T")
def _transpose_2d(rng):
    return (lambda L, x: x.T * 1.0), [normal(rng, rshape(rng, ndim=2))]


@case("matmul-transposed-operands")
def _matmul_t(rng):
    m, k, n = (int(s) for s in rng.integers(1, 5, 3))
    return (lambda L, a, b: L.matmul(a.mT, b.T)), [normal(rng, (2, k, m)), normal(rng, (n, k))]


@case("reshape-permute-transpose")
def _movement(rng):
    shape = rshape(rng, ndim=3)
    perm = tuple(int(a) for a in rng.permutation(3))
    axis0, axis1 = (int(a) for a in rng.choice(3, 2, replace=False))

    def fn(L, x):
        return x.permute(*perm).reshape(shape[perm[0]], -1) * 2 + x.transpose(axis0, axis1).sum()

    return fn, [normal(rng, shape)]


@case("broadcast_to-squeeze-unsqueeze")
def _broadcast(rng):
    base = rshape(rng, ndim=3)
    small = broadcastable(rng, base)
    axis = int(rng.integers(0, len(small) + 1))

    def fn(L, x):
        return x.unsqueeze(axis).squeeze(axis).broadcast_to(base) * 1.5

    return fn, [normal(rng, small)]


@case("flatten-range")
def _flatten(rng):
    shape = rshape(rng, ndim=4, high=3)
    start = int(rng.integers(0, 3))
    return (lambda L, x: x.flatten(start, start + 1)), [normal(rng, shape)]


@case("getitem-basic")
def _getitem_basic(rng):
    rows, cols = (int(s) for s in rng.integers(2, 5, 2))
    i = int(rng.integers(-rows, rows))
    step = int(rng.integers(1, 3))

    def fn(L, x):
        return x[i] + x[::step, 1:].sum() + x[None, ..., -1].sum(axis=-1, keepdims=True)

    return fn, [normal(rng, (rows, cols))]


@case("getitem-integer-arrays-with-repeats")
def _getitem_array(rng):
    rows, cols = (int(s) for s in rng.integers(2, 5, 2))
    r = rng.integers(0, rows, 5)
    c = rng.integers(0, cols, 5)
    return (lambda L, x: x[r] * 2 + x[r, c].sum() + x[:, c].mean()), [normal(rng, (rows, cols))]


@case("getitem-bool-mask")
def _getitem_mask(rng):
    shape = rshape(rng, ndim=2)
    mask = rng.random(shape[0]) < 0.6
    return (lambda L, x: x[x.detach() > 0].sum() + x[mask] * 3), [normal(rng, shape)]


@case("gather")
def _gather(rng):
    rows, cols = (int(s) for s in rng.integers(1, 5, 2))
    axis = int(rng.integers(0, 2))
    size = (rows, cols)[axis]
    index = rng.integers(0, size, (rows, cols))
    return (lambda L, x, i: L.gather(x, axis, i)), [normal(rng, (rows, cols)), index]


@case("scatter_add")
def _scatter_add(rng):
    rows, cols = (int(s) for s in rng.integers(1, 5, 2))
    index = rng.integers(0, cols, (rows, cols))
    fn = lambda L, x, i, s: L.scatter_add(x, 1, i, s)  # noqa: E731
    return fn, [normal(rng, (rows, cols)), index, normal(rng, (rows, cols))]


@case("concatenate-stack")
def _join(rng):
    shape = rshape(rng, ndim=2)
    axis = int(rng.integers(0, 2))
    other = tuple(s + 1 if i == axis else s for i, s in enumerate(shape))
    stack_axis = int(rng.integers(0, 3))

    def fn(L, x, y, z):
        return L.cat([x, y], axis).sum() + L.stack([x, z, x], stack_axis)

    return fn, [normal(rng, shape), normal(rng, other), normal(rng, shape)]


@case("unbind")
def _unbind(rng):
    shape = rshape(rng, ndim=3)
    axis = int(rng.integers(-3, 3))

    def fn(L, x):
        slices = L.unbind(x, axis)
        return sum(((i + 1) * s * s).sum() for i, s in enumerate(slices[:-1])) + slices[-1]

    return fn, [normal(rng, shape)]


ALPHAS = {"leaky_relu": [0.01, 0.3], "softplus": [1.0, 2.5], "elu": [1.0, 0.3]}


def _activation(kind, alpha):
    @case(f"act-{kind}-{alpha}")
    def make(rng):
        fn = lambda L, x: L.act(x, kind, alpha)  # noqa: E731
        return fn, [normal(rng, rshape(rng)) * 3]

    @case(f"bias_act-{kind}-{alpha}")
    def make_bias(rng):
        shape = rshape(rng, ndim=int(rng.integers(1, 4)))
        fn = lambda L, x, b: L.bias_act(x, b, kind, alpha)  # noqa: E731
        return fn, [normal(rng, shape) * 2, normal(rng, shape[-1:])]


for _kind in ACTIVATIONS:
    for _alpha in ALPHAS.get(_kind, [None]):
        _activation(_kind, _alpha)


@case("linear-with-activation")
def _linear(rng):
    batch, inner, out = (int(s) for s in rng.integers(1, 5, 3))
    kind = str(rng.choice(["relu", "tanh", "gelu", "sigmoid", "silu"]))
    fn = lambda L, x, w, b: L.linear_act(x, w, b, kind)  # noqa: E731
    return fn, [normal(rng, (batch, inner)), normal(rng, (out, inner)), normal(rng, (out,))]


@case("linear")
def _linear_plain(rng):
    batch, inner, out = (int(s) for s in rng.integers(1, 5, 3))
    fn = lambda L, x, w, b: L.F.linear(x, w, b)  # noqa: E731
    return fn, [normal(rng, (2, batch, inner)), normal(rng, (out, inner)), normal(rng, (out,))]


def _classification(rng):
    n, classes = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    return normal(rng, (n, classes)) * 2, rng.integers(0, classes, n)


for _reduction_name in ("mean", "sum", "none"):
    for _smoothing in (0.0, 0.15):

        @case(f"cross_entropy-{_reduction_name}-smoothing{_smoothing}")
        def _ce(rng, r=_reduction_name, s=_smoothing):
            fn = lambda L, x, t: L.F.cross_entropy(x, t, reduction=r, label_smoothing=s)  # noqa: E731
            return fn, list(_classification(rng))

    @case(f"nll_loss-{_reduction_name}")
    def _nll(rng, r=_reduction_name):
        fn = lambda L, x, t: L.F.nll_loss(L.F.log_softmax(x, 1), t, reduction=r)  # noqa: E731
        return fn, list(_classification(rng))

    @case(f"mse_l1-{_reduction_name}")
    def _regression(rng, r=_reduction_name):
        shape = rshape(rng)

        def fn(L, x, t):
            return L.F.mse_loss(x, t, reduction=r) + L.F.l1_loss(x, t, reduction=r)

        return fn, [normal(rng, shape), normal(rng, shape)]

    @case(f"binary_cross_entropy-{_reduction_name}")
    def _bce(rng, r=_reduction_name):
        shape = rshape(rng)
        fn = lambda L, p, t: L.F.binary_cross_entropy(p, t, reduction=r)  # noqa: E731
        return fn, [unit(rng, shape), unit(rng, shape)]

    @case(f"binary_cross_entropy_with_logits-{_reduction_name}")
    def _bcel(rng, r=_reduction_name):
        shape = rshape(rng)
        logits = normal(rng, shape) * 4
        logits.flat[0] = 0.0  # the gradient at exactly 0 is sigmoid(0) - t
        fn = lambda L, x, t: L.F.binary_cross_entropy_with_logits(x, t, reduction=r)  # noqa: E731
        return fn, [logits, unit(rng, shape)]


@case("composition-mlp-step")
def _mlp(rng):
    n, inner, hidden, classes = (int(s) for s in rng.integers(2, 5, 4))

    def fn(L, x, w1, b1, w2, b2, t):
        h = L.linear_act(x.T.T, w1, b1, "tanh")
        return L.F.cross_entropy(L.F.linear(h, w2, b2), t, label_smoothing=0.1)

    inputs = [normal(rng, (n, inner)), normal(rng, (hidden, inner)), normal(rng, (hidden,))]
    inputs += [normal(rng, (classes, hidden)), normal(rng, (classes,))]
    return fn, inputs + [rng.integers(0, classes, n)]


@case("composition-layer-norm-attention")
def _attention(rng):
    seq, dim = (int(s) for s in rng.integers(2, 5, 2))

    def fn(L, q, k, v):
        scores = L.F.softmax(q @ k.mT / dim**0.5, -1) @ v
        centred = scores - scores.mean(axis=-1, keepdims=True)
        return centred / (centred.var(axis=-1, keepdims=True, correction=0) + 1e-5).sqrt()

    return fn, [normal(rng, (2, seq, dim)) for _ in range(3)]


@case("composition-strided-and-reused")
def _strided(rng):
    rows, cols = (int(s) for s in rng.integers(2, 6, 2))

    def fn(L, x, y):
        return (x[::2, ::2].exp() * y[:, :1]).sum(axis=0) + x.T[0].sin().sum() * x[0, 0]

    return fn, [normal(rng, (rows, cols)), normal(rng, ((rows + 1) // 2, cols))]


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_float64(name, seed):
    fn, inputs = CASES[name](np.random.default_rng(seed))
    compare(fn, inputs, "float64", seed)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_float32(name):
    fn, inputs = CASES[name](np.random.default_rng(10))
    compare(fn, inputs, "float32", 10)


def test_compare_helper_catches_a_difference():
    """The oracle is not vacuous: a deliberate mismatch fails."""
    with pytest.raises(AssertionError):
        compare(lambda L, x: x * 2.0 if L is BP else x * 2.0001, [np.ones((2, 2))])
    with pytest.raises(AssertionError):
        compare(lambda L, x: x.exp() if L is BP else x.exp().detach() + x - x.detach(), [[1.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_at_saturated_probabilities_has_pytorchs_finite_gradient(dtype):
    """sigmoid(±40) is exactly 1 or 0 in float32: log is clamped at -100 and nothing is NaN."""

    def fn(L, logits, target):
        return L.F.binary_cross_entropy(logits.sigmoid(), target)

    compare(fn, [np.array([40.0, -40.0, 0.3, 40.0]), Const([1.0, 0.0, 0.5, 0.0])], dtype)
