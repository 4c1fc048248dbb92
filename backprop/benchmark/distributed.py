"""`backprop bench --distributed`, run under `mpiexec -n N`: the data-parallel MLP step, the
time its gradient all-reduce takes, and the scaling efficiency against one process, beside the
ring all-reduce model `2 (N - 1) / N x bytes / bandwidth`.

Every process keeps the per-process batch (weak scaling), so with perfect scaling the step
takes as long on N processes as on one: efficiency is one process's step time over the
data-parallel step time.
"""

from __future__ import annotations

from dataclasses import dataclass

import backprop as bp
import backprop.functional as F
from backprop import distributed, nn
from backprop.benchmark.mlp import MLPConfig, batch, forward, initial_parameters, make_optimizer
from backprop.benchmark.timing import Timing, measure
from backprop.nn.parallel import DistributedDataParallel

BANDWIDTH_PROBE_BYTES = 16 * 2**20
"""Size of the all-reduce whose time gives the bandwidth that the ring model uses."""


class _MLP(nn.Module):
    """The benchmark's MLP parameters as a Module, so DistributedDataParallel can wrap them."""

    def __init__(self, params: list[bp.Tensor]):
        super().__init__()
        for index, param in enumerate(params):
            self.register_parameter(f"param{index}", nn.Parameter(param))

    def forward(self, inputs: bp.Tensor) -> bp.Tensor:
        return forward(list(self.parameters()), inputs)


@dataclass(frozen=True)
class DistributedResult:
    """The timings of one configuration on `processes` processes."""

    config: MLPConfig
    backend: str
    processes: int
    step: Timing
    one_process: Timing
    all_reduce: Timing
    gradient_bytes: int
    bandwidth: float
    """Bytes per second of the bandwidth probe, as the ring model counts them."""

    @property
    def efficiency(self) -> float:
        return self.one_process.median / self.step.median

    @property
    def ring_model_seconds(self) -> float:
        return ring_seconds(self.gradient_bytes, self.processes, self.bandwidth)

    def to_dict(self) -> dict:
        return {
            "config": self.config.name,
            "backend": self.backend,
            "processes": self.processes,
            "step_seconds": list(self.step.seconds),
            "one_process_seconds": list(self.one_process.seconds),
            "all_reduce_seconds": list(self.all_reduce.seconds),
            "gradient_bytes": self.gradient_bytes,
            "bandwidth_bytes_per_second": self.bandwidth,
            "efficiency": self.efficiency,
            "ring_model_seconds": self.ring_model_seconds,
        }


def ring_seconds(nbytes: int, processes: int, bandwidth: float) -> float:
    """A ring all-reduce sends and receives `2 (N - 1) / N` times the buffer per process."""
    return 2 * (processes - 1) / processes * nbytes / bandwidth


def run_distributed(
    config: MLPConfig,
    backend: str,
    dtype: str,
    optimizer: str,
    steps: int,
    warmup: int,
    repeats: int,
) -> DistributedResult:
    """Times `config` on every process of the job; all processes return the same result."""
    processes = distributed.get_world_size()
    if processes < 2:
        raise ValueError(
            "bench --distributed: run it in an MPI job of 2 or more processes, e.g. "
            "mpiexec -n 2 backprop bench --distributed"
        )
    device = bp.device(backend=backend)
    sync = device.backend.synchronize

    one_process = _time_alone(config, device, dtype, optimizer, steps, warmup, repeats)
    model = DistributedDataParallel(_MLP(initial_parameters(config, dtype, seed=0, device=device)))
    inputs, targets = batch(config, dtype, seed=distributed.get_rank(), device=device)
    chosen = make_optimizer(optimizer, list(model.parameters()))

    def step() -> None:
        F.cross_entropy(model(inputs), targets).backward()
        chosen.step()
        chosen.zero_grad()

    distributed.barrier()
    step_timing = measure(step, sync, steps, warmup, repeats)
    gradient_bytes = sum(p.numel() * p.dtype.itemsize for p in model.parameters())
    flat = bp.zeros(sum(p.numel() for p in model.parameters()), dtype=dtype, device=device)
    all_reduce = measure(lambda: distributed.all_reduce(flat), sync, steps, warmup, repeats)
    probe = bp.zeros(BANDWIDTH_PROBE_BYTES // 4, device=device)
    probe_timing = measure(lambda: distributed.all_reduce(probe), sync, 1, 1, repeats)
    bandwidth = ring_seconds(BANDWIDTH_PROBE_BYTES, processes, 1.0) / probe_timing.median
    return DistributedResult(
        config, backend, processes, step_timing, one_process, all_reduce, gradient_bytes, bandwidth
    )


def _time_alone(config, device, dtype, optimizer, steps, warmup, repeats) -> Timing:
    """Rank 0 times the plain step while the others wait; everyone gets its timing."""
    timing = None
    if distributed.get_rank() == 0:
        params = initial_parameters(config, dtype, seed=0, device=device)
        inputs, targets = batch(config, dtype, seed=0, device=device)
        chosen = make_optimizer(optimizer, params)

        def step() -> None:
            F.cross_entropy(forward(params, inputs), targets).backward()
            chosen.step()
            chosen.zero_grad()

        timing = measure(step, device.backend.synchronize, steps, warmup, repeats)
    seconds = bp.tensor(list(timing.seconds) if timing else [0.0] * repeats, dtype="float64")
    distributed.broadcast(seconds, src=0)
    return Timing(tuple(seconds.tolist()))


def distributed_table(results: list[DistributedResult]) -> str:
    """A Markdown table: step time, one process, efficiency, all-reduce and the ring model."""
    lines = [
        "| config | backend | processes | step ms | one process ms | efficiency "
        "| all-reduce ms (share of step) | ring model ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        share = r.all_reduce.median / r.step.median
        lines.append(
            f"| {r.config.name} | {r.backend} | {r.processes} | {r.step.median * 1e3:.3f} "
            f"| {r.one_process.median * 1e3:.3f} | {r.efficiency:.0%} "
            f"| {r.all_reduce.median * 1e3:.3f} ({share:.0%}) "
            f"| {r.ring_model_seconds * 1e3:.3f} |"
        )
    return "\n".join(lines)
