"""The comparison, logical, predicate, rounding and matrix-part Tensor methods PyTorch users
expect, composed from existing ops: eq/ne/lt/le/gt/ge (and torch's longer names), the logical
ops and the bool operators ~ & | ^, any and all, isnan/isinf/isfinite/isposinf/isneginf,
nan_to_num, floor/ceil/round/trunc/frac, lerp, erf, pow, type_as/expand_as/view_as,
tril/triu, diagonal and diag, and their module-level `bp.X` spellings where torch has `torch.X`.

Bool results match PyTorch's exactly; rounding matches it bit for bit (halves to even, the
sign of zero, values beyond 2**52, infinities and NaN); the differentiable ops match it in
value and gradient (float64 at rtol 1e-10, float32 to its own tolerance), on permuted inputs,
with double backward; rounding has PyTorch's zero gradient and frac its gradient of one; none
of them reads the device or copies host data over; and every backend agrees with the CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
from backprop.autograd import backward

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
SPECIALS = np.array([0.0, -0.0, 1.5, -2.0, INF, -INF, NAN, 3.0, -0.25, 1e-300, -1e308, 7.0])
HALVES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -3.5, 0.49999999999999994, 4.5])
HUGE = np.array([2.0**52 - 0.5, -(2.0**52) + 0.5, 2.0**52 + 1, -(2.0**53), 1e300, -1e300])
SMALL_SIGNED = np.array([-0.0, 0.0, -0.3, 0.3, -0.7, 0.7, -1.0, 1.0, 1e-300, -1e-300])


def _pair(array):
    """The same host data as a backprop and a PyTorch tensor."""
    return bp.tensor(array), torch.tensor(array)


def _same(ours, theirs):
    """`ours` equals the PyTorch tensor `theirs` exactly: dtype kind, shape, values (NaN
    equal to NaN) and the sign of zeros."""
    mine, reference = ours.numpy(), theirs.numpy()
    assert mine.shape == reference.shape, (mine.shape, reference.shape)
    assert mine.dtype == reference.dtype, (mine.dtype, reference.dtype)
    assert np.array_equal(mine, reference, equal_nan=mine.dtype.kind == "f"), (mine, reference)
    if mine.dtype.kind == "f":
        assert np.array_equal(np.signbit(mine), np.signbit(reference)), (mine, reference)


# -- comparisons -------------------------------------------------------------------------------

COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]
LONG_NAMES = {
    "not_equal": "ne",
    "less": "lt",
    "less_equal": "le",
    "greater": "gt",
    "greater_equal": "ge",
}


@pytest.mark.parametrize("name", COMPARISONS + list(LONG_NAMES))
def test_each_comparison_method_and_function_gives_torchs_bool_tensor(name):
    x_host = np.array([[1.0, 2.0, NAN], [3.0, -1.0, 2.0]])
    y_host = np.array([2.0, 2.0, NAN])
    (x, tx), (y, ty) = _pair(x_host), _pair(y_host)
    for ours, theirs in [
        (getattr(x, name)(y), getattr(tx, name)(ty)),
        (getattr(bp, name)(x, y), getattr(torch, name)(tx, ty)),
        (getattr(x, name)(2.0), getattr(tx, name)(2.0)),
        (getattr(bp, name)(2.0, x), getattr(torch, name)(torch.tensor(2.0, dtype=tx.dtype), tx)),
    ]:
        _same(ours, theirs)


def test_comparisons_are_constants_of_the_graph_and_agree_with_the_operators():
    x = bp.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for name, operator in zip(COMPARISONS, ["__eq__", "__ne__", "__lt__", "__le__", "__gt__"]):
        result = getattr(x, name)(2.0)
        assert not result.requires_grad and result.dtype == bp.bool_
        assert result.tolist() == getattr(x, operator)(2.0).tolist()
    assert bp.Tensor.greater is bp.Tensor.gt and bp.greater is bp.gt


def test_comparisons_promote_mixed_dtypes_and_refuse_non_tensors_naming_the_op():
    x, tx = _pair(np.array([0.5, 1.0, 2.5]))
    n, tn = _pair(np.array([1, 1, 2]))
    _same(x.lt(n), tx.lt(tn))
    _same(n == 1.0, tn == 1.0)
    with pytest.raises(TypeError, match=r"eq: expected at least one Tensor operand"):
        bp.eq(1, 2)


# -- logical ops and the bool operators --------------------------------------------------------

TRUTHS = [
    np.array([[0.0, 1.5, NAN, -0.0], [2.0, 0.0, -3.0, 0.5]]),
    np.array([[0, 3, -1, 0], [1, 0, 0, 7]]),
    np.array([[True, False, True, False], [False, False, True, True]]),
]


@pytest.mark.parametrize("array", TRUTHS, ids=["float", "int", "bool"])
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_binary_logical_ops_take_any_dtype_and_broadcast_as_torch(name, array):
    other_host = np.array([True, False, True, True])
    (x, tx), (y, ty) = _pair(array), _pair(other_host)
    _same(getattr(x, name)(y), getattr(tx, name)(ty))
    _same(getattr(bp, name)(y, x), getattr(torch, name)(ty, tx))
    _same(getattr(x, name)(x), getattr(tx, name)(tx))


@pytest.mark.parametrize("array", TRUTHS, ids=["float", "int", "bool"])
def test_logical_not_takes_any_dtype_as_torch(array):
    x, tx = _pair(array)
    _same(x.logical_not(), tx.logical_not())
    _same(bp.logical_not(x), torch.logical_not(tx))


def test_bool_operators_match_torch_with_tensors_and_python_bools_on_either_side():
    a_host, b_host = TRUTHS[2], np.array([True, False, False, True])
    (a, ta), (b, tb) = _pair(a_host), _pair(b_host)
    _same(a & b, ta & tb)
    _same(a | b, ta | tb)
    _same(a ^ b, ta ^ tb)
    _same(~a, ~ta)
    _same(True & a, True & ta)
    _same(a | False, ta | False)
    _same(True ^ a, True ^ ta)
    _same(a.bitwise_and(b), ta.bitwise_and(tb))
    _same(bp.bitwise_or(a, b), torch.bitwise_or(ta, tb))
    _same(bp.bitwise_xor(a, b), torch.bitwise_xor(ta, tb))
    _same(bp.bitwise_not(a), torch.bitwise_not(ta))


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_invert_of_an_integer_tensor_is_its_bitwise_not_at_the_extremes_too(dtype):
    info = np.iinfo(dtype)
    x, tx = _pair(np.array([0, 1, -1, 5, -6, info.min, info.max], dtype=dtype))
    _same(~x, ~tx)
    _same(x.bitwise_not(), tx.bitwise_not())


def test_bool_operators_refuse_floats_and_integers_naming_the_op():
    with pytest.raises(TypeError, match=r"bitwise_not: ~ is defined on bool and integer tensors"):
        ~bp.tensor([1.0])
    with pytest.raises(TypeError, match=r"bitwise_and: only bool tensors are supported"):
        bp.tensor([1, 2]) & bp.tensor([3, 4])
    with pytest.raises(TypeError, match=r"bitwise_or: only bool tensors .* got float32"):
        bp.tensor([1.0]) | bp.tensor([0.0])
    with pytest.raises(TypeError, match=r"bitwise_xor: only bool tensors .* got int64"):
        bp.tensor([True]) ^ bp.tensor([1])  # promoted to int64, which has no bitwise primitive
    with pytest.raises(TypeError, match=r"logical_and: expected a Tensor, got list"):
        bp.tensor([True]).logical_and([True])
    with pytest.raises(ValueError, match=r"logical_or: shapes \(2,\) and \(3,\) cannot be"):
        bp.tensor([True, False]).logical_or(bp.tensor([True, False, True]))
    with pytest.raises(TypeError, match=r"logical_not: expected a Tensor, got int"):
        bp.logical_not(1)


# -- any and all -------------------------------------------------------------------------------


@pytest.mark.parametrize("array", TRUTHS, ids=["float", "int", "bool"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_any_and_all_reduce_to_torchs_bool_tensors(array, axis, keepdims):
    x, tx = _pair(array)
    for name in ("any", "all"):
        if axis is None and not keepdims:
            expected = getattr(tx, name)()
        elif axis is None:
            expected = getattr(tx, name)(dim=(0, 1), keepdim=True)
        else:
            expected = getattr(tx, name)(dim=axis, keepdim=keepdims)
        _same(getattr(x, name)(axis, keepdims), expected)
        _same(getattr(bp, name)(x, axis, keepdims=keepdims), expected)


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((0, 3), 1), ((0, 3), None), ((), None)])
def test_any_of_nothing_is_false_and_all_of_nothing_is_true_as_in_torch(shape, axis):
    x, tx = _pair(np.zeros(shape))
    for name in ("any", "all"):
        expected = getattr(tx, name)() if axis is None else getattr(tx, name)(axis)
        _same(getattr(x, name)(axis), expected)


def test_any_and_all_check_their_axes():
    with pytest.raises(IndexError, match=r"any: axis 2 is out of range for a tensor of 2"):
        bp.zeros(2, 3).any(2)
    with pytest.raises(ValueError, match=r"all: repeated axis in \(1, -1\)"):
        bp.zeros(2, 3).all((1, -1))
    with pytest.raises(TypeError, match=r"all: expected a Tensor, got list"):
        bp.all([True])


# -- predicates and nan_to_num -----------------------------------------------------------------

PREDICATES = ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]


@pytest.mark.parametrize("name", PREDICATES)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "bool"])
def test_each_predicate_matches_torch_for_every_dtype(name, dtype):
    host = SPECIALS if dtype.startswith("float") else np.array([0, 3, -1, 1])
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and huge values cast to ints
        x, tx = _pair(host.astype(dtype))
    _same(getattr(x, name)(), getattr(tx, name)())
    _same(getattr(bp, name)(x), getattr(torch, name)(tx))


def test_predicates_are_constants_and_refuse_non_tensors():
    x = bp.tensor(np.array([1.0, INF]), requires_grad=True)
    assert not x.isinf().requires_grad and x.isinf().tolist() == [False, True]
    with pytest.raises(TypeError, match=r"isfinite: expected a Tensor, got float"):
        bp.isfinite(1.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("replacements", [{}, {"nan": 2.0, "posinf": 9.0, "neginf": -9.0}])
def test_nan_to_num_matches_torch_in_value_and_gradient(dtype, replacements):
    with np.errstate(over="ignore"):  # -1e308 is -inf in float32
        array = SPECIALS.astype(dtype)
    x = bp.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    out, expected = x.nan_to_num(**replacements), tx.nan_to_num(**replacements)
    _same(out.detach(), expected.detach())
    grad = randn(array.shape, seed=5).astype(dtype)
    out.backward(bp.tensor(grad))
    expected.backward(torch.tensor(grad))
    assert_close(x.grad.numpy(), tx.grad.numpy())  # torch's zeros may carry a sign, as grad * 0
    _same(bp.nan_to_num(x, 1.0).detach(), torch.nan_to_num(tx, 1.0).detach())


def test_nan_to_num_copies_integer_tensors_and_checks_its_values():
    x = bp.tensor([1, -2, 3])
    copied = x.nan_to_num()
    assert copied.tolist() == [1, -2, 3] and not np.shares_memory(copied.data, x.data)
    with pytest.raises(TypeError, match=r"nan_to_num: posinf must be a number or None, got '1'"):
        bp.tensor([1.0]).nan_to_num(posinf="1")


# -- rounding ----------------------------------------------------------------------------------

ROUNDINGS = ["floor", "ceil", "round", "trunc", "frac"]
EDGE_VALUES = np.concatenate([SPECIALS, HALVES, HUGE, SMALL_SIGNED])


@pytest.mark.parametrize("name", ROUNDINGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rounding_matches_torch_bit_for_bit_on_halves_huge_values_and_specials(name, dtype):
    with np.errstate(over="ignore"):  # 1e300 and 1e308 are inf in float32
        array = EDGE_VALUES.astype(dtype)
    random = randn(400, seed=1) * 10.0 ** np.repeat(np.arange(-2, 18), 20)
    random = np.concatenate([random, np.round(random * 2) / 2]).astype(dtype)
    for host in (array, random):
        x, tx = _pair(host)
        with np.errstate(invalid="ignore"):  # frac(inf) = inf - inf = NaN, as in torch
            _same(getattr(x, name)(), getattr(tx, name)())
            _same(getattr(bp, name)(x), getattr(torch, name)(tx))


@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_with_decimals_matches_torch_bit_for_bit(decimals, dtype):
    host = np.concatenate([HALVES / 100, randn(200, seed=2) * 1000, [0.125, -0.0, INF, NAN]])
    x, tx = _pair(host.astype(dtype))
    _same(x.round(decimals=decimals), tx.round(decimals=decimals))
    _same(bp.round(x, decimals), torch.round(tx, decimals=decimals))


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding_of_integer_tensors_is_a_copy_as_in_torch(name):
    x, tx = _pair(np.array([3, -2, 0]))
    rounded = getattr(x, name)()
    _same(rounded, getattr(tx, name)())
    assert not np.shares_memory(rounded.data, x.data)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "frac"])
def test_rounding_gradient_is_torchs_zero_and_frac_passes_it_through(name):
    array = randn((3, 4), seed=3) * 3
    x = bp.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    out, expected = getattr(x, name)(), getattr(tx, name)()
    assert out.requires_grad
    grad = randn((3, 4), seed=4)
    out.backward(bp.tensor(grad))
    expected.backward(torch.tensor(grad))
    _same(x.grad, tx.grad)
    y = bp.tensor(array, requires_grad=True)
    (y.round(decimals=2) * y).sum().backward()
    assert_close(y.grad.numpy(), torch.tensor(array).round(decimals=2).numpy())


def test_rounding_refuses_bool_tensors_and_frac_and_decimals_need_floats():
    with pytest.raises(TypeError, match=r"floor: bool tensors are not supported"):
        bp.tensor([True]).floor()
    with pytest.raises(TypeError, match=r"frac: expected a float32 or float64 tensor, got a int64"):
        bp.tensor([1]).frac()
    with pytest.raises(TypeError, match=r"round: decimals needs a float32 or float64 tensor"):
        bp.tensor([1]).round(decimals=1)
    with pytest.raises(TypeError, match=r"round: decimals must be an int, got 1.5"):
        bp.tensor([1.0]).round(decimals=1.5)
    with pytest.raises(TypeError, match=r"ceil: expected a Tensor, got list"):
        bp.ceil([1.0])


# -- differentiable ops against torch: values, gradients, float32, permuted inputs -------------


def _case(name, ours, shapes, theirs=None, data=None):
    """One op: `ours(*xs)` in backprop and `theirs(*xs)` (the same spelling when None) in
    PyTorch, on float64 inputs of `shapes` drawn by `data` (normal by default)."""
    return pytest.param(ours, theirs or ours, shapes, data or randn, id=name)


def _weights(shape, seed=0):
    """Weights on both sides of 0.5, where lerp switches formula, and beyond [0, 1]."""
    return randn(shape, seed, low=-0.8, high=1.8)


def _off_integers(shape, seed=0):
    """Values at least 0.1 away from every integer, so finite differences see no jumps."""
    return np.floor(randn(shape, seed) * 4) + randn(shape, seed + 1, low=0.1, high=0.9)


CASES = [
    _case("nan_to_num", lambda x: x.nan_to_num(), [(3, 4)]),
    _case("floor", lambda x: x.floor() * x, [(3, 4)], data=_off_integers),
    _case("ceil", lambda x: x.ceil() * x, [(3, 4)], data=_off_integers),
    _case("round", lambda x: x.round() * x, [(3, 4)], data=_off_integers),
    _case("trunc", lambda x: x.trunc() * x, [(3, 4)], data=_off_integers),
    _case("frac", lambda x: x.frac(), [(3, 4)], data=_off_integers),
    _case("lerp_small_weight", lambda a, b: a.lerp(b, 0.3), [(3, 4), (3, 4)]),
    _case("lerp_large_weight", lambda a, b: a.lerp(b, 0.75), [(3, 4), (4,)]),
    _case(
        "bp.lerp_negative_weight",
        lambda a, b: bp.lerp(a, b, -1.5),
        [(3, 4), (3, 4)],
        theirs=lambda a, b: torch.lerp(a, b, -1.5),
    ),
    _case(
        "lerp_tensor_weight", lambda a, b, w: a.lerp(b, w), [(3, 4), (3, 4), (3, 4)], data=_weights
    ),
    _case(
        "lerp_broadcast_weight",
        lambda a, b, w: a.lerp(b, w),
        [(2, 1, 4), (3, 1), (4,)],
        data=_weights,
    ),
    _case("erf", lambda x: x.erf(), [(3, 4)]),
    _case("bp.erf", lambda x: bp.erf(x), [(3, 4)], theirs=torch.erf),
    _case("pow", lambda x, y: x.abs().pow(y), [(3, 4), (4,)]),
    _case("pow_scalar", lambda x: x.pow(3), [(3, 4)]),
    _case("bp.pow", lambda x: bp.pow(x, 2.0), [(3, 4)], theirs=lambda x: torch.pow(x, 2.0)),
    _case("expand_as", lambda x, y: x.expand_as(y) * y, [(3, 1), (2, 3, 4)]),
    _case("view_as", lambda x, y: x.view_as(y) * y, [(3, 4), (2, 6)]),
    _case("type_as", lambda x, y: x.type_as(y) * y, [(3, 4), (3, 4)]),
    _case("tril", lambda x: x.tril(), [(4, 4)]),
    _case("tril_offsets", lambda x: x.tril(1) + x.tril(-2) + x.tril(9), [(2, 3, 5)]),
    _case("triu", lambda x: x.triu(), [(4, 3)]),
    _case(
        "bp.triu_offsets",
        lambda x: bp.triu(x, -1) + bp.triu(x, 2) + bp.triu(x, -9),
        [(5, 3)],
        theirs=lambda x: torch.triu(x, -1) + torch.triu(x, 2) + torch.triu(x, -9),
    ),
    _case("diagonal", lambda x: x.diagonal(), [(4, 3)]),
    _case("diagonal_offset", lambda x: x.diagonal(1) * 2 + x.diagonal(-2).sum(), [(4, 5)]),
    _case("diagonal_dims", lambda x: x.diagonal(-1, 2, 0), [(3, 2, 4)]),
    _case(
        "bp.diagonal_negative_dims",
        lambda x: bp.diagonal(x, 1, -1, -3),
        [(3, 2, 4)],
        theirs=lambda x: torch.diagonal(x, 1, -1, -3),
    ),
    _case("diag_of_vector", lambda x: x.diag(), [(3,)]),
    _case(
        "diag_of_vector_offsets",
        lambda x: bp.diag(x, 2) + bp.diag(x, -2),
        [(3,)],
        theirs=lambda x: torch.diag(x, 2) + torch.diag(x, -2),
    ),
    _case("diag_of_matrix", lambda x: x.diag(-1), [(3, 4)]),
]


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _compare(ours, theirs, arrays, dtype="float64", views=None):
    """Runs `ours` and `theirs` on `arrays` (rounded to `dtype`; `views` turns the leaves
    into the op's inputs in both frameworks) and compares the output, then every leaf's
    gradient for a random output gradient."""
    arrays = [a.astype(dtype) for a in arrays]
    views = views or [lambda x: x] * len(arrays)
    mine = [bp.tensor(a, requires_grad=True) for a in arrays]
    reference = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out = ours(*(v(m) for v, m in zip(views, mine)))
    expected = theirs(*(v(r) for v, r in zip(views, reference)))
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad = randn(out.shape, seed=7).astype(dtype)
    backward([out], [bp.tensor(grad)])
    expected.backward(torch.tensor(grad.astype(np.float64)))
    for i, (m, r) in enumerate(zip(mine, reference)):
        assert_close(m.grad.numpy(), r.grad.numpy(), dtype, err_msg=f"input {i} grad")


def _arrays(shapes, data, seed):
    return [data(shape, seed + i) for i, shape in enumerate(shapes)]


@pytest.mark.parametrize("ours, theirs, shapes, data", CASES)
def test_each_op_matches_torch_in_value_and_gradient(ours, theirs, shapes, data):
    _compare(ours, theirs, _arrays(shapes, data, 0))


@pytest.mark.parametrize("ours, theirs, shapes, data", CASES)
def test_each_op_matches_torch_in_float32(ours, theirs, shapes, data):
    _compare(ours, theirs, _arrays(shapes, data, 10), dtype="float32")


@pytest.mark.parametrize("ours, theirs, shapes, data", CASES)
def test_each_op_matches_torch_on_non_contiguous_inputs(ours, theirs, shapes, data):
    arrays = [a.T.copy() for a in _arrays([tuple(reversed(s)) for s in shapes], data, 20)]
    views = [lambda x: x.permute(*reversed(range(x.ndim))) for _ in shapes]
    _compare(ours, theirs, [a.T for a in arrays], views=views)


@pytest.mark.parametrize("ours, theirs, shapes, data", CASES)
def test_each_op_passes_gradcheck_and_gradgradcheck(ours, theirs, shapes, data):
    inputs = [bp.tensor(a, requires_grad=True) for a in _arrays(shapes, data, 30)]
    assert bp.gradcheck(ours, *inputs)
    assert bp.gradgradcheck(ours, *inputs)


EDGE_CASES = [
    _case("lerp_empty", lambda a, b: a.lerp(b, 0.6), [(0, 3), (0, 3)]),
    _case("nan_to_num_empty", lambda x: x.nan_to_num(), [(0,)]),
    _case("floor_0d", lambda x: x.floor() + x, [()]),
    _case("frac_empty", lambda x: x.frac(), [(2, 0)]),
    _case("tril_size_1", lambda x: x.tril(), [(1, 1)]),
    _case("triu_empty_batch", lambda x: x.triu(1), [(0, 2, 3)]),
    _case("tril_empty_matrix", lambda x: x.tril(), [(3, 0)]),
    _case("diagonal_empty", lambda x: x.diagonal(5), [(3, 4)]),
    _case("diagonal_empty_batch", lambda x: x.diagonal(0, 1, 2), [(0, 2, 2)]),
    _case("diagonal_size_1", lambda x: x.diagonal(), [(1, 4)]),
    _case("diag_size_1", lambda x: x.diag(1), [(1,)]),
    _case("diag_empty", lambda x: x.diag(), [(0,)]),
    _case("expand_as_0d", lambda x, y: x.expand_as(y) * y, [(), (2, 3)]),
]


@pytest.mark.parametrize("ours, theirs, shapes, data", EDGE_CASES)
def test_size_0_and_size_1_axes_match_torch(ours, theirs, shapes, data):
    _compare(ours, theirs, _arrays(shapes, data, 0))


# -- behaviour beyond the random cases -----------------------------------------------------------


def test_lerp_is_exact_at_its_ends_as_torch():
    a, b = bp.tensor(np.array([0.1, -3.3])), bp.tensor(np.array([0.7, 1e-17]))
    assert a.lerp(b, 1.0).tolist() == [0.7, 1e-17]
    assert a.lerp(b, 0.0).tolist() == [0.1, -3.3]
    assert a.lerp(b, bp.tensor(np.array([1.0, 0.0]))).tolist() == [0.7, -3.3]


def test_lerp_checks_its_operands():
    a = bp.tensor(np.zeros(3))
    with pytest.raises(TypeError, match=r"lerp: expected a float32 or float64 tensor, got int64"):
        bp.tensor([1, 2, 3]).lerp(a, 0.5)
    with pytest.raises(TypeError, match=r"lerp: weight must be a number or a Tensor, got str"):
        a.lerp(a, "half")
    with pytest.raises(TypeError, match=r"lerp: weight must have the dtype float64 .* float32"):
        a.lerp(a, bp.tensor([0.5]))
    with pytest.raises(ValueError, match=r"lerp: shapes \(3,\) and \(3,\) and \(2,\) cannot be"):
        a.lerp(a, bp.tensor(np.zeros(2)))
    with pytest.raises(TypeError, match=r"lerp: end must have the dtype float64 of start"):
        a.lerp(bp.tensor([1.0, 2.0, 3.0]), 0.5)


def test_type_as_expand_as_and_view_as_take_dtype_and_shape_from_the_other_tensor():
    x = bp.tensor(np.array([1.7, -2.2]))
    assert x.type_as(bp.tensor([1])).tolist() == [1, -2]
    assert x.type_as(x) is x
    assert x.float().type_as(x).dtype == bp.float64
    assert x.expand_as(bp.zeros(3, 2)).shape == (3, 2)
    assert x.view_as(bp.zeros(2, 1)).shape == (2, 1)
    with pytest.raises(TypeError, match=r"type_as: other must be a Tensor, got str"):
        x.type_as("float64")
    with pytest.raises(ValueError, match=r"expand_as: cannot expand a tensor of shape \(2,\) to"):
        x.expand_as(bp.zeros(3))
    with pytest.raises(ValueError, match=r"view_as: cannot view a tensor of shape \(2,\) \(2 el"):
        x.view_as(bp.zeros(3))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_tril_triu_diagonal_and_diag_keep_integer_and_bool_dtypes_as_torch(dtype):
    x, tx = _pair((np.arange(12).reshape(3, 4) % 3).astype(dtype))
    for k in (-1, 0, 2):
        _same(x.tril(k), tx.tril(k))
        _same(x.triu(k), tx.triu(k))
        _same(x.diagonal(k), tx.diagonal(k))
        _same(x.diagonal(k)[:2].diag(k), tx.diagonal(k)[:2].diag(k))


def test_matrix_parts_check_their_arguments():
    x = bp.zeros(2, 3)
    with pytest.raises(ValueError, match=r"tril: expected a tensor of at least 2 dimensions, got"):
        bp.zeros(3).tril()
    with pytest.raises(TypeError, match=r"triu: diagonal must be an int, got 1.0"):
        x.triu(1.0)
    with pytest.raises(ValueError, match=r"diagonal: dim1 and dim2 must differ, got 1 and -1"):
        x.diagonal(0, 1, -1)
    with pytest.raises(IndexError, match=r"diagonal: axis 2 is out of range"):
        x.diagonal(0, 0, 2)
    with pytest.raises(ValueError, match=r"diagonal: expected a tensor of at least 2 dimensions"):
        bp.zeros(3).diagonal()
    with pytest.raises(ValueError, match=r"diag: expected a 1-D or 2-D tensor, got shape \(\)"):
        bp.tensor(1.0).diag()
    with pytest.raises(TypeError, match=r"diag: diagonal must be an int, got True"):
        bp.zeros(3).diag(True)
    with pytest.raises(TypeError, match=r"tril: expected a Tensor, got list"):
        bp.tril([[1.0]])


# -- on the device: no host reads, no host copies, every backend agrees ------------------------


def _every_op(x, m, b, i):
    """Every op of this file once on the float matrix `x`, the bool matrix `m`, the bool
    vector `b` and the integer vector `i`."""
    return [
        x.eq(0.5), x.ge(x.T), bp.less(x, 1.0), m & b, m | b, m ^ b, ~m, ~i,
        x.logical_and(m), bp.logical_or(x, b), bp.logical_xor(m, x), x.logical_not(),
        x.any(), x.all(1, keepdims=True), m.any(0), bp.all(m),
        x.isnan(), x.isinf(), x.isfinite(), x.isposinf(), bp.isneginf(x), x.nan_to_num(),
        x.floor(), x.ceil(), x.round(), x.round(decimals=1), x.trunc(), x.frac(),
        x.lerp(x.T, 0.25), x.lerp(x.T, x), x.erf(), x.pow(2), i.type_as(x), m.type_as(x),
        x.expand_as(x), x.view_as(x), x.tril(), x.triu(1), x.diagonal(-1), bp.diag(b), x.diag(),
    ]  # fmt: skip


def _every_op_inputs(device=None):
    x = bp.tensor(np.array([[0.5, -1.5, INF], [NAN, 2.25, -0.0], [-INF, 1.0, 3.5]]), device=device)
    m = bp.tensor(np.array([[True, False, True], [False, False, True], [True, True, False]]),
                  device=device)  # fmt: skip
    b = bp.tensor(np.array([True, False, True]), device=device)
    i = bp.tensor(np.array([3, -4, 0]), device=device)
    return x, m, b, i


def test_no_op_reads_the_device_or_copies_host_data_over(monkeypatch):
    inputs = _every_op_inputs()
    backend = inputs[0].backend

    def refuse(*args):
        raise AssertionError("a host transfer inside an op")

    monkeypatch.setattr(backend, "to_host", refuse)
    monkeypatch.setattr(backend, "from_host", refuse)
    with np.errstate(invalid="ignore"):  # frac(inf) and erf are NaN on the NaN entries
        results = _every_op(*inputs)
    monkeypatch.undo()
    assert len(results) == 41 and all(isinstance(r, bp.Tensor) for r in results)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf in the simulator
def test_every_op_on_every_device_matches_the_cpu(device):
    with np.errstate(invalid="ignore"):
        expected = _every_op(*_every_op_inputs())
        results = _every_op(*_every_op_inputs(device))
    for k, (ours, cpu) in enumerate(zip(results, expected)):
        assert ours.device == device
        mine, reference = ours.numpy(), cpu.numpy()
        assert_close(mine, reference, err_msg=f"op {k}")  # NaN equals NaN; exact for bools
    x = bp.tensor(_off_integers((2, 3)), device=device, requires_grad=True)
    (x.frac() * x.floor() + x.tril()).sum().backward()
    cpu = bp.tensor(x.numpy(), requires_grad=True)
    (cpu.frac() * cpu.floor() + cpu.tril()).sum().backward()
    assert_close(x.grad.numpy(), cpu.grad.numpy())
