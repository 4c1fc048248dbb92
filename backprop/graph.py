"""Capturing a whole training step into a CUDA graph and replaying it: `graph_step`.

Small models are bound by Python and kernel-launch overhead, not by FLOPs. `graph_step(fn,
*inputs)` runs `fn` eagerly a few times (kernels compiled, optimizer state allocated, memory pool
warm), records one call into a CUDA graph on a private stream, and from then on replays that
graph: one launch for the forward pass, the backward pass and the optimizer update.

What a captured step may not do, and how that is reported: a captured step never reads the device
from the host (`.item()`, `.numpy()`, printing a tensor), never synchronises, and never copies
host data in (a NumPy operand: a replay would repeat the captured copy). Dropout is fine: it
draws on the device from a seed and offset in device memory (`backprop.random`), so each replay
draws a new mask. The CuPy backend's `to_host`, `synchronize` and `from_host` refuse while its
stream is capturing, and any error raised during capture becomes a `GraphCaptureError` that
names the innermost backprop op in the traceback.

Optimizer scalars: the learning rate (changed by LR schedulers between steps) and Adam's step
count would be frozen into the graph if they were kernel arguments. `graph_step` switches the
optimizers that step during its warm-up to `capturable` mode, in which they live in 0-d device
arrays: the step count is incremented on the device inside the graph, and each optimizer copies
its host-side `param_groups[i]["lr"]` into the device before every replay (`before_replay`).

This module imports CuPy only when a step is captured, so it runs anywhere: on the NumPy and
Numba backends `graph_step` runs `fn` eagerly on every call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from backprop.backend import Backend
from backprop.backend.precision import get_float32_matmul_precision
from backprop.device import Device
from backprop.device import device as resolve_device
from backprop.tensor import Tensor

DEFAULT_WARMUP = 3
"""Eager calls before the capture, as PyTorch's `make_graphed_callables` warms up."""

EAGER, WARMUP, CAPTURE = "eager", "warmup", "capture"

_phase = EAGER
_before_replay: list[Callable[[], None]] = []


class GraphCaptureError(RuntimeError):
    """A call inside a captured step cannot be recorded into a CUDA graph; the message names
    the backprop op that made it."""


def capture_phase() -> str:
    """`"warmup"` while `graph_step` warms a step up for capture, `"capture"` while it records
    one, `"eager"` otherwise: what an optimizer asks to know how to hold its scalars."""
    return _phase


def before_replay(callback: Callable[[], None]) -> None:
    """Registers `callback` (during a capture) to run on the replay stream before every launch
    of the graph being captured: how a capturable optimizer copies its host-side learning rate
    into device memory. Registering the same callback twice keeps one."""
    if _phase != CAPTURE:
        raise RuntimeError("before_replay: only callable while graph_step captures a step")
    if callback not in _before_replay:
        _before_replay.append(callback)


@contextlib.contextmanager
def _in_phase(phase: str) -> Iterator[list[Callable[[], None]]]:
    """Sets the capture phase for the duration; yields the list that collects the callbacks
    registered with `before_replay`."""
    global _phase, _before_replay
    previous = _phase, _before_replay
    _phase, _before_replay = phase, []
    try:
        yield _before_replay
    finally:
        _phase, _before_replay = previous


def op_name_from_traceback(tb: TracebackType | None) -> str | None:
    """The innermost backprop op in a traceback, as a reader would name it: `op 'matmul'
    (backward)`, `Tensor.item`, `Adam.step`, `Dropout.forward`, followed by the backend primitive
    that failed when one did (`, in the cupy backend's to_host`). None when the traceback holds
    no backprop op.

    Read only after a failure, so its cost never reaches a step that works."""
    # Imported here: `backprop.autograd` imports the Tensor module, which must load first.
    from backprop.autograd import Function

    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    op = primitive = None
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        method = frame.f_code.co_name
        if owner is None or method.startswith("run_on_"):
            continue
        if isinstance(owner, Backend):
            primitive = primitive or f"the {owner.name} backend's {method}"
        elif isinstance(owner, Function):
            op = f"op {owner.name!r} ({method})"
        elif isinstance(owner, Tensor):
            op = f"Tensor.{method}"
        elif type(owner).__module__.startswith(("backprop.optim", "backprop.nn")):
            op = f"{type(owner).__name__}.{method}"
        if op is not None:
            return op if primitive is None else f"{op}, in {primitive}"
    return primitive


@dataclass
class _Captured:
    """One recorded step: its graph, the private memory pool whose buffers it uses (kept alive
    with it), its static input and output tensors, and what runs before each launch."""

    graph: Any
    pool: Any
    inputs: tuple[Tensor, ...]
    outputs: Any
    before_replay: list[Callable[[], None]] = field(default_factory=list)


class GraphStep:
    """A step function that replays a CUDA graph after warming up; made by `graph_step`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        example_inputs: tuple[Tensor, ...],
        warmup: int,
        device: Device,
    ):
        self.fn = fn
        self.warmup = warmup
        self.device = device
        self.arity = len(example_inputs)
        self._calls: dict[tuple, int] = {}
        self._captured: dict[tuple, _Captured] = {}
        self._stream: Any = None

    @property
    def uses_cuda_graph(self) -> bool:
        """True on the CuPy backend; elsewhere every call runs `fn` eagerly."""
        return self.device.backend_name == "cupy"

    @property
    def num_graphs(self) -> int:
        """How many graphs are held: one per input signature (shapes and dtypes, and the
        float32 matmul precision) seen after its warm-up."""
        return len(self._captured)

    def __call__(self, *inputs: Tensor | np.ndarray) -> Any:
        if len(inputs) != self.arity:
            raise TypeError(
                f"graph_step: the step takes {self.arity} inputs, as its example inputs, "
                f"got {len(inputs)}"
            )
        for index, value in enumerate(inputs):
            self._check_input(index, value)
        if not self.uses_cuda_graph:
            return self.fn(*(self._to_device(value) for value in inputs))
        return self._call_on_gpu(inputs)

    def _check_input(self, index: int, value: Any) -> None:
        if isinstance(value, Tensor):
            if value.device != self.device:
                raise ValueError(
                    f"graph_step: input {index} is on {value.device}, but the step was made "
                    f"for {self.device}: its parameters and graph live there; make a new "
                    "graph_step for another device"
                )
        elif not isinstance(value, np.ndarray):
            raise TypeError(
                f"graph_step: input {index} must be a Tensor or a NumPy array, "
                f"got {type(value).__name__}"
            )

    def _to_device(self, value: Tensor | np.ndarray) -> Tensor:
        return value if isinstance(value, Tensor) else Tensor(value, device=self.device)

    # -- the CuPy path -------------------------------------------------------------------------

    def _call_on_gpu(self, inputs: tuple[Tensor | np.ndarray, ...]) -> Any:
        """Runs the call on the step's own stream, ordered after the caller's stream's work and
        before its later work, so that the caller never waits on the host."""
        import cupy

        with self.device.backend.cuda_device:
            if self._stream is None:
                self._stream = cupy.cuda.Stream(non_blocking=True)
            stream, caller = self._stream, cupy.cuda.get_current_stream()
            stream.wait_event(caller.record())
            with stream:
                result = self._warm_up_capture_or_replay(inputs, stream)
            caller.wait_event(stream.record())
        return result

    def _warm_up_capture_or_replay(self, inputs: tuple[Tensor | np.ndarray, ...], stream) -> Any:
        signature = _signature(inputs)
        captured = self._captured.get(signature)
        if captured is None and self._calls.get(signature, 0) < self.warmup:
            self._calls[signature] = self._calls.get(signature, 0) + 1
            with _in_phase(WARMUP):
                return self.fn(*(self._to_device(value) for value in inputs))
        if captured is None:
            captured = self._captured[signature] = self._capture(inputs, stream)
        else:
            for static, value in zip(captured.inputs, inputs):
                _copy_into(static, value, stream)
        for callback in captured.before_replay:
            callback()
        captured.graph.launch(stream)
        return captured.outputs

    def _capture(self, inputs: tuple[Tensor | np.ndarray, ...], stream: Any) -> _Captured:
        """Records one call of `fn` on `stream`, every allocation from a new private pool."""
        import cupy

        pool = cupy.cuda.MemoryPool()
        with cupy.cuda.using_allocator(pool.malloc):
            static = tuple(_static_copy(self._to_device(value)) for value in inputs)
            with _in_phase(CAPTURE) as callbacks:
                stream.begin_capture()
                try:
                    outputs = self.fn(*static)
                except BaseException as error:
                    _abandon_capture(stream)
                    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit
                        raise
                    where = op_name_from_traceback(error.__traceback__) or "the step function"
                    raise GraphCaptureError(
                        f"graph_step: {where} cannot run inside a CUDA graph capture: {error}"
                    ) from error
                try:
                    graph = stream.end_capture()
                except cupy.cuda.runtime.CUDARuntimeError as error:
                    raise GraphCaptureError(
                        "graph_step: the capture was invalidated by a call that cannot be "
                        f"recorded into a CUDA graph (a host synchronisation?): {error}"
                    ) from error
        return _Captured(graph, pool, static, outputs, list(callbacks))


def _signature(inputs: tuple[Tensor | np.ndarray, ...]) -> tuple:
    """What one graph is recorded for: each input's shape and dtype, and the float32 matmul
    precision, since a captured gemm keeps the cuBLAS math mode it was recorded with."""
    shapes = tuple((tuple(value.shape), np.dtype(value.dtype)) for value in inputs)
    return shapes, get_float32_matmul_precision()


def _static_copy(tensor: Tensor) -> Tensor:
    """A copy of `tensor` that the graph reads, with its `requires_grad`."""
    data = tensor.backend.copy(tensor.data)
    return Tensor._make(data, tensor.device, tensor.requires_grad)


def _copy_into(static: Tensor, value: Tensor | np.ndarray, stream: Any) -> None:
    """Writes a new input into the graph's static buffer, on `stream`, outside the graph."""
    if isinstance(value, Tensor):
        static.backend.assign(static.data, value.data)
    else:
        static.data.set(np.ascontiguousarray(value, dtype=static.dtype), stream)


def _abandon_capture(stream: Any) -> None:
    """Ends a failed capture so the stream can be used again; the partial graph is dropped."""
    with contextlib.suppress(Exception):
        stream.end_capture()


def graph_step(
    fn: Callable[..., Any],
    *example_inputs: Tensor,
    warmup: int = DEFAULT_WARMUP,
    device: Device | str | None = None,
) -> GraphStep:
    """Wraps a training step `fn(*inputs)` (forward, backward, optimizer update) so that it is
    captured into a CUDA graph once and replayed on later calls.

    Every call performs one step. For each input signature (shapes and dtypes), the first
    `warmup` calls run `fn` eagerly on a side stream; this compiles the kernels, allocates the
    optimizer state, and switches the optimizers that step to `capturable` mode (learning rate
    and step count in device memory). The next call records `fn` on a private non-blocking
    stream, with every allocation from a memory pool private to the graph and reserved while it
    lives, and launches the graph. Later calls copy their inputs into the graph's static input
    buffers (NumPy arrays are copied to the device before the launch), copy each optimizer's
    host-side learning rate to the device, replay the graph, and return its static outputs.

    The outputs of a replayed call are the same objects every time and are overwritten by the
    next replay: copy them (`t.numpy()`, `t.item()`) to keep a value, as with PyTorch's CUDA
    graphs. New input shapes or dtypes are not an error: they get their own warm-up and graph,
    and each graph keeps its memory while the `GraphStep` lives. So does a new
    `set_float32_matmul_precision`, which a recorded matmul would otherwise ignore. Inputs on
    another device are an error, since the step's parameters live on one device.

    `example_inputs` are Tensors on the step's device (they fix the number of inputs and the
    device); with none, name the device with `device=`. On the NumPy and Numba backends nothing
    is captured: every call runs `fn` eagerly, so the same code runs on every device.
    """
    if not callable(fn):
        raise TypeError(f"graph_step: fn must be callable, got {type(fn).__name__}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(
            "graph_step: warmup must be an int >= 1 (kernels compile and optimizer state is "
            f"allocated before the capture), got {warmup!r}"
        )
    for index, value in enumerate(example_inputs):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"graph_step: example input {index} must be a Tensor, got {type(value).__name__}"
            )
    devices = {value.device for value in example_inputs}
    if device is not None:
        devices.add(resolve_device(device))
    if not devices:
        raise ValueError("graph_step: give example inputs or device= to say where the step runs")
    if len(devices) > 1:
        found = ", ".join(sorted(str(d) for d in devices))
        raise ValueError(f"graph_step: the example inputs and device= must agree, got {found}")
    return GraphStep(fn, example_inputs, warmup, devices.pop())
