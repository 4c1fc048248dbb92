"""default_collate: turns a list of samples into one batch, as PyTorch's does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backprop.creation import tensor
from backprop.ops import stack
from backprop.tensor import Tensor


def default_collate(samples: Sequence[Any]) -> Any:
    """Stacks Tensors, NumPy arrays and numbers along a new first axis; tuples, lists and dicts
    of them are collated field by field."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(list(samples))
    if isinstance(first, (np.ndarray, np.generic, int, float, bool)):
        return tensor(np.stack([np.asarray(sample) for sample in samples]))
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if len({len(sample) for sample in samples}) != 1:
            raise ValueError("default_collate: every sample needs the same number of fields")
        return type(first)(default_collate(list(field)) for field in zip(*samples))
    raise TypeError(
        f"default_collate: cannot batch samples of type {type(first).__name__}; "
        "pass a collate_fn to the DataLoader"
    )
