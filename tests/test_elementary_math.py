"""PyTorch's remaining elementwise math (`backprop/ops/elementary.py`): exp2, log2, log10, the
hyperbolic and inverse trigonometric functions, atan2, hypot, logaddexp(2), fmod, remainder,
floor_divide, true_divide, deg2rad, rad2deg, sinc, xlogy, heaviside, copysign, logit, erfc and
erfinv, against torch: values, dtypes, NaN/inf/±0, and gradients at the awkward points too.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp

torch = pytest.importorskip("torch")

# Each unary function with an interval inside its domain, where its gradient is finite.
UNARY_DOMAINS = {
    "exp2": (-4.0, 4.0),
    "log2": (0.1, 5.0),
    "log10": (0.1, 5.0),
    "sinh": (-3.0, 3.0),
    "cosh": (-3.0, 3.0),
    "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9),
    "atan": (-3.0, 3.0),
    "asinh": (-3.0, 3.0),
    "acosh": (1.1, 4.0),
    "atanh": (-0.9, 0.9),
    "deg2rad": (-360.0, 360.0),
    "rad2deg": (-4.0, 4.0),
    "sinc": (-2.5, 2.5),
    "logit": (0.05, 0.95),
    "erfc": (-3.0, 3.0),
    "erfinv": (-0.95, 0.95),
}
BINARY = ["atan2", "hypot", "logaddexp", "logaddexp2", "fmod", "remainder", "xlogy", "copysign"]
ALIASES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
}
EDGES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, np.inf, -np.inf, np.nan, 1e-300, 1e300])
"""NaN, infinities, signed zeros, the domain edges ±1 and 0, tiny and huge values."""


def binary_inputs(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random operands for a binary function: the second of xlogy positive, and divisors of
    fmod and remainder kept away from zero."""
    data = randn(shape, seed) * 2
    if name == "xlogy" and seed % 2:
        return np.abs(data) + 0.1
    if name in ("fmod", "remainder") and seed % 2:
        return np.where(data >= 0, data + 0.5, data - 0.5)
    return data


def both(name: str, ours_inputs: list, their_inputs: list):
    """`name` applied by backprop and by torch."""
    return getattr(bp, name)(*ours_inputs), getattr(torch, name)(*their_inputs)


def check_against_torch(name: str, arrays: list[np.ndarray], dtype: str, seed: int = 7) -> None:
    """Values, dtype and every input's gradient of `name` against torch on the same inputs."""
    ours = [bp.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out, expected = both(name, ours, theirs)
    assert_close(out.numpy(), expected.detach().double().numpy(), dtype, err_msg=name)
    grad = randn(out.shape, seed).astype(dtype)
    out.backward(bp.tensor(grad))
    expected.backward(torch.tensor(grad))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        assert_close(mine.grad.numpy(), reference.grad.double().numpy(), dtype, err_msg=f"{i}")


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
def test_each_unary_function_and_its_gradient_match_torch(name, dtype):
    check_against_torch(name, [randn((3, 4), 1, *UNARY_DOMAINS[name])], dtype)


@pytest.mark.parametrize("name", BINARY)
def test_each_binary_function_broadcasts_and_matches_torch_with_both_gradients(name, dtype):
    arrays = [binary_inputs(name, (3, 1, 4), 2), binary_inputs(name, (2, 4), 3)]
    check_against_torch(name, arrays, dtype)


def test_true_divide_is_division_with_its_gradients():
    check_against_torch("true_divide", [randn((2, 3), 0), randn((3,), 1, 0.5, 2.0)], "float64")


@pytest.mark.parametrize("name", ["fmod", "remainder"])
def test_fmod_and_remainder_are_exact_for_quotients_up_to_a_million(name):
    x = randn((200,), 4, -1e6, 1e6)
    y = randn((200,), 5, 0.3, 3.0) * np.where(randn((200,), 6) > 0, 1, -1)
    out, expected = both(name, [bp.tensor(x), bp.tensor(y)], [torch.tensor(x), torch.tensor(y)])
    assert_close(out.numpy(), expected.numpy(), "float64", rtol=1e-9, atol=1e-9)


def test_floor_divide_matches_torch_on_floats_and_has_no_gradient():
    x = bp.tensor(randn((4, 5), 0) * 7, requires_grad=True)
    y = randn((5,), 1) * 2
    out = bp.floor_divide(x, bp.tensor(y))
    expected = torch.floor_divide(torch.tensor(x.numpy()), torch.tensor(y))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert not out.requires_grad


@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide"])
def test_integer_division_ops_keep_the_integer_dtype_and_are_exact(name):
    x = np.array([7, -7, 7, -7, 0, 123456789, -5], dtype=np.int64)
    y = np.array([3, 3, -3, -3, 4, 1000, 7], dtype=np.int64)
    out, expected = both(name, [bp.tensor(x), bp.tensor(y)], [torch.tensor(x), torch.tensor(y)])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    scalar, expected = both(name, [bp.tensor(x), 4], [torch.tensor(x), 4])
    assert scalar.dtype == np.int64
    np.testing.assert_array_equal(scalar.numpy(), expected.numpy())


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
@pytest.mark.parametrize("kind", ["int64", "bool"])
def test_unary_functions_of_integers_and_bools_give_float32_as_torch(name, kind):
    data = np.array([0, 1, 2, 3]) if kind == "int64" else np.array([True, False])
    with np.errstate(all="ignore"):  # log2(0), logit(1)
        out, expected = both(
            name, [bp.tensor(data.astype(kind))], [torch.tensor(data.astype(kind))]
        )
    assert out.dtype == np.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", ["atan2", "xlogy", "copysign", "true_divide"])
def test_binary_functions_of_integers_and_bools_give_float32_as_torch(name):
    for x, y in [([1, -2, 0, 3], [2, 2, 0, -1]), ([True, False], [True, True])]:
        x, y = np.array(x), np.array(y)
        with np.errstate(all="ignore"):  # 0 / 0, log(0)
            out, expected = both(
                name, [bp.tensor(x), bp.tensor(y)], [torch.tensor(x), torch.tensor(y)]
            )
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, equal_nan=True)
    a_float = torch.tensor(2.5)  # torch.atan2 takes no Python number; a 0-d float32 is alike
    mixed, expected = both(
        name, [bp.tensor(np.array([1, 2])), 2.5], [torch.tensor([1, 2]), a_float]
    )
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed.numpy(), expected.numpy(), rtol=1e-6)


def test_a_float64_operand_wins_over_an_integer_one():
    out = bp.atan2(bp.tensor(np.array([1, -2])), bp.tensor(np.array([2.0, 3.0])))
    assert out.dtype == np.float64
    assert_close(out.numpy(), np.arctan2([1.0, -2.0], [2.0, 3.0]))


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
def test_unary_values_and_gradients_at_nan_inf_signed_zero_and_domain_edges_match_torch(name):
    x = bp.tensor(EDGES, requires_grad=True)
    reference = torch.tensor(EDGES, requires_grad=True)
    with np.errstate(all="ignore"):
        out, expected = both(name, [x], [reference])
        out.backward(bp.ones_like(out))
    expected.backward(torch.ones_like(expected))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-300)
    zeros = expected.detach().numpy() == 0
    assert np.array_equal(
        np.signbit(out.numpy()[zeros]), np.signbit(expected.detach().numpy()[zeros])
    )
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", [*BINARY, "floor_divide"])
def test_binary_values_and_gradients_on_every_pair_of_edge_values_match_torch(name):
    edges = EDGES if name not in ("fmod", "remainder", "floor_divide") else EDGES[:-2]
    x_values, y_values = (grid.ravel() for grid in np.meshgrid(edges, edges))
    differentiable = name != "floor_divide"
    x, y = (bp.tensor(v, requires_grad=differentiable) for v in (x_values, y_values))
    tx, ty = (torch.tensor(v, requires_grad=differentiable) for v in (x_values, y_values))
    with np.errstate(all="ignore"):
        out, expected = both(name, [x, y], [tx, ty])
        if differentiable:
            out.backward(bp.ones_like(out))
    atol = 1e-15 if name == "logaddexp2" else 1e-300  # torch rounds -1 + 1 with an FMA there
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=atol)
    zeros = (expected.detach().numpy() == 0) & (name != "logaddexp2")
    assert np.array_equal(
        np.signbit(out.numpy()[zeros]), np.signbit(expected.detach().numpy()[zeros])
    )
    if differentiable:
        expected.backward(torch.ones_like(expected))
        for mine, theirs in [(x, tx), (y, ty)]:
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_gradients_at_the_awkward_points_are_torchs():
    with np.errstate(all="ignore"):
        x = bp.tensor([-1.0, 1.0], requires_grad=True)
        bp.asin(x).sum().backward()
        assert np.all(x.grad.numpy() == np.inf)  # asin' = 1 / sqrt(1 - x²)
        y, x = bp.tensor([0.0], requires_grad=True), bp.tensor([0.0], requires_grad=True)
        bp.atan2(y, x).sum().backward()
        assert y.grad.numpy()[0] == 0 and x.grad.numpy()[0] == 0
        x, y = bp.tensor([0.0], requires_grad=True), bp.tensor([0.0], requires_grad=True)
        bp.hypot(x, y).sum().backward()
        assert np.isnan(x.grad.numpy()[0]) and np.isnan(y.grad.numpy()[0])
        x, y = bp.tensor([1.0, 5.5], requires_grad=True), bp.tensor([0.0, 2.0], requires_grad=True)
        bp.fmod(x, y).sum().backward()
        assert list(y.grad.numpy()) == [-np.inf, -2.0]  # -trunc(x / y)
        x, y = bp.tensor([-3.0], requires_grad=True), bp.tensor([np.inf], requires_grad=True)
        bp.remainder(x, y).sum().backward()
        assert y.grad.numpy()[0] == 1.0  # -floor_divide(-3, inf) = 1


@pytest.mark.parametrize("eps", [None, 0.1])
def test_logit_clamps_with_eps_and_its_gradient_is_zero_or_nan_outside(eps):
    values = np.array([-0.1, 0.0, 0.05, 0.1, 0.5, 0.95, 1.0, 1.2])
    x, reference = bp.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with np.errstate(all="ignore"):
        out = bp.logit(x, eps=eps)
        out.backward(bp.ones_like(out))
    expected = torch.logit(reference, eps=eps)
    expected.backward(torch.ones_like(expected))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy(), rtol=1e-12)


def test_heaviside_takes_values_at_zero_and_is_a_constant_of_the_graph():
    values = np.array([0.5, 7.0, 8.0, 9.0, 10.0])
    for dtype in ("float64", "int64", "bool"):
        x = np.array([[-1.5, 0.0, -0.0, 2.0, np.nan if dtype == "float64" else 3.0]])
        ours = bp.heaviside(bp.tensor(x.astype(dtype)), bp.tensor(values.astype(dtype)))
        expected = torch.heaviside(
            torch.tensor(x.astype(dtype)), torch.tensor(values.astype(dtype))
        )
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    leaf = bp.tensor(x, requires_grad=True)
    assert not bp.heaviside(leaf, bp.tensor(values)).requires_grad


def test_log2_and_log10_are_exact_at_powers_and_exp2_at_integers():
    powers = np.arange(-20.0, 21.0)
    assert np.array_equal(bp.log2(bp.tensor(2.0**powers)).numpy(), powers)
    assert np.array_equal(bp.log10(bp.tensor(10.0 ** np.arange(0.0, 16.0))).numpy(), powers[20:36])
    assert np.array_equal(bp.exp2(bp.tensor(powers)).numpy(), 2.0**powers)


def test_erfc_keeps_its_relative_accuracy_where_one_minus_erf_is_zero():
    x = np.array([5.0, 10.0, 20.0, 26.0])
    expected = torch.erfc(torch.tensor(x)).numpy()
    assert_close(bp.erfc(bp.tensor(x)).numpy(), expected, "float64", atol=0)
    assert np.all(expected > 0)


SAFE = {
    **UNARY_DOMAINS,
    "log2": (0.5, 3.0),
    "log10": (0.5, 3.0),
    "acosh": (1.5, 3.0),
    "asin": (-0.7, 0.7),
    "acos": (-0.7, 0.7),
    "atanh": (-0.7, 0.7),
    "logit": (0.2, 0.8),
    "erfinv": (-0.7, 0.7),
    "deg2rad": (-3.0, 3.0),
}


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
def test_unary_gradients_and_second_derivatives_pass_gradcheck(name):
    x = bp.tensor(randn((4,), 3, *SAFE[name]), requires_grad=True)
    function = getattr(bp, name)
    assert bp.gradcheck(function, x)
    assert bp.gradgradcheck(function, x)


@pytest.mark.parametrize("name", [n for n in BINARY if n not in ("fmod", "remainder")])
def test_binary_gradients_and_second_derivatives_pass_gradcheck(name):
    x = bp.tensor(binary_inputs(name, (2, 3), 0) + 0.1, requires_grad=True)
    y = bp.tensor(binary_inputs(name, (3,), 1) + 0.1, requires_grad=True)
    function = getattr(bp, name)
    assert bp.gradcheck(function, x, y)
    assert bp.gradgradcheck(function, x, y)


@pytest.mark.parametrize("name", ["fmod", "remainder"])
def test_fmod_and_remainder_pass_gradcheck_away_from_their_jumps(name):
    x = bp.tensor(np.array([0.3, 1.7, -2.2, 4.6]), requires_grad=True)
    y = bp.tensor(np.array([1.1, -0.9, 1.3, 2.0]), requires_grad=True)
    function = getattr(bp, name)
    assert bp.gradcheck(function, x, y)
    assert bp.gradgradcheck(function, x, y)


def test_non_contiguous_inputs_give_the_contiguous_result():
    data = randn((3, 4, 2), 5)
    view = bp.tensor(data).permute(2, 0, 1)
    contiguous = bp.tensor(np.ascontiguousarray(data.transpose(2, 0, 1)))
    for name in ("atan", "sinh", "erfc", "exp2"):
        assert_close(getattr(bp, name)(view).numpy(), getattr(bp, name)(contiguous).numpy())
    for name in ("atan2", "hypot", "fmod", "copysign", "logaddexp"):
        other = bp.tensor(randn((4, 3), 6) + 2.5).T  # a transposed view, broadcast
        ours = getattr(bp, name)(view, other).numpy()
        permuted = torch.tensor(data).permute(2, 0, 1)
        reference = getattr(torch, name)(permuted, torch.tensor(other.numpy()))
        assert_close(ours, reference.numpy())


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), ()])
def test_empty_and_size_one_shapes_work_as_in_torch(shape):
    data = randn(shape, 2, 0.2, 0.8)
    for name in ("asin", "logit", "erfinv"):
        assert_close(
            getattr(bp, name)(bp.tensor(data)).numpy(),
            getattr(torch, name)(torch.tensor(data)).numpy(),
        )
    assert_close(bp.atan2(bp.tensor(data), bp.tensor(data)).numpy(), np.arctan2(data, data))


def test_tensor_methods_and_aliases_are_the_functions():
    x = bp.tensor(randn((2, 3), 8, 0.1, 0.9))
    y = bp.tensor(randn((2, 3), 9, 0.5, 2.0))
    for name, (low, high) in UNARY_DOMAINS.items():
        inside = bp.tensor(randn((2, 3), 8, low, high))
        assert_close(getattr(inside, name)().numpy(), getattr(bp, name)(inside).numpy())
    for name in [*BINARY, "floor_divide", "true_divide"]:
        assert_close(getattr(x, name)(y).numpy(), getattr(bp, name)(x, y).numpy())
    for alias, name in ALIASES.items():
        assert getattr(bp, alias) is getattr(bp, name)
        args = (x, y) if name == "atan2" else (x,)
        with np.errstate(invalid="ignore"):  # acosh below 1 is NaN
            method = getattr(x, alias)(*args[1:])
            assert_close(method.numpy(), getattr(bp, name)(*args).numpy())
    assert_close(x.logit(eps=0.2).numpy(), torch.logit(torch.tensor(x.numpy()), eps=0.2).numpy())
    assert_close(
        x.heaviside(y).numpy(),
        torch.heaviside(torch.tensor(x.numpy()), torch.tensor(y.numpy())).numpy(),
    )


def test_wrong_inputs_are_refused_with_clear_messages():
    x = bp.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="exp2: expected a Tensor, got list"):
        bp.exp2([1.0])
    with pytest.raises(TypeError, match="atan2: expected at least one Tensor operand"):
        bp.atan2(1.0, 2.0)
    with pytest.raises(TypeError, match="hypot: expected a Tensor or a number, got str"):
        bp.hypot(x, "a")
    with pytest.raises(ValueError, match=r"xlogy: shapes \(2,\) and \(3,\) cannot be broadcast"):
        bp.xlogy(x, bp.tensor([1.0, 2.0, 3.0]))
    for name in ("hypot", "logaddexp", "logaddexp2"):
        with pytest.raises(
            TypeError, match=f"{name}: expected float32 or float64 operands, got int64"
        ):
            getattr(bp, name)(bp.tensor([1, 2]), bp.tensor([3, 4]))
    for name in ("fmod", "remainder", "floor_divide"):
        with pytest.raises(TypeError, match=f"{name}: bool operands are not supported"):
            getattr(bp, name)(bp.tensor([True]), bp.tensor([False]))
    with pytest.raises(TypeError, match="heaviside: values must be a Tensor, got float"):
        bp.heaviside(x, 0.5)
    with pytest.raises(TypeError, match="heaviside: input and values must have one dtype"):
        bp.heaviside(x, bp.tensor([1, 2]))
    with pytest.raises(TypeError, match="heaviside: expected a Tensor, got float"):
        bp.heaviside(1.0, x)
    with pytest.raises(TypeError, match="logit: eps must be a float or None, got 'small'"):
        bp.logit(x, eps="small")


def test_every_function_runs_on_every_device_and_matches_the_cpu(device):
    # Inside every domain: the Numba simulator's math module raises outside it.
    unit = np.array([[0.25, -0.5], [0.75, 0.1]])
    above_one = np.array([[1.5, 2.0], [3.0, 1.25]])
    for name in sorted(UNARY_DOMAINS):
        data = np.abs(unit) if name in ("log2", "log10", "logit") else unit
        data = above_one if name == "acosh" else data
        cpu = getattr(bp, name)(bp.tensor(data))
        moved = bp.tensor(data, device=device, requires_grad=True)
        out = getattr(bp, name)(moved)
        out.sum().backward()
        assert_close(out.to("cpu").numpy(), cpu.numpy(), err_msg=name)
        reference = bp.tensor(data, requires_grad=True)
        getattr(bp, name)(reference).sum().backward()
        assert_close(moved.grad.to("cpu").numpy(), reference.grad.numpy(), err_msg=name)
    divisor = np.array([[0.7, -1.5], [2.0, 0.3]])
    for name in [*BINARY, "floor_divide", "true_divide"]:
        second = np.abs(divisor) if name == "xlogy" else divisor
        cpu = getattr(bp, name)(bp.tensor(unit * 3), bp.tensor(second))
        out = getattr(bp, name)(bp.tensor(unit * 3).to(device), bp.tensor(second).to(device))
        assert_close(out.to("cpu").numpy(), cpu.numpy(), err_msg=name)
    ints = bp.tensor(np.array([7, -7, 5])).to(device)
    assert list(bp.remainder(ints, 3).to("cpu").numpy()) == [1, 2, 2]
    values = bp.tensor(np.array([0.5, 0.5, 0.5])).to(device)
    step = bp.heaviside(bp.tensor(np.array([-1.0, 0.0, 2.0])).to(device), values)
    assert list(step.to("cpu").numpy()) == [0.0, 0.5, 1.0]
