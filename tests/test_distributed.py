"""Data-parallel training on CPU processes launched by MPI (`mpiexec -n 2` and `-n 3`): the
checks themselves run inside the MPI job, in tests/mpi/checks.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import backprop as bp
import backprop.distributed as dist

pytest.importorskip("mpi4py", reason="the MPI tests need mpi4py: pip install 'backprop[mpi]'")

CHECKS = Path(__file__).parent / "mpi" / "checks.py"


def mpiexec() -> str:
    beside_python = Path(sys.executable).with_name("mpiexec")
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec found (pip install 'backprop[mpi]' brings MPICH's)")
    return found


def run_job(processes: int, *checks: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "BACKPROP_DEVICE": "cpu"}
    command = [mpiexec(), "-n", str(processes), sys.executable, str(CHECKS), *checks]
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
