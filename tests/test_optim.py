"""Every optimizer follows `torch.optim`'s parameter trajectory step for step, for every option,
in float64; state_dict round trips resume the same trajectory; bad arguments are refused with
messages that name the optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import optim
from backprop.optim import lr_scheduler
from backprop.serialization import load, save

STEPS = 20
SHAPES = [(3, 2), (2,)]

CASES = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    "adam": ("Adam", {"lr": 0.05}),
    "adam_betas_eps": ("Adam", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3}),
    "adam_weight_decay": ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    "adam_amsgrad": ("Adam", {"lr": 0.05, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.05}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.01, "momentum": 0.9, "alpha": 0.9}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "centered": True, "weight_decay": 0.1}),
    "rmsprop_centered_momentum": ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad_all_options": (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5},
    ),
}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def initial_values() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient(step: int, value: np.ndarray) -> np.ndarray:
    """A gradient that depends on the parameter, so a wrong step changes all later ones."""
    noise = np.random.default_rng(100 + step).standard_normal(value.shape)
    return noise + 0.5 * value**3


def run_ours(params: list[bp.Tensor], optimizer, steps: int) -> None:
    for step in range(steps):
        for param in params:
            param.grad = bp.tensor(gradient(step, param.numpy()), device=param.device)
        optimizer.step()


def our_params(device, values=None) -> list[bp.Tensor]:
    values = initial_values() if values is None else values
    return [bp.tensor(v, dtype="float64", device=device, requires_grad=True) for v in values]


def torch_trajectory(torch, name: str, kwargs: dict, steps: int = STEPS) -> list[np.ndarray]:
    params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    optimizer = getattr(torch.optim, name)(params, **kwargs)
    for step in range(steps):
        for param in params:
            param.grad = torch.tensor(gradient(step, param.detach().numpy()))
        optimizer.step()
    return [param.detach().numpy() for param in params]


@pytest.mark.parametrize("case", CASES)
def test_trajectory_matches_torch(torch, device, case):
    name, kwargs = CASES[case]
    params = our_params(device)
    run_ours(params, getattr(optim, name)(params, **kwargs), STEPS)
    for ours, expected in zip(params, torch_trajectory(torch, name, kwargs)):
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_param_groups_have_their_own_hyperparameters(torch):
    first, second = our_params("cpu")
    optimizer = optim.SGD([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    run_ours([first, second], optimizer, STEPS)

    theirs = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    reference = torch.optim.SGD(
        [{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.5}], lr=0.1
    )
    for step in range(STEPS):
        for param in theirs:
            param.grad = torch.tensor(gradient(step, param.detach().numpy()))
        reference.step()
    for ours, expected in zip([first, second], theirs):
        np.testing.assert_allclose(ours.numpy(), expected.detach().numpy(), rtol=1e-10)
    assert [group["lr"] for group in optimizer.param_groups] == [0.1, 0.5]


@pytest.mark.parametrize("case", ["sgd_momentum", "adam_amsgrad", "rmsprop_centered_momentum"])
def test_state_dict_round_trip_resumes_the_same_trajectory(case):
    name, kwargs = CASES[case]
    params = our_params("cpu")
    optimizer = getattr(optim, name)(params, **kwargs)
    run_ours(params, optimizer, 5)
    saved = optimizer.state_dict()
    restored_params = our_params("cpu", [p.numpy() for p in params])
    restored = getattr(optim, name)(restored_params, lr=123.0)
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == kwargs["lr"]

    run_ours(params, optimizer, 5)
    run_ours(restored_params, restored, 5)
    for ours, expected in zip(restored_params, params):
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())


def test_optimizer_and_scheduler_state_survive_a_checkpoint_file(tmp_path):
    params = our_params("cpu")
    optimizer = optim.Adam(params, lr=0.1, amsgrad=True)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=20)
    for _ in range(3):
        run_ours(params, optimizer, 1)
        scheduler.step()
    save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "ck"
    )
    checkpoint = load(tmp_path / "ck")

    restored_params = our_params("cpu", [p.numpy() for p in params])
    restored = optim.Adam(restored_params, lr=0.1, amsgrad=True)
    restored_scheduler = lr_scheduler.OneCycleLR(restored, max_lr=0.5, total_steps=20)
    restored.load_state_dict(checkpoint["optimizer"])
    restored_scheduler.load_state_dict(checkpoint["scheduler"])
    for ps, opt, sched in (
        (params, optimizer, scheduler),
        (restored_params, restored, restored_scheduler),
    ):
        for _ in range(3):
            run_ours(ps, opt, 1)
            sched.step()
    for ours, expected in zip(restored_params, params):
        np.testing.assert_array_equal(ours.numpy(), expected.numpy())


def test_state_dict_numbers_parameters_and_copies_state_on_load():
    params = our_params("cpu")
    optimizer = optim.Adam(params, lr=0.1)
    run_ours(params, optimizer, 2)
    saved = optimizer.state_dict()
    assert saved["param_groups"][0]["params"] == [0, 1]
    assert set(saved["state"]) == {0, 1}
    assert saved["state"][0]["step"] == 2
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}

    host_state = {
        "state": {
            i: {k: v if k == "step" else v.numpy() for k, v in s.items()}
            for i, s in saved["state"].items()
        },
        "param_groups": saved["param_groups"],
    }
    restored_params = our_params("cpu")
    restored = optim.Adam(restored_params, lr=0.1)
    restored.load_state_dict(host_state)
    saved_exp_avg = host_state["state"][0]["exp_avg"].copy()
    np.testing.assert_array_equal(
        restored.state_dict()["state"][0]["exp_avg"].numpy(), saved_exp_avg
    )
    run_ours(restored_params, restored, 1)
    assert restored.state_dict()["state"][0]["step"] == 3
    np.testing.assert_array_equal(host_state["state"][0]["exp_avg"], saved_exp_avg)


def test_load_state_dict_refuses_a_different_layout():
    optimizer = optim.SGD(our_params("cpu"), lr=0.1)
    other = optim.SGD(our_params("cpu")[:1], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0 has 1 parameters in the state, 2"):
        optimizer.load_state_dict(other.state_dict())


def test_parameters_without_gradients_are_left_alone():
    first, second = our_params("cpu")
    before = second.numpy()
    first.grad = bp.ones_like(first)
    optim.Adam([first, second], lr=0.1).step()
    np.testing.assert_array_equal(second.numpy(), before)
    assert not np.array_equal(first.numpy(), initial_values()[0])


def test_zero_grad_clears_or_zeroes():
    params = our_params("cpu")
    optimizer = optim.SGD(params, lr=0.1)
    for param in params:
        param.grad = bp.ones_like(param)
    optimizer.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_with_closure_returns_the_loss():
    (param,) = our_params("cpu", [np.array([2.0])])
    optimizer = optim.SGD([param], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(param.numpy(), [1.0])


def test_step_runs_outside_the_graph():
    (param,) = our_params("cpu", [np.array([1.0, 2.0])])
    param.grad = bp.ones_like(param)
    optim.SGD([param], lr=0.1, momentum=0.9).step()
    assert param.is_leaf and param.requires_grad


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: optim.SGD(p, lr=-1.0), ValueError, "SGD: lr must be >= 0, got -1.0"),
        (lambda p: optim.SGD(p, nesterov=True), ValueError, "nesterov momentum needs momentum"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, r"Adam: betas must be two"),
        (lambda p: optim.RMSprop(p, alpha=-0.1), ValueError, "RMSprop: alpha must be >= 0"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), ValueError, "Adagrad: lr_decay must be >= 0"),
        (lambda p: optim.SGD(p[0]), TypeError, "SGD: params must be an iterable of Tensors"),
        (lambda p: optim.SGD([]), ValueError, "SGD: got an empty parameter list"),
        (lambda p: optim.SGD([p[0], p[0]]), ValueError, "appear more than once"),
        (lambda p: optim.SGD([p[0] * 2]), ValueError, "cannot optimize a non-leaf Tensor"),
        (lambda p: optim.SGD([np.zeros(2)]), TypeError, "parameters must be Tensors, got ndarray"),
    ],
)
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(our_params("cpu"))
