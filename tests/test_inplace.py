"""In-place Tensor operations and `x[index] = value`, with PyTorch's rule for autograd.

Each op (`add_`, `sub_`, `mul_`, `div_`, `pow_`, `fill_`, `zero_`, `copy_`, `clamp_`, `clip_`,
`masked_fill_`, `normal_`, `uniform_`, `+=`, `-=`, `*=`, `/=`, `x[index] = value`) gives
PyTorch's values on the same data, writes into the tensor's own array (an alias sees it) and
returns the tensor. Writes are refused, naming the op and the way out, where autograd would need
the old value: a leaf that requires grad outside `no_grad`, a tensor of the graph, a value that
requires grad. Under `no_grad` a parameter is updated in place. The backend primitive `setitem`
is checked in the conformance style, and everything runs on every backend (`device` fixture).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
from backprop import nn, optim

torch = pytest.importorskip("torch")

INT = np.int64
MASK = np.array(
    [[True, False, True, False], [False, False, True, True], [True, True, False, False]]
)
ROWS = np.array([True, False, True])


def _iadd(x, T):
    x += T(randn((4,), 1))
    return x


def _isub(x, T):
    x -= 0.25
    return x


def _imul(x, T):
    x *= T(randn((3, 1), 1))
    return x


def _itruediv(x, T):
    x /= 4.0
    return x


# Each case: `fn(x, T)` with T the framework's `tensor` (bp.tensor or torch.tensor), applied to
# a (3, 4) tensor `x` of random data; it returns what the in-place op returned.
METHOD_CASES = [
    pytest.param(lambda x, T: x.add_(T(randn((4,), 1)), alpha=-0.5), id="add_ broadcast alpha"),
    pytest.param(lambda x, T: x.add_(2), id="add_ number"),
    pytest.param(lambda x, T: x.sub_(T(randn((3, 4), 1)), alpha=2), id="sub_ alpha"),
    pytest.param(lambda x, T: x.mul_(T(randn((3, 1), 1))), id="mul_ broadcast"),
    pytest.param(lambda x, T: x.div_(3.0), id="div_ number"),
    pytest.param(lambda x, T: x.pow_(3), id="pow_ number"),
    pytest.param(lambda x, T: x.abs().add_(0.5).pow_(T(randn((4,), 1))), id="pow_ tensor"),
    pytest.param(lambda x, T: x.fill_(1.5), id="fill_ number"),
    pytest.param(lambda x, T: x.fill_(T(np.array(-2.0))), id="fill_ 0-d tensor"),
    pytest.param(lambda x, T: x.zero_(), id="zero_"),
    pytest.param(lambda x, T: x.copy_(T(randn((4,), 1))), id="copy_ broadcast"),
    pytest.param(lambda x, T: x.clamp_(-0.5, 0.5), id="clamp_"),
    pytest.param(lambda x, T: x.clamp_(min=0), id="clamp_ min only"),
    pytest.param(lambda x, T: x.clip_(max=0.1), id="clip_ max only"),
    pytest.param(lambda x, T: x.masked_fill_(T(MASK), 2.0), id="masked_fill_"),
    pytest.param(lambda x, T: x.masked_fill_(T(MASK[0]), -1.0), id="masked_fill_ broadcast"),
    pytest.param(_iadd, id="+="),
    pytest.param(_isub, id="-="),
    pytest.param(_imul, id="*="),
    pytest.param(_itruediv, id="/="),
]


@pytest.mark.parametrize("fn", METHOD_CASES)
def test_each_in_place_op_gives_torchs_values_in_place_and_returns_the_tensor(fn, dtype):
    data = randn((3, 4), 0).astype(dtype)
    ours = bp.tensor(data)
    theirs = torch.tensor(data)
    alias = ours.reshape(12)
    result, expected = fn(ours, bp.tensor), fn(theirs, torch.tensor)
    assert_close(result.numpy(), expected.numpy().astype(np.float64), dtype)
    assert result.dtype == np.dtype(dtype)
    if expected is theirs:
        assert result is ours
        assert_close(alias.numpy(), theirs.numpy().reshape(12).astype(np.float64), dtype)


@pytest.mark.parametrize(
    "method",
    ["add_", "sub_", "mul_", "div_", "pow_", "fill_", "copy_", "clamp_", "masked_fill_", "zero_"],
)
def test_methods_return_the_tensor_itself(method):
    x = bp.tensor(randn((2, 3), 0))
    args = {
        "add_": (1.0,),
        "sub_": (1.0,),
        "mul_": (2.0,),
        "div_": (2.0,),
        "pow_": (2,),
        "fill_": (3.0,),
        "copy_": (bp.ones(3),),
        "clamp_": (0.0, 1.0),
        "masked_fill_": (bp.tensor([True, False, True]), 0.0),
        "zero_": (),
    }[method]
    assert getattr(x, method)(*args) is x


def test_augmented_assignment_writes_into_the_tensor_as_in_torch():
    x = bp.tensor([1.0, 2.0])
    same = x
    same += 1
    assert same is x and x.tolist() == [2.0, 3.0]
    same *= bp.tensor([2.0, 0.5])
    assert same is x and x.tolist() == [4.0, 1.5]


def test_in_place_ops_on_a_permuted_view_write_through_to_the_base_on_numpy():
    """On the CPU (NumPy) `permute` and slicing give views, as in PyTorch."""
    data = randn((3, 4), 0)
    ours, theirs = bp.tensor(data), torch.tensor(data)
    ours.T.mul_(bp.tensor(randn((3,), 1)))
    theirs.T.mul_(torch.tensor(randn((3,), 1)))
    ours[1:, ::2].fill_(7.0)
    theirs[1:, ::2].fill_(7.0)
    assert_close(ours.numpy(), theirs.numpy(), "float64")


def test_integer_tensors_take_integer_operands_and_fill_casts_as_in_torch():
    ours = bp.tensor([1, 5, -3])
    theirs = torch.tensor([1, 5, -3])
    ours.add_(2).mul_(bp.tensor([3, 1, 2])).clamp_(-4, 10)
    theirs.add_(2).mul_(torch.tensor([3, 1, 2])).clamp_(-4, 10)
    assert ours.tolist() == theirs.tolist() and ours.dtype == np.int64
    assert ours.fill_(1.7).tolist() == theirs.fill_(1.7).tolist() == [1, 1, 1]


def test_a_float64_operand_is_cast_into_a_float32_tensor():
    data = randn((2, 3), 0).astype(np.float32)
    other = randn((2, 3), 1)
    ours, theirs = bp.tensor(data), torch.tensor(data)
    ours.add_(bp.tensor(other, dtype="float64"))
    theirs.add_(torch.tensor(other))
    assert ours.dtype == np.float32
    assert_close(ours.numpy(), theirs.numpy().astype(np.float64), "float32")


def test_copy_casts_and_copies_from_another_device(device):
    x = bp.zeros(2, 3, dtype="float32", device=device)
    src = bp.tensor(np.arange(3.0), dtype="float64")  # on the CPU
    assert x.copy_(src) is x and x.device == device and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), np.tile(np.arange(3.0), (2, 1)))


# -- x[index] = value ------------------------------------------------------------------------------


def _set(index, value):
    """`x[index(T)] = value(T)`: the index and value built by each framework's `tensor`."""

    def apply(x, T):
        x[index(T)] = value(T)
        return x

    return apply


SETITEM_CASES = [
    pytest.param(_set(lambda T: T(MASK), lambda T: 0), id="mask of x's shape = 0"),
    pytest.param(_set(lambda T: T(MASK), lambda T: T(np.array(2.5))), id="mask = 0-d tensor"),
    pytest.param(_set(lambda T: T(MASK), lambda T: T(randn((6,), 1))), id="mask = values"),
    pytest.param(_set(lambda T: T(ROWS), lambda T: T(randn((4,), 1))), id="row mask broadcast"),
    pytest.param(_set(lambda T: (slice(None), 0), lambda T: T(randn((3,), 1))), id="[:, 0] = y"),
    pytest.param(_set(lambda T: 1, lambda T: 2.5), id="[1] = number"),
    pytest.param(
        _set(lambda T: (Ellipsis, slice(1, 3)), lambda T: T(randn((2,), 1))), id="[..., 1:3]"
    ),
    pytest.param(
        _set(lambda T: (slice(1, None), slice(None, None, 2)), lambda T: T(randn((1, 2), 1))),
        id="[1:, ::2] broadcast",
    ),
    pytest.param(_set(lambda T: (None, 0), lambda T: T(randn((1, 4), 1))), id="[None, 0]"),
    pytest.param(
        _set(lambda T: T(np.array([0, 2], INT)), lambda T: T(randn((2, 4), 1))), id="int rows"
    ),
    pytest.param(
        _set(
            lambda T: (T(np.array([0, 2], INT)), T(np.array([1, 3], INT))),
            lambda T: T(randn((2,), 1)),
        ),
        id="int pairs",
    ),
    pytest.param(
        _set(lambda T: (slice(None), T(np.array([3, 0], INT))), lambda T: -1.0), id="int columns"
    ),
    pytest.param(
        _set(lambda T: (slice(0, 0), slice(None)), lambda T: T(randn((4,), 1))), id="empty slice"
    ),
]


@pytest.mark.parametrize("fn", SETITEM_CASES)
def test_setitem_gives_torchs_values_and_writes_in_place(fn, dtype):
    """(Values are given in the tensor's dtype: PyTorch refuses another with index arrays.)"""
    data = randn((3, 4), 0).astype(dtype)
    ours, theirs = bp.tensor(data), torch.tensor(data)
    alias = ours.detach()
    fn(ours, lambda a: bp.tensor(a.astype(dtype) if a.dtype.kind == "f" else a))
    fn(theirs, lambda a: torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a))
    assert_close(ours.numpy(), theirs.numpy().astype(np.float64), dtype)
    assert_close(alias.numpy(), theirs.numpy().astype(np.float64), dtype)


def test_setitem_casts_the_value_to_the_tensors_dtype_as_in_torch():
    ours, theirs = bp.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])
    ours[0] = bp.tensor([7.9, -1.2], dtype="float64")
    theirs[0] = torch.tensor([7.9, -1.2], dtype=torch.float64)
    ours[1, 1] = 5.5
    theirs[1, 1] = 5.5
    assert ours.tolist() == theirs.tolist() == [[7, -1], [3, 5]] and ours.dtype == np.int64


def test_an_indexed_augmented_assignment_updates_the_tensor():
    """`x[1] += v` is `x[1] = x[1] + v` in Python: getitem, then `+=`, then setitem."""
    x = bp.tensor(np.zeros((2, 3)))
    x[1] += bp.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[0, 0, 0], [1, 2, 3]]


# -- refusals --------------------------------------------------------------------------------------


def _setitem(x):
    x[0] = 1.0


def _iadd_one(x):
    x += 1


EVERY_OP = {
    "setitem": _setitem,
    "add_": lambda x: x.add_(1),
    "sub_": lambda x: x.sub_(1),
    "mul_": lambda x: x.mul_(2),
    "div_": lambda x: x.div_(2),
    "pow_": lambda x: x.pow_(2),
    "fill_": lambda x: x.fill_(0),
    "zero_": lambda x: x.zero_(),
    "copy_": lambda x: x.copy_(bp.ones(3, dtype="float64")),
    "clamp_": lambda x: x.clamp_(0, 1),
    "masked_fill_": lambda x: x.masked_fill_(bp.tensor([True, False, True]), 0),
    "normal_": lambda x: x.normal_(),
    "uniform_": lambda x: x.uniform_(),
}


@pytest.mark.parametrize("op", EVERY_OP)
def test_a_leaf_that_requires_grad_is_refused_outside_no_grad_and_updated_inside(op):
    w = bp.tensor(np.array([0.5, -0.5, 2.0]), requires_grad=True)
    before = w.numpy()
    with pytest.raises(RuntimeError, match=rf"^{op}: a leaf tensor that requires grad .*no_grad"):
        EVERY_OP[op](w)
    np.testing.assert_array_equal(w.numpy(), before)
    with bp.no_grad():
        EVERY_OP[op](w)
    assert w.is_leaf and w.requires_grad


@pytest.mark.parametrize("op", EVERY_OP)
def test_a_tensor_of_the_graph_is_refused_and_the_error_points_to_the_out_of_place_form(op):
    w = bp.tensor(np.array([0.5, -0.5, 2.0]), requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match=rf"^{op}: this tensor .* made by mul.*not record in-"):
        EVERY_OP[op](y)
    np.testing.assert_array_equal(y.numpy(), [1.0, -1.0, 4.0])


def test_an_augmented_assignment_refuses_a_leaf_that_requires_grad_as_in_torch():
    w = bp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^add_: a leaf tensor that requires grad"):
        _iadd_one(w)


@pytest.mark.parametrize("library", [bp, torch], ids=["backprop", "torch"])
def test_an_augmented_assignment_in_a_forward_keeps_the_gradient_of_torch(library):
    """`out += identity` on tensors of the graph (a residual block) and `total += x` into a
    constant accumulator give torch's values and gradients; backprop rebinds the name to an
    out-of-place result where torch writes in place."""
    w = library.tensor([1.0, 2.0], dtype=library.float64, requires_grad=True)
    out = w * 3
    out += w
    out *= w
    total = library.zeros(2, dtype=library.float64)
    total += out
    total /= 2
    total.sum().backward()
    np.testing.assert_allclose(total.detach().numpy(), [2.0, 8.0])
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda x, w: x.copy_(w), id="copy_"),
        pytest.param(lambda x, w: x.add_(w), id="add_"),
        pytest.param(lambda x, w: x.fill_(w[0]), id="fill_"),
        pytest.param(lambda x, w: x.masked_fill_(x == 0, w[0]), id="masked_fill_"),
        pytest.param(lambda x, w: x.__setitem__(slice(0, 2), w[:2]), id="setitem"),
    ],
)
def test_a_value_that_requires_grad_is_refused(write):
    x = bp.zeros(3, dtype="float64")
    w = bp.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"the value written .* requires grad.*detach"):
        write(x, w)
    with bp.no_grad():
        write(x, w)
    assert x.numpy().any() and not x.requires_grad


def test_a_parameter_updated_under_no_grad_is_used_by_the_next_backward_as_in_torch():
    data = randn((2, 3), 0)
    ours = nn.Parameter(bp.tensor(data, dtype="float64"))
    theirs = torch.nn.Parameter(torch.tensor(data))
    for w, lib in ((ours, bp), (theirs, torch)):
        (w * w).sum().backward()
        with lib.no_grad():
            w.add_(w.grad, alpha=-0.1)
            w[0, 0] = 3.0
            w.clamp_(-1.0, 1.0)
        w.grad = None
        (w * w * w).sum().backward()
    assert_close(ours.numpy(), theirs.detach().numpy(), "float64")
    assert_close(ours.grad.numpy(), theirs.grad.numpy(), "float64")
    assert ours.is_leaf and ours.requires_grad


def test_a_tensor_that_requires_no_grad_is_written_with_grad_mode_on():
    x = bp.zeros(2, 2)
    x[0] = 1.0
    x.add_(1).masked_fill_(x > 1.5, -1.0)
    assert x.tolist() == [[-1.0, -1.0], [1.0, 1.0]]


def test_the_random_fills_draw_from_the_generator_given_or_the_global_one():
    x = bp.zeros(2, 3, dtype="float64")
    x.normal_(1.0, 2.0, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(x.numpy(), np.random.default_rng(7).normal(1.0, 2.0, (2, 3)))
    x.uniform_(-1.0, 3.0, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(x.numpy(), np.random.default_rng(7).uniform(-1, 3, (2, 3)))
    bp.manual_seed(3)
    first = bp.zeros(4).normal_().numpy()
    bp.manual_seed(3)
    assert np.array_equal(bp.zeros(4).normal_().numpy(), first)
    values = bp.zeros(1000).uniform_(-2.0, -1.0).numpy()
    assert values.min() >= -2.0 and values.max() < -1.0


ERRORS = [
    (lambda: bp.tensor([1, 2]).add_(1.5), RuntimeError, r"add_: the float other=1.5 cannot"),
    (lambda: bp.tensor([1, 2]).add_(1, alpha=0.5), RuntimeError, r"add_: the float alpha=0.5"),
    (lambda: bp.tensor([1, 2]).div_(2), RuntimeError, r"div_: a float32 result cannot .* int64"),
    (
        lambda: bp.tensor([1, 2]).mul_(bp.tensor([1.0, 2.0])),
        RuntimeError,
        r"mul_: a float32 operand cannot be written in place into a tensor of dtype int64",
    ),
    (lambda: bp.tensor([True]).add_(1), RuntimeError, r"add_: the int other=1 cannot .* bool"),
    (lambda: bp.tensor([1.0]).add_("a"), TypeError, r"add_: other must be a number or a Tensor"),
    (lambda: bp.tensor([1.0]).add_(1, alpha=None), TypeError, r"add_: alpha must be a number"),
    (
        lambda: bp.zeros(3).add_(bp.zeros(2, 3)),
        ValueError,
        r"add_: the result has shape \(2, 3\) but the tensor has shape \(3,\)",
    ),
    (lambda: bp.zeros(3).fill_(bp.zeros(2)), ValueError, r"fill_: value must be a number or a 0-d"),
    (lambda: bp.zeros(3).fill_("x"), TypeError, r"fill_: value must be a number or a 0-d Tensor"),
    (lambda: bp.zeros(3).copy_(bp.zeros(2)), ValueError, r"copy_: shapes \(2,\) and \(3,\)"),
    (lambda: bp.zeros(3).copy_(bp.zeros(2, 3)), ValueError, r"copy_: src of shape \(2, 3\)"),
    (lambda: bp.zeros(3).copy_([1, 2, 3]), TypeError, r"copy_: src must be a Tensor, got list"),
    (lambda: bp.zeros(3).clamp_(), ValueError, r"clamp_: at least one of min and max"),
    (lambda: bp.tensor([1, 2]).clamp_(0.5), RuntimeError, r"clamp_: the float min=0.5 cannot"),
    (lambda: bp.zeros(3).clamp_(max="1"), TypeError, r"clamp_: max must be a number or None"),
    (
        lambda: bp.zeros(3).masked_fill_(bp.ones(2, 3) > 0, 1.0),
        ValueError,
        r"masked_fill_: the result has shape \(2, 3\)",
    ),
    (lambda: bp.tensor([1, 2]).normal_(), TypeError, r"normal_: expected a float32 or float64"),
    (lambda: bp.zeros(2).uniform_(1.0, 0.0), ValueError, r"uniform_: expected a <= b"),
    (
        lambda: bp.zeros(1, 3).expand(2, 3).fill_(1.0),
        RuntimeError,
        r"fill_: the tensor of shape \(2, 3\) is a broadcast view .* x.clone\(\)",
    ),
    (
        lambda: bp.zeros(2, 3).__setitem__(slice(None), bp.zeros(2)),
        ValueError,
        r"setitem: could not broadcast input array from shape \(2,\) into shape \(2, ?3\)",
    ),
    (
        lambda: bp.zeros(2, 3).__setitem__(0, "a"),
        TypeError,
        r"setitem: value must be a number or a Tensor, got str",
    ),
    (
        lambda: bp.zeros(2, 3).__setitem__(bp.tensor([5]), 1.0),
        IndexError,
        r"setitem: index 5 is out of bounds .* \(tensor of shape \(2, 3\)\)",
    ),
    (
        lambda: bp.zeros(2, 3).__setitem__(bp.tensor([True, False, True]), 1.0),
        IndexError,
        r"bool index of shape \(3,\) does not match the tensor's axes \(2,\)",
    ),
    (
        lambda: bp.zeros(2, 3).__setitem__(0.5, 1.0),
        IndexError,
        r"indices must be ints, slices, None, Ellipsis or integer/bool arrays",
    ),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_bad_arguments_raise_errors_naming_the_op(fn, error, message):
    with pytest.raises(error, match=message):
        fn()


# -- the backend primitive -------------------------------------------------------------------------

SETITEM_PRIMITIVE_CASES = [  # (index with host arrays, shape of the value; () for a number)
    ((1,), (4,)),
    ((slice(1, 3),), (1, 4)),
    ((slice(None), slice(None, None, 2)), (2,)),
    ((Ellipsis, 1), ()),
    ((None, slice(None), 0), (1, 3)),
    ((np.array([0, 2, 1], INT),), (3, 4)),
    ((slice(None), np.array([3, 0], INT)), (3, 1)),
    ((np.array([0, 1], INT), np.array([2, 3], INT)), (2,)),
    ((np.array([0, 2], INT), slice(1, 3)), (2, 2)),
    ((MASK,), (6,)),
    ((slice(0, 2),), (1, 1, 4)),
]


@pytest.mark.parametrize("index, value_shape", SETITEM_PRIMITIVE_CASES, ids=str)
def test_backend_setitem_writes_in_place_like_numpy(device, index, value_shape):
    b = device.backend
    host = randn((3, 4), 0)
    value = randn(value_shape, 1)
    x = b.from_host(host)
    on_backend = tuple(b.from_host(i) if isinstance(i, np.ndarray) else i for i in index)
    b.setitem(x, on_backend, float(value) if value_shape == () else b.from_host(value))
    expected = host.copy()
    expected[index] = value
    assert_close(b.to_host(x), expected, "float64")


def test_backend_setitem_casts_the_value_to_the_arrays_dtype(device):
    b = device.backend
    x = b.from_host(np.zeros((2, 3), np.float32))
    b.setitem(x, (np.int64(1),), b.from_host(np.array([1.5, 2.5, 3.5])))
    assert_close(b.to_host(x), np.array([[0, 0, 0], [1.5, 2.5, 3.5]]), "float32")


# -- every backend ---------------------------------------------------------------------------------


def _in_place_steps(device):
    """A run of in-place ops on `device`; returns the final host values and an alias's."""
    x = bp.tensor(randn((3, 4), 0), dtype="float64", device=device)
    alias = x.reshape(12)
    x[bp.tensor(MASK, device=device)] = 0.0
    x[bp.tensor(ROWS, device=device)] = bp.tensor(randn((4,), 1), dtype="float64", device=device)
    x[:, 1] = bp.tensor(randn((3,), 2), dtype="float64", device=device)
    x[bp.tensor([2, 0], device=device), bp.tensor([3, 1], device=device)] = -2.0
    x.add_(bp.tensor(randn((4,), 3), dtype="float64", device=device), alpha=0.5)
    x *= 2.0
    x.clamp_(-1.5, 1.5)
    x.masked_fill_(x > 1.0, 9.0)
    x.copy_(x.clone() - 1.0)
    return x.numpy(), alias.numpy()


def test_in_place_ops_agree_with_the_cpu_on_every_backend(device):
    values, alias = _in_place_steps(device)
    assert_close(values, _in_place_steps(bp.device("cpu"))[0], "float64")
    assert_close(alias, values.reshape(12), "float64", err_msg="a reshaped alias sees the writes")
    filled = bp.zeros(2, 3, device=device, dtype="float64")
    filled.normal_(generator=np.random.default_rng(5))
    cpu = bp.zeros(2, 3, dtype="float64").normal_(generator=np.random.default_rng(5))
    np.testing.assert_array_equal(filled.numpy(), cpu.numpy())


# -- version counters: backward refuses an input written after the op used it ----------------


def _case_written_after_use(lib, shape=(3,)):
    """y = x * w with x not requiring grad, then x written in place before y's backward."""
    x = lib.ones(shape)
    w = lib.ones(shape, requires_grad=True)
    y = x * w
    x.mul_(2)
    return y, w


def test_backward_refuses_a_product_whose_input_was_written_after_it_as_torch_does():
    torch = pytest.importorskip("torch")
    y, _ = _case_written_after_use(bp)
    with pytest.raises(RuntimeError, match=r"backward: input 0 of mul .* changed in place after"):
        y.sum().backward()
    y, _ = _case_written_after_use(torch)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_an_op_that_needs_only_its_inputs_shapes_may_see_them_written_as_in_torch():
    x = bp.ones(3)
    w = bp.ones(3, requires_grad=True)
    y = (x + w).reshape(3, 1)[:, 0].sum()
    x.add_(1)
    x[0] = 5.0
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])


def test_a_parameter_stepped_between_two_backward_passes_of_one_graph_is_refused():
    w = bp.ones(2, 2, requires_grad=True)
    loss = (w @ w).sum()
    loss.backward(retain_graph=True)
    with bp.no_grad():
        w.sub_(0.1 * w.grad)
    with pytest.raises(RuntimeError, match=r"input 0 of matmul \(shape \(2, 2\), float32\)"):
        loss.backward()


def test_an_input_whose_value_no_wanted_gradient_reads_is_still_checked_where_torch_is_not():
    """backprop checks every input of an op whose gradient reads values; PyTorch checks what
    it saved, and `ones @ w` saves no `w` when `ones` needs no gradient. The stricter check
    refuses a backward PyTorch would run; it never lets a wrong gradient through."""
    w = bp.ones(2, 2, requires_grad=True)
    loss = (bp.ones(3, 2) @ w).sum()
    loss.backward(retain_graph=True)
    with bp.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match=r"input 1 of matmul"):
        loss.backward()


def test_a_write_before_the_op_or_after_its_backward_is_fine():
    x = bp.ones(3)
    x.mul_(3)  # before: the op notes version 1
    w = bp.ones(3, requires_grad=True)
    loss = (x * w).sum()
    loss.backward()
    x.fill_(0)  # after: the graph is gone
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0, 3.0])


@pytest.mark.parametrize(
    "write",
    [
        lambda x: x.fill_(1.0),
        lambda x: x.__setitem__(0, 2.0),
        lambda x: x.uniform_(),
        lambda x: x.exp_(),
        lambda x: x.copy_(bp.zeros(3)),
        lambda x: bp.functional.relu(x, inplace=True),
    ],
    ids=["fill_", "setitem", "uniform_", "exp_", "copy_", "relu-inplace"],
)
def test_every_in_place_write_counts(write):
    x = bp.ones(3)
    with bp.no_grad():
        write(x)
    assert x._version == 1


def test_an_optimizer_step_between_two_backward_passes_of_one_graph_is_refused_as_in_torch():
    torch = pytest.importorskip("torch")
    for lib, optimizers, match in (
        (bp, optim, r"input 0 of matmul"),
        (torch, torch.optim, "modified by an inplace operation"),
    ):
        w = lib.ones(2, 2, requires_grad=True)
        loss = (w @ w).sum()  # each operand's gradient reads the other: torch saves both
        loss.backward(retain_graph=True)
        optimizers.SGD([w], lr=0.1).step()
        with pytest.raises(RuntimeError, match=match):
            loss.backward()
