"""The same MLP training step in PyTorch (eager, or its own CUDA graph) and JAX (jit), timed in
the same run as ours.

Each peer starts from our initial weights and batch, so its loss matches ours step for step.
PyTorch and JAX are optional: `unavailable_reason` says why a peer cannot run on a device kind.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from backprop.backend.precision import get_float32_matmul_precision
from backprop.benchmark.mlp import (
    ADAM_BETAS,
    ADAM_EPS,
    LEARNING_RATES,
    OPTIMIZERS,
    MLPConfig,
    batch,
    initial_parameters,
)

PEERS = ("torch", "jax")


def unavailable_reason(peer: str, device_type: str) -> str | None:
    """None when `peer` can run on `device_type` ("cpu" or "cuda"), else why not."""
    if peer not in PEERS:
        raise ValueError(f"peers: unknown peer {peer!r}; known: {', '.join(PEERS)}")
    if importlib.util.find_spec(peer) is None:
        return f"{peer} is not installed"
    if device_type == "cpu":
        return None
    if peer == "torch":
        import torch

        return None if torch.cuda.is_available() else "this PyTorch build has no usable CUDA"
    import jax

    return None if jax.devices()[0].platform == "gpu" else "JAX sees no GPU"


def host_problem(
    config: MLPConfig, dtype: str, seed: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Our initial parameters and batch as NumPy arrays: the peers' starting point."""
    params = [p.numpy() for p in initial_parameters(config, dtype, seed, "cpu")]
    inputs, targets = batch(config, dtype, seed, "cpu")
    return params, inputs.numpy(), targets.numpy()


class TorchStep:
    """Our MLP step in PyTorch eager mode (`torch.optim` SGD or Adam with our settings, and our
    float32 matmul precision)."""

    def __init__(
        self,
        config: MLPConfig,
        device_type: str,
        dtype: str,
        optimizer: str,
        seed: int = 0,
        capturable: bool = False,
    ):
        import torch

        _check_optimizer(optimizer)
        torch.set_float32_matmul_precision(get_float32_matmul_precision())
        self.torch = torch
        self.device = torch.device(device_type)
        params, inputs, targets = host_problem(config, dtype, seed)
        self.params = [torch.tensor(p, device=self.device, requires_grad=True) for p in params]
        self.inputs = torch.tensor(inputs, device=self.device)
        self.targets = torch.tensor(targets, device=self.device)
        lr = LEARNING_RATES[optimizer]
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(self.params, lr=lr)
        else:
            self.optimizer = torch.optim.Adam(
                self.params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS, capturable=capturable
            )

    def __call__(self) -> Any:
        loss = self.forward_backward_update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    def forward_backward_update(self) -> Any:
        functional = self.torch.nn.functional
        hidden = self.inputs
        last = len(self.params) - 2
        for i in range(0, len(self.params), 2):
            hidden = functional.linear(hidden, self.params[i], self.params[i + 1])
            if i != last:
                hidden = functional.relu(hidden)
        loss = functional.cross_entropy(hidden, self.targets)
        loss.backward()
        self.optimizer.step()
        return loss

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


class TorchGraphStep(TorchStep):
    """The PyTorch step captured into PyTorch's own CUDA graph and replayed, as its documentation
    captures a whole network: warm-up on a side stream, gradients set to None, then one capture
    of forward, backward and `optimizer.step()` (Adam with `capturable=True`)."""

    WARMUP = 3

    def __init__(
        self, config: MLPConfig, device_type: str, dtype: str, optimizer: str, seed: int = 0
    ):
        if device_type != "cuda":
            raise ValueError("TorchGraphStep: CUDA graphs need device_type 'cuda'")
        super().__init__(config, device_type, dtype, optimizer, seed, capturable=True)
        torch = self.torch
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.WARMUP):
                super().__call__()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self.forward_backward_update()

    def __call__(self) -> Any:
        self.graph.replay()
        return self.loss


JAX_PRECISIONS = {"highest": "highest", "high": "high"}
"""JAX's matmul precision for each of ours: by default JAX computes float32 matmuls on a GPU
with TF32, which PyTorch and we do only at "high"."""


class JaxStep:
    """Our MLP step as one `jax.jit`-compiled function (loss, gradients and the update), its
    matmuls at our float32 matmul precision."""

    def __init__(
        self, config: MLPConfig, device_type: str, dtype: str, optimizer: str, seed: int = 0
    ):
        import jax

        _check_optimizer(optimizer)
        if dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        self.jax = jax
        device = jax.devices("gpu" if device_type == "cuda" else "cpu")[0]
        params, inputs, targets = host_problem(config, dtype, seed)
        self.params = jax.device_put(params, device)
        self.inputs = jax.device_put(inputs, device)
        self.targets = jax.device_put(targets, device)
        self.state = jax.device_put(
            [np.zeros_like(p) for p in params] * 2 if optimizer == "adam" else [], device
        )
        self.count = 0
        precision = JAX_PRECISIONS[get_float32_matmul_precision()]
        self._step = jax.jit(_jax_step_function(optimizer, precision))

    def __call__(self) -> Any:
        self.count += 1
        self.params, self.state, loss = self._step(
            self.params, self.state, self.count, self.inputs, self.targets
        )
        return loss

    def synchronize(self) -> None:
        self.jax.block_until_ready(self.params)


def _jax_step_function(optimizer: str, precision: str) -> Callable:
    import jax
    import jax.numpy as jnp

    lr = LEARNING_RATES[optimizer]
    beta1, beta2 = ADAM_BETAS

    def loss_fn(params, inputs, targets):
        hidden = inputs
        last = len(params) - 2
        for i in range(0, len(params), 2):
            hidden = jnp.matmul(hidden, params[i].T, precision=precision) + params[i + 1]
            if i != last:
                hidden = jax.nn.relu(hidden)
        log_probs = jax.nn.log_softmax(hidden, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_probs, targets[:, None], axis=1))

    def step(params, state, count, inputs, targets):
        loss, grads = jax.value_and_grad(loss_fn)(params, inputs, targets)
        if optimizer == "sgd":
            return [p - lr * g for p, g in zip(params, grads)], state, loss
        n = len(params)
        exp_avg = [beta1 * m + (1 - beta1) * g for m, g in zip(state[:n], grads)]
        exp_avg_sq = [beta2 * v + (1 - beta2) * g * g for v, g in zip(state[n:], grads)]
        bias1 = 1 - beta1**count
        bias2 = 1 - beta2**count
        new_params = [
            p - (lr / bias1) * m / (jnp.sqrt(v) / jnp.sqrt(bias2) + ADAM_EPS)
            for p, m, v in zip(params, exp_avg, exp_avg_sq)
        ]
        return new_params, exp_avg + exp_avg_sq, loss

    return step


PEER_STEPS = {"torch": TorchStep, "jax": JaxStep}
GRAPHED_PEER_STEPS = {"torch": TorchGraphStep}
"""Peers that can capture their step into a CUDA graph, for `backprop bench --graph`."""


def _check_optimizer(name: str) -> None:
    if name not in OPTIMIZERS:
        raise ValueError(f"peers: optimizer must be one of {OPTIMIZERS}, got {name!r}")
