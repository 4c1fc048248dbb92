"""PyTorch's type promotion for binary ops: operands of different dtypes meet in the dtype
`torch.result_type` gives (categories bool < integer < float; tensors with dimensions outrank
0-d tensors, which outrank Python numbers; a lower-priority operand of a higher category wins
with its own dtype, a Python float as float32 and a Python int as int64).

It holds for add, sub, mul, div (true division of integers gives float32), pow, maximum,
minimum, the comparisons (whose result stays bool), `where`, and &, |, ^ of a bool with an
integer; the cast is the differentiable `astype`, so a promoted operand gets its gradient in
its own dtype. matmul and its spellings, lerp (but its 0-d weight) and the fused bias
activation keep refusing mixed dtypes, as PyTorch does. Every case is checked against
`torch.result_type` and PyTorch's values, on every backend.

Also here: addmm and baddbmm with beta=0 give the ignored input a zero gradient, as PyTorch."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
from backprop import ops

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "int32", "int64", "bool"]
VALUES = {  # positive where it matters (pow), exact in every dtype, and unequal across dtypes
    "float32": [1.5, 2.0, 0.25],
    "float64": [0.5, 3.0, 2.0],
    "int32": [1, 2, 3],
    "int64": [3, 1, 2],
    "bool": [True, False, True],
}
SCALARS = [2, 1.5, True]

ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "maximum": lambda a, b: torch.maximum(*_torch_tensors(a, b)),
    "minimum": lambda a, b: torch.minimum(*_torch_tensors(a, b)),
}
COMPARISONS = {name: getattr(operator, name) for name in ("eq", "ne", "lt", "le", "gt", "ge")}
TORCH_OPS = {
    **ARITHMETIC,
    **COMPARISONS,
    "where": lambda a, b: torch.where(torch.tensor([True, False, False]), a, b),
}


def _torch_tensors(a, b):
    """torch.maximum/minimum take no Python numbers: a number as a 0-d tensor of its default
    dtype, which promotes exactly as the number does among these dtypes."""
    return [v if isinstance(v, torch.Tensor) else torch.tensor(v) for v in (a, b)]


def _ours(name: str, a, b) -> bp.Tensor:
    if name == "where":
        return bp.where(bp.tensor([True, False, False]), a, b)
    return getattr(ops, name)(a, b)


def _operands(dtype: str):
    """(ours, PyTorch's, label) for every second operand: a tensor with dimensions and a 0-d
    tensor of each dtype, and each kind of Python number."""
    result = []
    for other in DTYPES:
        values = np.array(VALUES[other], dtype=other)
        result.append((bp.tensor(values), torch.tensor(values), f"{other} (3,)"))
        result.append((bp.tensor(values[1, ...]), torch.tensor(values[1, ...]), f"{other} ()"))
    result += [(s, s, type(s).__name__) for s in SCALARS]
    return result


def _check_same(ours: bp.Tensor, theirs, label: str) -> None:
    expected = theirs.numpy()
    assert ours.dtype == expected.dtype, f"{label}: {ours.dtype}, torch {expected.dtype}"
    if expected.dtype.kind == "f":
        assert_close(ours.numpy(), expected.astype(np.float64), err_msg=label)
    else:
        np.testing.assert_array_equal(ours.numpy(), expected, err_msg=label)


@pytest.mark.parametrize("name", list(TORCH_OPS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_dtype_operands_give_torchs_result_dtype_and_values_in_both_orders(name, dtype):
    values = np.array(VALUES[dtype], dtype=dtype)
    x, tx = bp.tensor(values), torch.tensor(values)
    for y, ty, label in _operands(dtype):
        for (a, b), (ta, tb) in (((x, y), (tx, ty)), ((y, x), (ty, tx))):
            case = f"{name}({dtype} (3,), {label})" if a is x else f"{name}({label}, {dtype})"
            if name == "pow" and torch.result_type(ta, tb) == torch.bool:
                # torch has no bool pow, but for its shortcut of the exponent True (a copy)
                with pytest.raises(TypeError, match=r"pow: bool operands are not supported"):
                    _ours(name, a, b)
                continue
            try:
                theirs = TORCH_OPS[name](ta, tb)
            except RuntimeError:  # subtraction with a bool
                with pytest.raises(TypeError, match=rf"{name}: .*bool operand"):
                    _ours(name, a, b)
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                ours = _ours(name, a, b)
            expected_dtype = torch.bool if name in COMPARISONS else torch.result_type(ta, tb)
            if name == "div" and not expected_dtype.is_floating_point:
                expected_dtype = torch.float32
            assert theirs.dtype == expected_dtype, case
            _check_same(ours, theirs, case)


def test_zero_d_tensors_promote_among_themselves_and_with_python_numbers():
    for first in DTYPES:
        for second in [*DTYPES, *SCALARS]:
            a = np.array(VALUES[first][0], dtype=first)
            b = np.array(VALUES[second][0], dtype=second) if isinstance(second, str) else second
            ours = ops.add(bp.tensor(a), bp.tensor(b) if isinstance(second, str) else b)
            theirs = torch.tensor(a) + (torch.tensor(b) if isinstance(second, str) else b)
            _check_same(ours, theirs, f"{first} () + {second}")


def test_the_operators_promote_as_the_functions_do():
    n, tn = bp.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    f, tf = bp.tensor(np.array([0.5, 2.0, 4.0])), torch.tensor([0.5, 2.0, 4.0], dtype=torch.float64)
    _check_same(n + f, tn + tf, "int64 + float64")
    _check_same(2.5 * n, 2.5 * tn, "2.5 * int64")
    _check_same(1 - f, 1 - tf, "1 - float64")
    _check_same(n / 2, tn / 2, "int64 / 2")
    _check_same(2**n, 2**tn, "2 ** int64")
    _check_same(n == 2.0, tn == 2.0, "int64 == 2.0")
    _check_same(n < f, tn < tf, "int64 < float64")
    _check_same(bp.tensor([True, False]) * 3, torch.tensor([True, False]) * 3, "bool * 3")


def test_true_division_of_integer_and_bool_tensors_gives_float32():
    _check_same(
        bp.tensor([1, 2]) / bp.tensor([2, 2]), torch.tensor([1, 2]) / torch.tensor([2, 2]), "int"
    )
    i32 = np.array([7, -3], dtype=np.int32)
    _check_same(
        bp.tensor(i32) / bp.tensor(i32[::-1].copy()),
        torch.tensor(i32) / torch.tensor(i32[::-1].copy()),
        "int32",
    )
    _check_same(
        bp.tensor([True]) / bp.tensor([True]), torch.tensor([True]) / torch.tensor([True]), "bool"
    )


def test_numpy_arrays_and_scalars_promote_as_python_numbers_of_their_kind():
    n = bp.tensor(np.array([1, 2], dtype=np.int32))
    assert (n * np.array([0.5, 1.0])).dtype == bp.float32
    assert (n + np.array([1, 2], dtype=np.int64)).dtype == bp.int32
    assert (bp.tensor([True, False]) + np.array([1, 1], dtype=np.uint8)).tolist() == [2, 1]
    assert (n + np.float64(0.5)).dtype == bp.float32 and (n * np.int64(2)).dtype == bp.int32
    assert bp.where(bp.tensor([True]), bp.tensor([False]), np.bool_(True)).dtype == bp.bool_


def test_maximum_and_minimum_of_integer_tensors_keep_their_dtype_at_ties():
    a, b = bp.tensor([1, 5, 3]), bp.tensor(np.array([1, 2, 4], dtype=np.int32))
    assert bp.ops.maximum(a, b).dtype == bp.int64 and bp.ops.maximum(a, b).tolist() == [1, 5, 4]
    assert bp.ops.minimum(b, b).dtype == bp.int32 and bp.ops.minimum(b, b).tolist() == [1, 2, 4]


def test_where_clamp_and_masked_fill_follow_torch():
    cond = bp.tensor([True, False, True])
    n, tn = bp.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    _check_same(
        bp.where(cond, n, 1.5), torch.where(torch.tensor([True, False, True]), tn, 1.5), "where"
    )
    _check_same(n.clamp(min=1.5), tn.clamp(min=1.5), "clamp int64 by a float")
    _check_same(n.clamp(max=2), tn.clamp(max=2), "clamp int64 by an int")
    mask = bp.tensor([True, False, False])
    _check_same(
        cond.masked_fill(mask, 0),
        torch.tensor([True, False, True]).masked_fill(torch.tensor([True, False, False]), 0),
        "bool masked_fill",
    )
    i32 = np.array([4, 5, 6], dtype=np.int32)
    _check_same(
        bp.tensor(i32).masked_fill(mask, 9),
        torch.tensor(i32).masked_fill(torch.tensor([True, False, False]), 9),
        "int32 masked_fill",
    )


def test_a_promoted_operand_gets_its_gradient_in_its_own_dtype_as_in_torch():
    a32, b64 = randn((2, 3), 1).astype(np.float32), randn((3,), 2)
    for fn in (
        operator.mul,
        operator.truediv,
        operator.sub,
        lambda a, b: a**2 * b,
        torch_or_bp_maximum,
    ):
        a, b = bp.tensor(a32, requires_grad=True), bp.tensor(b64, requires_grad=True)
        ta, tb = torch.tensor(a32, requires_grad=True), torch.tensor(b64, requires_grad=True)
        out, expected = fn(a, b), fn(ta, tb)
        assert out.dtype == bp.float64
        assert_close(out.numpy(), expected.detach().numpy())
        grad = randn(out.shape, 3)
        out.backward(bp.tensor(grad))
        expected.backward(torch.tensor(grad))
        assert a.grad.dtype == bp.float32 and b.grad.dtype == bp.float64
        assert_close(a.grad.numpy(), ta.grad.numpy().astype(np.float64), "float32")
        assert_close(b.grad.numpy(), tb.grad.numpy())


def torch_or_bp_maximum(a, b):
    """maximum in whichever framework `a` belongs to."""
    return torch.maximum(a, b) if isinstance(a, torch.Tensor) else bp.ops.maximum(a, b)


def test_a_0d_float64_tensor_does_not_promote_a_float32_tensor_and_gets_a_float64_gradient():
    x, scale = (
        bp.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True),
        bp.tensor(np.float64(3.0), requires_grad=True),
    )
    tx, tscale = (
        torch.tensor([1.0, 2.0], requires_grad=True),
        torch.tensor(3.0, dtype=torch.float64, requires_grad=True),
    )
    out, expected = x * scale, tx * tscale
    assert out.dtype == bp.float32 and expected.dtype == torch.float32
    out.sum().backward()
    expected.sum().backward()
    assert scale.grad.dtype == bp.float64 and scale.grad.item() == tscale.grad.item() == 3.0
    assert x.grad.dtype == bp.float32 and x.grad.tolist() == tx.grad.tolist()


def test_an_operand_already_of_the_result_dtype_is_not_copied():
    x = bp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * bp.tensor([1, 2])
    assert y._creator.inputs[0] is x


def test_gradcheck_and_gradgradcheck_through_promotions():
    n = bp.tensor([[1, 2, 3], [0, -1, 2]])
    b = bp.tensor([True, False, True])
    x = bp.tensor(randn((2, 3), 4), requires_grad=True)
    y = bp.tensor(randn((3,), 5), requires_grad=True)

    def fn(x, y):
        return bp.where(b, x * n + 2, y) / (1.5 + n * n) + ops.maximum(x, n) * y

    assert bp.gradcheck(fn, x, y)
    assert bp.gradgradcheck(fn, x, y)


def test_promotion_on_every_backend_matches_the_cpu(device):
    x = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
    n = np.array([2, -1], dtype=np.int32)
    for on in ("cpu", device):
        a = bp.tensor(x, device=on, requires_grad=True)
        m = bp.tensor(n, device=on)
        b = bp.tensor(np.float64(0.5), device=on)
        out = (
            (a * m + b) / bp.tensor([3, 3], device=on)
            + (m < a).float()
            + bp.where(bp.tensor([True, False], device=on), m, 0.5)
        )
        out.sum().backward()
        if on == "cpu":
            expected, expected_grad = out.numpy(), a.grad.numpy()
    assert out.dtype == bp.float32 and a.grad.dtype == bp.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), expected_grad, rtol=1e-6)
    halves = bp.tensor([1, 2], device=device) / bp.tensor([2, 2], device=device)
    assert halves.dtype == bp.float32 and halves.tolist() == [0.5, 1.0]


def test_what_torch_refuses_still_raises_a_clear_error():
    b, f32, f64 = bp.tensor([True, False]), bp.tensor([1.0, 2.0]), bp.tensor(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"sub: subtraction with a bool operand is not supported"):
        b - b
    with pytest.raises(TypeError, match=r"sub: subtraction with a bool operand is not supported"):
        bp.tensor([1, 2]) - True
    with pytest.raises(TypeError, match=r"pow: bool operands are not supported"):
        b**True
    with pytest.raises(TypeError, match=r"bitwise_and: only bool tensors .* got float32"):
        b & f32
    with pytest.raises(TypeError, match=r"bitwise_or: only bool tensors .* got float32"):
        b | 1.5
    with pytest.raises(TypeError, match=r"bitwise_xor: only bool tensors .* got int64"):
        b ^ bp.tensor([3, 1])
    with pytest.raises(TypeError, match=r"matmul: dtypes differ, float32 \(1, 2\) and float64"):
        f32.reshape(1, 2) @ f64.reshape(2, 1)
    with pytest.raises(TypeError, match=r"mm: dtypes differ"):
        bp.mm(f32.reshape(1, 2), f64.reshape(2, 1))
    with pytest.raises(
        TypeError, match=r"addmm: dtypes differ, input is float64 and the matrices float32"
    ):
        bp.addmm(f64, f32.reshape(2, 1), f32.reshape(1, 2))
    with pytest.raises(
        TypeError, match=r"lerp: end must have the dtype float32 of start, got float64"
    ):
        f32.lerp(f64, 0.5)
    with pytest.raises(
        TypeError,
        match=r"lerp: weight must have the dtype float32 of start and end \(or be 0-d\), got",
    ):
        f32.lerp(f32, f64)
    with pytest.raises(TypeError, match=r"add: expected a Tensor or a number, got str"):
        f32 + "1"
    with pytest.raises(
        TypeError, match=r"add: cannot use a NumPy array of dtype <U1 as an operand"
    ):
        f32 + np.array(["a"])
    with pytest.raises(TypeError, match=r"add: expected at least one Tensor operand"):
        ops.add(1, 2)


def test_lerp_takes_a_0d_weight_of_any_dtype_and_gives_it_its_gradient_as_torch():
    start, end = randn((3,), 6).astype(np.float32), randn((3,), 7).astype(np.float32)
    a, b = bp.tensor(start, requires_grad=True), bp.tensor(end)
    w = bp.tensor(np.float64(0.75), requires_grad=True)
    ta, tw = (
        torch.tensor(start, requires_grad=True),
        torch.tensor(0.75, dtype=torch.float64, requires_grad=True),
    )
    out, expected = a.lerp(b, w), torch.lerp(ta, torch.tensor(end), tw)
    assert out.dtype == bp.float32 and expected.dtype == torch.float32
    assert_close(out.numpy(), expected.detach().numpy().astype(np.float64), "float32")
    out.sum().backward()
    expected.sum().backward()
    assert w.grad.dtype == bp.float64
    assert_close(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)
    assert_close(a.grad.numpy(), ta.grad.numpy().astype(np.float64), "float32")
    assert (
        a.lerp(b, bp.tensor(1)).tolist()
        == torch.lerp(ta, torch.tensor(end), torch.tensor(1)).tolist()
    )
    assert a.lerp(b, True).tolist() == b.tolist()


def test_the_fused_bias_activation_still_works_in_one_dtype():
    x, bias = randn((2, 3), 8), randn((3,), 9)
    out = ops.bias_activation(bp.tensor(x), bp.tensor(bias), "relu")
    assert_close(out.numpy(), np.maximum(x + bias, 0))


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("beta, alpha", [(0, 1), (0, 0.5), (1.5, 0), (0.5, 2.0)])
def test_addmm_and_baddbmm_give_input_torchs_gradient_grad_times_beta(batched, beta, alpha):
    shapes = [(2, 3, 4), (2, 3, 5), (2, 5, 4)] if batched else [(1, 4), (3, 5), (5, 4)]
    arrays = [randn(shape, 10 + i) for i, shape in enumerate(shapes)]
    arrays[0][0, 0] = np.nan if beta == 0 else arrays[0][0, 0]
    ours = [bp.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    name = "baddbmm" if batched else "addmm"
    out = getattr(bp, name)(*ours, beta=beta, alpha=alpha)
    expected = getattr(torch, name)(*theirs, beta=beta, alpha=alpha)
    assert_close(out.numpy(), expected.detach().numpy())
    grad = randn(out.shape, 11)
    out.backward(bp.tensor(grad))
    expected.backward(torch.tensor(grad))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        assert mine.grad is not None, f"input {i}"
        assert_close(mine.grad.numpy(), reference.grad.numpy(), err_msg=f"input {i} grad")


def test_addmm_with_beta_0_passes_gradcheck_and_gradgradcheck():
    x, a, b = (
        bp.tensor(randn(s, 12 + i), requires_grad=True)
        for i, s in enumerate([(3,), (2, 4), (4, 3)])
    )
    assert bp.gradcheck(lambda x, a, b: bp.addmm(x, a, b, beta=0, alpha=0.5), x, a, b)
    assert bp.gradgradcheck(lambda x, a, b: bp.addmm(x, a, b, beta=0), x, a, b)


@pytest.mark.parametrize("join", ["cat", "stack"])
def test_cat_and_stack_promote_as_torch_and_give_each_gradient_its_own_dtype(join):
    f32, f64 = randn((2, 3), seed=1).astype(np.float32), randn((2, 3), seed=2)
    ints = np.array([[1, 2, 3], [4, 5, 6]])
    ours = [bp.tensor(f32, requires_grad=True), bp.tensor(f64, requires_grad=True)]
    theirs = [torch.tensor(f32, requires_grad=True), torch.tensor(f64, requires_grad=True)]
    out = getattr(bp, join)([*ours, bp.tensor(ints)], 1)
    expected = getattr(torch, join)([*theirs, torch.tensor(ints)], 1)
    _check_same(out, expected.detach(), join)
    out.backward(bp.ones_like(out))
    expected.backward(torch.ones_like(expected))
    for mine, reference in zip(ours, theirs):
        _check_same(mine.grad, reference.grad, f"{join} grad")
