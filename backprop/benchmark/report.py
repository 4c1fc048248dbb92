"""Benchmark results as text tables: times with their spread, throughput, and speed relative to
the CPU backend and to the peers measured in the same run."""

from __future__ import annotations

from backprop.benchmark.primitives import OpResult
from backprop.benchmark.runner import MLPResult, Target

BASELINE = "numpy"

MLP_LEGEND = (
    "vs X: X's time over this row's, same config and device type (above 1: this row is faster)"
)


def _relative(result: MLPResult, reference: MLPResult | None) -> str:
    if reference is None:
        return "-"
    return f"{reference.timing.median / result.timing.median:.2f}x"


def _reference(results: list[MLPResult], of: MLPResult, name: str, device_type: str | None):
    for candidate in results:
        if (
            candidate.config == of.config
            and candidate.target.key == name
            and (device_type is None or candidate.target.device_type == device_type)
        ):
            return candidate
    return None


def mlp_table(results: list[MLPResult]) -> str:
    """One row per result: ms/step median [min-max], samples/s, and "vs" columns giving how many
    times faster than numpy and than each peer on the same device type (above 1 is faster)."""
    peers = sorted({r.target.key for r in results if r.target.peer})
    header = ["config", "backend", "ms/step median [min-max]", "samples/s", f"vs {BASELINE}"]
    header += [f"vs {peer}" for peer in peers]
    rows = [header]
    for result in results:
        timing = result.timing
        row = [
            result.config.name,
            result.target.label,
            f"{timing.median * 1e3:.3f} [{timing.min * 1e3:.3f}-{timing.max * 1e3:.3f}]",
            f"{result.samples_per_second:,.0f}",
            _relative(result, _reference(results, result, BASELINE, None)),
        ]
        row += [
            _relative(result, _reference(results, result, peer, result.target.device_type))
            for peer in peers
        ]
        rows.append(row)
    return _format(rows)


def ops_table(results: list[OpResult]) -> str:
    """One row per primitive: its rate, and for elementwise ops the fraction of the copy
    bandwidth of the same backend in the same run."""
    copies = {r.backend: r.rate for r in results if r.op == "copy"}
    rows = [["backend", "op", "shape", "dtype", "median ms", "rate", "of copy bandwidth"]]
    for result in results:
        share = "-"
        if result.unit == "GB/s" and result.op != "copy" and result.backend in copies:
            share = f"{result.rate / copies[result.backend]:.0%}"
        rows.append(
            [
                result.backend,
                result.op,
                "x".join(map(str, result.shape)),
                result.dtype,
                f"{result.timing.median * 1e3:.3f}",
                f"{result.rate:.3f} {result.unit}",
                share,
            ]
        )
    return _format(rows)


def crossover_batch(results: list[MLPResult], target: Target, layers: tuple[int, ...]):
    """The smallest batch from which `target` beats numpy at every larger batch measured with
    `layers`; None when it does not beat numpy at the largest, or fewer than two were run."""
    wins = []
    for result in results:
        if result.target == target and result.config.layers == layers:
            cpu = _reference(results, result, BASELINE, None)
            if cpu is not None:
                wins.append((result.config.batch, result.timing.median < cpu.timing.median))
    wins.sort()
    if len(wins) < 2:
        return None
    from_batch = None
    for batch, won in reversed(wins):
        if not won:
            break
        from_batch = batch
    return from_batch


def crossovers(results: list[MLPResult]) -> list[str]:
    """One line for each GPU backend and layer list timed at several batch sizes: the batch
    from which it is faster than numpy, or that it never is."""
    lines = []
    gpu_targets = dict.fromkeys(
        r.target for r in results if r.target.device_type == "cuda" and not r.target.peer
    )
    for layers in dict.fromkeys(r.config.layers for r in results):
        name = "-".join(map(str, layers))
        for target in gpu_targets:
            batches = {
                r.config.batch for r in results if r.target == target and r.config.layers == layers
            }
            if len(batches) < 2:
                continue
            batch = crossover_batch(results, target, layers)
            if batch is None:
                largest = max(batches)
                lines.append(
                    f"{target.label} does not overtake {BASELINE} up to batch {largest} ({name})"
                )
            else:
                lines.append(f"{target.label} overtakes {BASELINE} from batch {batch} ({name})")
    return lines


def _format(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
