"""The capture rehearsal: `graph_step`'s phases walked on the NumPy backend with the backend's
host transfers refusing during the capture call, so a host round trip hidden in a layer, loss or
optimizer fails on the CPU, without a GPU (see tests/test_capture_rehearsal.py)."""

from __future__ import annotations

import numpy as np

import backprop as bp
from backprop import graph, nn, optim


class HostTransfer(AssertionError):
    """Raised by the backend's host transfers while the rehearsal is capturing."""


def rehearse(
    monkeypatch, model: nn.Module, optimizer: optim.Optimizer, loss_fn, *batch, clip=None
) -> None:
    """Two warm-up steps, then one step in the capture phase with host transfers refused;
    `clip(parameters)` runs between the backward pass and the update."""

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(batch[0]), *batch[1:])
        loss.backward()
        if clip is not None:
            clip(model.parameters())
        optimizer.step()
        return loss

    for _ in range(2):
        with graph._in_phase(graph.WARMUP):
            step()
    backend = batch[0].backend
    for name in ("from_host", "to_host", "synchronize"):

        def refuse(*_, _name=name):
            raise HostTransfer(f"the step called the backend's {_name} during the capture")

        monkeypatch.setattr(backend, name, refuse)
    with graph._in_phase(graph.CAPTURE):
        step()
    monkeypatch.undo()
    assert optimizer.capturable


def floats(rng, *shape: int) -> bp.Tensor:
    """Normal float32 values: the dtype of the layers' parameters."""
    return bp.tensor(rng.standard_normal(shape).astype(np.float32))


def labels(rng, rows: int, classes: int, ignored: int = 0) -> bp.Tensor:
    values = rng.integers(0, classes, rows)
    values[:ignored] = -100
    return bp.tensor(values)
