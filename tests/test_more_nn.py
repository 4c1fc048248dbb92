"""More of `torch.nn` and `torch.nn.functional`, each computing what its PyTorch namesake
computes: `F.normalize`, `F.one_hot`, `F.cosine_similarity` / `nn.CosineSimilarity`,
`F.pairwise_distance` / `nn.PairwiseDistance`, `F.softmin` / `nn.Softmin`, `nn.Softmax2d`,
`F.threshold` / `nn.Threshold`, `F.local_response_norm` / `nn.LocalResponseNorm`,
`F.instance_norm` / `nn.InstanceNorm1d` / `nn.InstanceNorm2d`, `F.bilinear` / `nn.Bilinear`,
`F.embedding_bag` / `nn.EmbeddingBag`, `nn.utils.parameters_to_vector` /
`vector_to_parameters` and `nn.utils.rnn.pad_sequence`.

Outputs and every gradient agree with PyTorch CPU (float64 to rtol 1e-10; float32 to about
1e-5 of PyTorch's float64 result on the same float32-rounded inputs); the layers hold
PyTorch's parameters and buffers under PyTorch's state_dict keys and print as PyTorch prints
them; the functions are checked by finite differences to second order, on edge shapes and
non-contiguous views, and every bad argument is a clear error. NumPy backend, except the
tests that take the `device` fixture.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import assert_close, randn
from torch_oracle import compare, compare_layer

import backprop as bp
import backprop.nn.functional as F
from backprop import nn
from backprop.nn.utils import parameters_to_vector, vector_to_parameters
from backprop.nn.utils.rnn import pad_sequence

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def leaf(shape, seed=0) -> bp.Tensor:
    return bp.tensor(randn(shape, seed), requires_grad=True)


def compare_arrays(fn, arrays, dtype="float64", seed=7):
    """`compare` on given float64 host arrays instead of random ones (for chosen edge values)."""
    arrays = [np.asarray(a, dtype=np.float64).astype(dtype) for a in arrays]
    ours = [bp.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    out, expected = fn(F, *ours), fn(TF, *theirs)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = randn(out.shape, seed=seed).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg=f"input {i} grad")


def assert_same_repr(ours: nn.Module, theirs) -> None:
    assert repr(ours) == repr(theirs)


# -- normalize, cosine_similarity, pairwise_distance ------------------------------------------


@pytest.mark.parametrize(
    ("shape", "options"),
    [
        ((3, 4, 5), {}),
        ((3, 4, 5), {"p": 1.0, "dim": -1}),
        ((3, 4), {"p": 3.0, "dim": 0, "eps": 0.5}),
        ((5,), {"dim": 0}),
        ((0, 4), {}),
        ((2, 1, 3), {"p": math.inf}),
    ],
    ids=str,
)
def test_normalize_matches_torch(shape, options, dtype):
    compare(lambda f, x: f.normalize(x, **options), [shape], dtype)


def test_normalize_leaves_a_zero_vector_zero_with_torch_gradient():
    x = [[0.0, 0.0, 0.0], [1e-14, -2e-14, 0.0], [3.0, 4.0, 0.0]]
    compare_arrays(lambda f, x: f.normalize(x, dim=1), [x])
    np.testing.assert_array_equal(F.normalize(bp.zeros(2, 3)).numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("shapes", "options"),
    [
        ([(3, 4), (3, 4)], {}),
        ([(2, 3, 4), (2, 3, 4)], {"dim": -1}),
        ([(2, 3, 4), (1, 3, 4)], {"dim": 0}),  # broadcast along the compared axis
        ([(2, 3, 4), (3, 1)], {"dim": 1}),
        ([(5,), (5,)], {"dim": 0}),
        ([(0, 4), (0, 4)], {}),
    ],
    ids=str,
)
def test_cosine_similarity_matches_torch(shapes, options, dtype):
    compare(lambda f, a, b: f.cosine_similarity(a, b, **options), shapes, dtype)


def test_cosine_similarity_holds_tiny_norms_at_eps_as_torch_does():
    x1 = [[1e-9, 2e-9, 0.5], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    x2 = [[1.0, 2.0, 3.0], [1e-10, 0.0, 0.0], [1.0, 1.0, 1.0]]
    compare_arrays(lambda f, a, b: f.cosine_similarity(a, b, dim=1, eps=0.1), [x1, x2])


@pytest.mark.parametrize(
    ("shapes", "options"),
    [
        ([(4, 5), (4, 5)], {}),
        ([(4, 5), (4, 5)], {"p": 1.0, "keepdim": True}),
        ([(4, 5), (4, 5)], {"p": 1.5, "eps": 1e-3}),
        ([(4, 5), (4, 5)], {"p": math.inf}),
        ([(5,), (3, 5)], {}),  # broadcast
        ([(2, 3, 5), (2, 3, 5)], {"keepdim": True}),
        ([(), ()], {}),
        ([(0, 5), (0, 5)], {}),
    ],
    ids=str,
)
def test_pairwise_distance_matches_torch(shapes, options, dtype):
    compare(lambda f, a, b: f.pairwise_distance(a, b, **options), shapes, dtype)


def test_pairwise_distance_of_equal_vectors_has_a_finite_gradient_as_in_torch():
    x = [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]
    compare_arrays(lambda f, a, b: f.pairwise_distance(a, b), [x, x])


def test_distance_layers_match_torch_and_print_like_it():
    x1, x2 = randn((3, 4), 1), randn((3, 4), 2)
    pairs = [
        (nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
        (nn.CosineSimilarity(dim=0, eps=1e-3), torch.nn.CosineSimilarity(dim=0, eps=1e-3)),
        (nn.PairwiseDistance(), torch.nn.PairwiseDistance()),
        (nn.PairwiseDistance(1.0, 1e-3, True), torch.nn.PairwiseDistance(1.0, 1e-3, True)),
    ]
    for ours, theirs in pairs:
        out = ours(bp.tensor(x1), bp.tensor(x2))
        assert_close(out.numpy(), theirs(torch.tensor(x1), torch.tensor(x2)).numpy())
        assert_same_repr(ours, theirs)
        assert list(ours.state_dict()) == []


# -- softmin, Softmax2d, threshold ------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), [((3, 4), 1), ((2, 3, 4), 0), ((5,), -1), ((), 0)])
def test_softmin_matches_torch(shape, dim, dtype):
    compare(lambda f, x: f.softmin(x, dim), [shape], dtype)


def test_softmin_casts_to_dtype_first():
    x = bp.tensor(randn((2, 3)), dtype="float32")
    out = F.softmin(x, 1, dtype="float64")
    assert out.dtype == np.float64
    expected = TF.softmin(torch.tensor(x.numpy()), 1, dtype=torch.float64)
    assert_close(out.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_softmin_without_dim_warns_and_picks_torchs_legacy_axis(shape):
    x = randn(shape)
    with pytest.warns(UserWarning, match="implicit dimension"):
        out = F.softmin(bp.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TF.softmin(torch.tensor(x))
    assert_close(out.numpy(), expected.numpy())


def test_softmin_and_softmax2d_layers_match_torch_and_print_like_it():
    for ours, theirs in ((nn.Softmin(1), torch.nn.Softmin(1)), (nn.Softmin(), torch.nn.Softmin())):
        assert_same_repr(ours, theirs)
    compare_layer(nn.Softmin(-1), torch.nn.Softmin(-1), (2, 3))
    compare_layer(nn.Softmax2d(), torch.nn.Softmax2d(), (2, 3, 4, 2))
    compare_layer(nn.Softmax2d(), torch.nn.Softmax2d(), (3, 4, 2))
    assert_same_repr(nn.Softmax2d(), torch.nn.Softmax2d())


def test_threshold_matches_torch_with_the_gradient_cut_at_the_threshold(dtype):
    compare(lambda f, x: f.threshold(x, 0.1, 20.0), [(3, 4)], dtype)
    x = [[-1.0, 0.1, 0.1000001, 2.0]]  # the threshold itself is below it: value, no gradient
    compare_arrays(lambda f, x: f.threshold(x, 0.1, -3.0), [x])


def test_threshold_layer_matches_torch_and_prints_like_it():
    compare_layer(nn.Threshold(0.2, -1.0), torch.nn.Threshold(0.2, -1.0), (3, 4))
    assert_same_repr(nn.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20))
    assert_same_repr(nn.Threshold(0.1, 20, True), torch.nn.Threshold(0.1, 20, True))


def test_threshold_in_place_writes_into_the_input_under_no_grad():
    x = bp.tensor([-1.0, 0.5, 2.0])
    with bp.no_grad():
        out = nn.Threshold(0.5, 9.0, inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [9.0, 9.0, 2.0])


# -- local_response_norm ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "options"),
    [
        ((2, 5, 4), 3, {}),
        ((2, 5, 4), 2, {"alpha": 0.5, "beta": 0.6, "k": 2.0}),
        ((2, 6, 3, 2), 4, {"alpha": 0.3}),
        ((1, 3, 2, 2, 2), 5, {"alpha": 0.3}),  # wider than the channels
        ((2, 1, 3), 1, {"alpha": 1.0}),
    ],
    ids=str,
)
def test_local_response_norm_matches_torch(shape, size, options, dtype):
    compare(lambda f, x: f.local_response_norm(x, size, **options), [shape], dtype)


def test_local_response_norm_of_an_empty_input_is_empty():
    assert F.local_response_norm(bp.randn(0, 3, 4), 2).shape == (0, 3, 4)


def test_local_response_norm_layer_matches_torch_and_prints_like_it():
    compare_layer(nn.LocalResponseNorm(3, 0.2), torch.nn.LocalResponseNorm(3, 0.2), (2, 4, 3))
    assert_same_repr(nn.LocalResponseNorm(2), torch.nn.LocalResponseNorm(2))
    assert_same_repr(
        nn.LocalResponseNorm(3, 1e-3, 0.5, 2.0), torch.nn.LocalResponseNorm(3, 1e-3, 0.5, 2.0)
    )


# -- instance_norm ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 3), (1, 2, 2)], ids=str)
def test_instance_norm_matches_torch(shape, dtype):
    channels = shape[1]
    compare(lambda f, x: f.instance_norm(x), [shape], dtype)
    compare(
        lambda f, x, w, b: f.instance_norm(x, weight=w, bias=b, eps=0.1),
        [shape, (channels,), (channels,)],
        dtype,
    )


def test_instance_norm_of_an_empty_batch_is_empty_as_in_torch():
    out = F.instance_norm(bp.randn(0, 3, 4), weight=bp.ones(3))
    assert out.shape == tuple(TF.instance_norm(torch.randn(0, 3, 4)).shape)


@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_instance_norm_updates_the_running_statistics_as_torch_does(momentum):
    x = randn((3, 2, 5))
    ours = [bp.tensor(randn(2, 1)), bp.tensor(randn(2, 2, low=0.5, high=2.0))]
    theirs = [torch.tensor(stat.numpy()) for stat in ours]
    out = F.instance_norm(bp.tensor(x), *ours, momentum=momentum)
    expected = TF.instance_norm(torch.tensor(x), *theirs, momentum=momentum)
    assert_close(out.numpy(), expected.numpy())
    for mine, reference in zip(ours, theirs):
        assert_close(mine.numpy(), reference.numpy())


def test_instance_norm_with_the_running_statistics_matches_torch():
    shapes = [(2, 3, 4), (3,), (3,)]
    mean, var = randn(3, 5), randn(3, 6, low=0.5, high=2.0)

    def run(f, x, w, b):
        stats = (bp.tensor(mean), bp.tensor(var)) if f is F else map(torch.tensor, (mean, var))
        return f.instance_norm(x, *stats, w, b, use_input_stats=False)

    compare(run, shapes)


def test_instance_norm_first_and_second_derivatives_match_finite_differences():
    x, w, b = leaf((2, 3, 4)), leaf((3,), 1), leaf((3,), 2)
    assert bp.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)
    assert bp.gradgradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b).tanh(), x, w, b)


@pytest.mark.parametrize(
    "options",
    [{}, {"affine": True}, {"affine": True, "bias": False}, {"eps": 1e-3, "momentum": 0.3}],
    ids=str,
)
@pytest.mark.parametrize("kind", ["InstanceNorm1d", "InstanceNorm2d"])
def test_instance_norm_layers_match_torch(kind, options, dtype):
    shape = (2, 3, 5) if kind == "InstanceNorm1d" else (2, 3, 4, 3)
    ours, theirs = getattr(nn, kind)(3, **options), getattr(torch.nn, kind)(3, **options)
    compare_layer(ours, theirs, shape, dtype)
    compare_layer(ours, theirs, shape[1:], dtype)  # without the batch axis


@pytest.mark.parametrize("kind", ["InstanceNorm1d", "InstanceNorm2d"])
def test_instance_norm_layers_track_running_statistics_as_torch_does(kind):
    shape = (3, 2, 6) if kind == "InstanceNorm1d" else (3, 2, 3, 2)
    options = {"affine": True, "track_running_stats": True, "momentum": 0.4}
    ours, theirs = getattr(nn, kind)(2, **options).double(), getattr(torch.nn, kind)(2, **options)
    theirs = theirs.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for seed in (1, 2):
        x = randn(shape, seed)
        assert_close(ours(bp.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy())
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-10)
    assert ours.num_batches_tracked.item() == 0  # as in PyTorch: instance norms do not count
    x = randn(shape, 3)
    ours.eval(), theirs.eval()
    assert_close(ours(bp.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy())


def test_instance_norm_layers_start_as_torch_does_and_print_like_it():
    for options in (
        {},
        {"affine": True},
        {"affine": True, "bias": False},
        {"track_running_stats": True, "momentum": None, "eps": 1e-3},
    ):
        for kind in ("InstanceNorm1d", "InstanceNorm2d"):
            ours, theirs = getattr(nn, kind)(4, **options), getattr(torch.nn, kind)(4, **options)
            assert_same_repr(ours, theirs)
            assert list(ours.state_dict()) == list(theirs.state_dict())
            for name, value in theirs.state_dict().items():
                np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy())


def test_instance_norm_with_momentum_none_leaves_the_running_statistics_as_torch_does():
    ours = nn.InstanceNorm1d(2, track_running_stats=True, momentum=None)
    ours(bp.randn(2, 2, 5))
    np.testing.assert_array_equal(ours.running_mean.numpy(), np.zeros(2))
    np.testing.assert_array_equal(ours.running_var.numpy(), np.ones(2))


def test_instance_norm_layer_without_affine_only_warns_about_other_channel_counts():
    with pytest.warns(UserWarning, match=r"InstanceNorm1d: the input's axis 1 does not hold"):
        out = nn.InstanceNorm1d(3)(bp.randn(2, 5, 4))
    assert out.shape == (2, 5, 4)


def test_batch_norm_layers_print_their_bias_as_torch_does():
    for options in ({}, {"affine": False}, {"bias": False}):
        assert_same_repr(nn.BatchNorm1d(3, **options), torch.nn.BatchNorm1d(3, **options))
        assert list(nn.BatchNorm2d(3, **options).state_dict()) == list(
            torch.nn.BatchNorm2d(3, **options).state_dict()
        )


# -- bilinear ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [
        [(4, 3), (4, 5), (2, 3, 5), (2,)],
        [(2, 3, 3), (2, 3, 5), (6, 3, 5), (6,)],
        [(3,), (5,), (2, 3, 5), (2,)],  # no leading axes
        [(0, 3), (0, 5), (2, 3, 5), (2,)],
    ],
    ids=str,
)
def test_bilinear_matches_torch(shapes, dtype):
    compare(lambda f, a, b, w, bias: f.bilinear(a, b, w, bias), shapes, dtype)
    compare(lambda f, a, b, w: f.bilinear(a, b, w), shapes[:3], dtype)


def test_bilinear_first_and_second_derivatives_match_finite_differences():
    a, b, w, bias = leaf((2, 3), 0), leaf((2, 2), 1), leaf((2, 3, 2), 2), leaf((2,), 3)
    assert bp.gradcheck(F.bilinear, a, b, w, bias)
    assert bp.gradgradcheck(F.bilinear, a, b, w, bias)


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_layer_matches_torch_with_its_weights(bias, dtype):
    ours, theirs = nn.Bilinear(3, 4, 2, bias=bias), torch.nn.Bilinear(3, 4, 2, bias=bias).double()
    assert_same_repr(ours, theirs)
    ours.to(dtype=dtype)
    ours.load_state_dict({k: v.numpy().astype(dtype) for k, v in theirs.state_dict().items()})
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(param.to(getattr(torch, dtype)).double())
    x1, x2 = randn((5, 3), 1).astype(dtype), randn((5, 4), 2).astype(dtype)
    mine = [bp.tensor(x1, requires_grad=True), bp.tensor(x2, requires_grad=True)]
    reference = [torch.tensor(x.astype(np.float64), requires_grad=True) for x in (x1, x2)]
    out, expected = ours(*mine), theirs(*reference)
    assert_close(out.numpy(), expected.detach().numpy(), dtype)
    grad_output = randn(out.shape, 7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for a, b in zip(mine, reference):
        assert_close(a.grad.numpy(), b.grad.numpy(), dtype)
    for (name, param), (_, reference_param) in zip(
        ours.named_parameters(), theirs.named_parameters()
    ):
        assert_close(param.grad.numpy(), reference_param.grad.numpy(), dtype, err_msg=name)


def test_bilinear_layer_starts_uniform_within_one_over_sqrt_in1_as_torch():
    layer = nn.Bilinear(16, 5, 30)
    bound = 1 / math.sqrt(16)
    assert layer.weight.shape == (30, 16, 5) and layer.bias.shape == (30,)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert 0.85 * bound < np.abs(values).max() <= bound


# -- embedding_bag and one_hot ----------------------------------------------------------------

INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9, 2])
OFFSETS = np.array([0, 2, 2, 5])  # bags of 2, 0, 3 and 4 ids


def compare_embedding_bag(input, offsets=None, per_sample_weights=None, dtype="float64", **kw):
    """F.embedding_bag against torch's: output and the gradients of weight and of the
    per-sample weights."""
    weight = randn((10, 3), 4).astype(dtype)
    ours = [bp.tensor(weight, requires_grad=True)]
    theirs = [torch.tensor(weight.astype(np.float64), requires_grad=True)]
    if per_sample_weights is not None:
        psw = per_sample_weights.astype(dtype)
        ours.append(bp.tensor(psw, requires_grad=True))
        theirs.append(torch.tensor(psw.astype(np.float64), requires_grad=True))
    ours_offsets = None if offsets is None else bp.tensor(offsets)
    theirs_offsets = None if offsets is None else torch.tensor(offsets)
    out = F.embedding_bag(
        bp.tensor(input),
        ours[0],
        ours_offsets,
        None,
        2,
        False,
        **kw,
        **({"per_sample_weights": ours[1]} if len(ours) > 1 else {}),
    )
    expected = TF.embedding_bag(
        torch.tensor(input),
        theirs[0],
        theirs_offsets,
        **kw,
        **({"per_sample_weights": theirs[1]} if len(theirs) > 1 else {}),
    )
    assert_close(out.numpy(), expected.detach().numpy(), dtype, err_msg="output")
    grad_output = randn(out.shape, 7).astype(dtype)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output.astype(np.float64)))
    for mine, reference in zip(ours, theirs):
        assert_close(mine.grad.numpy(), reference.grad.numpy(), dtype, err_msg="grad")


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2, -6])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_of_offsets_matches_torch(mode, padding_idx, include_last_offset, dtype):
    compare_embedding_bag(
        INDICES,
        OFFSETS,
        dtype=dtype,
        mode=mode,
        padding_idx=padding_idx,
        include_last_offset=include_last_offset,
    )


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_of_a_2d_input_takes_a_bag_per_row_as_torch(mode, padding_idx, dtype):
    input = np.array([[1, 4, 4, 0], [4, 4, 4, 4], [7, 3, 2, 9]])
    compare_embedding_bag(input, dtype=dtype, mode=mode, padding_idx=padding_idx)


@pytest.mark.parametrize("two_d", [False, True])
def test_embedding_bag_weights_each_sample_in_sum_mode_as_torch(two_d, dtype):
    weights = randn(INDICES.shape, 5)
    if two_d:
        compare_embedding_bag(INDICES.reshape(3, 3), None, weights.reshape(3, 3), dtype, mode="sum")
    else:
        compare_embedding_bag(INDICES, OFFSETS, weights, dtype, mode="sum", padding_idx=4)


@pytest.mark.parametrize(
    ("input", "offsets"),
    [
        (np.array([3]), np.array([0])),  # one bag of one id
        (np.array([], dtype=np.int64), np.array([0, 0])),  # no ids: empty bags
        (np.zeros((0, 3), dtype=np.int64), None),  # an empty batch
    ],
    ids=["one", "no-ids", "empty-batch"],
)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_edge_shapes_match_torch(input, offsets, mode):
    compare_embedding_bag(input, offsets, mode=mode)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_without_offsets_makes_no_bags_and_of_empty_rows_zeros(mode):
    """(PyTorch 2.13 crashes on empty offsets and refuses rows of no ids, so there is nothing
    to compare with.)"""
    weight = leaf((10, 3))
    out = F.embedding_bag(bp.tensor(INDICES), weight, bp.tensor(np.zeros(0, np.int64)), mode=mode)
    assert out.shape == (0, 3)
    out = F.embedding_bag(bp.tensor(np.zeros((2, 0), np.int64)), weight, mode=mode)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3)))


def test_embedding_bag_second_derivatives_match_finite_differences():
    weight, psw = leaf((6, 2)), leaf((5,), 1)
    input, offsets = bp.tensor([1, 3, 3, 0, 5]), bp.tensor([0, 2])
    for mode in ("sum", "mean", "max"):
        assert bp.gradgradcheck(
            lambda w, mode=mode: F.embedding_bag(input, w, offsets, mode=mode).tanh(), weight
        )
    assert bp.gradgradcheck(
        lambda w, p: F.embedding_bag(input, w, offsets, mode="sum", per_sample_weights=p),
        weight,
        psw,
    )


def test_embedding_bag_layer_loads_a_torch_state_dict_and_matches_it():
    theirs = torch.nn.EmbeddingBag(10, 3, mode="max", padding_idx=2).double()
    ours = nn.EmbeddingBag(10, 3, mode="max", padding_idx=2).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    out = ours(bp.tensor(INDICES), bp.tensor(OFFSETS))
    expected = theirs(torch.tensor(INDICES), torch.tensor(OFFSETS))
    assert_close(out.numpy(), expected.detach().numpy())
    summed = nn.EmbeddingBag(10, 3, mode="sum", include_last_offset=True).double()
    weights = randn(INDICES.shape, 1)
    summed.load_state_dict({"weight": theirs.weight.detach().numpy()})
    out = summed(bp.tensor(INDICES), bp.tensor(OFFSETS), per_sample_weights=bp.tensor(weights))
    expected = TF.embedding_bag(
        torch.tensor(INDICES),
        theirs.weight,
        torch.tensor(OFFSETS),
        mode="sum",
        per_sample_weights=torch.tensor(weights),
        include_last_offset=True,
    )
    assert_close(out.numpy(), expected.detach().numpy())


def test_embedding_bag_layer_starts_as_torch_does_and_prints_like_it():
    layer = nn.EmbeddingBag(50, 40, padding_idx=-1)
    assert layer.padding_idx == 49
    np.testing.assert_array_equal(layer.weight.numpy()[49], np.zeros(40))
    assert 0.9 < layer.weight.numpy()[:49].std() < 1.1  # N(0, 1)
    for args, options in (
        ((5, 3), {}),
        ((5, 3), {"mode": "sum", "padding_idx": 1}),
        ((5, 3), {"mode": "max", "norm_type": 1.0}),
    ):
        ours = nn.EmbeddingBag(*args, **options)
        assert_same_repr(ours, torch.nn.EmbeddingBag(*args, **options))
    given = bp.randn(4, 2)
    assert nn.EmbeddingBag(4, 2, _weight=given).weight.data is given.data


@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot_matches_torch(num_classes):
    classes = np.array([[0, 3, 1], [2, 2, 0]])
    out = F.one_hot(bp.tensor(classes), num_classes)
    expected = TF.one_hot(torch.tensor(classes), num_classes).numpy()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), expected)


def test_one_hot_of_an_empty_tensor_with_num_classes_is_empty():
    out = F.one_hot(bp.tensor(np.zeros(0, dtype=np.int64)), 3)
    assert out.shape == (0, 3)


# -- parameters_to_vector, vector_to_parameters, pad_sequence ---------------------------------


def test_parameters_to_vector_flattens_and_joins_as_torch():
    theirs = torch.nn.Linear(3, 2).double()
    ours = nn.Linear(3, 2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    vector = parameters_to_vector(ours.parameters())
    expected = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vector.numpy(), expected.detach().numpy())
    (vector * vector).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), 2 * ours.weight.numpy())


def test_vector_to_parameters_writes_the_slices_into_the_parameters_as_torch():
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    vector = randn(8, 3)
    vector_to_parameters(bp.tensor(vector), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(vector), theirs.parameters())
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy())
    assert ours.weight.requires_grad and ours.weight.is_leaf


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    shapes = [(3, 2), (1, 2), (4, 2), (0, 2)]
    ours = [leaf(shape, i) for i, shape in enumerate(shapes)]
    theirs = [torch.tensor(x.numpy(), requires_grad=True) for x in ours]
    options = {"batch_first": batch_first, "padding_value": -2.5, "padding_side": padding_side}
    out = pad_sequence(ours, **options)
    expected = torch.nn.utils.rnn.pad_sequence(theirs, **options)
    assert_close(out.numpy(), expected.detach().numpy())
    grad_output = randn(out.shape, 7)
    out.backward(bp.tensor(grad_output))
    expected.backward(torch.tensor(grad_output))
    for mine, reference in zip(ours, theirs):
        assert_close(mine.grad.numpy(), reference.grad.numpy())


def test_pad_sequence_takes_integer_sequences_and_a_tensor_of_them_as_torch():
    ids = [np.array([4, 1]), np.array([7]), np.array([2, 2, 3])]
    out = nn.utils.rnn.pad_sequence([bp.tensor(i) for i in ids], True, padding_value=-1)
    expected = torch.nn.utils.rnn.pad_sequence([torch.tensor(i) for i in ids], True, -1)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    stacked = randn((2, 3, 4))
    out = pad_sequence(bp.tensor(stacked))
    np.testing.assert_array_equal(
        out.numpy(), torch.nn.utils.rnn.pad_sequence(torch.tensor(stacked)).numpy()
    )


# -- non-contiguous inputs and second derivatives ---------------------------------------------


def test_functions_read_non_contiguous_views():
    compare(lambda f, x: f.normalize(x.permute(2, 0, 1), dim=1), [(3, 4, 5)])
    compare(lambda f, a, b: f.cosine_similarity(a.mT, b[:, ::2]), [(4, 3), (3, 8)])
    compare(lambda f, a, b: f.pairwise_distance(a.mT, b.mT), [(5, 3), (5, 3)])
    compare(lambda f, x: f.local_response_norm(x.permute(0, 2, 1), 3), [(2, 4, 5)])
    compare(lambda f, x: f.instance_norm(x.permute(0, 2, 1)[:, :, 1:]), [(2, 5, 4)])
    compare(lambda f, a, b, w: f.bilinear(a.mT, b[::2], w), [(3, 4), (8, 2), (2, 3, 2)])
    compare(lambda f, x: f.softmin(x.mT, 1), [(3, 4)])
    compare(lambda f, x: f.threshold(x.mT[1:], 0.0, 5.0), [(3, 4)])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, y: F.normalize(x, p=3.0),
        lambda x, y: F.cosine_similarity(x, y),
        lambda x, y: F.pairwise_distance(x, y, p=1.5),
        lambda x, y: F.softmin(x, 1),
        lambda x, y: F.threshold(x, 0.3, -1.0) * y,
        lambda x, y: F.local_response_norm(x.reshape(1, 2, 3), 2, alpha=0.5),
        lambda x, y: F.instance_norm(x.reshape(1, 2, 3)),
    ],
    ids=[
        "normalize",
        "cosine_similarity",
        "pairwise_distance",
        "softmin",
        "threshold",
        "local_response_norm",
        "instance_norm",
    ],
)
def test_first_and_second_derivatives_match_finite_differences(fn):
    x, y = leaf((2, 3), 0), leaf((2, 3), 1)
    assert bp.gradcheck(fn, x, y)
    assert bp.gradgradcheck(fn, x, y)


# -- errors -----------------------------------------------------------------------------------

INTS = bp.tensor([1, 2])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.normalize(INTS), TypeError, "normalize"),
        (lambda: F.normalize(bp.randn(3), eps=-1.0), ValueError, "normalize: eps must be >= 0"),
        (
            lambda: F.normalize(bp.randn(3), dim=2),
            IndexError,
            "normalize: axis 2 is out of range for a tensor of 1 dimensions",
        ),
        (lambda: F.normalize(bp.tensor(1.0)), ValueError, "normalize: a 0-d input has no axis"),
        (
            lambda: F.cosine_similarity(bp.randn(2, 3), bp.randn(2, 4)),
            ValueError,
            "cosine_similarity",
        ),
        (
            lambda: F.cosine_similarity(bp.randn(3), bp.randn(3, dtype="float64"), dim=0),
            TypeError,
            "cosine_similarity: x1 and x2 must have one dtype, got float32 and float64",
        ),
        (
            lambda: F.cosine_similarity(bp.tensor(1.0), bp.tensor(2.0)),
            ValueError,
            "cosine_similarity: 0-d inputs have no axis",
        ),
        (lambda: F.pairwise_distance(INTS, INTS), TypeError, "pairwise_distance"),
        (
            lambda: F.pairwise_distance(bp.randn(3), bp.randn(3), p=0),
            ValueError,
            "pairwise_distance: p must be a positive number or inf, got 0",
        ),
        (
            lambda: F.normalize(bp.randn(3), p=-1.0, dim=0),
            ValueError,
            "normalize: p must be a positive number or inf, got -1.0",
        ),
        (lambda: F.softmin(INTS, 0), TypeError, "softmin"),
        (lambda: F.threshold(INTS, 0, 1), TypeError, "threshold"),
        (lambda: nn.Softmax2d()(bp.randn(2, 3)), ValueError, r"Softmax2d: expected a \(N, C, H"),
        (
            lambda: F.local_response_norm(bp.randn(2, 3), 2),
            ValueError,
            r"local_response_norm: expected an input of 3 or more dimensions \(N, C, \*\), got",
        ),
        (
            lambda: F.local_response_norm(bp.randn(2, 3, 4), 0),
            ValueError,
            "local_response_norm: size must be a positive int, got 0",
        ),
        (lambda: nn.LocalResponseNorm(0), ValueError, "LocalResponseNorm: size must be"),
        (
            lambda: F.instance_norm(bp.randn(2, 3)),
            ValueError,
            r"instance_norm: expected an \(N, C, \*\) input with positions, got \(2, 3\)",
        ),
        (
            lambda: F.instance_norm(bp.randn(2, 3, 1)),
            ValueError,
            "instance_norm: expected more than 1 position per instance",
        ),
        (
            lambda: F.instance_norm(bp.randn(2, 3, 4), use_input_stats=False),
            ValueError,
            "instance_norm: running_mean and running_var must be given",
        ),
        (
            lambda: F.instance_norm(bp.randn(2, 3, 4), weight=bp.randn(4)),
            ValueError,
            r"instance_norm: weight must have shape \(3,\)",
        ),
        (
            lambda: nn.InstanceNorm1d(3)(bp.randn(2, 3, 4, 5)),
            ValueError,
            r"InstanceNorm1d: expected a 2-d or 3-d input, got \(2, 3, 4, 5\)",
        ),
        (
            lambda: nn.InstanceNorm2d(3, affine=True)(bp.randn(2, 4, 4, 5)),
            ValueError,
            r"InstanceNorm2d: expected the input's axis 1 to hold num_features \(3\)",
        ),
        (lambda: nn.InstanceNorm2d(0), ValueError, "InstanceNorm2d: num_features must be"),
        (
            lambda: F.bilinear(bp.randn(2, 3), bp.randn(2, 4), bp.randn(2, 3, 5)),
            ValueError,
            r"bilinear: expected inputs \(\*, 3\) and \(\*, 5\)",
        ),
        (
            lambda: F.bilinear(bp.randn(2, 3), bp.randn(3, 4), bp.randn(2, 3, 4)),
            ValueError,
            "bilinear: the inputs' leading axes must match",
        ),
        (
            lambda: F.bilinear(bp.randn(2, 3), bp.randn(2, 4), bp.randn(3, 4)),
            ValueError,
            r"bilinear: weight must be \(out, in1, in2\)",
        ),
        (
            lambda: F.bilinear(bp.randn(2, 3), bp.randn(2, 4), bp.randn(2, 3, 4), bp.randn(3)),
            ValueError,
            r"bilinear: bias must be \(2,\)",
        ),
        (lambda: nn.Bilinear(0, 2, 3), ValueError, "Bilinear: in1_features must be"),
        (
            lambda: F.embedding_bag(bp.randn(3), bp.randn(4, 2), INTS),
            TypeError,
            "embedding_bag: input must be an integer Tensor, got float32",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), mode="median"),
            ValueError,
            "embedding_bag: mode must be one of 'sum', 'mean', 'max', got 'median'",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2)),
            ValueError,
            "embedding_bag: a 1-D input needs offsets",
        ),
        (
            lambda: F.embedding_bag(INTS.reshape(1, 2), bp.randn(4, 2), INTS),
            ValueError,
            "embedding_bag: a 2-D input is a batch of fixed-length bags, so offsets must be None",
        ),
        (
            lambda: F.embedding_bag(INTS.reshape(1, 1, 2), bp.randn(4, 2)),
            ValueError,
            "embedding_bag: input must be 1-D or 2-D",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), bp.tensor([0.0])),
            TypeError,
            "embedding_bag: offsets must be an integer Tensor",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), INTS.reshape(2, 1)),
            ValueError,
            "embedding_bag: offsets must be 1-D",
        ),
        (
            lambda: F.embedding_bag(
                INTS, bp.randn(4, 2), bp.tensor(np.zeros(0, np.int64)), include_last_offset=True
            ),
            ValueError,
            "embedding_bag: include_last_offset needs at least one offset",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), INTS, per_sample_weights=bp.randn(2)),
            ValueError,
            "embedding_bag: per_sample_weights is only supported for mode='sum', got 'mean'",
        ),
        (
            lambda: F.embedding_bag(
                INTS, bp.randn(4, 2), INTS, mode="sum", per_sample_weights=bp.randn(3)
            ),
            ValueError,
            r"embedding_bag: per_sample_weights must have the input's shape \(2,\), got \(3,\)",
        ),
        (
            lambda: F.embedding_bag(
                INTS,
                bp.randn(4, 2),
                INTS,
                mode="sum",
                per_sample_weights=bp.randn(2, dtype="float64"),
            ),
            TypeError,
            "embedding_bag: per_sample_weights dtype float64 differs from weight dtype float32",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), INTS, padding_idx=4),
            ValueError,
            "embedding_bag: padding_idx 4 is out of range for 4 embeddings",
        ),
        (
            lambda: F.embedding_bag(INTS, bp.randn(4, 2), INTS, max_norm=1.0),
            ValueError,
            "embedding_bag: max_norm is not supported; leave it at its default",
        ),
        (
            lambda: nn.EmbeddingBag(4, 2, sparse=True),
            ValueError,
            "EmbeddingBag: sparse is not supported",
        ),
        (
            lambda: nn.EmbeddingBag(4, 2, scale_grad_by_freq=True),
            ValueError,
            "EmbeddingBag: scale_grad_by_freq is not supported",
        ),
        (lambda: nn.EmbeddingBag(4, 2, mode="min"), ValueError, "EmbeddingBag: mode must be"),
        (
            lambda: nn.EmbeddingBag(4, 2, padding_idx=-5),
            ValueError,
            "EmbeddingBag: padding_idx -5 is out of range for 4 embeddings",
        ),
        (
            lambda: nn.EmbeddingBag(4, 2, _weight=bp.randn(3, 2)),
            ValueError,
            r"EmbeddingBag: _weight must have shape \(4, 2\), got \(3, 2\)",
        ),
        (
            lambda: F.one_hot(bp.randn(3)),
            TypeError,
            "one_hot: tensor must be an integer Tensor, got float32",
        ),
        (
            lambda: F.one_hot(INTS, -2),
            ValueError,
            "one_hot: num_classes must be -1 or an int >= 0, got -2",
        ),
        (
            lambda: F.one_hot(INTS, 2),
            ValueError,
            r"one_hot: classes must lie in \[0, 2\), got values in \[1, 2\]",
        ),
        (
            lambda: F.one_hot(bp.tensor([-1, 0])),
            ValueError,
            r"one_hot: classes must lie in \[0, 1\), got values in \[-1, 0\]",
        ),
        (
            lambda: F.one_hot(bp.tensor(np.zeros(0, np.int64))),
            ValueError,
            "one_hot: cannot infer num_classes from an empty tensor",
        ),
        (
            lambda: parameters_to_vector([]),
            ValueError,
            "parameters_to_vector: expected at least one parameter",
        ),
        (
            lambda: parameters_to_vector(bp.randn(3)),
            TypeError,
            "parameters_to_vector: parameters must be an iterable of Tensors",
        ),
        (
            lambda: vector_to_parameters([1.0], [bp.randn(1)]),
            TypeError,
            "vector_to_parameters: vec must be a Tensor, got list",
        ),
        (
            lambda: vector_to_parameters(bp.randn(4), [bp.randn(2), bp.randn(1)]),
            ValueError,
            r"vector_to_parameters: vec must be 1-D with one entry per parameter value \(3\)",
        ),
        (lambda: pad_sequence([]), ValueError, "pad_sequence: expected at least one sequence"),
        (
            lambda: pad_sequence([bp.randn(2)], padding_side="middle"),
            ValueError,
            "pad_sequence: padding_side must be one of 'right', 'left', got 'middle'",
        ),
        (
            lambda: pad_sequence([bp.randn(2, 3), bp.randn(2, 4)]),
            ValueError,
            "pad_sequence: sequences must match in dtype and in every axis but the first",
        ),
        (
            lambda: pad_sequence([bp.tensor(1.0)]),
            ValueError,
            "pad_sequence: each sequence must have a length axis",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- every device -----------------------------------------------------------------------------


def test_one_hot_off_the_cpu_needs_num_classes_and_runs_on_the_device(device):
    classes = bp.tensor([2, 0, 1], device=device)
    if device.type == "cpu":
        assert F.one_hot(classes).shape == (3, 3)
    else:
        with pytest.raises(ValueError, match="one_hot: num_classes=-1 needs the largest class"):
            F.one_hot(classes)
    out = F.one_hot(classes, 4)
    assert out.device == device
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[[2, 0, 1]])


def test_new_functions_and_layers_run_unchanged_on_every_device(device):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator. Bag membership, instance
    statistics and padding all stay on the device."""

    def build():
        bp.manual_seed(0)
        return nn.ModuleDict(
            {
                "bag": nn.EmbeddingBag(5, 3, mode="max", padding_idx=0),
                "mean_bag": nn.EmbeddingBag(5, 3, include_last_offset=True),
                "norm": nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                "bilinear": nn.Bilinear(3, 3, 2),
                "lrn": nn.LocalResponseNorm(2),
            }
        ).double()

    def run(model, where):
        ids, offsets = bp.tensor([1, 0, 4, 2, 2], device=where), bp.tensor([0, 2], device=where)
        bags = model["bag"](ids, offsets)  # (2, 3)
        means = model["mean_bag"](ids, bp.tensor([0, 3, 5], device=where))
        x = model["lrn"](bags.reshape(1, 2, 3)) * 2
        normed = model["norm"](pad_sequence([x[0], means], batch_first=True).mT)  # (2, 3, 3)
        unit = F.normalize(means, dim=1).reshape(1, 2, 3).expand(2, 2, 3)
        out = model["bilinear"](normed.mT, unit)
        out = F.softmin(out, 1) + F.pairwise_distance(out, out.flip(0)).reshape(2, 2, 1)
        return F.threshold(out, 0.3, 0.0) + F.cosine_similarity(x[0], means).sum()

    results = []
    for where in ("cpu", device):
        model = build().to(where)
        out = run(model, where)
        out.sum().backward()
        results.append(
            [
                out.numpy(),
                model["norm"].running_var.numpy(),
                parameters_to_vector(p.grad for p in model.parameters()).numpy(),
            ]
        )
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)


def test_one_hot_takes_int32_classes():
    classes = bp.tensor(np.array([2, 0, 1], np.int32))
    assert F.one_hot(classes, 3).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
