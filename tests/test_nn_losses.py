"""Loss layers compute what PyTorch's compute, for every reduction, in value and gradient."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import isolated_registry, leaf, register_fake

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
tF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]
FLOAT32_TOL = 1e-5


def check_loss(ours, theirs, input: np.ndarray, target: np.ndarray, tol: float = 1e-10) -> None:
    x, tx = bp.tensor(input, requires_grad=True), torch.tensor(input, requires_grad=True)
    loss, expected = ours(x, bp.tensor(target)), theirs(tx, torch.tensor(target))
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    seed = np.random.default_rng(3).standard_normal(loss.shape).astype(input.dtype)
    loss.backward(bp.tensor(seed))
    expected.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


def index(array) -> bp.Tensor:
    return bp.tensor(np.asarray(array, dtype=np.int64))


def with_ignored(labels: np.ndarray, rows, ignore_index: int = -100) -> np.ndarray:
    labels = labels.copy()
    labels.reshape(-1)[rows] = ignore_index
    return labels


def probabilities(rng, shape) -> np.ndarray:
    """Random class probabilities of `shape`, classes on axis 1 (axis 0 when unbatched)."""
    axis = min(1, len(shape) - 1)
    samples = shape[:axis] + shape[axis + 1 :]
    return np.moveaxis(rng.dirichlet(np.ones(shape[axis]), samples), -1, axis)


def weighted(cls, weight: np.ndarray, **options):
    """`cls` (ours or PyTorch's loss class) built with `weight` in its own tensor type."""
    tensor = bp.tensor if cls.__module__.startswith("backprop") else torch.tensor
    return cls(tensor(weight), **options)


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
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_with_class_weights_and_ignored_targets(rng, reduction, label_smoothing):
    """The mean divides by the weights of the targets that count; smoothing weighs each class."""
    logits, labels = rng.standard_normal((7, 4)), with_ignored(rng.integers(0, 4, 7), [1, 5])
    weight = rng.uniform(0.2, 2.0, 4)
    options = {"reduction": reduction, "label_smoothing": label_smoothing}
    check_loss(
        weighted(nn.CrossEntropyLoss, weight, **options),
        weighted(torch.nn.CrossEntropyLoss, weight, **options),
        logits,
        labels,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_ignore_index_on_the_fused_path(rng, reduction, label_smoothing):
    """Without weights the fused op runs; an ignore_index that is a real class works too."""
    logits, labels = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    options = {"ignore_index": 1, "reduction": reduction, "label_smoothing": label_smoothing}
    check_loss(nn.CrossEntropyLoss(**options), torch.nn.CrossEntropyLoss(**options), logits, labels)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True], ids=["unweighted", "weighted"])
def test_cross_entropy_k_dimensional(rng, reduction, use_weight):
    """Segmentation shapes: logits (N, C, H, W) against labels (N, H, W)."""
    logits = rng.standard_normal((2, 4, 3, 5))
    labels = with_ignored(rng.integers(0, 4, (2, 3, 5)), [0, 7, 29])
    weight = bp.tensor(rng.uniform(0.2, 2.0, 4)) if use_weight else None
    tweight = torch.tensor(weight.numpy()) if use_weight else None
    check_loss(
        lambda x, t: F.cross_entropy(x, t, weight, reduction=reduction, label_smoothing=0.1),
        lambda x, t: tF.cross_entropy(x, t, tweight, reduction=reduction, label_smoothing=0.1),
        logits,
        labels,
    )


@pytest.mark.parametrize("use_weight", [False, True], ids=["unweighted", "weighted"])
def test_cross_entropy_non_contiguous_input(rng, use_weight):
    """A permuted view (N, H, C, W) -> (N, C, H, W) and a transposed (C, N) -> (N, C)."""
    weight = rng.uniform(0.2, 2.0, 4)
    ours = bp.tensor(weight) if use_weight else None
    theirs = torch.tensor(weight) if use_weight else None
    labels = with_ignored(rng.integers(0, 4, (2, 3, 5)), [4])
    check_loss(
        lambda x, t: F.cross_entropy(x.permute(0, 2, 1, 3), t, ours),
        lambda x, t: tF.cross_entropy(x.permute(0, 2, 1, 3), t, theirs),
        rng.standard_normal((2, 3, 4, 5)),
        labels,
    )
    check_loss(
        lambda x, t: F.cross_entropy(x.T, t, ours, label_smoothing=0.3),
        lambda x, t: tF.cross_entropy(x.T, t, theirs, label_smoothing=0.3),
        rng.standard_normal((4, 6)),
        rng.integers(0, 4, 6),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label", [2, -100], ids=["class", "ignored"])
def test_cross_entropy_unbatched(rng, reduction, label):
    """Logits (C,) with a 0-d label; an ignored one gives 0, or NaN for the mean."""
    logits, weight = rng.standard_normal(5), rng.uniform(0.2, 2.0, 5)
    with np.errstate(invalid="ignore", divide="ignore"):
        for options in ({}, {"label_smoothing": 0.2}):
            check_loss(
                nn.CrossEntropyLoss(reduction=reduction, **options),
                torch.nn.CrossEntropyLoss(reduction=reduction, **options),
                logits,
                np.array(label),
            )
            check_loss(
                weighted(nn.CrossEntropyLoss, weight, reduction=reduction, **options),
                weighted(torch.nn.CrossEntropyLoss, weight, reduction=reduction, **options),
                logits,
                np.array(label),
            )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("use_weight", [False, True], ids=["unweighted", "weighted"])
def test_cross_entropy_with_class_probabilities(rng, reduction, label_smoothing, use_weight):
    """Soft labels of the logits' shape; the mean divides by the number of samples."""
    options = {"reduction": reduction, "label_smoothing": label_smoothing}
    weight = rng.uniform(0.2, 2.0, 3)
    ours = bp.tensor(weight) if use_weight else None
    theirs = torch.tensor(weight) if use_weight else None
    for shape in [(4, 3), (2, 3, 2, 2), (3,)]:
        check_loss(
            lambda x, t: F.cross_entropy(x, t, ours, **options),
            lambda x, t: tF.cross_entropy(x, t, theirs, **options),
            rng.standard_normal(shape),
            probabilities(rng, shape),
        )


def test_cross_entropy_probability_targets_get_gradients(rng):
    logits, probs = rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)
    x, t = leaf(logits), leaf(probs)
    tx, tt = (torch.tensor(a, requires_grad=True) for a in (logits, probs))
    F.cross_entropy(x, t, label_smoothing=0.1).backward()
    tF.cross_entropy(tx, tt, label_smoothing=0.1).backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_targets_ignored_gives_nan_mean_and_zero_gradients(rng, reduction):
    logits, labels = rng.standard_normal((3, 4)), np.full(3, -100)
    weight = rng.uniform(0.2, 2.0, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        for options in ({}, {"label_smoothing": 0.1}):
            check_loss(
                nn.CrossEntropyLoss(reduction=reduction, **options),
                torch.nn.CrossEntropyLoss(reduction=reduction, **options),
                logits,
                labels,
            )
            check_loss(
                weighted(nn.CrossEntropyLoss, weight, reduction=reduction, **options),
                weighted(torch.nn.CrossEntropyLoss, weight, reduction=reduction, **options),
                logits,
                labels,
            )
        check_loss(
            nn.NLLLoss(reduction=reduction),
            torch.nn.NLLLoss(reduction=reduction),
            logits,
            labels,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_class_and_zero_weights(rng, reduction):
    """One class gives a loss of 0; a class of weight 0 drops out of the weighted mean."""
    check_loss(
        nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
        rng.standard_normal((4, 1)),
        np.zeros(4, dtype=np.int64),
    )
    weight, labels = np.array([0.0, 1.5, 0.0, 0.5]), np.array([0, 1, 2, 3, 0, 2])
    for ours, theirs in [
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
        (nn.NLLLoss, torch.nn.NLLLoss),
    ]:
        check_loss(
            weighted(ours, weight, reduction=reduction),
            weighted(theirs, weight, reduction=reduction),
            rng.standard_normal((6, 4)),
            labels,
        )


def test_cross_entropy_float32(rng):
    logits = rng.standard_normal((3, 5, 4)).astype(np.float32)
    labels = with_ignored(rng.integers(0, 5, (3, 4)), [2])
    weight = rng.uniform(0.2, 2.0, 5).astype(np.float32)
    for options in ({}, {"label_smoothing": 0.1}):
        check_loss(
            nn.CrossEntropyLoss(**options),
            torch.nn.CrossEntropyLoss(**options),
            logits,
            labels,
            FLOAT32_TOL,
        )
        check_loss(
            weighted(nn.CrossEntropyLoss, weight, **options),
            weighted(torch.nn.CrossEntropyLoss, weight, **options),
            logits,
            labels,
            FLOAT32_TOL,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_after_log_softmax(rng, reduction):
    log_probs = np.log(rng.dirichlet(np.ones(4), size=5))
    labels = rng.integers(0, 4, 5)
    check_loss(
        nn.NLLLoss(reduction=reduction),
        torch.nn.NLLLoss(reduction=reduction),
        log_probs,
        labels,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_with_weights_ignore_index_and_k_dimensions(rng, reduction):
    weight = rng.uniform(0.2, 2.0, 3)
    for shape in [(6, 3), (2, 3, 4), (2, 3, 2, 2), (3,)]:
        labels = rng.integers(0, 3, shape[:1] + shape[2:] if len(shape) > 1 else ())
        for options in ({"reduction": reduction}, {"reduction": reduction, "ignore_index": 2}):
            with np.errstate(invalid="ignore", divide="ignore"):  # (3,) with label 2 ignored
                check_loss(
                    weighted(nn.NLLLoss, weight, **options),
                    weighted(torch.nn.NLLLoss, weight, **options),
                    rng.standard_normal(shape),
                    labels,
                )
    check_loss(
        lambda x, t: F.nll_loss(x.transpose(1, 2), t, reduction=reduction),
        lambda x, t: tF.nll_loss(x.transpose(1, 2), t, reduction=reduction),
        rng.standard_normal((2, 4, 3)),
        with_ignored(rng.integers(0, 3, (2, 4)), [3]),
    )


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
@pytest.mark.parametrize("beta", [1.0, 0.3, 0.0])
def test_smooth_l1_loss(rng, reduction, beta):
    """Quadratic below beta, linear above: inputs spread over both sides; beta = 0 is L1."""
    input, target = 2 * rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    check_loss(
        nn.SmoothL1Loss(reduction, beta),
        torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
        input,
        target,
    )
    check_loss(
        nn.SmoothL1Loss(reduction, beta),
        torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
        input.astype(np.float32),
        target.astype(np.float32),
        FLOAT32_TOL,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_loss(rng, reduction, delta):
    input, target = 2 * rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    check_loss(
        nn.HuberLoss(reduction, delta),
        torch.nn.HuberLoss(reduction=reduction, delta=delta),
        input,
        target,
    )
    check_loss(
        lambda x, t: F.huber_loss(x.T, t.T, reduction, delta),
        lambda x, t: tF.huber_loss(x.T, t.T, reduction=reduction, delta=delta),
        input.astype(np.float32),
        target.astype(np.float32),
        FLOAT32_TOL,
    )


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss(rng, reduction, log_target):
    """Log-probabilities against probabilities (zeros included) or log-probabilities."""
    log_probs = np.log(rng.dirichlet(np.ones(5), size=4))
    probs = rng.dirichlet(np.ones(5), size=4)
    probs[0, 1] = probs[2, 4] = 0.0
    target = np.log(probs + 0.1) if log_target else probs
    check_loss(
        nn.KLDivLoss(reduction, log_target),
        torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
        log_probs,
        target,
    )
    check_loss(
        lambda x, t: F.kl_div(x.T, t.T, reduction, log_target),
        lambda x, t: tF.kl_div(x.T, t.T, reduction=reduction, log_target=log_target),
        log_probs.astype(np.float32),
        target.astype(np.float32),
        FLOAT32_TOL,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_loss_on_probabilities(rng, reduction):
    probs, targets = rng.uniform(0.05, 0.95, (4, 3)), rng.random((4, 3))
    check_loss(
        nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), probs, targets
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_loss_is_stable_for_large_logits(rng, reduction):
    logits = np.array([[-50.0, -3.0, 0.0], [0.5, 4.0, 60.0]])
    check_loss(
        nn.BCEWithLogitsLoss(reduction=reduction),
        torch.nn.BCEWithLogitsLoss(reduction=reduction),
        logits,
        rng.random((2, 3)),
    )


# -- finite differences, first and second order ---------------------------------------------

WEIGHT = np.array([0.5, 2.0, 1.0])
LABELS = np.array([[2, -100], [0, 1]])  # (N, d1) for inputs (N, C, d1) = (2, 3, 2)
PROBS = probabilities(np.random.default_rng(4), (2, 3, 2))
OFFSETS = np.random.default_rng(5).standard_normal((2, 3, 2))


GRADCHECK_CASES = {
    "cross_entropy-fused-ignored": lambda x: F.cross_entropy(x, index(LABELS), label_smoothing=0.2),
    "cross_entropy-weighted-smoothed": lambda x: F.cross_entropy(
        x, index(LABELS), bp.tensor(WEIGHT), label_smoothing=0.2
    ),
    "cross_entropy-weighted-none": lambda x: F.cross_entropy(
        x, index(LABELS), bp.tensor(WEIGHT), reduction="none"
    ),
    "cross_entropy-probabilities": lambda x: F.cross_entropy(
        x, bp.tensor(PROBS), bp.tensor(WEIGHT), label_smoothing=0.1
    ),
    "nll_loss-weighted": lambda x: F.nll_loss(x.log_softmax(1), index(LABELS), bp.tensor(WEIGHT)),
    "smooth_l1_loss": lambda x: F.smooth_l1_loss(x, bp.tensor(OFFSETS), beta=0.7),
    "huber_loss": lambda x: F.huber_loss(x, bp.tensor(OFFSETS), delta=0.7),
    "kl_div": lambda x: F.kl_div(x.log_softmax(1), bp.tensor(PROBS), "batchmean"),
    "kl_div-log_target": lambda x: F.kl_div(x, bp.tensor(OFFSETS), "batchmean", log_target=True),
}


@pytest.mark.parametrize("loss", GRADCHECK_CASES.values(), ids=GRADCHECK_CASES.keys())
def test_losses_pass_gradcheck_and_gradgradcheck(loss):
    x = leaf(np.random.default_rng(5).standard_normal((2, 3, 2)) * 1.5)
    assert bp.gradcheck(loss, x)
    assert bp.gradgradcheck(loss, x)


def test_loss_gradients_with_respect_to_targets_pass_gradcheck():
    x = leaf(np.random.default_rng(6).standard_normal((2, 3)))
    probs = leaf(np.random.default_rng(7).dirichlet(np.ones(3), 2))
    assert bp.gradgradcheck(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), x, probs)
    assert bp.gradgradcheck(lambda x, t: F.kl_div(x, t, "sum"), x, probs)
    assert bp.gradgradcheck(lambda x, t: F.huber_loss(x, t, delta=0.4), x, probs)


# -- the fused path, and no reads of device data ------------------------------------------------


def test_ignored_targets_reach_the_fused_op_unchanged(monkeypatch, rng):
    """The fused kernel itself skips the rows whose target is `ignore_index` and counts the
    others, so the targets reach it as they are, with no masking ops around it."""
    backend = bp.tensor(0.0).backend
    seen = []
    original = backend.softmax_cross_entropy_forward

    def spy(logits, targets, label_smoothing=0.0, ignore_index=-100):
        seen.append((np.array(targets), ignore_index))
        return original(logits, targets, label_smoothing, ignore_index)

    monkeypatch.setattr(backend, "softmax_cross_entropy_forward", spy)
    labels = with_ignored(rng.integers(1, 4, (2, 3)), [1, 4], ignore_index=7)
    F.cross_entropy(bp.tensor(rng.standard_normal((2, 4, 3))), index(labels), ignore_index=7)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0][0], labels.reshape(-1))
    assert seen[0][1] == 7
    weight = bp.ones(4, dtype="float64")
    F.cross_entropy(bp.tensor(rng.standard_normal((2, 4, 3))), index(labels), weight, 7)
    assert len(seen) == 1, "with class weights the loss is composed, not fused"


def test_a_mean_cross_entropy_is_four_kernels_forward_and_three_backward(monkeypatch, rng):
    """One fused op, two sums and a division forward; the seed gradient, the division's
    gradient and the fused backward (the sum's gradient is a broadcast view): on a GPU each is
    one kernel launch, and the default `ignore_index=-100` must not add any."""
    backend = bp.tensor(0.0).backend
    calls = []
    for name in ("binary", "compare", "where", "reduce", "full", "astype", "ones"):
        original = getattr(backend, name)
        monkeypatch.setattr(
            backend, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k)
        )
    x = leaf(rng.standard_normal((8, 5)))
    loss = F.cross_entropy(x, index(rng.integers(0, 5, 8)))
    assert sorted(calls) == ["binary", "reduce", "reduce"]
    calls.clear()
    loss.backward()
    assert sorted(calls) == ["binary", "ones"]


def test_a_class_out_of_range_on_the_cpu_is_an_index_error(rng):
    x = bp.tensor(rng.standard_normal((3, 4)))
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(IndexError, match=rf"{loss.__name__}: target 4 is out of bounds for 4"):
            loss(x, index([0, 4, 1]))
        with pytest.raises(IndexError, match=r"target -1 is out of bounds.*ignore_index \(-100\)"):
            loss(x, index([0, -1, 1]))
        loss(x, index([0, 9, 1]), ignore_index=9)


def test_losses_never_read_device_data(monkeypatch, rng):
    """No `.item()` or host copy inside a loss: a training step stays capturable."""
    x = leaf(rng.standard_normal((3, 4, 2)))
    labels = index(with_ignored(rng.integers(0, 4, (3, 2)), [2]))
    weight = bp.ones(4, dtype="float64")
    probs = bp.tensor(probabilities(rng, (3, 4, 2)))

    def no_host_reads(_):
        raise AssertionError("a loss read device data back to the host")

    monkeypatch.setattr(x.backend, "to_host", no_host_reads)
    losses = [
        F.cross_entropy(x, labels, label_smoothing=0.1),
        F.cross_entropy(x, labels, weight, label_smoothing=0.1),
        F.cross_entropy(x, probs, weight),
        F.nll_loss(x, labels, weight),
        F.smooth_l1_loss(x, x.detach()),
        F.huber_loss(x, x.detach()),
        F.kl_div(x, probs, "batchmean"),
    ]
    sum(losses[1:], losses[0]).backward()


def test_a_class_out_of_range_on_a_gpu_backend_gives_a_nan_loss_on_every_path(device):
    """Where reading the targets would wait for the device, a class outside [0, C) that is not
    ignore_index gives its row a NaN loss, fused or composed, and the other rows are unharmed,
    first and second derivatives included."""
    if device.type == "cpu":
        pytest.skip("the CPU reads the targets and raises IndexError (tested above)")
    logits = np.random.default_rng(0).standard_normal((4, 3))
    x = bp.tensor(logits, device=device, requires_grad=True)
    target = index([-1, 3, 2, -100]).to(device)
    weight = bp.tensor([1.0, 2.0, 0.5], dtype="float64", device=device)
    losses = [
        F.cross_entropy(x, target, reduction="none", label_smoothing=0.1),
        F.cross_entropy(x, target, weight, reduction="none"),
        F.nll_loss(x, target, reduction="none"),
    ]
    for loss in losses:
        values = loss.numpy()
        assert np.isnan(values[:2]).all() and np.isfinite(values[2]) and values[3] == 0
    (grad,) = bp.grad(sum(loss[2:].sum() for loss in losses), [x], create_graph=True)
    assert np.isfinite(grad.numpy()).all()
    assert np.isfinite(bp.grad(grad.sum(), [x])[0].numpy()).all()


def test_class_losses_on_every_device(device, rng):
    """Ignored targets, class weights and K dimensions on each backend (Numba's CUDA simulator
    too), matching the NumPy backend in value and gradient."""
    logits = rng.standard_normal((2, 3, 2))
    labels = with_ignored(rng.integers(0, 3, (2, 2)), [1])
    weight = rng.uniform(0.2, 2.0, 3)

    def run(where):
        x = bp.tensor(logits, device=where, requires_grad=True)
        t, w = index(labels).to(where), bp.tensor(weight, device=where)
        loss = F.cross_entropy(x, t, label_smoothing=0.1) + F.cross_entropy(x, t, w)
        loss = loss + F.nll_loss(x.log_softmax(1), t, w, reduction="sum")
        loss.backward()
        return loss.numpy(), x.grad.numpy()

    for ours, expected in zip(run(device), run("cpu")):
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


# -- the layers' options, state and repr ---------------------------------------------------------


def test_class_weights_are_a_buffer_named_weight_as_in_pytorch():
    weight = np.array([1.0, 2.0, 0.5])
    for ours, theirs in [
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
        (nn.NLLLoss, torch.nn.NLLLoss),
    ]:
        assert list(ours().state_dict()) == list(theirs().state_dict()) == []
        loss = weighted(ours, weight)
        assert list(loss.state_dict()) == list(weighted(theirs, weight).state_dict()) == ["weight"]
        assert list(loss.parameters()) == []
        np.testing.assert_array_equal(loss.weight.numpy(), weight)
        loss.load_state_dict({"weight": bp.tensor([3.0, 3.0, 3.0])})
        np.testing.assert_array_equal(loss.weight.numpy(), [3.0, 3.0, 3.0])


def test_loss_options_are_validated_and_shown():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    with pytest.raises(
        TypeError,
        match=r"CrossEntropyLoss: weight must be a Tensor of shape \(C,\) or None, got 'sum'",
    ):
        nn.CrossEntropyLoss("sum")
    with pytest.raises(
        ValueError, match=r"NLLLoss: weight must have shape \(C,\), one per class, got \(2, 2\)"
    ):
        nn.NLLLoss(bp.ones(2, 2))
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be >= 0, got -0.5"):
        nn.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match="HuberLoss: delta must be > 0, got 0"):
        nn.HuberLoss(delta=0)
    with pytest.raises(
        ValueError, match="KLDivLoss: reduction must be one of .*'batchmean'.*got 'avg'"
    ):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(
        ValueError, match="CrossEntropyLoss: reduction must be one of .* got 'batchmean'"
    ):
        nn.CrossEntropyLoss(reduction="batchmean")
    assert repr(nn.L1Loss()) == "L1Loss()"
    assert repr(nn.L1Loss("sum")) == "L1Loss(reduction='sum')"
    assert repr(nn.CrossEntropyLoss(bp.ones(3))) == "CrossEntropyLoss()"
    assert (
        repr(nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1))
        == "CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)"
    )
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(beta=0.5)"
    assert repr(nn.HuberLoss("sum", 2.0)) == "HuberLoss(reduction='sum', delta=2.0)"
    assert (
        repr(nn.KLDivLoss("batchmean", True)) == "KLDivLoss(reduction='batchmean', log_target=True)"
    )


# -- bad input: the op, what it got, what it needs ------------------------------------------------

LOGITS = bp.zeros(3, 4, dtype="float64")
LABELS3 = index([0, 1, 2])


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_class_weight_errors(loss):
    op = loss.__name__
    with pytest.raises(
        ValueError,
        match=rf"{op}: weight must have shape \(C,\) = \(4,\), one per class of input \(3, 4\), "
        r"got \(3,\)",
    ):
        loss(LOGITS, LABELS3, bp.ones(3, dtype="float64"))
    with pytest.raises(
        TypeError, match=f"{op}: weight dtype float32 differs from input dtype float64"
    ):
        loss(LOGITS, LABELS3, bp.ones(4, dtype="float32"))
    with pytest.raises(
        TypeError, match=rf"{op}: weight must be a Tensor of shape \(C,\) or None, got \[1"
    ):
        loss(LOGITS, LABELS3, [1.0] * 4)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_class_target_errors(loss):
    op = loss.__name__
    with pytest.raises(
        TypeError,
        match=rf"{op}: target must be an integer Tensor of class indices, got float64 \(3,\)",
    ):
        loss(LOGITS, bp.tensor([0.0, 1.0, 2.0], dtype="float64"))
    with pytest.raises(
        ValueError,
        match=rf"{op}: target shape \(2, 4\) does not fit input \(2, 3, 5\)"
        r".*expected \(2, 5\), got \(2, 4\)",
    ):
        loss(bp.zeros(2, 3, 5), index(np.zeros((2, 4))))
    with pytest.raises(
        ValueError,
        match=rf"{op}: target shape \(1,\) does not fit input \(3,\).*expected \(\), got \(1,\)",
    ):
        loss(bp.zeros(3), index([0]))
    with pytest.raises(
        ValueError, match=rf"{op}: input must be \(C,\), \(N, C\) or \(N, C, d1, ...\).*got \(\)"
    ):
        loss(bp.tensor(1.0), index(0))
    with pytest.raises(TypeError, match=f"{op}: ignore_index must be an int, got 1.5"):
        loss(LOGITS, LABELS3, ignore_index=1.5)
    with pytest.raises(
        ValueError, match=rf"{op}: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"
    ):
        loss(LOGITS, LABELS3, reduction="avg")


def test_probability_target_errors():
    probs = bp.full((3, 4), 0.25, dtype="float64")
    with pytest.raises(
        TypeError,
        match=r"cross_entropy: a target of the input's shape \(3, 4\) holds class "
        "probabilities and must be float64 like the input, got int64",
    ):
        F.cross_entropy(LOGITS, index(np.zeros((3, 4))))
    with pytest.raises(TypeError, match="must be float64 like the input, got float32"):
        F.cross_entropy(LOGITS, bp.full((3, 4), 0.25, dtype="float32"))
    with pytest.raises(
        ValueError,
        match="cross_entropy: ignore_index applies to class-index targets, not to probabilities",
    ):
        F.cross_entropy(LOGITS, probs, ignore_index=0)
    with pytest.raises(
        ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\], got -0.1"
    ):
        F.cross_entropy(LOGITS, probs, label_smoothing=-0.1)


def test_targets_and_weights_on_another_device_are_errors(monkeypatch):
    isolated_registry(monkeypatch)
    register_fake("numpy_alt")
    alt = bp.device(backend="numpy_alt")
    with pytest.raises(
        RuntimeError, match="cross_entropy: input is on .* but weight on .*numpy_alt"
    ):
        F.cross_entropy(LOGITS, LABELS3, bp.ones(4, dtype="float64", device=alt))
    with pytest.raises(RuntimeError, match="nll_loss: input is on .* but target on .*numpy_alt"):
        F.nll_loss(LOGITS, index([0, 1, 2]).to(alt))
    with pytest.raises(
        RuntimeError, match="cross_entropy: input is on .* but target on .*numpy_alt"
    ):
        F.cross_entropy(LOGITS, bp.full((3, 4), 0.25, dtype="float64", device=alt))


def test_regression_and_kl_div_errors():
    x = bp.zeros(2, 3)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0, got -1"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0, got 0.0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0, got -2"):
        F.huber_loss(x, x, delta=-2)
    with pytest.raises(
        ValueError, match=r"smooth_l1_loss: input shape \(2, 3\) and target shape \(3,\) differ"
    ):
        F.smooth_l1_loss(x, bp.zeros(3))
    with pytest.raises(
        ValueError, match=r"huber_loss: reduction must be one of .*, got 'batchmean'"
    ):
        F.huber_loss(x, x, reduction="batchmean")
    with pytest.raises(
        ValueError,
        match=r"kl_div: reduction must be one of \('mean', 'batchmean', 'sum', 'none'\), got 'avg'",
    ):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(TypeError, match="kl_div: target must be a Tensor, got list"):
        F.kl_div(x, [[0.0] * 3] * 2)
