"""Sorting and selection (sort, argsort, msort, topk, kthvalue, median) and the ops whose output
shape depends on the data (nonzero, masked_select, unique, repeat_interleave), as PyTorch.

Values and gradients match PyTorch in float64 and float32, along every dim, on permuted views,
size-1, 0-d and empty shapes, with NaN sorted as the largest value; indices match where the
input has no ties, and with ties they are the stable order (PyTorch's `stable=True`). Values
pass `gradcheck` and `gradgradcheck`. Every bad argument gets a clear error, and every backend
agrees with the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, assert_matches_the_cpu, randn

import backprop as bp
from backprop import ops

torch = pytest.importorskip("torch")

NAN = math.nan


def _values(result):
    """The differentiable part of a result: the values of a (values, indices) pair."""
    return result[0] if isinstance(result, tuple) else result


def _compare(fn, array, dtype="float64", indices=True, seed=7):
    """`fn(lib, x)` with lib backprop's ops or torch, on `array` rounded to `dtype`: the
    values, the indices (unless `indices` is False) and the gradient of x for a random output
    gradient. PyTorch runs in float64 on the same rounded inputs."""
    host = np.asarray(array).astype(dtype)
    x = bp.tensor(host, requires_grad=True)
    reference = torch.tensor(host.astype(np.float64), requires_grad=True)
    out, expected = fn(ops, x), fn(torch, reference)
    values, expected_values = _values(out), _values(expected)
    assert_close(values.numpy(), expected_values.detach().numpy(), dtype, err_msg="values")
    if isinstance(expected, tuple):
        assert out.indices.dtype == np.int64
        assert out.indices.shape == tuple(expected.indices.shape)
        if indices:
            np.testing.assert_array_equal(out.indices.numpy(), expected.indices.numpy())
    grad = randn(values.shape, seed=seed).astype(dtype)
    values.backward(bp.tensor(grad))
    expected_values.backward(torch.tensor(grad.astype(np.float64)))
    assert_close(x.grad.numpy(), reference.grad.numpy(), dtype, err_msg="grad")


def _case(name, fn):
    return pytest.param(fn, id=name)


DISTINCT = randn((3, 4, 5), seed=1)
"""Random data without ties, so that every index is determined."""


# -- sort, argsort, msort ------------------------------------------------------------------


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_gives_torch_values_indices_and_gradient(dim, descending, dtype):
    _compare(lambda lib, x: lib.sort(x, dim=dim, descending=descending), DISTINCT, dtype)


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("dim", [0, 2, -2])
def test_argsort_gives_torch_indices(dim, descending):
    x = bp.tensor(DISTINCT)
    result = ops.argsort(x, dim=dim, descending=descending, stable=True)
    expected = torch.argsort(torch.tensor(DISTINCT), dim=dim, descending=descending)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result.numpy(), expected.numpy())


def test_sort_with_no_dim_sorts_the_last_and_msort_the_first(dtype):
    _compare(lambda lib, x: lib.sort(x), DISTINCT, dtype)
    _compare(lambda lib, x: lib.msort(x), DISTINCT, dtype)


def test_sort_returns_values_and_indices_by_name_and_by_position():
    result = ops.sort(bp.tensor([3.0, 1.0, 2.0]))
    values, indices = result
    assert values is result.values and indices is result.indices
    np.testing.assert_array_equal(result.values.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(result.indices.numpy(), [1, 2, 0])


def test_sort_of_integers_and_bools_matches_torch():
    for host in (np.array([[5, -2, 7, 0], [1, 9, -4, 3]]), np.array([True, False, True, False])):
        result = ops.sort(bp.tensor(host), descending=True, stable=True)
        expected = torch.sort(torch.tensor(host), descending=True, stable=True)
        assert result.values.dtype == host.dtype
        np.testing.assert_array_equal(result.values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(result.indices.numpy(), expected.indices.numpy())


# -- topk, kthvalue, median ----------------------------------------------------------------


@pytest.mark.parametrize("largest", [True, False], ids=["largest", "smallest"])
@pytest.mark.parametrize("dim, k", [(0, 0), (0, 2), (0, 3), (-1, 1), (-1, 4), (1, 4)])
def test_topk_gives_torch_values_indices_and_gradient(dim, k, largest, dtype):
    _compare(lambda lib, x: lib.topk(x, k, dim=dim, largest=largest), DISTINCT, dtype)


@pytest.mark.parametrize("largest", [True, False], ids=["largest", "smallest"])
def test_topk_unsorted_picks_the_same_entries_as_torch(largest):
    x = bp.tensor(DISTINCT)
    values, indices = ops.topk(x, 3, largest=largest, sorted=False)
    expected = torch.topk(torch.tensor(DISTINCT), 3, largest=largest, sorted=False)
    np.testing.assert_array_equal(
        np.sort(indices.numpy(), axis=-1), np.sort(expected.indices.numpy(), axis=-1)
    )
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(DISTINCT, indices.numpy(), -1))


@pytest.mark.parametrize("keepdim", [False, True], ids=["", "keepdim"])
@pytest.mark.parametrize("dim, k", [(0, 1), (0, 3), (1, 2), (-1, 5), (-1, 3)])
def test_kthvalue_gives_torch_values_indices_and_gradient(dim, k, keepdim, dtype):
    _compare(lambda lib, x: lib.kthvalue(x, k, dim=dim, keepdim=keepdim), DISTINCT, dtype)


@pytest.mark.parametrize("keepdim", [False, True], ids=["", "keepdim"])
@pytest.mark.parametrize("dim", [0, 1, -1], ids=["odd", "even", "odd-last"])
def test_median_along_a_dim_is_torch_lower_median(dim, keepdim, dtype):
    _compare(lambda lib, x: lib.median(x, dim=dim, keepdim=keepdim), DISTINCT, dtype)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3), (7,)], ids=str)
def test_median_of_all_entries_is_torch_lower_median(shape, dtype):
    _compare(lambda lib, x: lib.median(x), randn(shape, seed=2), dtype)


def test_median_of_an_empty_tensor_is_nan_as_in_torch():
    result = ops.median(bp.tensor(np.zeros((0, 3))))
    assert result.shape == () and math.isnan(result.item())
    assert math.isnan(torch.median(torch.zeros(0, 3)).item())


# -- views, edge shapes, NaN and ties ------------------------------------------------------

PERMUTED_CASES = [
    _case("sort", lambda lib, x: lib.sort(x.permute(2, 0, 1), dim=1, descending=True)),
    _case("topk", lambda lib, x: lib.topk(x.permute(1, 2, 0), 2, dim=0)),
    _case("kthvalue", lambda lib, x: lib.kthvalue(x.permute(2, 1, 0), 2, dim=-1)),
    _case("median", lambda lib, x: lib.median(x.permute(2, 0, 1), dim=0)),
    _case("msort", lambda lib, x: lib.msort(x.permute(1, 0, 2))),
]


@pytest.mark.parametrize("fn", PERMUTED_CASES)
def test_a_permuted_view_sorts_as_in_torch(fn, dtype):
    _compare(fn, DISTINCT, dtype)


EDGE_CASES = [  # (fn, array)
    _case("sort size-1 dim", lambda lib, x: lib.sort(x[:, :1], dim=1)),
    _case("topk size-1 dim", lambda lib, x: lib.topk(x[:1], 1, dim=0)),
    _case("kthvalue size-1 dim", lambda lib, x: lib.kthvalue(x[:, :1], 1, dim=1)),
    _case("median size-1 dim", lambda lib, x: lib.median(x[:1], dim=0)),
    _case("sort 0-d", lambda lib, x: lib.sort(x[0, 0])),
    _case("topk 0-d k=1", lambda lib, x: lib.topk(x[0, 0], 1)),
    _case("topk 0-d k=0", lambda lib, x: lib.topk(x[0, 0], 0)),
    _case("kthvalue 0-d", lambda lib, x: lib.kthvalue(x[0, 0], 1)),
    _case("median 0-d dim", lambda lib, x: lib.median(x[0, 0], 0)),
    _case("median 0-d", lambda lib, x: lib.median(x[0, 0])),
    _case("sort empty dim", lambda lib, x: lib.sort(x[:, :0], dim=1)),
    _case("sort empty batch", lambda lib, x: lib.sort(x[:0], dim=1, descending=True)),
    _case("topk k=0 of empty dim", lambda lib, x: lib.topk(x[:, :0], 0)),
    _case("topk empty batch", lambda lib, x: lib.topk(x[:0], 2)),
    _case("kthvalue empty batch", lambda lib, x: lib.kthvalue(x[:0], 2, dim=1)),
    _case("median empty batch", lambda lib, x: lib.median(x[:0], dim=1, keepdim=True)),
]


@pytest.mark.parametrize("fn", EDGE_CASES)
def test_size_1_0d_and_empty_shapes_sort_as_in_torch(fn):
    _compare(fn, randn((3, 4), seed=3))


WITH_NAN = np.array(
    [[0.5, NAN, -1.0, 2.0, 0.1], [1.5, -0.5, 0.25, 3.0, -2.0], [NAN, 1.0, -3.0, 0.75, 4.0]]
)
"""At most one NaN per row, so that indices are determined."""

NAN_CASES = [
    _case("sort", lambda lib, x: lib.sort(x, dim=1)),
    _case("sort descending", lambda lib, x: lib.sort(x, dim=1, descending=True)),
    _case("sort dim 0", lambda lib, x: lib.sort(x, dim=0, descending=True)),
    _case("topk largest", lambda lib, x: lib.topk(x, 2)),
    _case("topk smallest", lambda lib, x: lib.topk(x, 5, largest=False)),
    _case("kthvalue", lambda lib, x: lib.kthvalue(x, 5)),
    _case("median", lambda lib, x: lib.median(x, 1)),
    _case("median dim 0", lambda lib, x: lib.median(x, 0)),
    _case("median of all", lambda lib, x: lib.median(x)),
]


@pytest.mark.parametrize("fn", NAN_CASES)
def test_nan_sorts_as_the_largest_value_as_in_torch(fn, dtype):
    _compare(fn, WITH_NAN, dtype)


def test_the_median_of_a_slice_with_several_nans_is_its_first_nan_as_in_torch():
    host = np.array([[3.0, NAN, 1.0, NAN], [NAN, NAN, 0.0, 2.0]])
    result = ops.median(bp.tensor(host), 1)
    expected = torch.median(torch.tensor(host), 1)
    np.testing.assert_array_equal(result.values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(result.indices.numpy(), expected.indices.numpy())


TIES = np.round(randn((4, 6), seed=4))
"""Small integers as floats: many ties."""


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("dim", [0, 1])
def test_ties_keep_their_order_as_torch_stable_sort(dim, descending):
    x = bp.tensor(TIES)
    expected = torch.sort(torch.tensor(TIES), dim=dim, descending=descending, stable=True)
    for stable in (False, True):
        values, indices = ops.sort(x, dim=dim, descending=descending, stable=stable)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
        stable_order = ops.argsort(x, dim=dim, descending=descending, stable=stable)
        np.testing.assert_array_equal(stable_order.numpy(), expected.indices.numpy())


TIE_CASES = [  # (fn, dim)
    pytest.param(lambda lib, x: lib.topk(x, 3, dim=1), 1, id="topk"),
    pytest.param(lambda lib, x: lib.topk(x, 2, dim=0, largest=False), 0, id="topk smallest"),
    pytest.param(lambda lib, x: lib.kthvalue(x, 3, dim=1), 1, id="kthvalue"),
    pytest.param(lambda lib, x: lib.median(x, dim=1), 1, id="median"),
    pytest.param(lambda lib, x: lib.median(x, dim=0, keepdim=True), 0, id="median dim 0"),
]


@pytest.mark.parametrize("fn, dim", TIE_CASES)
def test_with_ties_values_match_torch_and_indices_point_at_them(fn, dim):
    result, expected = fn(ops, bp.tensor(TIES)), fn(torch, torch.tensor(TIES))
    np.testing.assert_array_equal(result.values.numpy(), expected.values.numpy())
    indices = result.indices.numpy()
    if indices.ndim < TIES.ndim:
        indices = np.expand_dims(indices, dim)
    picked = np.take_along_axis(TIES, indices, dim)
    np.testing.assert_array_equal(picked.reshape(result.values.shape), result.values.numpy())


@pytest.mark.parametrize("largest", [True, False], ids=["largest", "smallest"])
def test_topk_with_ties_picks_the_first_k_of_the_stable_order(largest):
    result = ops.topk(bp.tensor(TIES), 4, largest=largest)
    order = torch.sort(torch.tensor(TIES), descending=largest, stable=True).indices
    np.testing.assert_array_equal(result.indices.numpy(), order[:, :4].numpy())


def test_the_median_of_all_entries_shares_its_gradient_among_ties_as_torch():
    _compare(lambda lib, x: lib.median(x), TIES)
    _compare(lambda lib, x: lib.median(x), np.array([[NAN, 1.0], [NAN, 2.0]]))


# -- gradcheck and gradgradcheck -----------------------------------------------------------

GRADCHECK_CASES = [
    _case("sort", lambda x: ops.sort(x, 0, descending=True).values),
    _case("topk", lambda x: ops.topk(x, 2).values),
    _case("kthvalue", lambda x: ops.kthvalue(x, 2, 0, keepdim=True).values),
    _case("median dim", lambda x: ops.median(x, 1).values),
    _case("median", lambda x: ops.median(x)),
    _case("msort", lambda x: ops.msort(x)),
    _case("masked_select", lambda x: ops.masked_select(x, bp.tensor([True, False, True, True]))),
    _case("repeat_interleave", lambda x: ops.repeat_interleave(x, 2, dim=0)),
    _case("repeat_interleave tensor", lambda x: x.repeat_interleave(bp.tensor([0, 3, 1, 2]), 1)),
]


@pytest.mark.parametrize("fn", GRADCHECK_CASES)
def test_values_pass_gradcheck_and_gradgradcheck(fn):
    x = bp.tensor(randn((3, 4), seed=5), requires_grad=True)
    assert bp.gradcheck(fn, x)
    assert bp.gradgradcheck(fn, x)


# -- names: Tensor methods, torch's keywords and backprop's axis aliases --------------------

METHOD_CASES = [
    _case("sort", lambda lib, x: x.sort(dim=0, descending=True)),
    _case("argsort as index", lambda lib, x: x.gather(1, x.argsort(dim=1, descending=True))),
    _case("msort", lambda lib, x: x.msort()),
    _case("topk", lambda lib, x: x.topk(2, dim=1, largest=False, sorted=True)),
    _case("kthvalue", lambda lib, x: x.kthvalue(2, dim=0, keepdim=True)),
    _case("median dim", lambda lib, x: x.median(dim=1, keepdim=True)),
    _case("median", lambda lib, x: x.median()),
    _case("masked_select", lambda lib, x: x.masked_select(x > 0)),
    _case("repeat_interleave", lambda lib, x: x.repeat_interleave(3)),
]


@pytest.mark.parametrize("fn", METHOD_CASES)
def test_tensor_methods_match_torch_methods(fn):
    _compare(fn, randn((3, 4), seed=6))


def test_axis_and_keepdims_are_aliases_of_dim_and_keepdim():
    x = bp.tensor(DISTINCT)
    pairs = [
        (ops.sort(x, axis=0), ops.sort(x, dim=0)),
        (ops.topk(x, 2, axis=1), ops.topk(x, 2, dim=1)),
        (ops.kthvalue(x, 2, axis=0, keepdims=True), ops.kthvalue(x, 2, dim=0, keepdim=True)),
        (x.median(axis=1, keepdims=True), x.median(dim=1, keepdim=True)),
    ]
    for aliased, named in pairs:
        np.testing.assert_array_equal(aliased.values.numpy(), named.values.numpy())
        np.testing.assert_array_equal(aliased.indices.numpy(), named.indices.numpy())
    np.testing.assert_array_equal(x.argsort(axis=0).numpy(), x.argsort(dim=0).numpy())
    np.testing.assert_array_equal(
        ops.repeat_interleave(x, 2, axis=1).numpy(), ops.repeat_interleave(x, 2, dim=1).numpy()
    )


# -- nonzero, masked_select, unique, repeat_interleave ---------------------------------------

NONZERO_CASES = {
    "2d": np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 3.0]]),
    "3d int": np.array([[[0, 1], [2, 0]], [[0, 0], [5, 6]]]),
    "bool": np.array([True, False, True, True]),
    "0-d": np.array(4.0),
    "0-d zero": np.array(0.0),
    "empty": np.zeros((2, 0)),
    "all zero": np.zeros((2, 3)),
}


@pytest.mark.parametrize("as_tuple", [False, True], ids=["", "as_tuple"])
@pytest.mark.parametrize("name", list(NONZERO_CASES))
def test_nonzero_matches_torch(name, as_tuple):
    host = NONZERO_CASES[name]
    result = ops.nonzero(bp.tensor(host), as_tuple=as_tuple)
    expected = torch.nonzero(torch.tensor(host), as_tuple=as_tuple)
    if not as_tuple:
        result, expected = (result,), (expected,)
    assert len(result) == len(expected)
    for ours, theirs in zip(result, expected):
        assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(
        bp.tensor(host).nonzero().numpy(), torch.tensor(host).nonzero().numpy()
    )


MASKED_SELECT_CASES = [
    _case("same shape", lambda lib, x: lib.masked_select(x, x > 0.2)),
    _case("mask broadcast", lambda lib, x: lib.masked_select(x, x[0] > 0)),
    _case("x broadcast", lambda lib, x: lib.masked_select(x[1], x > 0)),
    _case("0-d x", lambda lib, x: lib.masked_select(x[0, 0], x > 0)),
    _case("nothing selected", lambda lib, x: lib.masked_select(x, x > 10)),
    _case("permuted", lambda lib, x: lib.masked_select(x.permute(1, 0), x.permute(1, 0) < 0)),
]


@pytest.mark.parametrize("fn", MASKED_SELECT_CASES)
def test_masked_select_matches_torch_with_its_gradient(fn, dtype):
    _compare(fn, randn((3, 4), seed=8), dtype)


UNIQUE_CASES = {
    "repeats": np.array([[3.0, 1.0, 3.0], [2.0, 1.0, 0.5]]),
    "nan": np.array([3.0, NAN, 1.0, NAN, 3.0, 2.0]),
    "int": np.array([4, -1, 4, 4, 0, -1]),
    "bool": np.array([[True, False], [True, True]]),
    "0-d": np.array(5.0),
    "empty": np.zeros((0, 2)),
}


@pytest.mark.parametrize("return_counts", [False, True], ids=["", "counts"])
@pytest.mark.parametrize("return_inverse", [False, True], ids=["", "inverse"])
@pytest.mark.parametrize("name", list(UNIQUE_CASES))
def test_unique_matches_torch(name, return_inverse, return_counts):
    host = UNIQUE_CASES[name]
    options = {"return_inverse": return_inverse, "return_counts": return_counts}
    result = ops.unique(bp.tensor(host), **options)
    expected = torch.unique(torch.tensor(host), **options)
    if not isinstance(expected, tuple):
        result, expected = (result,), (expected,)
    assert isinstance(result, tuple) and len(result) == len(expected)
    for ours, theirs in zip(result, expected):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert result[0].dtype == host.dtype


def test_unique_unsorted_still_sorts_and_rebuilds_the_input():
    host = np.array([[3, 1, 2], [1, 3, 5]])
    values, inverse, counts = bp.tensor(host).unique(
        sorted=False, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(values.numpy(), [1, 2, 3, 5])
    np.testing.assert_array_equal(values.numpy()[inverse.numpy()], host)
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 2, 1])


def _counts(lib, counts):
    """Repeat counts as an int64 tensor of `lib` (backprop's ops, or torch)."""
    return torch.tensor(counts) if lib is torch else bp.tensor(counts)


REPEAT_CASES = [
    _case("int, flattened", lambda lib, x: lib.repeat_interleave(x, 2)),
    _case("int, dim 1", lambda lib, x: lib.repeat_interleave(x, 3, dim=1)),
    _case("zero", lambda lib, x: lib.repeat_interleave(x, 0, dim=0)),
    _case("tensor, dim 0", lambda lib, x: lib.repeat_interleave(x, _counts(lib, [2, 0, 1]), dim=0)),
    _case(
        "tensor, dim -1", lambda lib, x: lib.repeat_interleave(x, _counts(lib, [1, 3, 0, 2]), -1)
    ),
    _case("one count", lambda lib, x: lib.repeat_interleave(x, _counts(lib, [2]), dim=1)),
    _case("0-d count", lambda lib, x: lib.repeat_interleave(x, _counts(lib, 2))),
    _case("0-d input", lambda lib, x: lib.repeat_interleave(x[1, 2], 3)),
    _case("permuted", lambda lib, x: lib.repeat_interleave(x.permute(1, 0), 2, dim=1)),
]


@pytest.mark.parametrize("fn", REPEAT_CASES)
def test_repeat_interleave_matches_torch_with_its_gradient(fn, dtype):
    _compare(fn, randn((3, 4), seed=9), dtype)


# -- errors ----------------------------------------------------------------------------------

X = bp.tensor(randn((3, 5), seed=10))

ERROR_CASES = [
    (lambda: ops.sort(X, dim=2), IndexError, r"sort: axis 2 is out of range"),
    (lambda: ops.sort(X, dim=0, axis=1), TypeError, r"sort: got both dim= .* and axis"),
    (lambda: ops.sort(X, dim=1.0), TypeError, r"sort: dim must be an int, got 1.0"),
    (lambda: ops.sort(X, descending=1), TypeError, r"sort: descending must be a bool, got 1"),
    (lambda: ops.sort(X, stable=None), TypeError, r"sort: stable must be a bool"),
    (lambda: ops.sort([1.0, 2.0]), TypeError, r"sort: expected a Tensor, got list"),
    (lambda: ops.argsort(X, dim=-3), IndexError, r"argsort: axis -3 is out of range"),
    (lambda: ops.topk(X, 6), ValueError, r"topk: k=6 is out of range for dim 1 of size 5"),
    (lambda: ops.topk(X, -1), ValueError, r"topk: k=-1 is out of range .* 0 <= k <= 5"),
    (lambda: ops.topk(X, 2.0), TypeError, r"topk: k must be an int, got 2.0"),
    (lambda: ops.topk(X, 1, largest="yes"), TypeError, r"topk: largest must be a bool"),
    (lambda: ops.topk(X[0, 0], 2), ValueError, r"topk: k=2 is out of range for dim 0 of size 1"),
    (lambda: ops.kthvalue(X, 0), ValueError, r"kthvalue: k=0 is out of range .* 1 <= k <= 5"),
    (lambda: ops.kthvalue(X, 4, dim=0), ValueError, r"kthvalue: k=4 is out of range for dim 0"),
    (lambda: ops.kthvalue(X, True), TypeError, r"kthvalue: k must be an int, got True"),
    (lambda: ops.kthvalue(X, 1, keepdims=1), TypeError, r"kthvalue: keepdim must be a bool"),
    (lambda: ops.median(X, 2), IndexError, r"median: axis 2 is out of range"),
    (lambda: ops.median(X, keepdim=True), ValueError, r"median: keepdim needs a dim"),
    (lambda: ops.median(X[:, :0], 1), ValueError, r"median: dim 1 of .* \(3, 0\) is empty"),
    (lambda: ops.median(bp.tensor(np.zeros(0, np.int64))), ValueError, r"empty int64 tensor"),
    (lambda: ops.masked_select(X, X), TypeError, r"masked_select: mask must be a bool tensor"),
    (lambda: ops.masked_select(X, [True]), TypeError, r"mask must be a bool tensor, got a list"),
    (lambda: ops.masked_select(X, X[:2] > 0), ValueError, r"masked_select: shapes \(3, 5\)"),
    (lambda: ops.nonzero(X, as_tuple=1), TypeError, r"nonzero: as_tuple must be a bool"),
    (lambda: ops.unique(X, dim=0), ValueError, r"unique: only dim=None .* got dim=0"),
    (lambda: ops.unique(X, return_counts="no"), TypeError, r"unique: return_counts must be"),
    (lambda: ops.repeat_interleave(X, 2.5), TypeError, r"repeats must be an int, got 2.5"),
    (lambda: ops.repeat_interleave(X, -1), ValueError, r"repeats must not be negative, got -1"),
    (
        lambda: ops.repeat_interleave(X, bp.tensor([1.0, 2.0])),
        TypeError,
        r"repeats must be an int or an integer tensor, got a float32 tensor",
    ),
    (
        lambda: ops.repeat_interleave(X, bp.tensor([[1, 2, 1]]), dim=0),
        ValueError,
        r"repeats must be a 0-d or 1-d tensor, got shape \(1, 3\)",
    ),
    (
        lambda: ops.repeat_interleave(X, bp.tensor([1, 2]), dim=0),
        ValueError,
        r"repeats has 2 counts but dim 0 of the tensor of shape \(3, 5\) has size 3",
    ),
    (
        lambda: ops.repeat_interleave(X, bp.tensor([1, -2, 1]), dim=0),
        ValueError,
        r"repeats must not be negative, got -2",
    ),
    (lambda: ops.repeat_interleave(X, 2, dim=2), IndexError, r"repeat_interleave: axis 2 is out"),
]


@pytest.mark.parametrize("call, error, message", ERROR_CASES)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- every backend -------------------------------------------------------------------------

DEVICE_VALUE_CASES = {
    "sort": lambda x: ops.sort(x, 0, descending=True).values,
    "topk": lambda x: x.topk(2).values,
    "kthvalue": lambda x: x.kthvalue(2, 0).values,
    "median dim": lambda x: x.median(1, keepdim=True).values,
    "median": lambda x: x.median(),
    "msort": lambda x: x.msort(),
    "masked_select": lambda x: x.masked_select(x > 0),
    "repeat_interleave": lambda x: x.repeat_interleave(2, dim=1),
    "repeat_interleave tensor": lambda x: x.repeat_interleave(
        bp.tensor([2, 0], device=x.device), 0
    ),
}


@pytest.mark.parametrize("fn", DEVICE_VALUE_CASES.values(), ids=DEVICE_VALUE_CASES.keys())
def test_values_and_gradients_on_every_backend_match_the_cpu(device, fn):
    assert_matches_the_cpu(device, fn, np.array([[0.5, -1.0, 2.0], [NAN, 0.25, -0.75]]))


DEVICE_INDEX_CASES = {
    "sort": lambda x: ops.sort(x, 1).indices,
    "argsort": lambda x: x.argsort(0, descending=True),
    "topk": lambda x: x.topk(2, 0, largest=False).indices,
    "median": lambda x: x.median(1).indices,
    "nonzero": lambda x: x.nonzero(),
    "unique": lambda x: x.unique(return_inverse=True)[1],
}


@pytest.mark.parametrize("fn", DEVICE_INDEX_CASES.values(), ids=DEVICE_INDEX_CASES.keys())
def test_indices_on_every_backend_match_the_cpu(device, fn):
    host = np.array([[1.0, 0.0, 1.0], [NAN, 2.0, 0.0]])
    result = fn(bp.tensor(host, device=device))
    assert result.device == device and result.dtype == np.int64
    np.testing.assert_array_equal(result.numpy(), fn(bp.tensor(host)).numpy())


# -- max and min along a dim: values and indices, as torch ---------------------------------------

TIED_ROWS = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0], [NAN, 5.0, NAN, 1.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_and_min_along_a_dim_give_values_and_indices_as_torch(name, dim, keepdim):
    _compare(lambda lib, x: getattr(lib, name)(x, dim, keepdim=keepdim), DISTINCT[0])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_along_a_dim_pick_the_first_tie_and_a_nan_as_torch(name):
    _compare(lambda lib, x: getattr(lib, name)(x, dim=1), TIED_ROWS)


@pytest.mark.parametrize("name", ["max", "min"])
def test_the_tensor_methods_give_the_same_pairs_and_the_whole_tensor_gives_a_0d_value(name):
    x = bp.tensor(DISTINCT[0])
    pair = getattr(x, name)(dim=1)
    np.testing.assert_array_equal(pair.indices.numpy(), getattr(ops, name)(x, 1).indices.numpy())
    values, indices = pair
    assert values.shape == indices.shape == (4,)
    assert getattr(x, name)().shape == ()
    np.testing.assert_array_equal(
        getattr(x, name)(x * 0).numpy(), getattr(np, f"{name}imum")(DISTINCT[0], 0)
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x: x.max(dim=(0, 1)), TypeError, r"max: dim must be an int, got \(0, 1\)"),
        (lambda x: x.min(keepdim=True), TypeError, "min: keepdim needs a dim"),
        (lambda x: x[:0].max(dim=0), ValueError, "max: cannot reduce an empty tensor"),
        (lambda x: ops.max("x", 0), TypeError, "max: expected a Tensor, got str"),
    ],
)
def test_max_and_min_refuse_what_torch_refuses(call, error, match):
    with pytest.raises(error, match=match):
        call(bp.tensor(DISTINCT[0]))


def test_max_along_a_dim_passes_gradcheck_and_gradgradcheck():
    x = bp.tensor(DISTINCT[0], requires_grad=True)
    assert bp.gradcheck(lambda t: t.max(dim=1).values, x)
    assert bp.gradgradcheck(lambda t: t.min(dim=0, keepdim=True).values ** 3, x)
