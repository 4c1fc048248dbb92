"""The `backprop` command line, end to end on the CPU with few steps: what `info` and `bench`
print and save, and exit status 2 with a one-line error for requests that cannot be served."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import helpers
import pytest

import backprop as bp
from backprop.cli import main
from backprop.serialization import load

FAST = ["--steps", "1", "--warmup", "0", "--repeats", "2", "--quiet"]
TINY = ["--layers", "6,8,3", "--batch", "4"]


def bench(*args: str) -> int:
    return main(["bench", *args])


@pytest.fixture
def fake_gpu(monkeypatch):
    """A registry with a GPU backend that cannot run here, as on a machine without a driver."""
    helpers.only_numpy_registry(monkeypatch)
    helpers.register_fake("fakegpu", "cuda", reason="no CUDA driver", class_name="FakeGpuBackend")


@pytest.fixture
def usable_fake_gpu(monkeypatch):
    """A registry with a 'GPU' backend that runs (NumPy arrays labelled cuda)."""
    helpers.only_numpy_registry(monkeypatch)
    helpers.register_fake("fakegpu", "cuda", class_name="FakeGpuBackend")


def assert_usage_error(capsys, status: int, message: str, command: str = "bench") -> None:
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith(f"backprop {command}: error: ")
    assert message in err
    assert "Traceback" not in err


# -- info -------------------------------------------------------------------------------------


def test_info_lists_versions_blas_and_every_backend(capsys, fake_gpu):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy " in out and "BLAS" in out and "cores" in out
    assert re.search(r"numpy +cpu +available", out)
    assert re.search(r"fakegpu +cuda +unavailable: no CUDA driver", out)
    assert "GPU      none visible" in out


def test_info_names_the_usable_gpu_on_its_gpu_line(capsys, usable_fake_gpu, monkeypatch):
    monkeypatch.setattr(helpers.FakeGpuBackend, "device_properties", lambda self: {"name": "H1"})
    assert main(["info"]) == 0
    assert "GPU      H1" in capsys.readouterr().out


def test_info_shows_a_usable_gpu_by_name_memory_and_capability(
    capsys, usable_fake_gpu, monkeypatch
):
    properties = {"name": "Fake H100", "total_memory": 80 * 2**30, "compute_capability": (9, 0)}
    monkeypatch.setattr(helpers.FakeGpuBackend, "device_properties", lambda self: properties)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"fakegpu +cuda +available: Fake H100, 80.0 GiB, compute capability 9.0", out)
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gpus"] == ["Fake H100"]


def test_info_json_is_the_machine_description(capsys):
    assert main(["info", "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert {"cpu", "cores", "blas", "versions", "backends", "date"} <= set(description)


def test_python_dash_m_backprop_info_runs_in_a_fresh_process():
    done = subprocess.run(
        [sys.executable, "-m", "backprop", "info"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "backends" in done.stdout and "numpy" in done.stdout


# -- bench ------------------------------------------------------------------------------------


def test_bench_prints_a_table_and_writes_the_raw_numbers(capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert bench("--backend", "numpy", *TINY, *FAST, "--json", str(path)) == 0
    out = capsys.readouterr().out
    assert "ms/step median [min-max]" in out and "6-8-3 batch 4" in out
    document = json.loads(path.read_text())
    assert document["suite"] == "mlp"
    assert {"cpu", "cores", "gpus", "versions", "backends", "date"} <= set(document["machine"])
    assert document["settings"]["layers"] == [6, 8, 3]
    [row] = document["results"]
    assert row["target"] == "numpy" and row["device_type"] == "cpu" and not row["peer"]
    assert (row["layers"], row["batch"]) == ([6, 8, 3], 4)
    assert (row["dtype"], row["optimizer"]) == ("float32", "sgd")
    assert len(row["seconds"]) == 2
    assert row["min_ms"] <= row["median_ms"] <= row["max_ms"]
    assert row["samples_per_s"] == pytest.approx(4 / (row["median_ms"] / 1e3))


def test_bench_compares_with_torch_in_the_same_run(capsys, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "bench.json"
    args = ["--backend", "numpy", *TINY, *FAST, "--compare", "torch", "--json", str(path)]
    assert bench(*args, "--optimizer", "adam", "--dtype", "float64") == 0
    assert "vs torch" in capsys.readouterr().out
    rows = json.loads(path.read_text())["results"]
    assert [(r["target"], r["peer"]) for r in rows] == [("numpy", False), ("torch", True)]
    assert all(r["dtype"] == "float64" and r["optimizer"] == "adam" for r in rows)


def test_bench_sweeps_batches_for_the_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot, path = tmp_path / "sweep.png", tmp_path / "sweep.json"
    args = ["--backend", "numpy", "--layers", "6,8,3", "--batches", "2,4", *FAST]
    assert bench(*args, "--plot", str(plot), "--json", str(path)) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert [r["batch"] for r in json.loads(path.read_text())["results"]] == [2, 4]


def test_bench_says_why_each_gpu_backend_is_absent(capsys, fake_gpu):
    assert bench(*TINY, *FAST) == 0
    out = capsys.readouterr().out
    assert "fakegpu: not run: no CUDA driver" in out
    assert "numpy" in out


@pytest.mark.skipif(
    "numba" not in bp.available_backends() or not bp.device(backend="numba").backend.simulated,
    reason="needs the Numba backend in its CUDA simulator (NUMBA_ENABLE_CUDASIM=1)",
)
def test_bench_times_a_simulated_gpu_only_when_named(capsys):
    assert bench(*TINY, *FAST) == 0
    out = capsys.readouterr().out
    assert "numba: not run: it runs in a GPU simulator on the CPU" in out
    assert "numba " not in out.split("config", 1)[1]
    assert bench("--backend", "numba", *TINY, *FAST) == 0
    assert "numba " in capsys.readouterr().out.split("config", 1)[1]


def test_bench_runs_large_only_on_gpus_unless_asked(capsys, usable_fake_gpu, monkeypatch):
    timed = []

    def record(jobs, *args, **kwargs):
        timed.extend(jobs)
        return []

    monkeypatch.setattr("backprop.cli.run_mlp", record)
    assert bench("--quiet") == 0
    assert "large: not run on the CPU" in capsys.readouterr().out
    runs = {(config.layers[0], config.batch, target.name) for config, target in timed}
    assert (4096, 8192, "fakegpu") in runs and (4096, 8192, "numpy") not in runs
    assert (784, 128, "numpy") in runs and (784, 1024, "fakegpu") in runs


def test_bench_precision_high_is_noted_without_a_gpu(capsys):
    assert bench("--backend", "numpy", *TINY, *FAST, "--precision", "high") == 0
    assert "--precision high only changes GPU matmuls; no GPU runs here" in capsys.readouterr().out


def test_bench_graph_says_why_no_graph_is_timed_without_a_gpu(capsys):
    assert bench("--backend", "numpy", *TINY, *FAST, "--graph") == 0
    out = capsys.readouterr().out
    assert "--graph: not run: CUDA graphs need the cupy backend on a GPU" in out
    assert "(graph)" not in out


def test_bench_ops_suite_measures_matmul_elementwise_and_copy(capsys, tmp_path):
    path = tmp_path / "ops.json"
    args = ["--suite", "ops", "--backend", "numpy", "--json", str(path)]
    assert bench(*args, "--steps", "1", "--warmup", "0", "--repeats", "1", "--quiet") == 0
    assert "of copy bandwidth" in capsys.readouterr().out
    document = json.loads(path.read_text())
    assert document["suite"] == "ops"
    assert [r["op"] for r in document["results"]] == ["copy", "matmul", "relu", "sigmoid"]


# -- bad requests exit 2 with one line --------------------------------------------------------


def test_a_backend_that_cannot_run_here_is_a_usage_error(capsys, fake_gpu):
    status = bench("--backend", "fakegpu", *TINY, *FAST)
    assert_usage_error(capsys, status, "backend 'fakegpu' cannot run here: no CUDA driver")


def test_a_single_width_is_not_an_mlp(capsys):
    status = bench("--backend", "numpy", "--layers", "784", *FAST)
    assert_usage_error(capsys, status, "--layers needs at least an input and an output width")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "tpu"], "unknown backend 'tpu'; known backends: numpy"),
        (["--layers", "784,x,10"], "expected positive integers separated by commas"),
        (["--steps", "0"], "expected an integer >= 1, got '0'"),
        (["--warmup", "x"], "expected an integer >= 0, got 'x'"),
        (["--compare", "mxnet"], "expected a comma-separated list of torch, jax"),
        (["--size", "huge"], "expected a comma-separated list of small, medium, large, all"),
        (["--dtype", "float16"], "invalid choice: 'float16'"),
    ],
)
def test_malformed_arguments_exit_with_status_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        bench(*args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"backprop {bp.__version__}"


def test_ctrl_c_ends_a_run_with_status_130_and_no_traceback(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("backprop.cli.run_mlp", interrupted)
    assert bench("--backend", "numpy", *TINY, *FAST) == 130
    assert capsys.readouterr().err == "backprop bench: interrupted\n"


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


# -- train ------------------------------------------------------------------------------------

MNIST_DIR = Path(
    os.environ.get(
        "BACKPROP_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    )
)


def test_train_fits_the_digits_and_reports_every_epoch(capsys, tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    pytest.importorskip("matplotlib")
    checkpoint, curves = tmp_path / "mlp.npz", tmp_path / "curves.png"
    args = ["train", "--epochs", "2", "--hidden", "32", "--quiet", "--save", str(checkpoint)]
    assert main([*args, "--plot", str(curves)]) == 0
    out = capsys.readouterr().out
    assert "scikit-learn digits: 1438 train, 359 test; mlp on cpu" in out
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("epoch")]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert f"learning curves plotted to {curves}" in out
    assert curves.read_bytes()[:4] == b"\x89PNG"
    state = load(str(checkpoint))
    assert set(state) == {"model", "optimizer"}
    assert state["model"]["1.weight"].shape == (32, 64)


def test_train_a_cnn_and_plot_its_gradient_norms(capsys, tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    pytest.importorskip("matplotlib")
    plot = tmp_path / "grads.png"
    args = ["train", "--model", "cnn", "--epochs", "1", "--optimizer", "sgd", "--quiet"]
    assert main([*args, "--plot-grads", str(plot)]) == 0
    assert "cnn on cpu" in capsys.readouterr().out
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"the MNIST test files are not in {MNIST_DIR} (set BACKPROP_MNIST_DIR to a copy)",
)
def test_train_reads_mnist_idx_files_from_a_directory(capsys):
    args = ["train", "--data", str(MNIST_DIR), "--hidden", "32", "--batch-size", "256"]
    assert main([*args, "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "MNIST test split only: 8000 train, 2000 held out" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 50


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/no/such/directory"], "--data /no/such/directory: no such directory"),
        (["--device", "tpu"], "device: unknown device 'tpu'"),
    ],
)
def test_impossible_training_requests_exit_with_status_2(capsys, args, message):
    assert_usage_error(capsys, main(["train", *args]), message, "train")


def test_a_data_directory_without_mnist_files_is_a_usage_error(capsys, tmp_path):
    status = main(["train", "--data", str(tmp_path)])
    assert_usage_error(capsys, status, "t10k-images-idx3-ubyte.gz not found", "train")


def test_training_on_a_gpu_without_one_is_a_usage_error(capsys, fake_gpu):
    status = main(["train", "--device", "cuda"])
    assert_usage_error(capsys, status, "no GPU is usable (fakegpu: no CUDA driver)", "train")


@pytest.mark.parametrize("option", ["--plot", "--plot-grads"])
def test_plotting_without_matplotlib_is_a_usage_error(capsys, monkeypatch, tmp_path, option):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "matplotlib" else real_find_spec(name, *args),
    )
    status = main(["train", option, str(tmp_path / "plot.png")])
    assert_usage_error(
        capsys, status, f"{option} needs matplotlib, which is not installed", "train"
    )
