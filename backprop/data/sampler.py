"""DistributedSampler: each process's share of a dataset's indices, as PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np


class DistributedSampler:
    """The indices process `rank` of `num_replicas` visits in one epoch.

    Every process gets the same number of indices: without `drop_last` the shuffled order is
    padded by repeating its start, with `drop_last` the tail is cut. The order depends only on
    `seed` and the epoch given to `set_epoch`, so all processes agree on it without talking.
    `num_replicas` and `rank` default to the initialised process group's.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        if num_replicas is None or rank is None:
            from backprop import distributed

            if not distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call "
                    "backprop.distributed.init_process_group() first"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: rank {rank} is not in [0, num_replicas={num_replicas})"
            )
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        size = len(dataset)
        if drop_last:
            self.num_samples = size // num_replicas
        else:
            self.num_samples = math.ceil(size / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch so each epoch is shuffled differently (and identically everywhere)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(size)
        else:
            order = np.arange(size)
        if self.total_size > size:
            order = np.resize(order, self.total_size)  # repeats the start to pad
        order = order[: self.total_size]
        return iter(int(i) for i in order[self.rank :: self.num_replicas])
