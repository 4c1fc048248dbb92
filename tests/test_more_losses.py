"""The margin, embedding and likelihood losses, and BCE's weights, compute what PyTorch's
compute: values and the gradient of every float input, for every reduction, in float64 and
float32, twice differentiable, validated with errors that name the op."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import backprop as bp
import backprop.nn.functional as F
from backprop import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def signs(shape, seed):
    """Targets of +1 and -1, as float64 host data."""
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)


def uniform(shape, low, high, seed):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def normal(shape, seed, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def as_pair(value, dtype, differentiable):
    """`value` (host data) as a backprop and a PyTorch tensor; float data in `dtype` (PyTorch
    gets it in float64), requiring grad when `differentiable`; integers stay int64."""
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        return bp.tensor(array.astype(np.int64)), torch.tensor(array.astype(np.int64))
    array = array.astype(dtype)
    ours = bp.tensor(array, requires_grad=differentiable)
    return ours, torch.tensor(array.astype(np.float64), requires_grad=differentiable)


def check(fn, arrays, dtype="float64", grads=None, **options):
    """`fn(F, *tensors, **options)` equals PyTorch's in value and in the gradient of each input
    numbered in `grads` (every float input when None), for one random output gradient."""
    floats = [i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f"]
    grads = floats if grads is None else grads
    pairs = [as_pair(a, dtype, i in grads) for i, a in enumerate(arrays)]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    out, expected = fn(F, *ours, **options), fn(TF, *theirs, **options)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = normal(out.shape, seed=7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for i in grads:
        assert_close(ours[i].grad.numpy(), theirs[i].grad.numpy(), dtype, err_msg=f"grad {i}")


# -- binary cross-entropy with weights ---------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (3,), (4, 1), (4, 3)])
def test_binary_cross_entropy_scales_by_a_broadcast_weight(dtype, reduction, weight_shape):
    arrays = [uniform((4, 3), 0.02, 0.98, 1), uniform((4, 3), 0, 1, 2)]
    if weight_shape is None:
        check(lambda L, p, t: L.binary_cross_entropy(p, t, reduction=reduction), arrays, dtype)
        return
    arrays.append(uniform(weight_shape, 0.2, 2.0, 3))
    loss = lambda L, p, t, w: L.binary_cross_entropy(p, t, w, reduction=reduction)  # noqa: E731
    check(loss, arrays, dtype, grads=(0, 1))  # PyTorch's weight takes no gradient


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weight_shape", [None, (3,), (4, 3)])
def test_binary_cross_entropy_with_logits_weights_and_positive_weights(
    dtype, reduction, weighted, pos_weight_shape
):
    logits = normal((4, 3), 1, scale=4.0)
    logits[0] = [-40.0, 30.0, 0.0]
    arrays = [logits, uniform((4, 3), 0, 1, 2), uniform((3,), 0.2, 2.0, 3) if weighted else None]
    arrays.append(None if pos_weight_shape is None else uniform(pos_weight_shape, 0.2, 3.0, 4))
    present = [a for a in arrays if a is not None]

    def loss(L, x, t, *rest):
        it = iter(rest)
        weight = next(it) if weighted else None
        pos_weight = next(it) if pos_weight_shape else None
        return L.binary_cross_entropy_with_logits(
            x, t, weight, reduction=reduction, pos_weight=pos_weight
        )

    check(loss, present, dtype, grads=(0, 1))  # PyTorch's weights take no gradient


def test_binary_cross_entropy_with_logits_is_exact_and_finite_for_huge_logits():
    """log sigmoid has no cut-off: at |x| = 25 the value keeps log1p(exp(-25)) as PyTorch's."""
    logits = np.array([-800.0, -25.0, -1e-3, 0.0, 25.0, 800.0])
    check(
        lambda L, x, t: L.binary_cross_entropy_with_logits(x, t, reduction="none"),
        [logits, np.array([1.0, 1.0, 0.3, 0.5, 0.0, 0.0])],
    )


def test_binary_cross_entropy_with_logits_has_the_true_second_derivative_at_zero():
    x = bp.tensor([0.0], dtype="float64", requires_grad=True)
    (grad,) = bp.autograd.grad(
        F.binary_cross_entropy_with_logits(x, bp.zeros_like(x)), x, create_graph=True
    )
    (second,) = bp.autograd.grad(grad.sum(), x)
    assert_close(grad.numpy(), np.array([0.5]))
    assert_close(second.numpy(), np.array([0.25]))


# -- margin and embedding losses ---------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss(dtype, reduction, margin):
    arrays = [normal((6,), 1), normal((6,), 2), signs((6,), 3)]
    check(
        lambda L, a, b, y: L.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction),
        arrays,
        dtype,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss_adds_both_terms_for_targets_other_than_plus_minus_one(
    dtype, reduction
):
    target = signs((4, 3), 2)
    target[0, 0] = 0.5
    check(
        lambda L, x, y: L.hinge_embedding_loss(x, y, margin=0.8, reduction=reduction),
        [normal((4, 3), 1), target],
        dtype,
        grads=(0,),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(dtype, reduction):
    check(
        lambda L, x, y: L.soft_margin_loss(x, y, reduction=reduction),
        [normal((4, 3), 1, scale=3.0), signs((4, 3), 2)],
        dtype,
        grads=(0,),  # PyTorch's target takes no gradient
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 5)])
def test_multilabel_soft_margin_loss_averages_over_the_last_axis(dtype, reduction, weighted, shape):
    targets = np.random.default_rng(2).integers(0, 2, shape).astype(np.float64)
    arrays = [normal(shape, 1, scale=3.0), targets]
    if weighted:
        arrays.append(uniform(shape[-1:], 0.2, 2.0, 3))
    check(
        lambda L, x, y, *w: L.multilabel_soft_margin_loss(x, y, *w, reduction=reduction),
        arrays,
        dtype,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss(dtype, reduction, p, weighted):
    arrays = [normal((5, 4), 1), np.array([0, 3, 1, 1, 2])]
    if weighted:
        arrays.append(uniform((4,), 0.2, 2.0, 3))
    check(
        lambda L, x, y, *w: L.multi_margin_loss(
            x, y, p=p, margin=0.7, weight=w[0] if w else None, reduction=reduction
        ),
        arrays,
        dtype,
        grads=(0,),  # PyTorch's weight takes no gradient
    )


@pytest.mark.parametrize("target", [np.array(2), np.array([2])])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss_of_one_sample_keeps_the_target_shape(target, reduction):
    check(lambda L, x, y: L.multi_margin_loss(x, y, reduction=reduction), [normal((4,), 1), target])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(dtype, reduction, margin):
    target = signs((5,), 3)
    target[0] = 0.0
    check(
        lambda L, a, b, y: L.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction),
        [normal((5, 6), 1), normal((5, 6), 2), target],
        dtype,
        grads=(0, 1),
    )


@pytest.mark.parametrize("target", [1.0, -1.0])
def test_cosine_embedding_loss_of_one_pair_takes_a_0d_target(target):
    check(
        lambda L, a, b, y: L.cosine_embedding_loss(a, b, y, margin=-0.5),
        [normal((6,), 1), normal((6,), 2), np.array(target)],
        grads=(0, 1),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss(dtype, reduction, p, swap):
    arrays = [normal((5, 4), 1), normal((5, 4), 2), normal((5, 4), 3)]
    check(
        lambda L, a, pos, neg: L.triplet_margin_loss(
            a, pos, neg, margin=2.0, p=p, eps=1e-3, swap=swap, reduction=reduction
        ),
        arrays,
        dtype,
    )


def test_triplet_margin_loss_of_one_triplet():
    check(
        lambda L, a, pos, neg: L.triplet_margin_loss(a, pos, neg, reduction="none"),
        [normal((4,), 1), normal((4,), 2), normal((4,), 3)],
    )


# -- likelihood losses -------------------------------------------------------------------------


COUNTS = np.array([[0.0, 1.0, 2.0], [5.0, 0.5, 3.0], [1.5, 7.0, 0.0], [4.0, 2.0, 1.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_of_log_rates(dtype, reduction, full):
    check(
        lambda L, x, t: L.poisson_nll_loss(x, t, full=full, reduction=reduction),
        [normal((4, 3), 1), COUNTS],
        dtype,
        grads=(0,),  # PyTorch's target gradient is NaN at 0 with full=True
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_of_rates(dtype, reduction, full):
    check(
        lambda L, x, t: L.poisson_nll_loss(
            x, t, log_input=False, full=full, eps=1e-4, reduction=reduction
        ),
        [uniform((4, 3), 0.1, 3.0, 1), COUNTS + 0.25],
        dtype,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
def test_gaussian_nll_loss_broadcasts_the_variance_as_pytorch(dtype, reduction, full, var_shape):
    var = uniform(var_shape, 0.3, 2.0, 3)
    var.reshape(-1)[0] = 1e-8  # below eps: clamped in value, its gradient passes unchanged
    check(
        lambda L, x, t, v: L.gaussian_nll_loss(x, t, v, full=full, eps=1e-5, reduction=reduction),
        [normal((4, 3), 1), normal((4, 3), 2), var],
        dtype,
    )


def test_gaussian_nll_loss_takes_a_number_as_the_variance():
    check(
        lambda L, x, t: L.gaussian_nll_loss(x, t, 0.7, full=True),
        [normal((4, 3), 1), normal((4, 3), 2)],
    )


# -- second derivatives, layouts and edge shapes -----------------------------------------------


def leaves(*arrays):
    return [bp.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]


def constant(array):
    return bp.tensor(np.asarray(array))


SIGNS = constant(signs((2, 3), 9))
INDICES = constant(np.array([2, 0]))
GRADGRAD_CASES = {
    "bce": (
        lambda p, w: F.binary_cross_entropy(p, constant(uniform((2, 3), 0, 1, 8)), w),
        [uniform((2, 3), 0.1, 0.9, 1), uniform((3,), 0.5, 2, 2)],
    ),
    "bce_with_logits": (
        lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        [normal((2, 3), 1, 2.0), uniform((2, 3), 0, 1, 2), uniform((3,), 0.5, 2, 3)],
    ),
    "margin_ranking": (
        lambda a, b: F.margin_ranking_loss(a, b, SIGNS, 0.1),
        [normal((2, 3), 1), normal((2, 3), 2)],
    ),
    "hinge_embedding": (lambda x: F.hinge_embedding_loss(x, SIGNS, 0.5), [normal((2, 3), 1)]),
    "soft_margin": (lambda x, y: F.soft_margin_loss(x, y), [normal((2, 3), 1), signs((2, 3), 2)]),
    "multilabel_soft_margin": (
        lambda x, w: F.multilabel_soft_margin_loss(x, constant(uniform((2, 3), 0, 1, 8)), w),
        [normal((2, 3), 1), uniform((3,), 0.5, 2, 2)],
    ),
    "multi_margin_p2": (
        lambda x, w: F.multi_margin_loss(x, INDICES, 2, 0.8, w),
        [normal((2, 3), 1), uniform((3,), 0.5, 2, 2)],
    ),
    "cosine_embedding": (
        lambda a, b: F.cosine_embedding_loss(a, b, SIGNS[:, 0], -0.9),
        [normal((2, 3), 1), normal((2, 3), 2)],
    ),
    "triplet_swap_p3": (
        lambda a, p, n: F.triplet_margin_loss(a, p, n, 3.0, p=3, swap=True),
        [normal((2, 3), 1), normal((2, 3), 2), normal((2, 3), 3)],
    ),
    "poisson_full": (
        lambda x, t: F.poisson_nll_loss(x, t, log_input=False, full=True),
        [uniform((2, 3), 0.5, 2, 1), uniform((2, 3), 1.2, 4, 2)],
    ),
    "gaussian": (
        lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True),
        [normal((2, 3), 1), normal((2, 3), 2), uniform((2, 1), 0.5, 2, 3)],
    ),
}


@pytest.mark.parametrize("case", GRADGRAD_CASES.values(), ids=GRADGRAD_CASES.keys())
def test_losses_pass_gradcheck_and_gradgradcheck(case):
    loss, arrays = case
    assert bp.gradcheck(loss, *leaves(*arrays))
    assert bp.gradgradcheck(loss, *leaves(*arrays))


def test_permuted_views_give_the_same_losses_as_pytorch():
    def permuted(L, a, b, c):
        a, b, c = (t.permute(1, 0) for t in (a, b, c))
        return (
            L.triplet_margin_loss(a, b, c, swap=True)
            + L.multilabel_soft_margin_loss(a, L.sigmoid(b), c.abs())
            + L.gaussian_nll_loss(a, b, c.abs() + 0.1)
        )

    check(permuted, [normal((4, 3), 1), normal((4, 3), 2), normal((4, 3), 3)])


EMPTY_CASES = {
    "bce_with_logits": lambda L, x, r: L.binary_cross_entropy_with_logits(
        x, x.detach(), reduction=r
    ),
    "margin_ranking": lambda L, x, r: L.margin_ranking_loss(
        x, x * 2, x.detach().sign(), reduction=r
    ),
    "soft_margin": lambda L, x, r: L.soft_margin_loss(x, x.detach().sign(), reduction=r),
    "multilabel_soft_margin": lambda L, x, r: L.multilabel_soft_margin_loss(
        x, x.detach(), reduction=r
    ),
    "triplet_margin": lambda L, x, r: L.triplet_margin_loss(x, x * 2, x * 3, reduction=r),
    "poisson_nll": lambda L, x, r: L.poisson_nll_loss(x, x.detach(), reduction=r),
    "gaussian_nll": lambda L, x, r: L.gaussian_nll_loss(x, x.detach(), 1.0, reduction=r),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", EMPTY_CASES.values(), ids=EMPTY_CASES.keys())
@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value")
def test_an_empty_batch_gives_what_pytorch_gives(case, reduction):
    """Empty means are NaN and empty sums 0, as in PyTorch, with an empty gradient."""
    x, tx = (
        bp.zeros(0, 3, dtype="float64", requires_grad=True),
        torch.zeros(0, 3, dtype=torch.float64, requires_grad=True),
    )
    out, expected = case(F, x, reduction), case(TF, tx, reduction)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    out.sum().backward()
    assert x.grad.shape == (0, 3)


def test_size_one_axes_and_a_single_class():
    check(
        lambda L, x, y: L.multi_margin_loss(x, y, reduction="none"),
        [normal((3, 1), 1), np.zeros(3, int)],
    )
    check(lambda L, x, y: L.multilabel_soft_margin_loss(x, y), [normal((1, 1), 1), np.ones((1, 1))])
    check(
        lambda L, a, b, y: L.cosine_embedding_loss(a, b, y),
        [normal((1, 1), 1), normal((1, 1), 2), np.ones(1)],
        grads=(0, 1),
    )


# -- layers ------------------------------------------------------------------------------------


def test_bce_layers_hold_their_weights_as_buffers_named_as_in_pytorch():
    weight, pos_weight = uniform((3,), 0.5, 2, 1), uniform((3,), 0.5, 2, 2)
    theirs = torch.nn.BCEWithLogitsLoss(
        torch.tensor(weight), reduction="sum", pos_weight=torch.tensor(pos_weight)
    )
    ours = nn.BCEWithLogitsLoss(
        bp.zeros(3, dtype="float64"), reduction="sum", pos_weight=bp.zeros(3, dtype="float64")
    )
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    x, t = normal((4, 3), 3), uniform((4, 3), 0, 1, 4)
    expected = theirs(torch.tensor(x), torch.tensor(t)).item()
    assert_close(ours(bp.tensor(x), bp.tensor(t)).numpy(), np.array(expected))
    for layer, reference in [
        (nn.BCELoss(bp.tensor(weight)), torch.nn.BCELoss(torch.tensor(weight))),
        (
            nn.MultiLabelSoftMarginLoss(bp.tensor(weight)),
            torch.nn.MultiLabelSoftMarginLoss(torch.tensor(weight)),
        ),
        (
            nn.MultiMarginLoss(weight=bp.tensor(weight)),
            torch.nn.MultiMarginLoss(weight=torch.tensor(weight)),
        ),
    ]:
        assert list(layer.state_dict()) == list(reference.state_dict()) == ["weight"]
    assert list(nn.BCELoss().state_dict()) == list(torch.nn.BCELoss().state_dict()) == []


LAYERS = [
    (nn.BCELoss, torch.nn.BCELoss, {}, "probabilities"),
    (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, {}, "unit"),
    (nn.MarginRankingLoss, torch.nn.MarginRankingLoss, {"margin": 0.3}, "pair"),
    (nn.HingeEmbeddingLoss, torch.nn.HingeEmbeddingLoss, {"margin": 0.5}, "signs"),
    (nn.SoftMarginLoss, torch.nn.SoftMarginLoss, {}, "signs"),
    (nn.MultiLabelSoftMarginLoss, torch.nn.MultiLabelSoftMarginLoss, {}, "unit"),
    (nn.MultiMarginLoss, torch.nn.MultiMarginLoss, {"p": 2, "margin": 0.5}, "classes"),
    (nn.CosineEmbeddingLoss, torch.nn.CosineEmbeddingLoss, {"margin": 0.1}, "pair_rows"),
    (nn.TripletMarginLoss, torch.nn.TripletMarginLoss, {"p": 1.0, "swap": True}, "triplet"),
    (nn.PoissonNLLLoss, torch.nn.PoissonNLLLoss, {"full": True}, "counts"),
    (nn.GaussianNLLLoss, torch.nn.GaussianNLLLoss, {"full": True, "eps": 1e-4}, "variance"),
]
LAYER_ARGUMENTS = {
    "probabilities": [uniform((4, 3), 0.1, 0.9, 1), uniform((4, 3), 0, 1, 2)],
    "unit": [normal((4, 3), 1), uniform((4, 3), 0, 1, 2)],
    "pair": [normal((4,), 1), normal((4,), 2), signs((4,), 3)],
    "signs": [normal((4, 3), 1), signs((4, 3), 2)],
    "classes": [normal((4, 3), 1), np.array([0, 2, 1, 2])],
    "pair_rows": [normal((4, 3), 1), normal((4, 3), 2), signs((4,), 3)],
    "triplet": [normal((4, 3), 1), normal((4, 3), 2), normal((4, 3), 3)],
    "counts": [normal((4, 3), 1), COUNTS],
    "variance": [normal((4, 3), 1), normal((4, 3), 2), uniform((4, 1), 0.5, 2, 3)],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layer", LAYERS, ids=[layer[0].__name__ for layer in LAYERS])
def test_loss_layers_compute_their_functions(layer, reduction):
    ours, theirs, options, arguments = layer
    ours, theirs = ours(**options, reduction=reduction), theirs(**options, reduction=reduction)
    check(
        lambda L, *args: (ours if L is F else theirs)(*args), LAYER_ARGUMENTS[arguments], grads=(0,)
    )


def test_loss_layers_show_the_options_that_differ_from_the_defaults():
    assert repr(nn.MarginRankingLoss()) == "MarginRankingLoss()"
    assert repr(nn.MultiMarginLoss(p=2, margin=0.5)) == "MultiMarginLoss(p=2, margin=0.5)"
    assert repr(nn.TripletMarginLoss(swap=True, reduction="sum")) == (
        "TripletMarginLoss(swap=True, reduction='sum')"
    )
    assert repr(nn.GaussianNLLLoss(full=True)) == "GaussianNLLLoss(full=True)"
    assert repr(nn.PoissonNLLLoss(log_input=False)) == "PoissonNLLLoss(log_input=False)"
    assert repr(nn.BCEWithLogitsLoss(pos_weight=bp.ones(3))) == "BCEWithLogitsLoss()"


def test_loss_layers_validate_their_options():
    with pytest.raises(ValueError, match=r"MultiMarginLoss: p must be 1 or 2, got 3"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match=r"MultiMarginLoss: weight must have shape \(C,\)"):
        nn.MultiMarginLoss(weight=bp.ones(2, 2))
    with pytest.raises(ValueError, match=r"TripletMarginLoss: margin must be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(TypeError, match=r"BCEWithLogitsLoss: pos_weight must be a Tensor"):
        nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"SoftMarginLoss: reduction must be one of"):
        nn.SoftMarginLoss(reduction="batchmean")
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)


# -- errors ------------------------------------------------------------------------------------

X = bp.zeros(4, 3, dtype="float64")
ROWS = bp.zeros(4, dtype="float64")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.binary_cross_entropy(X + 1.5, X),
            ValueError,
            r"binary_cross_entropy: input "
            r"holds probabilities and must be in \[0, 1\], got 1.5",
        ),
        (
            lambda: F.binary_cross_entropy(X, X, bp.ones(4)),
            TypeError,
            r"binary_cross_entropy: weight dtype float32 differs from input dtype float64",
        ),
        (
            lambda: F.binary_cross_entropy(X, X, bp.ones(2, dtype="float64")),
            ValueError,
            r"binary_cross_entropy: weight shape \(2,\) does not broadcast to \(4, 3\)",
        ),
        (
            lambda: F.binary_cross_entropy(X, X, reduction="avg"),
            ValueError,
            r"binary_cross_entropy: reduction must be one of",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(
                X, X, pos_weight=bp.ones(5, 3, dtype="float64")
            ),
            ValueError,
            r"binary_cross_entropy_with_logits: pos_weight shape \(5, 3\) does not "
            r"broadcast to \(4, 3\)",
        ),
        (
            lambda: F.margin_ranking_loss(ROWS, X, ROWS),
            ValueError,
            r"margin_ranking_loss: input1 shape \(4,\) and input2 shape \(4, 3\) differ",
        ),
        (
            lambda: F.margin_ranking_loss(ROWS, ROWS, ROWS.long()),
            TypeError,
            r"margin_ranking_loss: target dtype int64 differs from input dtype float64",
        ),
        (
            lambda: F.hinge_embedding_loss(X, [1, -1]),
            TypeError,
            r"hinge_embedding_loss: target must be a Tensor, got list",
        ),
        (
            lambda: F.soft_margin_loss(X.long(), X),
            TypeError,
            r"soft_margin_loss: expected a float32 or float64 tensor, got int64",
        ),
        (
            lambda: F.multilabel_soft_margin_loss(ROWS.sum(), ROWS.sum()),
            ValueError,
            r"multilabel_soft_margin_loss: input must be \(C,\) or \(N, C\)",
        ),
        (
            lambda: F.multi_margin_loss(X, bp.tensor([0, 1, 3, 2])),
            IndexError,
            r"multi_margin_loss: target 3 is out of bounds for 3 classes",
        ),
        (
            lambda: F.multi_margin_loss(X, bp.tensor([0, 1])),
            ValueError,
            r"multi_margin_loss: target shape \(2,\) does not fit input \(4, 3\); expected \(4,\)",
        ),
        (
            lambda: F.multi_margin_loss(X, ROWS),
            TypeError,
            r"multi_margin_loss: target must be an integer Tensor of class indices",
        ),
        (
            lambda: F.multi_margin_loss(X, bp.tensor([0, 1, 2, 2]), p=3),
            ValueError,
            r"multi_margin_loss: p must be 1 or 2, got 3",
        ),
        (
            lambda: F.multi_margin_loss(bp.zeros(2, 2, 2), bp.tensor([0, 1])),
            ValueError,
            r"multi_margin_loss: input must be \(C,\) or \(N, C\) with at least one class",
        ),
        (
            lambda: F.multi_margin_loss(X, bp.tensor([0, 1, 2, 2]), weight=ROWS),
            ValueError,
            r"multi_margin_loss: weight must have shape \(C,\) = \(3,\)",
        ),
        (
            lambda: F.cosine_embedding_loss(X, X, X),
            ValueError,
            r"cosine_embedding_loss: target shape \(4, 3\) does not broadcast to \(4,\)",
        ),
        (
            lambda: F.cosine_embedding_loss(X[None], X[None], ROWS),
            ValueError,
            r"cosine_embedding_loss: inputs must be \(N, D\) or \(D,\), got \(1, 4, 3\)",
        ),
        (
            lambda: F.triplet_margin_loss(X, X, X, margin=0.0),
            ValueError,
            r"triplet_margin_loss: margin must be greater than 0, got 0.0",
        ),
        (
            lambda: F.triplet_margin_loss(X, X, X, p=0),
            ValueError,
            r"triplet_margin_loss: p must be a positive number or inf, got 0",
        ),
        (
            lambda: F.triplet_margin_loss(X, X, ROWS),
            ValueError,
            r"triplet_margin_loss: anchor shape \(4, 3\) and negative shape \(4,\) differ",
        ),
        (
            lambda: F.poisson_nll_loss(X, ROWS),
            ValueError,
            r"poisson_nll_loss: input shape \(4, 3\) and target shape \(4,\) differ",
        ),
        (
            lambda: F.gaussian_nll_loss(X, X, -1.0),
            ValueError,
            r"gaussian_nll_loss: var must be non-negative, got -1.0",
        ),
        (
            lambda: F.gaussian_nll_loss(X, X, X - 1),
            ValueError,
            r"gaussian_nll_loss: var must be non-negative, got a negative entry",
        ),
        (
            lambda: F.gaussian_nll_loss(X, X, bp.ones(4, 2, dtype="float64")),
            ValueError,
            r"gaussian_nll_loss: var shape \(4, 2\) does not fit input \(4, 3\)",
        ),
        (
            lambda: F.gaussian_nll_loss(X, X, "1"),
            TypeError,
            r"gaussian_nll_loss: var must be a Tensor or a number, got str",
        ),
        (
            lambda: F.gaussian_nll_loss(X, X, 1.0, reduction="batchmean"),
            ValueError,
            r"gaussian_nll_loss: reduction must be one of",
        ),
    ],
)
def test_losses_raise_errors_that_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- devices -----------------------------------------------------------------------------------


def test_losses_on_every_device_match_the_cpu(device):
    """Tiny shapes; on a GPU the ±1 and class targets are used arithmetically, never read."""
    arrays = [normal((3, 4), 1), normal((3, 4), 2), normal((3, 4), 3)]

    def total(a, b, c, on):
        put = lambda array: bp.tensor(array, device=on)  # noqa: E731
        y, classes = put(signs((3,), 4)), bp.tensor(np.array([0, 3, 1]), device=on)
        pos = put(uniform((4,), 0.5, 2.0, 5))
        return (
            F.binary_cross_entropy_with_logits(a, b.sigmoid(), pos_weight=pos)
            + F.binary_cross_entropy(a.sigmoid(), b.sigmoid(), pos)
            + F.margin_ranking_loss(a, b, c.sign())
            + F.hinge_embedding_loss(a, c.sign())
            + F.soft_margin_loss(a, c.sign())
            + F.multilabel_soft_margin_loss(a, b.sigmoid(), pos)
            + F.multi_margin_loss(a, classes, 2, weight=pos)
            + F.cosine_embedding_loss(a, b, y, 0.1)
            + F.triplet_margin_loss(a, b, c, swap=True)
            + F.poisson_nll_loss(a, c.abs() * 3, full=True)
            + F.gaussian_nll_loss(a, b, c.abs()[:, :1], full=True)
        )

    results = []
    for on in ("cpu", device):
        tensors = [bp.tensor(a, device=on, requires_grad=True) for a in arrays]
        out = total(*tensors, on)
        out.backward()
        results.append([out.numpy(), *(t.grad.numpy() for t in tensors)])
    for cpu, there in zip(*results):
        assert_close(there, cpu)


def test_multi_margin_loss_takes_int32_class_indices():
    scores = np.random.default_rng(3).standard_normal((3, 4))
    int64 = F.multi_margin_loss(bp.tensor(scores), bp.tensor(np.array([0, 3, 1])))
    int32 = F.multi_margin_loss(bp.tensor(scores), bp.tensor(np.array([0, 3, 1], np.int32)))
    assert int32.item() == int64.item()
