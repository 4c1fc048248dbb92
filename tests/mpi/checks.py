"""Checks that run inside an MPI job (`mpiexec -n N python checks.py NAME`); each raises on
failure, so a non-zero exit code is a failed check. tests/test_distributed.py launches them."""

from __future__ import annotations

import sys
import time

import numpy as np

import backprop as bp
import backprop.distributed as dist
import backprop.functional as F
from backprop import nn
from backprop.nn.parallel import DistributedDataParallel


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(dist.get_rank())  # differs per rank: DDP must broadcast
        self.w1 = nn.Parameter(bp.tensor(rng.standard_normal((7, 5)) * 0.4))
        self.b1 = nn.Parameter(bp.tensor(rng.standard_normal(7) * 0.1))
        self.w2 = nn.Parameter(bp.tensor(rng.standard_normal((3, 7)) * 0.4))
        self.b2 = nn.Parameter(bp.tensor(rng.standard_normal(3) * 0.1))

    def forward(self, x: bp.Tensor) -> bp.Tensor:
        return F.linear(F.linear(x, self.w1, self.b1, activation="tanh"), self.w2, self.b2)


class Branchy(nn.Module):
    """TinyMLP plus two linear heads, `extra` and `spare`, that forward adds only when named."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(10 + dist.get_rank())
        self.body = TinyMLP()
        self.extra = nn.Parameter(bp.tensor(rng.standard_normal((3, 5)) * 0.4))
        self.spare = nn.Parameter(bp.tensor(rng.standard_normal((3, 5)) * 0.4))

    def forward(self, x: bp.Tensor, heads: tuple[str, ...] = ()) -> bp.Tensor:
        out = self.body(x)
        for name in heads:
            out = out + F.linear(x, getattr(self, name))
        return out


class RotatedHeads(nn.Module):
    """Four same-shaped tanh heads (each with its own gradient) summed in an order that rotates
    with the rank, so their gradients arrive in a different order on each process."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(20 + dist.get_rank())
        for i in range(4):
            setattr(self, f"w{i}", nn.Parameter(bp.tensor(rng.standard_normal((3, 5)) * 0.4)))

    def forward(self, x: bp.Tensor, rotation: int = 0) -> bp.Tensor:
        order = [(i + rotation) % 4 for i in range(4)]
        out = F.linear(x, getattr(self, f"w{order[0]}"), activation="tanh")
        for i in order[1:]:
            out = out + F.linear(x, getattr(self, f"w{i}"), activation="tanh")
        return out


def batch(step: int, size: int) -> tuple[bp.Tensor, bp.Tensor]:
    rng = np.random.default_rng(100 + step)
    return bp.tensor(rng.standard_normal((size, 5))), bp.tensor(rng.integers(0, 3, size))


def sgd(model: nn.Module, lr: float = 0.1) -> None:
    with bp.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.data -= lr * p.grad.data
                p.grad = None


def same_on_every_rank(array: np.ndarray) -> None:
    gathered = [bp.zeros(array.shape, dtype=array.dtype) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, bp.tensor(array))
    for other in gathered:
        np.testing.assert_array_equal(other.numpy(), array)


def assert_matches(model: nn.Module, reference: nn.Module) -> None:
    """The same parameters as `reference`, and the same on every rank."""
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
        same_on_every_rank(p.numpy())


def check_collectives() -> None:
    rank, size = dist.get_rank(), dist.get_world_size()
    for dtype in ("float32", "float64"):
        for shape in [(), (1,), (7,), (3, 5, 2)]:
            value = bp.full(shape, rank + 1.0, dtype=dtype)
            dist.all_reduce(value, dist.ReduceOp.SUM)
            np.testing.assert_allclose(value.numpy(), size * (size + 1) / 2)
            value = bp.full(shape, rank + 1.0, dtype=dtype)
            dist.all_reduce(value, dist.ReduceOp.AVG)
            np.testing.assert_allclose(value.numpy(), (size + 1) / 2)
            value = bp.full(shape, float(rank), dtype=dtype)
            dist.all_reduce(value, dist.ReduceOp.MAX)
            np.testing.assert_allclose(value.numpy(), size - 1)
            dist.all_reduce(value.zero_() + rank, dist.ReduceOp.MIN)
            value = bp.full(shape, 10.0 * rank, dtype=dtype)
            dist.broadcast(value, src=size - 1)
            np.testing.assert_allclose(value.numpy(), 10.0 * (size - 1))
    parts = [bp.zeros(3, 2) for _ in range(size)]
    dist.all_gather(parts, bp.full((3, 2), float(rank)))
    for source, part in enumerate(parts):
        np.testing.assert_array_equal(part.numpy(), source)


def check_ddp_matches_one_process() -> None:
    """K steps where each process trains on its slice give the parameters of one process
    training on the whole batch."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(TinyMLP(), bucket_cap_mb=0.0001)
    reference = TinyMLP()
    reference.load_state_dict(model.state_dict())
    per_rank = 4
    for step in range(5):
        x, y = batch(step, per_rank * size)
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        F.cross_entropy(model(x[mine]), y[mine]).backward()
        sgd(model)
        F.cross_entropy(reference(x), y).backward()
        sgd(reference)
        assert_matches(model.module, reference)


def check_no_sync_accumulates() -> None:
    """Two half-batches under no_sync then one synchronised backward equal one large step."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(TinyMLP())
    reference = TinyMLP()
    reference.load_state_dict(model.state_dict())
    x, y = batch(0, 4 * size)
    mine = x[rank * 4 : rank * 4 + 4], y[rank * 4 : rank * 4 + 4]
    with model.no_sync():
        F.cross_entropy(model(mine[0][:2]), mine[1][:2], reduction="sum").backward()
    F.cross_entropy(model(mine[0][2:]), mine[1][2:], reduction="sum").backward()
    sgd(model, lr=0.1 / 4)
    F.cross_entropy(reference(x), y, reduction="sum").backward()
    sgd(reference, lr=0.1 / (4 * size))
    for p, q in zip(model.module.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-12)


def check_unused_branch_matches_one_process() -> None:
    """With find_unused_parameters, a head only rank 0 uses is averaged like any other (one
    bucket, then one bucket per parameter), and a head no rank uses keeps grad None."""
    rank, size = dist.get_rank(), dist.get_world_size()
    per_rank = 4
    for cap in (25.0, 0.0001):
        model = DistributedDataParallel(Branchy(), bucket_cap_mb=cap, find_unused_parameters=True)
        reference = Branchy()
        reference.load_state_dict(model.state_dict())
        for step in range(5):
            x, y = batch(step, per_rank * size)
            mine = slice(rank * per_rank, (rank + 1) * per_rank)
            heads = ("extra",) if rank == 0 else ()
            F.cross_entropy(model(x[mine], heads), y[mine]).backward()
            assert model.module.spare.grad is None
            sgd(model)
            head, rest = reference(x[:per_rank], ("extra",)), reference(x[per_rank:])
            F.cross_entropy(bp.concatenate([head, rest]), y).backward()
            sgd(reference)
            assert_matches(model.module, reference)


def check_unused_under_no_sync() -> None:
    """A head used only inside no_sync, on rank 0 only, is still averaged by the first
    synchronised backward although no rank's graph reaches it there."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(Branchy(), find_unused_parameters=True)
    reference = Branchy()
    reference.load_state_dict(model.state_dict())
    x, y = batch(0, 4 * size)
    mx, my = x[rank * 4 : rank * 4 + 4], y[rank * 4 : rank * 4 + 4]
    with model.no_sync():
        heads = ("extra",) if rank == 0 else ()
        F.cross_entropy(model(mx[:2], heads), my[:2], reduction="sum").backward()
    F.cross_entropy(model(mx[2:]), my[2:], reduction="sum").backward()
    assert model.module.spare.grad is None
    sgd(model, lr=0.1 / 4)
    parts = [reference(x[:2], ("extra",)), reference(x[2:4])]
    parts += [reference(x[r * 4 : r * 4 + 4]) for r in range(1, size)]
    F.cross_entropy(bp.concatenate(parts), y, reduction="sum").backward()
    sgd(reference, lr=0.1 / (4 * size))
    assert_matches(model.module, reference)


def check_unused_is_an_error_by_default() -> None:
    """Without find_unused_parameters, a parameter no rank used makes the next forward raise
    on every rank, naming it; the error resets the reduction, so the next step is averaged."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(Branchy())
    x, y = batch(0, 2 * size)
    mx, my = x[rank * 2 : rank * 2 + 2], y[rank * 2 : rank * 2 + 2]
    F.cross_entropy(model(mx, ("extra",)), my).backward()
    try:
        model(mx)
    except RuntimeError as error:
        message = str(error)
        assert "spare" in message and "find_unused_parameters=True" in message, message
        assert "extra" not in message and "body.w1" not in message, message
    else:
        raise AssertionError("an unused parameter went unnoticed")
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(mx, ("extra", "spare")), my).backward()
    for p in model.parameters():
        same_on_every_rank(p.grad.numpy())
    model(mx)


def raise_for_unused_on_last_rank() -> None:
    """Only the last rank leaves `spare` unused: it raises at its next forward while the others
    wait in their collective, and the uncaught error must end the job."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(Branchy())
    heads = ("extra",) if rank == size - 1 else ("extra", "spare")
    x, y = batch(0, 4)
    for _ in range(2):
        F.cross_entropy(model(x, heads), y).backward()


def check_buckets_reduced_in_index_order() -> None:
    """One bucket per parameter and gradients arriving in a rank-dependent order: buckets are
    still reduced in the same order everywhere, so each is averaged with its own kind."""
    rank, size = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(RotatedHeads(), bucket_cap_mb=0.0001)
    reference = RotatedHeads()
    reference.load_state_dict(model.state_dict())
    arrivals: list[str] = []
    for name, p in model.module.named_parameters():
        p.register_post_accumulate_grad_hook(lambda _, name=name: arrivals.append(name))
    per_rank = 4
    for step in range(5):
        x, y = batch(step, per_rank * size)
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        F.cross_entropy(model(x[mine], rotation=rank), y[mine]).backward()
        sgd(model)
        F.cross_entropy(reference(x), y).backward()
        sgd(reference)
        assert_matches(model.module, reference)
    orders = dist.all_gather_object([None] * size, arrivals[:4])
    assert len({tuple(order) for order in orders}) == size, orders


def check_mismatched_models_are_refused() -> None:
    model = TinyMLP()
    if dist.get_rank() == 1:
        model.extra = nn.Parameter(bp.zeros(2))
    try:
        DistributedDataParallel(model)
    except RuntimeError as error:
        assert "rank 1" in str(error) and "extra" in str(error), error
    else:
        raise AssertionError("DistributedDataParallel accepted different models")


def raise_on_last_rank() -> None:
    """The last rank fails while the others wait in a collective: the job must end."""
    if dist.get_rank() == dist.get_world_size() - 1:
        raise RuntimeError("deliberate failure on the last rank")
    time.sleep(0.2)
    dist.barrier()


CHECKS = {
    "collectives": check_collectives,
    "ddp": check_ddp_matches_one_process,
    "no_sync": check_no_sync_accumulates,
    "mismatch": check_mismatched_models_are_refused,
    "unused": check_unused_branch_matches_one_process,
    "unused_no_sync": check_unused_under_no_sync,
    "unused_error": check_unused_is_an_error_by_default,
    "unused_on_last_rank": raise_for_unused_on_last_rank,
    "bucket_order": check_buckets_reduced_in_index_order,
    "raise": raise_on_last_rank,
}

if __name__ == "__main__":
    dist.init_process_group("mpi")
    for name in sys.argv[1:]:
        CHECKS[name]()
    print(f"rank {dist.get_rank()} passed", flush=True)
    dist.destroy_process_group()
