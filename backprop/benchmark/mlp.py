"""The reference workload: one MLP training step (forward, cross-entropy, backward, optimizer
update) on a fixed batch, built with the Tensor API only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import backprop as bp
import backprop.functional as F
from backprop import optim
from backprop.graph import DEFAULT_WARMUP, graph_step
from backprop.tensor import Tensor

OPTIMIZERS = ("sgd", "adam")
LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(frozen=True)
class MLPConfig:
    """Layer widths from input to classes (`784,256,256,10`) and the batch size."""

    layers: tuple[int, ...]
    batch: int

    def __post_init__(self) -> None:
        if len(self.layers) < 2 or any(width < 1 for width in self.layers):
            raise ValueError(
                f"MLPConfig: layers must be at least two positive widths, got {self.layers}"
            )
        if self.batch < 1:
            raise ValueError(f"MLPConfig: batch must be positive, got {self.batch}")

    @property
    def name(self) -> str:
        return f"{'-'.join(map(str, self.layers))} batch {self.batch}"

    @property
    def flops(self) -> int:
        """Floating-point operations of the matmuls in one step, about 6 per weight per sample:
        2 forward, 4 backward (the gradients of the inputs and of the weights)."""
        return 6 * self.batch * sum(a * b for a, b in zip(self.layers, self.layers[1:]))


SIZES = {
    "small": MLPConfig((784, 256, 256, 10), 128),
    "medium": MLPConfig((784, 1024, 1024, 10), 1024),
    "large": MLPConfig((4096, 4096, 4096, 4096, 10), 8192),
}
"""The standard configurations of `backprop bench --size`."""


def initial_parameters(
    config: MLPConfig, dtype: str, seed: int, device: bp.Device | str | None = None
) -> list[Tensor]:
    """He-initialised weights (out, in) and zero biases, in order w1, b1, w2, b2, ...: the same
    numbers for a given seed on every device."""
    generator = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(config.layers, config.layers[1:]):
        scale = math.sqrt(2.0 / fan_in)
        weight = bp.randn(fan_out, fan_in, dtype=dtype, device=device, generator=generator)
        params.append((weight * scale).requires_grad_())
        params.append(bp.zeros(fan_out, dtype=dtype, device=device, requires_grad=True))
    return params


def batch(
    config: MLPConfig, dtype: str, seed: int, device: bp.Device | str | None = None
) -> tuple[Tensor, Tensor]:
    """A fixed batch of standard-normal inputs and random class indices."""
    generator = np.random.default_rng(seed + 1)
    inputs = bp.randn(
        config.batch, config.layers[0], dtype=dtype, device=device, generator=generator
    )
    targets = generator.integers(0, config.layers[-1], size=config.batch)
    return inputs, bp.tensor(targets, dtype="int64", device=device)


def forward(params: list[Tensor], inputs: Tensor) -> Tensor:
    """Logits of the MLP: fused bias + ReLU on every hidden layer, a plain last layer."""
    hidden = inputs
    last = len(params) - 2
    for i in range(0, len(params), 2):
        activation = None if i == last else "relu"
        hidden = F.linear(hidden, params[i], params[i + 1], activation=activation)
    return hidden


def make_optimizer(name: str, params: list[Tensor]) -> optim.Optimizer:
    """`optim.SGD` (plain) or `optim.Adam` (PyTorch's defaults) with the benchmark's rate."""
    if name not in OPTIMIZERS:
        raise ValueError(f"make_optimizer: optimizer must be one of {OPTIMIZERS}, got {name!r}")
    if name == "sgd":
        return optim.SGD(params, lr=LEARNING_RATES[name])
    return optim.Adam(params, lr=LEARNING_RATES[name], betas=ADAM_BETAS, eps=ADAM_EPS)


class MLPStep:
    """Callable training step on one backend; returns the loss (a device tensor, not synced)."""

    def __init__(self, config: MLPConfig, backend: str, dtype: str, optimizer: str, seed: int = 0):
        device = bp.device(backend=backend)
        self.backend = device.backend
        self.params = initial_parameters(config, dtype, seed, device)
        self.inputs, self.targets = batch(config, dtype, seed, device)
        self.optimizer = make_optimizer(optimizer, self.params)

    def __call__(self) -> Tensor:
        loss = F.cross_entropy(forward(self.params, self.inputs), self.targets)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss

    def synchronize(self) -> None:
        self.backend.synchronize()


GRAPH_WARMUP = DEFAULT_WARMUP + 1
"""Untimed steps a graphed step needs: `graph_step`'s eager warm-up, then the capture."""


class GraphedMLPStep(MLPStep):
    """The MLP step captured into a CUDA graph by `backprop.cuda.graph_step` after its warm-up
    and replayed from then on; on backends without CUDA graphs it runs eagerly."""

    def __init__(self, config: MLPConfig, backend: str, dtype: str, optimizer: str, seed: int = 0):
        super().__init__(config, backend, dtype, optimizer, seed)
        self._replay = graph_step(super().__call__, device=self.params[0].device)

    def __call__(self) -> Tensor:
        return self._replay()
