"""Attention as PyTorch has it: `scaled_dot_product_attention` and the `MultiheadAttention`
layer. Both are compositions of differentiable ops (matmul with transpose flags, softmax,
where), so they run on every backend and can be differentiated to any order."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop import functional as F
from backprop import ops
from backprop.creation import arange, empty, zeros
from backprop.device import Device
from backprop.nn import init
from backprop.nn.linear import Linear
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.ops.common import require_float
from backprop.tensor import Tensor

__all__ = ["MultiheadAttention", "scaled_dot_product_attention"]

SDPA = "scaled_dot_product_attention"
MHA = "MultiheadAttention"


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """`softmax(query @ key.T * scale + mask) @ value` for query (..., L, E), key (..., S, E)
    and value (..., S, Ev), batch axes broadcasting, as `torch.nn.functional.
    scaled_dot_product_attention`. A bool `attn_mask` marks with True the pairs that take part,
    a float one is added to the scores; `is_causal` lets query i see keys 0..i; `scale` defaults
    to 1/sqrt(E); dropout with probability `dropout_p` zeroes attention weights whenever it is
    > 0. A query row whose keys are all masked gets zero weights, so a zero output and zero
    gradients, as PyTorch 2.13 gives on the CPU (a plain softmax would give NaN)."""
    _check_attention_inputs(query, key, value)
    _check_sdpa_options(query, key, attn_mask, dropout_p, is_causal)
    if is_causal:
        attn_mask = _causal_mask(query.shape[-2], key.shape[-2], query.device)
    scores = _scores(query, key, scale)
    if attn_mask is None:
        weights = F.softmax(scores, -1)
    else:
        weights = _softmax_zeroing_masked_rows(_masked(scores, attn_mask))
    weights = F.dropout(weights, dropout_p)
    return ops.matmul(weights, value)


def _causal_mask(length: int, source_length: int, device: Device) -> Tensor:
    """(L, S) bool, True where key j <= query i: built on the device, with no host copy, so a
    causal step can be captured into a CUDA graph."""
    rows = arange(length, device=device).reshape(length, 1)
    columns = arange(source_length, device=device).reshape(1, source_length)
    return ops.compare("le", columns, rows)


def _scores(query: Tensor, key: Tensor, scale: float | None) -> Tensor:
    """`query @ key.T * scale`, the scale 1/sqrt(E) unless given."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return ops.matmul(query, key, transpose_b=True) * scale


def _masked(scores: Tensor, attn_mask: Tensor) -> Tensor:
    """The scores with a float mask added, or -inf where a bool mask is False."""
    if attn_mask.dtype == bool:
        return ops.where(attn_mask, scores, -math.inf)
    return scores + attn_mask


def _softmax_zeroing_masked_rows(scores: Tensor) -> Tensor:
    """Softmax over the last axis, with weights 0 (and no NaN in the gradient) in the rows
    whose scores are all -inf, PyTorch's safe softmax."""
    blocked = ops.compare("eq", scores.detach().amax(axis=-1, keepdims=True), -math.inf)
    weights = F.softmax(ops.where(blocked, 0.0, scores), -1)
    return ops.where(blocked, 0.0, weights)


def _check_attention_inputs(query: Tensor, key: Tensor, value: Tensor) -> None:
    """query (..., L, E), key (..., S, E), value (..., S, Ev): float tensors of one dtype whose
    batch axes broadcast."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{SDPA}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(
                f"{SDPA}: {name} must have at least 2 dimensions (..., sequence, features), "
                f"got {t.shape}"
            )
    require_float(SDPA, query, key, value)
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"{SDPA}: query, key and value must have one dtype, got {query.dtype}, {key.dtype} "
            f"and {value.dtype}"
        )
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"{SDPA}: query (..., L, E) and key (..., S, E) need the same E, got query "
            f"{query.shape} and key {key.shape}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{SDPA}: key (..., S, E) and value (..., S, Ev) need the same S, got key "
            f"{key.shape} and value {value.shape}"
        )
    try:
        np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{SDPA}: the batch axes of query {query.shape}, key {key.shape} and value "
            f"{value.shape} cannot be broadcast together"
        ) from None


def _check_sdpa_options(
    query: Tensor, key: Tensor, attn_mask: Tensor | None, dropout_p: float, is_causal: bool
) -> None:
    """dropout_p in [0, 1]; attn_mask None with is_causal, else bool or the query's dtype and
    broadcastable to the attention weights (..., L, S)."""
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{SDPA}: dropout_p must be in [0, 1], got {dropout_p}")
    if attn_mask is None:
        return
    if is_causal:
        raise ValueError(
            f"{SDPA}: is_causal=True builds its own mask; pass attn_mask=None with it, or a "
            "lower-triangular attn_mask instead of is_causal"
        )
    _check_mask(SDPA, "attn_mask", attn_mask, query.dtype)
    batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2])
    scores_shape = (*batch, query.shape[-2], key.shape[-2])
    try:
        fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{SDPA}: attn_mask {attn_mask.shape} must broadcast to the attention weights' "
            f"shape (..., L, S) = {scores_shape}"
        )


def _check_mask(op: str, name: str, mask: Tensor, dtype: np.dtype) -> None:
    """A mask is a bool Tensor or a float one in the query's dtype."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype != bool and mask.dtype != dtype:
        raise TypeError(f"{op}: {name} must be bool or the query's dtype {dtype}, got {mask.dtype}")


class MultiheadAttention(Module):
    """Multi-head attention as `torch.nn.MultiheadAttention`: query, key and value are
    projected (packed `in_proj_weight`, or `q_proj_weight`, `k_proj_weight`, `v_proj_weight`
    when kdim or vdim differ from embed_dim), split into `num_heads` heads that attend
    separately, and joined by `out_proj`. Inputs are (L, N, E), (N, L, E) with `batch_first`,
    or unbatched (L, E). `add_bias_kv` appends the learnt `bias_k` / `bias_v` to the projected
    keys and values, `add_zero_attn` a zero. Parameter names, shapes and initialisation are
    PyTorch's, so a PyTorch state_dict loads as is."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        check_sizes(MHA, embed_dim=embed_dim, num_heads=num_heads, kdim=self.kdim, vdim=self.vdim)
        if embed_dim % num_heads:
            raise ValueError(
                f"{MHA}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{MHA}: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        factory = {"dtype": dtype, "device": device}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **factory))
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **factory))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: xavier_uniform_ projection weights, zero biases; out_proj's weight keeps
        Linear's default."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Returns the attention output, shaped like the query but with embed_dim features,
        and, with `need_weights`, the attention weights (after dropout, as in PyTorch), (N, L, S)
        averaged over heads or (N, num_heads, L, S) per head, without N when unbatched.

        Masks are bool (True = may NOT attend, the opposite of scaled_dot_product_attention's,
        as in PyTorch) or float (added to the scores): `key_padding_mask` (N, S) or (S,),
        `attn_mask` (L, S) or (N * num_heads, L, S). `is_causal` is a hint that `attn_mask` is
        causal, as in PyTorch: it needs the mask, and without `key_padding_mask` and
        `need_weights` it takes the mask's place. A query row with every key masked gets NaN
        weights and output with `need_weights`, and zero attention (the output projection's
        bias) without, as PyTorch 2.13 does on the CPU."""
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask, is_causal)
        query, key, value = (self._to_batch_first(t, batched) for t in (query, key, value))
        if key_padding_mask is not None and not batched:
            key_padding_mask = key_padding_mask.reshape(1, -1)
        n, length = query.shape[:2]
        q, k, v = self._project(query, key, value)
        k, v, extra = self._extra_keys(k, v)
        q, k, v = (self._split_heads(t) for t in (q, k, v))
        mask = self._merged_mask(attn_mask, key_padding_mask, n, query.dtype)
        if mask is not None and extra:
            padding = zeros(*mask.shape[:-1], extra, dtype=mask.dtype, device=mask.device)
            mask = ops.concatenate([mask, padding], -1)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = _scores(q, k, None)
            weights = F.softmax(scores if mask is None else _masked(scores, mask), -1)
            weights = F.dropout(weights, dropout_p)
            out = ops.matmul(weights, v)
        elif is_causal and key_padding_mask is None:
            out = scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            out = scaled_dot_product_attention(q, k, v, mask, dropout_p)
        out = ops.permute(out, (0, 2, 1, 3)).reshape(n, length, self.embed_dim)
        out = self._from_batch_first(self.out_proj(out), batched)
        if weights is not None:
            weights = weights.mean(axis=1) if average_attn_weights else weights
            weights = weights if batched else weights[0]
        return out, weights

    def _to_batch_first(self, x: Tensor, batched: bool) -> Tensor:
        """(N, L, E) from (L, N, E), or from (L, E) as a batch of one."""
        if not batched:
            return x.reshape(1, *x.shape)
        return x if self.batch_first else x.transpose(0, 1)

    def _from_batch_first(self, x: Tensor, batched: bool) -> Tensor:
        if not batched:
            return x[0]
        return x if self.batch_first else x.transpose(0, 1)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> list[Tensor]:
        """The three input projections, from the packed or the separate weights."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e : 2 * e], w[2 * e :])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        return [F.linear(x, w, bias) for x, w, bias in zip((query, key, value), weights, biases)]

    def _extra_keys(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, int]:
        """The projected keys and values (N, S, E) with `bias_k` / `bias_v` and then a zero
        appended as extra positions, as add_bias_kv and add_zero_attn ask; and how many."""
        extra = []
        if self.bias_k is not None:
            shape = (k.shape[0], 1, self.embed_dim)
            extra.append((self.bias_k.broadcast_to(shape), self.bias_v.broadcast_to(shape)))
        if self.add_zero_attn:
            zero = zeros(k.shape[0], 1, self.embed_dim, dtype=k.dtype, device=k.device)
            extra.append((zero, zero))
        if extra:
            k = ops.concatenate([k, *(pair[0] for pair in extra)], 1)
            v = ops.concatenate([v, *(pair[1] for pair in extra)], 1)
        return k, v, len(extra)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, L, E) to (N, num_heads, L, head_dim)."""
        n, length = x.shape[:2]
        return ops.permute(x.reshape(n, length, self.num_heads, self.head_dim), (0, 2, 1, 3))

    def _merged_mask(
        self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, n: int, dtype: np.dtype
    ) -> Tensor | None:
        """Both masks as one float mask to add to the (N, num_heads, L, S) scores, -inf where
        a bool mask is True, as PyTorch merges them."""
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, dtype)
            if attn_mask.ndim == 3:
                mask = mask.reshape(n, self.num_heads, *attn_mask.shape[1:])
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, dtype).reshape(n, 1, 1, -1)
            mask = padding if mask is None else mask + padding
        return mask

    def _check_inputs(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None,
        attn_mask: Tensor | None,
        is_causal: bool,
    ) -> bool:
        """Checks the shapes of the inputs and masks; True when the inputs are batched."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{MHA}: {name} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{MHA}: query, key and value must all be 3-D (batched) or all 2-D "
                f"(unbatched), got query {query.shape}, key {key.shape}, value {value.shape}"
            )
        batched = query.ndim == 3
        for name, t, features in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if t.shape[-1] != features:
                raise ValueError(
                    f"{MHA}: {name} must have {features} features in its last axis, got {t.shape}"
                )
        batch_axis = 0 if self.batch_first or not batched else 1
        n = query.shape[batch_axis] if batched else 1
        sequence_axis = 1 - batch_axis if batched else 0
        tgt, src = query.shape[sequence_axis], key.shape[sequence_axis]
        if key.shape[:-1] != value.shape[:-1] or (batched and key.shape[batch_axis] != n):
            raise ValueError(
                f"{MHA}: key and value need the query's batch size and one sequence length, "
                f"got query {query.shape}, key {key.shape}, value {value.shape}"
                + (" (batch_first)" if self.batch_first and batched else "")
            )
        if key_padding_mask is not None:
            _check_mask(MHA, "key_padding_mask", key_padding_mask, query.dtype)
            expected = (n, src) if batched else (src,)
            if key_padding_mask.shape != expected:
                raise ValueError(
                    f"{MHA}: key_padding_mask must have shape (N, S) = {expected} for these "
                    f"inputs, got {key_padding_mask.shape}"
                )
        if attn_mask is not None:
            _check_mask(MHA, "attn_mask", attn_mask, query.dtype)
            shapes = ((tgt, src), (n * self.num_heads, tgt, src))
            if attn_mask.shape not in shapes:
                raise ValueError(
                    f"{MHA}: attn_mask must have shape (L, S) = {shapes[0]} or "
                    f"(N * num_heads, L, S) = {shapes[1]}, got {attn_mask.shape}"
                )
        elif is_causal:
            raise ValueError(
                f"{MHA}: is_causal=True is a hint that attn_mask is causal and needs the mask "
                "itself, as in PyTorch; pass the lower-triangular attn_mask too"
            )
        return batched

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


def _additive(mask: Tensor, dtype: np.dtype) -> Tensor:
    """A MultiheadAttention mask as the float to add to the scores: -inf where a bool mask
    is True (may not attend), 0 elsewhere; a float mask as it is."""
    if mask.dtype != bool:
        return mask
    return ops.where(mask, -math.inf, zeros(mask.shape, dtype=dtype, device=mask.device))
