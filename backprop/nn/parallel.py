"""DistributedDataParallel: every process holds the whole model, trains on its own slice of
each batch, and the gradients are averaged across processes before the optimizer step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from backprop import distributed
from backprop.autograd import no_grad
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter
from backprop.ops import concatenate


class _Bucket:
    """Parameters whose gradients are averaged together in one flat buffer."""

    def __init__(self, params: list[Parameter]):
        self.params = params
        self.ready = 0


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training, as `torch.nn.parallel.DistributedDataParallel`.

    At construction every process must hold the same parameter names and shapes (else an error
    names the first mismatch) and takes rank 0's parameters and buffers. During `backward()`
    each gradient is averaged over processes: gradients are grouped into buckets of about
    `bucket_cap_mb`, each flattened into one contiguous buffer so a step costs few collectives,
    reduced as soon as the bucket's last gradient is accumulated. Every parameter that requires
    grad must receive a gradient in each backward. `state_dict()` has no "module." prefix.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0):
        super().__init__()
        if not distributed.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: call backprop.distributed.init_process_group() first"
            )
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: expected a Module, got {type(module).__name__}"
            )
        if bucket_cap_mb <= 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}"
            )
        self.module = module
        self._synchronise = True
        _check_same_parameters(module)
        with no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                distributed.broadcast(tensor, src=0)
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(list(reversed(params)), bucket_cap_mb * 2**20)
        for bucket in self._buckets:
            for param in bucket.params:
                param.register_post_accumulate_grad_hook(self._hook_for(bucket))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Gradients accumulate locally inside; the first backward after it averages the sum."""
        self._synchronise = False
        try:
            yield
        finally:
            self._synchronise = True

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)

    def _hook_for(self, bucket: _Bucket):
        def hook(param: Parameter) -> None:
            if not self._synchronise:
                return
            bucket.ready += 1
            if bucket.ready == len(bucket.params):
                bucket.ready = 0
                _average_gradients(bucket.params)

        return hook


def _make_buckets(params: list[Parameter], cap_bytes: float) -> list[_Bucket]:
    """Groups parameters (in the order their gradients become ready) into buckets of about
    `cap_bytes`, never mixing devices or dtypes in one flat buffer."""
    buckets: list[list[Parameter]] = []
    size = 0.0
    for param in params:
        nbytes = param.size * param.dtype.itemsize
        current = buckets[-1] if buckets else None
        if (
            current is None
            or size + nbytes > cap_bytes
            or (current[0].device, current[0].dtype) != (param.device, param.dtype)
        ):
            buckets.append([])
            size = 0.0
        buckets[-1].append(param)
        size += nbytes
    return [_Bucket(b) for b in buckets]


def _average_gradients(params: list[Parameter]) -> None:
    with no_grad():
        flat = concatenate([p.grad.reshape(-1) for p in params])
        distributed.all_reduce(flat, distributed.ReduceOp.AVG)
        start = 0
        for param in params:
            param.grad = flat[start : start + param.size].reshape(param.shape)
            start += param.size


def _check_same_parameters(module: Module) -> None:
    mine = [(name, p.shape, str(p.dtype)) for name, p in module.named_parameters()]
    everyone = distributed.all_gather_object([None] * distributed.get_world_size(), mine)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone):
        if theirs == reference:
            continue
        for index in range(max(len(theirs), len(reference))):
            ours = reference[index] if index < len(reference) else None
            other = theirs[index] if index < len(theirs) else None
            if ours != other:
                raise RuntimeError(
                    f"DistributedDataParallel: rank {rank} has parameter {other} where rank 0 "
                    f"has {ours}; every process must build the same model"
                )
