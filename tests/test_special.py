"""The NumPy backend's numerically delicate elementwise code: the vectorised `erf` and `erfc`
(Cody's algorithm) against `math.erf` and `math.erfc`, the branch-free `select` against
`np.where`, and sigmoid and the ReLU gradient, which are built on them or written for speed,
against exact references.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest

from backprop.backend import special
from backprop.backend.numpy_backend import NumpyBackend

SMALLEST_SUBNORMAL = float(np.finfo(np.float64).smallest_subnormal)


def math_erf(x: np.ndarray) -> np.ndarray:
    """The reference: the C library's erf through `math.erf`, one element at a time."""
    return np.array([math.erf(v) for v in np.asarray(x, np.float64).ravel()]).reshape(x.shape)


def assert_relative_error_below(actual: np.ndarray, expected: np.ndarray, bound: float) -> None:
    """|actual - expected| <= bound * |expected|, or one subnormal step where that is less (a
    subnormal result has only absolute precision)."""
    error = np.abs(actual - expected)
    allowed = np.maximum(bound * np.abs(expected), SMALLEST_SUBNORMAL)
    bad = np.flatnonzero(~(error <= allowed))
    assert bad.size == 0, (
        f"{bad.size} values off, the first {actual.flat[bad[0]]!r} for {expected.flat[bad[0]]!r}"
    )


def ulps_around(center: float, count: int) -> np.ndarray:
    """The `count` float64 numbers on either side of `center`, and `center` itself."""
    below = [center]
    above = [center]
    for _ in range(count):
        below.append(np.nextafter(below[-1], -np.inf))
        above.append(np.nextafter(above[-1], np.inf))
    return np.array(sorted(set(below + above)))


ERF_POINTS = {
    "dense grid over [-30, 30]": np.linspace(-30.0, 30.0, 600_001),
    "normal samples": np.random.default_rng(0).standard_normal(200_000) * 2,
    "tiny |x|": np.geomspace(1e-300, 0.5, 20_001),
    "around the breakpoint 0.46875": ulps_around(0.46875, 2000),
    "around the breakpoint 4": ulps_around(4.0, 2000),
    "around the underflow of erfc": np.linspace(26.0, 28.0, 2001),
    "large |x|": np.geomspace(5.0, 1e308, 2001),
    "subnormal x": np.geomspace(SMALLEST_SUBNORMAL, 2.2e-308, 2001),
}


@pytest.mark.parametrize("points", ERF_POINTS.values(), ids=ERF_POINTS.keys())
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
@pytest.mark.filterwarnings("error")
def test_erf_matches_math_erf_to_1e_15_relative(points, sign):
    x = sign * points
    assert_relative_error_below(special.erf(x), math_erf(x), 1e-15)


def math_erfc(x: np.ndarray) -> np.ndarray:
    return np.array([math.erfc(v) for v in np.asarray(x, np.float64).ravel()]).reshape(x.shape)


@pytest.mark.parametrize("points", ERF_POINTS.values(), ids=ERF_POINTS.keys())
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
@pytest.mark.filterwarnings("error")
def test_erfc_matches_math_erfc_to_1e_13_relative_where_1_minus_erf_would_lose_it(points, sign):
    x = sign * points[::10]
    assert_relative_error_below(special.erfc(x), math_erfc(x), 1e-13)


def test_erfc_special_values_and_its_underflow_to_exactly_zero():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 27.3, 28.0, 1e300])
    np.testing.assert_array_equal(special.erfc(x), [1.0, 1.0, 0.0, 2.0, np.nan, 0.0, 0.0, 0.0])
    assert special.erfc(np.float32(3.0)).dtype == np.float32


def test_erf_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    result = special.erf(x)
    np.testing.assert_array_equal(result, [0.0, -0.0, 1.0, -1.0, np.nan])
    assert np.signbit(result[1]) and not np.signbit(result[0])


def test_erf_float32_is_float64_erf_rounded_once():
    x = (np.random.default_rng(1).standard_normal(50_000) * 3).astype(np.float32)
    result = special.erf(x)
    assert result.dtype == np.float32
    np.testing.assert_array_max_ulp(result, math_erf(x).astype(np.float32), maxulp=1)


@pytest.mark.parametrize(
    "x",
    [np.array(0.5), np.zeros((0, 3)), np.linspace(-3, 3, 40_000).reshape(200, 200).T],
    ids=["0-d", "empty", "transposed, several blocks"],
)
def test_erf_keeps_shape_and_layout_independent_values(x):
    result = special.erf(x)
    assert isinstance(result, np.ndarray) and result.shape == x.shape
    np.testing.assert_array_equal(result, special.erf(np.ascontiguousarray(x)))
    assert_relative_error_below(result, math_erf(x), 1e-15)


def test_numpy_backend_erf_is_the_vectorised_one():
    x = np.linspace(-5, 5, 101)
    np.testing.assert_array_equal(NumpyBackend().erf(x), special.erf(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_select_is_np_where_to_the_bit(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 33)).astype(dtype)
    b = rng.standard_normal((64, 33)).astype(dtype)
    a.flat[:4] = [np.nan, np.inf, -0.0, 0.0]
    b.flat[4:8] = [np.nan, -np.inf, -0.0, 0.0]
    mask = rng.standard_normal((64, 33)) > 0
    expected = np.where(mask, a, b)
    result = special.select(mask, a, b)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result.view(np.uint8), expected.view(np.uint8))


def test_select_broadcasts_a_0d_operand():
    a = np.array([1.5, -2.5, np.nan, 4.0])
    zero = np.zeros((), a.dtype)
    mask = np.array([True, False, False, True])
    np.testing.assert_array_equal(special.select(mask, a, zero), [1.5, 0.0, 0.0, 4.0])


def exact_sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)) in 40-digit decimal arithmetic, rounded once to float64."""
    with localcontext() as context:
        context.prec = 40
        return float(1 / (1 + (-Decimal(x)).exp()))


@pytest.mark.filterwarnings("error")
def test_sigmoid_keeps_relative_accuracy_down_to_the_smallest_subnormal():
    x = np.concatenate([np.linspace(-745.0, 40.0, 20_001), np.linspace(-45.0, -35.0, 1001)])
    expected = np.array([exact_sigmoid(v) for v in x])
    result = NumpyBackend().act_forward("sigmoid", x)
    assert_relative_error_below(result, expected, 1e-15)
    assert result[0] > 0  # sigmoid(-745) is the smallest subnormal, not 0


@pytest.mark.filterwarnings("error")
def test_sigmoid_float32_and_special_values():
    b = NumpyBackend()
    x32 = np.linspace(-87.0, 20.0, 10_001).astype(np.float32)
    expected = np.array([exact_sigmoid(float(v)) for v in x32]).astype(np.float32)
    result = b.act_forward("sigmoid", x32)
    assert result.dtype == np.float32
    np.testing.assert_array_max_ulp(result, expected, maxulp=2)
    special_values = np.array([-np.inf, -1000.0, 0.0, 1000.0, np.inf, np.nan])
    np.testing.assert_array_equal(
        b.act_forward("sigmoid", special_values), [0.0, 0.0, 0.5, 1.0, 1.0, np.nan]
    )
    assert b.act_forward("sigmoid", np.array(-50.0)).shape == ()


def test_relu_gradient_is_zero_where_the_output_is_not_positive_even_for_nan_gradients():
    y = np.maximum(np.random.default_rng(3).standard_normal(1000), 0.0)
    grad = np.random.default_rng(4).standard_normal(1000)
    grad[:20] = np.nan
    grad[20:40] = -np.inf
    result = NumpyBackend().act_backward("relu", grad, y, y)
    expected = np.where(y > 0, grad, 0.0)
    np.testing.assert_array_equal(result.view(np.uint64), expected.view(np.uint64))
