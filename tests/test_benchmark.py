"""The benchmark harness behind `backprop bench`: timing, the MLP step and its peers, the ops
suite, tables and plots, and the machine description. No timing assertions: performance
figures live in bench/RESULTS.md, never in tests."""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import helpers
import numpy as np
import pytest

import backprop as bp
from backprop import environment
from backprop.benchmark import peers
from backprop.benchmark.mlp import SIZES, GraphedMLPStep, MLPConfig, MLPStep, initial_parameters
from backprop.benchmark.plot import plot_batch_sweep
from backprop.benchmark.primitives import OPS_PER_BACKEND, run_ops_suite
from backprop.benchmark.report import crossover_batch, crossovers, mlp_table, ops_table
from backprop.benchmark.runner import MLPResult, Target, run_mlp
from backprop.benchmark.timing import Timing, measure, measure_interleaved
from backprop.progress import Progress

TINY = MLPConfig((6, 8, 3), 5)

# -- timing -----------------------------------------------------------------------------------


class FakeDevice:
    """A step that takes a given time on a fake clock, with a log of steps, syncs and reads."""

    def __init__(self, durations):
        self.durations = iter(durations)
        self.now = 0.0
        self.log = []

    def step(self):
        self.now += next(self.durations)
        self.log.append("step")

    def synchronize(self):
        self.log.append("sync")

    def clock(self):
        self.log.append("clock")
        return self.now


def test_measure_times_each_repeat_after_untimed_warmups():
    fake = FakeDevice([100.0, 100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    timing = measure(fake.step, fake.synchronize, steps=2, warmup=2, repeats=3, clock=fake.clock)
    assert timing.seconds == (1.5, 3.5, 5.5)
    assert (timing.median, timing.min, timing.max) == (3.5, 1.5, 5.5)


def test_measure_synchronizes_before_every_clock_reading():
    fake = FakeDevice([1.0] * 5)
    measure(fake.step, fake.synchronize, steps=2, warmup=1, repeats=2, clock=fake.clock)
    assert fake.log == (["step", "sync"] + ["clock", "step", "step", "sync", "clock"] * 2)


def test_measure_interleaved_takes_turns_repeat_by_repeat():
    log = []
    workloads = [
        (lambda name=name: log.append(name), lambda name=name: log.append(name + " sync"))
        for name in ("a", "b")
    ]
    timings = measure_interleaved(workloads, steps=1, warmup=1, repeats=2)
    assert log == ["a", "a sync", "b", "b sync"] + ["a", "a sync", "b", "b sync"] * 2
    assert [len(timing.seconds) for timing in timings] == [2, 2]


def test_measure_calls_on_step_for_every_step_warmups_included():
    calls = []
    measure(lambda: None, lambda: None, 3, 2, 2, on_step=lambda: calls.append(1))
    assert len(calls) == 2 + 3 * 2


@pytest.mark.parametrize("field", ["steps", "warmup", "repeats"])
def test_measure_rejects_counts_out_of_range(field):
    counts = {"steps": 1, "warmup": 0, "repeats": 1, field: -1}
    with pytest.raises(ValueError, match=f"measure: {field} must be"):
        measure(lambda: None, lambda: None, **counts)


# -- the MLP step -----------------------------------------------------------------------------


def test_standard_sizes_are_the_reference_workloads():
    assert SIZES["small"] == MLPConfig((784, 256, 256, 10), 128)
    assert SIZES["medium"] == MLPConfig((784, 1024, 1024, 10), 1024)
    assert SIZES["large"] == MLPConfig((4096, 4096, 4096, 4096, 10), 8192)


@pytest.mark.parametrize("layers, batch", [((784,), 1), ((784, 0, 10), 1), ((4, 2), 0)])
def test_mlp_config_rejects_impossible_shapes(layers, batch):
    with pytest.raises(ValueError, match="MLPConfig"):
        MLPConfig(layers, batch)


def test_initial_parameters_are_the_same_for_a_seed_and_shaped_like_torch():
    first = initial_parameters(TINY, "float32", seed=3)
    again = initial_parameters(TINY, "float32", seed=3)
    assert [p.shape for p in first] == [(8, 6), (8,), (3, 8), (3,)]
    assert all(p.requires_grad and p.is_leaf for p in first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mlp_step_trains_on_its_fixed_batch(optimizer):
    step = MLPStep(TINY, "numpy", "float64", optimizer)
    losses = [step().item() for _ in range(30)]
    assert losses[-1] < losses[0]
    assert all(p.grad is None for p in step.params)


def test_mlp_step_gives_the_same_losses_on_every_backend(device):
    reference = MLPStep(TINY, "numpy", "float64", "adam")
    step = MLPStep(TINY, device.backend_name, "float64", "adam")
    for _ in range(2):
        np.testing.assert_allclose(step().item(), reference().item(), rtol=1e-10)


def test_graphed_step_runs_eagerly_where_no_cuda_graph_is_captured():
    """On the CPU `graph_step` runs the step every call: the losses are the eager step's."""
    reference = MLPStep(TINY, "numpy", "float64", "adam")
    graphed = GraphedMLPStep(TINY, "numpy", "float64", "adam")
    for _ in range(6):
        np.testing.assert_allclose(graphed().item(), reference().item(), rtol=1e-12)


# -- peers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_torch_peer_computes_the_same_losses_as_our_step(optimizer):
    pytest.importorskip("torch")
    ours = MLPStep(TINY, "numpy", "float64", optimizer)
    theirs = peers.TorchStep(TINY, "cpu", "float64", optimizer)
    for _ in range(3):
        np.testing.assert_allclose(theirs().item(), ours().item(), rtol=1e-10)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_jax_peer_computes_the_same_losses_as_our_step(optimizer):
    pytest.importorskip("jax")
    ours = MLPStep(TINY, "numpy", "float32", optimizer)
    theirs = peers.JaxStep(TINY, "cpu", "float32", optimizer)
    for _ in range(3):
        np.testing.assert_allclose(float(theirs()), ours().item(), rtol=1e-5)


@pytest.mark.parametrize(("ours", "theirs"), [("highest", "HIGHEST"), ("high", "HIGH")])
def test_jax_peer_matmuls_run_at_our_float32_precision(ours, theirs):
    jax = pytest.importorskip("jax")
    previous = bp.get_float32_matmul_precision()
    bp.set_float32_matmul_precision(ours)
    try:
        step = peers.JaxStep(TINY, "cpu", "float32", "sgd")
    finally:
        bp.set_float32_matmul_precision(previous)
    program = str(jax.make_jaxpr(step._step)(step.params, step.state, 1, step.inputs, step.targets))
    matmuls = program.count("dot_general")
    assert matmuls >= 3 and program.count(f"Precision.{theirs}") >= matmuls


def test_a_peer_that_is_not_installed_says_so(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert peers.unavailable_reason("jax", "cpu") == "jax is not installed"
    with pytest.raises(ValueError, match="unknown peer 'mxnet'"):
        peers.unavailable_reason("mxnet", "cpu")


# -- runs, tables and plots -------------------------------------------------------------------


def test_run_mlp_times_every_job_with_the_requested_counts():
    jobs = [(TINY, Target("numpy", "cpu")), (MLPConfig((6, 3), 2), Target("numpy", "cpu"))]
    names = []
    results = run_mlp(jobs, "float32", "sgd", steps=2, warmup=1, repeats=3, on_config=names.append)
    assert [r.config for r in results] == [TINY, MLPConfig((6, 3), 2)]
    assert all(len(r.timing.seconds) == 3 for r in results)
    assert names == ["6-8-3 batch 5", "6-3 batch 2"]
    row = results[0].to_dict()
    assert row["median_ms"] == pytest.approx(results[0].timing.median * 1e3)
    assert row["samples_per_s"] == pytest.approx(5 / results[0].timing.median)
    flops = 6 * 5 * (6 * 8 + 8 * 3)
    assert row["matmul_tflop_per_s"] == pytest.approx(flops / results[0].timing.median / 1e12)


def _result(name, batch, seconds, device_type="cpu", peer=False, layers=(6, 8, 3)):
    target = Target(name, device_type, peer)
    return MLPResult(target, MLPConfig(layers, batch), "float32", "sgd", Timing((seconds,)))


def test_mlp_table_gives_speed_relative_to_numpy_and_to_each_peer():
    results = [_result("numpy", 5, 0.010), _result("torch", 5, 0.005, peer=True)]
    lines = mlp_table(results).splitlines()
    assert lines[0].split()[-3:] == ["numpy", "vs", "torch"]
    assert lines[2].split()[-2:] == ["1.00x", "0.50x"]
    assert lines[3].split()[-2:] == ["2.00x", "1.00x"]
    assert "torch (cpu)" in lines[3]


def test_graph_rows_are_labelled_and_compared_apart_from_the_eager_ones():
    def result(name, seconds, peer=False, graph=False):
        target = Target(name, "cuda", peer, graph)
        return MLPResult(target, TINY, "float32", "sgd", Timing((seconds,)))

    results = [
        result("cupy", 0.004),
        result("cupy", 0.001, graph=True),
        result("torch", 0.008, peer=True),
        result("torch", 0.002, peer=True, graph=True),
    ]
    lines = mlp_table(results).splitlines()
    assert lines[0].split()[-4:] == ["torch", "vs", "torch", "graph"]
    assert "cupy (graph)" in lines[3] and lines[3].split()[-2:] == ["8.00x", "2.00x"]
    assert "torch (cuda, graph)" in lines[5]


def test_crossovers_name_the_batch_from_which_the_gpu_is_faster():
    results = [
        _result("numpy", 32, 0.001),
        _result("numpy", 128, 0.004),
        _result("numpy", 512, 0.016),
        _result("cupy", 32, 0.002, "cuda"),
        _result("cupy", 128, 0.002, "cuda"),
        _result("cupy", 512, 0.002, "cuda"),
    ]
    assert crossovers(results) == ["cupy overtakes numpy from batch 128 (6-8-3)"]
    slow = [r for r in results if r.target.name == "numpy"] + [
        _result("numba", batch, 1.0, "cuda") for batch in (32, 128, 512)
    ]
    assert crossovers(slow) == ["numba does not overtake numpy up to batch 512 (6-8-3)"]
    assert crossover_batch(results, Target("cupy", "cuda"), (6, 8, 3)) == 128


def test_plot_batch_sweep_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    results = [_result("numpy", batch, batch * 1e-5) for batch in (32, 128)]
    results += [_result("torch", batch, 1e-3, peer=True) for batch in (32, 128)]
    path = tmp_path / "sweep.png"
    plot_batch_sweep(results, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ops_suite_reports_rates_against_the_copy_bandwidth():
    results = run_ops_suite("numpy", "float32", steps=1, warmup=0, repeats=1)
    assert [r.op for r in results] == ["copy", "matmul", "relu", "sigmoid"]
    assert len(results) == OPS_PER_BACKEND
    assert [r.unit for r in results] == ["GB/s", "TFLOP/s", "GB/s", "GB/s"]
    assert results[1].work == 2.0 * 1024**3
    assert all(r.rate > 0 for r in results)
    table = ops_table(results)
    assert "TFLOP/s" in table and "%" in table.splitlines()[-1]
    json.dumps([r.to_dict() for r in results])


# -- the progress bar -------------------------------------------------------------------------


def test_progress_draws_steps_rate_and_eta_when_enabled():
    stream = io.StringIO()
    with Progress(4, "numpy", enabled=True, stream=stream) as progress:
        progress.update(2)
        assert progress.line(elapsed=1.0).endswith("2/4 2.0 it/s ETA 1s")
    assert "numpy [" in stream.getvalue() and stream.getvalue().endswith("\n")


def test_progress_write_prints_a_line_above_the_bar(capsys):
    stream = io.StringIO()
    with Progress(2, "train", enabled=True, stream=stream) as progress:
        progress.update()
        progress.write("epoch 1/2")
    assert capsys.readouterr().out == "epoch 1/2\n"
    assert "\r\033[K" in stream.getvalue()


def test_progress_is_silent_when_not_a_terminal():
    stream = io.StringIO()
    with Progress(3, "numpy", stream=stream) as progress:
        progress.update(3)
    assert stream.getvalue() == ""


# -- the machine description ------------------------------------------------------------------


def test_describe_lists_versions_cpu_blas_and_every_backend():
    description = environment.describe()
    assert description["versions"]["numpy"] == np.__version__
    assert description["cores"] >= 1 and description["cpu"]
    assert set(description["blas"]) == {"name", "version", "threads"}
    names = [row["name"] for row in description["backends"]]
    assert names == bp.backend.registered()
    numpy_row = description["backends"][0]
    assert numpy_row["available"] and numpy_row["reason"] is None
    json.dumps(description)


def test_describe_records_the_thread_settings_that_were_set(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    environment_variables = environment.describe()["environment"]
    assert environment_variables["OMP_NUM_THREADS"] == "1"
    assert "MKL_NUM_THREADS" not in environment_variables


def test_describe_gives_the_reason_a_backend_cannot_run(monkeypatch):
    helpers.only_numpy_registry(monkeypatch)
    helpers.register_fake("fakegpu", "cuda", reason="no CUDA driver", class_name="FakeGpuBackend")
    rows = {row["name"]: row for row in environment.backends()}
    assert rows["fakegpu"] == {
        "name": "fakegpu",
        "device_type": "cuda",
        "available": False,
        "reason": "no CUDA driver",
        "device": None,
    }
    assert environment.gpu_names(list(rows.values())) == []


def test_a_missing_package_has_no_version():
    assert environment.package_version("surely-not-installed-package") is None


def test_blas_falls_back_to_numpys_build_configuration(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    assert environment.blas() == {
        "name": built["name"],
        "version": built["version"],
        "threads": None,
    }
