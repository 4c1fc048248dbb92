"""A real run: a small CNN (Conv2d, ReLU, MaxPool2d, Flatten, Linear) trained with Adam on
scikit-learn's bundled 8x8 digits learns to classify held-out digits, in about a second."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim


def test_a_small_cnn_learns_the_digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="the digits come with scikit-learn")
    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1400], order[1400:]
    bp.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    shuffle = np.random.default_rng(1)
    for _ in range(6):
        for batch in np.array_split(shuffle.permutation(train), 14):
            optimizer.zero_grad()
            logits = model(bp.tensor(images[batch]))
            nn.functional.cross_entropy(logits, bp.tensor(digits.target[batch])).backward()
            optimizer.step()
    model.eval()
    with bp.no_grad():
        predicted = model(bp.tensor(images[test])).argmax(axis=1).numpy()
    assert (predicted == digits.target[test]).mean() >= 0.9
