"""Micro-benchmarks of the Numba-CUDA backend on a GPU, each against its natural ceiling:

- matmul: TFLOP/s of the tiled shared-memory kernel on n x n float32 (default 4096), next to
  cuBLAS through CuPy on the same GPU when CuPy can run (goal: at least 25% of cuBLAS);
- elementwise: GB/s of `add`, `relu` and fused bias+ReLU on 64M float32 elements, next to the
  device-to-device copy bandwidth (goal: at least 70% of it);
- launch overhead: host microseconds per call of a one-element `add` (the whole primitive: the
  Numba launch plus argument handling), next to CuPy's when it can run.

Timings synchronise the GPU before every clock reading, after warm-ups (which also compile the
kernels), and report the median over repeats. It runs only on a real GPU: without one, or in
Numba's CUDA simulator, it says why and exits with status 2.

    python bench/numba_bench.py --size 4096 --repeats 5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable

import numpy as np

from backprop.backend import get_backend, unavailable_reason
from backprop.benchmark.timing import measure

ELEMENTS = 64 * 1024 * 1024
LAUNCH_CALLS = 1000


def cannot_run_reason() -> str | None:
    """Why the benchmark cannot give GPU figures here, or None."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "NUMBA_ENABLE_CUDASIM=1: the CUDA simulator runs kernels on the CPU"
    reason = unavailable_reason("numba")
    return None if reason is None else f"the numba backend cannot run: {reason}"


def cupy_module():
    """CuPy when it is installed and sees a GPU, else None (it is only a peer here)."""
    if importlib.util.find_spec("cupy") is None:
        return None
    import cupy

    return cupy if cupy.cuda.is_available() else None


def seconds(step: Callable[[], object], synchronize: Callable[[], None], args) -> float:
    return measure(step, synchronize, args.steps, args.warmup, args.repeats).median


def bench_matmul(nb, cupy, args) -> list[str]:
    n = args.size
    rng = np.random.default_rng(0)
    a_host, b_host = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a, b = nb.from_host(a_host), nb.from_host(b_host)
    flops = 2.0 * n**3
    lines = []
    numba_tflops = {}
    for transpose_b in (False, True):
        elapsed = seconds(lambda t=transpose_b: nb.matmul(a, b, False, t), nb.synchronize, args)
        numba_tflops[transpose_b] = flops / elapsed / 1e12
        label = "a @ b.T" if transpose_b else "a @ b"
        lines.append(
            f"matmul {n}x{n} fp32 {label:8s} numba {numba_tflops[transpose_b]:7.2f} TFLOP/s"
        )
    if cupy is None:
        lines.append("matmul cuBLAS peer: CuPy cannot run here")
        return lines
    ca, cb = cupy.asarray(a_host), cupy.asarray(b_host)
    synchronize = cupy.cuda.Device().synchronize
    cublas = flops / seconds(lambda: cupy.matmul(ca, cb), synchronize, args) / 1e12
    ratio = numba_tflops[False] / cublas
    lines.append(f"matmul {n}x{n} fp32 a @ b     cuBLAS {cublas:6.2f} TFLOP/s  (numba {ratio:.0%})")
    return lines


def bench_elementwise(nb, args) -> list[str]:
    rng = np.random.default_rng(0)
    features = 1024
    x = nb.from_host(rng.standard_normal(ELEMENTS, dtype=np.float32).reshape(-1, features))
    y = nb.copy(x)
    bias = nb.from_host(rng.standard_normal(features, dtype=np.float32))
    out = nb.empty(x.shape, np.float32)
    size = ELEMENTS * 4

    def memcpy() -> None:
        out.copy_to_device(x)

    workloads = [
        ("device-to-device copy (driver)", memcpy, 2 * size),
        ("copy kernel", lambda: nb.copy(x), 2 * size),
        ("add", lambda: nb.binary("add", x, y), 3 * size),
        ("add, row broadcast", lambda: nb.binary("add", x, bias), 2 * size),
        ("relu", lambda: nb.act_forward("relu", x), 2 * size),
        ("bias + relu (fused)", lambda: nb.bias_act_forward("relu", x, bias), 2 * size),
    ]
    bandwidths = [moved / seconds(step, nb.synchronize, args) / 1e9 for _, step, moved in workloads]
    copy_bandwidth = bandwidths[0]
    return [
        f"elementwise {name:32s} {bandwidth:7.1f} GB/s  ({bandwidth / copy_bandwidth:.0%} of copy)"
        for (name, _, _), bandwidth in zip(workloads, bandwidths)
    ]


def bench_launch(nb, cupy, args) -> list[str]:
    x = nb.from_host(np.ones(1, np.float32))

    def calls() -> None:
        for _ in range(LAUNCH_CALLS):
            nb.binary("add", x, x)

    per_call = seconds(calls, nb.synchronize, args) / LAUNCH_CALLS
    lines = [f"launch overhead, one-element add: numba {per_call * 1e6:6.1f} us per call"]
    if cupy is not None:
        cx = cupy.ones(1, np.float32)

        def cupy_calls() -> None:
            for _ in range(LAUNCH_CALLS):
                cupy.add(cx, cx)

        peer = seconds(cupy_calls, cupy.cuda.Device().synchronize, args) / LAUNCH_CALLS
        lines.append(f"launch overhead, one-element add: CuPy  {peer * 1e6:6.1f} us per call")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="matmul n (n x n @ n x n)")
    parser.add_argument("--steps", type=int, default=5, help="timed calls per repeat")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--repeats", type=int, default=5, help="median over this many")
    args = parser.parse_args(argv)
    reason = cannot_run_reason()
    if reason is not None:
        print(f"numba_bench: no GPU figures: {reason}", file=sys.stderr)
        return 2
    nb = get_backend("numba")
    cupy = cupy_module()
    print(f"GPU: {nb.device_properties()['name']}")
    for line in bench_matmul(nb, cupy, args) + bench_elementwise(nb, args):
        print(line)
    for line in bench_launch(nb, cupy, args):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
