"""Runs the MLP step of each configuration on each target (a backend or a peer) and keeps the
timings with what was measured."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backprop.benchmark.mlp import GraphedMLPStep, MLPConfig, MLPStep
from backprop.benchmark.peers import GRAPHED_PEER_STEPS, PEER_STEPS
from backprop.benchmark.timing import Timing, measure_interleaved


@dataclass(frozen=True)
class Target:
    """Where a step runs: one of our backends, or a peer framework on a device type."""

    name: str
    device_type: str
    peer: bool = False
    graph: bool = False
    """The step captured into a CUDA graph and replayed (`backprop bench --graph`)."""

    @property
    def key(self) -> str:
        """What the "vs X" columns call it: "torch", or "torch graph" for a captured peer."""
        return f"{self.name} graph" if self.graph else self.name

    @property
    def label(self) -> str:
        """How the tables name it: "numpy", "cupy (graph)", "torch (cpu)", "torch (cuda, graph)"."""
        details = ([self.device_type] if self.peer else []) + (["graph"] if self.graph else [])
        return f"{self.name} ({', '.join(details)})" if details else self.name


@dataclass(frozen=True)
class MLPResult:
    """The timing of one configuration on one target."""

    target: Target
    config: MLPConfig
    dtype: str
    optimizer: str
    timing: Timing

    @property
    def samples_per_second(self) -> float:
        return self.config.batch / self.timing.median

    def to_dict(self) -> dict:
        """The JSON row: what ran, every repeat's seconds per step, and derived rates."""
        return {
            "target": self.target.name,
            "device_type": self.target.device_type,
            "peer": self.target.peer,
            "graph": self.target.graph,
            "layers": list(self.config.layers),
            "batch": self.config.batch,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "seconds": list(self.timing.seconds),
            "median_ms": self.timing.median * 1e3,
            "min_ms": self.timing.min * 1e3,
            "max_ms": self.timing.max * 1e3,
            "samples_per_s": self.samples_per_second,
            "matmul_tflop_per_s": self.config.flops / self.timing.median / 1e12,
        }


def make_step(target: Target, config: MLPConfig, dtype: str, optimizer: str, seed: int = 0):
    """The callable step (with a `synchronize` method) of `config` on `target`."""
    if target.peer:
        steps = GRAPHED_PEER_STEPS if target.graph else PEER_STEPS
        return steps[target.name](config, target.device_type, dtype, optimizer, seed)
    step = GraphedMLPStep if target.graph else MLPStep
    return step(config, target.name, dtype, optimizer, seed)


def run_mlp(
    jobs: list[tuple[MLPConfig, Target]],
    dtype: str,
    optimizer: str,
    steps: int,
    warmup: int,
    repeats: int,
    on_config: Callable[[str], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> list[MLPResult]:
    """Times every (configuration, target) job; the targets of one configuration take turns
    repeat by repeat (`measure_interleaved`). `on_config` hears each configuration's name."""
    results = []
    for config in dict.fromkeys(config for config, _ in jobs):
        if on_config is not None:
            on_config(config.name)
        targets = [target for job_config, target in jobs if job_config == config]
        workloads = [make_step(target, config, dtype, optimizer) for target in targets]
        timings = measure_interleaved(
            [(step, step.synchronize) for step in workloads], steps, warmup, repeats, on_step
        )
        results += [
            MLPResult(target, config, dtype, optimizer, timing)
            for target, timing in zip(targets, timings)
        ]
        del workloads  # frees these models' memory before the next configuration's are built
    return results
