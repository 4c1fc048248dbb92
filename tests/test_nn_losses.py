"""Loss layers compute what PyTorch's compute, for every reduction, in value and gradient."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import nn

torch = pytest.importorskip("torch")

REDUCTIONS = ["mean", "sum", "none"]


def check_loss(ours, theirs, input: np.ndarray, target: np.ndarray, tol: float = 1e-10) -> None:
    x, tx = bp.tensor(input, requires_grad=True), torch.tensor(input, requires_grad=True)
    loss, expected = ours(x, bp.tensor(target)), theirs(tx, torch.tensor(target))
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    seed = np.random.default_rng(3).standard_normal(loss.shape)
    loss.backward(bp.tensor(seed))
    expected.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_loss(rng, reduction, label_smoothing):
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    check_loss(
        nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing),
        torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing),
        logits,
        labels,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_after_log_softmax(rng, reduction):
    log_probs = np.log(rng.dirichlet(np.ones(4), size=5))
    labels = rng.integers(0, 4, 5)
    check_loss(nn.NLLLoss(reduction), torch.nn.NLLLoss(reduction=reduction), log_probs, labels)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(nn.MSELoss, torch.nn.MSELoss), (nn.L1Loss, torch.nn.L1Loss)],
    ids=["MSELoss", "L1Loss"],
)
def test_regression_losses(rng, reduction, ours, theirs):
    check_loss(
        ours(reduction),
        theirs(reduction=reduction),
        rng.standard_normal((3, 4)),
        rng.random((3, 4)),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_loss_on_probabilities(rng, reduction):
    probs, targets = rng.uniform(0.05, 0.95, (4, 3)), rng.random((4, 3))
    check_loss(nn.BCELoss(reduction), torch.nn.BCELoss(reduction=reduction), probs, targets)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_loss_is_stable_for_large_logits(rng, reduction):
    logits = np.array([[-50.0, -3.0, 0.0], [0.5, 4.0, 60.0]])
    check_loss(
        nn.BCEWithLogitsLoss(reduction),
        torch.nn.BCEWithLogitsLoss(reduction=reduction),
        logits,
        rng.random((2, 3)),
    )


def test_loss_options_are_validated_and_shown():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    assert repr(nn.L1Loss()) == "L1Loss()"
    assert repr(nn.L1Loss("sum")) == "L1Loss(reduction='sum')"
