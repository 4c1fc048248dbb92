"""PyTorch's everyday Tensor methods and the `inplace=` option of layers and functions.

`inplace=True` on the activation and dropout functions and layers gives PyTorch's outputs and
gradients: where autograd is involved the result is computed out of place and the input is left
as it was (backprop does not record in-place ops in the graph); under `no_grad`, or with nothing
requiring grad, the result is written into the input, which is returned. Layer reprs show
`inplace=True` as PyTorch's do. The Tensor methods (t, add/sub/mul/div with their options,
narrow, movedim, scatter, index_add, diff, isclose, new_zeros, ...) and the module-level
functions (movedim, narrow, allclose, isclose, equal, count_nonzero, diff, addcmul, addcdiv,
std_mean, var_mean) give PyTorch's values and, where differentiable, gradients (float64, rtol
1e-10), pass `gradcheck`, and run on every backend. The in-place unary methods (relu_, exp_,
...) follow `add_`'s rules."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _compare(fn, shapes, seed=0, rtol=None):
    """Runs `fn(L, *inputs)` with L backprop and torch on the same float64 inputs (leaves that
    require grad) and compares every output and, for a random output gradient, every input's
    gradient (to `rtol`, 1e-10 by default)."""
    arrays = [randn(shape, seed + i) for i, shape in enumerate(shapes)]
    ours = [bp.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, expected = _as_tuple(fn(bp, *ours)), _as_tuple(fn(torch, *theirs))
    assert len(outs) == len(expected)
    loss, reference_loss = 0, 0
    for i, (out, reference) in enumerate(zip(outs, expected)):
        assert_close(out.numpy(), reference.detach().numpy(), err_msg=f"output {i}")
        grad = randn(out.shape, seed=7 + i)
        loss = loss + (out * bp.tensor(grad, dtype="float64")).sum()
        reference_loss = reference_loss + (reference * torch.tensor(grad)).sum()
    loss.backward()
    reference_loss.backward()
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        expected_grad = np.zeros(mine.shape) if reference.grad is None else reference.grad.numpy()
        got = np.zeros(mine.shape) if mine.grad is None else mine.grad.numpy()
        assert_close(got, expected_grad, "float64", rtol=rtol, err_msg=f"input {i} grad")


# -- the inplace= option --------------------------------------------------------------------------

# (id, fn(F, x, inplace)) for both frameworks' functional modules.
INPLACE_FUNCTIONS = [
    ("relu", lambda F, x, inplace: F.relu(x, inplace=inplace)),
    ("relu6", lambda F, x, inplace: F.relu6(x, inplace)),
    ("leaky_relu", lambda F, x, inplace: F.leaky_relu(x, 0.2, inplace)),
    ("elu", lambda F, x, inplace: F.elu(x, 0.7, inplace=inplace)),
    ("celu", lambda F, x, inplace: F.celu(x, 0.5, inplace)),
    ("selu", lambda F, x, inplace: F.selu(x, inplace)),
    ("silu", lambda F, x, inplace: F.silu(x, inplace=inplace)),
    ("mish", lambda F, x, inplace: F.mish(x, inplace=inplace)),
    ("hardtanh", lambda F, x, inplace: F.hardtanh(x, -0.5, 0.6, inplace)),
    ("hardswish", lambda F, x, inplace: F.hardswish(x, inplace)),
    ("hardsigmoid", lambda F, x, inplace: F.hardsigmoid(x, inplace=inplace)),
    ("threshold", lambda F, x, inplace: F.threshold(x, 0.1, -2.0, inplace)),
    ("dropout in evaluation", lambda F, x, inplace: F.dropout(x, 0.3, False, inplace)),
    ("alpha_dropout in evaluation", lambda F, x, inplace: F.alpha_dropout(x, 0.3, False, inplace)),
]
INPLACE_IDS = [name for name, _ in INPLACE_FUNCTIONS]
INPLACE_FNS = [fn for _, fn in INPLACE_FUNCTIONS]


@pytest.mark.parametrize("fn", INPLACE_FNS, ids=INPLACE_IDS)
def test_inplace_true_gives_torchs_outputs_and_gradients_and_leaves_a_graph_input_untouched(fn):
    before = randn((3, 4), 1)
    ours = {}

    def run(L, x):
        y = x * 1.0  # a tensor of the graph, which torch writes into and backprop does not
        out = fn(F if L is bp else TF, y, True)
        ours.setdefault("y", y) if L is bp else None
        return out

    # torch's hardsigmoid gradient is 1/6 rounded to float32, even in float64
    _compare(run, [(3, 4)], seed=1, rtol=1e-7 if fn is INPLACE_FNS[10] else None)
    assert_close(ours["y"].numpy(), before)


@pytest.mark.parametrize("fn", INPLACE_FNS, ids=INPLACE_IDS)
def test_under_no_grad_inplace_true_overwrites_the_input_and_returns_it(fn):
    x = bp.tensor(randn((3, 4), 2), dtype="float64", requires_grad=True)
    alias = x.detach()
    with bp.no_grad():
        out = fn(F, x, True)
    expected = fn(TF, torch.tensor(randn((3, 4), 2)), False).numpy()
    assert out is x
    assert_close(alias.numpy(), expected)


@pytest.mark.parametrize("fn", INPLACE_FNS, ids=INPLACE_IDS)
def test_with_nothing_requiring_grad_inplace_true_overwrites_the_input(fn):
    x = bp.tensor(randn((2, 3), 3), dtype="float64")
    out = fn(F, x, True)
    assert out is x
    assert_close(x.numpy(), fn(TF, torch.tensor(randn((2, 3), 3)), False).numpy())


def test_inplace_false_never_changes_the_input():
    x = bp.tensor(randn((2, 3), 4), dtype="float64")
    out = F.relu(x)
    assert out is not x
    assert_close(x.numpy(), randn((2, 3), 4))


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: F.elu(t * 1.0, 0.5, inplace=True),
        lambda t: F.celu(t * 2.0, 0.7, True),
        lambda t: F.silu(t + 0.0, inplace=True),
    ],
    ids=["elu", "celu", "silu"],
)
def test_inplace_true_passes_gradcheck_and_gradgradcheck(fn):
    x = bp.tensor(randn((2, 3), 5), dtype="float64", requires_grad=True)
    assert bp.gradcheck(fn, x)
    assert bp.gradgradcheck(fn, x)


def test_training_dropout_inplace_draws_the_same_mask_and_writes_under_no_grad():
    data = randn((4, 5), 6)
    x = bp.tensor(data, dtype="float64")
    expected = F.dropout(x, 0.4, generator=np.random.default_rng(0)).numpy()
    assert_close(x.numpy(), data)
    for function in (F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout):
        x = bp.tensor(data[None], dtype="float64", requires_grad=True)
        y = x * 1.0
        out = function(y, 0.4, True, True, generator=np.random.default_rng(0))
        assert out is not y
        assert_close(y.numpy(), data[None])
        with bp.no_grad():
            reference = function(x, 0.4, True, generator=np.random.default_rng(0)).numpy()
            assert function(x, 0.4, True, True, generator=np.random.default_rng(0)) is x
        assert_close(x.numpy(), reference)
    x = bp.tensor(data, dtype="float64")
    assert F.dropout(x, 0.4, inplace=True, generator=np.random.default_rng(0)) is x
    assert_close(x.numpy(), expected)


LAYERS = [
    lambda m: m.ReLU(inplace=True),
    lambda m: m.ReLU6(inplace=True),
    lambda m: m.LeakyReLU(0.2, inplace=True),
    lambda m: m.ELU(0.5, True),
    lambda m: m.CELU(0.5, inplace=True),
    lambda m: m.SELU(inplace=True),
    lambda m: m.SiLU(True),
    lambda m: m.Mish(inplace=True),
    lambda m: m.Hardtanh(-0.5, 0.5, True),
    lambda m: m.Hardswish(inplace=True),
    lambda m: m.Hardsigmoid(inplace=True),
    lambda m: m.Threshold(0.1, 20.0, inplace=True),
    lambda m: m.Dropout(0.2, inplace=True),
    lambda m: m.Dropout1d(0.2, inplace=True),
    lambda m: m.Dropout2d(p=0.2, inplace=True),
    lambda m: m.AlphaDropout(0.2, True),
]
LAYER_IDS = [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "CELU",
    "SELU",
    "SiLU",
    "Mish",
    "Hardtanh",
    "Hardswish",
    "Hardsigmoid",
    "Threshold",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "AlphaDropout",
]


@pytest.mark.parametrize("make", LAYERS, ids=LAYER_IDS)
def test_layers_take_inplace_and_show_it_in_their_repr_as_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert ours.inplace is True
    assert repr(ours) == repr(theirs)


# Hardsigmoid is left out: torch's gradient of it is 1/6 rounded to float32, even in float64.
@pytest.mark.parametrize("make", LAYERS[:10] + LAYERS[11:12], ids=LAYER_IDS[:10] + LAYER_IDS[11:12])
def test_activation_layers_with_inplace_match_torch_in_a_model(make):
    ours = nn.Sequential(nn.Linear(3, 4), make(nn), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), make(torch.nn), torch.nn.Linear(4, 2))
    from torch_oracle import compare_layer

    compare_layer(ours, theirs, (5, 3))


def test_default_reprs_match_torch_but_dropout_leaves_out_inplace_false():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU6()) == repr(torch.nn.ReLU6())
    assert repr(nn.LeakyReLU()) == repr(torch.nn.LeakyReLU())
    assert repr(nn.Hardtanh(-2.0, 1.0)) == repr(torch.nn.Hardtanh(-2.0, 1.0))
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1, inplace=False)"


def test_dropout_layers_with_inplace_overwrite_the_input_in_evaluation_and_under_no_grad():
    layer = nn.Dropout(0.5, inplace=True).eval()
    x = bp.ones(2, 3)
    assert layer(x) is x
    layer.train()
    with bp.no_grad():
        assert layer(x) is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_inplace_must_be_a_bool():
    with pytest.raises(TypeError, match=r"relu: inplace must be a bool, got 'yes'"):
        F.relu(bp.ones(2), inplace="yes")
    with pytest.raises(TypeError, match=r"dropout: inplace must be a bool, got 1"):
        F.dropout(bp.ones(2), 0.5, False, 1)
    with pytest.raises(TypeError, match=r"ReLU: inplace must be a bool, got 1"):
        nn.ReLU(inplace=1)
    with pytest.raises(TypeError, match=r"Dropout2d: inplace must be a bool, got None"):
        nn.Dropout2d(inplace=None)


def test_inplace_into_a_broadcast_view_is_refused_as_in_torch():
    with pytest.raises(RuntimeError, match=r"relu: the tensor of shape \(2, 3\) is a broadcast"):
        F.relu(bp.ones(3).expand(2, 3), inplace=True)


# -- Tensor methods and module-level functions against torch ------------------------------------

DIFFERENTIABLE = [
    ("t", lambda L, x: x.t(), [(3, 4)]),
    ("t of a vector", lambda L, x: x.t() * 2, [(3,)]),
    ("add with alpha", lambda L, x, y: x.add(y, alpha=2.5), [(3, 4), (4,)]),
    ("sub with alpha", lambda L, x, y: x.sub(y, alpha=-1.5), [(3, 4), (3, 1)]),
    ("mul", lambda L, x, y: x.mul(y), [(3, 4), (4,)]),
    ("div", lambda L, x, y: x.div(y.abs() + 0.5), [(3, 4), (4,)]),
    ("neg", lambda L, x: x.neg(), [(2, 3)]),
    ("positive", lambda L, x: x.positive() * 2, [(2, 3)]),
    ("sgn", lambda L, x: x.sgn() * x, [(2, 3)]),
    ("addcmul", lambda L, x, a, b: x.addcmul(a, b, value=0.5), [(3, 4), (3, 1), (4,)]),
    ("addcdiv", lambda L, x, a, b: x.addcdiv(a, b.abs() + 1, value=-2), [(3, 4), (3, 4), (4,)]),
    ("module addcmul", lambda L, x, a, b: L.addcmul(x, a, b, value=3), [(2, 3), (2, 3), (3,)]),
    ("module addcdiv", lambda L, x, a, b: L.addcdiv(x, a, b.exp()), [(2, 3), (2, 3), (2, 3)]),
    ("where", lambda L, x, y: x.where(x > 0, y), [(3, 4), (4,)]),
    ("narrow", lambda L, x: x.narrow(1, 1, 2), [(3, 4)]),
    (
        "narrow, dim keyword, negative start",
        lambda L, x: x.narrow(dim=0, start=-2, length=2),
        [(3, 4)],
    ),
    ("module narrow", lambda L, x: L.narrow(x, 1, 0, 3), [(3, 4)]),
    ("unbind", lambda L, x: L.stack(x.unbind(dim=1), 0), [(3, 4)]),
    ("movedim", lambda L, x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    ("module movedim", lambda L, x: L.movedim(x, -1, 0), [(2, 3, 4)]),
    ("moveaxis", lambda L, x: x.moveaxis(0, -1), [(2, 3, 4)]),
    ("swapaxes", lambda L, x: x.swapaxes(0, 2), [(2, 3, 4)]),
    ("swapdims", lambda L, x: x.swapdims(dim0=1, dim1=0), [(2, 3, 4)]),
    ("reshape_as", lambda L, x, y: x.reshape_as(y) * y, [(2, 6), (3, 4)]),
    (
        "scatter_add",
        lambda L, x, s: x.scatter_add(1, L.tensor([[0, 2], [1, 1], [3, 0]]), s),
        [(3, 4), (3, 2)],
    ),
    (
        "scatter",
        lambda L, x, s: x.scatter(1, L.tensor([[0, 2], [1, 3], [3, 0]]), s),
        [(3, 4), (3, 2)],
    ),
    ("scatter value", lambda L, x: x.scatter(0, L.tensor([[2, 0, 1, 2]]), value=2.5), [(3, 4)]),
    ("scatter number", lambda L, x: x.scatter(0, L.tensor([[1, 0]]), -1.0), [(3, 4)]),
    (
        "index_add",
        lambda L, x, s: x.index_add(0, L.tensor([2, 0, 2]), s, alpha=1.5),
        [(3, 4), (3, 4)],
    ),
    (
        "index_add, keywords",
        lambda L, x, s: x.index_add(dim=1, index=L.tensor([1]), source=s),
        [(3, 4), (3, 1)],
    ),
    ("index_fill", lambda L, x: x.index_fill(1, L.tensor([0, 3]), -1.5), [(3, 4)]),
    (
        "index_fill with a tensor value",
        lambda L, x, v: x.index_fill(0, L.tensor([1]), v.sum()),
        [(3, 4), (2,)],
    ),
    ("diff", lambda L, x: x.diff(), [(3, 4)]),
    ("diff n=2 along dim 0", lambda L, x: x.diff(n=2, dim=0), [(4, 3)]),
    (
        "module diff with prepend and append",
        lambda L, x, p, a: L.diff(x, dim=1, prepend=p, append=a),
        [(3, 4), (3, 1), (3, 2)],
    ),
    ("diff of order past the size", lambda L, x: x.diff(n=5), [(3, 4)]),
    ("std_mean", lambda L, x: L.std_mean(x, 1), [(3, 4)]),
    ("std_mean of all", lambda L, x: L.std_mean(x), [(3, 4)]),
    (
        "var_mean keepdim correction",
        lambda L, x: L.var_mean(x, dim=0, correction=0, keepdim=True),
        [(3, 4)],
    ),
    ("var_mean positional unbiased", lambda L, x: L.var_mean(x, 1, False), [(3, 4)]),
]


@pytest.mark.parametrize(
    "fn, shapes", [case[1:] for case in DIFFERENTIABLE], ids=[case[0] for case in DIFFERENTIABLE]
)
def test_values_and_gradients_match_torch(fn, shapes):
    _compare(fn, shapes)


@pytest.mark.parametrize(
    "fn, shapes", [case[1:] for case in DIFFERENTIABLE], ids=[case[0] for case in DIFFERENTIABLE]
)
def test_gradcheck(fn, shapes):
    inputs = [
        bp.tensor(randn(shape, 10 + i), dtype="float64", requires_grad=True)
        for i, shape in enumerate(shapes)
    ]
    assert bp.gradcheck(lambda *xs: fn(bp, *xs), *inputs)


@pytest.mark.parametrize("name", ["addcdiv", "movedim", "scatter", "index_add", "diff", "std_mean"])
def test_gradgradcheck(name):
    fn, shapes = next(case[1:] for case in DIFFERENTIABLE if case[0] == name)
    inputs = [
        bp.tensor(randn(shape, 20 + i), dtype="float64", requires_grad=True)
        for i, shape in enumerate(shapes)
    ]
    assert bp.gradgradcheck(lambda *xs: fn(bp, *xs), *inputs)


def test_methods_take_a_permuted_non_contiguous_view():
    _compare(lambda L, x: x.permute(1, 0).narrow(0, 1, 2).diff().movedim(0, 1), [(3, 4)])
    _compare(lambda L, x, s: x.permute(1, 0).index_add(0, L.tensor([0, 2]), s), [(3, 4), (2, 3)])


def test_edge_shapes_size_one_and_empty_axes():
    _compare(lambda L, x: x.narrow(0, 0, 0), [(1, 3)])
    _compare(lambda L, x: x.diff(dim=0), [(1, 3)])
    _compare(lambda L, x: x.movedim(0, 1), [(0, 3)])
    _compare(lambda L, x: x.t(), [(1, 1)])


def test_scatter_takes_a_src_larger_than_index_and_reads_its_leading_block():
    data, src = randn((3, 4), 1), randn((3, 3), 2)
    index = [[0, 2], [1, 3], [3, 0]]
    ours = bp.tensor(data).scatter(1, bp.tensor(index), bp.tensor(src))
    theirs = torch.tensor(data).scatter(1, torch.tensor(index), torch.tensor(src))
    assert_close(ours.numpy(), theirs.numpy())


def test_float32_inputs_keep_their_dtype():
    x = bp.tensor(randn((3, 4), 1), dtype="float32")
    for out in (x.narrow(0, 1, 1), x.diff(), x.addcmul(x, x), x.index_fill(0, bp.tensor([0]), 2)):
        assert out.dtype == np.float32


# -- values of the methods without gradients -----------------------------------------------------


def _same(ours, theirs):
    """Equal values and dtypes of a backprop and a torch tensor."""
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda L, T: T([7.0, -7.0, 5.5]).div(T([2.0, 2.0, -2.0]), rounding_mode="floor"),
        lambda L, T: T([7, -7, 5]).div(T([2, 2, -2]), rounding_mode="trunc"),
        lambda L, T: T([1, 2]).add(T([3, 4]), alpha=2),
        lambda L, T: T([[0.0, 1.5], [-2.0, 0.0]]).int(),
        lambda L, T: T([[0.0, 1.5], [-2.0, 0.0]]).bool(),
        lambda L, T: T([[0, 1, 2], [0, 0, 3]]).count_nonzero(),
        lambda L, T: T([[0, 1, 2], [0, 0, 3]]).count_nonzero(dim=0),
        lambda L, T: L.count_nonzero(T([[0.0, 1.0], [2.0, 0.0]]), (0, 1)),
        lambda L, T: T([True, False, False, True]).diff(),
        lambda L, T: T([1, 4, 9, 16]).diff(n=2),
        lambda L, T: T([1.0, float("nan"), float("inf"), 2.0]).isclose(
            T([1.0 + 1e-9, float("nan"), float("inf"), 2.1])
        ),
        lambda L, T: L.isclose(T([float("nan"), 1.0]), T([float("nan"), 1.5]), equal_nan=True),
        lambda L, T: T([1.0, 2.0]).isclose(T([1.1, 2.5]), rtol=0.0, atol=0.2),
        lambda L, T: T([1, 2, 3]).isclose(T([1, 3, 3])),
        lambda L, T: T([[1, 2], [3, 4]]).scatter(1, T([[1], [0]]), 9),
        lambda L, T: T([[1, 2], [3, 4]]).index_fill(0, T([1]), -1),
        lambda L, T: T([3.0, -2.0]).neg_(),
        lambda L, T: T([-3.0, 0.5]).clamp_min_(0.0),
        lambda L, T: T([-3.0, 0.5]).clamp_max_(0.0),
    ],
)
def test_values_and_dtypes_match_torch(fn):
    _same(fn(bp, bp.tensor), fn(torch, torch.tensor))


def test_allclose_and_equal_give_python_bools_as_torch():
    x = bp.tensor([1.0, 2.0, float("nan")])
    for L, T in ((bp, bp.tensor), (torch, torch.tensor)):
        a, b = T([1.0, 2.0, 3.0]), T([1.0 + 1e-7, 2.0, 3.0])
        results = (a.allclose(b), L.allclose(a, b, rtol=0, atol=0), a.equal(b), L.equal(a, a))
        assert results == (True, False, False, True)
        assert L.equal(T([1, 2]), T([1.0, 2.0])) is True
        assert L.equal(T([1, 2]), T([1, 2, 3])) is False
    assert x.allclose(x, equal_nan=True) is True
    assert x.allclose(x) is False
    assert x.equal(x) is False


def test_metadata_queries_match_torch():
    for T in (bp.tensor, torch.tensor):
        x = T(np.zeros((2, 3), dtype=np.float32))
        y = T(np.zeros((4,), dtype=np.int64))
        assert (x.dim(), x.ndimension(), x.nelement(), x.element_size()) == (2, 2, 6, 4)
        assert (x.itemsize, x.nbytes, y.itemsize, y.nbytes, x.is_cuda) == (4, 24, 8, 32, False)
        assert x.is_contiguous() is True


def test_is_contiguous_is_true_for_every_tensor_as_contiguous_returns_the_tensor_itself():
    x = bp.tensor(randn((3, 4), 0)).permute(1, 0)
    assert x.is_contiguous() is True
    assert x.contiguous() is x


def test_grad_fn_is_the_function_that_made_the_tensor_and_none_for_leaves():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.grad_fn is None
    assert y.grad_fn is y._creator and y.grad_fn.name == "mul"
    assert bp.tensor([1.0]).exp().grad_fn is None
    with bp.no_grad():
        assert (x * 2).grad_fn is None


def test_new_factories_take_the_dtype_and_device_of_self_unless_given():
    x = bp.tensor([1, 2], dtype="int32")
    for made, shape in (
        (x.new_zeros(2, 3), (2, 3)),
        (x.new_ones((3,)), (3,)),
        (x.new_empty([1, 2]), (1, 2)),
        (x.new_full((2,), 7), (2,)),
        (x.new_tensor([1.5, 2.5]), (2,)),
    ):
        assert made.dtype == np.int32 and made.shape == shape and made.device == x.device
    np.testing.assert_array_equal(x.new_full((2,), 7).numpy(), [7, 7])
    np.testing.assert_array_equal(x.new_tensor([1.5, 2.5]).numpy(), [1, 2])
    np.testing.assert_array_equal(torch.tensor([1, 2]).new_tensor([1.5, 2.5]).numpy(), [1, 2])
    made = x.new_zeros(2, dtype="float64", requires_grad=True)
    assert made.dtype == np.float64 and made.requires_grad
    source = bp.tensor([1.0, 2.0], requires_grad=True)
    copy = source.new_tensor(source)
    assert not copy.requires_grad and copy.is_leaf
    copy.fill_(0.0)
    np.testing.assert_array_equal(source.detach().numpy(), [1.0, 2.0])


# -- in-place unary methods ----------------------------------------------------------------------

UNARY_INPLACE = ["relu_", "sigmoid_", "tanh_", "exp_", "log_", "sqrt_", "abs_", "neg_"]


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_inplace_unary_methods_write_torchs_values_into_the_tensor(name):
    data = randn((2, 3), 3, low=0.2, high=2.0) * np.array([1, -1, 1])
    if name in ("log_", "sqrt_"):
        data = np.abs(data)
    x = bp.tensor(data, dtype="float64")
    alias = x.reshape(-1)
    assert getattr(x, name)() is x
    expected = getattr(torch.tensor(data), name)().numpy()
    assert_close(x.numpy(), expected)
    assert_close(alias.numpy(), expected.reshape(-1))


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_inplace_unary_methods_follow_add_s_rules_for_autograd(name):
    leaf = bp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{name}: a leaf tensor that requires grad"):
        getattr(leaf, name)()
    with pytest.raises(RuntimeError, match=rf"{name}: this tensor .* was made by mul"):
        getattr(leaf * 1.0, name)()
    with bp.no_grad():
        getattr(leaf, name)()


def test_clamp_min_and_clamp_max_in_place_check_their_bound():
    x = bp.tensor([-1.0, 3.0])
    assert x.clamp_min_(0.0) is x and x.clamp_max_(2.0) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    with pytest.raises(TypeError, match=r"clamp_min_: min must be a number, got str"):
        x.clamp_min_("0")
    with pytest.raises(RuntimeError, match=r"clamp_max_: the float max=0.5 cannot be written"):
        bp.tensor([1, 2]).clamp_max_(0.5)


def test_an_integer_tensor_cannot_take_exp_or_sqrt_in_place_as_in_torch():
    with pytest.raises(TypeError, match=r"exp: expected a float32 or float64 tensor, got int64"):
        bp.tensor([1, 2]).exp_()
    with pytest.raises(TypeError, match=r"sqrt: expected a float32 or float64 tensor, got int64"):
        bp.tensor([1, 2]).sqrt_()


# -- errors --------------------------------------------------------------------------------------

X = bp.tensor(randn((3, 4), 0))
INDEX = bp.tensor([0, 2])

ERRORS = [
    (lambda: bp.zeros(2, 3, 4).t(), ValueError, r"t: expects a tensor of at most 2 dimensions"),
    (lambda: X.narrow(1, 2, 3), ValueError, r"narrow: start \(2\) \+ length \(3\) exceeds"),
    (lambda: X.narrow(1, -5, 1), IndexError, r"narrow: start -5 is out of range \[-4, 4\]"),
    (lambda: X.narrow(1, 0, -1), ValueError, r"narrow: length must be non-negative, got -1"),
    (lambda: X.narrow(1, 0.5, 1), TypeError, r"narrow: start and length must be ints"),
    (lambda: bp.tensor(1.0).narrow(0, 0, 1), ValueError, r"narrow: a 0-d tensor has no axis"),
    (lambda: X.narrow(2, 0, 1), IndexError, r"narrow: axis 2 is out of range"),
    (lambda: X.movedim((0, 1), (1,)), ValueError, r"movedim: source \(0, 1\) and destination"),
    (lambda: X.movedim((0, 0), (1, 0)), ValueError, r"movedim: repeated axis in source"),
    (lambda: X.movedim("a", 0), TypeError, r"movedim: source must be an int or a sequence"),
    (lambda: X.movedim(0, 5), IndexError, r"movedim: axis 5 is out of range"),
    (lambda: X.reshape_as([1]), TypeError, r"reshape_as: other must be a Tensor, got list"),
    (lambda: X.reshape_as(bp.ones(5)), ValueError, r"reshape_as: cannot reshape a tensor"),
    (lambda: bp.tensor([True]).positive(), TypeError, r"positive: the unary \+ of a bool"),
    (lambda: bp.tensor(1.0).diff(), ValueError, r"diff: expects a tensor of at least one"),
    (lambda: X.diff(n=-1), ValueError, r"diff: n \(the order\) must be a non-negative int"),
    (lambda: X.diff(prepend=bp.ones(3)), ValueError, r"diff: prepend must be a Tensor of the"),
    (lambda: X.addcmul(X, [1]), TypeError, r"addcmul: tensor2 must be a Tensor, got list"),
    (lambda: X.addcmul(X, X, value="2"), TypeError, r"addcmul: value must be a number"),
    (lambda: X.addcmul(X, bp.ones(5)), ValueError, r"addcmul: shapes .* cannot be broadcast"),
    (
        lambda: bp.tensor([1]).addcdiv(bp.tensor([1]), bp.tensor([2])),
        TypeError,
        r"addcdiv: tensor1 and tensor2 must not both be integer",
    ),
    (
        lambda: bp.tensor([1]).addcmul(bp.tensor([1]), bp.tensor([2]), value=0.5),
        TypeError,
        r"addcmul: value must not be a float for integer tensors",
    ),
    (lambda: X.isclose(X.float()), TypeError, r"isclose: both tensors must have one dtype"),
    (
        lambda: X.allclose(bp.ones(5, dtype="float64")),
        ValueError,
        r"isclose: shapes .* cannot be broadcast",
    ),
    (lambda: X.isclose(X, rtol=-1.0), ValueError, r"isclose: rtol must be non-negative"),
    (lambda: X.isclose(1.0), TypeError, r"isclose: other must be a Tensor, got float"),
    (lambda: X.equal(None), TypeError, r"equal: other must be a Tensor, got NoneType"),
    (lambda: X.count_nonzero(dim=3), IndexError, r"count_nonzero: axis 3 is out of range"),
    (lambda: X.index_add(0, bp.tensor([[0]]), X), ValueError, r"index_add: index must be 0-d"),
    (lambda: X.index_add(0, INDEX, X), ValueError, r"index_add: source must have shape \(2, 4\)"),
    (lambda: X.index_add(0, INDEX, X[:2].float()), TypeError, r"index_add: source dtype"),
    (lambda: X.index_add(0, INDEX, X[:2], alpha="a"), TypeError, r"index_add: alpha must be"),
    (lambda: X.index_fill(1, bp.tensor([0.0]), 1.0), TypeError, r"index_fill: index must be an"),
    (lambda: X.index_fill(1, INDEX, bp.ones(2)), ValueError, r"index_fill: value must be a num"),
    (lambda: bp.tensor(1.0).index_fill(0, INDEX, 1.0), ValueError, r"index_fill: a 0-d tensor"),
    (lambda: X.scatter(0, INDEX[None]), TypeError, r"scatter: give exactly one of src"),
    (lambda: X.scatter(0, INDEX, 1.0), ValueError, r"scatter: index has 1 dimensions"),
    (lambda: X.scatter(0, bp.tensor([[0] * 5]), 1.0), ValueError, r"scatter: index of shape"),
    (lambda: X.scatter(0, INDEX[None], bp.ones(1, 1)), ValueError, r"scatter: src of shape"),
    (lambda: X.scatter(0, INDEX[None], "a"), TypeError, r"scatter: value must be a number"),
    (lambda: X.scatter_add(0, INDEX[None], bp.ones(1, 3)), ValueError, r"scatter_add: src shape"),
    (lambda: X.add(X, alpha="2"), TypeError, r"add: alpha must be a number"),
    (lambda: X.div(X, rounding_mode="up"), ValueError, r"div: rounding_mode must be one of"),
    (lambda: bp.var_mean(X, correction=-1), ValueError, r"var_mean: correction must be"),
    (lambda: bp.std_mean([1.0]), TypeError, r"std_mean: expected a Tensor, got list"),
    (lambda: X.unbind(dim=2), IndexError, r"unbind: axis 2 is out of range"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors_name_the_op_and_what_it_got(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


# -- every backend ---------------------------------------------------------------------------------


def test_matches_the_cpu_on_every_backend(device):
    data = randn((2, 3), 0)

    def results(dev):
        x = bp.tensor(data, dtype="float32", device=dev, requires_grad=True)
        index = bp.tensor([1, 0], device=dev)
        outs = [
            x.t(),
            x.narrow(1, 1, 2),
            x.movedim(0, 1),
            x.diff(),
            x.index_add(1, index, x[:, :2]),
            x.index_fill(1, index, 0.5),
            x.scatter(1, bp.tensor([[2], [0]], device=dev), x[:, :1] * 3),
            x.addcdiv(x, x * x + 1, value=0.5),
            bp.std_mean(x, 1)[0],
        ]
        sum(out.sum() for out in outs).backward()
        with bp.no_grad():
            y = x.detach() * 1.0
            F.relu(y, inplace=True)
            z = x.detach() * 1.0
            z.exp_()
        flags = [x.isclose(x + 1e-9).all().item(), x.allclose(x), x.equal(x)]
        counts = x.count_nonzero(dim=1).numpy()
        return [out.numpy() for out in outs] + [x.grad.numpy(), y.numpy(), z.numpy(), counts], flags

    ours, flags = results(device)
    expected, expected_flags = results("cpu")
    assert flags == expected_flags == [True, True, True]
    for got, want in zip(ours, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
