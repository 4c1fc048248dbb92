"""Transformer layers as PyTorch has them: `TransformerEncoderLayer` and
`TransformerDecoderLayer` (attention and a feed-forward block, each in a residual connection
with LayerNorm after it or, with `norm_first`, before it), the `TransformerEncoder` and
`TransformerDecoder` stacks, and the full `Transformer`. They are built from
`MultiheadAttention`, `Linear`, `LayerNorm` and `Dropout` with PyTorch's submodule names, so a
PyTorch state_dict loads as is; only PyTorch's math path is here, not its nested-tensor fast
path."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from backprop import functional as F
from backprop import ops
from backprop.creation import arange, zeros
from backprop.nn import init
from backprop.nn.attention import MultiheadAttention
from backprop.nn.container import ModuleList
from backprop.nn.dropout import Dropout
from backprop.nn.linear import Linear
from backprop.nn.module import Module, check_sizes
from backprop.nn.normalization import LayerNorm
from backprop.tensor import Tensor

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]

Activation = str | Callable[[Tensor], Tensor]
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block `linear2(dropout(activation(linear1(x))))`,
    each added back to its input, as `torch.nn.TransformerEncoderLayer`. Post-norm (the
    default) normalises after each sum, `norm_first` normalises each block's input instead.
    Inputs are (S, N, E), (N, S, E) with `batch_first`, or unbatched (S, E), with E = d_model.
    `activation` is "relu", "gelu" or any callable on a Tensor."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        op = "TransformerEncoderLayer"
        _check_layer_options(op, d_model, nhead, dim_feedforward, dropout)
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(op, activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """The encoded `src`, shaped like it. The masks are MultiheadAttention's: `src_mask`
        (S, S) or (N * nhead, S, S), `src_key_padding_mask` (N, S) or (S,), bool (True = may
        not attend) or float (added to the scores); `is_causal` is the hint that `src_mask`
        is the causal mask, which it needs."""
        _check_sequence("TransformerEncoderLayer", "src", src, self.self_attn.embed_dim)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(
        self, x: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool
    ) -> Tensor:
        """Self-attention of x, then dropout."""
        attended = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(attended)

    def _ff_block(self, x: Tensor) -> Tensor:
        """The feed-forward block, then dropout."""
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention from the target to the encoder's output
    (`memory`), then the feed-forward block, each added back to its input, as
    `torch.nn.TransformerDecoderLayer`; post-norm or, with `norm_first`, pre-norm. The options
    are those of TransformerEncoderLayer."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        op = "TransformerDecoderLayer"
        _check_layer_options(op, d_model, nhead, dim_feedforward, dropout)
        factory = {"device": device, "dtype": dtype}
        attention = {"dropout": dropout, "batch_first": batch_first, "bias": bias, **factory}
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(op, activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """The decoded `tgt` (T, N, E), shaped like it, attending to `memory` (S, N, E) (batch
        first with `batch_first`; both unbatched or both batched). Masks as MultiheadAttention
        takes them: `tgt_mask` (T, T), `memory_mask` (T, S), each also (N * nhead, ., .),
        `tgt_key_padding_mask` (N, T), `memory_key_padding_mask` (N, S); the `*_is_causal`
        flags are hints that the matching mask is causal, which they need."""
        _check_decoder_inputs("TransformerDecoderLayer", tgt, memory, self.self_attn)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(
            x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        )
        return self.norm3(x + self._ff_block(x))

    def _sa_block(
        self, x: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool
    ) -> Tensor:
        """Self-attention of x, then dropout."""
        attended = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout1(attended)

    def _mha_block(
        self,
        x: Tensor,
        memory: Tensor,
        mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool,
    ) -> Tensor:
        """Attention from x to the memory, then dropout."""
        attended = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=False,
        )[0]
        return self.dropout2(attended)

    def _ff_block(self, x: Tensor) -> Tensor:
        """The feed-forward block, then dropout."""
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """`num_layers` deep copies of `encoder_layer` (as `layers.0`, `layers.1`, ...: they start
    with equal weights, as in PyTorch) run in turn, then the optional `norm`, as
    `torch.nn.TransformerEncoder`. `enable_nested_tensor` and `mask_check` are accepted for
    PyTorch's signature; they steer its nested-tensor fast path, which is not here, and change
    nothing."""

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ):
        super().__init__()
        self.layers = _clones("TransformerEncoder", "encoder_layer", encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = _optional_module("TransformerEncoder", "norm", norm)

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """Runs every layer with the same masks and `is_causal` hint (see
        TransformerEncoderLayer.forward). None, where PyTorch reads the mask on the host to
        detect a causal one, is taken as False: the mask is applied as given, to the same
        result."""
        output = src
        for layer in self.layers:
            output = layer(
                output,
                src_mask=mask,
                is_causal=bool(is_causal),
                src_key_padding_mask=src_key_padding_mask,
            )
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """`num_layers` deep copies of `decoder_layer` (as `layers.0`, `layers.1`, ...) run in turn
    on the target, each attending to the same memory, then the optional `norm`, as
    `torch.nn.TransformerDecoder`."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", "decoder_layer", decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = _optional_module("TransformerDecoder", "norm", norm)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Runs every layer with the same memory and masks (see
        TransformerDecoderLayer.forward); a `tgt_is_causal` of None reads as False, as
        TransformerEncoder's `is_causal`."""
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """The encoder-decoder model of "Attention Is All You Need", as `torch.nn.Transformer`: a
    TransformerEncoder of `num_encoder_layers` layers and a TransformerDecoder of
    `num_decoder_layers`, each ending in a LayerNorm (or `custom_encoder` / `custom_decoder`),
    with every parameter of two or more dimensions re-initialised by xavier_uniform_, as
    PyTorch does."""

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_options = {
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "activation": activation,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": batch_first,
            "norm_first": norm_first,
            "bias": bias,
            **factory,
        }
        custom_encoder = _optional_module("Transformer", "custom_encoder", custom_encoder)
        custom_decoder = _optional_module("Transformer", "custom_decoder", custom_decoder)
        if custom_encoder is None:
            layer = TransformerEncoderLayer(d_model, nhead, **layer_options)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            custom_encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is None:
            layer = TransformerDecoderLayer(d_model, nhead, **layer_options)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            custom_decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.encoder, self.decoder = custom_encoder, custom_decoder
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self) -> None:
        """xavier_uniform_ on every parameter of two or more dimensions."""
        for param in self.parameters():
            if param.ndim > 1:
                init.xavier_uniform_(param)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """The decoder's output for `tgt` (T, N, E) after the encoder has read `src`
        (S, N, E) (batch first with `batch_first`, or both unbatched); the masks and hints go
        to the encoder (`src_*`) and the decoder (`tgt_*`, `memory_*`) as those take them."""
        for name, sequence in (("src", src), ("tgt", tgt)):
            _check_sequence("Transformer", name, sequence, self.d_model)
        _check_same_batch("Transformer", ("src", src), ("tgt", tgt), self.batch_first)
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) float causal mask: -inf above the diagonal (a later position, which may
        not be attended to), 0 elsewhere; built on the device, with no host copy."""
        if isinstance(sz, bool) or not isinstance(sz, int) or sz < 0:
            raise ValueError(
                f"Transformer.generate_square_subsequent_mask: sz must be a non-negative int, "
                f"got {sz!r}"
            )
        rows = arange(sz, device=device).reshape(sz, 1)
        columns = arange(sz, device=device).reshape(1, sz)
        later = ops.compare("gt", columns, rows)
        return ops.where(later, -math.inf, zeros(sz, sz, dtype=dtype, device=device))


def _check_layer_options(
    op: str, d_model: int, nhead: int, dim_feedforward: int, dropout: float
) -> None:
    """Positive sizes, d_model split evenly into nhead heads, dropout a probability."""
    check_sizes(op, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward)
    if d_model % nhead:
        raise ValueError(f"{op}: d_model ({d_model}) must be divisible by nhead ({nhead})")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout}")


def _activation(op: str, activation: Activation) -> Callable[[Tensor], Tensor]:
    """The feed-forward activation: "relu" or "gelu" by name, else the callable itself."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"{op}: activation must be 'relu', 'gelu' or a callable, got {activation!r}"
            )
        return ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(
            f"{op}: activation must be 'relu', 'gelu' or a callable, "
            f"got {type(activation).__name__}"
        )
    return activation


def _clones(op: str, name: str, layer: Module, num_layers: int) -> ModuleList:
    """`num_layers` deep copies of `layer`, as PyTorch stacks them."""
    if not isinstance(layer, Module):
        raise TypeError(f"{op}: {name} must be a Module, got {type(layer).__name__}")
    check_sizes(op, num_layers=num_layers)
    return ModuleList(copy.deepcopy(layer) for _ in range(num_layers))


def _optional_module(op: str, name: str, module: Module | None) -> Module | None:
    """`module` as given, after checking that it is a Module or None."""
    if module is not None and not isinstance(module, Module):
        raise TypeError(f"{op}: {name} must be a Module or None, got {type(module).__name__}")
    return module


def _check_sequence(op: str, name: str, x: Tensor, d_model: int) -> None:
    """A batched (3-D) or unbatched (2-D) sequence with d_model features."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(
            f"{op}: {name} must be batched (S, N, E) / (N, S, E) or unbatched (S, E) with "
            f"E = d_model = {d_model}, got {x.shape}"
        )


def _check_same_batch(
    op: str, first: tuple[str, Tensor], second: tuple[str, Tensor], batch_first: bool
) -> None:
    """Two sequences both batched, with one batch size, or both unbatched."""
    (name, x), (other_name, y) = first, second
    axis = 0 if batch_first else 1
    if x.ndim != y.ndim or (x.ndim == 3 and x.shape[axis] != y.shape[axis]):
        raise ValueError(
            f"{op}: {name} and {other_name} must both be unbatched or both batched with one "
            f"batch size (axis {axis}), got {name} {x.shape} and {other_name} {y.shape}"
        )


def _check_decoder_inputs(
    op: str, tgt: Tensor, memory: Tensor, attention: MultiheadAttention
) -> None:
    """tgt and memory: sequences of d_model features with one batch size."""
    for name, sequence in (("tgt", tgt), ("memory", memory)):
        _check_sequence(op, name, sequence, attention.embed_dim)
    _check_same_batch(op, ("tgt", tgt), ("memory", memory), attention.batch_first)
