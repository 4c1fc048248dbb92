"""The Tensor API: construction and dtypes, properties, host conversion, operators, comparisons,
indexing, repr, and the factories."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import backprop as bp
from backprop import nn

# -- construction and dtypes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1.0, 2.5], "float32"),  # Python floats: float32, as in PyTorch
        (3.0, "float32"),
        ([[1, 2], [3, 4]], "int64"),
        (7, "int64"),
        ([True, False], "bool"),
        ([1, 2.5], "float32"),
        (np.array([1.0, 2.0]), "float64"),  # NumPy float64 keeps its precision
        (np.array([1.0, 2.0], dtype=np.float32), "float32"),
        (np.array([1, 2], dtype=np.int32), "int32"),
        (np.array([1, 2], dtype=np.int16), "int64"),
        (np.array([1.0], dtype=np.float16), "float32"),
    ],
)
def test_construction_dtypes(data, dtype):
    t = bp.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data).astype(dtype))


def test_construction_with_dtype_and_requires_grad():
    t = bp.tensor([1, 2], dtype=bp.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf and t.grad is None
    assert bp.tensor([1.0], dtype="float64").dtype == np.float64
    assert bp.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert bp.Tensor([1.0, 2.0]).dtype == np.float32


def test_tensor_copies_its_numpy_source():
    source = np.array([1.0, 2.0])
    t = bp.tensor(source)
    source[0] = 100.0
    assert t.numpy()[0] == 1.0


def test_properties():
    t = bp.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(dim=-1) == 4
    assert t.dtype == bp.float32
    assert t.device == bp.device("cpu") and str(t.device) == "cpu"
    assert bp.tensor(5.0).shape == () == bp.tensor(5.0).size() and bp.tensor(5.0).numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(bp.tensor(5.0))


# -- host conversion and dtype changes -------------------------------------------------------------


def test_numpy_is_a_copy():
    t = bp.tensor([1.0, 2.0])
    array = t.numpy()
    assert isinstance(array, np.ndarray) and array.dtype == np.float32
    array[0] = 50.0
    assert t.numpy()[0] == 1.0
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])


def test_item_tolist_and_python_conversions():
    assert bp.tensor(2.5).item() == 2.5 and isinstance(bp.tensor(2.5).item(), float)
    assert bp.tensor([3]).item() == 3 and isinstance(bp.tensor([3]).item(), int)
    assert bp.tensor([[1.5, 2.0]]).tolist() == [[1.5, 2.0]]
    assert bp.tensor(True).item() is True
    assert float(bp.tensor([1.5])) == 1.5 and int(bp.tensor(4)) == 4
    assert bool(bp.tensor(1.0)) and not bool(bp.tensor(0.0))


def test_to_dtype_and_the_shorthands():
    t = bp.tensor([1.7, -2.2])
    assert t.to(bp.float64).dtype == np.float64
    assert t.to("float64").dtype == np.float64
    assert t.to(np.float64).dtype == np.float64
    assert t.to(dtype="float64").dtype == np.float64
    assert t.double().dtype == np.float64 and t.double().float().dtype == np.float32
    assert t.long().tolist() == [1, -2]
    assert t.to(bp.float32) is t  # no change, no copy
    assert t.to("cpu").device == t.device
    np.testing.assert_allclose(t.double().numpy(), np.float32([1.7, -2.2]).astype(np.float64))


# -- operators -------------------------------------------------------------------------------------


def test_arithmetic_operators_and_reflected_scalars():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([0.5, -1.0])
    x, y = bp.tensor(a), bp.tensor(b)
    cases = [
        (x + y, a + b),
        (x - y, a - b),
        (x * y, a * b),
        (x / y, a / b),
        (x**2, a**2),
        (x**y, a**b),
        (x @ x, a @ a),
        (-x, -a),
        (+x, a),
        (abs(y), np.abs(b)),
        (2 + x, 2 + a),
        (2 - x, 2 - a),
        (2 * x, 2 * a),
        (2 / x, 2 / a),
        (2**x, 2**a),
        (x + 2, a + 2),
    ]
    for result, expected in cases:
        assert isinstance(result, bp.Tensor) and result.dtype == np.float64
        np.testing.assert_allclose(result.numpy(), expected)


def test_numpy_array_on_either_side_of_an_operator():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = bp.tensor(a, dtype="float32", requires_grad=True)
    for result, expected in [
        (a * x, a * a),
        (x * a, a * a),
        (a + x, a + a),
        (a - x, 0 * a),
        (x / a, a / a),
        (np.float64(2.0) * x, 2 * a),
    ]:
        assert isinstance(result, bp.Tensor)
        assert result.dtype == np.float32  # host data takes the tensor's dtype, like a number
        np.testing.assert_allclose(result.numpy(), expected)
    (a * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a)


def test_comparisons_give_bool_tensors_without_grad():
    x = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = bp.tensor([3.0, 2.0, 1.0])
    for result, expected in [
        (x == y, [False, True, False]),
        (x != y, [True, False, True]),
        (x < y, [True, False, False]),
        (x <= y, [True, True, False]),
        (x > 2.0, [False, False, True]),
        (x >= 2, [False, True, True]),
        (2.0 < x, [False, False, True]),  # noqa: SIM300  (the reflected comparison)
    ]:
        assert isinstance(result, bp.Tensor)
        assert result.dtype == np.bool_ and not result.requires_grad
        assert result.tolist() == expected


def test_getitem():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = bp.tensor(a)
    for index in [0, -1, (1, 2), (slice(None), 1), (..., 0), (None, 0), (0, slice(None, None, 2))]:
        np.testing.assert_array_equal(x[index].numpy(), a[index])
    np.testing.assert_array_equal(x[[1, 0]].numpy(), a[[1, 0]])
    np.testing.assert_array_equal(x[x > 20].numpy(), a[a > 20])
    np.testing.assert_array_equal(x[:, bp.tensor([2, 0])].numpy(), a[:, [2, 0]])
    np.testing.assert_array_equal(x[..., a[0, 0] > 1].numpy(), a[..., a[0, 0] > 1])
    np.testing.assert_array_equal(x[0, :, a[0, 0] > 1].numpy(), a[0, :, a[0, 0] > 1])


def test_zero_dimensional_tensors_take_axis_0_as_pytorch_does():
    x = bp.tensor(2.0, requires_grad=True)
    for result in (x.squeeze(0), x.transpose(0, -1), x.sum(axis=0), x.mean(axis=-1)):
        assert result.shape == () and result.item() == 2.0
    x.max(axis=0).values.backward()
    assert x.grad.item() == 1.0
    assert x.softmax().item() == 1.0 and x.log_softmax(0).item() == 0.0


def test_methods_spell_the_ops():
    a = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    x = bp.tensor(a)
    np.testing.assert_allclose(x.relu().numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True).numpy(), a.sum(1, keepdims=True))
    np.testing.assert_allclose(x.mean().numpy(), a.mean())
    np.testing.assert_allclose(x.max(axis=0).values.numpy(), a.max(0))
    np.testing.assert_allclose(x.min(axis=1).values.numpy(), a.min(1))
    np.testing.assert_allclose(x.var(axis=1).numpy(), a.var(1, ddof=1))
    assert x.argmax(axis=1).tolist() == [2, 1] and x.argmax().item() == 4
    np.testing.assert_allclose(x.reshape(3, 2).numpy(), a.reshape(3, 2))
    np.testing.assert_allclose(x.reshape((3, 2)).numpy(), a.reshape(3, 2))
    np.testing.assert_allclose(x.T.numpy(), a.T)
    np.testing.assert_allclose(x.permute(1, 0).numpy(), a.T)
    np.testing.assert_allclose(x.transpose(0, 1).numpy(), a.T)
    np.testing.assert_allclose(x.unsqueeze(0).squeeze(0).numpy(), a)
    np.testing.assert_allclose(x.flatten().numpy(), a.ravel())
    np.testing.assert_allclose(x.exp().log().numpy(), a)
    np.testing.assert_allclose(x.clamp(-1, 1).numpy(), np.clip(a, -1, 1))
    np.testing.assert_allclose(x.softmax(1).numpy().sum(axis=1), [1.0, 1.0])


# -- repr -----------------------------------------------------------------------------------------


def test_repr():
    assert repr(bp.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(bp.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(bp.tensor([1.5], dtype="float64")) == "tensor([1.5], dtype=float64)"
    assert repr(bp.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<mul>" in repr(bp.tensor([1.0], requires_grad=True) * 2)


# -- factories ------------------------------------------------------------------------------------


def test_zeros_ones_full_empty():
    for make, value in ((bp.zeros, 0.0), (bp.ones, 1.0)):
        assert make(2, 3).shape == (2, 3) and make((2, 3)).shape == (2, 3)
        assert make(2, dtype="float64").dtype == np.float64
        np.testing.assert_array_equal(make(2, 3).numpy(), np.full((2, 3), value))
    full = bp.full((2, 2), 7.5)
    assert full.dtype == np.float32 and full.tolist() == [[7.5, 7.5], [7.5, 7.5]]
    assert bp.full(3, 2, dtype="int64").tolist() == [2, 2, 2]
    assert bp.empty(4, 2).shape == (4, 2)
    assert bp.zeros(3, requires_grad=True).requires_grad
    assert bp.zeros(2, 3, device="cpu").device == bp.device("cpu")


def test_arange():
    assert bp.arange(5).tolist() == [0, 1, 2, 3, 4] and bp.arange(5).dtype == np.int64
    assert bp.arange(1, 10, 3).tolist() == [1, 4, 7]
    assert bp.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert bp.arange(0, 1, 0.25).dtype == np.float32
    assert bp.arange(3, dtype="float64").dtype == np.float64


def test_random_factories_and_manual_seed_reproducibility():
    bp.manual_seed(123)
    a, u = bp.randn(3, 4), bp.rand(2, 5)
    bp.manual_seed(123)
    b, v = bp.randn(3, 4), bp.rand(2, 5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(u.numpy(), v.numpy())
    assert a.dtype == np.float32 and bp.randn(2, dtype="float64").dtype == np.float64
    assert np.all((u.numpy() >= 0) & (u.numpy() < 1))
    assert not np.array_equal(bp.randn(3, 4).numpy(), a.numpy())  # the stream moves on
    first = bp.randn(4, generator=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(first, bp.randn(4, generator=np.random.default_rng(5)).numpy())
    big = bp.randn(20000, dtype="float64").numpy()
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05


def test_like_factories():
    x = bp.tensor(np.ones((2, 3)))  # float64
    for made in (bp.zeros_like(x), bp.ones_like(x), bp.full_like(x, 3.0), bp.randn_like(x)):
        assert made.shape == (2, 3) and made.dtype == np.float64 and made.device == x.device
    assert bp.zeros_like(x, dtype="float32").dtype == np.float32
    assert bp.ones_like(x, requires_grad=True).requires_grad
    assert bp.full_like(x, 3.0).tolist() == [[3.0] * 3] * 2
    assert bp.randn_like(bp.tensor([1, 2])).dtype == np.float32  # ints draw floats


# -- copy.deepcopy -------------------------------------------------------------------------------


def test_deepcopy_gives_a_module_on_the_same_device_with_data_of_its_own(device):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 2)).to(device)
    model[0].weight.grad = bp.ones(2, 3, device=device)
    copied = copy.deepcopy(model)
    for (name, ours), (_, theirs) in zip(model.named_parameters(), copied.named_parameters()):
        assert type(theirs) is type(ours) and theirs.device == device, name
        assert theirs.data is not ours.data
        np.testing.assert_array_equal(theirs.numpy(), ours.numpy())
    np.testing.assert_array_equal(copied[0].weight.grad.numpy(), np.ones((2, 3)))
    with bp.no_grad():
        copied[0].weight.zero_()
    assert model[0].weight.numpy().any(), "the copy's data is its own"


def test_deepcopy_keeps_tied_parameters_tied():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[1].weight = model[0].weight
    copied = copy.deepcopy(model)
    assert copied[1].weight is copied[0].weight
    assert copied[0].weight is not model[0].weight


def test_deepcopy_of_a_tensor_made_by_an_op_is_an_error_as_in_torch():
    x = bp.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="deepcopy: only leaf tensors"):
        copy.deepcopy(x)
    assert copy.deepcopy(x.detach()).numpy().tolist() == [2.0, 2.0]


@pytest.mark.parametrize(("low", "high"), [(2.0, 1.0), (1.0, 2.0), (None, 1.5), (1.5, None)])
def test_clamp_keeps_nan_takes_max_when_min_exceeds_it_and_passes_torchs_gradient(low, high):
    torch = pytest.importorskip("torch")
    a = np.array([0.0, 3.0, np.nan, 1.5, 2.0, 1.0])
    x, t = bp.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, expected = x.clamp(low, high), t.clamp(low, high)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_negating_a_bool_tensor_is_refused_as_in_torch():
    with pytest.raises(TypeError, match="neg: negating a bool tensor is not supported"):
        -bp.tensor([True, False])


@pytest.mark.parametrize(
    ("shape", "dim", "error", "match"),
    [
        ((2, 3), 2, IndexError, r"size: dim 2 is out of range for a tensor of shape \(2, 3\)"),
        ((2, 3), -3, IndexError, "size: dim -3 is out of range"),
        ((), 0, IndexError, r"size: dim 0 is out of range for a tensor of shape \(\)"),
        ((2,), 0.5, TypeError, "size: dim must be an int, got 0.5"),
    ],
)
def test_size_names_an_axis_as_torch_and_refuses_one_out_of_range(shape, dim, error, match):
    with pytest.raises(error, match=match):
        bp.zeros(*shape).size(dim)
