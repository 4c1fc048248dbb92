"""NAdam, RAdam, Adamax and Adadelta follow `torch.optim`'s trajectories step for step, for every
option, eagerly and in capturable mode, with LR schedulers, and step inside a rehearsed graph
capture without host transfers; LBFGS follows torch's iterates with and without the strong Wolfe
line search, and refuses to step inside a capture."""

from __future__ import annotations

import numpy as np
import pytest
from test_capture_rehearsal import floats, labels, rehearse
from test_optim import gradient, initial_values, our_params, run_ours

import backprop as bp
import backprop.nn.functional as F
from backprop import graph, nn, optim
from backprop.optim import lr_scheduler
from backprop.optim.lbfgs import _cubic_interpolate

STEPS = 20

CASES = {
    "nadam": ("NAdam", {"lr": 0.05}),
    "nadam_betas_eps_momentum_decay": (
        "NAdam",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3, "momentum_decay": 0.1},
    ),
    "nadam_weight_decay": ("NAdam", {"lr": 0.05, "weight_decay": 0.1}),
    "nadamw": ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    "radam": ("RAdam", {"lr": 0.05}),
    # rho_inf = 2 / 0.3 - 1 = 5.67: the step crosses the rectification threshold of 5 late
    "radam_betas_eps": ("RAdam", {"lr": 0.05, "betas": (0.5, 0.7), "eps": 1e-3}),
    "radam_weight_decay": ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    "radamw": ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    "adamax": ("Adamax", {}),
    "adamax_all_options": (
        "Adamax",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.1},
    ),
    "adadelta": ("Adadelta", {}),
    "adadelta_all_options": ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
}

STATE_KEYS = {
    "NAdam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
    "RAdam": {"step", "exp_avg", "exp_avg_sq"},
    "Adamax": {"step", "exp_avg", "exp_inf"},
    "Adadelta": {"step", "square_avg", "acc_delta"},
}


@pytest.fixture
def torch():
    """PyTorch with float64 as its default dtype, so that the scalars it keeps in state
    (NAdam's momentum product) are float64 as ours are."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def torch_trajectory(torch, name: str, kwargs: dict, schedule=None) -> list[np.ndarray]:
    """torch's parameters after STEPS steps; `schedule(lr_scheduler_module, optimizer)` makes
    an LR scheduler stepped after every optimizer step."""
    params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    optimizer = getattr(torch.optim, name)(params, **kwargs)
    scheduler = schedule(torch.optim.lr_scheduler, optimizer) if schedule else None
    for step in range(STEPS):
        for param in params:
            param.grad = torch.tensor(gradient(step, param.detach().numpy()))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return [param.detach().numpy() for param in params]


def our_trajectory(
    name: str, kwargs: dict, device="cpu", schedule=None, steps: int = STEPS, **options
):
    """Our parameters after `steps` steps (on the same gradients as `torch_trajectory`), and
    the optimizer."""
    params = our_params(device)
    optimizer = getattr(optim, name)(params, **kwargs, **options)
    scheduler = schedule(lr_scheduler, optimizer) if schedule else None
    for step in range(steps):
        for param in params:
            param.grad = bp.tensor(gradient(step, param.numpy()), device=param.device)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return [param.numpy() for param in params], optimizer


@pytest.mark.parametrize("capturable", [False, True], ids=["eager", "capturable"])
@pytest.mark.parametrize("case", CASES)
def test_trajectory_matches_torch(torch, case, capturable):
    name, kwargs = CASES[case]
    ours, _ = our_trajectory(name, kwargs, capturable=capturable)
    for mine, expected in zip(ours, torch_trajectory(torch, name, kwargs)):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_capturable_mode_follows_the_eager_trajectory(case):
    name, kwargs = CASES[case]
    eager, _ = our_trajectory(name, kwargs)
    capturable, optimizer = our_trajectory(name, kwargs, capturable=True)
    for mine, expected in zip(capturable, eager):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-14)
    assert isinstance(optimizer.state_dict()["state"][0]["step"], bp.Tensor)


@pytest.mark.parametrize("case", ["nadamw", "radam_betas_eps", "adamax_all_options", "adadelta"])
def test_capturable_steps_on_a_device_match_the_cpu(device, case):
    name, kwargs = CASES[case]
    on_device, _ = our_trajectory(name, kwargs, device=device, steps=3, capturable=True)
    on_cpu, _ = our_trajectory(name, kwargs, steps=3)
    for mine, expected in zip(on_device, on_cpu):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


SCHEDULES = {
    "step": lambda schedulers, opt: schedulers.StepLR(opt, step_size=3, gamma=0.5),
    # cycles beta1 (or stays on the learning rate for Adadelta, which has none)
    "one_cycle": lambda schedulers, opt: schedulers.OneCycleLR(
        opt, max_lr=0.1, total_steps=STEPS, cycle_momentum="betas" in opt.defaults
    ),
}


@pytest.mark.parametrize("capturable", [False, True], ids=["eager", "capturable"])
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", ["nadamw", "radam", "adamax", "adadelta"])
def test_lr_schedulers_drive_the_optimizers_as_in_torch(torch, case, schedule, capturable):
    name, kwargs = CASES[case]
    make = SCHEDULES[schedule]
    ours, _ = our_trajectory(name, kwargs, schedule=make, capturable=capturable)
    for mine, expected in zip(ours, torch_trajectory(torch, name, kwargs, schedule=make)):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["nadam", "radam", "adamax", "adadelta"])
def test_state_dict_has_torchs_keys_and_resumes_the_same_trajectory(torch, case):
    name, kwargs = CASES[case]
    params = our_params("cpu")
    optimizer = getattr(optim, name)(params, **kwargs)
    run_ours(params, optimizer, 5)
    saved = optimizer.state_dict()
    theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    theirs_param = theirs.param_groups[0]["params"][0]
    theirs_param.grad = torch.ones(1)
    theirs.step()
    assert set(saved["state"][0]) == set(theirs.state_dict()["state"][0]) == STATE_KEYS[name]
    assert saved["state"][0]["step"] == 5

    restored_params = our_params("cpu", [p.numpy() for p in params])
    restored = getattr(optim, name)(restored_params, lr=123.0)
    restored.load_state_dict(saved)
    run_ours(params, optimizer, 5)
    run_ours(restored_params, restored, 5)
    for mine, expected in zip(restored_params, params):
        np.testing.assert_array_equal(mine.numpy(), expected.numpy())


@pytest.mark.parametrize("case", ["nadam", "radam"])
def test_state_moves_between_capturable_and_eager_optimizers(case):
    name, kwargs = CASES[case]
    params = our_params("cpu")
    capturable = getattr(optim, name)(params, **kwargs, capturable=True)
    run_ours(params, capturable, 5)
    resumed_params = our_params("cpu", [p.numpy() for p in params])
    eager = getattr(optim, name)(resumed_params, **kwargs)
    eager.load_state_dict(capturable.state_dict())
    run_ours(params, capturable, 5)
    run_ours(resumed_params, eager, 5)
    for mine, expected in zip(resumed_params, params):
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-12)
    assert eager.state_dict()["state"][0]["step"] == 10


OPTIMIZERS = {
    "nadamw": lambda p: optim.NAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "nadam": lambda p: optim.NAdam(p, lr=0.01, weight_decay=0.1),
    "radamw": lambda p: optim.RAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "adamax": lambda p: optim.Adamax(p, weight_decay=0.1),
    "adadelta": lambda p: optim.Adadelta(p, weight_decay=0.1),
}


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_a_step_under_each_optimizer_is_capturable(monkeypatch, rng, make_optimizer):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = floats(rng, 5, 4), labels(rng, 5, 3)
    rehearse(monkeypatch, model, make_optimizer(model.parameters()), F.cross_entropy, x, y)


def test_a_capturable_optimizer_refuses_to_create_state_inside_a_capture():
    (param,) = our_params("cpu", [np.ones(2)])
    param.grad = bp.ones_like(param)
    optimizer = optim.NAdam([param], capturable=True)
    with graph._in_phase(graph.CAPTURE), pytest.raises(RuntimeError, match="no optimizer state"):
        optimizer.step()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.NAdam(p, lr=-1.0), "NAdam: lr must be >= 0, got -1.0"),
        (lambda p: optim.NAdam(p, momentum_decay=-1), "NAdam: momentum_decay must be >= 0"),
        (lambda p: optim.NAdam(p, betas=(0.9, 1.0)), r"NAdam: betas must be two numbers"),
        (lambda p: optim.RAdam(p, eps=-1e-8), "RAdam: eps must be >= 0, got -1e-08"),
        (lambda p: optim.RAdam(p, betas=(-0.1, 0.9)), r"RAdam: betas must be two numbers"),
        (lambda p: optim.Adamax(p, weight_decay=-1), "Adamax: weight_decay must be >= 0"),
        (lambda p: optim.Adamax(p, betas=(0.9,)), r"Adamax: betas must be two numbers"),
        (lambda p: optim.Adadelta(p, rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
        (lambda p: optim.Adadelta(p, lr=-0.1), "Adadelta: lr must be >= 0, got -0.1"),
    ],
)
def test_bad_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make(our_params("cpu"))


# -- LBFGS ----------------------------------------------------------------------------------------

ROSENBROCK_START = np.array([-1.5, 2.0])

LBFGS_CASES = {
    "fixed_step": {"lr": 0.1, "max_iter": 5},
    "strong_wolfe": {"line_search_fn": "strong_wolfe", "max_iter": 5},
    "strong_wolfe_short_history": {
        "line_search_fn": "strong_wolfe",
        "history_size": 2,
        "max_iter": 5,
    },
    "strong_wolfe_eval_budget": {"line_search_fn": "strong_wolfe", "max_iter": 10, "max_eval": 6},
    "fixed_step_short_history": {"lr": 0.05, "history_size": 3, "max_iter": 8},
}


def rosenbrock(x):
    """(1 - x0)^2 + 100 (x1 - x0^2)^2: a curved valley with its minimum at (1, 1)."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def lbfgs_iterates(library, make_tensor, kwargs: dict, steps: int) -> list[np.ndarray]:
    """The Rosenbrock iterate after each of `steps` LBFGS steps, and the losses returned."""
    x = make_tensor(ROSENBROCK_START)
    optimizer = library.optim.LBFGS([x], **kwargs)

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    iterates = []
    for _ in range(steps):
        loss = optimizer.step(closure)
        iterates.append(np.append(x.detach().numpy(), float(loss.detach())))
    state = optimizer.state[x]
    return iterates, (state["func_evals"], state["n_iter"])


@pytest.mark.parametrize("case", LBFGS_CASES)
def test_lbfgs_follows_torchs_iterates_on_rosenbrock(torch, case):
    kwargs = LBFGS_CASES[case]
    ours, our_counts = lbfgs_iterates(
        bp, lambda v: bp.tensor(v, requires_grad=True), kwargs, steps=4
    )
    theirs, their_counts = lbfgs_iterates(
        torch, lambda v: torch.tensor(v, requires_grad=True), kwargs, steps=4
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert our_counts == their_counts


def test_lbfgs_with_strong_wolfe_converges_to_the_minimum():
    x = bp.tensor(ROSENBROCK_START, requires_grad=True)
    optimizer = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=100)

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    optimizer.step(closure)
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-5)


def least_squares(library, make_tensor, kwargs: dict, schedule=None):
    """A linear least-squares fit of a weight matrix and a bias (two parameters packed into one
    flat vector), stepped three times; an untouched third parameter has no gradient."""
    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    weight, bias, unused = (
        make_tensor(np.zeros((3, 2))),
        make_tensor(np.zeros(2)),
        make_tensor(np.ones(4)),
    )
    optimizer = library.optim.LBFGS([weight, bias, unused], **kwargs)
    scheduler = schedule(library.optim.lr_scheduler, optimizer) if schedule else None
    x, t = library.tensor(inputs), library.tensor(targets)

    def closure():
        optimizer.zero_grad()
        loss = ((x @ weight + bias - t) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        optimizer.step(closure)
        if scheduler is not None:
            scheduler.step()
    return [p.detach().numpy() for p in (weight, bias, unused)]


@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.02, "max_iter": 4}, {"line_search_fn": "strong_wolfe", "max_iter": 3}]
)
def test_lbfgs_packs_several_parameters_and_follows_a_scheduler_like_torch(torch, kwargs):
    def schedule(schedulers, opt):
        return schedulers.StepLR(opt, step_size=1, gamma=0.5)

    ours = least_squares(bp, lambda v: bp.tensor(v, requires_grad=True), kwargs, schedule)
    theirs = least_squares(torch, lambda v: torch.tensor(v, requires_grad=True), kwargs, schedule)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_lbfgs_on_a_device_matches_the_cpu(device):
    kwargs = {"line_search_fn": "strong_wolfe", "max_iter": 2}
    on_device, _ = lbfgs_iterates(
        bp, lambda v: bp.tensor(v, device=device, requires_grad=True), kwargs, steps=1
    )
    on_cpu, _ = lbfgs_iterates(bp, lambda v: bp.tensor(v, requires_grad=True), kwargs, steps=1)
    np.testing.assert_allclose(on_device, on_cpu, rtol=1e-10)


def test_lbfgs_returns_at_once_where_the_gradient_is_already_small():
    x = bp.tensor(np.array([1.0, 1.0]), requires_grad=True)
    optimizer = optim.LBFGS([x])

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 0.0
    assert optimizer.state[x] == {"func_evals": 1, "n_iter": 0}


@pytest.mark.parametrize("phase", [graph.WARMUP, graph.CAPTURE])
def test_lbfgs_refuses_to_step_inside_a_graph_capture(phase):
    x = bp.tensor(ROSENBROCK_START, requires_grad=True)
    optimizer = optim.LBFGS([x])
    with graph._in_phase(phase), pytest.raises(RuntimeError, match="cannot be captured"):
        optimizer.step(lambda: rosenbrock(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, "LBFGS: lr must be >= 0, got -1.0"),
        ({"max_iter": 0}, "LBFGS: max_iter must be a positive integer, got 0"),
        ({"max_eval": 2.5}, "LBFGS: max_eval must be a positive integer, got 2.5"),
        ({"history_size": True}, "LBFGS: history_size must be a positive integer, got True"),
        ({"tolerance_grad": -1e-7}, "LBFGS: tolerance_grad must be >= 0"),
        ({"line_search_fn": "armijo"}, "line_search_fn must be None or 'strong_wolfe', got 'arm"),
    ],
)
def test_lbfgs_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.LBFGS(our_params("cpu"), **kwargs)


def test_lbfgs_takes_one_parameter_group_and_needs_a_closure():
    first, second = our_params("cpu")
    with pytest.raises(ValueError, match="LBFGS: does not support per-parameter options"):
        optim.LBFGS([{"params": [first]}, {"params": [second], "lr": 0.5}])
    optimizer = optim.LBFGS([first, second])
    with pytest.raises(TypeError, match="LBFGS.step: needs a closure .*, got NoneType"):
        optimizer.step()


def test_lbfgs_state_dict_round_trip_resumes_the_same_iterates():
    def stepper(x, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = rosenbrock(x)
            loss.backward()
            return loss

        return lambda: optimizer.step(closure)

    kwargs = {"line_search_fn": "strong_wolfe", "max_iter": 3, "max_eval": 10, "history_size": 2}
    x = bp.tensor(ROSENBROCK_START, requires_grad=True)
    optimizer = optim.LBFGS([x], **kwargs)
    stepper(x, optimizer)()
    restored_x = bp.tensor(x.numpy(), requires_grad=True)
    restored = optim.LBFGS([restored_x], **kwargs)
    restored.load_state_dict(optimizer.state_dict())
    for _ in range(2):
        stepper(x, optimizer)()
        stepper(restored_x, restored)()
    np.testing.assert_array_equal(restored_x.numpy(), x.numpy())
    ours, theirs = restored.state[restored_x], optimizer.state[x]
    assert (ours["n_iter"], ours["func_evals"]) == (theirs["n_iter"], theirs["func_evals"])
    assert len(ours["old_dirs"]) == len(theirs["old_dirs"]) == 2


def test_the_line_search_interpolates_a_flat_cubic_at_the_midpoint():
    """A loss linear along the search direction has no cubic minimiser: no division by 0."""
    assert _cubic_interpolate(0.0, 1.0, -1.0, 1.0, 0.0, -1.0) == 0.5
