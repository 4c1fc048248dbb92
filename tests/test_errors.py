"""Bad input: each mistake is a clear exception whose message names the op and the shapes,
dtypes or devices involved (and, where there is one, what would be valid)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import isolated_registry, register_fake

import backprop as bp
import backprop.functional as F
from backprop import ops


def raises(kind, *fragments):
    """pytest.raises whose message must contain every fragment, in order (literal text)."""
    return pytest.raises(kind, match=".*".join(re.escape(f) for f in fragments))


X34 = bp.zeros(3, 4)


# -- shapes ----------------------------------------------------------------------------------------


def test_matmul_inner_dimension_mismatch():
    with raises(ValueError, "matmul", "(3, 4)", "(3, 4)", "4 != 3"):
        _ = X34 @ bp.zeros(3, 4)
    with raises(ValueError, "matmul", "(2, 3)", "(2, 3)", "3 != 2"):
        bp.matmul(bp.zeros(2, 3), bp.zeros(2, 3), transpose_a=False, transpose_b=False)


def test_matmul_one_dimensional_operands():
    with raises(ValueError, "matmul", "at least 2 dimensions", "(3, 4)", "(4,)"):
        _ = X34 @ bp.zeros(4)
    with raises(ValueError, "matmul", "(4,)", "(4, 3)"):
        _ = bp.zeros(4) @ bp.zeros(4, 3)


def test_matmul_batch_mismatch():
    with raises(ValueError, "matmul", "(2, 3, 4)", "(3, 4, 5)", "(2,)", "(3,)"):
        _ = bp.zeros(2, 3, 4) @ bp.zeros(3, 4, 5)


@pytest.mark.parametrize(
    "op, call",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("maximum", lambda a, b: ops.maximum(a, b)),
        ("where", lambda a, b: bp.where(a > 0, a, b)),
    ],
)
def test_broadcast_shape_mismatch(op, call):
    with raises(ValueError, op, "(3, 4)", "(3,)", "cannot be broadcast"):
        call(X34, bp.zeros(3))


def test_broadcast_to_an_incompatible_shape():
    with raises(ValueError, "broadcast_to", "(3, 4)", "(2, 4)"):
        X34.broadcast_to(2, 4)


def test_reshape_to_an_incompatible_shape():
    with raises(ValueError, "reshape", "(3, 4)", "(5,)"):
        X34.reshape(5)
    with raises(ValueError, "reshape", "(3, 4)", "(-1, -1)"):
        X34.reshape(-1, -1)
    with raises(ValueError, "reshape", "(3, 4)", "(5, -1)"):
        X34.reshape(5, -1)


def test_getitem_out_of_range():
    with raises(IndexError, "getitem", "5", "(3, 4)"):
        _ = X34[5]
    with raises(IndexError, "getitem", "(3, 4)"):
        _ = X34[0, 4]
    with raises(IndexError, "getitem", "(3, 4)"):
        _ = X34[[0, 7]]
    with raises(IndexError, "getitem", "too many indices", "(3, 4)"):
        _ = X34[0, 0, 0]
    with raises(IndexError, "getitem", "float"):
        _ = X34[1.5]


def test_getitem_bool_mask_of_the_wrong_shape():
    with raises(IndexError, "getitem", "bool index of shape (2,)", "(3,)", "(3, 4)"):
        _ = X34[np.array([True, False])]
    with raises(IndexError, "getitem", "bool index of shape (3,)", "(4,)", "axis 1"):
        _ = X34[:, bp.tensor([True, False, True])]
    with raises(IndexError, "getitem", "bool index of shape (3, 3)", "(3, 4)"):
        _ = X34[np.ones((3, 3), dtype=bool)]


def test_axis_out_of_range():
    with raises(IndexError, "sum", "axis 2", "2 dimensions"):
        X34.sum(axis=2)
    with raises(IndexError, "softmax", "axis -3"):
        X34.softmax(-3)
    with raises(ValueError, "permute", "(0, 0)"):
        X34.permute(0, 0)
    with raises(ValueError, "flatten", "start_axis 2", "end_axis 1", "(2, 3, 4)"):
        bp.zeros(2, 3, 4).flatten(2, 1)


def test_joining_mismatched_tensors():
    with raises(ValueError, "concatenate", "(3, 4)", "(2, 3)"):
        bp.concatenate([X34, bp.zeros(2, 3)])
    with raises(ValueError, "stack", "(3, 4)", "(4, 3)"):
        bp.stack([X34, bp.zeros(4, 3)])
    with raises(ValueError, "concatenate", "0-d", "use stack"):
        bp.concatenate([bp.tensor(1.0), bp.tensor(2.0)])


def test_unbinding_needs_a_tensor_with_that_axis():
    with raises(ValueError, "unbind", "0-d"):
        ops.unbind(bp.tensor(1.0))
    with raises(IndexError, "unbind", "axis 2", "2 dimensions"):
        ops.unbind(X34, 2)
    with raises(TypeError, "unbind", "list"):
        ops.unbind([1, 2])


def test_gather_and_scatter_add_bad_index():
    with raises(TypeError, "gather", "integer"):
        X34.gather(1, bp.zeros(3, 1))
    with raises(ValueError, "gather", "1 dimensions", "(3, 4)"):
        X34.gather(1, bp.tensor([0, 1, 2]))
    with raises(ValueError, "scatter_add", "(3, 2)", "(3, 1)"):
        ops.scatter_add(X34, 1, bp.tensor([[0], [1], [2]]), bp.zeros(3, 2))
    with raises(IndexError, "gather", "7", "(3, 4)"):
        X34.gather(1, bp.tensor([[0], [7], [2]]))


def test_bias_activation_bias_shape():
    with raises(ValueError, "bias_relu", "(3, 4)", "(3,)"):
        ops.bias_activation(X34, bp.zeros(3), "relu")


# -- dtypes ----------------------------------------------------------------------------------------


def test_mixed_float32_and_float64_where_torch_refuses_them():
    x64 = bp.zeros(3, 4, dtype="float64")
    with raises(TypeError, "matmul", "float32", "float64"):
        _ = X34 @ bp.zeros(4, 2, dtype="float64")
    with raises(ValueError, "concatenate", "shape", "(3, 4)", "(2, 4)"):
        bp.concatenate([X34, x64[:2]], axis=1)
    with raises(TypeError, "stack", "sequence of Tensors", "list"):
        bp.stack([X34, [1.0]])
    with raises(TypeError, "linear", "bias", "float64", "float32", ".to(dtype)"):
        bp.functional.linear(X34, bp.zeros(2, 4), bp.zeros(2, dtype="float64"))
    with raises(TypeError, "bias_relu", "bias", "float64", "float32", ".to(dtype)"):
        ops.bias_activation(X34, bp.zeros(4, dtype="float64"), "relu")


def test_integer_tensor_with_requires_grad():
    with raises(TypeError, "requires_grad", "float32 and float64", "int64"):
        bp.tensor([1, 2], requires_grad=True)
    with raises(TypeError, "requires_grad", "int64"):
        bp.zeros(3, dtype="int64", requires_grad=True)
    with raises(TypeError, "requires_grad", "bool"):
        bp.tensor([True]).requires_grad_()


def test_float_ops_on_integer_tensors():
    ints = bp.tensor([1, 2])
    with raises(TypeError, "relu", "float32 or float64", "int64", "(2,)"):
        ints.relu()
    with raises(TypeError, "exp", "int64"):
        ints.exp()


def test_ops_given_something_other_than_a_tensor():
    with raises(TypeError, "neg", "expected a Tensor", "str"):
        ops.neg("a")
    with raises(TypeError, "exp", "expected a Tensor", "list"):
        ops.exp([1.0])


def test_random_factories_refuse_integer_and_bool_dtypes():
    with raises(TypeError, "randn", "float32 or float64", "int64"):
        bp.randn(3, dtype="int64")
    with raises(TypeError, "rand", "float32 or float64", "bool"):
        bp.rand(3, dtype=bool)


def test_unsupported_dtypes():
    with raises(TypeError, "tensor", "complex128", "not supported"):
        bp.tensor([1.0], dtype="complex128")
    with raises(TypeError, "tensor", "<U1"):
        bp.tensor(np.array(["a"]))


# -- backward --------------------------------------------------------------------------------------


def test_backward_on_a_non_scalar_without_a_gradient():
    y = bp.zeros(3, 4, requires_grad=True) * 2
    with raises(RuntimeError, "backward", "scalar", "(3, 4)"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape_dtype_or_type():
    y = bp.zeros(3, 4, requires_grad=True) * 2
    with raises(RuntimeError, "backward", "(3,)", "(3, 4)"):
        y.backward(bp.ones(3))
    with raises(TypeError, "backward", "float64", "float32"):
        y.backward(bp.ones(3, 4, dtype="float64"))
    with raises(TypeError, "backward", "Tensor", "ndarray"):
        y.backward(np.ones((3, 4), dtype=np.float32))


def test_backward_of_a_tensor_without_a_graph():
    with raises(RuntimeError, "backward", "does not require grad"):
        bp.zeros(2).sum().backward()
    x = bp.zeros(2, requires_grad=True)
    with bp.no_grad():
        y = (x * 2).sum()
    with raises(RuntimeError, "backward", "no_grad"):
        y.backward()


# -- devices, activations, backends ----------------------------------------------------------------


@pytest.fixture
def alt_device(monkeypatch):
    """A second CPU device, `numpy_alt`, registered for one test."""
    isolated_registry(monkeypatch)
    register_fake("numpy_alt")
    return bp.device(backend="numpy_alt")


@pytest.mark.parametrize(
    "op, call",
    [
        ("add", lambda a, b: a + b),
        ("matmul", lambda a, b: a @ b.T),
        ("concatenate", lambda a, b: bp.concatenate([a, b])),
        ("where", lambda a, b: bp.where(a > 0, a, b)),
        ("gather", lambda a, b: a.gather(1, bp.tensor([[0], [1]], device=b.device))),
    ],
)
def test_tensors_on_different_devices(alt_device, op, call):
    here = bp.ones(2, 3)
    there = bp.ones(2, 3, device=alt_device)
    assert str(there.device) == "cpu (numpy_alt)"
    with raises(RuntimeError, op, "(2, 3) on cpu", "numpy_alt"):
        call(here, there)


def test_moving_a_tensor_between_devices_works_and_carries_the_gradient(alt_device):
    here = bp.tensor([1.0, 2.0], requires_grad=True)
    there = here.to(alt_device)
    assert there.device == alt_device
    (there * there).sum().backward()
    assert here.grad.device == here.device
    np.testing.assert_allclose(here.grad.numpy(), [2.0, 4.0])


def test_unknown_activation():
    known = "relu, leaky_relu, sigmoid"
    with raises(ValueError, "activation", "'swish'", known):
        ops.activation(X34, "swish")
    with raises(ValueError, "activation", "'swish'"):
        F.linear(X34, bp.zeros(2, 4), bp.zeros(2), activation="swish")
    with raises(ValueError, "activation", "'swish'"):
        ops.bias_activation(X34, bp.zeros(4), "swish")
    with raises(ValueError, "gelu", "approximate", "'fast'"):
        F.gelu(X34, approximate="fast")
    with raises(ValueError, "softplus", "beta", "-1"):
        F.softplus(X34, beta=-1.0)


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:1", "gpu:-1", ""])
def test_unknown_device_strings(spec):
    with raises(ValueError, "device", repr(spec)):
        bp.device(spec)
    with raises(ValueError, "device"):
        bp.zeros(2, device=spec)


def test_unknown_backend():
    with raises(bp.BackendUnavailableError, "unknown backend 'foo'", "numpy"):
        bp.device(backend="foo")
    with raises(bp.BackendUnavailableError, "unknown backend 'foo'"):
        bp.tensor([1.0], device=bp.Device("foo"))


def test_backend_on_the_wrong_device_kind():
    with raises(ValueError, "device", "'numpy'", "cpu", "cuda"):
        bp.device("cuda", backend="numpy")


# -- losses ----------------------------------------------------------------------------------------


def test_cross_entropy_wrong_target_dtype_and_shape():
    logits = bp.zeros(3, 4)
    with raises(TypeError, "cross_entropy", "integer", "float32"):
        F.cross_entropy(logits, bp.tensor([0.0, 1.0, 2.0]))
    with raises(ValueError, "cross_entropy", "(2,)", "(3, 4)"):
        F.cross_entropy(logits, bp.tensor([0, 1]))
    with raises(ValueError, "cross_entropy", "(3, 1)", "(3, 4)"):
        F.cross_entropy(logits, bp.tensor([[0], [1], [2]]))
    with raises(ValueError, "cross_entropy", "(N, C)", "(4,)"):
        F.cross_entropy(bp.zeros(4), bp.tensor([0]))
    with raises(ValueError, "cross_entropy", "reduction", "'avg'"):
        F.cross_entropy(logits, bp.tensor([0, 1, 2]), reduction="avg")
    with raises(ValueError, "cross_entropy", "label_smoothing", "1.5"):
        F.cross_entropy(logits, bp.tensor([0, 1, 2]), label_smoothing=1.5)


def test_other_losses_check_their_inputs():
    with raises(TypeError, "nll_loss", "integer", "float32"):
        F.nll_loss(bp.zeros(3, 4), bp.tensor([0.0, 1.0, 2.0]))
    with raises(ValueError, "nll_loss", "(3, 4)", "(2,)"):
        F.nll_loss(bp.zeros(3, 4), bp.tensor([0, 1]))
    with raises(ValueError, "mse_loss", "(3, 4)", "(4, 3)"):
        F.mse_loss(X34, bp.zeros(4, 3))
    with raises(ValueError, "l1_loss", "(3, 4)", "(3,)"):
        F.l1_loss(X34, bp.zeros(3))
    with raises(ValueError, "binary_cross_entropy", "(3, 4)", "(3, 1)"):
        F.binary_cross_entropy(X34, bp.zeros(3, 1))
    with raises(TypeError, "binary_cross_entropy_with_logits", "Tensor", "list"):
        F.binary_cross_entropy_with_logits(X34, [[0.0] * 4] * 3)
    with raises(ValueError, "dropout", "[0, 1]", "1.5"):
        F.dropout(X34, 1.5)
