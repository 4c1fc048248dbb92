"""Data-parallel training on CPU processes launched by MPI (`mpiexec -n 2` and `-n 3`): the
checks themselves run inside the MPI job, in tests/mpi/checks.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import backprop as bp
import backprop.distributed as dist
from backprop.benchmark.distributed import ring_seconds

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
