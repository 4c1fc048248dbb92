"""The everyday PyTorch Tensor methods built from existing ops: flip, roll, repeat, tile, split,
chunk, logsumexp, std, norm, prod, argmin, amax, amin, masked_fill, clone, contiguous,
index_select, tan, log1p, expm1, rsqrt, reciprocal, square, clip, and the module-level
functions PyTorch also has as `torch.X` (`bp.flip`, `bp.tile`, `bp.prod`, `bp.cat`, ...).

Each matches PyTorch in value and gradient (float64 at rtol 1e-10, float32 to its own
tolerance), on contiguous and permuted inputs and on size-0 and size-1 axes; each has a
double backward (`gradgradcheck`); edge values (zeros for norms, std and prod, infinities for
logsumexp, tiny arguments for log1p and expm1) give PyTorch's values and gradients; and every
backend agrees with the CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, assert_matches_the_cpu, randn

import backprop as bp
from backprop.autograd import backward

torch = pytest.importorskip("torch")

INF = math.inf


def _normal(shape, seed=0):
    return randn(shape, seed)


def _positive(shape, seed=0):
    return np.abs(randn(shape, seed)) + 0.5


def _unit(shape, seed=0):
    """Uniform in (-0.9, 0.9): inside the domain of log1p and away from tan's poles."""
    return randn(shape, seed, low=-0.9, high=0.9)


def _away(shape, seed=0):
    """Normal data at least 0.3 away from zero (for 1/x)."""
    x = randn(shape, seed)
    return np.where(x >= 0, x + 0.3, x - 0.3)


def _ties(shape, seed=0):
    """Small integers as floats, so maxima and minima are often tied."""
    return np.round(randn(shape, seed) * 1.2)


def _case(name, ours, shape, data=_normal, theirs=None):
    """One op: `ours(x)` in backprop and `theirs(x)` (the same spelling when None) in PyTorch,
    on data of `shape` drawn by `data`."""
    return pytest.param(ours, theirs or ours, shape, data, id=name)


MASK = np.array(
    [[True, False, True, False], [False, False, True, True], [True, True, False, False]]
)


def _mask(lib, x):
    return lib.tensor(MASK[: x.shape[0], : x.shape[1]])


def _index(lib, values):
    return lib.tensor(np.array(values, dtype=np.int64))


CASES = [
    _case("flip", lambda x: x.flip(0, -1), (3, 4, 2)),
    _case("flip_tuple", lambda x: x.flip((1,)), (3, 4)),
    _case("bp.flip", lambda x: bp.flip(x, 1), (3, 4), theirs=lambda x: torch.flip(x, (1,))),
    _case("roll", lambda x: x.roll(2, 1), (3, 4)),
    _case("roll_negative_many", lambda x: x.roll((1, -5), (0, -1)), (3, 2, 4)),
    _case("roll_flattened", lambda x: x.roll(5), (3, 4)),
    _case("bp.roll", lambda x: bp.roll(x, -1, 0), (3, 4), theirs=lambda x: torch.roll(x, -1, 0)),
    _case("repeat", lambda x: x.repeat(2, 3), (3, 2)),
    _case("repeat_extra_leading", lambda x: x.repeat(2, 1, 3), (3, 2)),
    _case("tile_fewer_sizes", lambda x: x.tile(2), (3, 2)),
    _case("tile_more_sizes", lambda x: x.tile((2, 1, 1)), (3, 2)),
    _case("split_size", lambda x: x.split(2, 1), (3, 5)),
    _case("split_sections", lambda x: x.split([1, 0, 4], -1), (3, 5)),
    _case("bp.split", lambda x: bp.split(x, 2), (5, 2), theirs=lambda x: torch.split(x, 2)),
    _case("chunk", lambda x: x.chunk(3, 1), (2, 7)),
    _case("bp.chunk", lambda x: bp.chunk(x, 2), (5, 2), theirs=lambda x: torch.chunk(x, 2)),
    _case("logsumexp", lambda x: x.logsumexp(1), (3, 4), theirs=lambda x: x.logsumexp(1)),
    _case(
        "logsumexp_axes_keepdims",
        lambda x: bp.logsumexp(x * 30, (0, 2), keepdims=True),
        (3, 2, 4),
        theirs=lambda x: torch.logsumexp(x * 30, (0, 2), keepdim=True),
    ),
    _case("std", lambda x: x.std(), (3, 4)),
    _case(
        "std_axis_population",
        lambda x: x.std(1, keepdims=True, correction=0),
        (3, 4),
        theirs=lambda x: x.std(1, keepdim=True, correction=0),
    ),
    _case("norm", lambda x: x.norm(), (3, 4)),
    _case("norm_1", lambda x: x.norm(1, 1), (3, 4)),
    _case("norm_2_keepdims", lambda x: x.norm(2, 0, True), (3, 4)),
    _case("norm_3", lambda x: x.norm(3, (0, 1)), (3, 4)),
    _case("norm_half", lambda x: x.norm(0.5, -1), (3, 4), data=_away),
    _case("norm_inf", lambda x: x.norm(INF, 1), (3, 4)),
    _case("norm_minus_inf", lambda x: x.norm(-INF, 0), (3, 4)),
    _case("norm_fro", lambda x: x.norm("fro"), (3, 4)),
    _case("prod", lambda x: x.prod(), (3, 4), data=_positive),
    _case("prod_axis", lambda x: x.prod(1), (3, 5)),
    _case(
        "prod_axes_keepdims",
        lambda x: x.prod((0, 2), keepdims=True),
        (3, 2, 3),
        theirs=lambda x: x.permute(1, 0, 2).reshape(2, 9).prod(1).reshape(1, 2, 1),
    ),
    _case("amax", lambda x: x.amax(1), (3, 4), data=_ties),
    _case(
        "amin_axes",
        lambda x: x.amin((0, 1), keepdims=True),
        (3, 4, 2),
        data=_ties,
        theirs=lambda x: x.amin((0, 1), keepdim=True),
    ),
    _case("amax_all", lambda x: x.amax(), (3, 4), data=_ties),
    _case(
        "masked_fill",
        lambda x: x.masked_fill(_mask(bp, x), -2.5),
        (3, 4),
        theirs=lambda x: x.masked_fill(_mask(torch, x), -2.5),
    ),
    _case("clone", lambda x: x.clone() * x, (3, 4)),
    _case("contiguous", lambda x: x.contiguous().view(-1), (3, 4)),
    _case(
        "index_select",
        lambda x: x.index_select(-1, _index(bp, [3, 0, 3, 1])),
        (3, 4),
        theirs=lambda x: x.index_select(-1, _index(torch, [3, 0, 3, 1])),
    ),
    _case("tan", lambda x: x.tan(), (3, 4), data=_unit),
    _case("log1p", lambda x: x.log1p(), (3, 4), data=_unit),
    _case("expm1", lambda x: x.expm1(), (3, 4)),
    _case("rsqrt", lambda x: x.rsqrt(), (3, 4), data=_positive),
    _case("reciprocal", lambda x: x.reciprocal(), (3, 4), data=_away),
    _case("square", lambda x: x.square(), (3, 4)),
    _case("clip", lambda x: x.clip(-0.5, 0.7), (3, 4), data=_away),
    _case(
        "bp.cat", lambda x: bp.cat([x, x * 2], 1), (3, 4), theirs=lambda x: torch.cat([x, x * 2], 1)
    ),
]


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _compare(ours, theirs, array, dtype="float64", view=None):
    """Runs `ours` and `theirs` on `array` (rounded to `dtype`; `view` turns the leaf into the
    op's input in both frameworks) and compares every output, then the leaf's gradient for a
    random gradient of each output."""
    array = array.astype(dtype)
    view = view or (lambda x: x)
    mine = bp.tensor(array, requires_grad=True)
    reference = torch.tensor(array.astype(np.float64), requires_grad=True)
    outs, expected = _outputs(ours(view(mine))), _outputs(theirs(view(reference)))
    assert len(outs) == len(expected)
    for i, (out, exp) in enumerate(zip(outs, expected)):
        assert_close(out.numpy(), exp.detach().numpy(), dtype, err_msg=f"output {i}")
    grads = [randn(out.shape, seed=7 + i).astype(dtype) for i, out in enumerate(outs)]
    backward(outs, [bp.tensor(g) for g in grads])
    torch.autograd.backward(expected, [torch.tensor(g.astype(np.float64)) for g in grads])
    assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg="input grad")


@pytest.mark.parametrize("ours, theirs, shape, data", CASES)
def test_each_op_matches_torch_in_value_and_gradient(ours, theirs, shape, data):
    _compare(ours, theirs, data(shape))


@pytest.mark.parametrize("ours, theirs, shape, data", CASES)
def test_each_op_matches_torch_in_float32(ours, theirs, shape, data):
    _compare(ours, theirs, data(shape, seed=1), dtype="float32")


@pytest.mark.parametrize("ours, theirs, shape, data", CASES)
def test_each_op_matches_torch_on_a_non_contiguous_input(ours, theirs, shape, data):
    reverse = tuple(reversed(range(len(shape))))
    array = data(tuple(reversed(shape)), seed=2)
    _compare(ours, theirs, array, view=lambda x: x.permute(*reverse))


# Kinks at the drawn data (tied maxima, clip's bounds) that finite differences cannot cross.
NOT_SMOOTH = {"amax", "amin_axes", "amax_all", "clip"}


@pytest.mark.parametrize("ours, theirs, shape, data", [c for c in CASES if c.id not in NOT_SMOOTH])
def test_each_smooth_op_passes_gradcheck_and_gradgradcheck(ours, theirs, shape, data):
    x = bp.tensor(data(shape, seed=3), requires_grad=True)
    assert bp.gradcheck(ours, x)
    assert bp.gradgradcheck(ours, x)


EDGE_CASES = [
    _case("flip_empty", lambda x: x.flip(0, 1), (0, 3)),
    _case("roll_empty_axis", lambda x: x.roll(2, 0), (0, 3)),
    _case("roll_size_1", lambda x: x.roll((3, 1), (0, 1)), (1, 3)),
    _case("repeat_zero_times", lambda x: x.repeat(0, 2), (2, 3)),
    _case("repeat_0d", lambda x: x.repeat(3), ()),
    _case("tile_empty", lambda x: x.tile(2), (0, 3)),
    _case("split_empty_axis", lambda x: x.split(2), (0, 3)),
    _case("split_empty_axis_by_0", lambda x: x.split(0), (0,)),
    _case("split_larger_than_axis", lambda x: x.split(5, 1), (2, 3)),
    _case("split_size_1_axis", lambda x: x.split(1, 0), (1, 3)),
    _case("chunk_empty_axis", lambda x: x.chunk(3), (0, 3)),
    _case("chunk_more_than_axis", lambda x: x.chunk(6, 1), (2, 3)),
    _case("logsumexp_empty_axis", lambda x: x.logsumexp(1), (2, 0)),
    _case("logsumexp_size_1", lambda x: x.logsumexp(0), (1, 3)),
    _case("std_size_1", lambda x: x.std(0), (1, 3)),
    _case("std_empty_batch", lambda x: x.std(1), (0, 3)),
    _case("norm_empty", lambda x: x.norm(), (2, 0)),
    _case("norm_3_empty_axis", lambda x: x.norm(3, 1), (2, 0)),
    _case("norm_inf_empty_batch", lambda x: x.norm(INF, 0), (2, 0)),
    _case("logsumexp_0d", lambda x: x.logsumexp(0), ()),
    _case("prod_empty", lambda x: x.prod(1), (2, 0)),
    _case("prod_size_1", lambda x: x.prod(0), (1, 3)),
    _case("prod_0d", lambda x: x.prod(), ()),
    _case("amax_size_1", lambda x: x.amax(0), (1, 3)),
    _case("masked_fill_empty", lambda x: x.masked_fill(x > 0, 1.0), (0, 3)),
    _case(
        "index_select_empty_index",
        lambda x: x.index_select(0, _index(bp, [])),
        (2, 3),
        theirs=lambda x: x.index_select(0, _index(torch, [])),
    ),
    _case(
        "index_select_0d_index",
        lambda x: x.index_select(1, _index(bp, 2)),
        (2, 3),
        theirs=lambda x: x.index_select(1, _index(torch, 2)),
    ),
    _case("log1p_empty", lambda x: x.log1p(), (0,)),
]


@pytest.mark.parametrize("ours, theirs, shape, data", EDGE_CASES)
@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")  # std of one entry
def test_size_0_and_size_1_axes_match_torch(ours, theirs, shape, data):
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, std of one entry 0/0
        _compare(ours, theirs, data(shape))


# -- behaviour beyond the random cases -----------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 7, 10])
@pytest.mark.parametrize("chunks", [1, 3, 4, 6, 11])
def test_chunk_and_split_give_torchs_piece_sizes(length, chunks):
    x, reference = bp.zeros(length, 2), torch.zeros(length, 2)
    assert [t.shape for t in x.chunk(chunks)] == [tuple(t.shape) for t in reference.chunk(chunks)]
    if length:
        assert [t.shape for t in x.split(chunks)] == [
            tuple(t.shape) for t in reference.split(chunks)
        ]


def test_split_and_chunk_return_tuples_of_views_of_the_input():
    x = bp.tensor(np.arange(12.0).reshape(3, 4))
    for pieces in (x.split(3, 1), x.chunk(2), bp.split(x, [1, 2])):
        assert isinstance(pieces, tuple)
        assert all(np.shares_memory(piece.data, x.data) for piece in pieces)


def test_flip_of_a_0d_tensor_and_of_no_axes_is_the_tensor():
    x = bp.tensor(np.arange(6.0).reshape(2, 3))
    assert x.flip(()) is x
    scalar = bp.tensor(2.0)
    assert scalar.flip(0).item() == 2.0 and scalar.roll(4).item() == 2.0


def test_logsumexp_is_stable_for_large_values():
    x = bp.tensor(np.array([[1000.0, 1000.0], [-1000.0, -1001.0]]))
    expected = torch.logsumexp(torch.tensor(x.numpy()), 1).numpy()
    assert_close(x.logsumexp(1).numpy(), expected)
    assert np.isfinite(x.logsumexp(1).numpy()).all()


def test_logsumexp_of_infinite_rows_matches_torch_in_value_and_nan_gradient():
    rows = np.array([[-INF, -INF], [INF, 1.0], [1.0, 2.0], [-INF, 0.5]])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) and inf * 0, as in PyTorch
        _compare(lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), rows)
        assert bp.tensor(rows[:2]).logsumexp(1).tolist() == [-INF, INF]


def test_two_norm_std_and_p_norms_have_torchs_zero_gradient_at_zero():
    zeros = np.zeros((2, 3))
    with_zero_entries = np.array([[0.0, 2.0, -2.0], [0.0, 0.0, 0.0]])
    for p in (2, 1, 3, 0.5, INF, -INF):
        for array in (zeros, with_zero_entries):
            _compare(lambda x, p=p: x.norm(p, 1), lambda x, p=p: x.norm(p, 1), array)
    _compare(lambda x: x.std(1), lambda x: x.std(1), np.full((2, 3), 1.5))
    x = bp.tensor(zeros, requires_grad=True)
    x.norm().backward()
    assert not np.isnan(x.grad.numpy()).any()


@pytest.mark.parametrize(
    "array", [[2.0, 0.0, 3.0], [2.0, 0.0, 3.0, 0.0], [0.0], [-1.5, 2.0, 0.5, 4.0, -3.0]]
)
def test_prod_gradient_is_exact_with_zeros_in_the_input(array):
    array = np.array(array)
    _compare(lambda x: x.prod(), lambda x: x.prod(), array)
    x = bp.tensor(array, requires_grad=True)
    assert bp.gradcheck(lambda t: t.prod(), x) and bp.gradgradcheck(lambda t: t.prod(), x)


def test_prod_of_integers_stays_integer():
    x = bp.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.prod(1).dtype == bp.int64 and x.prod(1).tolist() == [6, 120]
    assert x.prod().item() == 720


def test_amax_and_amin_split_the_gradient_evenly_between_ties_as_torch():
    array = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _compare(lambda x: x.amax(1), lambda x: x.amax(1), array)
    _compare(lambda x: x.amin(), lambda x: x.amin(), array)


@pytest.mark.parametrize(
    "values, axis",
    [
        ([[3.0, 1.0, 1.0], [0.0, 5.0, 0.0]], None),
        ([[3.0, 1.0, 1.0], [0.0, 5.0, 0.0]], 1),
        ([[3.0, 1.0, 1.0], [0.0, 5.0, 0.0]], -2),
        ([[3, 1, 1], [0, 5, 0]], 1),
        ([0, -(2**63)], 0),
        ([[math.nan, 1.0], [2.0, 1.0]], 1),
    ],
)
def test_argmin_gives_torchs_first_smallest_index(values, axis):
    ours = bp.tensor(values).argmin(axis)
    theirs = torch.tensor(values).argmin(axis)
    assert ours.dtype == bp.int64 and ours.tolist() == theirs.tolist()
    kept = bp.tensor(values).argmin(axis, keepdims=True) if axis is not None else None
    if kept is not None:
        assert kept.tolist() == torch.tensor(values).argmin(axis, keepdim=True).tolist()


def test_extremes_of_an_empty_tensor_over_non_empty_axes_are_empty_as_in_torch(device):
    x, theirs = bp.zeros(2, 0, device=device), torch.zeros(2, 0)
    for name in ("amax", "amin", "argmax", "argmin"):
        ours = getattr(x, name)(0)
        assert ours.shape == tuple(getattr(theirs, name)(0).shape) == (0,)
        with pytest.raises(ValueError, match=r"cannot reduce .* over axes \(1,\), which have no"):
            getattr(x, name)(1)


@pytest.mark.parametrize(
    "values", [[1e-300, -1e-300, 1e-20, -3e-17, 1e-8, -1e-5, 0.3, -0.49, 0.5, -0.5, 2.0, 40.0]]
)
def test_log1p_and_expm1_are_accurate_for_tiny_arguments(device, values):
    array = np.array(values)
    for name in ("log1p", "expm1"):
        ours = getattr(bp.tensor(array, device=device), name)().numpy()
        np.testing.assert_allclose(ours, getattr(np, name)(array), rtol=4e-16, atol=0)


def test_log1p_and_expm1_at_their_limits_match_torch():
    array = np.array([-1.0, INF, -INF, -2.0, 0.0, -0.0])
    for name in ("log1p", "expm1"):
        with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf, log1p(-2) NaN
            ours = getattr(bp.tensor(array), name)().numpy()
        expected = getattr(torch.tensor(array), name)().numpy()
        np.testing.assert_array_equal(ours, expected)


def test_masked_fill_broadcasts_and_gives_a_0d_value_its_gradient():
    x = bp.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    value = bp.tensor(np.array(-1.0), requires_grad=True)
    filled = x.masked_fill(bp.tensor([True, False, True]), value)
    filled.sum().backward()
    assert filled.tolist() == [[-1.0, 1.0, -1.0], [-1.0, 4.0, -1.0]]
    assert value.grad.item() == 4.0 and x.grad.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    assert bp.tensor([1, 2, 3]).masked_fill(bp.tensor([False, True, False]), 7).tolist() == [
        1,
        7,
        3,
    ]


def test_clone_owns_its_memory_and_contiguous_is_the_tensor():
    x = bp.tensor(np.arange(4.0))
    copy = x.clone()
    x.zero_()
    assert copy.tolist() == [0.0, 1.0, 2.0, 3.0] and not np.shares_memory(copy.data, x.data)
    assert x.contiguous() is x
    assert bp.tensor([True, False]).clone().tolist() == [True, False]


def test_square_keeps_integer_dtype_and_cat_is_concatenate():
    assert bp.tensor([2, -3]).square().tolist() == [4, 9]
    assert bp.cat is bp.concatenate
    for name in ("cat", "chunk", "flip", "logsumexp", "roll", "split"):
        assert name in bp.__all__


def test_square_of_a_bool_tensor_is_int64_as_in_torch():
    ours, theirs = bp.tensor([True, False]).square(), torch.tensor([True, False]).square()
    assert str(theirs.dtype) == "torch.int64"
    assert ours.dtype == bp.int64 and ours.tolist() == theirs.tolist() == [1, 0]


@pytest.mark.parametrize("dtype", ["bool", "int32", "uint8", "int64"])
@pytest.mark.parametrize("axis", [None, 1, (0, 1)])
def test_prod_of_bool_and_integer_tensors_is_int64_as_in_torch(dtype, axis):
    array = np.array([[1, 2, 0], [3, 1, 2]]).astype(dtype)
    ours = bp.tensor(array).prod(axis)
    theirs = torch.tensor(array).prod() if axis is None else torch.tensor(array)
    if axis is not None:
        for dim in reversed(axis if isinstance(axis, tuple) else (axis,)):
            theirs = theirs.prod(dim)
    assert str(theirs.dtype) == "torch.int64"
    assert ours.dtype == bp.int64 and ours.tolist() == theirs.tolist()


FUNCTIONS = {
    "tile": lambda lib, x: lib.tile(x, (2, 1)),
    "index_select": lambda lib, x: lib.index_select(x, 1, _index(lib, [2, 0])),
    "clone": lambda lib, x: lib.clone(x),
    "amax": lambda lib, x: lib.amax(x, 1),
    "amin": lambda lib, x: lib.amin(x, 0),
    "argmax": lambda lib, x: lib.argmax(x, 1),
    "argmin": lambda lib, x: lib.argmin(x, 0),
    "prod": lambda lib, x: lib.prod(x, 1),
    "std": lambda lib, x: lib.std(x, 0),
    "norm": lambda lib, x: lib.norm(x, 3),
    "masked_fill": lambda lib, x: lib.masked_fill(x, _mask(lib, x), 0.5),
}


class _AsMethods:
    """`_AS_METHODS.name(x, *args)` calls the method `x.name(*args)`; tensors come from
    `bp.tensor`."""

    tensor = staticmethod(bp.tensor)

    def __getattr__(self, name):
        return lambda x, *args: getattr(x, name)(*args)


_AS_METHODS = _AsMethods()


@pytest.mark.parametrize("name, call", FUNCTIONS.items(), ids=FUNCTIONS.keys())
def test_module_level_functions_equal_the_methods_and_torchs(name, call):
    array = randn((3, 4), seed=8)
    ours, method = call(bp, bp.tensor(array)), call(_AS_METHODS, bp.tensor(array))
    assert name in bp.__all__
    assert ours.dtype == method.dtype and ours.tolist() == method.tolist()
    assert_close(ours.numpy(), call(torch, torch.tensor(array)).numpy())


# -- errors ----------------------------------------------------------------------------------------

X = bp.tensor(np.arange(6.0).reshape(2, 3))

ERRORS = [
    (lambda: X.flip(2), IndexError, r"flip: axis 2 is out of range"),
    (lambda: X.flip(0, -2), ValueError, r"flip: repeated axis"),
    (lambda: X.flip(0.5), TypeError, r"flip: axes must be an int or a sequence of ints"),
    (lambda: X.roll((1, 2), 0), ValueError, r"roll: shifts and axis must have the same length"),
    (lambda: X.roll((1, 2)), ValueError, r"roll: without axis, shifts must be one int"),
    (lambda: X.roll(1, 3), IndexError, r"roll: axis 3 is out of range"),
    (lambda: bp.tensor(2.0).roll(1, 7), IndexError, r"roll: axis 7 is out of range .* 0 dim"),
    (lambda: X.repeat(2), ValueError, r"repeat: got 1 sizes \(2,\) for a tensor of 2 dim"),
    (lambda: X.repeat(-1, 2), ValueError, r"repeat: sizes must be non-negative, got \(-1, 2\)"),
    (lambda: X.tile(-3), ValueError, r"tile: sizes must be non-negative"),
    (lambda: X.split(0), ValueError, r"split: split_size must be positive .* got 0"),
    (lambda: X.split(-1, 1), ValueError, r"split: split_size must be positive"),
    (lambda: X.split([1, 1], 1), ValueError, r"split: sections must .* add up to the size 3"),
    (lambda: X.split([-1, 4], 1), ValueError, r"split: sections must be non-negative"),
    (lambda: X.split(1, 2), IndexError, r"split: axis 2 is out of range"),
    (lambda: bp.tensor(1.0).split(1), ValueError, r"split: a 0-d tensor has no axis to split"),
    (lambda: X.split(1.5), TypeError, r"split: split_size_or_sections must be an int"),
    (lambda: X.chunk(0), ValueError, r"chunk: chunks must be a positive int, got 0"),
    (lambda: X.chunk(2, -3), IndexError, r"chunk: axis -3 is out of range"),
    (lambda: X.logsumexp(2), IndexError, r"logsumexp: axis 2 is out of range"),
    (lambda: bp.tensor([1, 2]).logsumexp(0), TypeError, r"logsumexp: expected a float32"),
    (lambda: bp.tensor([1, 2]).std(), TypeError, r"std: expected a float32 or float64"),
    (lambda: X.norm(0), ValueError, r"norm: p must be a positive number, inf, -inf or 'fro'"),
    (lambda: X.norm("nuc"), ValueError, r"norm: p must be .* got 'nuc'"),
    (lambda: X.norm(-1), ValueError, r"norm: p must be .* got -1"),
    (lambda: bp.zeros(2, 0).norm(INF, 1), ValueError, r"norm: the inf norm over an empty axis"),
    (lambda: X.norm(2, 5), IndexError, r"norm: axis 5 is out of range"),
    (lambda: X.prod(2), IndexError, r"prod: axis 2 is out of range"),
    (lambda: X.argmin(2), IndexError, r"argmin: axis 2 is out of range"),
    (lambda: bp.zeros(0).argmin(), ValueError, r"argmin: cannot reduce an empty tensor"),
    (lambda: bp.tensor([True]).argmin(), TypeError, r"argmin: bool tensors are not supported"),
    (lambda: X.masked_fill(X, 1.0), TypeError, r"masked_fill: mask must be a bool Tensor"),
    (lambda: X.masked_fill([True], 1.0), TypeError, r"masked_fill: mask must be a bool Tensor"),
    (
        lambda: X.masked_fill(X > 1, bp.tensor([1.0, 2.0], dtype=bp.float64)),
        ValueError,
        r"masked_fill: value must be a number or a 0-d Tensor",
    ),
    (
        lambda: X.masked_fill(X > 1, bp.tensor(1.0, dtype=bp.float32)),
        TypeError,
        r"masked_fill: a Tensor value must have the tensor's dtype float64, got float32",
    ),
    (lambda: X.masked_fill(X > 1, "a"), TypeError, r"masked_fill: value must be a number"),
    (
        lambda: bp.tensor([1, 2]).masked_fill(bp.tensor([True, False]), 0.5),
        TypeError,
        r"masked_fill: cannot fill a int64 tensor with the float 0.5",
    ),
    (
        lambda: X.masked_fill(bp.tensor([True, False]), 1.0),
        ValueError,
        r"masked_fill: shapes \(2,\) and \(2, 3\) cannot be broadcast",
    ),
    (lambda: X.index_select(0, X), TypeError, r"index_select: index must be an integer Tensor"),
    (
        lambda: X.index_select(0, bp.tensor([[0]])),
        ValueError,
        r"index_select: index must be 0-d or 1-d, got shape \(1, 1\)",
    ),
    (lambda: X.index_select(2, bp.tensor([0])), IndexError, r"index_select: axis 2 is out"),
    (
        lambda: X.index_select(1, bp.tensor([0, -1])),
        IndexError,
        r"index_select: index -1 is out of range for axis 1 of size 3 .* must be in \[0, 3\)",
    ),
    (
        lambda: X.index_select(-2, bp.tensor([1, 2, 0])),
        IndexError,
        r"index_select: index 2 is out of range for axis 0 of size 2",
    ),
    (lambda: bp.tensor([1, 2]).tan(), TypeError, r"tan: expected a float32 or float64"),
    (lambda: bp.tensor([1, 2]).log1p(), TypeError, r"log1p: expected a float32 or float64"),
    (lambda: bp.tensor([1, 2]).expm1(), TypeError, r"expm1: expected a float32 or float64"),
    (lambda: bp.tensor([1, 2]).rsqrt(), TypeError, r"rsqrt: expected a float32 or float64"),
    (lambda: bp.tensor([1, 2]).reciprocal(), TypeError, r"reciprocal: expected a float32"),
    (lambda: bp.flip([1.0], 0), TypeError, r"flip: expected a Tensor, got list"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_arguments_raise_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


TORCH_ERRORS = {
    "roll_0d_axis": lambda lib: lib.tensor(2.0).roll(1, 7),
    "index_select_negative": lambda lib: lib.zeros(2, 3).index_select(1, _index(lib, [0, -1])),
    "index_select_past_end": lambda lib: lib.zeros(2, 3).index_select(0, _index(lib, [2])),
}


@pytest.mark.parametrize("call", TORCH_ERRORS.values(), ids=TORCH_ERRORS.keys())
def test_axes_and_positions_torch_refuses_raise_index_error(call):
    with pytest.raises((IndexError, RuntimeError)):  # torch's type depends on the axis
        call(torch)
    with pytest.raises(IndexError):
        call(bp)


@pytest.mark.skipif("numba" not in bp.available_backends(), reason="needs a second device")
def test_masked_fill_refuses_a_value_on_another_device_naming_masked_fill():
    value = bp.tensor(1.0, dtype=bp.float64, device=bp.device(backend="numba"))
    with pytest.raises(RuntimeError, match=r"masked_fill: value is on cuda:0 \(numba\) but the"):
        X.masked_fill(X > 1, value)


# -- every backend ---------------------------------------------------------------------------------

DEVICE_CASES = {
    "flip_roll": lambda x: x.flip(0, 1) * x.roll((1, -1), (0, 1)),
    "repeat": lambda x: x.repeat(2, 1, 2).sum(0),
    "split": lambda x: bp.cat(
        [piece * (i + 1) for i, piece in enumerate(x.split([1, 0, 2], 1))], 1
    ),
    "chunk_logsumexp_std": lambda x: x.chunk(2)[1].logsumexp(1) + x.std(0),
    "norms": lambda x: x.norm(3, 1) + x.norm(1, 1) + x.norm(2, 1) + x.norm(INF, 1),
    "prod_amax_amin": lambda x: x.prod(1) + x.amax(1) + x.amin(1),
    "elementwise": lambda x: x.tan() + x.log1p() + x.expm1() + (x * x + 1).rsqrt(),
    "masked_fill_index_select": lambda x: x.masked_fill(x > 0.2, 0.5).index_select(
        1, _index_on(x, [2, 0, 2])
    ),
}


def _index_on(x, values):
    return bp.tensor(np.array(values, dtype=np.int64), device=x.device)


@pytest.mark.parametrize("fn", DEVICE_CASES.values(), ids=DEVICE_CASES.keys())
def test_every_backend_matches_the_cpu(device, fn):
    array = randn((2, 3), seed=5, low=-0.8, high=0.8)
    assert_matches_the_cpu(device, fn, array)
    on_device = bp.tensor(array, device=device)
    assert on_device.argmin(1).tolist() == bp.tensor(array).argmin(1).tolist()
