"""Every layer in `backprop.nn` computes what its PyTorch namesake computes: with the same
weights (copied through `load_state_dict`, so the parameter names match too), the outputs and
the gradients of the input and of every parameter agree, in float64 tightly and in float32
loosely."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import nn

torch = pytest.importorskip("torch")

TOLERANCES = {"float64": 1e-10, "float32": 2e-5}


def copy_weights(ours: nn.Module, theirs, dtype: str) -> None:
    ours.to(dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: str, what: str) -> None:
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)


def check_layer(ours, theirs, x: np.ndarray, dtype: str = "float64") -> None:
    """Same weights and input in both; compares outputs, then all gradients."""
    torch_dtype = getattr(torch, dtype)
    theirs = theirs.to(torch_dtype)
    copy_weights(ours, theirs, dtype)
    floating = x.dtype.kind == "f"
    x = x.astype(dtype) if floating else x
    ours_x = bp.tensor(x, requires_grad=floating)
    theirs_x = torch.tensor(x, requires_grad=floating)
    out, expected = ours(ours_x), theirs(theirs_x)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, "output")
    seed = np.random.default_rng(7).standard_normal(out.shape).astype(dtype)
    out.backward(bp.tensor(seed))
    expected.backward(torch.tensor(seed))
    if floating:
        assert_close(ours_x.grad.numpy(), theirs_x.grad.numpy(), dtype, "input gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad.numpy(), theirs_params[name].grad.numpy(), dtype, f"{name}.grad")


def test_linear(rng, dtype):
    check_layer(nn.Linear(5, 3), torch.nn.Linear(5, 3), rng.standard_normal((4, 5)), dtype)


def test_linear_without_bias_on_a_batch_of_sequences(rng, dtype):
    ours, theirs = nn.Linear(5, 3, bias=False), torch.nn.Linear(5, 3, bias=False)
    assert ours.bias is None and [name for name, _ in ours.named_parameters()] == ["weight"]
    check_layer(ours, theirs, rng.standard_normal((2, 4, 5)), dtype)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.Softplus(beta=2.0), torch.nn.Softplus(beta=2.0)),
        (nn.ELU(alpha=0.5), torch.nn.ELU(alpha=0.5)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
        (nn.Identity(), torch.nn.Identity()),
        (nn.Flatten(), torch.nn.Flatten()),
    ],
    ids=lambda m: repr(m),
)
def test_parameter_free_layers(rng, dtype, ours, theirs):
    check_layer(ours, theirs, 3 * rng.standard_normal((3, 4, 2)), dtype)


def test_layer_norm(rng, dtype):
    theirs = torch.nn.LayerNorm((3, 4))
    with torch.no_grad():  # non-trivial affine parameters, so their gradients are checked
        theirs.weight.normal_()
        theirs.bias.normal_()
    check_layer(nn.LayerNorm((3, 4)), theirs, rng.standard_normal((2, 3, 4)), dtype)


def test_layer_norm_without_affine_parameters(rng):
    ours = nn.LayerNorm(4, elementwise_affine=False, eps=1e-3)
    assert list(ours.parameters()) == []
    check_layer(ours, torch.nn.LayerNorm(4, elementwise_affine=False, eps=1e-3), rng.random((3, 4)))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["(N, C)", "(N, C, L)"])
def test_batch_norm_in_training_uses_batch_statistics(rng, dtype, shape):
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    check_layer(ours, theirs, rng.standard_normal(shape) * 2 + 1, dtype)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        expected = getattr(theirs, name).numpy()
        assert_close(getattr(ours, name).numpy(), expected, dtype, name)


def test_batch_norm_running_statistics_follow_momentum_over_steps(rng):
    ours, theirs = nn.BatchNorm1d(2, momentum=0.3), torch.nn.BatchNorm1d(2, momentum=0.3)
    ours.double()
    theirs.double()
    for _ in range(3):
        x = rng.standard_normal((5, 2)) * 3 - 1
        ours(bp.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), atol=1e-12)
    assert ours.num_batches_tracked.item() == 3


def test_batch_norm_with_momentum_none_keeps_a_cumulative_average(rng):
    ours, theirs = nn.BatchNorm1d(2, momentum=None), torch.nn.BatchNorm1d(2, momentum=None)
    ours.double()
    theirs.double()
    for _ in range(3):
        x = rng.standard_normal((4, 2))
        ours(bp.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), atol=1e-12)


def test_batch_norm_in_eval_uses_running_statistics(rng, dtype):
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        theirs.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        theirs.running_var.copy_(torch.tensor([0.25, 4.0, 1.5]))
        theirs.weight.normal_()
    ours.eval()
    theirs.eval()
    before = theirs.running_mean.clone().numpy()
    check_layer(ours, theirs, rng.standard_normal((4, 3)), dtype)
    np.testing.assert_array_equal(ours.running_mean.numpy(), before.astype(dtype))
    assert ours.num_batches_tracked.item() == 0


def test_batch_norm_without_running_statistics_always_uses_the_batch(rng):
    ours = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    theirs = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert ours.state_dict() == {}
    ours.eval()
    theirs.eval()
    check_layer(ours, theirs, rng.standard_normal((5, 3)))


def test_batch_norm_2d_normalises_each_channel_over_the_batch_and_pixels(rng, dtype):
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2)
    check_layer(ours, theirs, rng.standard_normal((4, 3, 5, 2)) * 3 - 1, dtype)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        expected = getattr(theirs, name).numpy()
        assert_close(getattr(ours, name).numpy(), expected, dtype, name)


def test_batch_norm_2d_reads_a_channels_last_view(rng):
    x = rng.standard_normal((2, 4, 3, 3)).transpose(0, 3, 1, 2)  # (N, C, H, W), not contiguous
    check_layer(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), x)


def test_batch_norm_2d_in_eval_uses_running_statistics(rng, dtype):
    ours, theirs = nn.BatchNorm2d(2), torch.nn.BatchNorm2d(2)
    with torch.no_grad():
        theirs.running_mean.copy_(torch.tensor([0.5, -1.0]))
        theirs.running_var.copy_(torch.tensor([0.25, 4.0]))
    ours.eval()
    theirs.eval()
    check_layer(ours, theirs, rng.standard_normal((3, 2, 4, 4)), dtype)


def test_batch_norm_rejects_a_single_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(bp.randn(1, 3))


def test_embedding_scatters_gradients_into_the_rows_it_read(dtype):
    ids = np.array([[1, 3, 1], [0, 3, 2]])
    check_layer(nn.Embedding(5, 4), torch.nn.Embedding(5, 4), ids, dtype)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    ids = np.array([2, 0, 2, 1])
    ours = nn.Embedding(4, 3, padding_idx=2)
    np.testing.assert_array_equal(ours.weight.numpy()[2], np.zeros(3))
    check_layer(ours, torch.nn.Embedding(4, 3, padding_idx=2), ids)
    np.testing.assert_array_equal(ours.weight.grad.numpy()[2], np.zeros(3))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"stride": 2, "padding": 1},
        {"stride": (2, 1), "padding": (0, 2), "dilation": (1, 2)},
        {"dilation": 2, "bias": False},
    ],
    ids=repr,
)
def test_conv2d(rng, dtype, options):
    ours = nn.Conv2d(3, 4, (3, 2), **options)
    theirs = torch.nn.Conv2d(3, 4, (3, 2), **options)
    check_layer(ours, theirs, rng.standard_normal((2, 3, 7, 6)), dtype)


@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1)},
    ],
    ids=repr,
)
def test_max_pool2d(rng, dtype, options):
    check_layer(
        nn.MaxPool2d(**options),
        torch.nn.MaxPool2d(**options),
        rng.standard_normal((2, 2, 7, 6)),
        dtype,
    )


def test_max_pool2d_padding_never_wins_over_negative_inputs(rng):
    x = -1 - rng.random((1, 1, 4, 4))
    check_layer(nn.MaxPool2d(3, stride=1, padding=1), torch.nn.MaxPool2d(3, 1, 1), x)


@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    ],
    ids=repr,
)
def test_avg_pool2d(rng, dtype, options):
    check_layer(
        nn.AvgPool2d(**options),
        torch.nn.AvgPool2d(**options),
        rng.standard_normal((2, 2, 7, 6)),
        dtype,
    )


def test_a_small_cnn_matches_end_to_end(rng):
    def build(lib):
        return lib.Sequential(
            lib.Conv2d(1, 4, 3, padding=1),
            lib.ReLU(),
            lib.MaxPool2d(2),
            lib.Conv2d(4, 6, 3),
            lib.Tanh(),
            lib.AvgPool2d(2),
            lib.Flatten(),
            lib.Linear(6, 5),
            lib.LayerNorm(5),
        )

    check_layer(build(nn), build(torch.nn), rng.standard_normal((3, 1, 8, 8)), "float32")


def test_dropout_in_training_zeroes_and_rescales_and_in_eval_is_the_identity():
    bp.manual_seed(0)
    layer = nn.Dropout(p=0.25)
    x = bp.ones(1000, requires_grad=True)
    y = layer(x)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75)
    assert 0.2 < 1 - kept.mean() < 0.3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.75, 0.0))
    layer.eval()
    assert layer(x) is x


def test_dropout_draws_from_the_global_generator():
    x = bp.ones(50)
    bp.manual_seed(3)
    first = nn.Dropout()(x).numpy()
    bp.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout()(x).numpy(), first)


def test_layers_follow_pytorch_default_initialisation():
    bp.manual_seed(0)
    linear = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)  # kaiming_uniform_ with a = sqrt(5) gives 1 / sqrt(fan_in)
    for values in (linear.weight.numpy(), linear.bias.numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 3 * 3)
    assert np.abs(conv.weight.numpy()).max() <= bound
    assert np.abs(conv.bias.numpy()).max() <= bound
    norm = nn.LayerNorm(3)
    np.testing.assert_array_equal(norm.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(norm.bias.numpy(), np.zeros(3))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Linear(3, 2)(bp.randn(4, 5)), "Linear: expected input with last dimension 3"),
        (lambda: nn.Conv2d(3, 2, 3)(bp.randn(1, 2, 5, 5)), "conv2d: weight must be"),
        (lambda: nn.Conv2d(1, 2, 5)(bp.randn(1, 1, 3, 3)), "conv2d: an input of height"),
        (lambda: nn.MaxPool2d(2, padding=2)(bp.randn(1, 1, 4, 4)), "at most half the kernel"),
        (lambda: nn.AvgPool2d(2)(bp.randn(4, 4)), r"avg_pool2d: expected an \(N, C, H, W\)"),
        (lambda: nn.BatchNorm1d(3)(bp.randn(4, 2)), r"BatchNorm1d: expected input \(N, 3\)"),
        (
            lambda: nn.BatchNorm2d(3)(bp.randn(4, 3, 5)),
            r"BatchNorm2d: expected input \(N, 3, H, W\), got \(4, 3, 5\)",
        ),
        (lambda: nn.BatchNorm2d(0), "BatchNorm2d: num_features"),
        (lambda: nn.LayerNorm(3)(bp.randn(3, 4)), "layer_norm: normalized_shape"),
        (lambda: nn.Embedding(4, 2)(bp.randn(3)), "embedding: input must be an integer Tensor"),
        (lambda: nn.Dropout(1.5), r"Dropout: p must be in \[0, 1\]"),
        (lambda: nn.GELU("fast"), "GELU: approximate must be"),
        (lambda: nn.Linear(0, 2), "Linear: in_features must be a positive int"),
    ],
)
def test_bad_input_is_a_clear_error(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_layers_run_unchanged_on_every_device(device, rng):
    """Tiny shapes: the Numba backend runs here in CUDA's simulator."""

    def build():
        bp.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 2, 2),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.BatchNorm1d(2),
            nn.Tanh(),
            nn.LayerNorm(2),
            nn.Linear(2, 3),
        ).double()

    x, labels = rng.standard_normal((3, 1, 3, 3)), np.array([0, 2, 1])
    results = []
    for where in ("cpu", device):
        model = build().to(where)
        logits = model(bp.tensor(x, device=where))
        nn.CrossEntropyLoss()(logits, bp.tensor(labels, device=where)).backward()
        grads = [p.grad.numpy() for p in model.parameters()]
        results.append([logits.numpy(), model[4].running_var.numpy(), *grads])
    for on_cpu, on_device in zip(*results):
        np.testing.assert_allclose(on_device, on_cpu, rtol=1e-9, atol=1e-12)
