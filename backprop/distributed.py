"""Process groups and collectives with `torch.distributed`'s names, on MPI and NCCL.

Processes are launched by MPI (`mpiexec -n 4 ...`, `srun` under Slurm), which also gives each
its rank and the world size. The `mpi` backend reduces host arrays with buffer-based MPI calls
(`Allreduce` on the NumPy buffer, never pickling); GPU tensors are staged through the host. The
`nccl` backend runs collectives on GPU memory with CuPy's NCCL bindings on the current stream,
one GPU per process (chosen by the local rank on the node), with the NCCL id broadcast over MPI.
"""

from __future__ import annotations

import enum
import sys
import time
from typing import Any

import numpy as np

from backprop.tensor import Tensor


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    """What `init_process_group` set up: the MPI communicator and, for NCCL, its communicator."""

    def __init__(self, backend: str, comm: Any, nccl_comm: Any = None):
        self.backend, self.comm, self.nccl_comm = backend, comm, nccl_comm
        self.local_rank = comm.Split_type(_mpi().COMM_TYPE_SHARED).Get_rank()
        self.previous_excepthook = sys.excepthook


_group: _Group | None = None

ABORT_GRACE_SECONDS = 0.5
"""How long a failing process waits before aborting the job: mpiexec forwards each process's
output through pipes, and an immediate abort can drop the last lines, the error itself."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(
            "distributed: the MPI backend needs mpi4py and an MPI library; "
            "install them with: pip install 'backprop[mpi]'"
        ) from None
    return MPI


def _nccl():
    try:
        from cupy.cuda import nccl
    except ImportError:
        raise RuntimeError(
            "distributed: the NCCL backend needs CuPy; install backprop[cuda12] or [cuda13]"
        ) from None
    if not getattr(nccl, "available", True):
        raise RuntimeError(
            "distributed: CuPy cannot load NCCL; install nvidia-nccl-cu12 (or -cu13)"
        )
    return nccl


def init_process_group(backend: str = "auto") -> None:
    """Joins this process to the job MPI launched; `backend` is "mpi", "nccl" or "auto"
    (NCCL when a CuPy GPU and NCCL are usable, else MPI)."""
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: the process group is already initialised")
    if backend not in ("mpi", "nccl", "auto"):
        raise ValueError(f"init_process_group: backend must be mpi, nccl or auto, got {backend!r}")
    if backend == "nccl":
        _require_nccl()
    comm = _mpi().COMM_WORLD
    if backend == "auto":
        backend = "nccl" if _nccl_usable() else "mpi"
    _group = _Group(backend, comm, _nccl_communicator(comm) if backend == "nccl" else None)
    _abort_job_on_uncaught_exception(comm)


def _require_nccl() -> None:
    from backprop import backend as registry

    reason = registry.unavailable_reason("cupy") if "cupy" in registry.registered() else None
    if "cupy" not in registry.registered() or reason is not None:
        raise RuntimeError(
            "distributed: the NCCL backend needs a GPU usable through CuPy "
            f"({reason or 'the CuPy backend is not part of this build'}); use backend='mpi'"
        )
    _nccl()


def _nccl_usable() -> bool:
    try:
        _require_nccl()
    except RuntimeError:
        return False
    return True


def _nccl_communicator(comm: Any) -> Any:
    nccl = _nccl()
    import cupy

    local_rank = comm.Split_type(_mpi().COMM_TYPE_SHARED).Get_rank()
    cupy.cuda.Device(local_rank % cupy.cuda.runtime.getDeviceCount()).use()
    unique_id = comm.bcast(nccl.get_unique_id() if comm.Get_rank() == 0 else None, root=0)
    return nccl.NcclCommunicator(comm.Get_size(), unique_id, comm.Get_rank())


def _abort_job_on_uncaught_exception(comm: Any) -> None:
    """A process that raises takes the whole job down (MPI Abort) instead of leaving the
    others waiting in a collective forever."""
    if comm.Get_size() == 1:
        return
    previous = sys.excepthook

    def abort(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_SECONDS)
        comm.Abort(1)

    sys.excepthook = abort


def _require_group(op: str) -> _Group:
    if _group is None:
        raise RuntimeError(f"{op}: call backprop.distributed.init_process_group() first")
    return _group


def is_initialized() -> bool:
    return _group is not None


def get_rank() -> int:
    return _require_group("get_rank").comm.Get_rank()


def get_world_size() -> int:
    return _require_group("get_world_size").comm.Get_size()


def get_local_rank() -> int:
    """This process's rank among those on its node: the GPU it should use (`cuda:N`)."""
    return _require_group("get_local_rank").local_rank


def get_backend() -> str:
    return _require_group("get_backend").backend


def barrier() -> None:
    _require_group("barrier").comm.Barrier()


def destroy_process_group() -> None:
    """Leaves the process group; MPI itself is finalised when the process exits."""
    global _group
    _require_group("destroy_process_group")
    sys.excepthook = _group.previous_excepthook
    _group = None


def _check_tensor(op: str, tensor: Any) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in (np.float32, np.float64, np.int32, np.int64):
        raise TypeError(f"{op}: dtype {tensor.dtype} is not supported")
    return tensor


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM) -> Tensor:
    """Reduces `tensor` across all processes, in place, and returns it."""
    group = _require_group("all_reduce")
    _check_tensor("all_reduce", tensor)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp, got {op!r}")
    if group.nccl_comm is not None:
        _nccl_all_reduce(group, tensor, op)
    else:
        _mpi_all_reduce(group, tensor, op)
    return tensor


def _mpi_all_reduce(group: _Group, tensor: Tensor, op: ReduceOp) -> None:
    MPI = _mpi()
    host = np.ascontiguousarray(tensor.backend.to_host(tensor.data))
    mpi_op = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX}.get(op, MPI.MIN)
    group.comm.Allreduce(MPI.IN_PLACE, host, op=mpi_op)
    if op is ReduceOp.AVG:
        host /= group.comm.Get_size()
    _write_back(tensor, host)


def _write_back(tensor: Tensor, host: np.ndarray) -> None:
    if tensor.backend.is_array(host):
        if host is not tensor.data:
            tensor.backend.assign(tensor.data, host)
    else:
        tensor.backend.assign(tensor.data, tensor.backend.from_host(host))


def _nccl_all_reduce(group: _Group, tensor: Tensor, op: ReduceOp) -> None:
    import cupy

    nccl = _nccl()
    data = cupy.ascontiguousarray(tensor.data)  # NCCL reads one dense buffer
    nccl_op = {ReduceOp.MAX: nccl.NCCL_MAX, ReduceOp.MIN: nccl.NCCL_MIN}.get(op, nccl.NCCL_SUM)
    stream = cupy.cuda.get_current_stream().ptr
    group.nccl_comm.allReduce(
        data.data.ptr, data.data.ptr, data.size, _nccl_dtype(data), nccl_op, stream
    )
    if op is ReduceOp.AVG:
        data /= group.comm.Get_size()
    if data is not tensor.data:
        tensor.data[...] = data


def _nccl_dtype(array: Any) -> int:
    nccl = _nccl()
    return {
        np.dtype("float32"): nccl.NCCL_FLOAT32,
        np.dtype("float64"): nccl.NCCL_FLOAT64,
        np.dtype("int32"): nccl.NCCL_INT32,
        np.dtype("int64"): nccl.NCCL_INT64,
    }[array.dtype]


def all_gather_object(object_list: list, obj: Any) -> list:
    """Fills `object_list` with every process's picklable `obj` (small metadata only;
    tensors go through the buffer-based collectives)."""
    group = _require_group("all_gather_object")
    gathered = group.comm.allgather(obj)
    if len(object_list) != len(gathered):
        raise ValueError(f"all_gather_object: object_list must hold {len(gathered)} entries")
    object_list[:] = gathered
    return object_list


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Copies `tensor` from process `src` to every process, in place, and returns it."""
    group = _require_group("broadcast")
    _check_tensor("broadcast", tensor)
    if not 0 <= src < group.comm.Get_size():
        raise ValueError(
            f"broadcast: src {src} is not a rank of a {group.comm.Get_size()}-process job"
        )
    if group.nccl_comm is not None:
        import cupy

        data = cupy.ascontiguousarray(tensor.data)  # NCCL writes one dense buffer
        stream = cupy.cuda.get_current_stream().ptr
        group.nccl_comm.bcast(data.data.ptr, data.size, _nccl_dtype(data), src, stream)
        if data is not tensor.data:
            tensor.data[...] = data
        return tensor
    host = np.ascontiguousarray(tensor.backend.to_host(tensor.data))
    group.comm.Bcast(host, root=src)
    _write_back(tensor, host)
    return tensor


def all_gather(tensor_list: list[Tensor], tensor: Tensor) -> list[Tensor]:
    """Fills `tensor_list` (one tensor per process, shaped like `tensor`) with every process's
    `tensor`, as `torch.distributed.all_gather`; staged through the host on either backend."""
    group = _require_group("all_gather")
    _check_tensor("all_gather", tensor)
    size = group.comm.Get_size()
    if len(tensor_list) != size or any(t.shape != tensor.shape for t in tensor_list):
        raise ValueError(
            f"all_gather: tensor_list must hold {size} tensors of shape {tensor.shape}"
        )
    host = np.ascontiguousarray(tensor.backend.to_host(tensor.data))
    gathered = np.empty((size,) + host.shape, dtype=host.dtype)
    group.comm.Allgather(host, gathered)
    for target, part in zip(tensor_list, gathered):
        _write_back(target, np.ascontiguousarray(part))
    return tensor_list
