"""The CuPy backend: each primitive it overrides against the NumPy backend, matmul through cuBLAS
in every layout and precision, CUDA graph capture of matmul and our kernels, a training step that
never waits on the host, training that matches the CPU, and moving tensors between devices.

The GPU tests skip with the backend's own reason where no GPU is usable; the first few tests
(precision setting, import hygiene, the helpers' errors) run everywhere.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import backprop as bp
from backprop import cuda, nn, optim
from backprop.backend import get_backend, unavailable_reason
from backprop.backend.base import ACTIVATIONS

REASON = unavailable_reason("cupy")

ALPHAS = {"leaky_relu": 0.01, "elu": 1.0, "softplus": 1.0}
TOLERANCES = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-5}}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])

numpy_backend = get_backend("numpy")


# -- everywhere --------------------------------------------------------------------------------


def test_importing_backprop_never_imports_cupy():
    check = "import sys, backprop, backprop.cuda; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True)


def test_float32_matmul_precision_takes_pytorch_names():
    assert cuda.get_float32_matmul_precision() == "highest"
    try:
        cuda.set_float32_matmul_precision("high")
        assert cuda.get_float32_matmul_precision() == "high"
    finally:
        cuda.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="set_float32_matmul_precision.*'medium'"):
        cuda.set_float32_matmul_precision("medium")


@pytest.mark.skipif(REASON is None, reason="CuPy can run here")
def test_without_cupy_the_memory_helpers_say_why():
    message = re.escape(f"'cupy' cannot run here: {REASON}")
    with pytest.raises(bp.BackendUnavailableError, match=message):
        cuda.memory_stats()


# -- on a GPU ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cp():
    if REASON is not None:
        pytest.skip(f"the CuPy backend cannot run: {REASON}")
    import cupy

    return cupy


@pytest.fixture(scope="module")
def gpu(cp):
    return get_backend("cupy")


@pytest.fixture
def tf32():
    cuda.set_float32_matmul_precision("high")
    yield
    cuda.set_float32_matmul_precision("highest")


def close(got, expected, dtype, **tolerances) -> None:
    np.testing.assert_allclose(got.get(), expected, **(tolerances or TOLERANCES[dtype]))


MATMUL_SHAPES = [
    ((5, 7), (7, 3)),
    ((2, 3, 5, 7), (7, 3)),  # a stack times one matrix
    ((4, 5, 7), (4, 7, 3)),
    ((2, 1, 5, 7), (3, 7, 3)),  # broadcast batch axes
    ((5, 7), (4, 7, 3)),
]


@DTYPES
@pytest.mark.parametrize("transpose_a", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("transpose_b", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_numpy_for_every_layout(gpu, rng, shapes, transpose_a, transpose_b, dtype):
    a, b = (rng.normal(size=shape).astype(dtype) for shape in shapes)
    a = np.ascontiguousarray(np.swapaxes(a, -1, -2)) if transpose_a else a
    b = np.ascontiguousarray(np.swapaxes(b, -1, -2)) if transpose_b else b
    got = gpu.matmul(gpu.from_host(a), gpu.from_host(b), transpose_a, transpose_b)
    close(got, numpy_backend.matmul(a, b, transpose_a, transpose_b), dtype)


@DTYPES
def test_matmul_reads_transposed_and_strided_views(gpu, rng, dtype):
    a, b = rng.normal(size=(7, 5)).astype(dtype), rng.normal(size=(3, 7)).astype(dtype)
    close(gpu.matmul(gpu.from_host(a).T, gpu.from_host(b).T), a.T @ b.T, dtype)
    stack = rng.normal(size=(2, 4, 5, 7)).astype(dtype)
    close(gpu.matmul(gpu.from_host(stack), gpu.from_host(b).T), stack @ b.T, dtype)
    wide = rng.normal(size=(7, 8)).astype(dtype)
    close(
        gpu.matmul(gpu.from_host(stack), gpu.from_host(wide)[:, ::2]), stack @ wide[:, ::2], dtype
    )


def test_matmul_of_empty_and_zero_inner_shapes(gpu):
    assert gpu.matmul(gpu.zeros((0, 4), np.float32), gpu.zeros((4, 3), np.float32)).shape == (0, 3)
    out = gpu.matmul(gpu.ones((2, 0), np.float32), gpu.ones((0, 3), np.float32))
    np.testing.assert_array_equal(out.get(), np.zeros((2, 3)))


def relative_error(got, expected) -> float:
    return float(np.linalg.norm(got.get() - expected) / np.linalg.norm(expected))


def test_tf32_is_opt_in_and_rounds_the_inputs(gpu, rng):
    a, b = (rng.normal(size=(256, 512)).astype(np.float32) for _ in range(2))
    a_gpu, b_gpu = gpu.from_host(a), gpu.from_host(b)
    expected = a.astype(np.float64) @ b.T.astype(np.float64)
    assert relative_error(gpu.matmul(a_gpu, b_gpu, False, True), expected) < 1e-6
    cuda.set_float32_matmul_precision("high")
    try:
        tf32_error = relative_error(gpu.matmul(a_gpu, b_gpu, False, True), expected)
    finally:
        cuda.set_float32_matmul_precision("highest")
    assert 1e-6 < tf32_error < 1e-2


def test_float64_matmul_ignores_the_tf32_setting(gpu, rng, tf32):
    a, b = rng.normal(size=(16, 32)), rng.normal(size=(32, 8))
    close(gpu.matmul(gpu.from_host(a), gpu.from_host(b)), a @ b, np.float64)


@DTYPES
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_numpy(gpu, rng, name, dtype):
    x = rng.normal(0.0, 4.0, size=(33, 65)).astype(dtype)
    grad = rng.normal(size=x.shape).astype(dtype)
    alpha = ALPHAS.get(name, 0.0)
    y = numpy_backend.act_forward(name, x, alpha)
    close(gpu.act_forward(name, gpu.from_host(x), alpha), y, dtype)
    got = gpu.act_backward(name, *map(gpu.from_host, (grad, x, y)), alpha)
    close(got, numpy_backend.act_backward(name, grad, x, y, alpha), dtype)


@DTYPES
@pytest.mark.parametrize("name", ["relu", "gelu_tanh", "elu"])
def test_bias_activation_matches_numpy_including_strided_input(gpu, rng, name, dtype):
    x = rng.normal(size=(40, 17)).astype(dtype)
    bias = rng.normal(size=17).astype(dtype)
    alpha = ALPHAS.get(name, 0.0)
    expected = numpy_backend.bias_act_forward(name, x, bias, alpha)
    close(gpu.bias_act_forward(name, gpu.from_host(x), gpu.from_host(bias), alpha), expected, dtype)
    x_t = gpu.from_host(np.ascontiguousarray(x.T)).T  # a transposed view
    close(gpu.bias_act_forward(name, x_t, gpu.from_host(bias), alpha), expected, dtype)


def test_activation_of_an_unknown_name_is_an_error(gpu):
    with pytest.raises(ValueError, match="act_forward: unknown activation 'swish'"):
        gpu.act_forward("swish", gpu.zeros((2,), np.float32))


@DTYPES
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("classes", [10, 1000], ids=["10-classes", "1000-classes"])
def test_softmax_cross_entropy_matches_numpy(gpu, rng, classes, smoothing, dtype):
    logits = rng.normal(0.0, 3.0, size=(37, classes)).astype(dtype)
    targets = rng.integers(0, classes, size=37)
    targets[[3, 20]] = -100
    losses, probs, counted = numpy_backend.softmax_cross_entropy_forward(logits, targets, smoothing)
    targets_on_gpu = gpu.from_host(targets)
    got_losses, got_probs, got_counted = gpu.softmax_cross_entropy_forward(
        gpu.from_host(logits), targets_on_gpu, smoothing
    )
    close(got_losses, losses, dtype)
    close(got_probs, probs, dtype)
    np.testing.assert_array_equal(got_counted.get(), counted)
    grad_losses = rng.normal(size=37).astype(dtype)
    expected = numpy_backend.softmax_cross_entropy_backward(probs, targets, grad_losses, smoothing)
    got = gpu.softmax_cross_entropy_backward(
        got_probs, targets_on_gpu, gpu.from_host(grad_losses), smoothing
    )
    close(got, expected, dtype)
    mean_grad = gpu.broadcast_to(gpu.from_host(np.array(0.5, dtype)), (37,))  # stride 0
    expected = numpy_backend.softmax_cross_entropy_backward(
        probs, targets, np.full(37, 0.5, dtype), smoothing
    )
    close(
        gpu.softmax_cross_entropy_backward(got_probs, targets_on_gpu, mean_grad, smoothing),
        expected,
        dtype,
    )


@DTYPES
@pytest.mark.parametrize(
    "settings",
    [{}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, {"momentum": 0.5}],
    ids=lambda s: ",".join(s) or "plain",
)
def test_sgd_update_matches_numpy(gpu, rng, settings, dtype):
    param, grad, buffer = (rng.normal(size=(30, 7)).astype(dtype) for _ in range(3))
    gpu_arrays = [gpu.from_host(a) for a in (param, grad, buffer)]
    numpy_backend.sgd_update(param, grad, buffer, lr=0.05, **settings)
    gpu.sgd_update(*gpu_arrays, lr=0.05, **settings)
    close(gpu_arrays[0], param, dtype)
    close(gpu_arrays[2], buffer, dtype)


@DTYPES
@pytest.mark.parametrize(
    "settings",
    [{}, {"weight_decay": 0.1, "decoupled": True}, {"amsgrad": True, "weight_decay": 0.1}],
    ids=lambda s: ",".join(s) or "plain",
)
def test_adam_update_matches_numpy(gpu, rng, settings, dtype):
    state = [rng.normal(size=50).astype(dtype) for _ in range(3)]
    state += [rng.uniform(0, 1, size=50).astype(dtype) for _ in range(2)]
    gpu_state = [gpu.from_host(a) for a in state]
    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    hyper.update(settings)
    numpy_backend.adam_update(*state, **hyper, step=3)
    gpu.adam_update(*gpu_state, **hyper, step=3)
    for got, expected in zip(gpu_state, state):
        close(got, expected, dtype)


def launched_kernels(gpu, monkeypatch) -> list[str]:
    """The names of the kernels `gpu` launches from here on in the test, in order."""
    names = []
    launch = gpu._launch

    def record(source: str, kernel: str, blocks: int, args: tuple) -> None:
        names.append(kernel)
        launch(source, kernel, blocks, args)

    monkeypatch.setattr(gpu, "_launch", record)
    return names


RMSPROP_SETTINGS = [
    {},
    {"centered": True, "weight_decay": 0.1},
    {"momentum": 0.9},
    {"centered": True, "momentum": 0.5, "weight_decay": 0.01},
]


def optimizer_state(rng, dtype, shape) -> list[np.ndarray]:
    """param, grad, a positive running square (RMSprop's square_avg, Adagrad's sum), a small
    running mean whose square stays below it (centered RMSprop's grad_avg) and a momentum
    buffer."""
    param, grad = (rng.normal(size=shape).astype(dtype) for _ in range(2))
    square_avg = rng.uniform(0.5, 2.0, size=shape).astype(dtype)
    grad_avg = (0.1 * rng.normal(size=shape)).astype(dtype)
    return [param, grad, square_avg, grad_avg, rng.normal(size=shape).astype(dtype)]


@DTYPES
@pytest.mark.parametrize("settings", RMSPROP_SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_rmsprop_update_is_one_kernel_matching_numpy(gpu, rng, monkeypatch, settings, dtype):
    state = optimizer_state(rng, dtype, (30, 7))
    gpu_state = [gpu.from_host(a) for a in state]
    launched = launched_kernels(gpu, monkeypatch)
    hyper = {"lr": 1e-2, "alpha": 0.9, "eps": 1e-8, **settings}
    for arrays, backend in ((state, numpy_backend), (gpu_state, gpu)):
        param, grad, square_avg, grad_avg, buffer = arrays
        grad_avg = grad_avg if settings.get("centered") else None
        buffer = buffer if settings.get("momentum") else None
        backend.rmsprop_update(param, grad, square_avg, grad_avg, buffer, **hyper)
    assert launched == ["rmsprop_update"]
    for got, expected in zip(gpu_state, state):  # the state a setting does not use stays as is
        close(got, expected, dtype)


@DTYPES
@pytest.mark.parametrize(
    "settings", [{}, {"lr_decay": 0.1, "weight_decay": 0.1}], ids=["plain", "decays"]
)
def test_adagrad_update_is_one_kernel_matching_numpy(gpu, rng, monkeypatch, settings, dtype):
    param, grad, state_sum = optimizer_state(rng, dtype, (30, 7))[:3]
    gpu_param, gpu_sum = gpu.from_host(param), gpu.from_host(state_sum)
    gpu_grad = gpu.from_host(np.ascontiguousarray(grad.T)).T  # a strided view: read as a copy
    launched = launched_kernels(gpu, monkeypatch)
    hyper = {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "eps": 1e-10, **settings}
    numpy_backend.adagrad_update(param, grad, state_sum, **hyper, step=4)
    gpu.adagrad_update(gpu_param, gpu_grad, gpu_sum, **hyper, step=4)
    assert launched == ["adagrad_update"]
    close(gpu_param, param, dtype)
    close(gpu_sum, state_sum, dtype)


DEVICE_SCALAR_UPDATES = {
    "rmsprop": (
        3,
        {"alpha": 0.9, "eps": 1e-8, "weight_decay": 0.1, "momentum": 0.5, "centered": True},
        ("lr",),
    ),
    "adagrad": (1, {"lr_decay": 0.1, "weight_decay": 0.1, "eps": 1e-10}, ("lr", "step")),
}
"""Per update: its number of state arrays (all of them used by these settings), its settings,
and the scalars a capturable optimizer passes as 0-d device arrays."""


@DTYPES
@pytest.mark.parametrize("name", DEVICE_SCALAR_UPDATES)
def test_device_scalar_updates_read_lr_and_step_at_each_replay(
    gpu, cp, rng, monkeypatch, name, dtype
):
    """The kernel reads the device scalars at every launch: eagerly, and at each replay of a
    captured CUDA graph after they change."""
    states, settings, scalar_names = DEVICE_SCALAR_UPDATES[name]
    host = optimizer_state(rng, dtype, 50)[: 2 + states]
    arrays = [gpu.from_host(a) for a in host]
    rounds = [{"lr": 0.05, "step": 1}, {"lr": 0.02, "step": 2}, {"lr": 0.01, "step": 3}]
    rounds = [{key: values[key] for key in scalar_names} for values in rounds]
    scalars = {key: gpu.full((), value, dtype) for key, value in rounds[0].items()}
    update = getattr(gpu, f"{name}_update")
    launched = launched_kernels(gpu, monkeypatch)

    def check(host_scalars: dict) -> None:
        getattr(numpy_backend, f"{name}_update")(*host, **host_scalars, **settings)
        for got, expected in zip(arrays, host):
            close(got, expected, dtype)

    update(*arrays, **scalars, **settings)  # compiles the kernel before the capture
    check(rounds[0])
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        update(*arrays, **scalars, **settings)
        graph = stream.end_capture()
        for host_scalars in rounds[1:]:
            for key, value in host_scalars.items():
                gpu.assign(scalars[key], value)
            graph.launch(stream)
            stream.synchronize()
            check(host_scalars)
    assert launched == [f"{name}_update_device_scalars"] * 2


def test_matmul_and_our_kernels_replay_from_a_captured_cuda_graph(gpu, cp, rng):
    x = gpu.from_host(rng.normal(size=(16, 8)).astype(np.float32))
    w = gpu.from_host(rng.normal(size=(4, 8)).astype(np.float32))
    buffer = gpu.zeros((4, 8), np.float32)
    targets = gpu.from_host(rng.integers(0, 4, size=16))

    def step():
        logits = gpu.bias_act_forward(
            "relu", gpu.matmul(x, w, False, True), gpu.ones(4, np.float32)
        )
        losses, probs, _ = gpu.softmax_cross_entropy_forward(logits, targets)
        grad_logits = gpu.softmax_cross_entropy_backward(probs, targets, gpu.ones(16, np.float32))
        gpu.sgd_update(w, gpu.matmul(grad_logits, x, True, False), buffer, lr=0.1, momentum=0.9)
        return losses

    step()  # compiles the kernels and fills the memory pool before capture
    gpu.synchronize()
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        losses = step()
        graph = stream.end_capture()
    w_before, buffer_before = w.get(), buffer.get()
    graph.launch(stream)
    stream.synchronize()

    x_host, targets_host = x.get(), targets.get()
    logits = numpy_backend.bias_act_forward("relu", x_host @ w_before.T, np.ones(4, np.float32))
    expected_losses, probs, _ = numpy_backend.softmax_cross_entropy_forward(logits, targets_host)
    grad_logits = numpy_backend.softmax_cross_entropy_backward(
        probs, targets_host, np.ones(16, np.float32)
    )
    numpy_backend.sgd_update(w_before, grad_logits.T @ x_host, buffer_before, lr=0.1, momentum=0.9)
    close(losses, expected_losses, np.float32)
    close(w, w_before, np.float32)


def small_mlp(device: bp.Device):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.GELU(), nn.Linear(32, 5)).to(device)
    rng = np.random.default_rng(0)
    x = bp.tensor(rng.normal(size=(64, 12)).astype(np.float32), device=device)
    y = bp.tensor(rng.integers(0, 5, size=64), device=device)
    return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), x, y


def train_step(model, optimizer, x, y) -> bp.Tensor:
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def test_a_training_step_never_waits_on_the_host(cp):
    """A step captured into a CUDA graph proves it: a device-to-host copy or a synchronisation
    during capture is an error. Replaying the graph then trains the model."""
    model, optimizer, x, y = small_mlp(bp.device(backend="cupy"))
    first_loss = train_step(model, optimizer, x, y).item()
    train_step(model, optimizer, x, y)  # momentum buffers exist from here on: the steady state
    cuda.synchronize()
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture()
        loss = train_step(model, optimizer, x, y)
        graph = stream.end_capture()
    for _ in range(20):
        graph.launch(stream)
    stream.synchronize()
    assert loss.item() < first_loss


def test_a_small_mlp_trains_to_the_same_weights_as_on_the_cpu(cp):
    results = []
    for device in (bp.device("cpu"), bp.device(backend="cupy")):
        model, optimizer, x, y = small_mlp(device)
        for _ in range(5):
            train_step(model, optimizer, x, y)
        results.append([p.numpy() for p in model.parameters()])
    for on_cpu, on_gpu in zip(*results):
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-5)


def test_to_cuda_and_back_keeps_values_and_gradients(cp, rng):
    host = rng.normal(size=(3, 4))
    t = bp.tensor(host, requires_grad=True)
    on_gpu = t.to(bp.device(backend="cupy"))
    assert isinstance(on_gpu.data, cp.ndarray)
    back = (on_gpu * on_gpu).to("cpu")
    back.sum().backward()
    np.testing.assert_allclose(back.numpy(), host * host)
    np.testing.assert_allclose(t.grad.numpy(), 2 * host)


def test_mixing_devices_is_an_error_naming_both(cp):
    on_cpu = bp.ones(2)
    on_gpu = bp.ones(2, device=bp.device(backend="cupy"))
    with pytest.raises(RuntimeError, match=r"on cpu.*on cuda:0 \(cupy\)"):
        on_cpu + on_gpu


def test_cuda_index_selects_that_gpu(cp):
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    t = bp.ones(3, device=bp.device("cuda:1", backend="cupy"))
    assert (t * 2).data.device.id == 1
    with pytest.raises(ValueError, match="cuda:99 does not exist"):
        get_backend("cupy", 99)


def test_the_pool_caches_freed_memory_until_empty_cache(cp):
    cuda.empty_cache()
    allocated, reserved, size = cuda.memory_allocated(), cuda.memory_reserved(), 4 * 1024 * 1024
    t = bp.zeros(1024, 1024, device=bp.device(backend="cupy"))
    assert cuda.memory_allocated() == allocated + size
    del t
    assert cuda.memory_allocated() == allocated
    assert cuda.memory_reserved() >= reserved + size  # cached for reuse, not leaked
    cuda.empty_cache()
    assert cuda.memory_reserved() == reserved


def test_the_backend_reports_its_device(gpu):
    properties = gpu.device_properties()
    assert properties["total_memory"] > 0
    assert len(properties["compute_capability"]) == 2
