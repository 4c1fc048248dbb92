"""The Numba-CUDA backend: every kernel family against NumPy, selection, versions, interop,
and a tiny MLP that trains to the same weights as on the NumPy backend.

Without a GPU these run in Numba's CUDA simulator (conftest switches it on), which is slow:
shapes stay at a few dozen elements. On a GPU the same tests run the compiled kernels.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import backprop as bp
from backprop import functional as F
from backprop.backend import available, get_backend, numba_backend, unavailable_reason
from backprop.backend.base import ACTIVATIONS, BINARY_OPS, COMPARE_OPS, UNARY_OPS

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

needs_numba = pytest.mark.skipif(
    unavailable_reason("numba") is not None,
    reason=f"the numba backend cannot run here: {unavailable_reason('numba')}",
)
needs_numba_installed = pytest.mark.skipif(
    importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed"
)

ALPHAS = {"leaky_relu": 0.1, "softplus": 2.0, "elu": 1.5}


@pytest.fixture(scope="module")
def nb():
    return get_backend("numba")


@pytest.fixture(scope="module")
def ref():
    return get_backend("numpy")


def check(nb, result, expected, tol: float = 1e-6) -> None:
    """`result` (a device array) equals the NumPy `expected` in shape, dtype and value."""
    host = nb.to_host(result)
    assert host.shape == expected.shape
    assert host.dtype == expected.dtype
    np.testing.assert_allclose(host, expected, rtol=tol, atol=tol, equal_nan=True)


# -- availability, selection, versions -------------------------------------------------------


@needs_numba_installed
def test_numpy_2_5_is_reported_as_too_new_for_numbas_cuda_target(monkeypatch):
    monkeypatch.setattr(np, "__version__", "2.5.0")
    reason = numba_backend.unavailable_reason()
    assert "NumPy 2.5.0" in reason and "numpy<2.5" in reason and "row_stack" in reason


def test_missing_numba_is_reported(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "numba" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert numba_backend.unavailable_reason() == "Numba is not installed; install backprop[numba]"


@needs_numba_installed
def test_missing_gpu_is_reported_with_the_driver_error(monkeypatch):
    from numba import cuda

    def no_device():  # Numba raises CudaSupportError, an ImportError
        raise ImportError("CUDA driver library cannot be found")

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    monkeypatch.setattr(cuda, "get_current_device", no_device)
    reason = numba_backend.unavailable_reason()
    assert reason == "no usable CUDA GPU: CUDA driver library cannot be found"


def test_importing_backprop_does_not_import_numba():
    code = "import sys, backprop; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@needs_numba
def test_backend_numba_and_cuda_select_it():
    assert bp.device("cuda", backend="numba") == bp.Device("numba")
    assert bp.device(backend="numba").type == "cuda"
    if "cupy" not in available():
        assert bp.device("cuda").backend_name == "numba"


@needs_numba
def test_other_device_indices_are_refused_with_a_hint():
    from backprop.backend.numba_backend import NumbaBackend

    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        NumbaBackend(1)


# -- creation, transfer, casts ---------------------------------------------------------------


@needs_numba
def test_creation_and_host_round_trip(nb):
    check(nb, nb.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    check(nb, nb.ones((4,), np.int64), np.ones(4, np.int64))
    check(nb, nb.full((), 2.5, np.float64), np.array(2.5))
    check(nb, nb.arange(1, 7, 2, np.int64), np.arange(1, 7, 2, dtype=np.int64))
    check(nb, nb.arange(0.0, 1.0, 0.25, np.float32), np.arange(0, 1, 0.25, dtype=np.float32))
    assert nb.empty((0, 3), np.float32).shape == (0, 3)
    host = np.arange(6.0).reshape(2, 3)
    assert nb.is_array(nb.from_host(host)) and not nb.is_array(host)
    check(nb, nb.from_host(host), host)


@needs_numba
def test_astype_copy_and_assign(nb):
    x = np.array([[-1.5, 0.0, 2.7]], np.float32)
    check(nb, nb.astype(nb.from_host(x), np.int64), x.astype(np.int64))
    check(nb, nb.astype(nb.from_host(x), np.bool_), x.astype(np.bool_))
    original = nb.from_host(x)
    copied = nb.copy(original)
    nb.assign(original, 7.0)
    check(nb, copied, x)
    check(nb, original, np.full_like(x, 7.0))
    target = nb.zeros((2, 3), np.float64)
    nb.assign(target, nb.from_host(np.arange(3.0)))
    check(nb, target, np.tile(np.arange(3.0), (2, 1)))


# -- elementwise -----------------------------------------------------------------------------


@needs_numba
@pytest.mark.parametrize("op", UNARY_OPS)
def test_unary_matches_numpy(nb, ref, op, rng):
    x = rng.uniform(0.1, 2.0, size=(2, 5)) * np.where(rng.random((2, 5)) < 0.5, -1, 1)
    if op in ("log", "sqrt", "log1p"):  # the simulator's math raises outside the domain
        x = np.abs(x)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN outside asin's domain, ...
        expected = ref.unary(op, x)
    check(nb, nb.unary(op, nb.from_host(x)), expected)


@needs_numba
@pytest.mark.parametrize("op", BINARY_OPS)
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 1, 3), (4, 1)), ((), (3,))], ids=str)
def test_binary_broadcasts_like_numpy(nb, ref, op, shapes, rng):
    x, y = (rng.uniform(0.5, 2.0, size=shape).astype(np.float32) for shape in shapes)
    check(nb, nb.binary(op, nb.from_host(x), nb.from_host(y)), ref.binary(op, x, y))


@needs_numba
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_takes_a_python_scalar_on_either_side(nb, ref, op, rng):
    x = rng.uniform(0.5, 2.0, size=(5,)).astype(np.float32)
    check(nb, nb.binary(op, nb.from_host(x), 1.5), ref.binary(op, x, np.float32(1.5)))
    check(nb, nb.binary(op, 1.5, nb.from_host(x)), ref.binary(op, np.float32(1.5), x))


@needs_numba
@pytest.mark.parametrize("op", COMPARE_OPS)
def test_compare_gives_bool_arrays(nb, ref, op):
    x = np.array([[1.0, 2.0, 3.0]])
    y = np.array([[2.0], [1.0]])
    check(nb, nb.compare(op, nb.from_host(x), nb.from_host(y)), ref.compare(op, x, y))
    check(nb, nb.compare(op, nb.from_host(x), 2.0), ref.compare(op, x, 2.0))


@needs_numba
def test_where_broadcasts_arrays_and_scalars(nb, rng):
    x = rng.normal(size=(3, 4))
    condition = x > 0
    dx, dc = nb.from_host(x), nb.from_host(condition)
    check(nb, nb.where(dc, dx, 0.0), np.where(condition, x, 0.0))
    check(nb, nb.where(dc[0:1], -1.0, dx), np.where(condition[0:1], -1.0, x))


@needs_numba
def test_nan_propagates_through_maximum_and_minimum(nb):
    x = np.array([np.nan, 1.0, 2.0])
    y = np.array([0.0, np.nan, 1.0])
    for op in ("maximum", "minimum"):
        check(nb, nb.binary(op, nb.from_host(x), nb.from_host(y)), getattr(np, op)(x, y))


# -- reductions ------------------------------------------------------------------------------


@needs_numba
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axes", [None, (0,), (1,), (0, 2)], ids=str)
def test_reduce_matches_numpy(nb, ref, op, axes, rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    for keepdims in (False, True):
        expected = ref.reduce(op, x, axes, keepdims)
        check(nb, nb.reduce(op, nb.from_host(x), axes, keepdims), expected, 1e-5)


@needs_numba
def test_long_reductions_take_the_shared_memory_kernel(nb, rng):
    # Longer than the one-thread-per-output limit, so a block combines partial results.
    x = rng.normal(size=(3, 70))
    for op in ("sum", "mean", "max", "min"):
        check(nb, nb.reduce(op, nb.from_host(x), (1,), False), getattr(np, op)(x, axis=1))
    check(nb, nb.argmax(nb.from_host(x), 1, False), np.argmax(x, axis=1))
    check(nb, nb.argmax(nb.from_host(x), None, False), np.argmax(x))


@needs_numba
def test_reduce_dtypes_and_empty_axes_follow_numpy(nb):
    ints = np.array([[1, 2], [3, 4]], np.int64)
    check(nb, nb.reduce("sum", nb.from_host(ints), (0,), False), ints.sum(axis=0))
    check(nb, nb.reduce("mean", nb.from_host(ints), None, False), np.array(ints.mean()))
    check(nb, nb.reduce("sum", nb.zeros((0, 3), np.float32), (0,), False), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="empty axis"):
        nb.reduce("max", nb.zeros((0, 3), np.float32), (0,), False)


@needs_numba
def test_argmax_picks_the_first_of_ties(nb, ref):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for axis, keepdims in [(1, False), (0, True), (None, False), (None, True)]:
        check(nb, nb.argmax(nb.from_host(x), axis, keepdims), ref.argmax(x, axis, keepdims))


# -- matmul ----------------------------------------------------------------------------------


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_tiles_any_shape_and_transposes_without_copies(
    nb, dtype, transpose_a, transpose_b, rng
):
    # 10 x 9 @ 9 x 5: more than one tile along m and k, a partial tile along every axis.
    a = rng.normal(size=(10, 9)).astype(dtype)
    b = rng.normal(size=(9, 5)).astype(dtype)
    stored_a = np.ascontiguousarray(a.T) if transpose_a else a
    stored_b = np.ascontiguousarray(b.T) if transpose_b else b
    result = nb.matmul(nb.from_host(stored_a), nb.from_host(stored_b), transpose_a, transpose_b)
    check(nb, result, a @ b, 1e-5 if dtype == np.float32 else 1e-12)


@needs_numba
def test_matmul_broadcasts_batch_axes(nb, rng):
    a = rng.normal(size=(2, 1, 3, 4))
    b = rng.normal(size=(3, 4, 2))
    check(nb, nb.matmul(nb.from_host(a), nb.from_host(b)), a @ b, 1e-12)


@needs_numba
def test_matmul_rejects_mismatched_inner_dimensions(nb):
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ"):
        nb.matmul(nb.zeros((2, 3), np.float32), nb.zeros((4, 2), np.float32))


# -- movement --------------------------------------------------------------------------------


@needs_numba
def test_reshape_permute_broadcast(nb, rng):
    x = rng.normal(size=(2, 3, 4))
    dx = nb.from_host(x)
    check(nb, nb.reshape(dx, (6, 4)), x.reshape(6, 4))
    check(nb, nb.permute(dx, (2, 0, 1)), x.transpose(2, 0, 1))
    check(
        nb, nb.broadcast_to(nb.from_host(x[:, :1]), (2, 3, 4)), np.broadcast_to(x[:, :1], x.shape)
    )


INDICES = [
    (1,),
    (slice(None), -1),
    (Ellipsis, slice(None, None, -2)),
    (None, 0, slice(1, 3)),
    (1, 2, 3),
    (np.array([[0, 1], [1, -1]]),),
    (slice(None), np.array([2, 0, 2])),
    (0, slice(None), np.array([[1], [3]])),
    (np.array([1, 0]), slice(None), np.array([0, 3])),
]


@needs_numba
@pytest.mark.parametrize("index", INDICES, ids=lambda index: f"[{index}]".replace("\n", ""))
def test_getitem_and_its_gradient_index_add_match_numpy(nb, index, rng):
    x = rng.normal(size=(2, 3, 4))
    device_index = tuple(nb.from_host(i) if isinstance(i, np.ndarray) else i for i in index)
    check(nb, nb.getitem(nb.from_host(x), device_index), x[index])
    values = rng.normal(size=x[index].shape)
    expected = np.zeros_like(x)
    np.add.at(expected, index, values)
    check(nb, nb.index_add(x.shape, device_index, nb.from_host(values)), expected, 1e-12)


@needs_numba
def test_bool_mask_indexing(nb, rng):
    x = rng.normal(size=(3, 4))
    mask = x > 0
    check(nb, nb.getitem(nb.from_host(x), (nb.from_host(mask),)), x[mask])


@needs_numba
def test_gather_and_scatter_add_sum_repeated_indices(nb, ref, rng):
    x = rng.normal(size=(2, 3, 4))
    index = np.array([[[0, 2, 2, 1]], [[1, 1, 1, 0]]])
    check(nb, nb.gather(nb.from_host(x), 1, nb.from_host(index)), ref.gather(x, 1, index))
    values = rng.normal(size=index.shape)
    expected = ref.scatter_add(x.shape, 1, index, values)
    result = nb.scatter_add(x.shape, 1, nb.from_host(index), nb.from_host(values))
    check(nb, result, expected, 1e-12)


@needs_numba
def test_concatenate_and_stack(nb, rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 1))
    check(nb, nb.concatenate([nb.from_host(a), nb.from_host(b)], 1), np.concatenate([a, b], 1))
    check(nb, nb.stack([nb.from_host(a), nb.from_host(a)], -1), np.stack([a, a], -1))


@needs_numba
def test_im2col_and_col2im_match_the_generic_version(nb, ref, rng):
    image = rng.normal(size=(1, 2, 4, 5))
    geometry = ((2, 3), (1, 2), (1, 0), (1, 1))
    cols = ref.im2col(image, *geometry)
    check(nb, nb.im2col(nb.from_host(image), *geometry), cols)
    grad = rng.normal(size=cols.shape)
    expected = ref.col2im(grad, image.shape, *geometry)
    check(nb, nb.col2im(nb.from_host(grad), image.shape, *geometry), expected, 1e-12)


# -- activations and fused kernels -----------------------------------------------------------


@needs_numba
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_backward_and_fused_bias(nb, ref, name, rng):
    alpha = ALPHAS.get(name, 0.0)
    x = rng.normal(size=(3, 4)).astype(np.float32) * 3
    grad = rng.normal(size=(3, 4)).astype(np.float32)
    bias = rng.normal(size=(4,)).astype(np.float32)
    y = ref.act_forward(name, x, alpha)
    dx = nb.from_host(x)
    check(nb, nb.act_forward(name, dx, alpha), y, 1e-5)
    result = nb.act_backward(name, nb.from_host(grad), dx, nb.from_host(y), alpha)
    check(nb, result, ref.act_backward(name, grad, x, y, alpha), 1e-5)
    for b in (bias, bias[:3, None].copy()):
        expected = ref.bias_act_forward(name, x, b, alpha)
        check(nb, nb.bias_act_forward(name, dx, nb.from_host(b), alpha), expected, 1e-5)


@needs_numba
def test_unknown_activation_names_the_known_ones(nb):
    with pytest.raises(ValueError, match="act_forward: unknown activation 'swish'"):
        nb.act_forward("swish", nb.zeros((2,), np.float32))


@needs_numba
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_forward_and_backward(nb, ref, label_smoothing, rng):
    logits = rng.normal(size=(5, 5)) * 3
    targets = np.array([0, 4, 2, -100, 2])
    grad_losses = rng.normal(size=5)
    losses, probs, counted = ref.softmax_cross_entropy_forward(logits, targets, label_smoothing)
    got_losses, got_probs, got_counted = nb.softmax_cross_entropy_forward(
        nb.from_host(logits), nb.from_host(targets), label_smoothing, -100
    )
    check(nb, got_losses, losses, 1e-12)
    check(nb, got_probs, probs, 1e-12)
    check(nb, got_counted, counted, 0)
    expected = ref.softmax_cross_entropy_backward(probs, targets, grad_losses, label_smoothing)
    result = nb.softmax_cross_entropy_backward(
        got_probs, nb.from_host(targets), nb.from_host(grad_losses), label_smoothing, -100
    )
    check(nb, result, expected, 1e-12)


@needs_numba
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9, "weight_decay": 0.1, "first_step": True},
        {"momentum": 0.9, "dampening": 0.2, "nesterov": True},
    ],
    ids=["plain", "momentum-first-step", "nesterov"],
)
def test_sgd_update_in_one_kernel_matches_torch_rule(nb, ref, options, rng):
    param, grad, buffer = (rng.normal(size=(2, 3)) for _ in range(3))
    device = [nb.from_host(a) for a in (param, grad, buffer)]
    nb.sgd_update(device[0], device[1], device[2], 0.1, **options)
    ref.sgd_update(param, grad, buffer, 0.1, **options)
    check(nb, device[0], param, 1e-12)
    check(nb, device[2], buffer, 1e-12)


@needs_numba
@pytest.mark.parametrize(
    "options",
    [
        {"weight_decay": 0.0},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled": True, "amsgrad": True},
    ],
    ids=["adam", "adam-l2", "adamw-amsgrad"],
)
def test_adam_update_in_one_kernel_matches_torch_rule(nb, ref, options, rng):
    param, grad, exp_avg = (rng.normal(size=(5,)) for _ in range(3))
    exp_avg_sq, max_exp_avg_sq = (rng.normal(size=(5,)) ** 2 for _ in range(2))
    host = [param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq]
    device = [nb.from_host(a) for a in host]
    hyper = {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "step": 3, **options}
    nb.adam_update(*device, **hyper)
    ref.adam_update(*host, **hyper)
    for got, expected in zip(device, host):
        check(nb, got, expected, 1e-12)


@needs_numba
@pytest.mark.parametrize(
    "options",
    [{}, {"weight_decay": 0.1, "momentum": 0.9, "centered": True}],
    ids=["plain", "centered-momentum"],
)
def test_rmsprop_update_in_one_kernel_matches_torch_rule(nb, ref, options, rng):
    param, grad, grad_avg, buffer = (rng.normal(size=(5,)) for _ in range(4))
    square_avg = rng.normal(size=(5,)) ** 2 + 1
    host = [param, grad, square_avg, grad_avg, buffer]
    device = [nb.from_host(a) for a in host]
    hyper = {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, **options}
    nb.rmsprop_update(*device, **hyper)
    ref.rmsprop_update(*host, **hyper)
    for got, expected in zip(device, host):
        check(nb, got, expected, 1e-12)


@needs_numba
def test_adagrad_update_in_one_kernel_matches_torch_rule(nb, ref, rng):
    param, grad = (rng.normal(size=(5,)) for _ in range(2))
    state_sum = rng.normal(size=(5,)) ** 2
    host = [param, grad, state_sum]
    device = [nb.from_host(a) for a in host]
    hyper = {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "eps": 1e-10, "step": 3}
    nb.adagrad_update(*device, **hyper)
    ref.adagrad_update(*host, **hyper)
    for got, expected in zip(device, host):
        check(nb, got, expected, 1e-12)


# -- interop and training --------------------------------------------------------------------


@needs_numba
@pytest.mark.skipif(SIMULATED, reason="the CUDA simulator's arrays have no GPU memory to share")
def test_arrays_are_shared_zero_copy_through_cuda_array_interface(nb):
    x = nb.from_host(np.arange(6, dtype=np.float32).reshape(2, 3))
    interface = x.__cuda_array_interface__
    assert interface["shape"] == (2, 3) and interface["typestr"] == "<f4"
    view = nb.from_cuda_array(x)
    nb.assign(view, 1.0)
    check(nb, x, np.ones((2, 3), np.float32))


def _train_tiny_mlp(device: bp.Device, steps: int = 3) -> list[np.ndarray]:
    bp.manual_seed(0)
    x = bp.randn(6, 4, device=device)
    y = bp.tensor([0, 2, 1, 1, 0, 2], device=device)
    params = [
        bp.randn(8, 4, device=device, requires_grad=True),
        bp.zeros(8, device=device, requires_grad=True),
        bp.randn(3, 8, device=device, requires_grad=True),
        bp.zeros(3, device=device, requires_grad=True),
    ]
    for _ in range(steps):
        for p in params:
            p.grad = None
        hidden = F.linear(x, params[0], params[1], activation="relu")
        loss = F.cross_entropy(F.linear(hidden, params[2], params[3]), y)
        loss.backward()
        for p in params:
            p.backend.sgd_update(p.data, p.grad.data, None, lr=0.1)
    return [p.numpy() for p in params]


@needs_numba
def test_tiny_mlp_trains_to_the_numpy_backends_weights():
    expected = _train_tiny_mlp(bp.device("cpu"))
    trained = _train_tiny_mlp(bp.device("cuda", backend="numba"))
    for got, want in zip(trained, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
