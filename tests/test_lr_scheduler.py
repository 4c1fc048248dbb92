"""Every learning-rate scheduler produces PyTorch's learning-rate curve (and, for OneCycleLR,
its momentum curve), and a scheduler restored from its state_dict continues the same curve.
ReduceLROnPlateau follows PyTorch's reductions on the same metrics, step for step, and ends in
the same state."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import optim
from backprop.optim import lr_scheduler

STEPS = 30

SCHEDULES = {
    "step": ("StepLR", {"step_size": 4, "gamma": 0.5}),
    "multistep": ("MultiStepLR", {"milestones": [3, 7, 7, 12], "gamma": 0.3}),
    "exponential": ("ExponentialLR", {"gamma": 0.9}),
    "cosine": ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    "warm_restarts": ("CosineAnnealingWarmRestarts", {"T_0": 4, "eta_min": 0.01}),
    "warm_restarts_growing": ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
    "linear_warmup": ("LinearLR", {"start_factor": 0.1, "total_iters": 8}),
    "linear_cooldown": ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 5}),
    "lambda": ("LambdaLR", {"lr_lambda": lambda epoch: 1.0 / (1 + epoch)}),
    "one_cycle_cos": ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS + 1}),
    "one_cycle_linear_three_phase": (
        "OneCycleLR",
        {
            "max_lr": [1.0, 2.0],
            "epochs": 4,
            "steps_per_epoch": 8,
            "anneal_strategy": "linear",
            "three_phase": True,
            "pct_start": 0.25,
        },
    ),
}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def our_optimizer(optimizer: str = "SGD", **kwargs):
    groups = [
        {"params": [bp.zeros(2, requires_grad=True)]},
        {"params": [bp.zeros(3, requires_grad=True)], "lr": 0.05},
    ]
    return getattr(optim, optimizer)(groups, lr=0.1, **kwargs)


def their_optimizer(torch, optimizer: str = "SGD", **kwargs):
    groups = [
        {"params": [torch.zeros(2, requires_grad=True)]},
        {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.05},
    ]
    return getattr(torch.optim, optimizer)(groups, lr=0.1, **kwargs)


def curve(scheduler, optimizer, key: str = "lr", steps: int = STEPS) -> list[list]:
    """The value of `key` in every group now and after each of `steps` steps."""
    values = [[group[key] for group in optimizer.param_groups]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        values.append([group[key] for group in optimizer.param_groups])
    return values


@pytest.mark.parametrize("name", SCHEDULES)
def test_learning_rate_curve_matches_torch(torch, name):
    cls, kwargs = SCHEDULES[name]
    ours = our_optimizer(momentum=0.9)
    theirs = their_optimizer(torch, momentum=0.9)
    our_scheduler = getattr(lr_scheduler, cls)(ours, **kwargs)
    their_scheduler = getattr(torch.optim.lr_scheduler, cls)(theirs, **kwargs)
    expected = curve(their_scheduler, theirs)
    np.testing.assert_allclose(curve(our_scheduler, ours), expected, rtol=1e-12, atol=1e-15)
    assert our_scheduler.get_last_lr() == pytest.approx(their_scheduler.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_cycles_momentum_like_torch(torch, optimizer):
    kwargs = {"momentum": 0.9} if optimizer == "SGD" else {}
    key = "momentum" if optimizer == "SGD" else "betas"
    ours, theirs = our_optimizer(optimizer, **kwargs), their_optimizer(torch, optimizer, **kwargs)
    our_curve = curve(lr_scheduler.OneCycleLR(ours, max_lr=0.5, total_steps=STEPS), ours, key)
    expected = curve(
        torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=0.5, total_steps=STEPS), theirs, key
    )
    np.testing.assert_allclose(
        np.array(our_curve, dtype=float), np.array(expected, dtype=float), rtol=1e-12
    )


def test_one_cycle_refuses_to_step_past_its_end():
    optimizer = our_optimizer(momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times, but total_steps is 3"):
        scheduler.step()


@pytest.mark.parametrize(
    "name", ["step", "cosine", "one_cycle_cos", "lambda", "warm_restarts_growing"]
)
def test_state_dict_round_trip_continues_the_curve(name):
    cls, kwargs = SCHEDULES[name]
    optimizer = our_optimizer(momentum=0.9)
    scheduler = getattr(lr_scheduler, cls)(optimizer, **kwargs)
    for _ in range(7):
        scheduler.step()
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert "optimizer" not in saved_scheduler and "lr_lambdas" not in saved_scheduler

    restored_optimizer = our_optimizer(momentum=0.9)
    restored = getattr(lr_scheduler, cls)(restored_optimizer, **kwargs)
    restored_optimizer.load_state_dict(saved_optimizer)
    restored.load_state_dict(saved_scheduler)
    assert curve(restored, restored_optimizer, steps=10) == curve(scheduler, optimizer, steps=10)


def test_resuming_needs_initial_lr_in_the_groups():
    with pytest.raises(KeyError, match=r"StepLR: param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(our_optimizer(), step_size=2, last_epoch=5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), "StepLR: step_size must be a positive"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max must be a positive"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), "LinearLR: start_factor must be"),
        (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), "expected 2 lr_lambda functions"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), "give total_steps, or both"),
        (
            lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="x"),
            "anneal_strategy must be 'cos' or 'linear'",
        ),
        (
            lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=5),
            "expected 2 values of max_lr",
        ),
    ],
)
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make(our_optimizer(momentum=0.9))


def test_one_cycle_needs_momentum_or_betas_to_cycle():
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with momentum"):
        lr_scheduler.OneCycleLR(our_optimizer("Adagrad"), max_lr=1.0, total_steps=5)
    lr_scheduler.OneCycleLR(
        our_optimizer("Adagrad"), max_lr=1.0, total_steps=5, cycle_momentum=False
    )


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="ExponentialLR: expected an Optimizer, got list"):
        lr_scheduler.ExponentialLR([], gamma=0.9)


# -- CosineAnnealingWarmRestarts: fractional and jumping epochs ----------------------------------


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_follow_fractional_epochs_like_torch(torch, T_mult):
    ours, theirs = our_optimizer(), their_optimizer(torch)
    our_scheduler = lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=3, T_mult=T_mult)
    their_scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        theirs, T_0=3, T_mult=T_mult
    )
    batches = 4
    for epoch in range(15):
        for batch in range(batches):
            our_scheduler.step(epoch + batch / batches)
            their_scheduler.step(epoch + batch / batches)
            np.testing.assert_allclose(
                our_scheduler.get_last_lr(), their_scheduler.get_last_lr(), rtol=1e-12
            )
    assert our_scheduler.last_epoch == their_scheduler.last_epoch == 14


@pytest.mark.parametrize("T_mult", [1, 3])
def test_warm_restarts_jump_to_an_epoch_and_step_on_from_there_like_torch(torch, T_mult):
    ours, theirs = our_optimizer(), their_optimizer(torch)
    our_scheduler = lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=2, T_mult=T_mult)
    their_scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        theirs, T_0=2, T_mult=T_mult
    )
    for epoch in [None] * 5 + [26, None, None, 3.5, None, 0, None, 41.25, None]:
        our_scheduler.step(epoch)
        their_scheduler.step(epoch)
        np.testing.assert_allclose(
            [g["lr"] for g in ours.param_groups], [g["lr"] for g in theirs.param_groups], rtol=1e-12
        )


def test_warm_restarts_restart_at_the_initial_learning_rate():
    optimizer = our_optimizer()
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=4, eta_min=0.01)
    lrs = [lr for lr, _ in curve(scheduler, optimizer, steps=8)]
    assert lrs[0] == lrs[4] == lrs[8] == 0.1
    assert lrs[0] > lrs[1] > lrs[2] > lrs[3] > 0.01


# -- SequentialLR ----------------------------------------------------------------------------------


def warm_up_then_decay(module, optimizer):
    """Linear warm-up for 4 steps, a cosine over the next 8, then exponential decay."""
    schedulers = [
        module.LinearLR(optimizer, start_factor=0.1, total_iters=4),
        module.CosineAnnealingLR(optimizer, T_max=8, eta_min=0.01),
        module.ExponentialLR(optimizer, gamma=0.8),
    ]
    return module.SequentialLR(optimizer, schedulers, milestones=[4, 12])


def warm_up_then_restarts(module, optimizer):
    """Constant warm-up (a LambdaLR) for 3 steps, then warm restarts with growing periods."""
    schedulers = [
        module.LambdaLR(optimizer, lambda step: 0.5),
        module.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2),
    ]
    return module.SequentialLR(optimizer, schedulers, milestones=[3])


@pytest.mark.parametrize("make", [warm_up_then_decay, warm_up_then_restarts])
def test_sequential_runs_each_scheduler_from_its_milestone_like_torch(torch, make):
    ours, theirs = our_optimizer(momentum=0.9), their_optimizer(torch, momentum=0.9)
    our_scheduler = make(lr_scheduler, ours)
    their_scheduler = make(torch.optim.lr_scheduler, theirs)
    expected = curve(their_scheduler, theirs)
    np.testing.assert_allclose(curve(our_scheduler, ours), expected, rtol=1e-12, atol=1e-15)
    assert our_scheduler.get_last_lr() == pytest.approx(their_scheduler.get_last_lr(), rel=1e-12)


def test_sequential_restarts_the_next_scheduler_at_its_milestone():
    optimizer = our_optimizer()
    scheduler = warm_up_then_decay(lr_scheduler, optimizer)
    lrs = [lr for lr, _ in curve(scheduler, optimizer, steps=13)]
    assert lrs[0] == pytest.approx(0.01) and lrs[3] == pytest.approx(0.0775)
    assert lrs[4] == 0.1 and lrs[12] == 0.1
    assert lrs[13] == pytest.approx(0.08)


def test_sequential_state_dict_round_trip_continues_the_curve():
    optimizer = our_optimizer()
    scheduler = warm_up_then_decay(lr_scheduler, optimizer)
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert len(saved_scheduler["_schedulers"]) == 3

    restored_optimizer = our_optimizer()
    restored = warm_up_then_decay(lr_scheduler, restored_optimizer)
    restored_optimizer.load_state_dict(saved_optimizer)
    restored.load_state_dict(saved_scheduler)
    assert curve(restored, restored_optimizer, steps=10) == curve(scheduler, optimizer, steps=10)


def sequential_of(make_schedulers, milestones):
    optimizer = our_optimizer()
    return lr_scheduler.SequentialLR(optimizer, make_schedulers(optimizer), milestones)


@pytest.mark.parametrize(
    ("make_schedulers", "milestones", "error", "message"),
    [
        (lambda o: [], [], ValueError, "SequentialLR: needs at least one scheduler, got none"),
        (
            lambda o: [lr_scheduler.StepLR(o, 2), "cosine"],
            [3],
            TypeError,
            r"SequentialLR: schedulers\[1\] must be an LRScheduler, got str",
        ),
        (
            lambda o: [lr_scheduler.ReduceLROnPlateau(o)],
            [],
            ValueError,
            r"schedulers\[0\] is a ReduceLROnPlateau, whose step needs a metric",
        ),
        (
            lambda o: [lr_scheduler.StepLR(our_optimizer(), 2)],
            [],
            ValueError,
            r"schedulers\[0\] \(StepLR\) belongs to another optimizer",
        ),
        (
            lambda o: [lr_scheduler.StepLR(o, 2), lr_scheduler.ExponentialLR(o, 0.9)],
            [3, 5],
            ValueError,
            "SequentialLR: expected 1 milestones .* 2 schedulers.*, got 2",
        ),
    ],
)
def test_sequential_refuses_bad_schedulers_and_milestones(
    make_schedulers, milestones, error, message
):
    with pytest.raises(error, match=message):
        sequential_of(make_schedulers, milestones)


# -- ReduceLROnPlateau -----------------------------------------------------------------------------

LOSSES = [
    1.0, 0.8, 0.8, 0.79995, 0.81, 0.7, 0.75, 0.75, 0.75, 0.6, 0.6, 0.61, 0.62, 0.5, 0.55,
    0.55, 0.55, 0.55, 0.4, 0.45, 0.45, 0.45, 0.39, 0.39, 0.39, 0.39, 0.3, 0.31, 0.31, 0.31,
]  # fmt: skip

PLATEAU_SETTINGS = {
    "patience": {"patience": 2},
    "no_patience": {"patience": 0, "factor": 0.5},
    "cooldown": {"patience": 1, "cooldown": 2, "factor": 0.5},
    "threshold_abs": {"threshold_mode": "abs", "threshold": 0.02, "patience": 1},
    "threshold_rel_large": {"threshold": 0.1, "patience": 1, "factor": 0.5},
    "mode_max": {"mode": "max", "patience": 1, "factor": 0.5},
    "mode_max_abs": {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 0},
    "min_lr_per_group": {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]},
    "min_lr_and_eps": {"patience": 0, "factor": 0.5, "min_lr": 0.01, "eps": 1e-3},
}


def metrics_for(settings: dict) -> list[float]:
    """The losses, or for mode="max" an accuracy-like metric that rises as the losses fall."""
    return LOSSES if settings.get("mode", "min") == "min" else [2.0 - loss for loss in LOSSES]


def plateau_curve(scheduler, optimizer, metrics) -> list[list[float]]:
    values = [[group["lr"] for group in optimizer.param_groups]]
    for metric in metrics:
        optimizer.step()
        scheduler.step(metric)
        values.append([group["lr"] for group in optimizer.param_groups])
    return values


@pytest.mark.parametrize("name", PLATEAU_SETTINGS)
def test_plateau_reduces_like_torch_and_ends_in_its_state(torch, name):
    settings = PLATEAU_SETTINGS[name]
    ours, theirs = our_optimizer(), their_optimizer(torch)
    our_scheduler = lr_scheduler.ReduceLROnPlateau(ours, **settings)
    their_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **settings)
    expected = plateau_curve(their_scheduler, theirs, metrics_for(settings))
    assert len({lrs[0] for lrs in expected}) > 2, "the metrics must trigger reductions"
    np.testing.assert_allclose(
        plateau_curve(our_scheduler, ours, metrics_for(settings)), expected, rtol=1e-12
    )
    assert our_scheduler.state_dict() == their_scheduler.state_dict()


def test_plateau_waits_more_than_patience_bad_steps_then_cools_down():
    optimizer = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=1)
    lrs = [lrs[0] for lrs in plateau_curve(scheduler, optimizer, [1.0] * 8)]
    # 1.0 sets the best; the 3rd bad step after it reduces; the cooldown step counts nothing.
    assert lrs == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025]
    assert scheduler.get_last_lr() == [0.025, 0.0125]


def test_plateau_improvement_must_beat_the_threshold():
    optimizer = our_optimizer()
    relative = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, threshold=0.1)
    relative.step(1.0)
    relative.step(0.91)  # not below 1.0 * (1 - 0.1): a bad step
    assert relative.best == 1.0 and optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    relative.step(0.89)
    assert relative.best == 0.89
    absolute = lr_scheduler.ReduceLROnPlateau(our_optimizer(), mode="max", threshold_mode="abs")
    absolute.step(1.0)
    absolute.step(1.00005)  # not above 1.0 + 1e-4
    assert absolute.best == 1.0 and absolute.num_bad_epochs == 1


def test_plateau_takes_a_0d_tensor_metric():
    optimizer = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
    scheduler.step(bp.tensor(2.0))
    scheduler.step(bp.tensor([3.0]).sum())
    assert scheduler.best == 2.0 and scheduler.get_last_lr() == pytest.approx([0.01, 0.005])


def test_plateau_state_dict_round_trip_continues_the_curve():
    settings = PLATEAU_SETTINGS["cooldown"]
    optimizer = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, **settings)
    plateau_curve(scheduler, optimizer, LOSSES[:12])
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert "optimizer" not in saved_scheduler

    restored_optimizer = our_optimizer()
    restored = lr_scheduler.ReduceLROnPlateau(restored_optimizer, **settings)
    restored_optimizer.load_state_dict(saved_optimizer)
    restored.load_state_dict(saved_scheduler)
    rest = LOSSES[12:]
    assert plateau_curve(restored, restored_optimizer, rest) == plateau_curve(
        scheduler, optimizer, rest
    )


def test_a_capturable_optimizer_steps_with_the_reduced_learning_rate():
    param = bp.zeros(2, requires_grad=True)
    optimizer = optim.SGD([param], lr=1.0, capturable=True)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    param.grad = bp.ones(2)
    optimizer.step()
    scheduler.step(1.0)
    scheduler.step(1.0)
    optimizer.step()
    np.testing.assert_allclose(param.numpy(), [-1.5, -1.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": 1.0}, "ReduceLROnPlateau: factor must be < 1.0, got 1.0"),
        ({"mode": "maximum"}, "ReduceLROnPlateau: mode must be 'min' or 'max', got 'maximum'"),
        ({"threshold_mode": "rel."}, "threshold_mode must be 'rel' or 'abs', got 'rel.'"),
        ({"min_lr": [0.1]}, "ReduceLROnPlateau: expected 2 values of min_lr .*, got 1"),
    ],
)
def test_plateau_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_scheduler.ReduceLROnPlateau(our_optimizer(), **kwargs)


def test_plateau_refuses_metrics_that_are_not_one_number():
    scheduler = lr_scheduler.ReduceLROnPlateau(our_optimizer())
    with pytest.raises(ValueError, match=r"number or a 0-d Tensor, got a Tensor of shape \(3,\)"):
        scheduler.step(bp.zeros(3))
    with pytest.raises(TypeError, match="ReduceLROnPlateau.step: metrics must be .*, got str"):
        scheduler.step("0.5")


def test_plateau_with_one_min_lr_follows_groups_added_later():
    optimizer = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=0.03)
    optimizer.add_param_group({"params": [bp.zeros(1, requires_grad=True)], "lr": 1.0})
    plateau_curve(scheduler, optimizer, [1.0, 1.0])
    assert scheduler.get_last_lr() == pytest.approx([0.03, 0.03, 0.1])
    listed = lr_scheduler.ReduceLROnPlateau(our_optimizer(), patience=0, min_lr=[0.0, 0.0])
    listed.optimizer.add_param_group({"params": [bp.zeros(1, requires_grad=True)]})
    listed.step(1.0)
    with pytest.raises(RuntimeError, match="has 3 parameter groups but min_lrs has 2"):
        listed.step(1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"T_0": 0}, ValueError, "CosineAnnealingWarmRestarts: T_0 must be a positive integer"),
        ({"T_0": 2, "T_mult": 1.5}, ValueError, "T_mult must be an integer >= 1, got 1.5"),
        ({"T_0": 2, "eta_min": "0"}, TypeError, "eta_min must be a number, got str"),
    ],
)
def test_warm_restarts_refuse_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        lr_scheduler.CosineAnnealingWarmRestarts(our_optimizer(), **kwargs)
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(our_optimizer(), T_0=2)
    with pytest.raises(
        ValueError, match=r"CosineAnnealingWarmRestarts.step: epoch must be a number >= 0, got -1"
    ):
        scheduler.step(-1)
