"""`backprop.cuda.graph_step` and capturable optimizers.

Everywhere: the eager path that the NumPy and Numba backends take, argument checks, the
traceback reading that names the op behind a capture failure, what optimizers do in each capture
phase, and capturable optimizers (learning rate and step count in device arrays) against the
default ones. On a GPU with CuPy: replayed steps against eager ones for SGD with momentum and
for Adam under an LR scheduler, new input shapes, and a host read inside the step; skipped with
the CuPy backend's reason elsewhere.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import backprop as bp
from backprop import graph, nn, optim
from backprop.autograd import Function
from backprop.backend import unavailable_reason
from backprop.benchmark.mlp import MLPConfig, MLPStep
from backprop.cuda import GraphCaptureError, graph_step

REASON = unavailable_reason("cupy")


def make_model(device: bp.Device, features: int = 4, classes: int = 3) -> nn.Module:
    bp.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 5), nn.Tanh(), nn.Linear(5, classes)).to(device)


def make_batch(device: bp.Device, rows: int, seed: int, features: int = 4, classes: int = 3):
    rng = np.random.default_rng(seed)
    x = bp.tensor(rng.normal(size=(rows, features)).astype(np.float32), device=device)
    y = bp.tensor(rng.integers(0, classes, size=rows), device=device)
    return x, y


def make_train_step(model: nn.Module, optimizer: optim.Optimizer):
    def train_step(x: bp.Tensor, y: bp.Tensor) -> bp.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return train_step


def weights(model: nn.Module) -> list[np.ndarray]:
    return [p.numpy() for p in model.parameters()]


# -- the eager path and argument checks (every backend) ------------------------------------------


def test_on_a_cpu_backend_every_call_runs_the_step_eagerly():
    device = bp.device("cpu")
    eager_model, graphed_model = make_model(device), make_model(device)
    eager_step = make_train_step(eager_model, optim.SGD(eager_model.parameters(), lr=0.1))
    graphed = graph_step(
        make_train_step(graphed_model, optim.SGD(graphed_model.parameters(), lr=0.1)),
        *make_batch(device, 8, 0),
    )
    assert not graphed.uses_cuda_graph
    losses = []
    for seed in range(5):
        x, y = make_batch(device, 8, seed)
        losses.append(graphed(x, y))
        eager_step(x, y)
    assert losses[0] is not losses[1]  # eager results are fresh tensors, not static outputs
    assert graphed.num_graphs == 0
    for got, expected in zip(weights(graphed_model), weights(eager_model)):
        np.testing.assert_array_equal(got, expected)


def test_on_a_cpu_backend_a_new_batch_size_just_runs():
    device = bp.device("cpu")
    model = make_model(device)
    train_step = make_train_step(model, optim.SGD(model.parameters(), lr=0.1))
    graphed = graph_step(train_step, *make_batch(device, 8, 0))
    for rows in (8, 3, 8):
        loss = graphed(*make_batch(device, rows, rows))
        assert loss.shape == ()
    assert graphed.num_graphs == 0


def test_numpy_inputs_become_tensors_on_the_step_device():
    seen = []

    def step(x: bp.Tensor) -> bp.Tensor:
        seen.append(x)
        return x * 2

    graphed = graph_step(step, bp.zeros(2, 3))
    out = graphed(np.ones((2, 3), dtype=np.float32))
    assert isinstance(seen[0], bp.Tensor) and seen[0].device == bp.device("cpu")
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 2.0))


def test_a_step_without_inputs_names_its_device():
    graphed = graph_step(lambda: bp.ones(2).sum(), device="cpu")
    assert graphed().item() == 2.0
    with pytest.raises(ValueError, match="give example inputs or device="):
        graph_step(lambda: None)


def test_a_graph_is_recorded_per_input_shape_dtype_and_matmul_precision():
    x32, x64 = np.zeros((2, 3), np.float32), bp.zeros(2, 3, dtype="float64")
    assert graph._signature((x32,)) == graph._signature((bp.zeros(2, 3),))
    assert graph._signature((x32,)) != graph._signature((x64,))
    assert graph._signature((x32,)) != graph._signature((np.zeros((3, 3), np.float32),))
    try:
        bp.set_float32_matmul_precision("high")
        assert graph._signature((x32,))[1] == "high"
    finally:
        bp.set_float32_matmul_precision("highest")
    assert graph._signature((x32,))[1] == "highest"


@pytest.mark.parametrize("warmup", [0, -1, 1.5, True, "3"])
def test_warmup_must_be_a_positive_int(warmup):
    with pytest.raises(ValueError, match="graph_step: warmup must be an int >= 1"):
        graph_step(lambda x: x, bp.ones(2), warmup=warmup)


def test_argument_errors_name_graph_step():
    with pytest.raises(TypeError, match="graph_step: fn must be callable, got int"):
        graph_step(3, bp.ones(2))
    with pytest.raises(TypeError, match="example input 1 must be a Tensor, got ndarray"):
        graph_step(lambda x, y: x, bp.ones(2), np.ones(2))
    graphed = graph_step(lambda x, y: x + y, bp.ones(2), bp.ones(2))
    with pytest.raises(TypeError, match="the step takes 2 inputs, as its example inputs, got 1"):
        graphed(bp.ones(2))
    with pytest.raises(TypeError, match="input 1 must be a Tensor or a NumPy array, got list"):
        graphed(bp.ones(2), [1.0, 2.0])


@pytest.mark.skipif("numba" not in bp.available_backends(), reason="needs a second device")
def test_inputs_on_another_device_are_an_error_naming_both():
    gpu = bp.device(backend="numba")
    with pytest.raises(ValueError, match=r"must agree, got cpu, cuda:0 \(numba\)"):
        graph_step(lambda x: x, bp.ones(2), device=gpu)
    graphed = graph_step(lambda x: x, bp.ones(2))
    with pytest.raises(ValueError, match=r"input 0 is on cuda:0 \(numba\), but the step was made"):
        graphed(bp.ones(2, device=gpu))


def benchmark_step_against_graph_step(backend: str, optimizer: str, steps: int):
    """The benchmark's MLP step (no inputs) run `steps` times eagerly and through graph_step."""
    config = MLPConfig((12, 16, 16, 5), 8)
    eager, graphed = (MLPStep(config, backend, "float32", optimizer) for _ in range(2))
    replay = graph_step(graphed, device=bp.device(backend=backend))
    for _ in range(steps):
        eager()
        replay()
    return [p.numpy() for p in eager.params], [p.numpy() for p in graphed.params], replay


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_benchmark_step_runs_through_graph_step_on_the_cpu(optimizer):
    eager, graphed, replay = benchmark_step_against_graph_step("numpy", optimizer, 3)
    assert not replay.uses_cuda_graph
    for got, expected in zip(graphed, eager):
        np.testing.assert_array_equal(got, expected)


# -- naming the op behind a failure --------------------------------------------------------------


class Boom(Function):
    def forward(self, x):
        return self.backend.reshape(x, (7,))

    def backward(self, grad):
        raise RuntimeError("backward failed")


def traceback_of(call) -> object:
    try:
        call()
    except Exception:
        return sys.exc_info()[2]
    raise AssertionError("the call did not raise")


def test_the_innermost_op_and_backend_primitive_are_named():
    tb = traceback_of(lambda: Boom()(bp.ones(2)))
    assert graph.op_name_from_traceback(tb) == "op 'boom' (forward), in the numpy backend's reshape"


def test_a_failing_backward_is_named():
    x = bp.ones(7, requires_grad=True)
    y = Boom()(x)
    tb = traceback_of(lambda: y.sum().backward())
    assert graph.op_name_from_traceback(tb) == "op 'boom' (backward)"


def test_a_tensor_method_and_an_optimizer_are_named():
    tb = traceback_of(lambda: bp.ones(2).item())
    assert graph.op_name_from_traceback(tb) == "Tensor.item"
    param = bp.zeros(3, requires_grad=True)
    param.grad = bp.ones(4)
    tb = traceback_of(optim.SGD([param], lr=0.1).step)
    assert graph.op_name_from_traceback(tb) == "SGD._update, in the numpy backend's sgd_update"


def test_a_layer_is_named_when_no_op_inside_it_failed(monkeypatch):
    def no_random_numbers(*args, **kwargs):
        raise RuntimeError("no random numbers here")

    backend = bp.ones(1).backend
    monkeypatch.setattr(backend, "dropout_mask", no_random_numbers)
    tb = traceback_of(lambda: nn.Dropout(0.5)(bp.ones(4)))
    assert graph.op_name_from_traceback(tb) == "Dropout.forward"


def test_a_traceback_without_backprop_ops_names_none():
    assert graph.op_name_from_traceback(traceback_of(lambda: 1 / 0)) is None
    assert graph.op_name_from_traceback(None) is None


# -- optimizers in each capture phase ------------------------------------------------------------


def stepped_once(optimizer_class=optim.Adam, **settings):
    param = bp.ones(3, requires_grad=True)
    optimizer = optimizer_class([param], lr=0.1, **settings)
    param.grad = bp.ones(3)
    optimizer.step()
    return param, optimizer


def test_a_graph_step_warmup_makes_the_optimizer_capturable():
    param, optimizer = stepped_once()
    assert not optimizer.capturable and optimizer.state[param]["step"] == 1
    with graph._in_phase(graph.WARMUP):
        optimizer.step()
    assert optimizer.capturable
    step = optimizer.state[param]["step"]
    assert isinstance(step, bp.Tensor) and step.item() == 2


def test_stepping_during_capture_registers_the_learning_rate_copy():
    param, optimizer = stepped_once(capturable=True)
    with graph._in_phase(graph.CAPTURE) as callbacks:
        optimizer.step()
        optimizer.step()
    assert callbacks == [optimizer._load_learning_rates]
    optimizer.param_groups[0]["lr"] = 0.5
    callbacks[0]()
    [(_, _, lr)] = optimizer._device_lrs.values()
    assert float(lr) == 0.5


def test_a_non_capturable_optimizer_inside_a_capture_is_an_error():
    _, optimizer = stepped_once()
    with graph._in_phase(graph.CAPTURE), pytest.raises(RuntimeError, match="capturable=True"):
        optimizer.step()


def test_optimizer_state_made_inside_a_capture_is_an_error():
    optimizer = optim.SGD([bp.ones(3, requires_grad=True)], lr=0.1, capturable=True)
    optimizer.param_groups[0]["params"][0].grad = bp.ones(3)
    with graph._in_phase(graph.CAPTURE), pytest.raises(RuntimeError, match="no optimizer state"):
        optimizer.step()


def test_before_replay_outside_a_capture_is_an_error():
    with pytest.raises(RuntimeError, match="before_replay: only callable while graph_step"):
        graph.before_replay(lambda: None)


# -- capturable optimizers against the default ones ----------------------------------------------

OPTIMIZERS = {
    "sgd-momentum": (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": (optim.Adam, {"lr": 0.05, "weight_decay": 0.01}),
    "adamw-amsgrad": (optim.AdamW, {"lr": 0.05, "amsgrad": True}),
    "rmsprop": (optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    "adagrad": (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
}


def train_with_scheduler(device, optimizer_class, settings, capturable: bool, steps: int):
    model = make_model(device)
    optimizer = optimizer_class(model.parameters(), capturable=capturable, **settings)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    train_step = make_train_step(model, optimizer)
    for seed in range(steps):
        train_step(*make_batch(device, 6, seed))
        scheduler.step()
    return model, optimizer


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_capturable_optimizers_match_the_default_ones_under_a_scheduler(device, name):
    optimizer_class, settings = OPTIMIZERS[name]
    steps = 5 if device.backend_name == "numpy" else 2  # the Numba simulator is slow
    results = [
        train_with_scheduler(device, optimizer_class, settings, capturable, steps)
        for capturable in (False, True)
    ]
    (plain_model, plain), (capturable_model, capturable) = results
    for got, expected in zip(weights(capturable_model), weights(plain_model)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for param in capturable_model.parameters():
        step = capturable.state[param].get("step")
        assert step is None or step.item() == steps


def test_a_capturable_state_dict_loads_into_a_default_optimizer():
    device = bp.device("cpu")
    model, optimizer = train_with_scheduler(device, optim.Adam, {"lr": 0.05}, True, 3)
    plain = optim.Adam(model.parameters(), lr=0.05)
    plain.load_state_dict(optimizer.state_dict())
    make_train_step(model, plain)(*make_batch(device, 6, 9))
    assert all(state["step"] == 4 for state in plain.state.values())


UPDATES = {
    "sgd": ("sgd_update", 1, {"momentum": 0.9, "weight_decay": 0.01}, False),
    "adam": (
        "adam_update",
        3,
        {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1},
        True,
    ),
    "rmsprop": (
        "rmsprop_update",
        3,
        {"alpha": 0.9, "eps": 1e-8, "momentum": 0.5},
        False,
    ),
    "adagrad": ("adagrad_update", 1, {"lr_decay": 0.1, "weight_decay": 0.0, "eps": 1e-10}, True),
}


@pytest.mark.parametrize("name", UPDATES)
def test_update_primitives_take_lr_and_step_as_device_scalars(device, name):
    primitive, states, settings, takes_step = UPDATES[name]
    backend = device.backend
    rng = np.random.default_rng(0)
    host = [rng.uniform(0.1, 1.0, size=5).astype(np.float32) for _ in range(2 + states)]
    results = []
    for on_device in (False, True):
        arrays = [backend.from_host(a.copy()) for a in host]
        scalars = {"lr": 0.05, "step": 3} if takes_step else {"lr": 0.05}
        if on_device:
            scalars = {k: backend.full((), v, np.float32) for k, v in scalars.items()}
        getattr(backend, primitive)(*arrays, **scalars, **settings)
        results.append([backend.to_host(a) for a in arrays])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


# -- on a GPU ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu() -> bp.Device:
    if REASON is not None:
        pytest.skip(f"graph capture needs the CuPy backend, which cannot run: {REASON}")
    return bp.device(backend="cupy")


def replay_against_eager(gpu, optimizer_class, settings, steps=8, rows=16, scheduler=False):
    """Trains the same model eagerly and through graph_step; returns both models' weights and
    the graph step."""
    trained = []
    graphed = None
    for use_graph in (False, True):
        model = make_model(gpu, features=12, classes=5)
        optimizer = optimizer_class(model.parameters(), **settings)
        lr_scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        train_step = make_train_step(model, optimizer)
        if use_graph:
            graphed = train_step = graph_step(train_step, *make_batch(gpu, rows, 0, 12, 5))
        for seed in range(steps):
            train_step(*make_batch(gpu, rows, seed, 12, 5))
            if scheduler:
                lr_scheduler.step()
        trained.append(weights(model))
    return trained, graphed


def test_replayed_sgd_momentum_steps_match_eager_steps(gpu):
    (eager, replayed), graphed = replay_against_eager(gpu, optim.SGD, {"lr": 0.1, "momentum": 0.9})
    assert graphed.uses_cuda_graph and graphed.num_graphs == 1
    for got, expected in zip(replayed, eager):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_replayed_adam_steps_follow_a_changing_learning_rate(gpu):
    (eager, replayed), graphed = replay_against_eager(
        gpu, optim.Adam, {"lr": 0.05}, steps=10, scheduler=True
    )
    assert graphed.num_graphs == 1
    for got, expected in zip(replayed, eager):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("optimizer_class", "settings"),
    [
        (optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
        (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.05}),
    ],
    ids=["rmsprop", "adagrad"],
)
def test_replayed_rmsprop_and_adagrad_steps_follow_a_changing_learning_rate(
    gpu, optimizer_class, settings
):
    (eager, replayed), graphed = replay_against_eager(
        gpu, optimizer_class, settings, steps=8, scheduler=True
    )
    assert graphed.num_graphs == 1
    for got, expected in zip(replayed, eager):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_benchmark_step_replays_to_the_eager_weights(gpu, optimizer):
    eager, graphed, replay = benchmark_step_against_graph_step("cupy", optimizer, 10)
    assert replay.num_graphs == 1
    for got, expected in zip(graphed, eager):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_replays_return_the_same_static_outputs(gpu):
    model = make_model(gpu, 12, 5)
    train_step = make_train_step(model, optim.SGD(model.parameters(), lr=0.1))
    graphed = graph_step(train_step, *make_batch(gpu, 16, 0, 12, 5), warmup=1)
    graphed(*make_batch(gpu, 16, 0, 12, 5))  # warm-up
    first = graphed(*make_batch(gpu, 16, 1, 12, 5))  # captured and launched
    first_loss = first.item()
    x, y = make_batch(gpu, 16, 2, 12, 5)
    second = graphed(x.numpy(), y.numpy())  # host inputs are copied to the device
    assert second is first
    assert second.item() != first_loss


def test_a_new_batch_size_gets_its_own_warmup_and_graph(gpu):
    eager_model, graphed_model = make_model(gpu, 12, 5), make_model(gpu, 12, 5)
    eager_step = make_train_step(eager_model, optim.SGD(eager_model.parameters(), lr=0.1))
    graphed = graph_step(
        make_train_step(graphed_model, optim.SGD(graphed_model.parameters(), lr=0.1)),
        *make_batch(gpu, 16, 0, 12, 5),
        warmup=2,
    )
    for seed, rows in enumerate([16, 16, 16, 7, 16, 7, 7, 16, 7]):
        batch = make_batch(gpu, rows, seed, 12, 5)
        graphed(*batch)
        eager_step(*batch)
    assert graphed.num_graphs == 2
    for got, expected in zip(weights(graphed_model), weights(eager_model)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_a_step_through_padded_convolutions_replays_to_the_eager_weights(gpu, padding_mode):
    """Non-zero padding modes are slices and concatenations, with no host index to copy."""

    def conv_model() -> nn.Module:
        bp.manual_seed(0)
        layers = [nn.Conv2d(2, 3, 3, padding=1, padding_mode=padding_mode), nn.Flatten()]
        return nn.Sequential(*layers, nn.Linear(3 * 4 * 4, 5)).to(gpu)

    def batch(seed: int):
        rng = np.random.default_rng(seed)
        x = bp.tensor(rng.normal(size=(6, 2, 4, 4)).astype(np.float32), device=gpu)
        return x, bp.tensor(rng.integers(0, 5, size=6), device=gpu)

    eager_model, graphed_model = conv_model(), conv_model()
    eager_step = make_train_step(eager_model, optim.SGD(eager_model.parameters(), lr=0.1))
    graphed_optimizer = optim.SGD(graphed_model.parameters(), lr=0.1)
    graphed = graph_step(make_train_step(graphed_model, graphed_optimizer), *batch(0), warmup=1)
    for seed in range(5):
        graphed(*batch(seed))
        eager_step(*batch(seed))
    assert graphed.num_graphs == 1
    for got, expected in zip(weights(graphed_model), weights(eager_model)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_new_float32_matmul_precision_gets_its_own_graph(gpu):
    """A recorded gemm keeps its cuBLAS math mode: TF32 and full float32 are two graphs."""
    model = make_model(gpu, 12, 5)
    train_step = make_train_step(model, optim.SGD(model.parameters(), lr=0.1))
    graphed = graph_step(train_step, *make_batch(gpu, 16, 0, 12, 5), warmup=1)
    try:
        for precision in ("highest", "high", "highest", "high"):
            bp.set_float32_matmul_precision(precision)
            for seed in range(2):
                graphed(*make_batch(gpu, 16, seed, 12, 5))
    finally:
        bp.set_float32_matmul_precision("highest")
    assert graphed.num_graphs == 2


def test_a_step_with_dropout_replays_to_the_eager_weights_with_a_new_mask_each_time(gpu):
    """Dropout draws on the device from a seed and offset in device memory, so the graph reads
    the offset its previous replay advanced: the same masks, in the same order, as eager steps
    after the same seed (a mask repeated at each replay would make the losses part ways)."""

    def dropout_model() -> nn.Module:
        bp.manual_seed(0)
        return nn.Sequential(nn.Linear(12, 8), nn.Dropout(0.5), nn.Linear(8, 5)).to(gpu)

    eager_model = dropout_model()
    eager_step = make_train_step(eager_model, optim.SGD(eager_model.parameters(), lr=0.1))
    eager_losses = [float(eager_step(*make_batch(gpu, 16, 0, 12, 5))) for _ in range(6)]
    graphed_model = dropout_model()
    graphed_optimizer = optim.SGD(graphed_model.parameters(), lr=0.1)
    graphed = graph_step(
        make_train_step(graphed_model, graphed_optimizer), *make_batch(gpu, 16, 0, 12, 5), warmup=1
    )
    graphed_losses = [float(graphed(*make_batch(gpu, 16, 0, 12, 5))) for _ in range(6)]
    assert graphed.num_graphs == 1
    np.testing.assert_allclose(graphed_losses, eager_losses, rtol=1e-5)
    for got, expected in zip(weights(graphed_model), weights(eager_model)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_dropout_generator_inside_the_step_is_reported_since_its_seed_is_a_host_copy(gpu):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 8), nn.Linear(8, 5)).to(gpu)
    train_step = make_train_step(model, optim.SGD(model.parameters(), lr=0.1))
    generator = np.random.default_rng(0)

    def step_with_a_generator(x, y):
        return train_step(nn.functional.dropout(x, 0.5, generator=generator), y)

    graphed = graph_step(step_with_a_generator, *make_batch(gpu, 16, 0, 12, 5), warmup=1)
    graphed(*make_batch(gpu, 16, 0, 12, 5))
    with pytest.raises(GraphCaptureError, match=r"dropout, in the cupy backend's from_host"):
        graphed(*make_batch(gpu, 16, 1, 12, 5))
    bp.cuda.synchronize()


def test_a_host_read_inside_the_step_is_reported_with_the_op(gpu):
    model = make_model(gpu, 12, 5)
    train_step = make_train_step(model, optim.SGD(model.parameters(), lr=0.1))

    def logged_step(x, y):
        loss = train_step(x, y)
        print(loss.item())
        return loss

    graphed = graph_step(logged_step, *make_batch(gpu, 16, 0, 12, 5), warmup=1)
    graphed(*make_batch(gpu, 16, 0, 12, 5))
    with pytest.raises(GraphCaptureError, match=r"Tensor\.item, in the cupy backend's to_host"):
        graphed(*make_batch(gpu, 16, 1, 12, 5))
    bp.cuda.synchronize()  # the abandoned capture left the device usable
