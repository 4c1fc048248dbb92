"""`backprop.nn.init`: PyTorch's initialisers, filling tensors in place from the global
generator, with the bounds and spreads of PyTorch's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

import backprop as bp
from backprop.nn import Parameter, init


@pytest.fixture(autouse=True)
def seeded():
    """The statistical checks below draw thousands of samples from a fixed seed."""
    bp.manual_seed(0)


def weight(*shape) -> Parameter:
    return Parameter(bp.zeros(*shape))


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_pytorch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_initialisers_fill_in_place_outside_the_graph():
    param = weight(3, 4)
    data = param.data
    assert init.normal_(param) is param
    assert param.data is data and param.is_leaf and param.requires_grad
    assert np.all(param.numpy() != 0)


def test_the_global_seed_makes_initialisation_repeatable():
    first, second = weight(4, 4), weight(4, 4)
    bp.manual_seed(5)
    init.kaiming_normal_(first)
    bp.manual_seed(5)
    init.kaiming_normal_(second)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    init.xavier_uniform_(second, generator=np.random.default_rng(1))
    assert not np.array_equal(first.numpy(), second.numpy())


def test_constant_zeros_and_ones():
    param = weight(2, 3)
    np.testing.assert_array_equal(init.constant_(param, 0.5).numpy(), np.full((2, 3), 0.5))
    np.testing.assert_array_equal(init.ones_(param).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(param).numpy(), np.zeros((2, 3)))


def test_uniform_and_normal_draw_the_asked_distribution():
    values = init.uniform_(weight(200, 100), -2.0, 3.0).numpy()
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(0.5, abs=0.05)
    values = init.normal_(weight(200, 100), mean=1.0, std=0.5).numpy()
    assert values.mean() == pytest.approx(1.0, abs=0.02)
    assert values.std() == pytest.approx(0.5, rel=0.03)


def test_xavier_uses_fan_in_plus_fan_out():
    bound = math.sqrt(6 / (100 + 200)) * 2.0
    values = init.xavier_uniform_(weight(200, 100), gain=2.0).numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    values = init.xavier_normal_(weight(200, 100)).numpy()
    assert values.std() == pytest.approx(math.sqrt(2 / 300), rel=0.03)


@pytest.mark.parametrize(("mode", "fan"), [("fan_in", 16 * 9), ("fan_out", 32 * 9)])
def test_kaiming_counts_the_receptive_field_in_the_fan(mode, fan):
    shape = (32, 16, 3, 3)  # a Conv2d weight (out, in, kh, kw)
    values = init.kaiming_uniform_(weight(*shape), mode=mode, nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    values = init.kaiming_normal_(weight(*shape), a=0.1, mode=mode).numpy()
    expected = math.sqrt(2 / (1 + 0.1**2)) / math.sqrt(fan)
    assert values.std() == pytest.approx(expected, rel=0.03)


def test_initialisers_keep_the_dtype():
    param = Parameter(bp.zeros(3, 3, dtype="float64"))
    assert init.xavier_normal_(param).dtype == bp.float64


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: init.xavier_uniform_(weight(5)),
            ValueError,
            "at least 2 dimensions, got \\(5,\\)",
        ),
        (
            lambda: init.kaiming_normal_(weight(2, 2), mode="fan"),
            ValueError,
            "'fan_in' or 'fan_out'",
        ),
        (lambda: init.calculate_gain("swish"), ValueError, "unsupported nonlinearity 'swish'"),
        (lambda: init.normal_(bp.zeros(2, dtype="int64")), TypeError, "normal_: expected a float"),
        (lambda: init.uniform_(weight(2), 1.0, 0.0), ValueError, "uniform_: expected a <= b"),
        (lambda: init.zeros_([0.0]), TypeError, "constant_: expected a Tensor, got list"),
        (lambda: init.xavier_normal_([[0.0]]), TypeError, "xavier_normal_: expected a Tensor"),
        (
            lambda: init.kaiming_uniform_(bp.zeros(2, 2, dtype="int64")),
            TypeError,
            "kaiming_uniform_: expected a float32 or float64 tensor, got int64",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
