"""DistributedSampler: every process gets the same number of indices, and together they cover
an epoch (exactly once when the size divides, with a few repeats as padding otherwise)."""

from __future__ import annotations

from collections import Counter

import pytest

from backprop.data.sampler import DistributedSampler


def shares(size: int, replicas: int, **options) -> list[list[int]]:
    return [
        list(DistributedSampler(range(size), num_replicas=replicas, rank=r, **options))
        for r in range(replicas)
    ]


@pytest.mark.parametrize("shuffle", [False, True])
def test_processes_cover_the_epoch_exactly_once_when_the_size_divides(shuffle):
    parts = shares(12, 3, shuffle=shuffle)
    assert [len(p) for p in parts] == [4, 4, 4]
    assert sorted(i for p in parts for i in p) == list(range(12))


def test_padding_repeats_the_start_so_every_process_gets_as_many():
    parts = shares(10, 3, shuffle=False)
    assert [len(p) for p in parts] == [4, 4, 4]
    counts = Counter(i for p in parts for i in p)
    assert set(counts) == set(range(10))
    assert sorted(i for i, n in counts.items() if n == 2) == [0, 1]


def test_drop_last_cuts_the_tail_instead():
    parts = shares(10, 3, shuffle=False, drop_last=True)
    assert [len(p) for p in parts] == [3, 3, 3]
    assert len({i for p in parts for i in p}) == 9


def test_the_order_depends_on_seed_and_epoch_only():
    first = DistributedSampler(range(20), num_replicas=2, rank=0, seed=7)
    again = DistributedSampler(range(20), num_replicas=2, rank=0, seed=7)
    assert list(first) == list(again)
    before = list(first)
    first.set_epoch(1)
    assert list(first) != before


def test_rank_out_of_range_and_missing_group_are_errors():
    with pytest.raises(ValueError, match="rank 3"):
        DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(5))
