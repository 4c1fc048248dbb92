"""The backend contract, executable: every primitive of `backprop/backend/base.py` on every
backend that can run here (the `device` fixture), against plain NumPy float64 references
written out in this file.

A new backend passes this file before anything else runs on it. Shapes are tiny (at most
about 64 elements) because the Numba backend runs here in Numba's CUDA simulator, where each
simulated thread costs about 125 us. Every family is checked in float64, and once in float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, randn

from backprop.backend import philox
from backprop.backend.base import (
    ACTIVATIONS,
    BINARY_OPS,
    COMPARE_OPS,
    REDUCE_OPS,
    SOFTPLUS_THRESHOLD,
    UNARY_OPS,
)

F64, F32 = np.dtype("float64"), np.dtype("float32")
DTYPES = pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])


def put(b, array, dtype=None):
    """Host data onto backend `b` (as `dtype` when given)."""
    array = np.asarray(array)
    return b.from_host(array.astype(dtype) if dtype is not None else array)


def get(b, x) -> np.ndarray:
    host = b.to_host(x)
    assert isinstance(host, np.ndarray), f"to_host gave {type(host).__name__}, not ndarray"
    return host


def rounded(array, dtype):
    """The float64 values that `array` has once stored in `dtype` (the reference's input)."""
    return np.asarray(array).astype(dtype).astype(np.float64)


# -- creation and host transfer ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F64, F32, np.dtype("int64")], ids=str)
@pytest.mark.parametrize("shape", [(2, 3), (), (0, 4)], ids=str)
def test_zeros_ones_full_empty(device, shape, dtype):
    b = device.backend
    assert_close(get(b, b.zeros(shape, dtype)), np.zeros(shape), dtype)
    assert_close(get(b, b.ones(shape, dtype)), np.ones(shape), dtype)
    assert_close(get(b, b.full(shape, 7, dtype)), np.full(shape, 7.0), dtype)
    empty = get(b, b.empty(shape, dtype))
    assert empty.shape == shape and empty.dtype == dtype


@pytest.mark.parametrize(
    "start, stop, step, dtype",
    [(0, 5, 1, "int64"), (2, 11, 3, "int64"), (0.5, 2.0, 0.25, "float64"), (0, 1, 0.25, "float32")],
)
def test_arange(device, start, stop, step, dtype):
    b = device.backend
    expected = np.array([start + i * step for i in range(math.ceil((stop - start) / step))])
    assert_close(get(b, b.arange(start, stop, step, np.dtype(dtype))), expected, dtype)


@DTYPES
def test_seeded_random_matches_the_host_generator(device, dtype):
    """Numbers are drawn on the host: one seed gives the same numbers on every backend."""
    b = device.backend
    normal = get(b, b.random_normal((3, 4), dtype, np.random.default_rng(7), mean=1.0, std=2.0))
    expected = np.random.default_rng(7).normal(1.0, 2.0, size=(3, 4)).astype(dtype)
    assert_close(normal, expected.astype(np.float64), dtype, rtol=0, atol=0)
    uniform = get(b, b.random_uniform((2, 5), dtype, np.random.default_rng(7), low=-1, high=3))
    expected = np.random.default_rng(7).uniform(-1, 3, size=(2, 5)).astype(dtype)
    assert_close(uniform, expected.astype(np.float64), dtype, rtol=0, atol=0)
    assert np.all((uniform >= -1) & (uniform <= 3))
    again = get(b, b.random_normal((3, 4), dtype, np.random.default_rng(7), mean=1.0, std=2.0))
    np.testing.assert_array_equal(normal, again)


@pytest.mark.parametrize("shape", [(3, 5), (7,), (), (0, 2)], ids=str)
def test_dropout_mask_is_philox_and_advances_the_offset_on_the_device(device, shape):
    """The mask of the Philox state (seed, offset), written as the reference in
    backend/philox.py computes it; the offset in device memory then moves on by one."""
    b = device.backend
    start = np.array([0xFEDCBA9876543210, 2**32 + 3], np.uint64)
    state = put(b, start.copy())  # NumPy's from_host does not copy
    keep = get(b, b.dropout_mask(shape, 0.3, state))
    size = math.prod(shape)
    expected = philox.dropout_mask(np, size, philox.dropout_threshold(0.3), start).reshape(shape)
    assert keep.dtype == np.bool_ and keep.shape == shape
    np.testing.assert_array_equal(keep, expected)
    np.testing.assert_array_equal(get(b, state), [0xFEDCBA9876543210, 2**32 + 4])


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "bool"])
def test_from_host_to_host_round_trip(device, dtype):
    b = device.backend
    host = (randn((3, 4), seed=1) * 3).astype(dtype)
    x = b.from_host(host)
    assert b.is_array(x)
    back = get(b, x)
    assert back.dtype == host.dtype and back.shape == host.shape
    np.testing.assert_array_equal(back, host)


def test_from_host_accepts_non_contiguous_arrays(device):
    b = device.backend
    host = randn((4, 6), seed=2)
    for view in (host.T, host[::2, 1::2], host[:, ::-1]):
        np.testing.assert_array_equal(get(b, b.from_host(view)), view)


@pytest.mark.parametrize(
    "source, target",
    [
        ("float64", "float32"),
        ("float32", "float64"),
        ("float64", "int64"),
        ("bool", "float32"),
        ("int64", "float64"),
        ("float32", "bool"),
    ],
)
def test_astype(device, source, target):
    b = device.backend
    host = np.array([[-2.75, -1.0, 0.0], [0.5, 1.25, 3.5]]).astype(source)
    result = get(b, b.astype(b.from_host(host), np.dtype(target)))
    assert result.dtype == np.dtype(target)
    np.testing.assert_array_equal(result, host.astype(target))


@DTYPES
def test_copy_is_independent_and_assign_writes_in_place(device, dtype):
    b = device.backend
    host = randn((3, 4), seed=3)
    x = put(b, host, dtype)
    y = b.copy(x)
    assert_close(get(b, y), rounded(host, dtype), dtype)
    b.assign(y, put(b, np.ones((3, 4)), dtype))  # same-shape array
    assert_close(get(b, y), np.ones((3, 4)), dtype)
    assert_close(get(b, x), rounded(host, dtype), dtype, err_msg="copy shares memory")
    b.assign(x, 2.5)  # a scalar
    assert_close(get(b, x), np.full((3, 4), 2.5), dtype)


# -- elementwise ---------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

UNARY_REFERENCE = {
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "sin": np.sin,
    "cos": np.cos,
    "erf": _erf,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "log2": np.log2,
    "log10": np.log10,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "erfc": _erfc,
    "signbit": lambda x: np.signbit(x).astype(np.float64),
}
POSITIVE_ONLY = {"log", "sqrt", "log1p", "log2", "log10"}
DOMAINS = {
    "asin": (-0.95, 0.95),
    "acos": (-0.95, 0.95),
    "atanh": (-0.95, 0.95),
    "acosh": (1.0, 4.0),
}
"""Where the ops defined on an interval are tested (the simulator raises outside it)."""


def test_reference_tables_cover_the_contract():
    assert set(UNARY_REFERENCE) == set(UNARY_OPS)
    assert set(BINARY_REFERENCE) == set(BINARY_OPS)
    assert set(COMPARE_REFERENCE) == set(COMPARE_OPS)
    assert set(REDUCE_REFERENCE) == set(REDUCE_OPS)
    assert set(ACT_REFERENCE) == set(ACTIVATIONS)


@DTYPES
@pytest.mark.parametrize("op", UNARY_OPS)
def test_unary(device, op, dtype):
    b = device.backend
    host = randn((3, 4), seed=4, low=0.1, high=3.0) if op in POSITIVE_ONLY else randn((3, 4), 4)
    if op in DOMAINS:
        host = randn((3, 4), 4, *DOMAINS[op])
    if op in ("sign", "abs"):
        host[0, 0] = 0.0
    if op == "signbit":
        host[0, 0] = -0.0
    result = get(b, b.unary(op, put(b, host, dtype)))
    assert_close(result, UNARY_REFERENCE[op](rounded(host, dtype)), dtype, err_msg=op)


@pytest.mark.parametrize("op", ["neg", "exp", "sqrt", "abs", "sign", "sin", "cos", "erf"])
def test_a_unary_of_nan_is_nan(device, op):
    b = device.backend
    result = get(b, b.unary(op, put(b, np.array([np.nan, 1.0]), np.float64)))
    assert np.isnan(result[0]) and not np.isnan(result[1]), op


BINARY_REFERENCE = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((3, 4), ()),
    ((), (2, 3)),
]


def _binary_operands(op, shape_x, shape_y, seed):
    x = randn(shape_x, seed)
    y = randn(shape_y, seed + 1)
    if op == "pow":
        x = np.abs(x) + 0.2  # a positive base; any real exponent
    if op == "div":
        y = np.where(y >= 0, y + 0.5, y - 0.5)
    if op in ("maximum", "minimum") and x.ndim and y.ndim:
        x.flat[0] = y.flat[0]  # one tie: both give the common value
    return x, y


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_broadcasting_float64(device, op, shapes):
    b = device.backend
    x, y = _binary_operands(op, *shapes, seed=5)
    result = get(b, b.binary(op, put(b, x), put(b, y)))
    assert_close(result, BINARY_REFERENCE[op](x, y), F64, err_msg=op)


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_float32(device, op):
    b = device.backend
    x, y = _binary_operands(op, (3, 4), (4,), seed=6)
    result = get(b, b.binary(op, put(b, x, F32), put(b, y, F32)))
    assert_close(result, BINARY_REFERENCE[op](rounded(x, F32), rounded(y, F32)), F32, err_msg=op)


@DTYPES
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_python_scalar_on_either_side_keeps_the_array_dtype(device, op, dtype):
    b = device.backend
    host = np.abs(randn((3, 4), seed=7)) + 0.2
    x = put(b, host, dtype)
    ref = BINARY_REFERENCE[op]
    assert_close(get(b, b.binary(op, x, 1.5)), ref(rounded(host, dtype), 1.5), dtype, err_msg=op)
    assert_close(get(b, b.binary(op, 1.5, x)), ref(1.5, rounded(host, dtype)), dtype, err_msg=op)
    assert_close(get(b, b.binary(op, x, 2)), ref(rounded(host, dtype), 2.0), dtype, err_msg=op)


COMPARE_REFERENCE = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3), ())], ids=str)
@pytest.mark.parametrize("op", COMPARE_OPS)
def test_compare(device, op, shapes):
    b = device.backend
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, shapes[0]).astype(np.float64)  # small integers: many ties
    y = rng.integers(0, 3, shapes[1]).astype(np.float64)
    result = get(b, b.compare(op, put(b, x), put(b, y)))
    assert result.dtype == np.bool_
    np.testing.assert_array_equal(result, COMPARE_REFERENCE[op](x, y), err_msg=op)


@pytest.mark.parametrize("op", COMPARE_OPS)
def test_compare_float32_and_python_scalars(device, op):
    b = device.backend
    host = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 1.5]], dtype=np.float32)
    x = b.from_host(host)
    for result, expected in (
        (b.compare(op, x, 1.0), COMPARE_REFERENCE[op](host, 1.0)),
        (b.compare(op, 1.0, x), COMPARE_REFERENCE[op](1.0, host)),
    ):
        result = get(b, result)
        assert result.dtype == np.bool_
        np.testing.assert_array_equal(result, expected, err_msg=op)


@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4), (3, 4)), ((3, 4), (3, 4), (4,)), ((3, 1), (1, 4), ())], ids=str
)
def test_where_broadcasting(device, shapes):
    b = device.backend
    condition = randn(shapes[0], seed=9) > 0
    x, y = randn(shapes[1], seed=10), randn(shapes[2], seed=11)
    result = get(b, b.where(put(b, condition), put(b, x), put(b, y)))
    assert_close(result, np.where(condition, x, y), F64)


@DTYPES
def test_where_with_python_scalars(device, dtype):
    b = device.backend
    condition = randn((3, 4), seed=12) > 0
    host = randn((3, 4), seed=13)
    x = put(b, host, dtype)
    c = put(b, condition)
    assert_close(get(b, b.where(c, x, 0.0)), np.where(condition, rounded(host, dtype), 0), dtype)
    assert_close(get(b, b.where(c, 2.0, x)), np.where(condition, 2, rounded(host, dtype)), dtype)


# -- reductions ----------------------------------------------------------------------------------

REDUCE_REFERENCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


@pytest.mark.parametrize("keepdims", [False, True], ids=["", "keepdims"])
@pytest.mark.parametrize("axes", [None, (0,), (1,), (2,), (0, 2), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_float64(device, op, axes, keepdims):
    b = device.backend
    host = randn((2, 3, 4), seed=14)
    result = get(b, b.reduce(op, put(b, host), axes, keepdims))
    expected = REDUCE_REFERENCE[op](host, axis=axes, keepdims=keepdims)
    assert_close(result, np.asarray(expected), F64, err_msg=f"{op} {axes}")


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_float32(device, op):
    b = device.backend
    host = randn((3, 4), seed=15)
    result = get(b, b.reduce(op, put(b, host, F32), (1,), True))
    assert_close(result, REDUCE_REFERENCE[op](rounded(host, F32), axis=1, keepdims=True), F32)


@pytest.mark.parametrize("keepdims", [False, True], ids=["", "keepdims"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_argmax(device, axis, keepdims):
    b = device.backend
    host = randn((2, 3, 4), seed=16)
    result = get(b, b.argmax(put(b, host), axis, keepdims))
    expected = np.argmax(host, axis=axis, keepdims=keepdims)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, expected)


def test_argmax_picks_the_first_of_ties_float32(device):
    b = device.backend
    host = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(get(b, b.argmax(b.from_host(host), 1, False)), [1, 0])
    np.testing.assert_array_equal(get(b, b.argmax(b.from_host(host), None, False)), 1)


def _sort_key(value: float, descending: bool) -> tuple:
    """Where `value` goes in a sort: NaN is the largest value."""
    nan = bool(np.isnan(value))
    if descending:
        return (not nan, 0.0 if nan else -value)
    return (nan, 0.0 if nan else value)


def _argsort_reference(host: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Python's stable `sorted` on each row along `axis`."""
    rows = np.moveaxis(host, axis, -1)
    out = np.empty(rows.shape, dtype=np.int64)
    for position in np.ndindex(*rows.shape[:-1]):
        keys = [_sort_key(float(v), descending) for v in rows[position]]
        out[position] = sorted(range(len(keys)), key=keys.__getitem__)
    return np.moveaxis(out, -1, axis)


_NAN = math.nan
ARGSORT_CASES = {  # name: host array, with ties, NaNs and empty axes
    "ties": np.array([[2.0, 1.0, 2.0, 0.0, 1.0], [3.0, 3.0, 3.0, -1.0, 3.0]]),
    "nan": np.array([[_NAN, 1.0, _NAN, -math.inf], [0.5, _NAN, math.inf, 0.5]]),
    "3d": np.round(randn((2, 3, 4), seed=17)),
    "empty-axis": np.zeros((2, 0)),
    "int64": np.array([[3, -1, 3, 0], [2, 2, -5, 2]], dtype=np.int64),
    "float32": np.array([[1.5, _NAN, -2.0, 1.5, 0.0]], dtype=np.float32),
    "1d": np.array([2.0, _NAN, 2.0, 1.0]),
}


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("name", list(ARGSORT_CASES))
def test_argsort_is_stable_with_nan_largest_on_every_axis(device, name, descending):
    b = device.backend
    host = ARGSORT_CASES[name]
    for axis in range(-host.ndim, host.ndim):
        result = get(b, b.argsort(b.from_host(host), axis, descending))
        assert result.dtype == np.int64 and result.shape == host.shape
        expected = _argsort_reference(host, axis, descending)
        np.testing.assert_array_equal(result, expected, err_msg=f"{name} axis {axis}")
        if not descending:
            np.testing.assert_array_equal(result, np.argsort(host, axis=axis, kind="stable"))


# -- matmul --------------------------------------------------------------------------------------


def _matmul_reference(a, b_, transpose_a, transpose_b):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b_ = np.swapaxes(b_, -1, -2) if transpose_b else b_
    batch = np.broadcast_shapes(a.shape[:-2], b_.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b_ = np.broadcast_to(b_, batch + b_.shape[-2:])
    out = np.zeros(batch + (a.shape[-2], b_.shape[-1]))
    for index in np.ndindex(*batch):  # written as loops: independent of np.matmul
        for i in range(a.shape[-2]):
            for j in range(b_.shape[-1]):
                out[index + (i, j)] = sum(
                    a[index + (i, k)] * b_[index + (k, j)] for k in range(a.shape[-1])
                )
    return out


def _stored(shape, transpose):
    """The stored shape of an operand whose (op-applied) shape is `shape`."""
    return shape[:-2] + shape[-2:][::-1] if transpose else shape


MATMUL_SHAPES = [
    ((3, 4), (4, 2)),
    ((2, 3, 4), (2, 4, 2)),
    ((2, 3, 4), (4, 2)),
    ((3, 4), (2, 4, 2)),
    ((1, 3, 4), (2, 4, 2)),
]


@pytest.mark.parametrize("transpose_b", [False, True], ids=["", "tb"])
@pytest.mark.parametrize("transpose_a", [False, True], ids=["", "ta"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_float64(device, shapes, transpose_a, transpose_b):
    b = device.backend
    a = randn(_stored(shapes[0], transpose_a), seed=17)
    c = randn(_stored(shapes[1], transpose_b), seed=18)
    result = get(b, b.matmul(put(b, a), put(b, c), transpose_a, transpose_b))
    assert_close(result, _matmul_reference(a, c, transpose_a, transpose_b), F64)


def test_matmul_float32_and_non_contiguous_operands(device):
    b = device.backend
    a, c = randn((4, 3), seed=19), randn((2, 4), seed=20)
    # permuted backend arrays (what `x.T @ y` hands the backend), not only fresh ones
    a_t = b.permute(put(b, a, F32), (1, 0))
    c_t = b.permute(put(b, c, F32), (1, 0))
    result = get(b, b.matmul(a_t, c_t))
    assert_close(result, _matmul_reference(rounded(a, F32).T, rounded(c, F32).T, 0, 0), F32)
    result = get(b, b.matmul(a_t, put(b, c, F32), False, True))
    assert_close(result, _matmul_reference(rounded(a, F32).T, rounded(c, F32), 0, 1), F32)


# -- movement ------------------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (24,), (2, 1, 12)], ids=str)
def test_reshape(device, shape, dtype):
    b = device.backend
    host = randn((2, 3, 4), seed=21)
    x = put(b, host, dtype)
    assert_close(get(b, b.reshape(x, shape)), rounded(host, dtype).reshape(shape), dtype)
    # of a permuted (non-contiguous) array: row-major order of the permuted values
    permuted = b.permute(x, (2, 0, 1))
    expected = np.transpose(rounded(host, dtype), (2, 0, 1)).reshape(shape)
    assert_close(get(b, b.reshape(permuted, shape)), expected, dtype)


@DTYPES
@pytest.mark.parametrize("axes", [(2, 0, 1), (1, 0, 2), (0, 1, 2), (2, 1, 0)], ids=str)
def test_permute(device, axes, dtype):
    b = device.backend
    host = randn((2, 3, 4), seed=22)
    result = get(b, b.permute(put(b, host, dtype), axes))
    assert_close(result, np.transpose(rounded(host, dtype), axes), dtype)


@DTYPES
@pytest.mark.parametrize(
    "source, target", [((3, 1), (2, 3, 4)), ((), (2, 3)), ((4,), (3, 4)), ((1, 4), (3, 4))], ids=str
)
def test_broadcast_to(device, source, target, dtype):
    b = device.backend
    host = randn(source, seed=23)
    result = get(b, b.broadcast_to(put(b, host, dtype), target))
    assert_close(result, np.broadcast_to(rounded(host, dtype), target), dtype)


BASIC_INDICES = [
    (1,),
    (-1,),
    (slice(1, 3),),
    (slice(None), slice(None, None, 2)),
    (Ellipsis, 1),
    (None, slice(None), 0),
    (-1, slice(None, None, -1)),
    (slice(0, 2), None, slice(1, 4, 2)),
    (1, 2),
]


@DTYPES
@pytest.mark.parametrize("index", BASIC_INDICES, ids=str)
def test_getitem_basic(device, index, dtype):
    b = device.backend
    host = randn((3, 4), seed=24)
    result = get(b, b.getitem(put(b, host, dtype), index))
    assert_close(result, rounded(host, dtype)[index], dtype)


INT = np.int64
ARRAY_INDICES = [  # (positions of integer arrays are given as host arrays)
    (np.array([0, 2, 2], INT),),
    (slice(None), np.array([3, 0], INT)),
    (np.array([0, 1], INT), np.array([2, 3], INT)),
    (np.array([[0, 1], [1, 0]], INT),),
    (1, np.array([0, 0, 3], INT)),
    (np.array([0, 2], INT), slice(1, 3)),
]


def _on_backend(b, index):
    return tuple(b.from_host(i) if isinstance(i, np.ndarray) else i for i in index)


@pytest.mark.parametrize("index", ARRAY_INDICES, ids=str)
def test_getitem_integer_arrays(device, index):
    b = device.backend
    host = randn((3, 4), seed=25)
    result = get(b, b.getitem(put(b, host), _on_backend(b, index)))
    assert_close(result, host[index], F64)


def test_getitem_integer_arrays_split_by_a_slice_float32(device):
    """NumPy's rule: advanced indices separated by a slice put their axes first."""
    b = device.backend
    host = randn((2, 3, 4), seed=26)
    index = (np.array([0, 1, 1], INT), slice(None), np.array([3, 0, 2], INT))
    result = get(b, b.getitem(put(b, host, F32), _on_backend(b, index)))
    assert_close(result, rounded(host, F32)[index], F32)


INDEX_ADD_CASES = [  # (index, shape of the values)
    ((np.array([0, 2, 0], INT),), (3, 4)),
    ((slice(None), np.array([1, 1, 3], INT)), (3, 3)),
    ((slice(1, 3), 2), (2,)),
    ((np.array([0, 0, 2], INT), np.array([1, 1, 3], INT)), (3,)),
    ((None, Ellipsis, slice(None, None, 2)), (1, 3, 2)),
]


def _index_add_reference(shape, index, values):
    out = np.zeros(shape)
    np.add.at(out, index, values)  # unbuffered: repeated positions add up
    return out


@pytest.mark.parametrize("index, values_shape", INDEX_ADD_CASES, ids=str)
def test_index_add_sums_repeated_positions(device, index, values_shape):
    b = device.backend
    values = randn(values_shape, seed=27)
    result = get(b, b.index_add((3, 4), _on_backend(b, index), put(b, values)))
    assert_close(result, _index_add_reference((3, 4), index, values), F64)


def test_index_add_float32(device):
    b = device.backend
    values = randn((3, 4), seed=28)
    index = (np.array([1, 1, 0], INT),)
    result = get(b, b.index_add((2, 4), _on_backend(b, index), put(b, values, F32)))
    assert_close(result, _index_add_reference((2, 4), index, rounded(values, F32)), F32)


def _gather_reference(x, axis, index):
    out = np.zeros(index.shape)
    for position in np.ndindex(*index.shape):
        source = list(position)
        source[axis] = index[position]
        out[position] = x[tuple(source)]
    return out


def _scatter_add_reference(shape, axis, index, values):
    out = np.zeros(shape)
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[axis] = index[position]
        out[tuple(target)] += values[position]
    return out


GATHER_CASES = [  # (input shape, axis, index)
    ((3, 4), 1, np.array([[0, 0], [3, 1], [2, 2]], INT)),
    ((3, 4), 0, np.array([[2, 0, 1, 2], [0, 0, 2, 1]], INT)),
    ((2, 3, 4), 2, np.array([[[0, 3], [1, 1], [2, 0]], [[3, 3], [0, 1], [2, 2]]], INT)),
    ((3, 4), 1, np.array([[1], [0], [3]], INT)),
]


@DTYPES
@pytest.mark.parametrize("shape, axis, index", GATHER_CASES, ids=str)
def test_gather(device, shape, axis, index, dtype):
    b = device.backend
    host = randn(shape, seed=29)
    result = get(b, b.gather(put(b, host, dtype), axis, b.from_host(index)))
    assert_close(result, _gather_reference(rounded(host, dtype), axis, index), dtype)


@DTYPES
@pytest.mark.parametrize("shape, axis, index", GATHER_CASES, ids=str)
def test_scatter_add_sums_repeated_positions(device, shape, axis, index, dtype):
    b = device.backend
    values = randn(index.shape, seed=30)
    result = get(b, b.scatter_add(shape, axis, b.from_host(index), put(b, values, dtype)))
    expected = _scatter_add_reference(shape, axis, index, rounded(values, dtype))
    assert_close(result, expected, dtype)


@DTYPES
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concatenate(device, axis, dtype):
    b = device.backend
    shapes = [(2, 3, 2), (2, 3, 2), (2, 3, 2)]
    shapes = [s[:axis] + (k,) + s[axis + 1 :] for s, k in zip(shapes, (1, 2, 3))]
    parts = [randn(s, seed=31 + i) for i, s in enumerate(shapes)]
    result = get(b, b.concatenate([put(b, p, dtype) for p in parts], axis))
    expected = np.concatenate([rounded(p, dtype) for p in parts], axis=axis)
    assert_close(result, expected, dtype)


@DTYPES
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_stack(device, axis, dtype):
    b = device.backend
    parts = [randn((2, 3), seed=34 + i) for i in range(3)]
    result = get(b, b.stack([put(b, p, dtype) for p in parts], axis))
    assert_close(result, np.stack([rounded(p, dtype) for p in parts], axis=axis), dtype)


# -- im2col / col2im -------------------------------------------------------------------------


def _im2col_reference(x, kernel, stride, padding, dilation):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c * kh * kw, oh * ow))
    for b_, ch, i, j, oy, ox in np.ndindex(n, c, kh, kw, oh, ow):
        y = oy * sh - ph + i * dh
        xx = ox * sw - pw + j * dw
        if 0 <= y < h and 0 <= xx < w:
            cols[b_, (ch * kh + i) * kw + j, oy * ow + ox] = x[b_, ch, y, xx]
    return cols


def _col2im_reference(cols, shape, kernel, stride, padding, dilation):
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    image = np.zeros(shape)
    for b_, ch, i, j, oy, ox in np.ndindex(n, c, kh, kw, oh, ow):
        y = oy * sh - ph + i * dh
        xx = ox * sw - pw + j * dw
        if 0 <= y < h and 0 <= xx < w:
            image[b_, ch, y, xx] += cols[b_, (ch * kh + i) * kw + j, oy * ow + ox]
    return image


CONV_CASES = [  # (input shape, kernel, stride, padding, dilation): at most 64 columns
    ((1, 2, 3, 3), (2, 2), (1, 1), (0, 0), (1, 1)),
    ((2, 1, 3, 4), (2, 2), (1, 2), (1, 0), (1, 1)),
    ((1, 1, 4, 4), (2, 2), (1, 1), (1, 1), (2, 2)),
    ((1, 2, 4, 3), (3, 1), (2, 1), (1, 0), (1, 1)),
]


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CONV_CASES, ids=str)
def test_im2col_and_col2im(device, shape, kernel, stride, padding, dilation):
    b = device.backend
    geometry = (kernel, stride, padding, dilation)
    x = randn(shape, seed=37)
    cols = get(b, b.im2col(put(b, x), *geometry))
    expected = _im2col_reference(x, *geometry)
    assert_close(cols, expected, F64)
    grads = randn(expected.shape, seed=38)
    image = get(b, b.col2im(put(b, grads), shape, *geometry))
    assert_close(image, _col2im_reference(grads, shape, *geometry), F64)


def test_im2col_and_col2im_float32(device):
    b = device.backend
    shape, geometry = (1, 2, 3, 4), ((2, 2), (1, 1), (1, 0), (1, 1))
    x = randn(shape, seed=39)
    cols = get(b, b.im2col(put(b, x, F32), *geometry))
    assert_close(cols, _im2col_reference(rounded(x, F32), *geometry), F32)
    grads = randn(cols.shape, seed=40)
    image = get(b, b.col2im(put(b, grads, F32), shape, *geometry))
    assert_close(image, _col2im_reference(rounded(grads, F32), shape, *geometry), F32)


# -- activations ---------------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_C = math.sqrt(2.0 / math.pi)
_K = 0.044715


def _softplus(x, beta):
    linear = beta * x > SOFTPLUS_THRESHOLD
    return np.where(linear, x, np.log1p(np.exp(np.where(linear, 0.0, beta * x))) / beta)


ACT_REFERENCE = {  # name: (forward(x, alpha), derivative(x, alpha))
    "relu": (lambda x, a: np.maximum(x, 0), lambda x, a: (x > 0) * 1.0),
    "leaky_relu": (lambda x, a: np.where(x > 0, x, a * x), lambda x, a: np.where(x > 0, 1.0, a)),
    "sigmoid": (lambda x, a: _sigmoid(x), lambda x, a: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": (lambda x, a: np.tanh(x), lambda x, a: 1 - np.tanh(x) ** 2),
    "gelu": (
        lambda x, a: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        lambda x, a: (
            0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        ),
    ),
    "gelu_tanh": (
        lambda x, a: 0.5 * x * (1 + np.tanh(_C * (x + _K * x**3))),
        lambda x, a: (
            0.5 * (1 + np.tanh(_C * (x + _K * x**3)))
            + 0.5 * x * (1 - np.tanh(_C * (x + _K * x**3)) ** 2) * _C * (1 + 3 * _K * x**2)
        ),
    ),
    "silu": (
        lambda x, a: x * _sigmoid(x),
        lambda x, a: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
    ),
    "softplus": (
        _softplus,
        lambda x, a: np.where(a * x > SOFTPLUS_THRESHOLD, 1.0, _sigmoid(a * x)),
    ),
    "elu": (
        lambda x, a: np.where(x > 0, x, a * (np.exp(x) - 1)),
        lambda x, a: np.where(x > 0, 1.0, a * np.exp(x)),
    ),
}

# Every name, and the non-default parameters too: leaky_relu's slope, softplus's beta, elu's alpha.
ACT_CASES = [(name, 0.0) for name in ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu")] + [
    ("leaky_relu", 0.01),
    ("leaky_relu", 0.2),
    ("softplus", 1.0),
    ("softplus", 2.0),
    ("elu", 1.0),
    ("elu", 0.5),
]
# Includes 0 (where relu', leaky_relu' and elu' follow PyTorch: 0, alpha, alpha) and +-12
# (softplus with beta 2 is past its threshold there).
ACT_INPUT = np.array([[-12.0, -3.0, -1.5, -0.5], [-1e-3, 0.0, 0.25, 0.5], [1.0, 2.0, 3.0, 12.0]])


@DTYPES
@pytest.mark.parametrize("name, alpha", ACT_CASES, ids=str)
def test_act_forward_and_backward(device, name, alpha, dtype):
    b = device.backend
    forward, derivative = ACT_REFERENCE[name]
    x64 = rounded(ACT_INPUT, dtype)
    grad = randn(ACT_INPUT.shape, seed=41)
    x = put(b, ACT_INPUT, dtype)
    y = b.act_forward(name, x, alpha)
    assert_close(get(b, y), forward(x64, alpha), dtype, err_msg=f"{name} forward")
    gx = get(b, b.act_backward(name, put(b, grad, dtype), x, y, alpha))
    expected = rounded(grad, dtype) * derivative(x64, alpha)
    assert_close(gx, expected, dtype, err_msg=f"{name} backward")


@pytest.mark.parametrize("name, alpha", ACT_CASES, ids=str)
def test_bias_act_forward(device, name, alpha):
    b = device.backend
    x, bias = randn((3, 4), seed=42) * 2, randn((4,), seed=43)
    result = get(b, b.bias_act_forward(name, put(b, x), put(b, bias), alpha))
    assert_close(result, ACT_REFERENCE[name][0](x + bias, alpha), F64, err_msg=name)


def test_bias_act_forward_float32(device):
    b = device.backend
    x, bias = randn((3, 4), seed=44), randn((4,), seed=45)
    result = get(b, b.bias_act_forward("gelu", put(b, x, F32), put(b, bias, F32), 0.0))
    expected = ACT_REFERENCE["gelu"][0](rounded(x, F32) + rounded(bias, F32), 0.0)
    assert_close(result, expected, F32)


# -- fused softmax cross-entropy -----------------------------------------------------------------


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@DTYPES
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore_index", [-100, 4])
def test_softmax_cross_entropy(device, label_smoothing, ignore_index, dtype):
    """Rows whose target is `ignore_index` (-100, or a real class as torch allows) have loss 0,
    count 0 and a zero gradient; the other rows are the smoothed cross-entropy."""
    b = device.backend
    logits = randn((4, 5), seed=46) * 3
    logits[0, 0] = 40.0  # large logits must not overflow
    targets = np.array([0, 4, ignore_index, 2], INT)
    grad_losses = randn((4,), seed=47)
    ref = rounded(logits, dtype)
    log_probs = _log_softmax(ref)
    n, classes = ref.shape
    kept = targets != ignore_index
    picked = log_probs[np.arange(n), np.where(kept, targets, 0)]
    expected_losses = -(1 - label_smoothing) * picked - label_smoothing * log_probs.mean(axis=1)
    onehot = np.eye(classes)[np.where(kept, targets, 0)]
    smoothed = (1 - label_smoothing) * onehot + label_smoothing / classes
    expected_grad = (np.exp(log_probs) - smoothed) * rounded(grad_losses, dtype)[:, None]

    losses, probs, counted = b.softmax_cross_entropy_forward(
        put(b, logits, dtype), b.from_host(targets), label_smoothing, ignore_index
    )
    assert_close(get(b, losses), np.where(kept, expected_losses, 0.0), dtype)
    assert_close(get(b, probs), np.exp(log_probs), dtype)
    assert get(b, counted).dtype == dtype
    np.testing.assert_array_equal(get(b, counted), kept)
    grad = b.softmax_cross_entropy_backward(
        probs, b.from_host(targets), put(b, grad_losses, dtype), label_smoothing, ignore_index
    )
    assert_close(get(b, grad), expected_grad * kept[:, None], dtype)
    assert_close(get(b, probs), np.exp(log_probs), dtype, err_msg="backward changed the probs")


def test_a_target_out_of_range_gives_a_nan_loss(device):
    """No backend reads outside the row: a class < 0 or >= C that is not ignored gives NaN
    (the functional layer turns it into an IndexError on the CPU), and no gradient."""
    b = device.backend
    logits = put(b, randn((4, 3), seed=48), np.float64)
    targets = b.from_host(np.array([-1, 3, 1, -100], INT))
    losses, probs, counted = b.softmax_cross_entropy_forward(logits, targets)
    losses = get(b, losses)
    assert np.isnan(losses[:2]).all() and np.isfinite(losses[2]) and losses[3] == 0
    np.testing.assert_array_equal(get(b, counted), [1, 1, 1, 0])
    grad = get(b, b.softmax_cross_entropy_backward(probs, targets, b.ones((4,), np.float64)))
    np.testing.assert_allclose(grad[:2], get(b, probs)[:2], rtol=1e-15)


# -- optimizer updates ---------------------------------------------------------------------------

SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9, "first_step": True},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.1},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
]


def _sgd_reference(
    param,
    grad,
    buffer,
    lr,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    first_step=False,
):
    """torch.optim.SGD's documented update, one step."""
    g = grad + weight_decay * param
    if momentum:
        buffer = g.copy() if first_step else momentum * buffer + (1 - dampening) * g
        g = g + momentum * buffer if nesterov else buffer
    return param - lr * g, buffer


@DTYPES
@pytest.mark.parametrize("options", SGD_CASES, ids=lambda o: ",".join(o))
def test_sgd_update_in_place(device, options, dtype):
    b = device.backend
    p, g, buf = randn((3, 4), 48), randn((3, 4), 49), randn((3, 4), 50)
    param, grad = put(b, p, dtype), put(b, g, dtype)
    buffer = put(b, buf, dtype) if options.get("momentum") else None
    b.sgd_update(param, grad, buffer, **options)
    b.synchronize()
    expected_p, expected_buf = _sgd_reference(
        rounded(p, dtype), rounded(g, dtype), rounded(buf, dtype), **options
    )
    assert_close(get(b, param), expected_p, dtype, err_msg="param")
    if buffer is not None:
        assert_close(get(b, buffer), expected_buf, dtype, err_msg="momentum buffer")
    assert_close(get(b, grad), rounded(g, dtype), dtype, err_msg="grad must not change")


ADAM_CASES = [
    {"step": 1},
    {"step": 3, "weight_decay": 0.1},
    {"step": 3, "weight_decay": 0.1, "decoupled": True},
    {"step": 2, "amsgrad": True},
]


def _adam_reference(
    param,
    grad,
    m,
    v,
    v_max,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    step,
    decoupled=False,
    amsgrad=False,
):
    """torch.optim.Adam / AdamW's documented update, one step."""
    if decoupled:
        param = param * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    if amsgrad:
        v_max = np.maximum(v_max, v)
    second = v_max if amsgrad else v
    denom = np.sqrt(second) / np.sqrt(1 - beta2**step) + eps
    return param - lr / (1 - beta1**step) * m / denom, m, v, v_max


@DTYPES
@pytest.mark.parametrize("options", ADAM_CASES, ids=lambda o: ",".join(o))
def test_adam_update_in_place(device, options, dtype):
    b = device.backend
    options = {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.0, **options}
    p, g = randn((3, 4), 51), randn((3, 4), 52)
    m, v = randn((3, 4), 53) * 0.1, randn((3, 4), 54) ** 2 * 0.1
    v_max = v + randn((3, 4), 55) ** 2 * 0.1 * (randn((3, 4), 56) > 0)
    param, grad, exp_avg, exp_avg_sq = (put(b, a, dtype) for a in (p, g, m, v))
    max_sq = put(b, v_max, dtype) if options.get("amsgrad") else None
    b.adam_update(param, grad, exp_avg, exp_avg_sq, max_sq, **options)
    b.synchronize()
    expected = _adam_reference(*(rounded(a, dtype) for a in (p, g, m, v, v_max)), **options)
    assert_close(get(b, param), expected[0], dtype, err_msg="param")
    assert_close(get(b, exp_avg), expected[1], dtype, err_msg="exp_avg")
    assert_close(get(b, exp_avg_sq), expected[2], dtype, err_msg="exp_avg_sq")
    if max_sq is not None:
        assert_close(get(b, max_sq), expected[3], dtype, err_msg="max_exp_avg_sq")


RMSPROP_CASES = [
    {},
    {"weight_decay": 0.1},
    {"momentum": 0.9},
    {"centered": True, "momentum": 0.5},
]


def _rmsprop_reference(
    param,
    grad,
    square_avg,
    grad_avg,
    buffer,
    lr,
    alpha,
    eps,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
):
    """torch.optim.RMSprop's documented update, one step."""
    grad = grad + weight_decay * param
    square_avg = alpha * square_avg + (1 - alpha) * grad * grad
    if centered:
        grad_avg = alpha * grad_avg + (1 - alpha) * grad
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum:
        buffer = momentum * buffer + grad / avg
        return param - lr * buffer, square_avg, grad_avg, buffer
    return param - lr * grad / avg, square_avg, grad_avg, buffer


@DTYPES
@pytest.mark.parametrize("options", RMSPROP_CASES, ids=lambda o: ",".join(o) or "plain")
def test_rmsprop_update_in_place(device, options, dtype):
    b = device.backend
    options = {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, **options}
    p, g = randn((3, 4), 57), randn((3, 4), 58)
    sq, ga, buf = randn((3, 4), 59) ** 2 + 0.5, randn((3, 4), 60) * 0.1, randn((3, 4), 61)
    param, grad, square_avg = (put(b, a, dtype) for a in (p, g, sq))
    grad_avg = put(b, ga, dtype) if options.get("centered") else None
    buffer = put(b, buf, dtype) if options.get("momentum") else None
    b.rmsprop_update(param, grad, square_avg, grad_avg, buffer, **options)
    b.synchronize()
    expected = _rmsprop_reference(*(rounded(a, dtype) for a in (p, g, sq, ga, buf)), **options)
    assert_close(get(b, param), expected[0], dtype, err_msg="param")
    assert_close(get(b, square_avg), expected[1], dtype, err_msg="square_avg")
    if grad_avg is not None:
        assert_close(get(b, grad_avg), expected[2], dtype, err_msg="grad_avg")
    if buffer is not None:
        assert_close(get(b, buffer), expected[3], dtype, err_msg="momentum buffer")


@DTYPES
@pytest.mark.parametrize(
    "options",
    [{"step": 1}, {"step": 3, "lr_decay": 0.1, "weight_decay": 0.1}],
    ids=["first", "decayed"],
)
def test_adagrad_update_in_place(device, options, dtype):
    b = device.backend
    options = {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "eps": 1e-10, **options}
    p, g, s = randn((3, 4), 62), randn((3, 4), 63), randn((3, 4), 64) ** 2
    param, grad, state_sum = (put(b, a, dtype) for a in (p, g, s))
    b.adagrad_update(param, grad, state_sum, **options)
    b.synchronize()
    p64, g64, s64 = (rounded(a, dtype) for a in (p, g, s))
    g64 = g64 + options["weight_decay"] * p64
    s64 = s64 + g64 * g64
    clr = options["lr"] / (1 + (options["step"] - 1) * options["lr_decay"])
    assert_close(get(b, state_sum), s64, dtype, err_msg="state_sum")
    assert_close(get(b, param), p64 - clr * g64 / (np.sqrt(s64) + options["eps"]), dtype)


def test_synchronize_and_device_properties(device):
    b = device.backend
    b.synchronize()
    properties = b.device_properties()
    assert isinstance(properties, dict) and all(isinstance(k, str) for k in properties)
    if "total_memory" in properties:
        assert isinstance(properties["total_memory"], int) and properties["total_memory"] > 0
