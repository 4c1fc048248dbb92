"""How the backward pass behaves: accumulation, retain_graph, detach, grad mode, `backprop.grad`,
retain_grad, long chains, diamonds, create_graph, freed buffers, anomaly detection; and the worked
example that people learn backprop from, with every gradient derived by hand."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from helpers import leaf

import backprop as bp
import backprop.functional as F
from backprop import autograd

# -- accumulation and retain_graph ---------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 3.0)
    x.grad = None  # how gradients are reset
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_graph_outputs_still_print_after_backward():
    """Freeing saved buffers keeps each node's settings: the repr still names the op."""
    x = leaf([1.0, 2.0])
    y = x.sigmoid().sum(axis=0)
    y.backward()
    assert "grad_fn=<sum>" in repr(y)


def test_backward_frees_saved_buffers():
    x = leaf(np.linspace(-1, 1, 6))
    hidden = x.exp()
    y = hidden.sigmoid()  # the sigmoid Function saves its input and output arrays
    node = y._creator
    saved_input = weakref.ref(node.x)
    assert node.inputs is not None and hasattr(node, "y")
    out = y.sum()
    del hidden
    out.backward()
    assert node.inputs is None, "the node still holds its inputs"
    assert not hasattr(node, "x") and not hasattr(node, "y"), "saved arrays survived backward"
    gc.collect()
    assert saved_input() is None, "the saved input array is still alive"


def test_retain_graph_keeps_saved_buffers():
    x = leaf(np.linspace(-1, 1, 6))
    y = x.exp().sigmoid()
    node = y._creator
    y.sum().backward(retain_graph=True)
    assert node.inputs is not None and hasattr(node, "x") and hasattr(node, "y")


# -- detach, grad mode, requires_grad --------------------------------------------------------------


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    y = (x * d).sum()  # d is a constant: dy/dx = d
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.detach().data is x.data


def test_no_grad_records_nothing_and_enable_grad_overrides_it():
    x = leaf([1.0, 2.0])
    assert bp.is_grad_enabled()
    with bp.no_grad():
        assert not bp.is_grad_enabled()
        y = x * 2
        with bp.enable_grad():
            z = x * 2
        assert not bp.is_grad_enabled()
    assert bp.is_grad_enabled()
    assert not y.requires_grad and y._creator is None
    assert z.requires_grad and z._creator is not None


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0])

    @bp.no_grad()
    def frozen(t):
        assert not bp.is_grad_enabled()
        return t * 2

    @bp.enable_grad()
    def recorded(t):
        return t * 2

    assert not frozen(x).requires_grad
    assert bp.is_grad_enabled()
    with bp.no_grad():
        assert recorded(x).requires_grad
        assert not bp.is_grad_enabled()


def test_grad_mode_is_restored_after_a_recursive_decorated_call_and_an_exception():
    @bp.no_grad()
    def countdown(n):
        return countdown(n - 1) if n else bp.is_grad_enabled()

    assert countdown(3) is False
    assert bp.is_grad_enabled()
    with pytest.raises(ZeroDivisionError), bp.no_grad():
        1 / 0  # noqa: B018
    assert bp.is_grad_enabled()
    with bp.set_grad_enabled(False):
        assert not bp.is_grad_enabled()
    assert bp.is_grad_enabled()


def test_requires_grad_propagates():
    x = leaf([1.0, 2.0])
    c = bp.tensor([3.0, 4.0], dtype="float64")
    assert x.requires_grad and x.is_leaf
    assert not c.requires_grad
    assert (x * c).requires_grad and not (x * c).is_leaf
    assert not (c * c).requires_grad and (c * c).is_leaf
    assert not (x > 1).requires_grad  # comparisons are outside the graph
    assert c.requires_grad_().requires_grad
    y = (x + c).sum()
    y.backward()
    np.testing.assert_allclose(c.grad.numpy(), [1.0, 1.0])


def test_grad_is_a_tensor_of_the_leafs_shape_dtype_and_device():
    for dtype in ("float32", "float64"):
        x = bp.tensor(np.ones((2, 3)), dtype=dtype, requires_grad=True)
        (x * 2).sum().backward()
        assert isinstance(x.grad, bp.Tensor)
        assert x.grad.shape == (2, 3) and x.grad.dtype == np.dtype(dtype)
        assert x.grad.device == x.device and not x.grad.requires_grad


def test_gradient_of_a_broadcast_operand_is_reduced_to_its_shape():
    x = leaf(np.ones((2, 3)))
    row = leaf([1.0, 2.0, 3.0])
    column = leaf([[1.0], [2.0]])
    scalar = leaf(2.0)
    (x * row * column * scalar).sum().backward()
    assert row.grad.shape == (3,) and column.grad.shape == (2, 1) and scalar.grad.shape == ()
    np.testing.assert_allclose(row.grad.numpy(), [6.0, 6.0, 6.0])
    np.testing.assert_allclose(column.grad.numpy(), [[12.0], [12.0]])
    np.testing.assert_allclose(scalar.grad.numpy(), 18.0)


def test_backward_with_an_explicit_gradient_on_a_non_scalar():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(bp.tensor([1.0, 0.5, 0.0], dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 0.0])


def test_gradient_flows_back_through_a_dtype_change_in_the_source_dtype():
    x = leaf([1.0, 2.0])
    (x.to(bp.float32) * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


# -- backprop.grad and retain_grad -----------------------------------------------------------------


def test_grad_returns_gradients_and_leaves_dot_grad_untouched():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    x.grad = bp.tensor([10.0, 10.0], dtype="float64")
    gx, gw = bp.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0])
    assert w.grad is None


def test_grad_of_an_unused_input_needs_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        bp.grad((x * 2).sum(), [x, unused])
    gx, gu = bp.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 2.0])
    assert gu is None


def test_grad_with_respect_to_an_intermediate_and_with_grad_outputs():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = h * h
    (gh,) = bp.grad(y, h, grad_outputs=bp.tensor([1.0, 1.0], dtype="float64"))
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert x.grad is None


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    kept = x * 5
    kept.retain_grad()
    (h * h + kept).sum().backward()
    assert h.grad is None  # non-leaves keep no gradient unless asked
    np.testing.assert_allclose(kept.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.numpy() + 5)


# -- graph shapes: long chains and diamonds --------------------------------------------------------


def test_a_chain_of_ten_thousand_ops_backpropagates():
    x = leaf(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()  # iterative: a recursive walk would exceed Python's recursion limit
    np.testing.assert_allclose(x.grad.item(), 1.0001**10_000, rtol=1e-9)


def test_a_chain_of_ten_thousand_mixed_ops_gives_the_right_gradient():
    x = leaf(0.3)
    y = x
    for i in range(5_000):
        y = (y + 0.001) if i % 2 else y.sin()
        y = y * 1.0
    y.backward()
    # the same chain by hand: product of cos at each sin step
    value, grad = 0.3, 1.0
    for i in range(5_000):
        if i % 2:
            value += 0.001
        else:
            grad *= math.cos(value)
            value = math.sin(value)
    np.testing.assert_allclose(y.item(), value, rtol=1e-9)
    np.testing.assert_allclose(x.grad.item(), grad, rtol=1e-7)


def test_diamond_graph_sums_every_path():
    # a feeds b and c; b feeds c and d; the gradient sums over all four paths
    a = leaf(2.0)
    b = a * a  # 4
    c = b + b * a  # b + a b = 4 + 8 = 12
    d = c * b + a  # 12 * 4 + 2 = 50
    d.backward()
    # d = (a^2 + a^3) a^2 + a = a^4 + a^5 + a  ->  d' = 4 a^3 + 5 a^4 + 1 = 32 + 80 + 1
    assert d.item() == 50.0
    assert a.grad.item() == pytest.approx(113.0)


def test_a_tensor_used_many_times():
    x = leaf([1.0, -2.0, 0.5])
    y = x + x + x * x + x.exp() + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.numpy() + np.exp(x.numpy()))


def test_shared_subgraph_between_two_outputs():
    x = leaf([1.0, 2.0])
    h = x.exp()
    first, second = (h * 2).sum(), (h * h).sum()
    bp.autograd.backward([first, second])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) + 2 * np.exp([2.0, 4.0]))


# -- create_graph (the full higher-order suite lives elsewhere) ------------------------------------


def test_create_graph_gives_a_differentiable_gradient():
    x = leaf([0.5, -1.5])
    (g,) = bp.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (gg,) = bp.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_backward_with_create_graph_then_backward_of_the_gradient():
    x = leaf([0.3, 0.7])
    (x.sigmoid() * x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.sum().backward()
    s = 1 / (1 + np.exp(-x.numpy()))
    # d/dx [s + x s (1 - s)] = s(1-s) + s(1-s) + x s(1-s)(1-2s)
    expected = 2 * s * (1 - s) + x.numpy() * s * (1 - s) * (1 - 2 * s)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)


# -- the worked example --------------------------------------------------------------------------


def test_worked_example_one_sigmoid_neuron_one_linear_output():
    """Inputs [0.5, 0.3]; hidden h = sigmoid(w1 . x + b1); output y = w2 h + b2; target t = 1;
    loss L = 0.5 (y - t)^2 (the convention with the 1/2, so dL/dy = y - t).

    By the chain rule, with z = w1 . x + b1:
        dL/dy  = y - t
        dL/dw2 = (y - t) h                     dL/db2 = y - t
        dL/dh  = (y - t) w2
        dL/dz  = (y - t) w2 h (1 - h)
        dL/dw1 = dL/dz * x                     dL/db1 = dL/dz
    With w1 = [0.4, 0.6], b1 = 0.1, w2 = 0.7, b2 = -0.2:
        z = 0.2 + 0.18 + 0.1 = 0.48, h = sigmoid(0.48) = 0.6177478748, y = 0.2324235123,
        L = 0.2945868322, dL/dy = -0.7675764877, dL/dz = -0.1268764071.
    """
    x = [0.5, 0.3]
    t = 1.0
    w1_values, b1_value, w2_value, b2_value = [0.4, 0.6], 0.1, 0.7, -0.2

    # by hand, in plain Python floats
    z = x[0] * w1_values[0] + x[1] * w1_values[1] + b1_value
    h = 1 / (1 + math.exp(-z))
    y = w2_value * h + b2_value
    dy = y - t
    dz = dy * w2_value * h * (1 - h)
    expected = {
        "w1": [dz * x[0], dz * x[1]],
        "b1": dz,
        "w2": dy * h,
        "b2": dy,
    }
    # the same numbers, written out
    assert z == pytest.approx(0.48)
    assert h == pytest.approx(0.6177478748, abs=1e-10)
    assert dy == pytest.approx(-0.7675764877, abs=1e-10)
    assert expected["w1"] == pytest.approx([-0.0634382035, -0.0380629221], abs=1e-10)
    assert expected["b1"] == pytest.approx(-0.1268764071, abs=1e-10)
    assert expected["w2"] == pytest.approx(-0.4741687440, abs=1e-10)
    assert expected["b2"] == pytest.approx(-0.7675764877, abs=1e-10)

    # by autograd, as scalar tensors
    w1 = leaf(w1_values)
    b1, w2, b2 = leaf(b1_value), leaf(w2_value), leaf(b2_value)
    inputs = bp.tensor(x, dtype="float64")
    hidden = ((inputs * w1).sum() + b1).sigmoid()
    output = w2 * hidden + b2
    loss = 0.5 * (output - t) ** 2
    loss.backward()
    assert loss.item() == pytest.approx(0.2945868322, abs=1e-10)
    np.testing.assert_allclose(w1.grad.numpy(), expected["w1"], rtol=1e-12)
    assert b1.grad.item() == pytest.approx(expected["b1"], rel=1e-12)
    assert w2.grad.item() == pytest.approx(expected["w2"], rel=1e-12)
    assert b2.grad.item() == pytest.approx(expected["b2"], rel=1e-12)

    # and as a network with the library's layers: fused linear + sigmoid, then mse_loss * 0.5
    W1, B1 = leaf([w1_values]), leaf([b1_value])
    W2, B2 = leaf([[w2_value]]), leaf([b2_value])
    batch = bp.tensor([x], dtype="float64")
    prediction = F.linear(F.linear(batch, W1, B1, activation="sigmoid"), W2, B2)
    loss = 0.5 * F.mse_loss(prediction, bp.tensor([[t]], dtype="float64"))
    loss.backward()
    np.testing.assert_allclose(W1.grad.numpy(), [expected["w1"]], rtol=1e-12)
    np.testing.assert_allclose(B1.grad.numpy(), [expected["b1"]], rtol=1e-12)
    np.testing.assert_allclose(W2.grad.numpy(), [[expected["w2"]]], rtol=1e-12)
    np.testing.assert_allclose(B2.grad.numpy(), [expected["b2"]], rtol=1e-12)


# -- gradient hooks ------------------------------------------------------------------------------


def test_a_hook_on_an_intermediate_sees_its_gradient_and_may_replace_it():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy()))
    y.register_hook(lambda g: g * 10.0)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])  # d(y * y)/dy = 2y, before the replacement
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])  # 3 * 10 * 2y


def test_a_hook_on_a_leaf_changes_what_accumulates_into_grad():
    x = bp.tensor([0.5, -4.0], requires_grad=True)
    x.register_hook(lambda g: g.clamp(-1.0, 1.0))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0])


def test_hooks_run_once_on_the_summed_gradient_of_a_tensor_used_twice():
    x = bp.tensor([1.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.item()))
    (x * 2.0 + x * 3.0).sum().backward()
    assert calls == [5.0]


def test_hooks_run_for_autograd_grad_too_and_a_removed_hook_no_longer_runs():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: -g)
    (g,) = bp.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [-2.0, -4.0])
    handle.remove()
    handle.remove()
    (g,) = bp.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_hook_errors_name_register_hook():
    with pytest.raises(
        RuntimeError, match="register_hook: a tensor of shape \\(2,\\) that does not"
    ):
        bp.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: hook must be callable, got int"):
        bp.ones(2, requires_grad=True).register_hook(3)
    x = bp.ones(2, requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(
        RuntimeError, match="register_hook: a hook returned \\(\\) for .* shape \\(2,\\)"
    ):
        (x * x).sum().backward()


# -- anomaly detection ---------------------------------------------------------------------------


def nan_from_sqrt_at_zero() -> bp.Tensor:
    """sqrt's gradient at 0 is 0 * inf = NaN here: the classic NaN that spreads backwards."""
    x = bp.tensor([0.0, 4.0], requires_grad=True)
    return (x.sqrt() * 0.0).sum(), x


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_without_anomaly_mode_a_nan_gradient_reaches_grad_silently():
    loss, x = nan_from_sqrt_at_zero()
    loss.backward()
    assert np.isnan(x.grad.numpy()[0])


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_anomaly_mode_names_the_op_whose_backward_made_a_nan_and_where_it_was_called():
    with autograd.detect_anomaly():
        loss, x = nan_from_sqrt_at_zero()
        with pytest.raises(RuntimeError) as error:
            loss.backward()
    message = str(error.value)
    assert "op 'sqrt' returned NaN in the gradient of its input 0 (shape (2,))" in message
    assert "in nan_from_sqrt_at_zero" in message and "x.sqrt() * 0.0" in message
    assert x.grad is None


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_an_op_recorded_before_anomaly_mode_is_still_checked():
    loss, _ = nan_from_sqrt_at_zero()
    with autograd.detect_anomaly(), pytest.raises(RuntimeError, match="creation stack is unknown"):
        loss.backward()


def test_anomaly_mode_lets_finite_gradients_through_unchanged():
    x = bp.tensor([1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly():
        (x.sqrt() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * np.sqrt([1.0, 4.0]))


def test_anomaly_mode_is_scoped_by_the_context_or_set_for_the_program():
    assert not autograd.is_anomaly_enabled()

    @autograd.detect_anomaly()
    def inside() -> bool:
        return autograd.is_anomaly_enabled()

    assert inside() and not autograd.is_anomaly_enabled()
    autograd.set_detect_anomaly(True)
    try:
        assert autograd.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not autograd.is_anomaly_enabled()


# -- outputs that get no gradient -----------------------------------------------------------------


class _Halves(autograd.Function):
    """Splits a vector in two, and records what its backward receives in `received`."""

    def __init__(self, materialize: bool, received: list):
        self.materialize_grads, self.received = materialize, received

    def forward(self, x):
        half = x.shape[0] // 2
        return x[:half], x[half:]

    def backward(self, g_first, g_second):
        self.received.extend((g_first, g_second))
        second = bp.zeros(1, dtype="float64") if g_second is None else g_second
        return bp.concatenate([g_first, second])


@pytest.mark.parametrize("materialize", [True, False])
def test_an_output_without_gradient_reaches_backward_as_zeros_unless_told_not_to(materialize):
    x, received = leaf([1.0, 2.0]), []
    first, _ = _Halves(materialize, received)(x)
    (first * 3).sum().backward()
    g_first, g_second = received
    assert g_first.tolist() == [3.0]
    assert (g_second is None) if not materialize else g_second.tolist() == [0.0]
    assert x.grad.tolist() == [3.0, 0.0]
