"""The capture rehearsal (see tests/rehearsal.py) for every layer, loss, optimizer, LR scheduler
and in-place write people put in a training step.

Each test walks a small step through `graph_step`'s phases on the NumPy backend with the
backend's host transfers refusing during the capture call: a step that passes needs no host
round trip, so it can be recorded into a CUDA graph. What cannot be captured by its nature (a
data-dependent output shape, a value the host must decide on) is asserted to raise, with the
reason beside it. Dropout layers are left to their own rehearsal.
"""

from __future__ import annotations

import numpy as np
import pytest
from rehearsal import HostTransfer, floats, labels, rehearse

import backprop as bp
import backprop.nn.functional as F
from backprop import graph, nn, optim
from backprop.optim import lr_scheduler


class Call(nn.Module):
    """`layer` called on the batch by `call(layer, x)`, which may pass extra inputs made before
    the step (masks, offsets, a second operand): the model a rehearsal trains."""

    def __init__(self, layer: nn.Module, call=None):
        super().__init__()
        self.layer = layer
        self.call = call

    def forward(self, x: bp.Tensor) -> bp.Tensor:
        return self.layer(x) if self.call is None else self.call(self.layer, x)


def mean_square(out: bp.Tensor, *_) -> bp.Tensor:
    """A loss that reaches every output: the mean of the squared outputs."""
    return (out * out).mean()


def rehearse_layer(monkeypatch, model: nn.Module, x: bp.Tensor) -> None:
    """Rehearses `model` under SGD with momentum, trained on the mean square of its output."""
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rehearse(monkeypatch, model, optimizer, mean_square, x)


# -- activations, reshapes and other element-wise layers --------------------------------------

ACTIVATIONS = {
    "celu": nn.CELU(),
    "elu": nn.ELU(0.5),
    "gelu": nn.GELU(),
    "gelu-tanh": nn.GELU("tanh"),
    "glu": nn.GLU(),
    "selu": nn.SELU(),
    "hardsigmoid": nn.Hardsigmoid(),
    "hardswish": nn.Hardswish(),
    "hardtanh": nn.Hardtanh(-0.5, 0.5),
    "leaky-relu": nn.LeakyReLU(0.2),
    "logsigmoid": nn.LogSigmoid(),
    "log-softmax": nn.LogSoftmax(1),
    "mish": nn.Mish(),
    "prelu": nn.PReLU(),
    "prelu-channels": nn.PReLU(6),
    "relu": nn.ReLU(),
    "relu6": nn.ReLU6(),
    "sigmoid": nn.Sigmoid(),
    "silu": nn.SiLU(),
    "softmax": nn.Softmax(1),
    "softmin": nn.Softmin(1),
    "softplus": nn.Softplus(2.0),
    "softsign": nn.Softsign(),
    "tanh": nn.Tanh(),
    "tanhshrink": nn.Tanhshrink(),
    "threshold": nn.Threshold(0.1, 20.0),
    "identity": nn.Identity(),
    "flatten": nn.Flatten(0),
    "unflatten": nn.Unflatten(1, (2, 3)),
}


@pytest.mark.parametrize("activation", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_every_activation_layer_is_capturable(monkeypatch, rng, activation):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), activation)
    rehearse_layer(monkeypatch, model, floats(rng, 4, 5))


def test_softmax2d_is_capturable(monkeypatch, rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.Softmax2d())
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 3, 3))


# -- convolutions, normalisation, pooling and resampling ------------------------------------

CONVOLUTIONS = {
    "conv1d": lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2),
    "conv1d-same-groups": lambda: nn.Conv1d(2, 4, 3, padding="same", groups=2, bias=False),
    "conv1d-reflect": lambda: nn.Conv1d(2, 4, 3, padding=2, padding_mode="reflect"),
    "conv1d-circular": lambda: nn.Conv1d(2, 4, 3, padding=1, padding_mode="circular"),
    "conv1d-replicate": lambda: nn.Conv1d(2, 4, 3, padding=1, padding_mode="replicate"),
}


@pytest.mark.parametrize("make", CONVOLUTIONS.values(), ids=CONVOLUTIONS.keys())
def test_every_1d_convolution_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, make(), floats(rng, 3, 2, 9))


CONVOLUTIONS_2D = {
    "conv2d-strided-dilated": lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), dilation=(1, 2)),
    "conv-transpose2d": lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1),
    "conv-transpose2d-groups-dilation": lambda: nn.ConvTranspose2d(
        2, 4, 2, groups=2, dilation=2, bias=False
    ),
}


@pytest.mark.parametrize("make", CONVOLUTIONS_2D.values(), ids=CONVOLUTIONS_2D.keys())
def test_every_2d_convolution_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, make(), floats(rng, 2, 2, 5, 5))


NORMALIZATIONS = {
    "instance-norm1d": lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
    "instance-norm1d-plain": lambda: nn.InstanceNorm1d(3),
    "batch-norm1d-sequence": lambda: nn.BatchNorm1d(3),
    "batch-norm1d-no-stats": lambda: nn.BatchNorm1d(3, affine=False, track_running_stats=False),
    "group-norm": lambda: nn.GroupNorm(3, 3),
    "layer-norm-no-bias": lambda: nn.LayerNorm((3, 5), bias=False),
    "layer-norm-no-affine": lambda: nn.LayerNorm(5, elementwise_affine=False),
    "local-response-norm": lambda: nn.LocalResponseNorm(2),
}


@pytest.mark.parametrize("make", NORMALIZATIONS.values(), ids=NORMALIZATIONS.keys())
def test_every_normalization_layer_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 1), make())
    rehearse_layer(monkeypatch, model, floats(rng, 4, 2, 5))


def test_instance_norm2d_and_a_batch_norm_in_eval_mode_are_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    frozen = nn.BatchNorm2d(3)
    frozen.eval()
    model = nn.Sequential(
        nn.Conv2d(2, 3, 1),
        nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=None),
        frozen,
        nn.LocalResponseNorm(3, alpha=1e-2),
    )
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 4, 4))


POOLING_1D = {
    "max-pool1d": lambda: nn.MaxPool1d(3, 2, padding=1, dilation=1, ceil_mode=True),
    "max-pool1d-dilated": lambda: nn.MaxPool1d(2, dilation=2),
    "avg-pool1d": lambda: nn.AvgPool1d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
    "avg-pool1d-padded": lambda: nn.AvgPool1d(2, padding=1),
    "adaptive-avg-pool1d": lambda: nn.AdaptiveAvgPool1d(4),
}


@pytest.mark.parametrize("make", POOLING_1D.values(), ids=POOLING_1D.keys())
def test_every_1d_pooling_layer_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 1), make())
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 7))


POOLING_2D = {
    "max-pool2d-dilated": lambda: nn.MaxPool2d(2, 1, dilation=2),
    "max-pool2d-padded": lambda: nn.MaxPool2d(3, 2, padding=1),
    "avg-pool2d-divisor": lambda: nn.AvgPool2d(2, divisor_override=3),
    "avg-pool2d-ceil": lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True),
    "adaptive-avg-pool2d": lambda: nn.AdaptiveAvgPool2d((3, None)),
    "adaptive-max-pool2d": lambda: nn.AdaptiveMaxPool2d((2, 3)),
}


@pytest.mark.parametrize("make", POOLING_2D.values(), ids=POOLING_2D.keys())
def test_every_2d_pooling_layer_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 1), make())
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 5, 5))


class PoolAndUnpool(nn.Module):
    """A max pool whose indices place the pooled values back with MaxUnpool2d; the adaptive
    max pool's indices too."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.adaptive = nn.AdaptiveMaxPool2d(2, return_indices=True)

    def forward(self, x: bp.Tensor) -> bp.Tensor:
        x = self.conv(x)
        pooled, indices = self.pool(x)
        restored = self.unpool(pooled, indices, output_size=x.shape[-2:])
        adaptive, _ = self.adaptive(restored)
        return adaptive


def test_max_unpooling_with_the_pools_indices_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, PoolAndUnpool(), floats(rng, 2, 2, 5, 5))


RESAMPLING = {
    "nearest-scale": lambda: nn.Upsample(scale_factor=2),
    "nearest-size": lambda: nn.Upsample(size=(5, 7)),
    "nearest-exact": lambda: nn.Upsample(scale_factor=1.5, mode="nearest-exact"),
    "bilinear": lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
    "bilinear-aligned": lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
    "bilinear-recomputed": lambda: nn.Upsample(
        scale_factor=1.7, mode="bilinear", recompute_scale_factor=True
    ),
    "pixel-shuffle": lambda: nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(2)),
}


@pytest.mark.parametrize("make", RESAMPLING.values(), ids=RESAMPLING.keys())
def test_every_resampling_layer_is_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 1), make())
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 4, 4))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_1d_upsampling_is_capturable(monkeypatch, rng, mode):
    model = nn.Sequential(nn.Conv1d(2, 2, 1), nn.Upsample(scale_factor=2.5, mode=mode))
    rehearse_layer(monkeypatch, model, floats(rng, 2, 2, 4))


@pytest.mark.parametrize("mode", ["nearest", "trilinear"])
def test_3d_upsampling_is_capturable(monkeypatch, rng, mode):
    model = Call(
        nn.Linear(3, 3), lambda layer, x: F.interpolate(layer(x), scale_factor=2, mode=mode)
    )
    rehearse_layer(monkeypatch, model, floats(rng, 1, 2, 2, 3, 3))


def test_fold_and_unfold_are_capturable(monkeypatch, rng):
    def call(conv, x):
        patches = F.unfold(conv(x), 2, dilation=1, padding=1, stride=1)
        return F.fold(patches, (4, 4), 2, padding=1)

    rehearse_layer(monkeypatch, Call(nn.Conv2d(2, 3, 1), call), floats(rng, 2, 2, 4, 4))


@pytest.mark.parametrize("mode", F.PAD_MODES)
def test_padding_in_every_mode_is_capturable(monkeypatch, rng, mode):
    def call(conv, x):
        return F.pad(conv(x), (1, 2, 2, 1), mode=mode, value=0.5 if mode == "constant" else None)

    rehearse_layer(monkeypatch, Call(nn.Conv2d(2, 3, 1), call), floats(rng, 2, 2, 4, 4))


def test_normalizing_and_padding_sequences_are_capturable(monkeypatch, rng):
    def call(layer, x):
        hidden = F.normalize(layer(x), p=3.0, dim=-1)
        sequences = [hidden[0, :2], hidden[1], hidden[2, :1]]
        return nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_side="left")

    rehearse_layer(monkeypatch, Call(nn.Linear(3, 4), call), floats(rng, 3, 4, 3))


# -- layers with two inputs, lookups, attention and recurrent cells ---------------------------

TWO_INPUTS = {
    "bilinear": lambda other: Call(nn.Bilinear(4, 3, 5), lambda layer, x: layer(x, other)),
    "cosine-similarity": lambda other: Call(
        nn.Linear(4, 3), lambda layer, x: nn.CosineSimilarity(1)(layer(x), other)
    ),
    "pairwise-distance": lambda other: Call(
        nn.Linear(4, 3), lambda layer, x: nn.PairwiseDistance(1.5, keepdim=True)(layer(x), other)
    ),
    "pairwise-distance-inf": lambda other: Call(
        nn.Linear(4, 3), lambda layer, x: F.pairwise_distance(layer(x), other, float("inf"))
    ),
}


@pytest.mark.parametrize("make", TWO_INPUTS.values(), ids=TWO_INPUTS.keys())
def test_layers_of_two_inputs_are_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, make(floats(rng, 5, 3)), floats(rng, 5, 4))


def tokens(rng, *shape: int, vocabulary: int = 7) -> bp.Tensor:
    return bp.tensor(rng.integers(0, vocabulary, shape))


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_an_embedding_is_capturable(monkeypatch, rng, padding_idx):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, nn.Embedding(7, 3, padding_idx=padding_idx), tokens(rng, 4, 5))


@pytest.mark.parametrize("mode", F.EMBEDDING_BAG_MODES)
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_an_embedding_bag_with_offsets_is_capturable(monkeypatch, rng, mode, include_last_offset):
    bp.manual_seed(0)
    offsets = bp.tensor(np.array([0, 2, 2, 5, 8] if include_last_offset else [0, 2, 2, 5]))
    bag = nn.EmbeddingBag(7, 3, mode=mode, include_last_offset=include_last_offset, padding_idx=1)
    model = Call(bag, lambda layer, ids: layer(ids, offsets))
    rehearse_layer(monkeypatch, model, tokens(rng, 8))


@pytest.mark.parametrize("mode", F.EMBEDDING_BAG_MODES)
def test_an_embedding_bag_of_fixed_length_bags_is_capturable(monkeypatch, rng, mode):
    bp.manual_seed(0)
    rehearse_layer(monkeypatch, nn.EmbeddingBag(7, 3, mode=mode), tokens(rng, 3, 4))


def test_an_embedding_bag_with_per_sample_weights_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    offsets, weights = bp.tensor(np.array([0, 3])), floats(rng, 6)
    model = Call(nn.EmbeddingBag(7, 3, mode="sum"), lambda layer, ids: layer(ids, offsets, weights))
    rehearse_layer(monkeypatch, model, tokens(rng, 6))


def test_one_hot_checks_its_classes_on_the_host_on_the_cpu_only(monkeypatch, rng):
    """On the CPU one_hot checks that every class lies in [0, num_classes), a host read; on a
    GPU it skips that check (a class outside gives a row of zeros), so the same step captures
    there. The rehearsal, on the CPU, sees the read."""
    model = nn.Linear(4, 3)
    x, y = floats(rng, 5, 4), labels(rng, 5, 3)

    def loss(out, y):
        return F.mse_loss(out, bp.ops.astype(F.one_hot(y, 3), bp.float32))

    with pytest.raises(HostTransfer, match="to_host"):
        rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), loss, x, y)


def test_one_hot_with_classes_read_from_the_data_is_not_capturable(monkeypatch, rng):
    """num_classes=-1 reads the largest class back to the host: an output shape that depends
    on the data cannot be recorded into a graph."""
    model = nn.Linear(4, 3)
    x, y = floats(rng, 5, 4), bp.tensor(np.array([0, 1, 2, 2, 1]))

    def loss(out, y):
        return F.mse_loss(out, bp.ops.astype(F.one_hot(y), bp.float32))

    with pytest.raises(HostTransfer, match="to_host"):
        rehearse(monkeypatch, model, optim.SGD(model.parameters(), lr=0.1), loss, x, y)


ATTENTION = {
    "padding-mask-and-weights": {"key_padding_mask": True, "need_weights": True},
    "float-padding-mask": {"key_padding_mask": "float"},
    "per-head-weights": {"need_weights": True, "average_attn_weights": False},
    "causal": {"attn_mask": True, "is_causal": True},
}


@pytest.mark.parametrize("options", ATTENTION.values(), ids=ATTENTION.keys())
@pytest.mark.parametrize("extras", [{}, {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3}])
def test_multihead_attention_with_every_mask_is_capturable(monkeypatch, rng, options, extras):
    bp.manual_seed(0)
    attention = nn.MultiheadAttention(4, 2, batch_first=True, **extras)
    memory = floats(rng, 3, 6, extras.get("kdim", 4))
    padding = np.zeros((3, 6), bool)
    padding[0, 4:] = True
    arguments = dict(options)
    if "key_padding_mask" in options:
        mask = bp.tensor(padding)
        arguments["key_padding_mask"] = (
            mask
            if options["key_padding_mask"] is True
            else bp.tensor(np.where(padding, -1e9, 0).astype(np.float32))
        )
    if "attn_mask" in options:
        arguments["attn_mask"] = bp.tensor(np.triu(np.ones((5, 6), bool), 2))
    value = memory if "kdim" not in extras else floats(rng, 3, 6, 4)

    def call(layer, x):
        out, weights = layer(x, memory, value, **arguments)
        return out if weights is None else out.sum() + weights.sum()

    rehearse_layer(monkeypatch, Call(attention, call), floats(rng, 3, 5, 4))


def test_scaled_dot_product_attention_is_capturable(monkeypatch, rng):
    mask = bp.tensor(np.tril(np.ones((4, 4), bool)))

    def call(layer, x):
        q = layer(x)
        causal = F.scaled_dot_product_attention(q, x, x, is_causal=True, scale=0.3)
        return causal + F.scaled_dot_product_attention(q, x, x, attn_mask=mask)

    rehearse_layer(monkeypatch, Call(nn.Linear(3, 3), call), floats(rng, 2, 4, 3))


def sequence_masks(rng, batch: int, length: int) -> tuple[bp.Tensor, bp.Tensor]:
    """A causal (length, length) mask and a key padding mask hiding the end of one sequence."""
    padding = np.zeros((batch, length), bool)
    padding[0, -2:] = True
    return bp.tensor(np.triu(np.ones((length, length), bool), 1)), bp.tensor(padding)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_a_transformer_encoder_with_masks_is_capturable(monkeypatch, rng, norm_first, activation):
    bp.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        4, 2, 8, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4))
    causal, padding = sequence_masks(rng, 3, 5)

    def call(encoder, x):
        return encoder(x, mask=causal, src_key_padding_mask=padding, is_causal=True)

    rehearse_layer(monkeypatch, Call(encoder, call), floats(rng, 3, 5, 4))


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_transformer_decoder_with_masks_is_capturable(monkeypatch, rng, norm_first):
    bp.manual_seed(0)
    layer = nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, norm_first=norm_first)
    decoder = nn.TransformerDecoder(layer, 2)
    causal, padding = sequence_masks(rng, 3, 5)
    memory, memory_padding = floats(rng, 6, 3, 4), sequence_masks(rng, 3, 6)[1]

    def call(decoder, x):
        return decoder(
            x,
            memory,
            tgt_mask=causal,
            tgt_key_padding_mask=padding,
            memory_key_padding_mask=memory_padding,
            tgt_is_causal=True,
        )

    rehearse_layer(monkeypatch, Call(decoder, call), floats(rng, 5, 3, 4))


def test_a_whole_transformer_with_every_mask_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0, batch_first=True)
    source, source_padding = floats(rng, 3, 6, 4), sequence_masks(rng, 3, 6)[1]
    causal, padding = sequence_masks(rng, 3, 5)
    memory_mask = bp.tensor(np.zeros((5, 6), np.float32))

    def call(model, target):
        return model(
            source,
            target,
            tgt_mask=causal,
            memory_mask=memory_mask,
            src_key_padding_mask=source_padding,
            tgt_key_padding_mask=padding,
            memory_key_padding_mask=source_padding,
            tgt_is_causal=True,
        )

    rehearse_layer(monkeypatch, Call(model, call), floats(rng, 3, 5, 4))


def test_a_generated_causal_mask_made_once_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1, 4, dropout=0.0), 1)
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    model = Call(encoder, lambda layer, x: layer(x, mask=causal, is_causal=True))
    rehearse_layer(monkeypatch, model, floats(rng, 5, 2, 4))


CELLS = {
    "rnn-cell": lambda: nn.RNNCell(3, 4, nonlinearity="relu"),
    "gru-cell": lambda: nn.GRUCell(3, 4),
}


@pytest.mark.parametrize("make", CELLS.values(), ids=CELLS.keys())
def test_recurrent_cells_unrolled_over_a_sequence_are_capturable(monkeypatch, rng, make):
    bp.manual_seed(0)

    def call(cell, x):
        hidden = None
        for step in range(x.shape[0]):
            hidden = cell(x[step], hidden)
        return hidden

    rehearse_layer(monkeypatch, Call(make(), call), floats(rng, 3, 2, 3))


def test_an_lstm_cell_feeding_an_lstm_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    cell, lstm = nn.LSTMCell(3, 4), nn.LSTM(4, 2, bias=False)

    def call(layers, x):
        cell, lstm = layers
        state = None
        outputs = []
        for step in range(x.shape[0]):
            state = cell(x[step], state)
            outputs.append(state[0])
        output, _ = lstm(bp.stack(outputs))
        return output

    rehearse_layer(monkeypatch, Call(nn.ModuleList([cell, lstm]), call), floats(rng, 3, 2, 3))


# -- losses ---------------------------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]


def reduced(loss: bp.Tensor) -> bp.Tensor:
    """A reduction 'none' loss summed, so that every loss ends in a scalar to differentiate."""
    return loss if loss.ndim == 0 else loss.sum()


def rehearse_loss(monkeypatch, rng, loss_fn, *targets: bp.Tensor, features: int = 3) -> None:
    """A linear layer's (5, features) output trained on `loss_fn(output, *targets)`."""
    bp.manual_seed(0)
    model = nn.Linear(4, features)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    def loss(out, *targets):
        return reduced(loss_fn(out, *targets))

    rehearse(monkeypatch, model, optimizer, loss, floats(rng, 5, 4), *targets)


CLASS_WEIGHTS = bp.tensor(np.array([0.2, 1.0, 3.0], np.float32))

CLASSIFICATION = {
    "cross-entropy": {},
    "weighted": {"weight": CLASS_WEIGHTS},
    "ignore-index": {"ignore_index": 1},
    "label-smoothing": {"label_smoothing": 0.2},
    "weighted-smoothing-ignore": {"weight": CLASS_WEIGHTS, "label_smoothing": 0.1},
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CLASSIFICATION.values(), ids=CLASSIFICATION.keys())
def test_cross_entropy_with_every_option_is_capturable(monkeypatch, rng, options, reduction):
    y = labels(rng, 5, 3, ignored=0 if "ignore_index" in options else 2)  # -100 or class 1

    def loss(out, y):
        return F.cross_entropy(out, y, reduction=reduction, **options)

    rehearse_loss(monkeypatch, rng, loss, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_against_probabilities_is_capturable(monkeypatch, rng, reduction):
    probabilities = floats(rng, 5, 3).softmax(1)

    def loss(out, p):
        return nn.CrossEntropyLoss(CLASS_WEIGHTS, reduction=reduction, label_smoothing=0.1)(out, p)

    rehearse_loss(monkeypatch, rng, loss, probabilities)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, CLASS_WEIGHTS])
def test_nll_loss_is_capturable(monkeypatch, rng, weight, reduction):
    y = labels(rng, 5, 3, ignored=1)

    def loss(out, y):
        return nn.NLLLoss(weight, ignore_index=-100, reduction=reduction)(out.log_softmax(1), y)

    rehearse_loss(monkeypatch, rng, loss, y)


def test_a_segmentation_nll_loss_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Conv2d(2, 3, 1)
    target = labels(rng, 2 * 3 * 3, 3, ignored=4).reshape(2, 3, 3)

    def loss(out, y):
        return F.nll_loss(out.log_softmax(1), y, CLASS_WEIGHTS, ignore_index=-100)

    optimizer = optim.SGD(model.parameters(), lr=0.1)
    rehearse(monkeypatch, model, optimizer, loss, floats(rng, 2, 2, 3, 3), target)


REGRESSION = {
    "mse": lambda r: nn.MSELoss(r),
    "l1": lambda r: nn.L1Loss(r),
    "smooth-l1": lambda r: nn.SmoothL1Loss(r, beta=0.5),
    "smooth-l1-beta0": lambda r: nn.SmoothL1Loss(r, beta=0.0),
    "huber": lambda r: nn.HuberLoss(r, delta=0.5),
    "soft-margin": lambda r: nn.SoftMarginLoss(reduction=r),
    "hinge-embedding": lambda r: nn.HingeEmbeddingLoss(0.5, r),
    "multilabel-soft-margin": lambda r: nn.MultiLabelSoftMarginLoss(CLASS_WEIGHTS, r),
    "poisson-nll": lambda r: nn.PoissonNLLLoss(reduction=r),
    "poisson-nll-rate-full": lambda r: (
        lambda out, t: nn.PoissonNLLLoss(False, True, reduction=r)(out.exp(), t.abs())
    ),
    "gaussian-nll": lambda r: (
        lambda out, t: nn.GaussianNLLLoss(full=True, reduction=r)(out, t, out.detach().abs() + 0.1)
    ),
    "gaussian-nll-shared-var": lambda r: (
        lambda out, t: nn.GaussianNLLLoss(reduction=r)(out, t, (out * 0 + 0.5)[:, :1])
    ),
    "kl-div": lambda r: lambda out, t: nn.KLDivLoss(r)(out.log_softmax(1), t.softmax(1)),
    "kl-div-log-target": lambda r: (
        lambda out, t: nn.KLDivLoss(r, log_target=True)(out.log_softmax(1), t.log_softmax(1))
    ),
    "bce": lambda r: lambda out, t: nn.BCELoss(CLASS_WEIGHTS, r)(out.sigmoid(), t.sigmoid()),
    "bce-logits": lambda r: (
        lambda out, t: nn.BCEWithLogitsLoss(CLASS_WEIGHTS, r, pos_weight=CLASS_WEIGHTS * 2)(
            out, t.sigmoid()
        )
    ),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make", REGRESSION.values(), ids=REGRESSION.keys())
def test_every_elementwise_loss_with_every_reduction_is_capturable(
    monkeypatch, rng, make, reduction
):
    rehearse_loss(monkeypatch, rng, make(reduction), floats(rng, 5, 3))


def test_kl_div_batchmean_is_capturable(monkeypatch, rng):
    def loss(out, t):
        return F.kl_div(out.log_softmax(1), t.softmax(1), "batchmean")

    rehearse_loss(monkeypatch, rng, loss, floats(rng, 5, 3))


def signs(rng, *shape: int) -> bp.Tensor:
    return bp.tensor(rng.choice([-1.0, 1.0], shape).astype(np.float32))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_the_margin_losses_of_pairs_are_capturable(monkeypatch, rng, reduction):
    other, y = floats(rng, 5, 3), signs(rng, 5)

    def loss(out, other, y):
        ranking = nn.MarginRankingLoss(0.2, reduction)(out[:, 0], other[:, 0], y)
        cosine = nn.CosineEmbeddingLoss(0.1, reduction)(out, other, y)
        return reduced(ranking) + reduced(cosine)

    rehearse_loss(monkeypatch, rng, loss, other, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_the_triplet_margin_loss_is_capturable(monkeypatch, rng, swap, reduction):
    positive, negative = floats(rng, 5, 3), floats(rng, 5, 3)

    def loss(out, positive, negative):
        return nn.TripletMarginLoss(0.5, p=1.5, swap=swap, reduction=reduction)(
            out, positive, negative
        )

    rehearse_loss(monkeypatch, rng, loss, positive, negative)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weight", [None, CLASS_WEIGHTS])
def test_the_multi_margin_loss_is_capturable(monkeypatch, rng, p, weight, reduction):
    y = labels(rng, 5, 3)

    def loss(out, y):
        return nn.MultiMarginLoss(p, 0.7, weight, reduction)(out, y)

    rehearse_loss(monkeypatch, rng, loss, y)


# -- optimizers and LR schedulers -----------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd-dampening-decay": lambda p: optim.SGD(
        p, 0.1, momentum=0.9, dampening=0.3, weight_decay=0.1
    ),
    "adam-decay": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
    "adam-amsgrad-decay": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adamw-amsgrad": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
    "adamax": lambda p: optim.Adamax(p, weight_decay=0.1),
    "adadelta": lambda p: optim.Adadelta(p, weight_decay=0.1),
    "nadam": lambda p: optim.NAdam(p, weight_decay=0.1),
    "nadam-decoupled": lambda p: optim.NAdam(p, weight_decay=0.1, decoupled_weight_decay=True),
    "radam": lambda p: optim.RAdam(p, weight_decay=0.1),
    "radam-decoupled": lambda p: optim.RAdam(p, weight_decay=0.1, decoupled_weight_decay=True),
    "rmsprop": lambda p: optim.RMSprop(p, weight_decay=0.1),
    "rmsprop-momentum": lambda p: optim.RMSprop(p, momentum=0.9, weight_decay=0.1),
    "adagrad": lambda p: optim.Adagrad(p, weight_decay=0.1, initial_accumulator_value=0.1),
}


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_every_optimizer_with_its_options_is_capturable(monkeypatch, rng, make_optimizer):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    optimizer = make_optimizer(model.parameters())
    x, y = floats(rng, 6, 4), labels(rng, 6, 3)
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, x, y)


def test_an_optimizer_with_parameter_groups_is_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    groups = [
        {"params": model[0].parameters(), "lr": 0.1},
        {"params": model[2].parameters(), "weight_decay": 0.0},
    ]
    optimizer = optim.NAdam(groups, lr=0.01, weight_decay=0.1)
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, floats(rng, 6, 4), labels(rng, 6, 3))


SCHEDULERS = {
    "step": lambda o: lr_scheduler.StepLR(o, 1, 0.5),
    "multi-step": lambda o: lr_scheduler.MultiStepLR(o, [1, 2]),
    "exponential": lambda o: lr_scheduler.ExponentialLR(o, 0.9),
    "cosine": lambda o: lr_scheduler.CosineAnnealingLR(o, 4),
    "lambda": lambda o: lr_scheduler.LambdaLR(o, lambda epoch: 1 / (epoch + 1)),
    "linear": lambda o: lr_scheduler.LinearLR(o, 0.5, total_iters=2),
    "one-cycle": lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, cycle_momentum=False),
    "warm-restarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 2),
    "sequential": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, 0.5, total_iters=1), lr_scheduler.ExponentialLR(o, 0.9)], [1]
    ),
}


def refuse_host_transfers(monkeypatch, backend) -> None:
    """The backend's host transfers raise HostTransfer, as in `rehearse`'s capture call."""
    for name in ("from_host", "to_host", "synchronize"):

        def refuse(*_, _name=name):
            raise HostTransfer(f"the step called the backend's {_name} during the capture")

        monkeypatch.setattr(backend, name, refuse)


def rehearse_replays(monkeypatch, rng, optimizer_class, make_scheduler, between_steps) -> None:
    """`graph_step` with a scheduler: two warm-up steps, a captured one, then three replays,
    each made of `between_steps(scheduler)` on the host and the callbacks the capture
    registered; after each, the device learning rates hold the scheduler's."""
    bp.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = optimizer_class(model.parameters(), lr=0.01)
    scheduler = make_scheduler(optimizer)
    x, y = floats(rng, 5, 4), labels(rng, 5, 3)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(2):
        with graph._in_phase(graph.WARMUP):
            step()
        between_steps(scheduler)
    refuse_host_transfers(monkeypatch, x.backend)
    with graph._in_phase(graph.CAPTURE) as callbacks:
        step()
    monkeypatch.undo()
    for _ in range(3):
        between_steps(scheduler)
        for callback in callbacks:
            callback()
        for group, _, lr in optimizer._device_lrs.values():
            assert float(lr) == pytest.approx(group["lr"], rel=1e-6)


@pytest.mark.parametrize("make_scheduler", SCHEDULERS.values(), ids=SCHEDULERS.keys())
@pytest.mark.parametrize("optimizer_class", [optim.SGD, optim.Adam, optim.RAdam])
def test_every_lr_scheduler_stepped_between_captured_steps_reaches_the_replays(
    monkeypatch, rng, make_scheduler, optimizer_class
):
    """A scheduler stepped once per batch, between `graph_step` calls: it changes only the
    host-side learning rate, which a capturable optimizer copies in before each replay."""
    rehearse_replays(monkeypatch, rng, optimizer_class, make_scheduler, lambda s: s.step())


def test_reduce_lr_on_plateau_between_captured_steps_reaches_the_replays(monkeypatch, rng):
    def plateau(optimizer):
        return lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)

    rehearse_replays(monkeypatch, rng, optim.Adam, plateau, lambda s: s.step(bp.tensor(1.0)))


@pytest.mark.parametrize("optimizer_class", [optim.SGD, optim.Adam])
def test_a_scheduler_cycling_momentum_after_the_capture_is_refused_at_the_replay(
    monkeypatch, rng, optimizer_class
):
    """OneCycleLR also cycles momentum (Adam's beta1), a Python number the captured step keeps
    as it was at the capture: the replay refuses it rather than silently ignoring it."""

    def one_cycle(optimizer):
        return lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=10, cycle_momentum=True)

    with pytest.raises(RuntimeError, match=r"changed from .* after the step was captured"):
        rehearse_replays(monkeypatch, rng, optimizer_class, one_cycle, lambda s: s.step())


SCHEDULER_STEPS = {
    "exponential": lambda o: (lr_scheduler.ExponentialLR(o, 0.9), ()),
    "warm-restarts": lambda o: (lr_scheduler.CosineAnnealingWarmRestarts(o, 2), ()),
    "sequential": lambda o: (SCHEDULERS["sequential"](o), ()),
    "plateau": lambda o: (lr_scheduler.ReduceLROnPlateau(o), (1.0,)),
}


@pytest.mark.parametrize("make", SCHEDULER_STEPS.values(), ids=SCHEDULER_STEPS.keys())
def test_a_scheduler_stepped_inside_the_captured_step_is_refused(monkeypatch, rng, make):
    """Python code in a captured step runs once, at the capture, and is not replayed: a
    scheduler stepped there would stop changing the learning rate, so it is refused."""
    model = nn.Linear(4, 3)
    optimizer = optim.Adam(model.parameters())
    scheduler, metric = make(optimizer)

    def loss(out, y):
        scheduler.step(*metric)
        return F.cross_entropy(out, y)

    with pytest.raises(RuntimeError, match="step the scheduler between graph_step calls"):
        rehearse(monkeypatch, model, optimizer, loss, floats(rng, 5, 4), labels(rng, 5, 3))


@pytest.mark.parametrize("phase", [graph.WARMUP, graph.CAPTURE])
def test_lbfgs_refuses_to_step_inside_graph_step(rng, phase):
    """L-BFGS decides its steps on the host (curvature checks, line search, stopping tests)."""
    model = nn.Linear(4, 1)
    optimizer = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    x = floats(rng, 5, 4)

    def closure():
        optimizer.zero_grad()
        loss = mean_square(model(x))
        loss.backward()
        return loss

    with graph._in_phase(phase), pytest.raises(RuntimeError, match="cannot be captured"):
        optimizer.step(closure)


# -- in-place writes inside a step ----------------------------------------------------------

HALF, ROWS = bp.tensor(np.float32(0.5)), bp.tensor(np.array([0, 2]))

INPUT_WRITES = {
    "setitem-mask-scalar": lambda x, m: x.__setitem__(m, 0.0),
    "setitem-mask-0d": lambda x, m: x.__setitem__(m, HALF),
    "setitem-row-mask-scalar": lambda x, m: x.__setitem__(m[:, 0], -1.0),
    "setitem-row-mask-broadcast": lambda x, m: x.__setitem__(m[:, 0], x[0].detach() * 2),
    "setitem-row-mask-one-row": lambda x, m: x.__setitem__(m[:, 0], x[:1] + 1),
    "setitem-slice": lambda x, m: x.__setitem__((slice(None), 0), 1.0),
    "setitem-slice-tensor": lambda x, m: x.__setitem__((slice(None), 1), x[:, 2] * 2),
    "setitem-index-array": lambda x, m: x.__setitem__(ROWS, -1.0),
    "masked-fill": lambda x, m: x.masked_fill_(m, 0.0),
    "masked-fill-broadcast": lambda x, m: x.masked_fill_(m[:1], HALF),
    "clamp": lambda x, m: x.clamp_(-0.5, 0.5),
    "clamp-min": lambda x, m: x.clamp_(min=0.0),
    "mul-add": lambda x, m: x.mul_(2.0).add_(x, alpha=0.5),
}


@pytest.mark.parametrize("write", INPUT_WRITES.values(), ids=INPUT_WRITES.keys())
def test_in_place_writes_into_the_batch_are_capturable(monkeypatch, rng, write):
    """Masking or clamping the input batch, or a copy of it, before the model sees it."""
    bp.manual_seed(0)
    mask = bp.tensor(rng.random((5, 3)) < 0.5)

    def call(layer, x):
        x = x.clone()
        write(x, mask)
        return layer(x)

    rehearse_layer(monkeypatch, Call(nn.Linear(3, 4), call), floats(rng, 5, 3))


def freeze_rows(parameters) -> None:
    """Zeroes the gradient of the first row of every matrix, then clamps every parameter (as
    a WGAN critic's weight clipping), between the backward pass and the update."""
    with bp.no_grad():
        for param in parameters:
            if param.ndim == 2:
                rows = bp.arange(param.shape[0]).reshape(-1, 1) == 0
                param.grad[rows.reshape(-1)] = 0.0
                param.grad.masked_fill_(rows, 0.0)
            param.clamp_(-0.5, 0.5)


def flattened_clipping(parameters) -> None:
    """Clips the gradients as one flat vector, as some training loops write it."""
    parameters = list(parameters)
    grads = nn.utils.parameters_to_vector([p.grad for p in parameters])
    scale = (1.0 / (grads.norm() + 1e-6)).clamp(max=1.0)
    nn.utils.vector_to_parameters(grads * scale, [p.grad for p in parameters])


def test_clipping_through_a_flat_gradient_vector_is_capturable(monkeypatch, rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x, y = floats(rng, 5, 3), labels(rng, 5, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, x, y, clip=flattened_clipping)


def test_in_place_writes_into_gradients_and_parameters_are_capturable(monkeypatch, rng):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.Adam(model.parameters())
    x, y = floats(rng, 5, 3), labels(rng, 5, 2)
    rehearse(monkeypatch, model, optimizer, F.cross_entropy, x, y, clip=freeze_rows)


def test_writing_a_value_per_masked_element_is_not_capturable(monkeypatch, rng):
    """`x[mask] = values` with one value per True entry: how many values the mask takes is
    known only by reading it on the host."""
    mask = bp.tensor(np.array([True, False, True, False, False]))

    def call(layer, x):
        x = x.clone()
        x[mask] = bp.zeros(2, 3)
        return layer(x)

    with pytest.raises(HostTransfer, match="to_host"):
        rehearse_layer(monkeypatch, Call(nn.Linear(3, 4), call), floats(rng, 5, 3))


def test_a_boolean_mask_selection_is_not_capturable(monkeypatch, rng):
    """`x[mask]` has as many elements as the mask has True entries: an output shape that
    depends on the data, which the host must read."""
    mask = bp.tensor(rng.random((5, 4)) < 0.5)
    model = Call(nn.Linear(3, 4), lambda layer, x: layer(x)[mask])
    with pytest.raises(HostTransfer, match="to_host"):
        rehearse_layer(monkeypatch, model, floats(rng, 5, 3))


MASK_WRITES = {
    "own-shape-mask-scalar": ((4, 3), (4, 3), None),
    "row-mask-scalar": ((4, 3), (4,), None),
    "row-mask-row": ((4, 3), (4,), (3,)),
    "row-mask-one-row": ((4, 3), (4,), (1, 3)),
    "row-mask-column-of-one": ((4, 3), (4,), (1,)),
    "leading-2d-mask-row": ((2, 4, 3), (2, 4), (1, 3)),
    "own-shape-mask-0d": ((4, 3), (4, 3), ()),
}


@pytest.mark.parametrize("shape, mask_shape, value_shape", MASK_WRITES.values(), ids=MASK_WRITES)
def test_a_masked_write_without_a_host_read_matches_torch(device, shape, mask_shape, value_shape):
    """The device-side `where` path of `x[mask] = value` writes what PyTorch writes."""
    torch = pytest.importorskip("torch")

    rng = np.random.default_rng(3)
    array, mask = rng.standard_normal(shape), rng.random(mask_shape) < 0.5
    value = 7.0 if value_shape is None else rng.standard_normal(value_shape)
    x = bp.tensor(array, device=device)
    x[bp.tensor(mask, device=device)] = (
        value if value_shape is None else bp.tensor(value, device=device)
    )
    expected = torch.tensor(array)
    expected[torch.tensor(mask)] = value if value_shape is None else torch.tensor(value)
    np.testing.assert_array_equal(x.numpy(), expected.numpy())


def test_a_masked_write_of_a_value_per_selected_element_still_matches_torch(rng):
    torch = pytest.importorskip("torch")

    array, mask = rng.standard_normal((5, 3)), np.array([True, False, True, True, False])
    value = rng.standard_normal((3, 3))
    x = bp.tensor(array)
    x[bp.tensor(mask)] = bp.tensor(value)
    expected = torch.tensor(array)
    expected[torch.tensor(mask)] = torch.tensor(value)
    np.testing.assert_array_equal(x.numpy(), expected.numpy())


def test_a_masked_write_of_a_value_that_fits_no_selection_is_an_error():
    x = bp.zeros(5, 3)
    with pytest.raises(ValueError, match="setitem: .*tensor of shape \\(5, 3\\)"):
        x[bp.tensor(np.array([True, False, True, True, False]))] = bp.ones(2, 3)
