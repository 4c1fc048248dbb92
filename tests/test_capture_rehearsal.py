"""A rehearsal of `graph_step`'s capture on the CPU, for the steps people train.

A CUDA graph records kernel launches only: a step that copies host data to the device (an index
array, a mask drawn on the host), reads the device from the host or synchronises cannot be
captured, and on a GPU that shows up as a `GraphCaptureError`. These tests walk each step through
the same phases as `graph_step` on the NumPy backend (eager warm-up calls, then one call in the
capture phase) with the backend's host transfers refusing during the capture call, so a host
round trip hidden in any layer, loss or optimizer fails here, without a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from rehearsal import HostTransfer, floats, labels, rehearse

import backprop as bp
import backprop.nn.functional as F
from backprop import nn, optim

OPTIMIZERS = {
    "sgd-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
}


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_an_mlp_step_under_every_optimizer_is_capturable(monkeypatch, rng, make_optimizer):
    bp.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16),
        nn.BatchNorm1d(16, momentum=None),  # a cumulative average: 1 / batches seen
        nn.GELU(),
        nn.LayerNorm(16),
        nn.Linear(16, 3),
    )
    x, y = floats(rng, 6, 8), labels(rng, 6, 3, ignored=2)
    rehearse(monkeypatch, model, make_optimizer(model.parameters()), F.cross_entropy, x, y)


CLIPPING = {
    "norm": lambda params: nn.utils.clip_grad_norm_(params, 0.5),
    "inf-norm": lambda params: nn.utils.clip_grad_norm_(params, 0.5, norm_type=float("inf")),
    "value": lambda params: nn.utils.clip_grad_value_(params, 0.01),
}


@pytest.mark.parametrize("clip", CLIPPING.values(), ids=CLIPPING.keys())
def test_gradient_clipping_is_capturable(monkeypatch, rng, clip):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = floats(rng, 5, 4), labels(rng, 5, 2)
    optimizer = optim.Adam(model.parameters())
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, x, y, clip=clip)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_a_cnn_step_is_capturable(monkeypatch, rng, padding_mode):
    bp.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(4, 4, 3, padding="same", groups=2),
        nn.GroupNorm(2, 4),
        nn.AvgPool2d(2, 1, 1, count_include_pad=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rehearse(
        monkeypatch, model, optimizer, F.cross_entropy, floats(rng, 4, 2, 6, 6), labels(rng, 4, 3)
    )


def test_a_segmentation_step_with_ignored_pixels_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ConvTranspose2d(3, 3, 3, padding=1))
    target = labels(rng, 4 * 6 * 6, 3, ignored=20).reshape(4, 6, 6)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, floats(rng, 4, 2, 6, 6), target)


class LastStep(nn.Module):
    """A recurrent layer's output at the last time step, through a linear head."""

    def __init__(self, recurrent: nn.Module, hidden: int, classes: int):
        super().__init__()
        self.recurrent, self.head = recurrent, nn.Linear(hidden, classes)

    def forward(self, x: bp.Tensor) -> bp.Tensor:
        output, _ = self.recurrent(x)
        return self.head(output[:, -1])


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_recurrent_step_is_capturable(monkeypatch, rng, layer):
    bp.manual_seed(0)
    model = LastStep(layer(3, 5, num_layers=2, batch_first=True, bidirectional=True), 10, 2)
    x, y = floats(rng, 4, 5, 3), labels(rng, 4, 2)
    rehearse(monkeypatch, model, optim.Adam(model.parameters()), F.cross_entropy, x, y)


class CausalAttention(nn.Module):
    """Self-attention with a causal mask (made once, on the device) over an embedded sequence,
    pooled by a mean."""

    def __init__(self, vocabulary: int, width: int, classes: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.attention = nn.MultiheadAttention(width, 2, batch_first=True)
        self.head = nn.Linear(width, classes)
        self.mask = bp.tensor(np.triu(np.ones((length, length), bool), 1))

    def forward(self, tokens: bp.Tensor) -> bp.Tensor:
        x = self.embed(tokens)
        mixed, _ = self.attention(x, x, x, attn_mask=self.mask, need_weights=False, is_causal=True)
        return self.head(mixed.mean(axis=1))


def test_an_attention_step_with_a_causal_mask_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = CausalAttention(7, 8, 3, length=5)
    tokens, y = bp.tensor(rng.integers(0, 7, (4, 5))), labels(rng, 4, 3)
    rehearse(monkeypatch, model, optim.AdamW(model.parameters()), F.cross_entropy, tokens, y)


LOSSES = {
    "mse": lambda out, t: F.mse_loss(out, t),
    "smooth-l1": lambda out, t: F.smooth_l1_loss(out, t, beta=0.5),
    "bce-logits": lambda out, t: F.binary_cross_entropy_with_logits(out, t.sigmoid()),
    "kl-div": lambda out, t: F.kl_div(out.log_softmax(1), t.softmax(1), "batchmean"),
}


@pytest.mark.parametrize("loss_fn", LOSSES.values(), ids=LOSSES.keys())
def test_regression_losses_are_capturable(monkeypatch, rng, loss_fn):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 3))
    x, t = floats(rng, 5, 4), floats(rng, 5, 3)
    rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), loss_fn, x, t)


def test_the_rehearsal_catches_a_host_read(monkeypatch, rng):
    """The rehearsal itself: a loss that reads a value back is caught in the capture phase."""
    model = nn.Linear(4, 1)
    x = floats(rng, 5, 4)

    def logged_loss(out: bp.Tensor) -> bp.Tensor:
        loss = (out * out).mean()
        print(f"loss {loss.item():.3f}")
        return loss

    with pytest.raises(HostTransfer, match="to_host during the capture"):
        rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), logged_loss, x)
