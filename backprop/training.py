"""The training run behind `backprop train`: a small MLP or CNN fitted to handwritten digits
(scikit-learn's 8x8 digits, or MNIST from its IDX files), evaluated after every epoch."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import backprop as bp
import backprop.functional as F
from backprop import nn, optim
from backprop.data import MNIST, DataLoader, Digits, TensorDataset
from backprop.device import Device
from backprop.figures import new_figure

MODELS = ("mlp", "cnn")
LEARNING_RATES = {"sgd": 0.05, "adam": 0.002}
"""Default learning rate of each optimizer `backprop train` offers."""
CLASSES = 10
TRAIN_FRACTION = 0.8
"""Share of the MNIST test split trained on when a directory holds only that split."""


def mlp(image_shape: tuple[int, ...], hidden: tuple[int, ...]) -> nn.Module:
    """Flatten, then Linear + ReLU for each hidden width, then a Linear to the 10 classes."""
    widths = (int(np.prod(image_shape)), *hidden)
    layers: list[nn.Module] = [nn.Flatten()]
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], CLASSES))
    return nn.Sequential(*layers)


def cnn(image_shape: tuple[int, ...]) -> nn.Module:
    """Two 3x3 convolutions (16 and 32 channels), each with ReLU and 2x2 max pooling, then a
    Linear to the 10 classes."""
    channels, height, width = image_shape
    features = 32 * (height // 4) * (width // 4)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(features, CLASSES),
    )


def build_model(name: str, image_shape: tuple[int, ...], hidden: tuple[int, ...]) -> nn.Module:
    """The model `name` ("mlp" or "cnn") for images of `image_shape` (channels, height, width)."""
    if name == "mlp":
        return mlp(image_shape, hidden)
    if name == "cnn":
        return cnn(image_shape)
    raise ValueError(f"build_model: model must be one of {MODELS}, got {name!r}")


def build_optimizer(name: str, model: nn.Module, lr: float | None = None) -> optim.Optimizer:
    """SGD with momentum 0.9, or Adam with PyTorch's other defaults; `lr` defaults to
    `LEARNING_RATES[name]`."""
    if name not in LEARNING_RATES:
        raise ValueError(
            f"build_optimizer: optimizer must be one of {tuple(LEARNING_RATES)}, got {name!r}"
        )
    lr = LEARNING_RATES[name] if lr is None else lr
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return optim.Adam(model.parameters(), lr=lr)


@dataclass(frozen=True)
class Splits:
    """The data of a run: a training set, a held-out test set, and what they are."""

    train: TensorDataset
    test: TensorDataset
    description: str


def load_data(directory: str | Path | None, device: Device) -> Splits:
    """The digits bundled with scikit-learn (`directory=None`), or MNIST's IDX files from
    `directory`; when it holds only the 10,000-image test split, 80% of it is trained on and
    the rest held out."""
    if directory is None:
        train, test = Digits(train=True, device=device), Digits(train=False, device=device)
        return Splits(train, test, f"scikit-learn digits: {len(train)} train, {len(test)} test")
    test = MNIST(directory, train=False, device=device)
    try:
        train = MNIST(directory, train=True, device=device)
    except FileNotFoundError:
        order = np.random.default_rng(0).permutation(len(test))
        cut = int(TRAIN_FRACTION * len(order))
        train = TensorDataset(*test.get_batch(order[:cut]))
        test = TensorDataset(*test.get_batch(order[cut:]))
        return Splits(
            train, test, f"MNIST test split only: {len(train)} train, {len(test)} held out"
        )
    return Splits(train, test, f"MNIST: {len(train)} train, {len(test)} test")


def accuracy(model: nn.Module, dataset: TensorDataset, batch_size: int = 1024) -> float:
    """Fraction of `dataset` that `model`, switched to eval mode meanwhile, classifies
    correctly."""
    was_training = model.training
    model.eval()
    correct = 0
    with bp.no_grad():
        for images, labels in DataLoader(dataset, batch_size=batch_size):
            predicted = model(images).argmax(axis=1)
            correct += int((predicted == labels).sum().item())
    model.train(was_training)
    return correct / len(dataset)


@dataclass(frozen=True)
class EpochResult:
    """What one epoch gave: its mean training loss, the test accuracy after it, its time."""

    epoch: int
    loss: float
    test_accuracy: float
    seconds: float


def fit(
    model: nn.Module,
    optimizer: optim.Optimizer,
    loader: DataLoader,
    test_set: TensorDataset,
    epochs: int,
    step: Callable[[], object] | None = None,
    on_batch: Callable[[], None] | None = None,
) -> Iterator[EpochResult]:
    """Trains for `epochs` passes over `loader` with cross-entropy and yields the mean
    training loss and the test accuracy after each. `step` replaces `optimizer.step()` (a
    gradient recorder's step); `on_batch` runs after every batch (a progress bar)."""
    step = step or optimizer.step
    device = next(iter(model.parameters())).device
    for epoch in range(1, epochs + 1):
        if hasattr(loader.sampler, "set_epoch"):  # a DistributedSampler reshuffles per epoch
            loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        total = bp.zeros((), device=device)
        for images, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            step()
            total = total + loss.detach()
            if on_batch is not None:
                on_batch()
        seconds = time.perf_counter() - start
        yield EpochResult(epoch, total.item() / len(loader), accuracy(model, test_set), seconds)


def plot_history(history: list[EpochResult], path: str | Path | None = None) -> Any:
    """A matplotlib Figure of the learning curves (mean training loss and test accuracy against
    the epoch), saved to `path` when given. Needs matplotlib."""
    figure = new_figure("plot_history", 8, 3.5)
    from matplotlib.ticker import MaxNLocator

    loss_axes, accuracy_axes = figure.subplots(1, 2)
    epochs = [result.epoch for result in history]
    loss_axes.plot(epochs, [result.loss for result in history], marker="o")
    loss_axes.set_title("training loss (epoch mean)")
    accuracy_axes.plot(epochs, [100 * result.test_accuracy for result in history], marker="o")
    accuracy_axes.set_title("test accuracy (%)")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    if path is not None:
        figure.savefig(path)
    return figure
