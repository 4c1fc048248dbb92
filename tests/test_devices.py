"""Device selection as DESIGN.md states it: "cpu" is NumPy; "cuda" is the first usable GPU
backend (CuPy, then Numba) or an error listing why each cannot run, never a silent CPU
fallback; "auto" is the one spelling that falls back, with a warning saying what it chose;
`backend=` names a backend outright; BACKPROP_DEVICE / BACKPROP_BACKEND set the defaults.

GPU availability is simulated with throwaway backends in a scratch registry, so these tests
mean the same on a laptop, in CI and on a GPU machine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import isolated_registry, only_numpy_registry, register_fake

import backprop as bp
from backprop import backend as registry
from backprop.backend.numpy_backend import NumpyBackend
from backprop.device import gpu_backends


@pytest.fixture
def no_gpu(monkeypatch):
    """Two GPU backends registered, neither usable, each with its reason."""
    only_numpy_registry(monkeypatch)
    register_fake("cupy", "cuda", reason="CuPy is not installed", class_name="FakeGpuBackend")
    register_fake("numba", "cuda", reason="no CUDA driver found", class_name="FakeGpuBackend")


@pytest.fixture
def one_gpu(monkeypatch):
    """The first GPU backend unusable, the second usable."""
    only_numpy_registry(monkeypatch)
    register_fake("cupy", "cuda", reason="CuPy is not installed", class_name="FakeGpuBackend")
    register_fake("fakegpu", "cuda", class_name="FakeGpuBackend")


@pytest.fixture
def clean_environment(monkeypatch):
    monkeypatch.delenv("BACKPROP_DEVICE", raising=False)
    monkeypatch.delenv("BACKPROP_BACKEND", raising=False)


pytestmark = pytest.mark.usefixtures("clean_environment")


def test_cpu_is_numpy_and_the_default():
    cpu = bp.device("cpu")
    assert cpu == bp.Device("numpy") and cpu.type == "cpu" and cpu.index == 0
    assert isinstance(cpu.backend, NumpyBackend)
    assert bp.device() == cpu and bp.device(None) == cpu
    assert bp.zeros(2).device == cpu and bp.tensor([1.0]).device == cpu
    assert bp.device(cpu) is cpu
    assert str(cpu) == "cpu" and repr(cpu) == "device('cpu')"
    assert bp.device("CPU") == cpu and bp.device("cpu:0") == cpu
    assert "numpy" in bp.available_backends()
    assert registry.unavailable_reason("numpy") is None


def test_cuda_without_a_usable_gpu_lists_each_backends_reason(no_gpu):
    with pytest.raises(bp.BackendUnavailableError) as raised:
        bp.device("cuda")
    message = str(raised.value)
    assert "no GPU is usable" in message
    assert "cupy: CuPy is not installed" in message
    assert "numba: no CUDA driver found" in message
    with pytest.raises(bp.BackendUnavailableError, match="no GPU is usable"):
        bp.zeros(2, device="cuda:1")
    with pytest.raises(bp.BackendUnavailableError, match="no GPU is usable"):
        bp.tensor([1.0]).to("cuda")


def test_cuda_with_no_gpu_backend_registered_says_so(monkeypatch):
    only_numpy_registry(monkeypatch)
    with pytest.raises(bp.BackendUnavailableError, match="no GPU backend is registered"):
        bp.device("cuda")


def test_cuda_on_this_machine_either_works_or_explains_why():
    """Against the real registry: a GPU backend that can run, or an error naming every one."""
    usable = [name for name in gpu_backends() if registry.unavailable_reason(name) is None]
    if usable:
        assert bp.device("cuda").backend_name == usable[0]
        return
    with pytest.raises(bp.BackendUnavailableError) as raised:
        bp.device("cuda")
    for name in gpu_backends():
        assert f"{name}: {registry.unavailable_reason(name)}" in str(raised.value)


def test_cuda_picks_the_first_usable_gpu_backend_in_preference_order(one_gpu, monkeypatch):
    chosen = bp.device("cuda")
    assert chosen == bp.Device("fakegpu") and chosen.type == "cuda"
    assert bp.device("cuda:1") == bp.Device("fakegpu", 1) and bp.device("gpu").type == "cuda"
    assert str(bp.device("cuda:1")) == "cuda:1 (fakegpu)"
    t = bp.ones(2, device="cuda")
    assert t.device == chosen and "device='cuda:0 (fakegpu)'" in repr(t)
    register_fake("zgpu", "cuda", class_name="FakeGpuBackend")  # registered later: preferred less
    assert bp.device("cuda") == bp.Device("fakegpu")


def test_auto_falls_back_to_the_cpu_with_a_warning_that_says_what_it_chose(no_gpu):
    with pytest.warns(UserWarning, match="chose the CPU") as caught:
        chosen = bp.device("auto")
    assert chosen == bp.device("cpu")
    assert "CuPy is not installed" in str(caught[0].message)


def test_auto_takes_a_usable_gpu_without_a_warning(one_gpu):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bp.device("auto") == bp.Device("fakegpu")


def test_backend_override(monkeypatch):
    isolated_registry(monkeypatch)
    register_fake("numpy_alt")
    assert bp.device(backend="numpy") == bp.Device("numpy")
    alt = bp.device(backend="numpy_alt")
    assert alt == bp.Device("numpy_alt") and alt != bp.device("cpu")
    assert bp.device("cpu", backend="numpy_alt") == alt
    assert bp.zeros(2, device=alt).device == alt
    register_fake("broken", reason="its driver is too old")
    with pytest.raises(bp.BackendUnavailableError, match="'broken' cannot run here.*too old"):
        bp.device(backend="broken")
    assert "broken" not in bp.available_backends() and "numpy_alt" in bp.available_backends()


def test_backend_override_of_a_gpu_backend(one_gpu):
    assert bp.device("cuda", backend="fakegpu") == bp.Device("fakegpu")
    with pytest.raises(bp.BackendUnavailableError, match="CuPy is not installed"):
        bp.device("cuda", backend="cupy")
    with pytest.raises(ValueError, match="'fakegpu' runs on cuda"):
        bp.device("cpu", backend="fakegpu")


def test_environment_variables_set_the_defaults(monkeypatch, no_gpu):
    register_fake("numpy_alt")
    monkeypatch.setenv("BACKPROP_DEVICE", "cpu")
    assert bp.zeros(2).device == bp.device("cpu")
    monkeypatch.setenv("BACKPROP_DEVICE", "cuda")
    with pytest.raises(bp.BackendUnavailableError, match="no GPU is usable"):
        bp.zeros(2)
    assert bp.zeros(2, device="cpu").device == bp.Device("numpy")  # an explicit device wins
    monkeypatch.setenv("BACKPROP_DEVICE", "auto")
    with pytest.warns(UserWarning, match="chose the CPU"):
        assert bp.tensor([1.0]).device == bp.device("cpu")
    monkeypatch.setenv("BACKPROP_DEVICE", "")  # empty is unset
    assert bp.zeros(2).device == bp.Device("numpy")
    monkeypatch.delenv("BACKPROP_DEVICE")
    monkeypatch.setenv("BACKPROP_BACKEND", "numpy_alt")
    assert bp.zeros(2).device == bp.Device("numpy_alt")
    assert bp.device(backend="numpy") == bp.Device("numpy")  # an explicit backend wins
    monkeypatch.setenv("BACKPROP_BACKEND", "nonesuch")
    with pytest.raises(bp.BackendUnavailableError, match="unknown backend 'nonesuch'"):
        bp.zeros(2)


def test_devices_compare_by_backend_and_index(monkeypatch):
    isolated_registry(monkeypatch)
    register_fake("numpy_alt")
    assert bp.Device("numpy") == bp.Device("numpy", 0)
    assert bp.Device("numpy") != bp.Device("numpy_alt")
    assert len({bp.Device("numpy"), bp.Device("numpy", 0), bp.Device("numpy_alt")}) == 2
    a = bp.ones(2, device=bp.Device("numpy_alt"))
    np.testing.assert_array_equal(a.to("cpu").numpy(), [1.0, 1.0])
    assert a.to("cpu").device == bp.device("cpu")
