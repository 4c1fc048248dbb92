"""Data-parallel training on CPU processes launched by MPI (`mpiexec -n 2` and `-n 3`): the
checks themselves run inside the MPI job, in tests/mpi/checks.py. The tests at the end run
DistributedDataParallel's bookkeeping in this process alone, a one-process MPI job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
import backprop.distributed as dist
import backprop.functional as F
from backprop import nn
from backprop.benchmark.distributed import ring_seconds
from backprop.nn.parallel import DistributedDataParallel

pytest.importorskip("mpi4py", reason="the MPI tests need mpi4py: pip install 'backprop[mpi]'")

CHECKS = Path(__file__).parent / "mpi" / "checks.py"


def mpiexec() -> str:
    beside_python = Path(sys.executable).with_name("mpiexec")
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec found (pip install 'backprop[mpi]' brings MPICH's)")
    return found


def run_job(processes: int, *checks: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return launch(processes, [str(CHECKS), *checks], timeout)


def launch(processes: int, arguments: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "BACKPROP_DEVICE": "cpu"}
    command = [mpiexec(), "-n", str(processes), sys.executable, *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("processes", [2, 3])
def test_ddp_training_matches_one_process_and_collectives_agree(processes):
    job = run_job(processes, "collectives", "ddp", "no_sync", "mismatch")
    assert job.returncode == 0, job.stdout + job.stderr
    assert job.stdout.count("passed") == processes


@pytest.mark.parametrize("processes", [2, 3])
def test_ddp_with_unused_parameters_and_gradients_arriving_in_any_order(processes):
    job = run_job(processes, "unused", "unused_no_sync", "unused_error", "bucket_order")
    assert job.returncode == 0, job.stdout + job.stderr
    assert job.stdout.count("passed") == processes


def test_a_parameter_unused_on_one_rank_ends_the_job_naming_it():
    start = time.perf_counter()
    job = run_job(2, "unused_on_last_rank", timeout=60)
    assert job.returncode != 0
    assert "received no gradient" in job.stderr and "spare" in job.stderr
    assert time.perf_counter() - start < 30


def test_a_process_that_raises_ends_the_job_quickly():
    start = time.perf_counter()
    job = run_job(3, "raise", timeout=60)
    assert job.returncode != 0
    assert "deliberate failure on the last rank" in job.stderr
    assert time.perf_counter() - start < 30


def test_collectives_need_an_initialised_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(bp.zeros(3))
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="mpi, nccl or auto"):
        dist.init_process_group("gloo")


@pytest.mark.skipif("cupy" in bp.available_backends(), reason="a GPU is usable through CuPy")
def test_nccl_without_a_usable_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="NCCL backend needs a GPU"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_distributed_training_from_the_command_line_prints_and_saves_on_rank_0(tmp_path):
    pytest.importorskip("sklearn", reason="backprop train's default data needs scikit-learn")
    checkpoint = tmp_path / "model.npz"
    arguments = ["-m", "backprop", "train", "--distributed", "--epochs", "1", "--quiet"]
    job = launch(2, [*arguments, "--save", str(checkpoint)], timeout=120)
    assert job.returncode == 0, job.stdout + job.stderr
    assert job.stdout.count("epoch 1/1") == 1
    assert "2 processes" in job.stdout
    assert set(bp.load(checkpoint)) == {"model", "optimizer"}


def test_distributed_bench_reports_all_reduce_time_and_scaling(tmp_path):
    report = tmp_path / "bench.json"
    options = [
        "--layers",
        "20,16,4",
        "--batch",
        "8",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--repeats",
        "2",
    ]
    arguments = ["-m", "backprop", "bench", "--distributed", "--backend", "numpy", *options]
    job = launch(2, [*arguments, "--json", str(report)], timeout=120)
    assert job.returncode == 0, job.stdout + job.stderr
    assert job.stdout.count("| 20-16-4 batch 8 | numpy | 2 |") == 1
    (row,) = json.loads(report.read_text())["results"]
    assert row["processes"] == 2
    assert row["gradient_bytes"] == 4 * (20 * 16 + 16 + 16 * 4 + 4)
    assert row["efficiency"] > 0 and row["bandwidth_bytes_per_second"] > 0


def test_ring_model_counts_two_n_minus_one_over_n_of_the_buffer():
    assert ring_seconds(1000, 2, 100.0) == pytest.approx(10.0)
    assert ring_seconds(1000, 4, 100.0) == pytest.approx(15.0)


class Heads(nn.Module):
    """Three linear heads of different sizes; forward sums those named, in the order named."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(bp.ones(2, 3))
        self.b = nn.Parameter(bp.ones(4, 3))
        self.c = nn.Parameter(bp.ones(5, 3))

    def forward(self, x: bp.Tensor, heads: str = "abc") -> bp.Tensor:
        total = bp.zeros(())
        for name in heads:
            total = total + F.linear(x, getattr(self, name)).sum()
        return total


@pytest.fixture
def world_of_one():
    """This pytest process alone as an MPI job (MPI's singleton start, no mpiexec)."""
    dist.init_process_group("mpi")
    yield
    dist.destroy_process_group()


@pytest.fixture
def reduced_sizes(monkeypatch) -> list[int]:
    """The sizes of the buffers DistributedDataParallel all-reduces, in the order it does."""
    sizes: list[int] = []
    all_reduce = dist.all_reduce

    def recording(tensor, op=dist.ReduceOp.SUM):
        sizes.append(tensor.numel())
        return all_reduce(tensor, op)

    monkeypatch.setattr(dist, "all_reduce", recording)
    return sizes


def test_buckets_are_reduced_in_index_order_whatever_order_gradients_arrive(
    world_of_one, reduced_sizes
):
    model = DistributedDataParallel(Heads(), bucket_cap_mb=1e-6)
    model(bp.ones(1, 3), heads="abc").backward()
    assert reduced_sizes == [15, 12, 6]
    np.testing.assert_array_equal(model.module.b.grad.numpy(), np.ones((4, 3)))


def test_no_sync_reduces_nothing_and_the_next_backward_reduces_the_sum(world_of_one, reduced_sizes):
    model = DistributedDataParallel(Heads())
    with model.no_sync():
        model(bp.ones(1, 3), heads="ab").backward()
    assert reduced_sizes == []
    model(bp.ones(1, 3)).backward()
    assert reduced_sizes == [33]
    np.testing.assert_array_equal(model.module.a.grad.numpy(), np.full((2, 3), 2.0))


def test_find_unused_parameters_leaves_an_unused_grad_none(world_of_one, reduced_sizes):
    model = DistributedDataParallel(Heads(), find_unused_parameters=True)
    for _ in range(2):
        model(bp.ones(1, 3), heads="ca").backward()
        assert model.module.b.grad is None
    assert reduced_sizes == [3, 33, 3, 33]
    np.testing.assert_array_equal(model.module.c.grad.numpy(), np.full((5, 3), 2.0))


def test_a_parameter_without_gradient_is_named_at_the_next_forward(world_of_one):
    model = DistributedDataParallel(Heads())
    model(bp.ones(1, 3), heads="ac").backward()
    with pytest.raises(RuntimeError, match=r"prior iteration.*: b; .*find_unused_parameters=True"):
        model(bp.ones(1, 3))
    model(bp.ones(1, 3)).backward()
    model(bp.ones(1, 3))


def test_a_gradient_for_a_parameter_forward_did_not_use_is_an_error(world_of_one):
    model = DistributedDataParallel(Heads(), find_unused_parameters=True)
    loss = model(bp.ones(1, 3), heads="ac") + model.module.b.sum()
    with pytest.raises(RuntimeError, match="parameter b received a gradient that cannot"):
        loss.backward()
    model(bp.ones(1, 3)).backward()


def test_a_second_backward_after_the_gradients_were_averaged_is_an_error(world_of_one):
    model = DistributedDataParallel(Heads())
    loss = model(bp.ones(1, 3))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="parameter a received .* second backward"):
        loss.backward()
