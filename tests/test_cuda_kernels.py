"""The CUDA C in kernels/, checked without a GPU.

Every `.cu` file compiles with nvcc for sm_80 and sm_90, NVRTC compiles the sources as the CuPy
backend hands them over, and the kernels' math (the `__host__ __device__` functions of the
headers, built for the CPU through kernels/host_shim.cu) matches the NumPy backend; RMSprop's
and Adagrad's also follow torch.optim's float64 trajectories. What this cannot check is the
launch itself: indexing, grid-stride loops, warp shuffles. Those are checked by
tests/test_cupy_backend.py on a GPU.
"""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess

import numpy as np
import pytest
from helpers import PHILOX_KNOWN_ANSWERS

from backprop.backend import get_backend, philox
from backprop.backend.base import ACTIVATIONS
from backprop.backend.cupy_backend import COMPILE_OPTIONS, KERNELS_DIR, kernel_source

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not on PATH")

KERNEL_FILES = sorted(path.name for path in KERNELS_DIR.glob("*.cu") if path.name != "host_shim.cu")


def typed(*kernels: str) -> tuple[str, ...]:
    """The float32 and float64 entry points of kernels written once as templates."""
    return tuple(f"{kernel}_{suffix}" for kernel in kernels for suffix in ("f32", "f64"))


KERNELS = {
    "activations.cu": typed("act_forward", "act_backward", "bias_act_forward"),
    "dropout.cu": ("dropout_mask", "philox_advance"),
    "optimizers.cu": typed(
        "sgd_update",
        "adam_update",
        "rmsprop_update",
        "adagrad_update",
        "sgd_update_device_scalars",
        "adam_update_device_scalars",
        "rmsprop_update_device_scalars",
        "adagrad_update_device_scalars",
    ),
    "softmax_cross_entropy.cu": typed(
        "softmax_cross_entropy_forward", "softmax_cross_entropy_backward"
    ),
}
"""The entry points the CuPy backend launches from each file."""

ALPHAS = {"leaky_relu": 0.01, "elu": 1.0, "softplus": 1.0}
"""The activations' one parameter: leaky_relu's slope, elu's alpha, softplus's beta."""

TOLERANCES = {np.float64: {"rtol": 1e-12, "atol": 1e-14}, np.float32: {"rtol": 2e-6, "atol": 1e-5}}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])

numpy_backend = get_backend("numpy")


def test_the_backend_launches_exactly_the_kernel_files_here():
    assert sorted(KERNELS) == KERNEL_FILES


# -- compilation -------------------------------------------------------------------------------


@needs_nvcc
def test_every_kernel_file_compiles_with_nvcc_for_sm80_and_sm90(tmp_path):
    architectures = ["-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=sm_90"]
    sources = [str(KERNELS_DIR / name) for name in KERNEL_FILES]
    result = subprocess.run(
        [NVCC, "-fatbin", *architectures, "--threads=0", *sources],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.stem for path in tmp_path.glob("*.fatbin")) == [
        name.removesuffix(".cu") for name in KERNEL_FILES
    ]


def _nvrtc():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed: NVRTC comes with it")
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # the library loader raises its own error types
        pytest.skip(f"NVRTC cannot be loaded (CuPy's [ctk] extra brings it): {error}")
    return cupy.cuda.nvrtc


@pytest.mark.parametrize("filename", sorted(KERNELS))
def test_nvrtc_compiles_the_source_the_backend_loads(filename):
    nvrtc = _nvrtc()
    program = nvrtc.createProgram(kernel_source(filename), filename, [], [])
    try:
        nvrtc.compileProgram(program, [*COMPILE_OPTIONS, "-arch=compute_90"])
    except nvrtc.NVRTCError as error:
        pytest.fail(f"{filename}: {error}\n{nvrtc.getProgramLog(program)}")
    ptx = nvrtc.getPTX(program).decode()
    for entry in KERNELS[filename]:
        assert f".entry {entry}(" in ptx


def test_kernel_source_inlines_each_header_once():
    source = kernel_source("activations.cu")
    assert '#include "' not in source
    assert source.count("enum Activation") == 1
    assert source.count("#define BP_HOST_DEVICE") == 1


# -- the kernels' math on the host -------------------------------------------------------------

SIGNATURES = {
    "act_forward": "AAqiS",
    "act_backward": "AAAAqiS",
    "bias_act_forward": "AAAqqiS",
    "softmax_cross_entropy_forward": "ALAAAqiSqi",
    "softmax_cross_entropy_backward": "ALAAqiSqq",
    "sgd_update": "AAAqSSSbSb",
    "adam_update": "AAAAAqSSSSSbbSS",
    "rmsprop_update": "AAAAAqSSSSSb",
    "adagrad_update": "AAAqSSS",
}
"""Argument types of the host shim's functions: A array of the dtype, L int64 array,
q long long, i int, S scalar of the dtype, b bool."""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    """kernels/host_shim.cu built for the CPU, loaded with ctypes; compiled once per session."""
    if NVCC is None:
        pytest.skip("nvcc (the CUDA toolkit) is not on PATH")
    library = tmp_path_factory.mktemp("shim") / "host_shim.so"
    result = subprocess.run(
        [NVCC, "-shared", "-Xcompiler", "-fPIC", "-o", str(library), KERNELS_DIR / "host_shim.cu"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return ctypes.CDLL(str(library))


def call(shim, name: str, dtype, *args) -> None:
    """Calls `<name>_<f32|f64>` of the shim, converting each argument by its signature."""
    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    converters = {
        "A": lambda a: _pointer(a, dtype),
        "L": lambda a: _pointer(a, np.int64),
        "q": ctypes.c_longlong,
        "i": ctypes.c_int,
        "S": scalar,
        "b": ctypes.c_bool,
    }
    signature = SIGNATURES[name]
    assert len(signature) == len(args), f"{name} takes {len(signature)} arguments"
    function = getattr(shim, f"{name}_{'f32' if dtype == np.float32 else 'f64'}")
    function.restype = None
    function(*(converters[code](arg) for code, arg in zip(signature, args)))


def _pointer(array: np.ndarray, dtype) -> ctypes.c_void_p:
    assert array.dtype == dtype and array.flags.c_contiguous, "the shim reads flat arrays"
    return ctypes.c_void_p(array.ctypes.data)


def inputs(rng, dtype, shape=(4, 33)) -> np.ndarray:
    """Normal values spread wide, plus the points where activations branch or saturate."""
    x = rng.normal(0.0, 4.0, size=shape).astype(dtype)
    x.flat[:9] = [0.0, -0.0, 1e-3, -1e-3, 19.5, 20.5, -30.0, 30.0, -100.0]
    return x


@DTYPES
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_matches_the_numpy_backend(shim, rng, name, dtype):
    x, alpha = inputs(rng, dtype), ALPHAS.get(name, 0.0)
    y = np.empty_like(x)
    call(shim, "act_forward", dtype, x, y, x.size, ACTIVATIONS.index(name), alpha)
    expected = numpy_backend.act_forward(name, x, alpha)
    np.testing.assert_allclose(y, expected, **TOLERANCES[dtype])


@DTYPES
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_the_numpy_backend(shim, rng, name, dtype):
    x, alpha = inputs(rng, dtype), ALPHAS.get(name, 0.0)
    y = numpy_backend.act_forward(name, x, alpha)
    grad = rng.normal(size=x.shape).astype(dtype)
    out = np.empty_like(x)
    call(shim, "act_backward", dtype, grad, x, y, out, x.size, ACTIVATIONS.index(name), alpha)
    expected = numpy_backend.act_backward(name, grad, x, y, alpha)
    np.testing.assert_allclose(out, expected, **TOLERANCES[dtype])


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_softplus_beta_scales_the_input_and_the_threshold(shim, rng, beta):
    x = inputs(rng, np.float64)
    y, grad_x = np.empty_like(x), np.empty_like(x)
    kind = ACTIVATIONS.index("softplus")
    call(shim, "act_forward", np.float64, x, y, x.size, kind, beta)
    call(shim, "act_backward", np.float64, np.ones_like(x), x, y, grad_x, x.size, kind, beta)
    np.testing.assert_allclose(y, numpy_backend.act_forward("softplus", x, beta), rtol=1e-12)
    expected = numpy_backend.act_backward("softplus", np.ones_like(x), x, y, beta)
    np.testing.assert_allclose(grad_x, expected, rtol=1e-12)


def test_relu_passes_nan_through(shim):
    x = np.array([np.nan, -1.0, 2.0])
    y = np.empty_like(x)
    call(shim, "act_forward", np.float64, x, y, x.size, ACTIVATIONS.index("relu"), 0.0)
    np.testing.assert_array_equal(y, [np.nan, 0.0, 2.0])


@DTYPES
@pytest.mark.parametrize("name", ["relu", "gelu", "silu"])
def test_bias_activation_adds_the_bias_along_the_last_axis(shim, rng, name, dtype):
    x = inputs(rng, dtype, shape=(6, 5))
    bias = rng.normal(size=5).astype(dtype)
    y = np.empty_like(x)
    call(
        shim, "bias_act_forward", dtype, x, bias, y, x.size, bias.size, ACTIVATIONS.index(name), 0.0
    )
    expected = numpy_backend.bias_act_forward(name, x, bias)
    np.testing.assert_allclose(y, expected, **TOLERANCES[dtype])


@DTYPES
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("parts", [1, 3, 32], ids=["one-pass", "3-parts", "warp"])
def test_softmax_cross_entropy_forward_matches_the_numpy_backend(
    shim, rng, smoothing, parts, dtype
):
    logits = rng.normal(0.0, 5.0, size=(6, 10)).astype(dtype)
    logits[0] += 1000.0  # a shift must not overflow
    logits[1, 3] = -np.inf  # a class that can never be chosen
    targets = np.array([0, 2, 9, -100, 1, 4], dtype=np.int64)
    losses, probs, counted = np.empty(6, dtype), np.empty_like(logits), np.empty(6, dtype)
    arrays = (logits, targets, losses, probs, counted)
    call(shim, "softmax_cross_entropy_forward", dtype, *arrays, 6, 10, smoothing, -100, parts)
    expected_losses, expected_probs, expected_counted = numpy_backend.softmax_cross_entropy_forward(
        logits, targets, smoothing
    )
    np.testing.assert_allclose(probs, expected_probs, **TOLERANCES[dtype])
    np.testing.assert_allclose(losses, expected_losses, rtol=TOLERANCES[dtype]["rtol"], atol=1e-5)
    np.testing.assert_array_equal(counted, expected_counted)
    assert losses[3] == 0 and counted[3] == 0, "the ignored row"


def test_a_target_out_of_range_gives_a_nan_loss_not_a_wild_read(shim, rng):
    logits = rng.normal(size=(4, 4))
    targets = np.array([-1, 4, 2, 7], dtype=np.int64)
    losses, probs, counted = np.empty(4), np.empty_like(logits), np.empty(4)
    arrays = (logits, targets, losses, probs, counted)
    call(shim, "softmax_cross_entropy_forward", np.float64, *arrays, 4, 4, 0.0, 7, 1)
    assert np.isnan(losses[:2]).all()
    assert np.isfinite(losses[2])
    assert losses[3] == 0, "ignore_index may lie outside [0, classes)"
    np.testing.assert_array_equal(counted, [1, 1, 1, 0])


@DTYPES
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_softmax_cross_entropy_backward_matches_the_numpy_backend(
    shim, rng, smoothing, ignore_index, dtype
):
    """Per-row gradients read with stride 1, and with stride 0 (a mean's broadcast gradient)."""
    logits = rng.normal(size=(5, 7)).astype(dtype)
    targets = np.array([3, 0, -100, 6, 3])
    _, probs, _ = numpy_backend.softmax_cross_entropy_forward(logits, targets, smoothing)
    for grad_losses, stride in [(rng.normal(size=5).astype(dtype), 1), (dtype(0.25), 0)]:
        grad = np.empty_like(probs)
        args = (probs, targets, np.atleast_1d(grad_losses), grad, probs.size, 7, smoothing)
        call(shim, "softmax_cross_entropy_backward", dtype, *args, ignore_index, stride)
        expected = numpy_backend.softmax_cross_entropy_backward(
            probs, targets, np.broadcast_to(grad_losses, (5,)), smoothing, ignore_index
        )
        np.testing.assert_allclose(grad, expected, **TOLERANCES[dtype])
        ignored = targets == ignore_index
        assert ignored.any() and not grad[ignored].any(), "ignored rows have no gradient"


SGD_SETTINGS = [
    {},
    {"weight_decay": 0.1},
    {"momentum": 0.9},
    {"momentum": 0.9, "first_step": True},
    {"momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01},
    {"momentum": 0.9, "nesterov": True},
]


@DTYPES
@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_sgd_update_matches_the_numpy_backend(shim, rng, settings, dtype):
    param, grad, buffer = (rng.normal(size=40).astype(dtype) for _ in range(3))
    expected_param, expected_buffer = param.copy(), buffer.copy()
    numpy_backend.sgd_update(expected_param, grad, expected_buffer, lr=0.1, **settings)
    options = {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
    options.update(settings)
    call(
        shim,
        "sgd_update",
        dtype,
        param,
        grad,
        buffer,
        param.size,
        0.1,
        options["momentum"],
        options["dampening"],
        options["nesterov"],
        options["weight_decay"],
        options.get("first_step", False),
    )
    np.testing.assert_allclose(param, expected_param, **TOLERANCES[dtype])
    np.testing.assert_allclose(buffer, expected_buffer, **TOLERANCES[dtype])


ADAM_SETTINGS = [
    {},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decoupled": True},
    {"amsgrad": True},
]


@DTYPES
@pytest.mark.parametrize("step", [1, 7])
@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_adam_update_matches_the_numpy_backend(shim, rng, settings, step, dtype):
    param, grad, exp_avg = (rng.normal(size=40).astype(dtype) for _ in range(3))
    exp_avg_sq, max_exp_avg_sq = (rng.uniform(0.0, 2.0, size=40).astype(dtype) for _ in range(2))
    expected = [a.copy() for a in (param, exp_avg, exp_avg_sq, max_exp_avg_sq)]
    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    options = {"weight_decay": 0.0, "decoupled": False, "amsgrad": False, **settings}
    numpy_backend.adam_update(expected[0], grad, *expected[1:], **hyper, step=step, **options)
    corrections = (1 - 0.9**step, np.sqrt(1 - 0.999**step))
    call(
        shim,
        "adam_update",
        dtype,
        param,
        grad,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
        param.size,
        *hyper.values(),
        options["weight_decay"],
        options["decoupled"],
        options["amsgrad"],
        *corrections,
    )
    for got, want in zip((param, exp_avg, exp_avg_sq, max_exp_avg_sq), expected):
        np.testing.assert_allclose(got, want, **TOLERANCES[dtype])


RMSPROP_SETTINGS = [
    {key: value for key, value in zip(("centered", "momentum", "weight_decay"), values) if value}
    for values in itertools.product([False, True], [0.0, 0.9], [0.0, 0.1])
]


@DTYPES
@pytest.mark.parametrize("alpha", [0.9, 0.3])  # torch's lerp of grad_avg takes either branch
@pytest.mark.parametrize("settings", RMSPROP_SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_rmsprop_update_matches_the_numpy_backend(shim, rng, settings, alpha, dtype):
    param, grad, buffer = (rng.normal(size=40).astype(dtype) for _ in range(3))
    square_avg = rng.uniform(0.5, 2.0, size=40).astype(dtype)
    grad_avg = (0.1 * rng.normal(size=40)).astype(dtype)
    arrays = [param, grad, square_avg, grad_avg, buffer]
    expected = [a.copy() for a in arrays]
    hyper = {"lr": 1e-2, "alpha": alpha, "eps": 1e-8}
    options = {"weight_decay": 0.0, "momentum": 0.0, "centered": False, **settings}
    numpy_backend.rmsprop_update(
        expected[0],
        grad,
        expected[2],
        expected[3] if options["centered"] else None,
        expected[4] if options["momentum"] else None,
        **hyper,
        **options,
    )
    call(shim, "rmsprop_update", dtype, *arrays, param.size, *hyper.values(), *options.values())
    for got, want in zip(arrays, expected):  # the state a setting does not use stays untouched
        np.testing.assert_allclose(got, want, **TOLERANCES[dtype])


ADAGRAD_SETTINGS = [
    {},
    {"lr_decay": 0.1},
    {"weight_decay": 0.1},
    {"lr_decay": 0.1, "weight_decay": 0.1},
]


def shim_adagrad_step(shim, dtype, param, grad, state_sum, options: dict, step: int) -> None:
    """One Adagrad step through the host shim, with the decayed learning rate folded on the
    host as the CuPy backend folds it."""
    clr = options["lr"] / (1 + (step - 1) * options["lr_decay"])
    arrays = (param, grad, state_sum)
    call(
        shim,
        "adagrad_update",
        dtype,
        *arrays,
        param.size,
        clr,
        options["weight_decay"],
        options["eps"],
    )


@DTYPES
@pytest.mark.parametrize("initial_sum", [0.0, 0.5])  # Adagrad's initial_accumulator_value
@pytest.mark.parametrize("step", [1, 5])
@pytest.mark.parametrize("settings", ADAGRAD_SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_adagrad_update_matches_the_numpy_backend(shim, rng, settings, step, initial_sum, dtype):
    param, grad = (rng.normal(size=40).astype(dtype) for _ in range(2))
    state_sum = np.full(40, initial_sum, dtype)
    expected_param, expected_sum = param.copy(), state_sum.copy()
    options = {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "eps": 1e-10, **settings}
    numpy_backend.adagrad_update(expected_param, grad, expected_sum, **options, step=step)
    shim_adagrad_step(shim, dtype, param, grad, state_sum, options, step)
    np.testing.assert_allclose(param, expected_param, **TOLERANCES[dtype])
    np.testing.assert_allclose(state_sum, expected_sum, **TOLERANCES[dtype])


def torch_optimizer(name: str, param: np.ndarray, options: dict):
    """`torch.optim.<name>` over a float64 copy of `param`, and that tensor."""
    torch = pytest.importorskip("torch")
    theirs = torch.tensor(param.copy(), requires_grad=True)
    return getattr(torch.optim, name)([theirs], **options), theirs


def trajectory_gradient(rng, param: np.ndarray) -> np.ndarray:
    """A gradient that grows with the parameter, so the steps vary in size."""
    return rng.normal(size=param.shape) + 0.5 * param**3


RMSPROP_TRAJECTORIES = [
    {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.1, "momentum": 0.0},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.5},
    {"lr": 0.01, "alpha": 0.3, "eps": 1e-3, "weight_decay": 0.1, "momentum": 0.9},
]


@pytest.mark.parametrize("centered", [False, True], ids=["plain", "centered"])
@pytest.mark.parametrize("options", RMSPROP_TRAJECTORIES, ids=["decay", "momentum", "all"])
def test_rmsprop_follows_torch_optim_step_for_step(shim, options, centered):
    """20 float64 steps against torch.optim.RMSprop's on the same gradients: the same operations
    in the same order agree to rounding."""
    rng = np.random.default_rng(0)
    param = rng.normal(size=40)
    reference, theirs = torch_optimizer("RMSprop", param, {**options, "centered": centered})
    square_avg, grad_avg, buffer = (np.zeros(40) for _ in range(3))
    for _ in range(20):
        grad = trajectory_gradient(rng, param)
        theirs.grad = theirs.new_tensor(grad)
        reference.step()
        call(
            shim,
            "rmsprop_update",
            np.float64,
            param,
            grad,
            square_avg,
            grad_avg,
            buffer,
            param.size,
            *options.values(),
            centered,
        )
    np.testing.assert_allclose(param, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


ADAGRAD_TRAJECTORIES = [
    {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0},
    {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5},
]


@pytest.mark.parametrize("options", ADAGRAD_TRAJECTORIES, ids=["plain", "all"])
def test_adagrad_follows_torch_optim_step_for_step(shim, options):
    """20 float64 steps against torch.optim.Adagrad's on the same gradients, the decayed learning
    rate folded as the CuPy backend folds it."""
    rng = np.random.default_rng(0)
    param = rng.normal(size=40)
    reference, theirs = torch_optimizer("Adagrad", param, {**options, "eps": 1e-10})
    state_sum = np.full(40, options["initial_accumulator_value"])
    for step in range(1, 21):
        grad = trajectory_gradient(rng, param)
        theirs.grad = theirs.new_tensor(grad)
        reference.step()
        shim_adagrad_step(shim, np.float64, param, grad, state_sum, {**options, "eps": 1e-10}, step)
    np.testing.assert_allclose(param, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


# -- dropout's Philox generator ------------------------------------------------------------------


def test_the_cuda_philox_gives_the_known_answers(shim):
    for counter, key, expected in PHILOX_KNOWN_ANSWERS:
        out = np.zeros(4, np.uint32)
        shim.philox4x32_10_host(
            *(_pointer(np.array(words, np.uint32), np.uint32) for words in (counter, key)),
            _pointer(out, np.uint32),
        )
        assert tuple(int(word) for word in out) == expected


@pytest.mark.parametrize("state", [(0, 0), (0x0123456789ABCDEF, 2**33 + 5), (2**64 - 1, 2**32 - 1)])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_the_cuda_dropout_mask_is_the_numpy_backends(shim, state, p):
    state = np.array(state, np.uint64)
    expected = numpy_backend.dropout_mask((37,), p, state.copy())
    keep = np.zeros(37, np.bool_)
    shim.dropout_mask_host(
        _pointer(state, np.uint64),
        _pointer(keep, np.bool_),
        ctypes.c_longlong(keep.size),
        ctypes.c_uint(philox.dropout_threshold(p)),
    )
    np.testing.assert_array_equal(keep, expected)
