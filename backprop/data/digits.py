"""Digits: scikit-learn's bundled 8x8 handwritten digits, real data that needs no download."""

from __future__ import annotations

import numpy as np

from backprop.creation import tensor
from backprop.data.dataset import TensorDataset
from backprop.device import Device

TEST_FRACTION = 0.2
SPLIT_SEED = 0


class Digits(TensorDataset):
    """The 1,797 UCI digits shipped with scikit-learn: images of shape (1, 8, 8) as float32 in
    [0, 1] and int64 labels 0-9.

    `train=True` gives a fixed 80% of them, `train=False` the other 20% (the same split on
    every machine). Needs scikit-learn (`pip install scikit-learn`).
    """

    def __init__(self, train: bool = True, device: Device | str | None = None):
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError(
                "Digits: the 8x8 digits ship with scikit-learn, which is not installed; "
                "install it with `pip install scikit-learn`"
            ) from None
        digits = load_digits()
        order = np.random.default_rng(SPLIT_SEED).permutation(len(digits.target))
        test_size = round(TEST_FRACTION * len(order))
        chosen = order[test_size:] if train else order[:test_size]
        images = (digits.images[chosen] / 16.0).astype(np.float32)[:, None]
        labels = digits.target[chosen].astype(np.int64)
        super().__init__(tensor(images, device=device), tensor(labels, device=device))
