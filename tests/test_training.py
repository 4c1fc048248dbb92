"""Real training runs on real data, on the CPU backend: an MLP on scikit-learn's digits reaches
at least 95% test accuracy within a minute, a small CNN on the same digits learns, and an MLP
on the MNIST test split (when present) learns to over 90%."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim, training
from backprop.data import MNIST, DataLoader, Digits, TensorDataset

MNIST_DIR = Path(
    os.environ.get(
        "BACKPROP_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: optim.Optimizer) -> float:
    """One pass over `loader`; returns the mean training loss."""
    loss_fn = nn.CrossEntropyLoss()
    total, count = 0.0, 0
    model.train()
    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / count


def accuracy(model: nn.Module, images: bp.Tensor, labels: bp.Tensor) -> float:
    model.eval()
    with bp.no_grad():
        return float((model(images).argmax(axis=1) == labels).numpy().mean())


def test_mlp_reaches_95_percent_on_the_digits_within_a_minute():
    pytest.importorskip("sklearn")
    bp.manual_seed(0)
    train, test = Digits(train=True), Digits(train=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=np.random.default_rng(0))

    start = time.perf_counter()
    for _ in range(10):
        train_epoch(model, loader, optimizer)
    seconds = time.perf_counter() - start

    result = accuracy(model, *test.tensors)
    print(f"digits MLP: {result:.2%} test accuracy after 10 epochs in {seconds:.1f} s")
    assert result >= 0.95
    assert seconds < 60


def test_cnn_learns_the_digits():
    pytest.importorskip("sklearn")
    bp.manual_seed(0)
    images, labels = Digits(train=True).tensors
    subset = TensorDataset(images[:512], labels[:512])
    model = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(subset, batch_size=64, shuffle=True, generator=np.random.default_rng(0))

    losses = [train_epoch(model, loader, optimizer) for _ in range(5)]

    assert losses[-1] < 0.5 * losses[0], f"loss per epoch: {losses}"
    assert accuracy(model, *Digits(train=False).tensors) >= 0.8


@pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"the MNIST test files are not in {MNIST_DIR} (set BACKPROP_MNIST_DIR to a copy)",
)
def test_mlp_learns_real_mnist_digits():
    bp.manual_seed(0)
    images, labels = MNIST(MNIST_DIR, train=False).tensors
    train = TensorDataset(images[:8000], labels[:8000])
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=np.random.default_rng(0))

    for _ in range(2):
        train_epoch(model, loader, optimizer)

    assert accuracy(model, images[8000:], labels[8000:]) >= 0.9


def test_plot_history_draws_the_loss_and_accuracy_per_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    history = [training.EpochResult(1, 2.0, 0.5, 0.1), training.EpochResult(2, 1.0, 0.75, 0.1)]
    figure = training.plot_history(history, tmp_path / "curves.png")
    loss, accuracy = figure.axes
    assert [loss.get_title(), accuracy.get_title()] == [
        "training loss (epoch mean)",
        "test accuracy (%)",
    ]
    np.testing.assert_array_equal(loss.get_lines()[0].get_ydata(), [2.0, 1.0])
    np.testing.assert_array_equal(accuracy.get_lines()[0].get_ydata(), [50.0, 75.0])
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_plot_history_without_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="plot_history: needs matplotlib.*pip install matplotlib"):
        training.plot_history([training.EpochResult(1, 2.0, 0.5, 0.1)])
