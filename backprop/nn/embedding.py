"""`Embedding`: a lookup table of learnable vectors indexed by integer ids."""

from __future__ import annotations

from typing import Any

from backprop.autograd import no_grad
from backprop.creation import arange, empty
from backprop.nn import functional as F
from backprop.nn import init
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
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                rows = arange(self.num_embeddings, device=self.weight.device).reshape(-1, 1)
                kept = where(rows != self.padding_idx, self.weight, 0.0)
            self.weight.backend.assign(self.weight.data, kept.data)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
