"""Datasets: sized collections of samples indexed by position, as `torch.utils.data`."""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop.data.collate import default_collate
from backprop.tensor import Tensor


class Dataset:
    """A map-style dataset: subclasses define `__getitem__(i)` and `__len__()`.

    `get_batch(indices)` gives a whole collated batch; a dataset that can gather many samples
    at once (as `TensorDataset` does, with one indexing op) overrides it.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: __getitem__ is not defined")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}: __len__ is not defined")

    def get_batch(self, indices: np.ndarray) -> Any:
        """The samples at `indices`, collated into a batch."""
        return default_collate([self[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Tensors sharing their first dimension; sample `i` is `(t[i] for t in tensors)`."""

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        for tensor in tensors:
            if not isinstance(tensor, Tensor) or tensor.ndim == 0:
                raise TypeError(
                    f"TensorDataset: expected Tensors with at least one dimension, got "
                    f"{type(tensor).__name__} {getattr(tensor, 'shape', '')}"
                )
        lengths = [tensor.shape[0] for tensor in tensors]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: every tensor needs the same first dimension, got {lengths}"
            )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        return tuple(tensor[indices] for tensor in self.tensors)
