"""DataLoader: iterates over a dataset in batches, optionally shuffled, as PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from backprop.data.collate import default_collate
from backprop.data.dataset import Dataset
from backprop.random import default_generator


class DataLoader:
    """Batches of `batch_size` samples covering the dataset once per epoch.

    With `shuffle`, each epoch draws a new order from `generator` (a NumPy Generator), or from
    backprop's global generator, so `backprop.manual_seed` makes the order reproducible. A
    `sampler` (such as `DistributedSampler`) gives the indices of an epoch instead.
    `drop_last` drops the final short batch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        sampler: Iterable[int] | None = None,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"DataLoader: generator must be a numpy.random.Generator, "
                f"got {type(generator).__name__}"
            )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn
        self.sampler = sampler

    def __len__(self) -> int:
        size = len(self.dataset if self.sampler is None else self.sampler)
        rounding = math.floor if self.drop_last else math.ceil
        return rounding(size / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        order = self._epoch_order()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self._fetch(order[start : start + self.batch_size])

    def _epoch_order(self) -> np.ndarray:
        """The dataset indices of one epoch, in the order they are visited."""
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        if self.shuffle:
            return (self.generator or default_generator()).permutation(len(self.dataset))
        return np.arange(len(self.dataset))

    def _fetch(self, indices: np.ndarray) -> Any:
        if self.collate_fn is None and isinstance(self.dataset, Dataset):
            return self.dataset.get_batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)
