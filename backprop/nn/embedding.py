"""`Embedding`: a lookup table of learnable vectors indexed by integer ids; `EmbeddingBag`:
the vectors of each bag of ids summed, averaged or maxed."""

from __future__ import annotations

from typing import Any

from backprop.autograd import no_grad
from backprop.creation import arange, empty
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.functional.lookup import check_bag_options
from backprop.nn.module import Module, check_sizes
from backprop.nn.parameter import Parameter
from backprop.ops import where
from backprop.tensor import Tensor


class Embedding(Module):
    """Maps integer ids of any shape to rows of a (num_embeddings, embedding_dim) weight,
    initialised N(0, 1) as in PyTorch; the row at `padding_idx` starts at zero and gets no
    gradient."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} is out of range for "
                    f"{num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_table(self.weight, self.padding_idx)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class EmbeddingBag(Module):
    """Sums, averages or maxes (`mode`) the rows of a (num_embeddings, embedding_dim) weight
    picked by each bag of ids, as `torch.nn.EmbeddingBag`: call it with a 2-D input (a bag per
    row) or a 1-D input and `offsets` (where each bag starts), and optionally
    `per_sample_weights` (mode "sum"). The weight starts N(0, 1) (or is `_weight`); ids equal
    to `padding_idx` are left out of their bags and its row starts at zero. max_norm,
    scale_grad_by_freq and sparse are refused unless left at their defaults."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        check_sizes("EmbeddingBag", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        check_bag_options("EmbeddingBag", max_norm, scale_grad_by_freq, mode, sparse)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"EmbeddingBag: padding_idx {padding_idx} is out of range for "
                    f"{num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.include_last_offset, self.padding_idx = include_last_offset, padding_idx
        if _weight is None:
            self.weight = Parameter(
                empty(num_embeddings, embedding_dim, dtype=dtype, device=device)
            )
            self.reset_parameters()
        else:
            if _weight.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"EmbeddingBag: _weight must have shape ({num_embeddings}, "
                    f"{embedding_dim}), got {_weight.shape}"
                )
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        _reset_table(self.weight, self.padding_idx)

    def forward(
        self,
        input: Tensor,
        offsets: Tensor | None = None,
        per_sample_weights: Tensor | None = None,
    ) -> Tensor:
        return F.embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


def _reset_table(weight: Tensor, padding_idx: int | None) -> None:
    """PyTorch's init of an embedding table: N(0, 1), the `padding_idx` row zero."""
    init.normal_(weight)
    if padding_idx is not None:
        with no_grad():
            rows = arange(weight.shape[0], device=weight.device).reshape(-1, 1)
            kept = where(rows != padding_idx, weight, 0.0)
        weight.backend.assign(weight.data, kept.data)
