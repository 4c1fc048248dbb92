"""Gradient health: per-parameter gradient and update norms recorded every step, with flags for
vanishing and exploding gradients and dead units, and a plot of the history.

Use `recorder.step(optimizer)` in place of `optimizer.step()`, after `loss.backward()`:

    recorder = GradientRecorder(model, vanishing=1e-6, exploding=1e2)
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        for flag in recorder.step(optimizer):
            print(flag)

A unit (an output row of a weight: a Linear neuron or a Conv2d filter) counts as dead in a step
when its incoming weights get exactly zero gradient: what a dead ReLU, one that outputs 0 for
every input in the batch, leaves behind. It will not learn again unless its inputs change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backprop.autograd import no_grad
from backprop.figures import new_figure
from backprop.nn.module import Module
from backprop.ops import stack
from backprop.optim.optimizer import Optimizer
from backprop.tensor import Tensor


@dataclass(frozen=True)
class GradientFlag:
    """One problem seen at one step: `kind` is "vanishing", "exploding" or "dead_units"."""

    step: int
    name: str
    kind: str
    value: float
    threshold: float

    def __str__(self) -> str:
        if self.kind == "dead_units":
            return (
                f"step {self.step}: {self.name}: {self.value:.0%} of its units got no gradient "
                f"(dead ReLUs?), more than {self.threshold:.0%}"
            )
        relation = "below" if self.kind == "vanishing" else "above"
        return (
            f"step {self.step}: {self.name}: gradient norm {self.value:.3g} is {relation} "
            f"{self.threshold:.3g} ({self.kind})"
        )


class GradientRecorder:
    """Records, for every named parameter of `model`, its gradient norm, its update norm and
    (for weights with two or more dimensions) the fraction of dead units, once per step.

    A gradient norm below `vanishing` or above `exploding` (or not finite) is flagged, as is a
    weight whose fraction of dead units is above `dead_fraction`.
    """

    def __init__(
        self,
        model: Module,
        vanishing: float = 1e-7,
        exploding: float = 1e3,
        dead_fraction: float = 0.5,
    ):
        if not isinstance(model, Module):
            raise TypeError(f"GradientRecorder: expected a Module, got {type(model).__name__}")
        if not 0 <= vanishing < exploding:
            raise ValueError(
                f"GradientRecorder: need 0 <= vanishing < exploding, got vanishing={vanishing} "
                f"and exploding={exploding}"
            )
        if not 0 <= dead_fraction <= 1:
            raise ValueError(
                f"GradientRecorder: dead_fraction must be in [0, 1], got {dead_fraction}"
            )
        self.parameters = dict(model.named_parameters())
        self.vanishing = vanishing
        self.exploding = exploding
        self.dead_fraction = dead_fraction
        self.steps = 0
        self.grad_norms: dict[str, list[float]] = {name: [] for name in self.parameters}
        self.update_norms: dict[str, list[float]] = {name: [] for name in self.parameters}
        self.dead_fractions: dict[str, list[float]] = {
            name: [] for name, param in self.parameters.items() if param.ndim >= 2
        }
        self.flags: list[GradientFlag] = []

    def step(self, optimizer: Optimizer) -> list[GradientFlag]:
        """Records the gradients, runs `optimizer.step()`, records the updates; returns the
        flags raised at this step (all of them accumulate in `flags`)."""
        self.steps += 1
        with_grad = {name: p for name, p in self.parameters.items() if p.grad is not None}
        with no_grad():
            before = {name: _copy(p) for name, p in with_grad.items()}
            grad_norms = _host_values({name: _norm(p.grad) for name, p in with_grad.items()})
            dead = _host_values(
                {
                    name: _dead_fraction(p.grad)
                    for name, p in with_grad.items()
                    if name in self.dead_fractions
                }
            )
            optimizer.step()
            updates = _host_values({name: _norm(p - before[name]) for name, p in with_grad.items()})
        for name in self.parameters:
            self.grad_norms[name].append(grad_norms.get(name, math.nan))
            self.update_norms[name].append(updates.get(name, 0.0))
            if name in self.dead_fractions:
                self.dead_fractions[name].append(dead.get(name, math.nan))
        flags = self._check(with_grad, dead)
        self.flags.extend(flags)
        return flags

    def _check(self, names: dict[str, Any], dead: dict[str, float]) -> list[GradientFlag]:
        flags = []
        for name in names:
            norm = self.grad_norms[name][-1]
            if norm < self.vanishing:
                flags.append(GradientFlag(self.steps, name, "vanishing", norm, self.vanishing))
            elif not norm <= self.exploding:
                flags.append(GradientFlag(self.steps, name, "exploding", norm, self.exploding))
            if name in dead and dead[name] > self.dead_fraction:
                flags.append(
                    GradientFlag(self.steps, name, "dead_units", dead[name], self.dead_fraction)
                )
        return flags

    def plot(self, path: str | Path | None = None) -> Any:
        """A matplotlib Figure of the recorded history (gradient norms, update norms and dead
        fractions against the step), saved to `path` when given. Needs matplotlib."""
        figure = new_figure("GradientRecorder.plot", 12, 3.5)
        axes = figure.subplots(1, 3)
        panels = [
            (axes[0], self.grad_norms, "gradient norm", "log"),
            (axes[1], self.update_norms, "update norm", "log"),
            (axes[2], self.dead_fractions, "fraction of dead units", "linear"),
        ]
        steps = range(1, self.steps + 1)
        for ax, series, title, scale in panels:
            for index, name in enumerate(self.parameters):
                if name in series:
                    ax.plot(steps, series[name], label=name, color=f"C{index % 10}")
            ax.set_title(title)
            ax.set_xlabel("step")
            ax.set_yscale(scale)
        axes[0].axhline(self.vanishing, color="grey", linestyle=":")
        axes[0].axhline(self.exploding, color="grey", linestyle=":")
        axes[2].axhline(self.dead_fraction, color="grey", linestyle=":")
        axes[2].set_ylim(0, 1)
        axes[0].legend(fontsize="small")
        if path is not None:
            figure.savefig(path)
        return figure


def _norm(x: Tensor) -> Tensor:
    return (x * x).sum().sqrt()


def _dead_fraction(grad: Tensor) -> Tensor:
    """The fraction of rows (output units) of a weight gradient that are exactly zero."""
    rows = grad.reshape(grad.shape[0], -1).abs().amax(axis=1)
    return (rows == 0).to(dtype=grad.dtype).mean()


def _copy(x: Tensor) -> Tensor:
    return Tensor._make(x.backend.copy(x.data), x.device)


def _host_values(values: dict[str, Tensor]) -> dict[str, float]:
    """Scalar tensors as Python floats, read from the device in one transfer."""
    if not values:
        return {}
    device = next(iter(values.values())).device
    stacked = stack([v.to(device, dtype="float64") for v in values.values()])
    return dict(zip(values, stacked.numpy().tolist()))
