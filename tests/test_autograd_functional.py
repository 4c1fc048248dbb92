"""`backprop.autograd.functional`: vjp, jvp, jacobian, hessian, vhp and hvp follow PyTorch's
argument conventions and result structure, agree with `torch.autograd.functional` on random
compositions in float64, stay differentiable with `create_graph=True`, and reject bad input
with messages that name the function."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import backprop as bp
from backprop.autograd import functional as AF
from backprop.autograd import grad

OURS = SimpleNamespace(F=bp.functional, tensor=bp.tensor, functional=AF)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def theirs(torch):
    return SimpleNamespace(
        F=torch.nn.functional, tensor=torch.tensor, functional=torch.autograd.functional
    )


# Each case runs the same code on either library, `L` (tensor, F, functional), so one lambda
# is the specification for both.
SCALAR_FUNCTIONS = {
    "elementwise": (lambda L, x: (x.tanh() * x.sin()).sum() + (x * x).exp().mean(), [(2, 3)]),
    "softmax_entropy": (
        lambda L, x: -(L.F.softmax(x, -1) * L.F.log_softmax(x, -1)).sum(),
        [(2, 4)],
    ),
    "mlp_cross_entropy": (
        lambda L, x, w1, w2: L.F.cross_entropy(
            L.F.linear(L.F.gelu(L.F.linear(x, w1)), w2), L.tensor(np.array([1, 0, 2]))
        ),
        [(3, 4), (5, 4), (3, 5)],
    ),
    "smooth_activations": (
        lambda L, x, w: (L.F.silu(x @ w) * L.F.elu(x[:, :2]) + L.F.softplus(x @ w)).sum(),
        [(3, 4), (4, 2)],
    ),
    "regression": (
        lambda L, x, w: L.F.mse_loss(L.F.sigmoid(x @ w), x[:, 1:].sin()),
        [(3, 4), (4, 3)],
    ),
    "batched_matmul_norm": (lambda L, a, b: ((a @ b) ** 2).sum().sqrt(), [(2, 2, 3), (3, 2)]),
}

VECTOR_FUNCTIONS = {
    "softmax": (lambda L, x: L.F.softmax(x, -1), [(2, 3)]),
    "broadcast_product": (lambda L, x, y: x * y.exp(), [(2, 3), (3,)]),
    "two_outputs": (lambda L, x, y: (x.tanh() @ y, (x * x).sum()), [(2, 3), (3, 2)]),
}


def _arrays(shapes, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s) * 0.7) for s in shapes]


def _run(L, method: str, case, arrays, *vectors):
    fn, _ = case
    inputs = tuple(L.tensor(a) for a in arrays)
    extra = tuple(tuple(L.tensor(v) for v in vs) for vs in vectors)
    return getattr(L.functional, method)(lambda *xs: fn(L, *xs), inputs, *extra)


def _assert_close(ours, theirs) -> None:
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_close(a, b)
        return
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_hessian_matches_pytorch(name, theirs):
    case = SCALAR_FUNCTIONS[name]
    arrays = _arrays(case[1])
    _assert_close(_run(OURS, "hessian", case, arrays), _run(theirs, "hessian", case, arrays))


@pytest.mark.parametrize("method", ["hvp", "vhp"])
@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_hessian_vector_products_match_pytorch(name, method, theirs):
    case = SCALAR_FUNCTIONS[name]
    arrays, vectors = _arrays(case[1]), _arrays(case[1], seed=1)
    ours = _run(OURS, method, case, arrays, vectors)
    _assert_close(ours, _run(theirs, method, case, arrays, vectors))


@pytest.mark.parametrize("name", sorted(VECTOR_FUNCTIONS))
def test_jacobian_matches_pytorch(name, theirs):
    case = VECTOR_FUNCTIONS[name]
    arrays = _arrays(case[1])
    _assert_close(_run(OURS, "jacobian", case, arrays), _run(theirs, "jacobian", case, arrays))


@pytest.mark.parametrize("name", sorted(VECTOR_FUNCTIONS))
def test_jvp_and_vjp_match_pytorch(name, theirs):
    fn, shapes = case = VECTOR_FUNCTIONS[name]
    arrays = _arrays(shapes)
    outputs = fn(OURS, *(bp.tensor(a) for a in arrays))
    output_shapes = [o.shape for o in outputs] if isinstance(outputs, tuple) else [outputs.shape]
    tangents, cotangents = _arrays(shapes, seed=1), _arrays(output_shapes, seed=2)
    for method, vectors in (("jvp", tangents), ("vjp", cotangents)):
        ours = _run(OURS, method, case, arrays, vectors)
        _assert_close(ours, _run(theirs, method, case, arrays, vectors))


def _t(values, requires_grad: bool = False) -> bp.Tensor:
    return bp.tensor(values, dtype=bp.float64, requires_grad=requires_grad)


def _x() -> bp.Tensor:
    return _t([0.3, -1.2, 0.8])


def _cubic(x: bp.Tensor) -> bp.Tensor:
    return (x**3).sum()


def test_results_keep_the_structure_of_inputs_and_outputs():
    x, w = _x(), bp.tensor(np.ones((3, 2)))
    assert AF.jacobian(lambda a: a.reshape(3, 1) * a, x).shape == (3, 3, 3)
    blocks = AF.jacobian(lambda a, b: (a @ b, a.sum()), (x.reshape(1, 3), w))
    assert [[block.shape for block in row] for row in blocks] == [
        [(1, 2, 1, 3), (1, 2, 3, 2)],
        [(1, 3), (3, 2)],
    ]
    hessian = AF.hessian(lambda a, b: (a @ b).sum() ** 2, (x.reshape(1, 3), w))
    assert [[block.shape for block in row] for row in hessian] == [
        [(1, 3, 1, 3), (1, 3, 3, 2)],
        [(3, 2, 1, 3), (3, 2, 3, 2)],
    ]
    value, (vx, vw) = AF.vhp(lambda a, b: (a @ b).sum(), (x.reshape(1, 3), w), (x.reshape(1, 3), w))
    assert value.shape == () and vx.shape == (1, 3) and vw.shape == (3, 2)


def test_jvp_is_the_jacobian_times_v_and_vjp_is_v_times_the_jacobian():
    x, v, u = _x(), _t([1.0, 2.0, -1.0]), _t([0.5, -0.5])
    w = bp.tensor(np.arange(6.0).reshape(3, 2) / 6)

    def f(a: bp.Tensor) -> bp.Tensor:
        return (a.sin().reshape(1, 3) @ w).reshape(2) * a[:2]

    jacobian = AF.jacobian(f, x).numpy()
    np.testing.assert_allclose(AF.jvp(f, x, v)[1].numpy(), jacobian @ v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(AF.vjp(f, x, u)[1].numpy(), u.numpy() @ jacobian, rtol=1e-12)


def test_hessian_of_a_cubic_and_its_products():
    x, v = _x(), _t([1.0, 0.5, -2.0])
    expected = np.diag(6 * x.numpy())
    np.testing.assert_allclose(AF.hessian(_cubic, x).numpy(), expected)
    for product in (AF.hvp, AF.vhp):
        value, result = product(_cubic, x, v)
        np.testing.assert_allclose(value.item(), (x.numpy() ** 3).sum())
        np.testing.assert_allclose(result.numpy(), expected @ v.numpy())


def test_v_may_be_omitted_only_for_one_element():
    value, derivative = AF.jvp(lambda a: a.exp(), _t([0.5]))
    np.testing.assert_allclose(derivative.numpy(), np.exp([0.5]))
    _, gradient = AF.vjp(_cubic, _x())
    np.testing.assert_allclose(gradient.numpy(), 3 * _x().numpy() ** 2)
    with pytest.raises(ValueError, match=r"jvp: v can be omitted only .* shapes \(3,\)"):
        AF.jvp(lambda a: a.exp(), _x())
    with pytest.raises(ValueError, match=r"vjp: v can be omitted only"):
        AF.vjp(lambda a: a.exp(), _x())


def test_results_are_detached_unless_create_graph():
    x = _t([0.3, -1.2, 0.8], requires_grad=True)
    value, product = AF.hvp(_cubic, x, x)
    assert not value.requires_grad and not product.requires_grad
    assert not AF.hessian(_cubic, x).requires_grad


# For x**3 (summed, for the Hessians): each function's result with create_graph=True, and
# the gradient of that result's sum with respect to x.
CUBE_DERIVATIVES = {
    "jvp": (
        lambda x, v: AF.jvp(lambda a: a**3, x, v, create_graph=True)[1],
        lambda x, v: 6 * x * v,
    ),
    "vjp": (
        lambda x, v: AF.vjp(lambda a: a**3, x, v, create_graph=True)[1],
        lambda x, v: 6 * x * v,
    ),
    "jacobian": (
        lambda x, v: AF.jacobian(lambda a: a**3, x, create_graph=True),
        lambda x, v: 6 * x,
    ),
    "hvp": (lambda x, v: AF.hvp(_cubic, x, v, create_graph=True)[1], lambda x, v: 6 * v),
    "vhp": (lambda x, v: AF.vhp(_cubic, x, v, create_graph=True)[1], lambda x, v: 6 * v),
}


@pytest.mark.parametrize("method", sorted(CUBE_DERIVATIVES))
def test_create_graph_results_can_be_differentiated_again(method):
    x = _t([0.3, -1.2, 0.8], requires_grad=True)
    v = _t([1.0, 0.5, -2.0], requires_grad=True)
    result, expected = CUBE_DERIVATIVES[method]
    derivative = result(x, v)
    assert derivative.requires_grad
    (by_x,) = grad(derivative.sum(), x)
    np.testing.assert_allclose(by_x.numpy(), expected(x.numpy(), v.numpy()))


def test_third_derivative_through_a_hessian_vector_product():
    x = _t([0.3, -1.2, 0.8], requires_grad=True)
    v = _t([1.0, 0.5, -2.0])
    _, product = AF.hvp(lambda a: (a**4).sum(), x, v, create_graph=True)
    (third,) = grad(product.sum(), x)
    np.testing.assert_allclose(third.numpy(), 24 * x.numpy() * v.numpy())


def test_create_graph_differentiates_through_the_graph_that_made_the_inputs():
    leaf = _t([0.3, -1.2, 0.8], requires_grad=True)
    x = 2 * leaf
    hessian = AF.hessian(_cubic, x, create_graph=True)
    (through,) = grad(hessian.sum(), leaf)
    np.testing.assert_allclose(through.numpy(), 12 * np.ones(3))


def test_works_inside_no_grad():
    with bp.no_grad():
        np.testing.assert_allclose(AF.hessian(_cubic, _x()).numpy(), np.diag(6 * _x().numpy()))


def test_unused_inputs_give_zeros_unless_strict():
    x, y = _x(), _t([1.0, 2.0])
    jx, jy = AF.jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_allclose(jx.numpy(), 2 * np.eye(3))
    np.testing.assert_allclose(jy.numpy(), np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match=r"jacobian: the outputs do not depend on input 1"):
        AF.jacobian(lambda a, b: a * 2, (x, y), strict=True)


def test_strict_rejects_a_gradient_that_does_not_depend_on_the_inputs():
    linear = lambda a: (3 * a).sum()  # noqa: E731
    np.testing.assert_allclose(AF.hessian(linear, _x()).numpy(), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match=r"vhp: an output does not depend on the inputs"):
        AF.vhp(linear, _x(), _x(), strict=True)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match=r"hessian: inputs must be a Tensor or a tuple of Tensors"):
        AF.hessian(_cubic, [0.3, 1.0])
    with pytest.raises(ValueError, match=r"hvp: v\[0\] has shape \(2,\) but .* shape \(3,\)"):
        AF.hvp(_cubic, _x(), _t([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"jvp: v\[0\] is float32 but the inputs .* float64"):
        AF.jvp(_cubic, _x(), bp.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"vhp: got 2 tensors in v for 1 inputs"):
        AF.vhp(_cubic, _x(), (_x(), _x()))
    with pytest.raises(ValueError, match=r"hessian: func must return a single Tensor of one"):
        AF.hessian(lambda a: a * a, _x())
    with pytest.raises(TypeError, match=r"jacobian: inputs must be float32 or float64"):
        AF.jacobian(lambda a: a, bp.tensor(np.array([1, 2])))


def test_hessian_on_every_backend(device):
    points = np.array([0.3, -1.2, 0.8], dtype=np.float32)
    x = bp.tensor(points, device=device)
    hessian = AF.hessian(lambda a: (a.tanh() * a).sum(), x)
    t = np.tanh(points)
    expected = np.diag(2 * (1 - t**2) - 2 * t * (1 - t**2) * points)
    np.testing.assert_allclose(hessian.numpy(), expected, rtol=1e-5, atol=1e-6)
