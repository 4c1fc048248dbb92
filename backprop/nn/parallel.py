"""DistributedDataParallel: every process holds the whole model, trains on its own slice of
each batch, and the gradients are averaged across processes before the optimizer step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from backprop import distributed
from backprop.autograd import is_grad_enabled, no_grad
from backprop.creation import tensor, zeros_like
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter
from backprop.ops import concatenate
from backprop.tensor import Tensor

_LOCAL = "local"  # gradients accumulate locally: no_sync(), or no forward armed a reduction
_ARMED = "armed"  # a synchronised forward ran: gradients count towards their buckets
_REDUCED = "reduced"  # every bucket was averaged: a gradient before the next forward is an error


class _Bucket:
    """Parameters (by index) whose gradients are averaged together in one flat buffer."""

    def __init__(self, indices: list[int]):
        self.indices = indices
        self.ready = 0

    def is_full(self) -> bool:
        return self.ready == len(self.indices)


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training, as `torch.nn.parallel.DistributedDataParallel`.

    At construction every process must hold the same parameter names and shapes (else an error
    names the first mismatch) and takes rank 0's parameters and buffers. During `backward()`
    each gradient is averaged over processes: gradients are grouped into buckets of about
    `bucket_cap_mb`, each flattened into one contiguous buffer so a step costs few collectives.
    A bucket is reduced once its last gradient is accumulated and every bucket before it has
    been, so all processes issue the collectives in the same order whatever order their
    gradients arrive in. `state_dict()` has no "module." prefix.

    A forward with grad enabled outside `no_sync()` arms the reduction of the backward that
    follows. By default every parameter that requires grad must receive a gradient in it. If
    one gets none, its bucket and the later ones are not reduced, and the next forward raises
    an error naming the parameters that got none, before issuing any collective. Where they
    got none on every process, every process raises; where only on some, the others wait in
    the collective of that bucket: an uncaught error aborts the MPI job (as any uncaught error
    after `init_process_group`), but a process that catches it leaves them waiting forever.

    With `find_unused_parameters=True` each such forward walks the autograd graph of its
    outputs (tensors, possibly nested in tuples, lists and dicts), and the parameters they do
    not depend on count as ready, contributing a zero gradient (or what `no_sync()`
    accumulated). A small mask of used parameters is all-reduced once per backward: one used
    on no process keeps its `grad` untouched (None stays None), the others get the average.
    Every output of forward must then take part in the loss (detach the others).

    A gradient reaching a parameter already counted ready in the iteration (a second
    backward, or a parameter used outside forward) raises an error rather than going
    unaveraged. A process whose backward reaches no parameter issues no collective at all.
    """

    def __init__(
        self, module: Module, bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False
    ):
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
        self.find_unused_parameters = find_unused_parameters
        self._synchronise = True
        _check_same_parameters(module)
        with no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                distributed.broadcast(t, src=0)
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self._names = [name for name, _ in named]
        self._params = [p for _, p in named]
        order = list(reversed(range(len(self._params))))
        self._buckets = _make_buckets(order, self._params, bucket_cap_mb * 2**20)
        self._bucket_of = {i: bucket for bucket in self._buckets for i in bucket.indices}
        self._used_since_sync: set[int] = set()
        self._reset_iteration(_LOCAL)
        for index, param in enumerate(self._params):
            param.register_post_accumulate_grad_hook(self._hook_for(index))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the wrapped module; with grad enabled and outside `no_sync()`, arms the
        reduction of the next backward (finding the unused parameters, if asked to)."""
        self._check_prior_reduction_finished()
        outputs = self.module(*args, **kwargs)
        if is_grad_enabled():
            self._reset_iteration(_ARMED if self._synchronise else _LOCAL)
            if self._synchronise and self.find_unused_parameters:
                reachable = _reachable_leaves(outputs)
                self._unused = [i for i, p in enumerate(self._params) if id(p) not in reachable]
        return outputs

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards inside do not arm the reduction: their backward accumulates gradients
        locally, and the first synchronised backward after it averages the sum."""
        self._synchronise = False
        try:
            yield
        finally:
            self._synchronise = True

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)

    def _reset_iteration(self, phase: str) -> None:
        """Forgets which gradients arrived (at a forward, the end of a reduction or an error)
        and enters `phase`."""
        self._phase = phase
        self._marked: set[int] = set()
        self._unused: list[int] = []
        self._globally_unused: set[int] = set()
        self._next_bucket = 0
        for bucket in self._buckets:
            bucket.ready = 0

    def _check_prior_reduction_finished(self) -> None:
        """Raises, before any collective, if the last armed backward left buckets unreduced."""
        if not self._marked:
            return
        missing = [self._names[i] for i in range(len(self._params)) if i not in self._marked]
        self._reset_iteration(_LOCAL)
        self._used_since_sync.clear()
        advice = (
            "every output of forward must take part in the loss (detach the others)"
            if self.find_unused_parameters
            else "if some parameters take no part in the loss, pass find_unused_parameters=True "
            "to DistributedDataParallel"
        )
        raise RuntimeError(
            "DistributedDataParallel: expected to have finished reduction in the prior "
            f"iteration before starting a new one; these parameters received no gradient in "
            f"that backward, so their buckets were not averaged across processes: "
            f"{', '.join(missing)}; {advice}"
        )

    def _hook_for(self, index: int):
        def hook(param: Parameter) -> None:
            self._used_since_sync.add(index)
            if self._phase == _REDUCED:
                self._unexpected_gradient(index)
            if self._phase == _LOCAL:
                return
            if not self._marked:
                self._begin_reduction()
            self._mark_ready(index)
            self._reduce_ready_buckets()

        return hook

    def _begin_reduction(self) -> None:
        """At the first gradient of a backward: finds the parameters unused on every process
        and counts the locally unused ones ready."""
        if not self.find_unused_parameters:
            return
        self._globally_unused = self._find_globally_unused()
        for index in self._unused:
            self._mark_ready(index)

    def _find_globally_unused(self) -> set[int]:
        """All-reduces the mask of parameters this forward or a `no_sync()` backward used."""
        unused = set(self._unused) - self._used_since_sync
        local = [0 if i in unused else 1 for i in range(len(self._params))]
        mask = tensor(np.array(local, dtype=np.int32), device=self._params[0].device)
        distributed.all_reduce(mask, distributed.ReduceOp.SUM)
        return {i for i, count in enumerate(mask.numpy()) if count == 0}

    def _mark_ready(self, index: int) -> None:
        if index in self._marked:
            self._unexpected_gradient(index)
        self._marked.add(index)
        self._bucket_of[index].ready += 1

    def _unexpected_gradient(self, index: int) -> None:
        """Raises for a gradient that would escape averaging, and stops this reduction."""
        self._reset_iteration(_LOCAL)
        raise RuntimeError(
            f"DistributedDataParallel: parameter {self._names[index]} received a gradient "
            "that cannot be averaged: it already counted as ready in this iteration (after a "
            "second backward, or when used outside forward, which find_unused_parameters "
            "cannot see); call backward once per forward, use the parameters only inside the "
            "wrapped module's forward, and accumulate gradients under no_sync()"
        )

    def _reduce_ready_buckets(self) -> None:
        """Reduces, in index order, every full bucket not waiting on an earlier one."""
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].is_full():
            self._average(self._buckets[self._next_bucket])
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets):
            self._reset_iteration(_REDUCED)
            self._used_since_sync.clear()

    def _average(self, bucket: _Bucket) -> None:
        """Averages one bucket's gradients; a parameter without one contributes zeros."""
        params = [self._params[i] for i in bucket.indices]
        with no_grad():
            grads = [zeros_like(p) if p.grad is None else p.grad for p in params]
            flat = concatenate([g.reshape(-1) for g in grads])
            distributed.all_reduce(flat, distributed.ReduceOp.AVG)
            start = 0
            for index, param in zip(bucket.indices, params):
                if index not in self._globally_unused:
                    param.grad = flat[start : start + param.numel()].reshape(param.shape)
                start += param.numel()


def _make_buckets(order: list[int], params: list[Parameter], cap_bytes: float) -> list[_Bucket]:
    """Groups parameter indices (in the order their gradients usually become ready) into
    buckets of about `cap_bytes`, never mixing devices or dtypes in one flat buffer."""
    buckets: list[list[int]] = []
    size = 0.0
    for index in order:
        param = params[index]
        nbytes = param.numel() * param.dtype.itemsize
        first = params[buckets[-1][0]] if buckets else None
        if (
            first is None
            or size + nbytes > cap_bytes
            or (first.device, first.dtype) != (param.device, param.dtype)
        ):
            buckets.append([])
            size = 0.0
        buckets[-1].append(index)
        size += nbytes
    return [_Bucket(b) for b in buckets]


def _reachable_leaves(outputs: Any) -> set[int]:
    """Ids of the leaf tensors that require grad and that `outputs` (tensors, possibly nested
    in tuples, lists and dicts) were computed from, found by walking their creators' inputs."""
    leaves: set[int] = set()
    seen: set[int] = set()
    stack = _tensors_in(outputs)
    while stack:
        t = stack.pop()
        if t._creator is None:
            if t.requires_grad:
                leaves.add(id(t))
            continue
        creator = t._creator
        if id(creator) in seen or creator.inputs is None:
            continue
        seen.add(id(creator))
        stack.extend(x for x, needs in zip(creator.inputs, creator.needs_input_grad) if needs)
    return leaves


def _tensors_in(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item)]
    return []


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
