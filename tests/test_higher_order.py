"""Higher-order gradients: every differentiable op has a double backward that agrees with finite
differences of its first derivatives (`gradgradcheck`, float64, broadcasting shapes), derivatives
of any order match closed forms, first-order training keeps its fused kernels, and training
steps that differentiate a gradient (a gradient penalty, MAML) match PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import backprop as bp
from backprop import functional as F
from backprop import ops
from backprop.autograd import grad
from backprop.nn import functional as NF


class Positive(tuple):
    """The shape of an input drawn away from zero and positive (for log, sqrt, powers)."""


def positive(*shape: int) -> Positive:
    return Positive(shape)


def _inputs(rng: np.random.Generator, shapes) -> list[bp.Tensor]:
    arrays = [
        np.abs(rng.standard_normal(s)) + 0.5 if isinstance(s, Positive) else rng.standard_normal(s)
        for s in shapes
    ]
    return [bp.tensor(a, dtype=bp.float64, requires_grad=True) for a in arrays]


def _index(values) -> bp.Tensor:
    return bp.tensor(np.array(values, dtype=np.int64))


def _cube(x: bp.Tensor) -> bp.Tensor:
    """Linear ops (movement, sums) have zero second derivatives of their own; cubing their
    result makes the double backward run through their backward's backward."""
    return x * x * x


ARITHMETIC = {
    "add": (lambda x, y: (x + y) ** 2, [(3, 1, 4), (2, 4)]),
    "sub": (lambda x, y: (x - y) ** 3, [(2, 3), (3,)]),
    "mul": (lambda x, y: x * y * x, [(2, 3), (1, 3)]),
    "div": (lambda x, y: x / y, [(3, 4), positive(4)]),
    "pow_tensor_exponent": (lambda x, y: x**y, [positive(2, 3), (3,)]),
    "pow_integer_exponent": (lambda x: x**3, [(3, 4)]),
    "pow_fractional_exponent": (lambda x: x**2.5, [positive(3, 4)]),
    "rpow": (lambda x: 2.0**x, [(3, 4)]),
    "neg": (lambda x: -_cube(x), [(3,)]),
    "exp": (lambda x: x.exp(), [(3, 4)]),
    "log": (lambda x: x.log(), [positive(3, 4)]),
    "sqrt": (lambda x: x.sqrt(), [positive(3, 4)]),
    "sin": (lambda x: x.sin(), [(3, 4)]),
    "cos": (lambda x: x.cos(), [(3, 4)]),
    "erf": (lambda x: ops.erf(x), [(3, 4)]),
    "abs": (lambda x: x.abs() * x, [(3, 4)]),
    "maximum": (lambda x, y: x.maximum(y) ** 2, [(3, 4), (4,)]),
    "minimum": (lambda x, y: x.minimum(y) ** 2, [(3, 1), (1, 4)]),
    "clamp": (lambda x: x.clamp(-0.5, 0.5) * x, [(3, 4)]),
    "where": (lambda x, y: bp.where(x > 0, x * y, y**3), [(2, 3), (3,)]),
}

REDUCTIONS = {
    "sum_axis": (lambda x: _cube(x.sum(axis=1)), [(3, 4)]),
    "sum_keepdims": (lambda x: x.sum(axis=(0, 2), keepdims=True) * x, [(2, 3, 2)]),
    "sum_all": (lambda x: _cube(x.sum()), [(2, 3)]),
    "mean_axis": (lambda x: _cube(x.mean(axis=0)), [(3, 4)]),
    "max_axis": (lambda x: _cube(x.max(axis=1).values), [(3, 4)]),
    "min_all": (lambda x: _cube(x.min()), [(3, 4)]),
    "var_unbiased": (lambda x: x.var(axis=0), [(3, 4)]),
    "var_population_keepdims": (lambda x: x.var(axis=1, keepdims=True, correction=0), [(3, 4)]),
}

MATMUL = {
    "matmul": (lambda a, b: _cube(a @ b), [(3, 4), (4, 2)]),
    "matmul_batched_broadcast": (lambda a, b: _cube(a @ b), [(2, 3, 4), (4, 2)]),
    "matmul_transposed_flags": (
        lambda a, b: _cube(bp.matmul(a, b, transpose_a=True, transpose_b=True)),
        [(2, 4, 3), (1, 5, 4)],
    ),
    "matmul_gram": (lambda a: _cube(a.T @ a), [(3, 2)]),
}

MOVEMENT = {
    "reshape": (lambda x: _cube(x.reshape(4, 3)), [(2, 6)]),
    "permute": (lambda x: _cube(x.permute(2, 0, 1)), [(2, 3, 2)]),
    "transpose": (lambda x: _cube(x.transpose(0, 2)), [(2, 3, 2)]),
    "mT": (lambda x: _cube(x.mT) @ x, [(2, 3, 3)]),
    "flatten": (lambda x: _cube(x.flatten(1)), [(2, 3, 2)]),
    "squeeze_unsqueeze": (lambda x: _cube(x.squeeze().unsqueeze(0)), [(2, 1, 3)]),
    "broadcast_to": (lambda x: _cube(x.broadcast_to(2, 3, 4)), [(3, 1)]),
    "getitem_slice": (lambda x: _cube(x[1:, ::2]), [(3, 4)]),
    "getitem_repeated_indices": (lambda x: _cube(x[[0, 2, 2]]), [(3, 4)]),
    "getitem_bool_mask": (lambda x: _cube(x[np.array([True, False, True])]), [(3, 4)]),
    "gather": (lambda x: _cube(x.gather(1, _index([[0, 0], [3, 1], [2, 2]]))), [(3, 4)]),
    "scatter_add": (
        lambda x, s: _cube(ops.scatter_add(x, 1, _index([[0, 2], [1, 1]]), s)),
        [(2, 3), (2, 2)],
    ),
    "concatenate": (lambda x, y: _cube(bp.concatenate([x, y], axis=1)), [(2, 3), (2, 2)]),
    "stack": (lambda x, y: _cube(bp.stack([x, y], axis=1)), [(2, 3), (2, 3)]),
    "unbind": (lambda x: _cube(ops.unbind(x, 1)[0] * ops.unbind(x, 1)[2]), [(2, 3)]),
    "dropout_fixed_generator": (
        lambda x: F.dropout(_cube(x), 0.4, generator=np.random.default_rng(7)),
        [(3, 4)],
    ),
}

ACTIVATIONS = {
    "relu": (F.relu, [(3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [(3, 4)]),
    "sigmoid": (F.sigmoid, [(3, 4)]),
    "tanh": (F.tanh, [(3, 4)]),
    "gelu": (F.gelu, [(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    "silu": (F.silu, [(3, 4)]),
    "softplus": (lambda x: F.softplus(x, beta=2.0), [(3, 4)]),
    "elu": (lambda x: F.elu(x, alpha=0.7), [(3, 4)]),
    **{
        f"bias_{kind}": (lambda x, b, kind=kind: ops.bias_activation(x, b, kind), [(3, 4), (4,)])
        for kind in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu")
    },
    "bias_softplus": (lambda x, b: ops.bias_activation(x, b, "softplus", 2.0), [(3, 4), (4,)]),
    "bias_elu": (lambda x, b: ops.bias_activation(x, b, "elu", 0.7), [(3, 4), (4,)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(3, 4), (2, 4), (2,)]),
    "linear_fused_gelu": (lambda x, w, b: F.linear(x, w, b, "gelu"), [(3, 4), (2, 4), (2,)]),
}

SOFTMAX_AND_LOSSES = {
    "softmax_last_axis": (lambda x: x.softmax(-1), [(3, 4)]),
    "softmax_first_axis": (lambda x: x.softmax(0), [(3, 4)]),
    "log_softmax_last_axis": (lambda x: x.log_softmax(-1), [(3, 4)]),
    "log_softmax_first_axis": (lambda x: x.log_softmax(0), [(3, 4)]),
    "cross_entropy_mean": (lambda x: F.cross_entropy(x, _index([0, 3, 1])), [(3, 4)]),
    "cross_entropy_sum": (
        lambda x: F.cross_entropy(x, _index([0, 3, 1]), reduction="sum"),
        [(3, 4)],
    ),
    "cross_entropy_none": (
        lambda x: F.cross_entropy(x, _index([0, 3, 1]), reduction="none"),
        [(3, 4)],
    ),
    "cross_entropy_label_smoothing": (
        lambda x: F.cross_entropy(x, _index([2, 2, 0]), label_smoothing=0.1),
        [(3, 4)],
    ),
    "nll_loss": (lambda x: F.nll_loss(x.log_softmax(-1), _index([0, 3, 1])), [(3, 4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)]),
    "l1_loss": (lambda x, y: F.l1_loss(x, y) * x.sum(), [(3, 4), (3, 4)]),
    "binary_cross_entropy": (
        lambda x, y: F.binary_cross_entropy(x.sigmoid(), y),
        [(3, 4), (3, 4)],
    ),
    "binary_cross_entropy_with_logits": (
        lambda x, y: F.binary_cross_entropy_with_logits(x, y),
        [(3, 4), (3, 4)],
    ),
}

LAYERS = {
    "conv2d": (
        lambda x, w, b: NF.conv2d(x, w, b, padding=1),
        [(1, 2, 3, 3), (3, 2, 2, 2), (3,)],
    ),
    "conv2d_strided_dilated": (
        lambda x, w: NF.conv2d(x, w, stride=2, dilation=2),
        [(1, 1, 5, 5), (2, 1, 2, 2)],
    ),
    "layer_norm": (lambda x, w, b: NF.layer_norm(x, 4, w, b), [(2, 3, 4), (4,), (4,)]),
    "batch_norm_training": (
        lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True),
        [(4, 3), (3,), (3,)],
    ),
    "batch_norm_images": (
        lambda x: NF.batch_norm(x, None, None, training=True),
        [(2, 2, 2, 2)],
    ),
    "max_pool2d": (lambda x: _cube(NF.max_pool2d(x, 2, stride=1)), [(1, 2, 3, 3)]),
    "avg_pool2d": (
        lambda x: _cube(NF.avg_pool2d(x, 2, padding=1, count_include_pad=False)),
        [(1, 1, 3, 3)],
    ),
    "embedding": (lambda w: _cube(NF.embedding(_index([[0, 2], [2, 4]]), w)), [(5, 3)]),
}

OPS = {
    **ARITHMETIC,
    **REDUCTIONS,
    **MATMUL,
    **MOVEMENT,
    **ACTIVATIONS,
    **SOFTMAX_AND_LOSSES,
    **LAYERS,
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_double_backward_matches_finite_differences(name, rng):
    fn, shapes = OPS[name]
    inputs = _inputs(rng, shapes)
    assert bp.gradgradcheck(fn, *inputs)


def test_double_backward_through_a_dtype_change():
    x = bp.tensor([0.5, -1.25, 2.0], dtype=bp.float64, requires_grad=True)
    y = (x.to(bp.float32) ** 3).to(bp.float64).sum()
    (first,) = grad(y, x, create_graph=True)
    (second,) = grad(first.sum(), x)
    assert first.dtype == second.dtype == bp.float64
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy(), rtol=1e-6)


def test_gradgradcheck_names_the_input_whose_second_derivative_is_wrong():
    class SlopeAsConstant(bp.autograd.Function):
        """x * x whose backward treats 2x as a constant: right first, wrong second derivative."""

        def forward(self, x):
            return x * x

        def backward(self, gy):
            x = self.inputs[0]
            return gy * bp.Tensor._make(2 * x.data, gy.device)

    x = bp.tensor([0.5, -1.0, 2.0], dtype=bp.float64, requires_grad=True)
    assert bp.gradcheck(lambda t: SlopeAsConstant()(t), x)
    with pytest.raises(bp.GradcheckError, match=r"second derivatives with respect to input 0"):
        bp.gradgradcheck(lambda t: SlopeAsConstant()(t), x)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable_in_its_gradient():
    class DetachedGradient(bp.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy.detach() * 2 * self.inputs[0]

    x = bp.tensor([0.5, -1.0, 2.0], dtype=bp.float64, requires_grad=True)
    with pytest.raises(bp.GradcheckError, match=r"with respect to grad_output 0"):
        bp.gradgradcheck(lambda t: DetachedGradient()(t), x)


def test_gradgradcheck_needs_float64_outputs():
    x = bp.tensor([0.5, -1.0], dtype=bp.float64, requires_grad=True)
    with pytest.raises(TypeError, match=r"gradgradcheck: outputs must be float64, got float32"):
        bp.gradgradcheck(lambda t: t.to(bp.float32), x)


def _derivatives(fn, x: bp.Tensor, order: int) -> list[np.ndarray]:
    """The first `order` derivatives of an elementwise `fn` at `x`, by repeated `grad`."""
    results, current = [], fn(x)
    for _ in range(order):
        (current,) = grad(current.sum(), x, create_graph=True)
        results.append(current.numpy())
    return results


POINTS = np.array([-2.0, -0.7, 0.0, 0.3, 1.5])


def test_third_derivative_of_tanh_matches_the_closed_form():
    x = bp.tensor(POINTS, requires_grad=True)
    t = np.tanh(POINTS)
    first, second, third = _derivatives(F.tanh, x, 3)
    np.testing.assert_allclose(first, 1 - t**2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(second, -2 * t * (1 - t**2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(third, -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12, atol=1e-14)


def test_third_derivative_of_sigmoid_matches_the_closed_form():
    x = bp.tensor(POINTS, requires_grad=True)
    s = 1 / (1 + np.exp(-POINTS))
    third = _derivatives(F.sigmoid, x, 3)[-1]
    np.testing.assert_allclose(third, s * (1 - s) * (1 - 6 * s + 6 * s**2), rtol=1e-12, atol=1e-14)


def test_third_derivative_of_exact_gelu_matches_the_closed_form():
    x = bp.tensor(POINTS, requires_grad=True)
    density = np.exp(-(POINTS**2) / 2) / math.sqrt(2 * math.pi)
    third = _derivatives(F.gelu, x, 3)[-1]
    np.testing.assert_allclose(third, POINTS * density * (POINTS**2 - 4), rtol=1e-12, atol=1e-14)


def test_sine_can_be_differentiated_any_number_of_times():
    x = bp.tensor(POINTS, requires_grad=True)
    for order, derivative in enumerate(_derivatives(lambda t: t.sin(), x, 5), start=1):
        np.testing.assert_allclose(derivative, np.sin(POINTS + order * math.pi / 2), atol=1e-14)


def test_powers_have_finite_derivatives_of_every_order_at_zero():
    """As in PyTorch, d(x**0)/dx and d(x**y)/dy at x = 0 (for y >= 0) are 0, not 0 * inf."""
    x = bp.tensor([0.0, 1.5], dtype=bp.float64, requires_grad=True)
    derivatives = _derivatives(lambda t: t**2, x, 4)
    np.testing.assert_array_equal(derivatives, [[0.0, 3.0], [2.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    (of_constant,) = grad((x**0.0).sum(), x)
    np.testing.assert_array_equal(of_constant.numpy(), [0.0, 0.0])
    zero = bp.tensor([0.0, 0.0], dtype=bp.float64)
    exponent = bp.tensor([2.0, 0.0], dtype=bp.float64, requires_grad=True)
    (by_exponent,) = grad((zero**exponent).sum(), exponent)
    np.testing.assert_array_equal(by_exponent.numpy(), [0.0, 0.0])


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = bp.tensor([1.0, -2.0, 0.5], dtype=bp.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    (second,) = grad(first.sum(), x)
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy())


def test_first_order_gradients_are_constants():
    x = bp.tensor([1.0, -2.0, 0.5], dtype=bp.float64, requires_grad=True)
    (first,) = grad((x**3).sum(), x)
    assert not first.requires_grad and first.is_leaf


def _count_calls(monkeypatch, backend, method: str) -> list[int]:
    calls = [0]
    original = getattr(backend, method)

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, method, counted)
    return calls


@pytest.mark.parametrize(
    ("method", "loss"),
    [
        ("act_backward", lambda x: F.gelu(x).sum()),
        ("act_backward", lambda x: F.linear(x, x[:2], x[0, :2], "tanh").sum()),
        ("softmax_cross_entropy_backward", lambda x: F.cross_entropy(x, _index([0, 1, 2]))),
    ],
    ids=["activation", "bias_activation", "cross_entropy"],
)
def test_first_order_backward_keeps_the_fused_kernel_and_create_graph_uses_composite_ops(
    monkeypatch, method, loss
):
    x = bp.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
    calls = _count_calls(monkeypatch, x.backend, method)
    grad(loss(x), x)
    assert calls[0] == 1
    (g,) = grad(loss(x), x, create_graph=True)
    assert calls[0] == 1 and g.requires_grad


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _weights(seed: int, shapes) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * 0.5 for s in shapes]


MLP_SHAPES = [(6, 5), (6,), (3, 6), (3,)]


def test_gradient_penalty_step_matches_pytorch(torch):
    """One SGD step on cross-entropy plus the squared norm of its gradient with respect to
    the input (an input-gradient regulariser, as in WGAN-GP)."""
    data = np.random.default_rng(3).standard_normal((4, 5))
    labels = np.array([0, 2, 1, 2])
    weights = _weights(4, MLP_SHAPES)
    lr, penalty = 0.1, 0.5

    x = bp.tensor(data, requires_grad=True)
    params = [bp.tensor(w, requires_grad=True) for w in weights]
    w1, b1, w2, b2 = params
    logits = F.linear(F.linear(x, w1, b1, activation="gelu"), w2, b2)
    loss = F.cross_entropy(logits, bp.tensor(labels))
    (input_grad,) = grad(loss, x, create_graph=True)
    total = loss + penalty * (input_grad * input_grad).sum()
    updated = [(p - lr * g).numpy() for p, g in zip(params, grad(total, params))]

    tx = torch.tensor(data, requires_grad=True)
    tparams = [torch.tensor(w, requires_grad=True) for w in weights]
    tw1, tb1, tw2, tb2 = tparams
    tf = torch.nn.functional
    tlogits = tf.linear(tf.gelu(tf.linear(tx, tw1, tb1)), tw2, tb2)
    tloss = tf.cross_entropy(tlogits, torch.tensor(labels))
    (tinput_grad,) = torch.autograd.grad(tloss, tx, create_graph=True)
    ttotal = tloss + penalty * (tinput_grad * tinput_grad).sum()
    expected = [
        (p - lr * g).detach().numpy() for p, g in zip(tparams, torch.autograd.grad(ttotal, tparams))
    ]

    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    for ours, theirs in zip(updated, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_gradient_penalty_through_layers_matches_pytorch(torch):
    """Conv2d, BatchNorm2d, LayerNorm, Linear and BatchNorm1d (training) differentiated twice:
    parameter gradients of a loss plus the squared norm of its input gradient."""

    def model(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(2, 3, 3, padding=1),
            lib.nn.BatchNorm2d(3),
            lib.nn.Flatten(),
            lib.nn.LayerNorm(27),
            lib.nn.Linear(27, 5),
            lib.nn.BatchNorm1d(5),
            lib.nn.GELU(),
            lib.nn.Linear(5, 3),
        )

    ours, theirs = model(bp).to(dtype=bp.float64), model(torch).double()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        assert p.shape == tuple(tp.shape)
        with torch.no_grad():
            tp.copy_(torch.tensor(p.numpy()))
    data = np.random.default_rng(8).standard_normal((4, 2, 3, 3))
    labels = np.array([0, 2, 1, 1])

    def penalised_gradients(lib, net, cross_entropy):
        x = lib.tensor(data, requires_grad=True)
        loss = cross_entropy(net(x), lib.tensor(labels))
        (input_grad,) = lib.autograd.grad(loss, x, create_graph=True)
        total = loss + (input_grad * input_grad).sum()
        return [g.detach().numpy() for g in lib.autograd.grad(total, list(net.parameters()))]

    expected = penalised_gradients(torch, theirs, torch.nn.functional.cross_entropy)
    for g, e in zip(penalised_gradients(bp, ours, F.cross_entropy), expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_gradient_penalty_on_every_backend(device, torch):
    """The fused bias+GELU and cross-entropy kernels of each backend, differentiated twice."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(2, 3), (4, 3), (4,)]]
    labels = np.array([1, 3])

    def penalised_gradients(lib, gelu_linear, **where):
        x, w, b = (lib.tensor(a, requires_grad=True, **where) for a in arrays)
        logits = gelu_linear(x, w, b)
        loss = lib.nn.functional.cross_entropy(logits, lib.tensor(labels, **where))
        (input_grad,) = lib.autograd.grad(loss, x, create_graph=True)
        total = loss + (input_grad * input_grad).sum()
        return [g.detach().numpy() for g in lib.autograd.grad(total, (w, b))]

    ours = penalised_gradients(bp, lambda x, w, b: F.linear(x, w, b, "gelu"), device=device)
    tf = torch.nn.functional
    theirs = penalised_gradients(torch, lambda x, w, b: tf.gelu(tf.linear(x, w, b)))
    for g, expected in zip(ours, theirs):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12)


def _maml_meta_gradient(lib, F_, data, weights, inner_lr: float, steps: int):
    """The meta-gradient of the query loss after `steps` inner SGD steps on the support set,
    differentiating through the inner updates (second-order MAML)."""
    xs, ys, xq, yq = (lib.tensor(a) for a in data)
    params = [lib.tensor(w, requires_grad=True) for w in weights]

    def loss(p, x, y):
        w1, b1, w2, b2 = p
        return F_.mse_loss(F_.linear(F_.silu(F_.linear(x, w1, b1)), w2, b2), y)

    adapted = params
    for _ in range(steps):
        grads = lib.autograd.grad(loss(adapted, xs, ys), adapted, create_graph=True)
        adapted = [p - inner_lr * g for p, g in zip(adapted, grads)]
    query = loss(adapted, xq, yq)
    return query.item(), [g.detach().numpy() for g in lib.autograd.grad(query, params)]


def test_two_step_maml_meta_gradient_matches_pytorch(torch):
    rng = np.random.default_rng(5)
    data = [rng.standard_normal(s) for s in [(8, 5), (8, 3), (6, 5), (6, 3)]]
    weights = _weights(6, MLP_SHAPES)
    ours = _maml_meta_gradient(bp, F, data, weights, inner_lr=0.3, steps=2)
    theirs = _maml_meta_gradient(torch, torch.nn.functional, data, weights, 0.3, 2)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    for g, expected in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12)
