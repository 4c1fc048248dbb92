"""Every learning-rate scheduler produces PyTorch's learning-rate curve (and, for OneCycleLR,
its momentum curve), and a scheduler restored from its state_dict continues the same curve."""

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


@pytest.mark.parametrize("name", ["step", "cosine", "one_cycle_cos", "lambda"])
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
