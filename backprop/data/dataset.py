"""Datasets: sized collections of samples indexed by position, as `torch.utils.data`, and the
ways to combine them: `Subset`, `random_split` and `ConcatDataset`."""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from backprop.data.collate import default_collate
from backprop.random import default_generator
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

    def __add__(self, other: Any) -> ConcatDataset:
        """`a + b` is `ConcatDataset([a, b])`, as in PyTorch."""
        return ConcatDataset([self, other])


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


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: sample `i` is
    `dataset[indices[i]]`. Batches are gathered through `dataset.get_batch`, so a subset of a
    `TensorDataset` is still batched with one indexing op."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices
        self._positions = _checked_indices(dataset, indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self._positions[index])]

    def __len__(self) -> int:
        return len(self._positions)

    def get_batch(self, indices: np.ndarray) -> Any:
        if isinstance(self.dataset, Dataset):
            return self.dataset.get_batch(self._positions[indices])
        return super().get_batch(indices)


def _checked_indices(dataset: Any, indices: Sequence[int]) -> np.ndarray:
    """`indices` as an int64 array, after checking that they are integers that index
    `dataset` (negative ones count from its end)."""
    positions = np.asarray(indices)
    if positions.ndim != 1 or (positions.size and positions.dtype.kind not in "iu"):
        raise TypeError(
            f"Subset: indices must be a sequence of integers, got {positions.dtype} values of "
            f"shape {positions.shape}"
        )
    size = len(dataset)
    outside = positions[(positions < -size) | (positions >= size)]
    if outside.size:
        raise IndexError(
            f"Subset: index {int(outside[0])} is out of range for a dataset of {size} samples"
        )
    return positions.astype(np.int64)


def random_split(
    dataset: Any,
    lengths: Sequence[int | float],
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Splits `dataset` into non-overlapping random Subsets of the given `lengths`, which
    together cover it; fractions that sum to 1 are allowed instead, as in PyTorch.

    A fraction `f` gives `floor(f * len(dataset))` samples, and the samples left over are
    handed out one at a time to the splits in order. The permutation is drawn from `generator`
    (a NumPy Generator) or from backprop's global generator, so `backprop.manual_seed` makes
    the split reproducible."""
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"random_split: generator must be a numpy.random.Generator, "
            f"got {type(generator).__name__}"
        )
    sizes = _split_sizes(len(dataset), lengths)
    order = (generator or default_generator()).permutation(len(dataset)).tolist()
    return [
        Subset(dataset, order[end - size : end])
        for end, size in zip(itertools.accumulate(sizes), sizes)
    ]


def _split_sizes(total: int, lengths: Sequence[int | float]) -> list[int]:
    """The number of samples of each split: `lengths` themselves, or the fractions of `total`
    they give (PyTorch's rule: floor each, then add one to each split in turn for the rest)."""
    lengths = list(lengths)
    if not all(isinstance(n, numbers.Real) and not isinstance(n, bool) for n in lengths):
        raise TypeError(
            f"random_split: lengths must be integers, or fractions that sum to 1, got {lengths}"
        )
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        return _sizes_from_fractions(total, lengths)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in lengths):
        raise ValueError(
            f"random_split: lengths must be integers >= 0, or fractions that sum to 1, "
            f"got {lengths}"
        )
    if sum(lengths) != total:
        raise ValueError(
            f"random_split: lengths {lengths} sum to {sum(lengths)}, but the dataset has "
            f"{total} samples"
        )
    return [int(n) for n in lengths]


def _sizes_from_fractions(total: int, fractions: list[float]) -> list[int]:
    for index, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(
                f"random_split: the fraction at index {index} is {fraction}, not between 0 and 1"
            )
    sizes = [math.floor(total * fraction) for fraction in fractions]
    for index in range(total - sum(sizes)):
        sizes[index % len(sizes)] += 1
    for index, size in enumerate(sizes):
        if size == 0:
            warnings.warn(
                f"random_split: the split at index {index} is empty "
                f"({fractions[index]} of {total} samples)",
                stacklevel=4,
            )
    return sizes


class ConcatDataset(Dataset):
    """The samples of several datasets one after another: indices `0 .. len(datasets[0]) - 1`
    are the first dataset's, the next ones the second's, and so on."""

    def __init__(self, datasets: Sequence[Any]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset, got none")
        for index, dataset in enumerate(self.datasets):
            if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
                raise TypeError(
                    f"ConcatDataset: datasets[{index}] must have __len__ and __getitem__, "
                    f"got {type(dataset).__name__}"
                )
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {size} samples")
        index %= size
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]
