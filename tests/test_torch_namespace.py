"""Spec: `import backprop as bp` offers the `torch.*` functions a PyTorch user reaches for, with
torch's signatures, values, dtypes and gradients; the factories validate their inputs, take
dtype, device and requires_grad, and draw from the global generator."""

from __future__ import annotations

import types

import numpy as np
import pytest
from helpers import assert_close, randn

import backprop as bp
from backprop import functional, ops

torch = pytest.importorskip("torch")

SUBMODULES = {"cuda", "data", "diagnostics", "functional", "nn", "optim"}


def run_both(fn, arrays, dtype="float64"):
    """`fn(namespace, *inputs)` with bp and with torch on the same host arrays (leaves that
    require grad); compares the outputs and, for one random output gradient, every input's
    gradient. torch runs in float64 on inputs rounded to `dtype`."""
    arrays = [np.asarray(a).astype(dtype) for a in arrays]
    ours = [bp.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out, expected = fn(bp, *ours), fn(torch, *theirs)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = randn(out.shape, seed=7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg=f"grad {i}")


# -- the namespace ---------------------------------------------------------------------------


def test_every_name_in_all_exists_and_only_the_submodules_are_modules():
    assert len(bp.__all__) == len(set(bp.__all__))
    for name in bp.__all__:
        assert hasattr(bp, name), name
        is_module = isinstance(getattr(bp, name), types.ModuleType)
        assert is_module == (name in SUBMODULES), f"{name} is shadowed by a module or is one"


def test_torch_aliases_are_the_same_function_objects():
    assert bp.negative is bp.neg is ops.neg
    assert bp.subtract is bp.sub and bp.divide is bp.div and bp.multiply is bp.mul is ops.mul
    assert bp.clip is bp.clamp is ops.clamp
    assert bp.exp is ops.exp and bp.relu is functional.relu and bp.tanh is functional.tanh


UNARY = [
    "exp", "log", "abs", "sqrt", "sin", "cos", "tan", "square", "rsqrt", "reciprocal", "expm1",
    "log1p", "neg", "negative", "sigmoid", "tanh", "relu",
]  # fmt: skip


@pytest.mark.parametrize("name", UNARY)
def test_unary_math_functions_match_torch_in_value_and_gradient(name, dtype):
    x = np.abs(randn((3, 4))) + 0.5  # positive and away from relu's and abs's kink
    run_both(lambda ns, t: getattr(ns, name)(t), [x], dtype)


def test_sign_matches_torch_and_has_no_gradient():
    x = np.array([-2.0, 0.0, 3.0])
    assert_close(bp.sign(bp.tensor(x)).numpy(), torch.sign(torch.tensor(x)).numpy())


BINARY = {
    "add": lambda ns, a, b: ns.add(a, b, alpha=2.5),
    "sub": lambda ns, a, b: ns.sub(a, b, alpha=-0.5),
    "subtract": lambda ns, a, b: ns.subtract(a, b),
    "mul": lambda ns, a, b: ns.mul(a, b),
    "multiply": lambda ns, a, b: ns.multiply(a, b),
    "div": lambda ns, a, b: ns.div(a, b),
    "divide": lambda ns, a, b: ns.divide(a, b),
    "maximum": lambda ns, a, b: ns.maximum(a, b),
    "minimum": lambda ns, a, b: ns.minimum(a, b),
    "max of two tensors": lambda ns, a, b: ns.max(a, b),
    "min of two tensors": lambda ns, a, b: ns.min(a, b),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_functions_broadcast_and_match_torch(name, dtype):
    run_both(BINARY[name], [randn((2, 3), 1), np.abs(randn((3,), 2)) + 0.5], dtype)


def test_add_and_sub_take_a_number_operand_and_integer_alpha_on_integers():
    x = bp.tensor([1, 2, 3])
    assert bp.add(x, 2, alpha=3).tolist() == torch.add(torch.tensor([1, 2, 3]), 2, alpha=3).tolist()
    assert bp.sub(x, x, alpha=2).dtype == bp.int64


def test_div_rounding_modes_match_torch_and_keep_integer_dtypes():
    for a, b in [([7, -7, 6, -1], [2, 2, -4, 3]), ([7.5, -7.5, 0.5], [2.0, 2.0, -0.25])]:
        for mode in ("trunc", "floor"):
            ours = bp.div(bp.tensor(a), bp.tensor(b), rounding_mode=mode)
            theirs = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
            assert ours.tolist() == theirs.tolist()
            assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert bp.div(bp.tensor([1, 2]), 4).dtype == bp.float32


REDUCTIONS = {
    "sum": lambda ns, t: ns.sum(t),
    "sum over dims": lambda ns, t: ns.sum(t, (0, 2), keepdim=True),
    "mean": lambda ns, t: ns.mean(t, 1),
    "mean keepdim": lambda ns, t: ns.mean(t, dim=-1, keepdim=True),
    "max": lambda ns, t: ns.max(t),
    "min": lambda ns, t: ns.min(t),
    "var": lambda ns, t: ns.var(t),
    "var dim": lambda ns, t: ns.var(t, 1, keepdim=True),
    "var correction 0": lambda ns, t: ns.var(t, dim=(0, 1), correction=0),
    "var unbiased False": lambda ns, t: ns.var(t, 2, False),
    "var of all, unbiased False": lambda ns, t: ns.var(t, False),
    "softmax": lambda ns, t: ns.softmax(t, 1),
    "log_softmax": lambda ns, t: ns.log_softmax(t, dim=-1),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_and_softmax_match_torch(name, dtype):
    run_both(REDUCTIONS[name], [randn((2, 3, 4))], dtype)


def test_max_and_min_over_a_dim_give_values_and_indices_as_torch():
    x = randn((3, 4))
    for name in ("max", "min"):
        ours = getattr(bp, name)(bp.tensor(x), 1, keepdim=True)
        theirs = getattr(torch, name)(torch.tensor(x), 1, keepdim=True)
        assert_close(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        method = getattr(bp.tensor(x), name)(1, True)
        np.testing.assert_array_equal(method.indices.numpy(), ours.indices.numpy())


def test_reductions_take_torchs_dtype_argument():
    ints = bp.tensor([[1, 2], [3, 4]])
    assert bp.sum(ints).dtype == bp.int64 and bp.sum(bp.tensor([True, True])).item() == 2
    assert bp.sum(ints, dtype=bp.float64).dtype == bp.float64
    assert bp.mean(ints, 0, dtype="float64").tolist() == [2.0, 3.0]
    assert bp.softmax(bp.tensor([1.0, 2.0]), 0, dtype=bp.float64).dtype == bp.float64


SHAPES = {
    "reshape": lambda ns, t: ns.reshape(t, (4, -1)),
    "transpose": lambda ns, t: ns.transpose(t, 0, -1),
    "permute": lambda ns, t: ns.permute(t, (2, 0, 1)),
    "squeeze": lambda ns, t: ns.squeeze(ns.reshape(t, (1, 2, 1, 12))),
    "squeeze a dim": lambda ns, t: ns.squeeze(ns.reshape(t, (1, 24, 1)), -1),
    "squeeze dims": lambda ns, t: ns.squeeze(ns.reshape(t, (1, 24, 1)), (0, 1)),
    "unsqueeze": lambda ns, t: ns.unsqueeze(t, dim=1),
    "flatten": lambda ns, t: ns.flatten(t, start_dim=1),
    "flatten all": lambda ns, t: ns.flatten(t),
    "broadcast_to": lambda ns, t: ns.broadcast_to(t[:, :1], (2, 2, 3, 4)),
    "clamp": lambda ns, t: ns.clamp(t, -0.5, 0.5),
    "clip": lambda ns, t: ns.clip(t, max=0.3),
    "unbind": lambda ns, t: ns.unbind(t, 1)[2],
    "permuted view": lambda ns, t: ns.sum(ns.permute(t, (2, 1, 0)), 0),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_shape_functions_match_torch(name, dtype):
    run_both(SHAPES[name], [randn((2, 3, 4))], dtype)


def test_gather_takes_dim_and_index_as_torch():
    x = randn((3, 4))
    index = np.array([[0, 3], [1, 1], [2, 0]])
    run_both(lambda ns, t: ns.gather(t, 1, ns.tensor(index)), [x])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch_in_both_indexings(indexing):
    def grids(ns, a, b, c):
        return ns.stack(ns.meshgrid(a, b, c, indexing=indexing)) * 1.0

    run_both(grids, [randn((2,), 1), randn((3,), 2), randn((4,), 3)])
    ours = bp.meshgrid([bp.tensor(1.0), bp.tensor([1.0, 2.0])])
    assert [g.shape for g in ours] == [(1, 2), (1, 2)]


def test_differentiable_wrappers_pass_gradcheck_and_gradgradcheck():
    x = bp.tensor(randn((2, 3)), requires_grad=True)
    y = bp.tensor(np.abs(randn((3,), 1)) + 0.5, requires_grad=True)
    for fn in (
        lambda a, b: bp.add(a, b, alpha=-2.0),
        lambda a, b: bp.div(a, b),
        lambda a, b: bp.var(a, 1, keepdim=True) * b,
        lambda a, b: bp.softmax(a * b, 1),
        lambda a, b: bp.sum(bp.transpose(a, 0, 1) ** 2, 1) + bp.max(b),
        lambda a, b: bp.stack(bp.meshgrid(bp.sum(a, 0), b)),
    ):
        assert bp.gradcheck(fn, x, y)
        assert bp.gradgradcheck(fn, x, y)


def test_numel_and_is_tensor():
    assert bp.numel(bp.zeros(2, 3, 0)) == 0 and bp.numel(bp.zeros(2, 3)) == 6
    assert bp.is_tensor(bp.zeros(1)) and not bp.is_tensor(np.zeros(1))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: bp.sum([1, 2]), TypeError, "sum: expected a Tensor, got list"),
        (lambda: bp.max(np.ones(2)), TypeError, "max: expected a Tensor, got ndarray"),
        (lambda: bp.mean(bp.tensor([1, 2])), TypeError, "mean: expected a float32"),
        (lambda: bp.sum(bp.ones(2), dtype="int8"), TypeError, "sum: dtype int8 is not supp"),
        (lambda: bp.var(bp.ones(2), unbiased=True, correction=0), ValueError, "either unbias"),
        (lambda: bp.var(bp.ones(2), 0, 1), TypeError, "var: unbiased must be a bool, got 1"),
        (lambda: bp.var(bp.ones(2), correction=-1), ValueError, "correction must be non-neg"),
        (lambda: bp.var(bp.ones(2), correction=0.5), TypeError, "correction must be an int"),
        (lambda: bp.add(bp.ones(2), 1, alpha="2"), TypeError, "add: alpha must be a number"),
        (lambda: bp.sub(bp.tensor([1]), 1, alpha=0.5), TypeError, "sub: alpha must not be a fl"),
        (lambda: bp.div(bp.ones(2), 2, rounding_mode="up"), ValueError, "div: rounding_mode"),
        (lambda: bp.permute(bp.ones(2, 2), 1), TypeError, "permute: dims must be a tuple"),
        (lambda: bp.squeeze(bp.ones(1, 1), (0, 0)), ValueError, "squeeze: repeated axis"),
        (lambda: bp.transpose("x", 0, 1), TypeError, "transpose: expected a Tensor"),
        (lambda: bp.numel(3), TypeError, "numel: expected a Tensor, got int"),
        (lambda: bp.meshgrid(bp.ones(2), indexing="yx"), ValueError, "meshgrid: indexing must"),
        (lambda: bp.meshgrid(), ValueError, "meshgrid: expected at least one tensor"),
        (lambda: bp.meshgrid(bp.ones(2, 2)), ValueError, "meshgrid: expected 0-d or 1-d"),
        (lambda: bp.meshgrid(bp.ones(2), bp.tensor([1])), TypeError, "meshgrid: expected ten"),
        (lambda: bp.meshgrid(bp.ones(2), [1]), TypeError, "meshgrid: expected a Tensor"),
        (lambda: bp.softmax(bp.tensor([1, 2]), 0), TypeError, "softmax: expected a float32"),
    ],
)
def test_functions_refuse_bad_arguments_with_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- factories ---------------------------------------------------------------------------------


def test_eye_matches_torch():
    for args in [(3,), (2, 4), (4, 2), (0,), (0, 3)]:
        assert_close(bp.eye(*args).numpy(), torch.eye(*args).numpy().astype(np.float64), "float32")
    assert bp.eye(2, dtype=bp.int64).tolist() == [[1, 0], [0, 1]]
    eye = bp.eye(2, dtype="float64", requires_grad=True)
    assert eye.requires_grad and eye.is_leaf and eye.dtype == bp.float64


LINSPACES = [(0, 1, 5), (0.1, 0.7, 7), (5, -2, 33), (-1, 1, 4097), (2.5, 2.5, 3), (3, 4, 1),
             (0, 1, 0), (-3.7, 11.2, 100), (1e-3, 1e3, 1001)]  # fmt: skip


@pytest.mark.parametrize("start, end, steps", LINSPACES)
def test_linspace_equals_torchs_values(start, end, steps, dtype):
    ours = bp.linspace(start, end, steps, dtype=dtype).numpy()
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if steps < 8 or (start, end) in [(5, -2), (-1, 1)]:
        np.testing.assert_array_equal(ours, theirs)  # where torch's CPU kernel is not vectorized
    else:  # torch's vectorized CPU kernel rounds a few last bits differently
        spacing = np.spacing(np.array(max(abs(start), abs(end)), dtype=dtype))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=4 * spacing)


def test_linspace_and_logspace_with_integer_dtypes_truncate_as_torch():
    for args in [(0, 10, 4), (-5.5, 5.5, 6), (0, 2, 7), (1.7, 5.2, 5)]:
        for name in ("linspace", "logspace"):
            ours = getattr(bp, name)(*args, dtype=bp.int64)
            assert ours.tolist() == getattr(torch, name)(*args, dtype=torch.int64).tolist()
    assert bp.linspace(0, 10, 4, dtype="int32").dtype == bp.int32


@pytest.mark.parametrize("start, end, steps, base", [(0, 3, 4, 10.0), (-3.7, 11.2, 100, 2.0),
                         (0.1, 0.7, 7, np.e), (-2, 2, 1001, 10.0), (1, 5, 1, 3)])  # fmt: skip
def test_logspace_matches_torch_to_the_last_bits(start, end, steps, base, dtype):
    ours = bp.logspace(start, end, steps, base, dtype=dtype).numpy()
    theirs = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_like_factories_take_shape_dtype_and_device_from_the_input():
    x = bp.ones(2, 3, dtype="float64")
    empty = bp.empty_like(x)
    assert (empty.shape, empty.dtype, empty.device) == ((2, 3), bp.float64, x.device)
    assert bp.empty_like(x, dtype=bp.int32).dtype == bp.int32
    bp.manual_seed(3)
    first = bp.rand_like(x, requires_grad=True)
    bp.manual_seed(3)
    second = bp.rand_like(x)
    assert first.requires_grad and first.dtype == bp.float64
    assert first.tolist() == second.tolist()
    assert first.min().item() >= 0 and first.max().item() < 1


def test_randint_takes_torchs_three_call_forms_and_is_reproducible():
    bp.manual_seed(7)
    a = bp.randint(0, 10, (200,))
    bp.manual_seed(7)
    b = bp.randint(10, (200,))
    bp.manual_seed(7)
    c = bp.randint(high=10, size=[200])
    assert a.tolist() == b.tolist() == c.tolist()
    assert a.dtype == bp.int64 and set(a.tolist()) == set(range(10))
    values = bp.randint(-3, -1, (2, 50), dtype="float32")
    assert values.dtype == bp.float32 and set(values.numpy().ravel().tolist()) == {-3.0, -2.0}
    assert bp.randint(5, (0, 3)).shape == (0, 3)


def test_randperm_is_a_reproducible_permutation():
    bp.manual_seed(1)
    first = bp.randperm(50)
    bp.manual_seed(1)
    assert first.tolist() == bp.randperm(50).tolist()
    assert sorted(first.tolist()) == list(range(50)) and first.dtype == bp.int64
    assert bp.randperm(0).shape == (0,) and bp.randperm(3, dtype=bp.int32).dtype == bp.int32
    generator = np.random.default_rng(0)
    assert (
        bp.randperm(4, generator=generator).tolist()
        == np.random.default_rng(0).permutation(4).tolist()
    )


def test_from_numpy_shares_memory_and_never_converts():
    array = np.arange(6.0).reshape(2, 3)
    tensor = bp.from_numpy(array)
    assert tensor.dtype == bp.float64 and tensor.device == bp.device("cpu")
    array[0, 0] = 42.0
    assert tensor[0, 0].item() == 42.0
    tensor.add_(1.0)
    assert array[1, 2] == 6.0
    view = bp.from_numpy(array.T)  # strided arrays are shared too
    assert view.shape == (3, 2) and view[2, 1].item() == 6.0


def test_as_tensor_copies_only_what_it_must():
    array = np.arange(3, dtype=np.int32)
    shared = bp.as_tensor(array)
    array[0] = 9
    assert shared.dtype == bp.int32 and shared[0].item() == 9
    copied = bp.as_tensor(array, dtype=bp.float64)
    array[1] = 9
    assert copied.tolist() == [9.0, 1.0, 2.0]
    x = bp.ones(2, requires_grad=True)
    assert bp.as_tensor(x) is x and bp.as_tensor(x, device="cpu") is x
    doubled = bp.as_tensor(x, dtype=bp.float64)
    doubled.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and x.grad.dtype == bp.float32
    assert bp.as_tensor([1.5, 2.0]).dtype == bp.float32


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: bp.eye(-1), ValueError, "eye: n must be non-negative, got -1"),
        (lambda: bp.eye(2, 2.0), TypeError, "eye: m must be an int, got 2.0"),
        (lambda: bp.eye(True), TypeError, "eye: n must be an int, got True"),
        (lambda: bp.eye(2, dtype="int8"), TypeError, "eye: dtype int8 is not supported"),
        (lambda: bp.eye(2, dtype=bp.int64, requires_grad=True), TypeError, "eye: only float32"),
        (lambda: bp.linspace(0, 1, -1), ValueError, "linspace: steps must be non-negative"),
        (lambda: bp.linspace(0, 1, 2.0), TypeError, "linspace: steps must be an int"),
        (lambda: bp.linspace("0", 1, 2), TypeError, "linspace: start must be a number"),
        (lambda: bp.linspace(0, 1, 2, dtype=bp.bool_), TypeError, "linspace: dtype must be"),
        (lambda: bp.logspace(0, 1, 2, base=None), TypeError, "logspace: base must be a number"),
        (lambda: bp.logspace(0, None, 2), TypeError, "logspace: end must be a number"),
        (lambda: bp.empty_like(np.ones(2)), TypeError, "empty_like: expected a Tensor"),
        (lambda: bp.rand_like(bp.tensor([1, 2])), TypeError, "rand_like: samples need a float"),
        (lambda: bp.randint(5, 5, (2,)), ValueError, "randint: high must be greater than low"),
        (lambda: bp.randint(0, 2, 3), TypeError, "randint: size must be a tuple or list"),
        (lambda: bp.randint(5), TypeError, "randint: size must be a tuple or list of ints, got"),
        (lambda: bp.randint(0.5, 2, (1,)), TypeError, "randint: low must be an int, got 0.5"),
        (lambda: bp.randint(0, 2, (-1,)), ValueError, "randint: shape must be non-negative"),
        (lambda: bp.randint(0, 2**40, (1,), dtype="int32"), ValueError, "randint: values from"),
        (lambda: bp.randint(0, 2, (1,), dtype=bp.bool_), TypeError, "randint: dtype must be an"),
        (lambda: bp.randint(0, 2, (1,), requires_grad=True), TypeError, "randint: only float32"),
        (lambda: bp.randperm(-2), ValueError, "randperm: n must be non-negative, got -2"),
        (lambda: bp.randperm(2**25, dtype="float32"), ValueError, "randperm: values from 0"),
        (lambda: bp.from_numpy([1, 2]), TypeError, "from_numpy: expected a NumPy array, got li"),
        (lambda: bp.from_numpy(np.ones(2, np.float16)), TypeError, "from_numpy: NumPy arrays"),
        (lambda: bp.as_tensor(np.array(["a"])), TypeError, "tensor: cannot make a tensor from"),
    ],
)
def test_factories_refuse_bad_arguments_with_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_factories_and_meshgrid_run_on_every_device_and_match_the_cpu(device):
    cpu = bp.device("cpu")
    for make in (
        lambda d: bp.eye(3, 2, dtype="float64", device=d),
        lambda d: bp.linspace(-1.5, 2.0, 6, device=d),
        lambda d: bp.linspace(0, 10, 4, dtype=bp.int64, device=d),
        lambda d: bp.logspace(0, 2, 3, base=2.0, device=d, requires_grad=True),
        lambda d: bp.empty_like(bp.ones(2, device=d)).fill_(1.0),
        lambda d: bp.stack(bp.meshgrid(bp.arange(2, device=d), bp.arange(3, device=d))),
        lambda d: bp.squeeze(bp.var(bp.ones(1, 3, device=d), 1, keepdim=True)),
    ):
        ours, reference = make(device), make(cpu)
        assert ours.device == device and ours.dtype == reference.dtype
        assert ours.tolist() == reference.tolist()
    for draw in (
        lambda d: bp.randint(0, 100, (4,), device=d),
        lambda d: bp.randperm(5, device=d),
        lambda d: bp.rand_like(bp.ones(3, device=d)),
    ):
        bp.manual_seed(11)
        ours = draw(device)
        bp.manual_seed(11)
        assert ours.device == device and ours.tolist() == draw(cpu).tolist()


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((0, False), {}), ((False,), {}), ((1, True, True), {}), ((), {"dim": 1, "correction": 0})],
    ids=["dim-unbiased", "unbiased-only", "dim-unbiased-keepdim", "correction"],
)
def test_var_and_std_read_positional_arguments_as_torch_does(name, args, kwargs):
    """torch's older positional form is (dim, unbiased, keepdim): `x.var(0, False)` is the
    population variance, never keepdim=False."""
    x = randn((3, 4))
    theirs = getattr(torch, name)(torch.tensor(x), *args, **kwargs).numpy()
    assert_close(getattr(bp, name)(bp.tensor(x), *args, **kwargs).numpy(), theirs)
    assert_close(getattr(bp.tensor(x), name)(*args, **kwargs).numpy(), theirs)


def test_var_takes_unbiased_or_correction_not_both():
    with pytest.raises(ValueError, match="var: give either unbiased or correction, not both"):
        bp.var(bp.tensor(randn((3,))), 0, True, correction=0)
