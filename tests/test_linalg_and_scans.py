"""PyTorch's spellings of a matrix product built on `matmul` (mm, bmm, mv, dot, outer, addmm,
baddbmm), trace, einsum, and the scans cumsum, cumprod and logcumsumexp.

Each matches PyTorch in value and gradient (float64 at rtol 1e-10, float32 to its own
tolerance), on contiguous and permuted inputs and on size-0 and size-1 axes, and passes
`gradcheck` and `gradgradcheck`. einsum is checked on many equations (implicit and explicit
output, diagonals, sums, broadcasting `...`, three operands) and reduces a batched matrix
product to one matmul; the scans take O(log n) ops, and cumprod's gradient is exact at zeros.
Every backend agrees with the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, assert_matches_the_cpu, randn

import backprop as bp
from backprop.autograd import backward

torch = pytest.importorskip("torch")

INF = math.inf


def _case(name, fn, *shapes):
    """`fn(lib, *inputs)` with lib either backprop or torch, on random inputs of `shapes`."""
    return pytest.param(fn, shapes, id=name)


def _einsum(equation, *shapes, name=""):
    """An einsum case; `name` tells apart cases of one equation."""
    fn = lambda lib, *xs: lib.einsum(equation, *xs)  # noqa: E731
    return _case(f"{equation} {name}".strip(), fn, *shapes)


LINALG_CASES = [
    _case("mm", lambda lib, a, b: lib.mm(a, b), (3, 4), (4, 5)),
    _case("Tensor.mm", lambda lib, a, b: a.mm(b), (2, 3), (3, 1)),
    _case("bmm", lambda lib, a, b: lib.bmm(a, b), (2, 3, 4), (2, 4, 5)),
    _case("Tensor.bmm", lambda lib, a, b: a.bmm(b), (1, 2, 3), (1, 3, 2)),
    _case("mv", lambda lib, a, v: lib.mv(a, v), (3, 4), (4,)),
    _case("Tensor.mv", lambda lib, a, v: a.mv(v), (1, 4), (4,)),
    _case("dot", lambda lib, a, b: lib.dot(a, b), (5,), (5,)),
    _case("Tensor.dot", lambda lib, a, b: a.dot(b), (1,), (1,)),
    _case("outer", lambda lib, a, b: lib.outer(a, b), (3,), (4,)),
    _case("Tensor.outer", lambda lib, a, b: a.outer(b), (2,), (1,)),
    _case(
        "addmm",
        lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=-2.0),
        (3, 5),
        (3, 4),
        (4, 5),
    ),
    _case("addmm_broadcast_input", lambda lib, c, a, b: lib.addmm(c, a, b), (5,), (3, 4), (4, 5)),
    _case("Tensor.addmm", lambda lib, c, a, b: c.addmm(a, b, alpha=3), (3, 1), (3, 2), (2, 4)),
    _case(
        "baddbmm",
        lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=-1.5, alpha=0.5),
        (2, 3, 5),
        (2, 3, 4),
        (2, 4, 5),
    ),
    _case(
        "Tensor.baddbmm_broadcast_input",
        lambda lib, c, a, b: c.baddbmm(a, b),
        (3, 1),
        (2, 3, 2),
        (2, 2, 1),
    ),
    _case("trace", lambda lib, x: lib.trace(x), (4, 4)),
    _case("trace_wide", lambda lib, x: x.trace(), (3, 5)),
    _case("trace_tall", lambda lib, x: x.trace(), (5, 2)),
]

EINSUM_CASES = [
    _einsum("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    _einsum("ij,jk", (3, 4), (4, 5)),
    _einsum("ij,kj->ik", (3, 4), (5, 4)),
    _einsum("ji,jk->ik", (4, 3), (4, 5)),
    _einsum("ji,kj->ik", (4, 3), (5, 4)),
    _einsum("bij,bkj->bik", (2, 3, 4), (2, 5, 4)),
    _einsum("ijk,ikl->ijl", (2, 3, 4), (2, 4, 1)),
    _einsum("ij->ji", (3, 4)),
    _einsum("ij->", (3, 4)),
    _einsum("ij->j", (3, 4)),
    _einsum("ij", (3, 4)),
    _einsum("ji", (3, 4)),
    _einsum("ijkl->ljki", (2, 3, 1, 4)),
    _einsum("ii->i", (4, 4)),
    _einsum("ii", (4, 4)),
    _einsum("iij->ji", (3, 3, 2)),
    _einsum("iii->i", (3, 3, 3)),
    _einsum("ijij->ij", (2, 3, 2, 3)),
    _einsum("aab,bc->ac", (3, 3, 4), (4, 2)),
    _einsum("i,i->", (5,), (5,)),
    _einsum("i,i", (5,), (5,)),
    _einsum("i,j->ij", (3,), (4,)),
    _einsum("i,i->i", (4,), (4,)),
    _einsum("ij,ij->ij", (3, 4), (3, 4)),
    _einsum("ij,ij->", (3, 4), (3, 4)),
    _einsum("ij,j->i", (3, 4), (4,)),
    _einsum("ij,kl->ijkl", (2, 3), (1, 2)),
    _einsum("ij,jk->", (3, 4), (4, 2)),
    _einsum("ij,jk->k", (3, 4), (4, 2)),
    _einsum(",i->i", (), (3,)),
    _einsum("i,->", (3,), ()),
    _einsum("i j , j k -> k i", (3, 4), (4, 2)),
    _einsum("bhqd,bhkd->bhqk", (2, 3, 4, 5), (2, 3, 6, 5)),
    _einsum("bhqk,bhkd->bqhd", (2, 3, 4, 6), (2, 3, 6, 5)),
    _einsum("ijk,jl,lk->i", (2, 3, 4), (3, 5), (5, 4)),
    _einsum("ab,bc,cd->ad", (2, 3), (3, 4), (4, 5)),
    _einsum("ab,bc,cd->da", (2, 3), (3, 4), (4, 5)),
    _einsum("i,i,i->", (4,), (4,), (4,)),
    _einsum("i,j,k->kji", (2,), (3,), (4,)),
    _einsum("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5)),
    _einsum("Ab,bC", (2, 3), (3, 4)),
    _einsum("bA,aC", (2, 3), (5, 4)),
    _einsum("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),
    _einsum("...ij->...ji", (2, 3, 4)),
    _einsum("...ij->ij", (2, 3, 4)),
    _einsum("...ij", (2, 3, 4)),
    _einsum("i...->...i", (3, 2, 4)),
    _einsum("i...j->j...i", (3, 2, 1, 4)),
    _einsum("...i,...i", (2, 1, 3), (4, 3)),
    _einsum("...i,...i->...", (2, 3), (3,)),
    _einsum("...,...->...", (2, 3), (3,)),
    _einsum("...ii->...i", (2, 3, 3)),
    _einsum("i,i->i", (1,), (3,), name="size-1 output axis broadcasts"),
    _einsum("ij,jk->ik", (3, 1), (4, 5), name="size-1 summed axis broadcasts"),
    _einsum("bij,bjk->bik", (1, 3, 4), (2, 4, 5), name="size-1 batch axis broadcasts"),
]

SCAN_CASES = [
    _case("cumsum", lambda lib, x: lib.cumsum(x, 0), (5, 3)),
    _case("Tensor.cumsum", lambda lib, x: x.cumsum(1), (2, 7)),
    _case("cumsum_power_of_two", lambda lib, x: x.cumsum(-1), (3, 8)),
    _case("cumsum_middle_axis", lambda lib, x: x.cumsum(1), (2, 9, 2)),
    _case("cumprod", lambda lib, x: lib.cumprod(x, 1), (2, 7)),
    _case("Tensor.cumprod", lambda lib, x: x.cumprod(0), (8, 2)),
    _case("cumprod_middle_axis", lambda lib, x: x.cumprod(-2), (2, 5, 3)),
    _case("logcumsumexp", lambda lib, x: lib.logcumsumexp(x * 30, 1), (3, 6)),
    _case("Tensor.logcumsumexp", lambda lib, x: x.logcumsumexp(0), (9, 2)),
]

CASES = LINALG_CASES + EINSUM_CASES + SCAN_CASES


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _compare(fn, arrays, dtype="float64", view=None):
    """Runs `fn` in backprop and in torch on `arrays` (rounded to `dtype`; `view` turns each
    leaf into the op's input in both) and compares the output, then every leaf's gradient for
    a random output gradient."""
    arrays = [np.asarray(a).astype(dtype) for a in arrays]
    view = view or (lambda x: x)
    mine = [bp.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out = fn(bp, *[view(t) for t in mine])
    expected = fn(torch, *[view(t) for t in theirs])
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad = randn(out.shape, seed=7).astype(dtype)
    backward([out], [bp.tensor(grad)])
    torch.autograd.backward([expected], [torch.tensor(grad.astype(np.float64))])
    for i, (leaf, reference) in enumerate(zip(mine, theirs)):
        assert_close(leaf.grad.numpy(), reference.grad.numpy(), dtype, err_msg=f"input {i} grad")


def _arrays(shapes, seed):
    return [randn(shape, seed + i) for i, shape in enumerate(shapes)]


@pytest.mark.parametrize("fn, shapes", CASES)
def test_each_op_matches_torch_in_value_and_gradient(fn, shapes):
    _compare(fn, _arrays(shapes, 0))


@pytest.mark.parametrize("fn, shapes", CASES)
def test_each_op_matches_torch_in_float32(fn, shapes):
    _compare(fn, _arrays(shapes, 10), dtype="float32")


@pytest.mark.parametrize("fn, shapes", CASES)
def test_each_op_matches_torch_on_non_contiguous_inputs(fn, shapes):
    """Each input is a permuted view (its axes reversed) of a leaf of the reversed shape."""
    reversed_shapes = [tuple(reversed(shape)) for shape in shapes]

    def view(x):
        return x.permute(*reversed(range(x.ndim))) if x.ndim > 1 else x

    _compare(fn, _arrays(reversed_shapes, 20), view=view)


@pytest.mark.parametrize("fn, shapes", CASES)
def test_each_op_passes_gradcheck_and_gradgradcheck(fn, shapes):
    inputs = [bp.tensor(a, requires_grad=True) for a in _arrays(shapes, 30)]
    assert bp.gradcheck(lambda *xs: fn(bp, *xs), *inputs)
    assert bp.gradgradcheck(lambda *xs: fn(bp, *xs), *inputs)


EDGE_CASES = [
    _case("mm_empty_rows", lambda lib, a, b: a.mm(b), (0, 3), (3, 2)),
    _case("mm_empty_inner", lambda lib, a, b: a.mm(b), (3, 0), (0, 2)),
    _case("bmm_empty_batch", lambda lib, a, b: a.bmm(b), (0, 3, 4), (0, 4, 2)),
    _case("mv_empty", lambda lib, a, v: a.mv(v), (2, 0), (0,)),
    _case("dot_empty", lambda lib, a, b: a.dot(b), (0,), (0,)),
    _case("outer_empty", lambda lib, a, b: a.outer(b), (0,), (3,)),
    _case("addmm_empty_inner", lambda lib, c, a, b: c.addmm(a, b), (2, 3), (2, 0), (0, 3)),
    _case("trace_empty", lambda lib, x: x.trace(), (0, 3)),
    _case("trace_1x1", lambda lib, x: x.trace(), (1, 1)),
    _einsum("bij,bjk->bik", (0, 3, 4), (0, 4, 2), name="empty batch"),
    _einsum("ij,jk->ik", (3, 0), (0, 2), name="empty summed axis"),
    _einsum("ii->i", (0, 0), name="empty"),
    _einsum("...ij->...ji", (0, 2, 3), name="empty ellipsis"),
    _case("cumsum_empty_axis", lambda lib, x: x.cumsum(0), (0, 3)),
    _case("cumsum_empty_batch", lambda lib, x: x.cumsum(1), (0, 3)),
    _case("cumsum_size_1", lambda lib, x: x.cumsum(0), (1, 3)),
    _case("cumprod_empty_axis", lambda lib, x: x.cumprod(1), (2, 0)),
    _case("cumprod_size_1", lambda lib, x: x.cumprod(1), (2, 1)),
    _case("cumprod_0d", lambda lib, x: x.cumprod(0), ()),
    _case("cumsum_0d", lambda lib, x: x.cumsum(-1), ()),
    _case("logcumsumexp_empty_axis", lambda lib, x: x.logcumsumexp(1), (2, 0)),
    _case("logcumsumexp_0d", lambda lib, x: x.logcumsumexp(0), ()),
]


@pytest.mark.parametrize("fn, shapes", EDGE_CASES)
def test_size_0_and_size_1_axes_and_0d_tensors_match_torch(fn, shapes):
    _compare(fn, _arrays(shapes, 40))


# -- einsum: how an equation becomes matmuls -----------------------------------------------------


def _ops_in_graph(out):
    """The names of the Functions that made `out`, each once, walking back to the leaves."""
    names, seen, stack = [], set(), [out._creator]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(t._creator for t in node.inputs)
    return names


def test_einsum_of_a_batched_matrix_product_is_one_matmul_of_the_operands():
    a = bp.randn(2, 3, 4, requires_grad=True)
    b = bp.randn(2, 4, 5, requires_grad=True)
    out = bp.einsum("bij,bjk->bik", a, b)
    assert _ops_in_graph(out) == ["MatMul"]
    assert out._creator.inputs[0] is a and out._creator.inputs[1] is b


def test_einsum_passes_a_transposed_operand_to_matmul_as_a_flag_not_a_permute():
    a = bp.randn(4, 3, requires_grad=True)
    b = bp.randn(5, 4, requires_grad=True)
    out = bp.einsum("ji,kj->ik", a, b)
    assert _ops_in_graph(out) == ["MatMul"]
    assert out._creator.transpose_a and out._creator.transpose_b


def test_einsum_contracts_three_operands_left_to_right_with_two_matmuls():
    a, b, c = bp.randn(2, 3), bp.randn(3, 4), bp.randn(4, 5)
    for x in (a, b, c):
        x.requires_grad_()
    out = bp.einsum("ab,bc,cd->ad", a, b, c)
    assert _ops_in_graph(out) == ["MatMul", "MatMul"]


def test_einsum_takes_its_operands_as_one_list_too():
    a, b = randn((3, 4), 1), randn((4, 2), 2)
    out = bp.einsum("ij,jk->ik", [bp.tensor(a), bp.tensor(b)])
    assert_close(out.numpy(), a @ b)


# -- scans --------------------------------------------------------------------------------------


def test_cumsum_and_cumprod_take_a_logarithmic_number_of_ops():
    x = bp.randn(3, 1000, requires_grad=True)
    steps = math.ceil(math.log2(1000))
    for scan in (x.cumsum, x.cumprod, x.logcumsumexp):
        assert 0 < len(_ops_in_graph(scan(1))) <= 12 * steps


ZEROS = [
    [0.0, 2.0, 3.0, -1.5],
    [2.0, 0.0, 3.0, 0.5, 4.0],
    [2.0, 0.0, 3.0, 0.0, -1.0],
    [1.5, -2.0, 0.5, 0.0],
    [0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("values", ZEROS)
def test_cumprod_gradient_is_exact_where_entries_are_zero(values):
    array = np.array(values)
    _compare(lambda lib, x: x.cumprod(0), [array])
    x = bp.tensor(array, requires_grad=True)
    assert bp.gradcheck(lambda t: t.cumprod(0), x) and bp.gradgradcheck(lambda t: t.cumprod(0), x)


@pytest.mark.parametrize(
    "values, dtype", [([[1, 2, 3], [4, 5, 6]], "int64"), ([[3, 1], [2, 2]], "int32")]
)
def test_scans_of_integers_give_int64_as_torch(values, dtype):
    ours = bp.tensor(np.array(values, dtype=dtype))
    theirs = torch.tensor(np.array(values, dtype=dtype))
    for name in ("cumsum", "cumprod"):
        result = getattr(ours, name)(1)
        assert result.dtype == bp.int64
        assert result.tolist() == getattr(theirs, name)(1).tolist()


def test_scans_of_bools_count_as_torch():
    values = [[True, False, True], [True, True, False]]
    assert bp.tensor(values).cumsum(1).tolist() == torch.tensor(values).cumsum(1).tolist()
    assert bp.tensor(values).cumprod(1).dtype == bp.int64


def test_logcumsumexp_is_stable_for_large_and_infinite_values():
    array = np.array([-1000.0, 0.0, 1000.0, -INF, 1000.0, -3.0])
    expected = torch.tensor(array).logcumsumexp(0).numpy()
    assert_close(bp.tensor(array).logcumsumexp(0).numpy(), expected)
    all_minus_inf = np.array([-INF, -INF, 1.0])
    with np.errstate(divide="ignore"):  # log(0) = -inf, as in PyTorch
        result = bp.tensor(all_minus_inf).logcumsumexp(0).numpy()
    np.testing.assert_array_equal(result, torch.tensor(all_minus_inf).logcumsumexp(0).numpy())


def test_logcumsumexp_does_not_underflow_an_early_small_prefix():
    array = np.array([[-800.0, -799.0, 0.0]])
    result = bp.tensor(array).logcumsumexp(1).numpy()
    assert_close(result, torch.tensor(array).logcumsumexp(1).numpy())
    assert result[0, 0] == -800.0


def test_addmm_with_beta_0_ignores_the_input_even_nan_as_torch():
    input = bp.tensor(np.full((2, 2), np.nan))
    a, b = randn((2, 3), 1), randn((3, 2), 2)
    out = bp.addmm(input, bp.tensor(a), bp.tensor(b), beta=0, alpha=2)
    assert_close(out.numpy(), 2 * a @ b)


def test_every_name_is_a_tensor_method_and_a_module_function():
    for name in ("mm", "bmm", "mv", "dot", "outer", "addmm", "baddbmm", "trace"):
        assert callable(getattr(bp.Tensor, name)) and name in bp.__all__
    for name in ("cumsum", "cumprod", "logcumsumexp"):
        assert callable(getattr(bp.Tensor, name)) and name in bp.__all__
    assert "einsum" in bp.__all__


# -- errors --------------------------------------------------------------------------------------

M = bp.tensor(np.arange(6.0).reshape(2, 3))
V = bp.tensor(np.arange(3.0))
B = bp.zeros(2, 3, 4)
INT = bp.tensor([[1, 2], [3, 4]])

ERRORS = [
    (lambda: bp.mm(V, M), ValueError, r"mm: mat1 must be 2-d, got shape \(3,\)"),
    (lambda: bp.mm(M, B), ValueError, r"mm: mat2 must be 2-d, got shape \(2, 3, 4\)"),
    (lambda: M.mm(M), ValueError, r"mm: inner dimensions differ: \(2, 3\) @ \(2, 3\) \(3 != 2\)"),
    (lambda: bp.mm(M, "a"), TypeError, r"mm: mat2 must be a Tensor, got str"),
    (lambda: INT.mm(INT), TypeError, r"mm: expected a float32 or float64 tensor, got int64"),
    (lambda: M.mm(M.T.float()), TypeError, r"mm: dtypes differ, float64 \(2, 3\) and float32"),
    (lambda: bp.bmm(M, M.T), ValueError, r"bmm: batch1 must be 3-d, got shape \(2, 3\)"),
    (lambda: B.bmm(bp.zeros(3, 4, 2)), ValueError, r"bmm: batch sizes differ: .* \(2 != 3\)"),
    (lambda: B.bmm(B), ValueError, r"bmm: inner dimensions differ: .* \(4 != 3\)"),
    (lambda: M.mv(M), ValueError, r"mv: vec must be 1-d, got shape \(2, 3\)"),
    (
        lambda: M.mv(bp.zeros(2, dtype="float64")),
        ValueError,
        r"mv: inner dimensions differ: .*\(3 != 2\)",
    ),
    (lambda: V.dot(M), ValueError, r"dot: other must be 1-d, got shape \(2, 3\)"),
    (
        lambda: V.dot(bp.zeros(2, dtype="float64")),
        ValueError,
        r"dot: the vectors differ in length, \(3,\) and",
    ),
    (lambda: M.outer(V), ValueError, r"outer: input must be 1-d, got shape \(2, 3\)"),
    (lambda: V.outer(bp.tensor([1, 2])), TypeError, r"outer: dtypes differ, float64 \(3,\)"),
    (lambda: bp.outer(V, 2.0), TypeError, r"outer: vec2 must be a Tensor, got float"),
    (lambda: bp.addmm(M, M, V), ValueError, r"addmm: mat2 must be 2-d"),
    (
        lambda: bp.addmm(bp.zeros(3, dtype="float64"), M, M.T),
        ValueError,
        r"addmm: input of shape \(3,\) does not broadcast to the product's \(2, 2\)",
    ),
    (
        lambda: bp.addmm(bp.zeros(1, 2, 2, dtype="float64"), M, M.T),
        ValueError,
        r"addmm: input of shape \(1, 2, 2\) does not broadcast",
    ),
    (lambda: bp.addmm(bp.zeros(2), M, M.T), TypeError, r"addmm: dtypes differ, input is float32"),
    (lambda: bp.addmm(2.0, M, M.T), TypeError, r"addmm: input must be a Tensor, got float"),
    (lambda: bp.addmm(M, M, M.T, beta="1"), TypeError, r"addmm: beta must be a number, got '1'"),
    (lambda: bp.addmm(M, M, M.T, alpha=None), TypeError, r"addmm: alpha must be a number"),
    (lambda: bp.baddbmm(B, B, B), ValueError, r"baddbmm: inner dimensions differ"),
    (lambda: V.trace(), ValueError, r"trace: expected a 2-d tensor \(a matrix\), got shape"),
    (lambda: bp.trace([[1.0]]), TypeError, r"trace: expected a Tensor, got list"),
    (lambda: bp.einsum("ij,jk", M), ValueError, r"einsum: the equation 'ij,jk' has 2 operand"),
    (lambda: bp.einsum("ij"), ValueError, r"einsum: expected at least one operand"),
    (lambda: bp.einsum(M, M), TypeError, r"einsum: equation must be a str, got Tensor"),
    (lambda: bp.einsum("ijk", M), ValueError, r"einsum: operand 0 has 2 dimensions \(2, 3\) but"),
    (lambda: bp.einsum("i", M), ValueError, r"its term 'i' names 1 and has no '...'"),
    (lambda: bp.einsum("ijk...", M), ValueError, r"its term 'ijk...' names 3$"),
    (lambda: bp.einsum("i1", M), ValueError, r"einsum: invalid term 'i1' in 'i1'"),
    (lambda: bp.einsum("...i...", M), ValueError, r"einsum: invalid term '...i...'"),
    (lambda: bp.einsum("i..j", M), ValueError, r"einsum: invalid term 'i..j'"),
    (lambda: bp.einsum("ij->i->j", M), ValueError, r"einsum: invalid term 'i->j'"),
    (lambda: bp.einsum("ij->ii", M), ValueError, r"output subscript i appears more than once"),
    (lambda: bp.einsum("ij->k", M), ValueError, r"output subscript k appears in no operand's"),
    (lambda: bp.einsum("ii", M), ValueError, r"subscript i is repeated in operand 0 .* 2 != 3"),
    (
        lambda: bp.einsum("ij,ij", M, bp.zeros(2, 4, dtype="float64")),
        ValueError,
        r"subscript j has size 4 in operand 1 \(2, 4\), which does not broadcast with its size 3",
    ),
    (
        lambda: bp.einsum("...i,...i", B, bp.zeros(4, 4)),
        ValueError,
        r"subscript \.\.\. has size 4 in operand 1 \(4, 4\)",
    ),
    (lambda: bp.einsum("ij,jk", M, M.float()), TypeError, r"einsum: dtypes differ, float64"),
    (lambda: bp.einsum("ij", INT), TypeError, r"einsum: expected a float32 or float64 tensor"),
    (lambda: bp.einsum("ij", [[1.0]]), TypeError, r"einsum: operand 0 must be a Tensor, got list"),
    (lambda: M.cumsum(2), IndexError, r"cumsum: axis 2 is out of range"),
    (lambda: M.cumprod(-3), IndexError, r"cumprod: axis -3 is out of range"),
    (lambda: M.cumsum(None), TypeError, r"cumsum: axis must be an int, got None"),
    (lambda: M.cumprod((0,)), TypeError, r"cumprod: axis must be an int, got \(0,\)"),
    (lambda: bp.cumsum([1.0], 0), TypeError, r"cumsum: expected a Tensor, got list"),
    (lambda: INT.logcumsumexp(0), TypeError, r"logcumsumexp: expected a float32 or float64"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_arguments_raise_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- every backend -------------------------------------------------------------------------------

DEVICE_CASES = {
    "mm_mv_dot_outer_trace": lambda x: (
        x.mm(x.T).mv(x[:, 0]).dot(x[:, 1]) + x[0].outer(x[1]).trace() + x.T.mm(x).trace()
    ),
    "addmm_bmm": lambda x: (
        x.addmm(x, x.T.mm(x), beta=0.5, alpha=2).sum(0)
        + x.reshape(1, 2, 3).bmm(x.reshape(1, 3, 2)).reshape(4)[1:]
    ),
    "einsum": lambda x: bp.einsum("ij,kj->ik", x, x) + bp.einsum("ii->i", x[:, :2]),
    "einsum_ellipsis": lambda x: bp.einsum("...i,...j,ij->...", x, x, x.T.mm(x)),
    "scans": lambda x: x.cumsum(1) + x.cumprod(1) + x.logcumsumexp(1) + x.cumsum(0),
}


@pytest.mark.parametrize("fn", DEVICE_CASES.values(), ids=DEVICE_CASES.keys())
def test_every_backend_matches_the_cpu(device, fn):
    assert_matches_the_cpu(device, fn, randn((2, 3), seed=5, low=-0.8, high=0.8))
