"""The benchmark harness behind `backprop bench`: the MLP training step and its peers in
PyTorch and JAX, the ops suite, timing, tables and plots. The recorded figures live in the
repository's `bench/` folder."""

from backprop.benchmark.mlp import SIZES, MLPConfig, MLPStep
from backprop.benchmark.primitives import OpResult, run_ops_suite
from backprop.benchmark.runner import MLPResult, Target, run_mlp
from backprop.benchmark.timing import Timing, measure, measure_interleaved

__all__ = [
    "SIZES",
    "MLPConfig",
    "MLPResult",
    "MLPStep",
    "OpResult",
    "Target",
    "Timing",
    "measure",
    "measure_interleaved",
    "run_mlp",
    "run_ops_suite",
]
